//! Echo mode: one closed loop per connection — send a message, read the
//! echo back, check it byte for byte, send the next — until the time or the
//! count is used up.

use std::sync::Arc;
use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinSet;
use wsconform_wire::{Event, Message, OpCode, encode_frame};

use super::connection::{Connection, MASK_KEY, READ_CHUNK, next_event, send_pong};
use super::settings::{LoadEndpoint, Settings};
use super::tally::{ClientTally, LoadBudget, collect};

/// Runs echo mode on every connection and adds up what they measured.
pub(super) async fn echo_load(settings: &Settings, connections: Vec<Connection>) -> ClientTally {
    let payload: Arc<[u8]> = seeded_payload(settings.size).into();
    let wire: Arc<[u8]> = match settings.endpoint {
        LoadEndpoint::WebSocket(_) => {
            let mut frame = Vec::with_capacity(settings.size + 14);
            encode_frame(&mut frame, true, OpCode::Binary, Some(MASK_KEY), &payload);
            frame.into()
        }
        LoadEndpoint::Tcp { .. } => Arc::clone(&payload),
    };
    let budget = Arc::new(LoadBudget::new(settings.stop));
    let start = Instant::now();
    let mut tasks = JoinSet::new();
    for connection in connections {
        let (budget, payload, wire) = (Arc::clone(&budget), payload.clone(), wire.clone());
        tasks.spawn(async move {
            let mut tally = ClientTally::default();
            if let Err(error) = echo_loop(connection, &budget, &payload, &wire, &mut tally).await {
                tally.fail(error);
            }
            tally
        });
    }
    collect(settings, tasks, &budget, start).await
}

/// Round trips on one connection until the shared budget says stop.
async fn echo_loop(
    mut connection: Connection,
    budget: &LoadBudget,
    payload: &[u8],
    wire: &[u8],
    tally: &mut ClientTally,
) -> Result<(), String> {
    while budget.take_ticket() {
        let sent = Instant::now();
        connection
            .stream
            .write_all(wire)
            .await
            .map_err(|e| format!("write failed: {e}"))?;
        match connection.frames {
            Some(_) => receive_echo(&mut connection, payload).await?,
            None => receive_raw(&mut connection, payload.len()).await?,
        }
        tally.latency.record(sent.elapsed());
        tally.messages += 1;
    }
    Ok(())
}

/// Reads until the next WebSocket message and checks it is the payload.
async fn receive_echo(connection: &mut Connection, payload: &[u8]) -> Result<(), String> {
    loop {
        match next_event(connection).await? {
            Event::Message(Message::Binary(bytes)) if bytes == payload => return Ok(()),
            Event::Message(_) => return Err("the echo differs from the message sent".into()),
            Event::Ping(data) => send_pong(connection, &data).await?,
            Event::Pong(_) => {}
            Event::Close(frame) => {
                return Err(format!(
                    "the server closed the connection (code {})",
                    frame.map_or(1005, |f| f.code)
                ));
            }
        }
    }
}

/// Reads `len` raw bytes (a raw TCP echo); the content is not compared, as
/// a plain stream may split and join the echoes anywhere.
async fn receive_raw(connection: &mut Connection, len: usize) -> Result<(), String> {
    while connection.input.len() < len {
        connection.input.reserve(READ_CHUNK);
        let read = connection
            .stream
            .read_buf(&mut connection.input)
            .await
            .map_err(|e| format!("read failed: {e}"))?;
        if read == 0 {
            return Err("the server closed the connection".into());
        }
    }
    connection.input.drain(..len);
    Ok(())
}

/// `len` bytes of a fixed pseudo-random pattern (so a server that mixes up
/// bytes is caught by the echo check).
fn seeded_payload(len: usize) -> Vec<u8> {
    let mut rng = wsconform_wire::SplitMix::new(0x5eed);
    (0..len).map(|_| rng.next_u64().to_le_bytes()[0]).collect()
}

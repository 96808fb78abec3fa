//! Echo mode: one closed loop per connection — send a message, read the
//! echo back, check it byte for byte, send the next — until the time or the
//! count is used up.

use std::sync::Arc;
use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinSet;
use wsconform_wire::{Event, Message, OpCode};

use super::connection::{Connection, READ_CHUNK, next_event, send_pong};
use super::message::{frame, opcode, payload};
use super::settings::{LoadEndpoint, Settings};
use super::tally::{ClientTally, LoadBudget, collect};

/// What every round trip of a run sends.
struct Sent {
    payload: Arc<[u8]>,
    opcode: OpCode,
    /// The frame written for every message when it does not change from
    /// one message to the next (uncompressed: encoded once).
    fixed: Arc<[u8]>,
}

/// Runs echo mode on every connection and adds up what they measured.
pub(super) async fn echo_load(settings: &Settings, connections: Vec<Connection>) -> ClientTally {
    let sent = Arc::new(sent(settings));
    let budget = Arc::new(LoadBudget::new(settings.stop));
    let start = Instant::now();
    let mut tasks = JoinSet::new();
    for connection in connections {
        let (budget, sent) = (Arc::clone(&budget), Arc::clone(&sent));
        tasks.spawn(async move {
            let mut tally = ClientTally::default();
            if let Err(error) = echo_loop(connection, &budget, &sent, &mut tally).await {
                tally.fail(error);
            }
            tally
        });
    }
    collect(settings, tasks, &budget, start).await
}

/// One round trip on each connection, before the measurement: a
/// compressed connection then holds what a used one holds.
pub(super) async fn warm_up(
    settings: &Settings,
    connections: &mut [Connection],
) -> Result<(), String> {
    let sent = sent(settings);
    for connection in connections {
        round_trip(connection, &sent, &mut ClientTally::default()).await?;
    }
    Ok(())
}

fn sent(settings: &Settings) -> Sent {
    let payload: Arc<[u8]> = payload(settings.payload, settings.size).into();
    let opcode = opcode(settings.payload);
    let fixed: Arc<[u8]> = match settings.endpoint {
        LoadEndpoint::WebSocket(_) => frame(opcode, &payload, None).into(),
        LoadEndpoint::Tcp { .. } => Arc::clone(&payload),
    };
    Sent {
        payload,
        opcode,
        fixed,
    }
}

/// Round trips on one connection until the shared budget says stop.
async fn echo_loop(
    mut connection: Connection,
    budget: &LoadBudget,
    sent: &Sent,
    tally: &mut ClientTally,
) -> Result<(), String> {
    while budget.take_ticket() {
        let started = Instant::now();
        round_trip(&mut connection, sent, tally).await?;
        tally.latency.record(started.elapsed());
        tally.messages += 1;
    }
    Ok(())
}

/// Sends the message (compressing it afresh on a compressed connection:
/// with context takeover its bytes differ every time) and reads its echo.
async fn round_trip(
    connection: &mut Connection,
    sent: &Sent,
    tally: &mut ClientTally,
) -> Result<(), String> {
    let compressed = connection
        .frames
        .as_mut()
        .and_then(|f| f.deflater.as_mut())
        .map(|deflater| frame(sent.opcode, &sent.payload, Some(deflater)));
    let wire = compressed.as_deref().unwrap_or(&sent.fixed);
    connection
        .stream
        .write_all(wire)
        .await
        .map_err(|e| format!("write failed: {e}"))?;
    tally.wire_sent += wire.len() as u64;
    match connection.frames {
        Some(_) => {
            let before = read_so_far(connection);
            receive_echo(connection, &sent.payload).await?;
            tally.wire_received += read_so_far(connection) - before;
        }
        None => {
            receive_raw(connection, sent.payload.len()).await?;
            tally.wire_received += sent.payload.len() as u64;
        }
    }
    Ok(())
}

/// Bytes read from a WebSocket connection so far.
fn read_so_far(connection: &Connection) -> u64 {
    connection.frames.as_ref().map_or(0, |f| f.bytes_read)
}

/// Reads until the next WebSocket message and checks it is the payload.
async fn receive_echo(connection: &mut Connection, payload: &[u8]) -> Result<(), String> {
    loop {
        match next_event(connection).await? {
            Event::Message(Message::Binary(bytes)) if bytes == payload => return Ok(()),
            Event::Message(Message::Text(text)) if text.as_bytes() == payload => return Ok(()),
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

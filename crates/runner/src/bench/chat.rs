//! Chat mode: connection 0 sends chat messages stamped with their send
//! time, keeping [`CHAT_WINDOW`] of them in flight; every connection (0
//! included) counts the broadcasts it receives, each one a latency sample.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::sync::watch;
use tokio::task::JoinSet;
use wsconform_wire::{Event, Message, OpCode, encode_frame};

use super::connection::{Connection, MASK_KEY, next_event, send_pong};
use super::settings::{Settings, StopCondition};
use super::tally::{ClientTally, LoadBudget, collect};

/// How many chat messages the sender keeps in flight: enough to keep the
/// server busy, few enough that no client's queue on the server fills up.
pub const CHAT_WINDOW: usize = 16;
/// Digits of the send time in a chat message (nanoseconds since the start).
const STAMP_DIGITS: usize = 20;

/// Bytes of a chat message around its padding: `{"username":"bench",
/// "message":"t=<20 digits> "}`.
pub(super) fn chat_message_overhead() -> usize {
    chat_text(0, 0).len()
}

/// The chat message sent at `stamp` nanoseconds after the start, padded
/// with `x` to `size` bytes when it is shorter.
fn chat_text(stamp: u64, size: usize) -> String {
    let head = format!(r#"{{"username":"bench","message":"t={stamp:0STAMP_DIGITS$} "#);
    let pad = size.saturating_sub(head.len() + 2);
    let mut text = head;
    text.extend(std::iter::repeat_n('x', pad));
    text.push_str(r#""}"#);
    text
}

/// Reads the send time back out of a chat broadcast.
fn chat_stamp(text: &str) -> Option<u64> {
    let at = text.find("t=")? + 2;
    text.get(at..at + STAMP_DIGITS)?.parse().ok()
}

/// Runs chat mode: connection 0 sends, every connection (0 included)
/// receives.
pub(super) async fn chat_load(settings: &Settings, connections: Vec<Connection>) -> ClientTally {
    let budget = Arc::new(LoadBudget::new(settings.stop));
    let (stop_receivers, receivers_stop) = watch::channel(false);
    let start = Instant::now();
    let mut tasks = JoinSet::new();
    let mut connections = connections.into_iter();
    let Some(sender) = connections.next() else {
        return ClientTally::default();
    };
    let size = settings.size;
    // In count mode every client expects every message.
    let expected = match settings.stop {
        StopCondition::Count(n) => Some(n),
        StopCondition::After(_) => None,
    };
    for connection in connections {
        let stop = receivers_stop.clone();
        tasks.spawn(chat_receiver(
            connection,
            Arc::clone(&budget),
            stop,
            expected,
            start,
        ));
    }
    let sending = {
        let budget = Arc::clone(&budget);
        let clients = settings.connections as u64;
        tokio::spawn(async move { chat_sender(sender, &budget, clients, size, start).await })
    };
    // The sender's budget ends first; receivers then get a moment to take
    // the last deliveries before they are told to stop.
    let mut sender_tasks = JoinSet::new();
    sender_tasks.spawn(async move {
        sending
            .await
            .unwrap_or_else(|e| ClientTally::failure(format!("task failed: {e}")))
    });
    let mut total = collect(settings, sender_tasks, &budget, start).await;
    let mut received = ClientTally::default();
    // Count mode: receivers end by themselves after the last message.
    // Duration mode: in-flight deliveries at the stop are not counted.
    let grace = match settings.stop {
        StopCondition::Count(_) => Duration::from_secs(5),
        StopCondition::After(_) => Duration::ZERO,
    };
    let gather = async {
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(tally) => received.absorb(tally),
                Err(e) => received.absorb(ClientTally::failure(format!("task failed: {e}"))),
            }
        }
    };
    if tokio::time::timeout(grace, gather).await.is_err() {
        let _ = stop_receivers.send(true);
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(tally) => received.absorb(tally),
                Err(e) => received.absorb(ClientTally::failure(format!("task failed: {e}"))),
            }
        }
    }
    total.absorb(received);
    total
}

/// The sending chat client: keeps at most [`CHAT_WINDOW`] messages in
/// flight, a message being in flight until *every* client has it (so no
/// client's queue on the server can overflow), and counts its own
/// deliveries too.
async fn chat_sender(
    mut connection: Connection,
    budget: &LoadBudget,
    clients: u64,
    size: usize,
    start: Instant,
) -> ClientTally {
    let mut tally = ClientTally::default();
    // Own copies not yet back.
    let mut in_flight = 0usize;
    let mut sent = 0u64;
    let window = CHAT_WINDOW as u64 * clients;
    let undelivered =
        |sent: u64| (sent * clients).saturating_sub(budget.delivered.load(Ordering::Relaxed));
    let mut frame = Vec::with_capacity(size + 14);
    let result: Result<(), String> = async {
        loop {
            while undelivered(sent) < window && budget.take_ticket() {
                let stamp = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
                frame.clear();
                let text = chat_text(stamp, size);
                encode_frame(
                    &mut frame,
                    true,
                    OpCode::Text,
                    Some(MASK_KEY),
                    text.as_bytes(),
                );
                connection
                    .stream
                    .write_all(&frame)
                    .await
                    .map_err(|e| format!("write failed: {e}"))?;
                in_flight += 1;
                sent += 1;
            }
            if in_flight == 0 {
                let done = budget.stop.load(Ordering::Relaxed)
                    || budget.tickets.load(Ordering::Relaxed) == 0;
                if done {
                    return Ok(());
                }
                // Own copies are all back but others are behind: let the
                // receivers run.
                tokio::task::yield_now().await;
                continue;
            }
            let event = next_event(&mut connection).await?;
            if chat_delivery(&mut connection, event, budget, start, &mut tally).await? {
                in_flight -= 1;
            }
        }
    }
    .await;
    if let Err(error) = result {
        tally.fail(error);
    }
    tally
}

/// A receiving chat client: counts deliveries until it has the `expected`
/// number or is told to stop.
async fn chat_receiver(
    mut connection: Connection,
    budget: Arc<LoadBudget>,
    mut stop: watch::Receiver<bool>,
    expected: Option<u64>,
    start: Instant,
) -> ClientTally {
    let mut tally = ClientTally::default();
    loop {
        if Some(tally.messages) == expected {
            return tally;
        }
        let event = tokio::select! {
            biased;
            _ = stop.changed() => return tally,
            event = next_event(&mut connection) => event,
        };
        let delivered = match event {
            Ok(event) => chat_delivery(&mut connection, event, &budget, start, &mut tally).await,
            Err(error) => Err(error),
        };
        if let Err(error) = delivered {
            tally.fail(error);
            return tally;
        }
    }
}

/// Handles one event of a chat client; returns whether it was a delivery.
async fn chat_delivery(
    connection: &mut Connection,
    event: Event,
    budget: &LoadBudget,
    start: Instant,
    tally: &mut ClientTally,
) -> Result<bool, String> {
    match event {
        Event::Message(Message::Text(text)) => {
            let stamp = chat_stamp(&text)
                .ok_or_else(|| format!("a chat broadcast without the send time: {text:.80}"))?;
            let now = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
            tally
                .latency
                .record(Duration::from_nanos(now.saturating_sub(stamp)));
            tally.messages += 1;
            budget.delivered.fetch_add(1, Ordering::Relaxed);
            Ok(true)
        }
        Event::Message(Message::Binary(_)) => Err("a binary message in the chat".into()),
        Event::Ping(data) => send_pong(connection, &data).await.map(|()| false),
        Event::Pong(_) => Ok(false),
        Event::Close(frame) => Err(format!(
            "the server closed the connection (code {})",
            frame.map_or(1005, |f| f.code)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_messages_carry_their_stamp_and_size() {
        let text = chat_text(123_456, 100);
        assert_eq!(text.len(), 100);
        assert_eq!(chat_stamp(&text), Some(123_456));
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["username"], "bench");
        assert!(chat_text(1, 0).len() == chat_message_overhead());
    }
}

//! The `flood` step: many clients, many messages, every delivery accounted for.
//!
//! A chat server that works for two polite clients can still lose messages
//! when twenty talk at once: a broadcast loop that stops at the first slow
//! client, a shared buffer written from two tasks, a lock held across an
//! `await`. Writing such a load as single steps would take thousands of
//! lines, so one step describes it:
//!
//! ```yaml
//! - flood: { clients: 20, messages: 50 }
//! ```
//!
//! The plan ([`plan_flood`](crate::plan::flood::plan_flood)) decides every byte in advance: each client's
//! handshake and its messages, each carrying a unique nonce (chat) or its
//! own text (echo). The executor ([`play_flood`]) then runs one task per
//! client. All clients finish their opening handshakes before anyone sends
//! (a barrier), so every client is in the room for every message; then all
//! send at once while reading. Each client checks what arrives as it comes:
//!
//! - **chat**: every client must receive every client's messages, itself
//!   included, each exactly once and in the order its sender sent them;
//! - **echo**: each client must get its own messages back, in order.
//!
//! A message that never arrives is noticed when the server has been silent
//! for one step timeout, so a broken server costs seconds, not minutes.
//! Frames from the server go through the wire crate's [`FrameReader`] and
//! [`MessageAssembler`], the same rules as every other step, so a server that
//! masks, sets RSV bits or sends invalid UTF-8 under load fails here too.
//! Server pings are answered.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{Barrier, mpsc};
use tokio::task::JoinSet;
use tokio::time::{Instant, timeout_at};
use wsconform_wire::{Event, FrameReader, Message, MessageAssembler, OpCode, encode_frame};

use crate::connect::{Opened, PeerEnd, open_limited, read_some};
use crate::limits::{MAX_PINGS_ANSWERED, MAX_SKIPPED, sized_to};
use crate::payload::MaskKeys;
use crate::plan::{FloodPlan, PlanSettings, Profile};

/// What a flood did, for the transcript.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FloodReport {
    /// Messages sent by all clients.
    pub sent: usize,
    /// Messages received by all clients, checked.
    pub delivered: usize,
    /// Wall time from the first message sent to the last one received.
    pub elapsed: Duration,
}

/// Why a flood failed: the client that noticed, and what it saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FloodFailure {
    /// The client.
    pub client: String,
    /// What happened, as the `Actual:` line.
    pub actual: String,
}

/// Runs a planned flood against the target. `step_timeout` is how long a
/// client waits in silence before it gives up on missing messages.
pub async fn play_flood(
    plan: &FloodPlan,
    settings: &PlanSettings,
    step_timeout: Duration,
) -> Result<FloodReport, FloodFailure> {
    let started = Instant::now();
    let guard = started + plan.hang_guard(step_timeout);
    let context = Arc::new(FloodContext {
        plan: plan.clone(),
        index: plan.nonce_index(),
        barrier: Barrier::new(plan.clients.len()),
        addr: settings.target.authority(),
        step_timeout,
        guard,
    });
    let mut tasks = JoinSet::new();
    for position in 0..plan.clients.len() {
        let context = Arc::clone(&context);
        tasks.spawn(async move { (position, one_client(&context, position).await) });
    }
    let mut failures: Vec<(usize, FloodFailure)> = Vec::new();
    let mut delivered = 0;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((_, Ok(count))) => delivered += count,
            Ok((position, Err(actual))) => failures.push((
                position,
                FloodFailure {
                    client: plan
                        .clients
                        .get(position)
                        .map(|c| c.name.clone())
                        .unwrap_or_default(),
                    actual,
                },
            )),
            Err(e) => failures.push((
                usize::MAX,
                FloodFailure {
                    client: String::new(),
                    actual: format!("a flood client task failed (internal error: {e})"),
                },
            )),
        }
    }
    // The first client by name, so the report is the same from run to run.
    failures.sort_by_key(|(position, _)| *position);
    match failures.into_iter().next() {
        Some((_, failure)) => Err(failure),
        None => Ok(FloodReport {
            sent: plan.clients.iter().map(|c| c.messages.len()).sum(),
            delivered,
            elapsed: started.elapsed(),
        }),
    }
}

/// What every client task of one flood reads: the plan, who sent which
/// nonce, the start barrier and the deadlines.
struct FloodContext {
    plan: FloodPlan,
    index: HashMap<String, (usize, usize)>,
    barrier: Barrier,
    addr: String,
    step_timeout: Duration,
    guard: Instant,
}

/// One client: handshake, wait for the others, send while receiving.
/// Returns how many messages it received.
async fn one_client(context: &FloodContext, position: usize) -> Result<usize, String> {
    let opened = open_client(context, position).await;
    // Everyone waits here exactly once, failed or not, so nobody waits forever.
    let barrier = timeout_at(context.guard, context.barrier.wait()).await;
    let opened = opened?;
    if barrier.is_err() {
        return Err("the other clients' handshakes did not finish in time".into());
    }
    exchange(context, position, opened).await
}

/// Connects and completes the opening handshake.
async fn open_client(context: &FloodContext, position: usize) -> Result<Opened, String> {
    let client = context
        .plan
        .clients
        .get(position)
        .ok_or("no such flood client")?;
    open_limited(
        &context.addr,
        &client.request,
        &client.key,
        context.step_timeout,
        flood_limits(&context.plan),
    )
    .await
}

/// Sends this client's messages while checking everything that arrives.
async fn exchange(
    context: &FloodContext,
    position: usize,
    opened: Opened,
) -> Result<usize, String> {
    let plan = &context.plan;
    let client = plan.clients.get(position).ok_or("no such flood client")?;
    let Opened {
        stream,
        reader: frames,
    } = opened;
    let (mut reader, mut writer) = stream.into_split();
    let (queue, mut outgoing) = mpsc::unbounded_channel::<Vec<u8>>();
    for frame in &client.frames {
        let _ = queue.send(frame.clone());
    }
    let guard = context.guard;
    let writing = async move {
        while let Some(bytes) = outgoing.recv().await {
            match timeout_at(guard, writer.write_all(&bytes)).await {
                Ok(Ok(())) => {}
                _ => return,
            }
            // Let the other clients' writes interleave with ours.
            tokio::task::yield_now().await;
        }
        let _ = writer.shutdown().await;
    };
    let reading = async {
        let result = receive_all(context, position, &mut reader, frames, &queue).await;
        // Say goodbye politely; the writer ends once the queue is empty.
        let mut close = Vec::new();
        encode_frame(
            &mut close,
            true,
            OpCode::Close,
            Some([7, 7, 7, 7]),
            &1000u16.to_be_bytes(),
        );
        let _ = queue.send(close);
        drop(queue);
        if result.is_ok() {
            // Wait briefly for the server's close, so no reset cuts it short.
            let mut sink = vec![0u8; 16 * 1024];
            let until = Instant::now() + context.step_timeout.min(Duration::from_millis(500));
            while let Ok(Ok(n)) = timeout_at(until, reader.read(&mut sink)).await {
                if n == 0 {
                    break;
                }
            }
        }
        result
    };
    let (result, ()) = tokio::join!(reading, writing);
    result
}

/// Reads until every expected message arrived, checking each one.
async fn receive_all(
    context: &FloodContext,
    position: usize,
    reader: &mut tokio::net::tcp::OwnedReadHalf,
    mut frames: FrameReader,
    queue: &mpsc::UnboundedSender<Vec<u8>>,
) -> Result<usize, String> {
    let plan = &context.plan;
    let expected = plan.expected_per_client();
    let senders = plan.clients.len();
    // The next message number expected from each sender.
    let mut next = vec![0usize; senders];
    let mut received = 0usize;
    let mut unrelated = 0usize;
    let mut messages = MessageAssembler::new(flood_limits(plan));
    let mut pings = 0usize;
    let mut chunk = Vec::new();
    let mut pong_keys = MaskKeys::new(0x0f10_0d00);
    let broke = |e: wsconform_wire::ReadError| format!("the server broke a rule under load: {e}");
    while received < expected {
        // Take every complete frame, then read more.
        while let Some(frame) = frames.next_frame().map_err(broke)? {
            let Some(event) = messages.push(&frame).map_err(broke)? else {
                continue;
            };
            match event {
                Event::Message(message) => {
                    let bytes = match &message {
                        Message::Text(t) => t.as_bytes(),
                        Message::Binary(b) => b.as_slice(),
                    };
                    match check_message(context, position, bytes, &mut next)? {
                        true => received += 1,
                        false => {
                            unrelated += 1;
                            if unrelated > MAX_SKIPPED {
                                return Err(format!(
                                    "more than {MAX_SKIPPED} messages that no flood client sent"
                                ));
                            }
                        }
                    }
                }
                Event::Ping(_) if pings >= MAX_PINGS_ANSWERED => {}
                Event::Ping(payload) => {
                    pings += 1;
                    let mut pong = Vec::new();
                    encode_frame(
                        &mut pong,
                        true,
                        OpCode::Pong,
                        Some(pong_keys.next_key()),
                        &payload,
                    );
                    let _ = queue.send(pong);
                }
                Event::Pong(_) => {}
                Event::Close(frame) => {
                    let code = frame
                        .map(|f| format!(" with code {}", f.code))
                        .unwrap_or_default();
                    return Err(format!(
                        "the server closed the connection{code} after {received} of {expected} messages{}",
                        missing(plan, position, &next)
                    ));
                }
            }
            if received == expected {
                return Ok(received);
            }
            if Instant::now() >= context.guard {
                return Err(stalled(plan, position, received, &next));
            }
        }
        if Instant::now() >= context.guard {
            return Err(stalled(plan, position, received, &next));
        }
        let quiet = (Instant::now() + context.step_timeout).min(context.guard);
        match read_some(reader, &mut frames, &mut chunk, quiet, &mut |_| {}).await {
            Ok(true) => {}
            Err(PeerEnd::Eof) => {
                return Err(format!(
                    "the server closed the TCP connection after {received} of {expected} messages{}",
                    missing(plan, position, &next)
                ));
            }
            Err(PeerEnd::Reset(e)) => {
                return Err(format!(
                    "the connection broke ({e}) after {received} of {expected} messages"
                ));
            }
            Ok(false) => {
                return Err(format!(
                    "received {received} of {expected} messages, then nothing for {} ms{}",
                    context.step_timeout.as_millis(),
                    missing(plan, position, &next)
                ));
            }
        }
    }
    Ok(received)
}

/// The failure of a client whose server kept it busy past the flood's guard.
fn stalled(plan: &FloodPlan, position: usize, received: usize, next: &[usize]) -> String {
    format!(
        "received {received} of {} messages before the flood's time ran out{}",
        plan.expected_per_client(),
        missing(plan, position, next)
    )
}

/// What a flood client's reader accepts: sized to the largest message of
/// the flood, not the runner-wide maximum (twenty clients at 64 MiB each
/// would be more than a gigabyte against a server streaming one message).
fn flood_limits(plan: &FloodPlan) -> wsconform_wire::Limits {
    let largest = plan
        .clients
        .iter()
        .flat_map(|c| c.frames.iter().map(Vec::len))
        .max()
        .unwrap_or(0);
    sized_to(largest)
}

/// Checks one received message against the plan. `Ok(true)`: the next
/// expected one of its sender; `Ok(false)`: not from this flood (skipped);
/// `Err`: lost, duplicated, reordered or altered.
fn check_message(
    context: &FloodContext,
    position: usize,
    bytes: &[u8],
    next: &mut [usize],
) -> Result<bool, String> {
    let plan = &context.plan;
    let (sender, number) = match plan.profile {
        Profile::Echo => {
            let own = plan.clients.get(position).ok_or("no such flood client")?;
            let at = next.first().copied().unwrap_or_default();
            match own.messages.iter().position(|m| m.bytes == bytes) {
                Some(number) => (position, number),
                None if own.messages.get(at).is_some() => {
                    return Err(format!(
                        "message {} back differs from the one sent: {}",
                        at + 1,
                        crate::decode::show_payload(bytes, 60)
                    ));
                }
                None => return Ok(false),
            }
        }
        Profile::Chat => {
            let text = String::from_utf8_lossy(bytes);
            let nonce = text
                .split(|c: char| !c.is_ascii_alphanumeric())
                .find(|word| context.index.contains_key(*word));
            let Some(&(sender, number)) = nonce.and_then(|n| context.index.get(n)) else {
                return Ok(false);
            };
            let sent = plan
                .clients
                .get(sender)
                .and_then(|c| c.messages.get(number))
                .and_then(|m| m.chat.as_ref())
                .ok_or("no such flood message")?;
            crate::chat::matches(bytes, sent)?;
            (sender, number)
        }
    };
    let slot = match plan.profile {
        Profile::Echo => 0,
        Profile::Chat => sender,
    };
    let name = |s: usize| plan.clients.get(s).map_or("?", |c| c.name.as_str());
    let Some(wanted) = next.get_mut(slot) else {
        return Err("no such flood sender".into());
    };
    if number == *wanted {
        *wanted += 1;
        Ok(true)
    } else if number < *wanted {
        Err(format!(
            "message {} of {} a second time (duplicated, or delivered out of order)",
            number + 1,
            name(sender)
        ))
    } else {
        Err(format!(
            "message {} of {} before its message {}: lost or out of order (each sender's messages must arrive in the order sent)",
            number + 1,
            name(sender),
            *wanted + 1
        ))
    }
}

/// ", missing: message 3 of flood-2, …" for the first few senders behind.
fn missing(plan: &FloodPlan, position: usize, next: &[usize]) -> String {
    let per_sender = plan.clients.first().map_or(0, |c| c.messages.len());
    let behind: Vec<String> = next
        .iter()
        .enumerate()
        .filter(|(_, n)| **n < per_sender)
        .map(|(s, n)| {
            let sender = match plan.profile {
                Profile::Chat => s,
                Profile::Echo => position,
            };
            let name = plan.clients.get(sender).map_or("?", |c| c.name.as_str());
            format!("message {} of {name}", n + 1)
        })
        .take(3)
        .collect();
    if behind.is_empty() {
        String::new()
    } else {
        format!("; first missing: {}", behind.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::flood::sample;

    fn context(profile: Profile) -> FloodContext {
        let plan = sample(profile, 2, 3).unwrap();
        FloodContext {
            index: plan.nonce_index(),
            plan,
            barrier: Barrier::new(1),
            addr: String::new(),
            step_timeout: Duration::from_secs(1),
            guard: Instant::now(),
        }
    }

    #[test]
    fn chat_checks_order_duplicates_and_strangers() {
        let context = context(Profile::Chat);
        let msg = |s: usize, n: usize| context.plan.clients[s].messages[n].bytes.clone();
        let mut next = vec![0, 0];
        assert_eq!(check_message(&context, 0, &msg(1, 0), &mut next), Ok(true));
        assert_eq!(check_message(&context, 0, &msg(0, 0), &mut next), Ok(true));
        assert_eq!(
            check_message(&context, 0, b"{\"x\":1}", &mut next),
            Ok(false)
        );
        let duplicate = check_message(&context, 0, &msg(1, 0), &mut next).unwrap_err();
        assert!(duplicate.contains("second time"), "{duplicate}");
        let skipped = check_message(&context, 0, &msg(0, 2), &mut next).unwrap_err();
        assert!(skipped.contains("before its message 2"), "{skipped}");
        assert_eq!(next, [1, 1]);
    }

    #[test]
    fn echo_checks_order_and_content() {
        let context = context(Profile::Echo);
        let own = |n: usize| context.plan.clients[1].messages[n].bytes.clone();
        let mut next = vec![0];
        assert_eq!(check_message(&context, 1, &own(0), &mut next), Ok(true));
        let early = check_message(&context, 1, &own(2), &mut next).unwrap_err();
        assert!(early.contains("before its message 2"), "{early}");
        let altered = check_message(&context, 1, b"something else", &mut next).unwrap_err();
        assert!(altered.contains("differs"), "{altered}");
    }
}

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
//! The plan ([`plan_flood`]) decides every byte in advance: each client's
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
//! Frames from the server go through the client-side [`Decoder`], so a
//! server that masks, sets RSV bits or sends invalid UTF-8 under load fails
//! here too. Server pings are answered.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Barrier, mpsc};
use tokio::task::JoinSet;
use tokio::time::{Instant, timeout_at};
use wsconform_wire::{
    Decoder, Event, Limits, Message, OpCode, Role, encode_frame, generate_key, parse_response,
    validate_response,
};

use crate::payload::stable_hash;
use crate::plan::{PlanSettings, Profile, SentMessage, handshake_request};
use crate::scenario::{FloodSpec, HandshakeSpec, MAX_FLOOD_CLIENTS, MAX_FLOOD_DELIVERIES};

/// Everything one `flood` step sends and expects, decided by the plan.
#[derive(Debug, Clone, PartialEq)]
pub struct FloodPlan {
    /// One entry per client, in name order.
    pub clients: Vec<FloodClient>,
    /// Chat (everyone receives everything) or echo (each its own).
    pub profile: Profile,
}

/// One client of a flood.
#[derive(Debug, Clone, PartialEq)]
pub struct FloodClient {
    /// `flood-1`, `flood-2`, …
    pub name: String,
    /// The opening handshake request.
    pub request: Vec<u8>,
    /// The key in it, to check the 101.
    pub key: String,
    /// The messages, in sending order.
    pub messages: Vec<SentMessage>,
    /// Each message as one masked frame, in the same order.
    pub frames: Vec<Vec<u8>>,
}

impl FloodPlan {
    /// How many messages each client must receive.
    pub fn expected_per_client(&self) -> usize {
        let per_sender = self.clients.first().map_or(0, |c| c.messages.len());
        match self.profile {
            Profile::Chat => per_sender * self.clients.len(),
            Profile::Echo => per_sender,
        }
    }

    /// A generous bound on the whole step, only ever reached by a server that
    /// keeps trickling bytes: twice the step timeout plus 2 ms per delivery.
    pub fn hang_guard(&self, step_timeout: Duration) -> Duration {
        let deliveries = (self.expected_per_client() * self.clients.len()) as u32;
        step_timeout * 2 + Duration::from_millis(2) * deliveries
    }
}

/// Plans a flood: names, handshakes, and every message with its frame.
///
/// `prefix` names the clients (`flood` unless the step says `as:`).
pub fn plan_flood(
    scenario_id: &str,
    prefix: &str,
    spec: &FloodSpec,
    settings: &PlanSettings,
) -> Result<FloodPlan, String> {
    if spec.clients == 0 || spec.messages == 0 {
        return Err("a flood needs at least one client and one message".into());
    }
    if spec.clients > MAX_FLOOD_CLIENTS {
        return Err(format!(
            "a flood opens at most {MAX_FLOOD_CLIENTS} clients, not {}",
            spec.clients
        ));
    }
    let receivers = match settings.profile {
        Profile::Chat => spec.clients,
        Profile::Echo => 1,
    };
    let deliveries = spec
        .clients
        .saturating_mul(spec.messages)
        .saturating_mul(receivers);
    if deliveries > MAX_FLOOD_DELIVERIES {
        return Err(format!(
            "{} clients × {} messages make {deliveries} deliveries; a flood allows at most {MAX_FLOOD_DELIVERIES}",
            spec.clients, spec.messages
        ));
    }
    let mut clients = Vec::with_capacity(spec.clients);
    for index in 1..=spec.clients {
        let name = format!("{prefix}-{index}");
        let seed = stable_hash(&format!("{scenario_id}/{name}"));
        let key = generate_key(seed);
        let request = handshake_request(&HandshakeSpec::default(), &settings.target, &key);
        let scope = stable_hash(&format!("{}/{scenario_id}/{name}", settings.run_id));
        let mut messages = Vec::with_capacity(spec.messages);
        let mut frames = Vec::with_capacity(spec.messages);
        for number in 1..=spec.messages {
            let nonce = format!("n{:08x}f{number:05}", scope as u32);
            let bytes = message_text(settings.profile, &name, &nonce, number, spec.size);
            let chat = match settings.profile {
                Profile::Chat => {
                    let value: serde_json::Value =
                        serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
                    Some(crate::plan::ChatMessage {
                        nonce,
                        username: name.clone(),
                        message: value
                            .get("message")
                            .and_then(|m| m.as_str())
                            .unwrap_or_default()
                            .to_string(),
                    })
                }
                Profile::Echo => None,
            };
            let mask = (seed ^ number as u64).to_be_bytes();
            let mut frame = Vec::with_capacity(bytes.len() + 14);
            encode_frame(
                &mut frame,
                true,
                OpCode::Text,
                Some([mask[4], mask[5], mask[6], mask[7]]),
                &bytes,
            );
            frames.push(frame);
            messages.push(SentMessage {
                kind: crate::scenario::DataKind::Text,
                bytes,
                chat,
            });
        }
        clients.push(FloodClient {
            name,
            request,
            key,
            messages,
            frames,
        });
    }
    Ok(FloodPlan {
        clients,
        profile: settings.profile,
    })
}

/// The text of message `number` of client `name`, padded with `*` to `size`
/// bytes when it is shorter. In chat it is the JSON chat message.
fn message_text(profile: Profile, name: &str, nonce: &str, number: usize, size: usize) -> Vec<u8> {
    let body = format!("{nonce} message {number} from {name}");
    match profile {
        Profile::Echo => {
            let mut text = body.into_bytes();
            text.resize(text.len().max(size), b'*');
            text
        }
        Profile::Chat => {
            let build = |message: &str| {
                format!(
                    "{{\"username\":{},\"message\":{}}}",
                    serde_json::Value::from(name),
                    serde_json::Value::from(message)
                )
            };
            let short = build(&body);
            let padding = size.saturating_sub(short.len());
            build(&format!("{body}{}", "*".repeat(padding))).into_bytes()
        }
    }
}

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
    // Which sender and which message each nonce belongs to (chat).
    let mut index: HashMap<String, (usize, usize)> = HashMap::new();
    for (sender, client) in plan.clients.iter().enumerate() {
        for (number, message) in client.messages.iter().enumerate() {
            if let Some(chat) = &message.chat {
                index.insert(chat.nonce.clone(), (sender, number));
            }
        }
    }
    let shared = Arc::new(Shared {
        plan: plan.clone(),
        index,
        barrier: Barrier::new(plan.clients.len()),
        addr: settings.target.authority(),
        step_timeout,
        guard,
    });
    let mut tasks = JoinSet::new();
    for position in 0..plan.clients.len() {
        let shared = Arc::clone(&shared);
        tasks.spawn(async move { (position, one_client(&shared, position).await) });
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

struct Shared {
    plan: FloodPlan,
    index: HashMap<String, (usize, usize)>,
    barrier: Barrier,
    addr: String,
    step_timeout: Duration,
    guard: Instant,
}

/// One client: handshake, wait for the others, send while receiving.
/// Returns how many messages it received.
async fn one_client(shared: &Shared, position: usize) -> Result<usize, String> {
    let opened = open(shared, position).await;
    // Everyone waits here exactly once, failed or not, so nobody waits forever.
    let barrier = timeout_at(shared.guard, shared.barrier.wait()).await;
    let (stream, leftover) = opened?;
    if barrier.is_err() {
        return Err("the other clients' handshakes did not finish in time".into());
    }
    exchange(shared, position, stream, leftover).await
}

/// Connects and completes the opening handshake; returns the stream and any
/// bytes read past the response.
async fn open(shared: &Shared, position: usize) -> Result<(TcpStream, Vec<u8>), String> {
    let client = shared
        .plan
        .clients
        .get(position)
        .ok_or("no such flood client")?;
    let deadline = Instant::now() + shared.step_timeout;
    let mut stream = match timeout_at(deadline, TcpStream::connect(&shared.addr)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => return Err(format!("cannot connect to {}: {e}", shared.addr)),
        Err(_) => return Err(format!("cannot connect to {}: no answer", shared.addr)),
    };
    let _ = stream.set_nodelay(true);
    match timeout_at(deadline, stream.write_all(&client.request)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(format!("could not send the handshake request: {e}")),
        Err(_) => return Err("could not send the handshake request in time".into()),
    }
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        match parse_response(&buf, crate::exec::MAX_HTTP) {
            Ok(Some((response, used))) => {
                validate_response(&response, &client.key).map_err(|e| {
                    format!(
                        "the opening handshake failed: {} {}: {e}",
                        response.status, response.reason
                    )
                })?;
                let leftover = buf.split_off(used);
                return Ok((stream, leftover));
            }
            Ok(None) => {}
            Err(e) => return Err(format!("an unreadable handshake response ({e})")),
        }
        match timeout_at(deadline, stream.read(&mut chunk)).await {
            Ok(Ok(0)) => {
                return Err(
                    "the server closed the connection before answering the handshake".into(),
                );
            }
            Ok(Ok(n)) => buf.extend_from_slice(chunk.get(..n).unwrap_or_default()),
            Ok(Err(e)) => return Err(format!("the connection broke during the handshake ({e})")),
            Err(_) => {
                return Err(format!(
                    "no handshake response within {} ms (does the server serve one client at a time?)",
                    shared.step_timeout.as_millis()
                ));
            }
        }
    }
}

/// Sends this client's messages while checking everything that arrives.
async fn exchange(
    shared: &Shared,
    position: usize,
    stream: TcpStream,
    leftover: Vec<u8>,
) -> Result<usize, String> {
    let plan = &shared.plan;
    let client = plan.clients.get(position).ok_or("no such flood client")?;
    let (mut reader, mut writer) = stream.into_split();
    let (queue, mut outgoing) = mpsc::unbounded_channel::<Vec<u8>>();
    for frame in &client.frames {
        let _ = queue.send(frame.clone());
    }
    let guard = shared.guard;
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
        let result = receive_all(shared, position, &mut reader, leftover, &queue).await;
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
            let until = Instant::now() + shared.step_timeout.min(Duration::from_millis(500));
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
    shared: &Shared,
    position: usize,
    reader: &mut tokio::net::tcp::OwnedReadHalf,
    leftover: Vec<u8>,
    queue: &mpsc::UnboundedSender<Vec<u8>>,
) -> Result<usize, String> {
    let plan = &shared.plan;
    let expected = plan.expected_per_client();
    let senders = plan.clients.len();
    // The next message number expected from each sender.
    let mut next = vec![0usize; senders];
    let mut received = 0usize;
    let mut unrelated = 0usize;
    let mut decoder = Decoder::new(Role::Client, Limits::default());
    let mut pending = leftover;
    let mut chunk = vec![0u8; 64 * 1024];
    let mut pong_key = 0x0f10_0d00u32;
    while received < expected {
        // Decode everything buffered, then read more.
        loop {
            let (used, event) = decoder
                .decode(&pending)
                .map_err(|e| format!("the server broke a rule under load: {e}"))?;
            pending.drain(..used);
            let Some(event) = event else { break };
            match event {
                Event::Message(message) => {
                    let bytes = match &message {
                        Message::Text(t) => t.as_bytes(),
                        Message::Binary(b) => b.as_slice(),
                    };
                    match check_message(shared, position, bytes, &mut next)? {
                        true => received += 1,
                        false => {
                            unrelated += 1;
                            if unrelated > crate::exec::MAX_SKIPPED {
                                return Err(format!(
                                    "more than {} messages that no flood client sent",
                                    crate::exec::MAX_SKIPPED
                                ));
                            }
                        }
                    }
                }
                Event::Ping(payload) => {
                    pong_key = pong_key.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    let mut pong = Vec::new();
                    encode_frame(
                        &mut pong,
                        true,
                        OpCode::Pong,
                        Some(pong_key.to_be_bytes()),
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
        }
        let quiet = (Instant::now() + shared.step_timeout).min(shared.guard);
        match timeout_at(quiet, reader.read(&mut chunk)).await {
            Ok(Ok(0)) => {
                return Err(format!(
                    "the server closed the TCP connection after {received} of {expected} messages{}",
                    missing(plan, position, &next)
                ));
            }
            Ok(Ok(n)) => pending.extend_from_slice(chunk.get(..n).unwrap_or_default()),
            Ok(Err(e)) => {
                return Err(format!(
                    "the connection broke ({e}) after {received} of {expected} messages"
                ));
            }
            Err(_) => {
                return Err(format!(
                    "received {received} of {expected} messages, then nothing for {} ms{}",
                    shared.step_timeout.as_millis(),
                    missing(plan, position, &next)
                ));
            }
        }
    }
    Ok(received)
}

/// Checks one received message against the plan. `Ok(true)`: the next
/// expected one of its sender; `Ok(false)`: not from this flood (skipped);
/// `Err`: lost, duplicated, reordered or altered.
fn check_message(
    shared: &Shared,
    position: usize,
    bytes: &[u8],
    next: &mut [usize],
) -> Result<bool, String> {
    let plan = &shared.plan;
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
                .find(|word| shared.index.contains_key(*word));
            let Some(&(sender, number)) = nonce.and_then(|n| shared.index.get(n)) else {
                return Ok(false);
            };
            let sent = plan
                .clients
                .get(sender)
                .and_then(|c| c.messages.get(number))
                .and_then(|m| m.chat.as_ref())
                .ok_or("no such flood message")?;
            crate::exec::chat_matches(bytes, sent)?;
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
    use crate::plan::Target;

    fn settings(profile: Profile) -> PlanSettings {
        PlanSettings {
            target: Target::parse("ws://127.0.0.1:9/socket").unwrap(),
            profile,
            timeout: Duration::from_secs(2),
            run_id: 3,
        }
    }

    fn spec(clients: usize, messages: usize) -> FloodSpec {
        FloodSpec {
            clients,
            messages,
            size: 100,
        }
    }

    #[test]
    fn plans_unique_chat_messages_of_the_asked_size() {
        let plan = plan_flood("s", "flood", &spec(3, 4), &settings(Profile::Chat)).unwrap();
        assert_eq!(plan.clients.len(), 3);
        assert_eq!(plan.expected_per_client(), 12);
        let mut nonces = std::collections::HashSet::new();
        for client in &plan.clients {
            assert_eq!(client.frames.len(), 4);
            for m in &client.messages {
                assert_eq!(m.bytes.len(), 100, "{}", String::from_utf8_lossy(&m.bytes));
                let chat = m.chat.as_ref().unwrap();
                assert_eq!(chat.username, client.name);
                assert!(nonces.insert(chat.nonce.clone()));
            }
        }
    }

    #[test]
    fn echo_clients_expect_only_their_own_messages() {
        let plan = plan_flood("s", "flood", &spec(5, 7), &settings(Profile::Echo)).unwrap();
        assert_eq!(plan.expected_per_client(), 7);
        assert!(plan.clients[0].messages[0].chat.is_none());
        assert_ne!(
            plan.clients[0].messages[0].bytes,
            plan.clients[1].messages[0].bytes
        );
    }

    #[test]
    fn refuses_floods_beyond_the_limits() {
        let chat = settings(Profile::Chat);
        assert!(plan_flood("s", "f", &spec(0, 1), &chat).is_err());
        assert!(plan_flood("s", "f", &spec(MAX_FLOOD_CLIENTS + 1, 1), &chat).is_err());
        assert!(plan_flood("s", "f", &spec(100, 100), &chat).is_err());
        assert!(plan_flood("s", "f", &spec(20, 50), &chat).is_ok());
    }

    fn shared(profile: Profile) -> Shared {
        let plan = plan_flood("s", "flood", &spec(2, 3), &settings(profile)).unwrap();
        let mut index = HashMap::new();
        for (s, c) in plan.clients.iter().enumerate() {
            for (n, m) in c.messages.iter().enumerate() {
                if let Some(chat) = &m.chat {
                    index.insert(chat.nonce.clone(), (s, n));
                }
            }
        }
        Shared {
            plan,
            index,
            barrier: Barrier::new(1),
            addr: String::new(),
            step_timeout: Duration::from_secs(1),
            guard: Instant::now(),
        }
    }

    #[test]
    fn chat_checks_order_duplicates_and_strangers() {
        let shared = shared(Profile::Chat);
        let msg = |s: usize, n: usize| shared.plan.clients[s].messages[n].bytes.clone();
        let mut next = vec![0, 0];
        assert_eq!(check_message(&shared, 0, &msg(1, 0), &mut next), Ok(true));
        assert_eq!(check_message(&shared, 0, &msg(0, 0), &mut next), Ok(true));
        assert_eq!(
            check_message(&shared, 0, b"{\"x\":1}", &mut next),
            Ok(false)
        );
        let duplicate = check_message(&shared, 0, &msg(1, 0), &mut next).unwrap_err();
        assert!(duplicate.contains("second time"), "{duplicate}");
        let skipped = check_message(&shared, 0, &msg(0, 2), &mut next).unwrap_err();
        assert!(skipped.contains("before its message 2"), "{skipped}");
        assert_eq!(next, [1, 1]);
    }

    #[test]
    fn echo_checks_order_and_content() {
        let shared = shared(Profile::Echo);
        let own = |n: usize| shared.plan.clients[1].messages[n].bytes.clone();
        let mut next = vec![0];
        assert_eq!(check_message(&shared, 1, &own(0), &mut next), Ok(true));
        let early = check_message(&shared, 1, &own(2), &mut next).unwrap_err();
        assert!(early.contains("before its message 2"), "{early}");
        let altered = check_message(&shared, 1, b"something else", &mut next).unwrap_err();
        assert!(altered.contains("differs"), "{altered}");
    }
}

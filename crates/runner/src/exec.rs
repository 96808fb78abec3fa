//! The executor and judge: plays a plan over raw TCP and decides the outcome.
//!
//! Raw TCP, not a WebSocket library: the runner must be able to send what no
//! library would (unmasked frames, lies about lengths, one byte at a time),
//! and must see exactly what the server sent back, byte for byte.
//!
//! Three rules keep it safe against any server:
//! * every wait has a deadline ([`tokio::time::timeout_at`]); a step that
//!   runs out of time says what it was waiting for;
//! * reads are bounded ([`MAX_FRAME`], [`MAX_MESSAGE`], the HTTP header
//!   limit), so a server streaming forever cannot exhaust memory;
//! * nothing the server sends can panic the runner: every index is checked.
//!
//! Every frame received is checked against the rules a client enforces
//! (RFC 6455 5.1-5.5), whatever the step waits for: a server that masks its
//! frames or sets RSV bits fails at the first such byte, with a caret under it.

// A `Failure` is large, but it is built once per failed scenario: boxing it
// would only add noise to every `Err(...)` in the judge.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};
use wsconform_wire::{
    FrameHeader, LengthForm, OpCode, ProtocolError, ServerResponse, Utf8Validator,
    check_server_frame, parse_close_payload, parse_response, validate_response,
};

use crate::decode::show_payload;
use crate::load::LoadedScenario;
use crate::plan::{ChatMessage, Expected, Op, PlanError, PlanSettings, PlannedStep, plan};
use crate::scenario::DataKind;
use crate::transcript::{Direction, LineKind, Transcript};
use crate::verdict::{Caret, Failure, Outcome, ScenarioResult};

/// The largest frame the runner accepts from a server (16 MiB of payload).
pub const MAX_FRAME: u64 = 16 * 1024 * 1024;
/// The largest message the runner assembles (64 MiB).
pub const MAX_MESSAGE: usize = 64 * 1024 * 1024;
/// The largest handshake response header block (16 KiB).
pub const MAX_HTTP: usize = 16 * 1024;
/// How many bytes of an offending frame are kept for its transcript line.
const MAX_SHOWN: usize = 64 * 1024;
/// How many unrelated chat messages an expectation skips before giving up.
pub const MAX_SKIPPED: usize = 256;

/// How the connection ended from the server's side.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PeerEnd {
    /// Orderly TCP close (read returned 0).
    Eof,
    /// Reset or another I/O error.
    Reset(String),
}

impl PeerEnd {
    fn describe(&self) -> String {
        match self {
            PeerEnd::Eof => "the server closed the TCP connection".into(),
            PeerEnd::Reset(e) => format!("the connection broke ({e})"),
        }
    }
}

/// Why waiting stopped without the thing waited for.
#[derive(Debug)]
enum Stop {
    TimedOut,
    Ended(PeerEnd),
    Broke(Box<Broken>),
}

/// The server broke a protocol rule.
#[derive(Debug)]
struct Broken {
    actual: String,
    rule: String,
    caret: Option<Caret>,
}

/// A data message, control frame or close as the judge sees it.
#[derive(Debug)]
enum Incoming {
    Message { kind: DataKind, bytes: Vec<u8> },
    Pong(Vec<u8>),
    Close { code: Option<u16>, reason: String },
}

fn describe_incoming(i: &Incoming) -> String {
    match i {
        Incoming::Message { kind, bytes } => format!(
            "a {} message of {} bytes: {}",
            kind_name(*kind),
            bytes.len(),
            show_payload(bytes, 60)
        ),
        Incoming::Pong(p) => format!("a pong with payload {}", show_payload(p, 60)),
        Incoming::Close {
            code: Some(c),
            reason,
        } if !reason.is_empty() => {
            format!("a close frame with code {c} ({reason:?})")
        }
        Incoming::Close { code: Some(c), .. } => format!("a close frame with code {c}"),
        Incoming::Close { code: None, .. } => "a close frame without a status code".into(),
    }
}

fn kind_name(kind: DataKind) -> &'static str {
    match kind {
        DataKind::Text => "text",
        DataKind::Binary => "binary",
    }
}

struct Partial {
    kind: DataKind,
    data: Vec<u8>,
    utf8: Utf8Validator,
}

/// One client's connection.
struct Conn {
    stream: Option<TcpStream>,
    buf: Vec<u8>,
    key: String,
    response: Option<Result<ServerResponse, String>>,
    ended: Option<PeerEnd>,
    close_received: Option<Option<u16>>,
    close_sent: bool,
    partial: Option<Partial>,
    masks: u32,
}

impl Conn {
    fn new() -> Conn {
        Conn {
            stream: None,
            buf: Vec::new(),
            key: String::new(),
            response: None,
            ended: None,
            close_received: None,
            close_sent: false,
            partial: None,
            masks: 0x5eed_1234,
        }
    }
}

/// Scenario-wide state during a run.
struct Run<'a> {
    settings: &'a PlanSettings,
    start: Instant,
    transcript: Transcript,
    conns: HashMap<String, Conn>,
    /// Every nonce this scenario sent (chat): messages without one are unrelated.
    nonces: Vec<String>,
}

/// The result of one expectation.
enum StepResult {
    Met,
    Unmet(Failure),
    /// The target could not be reached at all.
    Unreachable(String),
}

impl Run<'_> {
    fn now(&self) -> Duration {
        self.start.elapsed()
    }

    fn chat(&self) -> bool {
        self.settings.profile == crate::plan::Profile::Chat
    }

    /// Reads once into the client's buffer. `Ok(false)` means the deadline passed.
    async fn fill(&mut self, client: &str, deadline: Instant) -> Result<bool, PeerEnd> {
        let now = self.now();
        let Some(conn) = self.conns.get_mut(client) else {
            return Err(PeerEnd::Reset("not connected".into()));
        };
        if let Some(end) = &conn.ended {
            return Err(end.clone());
        }
        let Some(stream) = conn.stream.as_mut() else {
            return Err(PeerEnd::Reset("not connected".into()));
        };
        let mut chunk = vec![0u8; 64 * 1024];
        match timeout_at(deadline, stream.read(&mut chunk)).await {
            Err(_) => Ok(false),
            Ok(Ok(0)) => {
                conn.ended = Some(PeerEnd::Eof);
                Err(PeerEnd::Eof)
            }
            Ok(Ok(n)) => {
                conn.buf.extend_from_slice(&chunk[..n]);
                self.transcript
                    .io(now, client, Direction::Received, &chunk[..n]);
                Ok(true)
            }
            Ok(Err(e)) => {
                let end = PeerEnd::Reset(e.to_string());
                conn.ended = Some(end.clone());
                Err(end)
            }
        }
    }

    async fn write(&mut self, client: &str, bytes: &[u8], deadline: Instant) -> Result<(), String> {
        let now = self.now();
        let Some(conn) = self.conns.get_mut(client) else {
            return Err("not connected".into());
        };
        let Some(stream) = conn.stream.as_mut() else {
            return Err("not connected".into());
        };
        match timeout_at(deadline, stream.write_all(bytes)).await {
            Err(_) => Err("the server stopped reading: the write did not finish in time".into()),
            Ok(Err(e)) => Err(e.to_string()),
            Ok(Ok(())) => {
                self.transcript.io(now, client, Direction::Sent, bytes);
                Ok(())
            }
        }
    }

    /// Sends a control frame in reply (pong to a ping, close to a close).
    async fn reply(&mut self, client: &str, opcode: OpCode, payload: &[u8]) {
        let Some(conn) = self.conns.get_mut(client) else {
            return;
        };
        conn.masks = conn
            .masks
            .wrapping_mul(1_664_525)
            .wrapping_add(1_013_904_223);
        let key = conn.masks.to_be_bytes();
        let mut out = Vec::new();
        wsconform_wire::encode_frame(&mut out, true, opcode, Some(key), payload);
        let at = self.now();
        let deadline = Instant::now() + Duration::from_millis(500);
        if self.write(client, &out, deadline).await.is_ok() {
            self.transcript.frames(at, client, LineKind::Sent, &out);
        }
    }

    /// The next frame from the server, checked against the client-side rules.
    async fn next_frame(
        &mut self,
        client: &str,
        deadline: Instant,
    ) -> Result<(FrameHeader, Vec<u8>, usize), Stop> {
        loop {
            let parsed = self
                .conns
                .get(client)
                .and_then(|c| FrameHeader::parse_with_form(&c.buf).map(|p| (p, c.buf.len())));
            if let Some(((header, form, header_len), available)) = parsed {
                if header.payload_len > MAX_FRAME && header.payload_len >> 63 == 0 {
                    let line = self.record_received(client, header_len);
                    return Err(Stop::Broke(Box::new(Broken {
                        actual: format!(
                            "a frame announcing {} payload bytes, more than the runner accepts ({} bytes)",
                            header.payload_len, MAX_FRAME
                        ),
                        rule:
                            "The runner bounds what it reads; no scenario needs frames this large."
                                .into(),
                        caret: Some(Caret { line, byte: 1 }),
                    })));
                }
                let total = (header_len as u64).saturating_add(header.payload_len);
                if let Err(e) = check_server_frame(&header) {
                    let line = self.record_received(client, header_len.min(available));
                    return Err(Stop::Broke(Box::new(frame_rule(&e, line))));
                }
                if (available as u64) >= total {
                    let total = total as usize;
                    // Checked once the frame is complete, so its line shows it whole.
                    if form != LengthForm::minimal_for(header.payload_len) {
                        let line = self.record_received(client, header_len);
                        return Err(Stop::Broke(Box::new(Broken {
                            actual: format!(
                                "a frame of {} bytes whose length uses a longer form than needed",
                                header.payload_len
                            ),
                            rule: "RFC 6455 5.2: \"the minimal number of bytes MUST be used to encode the length\"".into(),
                            caret: Some(Caret { line, byte: 1 }),
                        })));
                    }
                    let Some(conn) = self.conns.get_mut(client) else {
                        return Err(Stop::Ended(PeerEnd::Reset("not connected".into())));
                    };
                    let frame: Vec<u8> = conn.buf.drain(..total).collect();
                    let at = self.now();
                    let line = self
                        .transcript
                        .frames(at, client, LineKind::Received, &frame);
                    let payload = frame[header_len..].to_vec();
                    return Ok((header, payload, line));
                }
            }
            match self.fill(client, deadline).await {
                Ok(true) => {}
                Ok(false) => return Err(Stop::TimedOut),
                Err(end) => {
                    self.record_leftover(client);
                    return Err(Stop::Ended(end));
                }
            }
        }
    }

    /// Records the start of the buffer as a received line (for a caret).
    fn record_received(&mut self, client: &str, upto: usize) -> usize {
        let at = self.now();
        let bytes = self
            .conns
            .get(client)
            .map(|c| c.buf[..c.buf.len().min(upto.max(MAX_SHOWN))].to_vec())
            .unwrap_or_default();
        let line = self
            .transcript
            .frames(at, client, LineKind::Received, &bytes);
        if let Some(conn) = self.conns.get_mut(client) {
            conn.ended = Some(PeerEnd::Reset(
                "stopped reading after a protocol violation".into(),
            ));
            conn.buf.clear();
        }
        line
    }

    /// Shows bytes left over when the connection ended mid-frame.
    fn record_leftover(&mut self, client: &str) {
        let at = self.now();
        let Some(conn) = self.conns.get_mut(client) else {
            return;
        };
        if conn.buf.is_empty() {
            return;
        }
        let bytes = std::mem::take(&mut conn.buf);
        self.transcript
            .frames(at, client, LineKind::Received, &bytes);
    }

    /// The next message, pong or close; answers pings on the way.
    async fn next_incoming(&mut self, client: &str, deadline: Instant) -> Result<Incoming, Stop> {
        loop {
            let (header, payload, line) = self.next_frame(client, deadline).await?;
            let broke = |actual: String, rule: &str, byte: usize| {
                Stop::Broke(Box::new(Broken {
                    actual,
                    rule: rule.to_string(),
                    caret: Some(Caret { line, byte }),
                }))
            };
            let header_len = header.encoded_len(LengthForm::Minimal);
            match header.opcode {
                OpCode::Ping => {
                    self.reply(client, OpCode::Pong, &payload).await;
                }
                OpCode::Pong => return Ok(Incoming::Pong(payload)),
                OpCode::Close => {
                    let (code, reason) = match parse_close_payload(&payload) {
                        Ok(Some(c)) => (Some(c.code), c.reason),
                        Ok(None) => (None, String::new()),
                        Err(e) => {
                            let byte = if matches!(
                                e,
                                ProtocolError::InvalidCloseReason | ProtocolError::InvalidUtf8(_)
                            ) {
                                header_len + 2
                            } else {
                                header_len
                            };
                            return Err(broke(
                                format!("a close frame with an invalid body: {e}"),
                                "RFC 6455 5.5.1: the body is a 2-byte status code that may appear on the wire, then UTF-8",
                                byte,
                            ));
                        }
                    };
                    let already_sent = self.conns.get(client).is_some_and(|c| c.close_sent);
                    if let Some(conn) = self.conns.get_mut(client) {
                        conn.close_received = Some(code);
                        conn.close_sent = true;
                    }
                    if !already_sent {
                        let body = code.map(|c| c.to_be_bytes().to_vec()).unwrap_or_default();
                        self.reply(client, OpCode::Close, &body).await;
                    }
                    return Ok(Incoming::Close { code, reason });
                }
                OpCode::Text | OpCode::Binary | OpCode::Continuation => {
                    let Some(conn) = self.conns.get_mut(client) else {
                        return Err(Stop::Ended(PeerEnd::Reset("not connected".into())));
                    };
                    let mut partial = match (header.opcode, conn.partial.take()) {
                        (OpCode::Continuation, Some(p)) => p,
                        (OpCode::Continuation, None) => {
                            return Err(broke(
                                "a continuation frame with no message to continue".into(),
                                "RFC 6455 5.4: a fragmented message starts with a text or binary frame with FIN clear",
                                0,
                            ));
                        }
                        (_, Some(_)) => {
                            return Err(broke(
                                "a new data frame before the fragmented message ended".into(),
                                "RFC 6455 5.4: fragments of one message are not interleaved with other data frames",
                                0,
                            ));
                        }
                        (op, None) => Partial {
                            kind: if op == OpCode::Text {
                                DataKind::Text
                            } else {
                                DataKind::Binary
                            },
                            data: Vec::new(),
                            utf8: Utf8Validator::new(),
                        },
                    };
                    if partial.data.len() + payload.len() > MAX_MESSAGE {
                        return Err(broke(
                            format!(
                                "a message larger than the runner accepts ({MAX_MESSAGE} bytes)"
                            ),
                            "The runner bounds what it reads; no scenario needs messages this large.",
                            0,
                        ));
                    }
                    let before = partial.data.len() as u64;
                    if partial.kind == DataKind::Text {
                        let mut checked = partial.utf8.feed(&payload);
                        if checked.is_ok() && header.fin {
                            checked = partial.utf8.finish();
                        }
                        if let Err(e) = checked {
                            let offset = (e.position.saturating_sub(before) as usize)
                                .min(payload.len().saturating_sub(1));
                            let byte = header_len + offset;
                            let mut frame = Vec::new();
                            let _ = header.encode(LengthForm::Minimal, &mut frame);
                            frame.extend_from_slice(&payload);
                            self.transcript.widen(line, &frame, byte);
                            return Err(broke(
                                format!(
                                    "a text message that is not valid UTF-8 from offset {} on: a server must never send one",
                                    e.position
                                ),
                                "RFC 6455 8.1: text messages MUST be valid UTF-8",
                                byte,
                            ));
                        }
                    }
                    partial.data.extend_from_slice(&payload);
                    if header.fin {
                        return Ok(Incoming::Message {
                            kind: partial.kind,
                            bytes: partial.data,
                        });
                    }
                    conn.partial = Some(partial);
                }
                OpCode::Reserved(_) => {
                    return Err(broke(
                        "a frame with a reserved opcode".into(),
                        "RFC 6455 5.2: reserved opcodes MUST NOT be used",
                        0,
                    ));
                }
            }
        }
    }

    /// Whether a chat message is unrelated to what this scenario sent.
    fn unrelated(&self, incoming: &Incoming, wanted: Option<&str>) -> bool {
        if !self.chat() {
            return false;
        }
        let Incoming::Message { bytes, .. } = incoming else {
            return false;
        };
        let text = String::from_utf8_lossy(bytes);
        match wanted {
            Some(nonce) => !text.contains(nonce),
            None => !self.nonces.iter().any(|n| text.contains(n.as_str())),
        }
    }
}

fn frame_rule(e: &ProtocolError, line: usize) -> Broken {
    let (rule, byte) = match e {
        ProtocolError::MaskedFrame => (
            "RFC 6455 5.1: \"A server MUST NOT mask any frames that it sends to the client.\"",
            1,
        ),
        ProtocolError::ReservedBits(_) => (
            "RFC 6455 5.2: RSV1-3 \"MUST be 0 unless an extension is negotiated that defines meanings for non-zero values\"",
            0,
        ),
        ProtocolError::ReservedOpcode(_) => (
            "RFC 6455 5.2: opcodes 0x3-0x7 and 0xB-0xF are reserved for further frames",
            0,
        ),
        ProtocolError::ControlFrameTooLong(_) => (
            "RFC 6455 5.5: \"All control frames MUST have a payload length of 125 bytes or less\"",
            1,
        ),
        ProtocolError::FragmentedControlFrame => (
            "RFC 6455 5.5: \"All control frames ... MUST NOT be fragmented.\"",
            0,
        ),
        ProtocolError::LengthTopBitSet => (
            "RFC 6455 5.2: in the 64-bit length \"the most significant bit MUST be 0\"",
            2,
        ),
        _ => ("RFC 6455 5.2: base framing protocol", 0),
    };
    Broken {
        actual: format!("a frame that breaks a rule: {e}"),
        rule: rule.to_string(),
        caret: Some(Caret { line, byte }),
    }
}

fn codes_text(codes: &[u16]) -> String {
    match codes {
        [] => "any code".to_string(),
        [one] => format!("code {one}"),
        many => format!(
            "one of the codes {}",
            many.iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Says what an expectation waits for, as the `Expected:` line.
pub fn describe_expected(e: &Expected) -> String {
    match e {
        Expected::Accepted => "a valid 101 Switching Protocols response".into(),
        Expected::Refused { status, .. } if status.is_empty() => {
            "the handshake refused with an HTTP error status".into()
        }
        Expected::Refused { status, .. } => format!(
            "the handshake refused with status {}",
            status
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(" or ")
        ),
        Expected::Message { kind, bytes } => {
            let kind = kind.map(kind_name).unwrap_or("data");
            match bytes {
                Some(b) => format!(
                    "a {kind} message of {} bytes: {}",
                    b.len(),
                    show_payload(b, 60)
                ),
                None => format!("a {kind} message"),
            }
        }
        Expected::Broadcast(m) => format!(
            "a chat message {{\"username\": {:?}, \"message\": \"{}…\"}} (carrying {})",
            m.username,
            m.message.chars().take(24).collect::<String>(),
            m.nonce
        ),
        Expected::Frame {
            opcode,
            fin,
            payload,
        } => {
            let mut parts = vec!["a frame".to_string()];
            if let Some(op) = opcode {
                parts.push(format!(
                    "with opcode {}",
                    crate::scenario::OpcodeSpec(*op).name()
                ));
            }
            if let Some(f) = fin {
                parts.push(format!("FIN={}", u8::from(*f)));
            }
            if let Some(p) = payload {
                parts.push(format!("payload {}", show_payload(p, 40)));
            }
            parts.join(" ")
        }
        Expected::Pong(p) => format!("a pong with payload {}", show_payload(p, 60)),
        Expected::Close(codes) => format!("a close frame with {}", codes_text(codes)),
        Expected::Fail(codes) => format!(
            "the server to fail the connection: a close frame with {}, or the TCP connection closed",
            codes_text(codes)
        ),
        Expected::Silence(d) => format!("no frame for {} ms", d.as_millis()),
        Expected::TcpClosed => "the server to close the TCP connection".into(),
    }
}

fn seconds(d: Duration) -> String {
    let ms = d.as_millis();
    if ms % 1000 == 0 {
        format!("{} s", ms / 1000)
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// Whether a chat broadcast carries `m` unchanged; else what differs.
pub(crate) fn chat_matches(bytes: &[u8], m: &ChatMessage) -> Result<(), String> {
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| format!("a message carrying {} that is not JSON ({e})", m.nonce))?;
    let username = value.get("username").and_then(|v| v.as_str());
    let message = value.get("message").and_then(|v| v.as_str());
    if username != Some(m.username.as_str()) {
        return Err(format!(
            "a broadcast whose username is {} instead of {:?}",
            username
                .map(|u| format!("{u:?}"))
                .unwrap_or_else(|| "missing".into()),
            m.username
        ));
    }
    if message != Some(m.message.as_str()) {
        return Err(format!(
            "a broadcast carrying {} whose message field differs from the one sent: {}",
            m.nonce,
            message
                .map(|t| show_payload(t.as_bytes(), 60))
                .unwrap_or_else(|| "missing".into())
        ));
    }
    Ok(())
}

/// Plays one scenario and judges it.
pub async fn run_scenario(loaded: &LoadedScenario, settings: &PlanSettings) -> ScenarioResult {
    let started = std::time::Instant::now();
    let scenario = &loaded.scenario;
    let mut result = ScenarioResult {
        id: scenario.id.clone(),
        title: scenario.title.clone(),
        chapter: loaded.chapter.clone(),
        tags: scenario.tags.clone(),
        rfc: scenario.rfc.clone(),
        autobahn: scenario.autobahn.clone(),
        requirement: scenario.requirement.clone(),
        hint: scenario.hint.clone(),
        outcome: Outcome::Pass,
        points: 0,
        max_points: scenario.points,
        duration: Duration::ZERO,
        message: String::new(),
        failure: None,
        non_strict: Vec::new(),
        transcript: Transcript::default(),
    };
    let steps = match plan(loaded, settings) {
        Ok(s) => s,
        Err(PlanError::NotApplicable(why)) => {
            result.outcome = Outcome::Skip;
            result.message = why;
            return result;
        }
        Err(PlanError::Invalid { step, message }) => {
            result.outcome = Outcome::Error;
            result.message = format!("invalid scenario, step {}: {message}", step + 1);
            return result;
        }
    };
    let total: Duration = steps
        .iter()
        .map(|s| match &s.op {
            Op::Expect { timeout, .. } => *timeout,
            Op::Pause(d) => *d,
            Op::Write { bytes, pause, .. } => {
                settings.timeout + pause.unwrap_or_default() * (bytes.len().min(100_000) as u32)
            }
            Op::Flood(flood) => flood.hang_guard(settings.timeout) + settings.timeout,
            Op::Handshake {
                request,
                then,
                pause,
                ..
            } => {
                let len = request.len() + then.len();
                settings.timeout * 2 + pause.unwrap_or_default() * (len.min(100_000) as u32)
            }
            _ => settings.timeout,
        })
        .sum::<Duration>()
        + Duration::from_secs(5);
    let mut run = Run {
        settings,
        start: Instant::now(),
        transcript: Transcript::default(),
        conns: HashMap::new(),
        nonces: steps
            .iter()
            .filter_map(|s| match &s.op {
                Op::Write {
                    message: Some(m), ..
                }
                | Op::Handshake {
                    message: Some(m), ..
                } => m.chat.as_ref().map(|c| c.nonce.clone()),
                _ => None,
            })
            .collect(),
    };
    let deadline = Instant::now() + total;
    let played = timeout_at(deadline, play(&mut run, &steps, &mut result)).await;
    if played.is_err() {
        let at = run.now();
        run.transcript.note(
            at,
            "",
            format!("scenario deadline of {} passed", seconds(total)),
        );
        result.outcome = Outcome::Fail;
        result.message = format!("the scenario did not finish within {}", seconds(total));
    }
    result.transcript = run.transcript;
    result.duration = started.elapsed();
    if result.outcome == Outcome::Pass && !result.non_strict.is_empty() {
        result.outcome = Outcome::NonStrict;
        result.message = result.non_strict.join("; ");
    }
    if result.outcome.is_ok() && result.outcome != Outcome::Skip {
        result.points = scenario.points;
    }
    result
}

async fn play(run: &mut Run<'_>, steps: &[PlannedStep], result: &mut ScenarioResult) {
    for planned in steps {
        match play_step(run, planned).await {
            StepResult::Met => {}
            StepResult::Unreachable(why) => {
                result.outcome = Outcome::Error;
                result.message = why;
                return;
            }
            StepResult::Unmet(failure) => {
                let non_strict = matches!(
                    planned.op,
                    Op::Expect {
                        non_strict: true,
                        ..
                    }
                );
                let broke = failure.rule.is_some();
                if non_strict && !broke {
                    result
                        .non_strict
                        .push(format!("{} (got {})", failure.expected, failure.actual));
                    continue;
                }
                result.outcome = Outcome::Fail;
                result.message = if failure.prerequisite {
                    format!("the opening handshake failed: {}", failure.actual)
                } else {
                    format!("expected {}; got {}", failure.expected, failure.actual)
                };
                result.failure = Some(failure);
                return;
            }
        }
    }
}

async fn play_step(run: &mut Run<'_>, planned: &PlannedStep) -> StepResult {
    let client = planned.client.as_str();
    let step_timeout = run.settings.timeout;
    match &planned.op {
        Op::Handshake {
            request,
            key,
            then,
            chunks,
            pause,
            ..
        } => {
            let addr = run.settings.target.authority();
            let deadline = Instant::now() + step_timeout;
            let stream = match timeout_at(deadline, TcpStream::connect(&addr)).await {
                Err(_) => {
                    return StepResult::Unreachable(format!(
                        "cannot connect to {addr}: no answer within {}",
                        seconds(step_timeout)
                    ));
                }
                Ok(Err(e)) => {
                    return StepResult::Unreachable(format!(
                        "cannot connect to {addr}: {e} (is the server running?)"
                    ));
                }
                Ok(Ok(s)) => s,
            };
            let _ = stream.set_nodelay(true);
            let mut conn = Conn::new();
            conn.stream = Some(stream);
            conn.key = key.clone();
            run.conns.insert(client.to_string(), conn);
            let at = run.now();
            run.transcript.http(at, client, LineKind::Sent, request);
            if !then.is_empty() {
                run.transcript.frames(at, client, LineKind::Sent, then);
            }
            // The request and any `then` frames go out as one stream of bytes,
            // cut into pieces only when the scenario says so.
            let bytes = [request.as_slice(), then.as_slice()].concat();
            let pieces = split_chunks(&bytes, chunks.as_ref());
            note_pieces(run, at, client, pieces.len(), pause.as_ref());
            for (i, piece) in pieces.iter().enumerate() {
                if i > 0 {
                    if let Some(p) = pause {
                        tokio::time::sleep(*p).await;
                    }
                }
                let deadline = Instant::now() + step_timeout;
                if let Err(e) = run.write(client, piece, deadline).await {
                    if let Some(c) = run.conns.get_mut(client) {
                        c.response = Some(Err(format!("could not send the request: {e}")));
                    }
                    return StepResult::Met;
                }
            }
            let deadline = Instant::now() + step_timeout;
            let response = read_response(run, client, deadline).await;
            if let Some(c) = run.conns.get_mut(client) {
                c.response = Some(response);
            }
            StepResult::Met
        }
        Op::Write {
            bytes,
            chunks,
            pause,
            ..
        } => {
            let ended = run
                .conns
                .get(client)
                .is_none_or(|c| c.ended.is_some() || c.stream.is_none());
            let at = run.now();
            run.transcript.frames(at, client, LineKind::Sent, bytes);
            if ended {
                run.transcript
                    .note(at, client, "(not sent: the connection is already closed)");
                return StepResult::Met;
            }
            let pieces = split_chunks(bytes, chunks.as_ref());
            note_pieces(run, at, client, pieces.len(), pause.as_ref());
            let scaled = crate::plan::scaled_for(bytes.len());
            for (i, piece) in pieces.iter().enumerate() {
                if i > 0 {
                    if let Some(p) = pause {
                        tokio::time::sleep(*p).await;
                    }
                }
                let deadline = Instant::now() + step_timeout + scaled;
                if let Err(e) = run.write(client, piece, deadline).await {
                    let at = run.now();
                    run.transcript
                        .note(at, client, format!("(write stopped: {e})"));
                    if let Some(c) = run.conns.get_mut(client) {
                        c.ended.get_or_insert(PeerEnd::Reset(e));
                    }
                    break;
                }
            }
            StepResult::Met
        }
        Op::Pause(d) => {
            tokio::time::sleep(*d).await;
            StepResult::Met
        }
        Op::Flood(flood) => {
            let at = run.now();
            run.transcript.note(
                at,
                client,
                format!(
                    "flood: {} clients × {} messages, {} deliveries expected",
                    flood.clients.len(),
                    flood.clients.first().map_or(0, |c| c.messages.len()),
                    flood.expected_per_client() * flood.clients.len()
                ),
            );
            match crate::flood::play_flood(flood, run.settings, step_timeout).await {
                Ok(report) => {
                    let at = run.now();
                    run.transcript.note(
                        at,
                        client,
                        format!(
                            "flood: {} messages sent, {} delivered in order in {} ms",
                            report.sent,
                            report.delivered,
                            report.elapsed.as_millis()
                        ),
                    );
                    StepResult::Met
                }
                Err(failed) => {
                    let at = run.now();
                    run.transcript
                        .note(at, &failed.client, format!("flood: {}", failed.actual));
                    StepResult::Unmet(Failure {
                        step: planned.step,
                        client: failed.client,
                        expected: match flood.profile {
                            crate::plan::Profile::Chat => "every client to receive every client's messages once each, in the order each sender sent them".into(),
                            crate::plan::Profile::Echo => "every client to get each of its messages back once, in order".into(),
                        },
                        actual: failed.actual,
                        rule: None,
                        caret: None,
                        prerequisite: false,
                    })
                }
            }
        }
        Op::Disconnect => {
            if let Some(c) = run.conns.get_mut(client) {
                c.stream = None;
                c.ended = Some(PeerEnd::Reset("disconnected by the scenario".into()));
            }
            let at = run.now();
            run.transcript.note(
                at,
                client,
                "disconnected (TCP closed without a closing handshake)",
            );
            StepResult::Met
        }
        Op::Expect {
            expected,
            timeout,
            prerequisite,
            ..
        } => {
            let deadline = match expected {
                Expected::Silence(d) => Instant::now() + *d,
                _ => Instant::now() + *timeout,
            };
            match judge(run, client, expected, *timeout, deadline).await {
                Ok(()) => StepResult::Met,
                Err(mut failure) => {
                    failure.step = planned.step;
                    failure.prerequisite = *prerequisite;
                    StepResult::Unmet(failure)
                }
            }
        }
    }
}

fn split_chunks<'a>(bytes: &'a [u8], chunks: Option<&crate::scenario::Chunks>) -> Vec<&'a [u8]> {
    use crate::scenario::Chunks;
    match chunks {
        None => vec![bytes],
        Some(Chunks::Every(n)) => bytes.chunks((*n).max(1)).collect(),
        Some(Chunks::Sizes(sizes)) => {
            let mut out = Vec::new();
            let mut rest = bytes;
            for size in sizes {
                if rest.is_empty() {
                    break;
                }
                let take = (*size).min(rest.len());
                out.push(&rest[..take]);
                rest = &rest[take..];
            }
            if !rest.is_empty() {
                out.push(rest);
            }
            out
        }
    }
}

async fn read_response(
    run: &mut Run<'_>,
    client: &str,
    deadline: Instant,
) -> Result<ServerResponse, String> {
    loop {
        let parsed = run
            .conns
            .get(client)
            .map(|c| parse_response(&c.buf, MAX_HTTP))
            .unwrap_or(Ok(None));
        match parsed {
            Ok(Some((response, used))) => {
                let at = run.now();
                let head: Vec<u8> = match run.conns.get_mut(client) {
                    Some(c) => c.buf.drain(..used).collect(),
                    None => Vec::new(),
                };
                run.transcript.http(at, client, LineKind::Received, &head);
                return Ok(response);
            }
            Err(e) => {
                let at = run.now();
                let head = run
                    .conns
                    .get(client)
                    .map(|c| c.buf.clone())
                    .unwrap_or_default();
                run.transcript
                    .http(at, client, LineKind::Received, &head[..head.len().min(200)]);
                return Err(format!("an unreadable handshake response ({e})"));
            }
            Ok(None) => {}
        }
        match run.fill(client, deadline).await {
            Ok(true) => {}
            Ok(false) => {
                let at = run.now();
                run.transcript
                    .note(at, client, "timed out waiting for the handshake response");
                return Err(format!(
                    "no handshake response: timed out after {} waiting for it",
                    seconds(run.settings.timeout)
                ));
            }
            Err(end) => {
                let at = run.now();
                run.transcript.note(at, client, end.describe());
                return Err(format!(
                    "{} before a complete handshake response",
                    end.describe()
                ));
            }
        }
    }
}

fn failure(client: &str, expected: &Expected, actual: String) -> Failure {
    Failure {
        step: None,
        client: client.to_string(),
        expected: describe_expected(expected),
        actual,
        rule: None,
        caret: None,
        prerequisite: false,
    }
}

fn stopped(
    run: &mut Run<'_>,
    client: &str,
    expected: &Expected,
    stop: Stop,
    timeout: Duration,
) -> Failure {
    match stop {
        Stop::TimedOut => {
            let at = run.now();
            let what = describe_expected(expected);
            run.transcript.note(
                at,
                client,
                format!("timed out after {} waiting for {what}", seconds(timeout)),
            );
            failure(
                client,
                expected,
                format!(
                    "nothing: timed out after {} waiting for it",
                    seconds(timeout)
                ),
            )
        }
        Stop::Ended(end) => {
            let at = run.now();
            run.transcript.note(at, client, end.describe());
            failure(client, expected, end.describe())
        }
        Stop::Broke(b) => Failure {
            rule: Some(b.rule),
            caret: b.caret,
            ..failure(client, expected, b.actual)
        },
    }
}

/// Waits for `expected` on `client`'s connection and decides.
async fn judge(
    run: &mut Run<'_>,
    client: &str,
    expected: &Expected,
    timeout: Duration,
    deadline: Instant,
) -> Result<(), Failure> {
    // Handshake expectations look at the stored response.
    if matches!(expected, Expected::Accepted | Expected::Refused { .. }) {
        let (response, key) = match run.conns.get(client) {
            Some(c) => (c.response.clone(), c.key.clone()),
            None => (None, String::new()),
        };
        let Some(response) = response else {
            return Err(failure(
                client,
                expected,
                "no handshake was sent on this connection".into(),
            ));
        };
        return match (expected, response) {
            (Expected::Accepted, Ok(r)) => validate_response(&r, &key).map_err(|e| {
                if let Some(c) = run.conns.get_mut(client) {
                    c.ended = Some(PeerEnd::Reset("handshake not accepted".into()));
                }
                Failure {
                    rule: Some("RFC 6455 4.2.2: the server answers 101 with Upgrade, Connection and the Sec-WebSocket-Accept computed from the key".into()),
                    ..failure(client, expected, format!("{} {}: {e}", r.status, r.reason))
                }
            }),
            (Expected::Accepted, Err(e)) => Err(failure(client, expected, e)),
            (Expected::Refused { status, headers }, Ok(r)) => {
                if r.status == 101 || (!status.is_empty() && !status.contains(&r.status)) {
                    return Err(failure(client, expected, format!("status {} {}", r.status, r.reason)));
                }
                for (name, value) in headers {
                    match (r.header(name), value) {
                        (None, _) => {
                            return Err(failure(
                                client,
                                expected,
                                format!("status {} without a {name} header", r.status),
                            ));
                        }
                        (Some(got), Some(want)) if !got.eq_ignore_ascii_case(want) => {
                            return Err(failure(
                                client,
                                expected,
                                format!("status {} with {name}: {got} (expected {want})", r.status),
                            ));
                        }
                        _ => {}
                    }
                }
                Ok(())
            }
            (Expected::Refused { .. }, Err(e)) => Err(failure(client, expected, e)),
            _ => Ok(()),
        };
    }
    let (close_received, ended) = match run.conns.get(client) {
        Some(c) => (c.close_received, c.ended.clone()),
        None => {
            return Err(failure(
                client,
                expected,
                "this client never connected".into(),
            ));
        }
    };
    match expected {
        Expected::Fail(codes) => {
            if let Some(code) = close_received {
                return check_codes(client, expected, codes, code, true);
            }
            if ended.is_some() {
                return Ok(());
            }
            let mut skipped = 0;
            loop {
                match run.next_incoming(client, deadline).await {
                    Ok(Incoming::Close { code, .. }) => {
                        return check_codes(client, expected, codes, code, true);
                    }
                    Ok(Incoming::Pong(_)) => {}
                    Ok(other) if run.unrelated(&other, None) && skipped < MAX_SKIPPED => {
                        skipped += 1
                    }
                    Ok(other) => return Err(failure(client, expected, describe_incoming(&other))),
                    Err(Stop::Ended(_)) => return Ok(()),
                    Err(stop) => return Err(stopped(run, client, expected, stop, timeout)),
                }
            }
        }
        Expected::TcpClosed => {
            if ended.is_some() {
                return Ok(());
            }
            loop {
                match run.next_incoming(client, deadline).await {
                    Ok(_) => {}
                    Err(Stop::Ended(_)) => return Ok(()),
                    Err(stop) => return Err(stopped(run, client, expected, stop, timeout)),
                }
            }
        }
        _ => {}
    }
    if let Some(code) = close_received {
        if let Expected::Close(codes) = expected {
            // A close consumed earlier (e.g. by a fail expectation) still counts.
            return check_codes(client, expected, codes, code, false);
        }
        let code = code.map(|c| format!(" with code {c}")).unwrap_or_default();
        return Err(failure(
            client,
            expected,
            format!("the server had already closed the connection{code}"),
        ));
    }
    if let Some(end) = &ended {
        return Err(failure(client, expected, end.describe()));
    }
    if let Expected::Frame {
        opcode,
        fin,
        payload,
    } = expected
    {
        return match run.next_frame(client, deadline).await {
            Err(stop) => Err(stopped(run, client, expected, stop, timeout)),
            Ok((h, p, _)) => {
                let op_ok = opcode.is_none_or(|o| o == h.opcode.as_u8());
                let fin_ok = fin.is_none_or(|f| f == h.fin);
                let payload_ok = payload.as_ref().is_none_or(|want| *want == p);
                if op_ok && fin_ok && payload_ok {
                    Ok(())
                } else {
                    Err(failure(
                        client,
                        expected,
                        format!(
                            "a frame with opcode {} FIN={} payload {}",
                            crate::scenario::OpcodeSpec(h.opcode.as_u8()).name(),
                            u8::from(h.fin),
                            show_payload(&p, 40)
                        ),
                    ))
                }
            }
        };
    }
    let wanted_nonce = match expected {
        Expected::Broadcast(m) => Some(m.nonce.as_str()),
        _ => None,
    };
    let mut skipped = 0;
    loop {
        let incoming = match run.next_incoming(client, deadline).await {
            Ok(i) => i,
            Err(Stop::TimedOut) if matches!(expected, Expected::Silence(_)) => return Ok(()),
            Err(stop) => return Err(stopped(run, client, expected, stop, timeout)),
        };
        // Unsolicited pongs are heartbeats (RFC 6455 5.5.3 allows them): only
        // a pong expectation looks at them.
        let heartbeat =
            matches!(incoming, Incoming::Pong(_)) && !matches!(expected, Expected::Pong(_));
        if (heartbeat || run.unrelated(&incoming, wanted_nonce)) && skipped < MAX_SKIPPED {
            skipped += 1;
            continue;
        }
        return match (expected, &incoming) {
            (Expected::Message { kind, bytes }, Incoming::Message { kind: k, bytes: b }) => {
                if kind.is_some_and(|want| want != *k)
                    || bytes.as_ref().is_some_and(|want| want != b)
                {
                    Err(failure(client, expected, describe_incoming(&incoming)))
                } else {
                    Ok(())
                }
            }
            (Expected::Broadcast(m), Incoming::Message { bytes, .. }) => {
                chat_matches(bytes, m).map_err(|actual| failure(client, expected, actual))
            }
            (Expected::Pong(want), Incoming::Pong(got)) if want == got => Ok(()),
            (Expected::Close(codes), Incoming::Close { code, .. }) => {
                check_codes(client, expected, codes, *code, false)
            }
            _ => Err(failure(client, expected, describe_incoming(&incoming))),
        };
    }
}

fn check_codes(
    client: &str,
    expected: &Expected,
    codes: &[u16],
    code: Option<u16>,
    failing: bool,
) -> Result<(), Failure> {
    match code {
        _ if codes.is_empty() => Ok(()),
        Some(c) if codes.contains(&c) => Ok(()),
        Some(c) => Err(failure(
            client,
            expected,
            format!("a close frame with code {c}"),
        )),
        None if failing => Err(failure(
            client,
            expected,
            "a close frame without a status code".into(),
        )),
        None => Err(failure(
            client,
            expected,
            "a close frame without a status code".into(),
        )),
    }
}

/// Notes in the transcript that a write was cut into several pieces (a slow
/// client), so a reader of a failure sees how the bytes went out.
fn note_pieces(run: &mut Run, at: Duration, client: &str, pieces: usize, pause: Option<&Duration>) {
    if pieces > 1 {
        let pause_text = pause
            .map(|p| format!(", {} ms apart", p.as_millis()))
            .unwrap_or_default();
        run.transcript.note(
            at,
            client,
            format!("(written in {pieces} pieces{pause_text})"),
        );
    }
}

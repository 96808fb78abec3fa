//! Planning: a scenario plus a profile becomes a list of concrete operations.
//!
//! Scenarios say *what* to send (`send: { text: { len: 126 } }`,
//! `expect: { echo: last }`); the plan says *which bytes*. Everything that
//! depends on the target's application protocol happens here, so the
//! executor only moves bytes and the judge only compares them:
//!
//! * **echo** profile: a text stays as written; `echo: last` expects the same
//!   message back.
//! * **chat** profile: a text becomes `{"username": CLIENT, "message": NONCE …}`
//!   of the same length where possible, and `echo: last` expects the
//!   broadcast carrying that nonce, skipping unrelated messages.
//!
//! The plan also inserts the implicit steps: a client whose first step is not
//! a `handshake` gets the default handshake, and a handshake not followed by
//! a handshake expectation must be accepted.

use std::collections::HashMap;
use std::time::Duration;

use wsconform_wire::{FrameHeader, LengthForm, OpCode, build_request, close_payload, generate_key};

use crate::load::LoadedScenario;
use crate::payload::{SplitMix, payload_bytes, stable_hash};
use crate::scenario::{
    Action, Chunks, CloseSpec, DataKind, EchoOf, ExpectKind, FrameSpec, HandshakeSpec, LengthSpec,
    MaskSpec, Payload, PongOf, ProfileNeed, SendKind, SendSpec,
};

/// The application protocol the target speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// Every data message comes back unchanged.
    Echo,
    /// JSON chat messages broadcast to every client.
    Chat,
}

impl Profile {
    /// The profile's name as written on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Echo => "echo",
            Profile::Chat => "chat",
        }
    }
}

/// Where the scenarios are played: `ws://HOST:PORT/PATH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Host name or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Request path, starting with `/`.
    pub path: String,
}

impl Target {
    /// Parses `ws://HOST[:PORT][/PATH]` (port 80 by default).
    pub fn parse(url: &str) -> Result<Target, String> {
        let rest = url.strip_prefix("ws://").ok_or_else(|| {
            if url.starts_with("wss://") {
                format!("'{url}': wss:// (TLS) is not supported; test the server over ws://")
            } else {
                format!("'{url}' is not a ws:// URL: write it like ws://127.0.0.1:8080/echo")
            }
        })?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].to_string()),
            None => (rest, "/".to_string()),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || p.chars().all(|c| c.is_ascii_digit()) => {
                let port = p
                    .parse::<u16>()
                    .map_err(|_| format!("'{url}': '{p}' is not a port number"))?;
                (h.to_string(), port)
            }
            _ => (authority.to_string(), 80),
        };
        if host.is_empty() {
            return Err(format!("'{url}' names no host"));
        }
        Ok(Target { host, port, path })
    }

    /// `host:port`, as sent in the `Host` header and used to connect.
    pub fn authority(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// The URL again.
    pub fn url(&self) -> String {
        format!("ws://{}:{}{}", self.host, self.port, self.path)
    }
}

/// The name of the client that plays steps without `as:`.
pub const DEFAULT_CLIENT: &str = "client";

/// A data message the plan sent, remembered for echo expectations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMessage {
    /// Text or binary.
    pub kind: DataKind,
    /// The payload bytes as sent.
    pub bytes: Vec<u8>,
    /// In the chat profile: the nonce inside, and the message field.
    pub chat: Option<ChatMessage>,
}

/// A chat message the runner sent: what its broadcast must carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    /// The unique marker inside `message`.
    pub nonce: String,
    /// The `username` field.
    pub username: String,
    /// The `message` field.
    pub message: String,
}

/// What an expectation step checks, with every byte decided.
#[derive(Debug, Clone, PartialEq)]
pub enum Expected {
    /// A valid `101 Switching Protocols`.
    Accepted,
    /// A refused handshake.
    Refused {
        /// Acceptable statuses (empty: any but 101).
        status: Vec<u16>,
        /// Required headers.
        headers: Vec<(String, Option<String>)>,
    },
    /// A data message; `None` fields match anything.
    Message {
        /// Text or binary.
        kind: Option<DataKind>,
        /// Exact payload.
        bytes: Option<Vec<u8>>,
    },
    /// A chat broadcast of this message.
    Broadcast(ChatMessage),
    /// A frame with these fields.
    Frame {
        /// Opcode number.
        opcode: Option<u8>,
        /// FIN bit.
        fin: Option<bool>,
        /// Exact payload.
        payload: Option<Vec<u8>>,
    },
    /// A pong with this payload.
    Pong(Vec<u8>),
    /// A close frame with one of these codes (empty: any).
    Close(Vec<u16>),
    /// A close with one of these codes, or the TCP connection closed.
    Fail(Vec<u16>),
    /// Nothing for this long.
    Silence(Duration),
    /// The TCP connection closed.
    TcpClosed,
}

/// One concrete operation.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// Connect and send the handshake request, then read the response.
    Handshake {
        /// The request bytes.
        request: Vec<u8>,
        /// The `Sec-WebSocket-Key` sent (for validating the answer).
        key: String,
        /// Frames written right behind the request, in the same write
        /// (`handshake: { then: … }`); empty for a normal client.
        then: Vec<u8>,
        /// How to cut request and `then` bytes into writes.
        chunks: Option<Chunks>,
        /// Pause between pieces.
        pause: Option<Duration>,
        /// The data message `then` sends, if any.
        message: Option<SentMessage>,
    },
    /// Write bytes.
    Write {
        /// The bytes.
        bytes: Vec<u8>,
        /// How to cut them.
        chunks: Option<Chunks>,
        /// Pause between pieces.
        pause: Option<Duration>,
        /// The data message this write sends, if any.
        message: Option<SentMessage>,
    },
    /// Wait for something.
    Expect {
        /// What.
        expected: Expected,
        /// Deadline for this step.
        timeout: Duration,
        /// Unmet means non-strict rather than fail.
        non_strict: bool,
        /// This is the implicit acceptance of a default handshake: when it
        /// fails, the report names the handshake as the cause.
        prerequisite: bool,
    },
    /// Sleep.
    Pause(Duration),
    /// Drop the connection.
    Disconnect,
    /// Many clients at once (`flood`), played by [`crate::flood`].
    Flood(crate::flood::FloodPlan),
}

/// An operation, the client playing it and the scenario step it comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedStep {
    /// Index in the scenario's `steps` (0-based), `None` for implicit steps.
    pub step: Option<usize>,
    /// The client.
    pub client: String,
    /// The operation.
    pub op: Op,
}

/// Why a scenario cannot be planned for this profile or target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanError {
    /// The scenario does not apply (outcome `skip`).
    NotApplicable(String),
    /// The scenario contradicts itself (a `check` error).
    Invalid {
        /// Step index.
        step: usize,
        /// What is wrong.
        message: String,
    },
}

/// Settings the plan needs from the run.
#[derive(Debug, Clone)]
pub struct PlanSettings {
    /// The target.
    pub target: Target,
    /// The profile.
    pub profile: Profile,
    /// Default step deadline.
    pub timeout: Duration,
    /// Makes chat nonces unique across runs.
    pub run_id: u64,
}

struct ClientState {
    started: bool,
    last_message: Option<SentMessage>,
    last_ping: Option<Vec<u8>>,
    masks: SplitMix,
}

/// Turns a scenario into concrete steps for `settings`.
pub fn plan(
    loaded: &LoadedScenario,
    settings: &PlanSettings,
) -> Result<Vec<PlannedStep>, PlanError> {
    let scenario = &loaded.scenario;
    match (scenario.profile, settings.profile) {
        (ProfileNeed::Echo, Profile::Chat) => {
            return Err(PlanError::NotApplicable(
                "needs an echo server (profile: echo)".into(),
            ));
        }
        (ProfileNeed::Chat, Profile::Echo) => {
            return Err(PlanError::NotApplicable(
                "needs a chat server (profile: chat)".into(),
            ));
        }
        _ => {}
    }
    let base_timeout = scenario.timeout.map(|d| d.0).unwrap_or(settings.timeout);
    let mut clients: HashMap<String, ClientState> = HashMap::new();
    let mut out = Vec::new();
    let mut nonce_counter = 0u32;
    let steps = &scenario.steps;
    for (index, step) in steps.iter().enumerate() {
        // A flood brings its own clients: it opens no connection for `as:`.
        if let Action::Flood(spec) = &step.action {
            let prefix = step.client.as_deref().unwrap_or("flood");
            let flood = crate::flood::plan_flood(&scenario.id, prefix, spec, settings).map_err(
                |message| PlanError::Invalid {
                    step: index,
                    message,
                },
            )?;
            out.push(PlannedStep {
                step: Some(index),
                client: prefix.to_string(),
                op: Op::Flood(flood),
            });
            continue;
        }
        let name = step
            .client
            .clone()
            .unwrap_or_else(|| DEFAULT_CLIENT.to_string());
        let seed = stable_hash(&format!("{}/{}", scenario.id, name));
        let state = clients.entry(name.clone()).or_insert_with(|| ClientState {
            started: false,
            last_message: None,
            last_ping: None,
            masks: SplitMix::new(seed),
        });
        let invalid = |message: String| PlanError::Invalid {
            step: index,
            message,
        };
        // A client's first step opens its connection.
        if !state.started {
            state.started = true;
            if !matches!(step.action, Action::Handshake(_)) {
                let key = generate_key(seed);
                out.push(PlannedStep {
                    step: None,
                    client: name.clone(),
                    op: Op::Handshake {
                        request: handshake_request(
                            &HandshakeSpec::default(),
                            &settings.target,
                            &key,
                        ),
                        key,
                        then: Vec::new(),
                        chunks: None,
                        pause: None,
                        message: None,
                    },
                });
                out.push(PlannedStep {
                    step: None,
                    client: name.clone(),
                    op: Op::Expect {
                        expected: Expected::Accepted,
                        timeout: base_timeout,
                        non_strict: false,
                        prerequisite: true,
                    },
                });
            }
        } else if matches!(step.action, Action::Handshake(_)) {
            return Err(invalid(format!(
                "client '{name}' already has a connection; use `as:` with a new name for a second handshake"
            )));
        }
        let op = match &step.action {
            Action::Handshake(spec) => {
                let generated = generate_key(seed);
                let request = handshake_request(spec, &settings.target, &generated);
                // A key written in `headers` is the one the answer must match.
                let key = spec
                    .headers
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case("Sec-WebSocket-Key"))
                    .and_then(|(_, value)| value.clone())
                    .unwrap_or(generated);
                let (then, message) = match &spec.then {
                    Some(send) => match send_op(
                        &scenario.id,
                        send,
                        state,
                        &name,
                        settings,
                        &mut nonce_counter,
                    )
                    .map_err(invalid)?
                    {
                        Op::Write { bytes, message, .. } => (bytes, message),
                        _ => (Vec::new(), None),
                    },
                    None => (Vec::new(), None),
                };
                out.push(PlannedStep {
                    step: Some(index),
                    client: name.clone(),
                    op: Op::Handshake {
                        request,
                        key,
                        then,
                        chunks: spec.chunks.clone(),
                        pause: spec.pause.map(|d| d.0),
                        message,
                    },
                });
                let next_is_handshake_expectation = steps[index + 1..]
                    .iter()
                    .find(|s| s.client.as_deref().unwrap_or(DEFAULT_CLIENT) == name)
                    .is_some_and(|s| {
                        matches!(
                            &s.action,
                            Action::Expect(e) if matches!(e.kind, ExpectKind::Accepted | ExpectKind::Refused { .. })
                        )
                    });
                if !next_is_handshake_expectation {
                    let is_default = spec.raw.is_none()
                        && spec.headers.is_empty()
                        && spec.method.is_none()
                        && spec.http.is_none()
                        && spec.path.is_none()
                        && spec.chunks.is_none()
                        && spec.then.is_none();
                    out.push(PlannedStep {
                        step: None,
                        client: name.clone(),
                        op: Op::Expect {
                            expected: Expected::Accepted,
                            timeout: base_timeout,
                            non_strict: false,
                            prerequisite: is_default,
                        },
                    });
                }
                continue;
            }
            Action::Send(spec) => send_op(
                &scenario.id,
                spec,
                state,
                &name,
                settings,
                &mut nonce_counter,
            )
            .map_err(invalid)?,
            Action::Frame(spec) => frame_op(spec, state).map_err(invalid)?,
            Action::Raw(raw) => Op::Write {
                bytes: raw.bytes.0.clone(),
                chunks: raw.delivery.chunks.clone(),
                pause: raw.delivery.pause.map(|d| d.0),
                message: None,
            },
            Action::Pause(d) => Op::Pause(d.0),
            Action::Disconnect => Op::Disconnect,
            // Planned before the client is looked at, above.
            Action::Flood(_) => continue,
            Action::Expect(e) => {
                let last_len = state
                    .last_message
                    .as_ref()
                    .map(|m| m.bytes.len())
                    .unwrap_or(0);
                let timeout = e.timeout.map(|d| d.0).unwrap_or(base_timeout) + scaled_for(last_len);
                let expected = match &e.kind {
                    ExpectKind::Accepted => Expected::Accepted,
                    ExpectKind::Refused { status, headers } => Expected::Refused {
                        status: status.clone(),
                        headers: headers.clone(),
                    },
                    ExpectKind::Echo(of) => {
                        let sent = match of {
                            EchoOf::Last => state.last_message.clone().ok_or_else(|| {
                                invalid(format!(
                                    "`echo: last` but client '{name}' has sent no text or binary message before"
                                ))
                            })?,
                            EchoOf::Client(other) => {
                                if settings.profile == Profile::Echo {
                                    return Err(PlanError::NotApplicable(format!(
                                        "expects a broadcast from '{other}', which only a chat server sends"
                                    )));
                                }
                                clients
                                    .get(other)
                                    .and_then(|c| c.last_message.clone())
                                    .ok_or_else(|| {
                                        invalid(format!(
                                            "`echo: {other}` but client '{other}' has sent no message before"
                                        ))
                                    })?
                            }
                        };
                        match (&sent.chat, settings.profile) {
                            (Some(chat), _) => Expected::Broadcast(chat.clone()),
                            (None, Profile::Chat) => {
                                return Err(PlanError::NotApplicable(
                                    "echoes a message a chat server cannot carry (binary or not UTF-8)"
                                        .into(),
                                ));
                            }
                            (None, Profile::Echo) => Expected::Message {
                                kind: Some(sent.kind),
                                bytes: Some(sent.bytes),
                            },
                        }
                    }
                    ExpectKind::Message { kind, payload } => Expected::Message {
                        kind: Some(*kind),
                        bytes: payload
                            .as_ref()
                            .map(|p| payload_bytes(p, *kind == DataKind::Text)),
                    },
                    ExpectKind::Frame {
                        opcode,
                        fin,
                        payload,
                    } => Expected::Frame {
                        opcode: opcode.map(|o| o.0),
                        fin: *fin,
                        payload: payload.as_ref().map(|p| payload_bytes(p, false)),
                    },
                    ExpectKind::Pong(of) => Expected::Pong(match of {
                        PongOf::Last => state.last_ping.clone().ok_or_else(|| {
                            invalid(format!(
                                "`pong: last` but client '{name}' has sent no ping before"
                            ))
                        })?,
                        PongOf::Payload(p) => payload_bytes(p, false),
                    }),
                    ExpectKind::Close(codes) => Expected::Close(codes.clone()),
                    ExpectKind::Fail(codes) => Expected::Fail(codes.clone()),
                    ExpectKind::Silence(d) => Expected::Silence(d.0),
                    ExpectKind::TcpClosed => Expected::TcpClosed,
                };
                let timeout = match expected {
                    Expected::Silence(d) => d + timeout,
                    _ => timeout,
                };
                Op::Expect {
                    expected,
                    timeout,
                    non_strict: e.otherwise_non_strict,
                    prerequisite: false,
                }
            }
        };
        out.push(PlannedStep {
            step: Some(index),
            client: name,
            op,
        });
    }
    Ok(out)
}

/// Extra time for large payloads: one second per MiB.
pub fn scaled_for(len: usize) -> Duration {
    Duration::from_millis((len as u64 * 1000) / (1024 * 1024))
}

/// The request bytes of a (possibly edited) handshake.
pub fn handshake_request(spec: &HandshakeSpec, target: &Target, key: &str) -> Vec<u8> {
    let host = target.authority();
    // `path: "{path}?room=1"` adds to the target's path.
    let path = spec
        .path
        .as_ref()
        .map(|p| p.replace("{path}", &target.path))
        .unwrap_or_else(|| target.path.clone());
    if let Some(raw) = &spec.raw {
        let text = raw
            .replace("{host}", &host)
            .replace("{path}", &path)
            .replace("{key}", key);
        let text = if text.contains('\r') {
            text
        } else {
            text.replace('\n', "\r\n")
        };
        return text.into_bytes();
    }
    if spec.headers.is_empty() && spec.method.is_none() && spec.http.is_none() {
        return build_request(&host, &path, key, &[]);
    }
    let method = spec.method.clone().unwrap_or_else(|| "GET".into());
    let http = spec.http.clone().unwrap_or_else(|| "1.1".into());
    let mut headers: Vec<(String, Option<String>)> = vec![
        ("Host".into(), Some(host)),
        ("Upgrade".into(), Some("websocket".into())),
        ("Connection".into(), Some("Upgrade".into())),
        ("Sec-WebSocket-Key".into(), Some(key.to_string())),
        ("Sec-WebSocket-Version".into(), Some("13".into())),
    ];
    for (name, value) in &spec.headers {
        match headers
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            Some(slot) => *slot = (name.clone(), value.clone()),
            None => headers.push((name.clone(), value.clone())),
        }
    }
    let mut text = format!("{method} {path} HTTP/{http}\r\n");
    for (name, value) in headers {
        if let Some(value) = value {
            text.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    text.push_str("\r\n");
    text.into_bytes()
}

fn mask_key(spec: MaskSpec, masks: &mut SplitMix) -> Option<[u8; 4]> {
    match spec {
        MaskSpec::Unmasked => None,
        MaskSpec::Key(k) => Some(k),
        MaskSpec::Auto => Some(
            masks.next_u64().to_be_bytes()[..4]
                .try_into()
                .unwrap_or([1, 2, 3, 4]),
        ),
    }
}

fn length_form(spec: LengthSpec) -> LengthForm {
    match spec {
        LengthSpec::Minimal => LengthForm::Minimal,
        LengthSpec::Bits7 => LengthForm::Bits7,
        LengthSpec::Bits16 => LengthForm::Bits16,
        LengthSpec::Bits64 => LengthForm::Bits64,
    }
}

/// Appends one frame. The header may claim a length different from the payload.
#[allow(clippy::too_many_arguments)]
fn push_frame(
    out: &mut Vec<u8>,
    fin: bool,
    rsv: u8,
    opcode: u8,
    mask: Option<[u8; 4]>,
    form: LengthForm,
    claimed_len: Option<u64>,
    payload: &[u8],
) -> Result<(), String> {
    let header = FrameHeader {
        fin,
        rsv1: rsv & 4 != 0,
        rsv2: rsv & 2 != 0,
        rsv3: rsv & 1 != 0,
        opcode: OpCode::from_u8(opcode),
        mask,
        payload_len: claimed_len.unwrap_or(payload.len() as u64),
    };
    header
        .encode(form, out)
        .map_err(|e| format!("cannot encode the frame header: {e}"))?;
    let start = out.len();
    out.extend_from_slice(payload);
    if let Some(key) = mask {
        wsconform_wire::apply_mask(&mut out[start..], key, 0);
    }
    Ok(())
}

fn close_bytes(spec: &CloseSpec) -> Vec<u8> {
    match (&spec.payload, spec.code) {
        (Some(p), _) => payload_bytes(p, false),
        (None, Some(code)) => close_payload(code, &spec.reason),
        (None, None) => Vec::new(),
    }
}

fn control(kind: &SendKind) -> (u8, Vec<u8>) {
    match kind {
        SendKind::Ping(p) => (9, payload_bytes(p, false)),
        SendKind::Pong(p) => (10, payload_bytes(p, false)),
        SendKind::Close(c) => (8, close_bytes(c)),
        SendKind::Text(p) => (1, payload_bytes(p, true)),
        SendKind::Binary(p) => (2, payload_bytes(p, false)),
    }
}

/// Wraps a text for the chat profile: the JSON message carrying a nonce.
fn chat_wrap(
    text: &[u8],
    payload: &Payload,
    username: &str,
    nonce: String,
) -> Option<(Vec<u8>, ChatMessage)> {
    let original = std::str::from_utf8(text).ok()?;
    let sized = matches!(payload, Payload::Fill { .. } | Payload::Random { .. });
    let build = |body: &str| {
        let message = format!("{nonce} {body}");
        // Written by hand so the fields keep the order people expect.
        let json = format!(
            "{{\"username\":{},\"message\":{}}}",
            serde_json::Value::from(username),
            serde_json::Value::from(message.as_str())
        );
        (json, message)
    };
    let (mut json, mut message) = build(original);
    if sized && json.len() != text.len() {
        // Keep the frame size the scenario asked for: pad or trim the body.
        let (empty_json, _) = build("");
        let room = text.len().saturating_sub(empty_json.len());
        let body: String = original
            .chars()
            .chain(std::iter::repeat('*'))
            .take(room)
            .collect();
        (json, message) = build(&body);
    }
    Some((
        json.into_bytes(),
        ChatMessage {
            nonce,
            username: username.to_string(),
            message,
        },
    ))
}

fn send_op(
    scenario_id: &str,
    spec: &SendSpec,
    state: &mut ClientState,
    name: &str,
    settings: &PlanSettings,
    nonce_counter: &mut u32,
) -> Result<Op, String> {
    let (opcode, mut bytes) = control(&spec.kind);
    let mut message = None;
    match &spec.kind {
        SendKind::Text(p) => {
            let mut chat = None;
            if settings.profile == Profile::Chat {
                *nonce_counter += 1;
                // Unique per run, scenario and client, so parallel scenarios on one
                // chat server never mistake each other's broadcasts for their own.
                let scope = stable_hash(&format!("{}/{}/{name}", settings.run_id, scenario_id));
                let nonce = format!("n{:08x}{:04x}", scope as u32, *nonce_counter);
                if let Some((wrapped, msg)) = chat_wrap(&bytes, p, name, nonce) {
                    bytes = wrapped;
                    chat = Some(msg);
                }
            }
            message = Some(SentMessage {
                kind: DataKind::Text,
                bytes: bytes.clone(),
                chat,
            });
        }
        SendKind::Binary(_) => {
            message = Some(SentMessage {
                kind: DataKind::Binary,
                bytes: bytes.clone(),
                chat: None,
            });
        }
        SendKind::Ping(_) => state.last_ping = Some(bytes.clone()),
        _ => {}
    }
    // Cut into fragments: each listed size, then the rest.
    let mut pieces: Vec<&[u8]> = Vec::new();
    let mut rest: &[u8] = &bytes;
    for size in &spec.fragments {
        let take = (*size).min(rest.len());
        pieces.push(&rest[..take]);
        rest = &rest[take..];
    }
    if !rest.is_empty() || pieces.is_empty() {
        pieces.push(rest);
    }
    let form = length_form(spec.length);
    let mut out = Vec::new();
    let count = pieces.len();
    for (i, piece) in pieces.iter().enumerate() {
        let op = if i == 0 { opcode } else { 0 };
        let rsv = if i == 0 { spec.rsv } else { 0 };
        let key = mask_key(spec.mask, &mut state.masks);
        push_frame(&mut out, i + 1 == count, rsv, op, key, form, None, piece)?;
        if let Some(ctrl) = spec.between.get(i) {
            let (cop, cbytes) = control(ctrl);
            let key = mask_key(spec.mask, &mut state.masks);
            push_frame(
                &mut out,
                true,
                0,
                cop,
                key,
                LengthForm::Minimal,
                None,
                &cbytes,
            )?;
        }
    }
    if let Some(m) = message {
        state.last_message = Some(m.clone());
        message = Some(m);
    }
    Ok(Op::Write {
        bytes: out,
        chunks: spec.delivery.chunks.clone(),
        pause: spec.delivery.pause.map(|d| d.0),
        message,
    })
}

fn frame_op(spec: &FrameSpec, state: &mut ClientState) -> Result<Op, String> {
    let text = spec.opcode.0 == 1;
    let payload = payload_bytes(&spec.payload, text);
    let key = mask_key(spec.mask, &mut state.masks);
    let mut out = Vec::new();
    push_frame(
        &mut out,
        spec.fin,
        spec.rsv,
        spec.opcode.0,
        key,
        length_form(spec.length),
        spec.claimed_len,
        &payload,
    )?;
    if spec.opcode.0 == 9 {
        state.last_ping = Some(payload);
    }
    Ok(Op::Write {
        bytes: out,
        chunks: spec.chunks.clone(),
        pause: spec.pause.map(|d| d.0),
        message: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::parse_scenario;

    fn settings(profile: Profile) -> PlanSettings {
        PlanSettings {
            target: Target::parse("ws://127.0.0.1:9001/echo").unwrap(),
            profile,
            timeout: Duration::from_secs(2),
            run_id: 7,
        }
    }

    #[test]
    fn parses_targets() {
        let t = Target::parse("ws://localhost:8080/socket").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str()),
            ("localhost", 8080, "/socket")
        );
        assert_eq!(Target::parse("ws://h").unwrap().path, "/");
        assert!(Target::parse("http://h").is_err());
        assert!(Target::parse("ws://h:99999/").is_err());
    }

    #[test]
    fn inserts_default_handshake_and_fragments() {
        let s = parse_scenario(
            "scenarios/04-fragmentation/a.yaml",
            "id: a\ntitle: t\nsteps:\n  - send: { text: Hello, fragments: [2, 2], between: [{ ping: x }], mask: \"37fa213d\" }\n  - expect: { echo: last }\n",
        )
        .unwrap();
        let plan = plan(&s, &settings(Profile::Echo)).unwrap();
        assert!(matches!(plan[0].op, Op::Handshake { .. }));
        assert!(matches!(
            plan[1].op,
            Op::Expect {
                prerequisite: true,
                ..
            }
        ));
        let Op::Write { bytes, .. } = &plan[2].op else {
            panic!("expected a write");
        };
        let views = crate::decode::frames(bytes);
        let summaries: Vec<String> = views.iter().map(crate::decode::summary).collect();
        assert_eq!(
            summaries,
            [
                "text MASK len=2 \"He\"",
                "FIN ping MASK len=1 \"x\"",
                "cont MASK len=2 \"ll\"",
                "FIN cont MASK len=1 \"o\"",
            ]
        );
        assert!(matches!(
            &plan[3].op,
            Op::Expect { expected: Expected::Message { bytes: Some(b), .. }, .. } if b == b"Hello"
        ));
    }

    #[test]
    fn chat_profile_keeps_the_size_and_adds_a_nonce() {
        let s = parse_scenario(
            "scenarios/03-lengths/a.yaml",
            "id: a\ntitle: t\nsteps:\n  - send: { text: { len: 126 } }\n  - expect: { echo: last }\n",
        )
        .unwrap();
        let plan = plan(&s, &settings(Profile::Chat)).unwrap();
        let Op::Write {
            message: Some(m), ..
        } = &plan[2].op
        else {
            panic!("expected a write");
        };
        assert_eq!(m.bytes.len(), 126);
        let v: serde_json::Value = serde_json::from_slice(&m.bytes).unwrap();
        let chat = m.chat.as_ref().unwrap();
        assert_eq!(v["username"], "client");
        assert!(v["message"].as_str().unwrap().starts_with(&chat.nonce));
        assert!(matches!(
            plan[3].op,
            Op::Expect {
                expected: Expected::Broadcast(_),
                ..
            }
        ));
    }

    #[test]
    fn profile_mismatch_skips() {
        let s = parse_scenario(
            "scenarios/10-chat/a.yaml",
            "id: a\ntitle: t\nprofile: chat\nsteps:\n  - send: { text: hi }\n",
        )
        .unwrap();
        assert!(matches!(
            plan(&s, &settings(Profile::Echo)),
            Err(PlanError::NotApplicable(_))
        ));
    }

    #[test]
    fn raw_handshake_is_sent_with_crlf_and_placeholders() {
        let steps: Vec<crate::scenario::Step> = crate::load::from_yaml(
            "- handshake:\n    raw: |+\n      GET {path} HTTP/1.1\n      Host: {host}\n      Sec-WebSocket-Key: {key}\n\n",
        )
        .unwrap();
        let Action::Handshake(spec) = &steps[0].action else {
            panic!("expected a handshake");
        };
        let target = Target::parse("ws://h:1/p").unwrap();
        let text = String::from_utf8(handshake_request(spec, &target, "k")).unwrap();
        assert_eq!(
            text,
            "GET /p HTTP/1.1\r\nHost: h:1\r\nSec-WebSocket-Key: k\r\n\r\n"
        );
    }

    #[test]
    fn edited_handshake_replaces_removes_and_recases() {
        let spec: HandshakeSpec = crate::load::from_yaml(
            "headers: { upgrade: WebSocket, Sec-WebSocket-Key: null, X-Extra: 1 }",
        )
        .unwrap();
        let target = Target::parse("ws://h:1/p").unwrap();
        let text = String::from_utf8(handshake_request(&spec, &target, "k")).unwrap();
        assert!(text.contains("upgrade: WebSocket\r\n"), "{text}");
        assert!(!text.contains("Sec-WebSocket-Key"), "{text}");
        assert!(text.ends_with("X-Extra: 1\r\n\r\n"), "{text}");
    }

    #[test]
    fn a_path_can_extend_the_targets_and_a_written_key_is_the_one_checked() {
        let s = parse_scenario(
            "scenarios/01-handshake/a.yaml",
            "id: a\ntitle: t\nsteps:\n  - handshake: { path: \"{path}?room=1\", headers: { Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ== }, chunks: 1, then: { text: hi } }\n  - expect: { echo: last }\n",
        )
        .unwrap();
        let plan = plan(&s, &settings(Profile::Echo)).unwrap();
        let Op::Handshake {
            request,
            key,
            then,
            chunks,
            message,
            ..
        } = &plan[0].op
        else {
            panic!("expected a handshake");
        };
        let text = String::from_utf8_lossy(request);
        assert!(text.starts_with("GET /echo?room=1 HTTP/1.1\r\n"), "{text}");
        assert_eq!(key, "dGhlIHNhbXBsZSBub25jZQ==");
        assert_eq!(chunks, &Some(Chunks::Every(1)));
        let frames: Vec<String> = crate::decode::frames(then)
            .iter()
            .map(crate::decode::summary)
            .collect();
        assert_eq!(frames.len(), 1);
        assert!(frames[0].starts_with("FIN text MASK len=2"), "{frames:?}");
        assert_eq!(
            message.as_ref().map(|m| m.bytes.as_slice()),
            Some(&b"hi"[..])
        );
        // The edited handshake is no prerequisite, and `echo: last` finds `then`'s message.
        assert!(matches!(
            plan[1].op,
            Op::Expect {
                prerequisite: false,
                ..
            }
        ));
        assert!(matches!(
            &plan[2].op,
            Op::Expect { expected: Expected::Message { bytes: Some(b), .. }, .. } if b == b"hi"
        ));
    }
}

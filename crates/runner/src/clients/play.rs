//! One client scenario, played from the server's side.
//!
//! The scenario is planned as any other ([`crate::plan::plan`]); the plan's
//! operations are then played the other way round: a `Handshake` waits
//! for the client's connection (the client under test is started with the
//! URL) and answers its request, a `Write` sends the frames *unmasked*
//! unless the scenario names a key (a server must not mask, §5.1), and an
//! `Expect` reads the client's frames with the server's reader (every
//! frame must be masked) and asks the same judge as server scenarios.

use std::collections::HashMap;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, timeout_at};
use wsconform_wire::{
    Event as WireEvent, FrameHeader, FrameReader, HandshakeError, Limits, MessageAssembler, OpCode,
    ReadError, Role, accept_response, encode_frame, parse_request,
};

use super::ClientSettings;
use super::closing::{TRIGGER, declined, is_trigger};
use super::keys::{KEY_RULE, MASK_RULE, mask_problem};
use crate::connect::PeerEnd;
use crate::exec::describe::{describe_expected, frame_broken, message_broken};
use crate::exec::judge::{
    Before, CLOSE_CODE_REASON, CloseState, ConnState, Judging, OWN_CLOSE_CODE_REASON, Progress,
};
use crate::exec::note_of;
use crate::load::LoadedScenario;
use crate::plan::{Op, PlanError, PlanSettings, Profile, Target, plan};
use crate::scenario::Strength;
use crate::scenario::{Action, MaskSpec};
use crate::spawn::SpawnedTarget;
use crate::transcript::{Direction, Event, LineKind, Transcript};
use crate::verdict::{Failure, Note, Outcome, ScenarioResult};

/// The largest request head read from a client.
const MAX_REQUEST_HEAD: usize = 16 * 1024;

/// One client connection, seen from the server's side.
struct Peer {
    stream: TcpStream,
    frames: FrameReader,
    messages: MessageAssembler,
    state: ConnState,
    close_sent: bool,
    /// Whether the client's close frame came first (not an answer to ours).
    own_close: bool,
    /// Whether the trigger of the client-initiated close was sent and the
    /// client has not answered it yet.
    trigger_sent: bool,
    masks: Vec<[u8; 4]>,
    /// The client process behind this connection.
    process: Option<SpawnedTarget>,
}

/// What a scenario's run keeps.
struct Played<'a> {
    loaded: &'a LoadedScenario,
    settings: &'a ClientSettings,
    listener: TcpListener,
    url_base: String,
    start: Instant,
    transcript: Transcript,
    peers: HashMap<String, Peer>,
    keys: Vec<String>,
    /// Why the scenario does not apply to this client, once known.
    skipped: Option<String>,
}

/// Plays one client scenario and judges it.
pub async fn run_client_scenario(
    loaded: &LoadedScenario,
    settings: &ClientSettings,
) -> ScenarioResult {
    let started = std::time::Instant::now();
    let mut result = ScenarioResult::for_scenario(loaded, Outcome::Pass);
    let listener = match TcpListener::bind("127.0.0.1:0").await {
        Ok(l) => l,
        Err(e) => {
            result.outcome = Outcome::Error;
            result.message = format!("cannot listen on loopback: {e}");
            return result;
        }
    };
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    let url_base = format!("ws://127.0.0.1:{port}");
    let plan_settings = PlanSettings {
        target: Target {
            host: "127.0.0.1".into(),
            port,
            path: "/".into(),
        },
        profile: Profile::Echo,
        timeout: settings.timeout,
        run_id: 0,
    };
    let steps = match plan(loaded, &plan_settings) {
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
    let mut played = Played {
        loaded,
        settings,
        listener,
        url_base,
        start: Instant::now(),
        transcript: Transcript::default(),
        peers: HashMap::new(),
        keys: Vec::new(),
        skipped: None,
    };
    for planned in &steps {
        let client = planned.client.as_str();
        let outcome = match &planned.op {
            Op::Handshake { .. } => played.handshake(planned.step, client).await,
            Op::Write { bytes, .. } => {
                let bytes = played.as_server(planned.step, bytes);
                played.write(client, &bytes).await;
                Ok(())
            }
            Op::Expect {
                expected,
                timeout,
                answer,
                ..
            } => {
                if matches!(expected, crate::plan::Expected::Accepted) {
                    Ok(())
                } else {
                    match played.expect(client, expected, *timeout, *answer).await {
                        Ok(()) => Ok(()),
                        Err(mut failure) => {
                            failure.step = failure.step.or(planned.step);
                            // A `should` or `may` not met is a note, as for servers.
                            match note_of(&planned.op, &failure) {
                                Some(note) => {
                                    result.notes.push(note);
                                    Ok(())
                                }
                                None => Err(failure),
                            }
                        }
                    }
                }
            }
            Op::Pause(d) => {
                tokio::time::sleep(*d).await;
                Ok(())
            }
            Op::Disconnect => {
                if let Some(mut peer) = played.peers.remove(client) {
                    let _ = peer.stream.shutdown().await;
                    if let Some(mut p) = peer.process.take() {
                        p.stop().await;
                    }
                }
                Ok(())
            }
            Op::SendCompressed(_) | Op::Flood(_) => Err(failure(
                planned.step,
                client,
                "a step client scenarios can play",
                "this step (compression, flood) only exists for server scenarios",
                None,
            )),
        };
        if let Some(why) = played.skipped.take() {
            result.outcome = Outcome::Skip;
            result.message = why;
            played.stop_all().await;
            result.transcript = played.transcript;
            result.duration = started.elapsed();
            return result;
        }
        if let Err(mut f) = outcome {
            if f.step.is_none() {
                f.step = planned.step;
            }
            result.outcome = Outcome::Fail;
            result.message = format!("expected {}; got {}", f.expected, f.actual);
            result.failure = Some(f);
            break;
        }
    }
    if result.failure.is_none()
        && let Some(f) = played.mask_failure()
    {
        result.outcome = Outcome::Fail;
        result.message = format!("expected {}; got {}", f.expected, f.actual);
        result.failure = Some(f);
    }
    if result.failure.is_none()
        && loaded.scenario.tags.iter().any(|t| t == "closing")
        && let Some((client, actual)) = played.closed_tcp_first().await
    {
        result.notes.push(Note {
            strength: Strength::Should,
            step: None,
            client,
            expected: "the server to close the TCP connection first".to_string(),
            actual,
            reason: "RFC 6455 7.1.1: \"The underlying TCP connection, in most normal cases, SHOULD be closed first by the server\"".to_string(),
        });
    }
    played.stop_all().await;
    result.settle();
    result.transcript = played.transcript;
    result.duration = started.elapsed();
    result
}

fn failure(
    step: Option<usize>,
    client: &str,
    expected: &str,
    actual: &str,
    rule: Option<&str>,
) -> Failure {
    Failure {
        step,
        client: client.to_string(),
        expected: expected.to_string(),
        actual: actual.to_string(),
        rule: rule.map(str::to_string),
        caret: None,
        prerequisite: false,
        strength: Strength::Must,
        reason: None,
    }
}

impl Played<'_> {
    fn now(&self) -> Duration {
        self.start.elapsed()
    }

    /// The `handshake` step of scenario step `step`, if written.
    fn handshake_spec(&self, step: Option<usize>) -> Option<&crate::scenario::HandshakeSpec> {
        let index = step?;
        match &self.loaded.scenario.steps.get(index)?.action {
            Action::Handshake(spec) => Some(spec),
            _ => None,
        }
    }

    /// Starts the client with the URL, accepts its connection, checks its
    /// request and answers it (a 101, or what the scenario writes instead).
    async fn handshake(&mut self, step: Option<usize>, client: &str) -> Result<(), Failure> {
        let spec = self.handshake_spec(step).cloned().unwrap_or_default();
        let path = spec.path.clone().unwrap_or_else(|| "/".to_string());
        let url = format!("{}{path}", self.url_base);
        let command = self.settings.command_for(&url);
        let mut process = SpawnedTarget::start(&command, &format!("[{client}]")).map_err(|e| {
            failure(
                step,
                client,
                "the client under test started",
                &e.to_string(),
                None,
            )
        })?;
        let deadline = Instant::now() + self.settings.connect_timeout;
        // Wait for the connection, but not for a client that has exited.
        let accepted = loop {
            let tick = (Instant::now() + Duration::from_millis(50)).min(deadline);
            match timeout_at(tick, self.listener.accept()).await {
                Ok(result) => break Ok(result),
                Err(_) if Instant::now() >= deadline || process.exited().is_some() => {
                    break Err(());
                }
                Err(_) => {}
            }
        };
        let mut stream = match accepted {
            Ok(Ok((stream, _))) => stream,
            Ok(Err(e)) => {
                process.stop().await;
                return Err(failure(
                    step,
                    client,
                    "a connection from the client",
                    &e.to_string(),
                    None,
                ));
            }
            Err(_) => {
                let why = match process.exited() {
                    Some(status) => format!("the client exited ({status}) without connecting"),
                    None => format!(
                        "no connection within {} s of starting `{command}`",
                        self.settings.connect_timeout.as_secs()
                    ),
                };
                process.stop().await;
                return Err(failure(
                    step,
                    client,
                    &format!("a connection to {url}"),
                    &why,
                    None,
                ));
            }
        };
        let _ = stream.set_nodelay(true);
        let at = self.now();
        self.transcript
            .note(at, client, format!("the client connected to {url}"));
        // The request head.
        let mut buf = Vec::new();
        let deadline = Instant::now() + self.settings.timeout;
        let parsed = loop {
            match parse_request(&buf, MAX_REQUEST_HEAD) {
                Ok(Some(parsed)) => break Ok(parsed),
                Ok(None) => {}
                Err(e) => break Err(e),
            }
            let mut chunk = [0u8; 4096];
            match timeout_at(deadline, stream.read(&mut chunk)).await {
                Ok(Ok(0)) | Ok(Err(_)) => {
                    process.stop().await;
                    return Err(failure(
                        step,
                        client,
                        "an opening handshake request",
                        "the client closed the connection before its request was complete",
                        None,
                    ));
                }
                Ok(Ok(n)) => buf.extend_from_slice(chunk.get(..n).unwrap_or_default()),
                Err(_) => {
                    process.stop().await;
                    return Err(failure(
                        step,
                        client,
                        "an opening handshake request",
                        &format!(
                            "no complete request head within {} s",
                            self.settings.timeout.as_secs()
                        ),
                        None,
                    ));
                }
            }
        };
        let at = self.now();
        self.transcript.io(at, client, Direction::Received, &buf);
        let (request, used) = match parsed {
            Ok(p) => p,
            Err(e) => {
                self.transcript.http(at, client, LineKind::Received, &buf);
                process.stop().await;
                return Err(request_failure(step, client, &e));
            }
        };
        self.transcript.http(
            at,
            client,
            LineKind::Received,
            buf.get(..used).unwrap_or_default(),
        );
        let key = request
            .header("Sec-WebSocket-Key")
            .unwrap_or_default()
            .trim()
            .to_string();
        if self.keys.contains(&key) {
            process.stop().await;
            return Err(failure(
                step,
                client,
                "a fresh random Sec-WebSocket-Key on every connection",
                &format!("the key {key} again, as on an earlier connection"),
                Some(KEY_RULE),
            ));
        }
        self.keys.push(key.clone());
        let response = match &spec.raw {
            Some(raw) => raw
                .replace('\n', "\r\n")
                .replace("\r\r\n", "\r\n")
                .into_bytes(),
            None => response_with(&accept_response(&request), &spec.headers),
        };
        let at = self.now();
        self.transcript.http(at, client, LineKind::Sent, &response);
        self.transcript.io(at, client, Direction::Sent, &response);
        let _ = stream.write_all(&response).await;
        let mut frames = FrameReader::new(Role::Server, Limits::default());
        frames.push(buf.get(used..).unwrap_or_default());
        let mut state = ConnState::new(&key);
        state.response = None;
        self.peers.insert(
            client.to_string(),
            Peer {
                stream,
                frames,
                messages: MessageAssembler::new(Limits::default()),
                state,
                close_sent: false,
                own_close: false,
                trigger_sent: false,
                masks: Vec::new(),
                process: Some(process),
            },
        );
        Ok(())
    }

    /// The plan writes frames as a client would (masked); a server sends
    /// them unmasked, so masks the scenario did not ask for are removed.
    fn as_server(&self, step: Option<usize>, bytes: &[u8]) -> Vec<u8> {
        let keep_masks = step
            .and_then(|i| self.loaded.scenario.steps.get(i))
            .is_some_and(|s| match &s.action {
                Action::Send(send) => send.mask != MaskSpec::Auto,
                Action::Frame(frame) => frame.mask != MaskSpec::Auto,
                _ => true,
            });
        if keep_masks {
            return bytes.to_vec();
        }
        unmask_frames(bytes)
    }

    async fn write(&mut self, client: &str, bytes: &[u8]) {
        let at = self.now();
        self.transcript.frames(at, client, LineKind::Sent, bytes);
        self.transcript.io(at, client, Direction::Sent, bytes);
        if let Some(peer) = self.peers.get_mut(client) {
            // A close we send: the client's close that follows is its answer.
            if bytes.first().is_some_and(|b| b & 0x0f == 0x8) {
                peer.close_sent = true;
            }
            if is_trigger(bytes) {
                peer.trigger_sent = true;
            }
            let _ = peer.stream.write_all(bytes).await;
        }
    }

    async fn expect(
        &mut self,
        client: &str,
        expected: &crate::plan::Expected,
        limit: Duration,
        answer: bool,
    ) -> Result<(), Failure> {
        let state = self.peers.get(client).map(|p| p.state.clone());
        let before = Before {
            client,
            conn: state.as_ref(),
            nonces: None,
            timeout: limit,
        };
        let (mut judging, mut progress) = Judging::start(expected, before);
        // A silence lasts as long as it says (the plan's limit adds a margin).
        let deadline = match expected {
            crate::plan::Expected::Silence(d) => Instant::now() + *d,
            _ => Instant::now() + limit,
        };
        while progress == Progress::NeedMore {
            let event = self
                .next_event(client, deadline, judging.wants_frames(), answer)
                .await;
            let at = self.now();
            self.transcript.event(at, client, &event);
            if self.echoed_trigger(client, &event) {
                self.transcript.note(
                    at,
                    client,
                    format!("the client echoed {TRIGGER:?}: it does not start closing handshakes on request"),
                );
                self.skipped = Some(declined());
                return Ok(());
            }
            progress = judging.feed(&event);
        }
        match progress {
            Progress::Unmet(mut f) => {
                f.client = client.to_string();
                // A code other than the one asked for is the client's choice
                // when the close is its own, not an answer to ours.
                if f.reason.as_deref() == Some(CLOSE_CODE_REASON)
                    && self.peers.get(client).is_some_and(|p| p.own_close)
                {
                    f.reason = Some(OWN_CLOSE_CODE_REASON.to_string());
                }
                // The judge speaks of the peer as "the server"; here it is the client.
                f.actual = f.actual.replace("the server", "the client");
                f.expected = f.expected.replace("the server", "the client");
                if f.expected.is_empty() {
                    f.expected = describe_expected(expected);
                }
                Err(f)
            }
            _ => Ok(()),
        }
    }

    /// Whether `event` is the client's echo of the trigger of the
    /// client-initiated close (which a client that starts it never sends).
    fn echoed_trigger(&mut self, client: &str, event: &Event) -> bool {
        let Some(peer) = self.peers.get_mut(client) else {
            return false;
        };
        let echoed = peer.trigger_sent
            && matches!(event, Event::Message { kind: crate::scenario::DataKind::Text, bytes } if bytes == TRIGGER.as_bytes());
        if !matches!(event, Event::Message { .. } | Event::Pong(_)) {
            // The client answered the trigger some other way.
            peer.trigger_sent = false;
        }
        echoed
    }

    /// The next event from the client: a message, pong, close, a frame
    /// (when the step wants frames), the end, or a broken rule. The
    /// client's close is answered at once when `answer` is set.
    async fn next_event(
        &mut self,
        client: &str,
        deadline: Instant,
        raw: bool,
        answer_close: bool,
    ) -> Event {
        loop {
            let Some(peer) = self.peers.get_mut(client) else {
                return Event::Ended(PeerEnd::Reset("not connected".into()));
            };
            let next = peer.frames.next_frame();
            let frame = match next {
                Ok(Some(frame)) => frame,
                Ok(None) => {
                    let mut chunk = vec![0u8; 64 * 1024];
                    let read = timeout_at(deadline, peer.stream.read(&mut chunk)).await;
                    match read {
                        Err(_) => return Event::TimedOut,
                        Ok(Ok(0)) => {
                            peer.state.ended = Some(PeerEnd::Eof);
                            return Event::Ended(PeerEnd::Eof);
                        }
                        Ok(Err(e)) => {
                            let end = PeerEnd::Reset(e.to_string());
                            peer.state.ended = Some(end.clone());
                            return Event::Ended(end);
                        }
                        Ok(Ok(n)) => {
                            let bytes = chunk.get(..n).unwrap_or_default();
                            peer.frames.push(bytes);
                            let at = self.start.elapsed();
                            self.transcript.io(at, client, Direction::Received, bytes);
                            continue;
                        }
                    }
                }
                Err(e) => return self.broke(client, &e),
            };
            if let Some(key) = frame.header.mask {
                peer.masks.push(key);
            }
            let at = self.start.elapsed();
            let line = self
                .transcript
                .frames(at, client, LineKind::Received, &frame.bytes);
            if raw {
                return Event::Frame {
                    opcode: frame.header.opcode,
                    fin: frame.header.fin,
                    payload: frame.unmasked_payload(),
                };
            }
            let Some(peer) = self.peers.get_mut(client) else {
                continue;
            };
            let assembled = peer.messages.push(&frame);
            let event = match assembled {
                Ok(Some(event)) => event,
                Ok(None) => continue,
                Err(e) => return Event::Broke(message_broken(&e, frame.header.opcode, line)),
            };
            match event {
                WireEvent::Ping(payload) => {
                    let mut out = Vec::new();
                    encode_frame(&mut out, true, OpCode::Pong, None, &payload);
                    self.write(client, &out).await;
                }
                WireEvent::Pong(payload) => return Event::Pong(payload),
                WireEvent::Close(close) => {
                    let (code, reason) = match close {
                        Some(c) => (Some(c.code), c.reason),
                        None => (None, String::new()),
                    };
                    let first = peer.state.close == CloseState::Open && !peer.close_sent;
                    peer.own_close |= first;
                    peer.state.close = CloseState::Received(code);
                    let answer = first && answer_close;
                    peer.close_sent |= answer;
                    if answer {
                        let body = code.map(|c| c.to_be_bytes().to_vec()).unwrap_or_default();
                        let mut out = Vec::new();
                        encode_frame(&mut out, true, OpCode::Close, None, &body);
                        self.write(client, &out).await;
                    }
                    return Event::Close { code, reason };
                }
                WireEvent::Message(message) => return Event::message(message),
            }
        }
    }

    fn broke(&mut self, client: &str, e: &ReadError) -> Event {
        let at = self.now();
        let pending = self
            .peers
            .get_mut(client)
            .map(|p| p.frames.take_buffered())
            .unwrap_or_default();
        let line = self
            .transcript
            .frames(at, client, LineKind::Received, &pending);
        let mut broken = frame_broken(e, line);
        if matches!(
            e.protocol(),
            Some(wsconform_wire::ProtocolError::UnmaskedFrame)
        ) {
            broken.actual = "an unmasked frame".to_string();
            broken.rule =
                "RFC 6455 5.1: \"a client MUST mask all frames that it sends to the server\""
                    .to_string();
        }
        Event::Broke(broken)
    }

    /// §5.3 on every connection: no repeated or counting masking keys.
    fn mask_failure(&self) -> Option<Failure> {
        let mut names: Vec<&String> = self.peers.keys().collect();
        names.sort();
        names.into_iter().find_map(|name| {
            let peer = self.peers.get(name)?;
            mask_problem(&peer.masks).map(|problem| {
                failure(
                    None,
                    name,
                    "a fresh, unpredictable masking key for every frame",
                    &problem,
                    Some(MASK_RULE),
                )
            })
        })
    }

    /// After a closing handshake, whether a client closed the TCP
    /// connection before the server had a chance to (§7.1.1: "the server
    /// SHOULD close it first"; a client waits): a note when it did.
    async fn closed_tcp_first(&mut self) -> Option<(String, String)> {
        for (name, peer) in self.peers.iter_mut() {
            if !matches!(peer.state.close, CloseState::Received(_)) {
                continue;
            }
            let closed = match peer.state.ended {
                Some(_) => true,
                None => {
                    let mut probe = [0u8; 1];
                    let wait = Duration::from_millis(200);
                    matches!(
                        tokio::time::timeout(wait, peer.stream.read(&mut probe)).await,
                        Ok(Ok(0)) | Ok(Err(_))
                    )
                }
            };
            if closed {
                return Some((
                    name.clone(),
                    "the client closed the TCP connection right after the closing handshake"
                        .to_string(),
                ));
            }
        }
        None
    }

    async fn stop_all(&mut self) {
        for (_, mut peer) in self.peers.drain() {
            // The server side closes TCP at the end (§7.1.1), then the
            // client process is given its grace period and stopped.
            let _ = peer.stream.shutdown().await;
            if let Some(mut process) = peer.process.take() {
                process.stop().await;
            }
        }
    }
}

/// The §4.2.1 rule a request broke, as a failure of the client.
fn request_failure(step: Option<usize>, client: &str, e: &HandshakeError) -> Failure {
    failure(
        step,
        client,
        "a valid opening handshake request (RFC 6455 4.1)",
        &format!("{e}"),
        Some(
            "RFC 6455 4.1: the client MUST send a GET request over HTTP/1.1 with Host, Upgrade: websocket, Connection: Upgrade, a Sec-WebSocket-Key of 16 random bytes in base64 and Sec-WebSocket-Version: 13",
        ),
    )
}

/// A 101 with header overrides: a value replaces the header (or adds it),
/// `None` removes it.
fn response_with(base: &[u8], overrides: &[(String, Option<String>)]) -> Vec<u8> {
    let text = String::from_utf8_lossy(base);
    let mut lines: Vec<String> = text
        .split("\r\n")
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    for (name, value) in overrides {
        if name.starts_with(':') {
            // `:status: 200` replaces the status line.
            if let Some(first) = lines.first_mut()
                && let Some(v) = value
            {
                *first = format!("HTTP/1.1 {v}");
            }
            continue;
        }
        let prefix = format!("{}:", name.to_ascii_lowercase());
        lines.retain(|l| !l.to_ascii_lowercase().starts_with(&prefix));
        if let Some(v) = value {
            lines.push(format!("{name}: {v}"));
        }
    }
    let mut out = lines.join("\r\n");
    out.push_str("\r\n\r\n");
    out.into_bytes()
}

/// The same frames without masks (headers re-encoded in their form).
fn unmask_frames(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut rest = bytes;
    while !rest.is_empty() {
        let Some((header, form, header_len)) = FrameHeader::parse_with_form(rest) else {
            out.extend_from_slice(rest);
            break;
        };
        let len = usize::try_from(header.payload_len).unwrap_or(usize::MAX);
        let Some(payload) = rest.get(header_len..header_len.saturating_add(len)) else {
            // A header that claims more than is there (a deliberate lie):
            // sent as written.
            out.extend_from_slice(rest);
            break;
        };
        let mut payload = payload.to_vec();
        if let Some(key) = header.mask {
            wsconform_wire::apply_mask(&mut payload, key, 0);
        }
        let plain = FrameHeader {
            mask: None,
            ..header
        };
        if plain.encode(form, &mut out).is_err() {
            out.extend_from_slice(rest);
            break;
        }
        out.extend_from_slice(&payload);
        rest = rest.get(header_len + len..).unwrap_or_default();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_frames_are_sent_unmasked() {
        let mut masked = Vec::new();
        encode_frame(
            &mut masked,
            true,
            OpCode::Text,
            Some([1, 2, 3, 4]),
            b"Hello",
        );
        encode_frame(&mut masked, true, OpCode::Ping, Some([9, 8, 7, 6]), b"p");
        let mut plain = Vec::new();
        encode_frame(&mut plain, true, OpCode::Text, None, b"Hello");
        encode_frame(&mut plain, true, OpCode::Ping, None, b"p");
        assert_eq!(unmask_frames(&masked), plain);
        // A lie about the length is sent as written.
        assert_eq!(
            unmask_frames(&[0x81, 0x85, 1, 2, 3, 4, 0x41]),
            [0x81, 0x85, 1, 2, 3, 4, 0x41]
        );
    }

    #[test]
    fn response_headers_are_replaced_removed_and_added() {
        let base = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: abc=\r\n\r\n";
        let out = response_with(
            base,
            &[
                ("Sec-WebSocket-Accept".into(), Some("wrong=".into())),
                ("Upgrade".into(), None),
                ("Sec-WebSocket-Protocol".into(), Some("chat".into())),
            ],
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: wrong=\r\nSec-WebSocket-Protocol: chat\r\n\r\n"
        );
    }
}

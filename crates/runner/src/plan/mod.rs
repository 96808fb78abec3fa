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

//!
//! | module | what it plans |
//! |---|---|
//! | [`handshake`] | the opening handshake request |
//! | `frames` | the frames of `send` and `frame` steps |
//! | `expect` | what an `expect` step waits for, every byte decided |
//! | [`flood`] | a `flood` step: every client, message and frame |
//! | [`twin`] | the positive twin a refusal is counted against |

mod expect;
pub mod flood;
mod frames;
pub mod handshake;
#[cfg(test)]
mod tests;
pub mod twin;

use std::collections::HashMap;
use std::time::Duration;

use wsconform_wire::generate_key;

use crate::load::LoadedScenario;
use crate::payload::{SplitMix, stable_hash};
use crate::scenario::{
    Action, Chunks, DataKind, ExpectKind, HandshakeSpec, ProfileNeed, Step, Strength,
};
pub use twin::{is_twin_client, needs_twin, twin_client, twin_steps};

pub use crate::chat::ChatMessage;
pub use crate::target::Target;
pub use flood::{FloodClient, FloodPlan, plan_flood};
pub use frames::{CompressedSend, MessageLayout};
pub use handshake::handshake_request;

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
    /// Write a message compressed with the connection's deflater.
    SendCompressed(CompressedSend),
    /// Wait for something.
    Expect {
        /// What.
        expected: Expected,
        /// Deadline for this step.
        timeout: Duration,
        /// What an unmet expectation makes of the scenario.
        strength: Strength,
        /// Why a `should` or `may` is not a MUST.
        reason: Option<String>,
        /// This is the implicit acceptance of a default handshake: when it
        /// fails, the report names the handshake as the cause.
        prerequisite: bool,
        /// Whether a close frame read during the step is answered at once
        /// (`answer: false` leaves the answer to later steps).
        answer: bool,
    },
    /// Sleep.
    Pause(Duration),
    /// Drop the connection.
    Disconnect,
    /// Many clients at once (`flood`), played by [`crate::flood`].
    Flood(FloodPlan),
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
    /// Part of the scenario's positive twin (see [`twin`]), played first.
    pub twin: bool,
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

/// Settings for tests: `url`, `profile`, a 2 s timeout, run 7.
#[cfg(test)]
pub(crate) fn test_settings(url: &str, profile: Profile) -> PlanSettings {
    PlanSettings {
        target: Target::parse(url).unwrap(),
        profile,
        timeout: Duration::from_secs(2),
        run_id: 7,
    }
}

/// What the plan remembers about one client between its steps.
struct ClientState {
    started: bool,
    last_message: Option<SentMessage>,
    last_ping: Option<Vec<u8>>,
    /// Masking keys of `mask: auto`, deterministic per scenario and client.
    masks: SplitMix,
}

/// Everything the plan of one scenario accumulates, step after step.
struct Planner<'a> {
    loaded: &'a LoadedScenario,
    settings: &'a PlanSettings,
    base_timeout: Duration,
    clients: HashMap<String, ClientState>,
    out: Vec<PlannedStep>,
    nonce_counter: u32,
    /// Planning the twin: clients are renamed and steps carry no index.
    twin: bool,
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
    let mut planner = Planner {
        loaded,
        settings,
        base_timeout: scenario.timeout.map(|d| d.0).unwrap_or(settings.timeout),
        clients: HashMap::new(),
        out: Vec::new(),
        nonce_counter: 0,
        twin: false,
    };
    if let Some(steps) = twin_steps(loaded) {
        planner.twin = true;
        let steps: Vec<Step> = steps
            .into_iter()
            .map(|s| Step {
                client: Some(twin_client(s.client.as_deref().unwrap_or(DEFAULT_CLIENT))),
                action: s.action,
                hint: s.hint,
            })
            .collect();
        for index in 0..steps.len() {
            planner.step(&steps, index).map_err(|e| match e {
                PlanError::Invalid { step, message } => PlanError::Invalid {
                    step,
                    message: format!("in the twin: {message}"),
                },
                other => other,
            })?;
        }
        // The twin's connections end before the scenario's own begin.
        let mut names: Vec<String> = planner.clients.keys().cloned().collect();
        names.sort();
        for name in names {
            planner.push(None, &name, Op::Disconnect);
        }
        planner.clients.clear();
        planner.twin = false;
    }
    for index in 0..scenario.steps.len() {
        planner.step(&scenario.steps, index)?;
    }
    Ok(planner.out)
}

impl Planner<'_> {
    fn invalid(index: usize) -> impl Fn(String) -> PlanError {
        move |message| PlanError::Invalid {
            step: index,
            message,
        }
    }

    fn push(&mut self, step: Option<usize>, client: &str, op: Op) {
        self.out.push(PlannedStep {
            step: if self.twin { None } else { step },
            client: client.to_string(),
            op,
            twin: self.twin,
        });
    }

    /// The implicit expectation that a handshake is accepted.
    fn push_accepted(&mut self, client: &str, prerequisite: bool) {
        let timeout = self.base_timeout;
        self.push(
            None,
            client,
            Op::Expect {
                expected: Expected::Accepted,
                timeout,
                strength: Strength::Must,
                reason: None,
                prerequisite,
                answer: true,
            },
        );
    }

    /// Plans step `index` of `steps` (the scenario's, or its twin's).
    fn step(&mut self, steps: &[Step], index: usize) -> Result<(), PlanError> {
        let loaded = self.loaded;
        let scenario = &loaded.scenario;
        let Some(step) = steps.get(index) else {
            return Err(PlanError::Invalid {
                step: index,
                message: "no such step".into(),
            });
        };
        // A flood brings its own clients: it opens no connection for `as:`.
        if let Action::Flood(spec) = &step.action {
            let prefix = step.client.as_deref().unwrap_or("flood");
            let flood = plan_flood(&scenario.id, prefix, spec, self.settings)
                .map_err(Self::invalid(index))?;
            self.push(Some(index), prefix, Op::Flood(flood));
            return Ok(());
        }
        let name = step
            .client
            .clone()
            .unwrap_or_else(|| DEFAULT_CLIENT.to_string());
        let seed = stable_hash(&format!("{}/{}", scenario.id, name));
        let state = self
            .clients
            .entry(name.clone())
            .or_insert_with(|| ClientState {
                started: false,
                last_message: None,
                last_ping: None,
                masks: SplitMix::new(seed),
            });
        // A client's first step opens its connection.
        if !state.started {
            state.started = true;
            if !matches!(step.action, Action::Handshake(_)) {
                self.push_default_handshake(&name, seed);
            }
        } else if matches!(step.action, Action::Handshake(_)) {
            return Err(Self::invalid(index)(format!(
                "client '{name}' already has a connection; use `as:` with a new name for a second handshake"
            )));
        }
        let op = match &step.action {
            Action::Handshake(spec) => return self.handshake(steps, index, &name, seed, spec),
            Action::Send(spec) => {
                let settings = self.settings;
                let mut counter = self.nonce_counter;
                let state = self.state(&name)?;
                let op = frames::send_op(&scenario.id, spec, state, &name, settings, &mut counter)
                    .map_err(Self::invalid(index))?;
                self.nonce_counter = counter;
                op
            }
            Action::Frame(spec) => {
                frames::frame_op(spec, self.state(&name)?).map_err(Self::invalid(index))?
            }
            Action::Raw(raw) => Op::Write {
                bytes: raw.bytes.0.clone(),
                chunks: raw.delivery.chunks.clone(),
                pause: raw.delivery.pause.map(|d| d.0),
                message: None,
            },
            Action::Pause(d) => Op::Pause(d.0),
            Action::Disconnect => Op::Disconnect,
            // Planned before the client is looked at, above.
            Action::Flood(_) => return Ok(()),
            Action::Expect(e) => expect::expect_op(
                e,
                &name,
                &self.clients,
                self.settings,
                self.base_timeout,
                Self::invalid(index),
            )?,
        };
        self.push(Some(index), &name, op);
        Ok(())
    }

    fn state(&mut self, name: &str) -> Result<&mut ClientState, PlanError> {
        // Inserted by `step` before any use.
        self.clients
            .get_mut(name)
            .ok_or_else(|| PlanError::NotApplicable(format!("no client named '{name}'")))
    }

    /// The handshake a client without a `handshake` step gets, which must be
    /// accepted before the scenario gets to its point.
    fn push_default_handshake(&mut self, name: &str, seed: u64) {
        let key = generate_key(seed);
        let request = handshake_request(&HandshakeSpec::default(), &self.settings.target, &key);
        self.push(
            None,
            name,
            Op::Handshake {
                request,
                key,
                then: Vec::new(),
                chunks: None,
                pause: None,
                message: None,
            },
        );
        self.push_accepted(name, true);
    }

    /// A `handshake` step, and its implicit acceptance unless the next step
    /// of the client expects something of the handshake itself.
    fn handshake(
        &mut self,
        steps: &[Step],
        index: usize,
        name: &str,
        seed: u64,
        spec: &HandshakeSpec,
    ) -> Result<(), PlanError> {
        let loaded = self.loaded;
        let scenario = &loaded.scenario;
        let generated = generate_key(seed);
        let request = handshake_request(spec, &self.settings.target, &generated);
        // A key written in `headers` is the one the answer must match.
        let key = spec
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("Sec-WebSocket-Key"))
            .and_then(|(_, value)| value.clone())
            .unwrap_or(generated);
        let (then, message) = match &spec.then {
            Some(send) => {
                let settings = self.settings;
                let mut counter = self.nonce_counter;
                let state = self.state(name)?;
                let op = frames::send_op(&scenario.id, send, state, name, settings, &mut counter)
                    .map_err(Self::invalid(index))?;
                self.nonce_counter = counter;
                match op {
                    Op::Write { bytes, message, .. } => (bytes, message),
                    _ => (Vec::new(), None),
                }
            }
            None => (Vec::new(), None),
        };
        self.push(
            Some(index),
            name,
            Op::Handshake {
                request,
                key,
                then,
                chunks: spec.chunks.clone(),
                pause: spec.pause.map(|d| d.0),
                message,
            },
        );
        if !next_expects_handshake(steps.get(index + 1..).unwrap_or_default(), name) {
            let is_default = spec.raw.is_none()
                && spec.headers.is_empty()
                && spec.method.is_none()
                && spec.http.is_none()
                && spec.path.is_none()
                && spec.chunks.is_none()
                && spec.then.is_none();
            self.push_accepted(name, is_default);
        }
        Ok(())
    }
}

/// Whether the next step of client `name` expects an accepted or refused handshake.
fn next_expects_handshake(rest: &[Step], name: &str) -> bool {
    rest.iter()
        .find(|s| s.client.as_deref().unwrap_or(DEFAULT_CLIENT) == name)
        .is_some_and(|s| {
            matches!(
                &s.action,
                Action::Expect(e) if matches!(e.kind, ExpectKind::Accepted | ExpectKind::Refused { .. })
            )
        })
}

/// Extra time for large payloads: one second per MiB.
pub fn scaled_for(len: usize) -> Duration {
    Duration::from_millis((len as u64 * 1000) / (1024 * 1024))
}

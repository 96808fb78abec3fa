//! A step of a scenario: which client plays it and the one action it does.

use serde::{Deserialize, Deserializer};

use super::shape::Shapes;
use super::{Dur, Empty, Expectation, FrameSpec, HandshakeSpec, RawSpec, SendSpec, present};

/// One step: an action, played by a client (`as: alice`, default `client`).
#[derive(Debug, Clone)]
pub struct Step {
    /// The client that plays the step; `None` is the default client.
    pub client: Option<String>,
    /// What the step does.
    pub action: Action,
    /// What to check when this step fails, when it teaches something the
    /// scenario's own hint does not (a closing scenario that first echoes a
    /// 16-bit message). A failure shows the failing step's hint, else the
    /// scenario's.
    pub hint: Option<String>,
}

/// The names a step may start with, in the order the book documents them.
pub const STEP_NAMES: &[&str] = &[
    "handshake",
    "send",
    "frame",
    "raw",
    "expect",
    "pause",
    "disconnect",
    "flood",
];

/// What a step does.
#[derive(Debug, Clone)]
pub enum Action {
    /// Open the connection with a default or custom opening handshake.
    Handshake(HandshakeSpec),
    /// Send one message or control frame the ordinary way (optionally fragmented).
    Send(SendSpec),
    /// Send one frame with every header field under control.
    Frame(FrameSpec),
    /// Send raw bytes given in hex.
    Raw(RawSpec),
    /// Wait for something from the server.
    Expect(Expectation),
    /// Do nothing for a while.
    Pause(Dur),
    /// Drop the TCP connection without a closing handshake.
    Disconnect,
    /// Many new clients sending many messages at once, every delivery checked.
    Flood(FloodSpec),
}

/// `flood`: `clients` new connections each send `messages` text messages at
/// the same time; every message must arrive exactly once, in the order its
/// sender sent it.
///
/// In the chat profile every client must receive every client's messages
/// (its own included); in the echo profile each client gets its own back.
/// This is the step for load that a list of single steps cannot describe
/// (20 clients × 50 messages are 20 000 deliveries).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FloodSpec {
    /// How many clients connect (named `flood-1`, `flood-2`, …).
    pub clients: usize,
    /// How many text messages each client sends.
    pub messages: usize,
    /// Size of each message in bytes (default 64), reached by padding; a
    /// message that needs more for its nonce and sender is left longer.
    #[serde(default = "flood_size")]
    pub size: usize,
}

fn flood_size() -> usize {
    64
}

/// The most clients one `flood` step may open.
pub const MAX_FLOOD_CLIENTS: usize = 200;
/// The most deliveries (messages × receivers) one `flood` step may ask for.
pub const MAX_FLOOD_DELIVERIES: usize = 200_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StepFields {
    #[serde(rename = "as")]
    client: Option<String>,
    #[serde(default, deserialize_with = "present")]
    handshake: Option<Option<HandshakeSpec>>,
    send: Option<SendSpec>,
    frame: Option<FrameSpec>,
    raw: Option<RawSpec>,
    expect: Option<Expectation>,
    pause: Option<Dur>,
    #[serde(default, deserialize_with = "present")]
    disconnect: Option<Option<Empty>>,
    flood: Option<FloodSpec>,
    hint: Option<String>,
}

// A bare word (`disconnect`) or a map with exactly one action key; each
// wrong shape has its own message ("unknown step 'sned'", "one step does
// one thing"), so the shapes are read by [`Shapes`], not an untagged enum.
impl<'de> Deserialize<'de> for Step {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Shapes::<_, _, ()> {
            expecting: "a step such as `send: { text: Hello }` or `disconnect`",
            text: Some(step_of_word),
            map: Some(step_of_fields),
            ..Shapes::NONE
        })
    }
}

/// `handshake` or `disconnect`, written alone.
fn step_of_word(word: &str) -> Result<Step, String> {
    let action = match word {
        "handshake" => Action::Handshake(HandshakeSpec::default()),
        "disconnect" => Action::Disconnect,
        other => {
            return Err(format!(
                "unknown step '{other}': only `handshake` and `disconnect` may be \
                 written alone; other steps need a value, e.g. `send: {{ text: Hello }}`"
            ));
        }
    };
    Ok(Step {
        client: None,
        action,
        hint: None,
    })
}

/// A step written as a map: its client and exactly one action.
fn step_of_fields(f: StepFields) -> Result<Step, String> {
    let mut actions = Vec::new();
    if let Some(h) = f.handshake {
        actions.push(("handshake", Action::Handshake(h.unwrap_or_default())));
    }
    if let Some(s) = f.send {
        actions.push(("send", Action::Send(s)));
    }
    if let Some(s) = f.frame {
        actions.push(("frame", Action::Frame(s)));
    }
    if let Some(s) = f.raw {
        actions.push(("raw", Action::Raw(s)));
    }
    if let Some(s) = f.expect {
        actions.push(("expect", Action::Expect(s)));
    }
    if let Some(s) = f.pause {
        actions.push(("pause", Action::Pause(s)));
    }
    if f.disconnect.is_some() {
        actions.push(("disconnect", Action::Disconnect));
    }
    if let Some(s) = f.flood {
        actions.push(("flood", Action::Flood(s)));
    }
    match actions.len() {
        1 => {
            let (_, action) = actions.remove(0);
            Ok(Step {
                client: f.client,
                action,
                hint: f.hint,
            })
        }
        0 => Err(format!("a step needs one of {}", STEP_NAMES.join(", "))),
        _ => {
            let names: Vec<&str> = actions.iter().map(|(n, _)| *n).collect();
            Err(format!(
                "one step does one thing, but this one has {}: start a new `- ` item for each",
                names.join(" and ")
            ))
        }
    }
}

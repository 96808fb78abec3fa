//! The scenario model: what one YAML file says, as Rust data.
//!
//! A scenario is a list of steps played by one or more clients against a
//! server, plus metadata that reports and grades key on. The types here are
//! exactly the YAML format documented in the book's *Scenario format*
//! appendix; every struct rejects unknown fields, so a typo is an error with a
//! line and column instead of a silently ignored key.
//!
//! Several values have a short form and a long form (`send: { text: "Hi" }`
//! versus a payload map, `close: 1000` versus `close: { code: 1000 }`).
//! Their `Deserialize` impls list the shapes they accept and read them with
//! one visitor, `shape::Shapes`, handing a map to a derived struct, so
//! error messages stay precise (an untagged enum would answer every
//! mistake with "did not match any variant"). Where a derive gives the same
//! language and the same messages (`try_from`, `from`), it is used.
//!
//! | module | what |
//! | --- | --- |
//! | `step` | a step: its client and its one action |
//! | `handshake` | the opening handshake and header edits |
//! | `send`, `frame`, `delivery` | what a client sends, and how it is written |
//! | `payload` | payload bytes and close bodies |
//! | `expect` | what the server must do |
//! | `duration` | `500ms`, `2s`, `1m` |
//! | `shape` | reading a value written in one of several shapes |

mod delivery;
mod duration;
mod expect;
mod frame;
mod handshake;
mod payload;
mod send;
mod shape;
mod step;

use serde::{Deserialize, Deserializer};

pub use delivery::{Chunks, Delivery, RawSpec};
pub use duration::Dur;
pub use expect::{
    Codes, DataKind, EXPECT_NAMES, EXPECT_WORDS, EchoOf, ExpectKind, Expectation, PongOf, Strength,
};
pub use frame::{FrameSpec, LengthSpec, MaskSpec, OpcodeSpec};
pub use handshake::HandshakeSpec;
pub use payload::{CloseSpec, MAX_PAYLOAD, Payload};
pub use send::{SendKind, SendSpec};
pub use step::{Action, FloodSpec, MAX_FLOOD_CLIENTS, MAX_FLOOD_DELIVERIES, STEP_NAMES, Step};

/// One scenario file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Unique, stable identifier (`lengths.16bit-126`): reports and grades key on it.
    pub id: String,
    /// One line saying what is checked, as a sentence.
    pub title: String,
    /// The RFC 6455 section the scenario checks (`"5.2"`).
    pub rfc: Option<String>,
    /// The requirement quoted from the RFC, shown on failure.
    pub requirement: Option<String>,
    /// The Autobahn TestSuite case this scenario covers, when one exists.
    pub autobahn: Option<String>,
    /// Free-form tags for `--tag` selection.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Points awarded when the scenario passes.
    #[serde(default = "one_point")]
    pub points: u32,
    /// Which application protocol the scenario needs.
    #[serde(default)]
    pub profile: ProfileNeed,
    /// Whose side is tested: a server (the runner plays the client, the
    /// default) or a client (`role: client`: the runner plays the server).
    #[serde(default)]
    pub role: Role,
    /// What to check in your server when this fails.
    pub hint: Option<String>,
    /// Default deadline for each step of this scenario (overrides `--timeout`).
    pub timeout: Option<Dur>,
    /// The steps, played in order.
    pub steps: Vec<Step>,
    /// The positive twin of a scenario that expects a refusal: steps played
    /// on their own connections before `steps`, which a server must pass
    /// for the refusal to count. Written only where the plan cannot derive
    /// it (see `plan::twin`).
    pub twin: Option<Vec<Step>>,
}

fn one_point() -> u32 {
    1
}

/// Which side of the protocol a scenario tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A server: the runner connects to it and plays the client.
    #[default]
    Server,
    /// A client: the runner starts it and plays the server.
    Client,
}

/// The application protocol a scenario needs from the target.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProfileNeed {
    /// Works with every profile: the profile rewrites sends and echoes.
    #[default]
    Any,
    /// Needs an echo server (every data message comes back unchanged).
    Echo,
    /// Needs a chat server (JSON messages broadcast to every client).
    Chat,
}

/// Deserializes a field that may be written with no value (`handshake:`):
/// present-but-null is `Some(None)`, absent stays `None` (by `default`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// An empty map (`{}`) or nothing at all.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Empty {}

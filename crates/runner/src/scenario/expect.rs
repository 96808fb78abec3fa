//! The `expect` step: what the server must do next.

use serde::{Deserialize, Deserializer, Serialize};

use super::handshake::ordered_headers;
use super::payload::close_code;
use super::shape::Shapes;
use super::{Dur, Empty, OpcodeSpec, Payload, present};

/// `expect`: what the server must do next, with an optional deadline.
#[derive(Debug, Clone, PartialEq)]
pub struct Expectation {
    /// What is expected.
    pub kind: ExpectKind,
    /// The deadline for this step (default: the scenario's or `--timeout`).
    pub timeout: Option<Dur>,
    /// How strongly the RFC (or the profile) asks for it: what an unmet
    /// expectation makes of the scenario.
    pub strength: Strength,
    /// Why a `should` or `may` expectation is not a MUST (a quote or a
    /// sentence), printed by every report next to a non-strict result.
    pub reason: Option<String>,
    /// Whether the runner answers the peer's close frame as soon as it
    /// arrives (the default). `answer: false` on a `close` expectation
    /// leaves the answer to the scenario: a later `send: { close: ... }`,
    /// data first, or no answer at all.
    pub answer: bool,
}

/// How strongly an expectation is required: the word the RFC uses.
///
/// An unmet `must` fails the scenario; an unmet `should` makes it
/// `non-strict` (allowed, not the best behaviour) and it goes on; an unmet
/// `may` is only a note. A scenario fails only where a MUST is broken.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Strength {
    /// `may`: informational; unmet, the scenario still passes, with a note.
    May,
    /// `should`: a SHOULD, a "typically", a best practice; unmet is `non-strict`.
    Should,
    /// `must`: an RFC MUST / MUST NOT or the profile's contract; unmet is `fail`.
    #[default]
    Must,
}

impl Strength {
    /// The word written in scenarios and reports.
    pub fn word(self) -> &'static str {
        match self {
            Strength::Must => "must",
            Strength::Should => "should",
            Strength::May => "may",
        }
    }
}

impl Expectation {
    /// `expect: { echo: last }`, with the scenario's deadline.
    pub fn echo_last() -> Expectation {
        Expectation {
            kind: ExpectKind::Echo(EchoOf::Last),
            timeout: None,
            strength: Strength::Must,
            reason: None,
            answer: true,
        }
    }
}

/// Which message an echo expectation refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EchoOf {
    /// The last message this client sent.
    Last,
    /// The last message the named client sent (chat broadcast).
    Client(String),
}

/// Text or binary, for message expectations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataKind {
    /// A text message.
    Text,
    /// A binary message.
    Binary,
}

/// The payload a pong must carry.
#[derive(Debug, Clone, PartialEq)]
pub enum PongOf {
    /// The payload of this client's last ping.
    Last,
    /// These bytes.
    Payload(Payload),
}

/// Close codes an expectation accepts; empty means any.
pub type Codes = Vec<u16>;

/// What an `expect` step waits for.
#[derive(Debug, Clone, PartialEq)]
pub enum ExpectKind {
    /// `expect: accepted`: a valid `101 Switching Protocols`.
    Accepted,
    /// `expect: { refused: { status: [426], headers: {...} } }`: the handshake is refused.
    Refused {
        /// Acceptable status codes (empty: any status other than 101).
        status: Vec<u16>,
        /// Headers the response must carry (value compared case-insensitively; `null`: only present).
        headers: Vec<(String, Option<String>)>,
    },
    /// `expect: { echo: last }`: the message comes back, as the profile defines it.
    Echo(EchoOf),
    /// `expect: { message: { text: "Hello" } }`: a data message with this content.
    Message {
        /// Text or binary.
        kind: DataKind,
        /// The content; `None` accepts any.
        payload: Option<Payload>,
    },
    /// `expect: { frame: { opcode: pong, fin: true } }`: the next frame has these fields.
    Frame {
        /// The opcode.
        opcode: Option<OpcodeSpec>,
        /// FIN bit.
        fin: Option<bool>,
        /// The payload.
        payload: Option<Payload>,
    },
    /// `expect: { pong: last }`: a pong with this payload.
    Pong(PongOf),
    /// `expect: { close: [1000] }`: a close frame with one of these codes
    /// (`any`: any code or none).
    Close(Codes),
    /// `expect: { fail: [1002] }`: the server fails the connection: a close
    /// with one of these codes, or the TCP connection closed.
    Fail(Codes),
    /// `expect: { silence: 1s }`: nothing arrives for this long.
    Silence(Dur),
    /// `expect: tcp-closed`: the server closes the TCP connection.
    TcpClosed,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectFields {
    #[serde(default, deserialize_with = "present")]
    accepted: Option<Option<Empty>>,
    refused: Option<RefusedFields>,
    echo: Option<String>,
    message: Option<MessageFields>,
    frame: Option<FrameExpectFields>,
    pong: Option<PongRepr>,
    close: Option<CodesRepr>,
    fail: Option<CodesRepr>,
    silence: Option<Dur>,
    #[serde(default, deserialize_with = "present")]
    tcp_closed: Option<Option<Empty>>,
    timeout: Option<Dur>,
    strength: Option<Strength>,
    reason: Option<String>,
    otherwise: Option<Otherwise>,
    answer: Option<bool>,
}

/// `otherwise: non-strict`, the older spelling of `strength: should`.
#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Otherwise {
    NonStrict,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RefusedFields {
    #[serde(default)]
    status: Vec<u16>,
    #[serde(default, deserialize_with = "ordered_headers")]
    headers: Vec<(String, Option<String>)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MessageFields {
    #[serde(default, deserialize_with = "present")]
    text: Option<Option<Payload>>,
    #[serde(default, deserialize_with = "present")]
    binary: Option<Option<Payload>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FrameExpectFields {
    opcode: Option<OpcodeSpec>,
    fin: Option<bool>,
    payload: Option<Payload>,
}

/// `pong: last` or the payload a pong must carry.
#[derive(Deserialize)]
#[serde(from = "Payload")]
struct PongRepr(PongOf);

impl From<Payload> for PongRepr {
    fn from(payload: Payload) -> PongRepr {
        match payload {
            Payload::Text(t) if t == "last" => PongRepr(PongOf::Last),
            other => PongRepr(PongOf::Payload(other)),
        }
    }
}

/// Close codes: a list, one code, or `any`.
struct CodesRepr(Codes);

// Three shapes (a list, a number, the word `any`), each with its own
// message, read by [`Shapes`].
impl<'de> Deserialize<'de> for CodesRepr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Shapes::<_, (), _> {
            expecting: "a list of close codes such as [1000, 1001], one code, or `any`",
            text: Some(|v| {
                if v == "any" {
                    Ok(CodesRepr(Vec::new()))
                } else {
                    Err(format!(
                        "'{v}' is not a list of close codes: write [1000] or `any`"
                    ))
                }
            }),
            number: Some(|v| Ok(CodesRepr(vec![close_code(v)?]))),
            list: Some(|codes: Vec<u16>| Ok(CodesRepr(codes))),
            ..Shapes::NONE
        })
    }
}

/// The words an `expect` may be written as alone.
pub const EXPECT_WORDS: &[&str] = &["accepted", "tcp-closed"];

/// The keys an `expect` map may use for what it expects.
pub const EXPECT_NAMES: &[&str] = &[
    "accepted",
    "refused",
    "echo",
    "message",
    "frame",
    "pong",
    "close",
    "fail",
    "silence",
    "tcp_closed",
];

// A bare word or a map with exactly one expectation, each wrong shape
// with its own message ("unknown expectation 'closee'"), read by [`Shapes`].
impl<'de> Deserialize<'de> for Expectation {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Shapes::<_, _, ()> {
            expecting: "an expectation such as `accepted`, `tcp-closed` or `{ close: [1000] }`",
            text: Some(expectation_of_word),
            map: Some(expectation_of_fields),
            ..Shapes::NONE
        })
    }
}

/// `accepted` or `tcp-closed`, written alone.
fn expectation_of_word(v: &str) -> Result<Expectation, String> {
    let kind = match v {
        "accepted" => ExpectKind::Accepted,
        "tcp-closed" | "tcp_closed" => ExpectKind::TcpClosed,
        other => {
            return Err(format!(
                "unknown expectation '{other}': alone you may write {}; others need a value, e.g. `{{ echo: last }}`",
                EXPECT_WORDS.join(" or ")
            ));
        }
    };
    Ok(Expectation {
        kind,
        timeout: None,
        strength: Strength::Must,
        reason: None,
        answer: true,
    })
}

/// An expectation written as a map: exactly one thing expected, with an
/// optional deadline, `strength` and `reason`.
fn expectation_of_fields(f: ExpectFields) -> Result<Expectation, String> {
    let mut kinds = Vec::new();
    if f.accepted.is_some() {
        kinds.push(ExpectKind::Accepted);
    }
    if let Some(r) = f.refused {
        kinds.push(ExpectKind::Refused {
            status: r.status,
            headers: r.headers,
        });
    }
    if let Some(e) = f.echo {
        kinds.push(ExpectKind::Echo(if e == "last" {
            EchoOf::Last
        } else {
            EchoOf::Client(e)
        }));
    }
    if let Some(m) = f.message {
        match (m.text, m.binary) {
            (Some(p), None) => kinds.push(ExpectKind::Message {
                kind: DataKind::Text,
                payload: p,
            }),
            (None, Some(p)) => kinds.push(ExpectKind::Message {
                kind: DataKind::Binary,
                payload: p,
            }),
            _ => {
                return Err("a message is either `{ text: ... }` or `{ binary: ... }`".into());
            }
        }
    }
    if let Some(fr) = f.frame {
        kinds.push(ExpectKind::Frame {
            opcode: fr.opcode,
            fin: fr.fin,
            payload: fr.payload,
        });
    }
    if let Some(p) = f.pong {
        kinds.push(ExpectKind::Pong(p.0));
    }
    if let Some(c) = f.close {
        kinds.push(ExpectKind::Close(c.0));
    }
    if let Some(c) = f.fail {
        kinds.push(ExpectKind::Fail(c.0));
    }
    if let Some(s) = f.silence {
        kinds.push(ExpectKind::Silence(s));
    }
    if f.tcp_closed.is_some() {
        kinds.push(ExpectKind::TcpClosed);
    }
    if kinds.len() != 1 {
        return Err(format!(
            "an expect step expects exactly one thing: one of {}",
            EXPECT_NAMES.join(", ")
        ));
    }
    let strength = match (f.strength, f.otherwise) {
        (None, None) => Strength::Must,
        (Some(s), None) => s,
        (None, Some(Otherwise::NonStrict)) | (Some(Strength::Should), Some(_)) => Strength::Should,
        (Some(s), Some(_)) => {
            return Err(format!(
                "`otherwise: non-strict` means `strength: should`, not `strength: {}`: write only `strength`",
                s.word()
            ));
        }
    };
    if strength == Strength::Must && f.reason.is_some() {
        return Err(
            "`reason` says why an expectation is only `should` or `may`; a `must` has none (quote its MUST in `requirement`)"
                .into(),
        );
    }
    let kind = kinds.remove(0);
    if f.answer.is_some() && !matches!(kind, ExpectKind::Close(_)) {
        return Err(
            "`answer` says whether the runner answers the close frame a `close` expectation waits for; other expectations have none"
                .into(),
        );
    }
    Ok(Expectation {
        kind,
        timeout: f.timeout,
        strength,
        reason: f.reason,
        answer: f.answer.unwrap_or(true),
    })
}

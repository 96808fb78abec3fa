//! The scenario model: what one YAML file says, as Rust data.
//!
//! A scenario is a list of steps played by one or more clients against a
//! server, plus metadata that reports and grades key on. The types here are
//! exactly the YAML format documented in the book's *Scenario format*
//! appendix; every struct rejects unknown fields, so a typo is an error with a
//! line and column instead of a silently ignored key.
//!
//! Several values have a short form and a long form (`send: { text: "Hi" }`
//! versus a payload map, `close: 1000` versus `close: { code: 1000 }`). Those
//! are written as small hand-made [`Deserialize`] impls that look at the YAML
//! shape first and then hand the map to a derived struct, so error messages
//! stay precise.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use crate::hex::Hex;

/// One scenario file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Unique, stable identifier (`lengths.16bit-126`): reports and grades key on it.
    pub id: String,
    /// One line saying what is checked, as a sentence.
    pub title: String,
    /// The RFC 6455 section the scenario checks (`"5.2"`).
    #[serde(default)]
    pub rfc: Option<String>,
    /// The requirement quoted from the RFC, shown on failure.
    #[serde(default)]
    pub requirement: Option<String>,
    /// The Autobahn TestSuite case this scenario covers, when one exists.
    #[serde(default)]
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
    /// What to check in your server when this fails.
    #[serde(default)]
    pub hint: Option<String>,
    /// Default deadline for each step of this scenario (overrides `--timeout`).
    #[serde(default)]
    pub timeout: Option<Dur>,
    /// The steps, played in order.
    pub steps: Vec<Step>,
}

fn one_point() -> u32 {
    1
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

/// A duration written with a unit: `500ms`, `2s`, `1.5s`, `1m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dur(pub Duration);

impl Dur {
    /// Parses `500ms`, `2s`, `1.5s` or `1m`.
    pub fn parse(text: &str) -> Result<Dur, String> {
        let text = text.trim();
        let (number, unit_ms) = if let Some(n) = text.strip_suffix("ms") {
            (n, 1.0)
        } else if let Some(n) = text.strip_suffix('s') {
            (n, 1000.0)
        } else if let Some(n) = text.strip_suffix('m') {
            (n, 60_000.0)
        } else {
            return Err(format!(
                "duration '{text}' needs a unit: write it like 500ms, 2s or 1m"
            ));
        };
        let value: f64 = number
            .trim()
            .parse()
            .map_err(|_| format!("'{text}' is not a duration: write it like 500ms, 2s or 1m"))?;
        let ms = value * unit_ms;
        if !ms.is_finite() || !(0.0..=3_600_000.0).contains(&ms) {
            return Err(format!("duration '{text}' is out of range (0 to 1 hour)"));
        }
        Ok(Dur(Duration::from_micros((ms * 1000.0) as u64)))
    }
}

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if ms % 1000 == 0 && ms > 0 {
            write!(f, "{} s", ms / 1000)
        } else {
            write!(f, "{ms} ms")
        }
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Dur::parse(&text).map_err(de::Error::custom)
    }
}

/// One step: an action, played by a client (`as: alice`, default `client`).
#[derive(Debug, Clone)]
pub struct Step {
    /// The client that plays the step; `None` is the default client.
    pub client: Option<String>,
    /// What the step does.
    pub action: Action,
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

impl<'de> Deserialize<'de> for Step {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct StepVisitor;
        impl<'de> Visitor<'de> for StepVisitor {
            type Value = Step;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(
                    f,
                    "a step such as `send: {{ text: Hello }}` or `disconnect`"
                )
            }
            fn visit_str<E: de::Error>(self, word: &str) -> Result<Step, E> {
                let action = match word {
                    "handshake" => Action::Handshake(HandshakeSpec::default()),
                    "disconnect" => Action::Disconnect,
                    other => {
                        return Err(E::custom(format!(
                            "unknown step '{other}': only `handshake` and `disconnect` may be \
                             written alone; other steps need a value, e.g. `send: {{ text: Hello }}`"
                        )));
                    }
                };
                Ok(Step {
                    client: None,
                    action,
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Step, A::Error> {
                let f = StepFields::deserialize(de::value::MapAccessDeserializer::new(map))?;
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
                        })
                    }
                    0 => Err(de::Error::custom(format!(
                        "a step needs one of {}",
                        STEP_NAMES.join(", ")
                    ))),
                    _ => {
                        let names: Vec<&str> = actions.iter().map(|(n, _)| *n).collect();
                        Err(de::Error::custom(format!(
                            "one step does one thing, but this one has {}: start a new `- ` item for each",
                            names.join(" and ")
                        )))
                    }
                }
            }
        }
        d.deserialize_any(StepVisitor)
    }
}

/// The opening handshake a client sends.
///
/// The default is a correct RFC 6455 request for the target's host and path.
/// `headers` edits it: a value replaces the default header of that name (the
/// spelling you write is the spelling sent, so `upgrade: websocket` re-cases
/// it), a new name is added, and `null` removes the header. `raw` replaces the
/// whole request with your own text.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandshakeSpec {
    /// Request path; defaults to the target's path.
    #[serde(default)]
    pub path: Option<String>,
    /// Request method; defaults to `GET`.
    #[serde(default)]
    pub method: Option<String>,
    /// HTTP version after `HTTP/`; defaults to `1.1`.
    #[serde(default)]
    pub http: Option<String>,
    /// Header edits, in order: replace, add, or remove (`null`).
    #[serde(default, deserialize_with = "ordered_headers")]
    pub headers: Vec<(String, Option<String>)>,
    /// The whole request as text. `{host}`, `{path}` and `{key}` are
    /// substituted; lines ending in a bare newline are sent with CRLF.
    #[serde(default)]
    pub raw: Option<String>,
    /// Cut the request into separate writes, as a slow client does
    /// (`chunks: 1` is one byte at a time): a server must not take one
    /// `read` for the whole request.
    #[serde(default)]
    pub chunks: Option<Chunks>,
    /// Wait this long between the chunks.
    #[serde(default)]
    pub pause: Option<Dur>,
    /// A message or control frame sent right behind the request, in the same
    /// write, before the response is read: the eager client. RFC 6455 4.1
    /// asks a client to wait for the 101 first, but a server that reads the
    /// request with a large buffer must still not throw away what followed
    /// its blank line.
    #[serde(default)]
    pub then: Option<SendSpec>,
}

fn ordered_headers<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Vec<(String, Option<String>)>, D::Error> {
    struct HeaderVisitor;
    impl<'de> Visitor<'de> for HeaderVisitor {
        type Value = Vec<(String, Option<String>)>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            write!(f, "a map of header names to values (or null to remove one)")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some((name, value)) = map.next_entry::<String, Option<ScalarText>>()? {
                out.push((name, value.map(|v| v.0)));
            }
            Ok(out)
        }
    }
    d.deserialize_map(HeaderVisitor)
}

/// A YAML scalar read as text, so `Sec-WebSocket-Version: 13` works unquoted.
#[derive(Debug, Clone)]
struct ScalarText(String);

impl<'de> Deserialize<'de> for ScalarText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ScalarText;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(f, "a text, number or boolean")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// The bytes of a message or frame payload.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    /// UTF-8 text, written as a plain YAML string.
    Text(String),
    /// Exact bytes: `{ hex: "ce ba e1 bd b9" }`.
    Hex(Hex),
    /// `len` bytes repeating `fill` (default `*`): `{ len: 126 }`.
    Fill {
        /// Number of bytes.
        len: usize,
        /// The pattern repeated (and cut at `len`).
        fill: String,
    },
    /// `len` seeded pseudo-random bytes: `{ random: 1000, seed: 7 }`.
    /// In a text message they are ASCII letters and digits, so the text stays valid.
    Random {
        /// Number of bytes.
        len: usize,
        /// The seed; the same seed gives the same bytes.
        seed: u64,
    },
    /// A JSON document, serialized compactly: `{ json: { a: 1 } }`.
    Json(serde_json::Value),
}

impl Default for Payload {
    fn default() -> Self {
        Payload::Text(String::new())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PayloadFields {
    hex: Option<Hex>,
    len: Option<usize>,
    fill: Option<String>,
    random: Option<usize>,
    seed: Option<u64>,
    json: Option<serde_json::Value>,
}

/// The largest payload a scenario may ask for (64 MiB): enough to test a
/// server's size limits without letting a typo exhaust memory.
pub const MAX_PAYLOAD: usize = 64 * 1024 * 1024;

impl<'de> Deserialize<'de> for Payload {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Payload;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(
                    f,
                    "a payload: a text, or one of {{ hex }}, {{ len, fill }}, {{ random, seed }}, {{ json }}"
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Payload, E> {
                Ok(Payload::Text(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Payload, E> {
                Ok(Payload::Text(v.to_string()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Payload, E> {
                Ok(Payload::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Payload, A::Error> {
                let f = PayloadFields::deserialize(de::value::MapAccessDeserializer::new(map))?;
                let too_big = |len: usize| -> Result<usize, A::Error> {
                    if len > MAX_PAYLOAD {
                        Err(de::Error::custom(format!(
                            "payload of {len} bytes is larger than the {MAX_PAYLOAD}-byte maximum"
                        )))
                    } else {
                        Ok(len)
                    }
                };
                let kinds = [
                    f.hex.is_some(),
                    f.len.is_some() || f.fill.is_some(),
                    f.random.is_some() || f.seed.is_some(),
                    f.json.is_some(),
                ]
                .iter()
                .filter(|k| **k)
                .count();
                if kinds > 1 {
                    return Err(de::Error::custom(
                        "a payload is one of { hex }, { len, fill }, { random, seed } or { json }, not several",
                    ));
                }
                if let Some(hex) = f.hex {
                    return Ok(Payload::Hex(hex));
                }
                if let Some(json) = f.json {
                    return Ok(Payload::Json(json));
                }
                if f.random.is_some() || f.seed.is_some() {
                    let len = f.random.ok_or_else(|| {
                        de::Error::custom("`seed` needs `random: LEN`, the number of bytes")
                    })?;
                    return Ok(Payload::Random {
                        len: too_big(len)?,
                        seed: f.seed.unwrap_or(0),
                    });
                }
                if f.len.is_some() || f.fill.is_some() {
                    let len = f.len.ok_or_else(|| {
                        de::Error::custom("`fill` needs `len`, the number of bytes to produce")
                    })?;
                    let fill = f.fill.unwrap_or_else(|| "*".to_string());
                    if fill.is_empty() {
                        return Err(de::Error::custom("`fill` must not be empty"));
                    }
                    return Ok(Payload::Fill {
                        len: too_big(len)?,
                        fill,
                    });
                }
                Ok(Payload::default())
            }
        }
        d.deserialize_any(V)
    }
}

/// A close frame to send: `close: 1000`, `close: { code: 1000, reason: bye }`,
/// `close: {}` (no body) or `close: { payload: { hex: "03" } }` (any bytes).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CloseSpec {
    /// The status code, if any.
    pub code: Option<u16>,
    /// The reason text (only with a code).
    pub reason: String,
    /// Exact body bytes, replacing code and reason (for broken close frames).
    pub payload: Option<Payload>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CloseFields {
    code: Option<u16>,
    #[serde(default)]
    reason: String,
    payload: Option<Payload>,
}

impl<'de> Deserialize<'de> for CloseSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CloseSpec;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(
                    f,
                    "a close code (1000), {{ code, reason }}, {{ payload }} or {{}}"
                )
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<CloseSpec, E> {
                let code = u16::try_from(v)
                    .map_err(|_| E::custom(format!("close code {v} does not fit in 16 bits")))?;
                Ok(CloseSpec {
                    code: Some(code),
                    ..CloseSpec::default()
                })
            }
            fn visit_unit<E: de::Error>(self) -> Result<CloseSpec, E> {
                Ok(CloseSpec::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<CloseSpec, A::Error> {
                let f = CloseFields::deserialize(de::value::MapAccessDeserializer::new(map))?;
                if f.payload.is_some() && (f.code.is_some() || !f.reason.is_empty()) {
                    return Err(de::Error::custom(
                        "`payload` gives the whole close body; do not combine it with `code` or `reason`",
                    ));
                }
                if f.code.is_none() && !f.reason.is_empty() {
                    return Err(de::Error::custom(
                        "a close reason needs a `code` (RFC 6455 5.5.1: the reason follows the code)",
                    ));
                }
                Ok(CloseSpec {
                    code: f.code,
                    reason: f.reason,
                    payload: f.payload,
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// The masking key of a frame the client sends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum MaskSpec {
    /// A key derived from the scenario id (masked, as a client must).
    #[default]
    Auto,
    /// Unmasked (`mask: false`): a protocol error every server must reject.
    Unmasked,
    /// This exact key (`mask: "37fa213d"`).
    Key([u8; 4]),
}

impl<'de> Deserialize<'de> for MaskSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = MaskSpec;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(f, "true, false or a 4-byte key in hex such as \"37fa213d\"")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<MaskSpec, E> {
                Ok(if v {
                    MaskSpec::Auto
                } else {
                    MaskSpec::Unmasked
                })
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<MaskSpec, E> {
                let bytes = crate::hex::parse_hex(v).map_err(E::custom)?;
                let key: [u8; 4] = bytes.as_slice().try_into().map_err(|_| {
                    E::custom(format!(
                        "a masking key is 4 bytes (8 hex digits), '{v}' has {}",
                        bytes.len()
                    ))
                })?;
                Ok(MaskSpec::Key(key))
            }
        }
        d.deserialize_any(V)
    }
}

/// Which length encoding a frame header uses on the wire.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LengthSpec {
    /// The shortest form that fits (what RFC 6455 5.2 requires).
    #[default]
    Minimal,
    /// 7-bit form (payloads up to 125 bytes).
    Bits7,
    /// 126 followed by a 16-bit length.
    Bits16,
    /// 127 followed by a 64-bit length.
    Bits64,
}

impl<'de> Deserialize<'de> for LengthSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = LengthSpec;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(f, "7, 16, 64 or minimal")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<LengthSpec, E> {
                match v {
                    7 => Ok(LengthSpec::Bits7),
                    16 => Ok(LengthSpec::Bits16),
                    64 => Ok(LengthSpec::Bits64),
                    _ => Err(E::custom(format!(
                        "length form {v} does not exist: use 7, 16, 64 or minimal"
                    ))),
                }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<LengthSpec, E> {
                match v {
                    "minimal" => Ok(LengthSpec::Minimal),
                    _ => Err(E::custom(format!(
                        "length form '{v}' does not exist: use 7, 16, 64 or minimal"
                    ))),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// How the bytes of one step are cut into separate TCP writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chunks {
    /// Writes of this many bytes each (`chunks: 1` is the slow client).
    Every(usize),
    /// Writes of these sizes, then the rest in one write (`chunks: [2, 3]`).
    Sizes(Vec<usize>),
}

impl<'de> Deserialize<'de> for Chunks {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Every(usize),
            Sizes(Vec<usize>),
        }
        match Repr::deserialize(d).map_err(|_| {
            de::Error::custom(
                "`chunks` is a size (`chunks: 1`) or a list of sizes (`chunks: [2, 5]`)",
            )
        })? {
            Repr::Every(0) => Err(de::Error::custom("`chunks: 0` would never send anything")),
            Repr::Every(n) => Ok(Chunks::Every(n)),
            Repr::Sizes(v) if v.contains(&0) => {
                Err(de::Error::custom("chunk sizes must be at least 1"))
            }
            Repr::Sizes(v) => Ok(Chunks::Sizes(v)),
        }
    }
}

/// How the bytes of a step reach the socket: all at once, or chopped.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Delivery {
    /// Cut the bytes into these writes.
    #[serde(default)]
    pub chunks: Option<Chunks>,
    /// Wait this long between writes.
    #[serde(default)]
    pub pause: Option<Dur>,
}

/// The kind of message or control frame a `send` step sends.
#[derive(Debug, Clone, PartialEq)]
pub enum SendKind {
    /// A text message.
    Text(Payload),
    /// A binary message.
    Binary(Payload),
    /// A ping.
    Ping(Payload),
    /// An unsolicited pong.
    Pong(Payload),
    /// A close frame.
    Close(CloseSpec),
}

impl SendKind {
    /// The YAML key that names this kind.
    pub fn name(&self) -> &'static str {
        match self {
            SendKind::Text(_) => "text",
            SendKind::Binary(_) => "binary",
            SendKind::Ping(_) => "ping",
            SendKind::Pong(_) => "pong",
            SendKind::Close(_) => "close",
        }
    }
}

/// `send`: one message or control frame, sent the way a client should
/// (masked, FIN set, minimal length) unless told otherwise.
#[derive(Debug, Clone, PartialEq)]
pub struct SendSpec {
    /// What is sent.
    pub kind: SendKind,
    /// Split the message into fragments of these sizes (the last takes the rest).
    pub fragments: Vec<usize>,
    /// Control frames sent between fragments: the first after fragment 1, and so on.
    pub between: Vec<SendKind>,
    /// The masking key for every frame.
    pub mask: MaskSpec,
    /// RSV bits (0..=7) set on the first frame.
    pub rsv: u8,
    /// Length form for every frame.
    pub length: LengthSpec,
    /// How the bytes are written.
    pub delivery: Delivery,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SendFields {
    text: Option<Payload>,
    binary: Option<Payload>,
    ping: Option<Payload>,
    pong: Option<Payload>,
    close: Option<CloseSpec>,
    #[serde(default)]
    fragments: Vec<usize>,
    #[serde(default)]
    between: Vec<ControlFields>,
    #[serde(default)]
    mask: MaskSpec,
    #[serde(default)]
    rsv: u8,
    #[serde(default)]
    length: LengthSpec,
    #[serde(default)]
    chunks: Option<Chunks>,
    #[serde(default)]
    pause: Option<Dur>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ControlFields {
    ping: Option<Payload>,
    pong: Option<Payload>,
    close: Option<CloseSpec>,
}

fn exactly_one<E: de::Error>(found: Vec<SendKind>, allowed: &str) -> Result<SendKind, E> {
    let names: Vec<&str> = found.iter().map(SendKind::name).collect();
    let mut found = found;
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(E::custom(format!("say what to send: one of {allowed}"))),
        _ => Err(E::custom(format!(
            "send one thing per step, found {}",
            names.join(" and ")
        ))),
    }
}

impl<'de> Deserialize<'de> for SendSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let f = SendFields::deserialize(d)?;
        let mut found = Vec::new();
        if let Some(p) = f.text {
            found.push(SendKind::Text(p));
        }
        if let Some(p) = f.binary {
            found.push(SendKind::Binary(p));
        }
        if let Some(p) = f.ping {
            found.push(SendKind::Ping(p));
        }
        if let Some(p) = f.pong {
            found.push(SendKind::Pong(p));
        }
        if let Some(c) = f.close {
            found.push(SendKind::Close(c));
        }
        let kind = exactly_one::<D::Error>(found, "text, binary, ping, pong, close")?;
        let mut between = Vec::new();
        for c in f.between {
            let mut found = Vec::new();
            if let Some(p) = c.ping {
                found.push(SendKind::Ping(p));
            }
            if let Some(p) = c.pong {
                found.push(SendKind::Pong(p));
            }
            if let Some(p) = c.close {
                found.push(SendKind::Close(p));
            }
            between.push(exactly_one::<D::Error>(found, "ping, pong, close")?);
        }
        if f.rsv > 7 {
            return Err(de::Error::custom(format!(
                "rsv is 3 bits (0..=7), {} does not fit",
                f.rsv
            )));
        }
        Ok(SendSpec {
            kind,
            fragments: f.fragments,
            between,
            mask: f.mask,
            rsv: f.rsv,
            length: f.length,
            delivery: Delivery {
                chunks: f.chunks,
                pause: f.pause,
            },
        })
    }
}

/// An opcode, by name (`text`) or number (`0x3`, `11`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpcodeSpec(pub u8);

/// Opcode names in the order of their numbers.
const OPCODE_NAMES: &[(&str, u8)] = &[
    ("continuation", 0),
    ("text", 1),
    ("binary", 2),
    ("close", 8),
    ("ping", 9),
    ("pong", 10),
];

impl OpcodeSpec {
    /// The opcode's name, or `reserved-0xN`.
    pub fn name(self) -> String {
        OPCODE_NAMES
            .iter()
            .find(|(_, n)| *n == self.0)
            .map(|(name, _)| name.to_string())
            .unwrap_or_else(|| format!("reserved-0x{:x}", self.0))
    }
}

impl<'de> Deserialize<'de> for OpcodeSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = OpcodeSpec;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(
                    f,
                    "an opcode name (text, binary, continuation, close, ping, pong) or number 0..=15"
                )
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<OpcodeSpec, E> {
                if v > 15 {
                    return Err(E::custom(format!(
                        "opcode {v} does not fit in 4 bits (0..=15)"
                    )));
                }
                Ok(OpcodeSpec(v as u8))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<OpcodeSpec, E> {
                if let Some(hex) = v.strip_prefix("0x") {
                    let n = u8::from_str_radix(hex, 16)
                        .map_err(|_| E::custom(format!("'{v}' is not an opcode number")))?;
                    return self.visit_u64(u64::from(n));
                }
                OPCODE_NAMES
                    .iter()
                    .find(|(name, _)| *name == v)
                    .map(|(_, n)| OpcodeSpec(*n))
                    .ok_or_else(|| {
                        E::custom(format!(
                            "unknown opcode '{v}', expected one of continuation, text, binary, close, ping, pong or a number"
                        ))
                    })
            }
        }
        d.deserialize_any(V)
    }
}

/// `frame`: a single frame with every header field chosen.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrameSpec {
    /// The opcode.
    pub opcode: OpcodeSpec,
    /// The FIN bit (default true).
    #[serde(default = "yes")]
    pub fin: bool,
    /// The three RSV bits as a number: 4 = RSV1, 2 = RSV2, 1 = RSV3.
    #[serde(default)]
    pub rsv: u8,
    /// The masking key.
    #[serde(default)]
    pub mask: MaskSpec,
    /// The length form on the wire.
    #[serde(default)]
    pub length: LengthSpec,
    /// A length to put in the header instead of the real one (a lie).
    #[serde(default)]
    pub claimed_len: Option<u64>,
    /// The payload.
    #[serde(default)]
    pub payload: Payload,
    /// Chop the writes.
    #[serde(default)]
    pub chunks: Option<Chunks>,
    /// Pause between chopped writes.
    #[serde(default)]
    pub pause: Option<Dur>,
}

fn yes() -> bool {
    true
}

/// `raw`: bytes in hex, sent as they are: `raw: "81 85 37fa213d 7f9f4d51 58"`.
#[derive(Debug, Clone, PartialEq)]
pub struct RawSpec {
    /// The bytes.
    pub bytes: Hex,
    /// How they are written.
    pub delivery: Delivery,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFields {
    hex: Hex,
    chunks: Option<Chunks>,
    pause: Option<Dur>,
}

impl<'de> Deserialize<'de> for RawSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawSpec;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(f, "hex bytes, or {{ hex, chunks, pause }}")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawSpec, E> {
                Ok(RawSpec {
                    bytes: Hex(crate::hex::parse_hex(v).map_err(E::custom)?),
                    delivery: Delivery::default(),
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawSpec, A::Error> {
                let f = RawFields::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(RawSpec {
                    bytes: f.hex,
                    delivery: Delivery {
                        chunks: f.chunks,
                        pause: f.pause,
                    },
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// `expect`: what the server must do next, with an optional deadline.
#[derive(Debug, Clone, PartialEq)]
pub struct Expectation {
    /// What is expected.
    pub kind: ExpectKind,
    /// The deadline for this step (default: the scenario's or `--timeout`).
    pub timeout: Option<Dur>,
    /// `otherwise: non-strict`: when not met, the scenario is non-strict
    /// (allowed but not the best behaviour) and goes on.
    pub otherwise_non_strict: bool,
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
    otherwise: Option<Otherwise>,
}

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

struct PongRepr(PongOf);

impl<'de> Deserialize<'de> for PongRepr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Payload::deserialize(d)? {
            Payload::Text(t) if t == "last" => Ok(PongRepr(PongOf::Last)),
            other => Ok(PongRepr(PongOf::Payload(other))),
        }
    }
}

struct CodesRepr(Codes);

impl<'de> Deserialize<'de> for CodesRepr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CodesRepr;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(
                    f,
                    "a list of close codes such as [1000, 1001], one code, or `any`"
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<CodesRepr, E> {
                if v == "any" {
                    Ok(CodesRepr(Vec::new()))
                } else {
                    Err(E::custom(format!(
                        "'{v}' is not a list of close codes: write [1000] or `any`"
                    )))
                }
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<CodesRepr, E> {
                let code = u16::try_from(v)
                    .map_err(|_| E::custom(format!("close code {v} does not fit in 16 bits")))?;
                Ok(CodesRepr(vec![code]))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<CodesRepr, A::Error> {
                let mut codes = Vec::new();
                while let Some(code) = seq.next_element::<u16>()? {
                    codes.push(code);
                }
                Ok(CodesRepr(codes))
            }
        }
        d.deserialize_any(V)
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

impl<'de> Deserialize<'de> for Expectation {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Expectation;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(
                    f,
                    "an expectation such as `accepted`, `tcp-closed` or `{{ close: [1000] }}`"
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Expectation, E> {
                let kind = match v {
                    "accepted" => ExpectKind::Accepted,
                    "tcp-closed" | "tcp_closed" => ExpectKind::TcpClosed,
                    other => {
                        return Err(E::custom(format!(
                            "unknown expectation '{other}': alone you may write {}; others need a value, e.g. `{{ echo: last }}`",
                            EXPECT_WORDS.join(" or ")
                        )));
                    }
                };
                Ok(Expectation {
                    kind,
                    timeout: None,
                    otherwise_non_strict: false,
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Expectation, A::Error> {
                let f = ExpectFields::deserialize(de::value::MapAccessDeserializer::new(map))?;
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
                            return Err(de::Error::custom(
                                "a message is either `{ text: ... }` or `{ binary: ... }`",
                            ));
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
                    return Err(de::Error::custom(format!(
                        "an expect step expects exactly one thing: one of {}",
                        EXPECT_NAMES.join(", ")
                    )));
                }
                Ok(Expectation {
                    kind: kinds.remove(0),
                    timeout: f.timeout,
                    otherwise_non_strict: f.otherwise.is_some(),
                })
            }
        }
        d.deserialize_any(V)
    }
}

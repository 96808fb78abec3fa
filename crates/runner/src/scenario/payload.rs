//! The bytes a step sends or expects (`Payload`) and close frame bodies.

use serde::{Deserialize, Deserializer};

use super::shape::Shapes;
use crate::hex::Hex;

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

// A plain text or one of four maps; the messages for a wrong combination
// ("not several", "`seed` needs `random`") and the `expecting` text that
// lists the forms are part of the format, so the shapes are read by
// [`Shapes`], not an untagged enum ("did not match any variant").
impl<'de> Deserialize<'de> for Payload {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Shapes::<_, _, ()> {
            expecting: "a payload: a text, or one of { hex }, { len, fill }, { random, seed }, { json }",
            text: Some(|v| Ok(Payload::Text(v.to_string()))),
            number: Some(|v| Ok(Payload::Text(v.to_string()))),
            nothing: Some(Payload::default),
            map: Some(payload_of_fields),
            ..Shapes::NONE
        })
    }
}

/// A payload written as a map: exactly one of its four forms.
fn payload_of_fields(f: PayloadFields) -> Result<Payload, String> {
    let too_big = |len: usize| -> Result<usize, String> {
        if len > MAX_PAYLOAD {
            Err(format!(
                "payload of {len} bytes is larger than the {MAX_PAYLOAD}-byte maximum"
            ))
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
        return Err(
            "a payload is one of { hex }, { len, fill }, { random, seed } or { json }, not several"
                .into(),
        );
    }
    if let Some(hex) = f.hex {
        return Ok(Payload::Hex(hex));
    }
    if let Some(json) = f.json {
        return Ok(Payload::Json(json));
    }
    if f.random.is_some() || f.seed.is_some() {
        let len = f
            .random
            .ok_or("`seed` needs `random: LEN`, the number of bytes")?;
        return Ok(Payload::Random {
            len: too_big(len)?,
            seed: f.seed.unwrap_or(0),
        });
    }
    if f.len.is_some() || f.fill.is_some() {
        let len = f
            .len
            .ok_or("`fill` needs `len`, the number of bytes to produce")?;
        let fill = f.fill.unwrap_or_else(|| "*".to_string());
        if fill.is_empty() {
            return Err("`fill` must not be empty".into());
        }
        return Ok(Payload::Fill {
            len: too_big(len)?,
            fill,
        });
    }
    Ok(Payload::default())
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

// A bare code, `{}` or a map; the 16-bit and code-before-reason rules
// have their own messages.
impl<'de> Deserialize<'de> for CloseSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Shapes::<_, _, ()> {
            expecting: "a close code (1000), { code, reason }, { payload } or {}",
            number: Some(|v| {
                Ok(CloseSpec {
                    code: Some(close_code(v)?),
                    ..CloseSpec::default()
                })
            }),
            nothing: Some(CloseSpec::default),
            map: Some(close_of_fields),
            ..Shapes::NONE
        })
    }
}

/// A close code as written, which must fit in 16 bits.
pub(super) fn close_code(v: u64) -> Result<u16, String> {
    u16::try_from(v).map_err(|_| format!("close code {v} does not fit in 16 bits"))
}

/// A close written as a map: a code and reason, or the whole body.
fn close_of_fields(f: CloseFields) -> Result<CloseSpec, String> {
    if f.payload.is_some() && (f.code.is_some() || !f.reason.is_empty()) {
        return Err(
            "`payload` gives the whole close body; do not combine it with `code` or `reason`"
                .into(),
        );
    }
    if f.code.is_none() && !f.reason.is_empty() {
        return Err(
            "a close reason needs a `code` (RFC 6455 5.5.1: the reason follows the code)".into(),
        );
    }
    Ok(CloseSpec {
        code: f.code,
        reason: f.reason,
        payload: f.payload,
    })
}

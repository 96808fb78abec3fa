//! How a step's bytes reach the socket (whole or in chunks, with pauses),
//! and the `raw` step that sends hex bytes as they are.

use serde::Deserialize;
use serde::de::{self, Deserializer};

use super::Dur;
use super::shape::Shapes;
use crate::hex::Hex;

/// How the bytes of one step are cut into separate TCP writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chunks {
    /// Writes of this many bytes each (`chunks: 1` is the slow client).
    Every(usize),
    /// Writes of these sizes, then the rest in one write (`chunks: [2, 3]`).
    Sizes(Vec<usize>),
}

// Hand-written around an untagged enum: its "did not match any variant"
// is replaced by one message that shows both forms.
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
    pub chunks: Option<Chunks>,
    /// Wait this long between writes.
    pub pause: Option<Dur>,
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

// A bare hex string or a map, read by [`Shapes`]: an untagged enum would
// turn an unknown field or a bad hex digit in the map into "did not match
// any variant".
impl<'de> Deserialize<'de> for RawSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Shapes::<_, _, ()> {
            expecting: "hex bytes, or { hex, chunks, pause }",
            text: Some(|v| {
                Ok(RawSpec {
                    bytes: Hex(crate::hex::parse_hex(v)?),
                    delivery: Delivery::default(),
                })
            }),
            map: Some(|f: RawFields| {
                Ok(RawSpec {
                    bytes: f.hex,
                    delivery: Delivery {
                        chunks: f.chunks,
                        pause: f.pause,
                    },
                })
            }),
            ..Shapes::NONE
        })
    }
}

//! The frame header fields a step may choose: opcode, mask, length form,
//! and the `frame` step that sets every one of them.

use serde::{Deserialize, Deserializer};
use wsconform_wire::OpCode;

use super::shape::Shapes;
use super::{Chunks, Dur, Payload};

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

// `true`, `false` or a hex key, with a message that says how long a key
// is; like the length form and the opcode below, read by [`Shapes`].
impl<'de> Deserialize<'de> for MaskSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Shapes::<_, (), ()> {
            expecting: "true, false or a 4-byte key in hex such as \"37fa213d\"",
            boolean: Some(|v| {
                Ok(if v {
                    MaskSpec::Auto
                } else {
                    MaskSpec::Unmasked
                })
            }),
            text: Some(|v| {
                let bytes = crate::hex::parse_hex(v)?;
                let key: [u8; 4] = bytes.as_slice().try_into().map_err(|_| {
                    format!(
                        "a masking key is 4 bytes (8 hex digits), '{v}' has {}",
                        bytes.len()
                    )
                })?;
                Ok(MaskSpec::Key(key))
            }),
            ..Shapes::NONE
        })
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
        d.deserialize_any(Shapes::<_, (), ()> {
            expecting: "7, 16, 64 or minimal",
            number: Some(|v| match v {
                7 => Ok(LengthSpec::Bits7),
                16 => Ok(LengthSpec::Bits16),
                64 => Ok(LengthSpec::Bits64),
                _ => Err(format!(
                    "length form {v} does not exist: use 7, 16, 64 or minimal"
                )),
            }),
            text: Some(|v| match v {
                "minimal" => Ok(LengthSpec::Minimal),
                _ => Err(format!(
                    "length form '{v}' does not exist: use 7, 16, 64 or minimal"
                )),
            }),
            ..Shapes::NONE
        })
    }
}

/// An opcode, by name (`text`) or number (`0x3`, `11`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpcodeSpec(pub u8);

impl OpcodeSpec {
    /// The opcode's name as scenarios write it (`continuation`, `text`, …),
    /// or `reserved-0xN`: the wire crate's [`OpCode::long_name`].
    pub fn name(self) -> String {
        OpCode::from_u8(self.0).long_name()
    }

    /// The opcode a scenario names (`text`, `ping`, …); reserved opcodes are
    /// written as numbers, never by name.
    fn named(name: &str) -> Option<OpcodeSpec> {
        (0u8..16)
            .map(OpCode::from_u8)
            .find(|op| !op.is_reserved() && op.long_name() == name)
            .map(|op| OpcodeSpec(op.as_u8()))
    }
}

impl<'de> Deserialize<'de> for OpcodeSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Shapes::<_, (), ()> {
            expecting: "an opcode name (text, binary, continuation, close, ping, pong) or number 0..=15",
            number: Some(opcode_number),
            text: Some(|v| {
                if let Some(hex) = v.strip_prefix("0x") {
                    let n = u8::from_str_radix(hex, 16)
                        .map_err(|_| format!("'{v}' is not an opcode number"))?;
                    return opcode_number(u64::from(n));
                }
                OpcodeSpec::named(v).ok_or_else(|| {
                        format!(
                            "unknown opcode '{v}', expected one of continuation, text, binary, close, ping, pong or a number"
                        )
                    })
            }),
            ..Shapes::NONE
        })
    }
}

/// An opcode given as a number, which must fit in 4 bits.
fn opcode_number(v: u64) -> Result<OpcodeSpec, String> {
    if v > 15 {
        return Err(format!("opcode {v} does not fit in 4 bits (0..=15)"));
    }
    Ok(OpcodeSpec(v as u8))
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
    pub claimed_len: Option<u64>,
    /// The payload.
    #[serde(default)]
    pub payload: Payload,
    /// Chop the writes.
    pub chunks: Option<Chunks>,
    /// Pause between chopped writes.
    pub pause: Option<Dur>,
}

fn yes() -> bool {
    true
}

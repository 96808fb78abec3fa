//! The frame header (RFC 6455 §5.2).
//!
//! Every WebSocket message travels in one or more *frames*. A frame starts with
//! a header of 2 to 14 bytes, laid out bit by bit like this (from the RFC):
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-------+-+-------------+-------------------------------+
//! |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//! |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//! |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//! | |1|2|3|       |K|             |                               |
//! +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//! |     Extended payload length continued, if payload len == 127  |
//! + - - - - - - - - - - - - - - - +-------------------------------+
//! |                               |Masking-key, if MASK set to 1  |
//! +-------------------------------+-------------------------------+
//! | Masking-key (continued)       |          Payload Data         |
//! +-------------------------------- - - - - - - - - - - - - - - - +
//! ```
//!
//! Parsing and validating are kept apart on purpose: [`FrameHeader::parse`]
//! accepts *any* bytes that have the shape of a header, and
//! [`check_client_frame`] / [`check_server_frame`] apply the rules. That way a
//! test tool can build and read frames that break the rules, and a server can
//! report exactly which rule a frame broke.

use crate::error::{FrameError, ProtocolError};
use crate::mask::apply_mask;

/// The 4-bit opcode: what kind of frame this is.
///
/// Opcodes 0x3-0x7 are reserved for future data frames and 0xB-0xF for future
/// control frames; they are kept as [`OpCode::Reserved`] so a header with one
/// can still be parsed, shown and rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpCode {
    /// 0x0: the next fragment of a message begun by a text or binary frame.
    Continuation,
    /// 0x1: the first (or only) frame of a text message.
    Text,
    /// 0x2: the first (or only) frame of a binary message.
    Binary,
    /// 0x8: close.
    Close,
    /// 0x9: ping; the peer must answer with a pong carrying the same payload.
    Ping,
    /// 0xA: pong.
    Pong,
    /// 0x3-0x7 and 0xB-0xF.
    Reserved(u8),
}

impl OpCode {
    /// Decodes the low four bits of `byte`.
    pub fn from_u8(byte: u8) -> OpCode {
        match byte & 0x0F {
            0x0 => OpCode::Continuation,
            0x1 => OpCode::Text,
            0x2 => OpCode::Binary,
            0x8 => OpCode::Close,
            0x9 => OpCode::Ping,
            0xA => OpCode::Pong,
            other => OpCode::Reserved(other),
        }
    }

    /// The 4-bit value.
    pub fn as_u8(self) -> u8 {
        match self {
            OpCode::Continuation => 0x0,
            OpCode::Text => 0x1,
            OpCode::Binary => 0x2,
            OpCode::Close => 0x8,
            OpCode::Ping => 0x9,
            OpCode::Pong => 0xA,
            OpCode::Reserved(v) => v & 0x0F,
        }
    }

    /// Control frames are the opcodes with the high bit set (0x8-0xF), §5.5.
    pub fn is_control(self) -> bool {
        self.as_u8() & 0x08 != 0
    }

    /// Data frames: continuation, text and binary (and reserved 0x3-0x7).
    pub fn is_data(self) -> bool {
        !self.is_control()
    }

    /// Is this one of the reserved opcodes?
    pub fn is_reserved(self) -> bool {
        matches!(self, OpCode::Reserved(_))
    }

    /// The short name a frame summary shows: `cont`, `text`, `binary`,
    /// `close`, `ping`, `pong`, `opcode=0x3(reserved)`.
    ///
    /// ```
    /// use wsconform_wire::OpCode;
    /// assert_eq!(OpCode::Continuation.name(), "cont");
    /// assert_eq!(OpCode::from_u8(0xB).name(), "opcode=0xb(reserved)");
    /// ```
    pub fn name(self) -> String {
        match self {
            OpCode::Continuation => "cont".into(),
            OpCode::Reserved(v) => format!("opcode=0x{v:x}(reserved)"),
            named => named.long_name(),
        }
    }

    /// The name scenarios write and descriptions use: `continuation`,
    /// `text`, `binary`, `close`, `ping`, `pong`, `reserved-0x3`.
    ///
    /// ```
    /// use wsconform_wire::OpCode;
    /// assert_eq!(OpCode::Continuation.long_name(), "continuation");
    /// assert_eq!(OpCode::from_u8(3).long_name(), "reserved-0x3");
    /// ```
    pub fn long_name(self) -> String {
        match self {
            OpCode::Continuation => "continuation".into(),
            OpCode::Text => "text".into(),
            OpCode::Binary => "binary".into(),
            OpCode::Close => "close".into(),
            OpCode::Ping => "ping".into(),
            OpCode::Pong => "pong".into(),
            OpCode::Reserved(v) => format!("reserved-0x{v:x}"),
        }
    }
}

/// How the payload length is written in the header.
///
/// The RFC says the *minimal* number of bytes MUST be used, but a receiver is
/// not required to reject a longer form. A test tool sends non-minimal forms
/// on purpose, to check that servers decode them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LengthForm {
    /// Whatever form is shortest for the length.
    Minimal,
    /// The length in the 7 bits of the second byte (0..=125).
    Bits7,
    /// 126, then a 16-bit big-endian length.
    Bits16,
    /// 127, then a 64-bit big-endian length (top bit 0).
    Bits64,
}

impl LengthForm {
    /// The shortest form that can carry `len`.
    pub fn minimal_for(len: u64) -> LengthForm {
        match len {
            0..=125 => LengthForm::Bits7,
            126..=0xFFFF => LengthForm::Bits16,
            _ => LengthForm::Bits64,
        }
    }

    /// Bytes the length takes after the first header byte (incl. the 7-bit field).
    fn extra_bytes(self) -> usize {
        match self {
            LengthForm::Minimal | LengthForm::Bits7 => 0,
            LengthForm::Bits16 => 2,
            LengthForm::Bits64 => 8,
        }
    }
}

/// A parsed frame header. The payload follows it on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FrameHeader {
    /// FIN: this is the last frame of its message.
    pub fin: bool,
    /// RSV1: reserved for extensions (e.g. permessage-deflate).
    pub rsv1: bool,
    /// RSV2: reserved for extensions.
    pub rsv2: bool,
    /// RSV3: reserved for extensions.
    pub rsv3: bool,
    /// What kind of frame this is.
    pub opcode: OpCode,
    /// The masking key, present when the MASK bit is set.
    pub mask: Option<[u8; 4]>,
    /// The payload length in bytes. Just a number: parsing a header that claims
    /// 2^63 bytes allocates nothing.
    pub payload_len: u64,
}

impl FrameHeader {
    /// A header with FIN set, no RSV bits, no mask.
    pub fn new(opcode: OpCode, payload_len: u64) -> FrameHeader {
        FrameHeader {
            fin: true,
            rsv1: false,
            rsv2: false,
            rsv3: false,
            opcode,
            mask: None,
            payload_len,
        }
    }

    /// The RSV bits as a number 0..=7 (RSV1 = 4, RSV2 = 2, RSV3 = 1).
    pub fn rsv_bits(&self) -> u8 {
        (u8::from(self.rsv1) << 2) | (u8::from(self.rsv2) << 1) | u8::from(self.rsv3)
    }

    /// Reads a header from the start of `buf`.
    ///
    /// Returns `None` while `buf` is too short to hold the whole header (read
    /// more bytes and call again), otherwise the header and its length in bytes
    /// (2 to 14). Any byte values form *some* header; whether it is allowed is
    /// decided by [`check_client_frame`] or [`check_server_frame`].
    ///
    /// ```
    /// use wsconform_wire::{FrameHeader, OpCode};
    /// // RFC 6455 §5.7: a masked "Hello" from a client.
    /// let bytes = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
    /// let (h, len) = FrameHeader::parse(&bytes).unwrap();
    /// assert!(h.fin);
    /// assert_eq!(h.opcode, OpCode::Text);
    /// assert_eq!(h.mask, Some([0x37, 0xfa, 0x21, 0x3d]));
    /// assert_eq!((h.payload_len, len), (5, 6));
    /// assert_eq!(FrameHeader::parse(&bytes[..3]), None); // the key is cut off
    /// ```
    pub fn parse(buf: &[u8]) -> Option<(FrameHeader, usize)> {
        Self::parse_with_form(buf).map(|(h, _, n)| (h, n))
    }

    /// Like [`parse`](Self::parse), and also tells which length form was on
    /// the wire (useful to annotate non-minimal encodings).
    // ANCHOR: parse_header
    pub fn parse_with_form(buf: &[u8]) -> Option<(FrameHeader, LengthForm, usize)> {
        let (&b0, rest) = buf.split_first()?;
        let (&b1, rest) = rest.split_first()?;
        // ANCHOR: length_field
        let (payload_len, form, rest) = match b1 & 0x7F {
            126 => {
                let (len, rest) = rest.split_first_chunk::<2>()?;
                (
                    u64::from(u16::from_be_bytes(*len)),
                    LengthForm::Bits16,
                    rest,
                )
            }
            127 => {
                let (len, rest) = rest.split_first_chunk::<8>()?;
                (u64::from_be_bytes(*len), LengthForm::Bits64, rest)
            }
            short => (u64::from(short), LengthForm::Bits7, rest),
        };
        // ANCHOR_END: length_field
        let mask = if b1 & 0x80 != 0 {
            Some(*rest.first_chunk::<4>()?)
        } else {
            None
        };
        // ANCHOR: first_byte
        let header = FrameHeader {
            fin: b0 & 0x80 != 0,
            rsv1: b0 & 0x40 != 0,
            rsv2: b0 & 0x20 != 0,
            rsv3: b0 & 0x10 != 0,
            opcode: OpCode::from_u8(b0),
            mask,
            payload_len,
        };
        // ANCHOR_END: first_byte
        let len = 2 + form.extra_bytes() + if mask.is_some() { 4 } else { 0 };
        Some((header, form, len))
    }
    // ANCHOR_END: parse_header

    /// The number of header bytes [`encode`](Self::encode) writes with `form`.
    pub fn encoded_len(&self, form: LengthForm) -> usize {
        let form = match form {
            LengthForm::Minimal => LengthForm::minimal_for(self.payload_len),
            other => other,
        };
        2 + form.extra_bytes() + if self.mask.is_some() { 4 } else { 0 }
    }

    /// Appends the header to `out`, writing the length in `form`.
    ///
    /// [`LengthForm::Minimal`] is what every normal endpoint does. A forced
    /// longer form gives a legal but non-minimal encoding; a forced form too
    /// small for the length is an error. The 64-bit form writes the length as
    /// given, so a test tool can even set the forbidden top bit.
    ///
    /// ```
    /// use wsconform_wire::{FrameHeader, LengthForm, OpCode};
    /// let mut out = Vec::new();
    /// FrameHeader::new(OpCode::Binary, 256).encode(LengthForm::Minimal, &mut out).unwrap();
    /// assert_eq!(out, [0x82, 0x7e, 0x01, 0x00]); // RFC 6455 §5.7, 256 bytes
    /// out.clear();
    /// FrameHeader::new(OpCode::Text, 5).encode(LengthForm::Bits64, &mut out).unwrap();
    /// assert_eq!(out, [0x81, 127, 0, 0, 0, 0, 0, 0, 0, 5]); // legal, not minimal
    /// ```
    pub fn encode(&self, form: LengthForm, out: &mut Vec<u8>) -> Result<(), FrameError> {
        let len = self.payload_len;
        let form = match form {
            LengthForm::Minimal => LengthForm::minimal_for(len),
            other => other,
        };
        let fits = match form {
            LengthForm::Minimal | LengthForm::Bits7 => len <= 125,
            LengthForm::Bits16 => len <= 0xFFFF,
            LengthForm::Bits64 => true,
        };
        if !fits {
            return Err(FrameError::LengthDoesNotFit { len, form });
        }
        let b0 = (u8::from(self.fin) << 7) | (self.rsv_bits() << 4) | self.opcode.as_u8();
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        out.push(b0);
        // ANCHOR: encode_length
        match form {
            LengthForm::Minimal | LengthForm::Bits7 => out.push(mask_bit | len as u8),
            LengthForm::Bits16 => {
                out.push(mask_bit | 126);
                out.extend_from_slice(&(len as u16).to_be_bytes());
            }
            LengthForm::Bits64 => {
                out.push(mask_bit | 127);
                out.extend_from_slice(&len.to_be_bytes());
            }
        }
        // ANCHOR_END: encode_length
        if let Some(key) = self.mask {
            out.extend_from_slice(&key);
        }
        Ok(())
    }
}

// ANCHOR: check_common
/// Rules both directions share (§5.2, §5.5).
fn check_common(h: &FrameHeader) -> Result<(), ProtocolError> {
    if h.rsv_bits() != 0 {
        return Err(ProtocolError::ReservedBits(h.rsv_bits()));
    }
    if let OpCode::Reserved(op) = h.opcode {
        return Err(ProtocolError::ReservedOpcode(op));
    }
    if h.payload_len >> 63 != 0 {
        return Err(ProtocolError::LengthTopBitSet);
    }
    if h.opcode.is_control() {
        if h.payload_len > 125 {
            return Err(ProtocolError::ControlFrameTooLong(h.payload_len));
        }
        if !h.fin {
            return Err(ProtocolError::FragmentedControlFrame);
        }
    }
    Ok(())
}
// ANCHOR_END: check_common

/// What a **server** must reject in a frame from a client.
///
/// No extension is negotiated by wsconform, so any RSV bit is an error.
///
/// ```
/// use wsconform_wire::{check_client_frame, FrameHeader, OpCode, ProtocolError};
/// let unmasked = FrameHeader::new(OpCode::Text, 5);
/// assert_eq!(check_client_frame(&unmasked), Err(ProtocolError::UnmaskedFrame));
/// assert_eq!(check_client_frame(&unmasked).unwrap_err().close_code(), 1002);
/// ```
// ANCHOR: check_client_frame
pub fn check_client_frame(h: &FrameHeader) -> Result<(), ProtocolError> {
    if h.mask.is_none() {
        return Err(ProtocolError::UnmaskedFrame);
    }
    check_common(h)
}
// ANCHOR_END: check_client_frame

/// What a **client** must reject in a frame from a server: the same rules,
/// except that the frame must *not* be masked.
pub fn check_server_frame(h: &FrameHeader) -> Result<(), ProtocolError> {
    if h.mask.is_some() {
        return Err(ProtocolError::MaskedFrame);
    }
    check_common(h)
}

/// Appends a whole frame (header and payload) to `out` with the minimal length
/// form. With a `mask`, the payload is masked on the way in; `payload` itself
/// is not changed.
///
/// ```
/// use wsconform_wire::{encode_frame, OpCode};
/// let mut out = Vec::new();
/// encode_frame(&mut out, true, OpCode::Text, None, b"Hello");
/// assert_eq!(out, [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]); // RFC 6455 §5.7
/// ```
pub fn encode_frame(
    out: &mut Vec<u8>,
    fin: bool,
    opcode: OpCode,
    mask: Option<[u8; 4]>,
    payload: &[u8],
) {
    let header = FrameHeader {
        fin,
        mask,
        ..FrameHeader::new(opcode, payload.len() as u64)
    };
    out.reserve(header.encoded_len(LengthForm::Minimal) + payload.len());
    // The minimal form always fits, so this cannot fail.
    let _ = header.encode(LengthForm::Minimal, out);
    let start = out.len();
    out.extend_from_slice(payload);
    if let (Some(key), Some(written)) = (mask, out.get_mut(start..)) {
        apply_mask(written, key, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_5_7_examples() {
        // A single-frame unmasked text message.
        let (h, n) = FrameHeader::parse(&[0x81, 0x05, 0x48, 0x65]).unwrap();
        assert_eq!(
            (h.fin, h.opcode, h.mask, h.payload_len, n),
            (true, OpCode::Text, None, 5, 2)
        );
        // A fragmented unmasked text message: "Hel" then "lo".
        let (h, _) = FrameHeader::parse(&[0x01, 0x03, 0x48, 0x65, 0x6c]).unwrap();
        assert_eq!((h.fin, h.opcode), (false, OpCode::Text));
        let (h, _) = FrameHeader::parse(&[0x80, 0x02, 0x6c, 0x6f]).unwrap();
        assert_eq!((h.fin, h.opcode), (true, OpCode::Continuation));
        // Unmasked ping with "Hello".
        let (h, _) = FrameHeader::parse(&[0x89, 0x05]).unwrap();
        assert_eq!((h.opcode, h.payload_len), (OpCode::Ping, 5));
        // Masked pong with "Hello".
        let (h, n) = FrameHeader::parse(&[0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d]).unwrap();
        assert_eq!(
            (h.opcode, h.mask, n),
            (OpCode::Pong, Some([0x37, 0xfa, 0x21, 0x3d]), 6)
        );
        // 256 bytes binary message in a single unmasked frame.
        let (h, form, n) = FrameHeader::parse_with_form(&[0x82, 0x7E, 0x01, 0x00]).unwrap();
        assert_eq!(
            (h.opcode, h.payload_len, form, n),
            (OpCode::Binary, 256, LengthForm::Bits16, 4)
        );
        // 64KiB binary message in a single unmasked frame.
        let bytes = [0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00];
        let (h, form, n) = FrameHeader::parse_with_form(&bytes).unwrap();
        assert_eq!((h.payload_len, form, n), (65536, LengthForm::Bits64, 10));
        // Masked "Hello" round trip through encode_frame.
        let mut out = Vec::new();
        encode_frame(
            &mut out,
            true,
            OpCode::Text,
            Some([0x37, 0xfa, 0x21, 0x3d]),
            b"Hello",
        );
        assert_eq!(
            out,
            [
                0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58
            ]
        );
    }

    #[test]
    fn incomplete_headers_ask_for_more() {
        let full = [0x82, 0xFF, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00, 1, 2, 3, 4];
        for cut in 0..full.len() {
            assert_eq!(FrameHeader::parse(&full[..cut]), None, "cut at {cut}");
        }
        assert!(FrameHeader::parse(&full).is_some());
    }

    #[test]
    fn huge_lengths_are_just_numbers() {
        let bytes = [
            0x82, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4,
        ];
        let (h, _) = FrameHeader::parse(&bytes).unwrap();
        assert_eq!(h.payload_len, i64::MAX as u64);
        assert_eq!(check_client_frame(&h), Ok(()));
        let bytes = [0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4];
        let (h, _) = FrameHeader::parse(&bytes).unwrap();
        assert_eq!(check_client_frame(&h), Err(ProtocolError::LengthTopBitSet));
    }

    #[test]
    fn rules() {
        let masked = |op| FrameHeader {
            mask: Some([1, 2, 3, 4]),
            ..FrameHeader::new(op, 0)
        };
        assert_eq!(check_client_frame(&masked(OpCode::Text)), Ok(()));
        assert_eq!(
            check_server_frame(&masked(OpCode::Text)),
            Err(ProtocolError::MaskedFrame)
        );
        assert_eq!(
            check_client_frame(&FrameHeader {
                rsv2: true,
                ..masked(OpCode::Text)
            }),
            Err(ProtocolError::ReservedBits(2))
        );
        assert_eq!(
            check_client_frame(&masked(OpCode::Reserved(0xB))),
            Err(ProtocolError::ReservedOpcode(0xB))
        );
        assert_eq!(
            check_client_frame(&FrameHeader {
                payload_len: 126,
                ..masked(OpCode::Ping)
            }),
            Err(ProtocolError::ControlFrameTooLong(126))
        );
        assert_eq!(
            check_client_frame(&FrameHeader {
                fin: false,
                ..masked(OpCode::Close)
            }),
            Err(ProtocolError::FragmentedControlFrame)
        );
        assert_eq!(
            check_server_frame(&FrameHeader::new(OpCode::Pong, 125)),
            Ok(())
        );
    }

    #[test]
    fn forced_forms() {
        let mut out = Vec::new();
        let h = FrameHeader::new(OpCode::Text, 200);
        assert!(h.encode(LengthForm::Bits7, &mut out).is_err());
        h.encode(LengthForm::Bits64, &mut out).unwrap();
        assert_eq!(out.len(), h.encoded_len(LengthForm::Bits64));
        let (back, form, _) = FrameHeader::parse_with_form(&out).unwrap();
        assert_eq!((back, form), (h, LengthForm::Bits64));
    }
}

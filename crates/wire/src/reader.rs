//! Reading a peer's frames one by one, each with its place in the stream
//! (RFC 6455 §5.2, §5.4, §5.5, §8.1).
//!
//! [`Decoder`](crate::Decoder) is what an endpoint needs: bytes in, messages
//! out. A test tool needs more: *which* frame broke a rule, and at which
//! byte, to put a caret under it in a report; the frames themselves, to show
//! and to compare with an expected frame. [`FrameReader`] gives that: push the
//! bytes that arrived, take complete frames out, each with its header, its
//! length form, its header length and its offset in the stream. Errors carry
//! the stream offset of the first offending byte.
//!
//! [`MessageAssembler`] then turns frames into the same [`Event`]s as the
//! decoder (messages reassembled from fragments, control frames), with the
//! same rules and incremental UTF-8 validation.
//!
//! Both are bounded by [`Limits`]: a header announcing 2^63 bytes is only a
//! number, and fails before a byte of its payload is stored. Nothing here
//! panics on a peer's bytes.
//!
//! [`split_frames`] is the forgiving variant for people: it cuts any bytes
//! (either direction, rules broken or not, cut off or not) into frames for
//! display.

use crate::close::parse_close_payload;
use crate::codec::{Event, Limits, Message, Role};
use crate::deflate::{InflateError, Inflater};
use crate::error::ProtocolError;
use crate::frame::{FrameHeader, LengthForm, OpCode, check_client_frame, check_server_frame};
use crate::mask::apply_mask;
use crate::utf8::Utf8Validator;

/// One complete frame as it crossed the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Stream offset of the frame's first header byte.
    pub offset: u64,
    /// The parsed header.
    pub header: FrameHeader,
    /// The length form on the wire.
    pub form: LengthForm,
    /// Header length in bytes, 2 to 14.
    pub header_len: usize,
    /// The frame as on the wire: the header, then the payload (still masked
    /// when the frame is masked).
    pub bytes: Vec<u8>,
}

impl Frame {
    /// The payload as on the wire (for a server's frames, which are never
    /// masked, the payload itself).
    pub fn payload(&self) -> &[u8] {
        self.bytes.get(self.header_len..).unwrap_or_default()
    }

    /// The payload, unmasked when the frame is masked.
    pub fn unmasked_payload(&self) -> Vec<u8> {
        let mut payload = self.payload().to_vec();
        if let Some(key) = self.header.mask {
            apply_mask(&mut payload, key, 0);
        }
        payload
    }
}

/// What was wrong with the peer's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadErrorKind {
    /// A rule of RFC 6455, or a limit ([`ProtocolError::FrameTooBig`],
    /// [`ProtocolError::MessageTooBig`]).
    Protocol(ProtocolError),
    /// §5.2: "the minimal number of bytes MUST be used to encode the length".
    /// A receiver may accept a longer form; a conformance test does not.
    NonMinimalLength {
        /// The announced payload length.
        len: u64,
    },
}

/// A frame or message that breaks a rule, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError {
    /// Stream offset of the offending frame's first byte.
    pub frame_offset: u64,
    /// Stream offset of the first offending byte.
    pub offset: u64,
    /// The rule broken.
    pub kind: ReadErrorKind,
}

impl ReadError {
    /// The offending byte's position within its frame (for a caret).
    pub fn byte_in_frame(&self) -> usize {
        usize::try_from(self.offset.saturating_sub(self.frame_offset)).unwrap_or(usize::MAX)
    }

    /// The protocol error, when it is one.
    pub fn protocol(&self) -> Option<&ProtocolError> {
        match &self.kind {
            ReadErrorKind::Protocol(e) => Some(e),
            ReadErrorKind::NonMinimalLength { .. } => None,
        }
    }
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kind {
            ReadErrorKind::Protocol(e) => e.fmt(f),
            ReadErrorKind::NonMinimalLength { len } => write!(
                f,
                "payload length {len} written in a longer form than needed (RFC 6455 §5.2)"
            ),
        }
    }
}

impl std::error::Error for ReadError {}

/// Where in a frame the byte that breaks a header rule sits: the first byte
/// (FIN, RSV, opcode), the second (MASK, 7-bit length) or the first byte of
/// the extended length.
fn header_rule_byte(e: &ProtocolError) -> u64 {
    match e {
        ProtocolError::MaskedFrame
        | ProtocolError::UnmaskedFrame
        | ProtocolError::ControlFrameTooLong(_)
        | ProtocolError::FrameTooBig { .. } => 1,
        ProtocolError::LengthTopBitSet => 2,
        _ => 0,
    }
}

/// Cuts a byte stream into complete frames, checking every header against
/// the rules of one side of the connection. See the [module documentation](self).
///
/// ```
/// use wsconform_wire::{FrameReader, Limits, OpCode, Role};
/// // RFC 6455 §5.7: an unmasked "Hello", then a ping, one byte at a time.
/// let bytes = [0x81, 0x05, b'H', b'e', b'l', b'l', b'o', 0x89, 0x00];
/// let mut reader = FrameReader::new(Role::Client, Limits::default());
/// let mut frames = Vec::new();
/// for byte in bytes {
///     reader.push(&[byte]);
///     while let Some(frame) = reader.next_frame().unwrap() {
///         frames.push(frame);
///     }
/// }
/// assert_eq!(frames[0].payload(), b"Hello");
/// assert_eq!((frames[1].offset, frames[1].header.opcode), (7, OpCode::Ping));
/// ```
#[derive(Debug, Clone)]
pub struct FrameReader {
    role: Role,
    limits: Limits,
    buf: Vec<u8>,
    /// Bytes of `buf` already handed out; dropped at the next push.
    used: usize,
    /// Stream offset of `buf[0]`.
    base: u64,
    failed: Option<ReadError>,
    /// permessage-deflate negotiated: RSV1 marks a compressed message.
    deflate: bool,
}

impl FrameReader {
    /// A reader at the start of a stream. `Role::Client` reads a server's
    /// frames (which must not be masked), `Role::Server` a client's.
    pub fn new(role: Role, limits: Limits) -> FrameReader {
        FrameReader {
            role,
            limits,
            buf: Vec::new(),
            used: 0,
            base: 0,
            failed: None,
            deflate: false,
        }
    }

    /// From now on RSV1 on a text or binary frame is permessage-deflate's
    /// "Per-Message Compressed" bit (RFC 7692 §6), and RSV1 on a
    /// continuation or control frame an error (§6.1).
    pub fn allow_compression(&mut self) {
        self.deflate = true;
    }

    /// Appends bytes that arrived.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.used > 0 {
            self.buf.drain(..self.used);
            self.base += self.used as u64;
            self.used = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The bytes received and not yet handed out as frames.
    pub fn buffered(&self) -> &[u8] {
        self.buf.get(self.used..).unwrap_or_default()
    }

    /// Stream offset of the first byte of [`buffered`](Self::buffered).
    pub fn offset(&self) -> u64 {
        self.base + self.used as u64
    }

    /// Drops the first `n` buffered bytes: what came before the frames on
    /// the same stream (the HTTP handshake response).
    pub fn consume(&mut self, n: usize) {
        self.used = (self.used + n).min(self.buf.len());
    }

    /// Takes every buffered byte out (a frame cut off by the end of the
    /// connection, to show it).
    pub fn take_buffered(&mut self) -> Vec<u8> {
        let rest = self.buffered().to_vec();
        self.consume(rest.len());
        rest
    }

    /// The next complete frame, `Ok(None)` while more bytes are needed.
    ///
    /// Header rules and the frame limit are checked as soon as the header is
    /// complete; the length form once the frame is complete, so the frame can
    /// be shown whole. After an error the reader repeats it.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, ReadError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let offset = self.offset();
        let rest = self.buffered();
        let Some((header, form, header_len)) = FrameHeader::parse_with_form(rest) else {
            return Ok(None);
        };
        let fail = |kind: ReadErrorKind, byte: u64| ReadError {
            frame_offset: offset,
            offset: offset + byte,
            kind,
        };
        // The limit first (a length with the top bit set is a rule instead).
        if header.payload_len > self.limits.max_frame_size && header.payload_len >> 63 == 0 {
            let e = ProtocolError::FrameTooBig {
                len: header.payload_len,
                limit: self.limits.max_frame_size,
            };
            return Err(self.fail(fail(ReadErrorKind::Protocol(e), 1)));
        }
        let compressed = self.deflate && header.rsv1;
        let unchecked = FrameHeader {
            rsv1: header.rsv1 && !compressed,
            ..header
        };
        let checked = match (compressed, header.opcode) {
            (true, OpCode::Continuation | OpCode::Ping | OpCode::Pong | OpCode::Close) => {
                Err(ProtocolError::CompressedBitMisplaced(header.opcode))
            }
            _ => match self.role {
                Role::Client => check_server_frame(&unchecked),
                Role::Server => check_client_frame(&unchecked),
            },
        };
        if let Err(e) = checked {
            let byte = header_rule_byte(&e);
            return Err(self.fail(fail(ReadErrorKind::Protocol(e), byte)));
        }
        // Below the limit, so the total fits in memory and in usize.
        let total = header_len as u64 + header.payload_len;
        if (rest.len() as u64) < total {
            return Ok(None);
        }
        let total = total as usize;
        if form != LengthForm::minimal_for(header.payload_len) {
            let kind = ReadErrorKind::NonMinimalLength {
                len: header.payload_len,
            };
            return Err(self.fail(fail(kind, 1)));
        }
        let bytes = rest.get(..total).unwrap_or_default().to_vec();
        self.used += total;
        Ok(Some(Frame {
            offset,
            header,
            form,
            header_len,
            bytes,
        }))
    }

    fn fail(&mut self, e: ReadError) -> ReadError {
        self.failed = Some(e.clone());
        e
    }
}

/// Turns frames into messages and control events: fragments joined (§5.4),
/// text validated as UTF-8 frame by frame (§8.1), close bodies parsed
/// (§5.5.1), the message size bounded.
#[derive(Debug)]
pub struct MessageAssembler {
    max_message: usize,
    /// Text or Binary while a fragmented message is open.
    kind: Option<OpCode>,
    data: Vec<u8>,
    utf8: Utf8Validator,
    /// permessage-deflate, when negotiated.
    inflater: Option<Inflater>,
    /// The open message is compressed (RSV1 on its first frame).
    compressed: bool,
}

impl MessageAssembler {
    /// An assembler that refuses messages larger than `limits.max_message_size`.
    pub fn new(limits: Limits) -> MessageAssembler {
        MessageAssembler {
            max_message: limits.max_message_size,
            kind: None,
            data: Vec::new(),
            utf8: Utf8Validator::new(),
            inflater: None,
            compressed: false,
        }
    }

    /// From now on a message whose first frame has RSV1 is inflated with
    /// `inflater` (RFC 7692 §7.2.2), against the same message limit: the
    /// inflated size counts. Use it with
    /// [`FrameReader::allow_compression`].
    pub fn inflate_with(&mut self, inflater: Inflater) {
        self.inflater = Some(inflater);
    }

    /// Whether a fragmented message is open.
    pub fn in_message(&self) -> bool {
        self.kind.is_some()
    }

    /// Takes one frame (already checked by a [`FrameReader`]); returns the
    /// event it completes, `None` for a fragment that does not end a message.
    ///
    /// ```
    /// use wsconform_wire::{Event, FrameReader, Limits, Message, MessageAssembler, Role};
    /// // RFC 6455 §5.7: "Hel" + "lo", unmasked.
    /// let mut reader = FrameReader::new(Role::Client, Limits::default());
    /// reader.push(&[0x01, 0x03, b'H', b'e', b'l', 0x80, 0x02, b'l', b'o']);
    /// let mut messages = MessageAssembler::new(Limits::default());
    /// let first = reader.next_frame().unwrap().unwrap();
    /// assert_eq!(messages.push(&first).unwrap(), None);
    /// let second = reader.next_frame().unwrap().unwrap();
    /// let event = messages.push(&second).unwrap();
    /// assert_eq!(event, Some(Event::Message(Message::Text("Hello".into()))));
    /// ```
    pub fn push(&mut self, frame: &Frame) -> Result<Option<Event>, ReadError> {
        let at = |byte: usize| ReadError {
            frame_offset: frame.offset,
            offset: frame.offset + byte as u64,
            kind: ReadErrorKind::Protocol(ProtocolError::UnexpectedContinuation),
        };
        let with = |byte: usize, e: ProtocolError| ReadError {
            kind: ReadErrorKind::Protocol(e),
            ..at(byte)
        };
        let payload = frame.unmasked_payload();
        let header = frame.header;
        match header.opcode {
            OpCode::Ping => Ok(Some(Event::Ping(payload))),
            OpCode::Pong => Ok(Some(Event::Pong(payload))),
            OpCode::Close => match parse_close_payload(&payload) {
                Ok(close) => Ok(Some(Event::Close(close))),
                Err(e) => {
                    // A reason that is not UTF-8 is pointed at after the code.
                    let byte = match e {
                        ProtocolError::InvalidCloseReason | ProtocolError::InvalidUtf8(_) => {
                            frame.header_len + 2
                        }
                        _ => frame.header_len,
                    };
                    Err(with(byte, e))
                }
            },
            OpCode::Reserved(op) => Err(with(0, ProtocolError::ReservedOpcode(op))),
            OpCode::Text | OpCode::Binary | OpCode::Continuation => {
                match (header.opcode, self.kind) {
                    (OpCode::Continuation, None) => return Err(at(0)),
                    (OpCode::Continuation, Some(_)) => {}
                    (op, Some(_)) => {
                        self.kind = None;
                        return Err(with(0, ProtocolError::ExpectedContinuation(op)));
                    }
                    (op, None) => {
                        self.kind = Some(op);
                        self.data.clear();
                        self.utf8.reset();
                        self.compressed = header.rsv1 && self.inflater.is_some();
                    }
                }
                let compressed = self.compressed;
                let payload = if compressed {
                    match self.inflate(&payload, header.fin) {
                        Ok(inflated) => inflated,
                        Err(e) => {
                            self.kind = None;
                            return Err(with(frame.header_len, e));
                        }
                    }
                } else {
                    payload
                };
                if self.data.len().saturating_add(payload.len()) > self.max_message {
                    self.kind = None;
                    let e = ProtocolError::MessageTooBig {
                        limit: self.max_message,
                    };
                    return Err(with(0, e));
                }
                let before = self.data.len() as u64;
                if self.kind == Some(OpCode::Text) {
                    let mut checked = self.utf8.feed(&payload);
                    if checked.is_ok() && header.fin {
                        checked = self.utf8.finish();
                    }
                    if let Err(e) = checked {
                        self.kind = None;
                        // Inflated bytes have no place on the wire: point
                        // at the frame's payload then.
                        let within = usize::try_from(e.position.saturating_sub(before))
                            .unwrap_or(usize::MAX)
                            .min(payload.len().saturating_sub(1))
                            * usize::from(!compressed);
                        return Err(with(
                            frame.header_len + within,
                            ProtocolError::InvalidUtf8(e),
                        ));
                    }
                }
                self.data.extend_from_slice(&payload);
                if !header.fin {
                    return Ok(None);
                }
                let data = std::mem::take(&mut self.data);
                let message = match self.kind.take() {
                    Some(OpCode::Text) => match String::from_utf8(data) {
                        Ok(text) => Message::Text(text),
                        // Validated above; kept as bytes should that ever differ.
                        Err(e) => Message::Binary(e.into_bytes()),
                    },
                    _ => Message::Binary(data),
                };
                Ok(Some(Event::Message(message)))
            }
        }
    }

    /// Inflates one frame's payload of a compressed message, and the
    /// removed tail after the last one; the limit counts inflated bytes.
    fn inflate(&mut self, payload: &[u8], fin: bool) -> Result<Vec<u8>, ProtocolError> {
        let Some(inflater) = self.inflater.as_mut() else {
            return Ok(payload.to_vec());
        };
        let limit = self.max_message.saturating_sub(self.data.len());
        let mut out = Vec::new();
        let mut result = inflater.inflate(payload, &mut out, limit);
        if result.is_ok() && fin {
            result = inflater.finish_message(&mut out, limit);
        }
        match result {
            Ok(()) => Ok(out),
            Err(InflateError::Corrupt(reason)) => Err(ProtocolError::InvalidCompressedData(reason)),
            Err(InflateError::TooBig { .. }) => Err(ProtocolError::MessageTooBig {
                limit: self.max_message,
            }),
        }
    }
}

/// One frame, or a cut-off piece of one, found by [`split_frames`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FramePiece {
    /// Where the piece starts in the bytes.
    pub start: usize,
    /// The parsed header, `None` when even the header is cut off.
    pub header: Option<FrameHeader>,
    /// The length form on the wire.
    pub form: Option<LengthForm>,
    /// Header length in bytes (including the masking key); for a cut-off
    /// header, the bytes present.
    pub header_len: usize,
    /// The payload bytes present, unmasked.
    pub payload: Vec<u8>,
    /// Whether the whole payload is present.
    pub complete: bool,
}

/// Cuts any bytes into frames without judging them, for display: masked or
/// not, rules broken or not. The last piece may be cut off.
///
/// ```
/// use wsconform_wire::split_frames;
/// let pieces = split_frames(&[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58, 0x89]);
/// assert_eq!(pieces[0].payload, b"Hello");
/// assert!(pieces[1].header.is_none()); // one byte of a second header
/// ```
pub fn split_frames(bytes: &[u8]) -> Vec<FramePiece> {
    let mut pieces = Vec::new();
    let mut at = 0;
    while let Some(rest) = bytes.get(at..).filter(|r| !r.is_empty()) {
        let Some((header, form, header_len)) = FrameHeader::parse_with_form(rest) else {
            pieces.push(FramePiece {
                start: at,
                header: None,
                form: None,
                header_len: rest.len(),
                payload: Vec::new(),
                complete: false,
            });
            break;
        };
        let available = rest.len() - header_len;
        let want = usize::try_from(header.payload_len).unwrap_or(usize::MAX);
        let take = available.min(want);
        let mut payload = rest
            .get(header_len..header_len + take)
            .unwrap_or_default()
            .to_vec();
        if let Some(key) = header.mask {
            apply_mask(&mut payload, key, 0);
        }
        pieces.push(FramePiece {
            start: at,
            header: Some(header),
            form: Some(form),
            header_len,
            payload,
            complete: take == want,
        });
        at += header_len + take;
    }
    pieces
}

#[cfg(test)]
#[path = "reader_tests.rs"]
mod tests;

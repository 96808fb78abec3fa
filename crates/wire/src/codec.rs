//! A streaming decoder: bytes in, messages and control events out
//! (One file: the decoder is one state machine; its transitions are read together.)
//! (RFC 6455 §5.4 fragmentation, §5.5 control frames).
//!
//! TCP delivers a byte *stream*, not frames. One `read` may return half a
//! header, three frames, or the last byte of one frame and the first of the
//! next. The classic bug of a first WebSocket server is to assume one `read`
//! is one frame; it works on localhost and fails on a real network.
//!
//! [`Decoder`] holds everything needed between reads — where we are in the
//! current frame, the message assembled so far, the UTF-8 state — and never
//! touches a socket. Feed it whatever bytes arrived; it consumes what it can
//! and hands back an [`Event`] whenever a message or control frame completes.
//!
//! Payload bytes are unmasked and checked *as they arrive*, not when the frame
//! is complete, so invalid UTF-8 fails the connection at the first impossible
//! byte, even in the middle of a large frame (Autobahn cases 6.4.x).

use crate::close::{CloseFrame, parse_close_payload};
use crate::deflate::{InflateError, Inflater};
use crate::error::ProtocolError;
use crate::extension::DeflateParams;
use crate::frame::{FrameHeader, OpCode, check_client_frame, check_server_frame};
use crate::mask::apply_mask;
use crate::utf8::Utf8Validator;

/// The largest buffer [`Decoder::recycle`] keeps.
pub const RECYCLE_MAX: usize = 64 * 1024;

/// The most payload memory reserved ahead for a frame whose header
/// announces a large payload; beyond it the buffer grows as bytes arrive,
/// so a header alone cannot make the decoder reserve megabytes.
const RESERVE_AHEAD_MAX: u64 = 1 << 20;

/// Which end of the connection the decoder sits at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// We are the server: frames come from a client and must be masked.
    Server,
    /// We are the client: frames come from a server and must not be masked.
    Client,
}

/// Size limits that protect the decoding side's memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest payload one frame may announce. A bigger header fails the
    /// connection with 1009 before a single payload byte is stored.
    pub max_frame_size: u64,
    /// Largest message (all fragments together). Beyond it: 1009.
    pub max_message_size: usize,
}

impl Default for Limits {
    /// 16 MiB per frame, 64 MiB per message: generous for tests, small enough
    /// that a hostile peer cannot exhaust a machine's memory with one connection.
    fn default() -> Self {
        Limits {
            max_frame_size: 16 << 20,
            max_message_size: 64 << 20,
        }
    }
}

/// A complete data message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message, already checked to be valid UTF-8.
    Text(String),
    /// A binary message.
    Binary(Vec<u8>),
}

/// What the decoder hands back when something completes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A whole data message, reassembled from its fragments.
    Message(Message),
    /// A ping with its payload: answer with a pong carrying the same bytes.
    Ping(Vec<u8>),
    /// A pong (unsolicited pongs are allowed and may be ignored).
    Pong(Vec<u8>),
    /// A close frame: `None` if it had no payload. Answer with a close frame.
    Close(Option<CloseFrame>),
}

/// The frame being read right now.
#[derive(Debug, Clone, Copy)]
struct CurrentFrame {
    header: FrameHeader,
    /// Payload bytes still to come.
    remaining: u64,
    /// Payload bytes already seen (the masking key position).
    seen: usize,
}

/// The streaming frame decoder. See the [module documentation](self).
///
/// ```
/// use wsconform_wire::{Decoder, Event, Limits, Message, Role};
/// // The RFC 6455 §5.7 fragmented message "Hel" + "lo", masked by a client
/// // with the key 00 00 00 00 (so the bytes read as plain text).
/// let bytes = [0x01, 0x83, 0, 0, 0, 0, b'H', b'e', b'l', 0x80, 0x82, 0, 0, 0, 0, b'l', b'o'];
/// let mut decoder = Decoder::new(Role::Server, Limits::default());
/// // Feed it one byte at a time, as the slowest network would. Bytes the
/// // decoder does not use yet (a partial header) stay in `pending`.
/// let mut pending = Vec::new();
/// let mut events = Vec::new();
/// for byte in bytes {
///     pending.push(byte);
///     loop {
///         let (used, event) = decoder.decode(&pending).unwrap();
///         pending.drain(..used);
///         match event {
///             Some(event) => events.push(event),
///             None => break,
///         }
///     }
/// }
/// assert_eq!(events, [Event::Message(Message::Text("Hello".into()))]);
/// ```
#[derive(Debug)]
pub struct Decoder {
    role: Role,
    limits: Limits,
    frame: Option<CurrentFrame>,
    /// Opcode of the fragmented message in progress (Text or Binary).
    message_kind: Option<OpCode>,
    message: Vec<u8>,
    control: Vec<u8>,
    utf8: Utf8Validator,
    failed: Option<ProtocolError>,
    /// permessage-deflate, when negotiated (RFC 7692).
    inflater: Option<Inflater>,
    /// The message in progress has RSV1 on its first frame.
    compressed: bool,
    /// A compressed frame's unmasked bytes on their way to the inflater.
    scratch: Vec<u8>,
}

impl Decoder {
    /// A decoder for the given side of the connection.
    pub fn new(role: Role, limits: Limits) -> Decoder {
        Decoder {
            role,
            limits,
            frame: None,
            message_kind: None,
            message: Vec::new(),
            control: Vec::with_capacity(125),
            utf8: Utf8Validator::new(),
            failed: None,
            inflater: None,
            compressed: false,
            scratch: Vec::new(),
        }
    }

    /// The same decoder on a connection that negotiated permessage-deflate
    /// with `params`: RSV1 on the first frame of a message means the
    /// message is compressed, and it is inflated (against the message
    /// limit) as its bytes arrive. The peer's side of `params` applies: a
    /// server inflates what the client compressed.
    pub fn with_deflate(mut self, params: &DeflateParams) -> Decoder {
        self.inflater = Some(match self.role {
            Role::Server => Inflater::new(
                params.client_max_window_bits,
                params.client_no_context_takeover,
            ),
            Role::Client => Inflater::new(
                params.server_max_window_bits,
                params.server_no_context_takeover,
            ),
        });
        self
    }

    /// Does the decoder hold inflate state right now (for memory checks)?
    pub fn holds_inflate_state(&self) -> bool {
        self.inflater.as_ref().is_some_and(Inflater::is_allocated)
    }

    /// Consumes a prefix of `input` and returns how many bytes it used, plus
    /// an event if a message or control frame was completed.
    ///
    /// It stops right after an event, so call it again with the rest of the
    /// input. When it returns `(n, None)` it has used everything it can: any
    /// bytes left are the start of a header; keep them and append the next
    /// read. After an error the connection must be failed with
    /// [`ProtocolError::close_code`]; the decoder repeats the error if called
    /// again.
    pub fn decode(&mut self, input: &[u8]) -> Result<(usize, Option<Event>), ProtocolError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        let mut used = 0;
        loop {
            let rest = input.get(used..).unwrap_or_default();
            let frame = match self.frame {
                Some(frame) => frame,
                None => {
                    let Some((header, header_len)) = FrameHeader::parse(rest) else {
                        return Ok((used, None));
                    };
                    used += header_len;
                    match self.start_frame(header) {
                        Ok(frame) => frame,
                        Err(err) => return Err(self.fail(err)),
                    }
                }
            };
            let rest = input.get(used..).unwrap_or_default();
            let take = usize::try_from(frame.remaining)
                .unwrap_or(usize::MAX)
                .min(rest.len());
            if take == 0 && frame.remaining > 0 {
                return Ok((used, None));
            }
            if let Err(err) = self.take_payload(rest.get(..take).unwrap_or_default()) {
                return Err(self.fail(err));
            }
            used += take;
            let Some(current) = self.frame else {
                continue;
            };
            if current.remaining == 0 {
                self.frame = None;
                match self.finish_frame(current.header) {
                    Ok(Some(event)) => return Ok((used, Some(event))),
                    Ok(None) => continue,
                    Err(err) => return Err(self.fail(err)),
                }
            }
        }
    }

    fn fail(&mut self, err: ProtocolError) -> ProtocolError {
        self.failed = Some(err.clone());
        err
    }

    /// Applies the header rules and the fragmentation rules, then prepares to
    /// receive the payload.
    fn start_frame(&mut self, header: FrameHeader) -> Result<CurrentFrame, ProtocolError> {
        let compressed = self.compression_bit(&header)?;
        let checked = FrameHeader {
            rsv1: header.rsv1 && !compressed,
            ..header
        };
        match self.role {
            Role::Server => check_client_frame(&checked)?,
            Role::Client => check_server_frame(&checked)?,
        }
        // ANCHOR: frame_limit
        if header.payload_len > self.limits.max_frame_size {
            return Err(ProtocolError::FrameTooBig {
                len: header.payload_len,
                limit: self.limits.max_frame_size,
            });
        }
        // ANCHOR_END: frame_limit
        // ANCHOR: fragment_rules
        match header.opcode {
            OpCode::Continuation if self.message_kind.is_none() => {
                return Err(ProtocolError::UnexpectedContinuation);
            }
            OpCode::Text | OpCode::Binary if self.message_kind.is_some() => {
                return Err(ProtocolError::ExpectedContinuation(header.opcode));
            }
            OpCode::Text | OpCode::Binary => {
                self.message_kind = Some(header.opcode);
                self.message.clear();
                self.utf8.reset();
                self.compressed = compressed;
            }
            _ => {}
        }
        // ANCHOR_END: fragment_rules
        if header.opcode.is_data() && self.compressed {
            // The inflated size is checked as it grows.
        } else if header.opcode.is_data() {
            let total = (self.message.len() as u64).saturating_add(header.payload_len);
            if total > self.limits.max_message_size as u64 {
                return Err(ProtocolError::MessageTooBig {
                    limit: self.limits.max_message_size,
                });
            }
            // Room for the whole payload at once (up to a bound) instead of
            // growing, and copying, the buffer read by read.
            let ahead = header.payload_len.min(RESERVE_AHEAD_MAX) as usize;
            self.message.reserve(ahead);
        } else {
            self.control.clear();
        }
        let frame = CurrentFrame {
            header,
            remaining: header.payload_len,
            seen: 0,
        };
        self.frame = Some(frame);
        Ok(frame)
    }

    /// Stores, unmasks and (for text) validates the next payload bytes.
    // ANCHOR: take_payload
    fn take_payload(&mut self, bytes: &[u8]) -> Result<(), ProtocolError> {
        let Some(frame) = self.frame.as_mut() else {
            return Ok(());
        };
        if self.compressed && frame.header.opcode.is_data() {
            return self.take_compressed(bytes);
        }
        let target = if frame.header.opcode.is_control() {
            &mut self.control
        } else {
            &mut self.message
        };
        let start = target.len();
        target.extend_from_slice(bytes);
        let fresh = target.get_mut(start..).unwrap_or_default();
        if let Some(key) = frame.header.mask {
            apply_mask(fresh, key, frame.seen);
        }
        frame.seen += bytes.len();
        frame.remaining -= bytes.len() as u64;
        if frame.header.opcode.is_data() && self.message_kind == Some(OpCode::Text) {
            self.utf8.feed(fresh).map_err(ProtocolError::InvalidUtf8)?;
        }
        Ok(())
    }
    // ANCHOR_END: take_payload

    /// Payload bytes of the data message in progress that this decoder
    /// holds or has been promised: what it assembled so far plus what is
    /// still to come of the current data frame, as its header declared.
    ///
    /// A server can charge this against a memory budget as soon as a header
    /// arrives, and refuse the message before its payload is read.
    ///
    /// ```
    /// use wsconform_wire::{Decoder, Limits, Role};
    /// let mut decoder = Decoder::new(Role::Client, Limits::default());
    /// // A binary frame that announces 300 bytes and brings 2 of them.
    /// decoder.decode(&[0x82, 126, 0x01, 0x2c, 7, 8]).unwrap();
    /// assert_eq!(decoder.message_bytes_expected(), 300);
    /// ```
    pub fn message_bytes_expected(&self) -> u64 {
        let coming = match self.frame {
            Some(frame) if frame.header.opcode.is_data() => frame.remaining,
            _ => 0,
        };
        (self.message.len() as u64).saturating_add(coming)
    }

    /// Gives back the buffer of a message the caller is done with, so that
    /// the next message is assembled in it instead of in newly allocated
    /// memory. A connection that echoes message after message then
    /// allocates nothing per message. Buffers larger than
    /// [`RECYCLE_MAX`] are dropped, so one large message does not pin its
    /// memory for the life of the connection.
    ///
    /// ```
    /// use wsconform_wire::{Decoder, Event, Limits, Message, Role};
    /// let mut decoder = Decoder::new(Role::Client, Limits::default());
    /// let (_, event) = decoder.decode(&[0x82, 0x02, 7, 8]).unwrap();
    /// let Some(Event::Message(Message::Binary(bytes))) = event else { panic!() };
    /// assert_eq!(bytes, [7, 8]);
    /// decoder.recycle(bytes); // the next message reuses this memory
    /// let (_, event) = decoder.decode(&[0x82, 0x01, 9]).unwrap();
    /// assert_eq!(event, Some(Event::Message(Message::Binary(vec![9]))));
    /// ```
    pub fn recycle(&mut self, mut buffer: Vec<u8>) {
        // Only between messages: a message in progress keeps its buffer.
        if self.message_kind.is_none()
            && self.message.capacity() == 0
            && buffer.capacity() <= RECYCLE_MAX
        {
            buffer.clear();
            self.message = buffer;
        }
    }

    /// A frame's payload is complete: emit what it completes.
    // ANCHOR: finish_frame
    fn finish_frame(&mut self, header: FrameHeader) -> Result<Option<Event>, ProtocolError> {
        match header.opcode {
            OpCode::Ping => Ok(Some(Event::Ping(std::mem::take(&mut self.control)))),
            OpCode::Pong => Ok(Some(Event::Pong(std::mem::take(&mut self.control)))),
            OpCode::Close => Ok(Some(Event::Close(parse_close_payload(&self.control)?))),
            _ if !header.fin => Ok(None),
            _ => {
                if std::mem::take(&mut self.compressed) {
                    self.finish_compressed()?;
                }
                let data = std::mem::take(&mut self.message);
                let message = match self.message_kind.take() {
                    Some(OpCode::Text) => {
                        self.utf8.finish().map_err(ProtocolError::InvalidUtf8)?;
                        let text = String::from_utf8(data).map_err(|e| {
                            ProtocolError::InvalidUtf8(crate::utf8::Utf8Error {
                                position: e.utf8_error().valid_up_to() as u64,
                                incomplete: false,
                            })
                        })?;
                        Message::Text(text)
                    }
                    _ => Message::Binary(data),
                };
                Ok(Some(Event::Message(message)))
            }
        }
    }
    // ANCHOR_END: finish_frame

    /// Is this frame's RSV1 the permessage-deflate bit? Only on the first
    /// frame of a message and only when negotiated (RFC 7692 §6.1); on a
    /// continuation or control frame it is an error, and without the
    /// extension the header rules reject it as a reserved bit.
    fn compression_bit(&self, header: &FrameHeader) -> Result<bool, ProtocolError> {
        if !header.rsv1 || self.inflater.is_none() {
            return Ok(false);
        }
        match header.opcode {
            OpCode::Text | OpCode::Binary => Ok(true),
            OpCode::Reserved(_) => Ok(false),
            other => Err(ProtocolError::CompressedBitMisplaced(other)),
        }
    }

    /// Unmasks and inflates the next bytes of a compressed message, then
    /// validates the inflated text.
    fn take_compressed(&mut self, bytes: &[u8]) -> Result<(), ProtocolError> {
        let (Some(frame), Some(inflater)) = (self.frame.as_mut(), self.inflater.as_mut()) else {
            return Ok(());
        };
        self.scratch.clear();
        self.scratch.extend_from_slice(bytes);
        if let Some(key) = frame.header.mask {
            apply_mask(&mut self.scratch, key, frame.seen);
        }
        frame.seen += bytes.len();
        frame.remaining -= bytes.len() as u64;
        let start = self.message.len();
        let limit = self.limits.max_message_size;
        inflater
            .inflate(&self.scratch, &mut self.message, limit)
            .map_err(inflate_error)?;
        self.validate_inflated(start)
    }

    /// The last frame of a compressed message: the removed tail, then the
    /// context reset when none is kept.
    fn finish_compressed(&mut self) -> Result<(), ProtocolError> {
        let Some(inflater) = self.inflater.as_mut() else {
            return Ok(());
        };
        let start = self.message.len();
        inflater
            .finish_message(&mut self.message, self.limits.max_message_size)
            .map_err(inflate_error)?;
        self.validate_inflated(start)
    }

    fn validate_inflated(&mut self, start: usize) -> Result<(), ProtocolError> {
        if self.message_kind == Some(OpCode::Text) {
            let fresh = self.message.get(start..).unwrap_or_default();
            self.utf8.feed(fresh).map_err(ProtocolError::InvalidUtf8)?;
        }
        Ok(())
    }
}

fn inflate_error(error: InflateError) -> ProtocolError {
    match error {
        InflateError::Corrupt(reason) => ProtocolError::InvalidCompressedData(reason),
        InflateError::TooBig { limit } => ProtocolError::MessageTooBig { limit },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::encode_frame;

    const KEY: [u8; 4] = [0xA1, 0xB2, 0xC3, 0xD4];

    fn frame(fin: bool, op: OpCode, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_frame(&mut out, fin, op, Some(KEY), payload);
        out
    }

    /// Decodes `bytes` fed in chunks of `chunk` bytes; returns events and the error.
    fn run(bytes: &[u8], chunk: usize) -> (Vec<Event>, Option<ProtocolError>) {
        feed(Decoder::new(Role::Server, Limits::default()), bytes, chunk)
    }

    /// Feeds `bytes` to `decoder` in chunks of `chunk` bytes.
    fn feed(
        mut decoder: Decoder,
        bytes: &[u8],
        chunk: usize,
    ) -> (Vec<Event>, Option<ProtocolError>) {
        let mut pending = Vec::new();
        let mut events = Vec::new();
        for piece in bytes.chunks(chunk.max(1)) {
            pending.extend_from_slice(piece);
            loop {
                match decoder.decode(&pending) {
                    Ok((used, event)) => {
                        pending.drain(..used);
                        let done = event.is_none();
                        events.extend(event);
                        if done {
                            break;
                        }
                    }
                    Err(e) => return (events, Some(e)),
                }
            }
        }
        (events, None)
    }

    #[test]
    fn fragments_with_a_ping_in_between() {
        let mut bytes = frame(false, OpCode::Text, b"Hel");
        bytes.extend(frame(true, OpCode::Ping, b"!"));
        bytes.extend(frame(true, OpCode::Continuation, b"lo"));
        bytes.extend(frame(true, OpCode::Close, &[0x03, 0xE8]));
        for chunk in [1, 2, 3, 7, 1000] {
            let (events, err) = run(&bytes, chunk);
            assert_eq!(err, None);
            assert_eq!(
                events,
                [
                    Event::Ping(b"!".to_vec()),
                    Event::Message(Message::Text("Hello".into())),
                    Event::Close(Some(CloseFrame {
                        code: 1000,
                        reason: String::new()
                    })),
                ]
            );
        }
    }

    #[test]
    fn fragmentation_rules() {
        let (_, err) = run(&frame(true, OpCode::Continuation, b"x"), 100);
        assert_eq!(err, Some(ProtocolError::UnexpectedContinuation));
        let mut bytes = frame(false, OpCode::Text, b"a");
        bytes.extend(frame(true, OpCode::Binary, b"b"));
        let (_, err) = run(&bytes, 100);
        assert_eq!(
            err,
            Some(ProtocolError::ExpectedContinuation(OpCode::Binary))
        );
    }

    #[test]
    fn bad_utf8_fails_before_the_frame_ends() {
        // A frame claiming 1000 bytes whose 3rd byte is impossible: the error
        // comes as soon as that byte arrives, not after the 1000th.
        let mut out = Vec::new();
        FrameHeader {
            mask: Some(KEY),
            ..FrameHeader::new(OpCode::Text, 1000)
        }
        .encode(crate::frame::LengthForm::Minimal, &mut out)
        .unwrap();
        let mut payload = b"ab\xFFcd".to_vec();
        apply_mask(&mut payload, KEY, 0);
        out.extend_from_slice(&payload);
        let (events, err) = run(&out, 1);
        assert!(events.is_empty());
        let err = err.unwrap();
        assert_eq!(err.close_code(), 1007);
        assert!(matches!(err, ProtocolError::InvalidUtf8(e) if e.position == 2));
    }

    #[test]
    fn limits_without_allocation() {
        let mut out = Vec::new();
        FrameHeader {
            mask: Some(KEY),
            ..FrameHeader::new(OpCode::Binary, i64::MAX as u64)
        }
        .encode(crate::frame::LengthForm::Minimal, &mut out)
        .unwrap();
        let (_, err) = run(&out, 100);
        assert_eq!(err.map(|e| e.close_code()), Some(1009));
        let mut d = Decoder::new(
            Role::Server,
            Limits {
                max_frame_size: 100,
                max_message_size: 150,
            },
        );
        let mut bytes = frame(false, OpCode::Binary, &[0; 100]);
        bytes.extend(frame(true, OpCode::Continuation, &[0; 100]));
        // The first fragment fits; the second would make 200 bytes.
        assert_eq!(
            d.decode(&bytes),
            Err(ProtocolError::MessageTooBig { limit: 150 })
        );
        // Poisoned: it keeps failing.
        assert!(d.decode(&[]).is_err());
    }

    #[test]
    fn client_role_rejects_masked_frames() {
        let mut d = Decoder::new(Role::Client, Limits::default());
        assert_eq!(
            d.decode(&frame(true, OpCode::Text, b"x")),
            Err(ProtocolError::MaskedFrame)
        );
        let mut d = Decoder::new(Role::Client, Limits::default());
        let mut plain = Vec::new();
        encode_frame(&mut plain, true, OpCode::Binary, None, &[1, 2, 3]);
        assert_eq!(
            d.decode(&plain),
            Ok((5, Some(Event::Message(Message::Binary(vec![1, 2, 3])))))
        );
    }

    /// A client frame with RSV1 set as chosen.
    fn rsv1_frame(fin: bool, rsv1: bool, op: OpCode, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        FrameHeader {
            fin,
            rsv1,
            mask: Some(KEY),
            ..FrameHeader::new(op, payload.len() as u64)
        }
        .encode(crate::frame::LengthForm::Minimal, &mut out)
        .unwrap();
        let mut body = payload.to_vec();
        apply_mask(&mut body, KEY, 0);
        out.extend(body);
        out
    }

    fn run_deflate(
        bytes: &[u8],
        chunk: usize,
        limits: Limits,
    ) -> (Vec<Event>, Option<ProtocolError>) {
        let decoder = Decoder::new(Role::Server, limits)
            .with_deflate(&crate::extension::DeflateParams::default());
        feed(decoder, bytes, chunk)
    }

    const HELLO: [u8; 7] = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];

    #[test]
    fn compressed_messages_whole_and_fragmented() {
        let mut bytes = rsv1_frame(true, true, OpCode::Text, &HELLO);
        // RFC 7692 §7.2.3.2's second "Hello" relies on the kept context,
        // split over two frames with a ping in between.
        bytes.extend(rsv1_frame(false, true, OpCode::Text, &[0xf2, 0x00]));
        bytes.extend(rsv1_frame(true, false, OpCode::Ping, b"p"));
        bytes.extend(rsv1_frame(
            true,
            false,
            OpCode::Continuation,
            &[0x11, 0x00, 0x00],
        ));
        // An uncompressed message on the same connection.
        bytes.extend(rsv1_frame(true, false, OpCode::Binary, b"raw"));
        for chunk in [1, 3, 1000] {
            let (events, err) = run_deflate(&bytes, chunk, Limits::default());
            assert_eq!(err, None);
            assert_eq!(
                events,
                [
                    Event::Message(Message::Text("Hello".into())),
                    Event::Ping(b"p".to_vec()),
                    Event::Message(Message::Text("Hello".into())),
                    Event::Message(Message::Binary(b"raw".to_vec())),
                ]
            );
        }
    }

    #[test]
    fn rsv1_rules_with_deflate() {
        let mut bytes = rsv1_frame(false, true, OpCode::Text, &HELLO[..3]);
        bytes.extend(rsv1_frame(true, true, OpCode::Continuation, &HELLO[3..]));
        let (_, err) = run_deflate(&bytes, 100, Limits::default());
        assert_eq!(
            err,
            Some(ProtocolError::CompressedBitMisplaced(OpCode::Continuation))
        );
        let (_, err) = run_deflate(
            &rsv1_frame(true, true, OpCode::Ping, b""),
            100,
            Limits::default(),
        );
        assert_eq!(err.map(|e| e.close_code()), Some(1002));
        // Without the extension RSV1 is a reserved bit.
        let (_, err) = run(&rsv1_frame(true, true, OpCode::Text, &HELLO), 100);
        assert_eq!(err, Some(ProtocolError::ReservedBits(0b100)));
        // RSV2 stays reserved with the extension.
        let mut rsv2 = rsv1_frame(true, true, OpCode::Text, &HELLO);
        rsv2[0] |= 0x20;
        let (_, err) = run_deflate(&rsv2, 100, Limits::default());
        assert_eq!(err, Some(ProtocolError::ReservedBits(0b010)));
    }

    #[test]
    fn invalid_deflate_data_and_bombs() {
        let (_, err) = run_deflate(
            &rsv1_frame(true, true, OpCode::Binary, &[0xff; 8]),
            100,
            Limits::default(),
        );
        assert_eq!(err.map(|e| e.close_code()), Some(1007));
        // Compressed text that inflates to invalid UTF-8.
        let bad = crate::deflate::Deflater::new(15, 6, true)
            .compress(b"ab\xff")
            .unwrap();
        let (_, err) = run_deflate(
            &rsv1_frame(true, true, OpCode::Text, &bad),
            100,
            Limits::default(),
        );
        assert!(
            matches!(err, Some(ProtocolError::InvalidUtf8(_))),
            "{err:?}"
        );
        // 1 MiB of zeros in about a kilobyte: stopped at a 100 KB limit.
        let bomb = crate::deflate::Deflater::new(15, 9, true)
            .compress(&vec![0; 1 << 20])
            .unwrap();
        assert!(bomb.len() < 2000);
        let limits = Limits {
            max_frame_size: 1 << 20,
            max_message_size: 100_000,
        };
        let (_, err) = run_deflate(&rsv1_frame(true, true, OpCode::Binary, &bomb), 4096, limits);
        assert_eq!(err, Some(ProtocolError::MessageTooBig { limit: 100_000 }));
    }
}

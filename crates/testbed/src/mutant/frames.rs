//! Reading client frames and writing server frames, the way a first server
//! does it: byte by byte, with the header laid out as in RFC 6455 §5.2.
//!
//! The mutant does not use `wsconform_wire::Decoder`: a decoder is sealed,
//! and the bugs of this module live *inside* frame parsing. It uses the
//! wire's building blocks instead (opcodes, the header struct, masking, the
//! UTF-8 validator, close payloads), and its own loop around them — the
//! loop the bugs belong to.
//!
//! Home of [`Bug::LittleEndianLength`], [`Bug::No64BitLength`],
//! [`Bug::OneReadOneFrame`], [`Bug::UnmaskedAccepted`], [`Bug::FinIgnored`],
//! [`Bug::NoUtf8Check`] (reading) and [`Bug::MaskedServerFrames`],
//! [`Bug::WrongLongLength`] (writing).

use tokio::io::AsyncReadExt as _;
use tokio::net::tcp::OwnedReadHalf;
use wsconform_wire::{
    CloseFrame, FrameHeader, Limits, OpCode, ProtocolError, Utf8Validator, apply_mask,
    check_client_frame, parse_close_payload,
};

use wsconform_wire::deflate::{InflateError, Inflater};
use wsconform_wire::extension::DeflateParams;

use super::Bug;

/// How many bytes one `read` asks the kernel for.
const READ_CHUNK: usize = 64 * 1024;

/// The largest inflated message: the reference server's message limit, so
/// an inflation bomb costs a mutant no more than it costs the reference.
const MAX_INFLATED: usize = 16 << 20;

/// What the reader hands to the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Incoming {
    /// A data message (or, with [`Bug::FinIgnored`], a single fragment).
    Message {
        /// A text message (else binary).
        text: bool,
        /// The unmasked payload.
        data: Vec<u8>,
    },
    /// A ping and its payload.
    Ping(Vec<u8>),
    /// A pong.
    Pong,
    /// A valid close frame.
    Close(Option<CloseFrame>),
}

/// Why the reader stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Stop {
    /// The client closed TCP, or the socket failed.
    Gone,
    /// The client broke a rule: fail the connection with its close code.
    Violation(ProtocolError),
    /// A bug made the server give up without a word.
    Dropped,
}

/// Reads frames from a client and assembles messages.
#[derive(Debug)]
pub(crate) struct FrameReader {
    stream: OwnedReadHalf,
    bug: Option<Bug>,
    limits: Limits,
    /// Bytes read from the socket and not used yet.
    buf: Vec<u8>,
    chunk: Vec<u8>,
    /// Has the current frame caused a read already? (Only
    /// [`Bug::OneReadOneFrame`] cares.)
    read_for_this_frame: bool,
    /// Opcode of the message being assembled (Text or Binary).
    kind: Option<OpCode>,
    message: Vec<u8>,
    utf8: Utf8Validator,
    /// permessage-deflate's inflater, when negotiated.
    inflater: Option<Inflater>,
    /// The message being read is compressed.
    compressed: bool,
}

impl FrameReader {
    /// A reader over `stream`; `leftover` are bytes already read past the
    /// opening handshake.
    pub(crate) fn new(stream: OwnedReadHalf, leftover: Vec<u8>, bug: Option<Bug>) -> FrameReader {
        FrameReader {
            stream,
            bug,
            // As the reference server: 16 MiB a frame and 16 MiB a message.
            limits: Limits {
                max_message_size: 16 << 20,
                ..Limits::default()
            },
            buf: leftover,
            chunk: vec![0; READ_CHUNK],
            read_for_this_frame: false,
            kind: None,
            message: Vec::new(),
            utf8: Utf8Validator::new(),
            inflater: None,
            compressed: false,
        }
    }

    /// Inflates messages whose first frame has RSV1 (RFC 7692).
    pub(crate) fn use_deflate(&mut self, params: &DeflateParams) {
        let no_context_takeover = match self.bug {
            // The bug: a fresh inflater for every message.
            Some(Bug::ContextTakeoverIgnored) => true,
            _ => params.client_no_context_takeover,
        };
        self.inflater = Some(Inflater::new(
            params.client_max_window_bits,
            no_context_takeover,
        ));
    }

    /// Takes RSV1 off a frame that may carry it; the header rules see
    /// the rest.
    fn compression_bit(&mut self, header: &mut FrameHeader) -> Result<(), ProtocolError> {
        if !header.rsv1 || self.inflater.is_none() {
            return Ok(());
        }
        match header.opcode {
            OpCode::Text | OpCode::Binary => {}
            // The bug: "RSV1 means compressed", whichever frame it is on.
            OpCode::Continuation if self.bug == Some(Bug::Rsv1OnContinuation) => {}
            other => return Err(ProtocolError::CompressedBitMisplaced(other)),
        }
        header.rsv1 = false;
        if header.opcode != OpCode::Continuation {
            self.compressed = true;
        }
        Ok(())
    }

    /// Reads frames until one completes a message or is a control frame.
    pub(crate) async fn next(&mut self) -> Result<Incoming, Stop> {
        loop {
            self.read_for_this_frame = false;
            if self.bug == Some(Bug::OneReadOneFrame) {
                // The bug: whatever followed the previous frame in its read
                // is forgotten, as if every read held exactly one frame.
                self.buf.clear();
            }
            let mut header = self.read_header().await?;
            if header.opcode != OpCode::Continuation && header.opcode.is_data() {
                self.compressed = false;
            }
            self.compression_bit(&mut header).map_err(Stop::Violation)?;
            check_frame(&header, self.bug).map_err(Stop::Violation)?;
            if header.payload_len > self.limits.max_frame_size {
                return Err(Stop::Violation(ProtocolError::FrameTooBig {
                    len: header.payload_len,
                    limit: self.limits.max_frame_size,
                }));
            }
            if header.opcode.is_control() {
                return self.read_control(&header).await;
            }
            self.start_data_frame(&header).map_err(Stop::Violation)?;
            self.read_data_payload(&header).await?;
            let message_complete = match self.bug {
                // The bug: every frame is taken for a whole message.
                Some(Bug::FinIgnored) => true,
                _ => header.fin,
            };
            if message_complete {
                return self.finish_message(header.fin).map_err(Stop::Violation);
            }
        }
    }

    /// Reads and drops the client's bytes until it closes TCP, for at most
    /// `limit`: closing a socket with unread bytes sends a reset, and a reset
    /// can destroy our close frame before the client has read it.
    pub(crate) async fn drain(&mut self, limit: std::time::Duration) {
        let _ = tokio::time::timeout(limit, async {
            while let Ok(n) = self.stream.read(&mut self.chunk).await {
                if n == 0 {
                    break;
                }
            }
        })
        .await;
    }

    /// Reads once more from the socket into `buf`.
    async fn read_more(&mut self) -> Result<(), Stop> {
        if self.bug == Some(Bug::OneReadOneFrame) && self.read_for_this_frame {
            // The bug: the frame was supposed to be complete after one read;
            // the parser runs off the end of its buffer and the connection dies.
            return Err(Stop::Dropped);
        }
        self.read_for_this_frame = true;
        let n = self
            .stream
            .read(&mut self.chunk)
            .await
            .map_err(|_| Stop::Gone)?;
        if n == 0 {
            return Err(Stop::Gone);
        }
        self.buf
            .extend_from_slice(self.chunk.get(..n).unwrap_or_default());
        Ok(())
    }

    /// Makes sure `buf` holds at least `need` bytes.
    async fn fill(&mut self, need: usize) -> Result<(), Stop> {
        while self.buf.len() < need {
            self.read_more().await?;
        }
        Ok(())
    }

    /// The byte at `index` of `buf` (callers `fill` first).
    fn byte(&self, index: usize) -> u8 {
        self.buf.get(index).copied().unwrap_or_default()
    }

    /// Reads one frame header (RFC 6455 §5.2), byte by byte.
    async fn read_header(&mut self) -> Result<FrameHeader, Stop> {
        self.fill(2).await?;
        let (b0, b1) = (self.byte(0), self.byte(1));
        let (payload_len, mut header_len) = match b1 & 0x7F {
            126 => {
                self.fill(4).await?;
                let bytes = [self.byte(2), self.byte(3)];
                let len = match self.bug {
                    // The bug: the bytes are taken in the machine's order.
                    Some(Bug::LittleEndianLength) => u16::from_le_bytes(bytes),
                    _ => u16::from_be_bytes(bytes),
                };
                (u64::from(len), 4)
            }
            127 => {
                if self.bug == Some(Bug::No64BitLength) {
                    // The bug: "nobody sends frames that large".
                    return Err(Stop::Dropped);
                }
                self.fill(10).await?;
                let mut bytes = [0u8; 8];
                for (i, byte) in bytes.iter_mut().enumerate() {
                    *byte = self.byte(2 + i);
                }
                (u64::from_be_bytes(bytes), 10)
            }
            short => (u64::from(short), 2),
        };
        let mask = if b1 & 0x80 != 0 {
            self.fill(header_len + 4).await?;
            let h = header_len;
            header_len += 4;
            Some([
                self.byte(h),
                self.byte(h + 1),
                self.byte(h + 2),
                self.byte(h + 3),
            ])
        } else {
            None
        };
        self.buf.drain(..header_len);
        Ok(FrameHeader {
            fin: b0 & 0x80 != 0,
            rsv1: b0 & 0x40 != 0,
            rsv2: b0 & 0x20 != 0,
            rsv3: b0 & 0x10 != 0,
            opcode: OpCode::from_u8(b0),
            mask,
            payload_len,
        })
    }

    /// Reads a control frame's payload (at most 125 bytes, already checked)
    /// and turns it into an event.
    async fn read_control(&mut self, header: &FrameHeader) -> Result<Incoming, Stop> {
        let len = usize::try_from(header.payload_len).unwrap_or(usize::MAX);
        self.fill(len).await?;
        let mut payload: Vec<u8> = self.buf.drain(..len).collect();
        if let Some(key) = header.mask {
            apply_mask(&mut payload, key, 0);
        }
        match header.opcode {
            OpCode::Ping => Ok(Incoming::Ping(payload)),
            OpCode::Close => parse_close_payload(&payload)
                .map(Incoming::Close)
                .map_err(Stop::Violation),
            _ => Ok(Incoming::Pong),
        }
    }

    /// Applies the fragmentation rules (RFC 6455 §5.4) and the message size
    /// limit to a data frame that is about to be read.
    fn start_data_frame(&mut self, header: &FrameHeader) -> Result<(), ProtocolError> {
        match (header.opcode, self.kind) {
            (OpCode::Continuation, None) => return Err(ProtocolError::UnexpectedContinuation),
            (OpCode::Continuation, Some(_)) => {}
            (opcode, Some(_)) => return Err(ProtocolError::ExpectedContinuation(opcode)),
            (opcode, None) => {
                self.kind = Some(opcode);
                self.message.clear();
                self.utf8.reset();
            }
        }
        let total = (self.message.len() as u64).saturating_add(header.payload_len);
        if total > self.limits.max_message_size as u64 {
            return Err(ProtocolError::MessageTooBig {
                limit: self.limits.max_message_size,
            });
        }
        Ok(())
    }

    /// Reads a data frame's payload as it arrives: unmasks it and checks
    /// text for UTF-8 chunk by chunk, so a bad byte fails the connection
    /// before the rest of the frame is even sent.
    async fn read_data_payload(&mut self, header: &FrameHeader) -> Result<(), Stop> {
        let mut remaining = header.payload_len;
        let mut offset = 0;
        while remaining > 0 {
            if self.buf.is_empty() {
                self.read_more().await?;
            }
            let take = usize::try_from(remaining)
                .unwrap_or(usize::MAX)
                .min(self.buf.len());
            let start = self.message.len();
            self.message.extend(self.buf.drain(..take));
            let fresh = self.message.get_mut(start..).unwrap_or_default();
            if let Some(key) = header.mask {
                apply_mask(fresh, key, offset);
            }
            if self.kind == Some(OpCode::Text) && !self.compressed {
                match self.bug {
                    // The bug: text is treated as bytes.
                    Some(Bug::NoUtf8Check) => {}
                    _ => self
                        .utf8
                        .feed(fresh)
                        .map_err(|e| Stop::Violation(ProtocolError::InvalidUtf8(e)))?,
                }
            }
            offset += take;
            remaining -= take as u64;
        }
        Ok(())
    }

    /// Hands over the assembled message. `fin` is the FIN bit of the last
    /// frame read: only a final frame ends the message for good.
    fn finish_message(&mut self, fin: bool) -> Result<Incoming, ProtocolError> {
        let kind = if fin { self.kind.take() } else { self.kind };
        let text = kind == Some(OpCode::Text);
        if self.compressed
            && let Some(inflater) = self.inflater.as_mut()
        {
            let limit = self.limits.max_message_size.min(MAX_INFLATED);
            let mut plain = Vec::new();
            let inflated = inflater
                .inflate(&self.message, &mut plain, limit)
                .and_then(|()| inflater.finish_message(&mut plain, limit));
            inflated.map_err(|e| match e {
                InflateError::TooBig { limit } => ProtocolError::MessageTooBig { limit },
                InflateError::Corrupt(reason) => ProtocolError::InvalidCompressedData(reason),
            })?;
            self.message = plain;
            if text {
                self.utf8.reset();
                self.utf8
                    .feed(&self.message)
                    .map_err(ProtocolError::InvalidUtf8)?;
            }
        }
        if text {
            self.utf8.finish().map_err(ProtocolError::InvalidUtf8)?;
        }
        Ok(Incoming::Message {
            text,
            data: std::mem::take(&mut self.message),
        })
    }
}

/// The rules every client frame header must follow (RFC 6455 §5.1, §5.2, §5.5).
///
/// Only the mask rule can be bent by a bug; every other rule is the wire
/// crate's own check, so the mutants differ from a correct server in exactly
/// one place.
fn check_frame(header: &FrameHeader, bug: Option<Bug>) -> Result<(), ProtocolError> {
    if header.mask.is_none() {
        match bug {
            // The bug: "if it is masked, unmask it" — and otherwise carry on.
            Some(Bug::UnmaskedAccepted) => {
                let as_if_masked = FrameHeader {
                    mask: Some([0; 4]),
                    ..*header
                };
                return check_client_frame(&as_if_masked);
            }
            _ => return Err(ProtocolError::UnmaskedFrame),
        }
    }
    check_client_frame(header)
}

/// The masking key a mutant with [`Bug::MaskedServerFrames`] uses.
pub(crate) const SERVER_MASK: [u8; 4] = [0x5A, 0x17, 0xC3, 0x9E];

/// Encodes one whole, unfragmented server frame.
pub(crate) fn encode(bug: Option<Bug>, opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    let mask = match bug {
        // The bug: frames are masked as a client would mask them.
        Some(Bug::MaskedServerFrames) => Some(SERVER_MASK),
        _ => None,
    };
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    let mut out = Vec::with_capacity(payload.len() + 14);
    out.push(0x80 | opcode.as_u8());
    let len = payload.len();
    if len <= 125 {
        out.push(mask_bit | len as u8);
    } else if let Ok(len16) = u16::try_from(len) {
        out.push(mask_bit | 126);
        let bytes = match bug {
            // The bug: the length is written in the machine's byte order.
            Some(Bug::WrongLongLength) => len16.to_le_bytes(),
            _ => len16.to_be_bytes(),
        };
        out.extend_from_slice(&bytes);
    } else {
        out.push(mask_bit | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    if let Some(key) = mask {
        out.extend_from_slice(&key);
    }
    let payload_start = out.len();
    out.extend_from_slice(payload);
    if let Some(key) = mask {
        apply_mask(out.get_mut(payload_start..).unwrap_or_default(), key, 0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use wsconform_wire::{Decoder, Event, Message, Role, encode_frame};

    fn decode_server_frame(bytes: &[u8]) -> Result<Event, ProtocolError> {
        let mut decoder = Decoder::new(Role::Client, Limits::default());
        match decoder.decode(bytes)? {
            (_, Some(event)) => Ok(event),
            (_, None) => Err(ProtocolError::UnexpectedContinuation),
        }
    }

    #[test]
    fn correct_encoding_matches_the_wire_crate() {
        for len in [0, 1, 125, 126, 300, 65_535, 65_536, 70_000] {
            let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let mut expected = Vec::new();
            encode_frame(&mut expected, true, OpCode::Binary, None, &payload);
            assert_eq!(
                encode(None, OpCode::Binary, &payload),
                expected,
                "len {len}"
            );
        }
    }

    #[test]
    fn masked_frames_are_refused_by_a_client() {
        let frame = encode(Some(Bug::MaskedServerFrames), OpCode::Text, b"hello");
        assert_eq!(frame.get(1), Some(&(0x80 | 5)));
        assert_eq!(decode_server_frame(&frame), Err(ProtocolError::MaskedFrame));
    }

    #[test]
    fn wrong_long_length_only_touches_the_16_bit_form() {
        let short = encode(Some(Bug::WrongLongLength), OpCode::Text, b"hi");
        assert_eq!(
            decode_server_frame(&short),
            Ok(Event::Message(Message::Text("hi".into())))
        );
        let long = encode(Some(Bug::WrongLongLength), OpCode::Binary, &[7; 300]);
        // 300 = 0x012C, written 2C 01.
        assert_eq!(long.get(..4), Some(&[0x82, 126, 0x2C, 0x01][..]));
    }
}

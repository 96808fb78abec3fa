//! Protocol violations (RFC 6455 §7.1.7, §7.4.1).
//!
//! When a peer breaks a rule of the protocol, the other side must *fail the
//! WebSocket connection*: send a close frame with a status code that says what
//! kind of rule was broken, then drop the TCP connection. Every variant of
//! [`ProtocolError`] therefore knows its close code.

use crate::frame::OpCode;
use crate::utf8::Utf8Error;

/// A rule of RFC 6455 that the peer broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// §5.1: "The server MUST close the connection upon receiving a frame that
    /// is not masked."
    #[error("client frame is not masked (RFC 6455 §5.1: a client MUST mask every frame)")]
    UnmaskedFrame,
    /// §5.1: "A client MUST close a connection if it detects a masked frame."
    #[error("server frame is masked (RFC 6455 §5.1: a server MUST NOT mask its frames)")]
    MaskedFrame,
    /// §5.2: RSV1-3 "MUST be 0 unless an extension is negotiated".
    #[error("reserved bits set (RSV={0:03b}) without a negotiated extension (RFC 6455 §5.2)")]
    ReservedBits(u8),
    /// §5.2: "If an unknown opcode is received, the receiving endpoint MUST
    /// _Fail the WebSocket Connection_."
    #[error("reserved opcode 0x{0:X} (RFC 6455 §5.2)")]
    ReservedOpcode(u8),
    /// §5.5: "All control frames MUST have a payload length of 125 bytes or less."
    #[error("control frame with a {0}-byte payload; the limit is 125 (RFC 6455 §5.5)")]
    ControlFrameTooLong(u64),
    /// §5.5: "Control frames ... MUST NOT be fragmented."
    #[error("fragmented control frame (FIN=0) (RFC 6455 §5.5)")]
    FragmentedControlFrame,
    /// §5.2: with the 64-bit form "the most significant bit MUST be 0".
    #[error("64-bit payload length with the most significant bit set (RFC 6455 §5.2)")]
    LengthTopBitSet,
    /// §5.4: a continuation frame arrived with no fragmented message open.
    #[error("continuation frame with no message to continue (RFC 6455 §5.4)")]
    UnexpectedContinuation,
    /// §5.4: a new data frame arrived while a fragmented message was still open.
    #[error("new {0:?} frame while a fragmented message is unfinished (RFC 6455 §5.4)")]
    ExpectedContinuation(OpCode),
    /// §8.1: text must be valid UTF-8.
    #[error("text is not valid UTF-8: {0} (RFC 6455 §8.1)")]
    InvalidUtf8(Utf8Error),
    /// §5.5.1: a close payload, when present, starts with a 2-byte code.
    #[error("close frame with a 1-byte payload (RFC 6455 §5.5.1)")]
    InvalidCloseLength,
    /// §7.4: this code may not appear in a close frame.
    #[error("close code {0} may not be sent on the wire (RFC 6455 §7.4)")]
    InvalidCloseCode(u16),
    /// §5.5.1: the close reason must be UTF-8.
    #[error("close reason is not valid UTF-8 (RFC 6455 §5.5.1)")]
    InvalidCloseReason,
    /// RFC 7692 §6.1: "An endpoint MUST NOT set the 'Per-Message Compressed'
    /// bit of control frames and non-first fragments of a data message."
    #[error("RSV1 set on a {} frame; only the first frame of a message may carry it (RFC 7692 §6.1)", .0.long_name())]
    CompressedBitMisplaced(OpCode),
    /// RFC 7692 §7.2.2: the payload of a compressed message did not inflate.
    #[error("compressed message does not inflate: {0} (RFC 7692 §7.2.2)")]
    InvalidCompressedData(String),
    /// The message grew beyond the configured limit (close code 1009, §7.4.1).
    #[error("message larger than the limit of {limit} bytes")]
    MessageTooBig {
        /// The configured maximum message size.
        limit: usize,
    },
    /// A single frame announced more bytes than the configured limit.
    #[error("frame of {len} bytes is larger than the limit of {limit} bytes")]
    FrameTooBig {
        /// The announced payload length.
        len: u64,
        /// The configured maximum frame size.
        limit: u64,
    },
}

impl ProtocolError {
    /// The close code (§7.4.1) to send when failing the connection for this reason.
    ///
    /// - 1007 "invalid frame payload data": text or a close reason that is not UTF-8,
    ///   or a compressed message that does not inflate;
    /// - 1009 "message too big": a configured limit was exceeded;
    /// - 1002 "protocol error": everything else.
    // ANCHOR: close_code
    pub fn close_code(&self) -> u16 {
        match self {
            ProtocolError::InvalidUtf8(_)
            | ProtocolError::InvalidCloseReason
            | ProtocolError::InvalidCompressedData(_) => 1007,
            ProtocolError::MessageTooBig { .. } | ProtocolError::FrameTooBig { .. } => 1009,
            _ => 1002,
        }
    }
    // ANCHOR_END: close_code
}

/// An error while *building* a frame (our own mistake, not the peer's).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// A forced length form is too small for the payload length.
    #[error("payload length {len} does not fit the {form:?} length form")]
    LengthDoesNotFit {
        /// The payload length to encode.
        len: u64,
        /// The form that was asked for.
        form: crate::frame::LengthForm,
    },
}

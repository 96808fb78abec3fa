//! The texts of a failure: the `Expected:` line for each expectation, the
//! `Actual:` line for each event, and the rule each protocol error breaks.
//!
//! Reports, the book's excerpts and the mutant matrix quote these words, so
//! they change only on purpose.

use std::time::Duration;

use wsconform_wire::{FramePiece, LengthForm, OpCode, ProtocolError, ReadError, ReadErrorKind};

use crate::decode::show_payload;
use crate::limits::{MAX_FRAME, MAX_MESSAGE};
use crate::plan::Expected;
use crate::scenario::DataKind;
use crate::transcript::{Broken, Caret, Event};
use crate::wording::{count, either};

/// `text` or `binary`.
pub fn kind_name(kind: DataKind) -> &'static str {
    match kind {
        DataKind::Text => "text",
        DataKind::Binary => "binary",
    }
}

/// A duration the way failures say it: `2 s`, `0.5 s`.
pub fn seconds(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        format!("{} s", ms / 1000)
    } else if !ms.is_multiple_of(100) && ms < 1000 {
        format!("{ms} ms")
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// What a received message, pong or close was, as the `Actual:` line.
pub fn describe_event(event: &Event) -> String {
    match event {
        Event::Message { kind, bytes } => format!(
            "a {} message of {}: {}",
            kind_name(*kind),
            count(bytes.len() as u64, "byte"),
            show_payload(bytes, 60)
        ),
        Event::Pong(p) => format!("a pong with payload {}", show_payload(p, 60)),
        Event::Close {
            code: Some(c),
            reason,
        } if !reason.is_empty() => {
            format!("a close frame with code {c} ({reason:?})")
        }
        Event::Close { code: Some(c), .. } => format!("a close frame with code {c}"),
        Event::Close { code: None, .. } => "a close frame without a status code".into(),
        Event::Frame {
            opcode,
            fin,
            payload,
        } => format!(
            "a frame with opcode {} FIN={} payload {}",
            opcode.long_name(),
            u8::from(*fin),
            show_payload(payload, 40)
        ),
        Event::TimedOut => "nothing".into(),
        Event::Ended(end) => end.describe(),
        Event::Broke(b) => b.actual.clone(),
    }
}

fn codes_text(codes: &[u16]) -> String {
    match codes {
        [] => "any code".to_string(),
        [one] => format!("code {one}"),
        many => {
            let codes: Vec<String> = many.iter().map(u16::to_string).collect();
            match either(&codes) {
                one if !one.contains(' ') => format!("code {one}"),
                list => format!("one of the codes {list}"),
            }
        }
    }
}

/// Says what an expectation waits for, as the `Expected:` line.
pub fn describe_expected(e: &Expected) -> String {
    match e {
        Expected::Accepted => "a valid 101 Switching Protocols response".into(),
        Expected::Refused { status, .. } if status.is_empty() => {
            "the handshake refused with an HTTP error status".into()
        }
        Expected::Refused { status, .. } => format!(
            "the handshake refused with status {}",
            either(&status.iter().map(u16::to_string).collect::<Vec<_>>())
        ),
        Expected::Message { kind, bytes } => {
            let kind = kind.map(kind_name).unwrap_or("data");
            match bytes {
                Some(b) => format!(
                    "a {kind} message of {}: {}",
                    count(b.len() as u64, "byte"),
                    show_payload(b, 60)
                ),
                None => format!("a {kind} message"),
            }
        }
        Expected::Broadcast(m) => format!(
            "a chat message {{\"username\": {:?}, \"message\": \"{}…\"}} (carrying {})",
            m.username,
            m.message.chars().take(24).collect::<String>(),
            m.nonce
        ),
        Expected::Frame {
            opcode,
            fin,
            payload,
        } => {
            let mut parts = vec!["a frame".to_string()];
            if let Some(op) = opcode {
                parts.push(format!("with opcode {}", OpCode::from_u8(*op).long_name()));
            }
            if let Some(f) = fin {
                parts.push(format!("FIN={}", u8::from(*f)));
            }
            if let Some(p) = payload {
                parts.push(format!("payload {}", show_payload(p, 40)));
            }
            parts.join(" ")
        }
        Expected::Pong(p) => format!("a pong with payload {}", show_payload(p, 60)),
        Expected::Close(codes) => format!("a close frame with {}", codes_text(codes)),
        Expected::Fail(codes) => format!(
            "the server to fail the connection: a close frame with {}, or the TCP connection closed",
            codes_text(codes)
        ),
        Expected::Silence(d) => format!("no frame for {} ms", d.as_millis()),
        Expected::TcpClosed => "the server to close the TCP connection".into(),
    }
}

/// A frame the server sent only in part, as the start of the `Actual:`
/// line: `an incomplete frame: the header announces 891 payload bytes, 124
/// present`. `None` when `piece` is whole.
pub fn incomplete_frame(piece: &FramePiece) -> Option<String> {
    if piece.complete {
        return None;
    }
    Some(match piece.header {
        Some(h) => format!(
            "an incomplete frame: the header announces {}, {} present",
            count(h.payload_len, "payload byte"),
            piece.payload.len()
        ),
        None => format!(
            "an incomplete frame header ({} of it)",
            count(piece.header_len as u64, "byte")
        ),
    })
}

/// Where the caret of an incomplete frame goes: under its length field
/// (the number that and the bytes present disagree on), or under its
/// first byte when even the header is cut off.
pub fn incomplete_caret(piece: &FramePiece) -> usize {
    match piece.form {
        Some(LengthForm::Bits16 | LengthForm::Bits64) => 2,
        Some(_) => 1,
        None => 0,
    }
}

/// A frame-level error of the wire reader (a header rule, the frame limit,
/// a longer length form) as the runner reports it, on transcript `line`.
pub fn frame_broken(e: &ReadError, line: usize) -> Broken {
    let caret = Some(Caret {
        line,
        byte: e.byte_in_frame(),
    });
    let (actual, rule) = match &e.kind {
        ReadErrorKind::NonMinimalLength { len } => (
            format!(
                "a frame of {} whose length uses a longer form than needed",
                count(*len, "byte")
            ),
            "RFC 6455 5.2: \"the minimal number of bytes MUST be used to encode the length\"",
        ),
        ReadErrorKind::Protocol(ProtocolError::FrameTooBig { len, .. }) => (
            format!(
                "a frame announcing {len} payload bytes, more than the runner accepts ({MAX_FRAME} bytes)"
            ),
            "The runner bounds what it reads; no scenario needs frames this large.",
        ),
        ReadErrorKind::Protocol(p) => (
            format!("a frame that breaks a rule: {p}"),
            match p {
                ProtocolError::UnmaskedFrame => {
                    "RFC 6455 5.1: \"a client MUST mask all frames that it sends to the server\""
                }
                ProtocolError::MaskedFrame => {
                    "RFC 6455 5.1: \"A server MUST NOT mask any frames that it sends to the client.\""
                }
                ProtocolError::ReservedBits(_) => {
                    "RFC 6455 5.2: RSV1-3 \"MUST be 0 unless an extension is negotiated that defines meanings for non-zero values\""
                }
                ProtocolError::ReservedOpcode(_) => {
                    "RFC 6455 5.2: opcodes 0x3-0x7 and 0xB-0xF are reserved for further frames"
                }
                ProtocolError::ControlFrameTooLong(_) => {
                    "RFC 6455 5.5: \"All control frames MUST have a payload length of 125 bytes or less\""
                }
                ProtocolError::FragmentedControlFrame => {
                    "RFC 6455 5.5: \"All control frames ... MUST NOT be fragmented.\""
                }
                ProtocolError::LengthTopBitSet => {
                    "RFC 6455 5.2: in the 64-bit length \"the most significant bit MUST be 0\""
                }
                _ => "RFC 6455 5.2: base framing protocol",
            },
        ),
    };
    Broken {
        actual,
        rule: rule.to_string(),
        caret,
    }
}

/// A message-level error of the wire assembler (fragmentation, UTF-8, the
/// message limit, a close body) for a frame of `opcode` on transcript `line`.
pub fn message_broken(e: &ReadError, opcode: OpCode, line: usize) -> Broken {
    let caret = Some(Caret {
        line,
        byte: e.byte_in_frame(),
    });
    let (actual, rule) = match e.protocol() {
        _ if opcode == OpCode::Close => (
            format!("a close frame with an invalid body: {e}"),
            "RFC 6455 5.5.1: the body is a 2-byte status code that may appear on the wire, then UTF-8",
        ),
        Some(ProtocolError::UnexpectedContinuation) => (
            "a continuation frame with no message to continue".to_string(),
            "RFC 6455 5.4: a fragmented message starts with a text or binary frame with FIN clear",
        ),
        Some(ProtocolError::ExpectedContinuation(_)) => (
            "a new data frame before the fragmented message ended".to_string(),
            "RFC 6455 5.4: fragments of one message are not interleaved with other data frames",
        ),
        Some(ProtocolError::MessageTooBig { .. }) => (
            format!("a message larger than the runner accepts ({MAX_MESSAGE} bytes)"),
            "The runner bounds what it reads; no scenario needs messages this large.",
        ),
        Some(ProtocolError::InvalidUtf8(u)) => (
            format!(
                "a text message that is not valid UTF-8 from offset {} on: a server must never send one",
                u.position
            ),
            "RFC 6455 8.1: text messages MUST be valid UTF-8",
        ),
        _ => (
            "a frame with a reserved opcode".to_string(),
            "RFC 6455 5.2: reserved opcodes MUST NOT be used",
        ),
    };
    Broken {
        actual,
        rule: rule.to_string(),
        caret,
    }
}

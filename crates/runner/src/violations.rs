//! The rules a sequence of frames breaks, for `wsconform decode`.
//!
//! No rule is written here: the bytes go through the wire crate's
//! [`FrameReader`] (header rules, length form) and [`MessageAssembler`]
//! (fragmentation, UTF-8, close bodies), and each error is said with the
//! runner's own words ([`frame_broken`], [`message_broken`]), so `decode`
//! and a failing run describe one broken rule the same way.
//!
//! Unlike the runner, which stops reading at the first broken rule, every
//! frame is checked on its own: a frame that breaks a header rule is left
//! out of the message it would belong to, and the rest goes on.

use wsconform_wire::{FrameReader, MessageAssembler, ReadErrorKind, Role, split_frames};

use crate::exec::describe::{frame_broken, message_broken};
use crate::limits::reader_limits;

/// Who sent the bytes: the rules differ (a client masks, a server does not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sender {
    /// Frames a client sends: masked.
    Client,
    /// Frames a server sends: unmasked.
    Server,
}

impl Sender {
    /// The sender the bytes look like: a client when the first frame is
    /// masked, a server otherwise.
    pub fn guess(bytes: &[u8]) -> Sender {
        match bytes.get(1) {
            Some(b) if b & 0x80 != 0 => Sender::Client,
            _ => Sender::Server,
        }
    }

    /// `a client` / `a server`.
    pub fn name(self) -> &'static str {
        match self {
            Sender::Client => "a client",
            Sender::Server => "a server",
        }
    }
}

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// A MUST of RFC 6455 is broken: the receiver fails the connection.
    Violation,
    /// Allowed to be read, but not what the RFC asks a sender to write
    /// (a length in a longer form than needed).
    Note,
}

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Where the offending frame starts in the bytes.
    pub frame_start: usize,
    /// The first offending byte, counted from the start of the bytes.
    pub byte: usize,
    /// Violation or note.
    pub severity: Severity,
    /// What the bytes do, in the runner's words.
    pub actual: String,
    /// The rule, quoted with its RFC section.
    pub rule: String,
}

/// Every rule `bytes` break as frames sent by `sender`, in order.
pub fn check(bytes: &[u8], sender: Sender) -> Vec<Finding> {
    let role = match sender {
        Sender::Client => Role::Server,
        Sender::Server => Role::Client,
    };
    let mut findings = Vec::new();
    let mut messages = MessageAssembler::new(reader_limits());
    for piece in split_frames(bytes) {
        let end = piece.start + piece.header_len + piece.payload.len();
        let mut reader = FrameReader::new(role, reader_limits());
        reader.push(
            bytes
                .get(piece.start..end.min(bytes.len()))
                .unwrap_or_default(),
        );
        let frame = match reader.next_frame() {
            Ok(Some(frame)) => frame,
            // Cut off: the annotation already says so.
            Ok(None) => break,
            Err(e) => {
                let broken = frame_broken(&e, 0);
                let note = matches!(e.kind, ReadErrorKind::NonMinimalLength { .. });
                findings.push(Finding {
                    frame_start: piece.start,
                    byte: piece.start + e.byte_in_frame(),
                    severity: if note {
                        Severity::Note
                    } else {
                        Severity::Violation
                    },
                    actual: broken.actual,
                    rule: broken.rule,
                });
                if !note {
                    continue;
                }
                // A longer length form is still a readable frame: its
                // message is checked too, by a reader that takes it.
                match piece.header {
                    Some(header) if piece.form.is_some() => wsconform_wire::Frame {
                        offset: 0,
                        header,
                        form: piece.form.unwrap_or(wsconform_wire::LengthForm::Minimal),
                        header_len: piece.header_len,
                        bytes: bytes.get(piece.start..end).unwrap_or_default().to_vec(),
                    },
                    _ => continue,
                }
            }
        };
        if let Err(e) = messages.push(&frame) {
            let broken = message_broken(&e, frame.header.opcode, 0);
            findings.push(Finding {
                frame_start: piece.start,
                byte: piece.start + e.byte_in_frame(),
                severity: Severity::Violation,
                actual: broken.actual,
                rule: broken.rule,
            });
            messages = MessageAssembler::new(reader_limits());
        }
    }
    findings
}

/// The findings as `decode` prints them after the annotation.
pub fn explain(bytes: &[u8], sender: Sender) -> String {
    let findings = check(bytes, sender);
    let mut out = format!("read as frames {} sends:\n", sender.name());
    if findings.is_empty() {
        out.push_str("  no rule broken\n");
    }
    for f in findings {
        let mark = match f.severity {
            Severity::Violation => "✗",
            Severity::Note => "note:",
        };
        out.push_str(&format!(
            "  {mark} byte {} (frame at byte {}): {}\n      {}\n",
            f.byte, f.frame_start, f.actual, f.rule
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hex::parse_hex;

    fn found(hex: &str, sender: Sender) -> Vec<Finding> {
        check(&parse_hex(hex).unwrap(), sender)
    }

    fn rules(hex: &str, sender: Sender) -> String {
        found(hex, sender)
            .iter()
            .map(|f| format!("{} | {}", f.actual, f.rule))
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn the_examples_each_break_their_rule() {
        let s = Sender::Server;
        assert!(rules("827f8000000000000001", s).contains("the most significant bit MUST be 0"));
        assert!(rules("880103", s).contains("5.5.1"));
        assert!(rules("880203ed", s).contains("5.5.1"));
        assert!(rules("8102c328", s).contains("MUST be valid UTF-8"));
        assert!(rules("8300", s).contains("reserved"));
        assert!(rules("c100", s).contains("RSV1-3"));
        assert!(rules("0900", s).contains("MUST NOT be fragmented"));
        let long_ping = format!("897e007e{}", "00".repeat(126));
        assert!(rules(&long_ping, s).contains("125 bytes or less"));
        assert!(rules("8180 00000000", s).contains("MUST NOT mask"));
        assert!(rules("8100", Sender::Client).contains("MUST mask"));
    }

    #[test]
    fn a_longer_length_form_is_a_note_and_the_message_is_still_checked() {
        let f = found("817e0002c328", Sender::Server);
        assert_eq!(f.len(), 2, "{f:?}");
        assert_eq!(f[0].severity, Severity::Note);
        assert_eq!(f[1].severity, Severity::Violation);
        assert!(f[1].rule.contains("UTF-8"));
    }

    #[test]
    fn valid_frames_break_nothing_and_every_frame_is_checked() {
        assert!(found("81 85 37fa213d 7f9f4d5158", Sender::Client).is_empty());
        assert!(found("8105 48656c6c6f 880203e8", Sender::Server).is_empty());
        let two = found("8300 c100", Sender::Server);
        assert_eq!(two.len(), 2);
        assert_eq!(two[1].frame_start, 2);
        assert_eq!(Sender::guess(&[0x81, 0x85]), Sender::Client);
        assert_eq!(Sender::guess(&[0x81, 0x05]), Sender::Server);
    }
}

//! The annotated transcript as text: one line per frame, hex of its
//! header, what it means, and a caret under the first offending byte. The
//! terminal report prints it in colour and with timings; the plain-text
//! reports ([`detail`](super::detail)) without either.

use std::fmt::Write;

use crate::decode::header_hex;
use crate::hex::to_hex;
use crate::transcript::{LineKind, Transcript};
use crate::verdict::Caret;

/// How to render.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanOptions {
    /// ANSI colours.
    pub color: bool,
    /// Show timings (off in snapshot tests, where they vary).
    pub timings: bool,
}

/// ANSI colours, or plain text when off.
pub(super) struct Paint {
    pub(super) on: bool,
}

impl Paint {
    pub(super) fn wrap(&self, code: &str, text: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
    pub(super) fn red(&self, t: &str) -> String {
        self.wrap("31", t)
    }
    pub(super) fn green(&self, t: &str) -> String {
        self.wrap("32", t)
    }
    pub(super) fn yellow(&self, t: &str) -> String {
        self.wrap("33", t)
    }
    pub(super) fn dim(&self, t: &str) -> String {
        self.wrap("2", t)
    }
    pub(super) fn bold(&self, t: &str) -> String {
        self.wrap("1", t)
    }
}

/// Renders the transcript, with a caret under the offending byte.
pub fn transcript(
    t: &Transcript,
    caret: Option<Caret>,
    opts: HumanOptions,
    indent: &str,
) -> String {
    let p = Paint { on: opts.color };
    let mut out = String::new();
    let show_client = {
        let mut names: Vec<&str> = t
            .lines
            .iter()
            .map(|l| l.client.as_str())
            .filter(|c| !c.is_empty())
            .collect();
        names.dedup();
        names.iter().any(|n| Some(n) != names.first())
    };
    let shown = shown_lines(t.lines.len(), caret.map(|c| c.line));
    let mut elided = 0usize;
    for (index, line) in t.lines.iter().enumerate() {
        if !shown(index) {
            elided += 1;
            continue;
        }
        if elided > 0 {
            let _ = writeln!(out, "{indent}  … {elided} lines elided");
            elided = 0;
        }
        let mut prefix = String::from(indent);
        if opts.timings {
            prefix.push_str(&format!("{:>6} ms ", line.at.as_millis()));
        }
        if show_client && !line.client.is_empty() {
            prefix.push_str(&format!("{:<8} ", line.client));
        }
        let arrow = match line.kind {
            LineKind::Sent => "→ ",
            LineKind::Received => "← ",
            LineKind::Note => "  ",
        };
        prefix.push_str(arrow);
        let here = caret.filter(|c| c.line == index);
        if line.bytes.is_empty() {
            let text = if line.kind == LineKind::Note {
                p.dim(&line.text)
            } else {
                line.text.clone()
            };
            let _ = writeln!(out, "{prefix}{text}");
            continue;
        }
        match here {
            Some(c) => {
                let upto = (c.byte + 4).max(line.header_len).min(line.bytes.len());
                let hex = to_hex(line.bytes.get(..upto).unwrap_or_default());
                let more = if upto < line.bytes.len() || line.header_len < line.bytes.len() {
                    " …"
                } else {
                    ""
                };
                let _ = writeln!(out, "{prefix}{hex}{more}  {}", line.text);
                let column = prefix.chars().count() + 3 * c.byte.min(upto.saturating_sub(1));
                let _ = writeln!(out, "{}{}", " ".repeat(column), p.red("^^"));
            }
            None => {
                let hex = header_hex(&line.bytes, line.header_len);
                let more = if line.bytes.len() > line.header_len {
                    " …"
                } else {
                    ""
                };
                let _ = writeln!(out, "{prefix}{hex}{more}  {}", line.text);
            }
        }
    }
    if elided > 0 {
        let _ = writeln!(out, "{indent}  … {elided} lines elided");
    }
    if t.dropped_lines > 0 {
        let _ = writeln!(out, "{indent}({} more frames not shown)", t.dropped_lines);
    }
    if t.dropped_bytes > 0 {
        let _ = writeln!(out, "{indent}({} more bytes not kept)", t.dropped_bytes);
    }
    out
}

/// How many lines a rendered transcript shows at most: the start (how the
/// conversation went), the end (how it ended) and the lines around the
/// caret. A server that streams thousands of frames gets a count instead,
/// so every report stays readable and small.
pub const SHOWN_HEAD: usize = 30;
/// Lines shown from the end of a long transcript.
pub const SHOWN_TAIL: usize = 10;
/// Lines shown each side of the caret's line.
const AROUND_CARET: usize = 3;

/// Which line indices a transcript of `total` lines shows.
fn shown_lines(total: usize, caret_line: Option<usize>) -> impl Fn(usize) -> bool {
    move |index| {
        total <= SHOWN_HEAD + SHOWN_TAIL
            || index < SHOWN_HEAD
            || index + SHOWN_TAIL >= total
            || caret_line.is_some_and(|c| index.abs_diff(c) <= AROUND_CARET)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_long_transcript_is_elided_with_a_count_and_keeps_the_caret() {
        let mut t = Transcript::default();
        for i in 0..1000 {
            t.note(Duration::ZERO, "client", format!("note {i}"));
        }
        let opts = HumanOptions {
            color: false,
            timings: false,
        };
        let caret = Caret { line: 500, byte: 0 };
        let text = transcript(&t, Some(caret), opts, "");
        assert!(text.contains("note 0\n"));
        assert!(text.contains("note 999\n"));
        assert!(text.contains("note 500\n"));
        assert!(!text.contains("note 100\n"));
        assert!(text.contains("… 467 lines elided"), "{text}");
        assert!(text.contains("… 486 lines elided"), "{text}");
        assert!(text.lines().count() < 80);
    }
}

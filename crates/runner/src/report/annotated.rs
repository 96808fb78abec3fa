//! The annotated transcript as text: one line per frame, hex of its
//! header, what it means, and a caret under the first offending byte. The
//! terminal report prints it in colour and with timings; the plain-text
//! reports ([`detail`](super::detail)) without either.

use std::fmt::Write;

use crate::decode::header_hex;
use crate::hex::to_hex;
use crate::transcript::{LineKind, Transcript};
use crate::verdict::Caret;
use crate::wording::noun;

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

/// How much of a handshake head a transcript shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heads {
    /// The terminal: at most [`FOLDED_HEAD_LINES`] header lines, each cut at
    /// [`FOLDED_HEAD_WIDTH`] characters, and a count of the rest.
    Folded,
    /// Machine reports and HTML: every header line whole.
    Whole,
}

/// How many header lines of a handshake the terminal shows.
pub const FOLDED_HEAD_LINES: usize = 10;
/// How many characters of a header line the terminal shows.
pub const FOLDED_HEAD_WIDTH: usize = 100;

/// Renders the transcript for the terminal (handshake heads folded), with a
/// caret under the offending byte.
pub fn transcript(
    t: &Transcript,
    caret: Option<Caret>,
    opts: HumanOptions,
    indent: &str,
) -> String {
    transcript_with(t, caret, opts, indent, Heads::Folded)
}

/// The header lines of a handshake under its first line, `pad` wide.
fn head_lines(out: &mut String, head: &[String], pad: &str, heads: Heads) {
    let shown = match heads {
        Heads::Folded => head.len().min(FOLDED_HEAD_LINES),
        Heads::Whole => head.len(),
    };
    for line in head.iter().take(shown) {
        let chars = line.chars().count();
        if heads == Heads::Folded && chars > FOLDED_HEAD_WIDTH {
            let cut: String = line.chars().take(FOLDED_HEAD_WIDTH - 1).collect();
            let _ = writeln!(out, "{pad}{cut}…");
        } else {
            let _ = writeln!(out, "{pad}{line}");
        }
    }
    if shown < head.len() {
        let _ = writeln!(
            out,
            "{pad}… ({} more {})",
            head.len() - shown,
            noun((head.len() - shown) as u64, "header line")
        );
    }
}

/// Renders the transcript, heads folded or whole.
pub fn transcript_with(
    t: &Transcript,
    caret: Option<Caret>,
    opts: HumanOptions,
    indent: &str,
    heads: Heads,
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
        // Several clients, or a twin's: the reader must see whose line it is.
        names
            .iter()
            .any(|n| Some(n) != names.first() || crate::plan::is_twin_client(n))
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
            if !line.head.is_empty() {
                let pad = " ".repeat(prefix.chars().count() + 2);
                head_lines(&mut out, &line.head, &pad, heads);
            }
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
        let _ = writeln!(
            out,
            "{indent}({} more {} not shown)",
            t.dropped_lines,
            noun(t.dropped_lines, "frame")
        );
    }
    if t.dropped_bytes > 0 {
        let _ = writeln!(
            out,
            "{indent}({} more {} not kept)",
            t.dropped_bytes,
            noun(t.dropped_bytes, "byte")
        );
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
    fn long_heads_are_folded_in_the_terminal_and_whole_elsewhere() {
        let mut t = Transcript::default();
        let mut head = String::from("GET /echo HTTP/1.1\r\n");
        for i in 0..14 {
            head.push_str(&format!("X-Header-{i}: value\r\n"));
        }
        head.push_str(&format!("X-Long: {}\r\n\r\n", "a".repeat(150)));
        t.http(Duration::ZERO, "client", LineKind::Sent, head.as_bytes());
        let opts = HumanOptions {
            color: false,
            timings: false,
        };
        let folded = transcript_with(&t, None, opts, "", Heads::Folded);
        assert!(folded.contains("X-Header-9: value"), "{folded}");
        assert!(!folded.contains("X-Header-10"), "{folded}");
        assert!(folded.contains("… (5 more header lines)"), "{folded}");
        let whole = transcript_with(&t, None, opts, "", Heads::Whole);
        assert!(whole.contains("X-Header-13: value"), "{whole}");
        assert!(whole.contains(&"a".repeat(150)), "{whole}");
        assert!(!whole.contains("more header lines"), "{whole}");

        let mut wide = Transcript::default();
        let line = format!("GET / HTTP/1.1\r\nX-Long: {}\r\n\r\n", "b".repeat(150));
        wide.http(Duration::ZERO, "client", LineKind::Sent, line.as_bytes());
        let cut = transcript_with(&wide, None, opts, "", Heads::Folded);
        let shown = cut.lines().nth(1).unwrap_or_default();
        assert_eq!(
            shown.trim_start().chars().count(),
            FOLDED_HEAD_WIDTH,
            "{cut}"
        );
        assert!(shown.ends_with('…'), "{cut}");
    }

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

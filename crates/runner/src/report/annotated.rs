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
        // Several clients, or a twin's: the reader must see whose line it is.
        names
            .iter()
            .any(|n| *n != names[0] || crate::plan::is_twin_client(n))
    };
    for (index, line) in t.lines.iter().enumerate() {
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
                let hex = to_hex(&line.bytes[..upto]);
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
    if t.dropped_lines > 0 {
        let _ = writeln!(out, "{indent}({} more frames not shown)", t.dropped_lines);
    }
    if t.dropped_bytes > 0 {
        let _ = writeln!(out, "{indent}({} more bytes not kept)", t.dropped_bytes);
    }
    out
}

//! The transcript: every byte each way, with the time it crossed the wire.
//!
//! Three views are kept. `io` is the raw record, one entry per read or write
//! (bounded, so a server that streams forever cannot exhaust memory), for
//! machine reports. `lines` is the annotated view people read: one line per
//! frame or handshake, with a summary such as `FIN text MASK len=5 "Hello"`.
//! `events` is what the judge read: each message, pong, close, frame, timeout
//! or end of connection as a typed [`Event`], in the order judged.

use std::time::Duration;

use serde::Serialize;
use wsconform_wire::OpCode;

use crate::connect::PeerEnd;
use crate::decode;
use crate::scenario::DataKind;

/// Which way bytes went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// From the runner to the server.
    Sent,
    /// From the server to the runner.
    Received,
}

/// One read or write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IoChunk {
    /// Time since the scenario started.
    pub at: Duration,
    /// The client.
    pub client: String,
    /// Which way.
    pub direction: Direction,
    /// The bytes.
    pub bytes: Vec<u8>,
}

/// What a transcript line shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LineKind {
    /// A frame or request the runner sent.
    Sent,
    /// A frame or response the runner received.
    Received,
    /// Something that happened without bytes (a timeout, a TCP close).
    Note,
}

/// One annotated line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Line {
    /// Time since the scenario started.
    pub at: Duration,
    /// The client.
    pub client: String,
    /// Sent, received or note.
    pub kind: LineKind,
    /// The first bytes of the frame as on the wire (header and some payload).
    pub bytes: Vec<u8>,
    /// How many of `bytes` are the header (0 for HTTP text and notes).
    pub header_len: usize,
    /// The summary: `FIN text MASK len=5 "Hello"`.
    pub text: String,
    /// For a handshake request or response, its header lines after the
    /// first (control characters shown as `\u{fffd}`), so a reader sees the
    /// exact `Connection:` the runner sent without running `explain`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub head: Vec<String>,
}

/// Points to a byte in a transcript line: the first one that broke the rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Caret {
    /// Index into [`Transcript::lines`].
    pub line: usize,
    /// Byte index within the line's bytes.
    pub byte: usize,
}

/// The server broke a protocol rule: what it did, the rule, the byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    /// What happened, as the `Actual:` line.
    pub actual: String,
    /// The rule, quoted.
    pub rule: String,
    /// The first offending byte.
    pub caret: Option<Caret>,
}

/// One thing the executor saw on a connection while a step waited: what the
/// judge decides on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A whole data message (fragments joined, pings answered on the way).
    Message {
        /// Text or binary.
        kind: DataKind,
        /// The payload.
        bytes: Vec<u8>,
    },
    /// A pong.
    Pong(Vec<u8>),
    /// A close frame (already answered).
    Close {
        /// Its status code, `None` for an empty body.
        code: Option<u16>,
        /// Its reason.
        reason: String,
    },
    /// One frame as it came (read when a step expects a frame, not a message).
    Frame {
        /// The opcode.
        opcode: OpCode,
        /// The FIN bit.
        fin: bool,
        /// The payload.
        payload: Vec<u8>,
    },
    /// The step's deadline passed.
    TimedOut,
    /// The connection ended.
    Ended(PeerEnd),
    /// The server broke a rule; nothing more is read.
    Broke(Broken),
}

impl Event {
    /// A whole message the wire assembler completed, as the judge reads it.
    pub fn message(message: wsconform_wire::Message) -> Event {
        match message {
            wsconform_wire::Message::Text(text) => Event::Message {
                kind: DataKind::Text,
                bytes: text.into_bytes(),
            },
            wsconform_wire::Message::Binary(bytes) => Event::Message {
                kind: DataKind::Binary,
                bytes,
            },
        }
    }

    /// Payload bytes the event holds (what it costs to keep).
    fn size(&self) -> usize {
        match self {
            Event::Message { bytes, .. } | Event::Pong(bytes) => bytes.len(),
            Event::Frame { payload, .. } => payload.len(),
            Event::Close { reason, .. } => reason.len(),
            Event::TimedOut | Event::Ended(_) | Event::Broke(_) => 0,
        }
    }
}

/// An event, when it happened, and on which client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedEvent {
    /// Time since the scenario started.
    pub at: Duration,
    /// The client.
    pub client: String,
    /// What happened.
    pub event: Event,
}

/// How many bytes the raw view keeps (64 KiB), counting each entry's
/// bookkeeping ([`ENTRY_COST`]) and its client's name as well as its bytes;
/// later bytes are counted only. Every scenario's transcript stays in
/// memory until the report is written, so the three views together are
/// held to a quarter of a megabyte: a suite of 400 scenarios against a
/// server that streams forever keeps under 100 MiB.
pub const MAX_STORED_BYTES: usize = 64 * 1024;

/// How many bytes of annotated lines a transcript keeps (128 KiB, counted
/// as for [`MAX_STORED_BYTES`]): far more than a report shows (the start,
/// the end and the caret's neighbourhood).
pub const MAX_LINE_BYTES: usize = 128 * 1024;

/// How many bytes of the judge's events a transcript keeps (64 KiB).
pub const MAX_EVENT_BYTES: usize = 64 * 1024;

/// What one kept entry costs besides its bytes: the vector slot, the
/// timestamp, the allocations' headers (a server sending two-byte frames
/// must not fill memory with bookkeeping the byte count does not see).
pub const ENTRY_COST: usize = 96;

/// How many annotated lines a transcript keeps (a server flooding tiny
/// frames must not exhaust memory); later lines are counted only.
pub const MAX_LINES: usize = 2000;

/// How many bytes of a frame a line shows by default.
pub const LINE_BYTES: usize = 24;

/// The record of one scenario run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Transcript {
    /// Raw reads and writes.
    pub io: Vec<IoChunk>,
    /// Annotated lines.
    pub lines: Vec<Line>,
    /// Bytes not stored because of [`MAX_STORED_BYTES`].
    pub dropped_bytes: u64,
    /// Lines not stored because of [`MAX_LINES`].
    pub dropped_lines: u64,
    /// The typed events the judge read, as many as [`MAX_LINES`] and
    /// [`MAX_EVENT_BYTES`] allow (reports show `lines`).
    #[serde(skip)]
    pub events: Vec<RecordedEvent>,
    /// Events not stored because of those bounds.
    #[serde(skip)]
    pub dropped_events: u64,
    #[serde(skip)]
    stored: usize,
    #[serde(skip)]
    stored_events: usize,
    #[serde(skip)]
    stored_lines: usize,
}

/// What an entry of `bytes` bytes for `client` costs to keep.
fn cost(client: &str, bytes: usize) -> usize {
    ENTRY_COST + client.len() + bytes
}

impl Transcript {
    /// Records a raw read or write.
    pub fn io(&mut self, at: Duration, client: &str, direction: Direction, bytes: &[u8]) {
        let room = MAX_STORED_BYTES.saturating_sub(self.stored + cost(client, 0));
        let keep = bytes.len().min(room);
        self.dropped_bytes += (bytes.len() - keep) as u64;
        if let Some(kept) = bytes.get(..keep).filter(|k| !k.is_empty()) {
            self.stored += cost(client, keep);
            self.io.push(IoChunk {
                at,
                client: client.to_string(),
                direction,
                bytes: kept.to_vec(),
            });
        }
    }

    /// Records an event the judge read.
    pub fn event(&mut self, at: Duration, client: &str, event: &Event) {
        let size = cost(client, event.size());
        if self.events.len() >= MAX_LINES || self.stored_events + size > MAX_EVENT_BYTES {
            self.dropped_events += 1;
            return;
        }
        self.stored_events += size;
        self.events.push(RecordedEvent {
            at,
            client: client.to_string(),
            event: event.clone(),
        });
    }

    /// Appends a line unless the transcript is full; returns its index
    /// (the last kept line's when it was dropped).
    fn push(&mut self, line: Line) -> usize {
        let size = cost(&line.client, line.bytes.len() + line.text.len());
        if self.lines.len() < MAX_LINES && self.stored_lines + size <= MAX_LINE_BYTES {
            self.stored_lines += size;
            self.lines.push(line);
        } else {
            self.dropped_lines += 1;
        }
        self.lines.len().saturating_sub(1)
    }

    /// Records a note line; returns its index.
    pub fn note(&mut self, at: Duration, client: &str, text: impl Into<String>) -> usize {
        self.push(Line {
            at,
            client: client.to_string(),
            kind: LineKind::Note,
            bytes: Vec::new(),
            header_len: 0,
            text: text.into(),
            head: Vec::new(),
        })
    }

    /// Records a line of HTTP text (a handshake request or response).
    pub fn http(&mut self, at: Duration, client: &str, kind: LineKind, text: &[u8]) -> usize {
        let head = String::from_utf8_lossy(text);
        let mut lines = head
            .split('\n')
            .map(|l| printable(l.trim_end_matches('\r')))
            .take_while(|l| !l.is_empty());
        let first = lines.next().unwrap_or_default();
        self.push(Line {
            at,
            client: client.to_string(),
            kind,
            bytes: Vec::new(),
            header_len: 0,
            text: format!(
                "{first}  ({} of HTTP)",
                crate::wording::count(text.len() as u64, "byte")
            ),
            head: lines.collect(),
        })
    }

    /// Records one line per frame found in `bytes`; returns the index of the first.
    pub fn frames(&mut self, at: Duration, client: &str, kind: LineKind, bytes: &[u8]) -> usize {
        let before = self.lines.len();
        let dropped_before = self.dropped_lines;
        for view in decode::frames(bytes) {
            if self.lines.len() >= MAX_LINES {
                // Counted without decoding each summary: a megabyte of tiny
                // frames costs a count, not a line each.
                self.dropped_lines += 1;
                continue;
            }
            let end = (view.start + view.header_len + LINE_BYTES).min(bytes.len());
            self.push(Line {
                at,
                client: client.to_string(),
                kind,
                bytes: bytes.get(view.start..end).unwrap_or_default().to_vec(),
                header_len: view.header_len,
                text: decode::summary(&view),
                head: Vec::new(),
            });
        }
        if self.lines.len() > before {
            before
        } else if self.dropped_lines > dropped_before {
            // Dropped: the last kept line stands for it.
            before.saturating_sub(1)
        } else {
            before.min(MAX_LINES.saturating_sub(1))
        }
    }

    /// Makes sure line `index` shows at least `upto` bytes of `frame` (for a caret).
    pub fn widen(&mut self, index: usize, frame: &[u8], upto: usize) {
        if let Some(line) = self.lines.get_mut(index) {
            let want = (upto + 8).min(frame.len()).min(crate::limits::MAX_SHOWN);
            if line.bytes.len() < want {
                self.stored_lines += want - line.bytes.len();
                line.bytes = frame.get(..want).unwrap_or_default().to_vec();
            }
        }
    }
}

/// A line of a peer's HTTP head as text that cannot drive a terminal:
/// control characters become U+FFFD.
fn printable(line: &str) -> String {
    line.chars()
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_of_frames_is_bounded() {
        let mut t = Transcript::default();
        let ping = [0x89u8, 0x00];
        for _ in 0..(MAX_LINES + 10) {
            t.frames(Duration::ZERO, "client", LineKind::Received, &ping);
        }
        assert!(t.lines.len() <= MAX_LINES);
        let kept: usize = t
            .lines
            .iter()
            .map(|l| cost(&l.client, l.bytes.len() + l.text.len()))
            .sum();
        assert!(kept <= MAX_LINE_BYTES, "{kept}");
        assert_eq!(
            t.lines.len() as u64 + t.dropped_lines,
            MAX_LINES as u64 + 10
        );
    }

    #[test]
    fn an_http_head_keeps_its_header_lines() {
        let mut t = Transcript::default();
        let head = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nX: \x1b[31m\r\n\r\n";
        t.http(Duration::ZERO, "client", LineKind::Received, head);
        let line = &t.lines[0];
        assert_eq!(
            line.text,
            "HTTP/1.1 101 Switching Protocols  (66 bytes of HTTP)"
        );
        assert_eq!(line.head, ["Upgrade: websocket", "X: \u{fffd}[31m"]);
    }

    #[test]
    fn raw_bytes_are_bounded() {
        let mut t = Transcript::default();
        let chunk = vec![0u8; MAX_STORED_BYTES * 6 / 10];
        t.io(Duration::ZERO, "client", Direction::Received, &chunk);
        t.io(Duration::ZERO, "client", Direction::Received, &chunk);
        let kept: usize = t.io.iter().map(|c| c.bytes.len()).sum();
        let bookkeeping = 2 * cost("client", 0);
        assert_eq!(kept, MAX_STORED_BYTES - bookkeeping);
        assert_eq!(t.dropped_bytes, (2 * chunk.len() - kept) as u64);
    }

    #[test]
    fn tiny_chunks_are_bounded_by_their_bookkeeping_too() {
        let mut t = Transcript::default();
        for _ in 0..100_000 {
            t.io(Duration::ZERO, "client", Direction::Received, &[0x89, 0x00]);
            t.event(Duration::ZERO, "client", &Event::Pong(Vec::new()));
        }
        let io_cost: usize = t.io.iter().map(|c| cost(&c.client, c.bytes.len())).sum();
        assert!(io_cost <= MAX_STORED_BYTES, "{io_cost}");
        assert!(t.io.len() < MAX_STORED_BYTES / ENTRY_COST);
        assert_eq!(t.io.len() as u64 * 2 + t.dropped_bytes, 200_000);
        assert!(t.events.len() <= MAX_LINES);
        assert_eq!(t.events.len() as u64 + t.dropped_events, 100_000);
    }

    #[test]
    fn long_lines_are_bounded_by_bytes() {
        let mut t = Transcript::default();
        let text = "x".repeat(10_000);
        for _ in 0..MAX_LINES {
            t.note(Duration::ZERO, "client", text.as_str());
        }
        assert!(t.lines.len() < MAX_LINE_BYTES / 10_000 + 1);
        assert_eq!(t.lines.len() as u64 + t.dropped_lines, MAX_LINES as u64);
    }
}

//! The transcript: every byte each way, with the time it crossed the wire.
//!
//! Two views are kept. `io` is the raw record, one entry per read or write
//! (bounded, so a server that streams forever cannot exhaust memory), for
//! machine reports. `lines` is the annotated view people read: one line per
//! frame or handshake, with a summary such as `FIN text MASK len=5 "Hello"`.

use std::time::Duration;

use serde::Serialize;

use crate::decode;

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
}

/// How many raw bytes a transcript keeps (1 MiB); later bytes are counted only.
pub const MAX_STORED_BYTES: usize = 1024 * 1024;

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
    #[serde(skip)]
    stored: usize,
}

impl Transcript {
    /// Records a raw read or write.
    pub fn io(&mut self, at: Duration, client: &str, direction: Direction, bytes: &[u8]) {
        let room = MAX_STORED_BYTES.saturating_sub(self.stored);
        let keep = bytes.len().min(room);
        self.dropped_bytes += (bytes.len() - keep) as u64;
        if keep > 0 {
            self.stored += keep;
            self.io.push(IoChunk {
                at,
                client: client.to_string(),
                direction,
                bytes: bytes[..keep].to_vec(),
            });
        }
    }

    /// Appends a line unless the transcript is full; returns its index
    /// (the last kept line's when it was dropped).
    fn push(&mut self, line: Line) -> usize {
        if self.lines.len() < MAX_LINES {
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
        })
    }

    /// Records a line of HTTP text (a handshake request or response).
    pub fn http(&mut self, at: Duration, client: &str, kind: LineKind, text: &[u8]) -> usize {
        let head = String::from_utf8_lossy(text);
        let first = head.lines().next().unwrap_or("").trim_end().to_string();
        self.push(Line {
            at,
            client: client.to_string(),
            kind,
            bytes: Vec::new(),
            header_len: 0,
            text: format!("{first}  ({} bytes of HTTP)", text.len()),
        })
    }

    /// Records one line per frame found in `bytes`; returns the index of the first.
    pub fn frames(&mut self, at: Duration, client: &str, kind: LineKind, bytes: &[u8]) -> usize {
        let first = self.lines.len().min(MAX_LINES.saturating_sub(1));
        for view in decode::frames(bytes) {
            let end = (view.start + view.header_len + LINE_BYTES).min(bytes.len());
            self.push(Line {
                at,
                client: client.to_string(),
                kind,
                bytes: bytes[view.start..end].to_vec(),
                header_len: view.header_len,
                text: decode::summary(&view),
            });
        }
        first
    }

    /// Makes sure line `index` shows at least `upto` bytes of `frame` (for a caret).
    pub fn widen(&mut self, index: usize, frame: &[u8], upto: usize) {
        if let Some(line) = self.lines.get_mut(index) {
            let want = (upto + 8).min(frame.len());
            if line.bytes.len() < want {
                line.bytes = frame[..want].to_vec();
            }
        }
    }
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
        assert_eq!(t.lines.len(), MAX_LINES);
        assert_eq!(t.dropped_lines, 10);
    }

    #[test]
    fn raw_bytes_are_bounded() {
        let mut t = Transcript::default();
        let chunk = vec![0u8; 600 * 1024];
        t.io(Duration::ZERO, "client", Direction::Received, &chunk);
        t.io(Duration::ZERO, "client", Direction::Received, &chunk);
        let kept: usize = t.io.iter().map(|c| c.bytes.len()).sum();
        assert_eq!(kept, MAX_STORED_BYTES);
        assert_eq!(t.dropped_bytes, (1200 * 1024 - MAX_STORED_BYTES) as u64);
    }
}

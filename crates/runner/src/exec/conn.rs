//! The executor's connections: one TCP stream per client, reads and writes
//! under deadlines, and every byte recorded in the transcript as it crosses.

use std::collections::HashMap;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};
use wsconform_wire::{
    FramePiece, FrameReader, Limits, MessageAssembler, OpCode, Role, ServerResponse, encode_frame,
    split_frames,
};

use super::describe::seconds;
use super::judge::ConnState;
use crate::connect::{PeerEnd, ResponseFailure, read_response, read_some};
use crate::limits::{MAX_PINGS_ANSWERED, MAX_SHOWN};
use crate::payload::MaskKeys;
use crate::plan::{PlanSettings, Profile};
use crate::transcript::{Direction, LineKind, Transcript};

/// One client's connection.
pub(super) struct Conn {
    pub stream: Option<TcpStream>,
    /// The server's bytes, cut into frames by the wire reader.
    pub frames: FrameReader,
    /// Frames joined into messages.
    pub messages: MessageAssembler,
    /// What the judge reads: response, key, close, end.
    pub state: ConnState,
    /// Whether the runner sent its close frame.
    pub close_sent: bool,
    /// Masking keys of the runner's own replies.
    replies: MaskKeys,
    /// The read buffer, reused.
    chunk: Vec<u8>,
    /// The compressor of `send: { compress: true }`.
    pub deflater: Option<wsconform_wire::deflate::Deflater>,
    /// A frame the server sent only in part before the connection ended:
    /// its transcript line and the piece, for the `Actual:` line.
    pub partial: Option<(usize, FramePiece)>,
    /// Pings answered so far (at most [`MAX_PINGS_ANSWERED`]).
    pings_answered: usize,
}

impl Conn {
    /// A connection whose reader accepts at most `limits` (sized to the scenario).
    pub fn new(stream: TcpStream, key: String, limits: Limits) -> Conn {
        Conn {
            stream: Some(stream),
            frames: FrameReader::new(Role::Client, limits),
            messages: MessageAssembler::new(limits),
            state: ConnState::new(&key),
            close_sent: false,
            replies: MaskKeys::new(0x5eed_1234),
            chunk: Vec::new(),
            deflater: None,
            partial: None,
            pings_answered: 0,
        }
    }
}

/// What reading from one connection needs, borrowed at once.
struct Reading<'r> {
    stream: &'r mut TcpStream,
    frames: &'r mut FrameReader,
    state: &'r mut ConnState,
    chunk: &'r mut Vec<u8>,
    transcript: &'r mut Transcript,
    start: Instant,
}

/// Scenario-wide state during a run.
pub(super) struct Run<'a> {
    pub settings: &'a PlanSettings,
    pub start: Instant,
    pub transcript: Transcript,
    pub conns: HashMap<String, Conn>,
    /// Every nonce this scenario sent (chat): messages without one are unrelated.
    pub nonces: Vec<String>,
    /// What each connection's reader accepts, sized to the scenario.
    pub limits: Limits,
    /// How long a wait for the server's answer may last (see [`super::Pace`]).
    pub pace: super::Pace,
}

impl Run<'_> {
    pub fn now(&self) -> Duration {
        self.start.elapsed()
    }

    /// The nonces the judge skips by, in the chat profile.
    pub fn chat_nonces(&self) -> Option<&[String]> {
        (self.settings.profile == Profile::Chat).then_some(self.nonces.as_slice())
    }

    /// The open connection of `client`, borrowed with the transcript that
    /// records what is read from it.
    fn reading(&mut self, client: &str) -> Result<Reading<'_>, PeerEnd> {
        let not_connected = || PeerEnd::Reset("not connected".into());
        let Run {
            conns,
            transcript,
            start,
            ..
        } = self;
        let conn = conns.get_mut(client).ok_or_else(not_connected)?;
        if let Some(end) = &conn.state.ended {
            return Err(end.clone());
        }
        let Conn {
            stream,
            frames,
            state,
            chunk,
            ..
        } = conn;
        Ok(Reading {
            stream: stream.as_mut().ok_or_else(not_connected)?,
            frames,
            state,
            chunk,
            transcript,
            start: *start,
        })
    }

    /// Reads once into the client's frame reader. `Ok(false)` means the deadline passed.
    pub async fn fill(&mut self, client: &str, deadline: Instant) -> Result<bool, PeerEnd> {
        let r = self.reading(client)?;
        let at = r.start.elapsed();
        let transcript = r.transcript;
        let mut record = |bytes: &[u8]| transcript.io(at, client, Direction::Received, bytes);
        let read = read_some(r.stream, r.frames, r.chunk, deadline, &mut record).await;
        if let Err(end) = &read {
            r.state.ended = Some(end.clone());
        }
        read
    }

    pub async fn write(
        &mut self,
        client: &str,
        bytes: &[u8],
        deadline: Instant,
    ) -> Result<(), String> {
        let now = self.now();
        let Some(conn) = self.conns.get_mut(client) else {
            return Err("not connected".into());
        };
        let Some(stream) = conn.stream.as_mut() else {
            return Err("not connected".into());
        };
        match timeout_at(deadline, stream.write_all(bytes)).await {
            Err(_) => Err("the server stopped reading: the write did not finish in time".into()),
            Ok(Err(e)) => Err(e.to_string()),
            Ok(Ok(())) => {
                self.transcript.io(now, client, Direction::Sent, bytes);
                Ok(())
            }
        }
    }

    /// Sends a control frame in reply (pong to a ping, close to a close).
    /// Only the first [`MAX_PINGS_ANSWERED`] pings get a pong: a server that
    /// pings forever must not keep the runner writing (one note says so).
    pub async fn reply(&mut self, client: &str, opcode: OpCode, payload: &[u8]) {
        let Some(conn) = self.conns.get_mut(client) else {
            return;
        };
        if opcode == OpCode::Pong {
            conn.pings_answered += 1;
            if conn.pings_answered > MAX_PINGS_ANSWERED {
                if conn.pings_answered == MAX_PINGS_ANSWERED + 1 {
                    let at = self.now();
                    self.transcript.note(
                        at,
                        client,
                        format!(
                            "(more than {MAX_PINGS_ANSWERED} pings: later ones are not answered)"
                        ),
                    );
                }
                return;
            }
        }
        let key = conn.replies.next_key();
        let mut out = Vec::new();
        encode_frame(&mut out, true, opcode, Some(key), payload);
        let at = self.now();
        let deadline = Instant::now() + Duration::from_millis(500);
        if self.write(client, &out, deadline).await.is_ok() {
            self.transcript.frames(at, client, LineKind::Sent, &out);
        }
    }

    /// Records the buffered bytes (from the offending frame on) as a
    /// received line, for a caret, and stops reading the connection.
    pub fn record_received(&mut self, client: &str) -> usize {
        let at = self.now();
        let bytes = self
            .conns
            .get(client)
            .map(|c| {
                let buffered = c.frames.buffered();
                buffered.get(..MAX_SHOWN).unwrap_or(buffered).to_vec()
            })
            .unwrap_or_default();
        let line = self
            .transcript
            .frames(at, client, LineKind::Received, &bytes);
        if let Some(conn) = self.conns.get_mut(client) {
            conn.state.ended = Some(PeerEnd::Reset(
                "stopped reading after a protocol violation".into(),
            ));
            conn.frames.take_buffered();
        }
        line
    }

    /// Shows bytes left over when the connection ended mid-frame.
    pub fn record_leftover(&mut self, client: &str) {
        let at = self.now();
        let Some(conn) = self.conns.get_mut(client) else {
            return;
        };
        if conn.frames.buffered().is_empty() {
            return;
        }
        let bytes = conn.frames.take_buffered();
        let first = self
            .transcript
            .frames(at, client, LineKind::Received, &bytes);
        let pieces = split_frames(&bytes);
        let last = pieces.len().saturating_sub(1);
        if let (Some(piece), Some(conn)) = (pieces.into_iter().last(), self.conns.get_mut(client))
            && !piece.complete
        {
            conn.partial = Some((first + last, piece));
        }
    }

    /// The frame the server has sent only in part so far, recorded as a
    /// transcript line (its index comes back) without taking it from the
    /// reader: a step that times out shows what did arrive.
    pub fn record_partial(&mut self, client: &str) -> Option<(usize, FramePiece)> {
        if let Some(found) = self.conns.get_mut(client).and_then(|c| c.partial.take()) {
            return Some(found);
        }
        let buffered = self.conns.get(client)?.frames.buffered();
        let bytes = buffered
            .get(..buffered.len().min(MAX_SHOWN))
            .unwrap_or_default()
            .to_vec();
        let piece = split_frames(&bytes).into_iter().last()?;
        if piece.complete || piece.start != 0 {
            return None;
        }
        let at = self.now();
        let line = self
            .transcript
            .frames(at, client, LineKind::Received, &bytes);
        Some((line, piece))
    }

    /// Reads the handshake response and records it; the error is the
    /// `Actual:` text of the expectation that looks at it.
    pub async fn read_response(
        &mut self,
        client: &str,
        deadline: Instant,
        timeout: Duration,
    ) -> Result<ServerResponse, String> {
        let cut = if timeout < self.settings.timeout {
            format!(
                " (cut from {}: {})",
                seconds(self.settings.timeout),
                self.pace.why
            )
        } else {
            String::new()
        };
        let r = self
            .reading(client)
            .map_err(|end| format!("{} before a complete handshake response", end.describe()))?;
        let (transcript, start) = (r.transcript, r.start);
        let record = |bytes: &[u8]| {
            transcript.io(start.elapsed(), client, Direction::Received, bytes);
        };
        let read = read_response(r.stream, r.frames, deadline, record).await;
        let at = start.elapsed();
        match read {
            Ok((response, head)) => {
                transcript.http(at, client, LineKind::Received, &head);
                Ok(response)
            }
            Err(ResponseFailure::Unreadable(e)) => {
                let head = r.frames.buffered();
                transcript.http(
                    at,
                    client,
                    LineKind::Received,
                    head.get(..200).unwrap_or(head),
                );
                Err(format!("an unreadable handshake response ({e})"))
            }
            Err(ResponseFailure::TimedOut) => {
                transcript.note(
                    at,
                    client,
                    format!("timed out waiting for the handshake response{cut}"),
                );
                Err(format!(
                    "no handshake response: timed out after {} waiting for it",
                    seconds(timeout)
                ))
            }
            Err(ResponseFailure::Ended(end)) => {
                transcript.note(at, client, end.describe());
                r.state.ended = Some(end.clone());
                Err(format!(
                    "{} before a complete handshake response",
                    end.describe()
                ))
            }
        }
    }
}

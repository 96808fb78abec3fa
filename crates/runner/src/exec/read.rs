//! Reading what a server sends as the judge's events: single frames (for a
//! step that expects a frame) or messages, pongs and closes (for the rest),
//! through the wire crate's [`FrameReader`](wsconform_wire::FrameReader) and
//! [`MessageAssembler`](wsconform_wire::MessageAssembler).
//!
//! Every frame is checked against the rules a client enforces (RFC 6455
//! 5.1-5.5), whatever the step waits for: a server that masks its frames or
//! sets RSV bits fails at the first such byte, with a caret under it. Pings
//! are answered and a close is answered with a close, on the way.

use tokio::time::Instant;
use wsconform_wire::{Event as WireEvent, Frame, OpCode, ReadError};

use super::conn::Run;
use super::describe::{frame_broken, message_broken};
use super::judge::CloseState;
use crate::connect::PeerEnd;
use crate::transcript::{Event, LineKind};

impl Run<'_> {
    /// The next complete frame from the server, recorded as a transcript
    /// line (whose index comes back), or the event that ended the wait.
    async fn next_frame(
        &mut self,
        client: &str,
        deadline: Instant,
    ) -> Result<(Frame, usize), Event> {
        loop {
            // A server whose bytes are always ready would never let a read
            // time out: the deadline is checked before every frame.
            if Instant::now() >= deadline {
                return Err(Event::TimedOut);
            }
            let next = match self.conns.get_mut(client) {
                Some(conn) => conn.frames.next_frame(),
                None => return Err(Event::Ended(PeerEnd::Reset("not connected".into()))),
            };
            match next {
                Ok(Some(frame)) => {
                    let at = self.now();
                    let line = self
                        .transcript
                        .frames(at, client, LineKind::Received, &frame.bytes);
                    return Ok((frame, line));
                }
                Ok(None) => {}
                Err(e) => return Err(self.broke_in_frame(client, &e)),
            }
            match self.fill(client, deadline).await {
                Ok(true) => {}
                Ok(false) => return Err(Event::TimedOut),
                Err(end) => {
                    self.record_leftover(client);
                    return Err(Event::Ended(end));
                }
            }
        }
    }

    fn broke_in_frame(&mut self, client: &str, e: &ReadError) -> Event {
        let line = self.record_received(client);
        Event::Broke(frame_broken(e, line))
    }

    /// The next frame as it came, for a step that expects a frame.
    pub(super) async fn next_raw_frame(&mut self, client: &str, deadline: Instant) -> Event {
        match self.next_frame(client, deadline).await {
            Ok((frame, _)) => Event::Frame {
                opcode: frame.header.opcode,
                fin: frame.header.fin,
                payload: frame.payload().to_vec(),
            },
            Err(event) => event,
        }
    }

    /// The next message, pong or close; answers pings on the way, and a
    /// close when `answer` is set and no close was sent yet.
    pub(super) async fn next_event(
        &mut self,
        client: &str,
        deadline: Instant,
        answer: bool,
    ) -> Event {
        loop {
            let (frame, line) = match self.next_frame(client, deadline).await {
                Ok(next) => next,
                Err(event) => return event,
            };
            let assembled = match self.conns.get_mut(client) {
                Some(conn) => conn.messages.push(&frame),
                None => return Event::Ended(PeerEnd::Reset("not connected".into())),
            };
            let event = match assembled {
                Ok(Some(event)) => event,
                Ok(None) => continue,
                Err(e) => {
                    if frame.header.opcode != OpCode::Close
                        && matches!(
                            e.protocol(),
                            Some(wsconform_wire::ProtocolError::InvalidUtf8(_))
                        )
                    {
                        self.transcript.widen(line, &frame.bytes, e.byte_in_frame());
                    }
                    return Event::Broke(message_broken(&e, frame.header.opcode, line));
                }
            };
            match event {
                WireEvent::Ping(payload) => self.reply(client, OpCode::Pong, &payload).await,
                WireEvent::Pong(payload) => return Event::Pong(payload),
                WireEvent::Close(close) => {
                    let (code, reason) = match close {
                        Some(c) => (Some(c.code), c.reason),
                        None => (None, String::new()),
                    };
                    let already_sent = self.conns.get(client).is_some_and(|c| c.close_sent);
                    if let Some(conn) = self.conns.get_mut(client) {
                        conn.state.close = CloseState::Received(code);
                        conn.close_sent |= answer;
                    }
                    if answer && !already_sent {
                        let body = code.map(|c| c.to_be_bytes().to_vec()).unwrap_or_default();
                        self.reply(client, OpCode::Close, &body).await;
                    }
                    return Event::Close { code, reason };
                }
                WireEvent::Message(message) => return Event::message(message),
            }
        }
    }
}

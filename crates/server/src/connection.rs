//! One task per connection: the opening handshake, the read loop, frame
//! (Long on purpose: the book reads it top to bottom as the life of one connection, one listing per step.)
//! handling and the closing handshake.
//!
//! The life of a connection, in the order of this file:
//!
//! 1. **Request head.** Read the HTTP request head within the handshake
//!    deadline and size limit; answer plain HTTP requests (the page, 404s,
//!    refused handshakes) and hang up.
//! 2. **Opening handshake.** For `/socket` and `/echo`, validate the upgrade
//!    request (RFC 6455 §4.2.1) and answer `101 Switching Protocols`.
//! 3. **The loop.** A small event loop waits for whichever comes first:
//!    bytes from the peer, room for bytes to the peer, a chat message for the
//!    peer, shutdown, or a timer. Bytes from the peer go through the sans-IO
//!    [`Decoder`], which turns them into events; each event is answered by
//!    appending frames to an outgoing buffer.
//! 4. **Closing handshake.** However the loop ended, finish the way RFC 6455
//!    §7 asks, within a deadline, and log one line with the close code.
//!
//! Why an outgoing *buffer* instead of writing each frame where it is made?
//! Because a write can wait for as long as the peer does not read. A task
//! stuck in a write cannot read pings, notice shutdown or see that it was
//! evicted from the chat. With a buffer, writing is just one more thing the
//! loop waits for, and the buffer's size is the natural place to apply
//! backpressure: above [`OUT_HIGH_WATER`] the loop stops reading and stops
//! taking chat messages until the peer has caught up.

use std::sync::Arc;
use std::time::Duration;

use std::io::IoSlice;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, sleep_until, timeout};
use tracing::{debug, info, warn};

use wsconform_wire::deflate::Deflater;
use wsconform_wire::{
    CloseFrame, Decoder, Event, FrameHeader, HandshakeError, LengthForm, Limits, Message, OpCode,
    Role, accept_response, accept_response_with_extensions, close_payload, encode_frame,
    parse_request,
};

use crate::budget::{Budget, Held, OVER_BUDGET_CODE, OverBudget};
use crate::chat::{ChatError, ChatMessage};
use crate::compression;
use crate::config::Config;
use crate::http::{self, HeadError, Route};
use crate::hub::{Hub, RoomEvent, RoomMessage, Subscription};
use crate::limits::Admission;
use crate::shutdown::ShutdownSignal;

/// What every connection task shares with the server.
#[derive(Debug)]
pub(crate) struct Shared {
    /// The limits in force.
    pub(crate) config: Config,
    /// The chat room of `/socket`.
    pub(crate) hub: Arc<Hub>,
    /// The memory budget every connection's buffered messages count against.
    pub(crate) budget: Arc<Budget>,
}

/// Outgoing bytes above which a connection stops reading from its peer and
/// stops taking chat messages, until the peer has read enough of what it was
/// sent. This is what keeps a client that sends fast but reads slowly from
/// growing the server's memory.
const OUT_HIGH_WATER: usize = 64 * 1024;

/// An emptied outgoing buffer larger than this is freed rather than kept,
/// so one big message does not pin its memory for the connection's life.
const OUT_KEEP_CAPACITY: usize = 256 * 1024;

/// How many bytes one read asks the socket for. Only the bytes that arrive
/// are touched, so a large chunk costs address space, not memory, and it
/// lets a 64 KiB message and its header arrive in one read instead of
/// several (measured: about 15 % less CPU per 64 KiB echo than 64 KiB
/// chunks, which need two reads for it).
const READ_CHUNK: usize = 128 * 1024;

/// Payloads at least this large are echoed with one vectored write straight
/// from the message, instead of being copied into the outgoing buffer first.
/// Smaller ones are copied: a copy of a few bytes is cheaper than a system
/// call, and several small frames then leave in one write.
const VECTORED_WRITE_MIN: usize = 4 * 1024;

/// What a connection may buffer without charging the memory budget. A
/// budget spent by a few floods of large messages then still lets every
/// other client's small messages through; and the uncharged part is
/// bounded, by `max_connections` × 64 KiB (64 MiB by default).
const UNCHARGED_PER_CONNECTION: usize = 64 * 1024;

/// The payload of the keepalive ping sent to a quiet peer.
const KEEPALIVE_PING: &[u8] = b"wsconform keepalive";

/// What a WebSocket connection is for, chosen by its path.
enum Endpoint {
    /// `/echo`: every data message goes back unchanged.
    Echo,
    /// `/socket`: data messages are chat messages for the whole room.
    Chat {
        /// The room, to broadcast into.
        hub: Arc<Hub>,
        /// This client's membership: its queue of room messages.
        room: Subscription,
    },
}

/// Why the main loop of a WebSocket connection ended.
#[derive(Debug)]
enum Ending {
    /// The peer started the closing handshake (`None`: without a code).
    PeerClosed(Option<CloseFrame>),
    /// The peer broke the protocol or a limit: fail the connection
    /// (RFC 6455 §7.1.7) with this code.
    Failed { code: u16, reason: String },
    /// The server starts the closing handshake: shutdown, idle peer, peer
    /// too slow for the chat, or a message that is not a chat message.
    ServerCloses { code: u16, reason: String },
    /// The TCP connection broke or stalled; no closing handshake is possible.
    Dropped(String),
}

/// How a WebSocket connection ended, for the log line.
struct Closed {
    /// The close code of the closing handshake, or 1006 ("abnormal closure",
    /// never sent on the wire) when there was none.
    code: u16,
    /// Who started the close: `"client"`, `"server"`, or `"nobody"`.
    by: &'static str,
    /// The reason text of the close frame, or what went wrong.
    reason: String,
}

/// Serves one accepted TCP connection from start to end.
///
/// `_admission` is this connection's slot in the connection limits (the
/// server's and its address's); both are given back when the task ends.
pub(crate) async fn handle(
    mut stream: TcpStream,
    shared: Arc<Shared>,
    mut shutdown: ShutdownSignal,
    _admission: Admission,
) {
    let config = &shared.config;
    // Frames are small and latency matters more than packet count.
    let _ = stream.set_nodelay(true);

    // 1. The request head, within the handshake deadline and size limit.
    let Some((buf, head_len)) = receive_head(&mut stream, config, &mut shutdown).await else {
        return;
    };
    let head = buf.get(..head_len).unwrap_or_default();

    // 2. Route on the request line; plain HTTP requests end here.
    let route = match http::route(head) {
        Ok(route @ (Route::Chat | Route::Echo)) => route,
        Ok(other) => return respond(&mut stream, &plain_http_response(other), config).await,
        Err(reason) => {
            debug!(reason, "400 bad request");
            let refusal = http::error_response(400, "Bad Request", reason);
            return respond(&mut stream, &refusal, config).await;
        }
    };

    // ANCHOR: accept_handshake
    // 3. A WebSocket path: apply every rule of RFC 6455 §4.2.1.
    let (request, used) = match parse_request(head, config.max_handshake_size) {
        Ok(Some(parsed)) => parsed,
        Ok(None) => {
            let refusal = http::error_response(400, "Bad Request", "incomplete request head");
            return respond(&mut stream, &refusal, config).await;
        }
        Err(error) => {
            info!(status = error.status(), %error, "handshake refused");
            return respond(&mut stream, &error.response(), config).await;
        }
    };
    // Bytes behind the request head are already WebSocket frames.
    let early_frames = buf.get(used..).unwrap_or_default().to_vec();

    // Join the chat room *before* answering 101: a client that sees the
    // connection open must receive every message broadcast after that.
    let mut endpoint = match route {
        Route::Chat => Endpoint::Chat {
            hub: Arc::clone(&shared.hub),
            room: shared.hub.subscribe(),
        },
        _ => Endpoint::Echo,
    };
    let deflate = compression::accept_offer(&request, config);
    let mut socket = WebSocket::new(stream, config, early_frames, &shared.budget);
    match deflate {
        Some(accepted) => {
            socket
                .out
                .extend_from_slice(&accept_response_with_extensions(
                    &request,
                    &accepted.response,
                ));
            socket.use_deflate(&accepted.params);
        }
        None => socket.out.extend_from_slice(&accept_response(&request)),
    }
    // ANCHOR_END: accept_handshake

    match &endpoint {
        Endpoint::Chat { hub, .. } => {
            info!(path = %request.path, room = hub.len(), "websocket open")
        }
        Endpoint::Echo => info!(path = %request.path, "websocket open"),
    }
    let ending = socket.run(&mut endpoint, &mut shutdown).await;
    // Leave the room before the (bounded, but possibly slow) goodbye, so
    // nothing more is queued for a client that is going away.
    drop(endpoint);
    let closed = socket.finish(ending).await;
    // A client cut off for its own good or the server's is worth a warning:
    // too slow for the chat (1008), over the memory budget (1013), or not
    // reading at all (write timeout). Other endings are routine.
    let cut_off =
        matches!(closed.code, 1008 | OVER_BUDGET_CODE) || closed.reason.contains("write timeout");
    // Debug formatting of the reason: it may come from the peer, and
    // escaping it keeps a newline in it from forging a log line.
    if cut_off {
        warn!(code = closed.code, closed_by = closed.by, reason = ?closed.reason, "websocket closed: client cut off");
    } else {
        info!(code = closed.code, closed_by = closed.by, reason = ?closed.reason, "websocket closed");
    }
}

/// Reads the request head within [`Config::handshake_timeout`] and
/// [`Config::max_handshake_size`]. Returns the bytes read and the head's
/// length, or `None` when the connection is over (answered or dropped).
///
/// A peer that is too slow is dropped without an answer: a slowloris peer
/// is not worth another byte. One whose head is too large gets a 431.
async fn receive_head(
    stream: &mut TcpStream,
    config: &Config,
    shutdown: &mut ShutdownSignal,
) -> Option<(Vec<u8>, usize)> {
    let mut buf = Vec::new();
    let head = tokio::select! {
        head = timeout(
            config.handshake_timeout,
            http::read_head(stream, &mut buf, config.max_handshake_size),
        ) => head,
        () = shutdown.recv() => return None,
    };
    match head {
        Ok(Ok(len)) => Some((buf, len)),
        Ok(Err(HeadError::TooLarge { limit })) => {
            debug!(limit, "request head too large");
            let refusal = HandshakeError::TooLarge { limit }.response();
            respond(stream, &refusal, config).await;
            None
        }
        Ok(Err(error)) => {
            debug!(%error, "no request");
            None
        }
        Err(_elapsed) => {
            debug!(
                timeout = ?config.handshake_timeout,
                "request head not complete in time; dropping the connection"
            );
            None
        }
    }
}

/// The answer to a request for something other than a WebSocket endpoint.
fn plain_http_response(route: Route) -> Vec<u8> {
    match route {
        Route::Asset(asset) => http::asset_response(asset),
        Route::MethodNotAllowed => wsconform_wire::http_response(
            405,
            "Method Not Allowed",
            &[("Allow", "GET")],
            b"use GET\n",
        ),
        // WebSocket endpoints never get here; a plain 404 is a safe answer.
        Route::NotFound | Route::Chat | Route::Echo => {
            http::error_response(404, "Not Found", "no such page")
        }
    }
}

/// Answers a connection the server has no room for with
/// `503 Service Unavailable`.
pub(crate) async fn refuse_busy(mut stream: TcpStream, config: &Config) {
    let refusal = http::error_response(
        503,
        "Service Unavailable",
        "too many connections; try again later",
    );
    respond(&mut stream, &refusal, config).await;
}

/// Sends a complete HTTP response and hangs up politely: write, send FIN,
/// then read (and discard) until the peer closes too, all within
/// [`Config::close_timeout`].
///
/// Closing a socket that still has unread input makes the kernel send a
/// reset, and a reset can destroy the response before the peer has read it.
/// Reading to the end first means the peer always gets to see the answer.
async fn respond(stream: &mut TcpStream, response: &[u8], config: &Config) {
    let _ = timeout(config.close_timeout, async {
        stream.write_all(response).await?;
        stream.shutdown().await?;
        discard_until_eof(stream).await
    })
    .await;
}

/// Reads and throws away everything until the peer closes its side.
async fn discard_until_eof(stream: &mut TcpStream) -> std::io::Result<()> {
    let mut sink = [0u8; 4096];
    while stream.read(&mut sink).await? > 0 {}
    Ok(())
}

/// `from + after`, saturating far in the future instead of overflowing on
/// an enormous configured duration.
fn later(from: Instant, after: Duration) -> Instant {
    from.checked_add(after)
        .unwrap_or_else(|| from + Duration::from_secs(100 * 365 * 24 * 3600))
}

/// An open WebSocket connection: the socket, the decoder, and the bytes in
/// flight in each direction.
struct WebSocket<'c> {
    stream: TcpStream,
    config: &'c Config,
    /// Turns the peer's bytes into events, checking every rule on the way.
    decoder: Decoder,
    /// Bytes read but not yet used by the decoder: at most a partial frame
    /// header, because the decoder takes payload bytes as they come.
    input: Vec<u8>,
    /// Encoded frames waiting to be written to the peer.
    out: Vec<u8>,
    /// What this connection holds of the memory budget: the message being
    /// received (as announced), the unread input and the outgoing bytes.
    held: Held,
    /// Input is waiting undecoded because this chat client's own queue is
    /// backed up (see [`Subscription::is_backed_up`]).
    paused: bool,
    /// The compressor, when permessage-deflate was negotiated.
    deflater: Option<Deflater>,
}

impl<'c> WebSocket<'c> {
    fn new(
        stream: TcpStream,
        config: &'c Config,
        early_frames: Vec<u8>,
        budget: &Arc<Budget>,
    ) -> Self {
        let limits = Limits {
            max_frame_size: config.max_frame_size,
            max_message_size: config.max_message_size,
        };
        WebSocket {
            stream,
            config,
            decoder: Decoder::new(Role::Server, limits),
            input: early_frames,
            out: Vec::new(),
            held: Held::nothing(budget),
            paused: false,
            deflater: None,
        }
    }

    /// Speaks permessage-deflate with `params` from now on.
    fn use_deflate(&mut self, params: &wsconform_wire::extension::DeflateParams) {
        let decoder = std::mem::replace(
            &mut self.decoder,
            Decoder::new(Role::Server, Limits::default()),
        );
        self.decoder = decoder.with_deflate(params);
        self.deflater = Some(compression::deflater(params));
    }

    // ANCHOR: read_loop
    /// The connection's event loop. Returns why it ended; the closing
    /// handshake is [`WebSocket::finish`]'s job.
    ///
    /// The futures that last as long as the connection — the shutdown
    /// signal and the two timers — are made once, before the loop, and
    /// polled again on every turn. Made anew on every turn, each would be
    /// registered with the runtime and removed again for every message,
    /// and for small messages that bookkeeping costs more than the echo.
    async fn run(&mut self, endpoint: &mut Endpoint, shutdown: &mut ShutdownSignal) -> Ending {
        let config = self.config;
        // A quiet peer is pinged after half the idle time and closed after
        // the whole idle time. A read only notes the time; when the timer
        // fires it checks that note and, if the peer spoke since, simply
        // moves itself forward.
        let quiet = config.idle_timeout / 2;
        let mut heard_at = Instant::now();
        let mut pinged = false;
        // The write clock runs only while there is something to write: it
        // restarts whenever the outgoing buffer is empty or shrinks.
        let mut wrote_at = Instant::now();
        let idle_timer = sleep_until(later(heard_at, quiet));
        let write_timer = sleep_until(later(wrote_at, config.write_timeout));
        let stop = shutdown.recv();
        tokio::pin!(idle_timer, write_timer, stop);

        // Frames that arrived in the same packet as the handshake.
        if let Some(ending) = self.process_input(endpoint) {
            return ending;
        }
        loop {
            // Whatever the last turn queued leaves now, without waiting:
            // usually the socket takes all of it, and an echo goes out in
            // the same turn that read its message.
            let queued = self.out.len();
            if let Err(error) = self.write_now() {
                return Ending::Dropped(format!("write failed: {error}"));
            }
            if self.out.is_empty() || self.out.len() < queued {
                wrote_at = Instant::now();
            }
            // What was written no longer counts against the budget.
            let _ = self.account();
            let caught_up = self.out.len() < OUT_HIGH_WATER;
            let backed_up = match endpoint {
                Endpoint::Chat { room, .. } => room.is_backed_up(),
                Endpoint::Echo => false,
            };
            // A chat sender whose own queue has drained goes on with the
            // input it already sent.
            if self.paused && !backed_up {
                self.paused = false;
                if let Some(ending) = self.process_input(endpoint) {
                    return ending;
                }
                continue;
            }
            let room = match endpoint {
                Endpoint::Chat { room, .. } => Some(&mut *room),
                Endpoint::Echo => None,
            };

            // Room to read into, but only once the peer has sent something:
            // until then an idle connection holds no read buffer at all
            // (`read_buf` makes a little room by itself for the first bytes).
            if self.input.capacity() > 0 {
                self.input.reserve(READ_CHUNK);
            }
            let (mut reader, mut writer) = self.stream.split();

            tokio::select! {
                read = reader.read_buf(&mut self.input), if caught_up && !self.paused => match read {
                    Ok(0) => return Ending::Dropped("peer closed TCP without a close frame".into()),
                    Ok(_) => {
                        heard_at = Instant::now();
                        pinged = false;
                        if let Some(ending) = self.process_input(endpoint) {
                            return ending;
                        }
                    }
                    Err(error) => return Ending::Dropped(format!("read failed: {error}")),
                },
                // The peer's receive window was full: wait until it has room.
                written = writer.write(&self.out), if !self.out.is_empty() => match written {
                    Ok(0) => return Ending::Dropped("peer stopped accepting bytes".into()),
                    Ok(n) => {
                        self.sent(n);
                        wrote_at = Instant::now();
                    }
                    Err(error) => return Ending::Dropped(format!("write failed: {error}")),
                },
                () = &mut write_timer, if !self.out.is_empty() => {
                    let due = later(wrote_at, config.write_timeout);
                    if due > Instant::now() {
                        write_timer.as_mut().reset(due);
                    } else {
                        return Ending::Dropped(format!(
                            "peer read nothing for {:?} (write timeout)",
                            config.write_timeout
                        ));
                    }
                }
                room_event = next_room_event(room), if caught_up => match room_event {
                    RoomEvent::Message(message) => {
                        self.queue_room_messages(&message, endpoint);
                        if let Err(over) = self.account() {
                            return over_budget(over);
                        }
                    }
                    RoomEvent::Evicted => return too_slow(),
                },
                () = &mut stop => {
                    return Ending::ServerCloses { code: 1001, reason: "server shutting down".into() };
                }
                () = &mut idle_timer => {
                    let due = later(heard_at, quiet);
                    let now = Instant::now();
                    if due > now {
                        // The peer spoke since the timer was set.
                        idle_timer.as_mut().reset(due);
                        continue;
                    }
                    if pinged {
                        return Ending::ServerCloses { code: 1001, reason: "idle timeout".into() };
                    }
                    encode_frame(&mut self.out, true, OpCode::Ping, None, KEEPALIVE_PING);
                    pinged = true;
                    heard_at = now;
                    idle_timer.as_mut().reset(later(now, quiet));
                }
            }
        }
    }
    // ANCHOR_END: read_loop

    // ANCHOR: frame_handling
    /// Feeds the bytes read so far to the decoder and answers every event it
    /// produces. Returns an [`Ending`] when the connection must stop.
    fn process_input(&mut self, endpoint: &mut Endpoint) -> Option<Ending> {
        let mut used = 0;
        let ending = loop {
            // A chat sender that is ahead of its own reading waits (see
            // `crate::hub`): its input stays here, undecoded, and no more
            // is read, until its queue has drained.
            let backed_up = match endpoint {
                Endpoint::Chat { room, .. } => room.is_backed_up(),
                Endpoint::Echo => false,
            };
            if backed_up {
                self.paused = true;
                break None;
            }
            let unread = self.input.get(used..).unwrap_or_default();
            match self.decoder.decode(unread) {
                // A protocol violation or a limit: fail the connection with
                // the close code the RFC assigns to it (1002, 1007 or 1009).
                Err(error) => {
                    break Some(Ending::Failed {
                        code: error.close_code(),
                        reason: error.to_string(),
                    });
                }
                // Everything usable is used; wait for more bytes.
                Ok((n, None)) => {
                    used += n;
                    break None;
                }
                Ok((n, Some(event))) => {
                    used += n;
                    if let Some(ending) = self.answer(event, endpoint) {
                        break Some(ending);
                    }
                }
            }
        };
        self.input.drain(..used.min(self.input.len()));
        // A frame header that announces more than the budget has left is
        // refused here, before its payload is read.
        match (ending, self.account()) {
            (Some(ending), _) => Some(ending),
            (None, Err(over)) => Some(over_budget(over)),
            (None, Ok(())) => None,
        }
    }

    /// Answers one event from the decoder.
    fn answer(&mut self, event: Event, endpoint: &mut Endpoint) -> Option<Ending> {
        match event {
            // §5.5.2: a pong "MUST have identical Application data".
            Event::Ping(payload) => {
                encode_frame(&mut self.out, true, OpCode::Pong, None, &payload);
                None
            }
            // §5.5.3: an unsolicited pong needs no answer.
            Event::Pong(_) => None,
            Event::Close(frame) => Some(Ending::PeerClosed(frame)),
            Event::Message(message) => match endpoint {
                Endpoint::Echo => {
                    let (opcode, payload) = match message {
                        Message::Text(text) => (OpCode::Text, text.into_bytes()),
                        Message::Binary(bytes) => (OpCode::Binary, bytes),
                    };
                    self.send_frame(opcode, &payload);
                    // The next message is assembled in the same memory.
                    self.decoder.recycle(payload);
                    None
                }
                Endpoint::Chat { hub, .. } => match chat_message(message) {
                    // Our own copy comes back through our queue, in room order.
                    Ok(chat) => {
                        // The message is out of the decoder now: give back
                        // its charge before the room takes one for it.
                        let _ = self.account();
                        match hub.broadcast(chat.to_json()) {
                            Ok(_) => None,
                            Err(over) => Some(over_budget(over)),
                        }
                    }
                    Err(error) => Some(Ending::ServerCloses {
                        code: 1003,
                        reason: error.to_string(),
                    }),
                },
            },
        }
    }
    // ANCHOR_END: frame_handling

    // ANCHOR: closing_handshake
    /// Completes the closing handshake (RFC 6455 §7) for however the loop
    /// ended, within [`Config::close_timeout`], and says how it went.
    async fn finish(mut self, ending: Ending) -> Closed {
        let close_timeout = self.config.close_timeout;
        match ending {
            // The peer started: answer with the same code (1000 if it sent
            // none), then the server, not the client, ends TCP (§7.1.1):
            // FIN first, then wait for the peer's FIN.
            Ending::PeerClosed(frame) => {
                let (code, reason) = frame.map_or((1000, String::new()), |f| (f.code, f.reason));
                self.queue_close(code, "");
                let _ = timeout(close_timeout, self.flush_and_hang_up()).await;
                Closed {
                    code,
                    by: "client",
                    reason,
                }
            }
            // The peer broke a rule: say which, then hang up. Nothing more it
            // sends is looked at; the decoder is stopped anyway.
            Ending::Failed { code, reason } => {
                self.queue_close(code, &reason);
                let _ = timeout(close_timeout, self.flush_and_hang_up()).await;
                Closed {
                    code,
                    by: "server",
                    reason,
                }
            }
            // The server starts: send the close frame, wait for the peer's
            // close frame, then hang up.
            Ending::ServerCloses { code, reason } => {
                self.queue_close(code, &reason);
                let _ = timeout(close_timeout, async {
                    self.flush().await?;
                    self.await_peer_close().await?;
                    self.stream.shutdown().await
                })
                .await;
                Closed {
                    code,
                    by: "server",
                    reason,
                }
            }
            Ending::Dropped(reason) => Closed {
                code: 1006,
                by: "nobody",
                reason,
            },
        }
    }
    // ANCHOR_END: closing_handshake

    /// Sends one whole data frame. Small payloads, or any payload while
    /// other bytes are still queued, are copied into the outgoing buffer.
    /// A large payload with nothing queued goes straight to the socket in
    /// one vectored write, header and payload side by side: the socket
    /// copies it once, into the kernel, and only what it does not take is
    /// queued.
    fn send_frame(&mut self, opcode: OpCode, payload: &[u8]) {
        if self.deflater.is_some() {
            compression::encode_message(&mut self.out, self.deflater.as_mut(), opcode, payload);
            return;
        }
        if payload.len() < VECTORED_WRITE_MIN || !self.out.is_empty() {
            encode_frame(&mut self.out, true, opcode, None, payload);
            return;
        }
        let header = FrameHeader::new(opcode, payload.len() as u64);
        if header.encode(LengthForm::Minimal, &mut self.out).is_err() {
            // Cannot happen with the minimal form; fall back to copying.
            self.out.clear();
            encode_frame(&mut self.out, true, opcode, None, payload);
            return;
        }
        let header_len = self.out.len();
        let parts = [IoSlice::new(&self.out), IoSlice::new(payload)];
        // An error is not handled here: the loop's next write meets it.
        let written = self.stream.try_write_vectored(&parts).unwrap_or(0);
        if written < header_len {
            self.out.drain(..written);
            self.out.extend_from_slice(payload);
        } else {
            self.out.clear();
            let rest = payload.get(written - header_len..).unwrap_or_default();
            self.out.extend_from_slice(rest);
        }
    }

    /// Writes as much of the outgoing bytes as the socket takes right now,
    /// without waiting for it. A full socket is not an error: the rest
    /// waits in the buffer for the loop's write branch.
    fn write_now(&mut self) -> std::io::Result<()> {
        while !self.out.is_empty() {
            match self.stream.try_write(&self.out) {
                Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
                Ok(n) => self.sent(n),
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(error) => return Err(error),
            }
        }
        Ok(())
    }

    /// Forgets the first `n` outgoing bytes: the socket has taken them.
    fn sent(&mut self, n: usize) {
        self.out.drain(..n.min(self.out.len()));
        // After a big message, give the memory back.
        if self.out.is_empty() && self.out.capacity() > OUT_KEEP_CAPACITY {
            self.out = Vec::new();
        }
    }

    /// Queues a chat message for the peer, and every other one already
    /// waiting in the room's queue (up to the high-water mark), so that a
    /// busy room costs one write for many messages instead of one each.
    fn queue_room_messages(&mut self, first: &RoomMessage, endpoint: &mut Endpoint) {
        let deflater = self.deflater.as_mut();
        compression::encode_message(&mut self.out, deflater, OpCode::Text, first.text.as_bytes());
        let Endpoint::Chat { room, .. } = endpoint else {
            return;
        };
        while self.out.len() < OUT_HIGH_WATER {
            // Empty, or closed: the loop's next wait will tell which.
            let Some(message) = room.try_recv() else {
                break;
            };
            compression::encode_message(
                &mut self.out,
                self.deflater.as_mut(),
                OpCode::Text,
                message.text.as_bytes(),
            );
        }
    }

    /// Charges the budget for what this connection buffers now: the message
    /// being received, as far as its frame headers announced it, the unread
    /// input and the outgoing bytes, less [`UNCHARGED_PER_CONNECTION`].
    fn account(&mut self) -> Result<(), OverBudget> {
        let receiving =
            usize::try_from(self.decoder.message_bytes_expected()).unwrap_or(usize::MAX);
        let bytes = receiving
            .saturating_add(self.input.len())
            .saturating_add(self.out.len());
        self.held
            .set(bytes.saturating_sub(UNCHARGED_PER_CONNECTION))
    }

    /// Appends a close frame to the outgoing bytes.
    fn queue_close(&mut self, code: u16, reason: &str) {
        let payload = close_payload(code, reason);
        encode_frame(&mut self.out, true, OpCode::Close, None, &payload);
    }

    /// Writes every outgoing byte.
    async fn flush(&mut self) -> std::io::Result<()> {
        self.stream.write_all(&self.out).await?;
        self.out.clear();
        Ok(())
    }

    /// Writes every outgoing byte, sends FIN and waits for the peer's FIN.
    async fn flush_and_hang_up(&mut self) -> std::io::Result<()> {
        self.flush().await?;
        self.stream.shutdown().await?;
        discard_until_eof(&mut self.stream).await
    }

    /// After the server sent its close frame: reads until the peer's close
    /// frame (or the end of the stream), ignoring data frames (§7.1.2 says
    /// nothing more is to be sent after a close frame, so pings go
    /// unanswered too).
    async fn await_peer_close(&mut self) -> std::io::Result<()> {
        loop {
            match self.decoder.decode(&self.input) {
                Ok((_, Some(Event::Close(_)))) | Err(_) => return Ok(()),
                Ok((n, Some(_))) => {
                    self.input.drain(..n.min(self.input.len()));
                    continue;
                }
                Ok((n, None)) => {
                    self.input.drain(..n.min(self.input.len()));
                }
            }
            self.input.reserve(READ_CHUNK);
            if self.stream.read_buf(&mut self.input).await? == 0 {
                return Ok(());
            }
        }
    }
}

/// The close for a chat client that cannot keep up with the room.
fn too_slow() -> Ending {
    Ending::ServerCloses {
        code: 1008,
        reason: "too slow: the outgoing chat queue is full".into(),
    }
}

/// The next thing the chat room has for this client; never completes for a
/// connection that is not in the chat.
async fn next_room_event(room: Option<&mut Subscription>) -> RoomEvent {
    match room {
        Some(room) => room.next_event().await,
        None => std::future::pending().await,
    }
}

/// The close for a message that does not fit in the memory budget.
fn over_budget(over: OverBudget) -> Ending {
    Ending::Failed {
        code: OVER_BUDGET_CODE,
        reason: over.reason(),
    }
}

/// Reads a chat message out of a WebSocket message (see [`crate::chat`]).
fn chat_message(message: Message) -> Result<ChatMessage, ChatError> {
    match message {
        Message::Text(text) => ChatMessage::parse(&text),
        Message::Binary(_) => Err(ChatError::Binary),
    }
}

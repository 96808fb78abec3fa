//! The **peer**: an echo and chat server built on tokio-tungstenite, written
//! independently of `wsconform-wire`.
//!
//! The suite is only trustworthy if a correct server that shares none of our
//! code passes it. If the suite and the reference server agreed on a wrong
//! reading of RFC 6455, both would be built on the same mistake; a second,
//! unrelated implementation catches that. tungstenite is the obvious choice:
//! it is the most used WebSocket library of the Rust ecosystem.
//!
//! # What the peer does itself, and why
//!
//! The frame protocol — parsing, unmasking, reassembly, UTF-8, pong and close
//! replies — is all tungstenite's, configured to be as strict as it allows
//! ([`strict_config`]). The opening handshake is done here, with `httparse`
//! and tungstenite's [`derive_accept_key`], because tungstenite's own server
//! handshake has two behaviours the suite rightly rejects:
//!
//! - it refuses a request followed by frame bytes in the same TCP segment
//!   (`JunkAfterRequest`), which a client is allowed to send;
//! - it answers an invalid request by dropping the TCP connection, with no
//!   HTTP status telling the client what was wrong.
//!
//! The bytes that follow the request are handed to tungstenite with
//! [`WebSocketStream::from_partially_read`], so nothing is lost.
//!
//! # What is left lenient
//!
//! tungstenite validates UTF-8 when a frame is complete, not byte by byte, so
//! a text frame with an invalid byte at its start fails only after its last
//! byte arrived: correct, but not the *fail-fast* behaviour Autobahn rates
//! best (cases 6.4.x report it as `non-strict`).

// The peer reads client bytes: no panicking shortcut outside tests.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use futures_util::{SinkExt as _, StreamExt as _};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use crate::chat::{NOT_CHAT_CODE, NOT_CHAT_REASON, broadcast_text};
use crate::shutdown::{ShutdownHandle, accept_each, spawn_server};

/// Largest request header block the peer reads before answering 431.
const MAX_REQUEST_SIZE: usize = 8 * 1024;
/// How long a client may take to send its whole opening handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the peer waits for the client to close TCP after a close frame.
const CLOSE_LINGER: Duration = Duration::from_secs(1);
/// Largest frame payload accepted (as the reference server: 16 MiB).
pub const MAX_FRAME_SIZE: usize = 16 << 20;
/// Largest message accepted (as the reference server: 16 MiB).
pub const MAX_MESSAGE_SIZE: usize = 16 << 20;

/// The tungstenite configuration of the peer: every check tungstenite can
/// make is on.
///
/// - unmasked client frames are refused (`accept_unmasked_frames: false`,
///   RFC 6455 §5.1);
/// - frames over [`MAX_FRAME_SIZE`] and messages over [`MAX_MESSAGE_SIZE`]
///   are refused, and the peer then closes with 1009.
///
/// The buffer sizes keep tungstenite's defaults, so the peer also serves as
/// the "popular library, used as documented" baseline of the benchmarks.
pub fn strict_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .max_frame_size(Some(MAX_FRAME_SIZE))
        .max_message_size(Some(MAX_MESSAGE_SIZE))
        .accept_unmasked_frames(false)
}

/// Starts the peer on `127.0.0.1` with a free port.
///
/// `/echo` echoes every text and binary message; `/socket` is the chat
/// (see [`crate::chat`]). Any other path is refused with 404.
pub async fn start_peer() -> std::io::Result<(SocketAddr, ShutdownHandle)> {
    start_peer_on(SocketAddr::from(([127, 0, 0, 1], 0))).await
}

/// Starts the peer on `addr` (port 0 picks a free port).
pub async fn start_peer_on(addr: SocketAddr) -> std::io::Result<(SocketAddr, ShutdownHandle)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let room = Arc::new(Room::default());
    Ok((
        local,
        spawn_server(accept_each(listener, move |stream| {
            serve_connection(stream, Arc::clone(&room))
        })),
    ))
}

/// Which application a connection speaks, chosen by the request path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum App {
    Echo,
    Chat,
}

/// The chat room: one outgoing queue per open `/socket` connection.
///
/// A broadcast pushes into every queue while holding the lock, so two
/// broadcasts never interleave: every client sees one sender's messages in
/// the order they were sent.
#[derive(Debug, Default)]
struct Room {
    next_id: AtomicU64,
    members: Mutex<HashMap<u64, mpsc::UnboundedSender<Message>>>,
}

impl Room {
    fn join(&self, queue: mpsc::UnboundedSender<Message>) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut members) = self.members.lock() {
            members.insert(id, queue);
        }
        id
    }

    fn leave(&self, id: u64) {
        if let Ok(mut members) = self.members.lock() {
            members.remove(&id);
        }
    }

    fn broadcast(&self, json: String) {
        if let Ok(members) = self.members.lock() {
            let message = Message::text(json);
            for queue in members.values() {
                // A closed queue belongs to a client that is leaving: skip it.
                let _ = queue.send(message.clone());
            }
        }
    }
}

async fn serve_connection(mut stream: TcpStream, room: Arc<Room>) {
    let _ = stream.set_nodelay(true);
    let request = tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake(&mut stream)).await;
    let Ok(Ok(Some(upgrade))) = request else {
        return;
    };
    // Join the room before the 101 goes out: a client that sees the
    // connection open must get every broadcast sent after that.
    let (queue, outgoing) = mpsc::unbounded_channel();
    let member = (upgrade.app == App::Chat).then(|| room.join(queue));
    if stream.write_all(&upgrade.response).await.is_ok() {
        let config = Some(strict_config());
        let ws =
            WebSocketStream::from_partially_read(stream, upgrade.leftover, Role::Server, config)
                .await;
        match member {
            Some(id) => serve_chat(ws, &room, id, outgoing).await,
            None => serve_echo(ws).await,
        }
    }
    if let Some(id) = member {
        room.leave(id);
    }
}

/// An upgrade request the peer agrees to.
struct Upgrade {
    app: App,
    /// The 101 response, not written yet.
    response: Vec<u8>,
    /// Bytes read past the request (frames sent right behind it).
    leftover: Vec<u8>,
}

/// Reads the opening handshake. A refused request is answered here and
/// gives `None`; an accepted one comes back with its 101 response unwritten.
async fn handshake(stream: &mut TcpStream) -> std::io::Result<Option<Upgrade>> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let mut slots = [httparse::EMPTY_HEADER; 64];
        let mut request = httparse::Request::new(&mut slots);
        match request.parse(&buf) {
            // A whole head may arrive in one read: its size counts, not the reads'.
            Ok(httparse::Status::Complete(used)) if used > MAX_REQUEST_SIZE => {
                refuse(stream, Refusal::new(431, "request header block too large")).await?;
                return Ok(None);
            }
            Ok(httparse::Status::Complete(used)) => {
                let answer = check_request(&request);
                match answer {
                    Ok((app, accept)) => {
                        let response = format!(
                            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
                             Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
                        );
                        return Ok(Some(Upgrade {
                            app,
                            response: response.into_bytes(),
                            leftover: buf.get(used..).unwrap_or_default().to_vec(),
                        }));
                    }
                    Err(refusal) => {
                        refuse(stream, refusal).await?;
                        return Ok(None);
                    }
                }
            }
            Ok(httparse::Status::Partial) if buf.len() > MAX_REQUEST_SIZE => {
                refuse(stream, Refusal::new(431, "request header block too large")).await?;
                return Ok(None);
            }
            Ok(httparse::Status::Partial) => {}
            Err(e) => {
                refuse(
                    stream,
                    Refusal::new(400, &format!("malformed request: {e}")),
                )
                .await?;
                return Ok(None);
            }
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
    }
}

/// An HTTP refusal of an upgrade request.
#[derive(Debug)]
struct Refusal {
    status: u16,
    why: String,
}

impl Refusal {
    fn new(status: u16, why: &str) -> Refusal {
        Refusal {
            status,
            why: why.to_owned(),
        }
    }
}

/// Applies RFC 6455 §4.2.1 to a complete request; on success returns the
/// application and the `Sec-WebSocket-Accept` value.
fn check_request(request: &httparse::Request<'_, '_>) -> Result<(App, String), Refusal> {
    // HTTP header names are case-insensitive; repeated headers form one list.
    let header = |name: &str| -> Option<String> {
        let values: Vec<String> = request
            .headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).trim().to_owned())
            .collect();
        (!values.is_empty()).then(|| values.join(", "))
    };
    let has_token = |value: &str, token: &str| {
        value
            .split(',')
            .any(|part| part.trim().eq_ignore_ascii_case(token))
    };
    if request.method != Some("GET") {
        return Err(Refusal::new(405, "the method must be GET (RFC 6455 §4.1)"));
    }
    if request.version != Some(1) {
        return Err(Refusal::new(400, "HTTP/1.1 is required (RFC 6455 §4.1)"));
    }
    if header("Host").is_none_or(|h| h.is_empty()) {
        return Err(Refusal::new(400, "missing Host header (RFC 6455 §4.1)"));
    }
    if !header("Upgrade").is_some_and(|v| has_token(&v, "websocket")) {
        return Err(Refusal::new(
            400,
            "Upgrade must name websocket (RFC 6455 §4.1)",
        ));
    }
    if !header("Connection").is_some_and(|v| has_token(&v, "upgrade")) {
        return Err(Refusal::new(
            400,
            "Connection must contain Upgrade (RFC 6455 §4.1)",
        ));
    }
    let Some(key) = header("Sec-WebSocket-Key") else {
        return Err(Refusal::new(
            400,
            "missing Sec-WebSocket-Key (RFC 6455 §4.1)",
        ));
    };
    if BASE64.decode(key.as_bytes()).map(|k| k.len()) != Ok(16) {
        return Err(Refusal::new(
            400,
            "Sec-WebSocket-Key must be base64 of 16 bytes (RFC 6455 §4.1)",
        ));
    }
    if header("Sec-WebSocket-Version").as_deref() != Some("13") {
        return Err(Refusal::new(
            426,
            "only Sec-WebSocket-Version 13 is supported (RFC 6455 §4.4)",
        ));
    }
    let path = request.path.unwrap_or_default();
    let path = path.split('?').next().unwrap_or_default();
    let app = match path {
        "/echo" => App::Echo,
        "/socket" => App::Chat,
        _ => {
            return Err(Refusal::new(
                404,
                "no WebSocket endpoint here: use /echo or /socket",
            ));
        }
    };
    Ok((app, derive_accept_key(key.as_bytes())))
}

async fn refuse(stream: &mut TcpStream, refusal: Refusal) -> std::io::Result<()> {
    let reason = match refusal.status {
        404 => "Not Found",
        405 => "Method Not Allowed",
        426 => "Upgrade Required",
        431 => "Request Header Fields Too Large",
        _ => "Bad Request",
    };
    let extra = match refusal.status {
        405 => "Allow: GET\r\n",
        426 => "Sec-WebSocket-Version: 13\r\n",
        _ => "",
    };
    let body = format!("{}\n", refusal.why);
    let response = format!(
        "HTTP/1.1 {} {reason}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        refusal.status,
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

async fn serve_echo(mut ws: WebSocketStream<TcpStream>) {
    while let Some(incoming) = ws.next().await {
        let reply = match incoming {
            Ok(message @ (Message::Text(_) | Message::Binary(_))) => message,
            // Pings are answered by tungstenite itself; a close frame too:
            // the next read flushes the reply and then ends the stream.
            Ok(_) => continue,
            Err(error) => return fail(ws, &error).await,
        };
        if ws.send(reply).await.is_err() {
            return;
        }
    }
}

/// Serves a chat member until it leaves. Every way out that sends a close
/// frame leaves the room first, so no broadcast can follow the close frame;
/// the caller leaves the room in any case.
async fn serve_chat(
    mut ws: WebSocketStream<TcpStream>,
    room: &Room,
    id: u64,
    mut outgoing: mpsc::UnboundedReceiver<Message>,
) {
    loop {
        tokio::select! {
            incoming = ws.next() => match incoming {
                Some(Ok(Message::Text(text))) => match broadcast_text(text.as_bytes()) {
                    Some(json) => room.broadcast(json),
                    None => {
                        room.leave(id);
                        return close_with(ws, NOT_CHAT_CODE, NOT_CHAT_REASON).await;
                    }
                },
                Some(Ok(Message::Binary(_))) => {
                    room.leave(id);
                    return close_with(ws, NOT_CHAT_CODE, NOT_CHAT_REASON).await;
                }
                Some(Ok(Message::Close(_))) => {
                    // tungstenite queued the reply; keep reading until it is
                    // flushed and the stream ends, without sending anything else.
                    room.leave(id);
                    let _ = tokio::time::timeout(CLOSE_LINGER, async {
                        while ws.next().await.is_some() {}
                    })
                    .await;
                    return;
                }
                Some(Ok(_)) => {}
                Some(Err(error)) => {
                    room.leave(id);
                    return fail(ws, &error).await;
                }
                None => break,
            },
            Some(message) = outgoing.recv() => {
                if ws.send(message).await.is_err() {
                    break;
                }
            }
        }
    }
}

/// Fails the connection after tungstenite reported `error`: sends the close
/// code the error calls for (RFC 6455 §7.4.1), if any, then closes TCP.
async fn fail(ws: WebSocketStream<TcpStream>, error: &WsError) {
    let code = match error {
        WsError::Protocol(_) => 1002,
        WsError::Utf8(_) => 1007,
        WsError::Capacity(_) => 1009,
        // I/O errors and a closed connection: there is nobody to tell.
        _ => return,
    };
    close_with(ws, code, "").await;
}

/// Sends a close frame with `code` and `reason`, then closes the TCP
/// connection the polite way: our FIN first, then the client's bytes are
/// read and dropped until it closes too (at most [`CLOSE_LINGER`]).
///
/// Dropping a socket with unread bytes makes the kernel send a reset, and a
/// reset can destroy the close frame before the client reads it.
async fn close_with(mut ws: WebSocketStream<TcpStream>, code: u16, reason: &str) {
    let frame = CloseFrame {
        code: code.into(),
        reason: reason.into(),
    };
    if ws.close(Some(frame)).await.is_err() {
        return;
    }
    let stream = ws.get_mut();
    let _ = stream.shutdown().await;
    let mut sink = [0u8; 4096];
    let _ = tokio::time::timeout(CLOSE_LINGER, async {
        while let Ok(n) = stream.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
}

//! One client, from the opening handshake to the closed socket.
//!
//! Home of [`Bug::PingIgnored`] and [`Bug::CloseNotAnswered`].
//!
//! The connection is two halves run side by side: the *session* reads
//! frames and decides what to answer, the *writer* owns the socket's write
//! half and sends whatever lands in the connection's queue — echoes, pongs,
//! the close frame, and chat broadcasts from other clients. One queue means
//! one order: nothing can overtake the close frame.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};
use wsconform_wire::deflate::Deflater;
use wsconform_wire::{OpCode, close_payload};

use super::Bug;
use super::frames::{FrameReader, Incoming, Stop, encode};
use super::handshake::{self, App};
use super::room::Room;
use crate::chat::{NOT_CHAT_CODE, NOT_CHAT_REASON, broadcast_text};

/// How long a client may take to send its whole opening handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long we wait for the client to close TCP after our close frame.
const CLOSE_LINGER: Duration = Duration::from_secs(1);

/// How a session ended.
enum End {
    /// Send this close payload, then close TCP.
    Close(Vec<u8>),
    /// Close TCP without a close frame.
    Drop,
}

/// Serves one accepted TCP connection to its end.
pub(crate) async fn serve(mut stream: TcpStream, bug: Option<Bug>, room: Arc<Room>) {
    let _ = stream.set_nodelay(true);
    let request =
        tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake::read_request(&mut stream, bug));
    let Ok(Ok(Some(upgrade))) = request.await else {
        return;
    };
    let (queue, outgoing) = mpsc::unbounded_channel();
    // Join the room before the 101 goes out (see `handshake::read_request`).
    let member = (upgrade.app == App::Chat).then(|| room.join(queue.clone()));
    if stream.write_all(&upgrade.response).await.is_err() {
        if let Some(id) = member {
            room.leave(id);
        }
        return;
    }
    let (read_half, write_half) = stream.into_split();
    let reading = async {
        let mut reader = FrameReader::new(read_half, upgrade.leftover, bug);
        let mut deflater = upgrade.deflate.map(|params| {
            reader.use_deflate(&params);
            Deflater::new(
                params.server_max_window_bits,
                1,
                params.server_no_context_takeover,
            )
        });
        let end = session(
            &mut reader,
            deflater.as_mut(),
            upgrade.app,
            &queue,
            &room,
            member,
            bug,
        )
        .await;
        // Leave the room first, so no broadcast can follow our close frame.
        if let Some(id) = member {
            room.leave(id);
        }
        match end {
            End::Close(payload) => {
                let _ = queue.send(encode(bug, OpCode::Close, &payload));
                drop(queue);
                reader.drain(CLOSE_LINGER).await;
            }
            End::Drop => drop(queue),
        }
    };
    tokio::join!(reading, write_loop(write_half, outgoing));
}

/// Sends queued frames until every sender is gone, then sends FIN.
async fn write_loop(mut socket: OwnedWriteHalf, mut outgoing: UnboundedReceiver<Vec<u8>>) {
    while let Some(frame) = outgoing.recv().await {
        if socket.write_all(&frame).await.is_err() {
            return;
        }
    }
    let _ = socket.shutdown().await;
}

/// Reads and answers frames until the connection must end.
async fn session(
    reader: &mut FrameReader,
    mut deflater: Option<&mut Deflater>,
    app: App,
    queue: &UnboundedSender<Vec<u8>>,
    room: &Room,
    member: Option<u64>,
    bug: Option<Bug>,
) -> End {
    loop {
        let incoming = match reader.next().await {
            Ok(incoming) => incoming,
            Err(Stop::Violation(error)) => {
                return End::Close(close_payload(error.close_code(), &error.to_string()));
            }
            Err(Stop::Gone | Stop::Dropped) => return End::Drop,
        };
        match incoming {
            Incoming::Message { text, data } => match (app, member) {
                (App::Chat, Some(id)) => {
                    let json = if text { broadcast_text(&data) } else { None };
                    let Some(json) = json else {
                        return End::Close(close_payload(NOT_CHAT_CODE, NOT_CHAT_REASON));
                    };
                    room.broadcast(id, encode(bug, OpCode::Text, json.as_bytes()), bug);
                }
                _ => {
                    let opcode = if text { OpCode::Text } else { OpCode::Binary };
                    let compressed = deflater.as_deref_mut().and_then(|d| d.compress(&data));
                    let frame = match compressed {
                        Some(compressed) => {
                            let mut frame = encode(bug, opcode, &compressed);
                            // RSV1: the "Per-Message Compressed" bit.
                            if let Some(first) = frame.first_mut() {
                                *first |= 0x40;
                            }
                            frame
                        }
                        None => encode(bug, opcode, &data),
                    };
                    let _ = queue.send(frame);
                }
            },
            Incoming::Ping(payload) => match bug {
                // The bug: pings are control frames, "nothing to do".
                Some(Bug::PingIgnored) => {}
                _ => {
                    let _ = queue.send(encode(bug, OpCode::Pong, &payload));
                }
            },
            Incoming::Pong => {}
            Incoming::Close(frame) => {
                return match bug {
                    // The bug: the client wants to leave, so just hang up.
                    Some(Bug::CloseNotAnswered) => End::Drop,
                    // Echo the client's code and reason (RFC 6455 §5.5.1).
                    _ => End::Close(
                        frame
                            .map(|f| close_payload(f.code, &f.reason))
                            .unwrap_or_default(),
                    ),
                };
            }
        }
    }
}

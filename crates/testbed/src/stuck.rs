//! Servers that get stuck: they answer the opening handshake and then stop
//! answering, the way a student's server that hangs does.
//!
//! * [`Stuck::BlackHole`] sends nothing after its 101, ever;
//! * [`Stuck::OneAtATime`] is a black hole that serves one connection at a
//!   time (a plain accept loop: the next client's handshake waits until the
//!   current client leaves);
//! * [`Stuck::StopsAfterFirst`] is a one-at-a-time black hole that, once
//!   its first client has left, never serves anyone again (its loop spins
//!   on the closed connection): every later handshake goes unanswered;
//! * [`Stuck::RefuseOnly`] answers no valid frame, but fails a connection
//!   whose frames break a rule (a close frame with the rule's code, then the
//!   end of TCP): only its refusals are right;
//! * [`Stuck::StallAfter`] echoes the first few messages of each connection
//!   (and answers nothing else: no pong, no close), then sends nothing more.
//!
//! Both keep reading (and dropping) what the client sends, so a client's
//! writes never block: only the answers are missing. They are what the
//! runner must grade quickly and the same way whatever shortcuts it takes.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use wsconform_wire::{
    Decoder, Event, Limits, Message, OpCode, Role, accept_response, close_payload, encode_frame,
    parse_request,
};

use crate::shutdown::{ShutdownHandle, accept_each, spawn_server};

/// The largest request head read before giving up on a client.
const MAX_HEAD: usize = 16 * 1024;
/// How long a client may take to send its request head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// How a stuck server stops answering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stuck {
    /// Answers the handshake, then never sends a byte.
    BlackHole,
    /// A black hole that serves one connection at a time.
    OneAtATime,
    /// A one-at-a-time black hole that serves nobody after its first client.
    StopsAfterFirst,
    /// Answers no valid frame; fails a connection whose frames break a rule.
    RefuseOnly,
    /// Echoes the first `n` data messages of each connection, then never
    /// sends a byte.
    StallAfter(usize),
}

/// Starts a stuck server on `addr` (port 0 picks a free port).
pub async fn start_stuck_on(
    stuck: Stuck,
    addr: SocketAddr,
) -> std::io::Result<(SocketAddr, ShutdownHandle)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    if stuck == Stuck::OneAtATime {
        return Ok((local, spawn_server(one_at_a_time(listener))));
    }
    if stuck == Stuck::StopsAfterFirst {
        return Ok((local, spawn_server(stops_after_first(listener))));
    }
    Ok((
        local,
        spawn_server(accept_each(listener, move |stream| serve(stream, stuck))),
    ))
}

/// Starts a stuck server on `127.0.0.1` with a free port.
pub async fn start_stuck(stuck: Stuck) -> std::io::Result<(SocketAddr, ShutdownHandle)> {
    start_stuck_on(stuck, SocketAddr::from(([127, 0, 0, 1], 0))).await
}

/// A plain accept loop: each client is served until it leaves, and only
/// then is the next one accepted.
async fn one_at_a_time(listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => serve(stream, Stuck::BlackHole).await,
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

/// Serves its first client as a black hole, then nobody: the listener
/// stays open, so later clients connect, and wait for a 101 forever.
async fn stops_after_first(listener: TcpListener) {
    if let Ok((stream, _)) = listener.accept().await {
        serve(stream, Stuck::BlackHole).await;
    }
    std::future::pending::<()>().await;
}

/// Reads frames and answers none; a frame that breaks a rule gets a close
/// frame with the rule's code, and the connection ends.
async fn refuse_only(mut stream: TcpStream, leftover: Vec<u8>) {
    let mut decoder = Decoder::new(Role::Server, Limits::default());
    let mut buffer = leftover;
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        while !buffer.is_empty() {
            match decoder.decode(&buffer) {
                Ok((used, event)) => {
                    buffer.drain(..used.min(buffer.len()));
                    if event.is_none() {
                        break;
                    }
                }
                Err(error) => {
                    let mut out = Vec::new();
                    let body = close_payload(error.close_code(), "");
                    encode_frame(&mut out, true, OpCode::Close, None, &body);
                    let _ = stream.write_all(&out).await;
                    return;
                }
            }
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buffer.extend_from_slice(chunk.get(..n).unwrap_or_default()),
        }
    }
}

async fn serve(mut stream: TcpStream, stuck: Stuck) {
    let _ = stream.set_nodelay(true);
    let Ok(Some(leftover)) = tokio::time::timeout(HEAD_TIMEOUT, handshake(&mut stream)).await
    else {
        return;
    };
    let echoes = match stuck {
        Stuck::BlackHole | Stuck::OneAtATime | Stuck::StopsAfterFirst => 0,
        Stuck::RefuseOnly => return refuse_only(stream, leftover).await,
        Stuck::StallAfter(n) => n,
    };
    let mut decoder = Decoder::new(Role::Server, Limits::default());
    let mut buffer = leftover;
    let mut echoed = 0;
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        // Decode what there is while echoes are still owed; after that the
        // bytes are only read and dropped.
        while echoed < echoes && !buffer.is_empty() {
            let Ok((used, event)) = decoder.decode(&buffer) else {
                echoed = echoes;
                break;
            };
            buffer.drain(..used.min(buffer.len()));
            let reply = match event {
                Some(Event::Message(Message::Text(text))) => (OpCode::Text, text.into_bytes()),
                Some(Event::Message(Message::Binary(bytes))) => (OpCode::Binary, bytes),
                Some(_) => continue,
                None => break,
            };
            let mut out = Vec::new();
            encode_frame(&mut out, true, reply.0, None, &reply.1);
            if stream.write_all(&out).await.is_err() {
                return;
            }
            echoed += 1;
        }
        if echoed >= echoes {
            buffer.clear();
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buffer.extend_from_slice(chunk.get(..n).unwrap_or_default()),
        }
    }
}

/// Reads a request head and answers any valid one with 101; the bytes read
/// past the head come back. `None`: the client left or sent no valid head.
async fn handshake(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut head = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        head.extend_from_slice(chunk.get(..n)?);
        match parse_request(&head, MAX_HEAD) {
            Ok(Some((request, used))) => {
                stream.write_all(&accept_response(&request)).await.ok()?;
                return Some(head.get(used..).unwrap_or_default().to_vec());
            }
            Ok(None) => {}
            Err(_) => return None,
        }
    }
}

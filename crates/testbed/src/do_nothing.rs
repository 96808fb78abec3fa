//! **Do-nothing servers**: a correct opening handshake and almost no frame
//! code, the tricks a grader must not reward.
//!
//! A server that answers the handshake and closes the connection "fails the
//! connection" on every bad frame. Without care, every scenario that expects
//! a refusal counts that hang-up as a correct answer. These servers pin what
//! such tricks earn (see `tests/do_nothing.rs`): the handshake chapter, and
//! next to nothing elsewhere.
//!
//! Each one answers a valid upgrade on `/echo` or `/socket` with 101 (no
//! extension), then reads frames the naive way — header, length, mask, no
//! rule checked — and sends every text or binary frame's payload back as
//! one frame of the same kind (on `/socket`, as the chat's JSON, to the
//! sender only). Anything else (a control frame, a continuation, a reserved
//! opcode) makes it hang up, which is the cheapest way to "refuse" it. It
//! hangs up after the handshake or after a fixed number of echoes.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use wsconform_wire::{accept_key, http_response, parse_request};

use crate::chat::broadcast_text;
use crate::shutdown::{ShutdownHandle, accept_each, spawn_server};

/// Largest request head read before giving up.
const MAX_REQUEST_SIZE: usize = 8 * 1024;
/// Largest frame payload echoed; a longer one makes the server hang up.
const MAX_PAYLOAD: u64 = 1 << 20;
/// How long a client may take to send its request.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// When a do-nothing server hangs up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DoNothing {
    /// Right after the 101: no frame code at all.
    HangUp,
    /// After echoing this many messages (unchecked) on the connection.
    HangUpAfter(u32),
    /// Never on its own: echoes every text and binary frame, checking nothing.
    EchoUnchecked,
}

impl DoNothing {
    /// Every do-nothing server the testbed pins.
    pub const ALL: [DoNothing; 4] = [
        DoNothing::HangUp,
        DoNothing::HangUpAfter(1),
        DoNothing::HangUpAfter(3),
        DoNothing::EchoUnchecked,
    ];

    /// A stable name: `hang-up`, `hang-up-after-3`, `echo-unchecked`.
    pub fn name(self) -> String {
        match self {
            DoNothing::HangUp => "hang-up".to_owned(),
            DoNothing::HangUpAfter(n) => format!("hang-up-after-{n}"),
            DoNothing::EchoUnchecked => "echo-unchecked".to_owned(),
        }
    }

    /// How many messages it echoes before hanging up (`None`: no limit).
    fn echoes(self) -> Option<u32> {
        match self {
            DoNothing::HangUp => Some(0),
            DoNothing::HangUpAfter(n) => Some(n),
            DoNothing::EchoUnchecked => None,
        }
    }
}

impl fmt::Display for DoNothing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// A name that is not a do-nothing server.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown do-nothing server {0:?}; use hang-up, hang-up-after-N or echo-unchecked")]
pub struct UnknownDoNothing(pub String);

impl FromStr for DoNothing {
    type Err = UnknownDoNothing;

    fn from_str(name: &str) -> Result<DoNothing, UnknownDoNothing> {
        match name {
            "hang-up" => Ok(DoNothing::HangUp),
            "echo-unchecked" => Ok(DoNothing::EchoUnchecked),
            _ => name
                .strip_prefix("hang-up-after-")
                .and_then(|n| n.parse().ok())
                .map(DoNothing::HangUpAfter)
                .ok_or_else(|| UnknownDoNothing(name.to_owned())),
        }
    }
}

/// Starts `kind` on `addr` (port 0 picks a free port).
pub async fn start_do_nothing_on(
    kind: DoNothing,
    addr: SocketAddr,
) -> std::io::Result<(SocketAddr, ShutdownHandle)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    Ok((
        local,
        spawn_server(accept_each(listener, move |stream| serve(stream, kind))),
    ))
}

/// Starts `kind` on `127.0.0.1` with a free port.
pub async fn start_do_nothing(kind: DoNothing) -> std::io::Result<(SocketAddr, ShutdownHandle)> {
    start_do_nothing_on(kind, SocketAddr::from(([127, 0, 0, 1], 0))).await
}

/// One connection: the handshake, then echoes until the limit or anything
/// that is not a plain data frame. Dropping the stream hangs up.
async fn serve(mut stream: TcpStream, kind: DoNothing) {
    let _ = stream.set_nodelay(true);
    let upgrade = tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake(&mut stream)).await;
    let Ok(Some((chat, mut buf))) = upgrade else {
        return;
    };
    let mut echoed = 0;
    while kind.echoes().is_none_or(|limit| echoed < limit) {
        let Some((opcode, payload)) = next_frame(&mut stream, &mut buf).await else {
            return;
        };
        let reply = match (opcode, chat) {
            (0x1 | 0x2, false) => payload,
            (0x1, true) => match broadcast_text(&payload) {
                Some(json) => json.into_bytes(),
                None => return,
            },
            _ => return,
        };
        if stream
            .write_all(&server_frame(opcode, &reply))
            .await
            .is_err()
        {
            return;
        }
        echoed += 1;
    }
}

/// Reads the request and answers it; `Some((is_chat, bytes read past the
/// request))` when upgraded.
async fn handshake(stream: &mut TcpStream) -> Option<(bool, Vec<u8>)> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    let (request, used) = loop {
        match parse_request(&buf, MAX_REQUEST_SIZE) {
            Ok(Some(parsed)) => break parsed,
            Ok(None) => {}
            Err(error) => {
                let _ = stream.write_all(&error.response()).await;
                return None;
            }
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(chunk.get(..n)?);
    };
    let chat = match request.path.split('?').next().unwrap_or_default() {
        "/echo" => false,
        "/socket" => true,
        _ => {
            let body = b"use /echo or /socket\n";
            let _ = stream
                .write_all(&http_response(404, "Not Found", &[], body))
                .await;
            return None;
        }
    };
    let key = request.header("Sec-WebSocket-Key")?;
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        accept_key(key.as_bytes())
    );
    stream.write_all(response.as_bytes()).await.ok()?;
    Some((chat, buf.get(used..).unwrap_or_default().to_vec()))
}

/// The next frame's opcode and unmasked payload, read without checking any
/// rule; `None` when the client leaves or the frame is too long to echo.
async fn next_frame(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<(u8, Vec<u8>)> {
    let header = take(stream, buf, 2).await?;
    let (first, second) = (*header.first()?, *header.get(1)?);
    let len = match second & 0x7f {
        126 => u64::from(u16::from_be_bytes(
            take(stream, buf, 2).await?.try_into().ok()?,
        )),
        127 => u64::from_be_bytes(take(stream, buf, 8).await?.try_into().ok()?),
        n => u64::from(n),
    };
    if len > MAX_PAYLOAD {
        return None;
    }
    let mask = if second & 0x80 != 0 {
        take(stream, buf, 4).await?
    } else {
        vec![0; 4]
    };
    let mut payload = take(stream, buf, usize::try_from(len).ok()?).await?;
    for (i, byte) in payload.iter_mut().enumerate() {
        *byte ^= mask.get(i % 4).copied().unwrap_or(0);
    }
    Some((first & 0x0f, payload))
}

/// The next `n` bytes of the stream (`buf` holds bytes already read).
async fn take(stream: &mut TcpStream, buf: &mut Vec<u8>, n: usize) -> Option<Vec<u8>> {
    let mut chunk = [0u8; 4096];
    while buf.len() < n {
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        buf.extend_from_slice(chunk.get(..read)?);
    }
    Some(buf.drain(..n).collect())
}

/// An unmasked server frame, FIN set, minimal length.
fn server_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![0x80 | opcode];
    match payload.len() {
        len @ 0..=125 => frame.push(len as u8),
        len @ 126..=0xffff => {
            frame.push(126);
            frame.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            frame.push(127);
            frame.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(payload);
    frame
}

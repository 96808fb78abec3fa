//! Test clients: a tokio-tungstenite client, and a raw TCP client that
//! writes exactly the bytes a test asks for and reads server frames without
//! trusting them.
//!
//! Every await goes through [`within`], so a server that hangs fails the
//! test with a message instead of hanging it.

#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use wsconform_wire::{
    Decoder, Event, FrameHeader, Limits, OpCode, ProtocolError, Role, ServerResponse,
    build_request, encode_frame, generate_key, parse_response,
};

/// Hang guard for every step of a test.
pub const STEP: Duration = Duration::from_secs(5);

/// Awaits `future` for at most [`STEP`]; panics naming `what` otherwise.
pub async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    match tokio::time::timeout(STEP, future).await {
        Ok(value) => value,
        Err(_) => panic!("timed out after {STEP:?} waiting for {what}"),
    }
}

/// The masking key of every frame the raw client sends.
pub const KEY: [u8; 4] = [0x37, 0xFA, 0x21, 0x3D];

/// A tokio-tungstenite client stream.
pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Connects a tokio-tungstenite client to `ws://addr{path}`.
pub async fn ws_connect(addr: SocketAddr, path: &str) -> Ws {
    let url = format!("ws://{addr}{path}");
    let (ws, _) = within(
        "the WebSocket handshake",
        tokio_tungstenite::connect_async(url),
    )
    .await
    .expect("handshake succeeds");
    ws
}

/// Sends `message` and returns the next data message received.
pub async fn ws_round_trip(ws: &mut Ws, message: WsMessage) -> WsMessage {
    within("sending a message", ws.send(message))
        .await
        .expect("send succeeds");
    ws_next_data(ws).await
}

/// The next text or binary message (pings and pongs are skipped).
pub async fn ws_next_data(ws: &mut Ws) -> WsMessage {
    loop {
        let message = within("a message", ws.next())
            .await
            .expect("the connection stays open")
            .expect("a valid message");
        if message.is_text() || message.is_binary() {
            return message;
        }
    }
}

/// The JSON a chat client sends, and the broadcast it expects back.
pub fn chat(username: &str, message: &str) -> String {
    serde_json::json!({ "username": username, "message": message }).to_string()
}

/// Reads a broadcast and returns its `(username, message)`.
pub fn chat_fields(message: &WsMessage) -> (String, String) {
    let text = message.to_text().expect("a chat broadcast is text");
    let value: serde_json::Value = serde_json::from_str(text).expect("a broadcast is JSON");
    (
        value["username"].as_str().expect("username").to_owned(),
        value["message"].as_str().expect("message").to_owned(),
    )
}

/// A frame as the raw client reads it, without judging it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawFrame {
    pub header: FrameHeader,
    /// The payload, unmasked if the server masked it.
    pub payload: Vec<u8>,
}

/// A client over plain TCP.
pub struct Raw {
    pub stream: TcpStream,
    /// Bytes received and not used yet.
    pub buf: Vec<u8>,
    decoder: Decoder,
}

impl Raw {
    /// Opens a TCP connection.
    pub async fn connect(addr: SocketAddr) -> Raw {
        let stream = within("the TCP connection", TcpStream::connect(addr))
            .await
            .expect("the server accepts TCP connections");
        stream.set_nodelay(true).expect("TCP_NODELAY can be set");
        Raw {
            stream,
            buf: Vec::new(),
            decoder: Decoder::new(Role::Client, Limits::default()),
        }
    }

    /// Opens a connection and completes a standard handshake on `path`;
    /// panics unless the server answers a valid 101.
    pub async fn open(addr: SocketAddr, path: &str) -> Raw {
        let mut raw = Raw::connect(addr).await;
        let key = generate_key(7);
        raw.send(&build_request(&addr.to_string(), path, &key, &[]))
            .await;
        let response = raw.response().await;
        wsconform_wire::validate_response(&response, &key).expect("a valid 101 response");
        raw
    }

    /// Opens a connection offering `extensions` on `/echo`; returns the
    /// response. When it accepts permessage-deflate, [`Raw::event`]
    /// inflates from then on.
    #[allow(dead_code)]
    pub async fn open_offering(addr: SocketAddr, extensions: &str) -> (Raw, ServerResponse) {
        let mut raw = Raw::connect(addr).await;
        let key = generate_key(7);
        let offer = [("Sec-WebSocket-Extensions", extensions)];
        raw.send(&build_request(&addr.to_string(), "/echo", &key, &offer))
            .await;
        let response = raw.response().await;
        let answer = response
            .header("Sec-WebSocket-Extensions")
            .unwrap_or_default();
        let offered = wsconform_wire::extension::parse_extensions(extensions).expect("an offer");
        let answered = wsconform_wire::extension::parse_extensions(&answer).expect("an answer");
        let params = offered.iter().find_map(|o| {
            wsconform_wire::extension::validate_deflate_response(&o.params, &answered).ok()?
        });
        if let Some(params) = params {
            raw.decoder = Decoder::new(Role::Client, Limits::default()).with_deflate(&params);
        }
        (raw, response)
    }

    /// Writes `bytes` in one write.
    pub async fn send(&mut self, bytes: &[u8]) {
        within("writing to the server", self.stream.write_all(bytes))
            .await
            .expect("the write succeeds");
    }

    /// Writes `bytes` in one write, for a server that may hang up while we
    /// write; returns whether the write succeeded.
    pub async fn send_lossy(&mut self, bytes: &[u8]) -> bool {
        within("writing to the server", self.stream.write_all(bytes))
            .await
            .is_ok()
    }

    /// A masked frame with the given FIN, opcode and payload.
    pub fn frame(fin: bool, opcode: OpCode, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_frame(&mut out, fin, opcode, Some(KEY), payload);
        out
    }

    /// Sends one masked frame.
    pub async fn send_frame(&mut self, fin: bool, opcode: OpCode, payload: &[u8]) {
        self.send(&Raw::frame(fin, opcode, payload)).await;
    }

    /// Reads once more; returns false at end of stream (or on a reset).
    pub async fn read_more(&mut self) -> bool {
        let mut chunk = [0u8; 64 * 1024];
        match within("bytes from the server", self.stream.read(&mut chunk)).await {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
        }
    }

    /// Reads the HTTP response to the handshake.
    pub async fn response(&mut self) -> ServerResponse {
        loop {
            if let Some((response, used)) =
                parse_response(&self.buf, 16 * 1024).expect("an HTTP response")
            {
                self.buf.drain(..used);
                return response;
            }
            assert!(self.read_more().await, "the server closed before answering");
        }
    }

    /// The next event, decoded as a strict client would.
    pub async fn event(&mut self) -> Result<Event, ProtocolError> {
        loop {
            let (used, event) = self.decoder.decode(&self.buf)?;
            self.buf.drain(..used);
            if let Some(event) = event {
                return Ok(event);
            }
            assert!(
                self.read_more().await,
                "the server closed the connection instead of sending a frame"
            );
        }
    }

    /// The next frame, read without any checks (for servers whose frames a
    /// strict client would refuse). `None` if the connection ends first.
    pub async fn raw_frame(&mut self) -> Option<RawFrame> {
        loop {
            if let Some((header, header_len)) = FrameHeader::parse(&self.buf) {
                let len = usize::try_from(header.payload_len).expect("a small frame");
                if self.buf.len() >= header_len + len {
                    let mut payload: Vec<u8> = self
                        .buf
                        .drain(..header_len + len)
                        .skip(header_len)
                        .collect();
                    if let Some(key) = header.mask {
                        wsconform_wire::apply_mask(&mut payload, key, 0);
                    }
                    return Some(RawFrame { header, payload });
                }
            }
            if !self.read_more().await {
                return None;
            }
        }
    }

    /// Everything the server sends until it closes the connection.
    pub async fn rest(&mut self) -> Vec<u8> {
        while self.read_more().await {}
        std::mem::take(&mut self.buf)
    }
}

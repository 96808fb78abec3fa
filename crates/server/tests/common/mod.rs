//! Shared helpers for the integration tests: start a server in-process on an
//! ephemeral loopback port, connect with tokio-tungstenite (an independent
//! client) or over raw TCP, and read server frames with a parser written
//! here, independent of the wire crate the server uses.

#![allow(dead_code)] // each test binary uses a different subset

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use wsconform_server::Config;

/// Hang guard for every await in the tests. Generous: the machine is shared.
pub const GUARD: Duration = Duration::from_secs(20);

/// A server running in the test's runtime.
pub struct TestServer {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    pub task: JoinHandle<()>,
}

/// Shows the server's log lines in a failing test's output
/// (filter with `RUST_LOG`, default `info`).
pub fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}

impl TestServer {
    /// Starts a server with `config` on 127.0.0.1 port 0.
    pub async fn start(config: Config) -> TestServer {
        init_logs();
        let config = Config {
            bind_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            ..config
        };
        let server = wsconform_server::bind(config).await.expect("bind");
        let addr = server.local_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server.run(async {
            let _ = stopped.await;
        }));
        TestServer {
            addr,
            stop: Some(stop),
            task,
        }
    }

    /// A server with the default configuration.
    pub async fn default() -> TestServer {
        TestServer::start(Config::ephemeral()).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("ws://{}{}", self.addr, path)
    }

    /// Begins graceful shutdown and waits for `run` to return.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(GUARD, &mut self.task)
            .await
            .expect("server did not stop in time")
            .expect("server task panicked");
    }
}

pub type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Opens a tokio-tungstenite client on `path`.
pub async fn connect(server: &TestServer, path: &str) -> Client {
    let (client, response) =
        tokio::time::timeout(GUARD, tokio_tungstenite::connect_async(server.url(path)))
            .await
            .expect("connect timed out")
            .expect("handshake failed");
    assert_eq!(response.status(), 101);
    client
}

/// The next message that is not a ping or pong.
pub async fn next_message(client: &mut Client) -> Message {
    loop {
        let message = tokio::time::timeout(GUARD, client.next())
            .await
            .expect("timed out waiting for a message")
            .expect("stream ended")
            .expect("read failed");
        match message {
            Message::Ping(_) | Message::Pong(_) => continue,
            other => return other,
        }
    }
}

/// Sends `message` and flushes it.
pub async fn send(client: &mut Client, message: Message) {
    tokio::time::timeout(GUARD, client.send(message))
        .await
        .expect("send timed out")
        .expect("send failed");
}

// ---------------------------------------------------------------------------
// Raw TCP: for what a well-behaved client library will not send.

/// A valid upgrade request for `path`.
pub fn upgrade_request(path: &str) -> Vec<u8> {
    format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n"
    )
    .into_bytes()
}

/// Reads an HTTP response head; returns it as text.
pub async fn read_response_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(GUARD, stream.read(&mut byte))
            .await
            .expect("timed out reading the response head")
            .expect("read failed");
        assert!(n == 1, "connection closed in the response head: {head:?}");
        head.push(byte[0]);
        assert!(head.len() < 16 * 1024, "response head too long");
    }
    String::from_utf8(head).expect("response head is not text")
}

/// Connects over raw TCP and completes the opening handshake on `path`.
pub async fn raw_connect(server: &TestServer, path: &str) -> TcpStream {
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    stream
        .write_all(&upgrade_request(path))
        .await
        .expect("write");
    let head = read_response_head(&mut stream).await;
    assert!(
        head.starts_with("HTTP/1.1 101 "),
        "expected 101, got {head}"
    );
    // RFC 6455 §1.3's sample key and its accept value.
    assert!(head.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
    stream
}

/// A masked client frame with explicit header bits, built here by hand.
pub fn client_frame(first_byte: u8, payload: &[u8]) -> Vec<u8> {
    let key = [0x37, 0xfa, 0x21, 0x3d];
    let mut out = vec![first_byte];
    let len = payload.len();
    if len < 126 {
        out.push(0x80 | len as u8);
    } else if len <= 0xffff {
        out.push(0x80 | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(&key);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    out
}

/// Opcodes, for readable tests.
pub const CONT: u8 = 0x0;
pub const TEXT: u8 = 0x1;
pub const BINARY: u8 = 0x2;
pub const CLOSE: u8 = 0x8;
pub const PING: u8 = 0x9;
pub const PONG: u8 = 0xA;
pub const FIN: u8 = 0x80;

/// A close frame payload.
pub fn close_body(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut body = code.to_be_bytes().to_vec();
    body.extend_from_slice(reason);
    body
}

/// A frame from the server, parsed by hand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerFrame {
    pub fin: bool,
    pub rsv: u8,
    pub opcode: u8,
    pub payload: Vec<u8>,
}

impl ServerFrame {
    /// The status code of a close frame, if it has one.
    pub fn close_code(&self) -> Option<u16> {
        assert_eq!(self.opcode, CLOSE, "not a close frame: {self:?}");
        match self.payload.as_slice() {
            [hi, lo, ..] => Some(u16::from_be_bytes([*hi, *lo])),
            _ => None,
        }
    }

    pub fn close_reason(&self) -> String {
        String::from_utf8(self.payload.get(2..).unwrap_or_default().to_vec())
            .expect("close reason must be UTF-8")
    }
}

/// Reads one frame from the server; `None` if the server closed TCP first.
/// Checks the rules a server frame must follow.
pub async fn read_frame(stream: &mut TcpStream) -> Option<ServerFrame> {
    tokio::time::timeout(GUARD, read_frame_inner(stream))
        .await
        .expect("timed out waiting for a frame")
}

async fn read_frame_inner(stream: &mut TcpStream) -> Option<ServerFrame> {
    let mut head = [0u8; 2];
    if stream.read_exact(&mut head).await.is_err() {
        return None;
    }
    assert_eq!(head[1] & 0x80, 0, "server frames must not be masked");
    let len = match head[1] & 0x7f {
        126 => {
            let mut ext = [0u8; 2];
            stream.read_exact(&mut ext).await.ok()?;
            let len = u16::from_be_bytes(ext) as u64;
            assert!(len >= 126, "non-minimal 16-bit length {len}");
            len
        }
        127 => {
            let mut ext = [0u8; 8];
            stream.read_exact(&mut ext).await.ok()?;
            let len = u64::from_be_bytes(ext);
            assert!(len > 0xffff, "non-minimal 64-bit length {len}");
            len
        }
        short => short as u64,
    };
    assert!(len <= 64 << 20, "implausible frame length {len}");
    let mut payload = vec![0u8; len as usize];
    stream.read_exact(&mut payload).await.ok()?;
    Some(ServerFrame {
        fin: head[0] & 0x80 != 0,
        rsv: (head[0] >> 4) & 0x7,
        opcode: head[0] & 0x0f,
        payload,
    })
}

/// Reads frames until a close frame and returns it; then checks that the
/// server closes the TCP connection. Pings and data before the close are
/// skipped.
pub async fn expect_close(stream: &mut TcpStream) -> ServerFrame {
    loop {
        let frame = read_frame(stream)
            .await
            .expect("server closed TCP without sending a close frame");
        if frame.opcode == CLOSE {
            assert!(frame.fin, "close frames are never fragmented");
            expect_tcp_closed(stream).await;
            return frame;
        }
    }
}

/// Waits until the server ends the TCP connection (EOF or reset), skipping
/// anything it still sends.
pub async fn expect_tcp_closed(stream: &mut TcpStream) {
    let mut sink = [0u8; 4096];
    loop {
        match tokio::time::timeout(GUARD, stream.read(&mut sink)).await {
            Err(_) => panic!("server did not close the TCP connection"),
            Ok(Ok(0)) | Ok(Err(_)) => return,
            Ok(Ok(_)) => continue,
        }
    }
}

/// Checks that the server still serves a fresh client normally.
pub async fn assert_still_serving(server: &TestServer) {
    let mut client = connect(server, "/echo").await;
    send(&mut client, Message::text("still here")).await;
    assert_eq!(next_message(&mut client).await, Message::text("still here"));
    client.close(None).await.expect("close");
}

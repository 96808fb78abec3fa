//! One client connection: the opening handshake, sending masked frames,
//! receiving messages (pings answered on the way), and both closing
//! handshakes — the one the server starts and the one we start.
//!
//! Every wait is bounded ([`Options`]): a server that stops answering costs
//! a known amount of time, never a hang.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;
use wsconform_wire::{
    CloseFrame, Decoder, Event, Limits, Message, OpCode, ProtocolError, ResponseError, Role,
    build_request, close_payload, encode_frame, key_from_bytes, parse_response, validate_response,
};

use crate::url::WsUrl;

/// The largest handshake response read; a longer head fails the connection.
const MAX_RESPONSE_HEAD: usize = 16 * 1024;

/// How a client connects and how long it waits.
#[derive(Debug, Clone)]
pub struct Options {
    /// Frame and message size limits for what the server sends.
    pub limits: Limits,
    /// Connecting and the whole opening handshake.
    pub handshake_timeout: Duration,
    /// Waiting for the next message (`None`: as long as it takes).
    pub read_timeout: Option<Duration>,
    /// Writing one frame, and waiting for the server to close TCP after
    /// a closing handshake.
    pub io_timeout: Duration,
    /// After our close frame, how long the server's close may take; then
    /// we close the TCP connection ourselves (§7.1.1 allows it "after a
    /// reasonable amount of time").
    pub close_timeout: Duration,
    /// Subprotocols offered in `Sec-WebSocket-Protocol` (none by default).
    pub protocols: Vec<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            limits: Limits::default(),
            handshake_timeout: Duration::from_secs(10),
            read_timeout: Some(Duration::from_secs(60)),
            io_timeout: Duration::from_secs(5),
            close_timeout: Duration::from_secs(2),
            protocols: Vec::new(),
        }
    }
}

/// What [`Client::recv`] returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// A complete data message.
    Message(Message),
    /// The server closed the connection with a close frame (already
    /// answered, and the TCP connection closed): its code and reason.
    Closed(Option<CloseFrame>),
}

/// What [`Client::close`] saw: the data messages that still arrived, and
/// the server's close frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closing {
    /// Messages the server sent before its close.
    pub messages: Vec<Message>,
    /// The server's close code and reason.
    pub close: Option<CloseFrame>,
}

/// Why a client connection failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The URL cannot be used.
    #[error("{0}")]
    Url(String),
    /// No TCP connection.
    #[error("cannot connect to {addr}: {source} (is the server running?)")]
    Connect {
        /// `host:port`.
        addr: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The server's `101` broke a rule; the connection was failed (§4.1).
    #[error("the server's handshake response was refused: {0}")]
    Handshake(#[from] ResponseError),
    /// No complete handshake response in time.
    #[error("no handshake response within {0:?}")]
    HandshakeTimeout(Duration),
    /// The server closed TCP before its handshake response was complete.
    #[error("the server closed the connection during the opening handshake")]
    HandshakeClosed,
    /// The server broke a framing rule: we sent a close with `code` and
    /// ended the connection.
    #[error("the server broke the protocol: {error} (closed with {code})")]
    Protocol {
        /// The rule broken.
        error: ProtocolError,
        /// The close code we sent.
        code: u16,
    },
    /// The TCP connection ended without a closing handshake.
    #[error("the server closed the TCP connection without a close frame")]
    ClosedAbruptly,
    /// Nothing arrived within the read timeout.
    #[error("nothing arrived within {0:?}")]
    ReadTimeout(Duration),
    /// The server did not answer our close frame in time; we closed the
    /// TCP connection.
    #[error("the server did not answer our close within {0:?}; we closed the TCP connection")]
    CloseUnanswered(Duration),
    /// A write did not finish within the I/O timeout.
    #[error("the server did not take our bytes within {0:?}")]
    WriteTimeout(Duration),
    /// The connection is already closed.
    #[error("the connection is closed")]
    Closed,
    /// A socket error.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// Where the closing handshake stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    /// We sent a close frame and wait for the server's.
    CloseSent,
    Closed,
}

/// An open client connection.
#[derive(Debug)]
pub struct Client {
    stream: TcpStream,
    decoder: Decoder,
    /// Bytes read and not decoded yet.
    pending: Vec<u8>,
    options: Options,
    state: State,
    /// The subprotocol the server selected, if any.
    protocol: Option<String>,
}

impl Client {
    /// Connects to `url` (`ws://host:port/path`) and completes the opening
    /// handshake, checking the server's answer as §4.1 requires.
    pub async fn connect(url: &str, options: Options) -> Result<Client, ClientError> {
        let url = WsUrl::parse(url).map_err(ClientError::Url)?;
        let limit = options.handshake_timeout;
        timeout(limit, Client::handshake(&url, options))
            .await
            .map_err(|_| ClientError::HandshakeTimeout(limit))?
    }

    async fn handshake(url: &WsUrl, options: Options) -> Result<Client, ClientError> {
        let addr = url.authority();
        let mut stream =
            TcpStream::connect(&addr)
                .await
                .map_err(|source| ClientError::Connect {
                    addr: addr.clone(),
                    source,
                })?;
        stream.set_nodelay(true)?;
        // §4.1: "a nonce consisting of a randomly selected 16-byte value",
        // "selected randomly for each connection".
        let key = key_from_bytes(rand::random());
        let offered = options.protocols.join(", ");
        let mut headers: Vec<(&str, &str)> = Vec::new();
        if !offered.is_empty() {
            headers.push(("Sec-WebSocket-Protocol", &offered));
        }
        stream
            .write_all(&build_request(&addr, &url.resource, &key, &headers))
            .await?;
        let mut buf = Vec::with_capacity(1024);
        let (response, used) = loop {
            if stream.read_buf(&mut buf).await? == 0 {
                return Err(ClientError::HandshakeClosed);
            }
            if let Some(parsed) = parse_response(&buf, MAX_RESPONSE_HEAD)? {
                break parsed;
            }
        };
        let protocol = match validate_response(&response, &key) {
            Ok(()) => None,
            // A subprotocol is fine when it is one we offered (§4.1).
            Err(ResponseError::UnrequestedProtocol(p)) if options.protocols.contains(&p) => Some(p),
            Err(e) => return Err(e.into()),
        };
        let pending = buf.split_off(used.min(buf.len()));
        Ok(Client {
            stream,
            decoder: Decoder::new(Role::Client, options.limits),
            pending,
            options,
            state: State::Open,
            protocol,
        })
    }

    /// The subprotocol the server selected, if any.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// Sends a data message as one frame, masked with a fresh key.
    pub async fn send(&mut self, message: &Message) -> Result<(), ClientError> {
        if self.state != State::Open {
            return Err(ClientError::Closed);
        }
        match message {
            Message::Text(text) => self.write_frame(OpCode::Text, text.as_bytes()).await,
            Message::Binary(bytes) => self.write_frame(OpCode::Binary, bytes).await,
        }
    }

    /// Sends a ping (at most 125 bytes of payload are allowed in a control frame).
    pub async fn ping(&mut self, payload: &[u8]) -> Result<(), ClientError> {
        if self.state != State::Open {
            return Err(ClientError::Closed);
        }
        self.write_frame(OpCode::Ping, payload).await
    }

    /// The next data message; pings are answered on the way. When the
    /// server closes, the close is answered, the server is given the time
    /// of [`Options::io_timeout`] to close TCP (§7.1.1: the server closes
    /// it first), and [`Received::Closed`] is returned.
    pub async fn recv(&mut self) -> Result<Received, ClientError> {
        if self.state == State::Closed {
            return Err(ClientError::Closed);
        }
        loop {
            match self.decoder.decode(&self.pending) {
                Ok((used, event)) => {
                    self.pending.drain(..used.min(self.pending.len()));
                    match event {
                        // Data may still arrive after our close (§5.5.1).
                        Some(Event::Message(m)) => return Ok(Received::Message(m)),
                        Some(Event::Pong(_)) => continue,
                        Some(Event::Ping(payload)) => {
                            if self.state == State::Open {
                                self.write_frame(OpCode::Pong, &payload).await?;
                            }
                            continue;
                        }
                        Some(Event::Close(frame)) => return self.closed_by_server(frame).await,
                        None => {}
                    }
                }
                Err(error) => return Err(self.fail(error).await),
            }
            let read = self.stream.read_buf(&mut self.pending);
            let n = match (self.state, self.options.read_timeout) {
                (State::Open, None) => read.await?,
                (State::Open, Some(limit)) => timeout(limit, read)
                    .await
                    .map_err(|_| ClientError::ReadTimeout(limit))??,
                (_, _) => {
                    let limit = self.options.close_timeout;
                    match timeout(limit, read).await {
                        Ok(read) => read?,
                        Err(_) => {
                            // No close in answer to ours: §7.1.1 lets us end it.
                            self.state = State::Closed;
                            let _ = timeout(self.options.io_timeout, self.stream.shutdown()).await;
                            return Err(ClientError::CloseUnanswered(limit));
                        }
                    }
                }
            };
            if n == 0 {
                self.state = State::Closed;
                return Err(ClientError::ClosedAbruptly);
            }
        }
    }

    // ANCHOR: close
    /// Starts the closing handshake: sends a close with `code` and `reason`,
    /// reads what the server still sends until its close frame (the data
    /// messages are returned, never answered: §5.5.1 forbids data after our
    /// close), then waits for the server to close TCP. The server's close
    /// may take [`Options::close_timeout`]; then we close TCP ourselves.
    pub async fn close(&mut self, code: u16, reason: &str) -> Result<Closing, ClientError> {
        if self.state != State::Open {
            return Err(ClientError::Closed);
        }
        self.write_frame(OpCode::Close, &close_payload(code, reason))
            .await?;
        self.state = State::CloseSent;
        let mut messages = Vec::new();
        loop {
            match self.recv().await? {
                Received::Message(m) => messages.push(m),
                Received::Closed(close) => return Ok(Closing { messages, close }),
            }
        }
    }
    // ANCHOR_END: close

    // ANCHOR: closed_by_server
    /// The server sent a close: answer it (echoing its code, §5.5.1) unless
    /// we started the closing, then let the server close TCP first.
    async fn closed_by_server(
        &mut self,
        frame: Option<CloseFrame>,
    ) -> Result<Received, ClientError> {
        if self.state == State::Open {
            let payload = frame
                .as_ref()
                .map(|f| close_payload(f.code, ""))
                .unwrap_or_default();
            // The server may already be gone; the closing goes on regardless.
            let _ = self.write_frame(OpCode::Close, &payload).await;
        }
        self.state = State::Closed;
        self.await_tcp_close().await;
        Ok(Received::Closed(frame))
    }
    // ANCHOR_END: closed_by_server

    /// Fails the connection (§7.1.7): a close with the rule's code, then a
    /// bounded wait for the server to close.
    async fn fail(&mut self, error: ProtocolError) -> ClientError {
        let code = error.close_code();
        if self.state == State::Open {
            let _ = self
                .write_frame(OpCode::Close, &close_payload(code, ""))
                .await;
        }
        self.state = State::Closed;
        self.await_tcp_close().await;
        ClientError::Protocol { error, code }
    }

    /// Reads until the server closes TCP, or the I/O timeout passes; then
    /// shuts our side down. What arrives meanwhile is dropped.
    async fn await_tcp_close(&mut self) {
        let mut sink = [0u8; 4096];
        let wait = async {
            loop {
                match self.stream.read(&mut sink).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        };
        let _ = timeout(self.options.io_timeout, wait).await;
        let _ = timeout(self.options.io_timeout, self.stream.shutdown()).await;
    }

    // ANCHOR: write_frame
    /// One frame, FIN set, masked with a fresh random key (§5.3: "MUST pick
    /// a fresh masking key from the set of allowed 32-bit values").
    async fn write_frame(&mut self, opcode: OpCode, payload: &[u8]) -> Result<(), ClientError> {
        let mut out = Vec::with_capacity(payload.len() + 14);
        encode_frame(&mut out, true, opcode, Some(rand::random()), payload);
        let limit = self.options.io_timeout;
        timeout(limit, self.stream.write_all(&out))
            .await
            .map_err(|_| ClientError::WriteTimeout(limit))??;
        Ok(())
    }
    // ANCHOR_END: write_frame
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;
    use wsconform_wire::{FrameReader, accept_response, parse_request};

    /// A hand-played server: accepts one connection, answers the handshake
    /// with `answer(request)`, then runs `then` on the raw stream.
    async fn server<F, Fut>(
        answer: fn(&wsconform_wire::ClientRequest) -> Vec<u8>,
        then: F,
    ) -> String
    where
        F: FnOnce(TcpStream, Vec<u8>) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut buf = Vec::new();
            let (request, used) = loop {
                stream.read_buf(&mut buf).await.unwrap();
                if let Ok(Some(parsed)) = parse_request(&buf, 16 * 1024) {
                    break parsed;
                }
            };
            stream.write_all(&answer(&request)).await.unwrap();
            then(stream, buf.split_off(used)).await;
        });
        format!("ws://{addr}/echo")
    }

    /// Reads the client's frames until it closes TCP: (opcode, mask, payload).
    async fn frames_of(
        mut stream: TcpStream,
        mut rest: Vec<u8>,
    ) -> Vec<(OpCode, Option<[u8; 4]>, Vec<u8>)> {
        let mut reader = FrameReader::new(Role::Server, Limits::default());
        let mut out = Vec::new();
        loop {
            reader.push(&rest);
            rest.clear();
            while let Ok(Some(frame)) = reader.next_frame() {
                out.push((
                    frame.header.opcode,
                    frame.header.mask,
                    frame.unmasked_payload(),
                ));
            }
            let mut buf = [0u8; 1024];
            match timeout(Duration::from_secs(5), stream.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return out,
                Ok(Ok(n)) => rest.extend_from_slice(&buf[..n]),
            }
        }
    }

    fn options() -> Options {
        Options {
            io_timeout: Duration::from_secs(2),
            ..Options::default()
        }
    }

    #[tokio::test]
    async fn a_wrong_accept_value_fails_the_connection_before_any_frame() {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let url = server(
            |_| b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n".to_vec(),
            |stream, rest| async move {
                let _ = tx.send(frames_of(stream, rest).await);
            },
        )
        .await;
        let e = Client::connect(&url, options()).await.unwrap_err();
        assert!(
            matches!(e, ClientError::Handshake(ResponseError::WrongAccept { .. })),
            "{e}"
        );
        assert!(
            rx.await.unwrap().is_empty(),
            "no frame may follow a refused 101"
        );
    }

    #[tokio::test]
    async fn every_frame_is_masked_with_a_fresh_key_and_keys_differ_per_connection() {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let url = server(accept_response, |stream, rest| async move {
            let _ = tx.send(frames_of(stream, rest).await);
        })
        .await;
        let mut client = Client::connect(&url, options()).await.unwrap();
        for i in 0..8 {
            client.send(&Message::Text(format!("m{i}"))).await.unwrap();
        }
        drop(client);
        let frames = rx.await.unwrap();
        assert_eq!(frames.len(), 8);
        let masks: std::collections::HashSet<_> = frames.iter().map(|f| f.1).collect();
        assert!(frames.iter().all(|f| f.1.is_some()), "an unmasked frame");
        assert!(masks.len() >= 7, "masking keys repeat: {masks:?}");
        assert_eq!(frames[3].2, b"m3", "the payload is unmasked by its key");
    }

    #[tokio::test]
    async fn the_servers_close_is_echoed_and_the_server_closes_tcp_first() {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let url = server(accept_response, |mut stream, rest| async move {
            let mut out = Vec::new();
            encode_frame(&mut out, true, OpCode::Text, None, b"hi");
            encode_frame(
                &mut out,
                true,
                OpCode::Close,
                None,
                &close_payload(3001, "bye"),
            );
            stream.write_all(&out).await.unwrap();
            // Read the client's close, then close TCP ourselves.
            let mut buf = vec![0u8; 64];
            let n = stream.read(&mut buf).await.unwrap();
            buf.truncate(n);
            let _ = tx.send((rest, buf));
        })
        .await;
        let mut client = Client::connect(&url, options()).await.unwrap();
        assert_eq!(
            client.recv().await.unwrap(),
            Received::Message(Message::Text("hi".into()))
        );
        let closed = client.recv().await.unwrap();
        assert_eq!(
            closed,
            Received::Closed(Some(CloseFrame {
                code: 3001,
                reason: "bye".into()
            }))
        );
        let (_, reply) = rx.await.unwrap();
        let mut reader = FrameReader::new(Role::Server, Limits::default());
        reader.push(&reply);
        let frame = reader.next_frame().unwrap().unwrap();
        assert_eq!(frame.header.opcode, OpCode::Close);
        assert!(frame.header.mask.is_some());
        assert_eq!(
            frame.unmasked_payload(),
            3001u16.to_be_bytes(),
            "the code echoed"
        );
        assert!(matches!(client.recv().await, Err(ClientError::Closed)));
    }

    /// The server's frames, unmasked, as bytes.
    fn server_frames(frames: &[(OpCode, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (opcode, payload) in frames {
            encode_frame(&mut out, true, *opcode, None, payload);
        }
        out
    }

    #[tokio::test]
    async fn asked_to_close_the_echo_client_closes_with_1000_and_echoes_nothing_after() {
        use crate::echo::{CLOSE_REQUEST, echo};
        let (tx, rx) = tokio::sync::oneshot::channel();
        let url = server(accept_response, |mut stream, rest| async move {
            let out = server_frames(&[
                (OpCode::Text, b"one"),
                (OpCode::Text, CLOSE_REQUEST.as_bytes()),
            ]);
            stream.write_all(&out).await.unwrap();
            // The client's echo of "one", then its close.
            let mut reader = FrameReader::new(Role::Server, Limits::default());
            reader.push(&rest);
            let mut seen = Vec::new();
            loop {
                while let Ok(Some(frame)) = reader.next_frame() {
                    seen.push((
                        frame.header.opcode,
                        frame.header.mask,
                        frame.unmasked_payload(),
                    ));
                }
                if seen.len() >= 2 {
                    break;
                }
                let mut buf = [0u8; 1024];
                let n = stream.read(&mut buf).await.unwrap();
                reader.push(&buf[..n]);
            }
            // Data before our answer, then the answer with another code.
            let late = server_frames(&[
                (OpCode::Text, b"late"),
                (OpCode::Close, &close_payload(1001, "bye")),
            ]);
            stream.write_all(&late).await.unwrap();
            // Whatever the client still sends, until it closes TCP or we stop waiting.
            let mut after = Vec::new();
            let mut buf = [0u8; 1024];
            while let Ok(Ok(n)) = timeout(Duration::from_millis(300), stream.read(&mut buf)).await {
                if n == 0 {
                    break;
                }
                after.extend_from_slice(&buf[..n]);
            }
            let _ = tx.send((seen, after));
        })
        .await;
        let mut client = Client::connect(&url, options()).await.unwrap();
        let end = echo(&mut client).await.unwrap();
        assert!(end.closed_by_us);
        assert_eq!(end.echoed, 1);
        assert_eq!(end.close.map(|c| c.code), Some(1001));
        let (seen, after) = rx.await.unwrap();
        assert_eq!(seen[0].0, OpCode::Text);
        assert_eq!(seen[0].2, b"one");
        assert_eq!(seen[1].0, OpCode::Close);
        assert!(seen[1].1.is_some(), "the close is masked");
        assert_eq!(seen[1].2[..2], 1000u16.to_be_bytes());
        assert!(after.is_empty(), "nothing after the close: {after:?}");
    }

    #[tokio::test]
    async fn a_close_the_server_never_answers_ends_in_the_close_timeout() {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let url = server(accept_response, |stream, rest| async move {
            // Read without ever answering, until the client closes TCP.
            let _ = tx.send(frames_of(stream, rest).await);
        })
        .await;
        let quick = Options {
            close_timeout: Duration::from_millis(200),
            ..options()
        };
        let mut client = Client::connect(&url, quick).await.unwrap();
        let e = client.close(1000, "").await.unwrap_err();
        assert!(matches!(e, ClientError::CloseUnanswered(_)), "{e}");
        // The server saw the close, then the end of the connection (well
        // before frames_of's own 5 s wait).
        let frames = rx.await.unwrap();
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].0, OpCode::Close);
        assert!(matches!(client.recv().await, Err(ClientError::Closed)));
    }

    #[tokio::test]
    async fn a_masked_server_frame_is_refused_with_1002() {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let url = server(accept_response, |mut stream, rest| async move {
            let mut out = Vec::new();
            encode_frame(&mut out, true, OpCode::Text, Some([1, 2, 3, 4]), b"masked");
            stream.write_all(&out).await.unwrap();
            let _ = tx.send(frames_of(stream, rest).await);
        })
        .await;
        let mut client = Client::connect(&url, options()).await.unwrap();
        let e = client.recv().await.unwrap_err();
        assert!(matches!(e, ClientError::Protocol { code: 1002, .. }), "{e}");
        let frames = rx.await.unwrap();
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].0, OpCode::Close);
        assert_eq!(frames[0].2, 1002u16.to_be_bytes());
    }

    #[tokio::test]
    async fn an_unoffered_subprotocol_is_refused_and_an_offered_one_kept() {
        fn with_protocol(request: &wsconform_wire::ClientRequest) -> Vec<u8> {
            let mut head = String::from_utf8(accept_response(request)).unwrap();
            head.truncate(head.len() - 2);
            head.push_str("Sec-WebSocket-Protocol: chat\r\n\r\n");
            head.into_bytes()
        }
        let url = server(with_protocol, |_, _| async {}).await;
        let e = Client::connect(&url, options()).await.unwrap_err();
        assert!(
            matches!(
                e,
                ClientError::Handshake(ResponseError::UnrequestedProtocol(_))
            ),
            "{e}"
        );
        let url = server(with_protocol, |_, _| async {}).await;
        let offered = Options {
            protocols: vec!["chat".into()],
            ..options()
        };
        let client = Client::connect(&url, offered).await.unwrap();
        assert_eq!(client.protocol(), Some("chat"));
    }
}

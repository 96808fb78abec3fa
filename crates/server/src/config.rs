//! Every limit the server enforces, in one place, with safe defaults.
//!
//! A server that talks to the open network must decide, for every resource a
//! peer can make it spend, how much is too much: bytes of handshake, bytes of
//! a frame, bytes of a message, seconds of silence, number of sockets. Each of
//! those numbers lives in [`Config`], so a reader can see the whole security
//! posture of the server on one screen, and a test can shrink any limit to
//! make it easy to hit.

use std::net::SocketAddr;
use std::time::Duration;

pub use wsconform_wire::extension::ServerDeflatePolicy;

/// How the server listens and which limits it enforces.
///
/// Build one with [`Config::default`] and change the fields you care about:
///
/// ```
/// use std::time::Duration;
/// use wsconform_server::Config;
///
/// let config = Config {
///     handshake_timeout: Duration::from_millis(200),
///     ..Config::default()
/// };
/// assert_eq!(config.max_connections, 1024);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The address to listen on. Use port 0 to let the operating system pick a
    /// free port (tests do this) and read it back with
    /// [`Server::local_addr`](crate::Server::local_addr).
    ///
    /// Default: `127.0.0.1:8080`, loopback only, so starting the server never
    /// exposes it to the network by surprise.
    pub bind_addr: SocketAddr,

    /// The largest HTTP request head (request line plus headers) the server
    /// reads before it answers `431 Request Header Fields Too Large`.
    ///
    /// Browsers send well under 2 KiB; 8 KiB leaves room for cookies while
    /// making sure a peer cannot make us buffer an endless header.
    pub max_handshake_size: usize,

    /// How long a peer has, from the moment the TCP connection is accepted,
    /// to send a complete request head. A peer that is slower (or that never
    /// sends anything at all) is disconnected without an answer.
    ///
    /// This is the defence against "slowloris" peers that hold a socket open
    /// by trickling one header byte at a time.
    pub handshake_timeout: Duration,

    /// The largest payload a single frame may declare. A header that claims
    /// more fails the connection with close code 1009 *before* any payload
    /// byte is read, so a header announcing 2^63 bytes costs nothing.
    pub max_frame_size: u64,

    /// The largest message (all fragments together) the server assembles.
    /// A message that grows past it fails the connection with close code 1009.
    pub max_message_size: usize,

    /// How long a WebSocket connection may stay silent. After half of this
    /// time without a single byte from the peer the server sends a ping (a
    /// browser answers it automatically, which keeps a quiet chat tab open);
    /// after the whole time the server closes with 1001 "idle timeout".
    pub idle_timeout: Duration,

    /// How long one write to a peer may take. A peer whose receive window
    /// stays full for longer is not reading; the connection is dropped.
    pub write_timeout: Duration,

    /// How long the server waits for the peer's half of a closing handshake
    /// (its close frame, then the end of the TCP stream) before it simply
    /// drops the socket.
    pub close_timeout: Duration,

    /// The most TCP connections served at once, counting those still in the
    /// opening handshake. A connection over the limit is answered
    /// `503 Service Unavailable` and closed (or, during a flood of them,
    /// closed without an answer).
    pub max_connections: usize,

    /// The most TCP connections one IP address may have open at once,
    /// counting those still in the opening handshake. A connection over the
    /// limit is closed at once, without an answer (answering would cost a
    /// task per refused connection, which is what the peer wants).
    ///
    /// Without it, one address could take all [`max_connections`] slots
    /// (with idle sockets, or with handshakes it never finishes) and lock
    /// every other client out. 64 is more than a browser opens to one host;
    /// load tests that open thousands of connections from one address must
    /// raise it.
    ///
    /// [`max_connections`]: Config::max_connections
    pub max_connections_per_address: usize,

    /// How many bytes of chat messages may wait in one client's outgoing
    /// queue (each message counts its JSON text plus 64 bytes). A queue
    /// that holds this much takes no more: its client is not keeping up
    /// with the room and is closed with code 1008 "too slow", instead of
    /// slowing everyone else down or making the server buffer without bound.
    /// An empty queue always takes one message, however large.
    ///
    /// The default, 4 MiB, holds the suite's "20 clients × 50 messages"
    /// burst many times over. A sender's own messages come back through its
    /// own queue; once that holds half the limit, the server stops reading
    /// from the sender until it catches up, so a client that reads
    /// everything is slowed down, never closed (see the chat hub's docs).
    pub chat_queue_bytes: usize,

    /// The memory budget: the most bytes of messages the server buffers at
    /// once, over all connections together. It counts messages being
    /// received (from the moment a frame header announces them), bytes
    /// waiting to be sent, and chat messages waiting in any queue; the first
    /// 64 KiB of each connection are not counted, so small messages pass
    /// even when floods of large ones have spent the budget. A message that
    /// would exceed it is refused: its connection is closed with 1013 "try
    /// again later". Must be at least `max_message_size`.
    ///
    /// The default, 256 MiB, keeps the server's peak memory within about
    /// 512 MiB under floods of maximum-size messages.
    pub max_buffered_bytes: usize,

    /// On graceful shutdown, how long the server waits for its connections to
    /// finish their closing handshakes before it stops them anyway. This
    /// bounds the time from Ctrl-C to exit.
    pub shutdown_grace: Duration,

    /// permessage-deflate (RFC 7692): how the server answers a client that
    /// offers it on `/echo` or `/socket`; `None` declines every offer.
    ///
    /// On by default, answering with `server_no_context_takeover`: the
    /// server keeps nothing of its own messages between them. The
    /// client's context is kept when it wants it, as the last bytes of its
    /// window (see [`wsconform_wire::deflate`]); zlib streams live only
    /// while a message is compressed or inflated.
    pub deflate: Option<ServerDeflatePolicy>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind_addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            max_handshake_size: 8 * 1024,
            handshake_timeout: Duration::from_secs(10),
            max_frame_size: 16 * 1024 * 1024,
            max_message_size: 16 * 1024 * 1024,
            idle_timeout: Duration::from_secs(120),
            write_timeout: Duration::from_secs(10),
            close_timeout: Duration::from_secs(2),
            max_connections: 1024,
            max_connections_per_address: 64,
            chat_queue_bytes: 4 * 1024 * 1024,
            max_buffered_bytes: 256 * 1024 * 1024,
            shutdown_grace: Duration::from_secs(3),
            deflate: Some(ServerDeflatePolicy {
                server_no_context_takeover: true,
                ..ServerDeflatePolicy::default()
            }),
        }
    }
}

impl Config {
    /// The default configuration listening on `addr` instead.
    pub fn with_bind_addr(addr: SocketAddr) -> Self {
        Config {
            bind_addr: addr,
            ..Config::default()
        }
    }

    /// The default configuration on `127.0.0.1:0`: an ephemeral port, for tests
    /// and for running the server inside another program.
    pub fn ephemeral() -> Self {
        Config::with_bind_addr(SocketAddr::from(([127, 0, 0, 1], 0)))
    }
}

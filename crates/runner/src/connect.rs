//! The client side of a connection's start: TCP connect, then the server's
//! handshake response, under deadlines and bounded by [`MAX_HTTP`].
//!
//! The executor (which records every byte and writes requests in pieces),
//! the flood (many clients at once) and the load generator all open
//! connections this way. Bytes that arrive behind the response stay in the
//! [`FrameReader`] as the start of the first frames.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};
use wsconform_wire::{
    FrameReader, Limits, ResponseError, Role, ServerResponse, parse_response, validate_response,
};

use crate::limits::{MAX_HTTP, reader_limits};

/// How many bytes one read asks for.
pub const READ_CHUNK: usize = 64 * 1024;

/// How a connection ended from the server's side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerEnd {
    /// Orderly TCP close (read returned 0).
    Eof,
    /// Reset or another I/O error.
    Reset(String),
}

impl PeerEnd {
    /// The `Actual:` text for it.
    pub fn describe(&self) -> String {
        match self {
            PeerEnd::Eof => "the server closed the TCP connection".into(),
            PeerEnd::Reset(e) => format!("the connection broke ({e})"),
        }
    }
}

/// Why no TCP connection was made.
#[derive(Debug)]
pub enum ConnectError {
    /// No answer before the deadline.
    TimedOut,
    /// Refused, unreachable, or another I/O error.
    Io(std::io::Error),
}

/// Connects to `addr` (`host:port`) with Nagle's algorithm off, so every
/// write goes out as the scenario cut it.
pub async fn connect(addr: &str, deadline: Instant) -> Result<TcpStream, ConnectError> {
    match timeout_at(deadline, TcpStream::connect(addr)).await {
        Err(_) => Err(ConnectError::TimedOut),
        Ok(Err(e)) => Err(ConnectError::Io(e)),
        Ok(Ok(stream)) => {
            let _ = stream.set_nodelay(true);
            Ok(stream)
        }
    }
}

/// Why no handshake response was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseFailure {
    /// The deadline passed first.
    TimedOut,
    /// The connection ended first.
    Ended(PeerEnd),
    /// The bytes are not an HTTP response (or too long a one).
    Unreadable(ResponseError),
}

/// One read from `stream` into `reader`; `on_read` sees the bytes first (to
/// record them). `Ok(false)`: the deadline passed.
pub async fn read_some(
    stream: &mut (impl AsyncRead + Unpin),
    reader: &mut FrameReader,
    chunk: &mut Vec<u8>,
    deadline: Instant,
    on_read: &mut impl FnMut(&[u8]),
) -> Result<bool, PeerEnd> {
    // A read that is always ready never lets `timeout_at` fire: a server
    // streaming without pause would hold every deadline off.
    if Instant::now() >= deadline {
        return Ok(false);
    }
    chunk.resize(READ_CHUNK, 0);
    match timeout_at(deadline, stream.read(chunk)).await {
        Err(_) => Ok(false),
        Ok(Ok(0)) => Err(PeerEnd::Eof),
        Ok(Ok(n)) => {
            let bytes = chunk.get(..n).unwrap_or_default();
            on_read(bytes);
            reader.push(bytes);
            Ok(true)
        }
        Ok(Err(e)) => Err(PeerEnd::Reset(e.to_string())),
    }
}

/// Reads the handshake response into `reader` and takes it out; returns it
/// with its bytes (the head, for a transcript).
pub async fn read_response(
    stream: &mut (impl AsyncRead + Unpin),
    reader: &mut FrameReader,
    deadline: Instant,
    mut on_read: impl FnMut(&[u8]),
) -> Result<(ServerResponse, Vec<u8>), ResponseFailure> {
    let mut chunk = Vec::new();
    loop {
        match parse_response(reader.buffered(), MAX_HTTP) {
            Ok(Some((response, used))) => {
                let head = reader.buffered().get(..used).unwrap_or_default().to_vec();
                reader.consume(used);
                return Ok((response, head));
            }
            Ok(None) => {}
            Err(e) => return Err(ResponseFailure::Unreadable(e)),
        }
        match read_some(stream, reader, &mut chunk, deadline, &mut on_read).await {
            Ok(true) => {}
            Ok(false) => return Err(ResponseFailure::TimedOut),
            Err(end) => return Err(ResponseFailure::Ended(end)),
        }
    }
}

/// A connection whose opening handshake a server accepted.
#[derive(Debug)]
pub struct Opened {
    /// The stream, past the response.
    pub stream: TcpStream,
    /// The server's frames, starting with any bytes read behind the response.
    pub reader: FrameReader,
}

/// Connects, sends `request` and checks the answer against `key`: the whole
/// opening handshake of a well-behaved client, as one call. The error is the
/// sentence for a report.
pub async fn open(
    addr: &str,
    request: &[u8],
    key: &str,
    timeout: Duration,
) -> Result<Opened, String> {
    open_limited(addr, request, key, timeout, reader_limits()).await
}

/// [`open`], with a reader that accepts at most `limits` (the flood sizes
/// them to its messages).
pub async fn open_limited(
    addr: &str,
    request: &[u8],
    key: &str,
    timeout: Duration,
    limits: Limits,
) -> Result<Opened, String> {
    open_checked_limited(addr, request, timeout, limits, |response| {
        validate_response(response, key).map_err(|e| e.to_string())
    })
    .await
    .map(|(opened, ())| opened)
}

/// [`open`] with the response judged by `check` instead (a client that
/// offered extensions must check the answer against its offer); `check`'s
/// value comes back with the connection.
pub async fn open_checked<T>(
    addr: &str,
    request: &[u8],
    timeout: Duration,
    check: impl FnOnce(&ServerResponse) -> Result<T, String>,
) -> Result<(Opened, T), String> {
    open_checked_limited(addr, request, timeout, reader_limits(), check).await
}

async fn open_checked_limited<T>(
    addr: &str,
    request: &[u8],
    timeout: Duration,
    limits: Limits,
    check: impl FnOnce(&ServerResponse) -> Result<T, String>,
) -> Result<(Opened, T), String> {
    let deadline = Instant::now() + timeout;
    let mut stream = match connect(addr, deadline).await {
        Ok(stream) => stream,
        Err(ConnectError::Io(e)) => return Err(format!("cannot connect to {addr}: {e}")),
        Err(ConnectError::TimedOut) => return Err(format!("cannot connect to {addr}: no answer")),
    };
    write_all(&mut stream, request, deadline)
        .await
        .map_err(|e| format!("could not send the handshake request{e}"))?;
    let mut reader = FrameReader::new(Role::Client, limits);
    match read_response(&mut stream, &mut reader, deadline, |_| {}).await {
        Ok((response, _)) => {
            let checked = check(&response).map_err(|e| {
                format!(
                    "the opening handshake failed: {} {}: {e}",
                    response.status, response.reason
                )
            })?;
            Ok((Opened { stream, reader }, checked))
        }
        Err(ResponseFailure::Unreadable(e)) => {
            Err(format!("an unreadable handshake response ({e})"))
        }
        Err(ResponseFailure::Ended(PeerEnd::Eof)) => {
            Err("the server closed the connection before answering the handshake".into())
        }
        Err(ResponseFailure::Ended(PeerEnd::Reset(e))) => {
            Err(format!("the connection broke during the handshake ({e})"))
        }
        Err(ResponseFailure::TimedOut) => Err(format!(
            "no handshake response within {} ms (does the server serve one client at a time?)",
            timeout.as_millis()
        )),
    }
}

/// Writes all of `bytes` before `deadline`; the error reads after "could not
/// send …": `: reason` or ` in time`.
async fn write_all(
    stream: &mut (impl AsyncWrite + Unpin),
    bytes: &[u8],
    deadline: Instant,
) -> Result<(), String> {
    match timeout_at(deadline, stream.write_all(bytes)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(format!(": {e}")),
        Err(_) => Err(" in time".into()),
    }
}

//! The first server: an echo server in plain blocking Rust.
//!
//! This is the server a reader of the book can write in an afternoon: the
//! standard library's `TcpListener`, one thread per client, `read_exact` for
//! every field of a frame, and the wire crate only for the two things the
//! handshake chapter shows (checking the request and computing the accept
//! key) and for masking. It serves `/echo` and nothing else.
//!
//! It is deliberately simple, and still correct: a test runs the whole
//! bundled suite against it (`tests/first_server.rs`). Where it is simpler
//! than the reference server, the suite says so: it checks UTF-8 only when a
//! message is complete, which the fail-fast scenario reports as
//! `non-strict`. It has no idle timeout, no connection limit and no graceful
//! shutdown; the hardening chapter explains why the reference server does.
//! What it does bound is memory: a payload buffer grows only as payload
//! bytes really arrive, never to the size a header merely announces.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use wsconform_wire::{
    OpCode, accept_response, apply_mask, close_payload, encode_frame, http_response,
    parse_close_payload, parse_request,
};

/// The largest request head read before giving up.
const MAX_HEAD: usize = 8 * 1024;

/// The largest message assembled (all fragments together).
const MAX_MESSAGE: u64 = 16 * 1024 * 1024;

/// How long one read of the request head may wait. This is a socket read
/// timeout: it bounds each read, not the whole head, so a client that sends
/// a byte every few seconds is never cut off. The reference server puts one
/// deadline on the whole head instead (see the hardening chapter).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the server keeps reading (and discarding) after its close
/// frame, waiting for the client to close its side of TCP.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// How many bytes it discards at most while waiting.
const MAX_DRAIN: usize = 1024 * 1024;

/// Why a connection stops.
#[derive(Debug)]
enum Stop {
    /// The socket failed or the peer went away: nothing more to say.
    Io(io::Error),
    /// The peer broke a rule: close with this code (RFC 6455 §7.4.1).
    Fail(u16),
}

impl From<io::Error> for Stop {
    fn from(error: io::Error) -> Self {
        Stop::Io(error)
    }
}

// ANCHOR: serve
/// Accepts connections until the listener fails, one thread per client: a
/// client that takes its time never holds up the others.
pub fn serve(listener: TcpListener) -> io::Result<()> {
    for stream in listener.incoming() {
        let stream = stream?;
        thread::spawn(move || {
            // A connection's end, good or bad, concerns only that connection.
            let _ = handle(stream);
        });
    }
    Ok(())
}
// ANCHOR_END: serve

// ANCHOR: read_head
/// Reads until the blank line that ends the request head. Returns the head
/// and the bytes that arrived after it (the client's first frames, maybe).
fn read_head(stream: &mut TcpStream) -> io::Result<(Vec<u8>, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(end + 4);
            return Ok((buf, rest));
        }
        if buf.len() > MAX_HEAD {
            return Err(io::Error::other("request head too large"));
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
    }
}
// ANCHOR_END: read_head

/// Serves one client: the handshake, then frames until a close.
fn handle(mut stream: TcpStream) -> io::Result<()> {
    // ANCHOR: handshake
    stream.set_read_timeout(Some(HANDSHAKE_TIMEOUT))?;
    let (head, early_bytes) = read_head(&mut stream)?;
    let request = match parse_request(&head, MAX_HEAD) {
        Ok(Some((request, _))) => request,
        Ok(None) => return Ok(()), // cannot happen: the head is complete
        Err(refusal) => return stream.write_all(&refusal.response()),
    };
    if request.path != "/echo" {
        return stream.write_all(&http_response(404, "Not Found", &[], b"try /echo\n"));
    }
    stream.write_all(&accept_response(&request))?;
    stream.set_read_timeout(None)?;
    // ANCHOR_END: handshake

    // Read the bytes that came with the head first, then the socket.
    let mut reader = io::Cursor::new(early_bytes).chain(stream.try_clone()?);
    match echo(&mut reader, &mut stream) {
        Ok(()) => {}
        // The socket is gone: there is nobody left to tell.
        Err(Stop::Io(error)) => return Err(error),
        Err(Stop::Fail(code)) => send(&mut stream, OpCode::Close, &close_payload(code, ""))?,
    }
    close_without_reset(stream)
}

// ANCHOR: close_without_reset
/// Ends TCP after the close frame without a reset (RFC 6455 §7.1.1: "call
/// shutdown() with SHUT_WR on the socket, call recv() until obtaining a
/// return value of 0 [...], and finally call close()"). Closing a socket
/// that still holds unread bytes makes the kernel answer with a RST instead
/// of a FIN, and a RST can destroy the close frame before the client has
/// read it. The wait is bounded in time and bytes: a client that never
/// closes its side does not keep the thread.
fn close_without_reset(mut stream: TcpStream) -> io::Result<()> {
    stream.shutdown(Shutdown::Write)?; // our FIN follows the close frame
    let deadline = Instant::now() + DRAIN_TIMEOUT;
    let mut sink = [0u8; 4096];
    let mut drained = 0;
    while drained < MAX_DRAIN {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        stream.set_read_timeout(Some(left))?;
        match stream.read(&mut sink) {
            Ok(0) | Err(_) => break, // the client's FIN, a reset, or the deadline
            Ok(n) => drained += n,   // whatever it still sent: read, never looked at
        }
    }
    Ok(()) // dropping the stream closes the socket, now with nothing unread
}
// ANCHOR_END: close_without_reset

/// A frame as read from the client, payload already unmasked.
struct Frame {
    fin: bool,
    opcode: OpCode,
    payload: Vec<u8>,
}

// ANCHOR: read_frame
/// Reads one frame. `read_exact` returns only when it has filled the whole
/// buffer, however the network cut the bytes: no partial-`recv` bug.
fn read_frame(reader: &mut impl Read) -> Result<Frame, Stop> {
    let mut head = [0u8; 2];
    reader.read_exact(&mut head)?;
    let [b0, b1] = head;
    let fin = b0 & 0x80 != 0;
    let rsv = b0 & 0x70;
    let opcode = OpCode::from_u8(b0);
    let masked = b1 & 0x80 != 0;
    let len = match b1 & 0x7F {
        126 => {
            let mut bytes = [0u8; 2];
            reader.read_exact(&mut bytes)?;
            u64::from(u16::from_be_bytes(bytes)) // network byte order
        }
        127 => {
            let mut bytes = [0u8; 8];
            reader.read_exact(&mut bytes)?;
            u64::from_be_bytes(bytes)
        }
        short => u64::from(short),
    };
    let mut key = [0u8; 4];
    if masked {
        reader.read_exact(&mut key)?;
    }
    // The rules of §5.1, §5.2 and §5.5, before a single payload byte is read.
    let control = opcode.is_control();
    if rsv != 0 || opcode.is_reserved() || !masked || len >> 63 != 0 {
        return Err(Stop::Fail(1002));
    }
    if control && (len > 125 || !fin) {
        return Err(Stop::Fail(1002));
    }
    if len > MAX_MESSAGE {
        return Err(Stop::Fail(1009));
    }
    // ANCHOR: bounded_payload
    // Grow the buffer as the bytes arrive, never to the size the header
    // announces: a 14-byte header can claim 16 MiB and then send nothing.
    // `read_to_end` starts small and doubles the buffer as bytes come in.
    let mut payload = Vec::new();
    reader.by_ref().take(len).read_to_end(&mut payload)?;
    if (payload.len() as u64) < len {
        return Err(Stop::Io(io::ErrorKind::UnexpectedEof.into()));
    }
    // ANCHOR_END: bounded_payload
    apply_mask(&mut payload, key, 0);
    Ok(Frame {
        fin,
        opcode,
        payload,
    })
}
// ANCHOR_END: read_frame

/// Writes one unmasked frame: servers never mask.
fn send(stream: &mut TcpStream, opcode: OpCode, payload: &[u8]) -> io::Result<()> {
    let mut out = Vec::with_capacity(payload.len() + 10);
    encode_frame(&mut out, true, opcode, None, payload);
    stream.write_all(&out)
}

// ANCHOR: echo_loop
/// Echoes every message until the client closes.
fn echo(reader: &mut impl Read, stream: &mut TcpStream) -> Result<(), Stop> {
    // The message being assembled: its opcode (text or binary) and its bytes.
    let mut message: Option<(OpCode, Vec<u8>)> = None;
    loop {
        let frame = read_frame(reader)?;
        match frame.opcode {
            OpCode::Ping => send(stream, OpCode::Pong, &frame.payload)?,
            OpCode::Pong => {}
            // ANCHOR: close_reply
            OpCode::Close => {
                let code = match parse_close_payload(&frame.payload) {
                    Ok(Some(close)) => close.code,
                    Ok(None) => 1000,
                    Err(error) => return Err(Stop::Fail(error.close_code())),
                };
                send(stream, OpCode::Close, &close_payload(code, ""))?;
                return Ok(());
            }
            // ANCHOR_END: close_reply
            OpCode::Text | OpCode::Binary if message.is_none() => {
                message = Some((frame.opcode, frame.payload));
            }
            OpCode::Continuation => match message.as_mut() {
                Some((_, data)) if data.len() as u64 + frame.payload.len() as u64 > MAX_MESSAGE => {
                    return Err(Stop::Fail(1009));
                }
                Some((_, data)) => data.extend_from_slice(&frame.payload),
                None => return Err(Stop::Fail(1002)), // nothing to continue
            },
            // A new message while one is unfinished (reserved opcodes were
            // refused by read_frame already).
            _ => return Err(Stop::Fail(1002)),
        }
        // The last fragment: the message is complete, check it and echo it.
        if frame.fin
            && frame.opcode.is_data()
            && let Some((opcode, data)) = message.take()
        {
            if opcode == OpCode::Text && std::str::from_utf8(&data).is_err() {
                return Err(Stop::Fail(1007));
            }
            send(stream, opcode, &data)?;
        }
    }
}
// ANCHOR_END: echo_loop

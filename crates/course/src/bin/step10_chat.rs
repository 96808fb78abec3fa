//! A WebSocket server written from scratch, one chapter at a time.
//! (One file on purpose: each step is the whole program a reader types, runs and checks.)
//!
//! Step 10, chat: a second endpoint, /socket, where every text message (the
//! chat page sends JSON `{"username": ..., "message": ...}`) is broadcast to
//! every open client, the sender included; /echo keeps echoing. Several
//! threads now write to one socket, so each socket gets one writer: a lock
//! that lets one whole frame out at a time. A client joins the room before
//! its 101 goes out and leaves it exactly once, when its connection ends.
//!
//! Run it:   cargo run -p wsconform-course --bin step10_chat -- 8080
//! Check it: wsconform run --up-to chat --target ws://127.0.0.1:8080/echo
//!           wsconform run --up-to chat --profile chat --target ws://127.0.0.1:8080/socket
//!
//! SIGTERM needs no code: its default action ends the process, and the
//! operating system closes every socket the server had open.

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha1::{Digest, Sha1};

/// The GUID of RFC 6455 section 1.3: every server appends it to the client's
/// key before hashing, which proves the server read this very request.
const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// A request head longer than this is refused: a client must not be able to
/// make the server buffer without end.
const MAX_HEAD: usize = 8192;

// ANCHOR: limits
/// The largest payload this server accepts in one frame. The length in a
/// header is only a number a client wrote: compare it with the limit before
/// reading (or storing) anything.
const MAX_PAYLOAD: u64 = 16 * 1024 * 1024;
/// How long to wait for the client to hang up after our close frame.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);
// ANCHOR_END: limits

/// The paths this server answers on.
const PATHS: &[&str] = &["/echo", "/socket"];

// ANCHOR: opcodes
// The opcodes this step knows (RFC 6455 section 5.2).
const CONTINUATION: u8 = 0x0;
const TEXT: u8 = 0x1;
const BINARY: u8 = 0x2;
const CLOSE: u8 = 0x8;
const PING: u8 = 0x9;
const PONG: u8 = 0xA;
// ANCHOR_END: opcodes

/// Why serving a connection stopped before its end.
enum Stop {
    /// The socket failed or the client hung up: there is nobody to tell,
    /// and the cause does not change what the server does.
    Disconnected,
    /// The request is not an opening handshake we accept: answer with an
    /// HTTP error instead of 101.
    Refused(Refusal),
    /// The client broke a rule of the protocol: the connection is failed.
    /// The code is the close code that names the broken rule (1002:
    /// protocol error), sent to the client in a close frame.
    Protocol(u16, &'static str),
}

impl From<io::Error> for Stop {
    fn from(_: io::Error) -> Stop {
        Stop::Disconnected
    }
}

/// An HTTP error answer to a request we do not accept.
struct Refusal {
    status: u16,
    reason: &'static str,
    /// One more header for the answer (426 names the version we speak).
    extra_header: Option<&'static str>,
}

/// Shorthand for refusing with `status`.
fn refuse(status: u16, reason: &'static str) -> Stop {
    Stop::Refused(Refusal {
        status,
        reason,
        extra_header: None,
    })
}

// ANCHOR: peer
/// One client's socket, for writing. Its lock lets one whole frame out at a
/// time: without it, two threads broadcasting at once could mix their bytes
/// into one corrupt frame.
struct Peer {
    writer: Mutex<Writer>,
}

/// What the lock guards.
struct Writer {
    stream: TcpStream,
    /// After the close frame, nothing more is written (RFC 6455 5.5.1).
    closed: bool,
}

impl Peer {
    fn new(stream: &TcpStream) -> io::Result<Peer> {
        Ok(Peer {
            writer: Mutex::new(Writer {
                stream: stream.try_clone()?,
                closed: false,
            }),
        })
    }

    /// A thread that panicked while holding the lock leaves it "poisoned";
    /// the socket is still usable, so carry on with it.
    fn lock(&self) -> MutexGuard<'_, Writer> {
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn send(&self, data: &[u8]) -> io::Result<()> {
        let mut writer = self.lock();
        if writer.closed {
            return Ok(());
        }
        writer.stream.write_all(data)
    }

    fn send_close(&self, frame: &[u8]) -> io::Result<()> {
        let mut writer = self.lock();
        if writer.closed {
            return Ok(());
        }
        writer.closed = true;
        writer.stream.write_all(frame)
    }
}
// ANCHOR_END: peer

// ANCHOR: room
/// The chat room: every client connected to /socket.
struct Room {
    members: Mutex<Vec<Arc<Peer>>>,
}

static ROOM: Room = Room {
    members: Mutex::new(Vec::new()),
};

/// A place in the room. Leaving happens when it is dropped, so exactly once,
/// however the connection ends (an error, a close, a panic).
struct Membership {
    room: &'static Room,
    peer: Arc<Peer>,
}

impl Drop for Membership {
    fn drop(&mut self) {
        self.room
            .members()
            .retain(|member| !Arc::ptr_eq(member, &self.peer));
    }
}

impl Room {
    fn members(&self) -> MutexGuard<'_, Vec<Arc<Peer>>> {
        self.members.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds the peer, then sends its 101 while holding its write lock. A
    /// broadcast that finds the peer in the room waits for that lock, so no
    /// message can reach the client before its 101, and none sent after the
    /// 101 can miss it.
    fn join(&'static self, peer: &Arc<Peer>, response: &[u8]) -> io::Result<Membership> {
        let mut writer = peer.lock();
        let membership = Membership {
            room: self,
            peer: Arc::clone(peer),
        };
        self.members().push(Arc::clone(peer));
        writer.stream.write_all(response)?;
        Ok(membership)
    }

    fn broadcast(&self, frame: &[u8]) {
        // Copy the members, then write without holding the room's lock: a
        // slow client must not keep others from joining or leaving.
        let members = self.members().clone();
        for member in members {
            // A client that is gone is its own thread's business: that
            // thread sees the error too, and leaves.
            let _ = member.send(frame);
        }
    }
}
// ANCHOR_END: room

/// The parts of a request head the handshake looks at.
struct Request {
    method: String,
    path: String,
    version: String,
    /// Header names are case-insensitive, so they are stored lower-cased; a
    /// name may appear more than once, so each maps to a list of values.
    headers: HashMap<String, Vec<String>>,
}

// ANCHOR: read_head
/// Reads the request head up to and including the empty line (CRLF CRLF),
/// and no further than `MAX_HEAD` bytes. TCP delivers a stream of bytes,
/// not messages: the head may arrive in pieces, or together with the first
/// frame behind it. The `BufReader` keeps whatever arrived early for the
/// next read.
fn read_head(reader: &mut impl BufRead) -> Result<Vec<u8>, Stop> {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let room = MAX_HEAD.saturating_sub(head.len());
        if room == 0 {
            return Err(refuse(400, "request head too large"));
        }
        // `take` bounds the read: a line without end stops at the limit.
        let read = reader.take(room as u64).read_until(b'\n', &mut head)?;
        if read == 0 {
            return Err(Stop::Disconnected);
        }
    }
    Ok(head)
}
// ANCHOR_END: read_head

// ANCHOR: parse_head
/// Splits a request head into its request line and headers.
fn parse_head(head: &[u8]) -> Result<Request, Stop> {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n").filter(|line| !line.is_empty());
    let request_line = lines.next().unwrap_or_default();
    let parts: Vec<&str> = request_line.split(' ').collect();
    let [method, path, version] = parts[..] else {
        return Err(refuse(400, "the request line is not METHOD PATH VERSION"));
    };
    let mut headers: HashMap<String, Vec<String>> = HashMap::new();
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            return Err(refuse(400, "a header line is not NAME: VALUE"));
        };
        if name.is_empty() || name != name.trim() {
            return Err(refuse(400, "a header line is not NAME: VALUE"));
        }
        let value = value.trim_matches([' ', '\t']).to_string();
        headers
            .entry(name.to_ascii_lowercase())
            .or_default()
            .push(value);
    }
    Ok(Request {
        method: method.to_string(),
        path: path.to_string(),
        version: version.to_string(),
        headers,
    })
}

/// The value of a header that must appear exactly once.
fn one_header<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    match request.headers.get(name).map(Vec::as_slice) {
        Some([value]) => Some(value),
        _ => None,
    }
}
// ANCHOR_END: parse_head

// ANCHOR: check_handshake
/// Applies the rules of RFC 6455 section 4.2.1; returns the client's key.
fn check_handshake(request: &Request) -> Result<String, Stop> {
    if request.method != "GET" {
        return Err(refuse(400, "the method must be GET"));
    }
    if request.version != "HTTP/1.1" {
        return Err(refuse(400, "the version must be HTTP/1.1"));
    }
    if !PATHS.contains(&request.path.as_str()) {
        return Err(refuse(404, "no WebSocket endpoint at this path"));
    }
    if one_header(request, "host").is_none() {
        return Err(refuse(400, "Host is missing"));
    }
    let upgrade = one_header(request, "upgrade").unwrap_or_default();
    if !upgrade.eq_ignore_ascii_case("websocket") {
        return Err(refuse(400, "Upgrade must be websocket"));
    }
    let connection = request.headers.get("connection").cloned();
    let connection = connection.unwrap_or_default().join(",");
    if !connection
        .split(',')
        .any(|token| token.trim().eq_ignore_ascii_case("upgrade"))
    {
        return Err(refuse(400, "Connection must contain the token Upgrade"));
    }
    if one_header(request, "sec-websocket-version") != Some("13") {
        // 426 Upgrade Required tells the client which version we speak.
        return Err(Stop::Refused(Refusal {
            status: 426,
            reason: "only version 13",
            extra_header: Some("Sec-WebSocket-Version: 13"),
        }));
    }
    match one_header(request, "sec-websocket-key") {
        Some(key) if is_valid_key(key) => Ok(key.to_string()),
        _ => Err(refuse(400, "Sec-WebSocket-Key must be 16 bytes in base64")),
    }
}

/// A key is 16 random bytes in base64: 24 characters ending in `==`.
fn is_valid_key(key: &str) -> bool {
    BASE64.decode(key).is_ok_and(|bytes| bytes.len() == 16)
}

/// base64(SHA-1(key + GUID)), the value of Sec-WebSocket-Accept.
fn accept_key(key: &str) -> String {
    let digest = Sha1::digest(format!("{key}{GUID}").as_bytes());
    BASE64.encode(digest)
}
// ANCHOR_END: check_handshake

// ANCHOR: responses
fn switching_protocols(key: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\n\
         Upgrade: websocket\r\n\
         Connection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\
         \r\n",
        accept_key(key)
    )
    .into_bytes()
}

fn refusal_response(refusal: &Refusal) -> Vec<u8> {
    let name = match refusal.status {
        400 => "Bad Request",
        404 => "Not Found",
        426 => "Upgrade Required",
        _ => "Error",
    };
    let extra = refusal
        .extra_header
        .map(|header| format!("{header}\r\n"))
        .unwrap_or_default();
    let body = format!("{}\n", refusal.reason);
    format!(
        "HTTP/1.1 {} {name}\r\n{extra}Content-Type: text/plain\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        refusal.status,
        body.len()
    )
    .into_bytes()
}
// ANCHOR_END: responses

// ANCHOR: read_frame
/// One frame, its payload already unmasked.
struct Frame {
    fin: bool,
    opcode: u8,
    payload: Vec<u8>,
}

/// Reads one frame.
///
/// Byte 0: FIN (1 bit), RSV1-3 (3 bits), opcode (4 bits).
/// Byte 1: MASK (1 bit), payload length (7 bits).
/// Then the 4-byte masking key (when MASK is set) and the payload.
/// `read_exact` waits for as many reads as it takes: a frame may arrive
/// one byte at a time.
fn read_frame(reader: &mut impl Read) -> Result<Frame, Stop> {
    let mut header = [0u8; 2];
    reader.read_exact(&mut header)?;
    let [first, second] = header;
    check_header(first, second)?;
    let fin = first & 0x80 != 0;
    let opcode = first & 0x0F;
    let masked = second & 0x80 != 0;
    let length = read_length(reader, second & 0x7F)?;
    let mut mask = [0u8; 4];
    if masked {
        reader.read_exact(&mut mask)?;
    }
    let mut payload = read_payload(reader, length)?;
    unmask(&mut payload, mask);
    Ok(Frame {
        fin,
        opcode,
        payload,
    })
}
// ANCHOR_END: read_frame

// ANCHOR: check_header
/// The rules a header must follow, checked before reading anything more: a
/// broken rule fails the connection at once.
fn check_header(first: u8, second: u8) -> Result<(), Stop> {
    if first & 0x70 != 0 {
        return Err(Stop::Protocol(1002, "RSV bits set without an extension"));
    }
    if !matches!(
        first & 0x0F,
        CONTINUATION | TEXT | BINARY | CLOSE | PING | PONG
    ) {
        return Err(Stop::Protocol(1002, "reserved opcode"));
    }
    if second & 0x80 == 0 {
        return Err(Stop::Protocol(1002, "a client frame must be masked"));
    }
    // Close, ping and pong, the control frames, have the opcode's top bit set.
    if first & 0x08 != 0 {
        if first & 0x80 == 0 {
            return Err(Stop::Protocol(
                1002,
                "a control frame must not be fragmented",
            ));
        }
        if second & 0x7F > 125 {
            return Err(Stop::Protocol(
                1002,
                "a control frame carries at most 125 bytes",
            ));
        }
    }
    Ok(())
}
// ANCHOR_END: check_header

// ANCHOR: read_length
/// The payload length: the 7-bit value itself up to 125, else the 16-bit
/// (126) or 64-bit (127) big-endian number that follows.
fn read_length(reader: &mut impl Read, length7: u8) -> Result<u64, Stop> {
    let length = match length7 {
        126 => {
            let mut bytes = [0u8; 2];
            reader.read_exact(&mut bytes)?;
            u64::from(u16::from_be_bytes(bytes))
        }
        127 => {
            let mut bytes = [0u8; 8];
            reader.read_exact(&mut bytes)?;
            let length = u64::from_be_bytes(bytes);
            if length >> 63 != 0 {
                return Err(Stop::Protocol(
                    1002,
                    "the top bit of a 64-bit length must be 0",
                ));
            }
            length
        }
        short => u64::from(short),
    };
    if length > MAX_PAYLOAD {
        return Err(Stop::Protocol(
            1009,
            "the frame is larger than this server accepts",
        ));
    }
    Ok(length)
}

/// Reads `length` bytes into a buffer that grows with what has arrived,
/// never with what the header claims: `vec![0; length]` would let one
/// header make the server allocate before a single byte came.
fn read_payload(reader: &mut impl Read, length: u64) -> Result<Vec<u8>, Stop> {
    let mut payload = Vec::new();
    reader.take(length).read_to_end(&mut payload)?;
    if payload.len() as u64 != length {
        return Err(Stop::Disconnected); // the stream ended inside the payload
    }
    Ok(payload)
}
// ANCHOR_END: read_length

// ANCHOR: unmask
/// Byte i of the payload is XORed with byte i % 4 of the key (RFC 6455
/// section 5.3). XOR twice gives the original back, so the same function
/// masks and unmasks.
fn unmask(payload: &mut [u8], mask: [u8; 4]) {
    for (i, byte) in payload.iter_mut().enumerate() {
        *byte ^= mask[i % 4];
    }
}
// ANCHOR_END: unmask

// ANCHOR: encode_frame
/// A whole (FIN=1), unmasked frame: a server never masks. The length takes
/// the shortest form that holds it.
fn encode_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![0x80 | opcode];
    match payload.len() {
        short @ 0..=125 => frame.push(short as u8),
        medium @ 126..=0xFFFF => {
            frame.push(126);
            frame.extend_from_slice(&(medium as u16).to_be_bytes());
        }
        long => {
            frame.push(127);
            frame.extend_from_slice(&(long as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(payload);
    frame
}

// ANCHOR_END: encode_frame

// ANCHOR: handle_frames
/// Assembles messages from their frames and echoes each one whole, answers
/// pings, even between the fragments of a message, and returns once it has
/// answered a close frame.
fn handle_frames(reader: &mut impl Read, peer: &Peer, room: Option<&Room>) -> Result<(), Stop> {
    // The message being assembled, between its frames.
    let mut message: Option<Message> = None;
    loop {
        let frame = read_frame(reader)?;
        let current = match (frame.opcode, message.as_mut()) {
            (TEXT | BINARY, Some(_)) => {
                return Err(Stop::Protocol(
                    1002,
                    "a new message inside an unfinished one",
                ));
            }
            (TEXT | BINARY, None) => message.insert(Message::new(frame.opcode)),
            (CONTINUATION, Some(current)) => current,
            (CONTINUATION, None) => {
                return Err(Stop::Protocol(
                    1002,
                    "a continuation with no message to continue",
                ));
            }
            (PING, _) => {
                peer.send(&encode_frame(PONG, &frame.payload))?;
                continue;
            }
            // A pong nobody asked for is allowed, and means nothing.
            (PONG, _) => continue,
            // CLOSE: answer it; nothing after it counts.
            _ => {
                let code = close_reply(&frame.payload)?;
                peer.send_close(&encode_frame(CLOSE, &code.to_be_bytes()))?;
                return Ok(());
            }
        };
        current.add(&frame.payload)?;
        if frame.fin {
            current.finish()?;
            deliver(peer, room, current.opcode, &current.data)?;
            message = None;
        }
    }
}
// ANCHOR_END: handle_frames

// ANCHOR: deliver
/// On /echo the message goes back to its sender; on /socket it goes to
/// everyone in the room. The chat's JSON is relayed as it came: the server
/// never needs to look inside it.
fn deliver(peer: &Peer, room: Option<&Room>, opcode: u8, data: &[u8]) -> Result<(), Stop> {
    match room {
        None => peer.send(&encode_frame(opcode, data))?,
        Some(room) if opcode == TEXT => room.broadcast(&encode_frame(TEXT, data)),
        Some(_) => return Err(Stop::Protocol(1003, "the chat takes text messages only")),
    }
    Ok(())
}
// ANCHOR_END: deliver

// ANCHOR: message
/// A message being assembled from its fragments.
struct Message {
    opcode: u8,
    data: Vec<u8>,
    /// How much of `data` is known to be valid UTF-8 (text only).
    checked: usize,
}

impl Message {
    fn new(opcode: u8) -> Message {
        Message {
            opcode,
            data: Vec::new(),
            checked: 0,
        }
    }

    fn add(&mut self, payload: &[u8]) -> Result<(), Stop> {
        self.data.extend_from_slice(payload);
        self.check_utf8(false)
    }

    /// The message is complete: a text must not end inside a character.
    fn finish(&mut self) -> Result<(), Stop> {
        self.check_utf8(true)
    }

    // ANCHOR: check_utf8
    /// Checks the text received since the last check. Rust's `str` is UTF-8
    /// the strict way RFC 3629 defines it: `from_utf8` refuses overlong
    /// forms, surrogates (U+D800 to U+DFFF) and code points above U+10FFFF,
    /// exactly what a WebSocket text message must not contain.
    fn check_utf8(&mut self, complete: bool) -> Result<(), Stop> {
        if self.opcode != TEXT {
            return Ok(());
        }
        match std::str::from_utf8(&self.data[self.checked..]) {
            Ok(_) => self.checked = self.data.len(),
            // `error_len() == None`: the bytes end inside a character that
            // the next fragment may complete. Check those bytes again then.
            Err(error) if error.error_len().is_none() && !complete => {
                self.checked += error.valid_up_to();
            }
            Err(_) => return Err(Stop::Protocol(1007, "a text message must be valid UTF-8")),
        }
        Ok(())
    }
    // ANCHOR_END: check_utf8
}
// ANCHOR_END: message

// ANCHOR: close_reply
/// The code to answer a close frame with: the client's own code, or 1000
/// when its close frame had no payload.
fn close_reply(payload: &[u8]) -> Result<u16, Stop> {
    let (code, reason) = match payload {
        [] => return Ok(1000),
        [_] => {
            return Err(Stop::Protocol(
                1002,
                "a close payload is empty or at least 2 bytes",
            ));
        }
        [high, low, reason @ ..] => (u16::from_be_bytes([*high, *low]), reason),
    };
    if !is_valid_close_code(code) {
        return Err(Stop::Protocol(1002, "this close code may not be sent"));
    }
    if std::str::from_utf8(reason).is_err() {
        return Err(Stop::Protocol(1007, "a close reason must be valid UTF-8"));
    }
    Ok(code)
}

/// The codes a peer may send (RFC 6455 section 7.4): the defined ones
/// except 1004 (reserved), 1005 and 1006 (never on the wire), plus 3000 to
/// 4999 for libraries and applications.
fn is_valid_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1011 | 3000..=4999)
}
// ANCHOR_END: close_reply

// ANCHOR: hang_up
/// Closes a connection without a TCP reset. Closing a socket that still has
/// unread bytes makes the kernel send RST, and a reset can destroy our close
/// frame before the client reads it. So: stop writing (the client reads
/// end-of-stream after the close frame), read and drop whatever is still
/// arriving until the client hangs up or `CLOSE_TIMEOUT` passes, and only
/// then close. Errors change nothing here: closing is all that is left.
fn hang_up(mut stream: &TcpStream) {
    let _ = stream.shutdown(Shutdown::Write);
    let _ = stream.set_read_timeout(Some(CLOSE_TIMEOUT));
    let _ = io::copy(&mut stream, &mut io::sink());
}
// ANCHOR_END: hang_up

// ANCHOR: fail_connection

/// Tells the client which rule it broke (a close frame with the code and a
/// short reason) before the connection is closed.
fn fail_connection(peer: &Peer, code: u16, reason: &str) -> Result<(), Stop> {
    let mut payload = code.to_be_bytes().to_vec();
    payload.extend_from_slice(reason.as_bytes());
    peer.send_close(&encode_frame(CLOSE, &payload))?;
    Ok(())
}
// ANCHOR_END: fail_connection

// ANCHOR: handle
/// Serves one connection: the handshake, then whatever comes after.
fn handle(stream: &TcpStream) -> Result<(), Stop> {
    let mut reader = BufReader::new(stream);
    let mut writer = stream;
    let (path, key) = match read_request(&mut reader) {
        Ok(request) => request,
        Err(Stop::Refused(refusal)) => return Ok(writer.write_all(&refusal_response(&refusal))?),
        Err(other) => return Err(other),
    };
    let peer = Arc::new(Peer::new(stream)?);
    // Kept until the function returns: dropping it leaves the room.
    let membership = if path == "/socket" {
        Some(ROOM.join(&peer, &switching_protocols(&key))?)
    } else {
        peer.send(&switching_protocols(&key))?;
        None
    };
    let room = membership.as_ref().map(|membership| membership.room);
    match handle_frames(&mut reader, &peer, room) {
        Err(Stop::Protocol(code, reason)) => fail_connection(&peer, code, reason)?,
        other => other?,
    }
    hang_up(stream);
    Ok(())
}

/// Reads and checks the opening handshake; returns the path and the
/// client's key.
fn read_request(reader: &mut impl BufRead) -> Result<(String, String), Stop> {
    let head = read_head(reader)?;
    let request = parse_head(&head)?;
    let key = check_handshake(&request)?;
    Ok((request.path, key))
}

// ANCHOR_END: handle

// ANCHOR: serve
/// Runs `handle` and drops the connection, whatever went wrong: a client
/// that disappears must never stop the server. Dropping the stream closes it.
fn serve(stream: TcpStream) {
    let _ = handle(&stream);
}

// ANCHOR_END: serve

// ANCHOR: main
fn main() -> io::Result<()> {
    let port = match std::env::args().nth(1) {
        Some(arg) => arg
            .parse::<u16>()
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "the port is a number"))?,
        None => 8080,
    };
    let listener = TcpListener::bind(("127.0.0.1", port))?;
    // Port 0 asks the system for a free port: print the one we got.
    println!("listening on {}", listener.local_addr()?);
    for stream in listener.incoming() {
        // A failed accept (the client gave up already) concerns that client only.
        let Ok(stream) = stream else { continue };
        // A thread per connection: a slow or idle client only ever holds up
        // its own thread.
        thread::spawn(move || serve(stream));
    }
    Ok(())
}
// ANCHOR_END: main

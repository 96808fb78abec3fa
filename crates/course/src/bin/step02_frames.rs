//! A WebSocket server written from scratch, one chapter at a time.
//!
//! Step 2, frames: after the handshake, read frames (RFC 6455 section 5.2):
//! the 2-byte header, a 7-bit length (0 to 125), the masking key, the
//! payload. Unmask the payload and echo text and binary messages back,
//! unmasked. Any other opcode or length form closes the TCP connection:
//! later chapters teach them.
//!
//! Run it:   cargo run -p wsconform-course --bin step02_frames -- 8080
//! Check it: wsconform run --up-to frames --target ws://127.0.0.1:8080/echo
//!
//! SIGTERM needs no code: its default action ends the process, and the
//! operating system closes every socket the server had open.

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha1::{Digest, Sha1};

/// The GUID of RFC 6455 section 1.3: every server appends it to the client's
/// key before hashing, which proves the server read this very request.
const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// A request head longer than this is refused: a client must not be able to
/// make the server buffer without end.
const MAX_HEAD: usize = 8192;

/// The paths this server answers on.
const PATHS: &[&str] = &["/echo"];

// ANCHOR: opcodes
// The opcodes this step knows (RFC 6455 section 5.2).
const TEXT: u8 = 0x1;
const BINARY: u8 = 0x2;
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
    /// protocol error); until the masking chapter the server just hangs up.
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
    let fin = first & 0x80 != 0;
    let opcode = first & 0x0F;
    let masked = second & 0x80 != 0;
    let length = second & 0x7F;
    if length > 125 {
        return Err(Stop::Protocol(
            1002,
            "16- and 64-bit lengths are not read yet",
        ));
    }
    let mut mask = [0u8; 4];
    if masked {
        reader.read_exact(&mut mask)?;
    }
    // At most 125 bytes here, so a buffer of the announced size is harmless.
    let mut payload = vec![0u8; usize::from(length)];
    reader.read_exact(&mut payload)?;
    unmask(&mut payload, mask);
    Ok(Frame {
        fin,
        opcode,
        payload,
    })
}
// ANCHOR_END: read_frame

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
/// A whole (FIN=1), unmasked frame: a server never masks.
fn encode_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![0x80 | opcode, payload.len() as u8];
    frame.extend_from_slice(payload);
    frame
}
// ANCHOR_END: encode_frame

// ANCHOR: handle_frames
/// Echoes every whole text and binary frame. Fragments, pings and the
/// closing handshake come in later chapters: until then the server hangs
/// up when it meets one.
fn handle_frames(reader: &mut impl Read, mut writer: &TcpStream) -> Result<(), Stop> {
    loop {
        let frame = read_frame(reader)?;
        if !matches!(frame.opcode, TEXT | BINARY) || !frame.fin {
            return Ok(());
        }
        writer.write_all(&encode_frame(frame.opcode, &frame.payload))?;
    }
}
// ANCHOR_END: handle_frames

// ANCHOR: handle
/// Serves one connection: the handshake, then whatever comes after.
fn handle(stream: &TcpStream) -> Result<(), Stop> {
    let mut reader = BufReader::new(stream);
    let mut writer = stream;
    let key = match read_request(&mut reader) {
        Ok(key) => key,
        Err(Stop::Refused(refusal)) => return Ok(writer.write_all(&refusal_response(&refusal))?),
        Err(other) => return Err(other),
    };
    writer.write_all(&switching_protocols(&key))?;
    handle_frames(&mut reader, stream)
}

/// Reads and checks the opening handshake; returns the client's key.
fn read_request(reader: &mut impl BufRead) -> Result<String, Stop> {
    let head = read_head(reader)?;
    let request = parse_head(&head)?;
    check_handshake(&request)
}
// ANCHOR_END: handle

// ANCHOR: serve
/// Runs `handle` and drops the connection, whatever went wrong: a client
/// that disappears must never stop the server. Dropping the stream closes it.
fn serve(stream: TcpStream) {
    if let Err(Stop::Protocol(code, reason)) = handle(&stream) {
        // The client is not told why yet (that comes with the masking
        // chapter); the log says it.
        eprintln!("hung up on a client: {reason} (close code {code})");
    }
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
        // One connection at a time: the next client waits until this one is done.
        serve(stream);
    }
    Ok(())
}
// ANCHOR_END: main

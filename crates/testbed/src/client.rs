//! Clients that test the client scenarios (`wsconform run --client-cmd`),
//! as the peer and the mutants test the server scenarios:
//!
//! * the **client peer**, on tungstenite (no code shared with
//!   `wsconform-wire`), which must pass every client scenario;
//! * **client mutants**: a plain client with one classic bug each
//!   ([`ClientBug`]), each of which a client scenario must catch (the one
//!   whose rule is only a SHOULD is caught as `non-strict`).
//!
//! Both follow the contract of a client under test: connect to the URL,
//! echo every message, answer the server's close and wait for it to close
//! the TCP connection; and its optional part: the text message
//! `wsconform:close` starts the closing handshake (a close with 1000, then
//! the server's close awaited for at most two seconds, data meanwhile read
//! and not echoed). Both are synchronous: one connection, one thread.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use wsconform_wire::{
    FrameHeader, OpCode, accept_key, build_request, encode_frame, key_from_bytes, parse_response,
};

/// One classic client bug.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientBug {
    /// Sends its frames unmasked (RFC 6455 5.1: a client MUST mask).
    Unmasked,
    /// Masks every frame with the same key (5.3: a fresh key per frame).
    ConstantMask,
    /// Uses the connection whatever Sec-WebSocket-Accept says (4.1).
    AcceptUnchecked,
    /// Reads a masked server frame as if masking were allowed (5.1).
    MaskedFramesAccepted,
    /// Closes the TCP connection right after a closing handshake (7.1.1:
    /// the server SHOULD close first; caught as non-strict).
    ClosesTcpFirst,
    /// Asked to close, it sends its close but goes on echoing what the
    /// server sends before its answer (5.5.1: no data after a close).
    DataAfterClose,
}

impl ClientBug {
    /// Every client bug.
    pub const ALL: [ClientBug; 6] = [
        ClientBug::Unmasked,
        ClientBug::ConstantMask,
        ClientBug::AcceptUnchecked,
        ClientBug::MaskedFramesAccepted,
        ClientBug::ClosesTcpFirst,
        ClientBug::DataAfterClose,
    ];

    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            ClientBug::Unmasked => "unmasked",
            ClientBug::ConstantMask => "constant-mask",
            ClientBug::AcceptUnchecked => "accept-unchecked",
            ClientBug::MaskedFramesAccepted => "masked-frames-accepted",
            ClientBug::ClosesTcpFirst => "closes-tcp-first",
            ClientBug::DataAfterClose => "data-after-close",
        }
    }

    /// Finds a bug by name.
    pub fn parse(name: &str) -> Result<ClientBug, String> {
        ClientBug::ALL
            .into_iter()
            .find(|b| b.name() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = ClientBug::ALL.iter().map(|b| b.name()).collect();
                format!("no client bug '{name}'; the bugs: {}", names.join(", "))
            })
    }
}

/// The text message that asks a client under test to start the closing
/// handshake (the optional part of its contract, `rfc/profiles.txt`).
const CLOSE_REQUEST: &str = "wsconform:close";

/// How long a client waits for the server's answer to its close.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// The tungstenite echo client: connects, echoes until the server closes,
/// and starts the closing handshake when asked to.
pub fn run_peer(url: &str) -> Result<(), String> {
    use tungstenite::protocol::CloseFrame;
    use tungstenite::protocol::frame::coding::CloseCode;
    use tungstenite::stream::MaybeTlsStream;
    use tungstenite::{Error, Message};
    let (mut socket, _) = tungstenite::connect(url).map_err(|e| e.to_string())?;
    let mut closing = false;
    loop {
        match socket.read() {
            Ok(Message::Text(text)) if text.as_str() == CLOSE_REQUEST && !closing => {
                closing = true;
                if let MaybeTlsStream::Plain(stream) = socket.get_ref() {
                    stream
                        .set_read_timeout(Some(CLOSE_WAIT))
                        .map_err(|e| e.to_string())?;
                }
                socket.close(Some(CloseFrame {
                    code: CloseCode::Normal,
                    reason: "closing as asked".into(),
                }))
            }
            // After our close, data is read and never echoed (RFC 6455 5.5.1).
            Ok(Message::Text(_) | Message::Binary(_)) if closing => Ok(()),
            // No answer to our close in time: we close TCP ourselves.
            Err(Error::Io(e))
                if closing && matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
            {
                return Err("the server did not answer our close".into());
            }
            Ok(Message::Text(text)) => socket.send(Message::Text(text)),
            Ok(Message::Binary(bytes)) => socket.send(Message::Binary(bytes)),
            // Pings are answered and closes replied to by tungstenite itself.
            Ok(_) => Ok(()),
            Err(Error::ConnectionClosed) | Err(Error::AlreadyClosed) => return Ok(()),
            Err(e) => return Err(e.to_string()),
        }
        .map_err(|e| e.to_string())?;
    }
}

/// A plain client with `bug`: the same contract, one rule broken.
pub fn run_mutant(bug: ClientBug, url: &str) -> Result<(), String> {
    let rest = url.strip_prefix("ws://").ok_or("not a ws:// URL")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, "/"),
    };
    let mut stream = TcpStream::connect(authority).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let key = key_from_bytes(random_bytes());
    stream
        .write_all(&build_request(authority, path, &key, &[]))
        .map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    let (response, used) = loop {
        if let Ok(Some(parsed)) = parse_response(&buf, 16 * 1024) {
            break parsed;
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("closed during the handshake".into());
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
    };
    if response.status != 101 {
        return Err(format!("status {}", response.status));
    }
    let accepted = response
        .header("Sec-WebSocket-Accept")
        .is_some_and(|a| a.trim() == accept_key(key.as_bytes()));
    let upgraded = response
        .header("Upgrade")
        .is_some_and(|u| u.eq_ignore_ascii_case("websocket"));
    let unexpected = response.header("Sec-WebSocket-Protocol").is_some()
        || response.header("Sec-WebSocket-Extensions").is_some();
    if bug != ClientBug::AcceptUnchecked && (!accepted || !upgraded || unexpected) {
        return Err("refused the 101".into());
    }
    let mut client = Mutant {
        bug,
        stream,
        pending: buf.split_off(used.min(buf.len())),
        constant: random_bytes(),
    };
    client.echo()
}

struct Mutant {
    bug: ClientBug,
    stream: TcpStream,
    pending: Vec<u8>,
    constant: [u8; 4],
}

impl Mutant {
    fn take(&mut self, n: usize) -> Result<Vec<u8>, String> {
        while self.pending.len() < n {
            let mut chunk = vec![0u8; 65536];
            let got = self.stream.read(&mut chunk).map_err(|e| e.to_string())?;
            if got == 0 {
                return Err("the server closed the TCP connection".into());
            }
            self.pending
                .extend_from_slice(chunk.get(..got).unwrap_or_default());
        }
        let rest = self.pending.split_off(n);
        Ok(std::mem::replace(&mut self.pending, rest))
    }

    fn frame(&mut self) -> Result<(FrameHeader, Vec<u8>), String> {
        let mut head = self.take(2)?;
        loop {
            if let Some((header, len)) = FrameHeader::parse(&head) {
                let size = usize::try_from(header.payload_len).map_err(|e| e.to_string())?;
                let mut payload = self.take(size)?;
                debug_assert_eq!(len, head.len());
                if let Some(key) = header.mask {
                    wsconform_wire::apply_mask(&mut payload, key, 0);
                }
                return Ok((header, payload));
            }
            head.extend(self.take(1)?);
        }
    }

    fn send(&mut self, opcode: OpCode, payload: &[u8]) -> Result<(), String> {
        let mask = match self.bug {
            ClientBug::Unmasked => None,
            ClientBug::ConstantMask => Some(self.constant),
            _ => Some(random_bytes()),
        };
        let mut out = Vec::new();
        encode_frame(&mut out, true, opcode, mask, payload);
        self.stream.write_all(&out).map_err(|e| e.to_string())
    }

    fn fail(&mut self, code: u16) -> Result<(), String> {
        self.send(OpCode::Close, &code.to_be_bytes())?;
        self.await_close();
        Err(format!("failed the connection with {code}"))
    }

    fn await_close(&mut self) {
        let _ = self.stream.set_read_timeout(Some(Duration::from_secs(5)));
        let mut sink = [0u8; 4096];
        loop {
            match self.stream.read(&mut sink) {
                Ok(0) => return,
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return,
            }
        }
    }

    fn echo(&mut self) -> Result<(), String> {
        let mut message: Option<(OpCode, Vec<u8>)> = None;
        // Whether we sent our close (asked by the close request).
        let mut closing = false;
        loop {
            let (header, payload) = self.frame()?;
            if header.mask.is_some() && self.bug != ClientBug::MaskedFramesAccepted {
                return self.fail(1002);
            }
            if header.rsv_bits() != 0 || header.opcode.is_reserved() {
                return self.fail(1002);
            }
            if header.opcode.is_control() && (!header.fin || payload.len() > 125) {
                return self.fail(1002);
            }
            match header.opcode {
                OpCode::Ping => self.send(OpCode::Pong, &payload)?,
                OpCode::Pong => {}
                OpCode::Close => {
                    if !closing {
                        self.send(OpCode::Close, payload.get(..2).unwrap_or_default())?;
                    }
                    if self.bug == ClientBug::ClosesTcpFirst {
                        let _ = self.stream.shutdown(std::net::Shutdown::Both);
                    } else {
                        self.await_close();
                    }
                    return Ok(());
                }
                OpCode::Continuation => match message.as_mut() {
                    Some((_, bytes)) => bytes.extend_from_slice(&payload),
                    None => return self.fail(1002),
                },
                opcode => {
                    if message.is_some() {
                        return self.fail(1002);
                    }
                    message = Some((opcode, payload));
                }
            }
            if header.fin
                && !header.opcode.is_control()
                && let Some((opcode, bytes)) = message.take()
            {
                if opcode == OpCode::Text && std::str::from_utf8(&bytes).is_err() {
                    return self.fail(1007);
                }
                if opcode == OpCode::Text && bytes == CLOSE_REQUEST.as_bytes() && !closing {
                    closing = true;
                    let mut body = 1000u16.to_be_bytes().to_vec();
                    body.extend_from_slice(b"closing as asked");
                    self.send(OpCode::Close, &body)?;
                    // The server's answer may take this long; then the
                    // read fails and the process ends, closing TCP.
                    self.stream
                        .set_read_timeout(Some(CLOSE_WAIT))
                        .map_err(|e| e.to_string())?;
                    continue;
                }
                if closing && self.bug != ClientBug::DataAfterClose {
                    // Read, never echoed after our close (5.5.1).
                    continue;
                }
                self.send(opcode, &bytes)?;
            }
        }
    }
}

/// Random bytes without a random crate: the standard library's hasher is
/// seeded from the operating system's randomness for every process, and
/// fed a counter so each call differs.
fn random_bytes<const N: usize>() -> [u8; N] {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let state = RandomState::new();
    let mut out = [0u8; N];
    for chunk in out.chunks_mut(8) {
        let mut hasher = state.build_hasher();
        hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        let value = hasher.finish().to_le_bytes();
        for (slot, byte) in chunk.iter_mut().zip(value) {
            *slot = byte;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bugs_parse_by_name() {
        for bug in ClientBug::ALL {
            assert_eq!(ClientBug::parse(bug.name()), Ok(bug));
        }
        assert!(
            ClientBug::parse("nope")
                .unwrap_err()
                .contains("constant-mask")
        );
    }

    #[test]
    fn random_bytes_differ_from_call_to_call() {
        let a: [u8; 8] = random_bytes();
        let b: [u8; 8] = random_bytes();
        assert_ne!(a, b);
    }
}

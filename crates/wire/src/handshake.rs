//! The opening handshake (RFC 6455 §4).
//! (One file: the server's and the client's side of the same exchange, rule next to rule.)
//!
//! A WebSocket connection starts life as an HTTP/1.1 request. The client asks
//! to *upgrade* the TCP connection to the WebSocket protocol:
//!
//! ```text
//! GET /socket HTTP/1.1
//! Host: localhost:8080
//! Upgrade: websocket
//! Connection: Upgrade
//! Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==
//! Sec-WebSocket-Version: 13
//! ```
//!
//! and a server that agrees answers `101 Switching Protocols` with a
//! `Sec-WebSocket-Accept` header computed from the key ([`accept_key`]). From
//! then on both sides speak frames on the same TCP connection.
//!
//! The accept value proves the server really understood a *WebSocket* request:
//! an ordinary HTTP server (or a cache) would never produce the SHA-1 of the
//! client's random key joined with a GUID that only WebSocket code knows.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha1::{Digest, Sha1};

use crate::splitmix::SplitMix;

/// The GUID every WebSocket server appends to the client's key (§1.3).
pub const WEBSOCKET_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Most headers a request or response may carry before we call it malformed.
const MAX_HEADERS: usize = 64;

/// Computes `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`:
/// base64(SHA-1(key + GUID)).
///
/// ```
/// // The example of RFC 6455 §1.3.
/// assert_eq!(
///     wsconform_wire::accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
///     "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
/// );
/// ```
// ANCHOR: accept_key
pub fn accept_key(key: &[u8]) -> String {
    let mut sha = Sha1::new();
    sha.update(key);
    sha.update(WEBSOCKET_GUID.as_bytes());
    BASE64.encode(sha.finalize())
}
// ANCHOR_END: accept_key

/// A `Sec-WebSocket-Key` made from `seed`: 16 bytes, base64-encoded.
///
/// Real clients use random bytes; a test tool wants repeatable runs, so the
/// bytes come from a small deterministic generator (SplitMix64) instead.
pub fn generate_key(seed: u64) -> String {
    let mut rng = SplitMix::new(seed);
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&rng.next_u64().to_le_bytes());
    bytes[8..].copy_from_slice(&rng.next_u64().to_le_bytes());
    BASE64.encode(bytes)
}

/// A `Sec-WebSocket-Key` from 16 bytes the caller drew: a real client draws
/// them from a strong random source, fresh for every connection (§4.1).
pub fn key_from_bytes(bytes: [u8; 16]) -> String {
    BASE64.encode(bytes)
}

// ANCHOR: has_token
/// Does the comma-separated header value contain `token` (ASCII case-insensitive)?
///
/// `Connection: keep-alive, Upgrade` is a valid upgrade request: browsers such
/// as Firefox send exactly that, and a server that compares the whole value
/// with `"Upgrade"` rejects them.
fn has_token(value: &str, token: &str) -> bool {
    value
        .split(',')
        .any(|part| part.trim().eq_ignore_ascii_case(token))
}
// ANCHOR_END: has_token

/// Finds a header by name, ignoring ASCII case (HTTP header names are
/// case-insensitive, RFC 7230 §3.2). Repeated headers are joined with commas.
fn find_header(headers: &[(String, String)], name: &str) -> Option<String> {
    let values: Vec<&str> = headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .collect();
    (!values.is_empty()).then(|| values.join(", "))
}

fn collect_headers(headers: &[httparse::Header<'_>]) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|h| {
            (
                h.name.to_owned(),
                String::from_utf8_lossy(h.value).trim().to_owned(),
            )
        })
        .collect()
}

/// A client's upgrade request that passed every rule of §4.2.1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRequest {
    /// Always `GET` once validated.
    pub method: String,
    /// The request target, e.g. `/socket`.
    pub path: String,
    /// The minor HTTP version: 1 for HTTP/1.1.
    pub http_minor: u8,
    /// Every header as sent (names keep their case, values are trimmed).
    pub headers: Vec<(String, String)>,
    /// The `Sec-WebSocket-Key` value.
    pub key: String,
    /// Subprotocols the client offered in `Sec-WebSocket-Protocol`, if any.
    pub protocols: Vec<String>,
}

impl ClientRequest {
    /// A header's value by name, ignoring case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Why a client's upgrade request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    /// The header block did not end within the size limit.
    #[error("request header block is larger than {limit} bytes")]
    TooLarge {
        /// The configured limit.
        limit: usize,
    },
    /// Not an HTTP/1.x request at all.
    #[error("malformed HTTP request: {0}")]
    Malformed(String),
    /// §4.1: "The method of the request MUST be GET".
    #[error("method {0} is not GET (RFC 6455 §4.1)")]
    MethodNotGet(String),
    /// §4.1: "the HTTP version MUST be at least 1.1".
    #[error("HTTP version is older than 1.1 (RFC 6455 §4.1)")]
    HttpVersionTooOld,
    /// §4.1: "The request MUST contain a |Host| header field".
    #[error("missing Host header (RFC 6455 §4.1)")]
    MissingHost,
    /// §4.1: "The request MUST contain an |Upgrade| header field".
    #[error("missing Upgrade header (RFC 6455 §4.1)")]
    MissingUpgrade,
    /// The Upgrade header does not name `websocket`.
    #[error("Upgrade header {0:?} does not contain \"websocket\" (RFC 6455 §4.1)")]
    UpgradeNotWebsocket(String),
    /// §4.1: "a |Connection| header field that includes the token "Upgrade"".
    #[error("Connection header does not contain the token \"Upgrade\" (RFC 6455 §4.1)")]
    MissingConnectionUpgrade,
    /// §4.1: "a header field with the name |Sec-WebSocket-Key|".
    #[error("missing Sec-WebSocket-Key header (RFC 6455 §4.1)")]
    MissingKey,
    /// The key must be base64 of exactly 16 bytes.
    #[error("Sec-WebSocket-Key {0:?} is not base64 of 16 bytes (RFC 6455 §4.1)")]
    InvalidKey(String),
    /// §4.4: a version other than 13 (or none) gets 426 and the versions we speak.
    #[error("Sec-WebSocket-Version {} is not supported, only 13 (RFC 6455 §4.4)", .0.as_deref().unwrap_or("(missing)"))]
    UnsupportedVersion(Option<String>),
}

impl HandshakeError {
    /// The HTTP status to answer with.
    pub fn status(&self) -> u16 {
        match self {
            HandshakeError::TooLarge { .. } => 431,
            HandshakeError::MethodNotGet(_) => 405,
            HandshakeError::UnsupportedVersion(_) => 426,
            _ => 400,
        }
    }

    /// The whole HTTP error response: status, headers and a one-line body
    /// that names the broken rule. A 426 carries `Sec-WebSocket-Version: 13`
    /// so the client knows which version to retry with (§4.4).
    pub fn response(&self) -> Vec<u8> {
        let body = format!("{self}\n");
        let (reason, headers): (&str, &[(&str, &str)]) = match self.status() {
            431 => ("Request Header Fields Too Large", &[]),
            405 => ("Method Not Allowed", &[("Allow", "GET")]),
            426 => ("Upgrade Required", &[("Sec-WebSocket-Version", "13")]),
            _ => ("Bad Request", &[]),
        };
        http_response(self.status(), reason, headers, body.as_bytes())
    }
}

/// Reads and validates a client's opening handshake from the start of `buf`.
///
/// - `Ok(None)`: the header block is not complete yet; read more and call again.
/// - `Ok(Some((request, n)))`: a valid upgrade request of `n` bytes. Bytes
///   after `n` already belong to the WebSocket connection (a client may send
///   its first frame in the same TCP segment as the request).
/// - `Err(e)`: answer with [`HandshakeError::response`] and close.
///
/// `max_size` bounds the header block, so a peer cannot make us buffer an
/// endless request.
///
/// ```
/// use wsconform_wire::parse_request;
/// let req = b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
///             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
///             Sec-WebSocket-Version: 13\r\n\r\n";
/// let (request, used) = parse_request(req, 8192).unwrap().unwrap();
/// assert_eq!((request.path.as_str(), used), ("/chat", req.len()));
/// assert_eq!(parse_request(&req[..20], 8192), Ok(None));
/// ```
pub fn parse_request(
    buf: &[u8],
    max_size: usize,
) -> Result<Option<(ClientRequest, usize)>, HandshakeError> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut slots);
    let used = match parsed.parse(buf) {
        Ok(httparse::Status::Partial) => {
            if buf.len() > max_size {
                return Err(HandshakeError::TooLarge { limit: max_size });
            }
            return Ok(None);
        }
        Ok(httparse::Status::Complete(n)) => n,
        Err(e) => return Err(HandshakeError::Malformed(e.to_string())),
    };
    if used > max_size {
        return Err(HandshakeError::TooLarge { limit: max_size });
    }
    let method = parsed.method.unwrap_or_default().to_owned();
    let path = parsed.path.unwrap_or_default().to_owned();
    let http_minor = parsed.version.unwrap_or_default();
    let headers = collect_headers(parsed.headers);

    // ANCHOR: request_rules
    if method != "GET" {
        return Err(HandshakeError::MethodNotGet(method));
    }
    if http_minor < 1 {
        return Err(HandshakeError::HttpVersionTooOld);
    }
    match find_header(&headers, "Host") {
        Some(host) if !host.is_empty() => {}
        _ => return Err(HandshakeError::MissingHost),
    }
    let upgrade = find_header(&headers, "Upgrade").ok_or(HandshakeError::MissingUpgrade)?;
    if !has_token(&upgrade, "websocket") {
        return Err(HandshakeError::UpgradeNotWebsocket(upgrade));
    }
    let connection = find_header(&headers, "Connection").unwrap_or_default();
    if !has_token(&connection, "upgrade") {
        return Err(HandshakeError::MissingConnectionUpgrade);
    }
    let key = find_header(&headers, "Sec-WebSocket-Key").ok_or(HandshakeError::MissingKey)?;
    match BASE64.decode(key.as_bytes()) {
        Ok(bytes) if bytes.len() == 16 => {}
        _ => return Err(HandshakeError::InvalidKey(key)),
    }
    let version = find_header(&headers, "Sec-WebSocket-Version");
    if version.as_deref() != Some("13") {
        return Err(HandshakeError::UnsupportedVersion(version));
    }
    // ANCHOR_END: request_rules
    let protocols = find_header(&headers, "Sec-WebSocket-Protocol")
        .map(|v| {
            v.split(',')
                .map(|p| p.trim().to_owned())
                .filter(|p| !p.is_empty())
                .collect()
        })
        .unwrap_or_default();
    Ok(Some((
        ClientRequest {
            method,
            path,
            http_minor,
            headers,
            key,
            protocols,
        },
        used,
    )))
}

/// The server's `101 Switching Protocols` answer to a valid request.
///
/// No subprotocol and no extension are selected: a server must not return a
/// `Sec-WebSocket-Protocol` the client did not offer (§4.2.2), and wsconform's
/// servers speak plain RFC 6455.
// ANCHOR: accept_response
pub fn accept_response(request: &ClientRequest) -> Vec<u8> {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        accept_key(request.key.as_bytes())
    )
    .into_bytes()
}
// ANCHOR_END: accept_response

/// The `101 Switching Protocols` answer that also accepts an extension:
/// `extensions` is the `Sec-WebSocket-Extensions` value, e.g. the
/// [`Accepted::response`](crate::extension::Accepted::response) of a
/// permessage-deflate negotiation.
pub fn accept_response_with_extensions(request: &ClientRequest, extensions: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\nSec-WebSocket-Extensions: {extensions}\r\n\r\n",
        accept_key(request.key.as_bytes())
    )
    .into_bytes()
}

impl ClientRequest {
    /// Every `Sec-WebSocket-Extensions` value joined with commas, as HTTP
    /// joins repeated list headers (RFC 7230 §3.2.2); `None` without one.
    pub fn extensions(&self) -> Option<String> {
        let values: Vec<&str> = self
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("Sec-WebSocket-Extensions"))
            .map(|(_, v)| v.as_str())
            .collect();
        (!values.is_empty()).then(|| values.join(", "))
    }
}

/// A complete plain HTTP/1.1 response with `Content-Length` and
/// `Connection: close` (used for refusals and for serving pages).
pub fn http_response(status: u16, reason: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut head = format!("HTTP/1.1 {status} {reason}\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    let mut out = head.into_bytes();
    out.extend_from_slice(body);
    out
}

/// A client's upgrade request for `path` on `host` with `key`, plus any
/// `extra_headers`.
pub fn build_request(host: &str, path: &str, key: &str, extra_headers: &[(&str, &str)]) -> Vec<u8> {
    let mut out = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
    );
    for (name, value) in extra_headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    out.into_bytes()
}

/// A server's answer to an upgrade request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerResponse {
    /// The status code, 101 when the upgrade was accepted.
    pub status: u16,
    /// The reason phrase.
    pub reason: String,
    /// Every header as sent.
    pub headers: Vec<(String, String)>,
}

impl ServerResponse {
    /// A header's value by name, ignoring case (repeats joined with commas).
    pub fn header(&self, name: &str) -> Option<String> {
        find_header(&self.headers, name)
    }
}

/// What is wrong with a server's handshake response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResponseError {
    /// The header block did not end within the size limit.
    #[error("response header block is larger than {limit} bytes")]
    TooLarge {
        /// The configured limit.
        limit: usize,
    },
    /// Not an HTTP/1.x response.
    #[error("malformed HTTP response: {0}")]
    Malformed(String),
    /// §4.1: any status other than 101 means the handshake did not complete.
    #[error("expected status 101 Switching Protocols, got {status} {reason} (RFC 6455 §4.1)")]
    NotSwitching {
        /// The status received.
        status: u16,
        /// Its reason phrase.
        reason: String,
    },
    /// §4.1: the response must carry `Upgrade: websocket`.
    #[error("response has no \"Upgrade: websocket\" header (RFC 6455 §4.1)")]
    MissingUpgrade,
    /// §4.1: the response must carry `Connection: Upgrade`.
    #[error("response has no \"Connection: Upgrade\" header (RFC 6455 §4.1)")]
    MissingConnectionUpgrade,
    /// §4.1: the response must carry `Sec-WebSocket-Accept`.
    #[error("response has no Sec-WebSocket-Accept header (RFC 6455 §4.1)")]
    MissingAccept,
    /// The accept value is not base64(SHA-1(key + GUID)).
    #[error(
        "Sec-WebSocket-Accept is {actual:?}, expected {expected:?} (RFC 6455 §4.2.2: base64 of SHA-1 of the key + 258EAFA5-E914-47DA-95CA-C5AB0DC85B11)"
    )]
    WrongAccept {
        /// What it should have been.
        expected: String,
        /// What the server sent.
        actual: String,
    },
    /// §4.1: a subprotocol the client did not ask for.
    #[error("server selected subprotocol {0:?} that was not requested (RFC 6455 §4.1)")]
    UnrequestedProtocol(String),
    /// §4.1: an extension the client did not ask for.
    #[error("server selected extension {0:?} that was not requested (RFC 6455 §4.1)")]
    UnrequestedExtension(String),
}

/// Reads a server's handshake response from the start of `buf`; `Ok(None)`
/// while incomplete. Bytes after the returned length are already frames.
pub fn parse_response(
    buf: &[u8],
    max_size: usize,
) -> Result<Option<(ServerResponse, usize)>, ResponseError> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Response::new(&mut slots);
    let used = match parsed.parse(buf) {
        Ok(httparse::Status::Partial) => {
            if buf.len() > max_size {
                return Err(ResponseError::TooLarge { limit: max_size });
            }
            return Ok(None);
        }
        Ok(httparse::Status::Complete(n)) => n,
        Err(e) => return Err(ResponseError::Malformed(e.to_string())),
    };
    if used > max_size {
        return Err(ResponseError::TooLarge { limit: max_size });
    }
    Ok(Some((
        ServerResponse {
            status: parsed.code.unwrap_or_default(),
            reason: parsed.reason.unwrap_or_default().to_owned(),
            headers: collect_headers(parsed.headers),
        },
        used,
    )))
}

/// Checks a server's response to a request that used `key` and offered no
/// subprotocol or extension (§4.1, the client's duties).
pub fn validate_response(response: &ServerResponse, key: &str) -> Result<(), ResponseError> {
    if response.status != 101 {
        return Err(ResponseError::NotSwitching {
            status: response.status,
            reason: response.reason.clone(),
        });
    }
    if !has_token(&response.header("Upgrade").unwrap_or_default(), "websocket") {
        return Err(ResponseError::MissingUpgrade);
    }
    if !has_token(
        &response.header("Connection").unwrap_or_default(),
        "upgrade",
    ) {
        return Err(ResponseError::MissingConnectionUpgrade);
    }
    let actual = response
        .header("Sec-WebSocket-Accept")
        .ok_or(ResponseError::MissingAccept)?;
    let expected = accept_key(key.as_bytes());
    if actual.trim() != expected {
        return Err(ResponseError::WrongAccept { expected, actual });
    }
    if let Some(protocol) = response.header("Sec-WebSocket-Protocol") {
        return Err(ResponseError::UnrequestedProtocol(protocol));
    }
    if let Some(extension) = response.header("Sec-WebSocket-Extensions") {
        return Err(ResponseError::UnrequestedExtension(extension));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

    fn request(lines: &[&str]) -> Vec<u8> {
        let mut s = lines.join("\r\n");
        s.push_str("\r\n\r\n");
        s.into_bytes()
    }

    fn good() -> Vec<&'static str> {
        vec![
            "GET /chat HTTP/1.1",
            "Host: example.com",
            "Upgrade: websocket",
            "Connection: Upgrade",
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
            "Sec-WebSocket-Version: 13",
        ]
    }

    fn with(index: usize, line: &'static str) -> Vec<u8> {
        let mut lines = good();
        lines[index] = line;
        request(&lines)
    }

    fn without(index: usize) -> Vec<u8> {
        let mut lines = good();
        lines.remove(index);
        request(&lines)
    }

    fn err(bytes: &[u8]) -> HandshakeError {
        parse_request(bytes, 8192).unwrap_err()
    }

    #[test]
    fn rfc_accept_key() {
        assert_eq!(accept_key(KEY.as_bytes()), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn valid_requests() {
        let (r, n) = parse_request(&request(&good()), 8192).unwrap().unwrap();
        assert_eq!(
            (r.path.as_str(), r.key.as_str(), n),
            ("/chat", KEY, request(&good()).len())
        );
        // Tokens in lists, any case, odd spacing in values.
        let odd = with(3, "connection:   keep-alive,  UPGRADE  ");
        assert!(parse_request(&odd, 8192).unwrap().is_some());
        let odd = with(2, "UPGRADE: WebSocket");
        assert!(parse_request(&odd, 8192).unwrap().is_some());
        // Bytes after the header block are not consumed.
        let mut with_frame = request(&good());
        let len = with_frame.len();
        with_frame.extend_from_slice(&[0x81, 0x80, 1, 2, 3, 4]);
        assert_eq!(parse_request(&with_frame, 8192).unwrap().unwrap().1, len);
    }

    #[test]
    fn every_rule_has_its_error() {
        assert_eq!(
            err(&with(0, "POST /chat HTTP/1.1")),
            HandshakeError::MethodNotGet("POST".into())
        );
        assert_eq!(
            err(&with(0, "GET /chat HTTP/1.0")),
            HandshakeError::HttpVersionTooOld
        );
        assert_eq!(err(&without(1)), HandshakeError::MissingHost);
        assert_eq!(err(&without(2)), HandshakeError::MissingUpgrade);
        assert!(matches!(
            err(&with(2, "Upgrade: h2c")),
            HandshakeError::UpgradeNotWebsocket(_)
        ));
        assert_eq!(err(&without(3)), HandshakeError::MissingConnectionUpgrade);
        assert_eq!(
            err(&with(3, "Connection: keep-alive")),
            HandshakeError::MissingConnectionUpgrade
        );
        assert_eq!(err(&without(4)), HandshakeError::MissingKey);
        assert!(matches!(
            err(&with(4, "Sec-WebSocket-Key: c2hvcnQ=")),
            HandshakeError::InvalidKey(_)
        ));
        assert!(matches!(
            err(&with(4, "Sec-WebSocket-Key: !!!")),
            HandshakeError::InvalidKey(_)
        ));
        assert_eq!(err(&without(5)), HandshakeError::UnsupportedVersion(None));
        let e = err(&with(5, "Sec-WebSocket-Version: 8"));
        assert_eq!(e.status(), 426);
        let text = String::from_utf8(e.response()).unwrap();
        assert!(text.starts_with("HTTP/1.1 426 Upgrade Required\r\n"));
        assert!(text.contains("Sec-WebSocket-Version: 13\r\n"));
        assert!(matches!(
            err(b"\x00\x01garbage\r\n\r\n"),
            HandshakeError::Malformed(_)
        ));
    }

    #[test]
    fn size_limit() {
        assert_eq!(
            parse_request(&[b'G'; 100], 64),
            Err(HandshakeError::TooLarge { limit: 64 })
        );
        assert_eq!(parse_request(b"GET / HTTP/1.1\r\n", 64), Ok(None));
        assert_eq!(
            parse_request(&request(&good()), 32),
            Err(HandshakeError::TooLarge { limit: 32 })
        );
    }

    #[test]
    fn client_side_round_trip() {
        let key = generate_key(7);
        assert_eq!(BASE64.decode(&key).unwrap().len(), 16);
        assert_ne!(key, generate_key(8));
        let req = build_request("localhost:9001", "/echo", &key, &[("Origin", "http://x")]);
        let (parsed, _) = parse_request(&req, 8192).unwrap().unwrap();
        assert_eq!(parsed.header("origin"), Some("http://x"));
        let resp = accept_response(&parsed);
        let (resp, n) = parse_response(&resp, 8192).unwrap().unwrap();
        assert_eq!(n, accept_response(&parsed).len());
        assert_eq!(validate_response(&resp, &key), Ok(()));
        assert!(matches!(
            validate_response(&resp, &generate_key(9)),
            Err(ResponseError::WrongAccept { .. })
        ));
        let refused = HandshakeError::MissingHost.response();
        let (refused, _) = parse_response(&refused, 8192).unwrap().unwrap();
        assert!(matches!(
            validate_response(&refused, &key),
            Err(ResponseError::NotSwitching { status: 400, .. })
        ));
    }
}

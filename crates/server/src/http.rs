//! The HTTP side of the server: read one request head, decide what it asks
//! for.
//!
//! Every WebSocket connection starts life as an HTTP/1.1 request, so the
//! server must speak just enough HTTP to answer it. It reads the request head
//! (request line and headers, up to the blank line), bounded in size by
//! [`Config::max_handshake_size`](crate::Config::max_handshake_size), then
//! routes on the request line alone:
//!
//! | path | answer |
//! |---|---|
//! | `/` | the chat page |
//! | `/chat.js` | the chat page's script |
//! | `/socket` | the chat room, after a valid WebSocket handshake |
//! | `/echo` | the echo endpoint, after a valid WebSocket handshake |
//! | anything else | `404 Not Found` |
//!
//! Only the two WebSocket paths run the full RFC 6455 §4.2.1 validation
//! ([`wsconform_wire::parse_request`]): a browser asking for the page sends
//! no `Upgrade` header, and that is fine. Each connection serves exactly one
//! HTTP request (`Connection: close`): the server is a WebSocket server with
//! a page attached, not a web server.

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use wsconform_wire::http_response;

/// A static file compiled into the binary, so `cargo install` users get the
/// chat page without any files next to the executable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Asset {
    /// The `Content-Type` to serve it with.
    pub(crate) content_type: &'static str,
    /// The file's bytes.
    pub(crate) body: &'static [u8],
}

/// The chat page of the lecture.
const INDEX_HTML: Asset = Asset {
    content_type: "text/html; charset=utf-8",
    body: include_bytes!("../static/index.html"),
};

/// The chat page's script, kept in its own file so the page can forbid
/// inline scripts in its `Content-Security-Policy`.
const CHAT_JS: Asset = Asset {
    content_type: "text/javascript; charset=utf-8",
    body: include_bytes!("../static/chat.js"),
};

/// What a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    /// A static file, served with `GET`.
    Asset(Asset),
    /// The chat room: a WebSocket endpoint.
    Chat,
    /// The echo endpoint: a WebSocket endpoint.
    Echo,
    /// A static file asked for with another method than `GET`.
    MethodNotAllowed,
    /// Nothing lives at this path.
    NotFound,
}

/// Why no request head could be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HeadError {
    /// The head did not end within the size limit.
    #[error("request head is larger than {limit} bytes")]
    TooLarge {
        /// The configured limit.
        limit: usize,
    },
    /// The peer closed the connection before the head was complete.
    #[error("peer closed the connection during the request head")]
    Closed,
    /// Reading from the socket failed.
    #[error("reading the request head failed: {0}")]
    Io(#[from] std::io::Error),
}

// ANCHOR: read_head
/// Reads from `stream` into `buf` until `buf` holds a whole request head,
/// and returns the head's length. Bytes after the head (a client may send
/// its first WebSocket frame right behind the request) stay in `buf`.
///
/// The size check happens on every read, so a peer that sends an endless
/// header line is refused after `max_size` bytes, not after it has filled
/// the server's memory. (The *time* limit is applied by the caller, around
/// this whole function.)
pub(crate) async fn read_head(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    max_size: usize,
) -> Result<usize, HeadError> {
    let mut chunk = [0u8; 2048];
    // Where to resume looking for the blank line: a peer that trickles its
    // head byte by byte must not make us rescan the whole buffer each time.
    let mut scanned = 0;
    loop {
        if let Some(end) = head_end(buf.get(scanned..).unwrap_or_default()) {
            let end = scanned + end;
            if end > max_size {
                return Err(HeadError::TooLarge { limit: max_size });
            }
            return Ok(end);
        }
        if buf.len() > max_size {
            return Err(HeadError::TooLarge { limit: max_size });
        }
        // The blank line may start in the last three bytes seen so far.
        scanned = buf.len().saturating_sub(3);
        // Never read more than one byte past the limit: that one byte is
        // enough to know the limit was broken.
        let room = max_size
            .saturating_add(1)
            .saturating_sub(buf.len())
            .min(chunk.len());
        let into = chunk.get_mut(..room).unwrap_or_default();
        let n = stream.read(into).await?;
        if n == 0 {
            return Err(HeadError::Closed);
        }
        buf.extend_from_slice(into.get(..n).unwrap_or_default());
    }
}
// ANCHOR_END: read_head

/// The length of the request head at the start of `buf` (up to and including
/// the blank line), if it is complete.
///
/// The head ends with an empty line. HTTP says lines end with CR LF, and
/// recommends accepting a bare LF too (RFC 9112 §2.2), as the handshake
/// parser does, so both `\r\n\r\n` and `\n\n` end a head.
pub(crate) fn head_end(buf: &[u8]) -> Option<usize> {
    let mut pos = 0;
    while let Some(&byte) = buf.get(pos) {
        if byte == b'\n' {
            match (buf.get(pos + 1), buf.get(pos + 2)) {
                (Some(b'\n'), _) => return Some(pos + 2),
                (Some(b'\r'), Some(b'\n')) => return Some(pos + 3),
                _ => {}
            }
        }
        pos += 1;
    }
    None
}

/// Routes a request on its request line (`GET /path HTTP/1.1`).
///
/// Returns `Err` with a short reason when the request line is not HTTP at
/// all; the caller answers `400 Bad Request`.
pub(crate) fn route(head: &[u8]) -> Result<Route, &'static str> {
    let line_end = head
        .iter()
        .position(|&b| b == b'\r' || b == b'\n')
        .unwrap_or(head.len());
    let line = head.get(..line_end).unwrap_or_default();
    let line = std::str::from_utf8(line).map_err(|_| "request line is not text")?;
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("request line must be METHOD TARGET HTTP/1.1");
    };
    if !version.starts_with("HTTP/1.") || method.is_empty() {
        return Err("not an HTTP/1.x request");
    }
    // The query string does not choose the resource.
    let path = target.split('?').next().unwrap_or(target);
    let route = match path {
        "/socket" => Route::Chat,
        "/echo" => Route::Echo,
        "/" | "/index.html" => Route::Asset(INDEX_HTML),
        "/chat.js" => Route::Asset(CHAT_JS),
        _ => return Ok(Route::NotFound),
    };
    if matches!(route, Route::Asset(_)) && method != "GET" {
        return Ok(Route::MethodNotAllowed);
    }
    Ok(route)
}

/// The `200 OK` response carrying `asset`.
pub(crate) fn asset_response(asset: Asset) -> Vec<u8> {
    http_response(
        200,
        "OK",
        &[
            ("Content-Type", asset.content_type),
            // Scripts only from this server, sockets only to this server.
            (
                "Content-Security-Policy",
                "default-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self' ws: wss:",
            ),
            ("X-Content-Type-Options", "nosniff"),
            ("Cache-Control", "no-cache"),
        ],
        asset.body,
    )
}

/// A plain-text error response: status, reason phrase and a one-line body.
pub(crate) fn error_response(status: u16, reason: &str, body: &str) -> Vec<u8> {
    http_response(
        status,
        reason,
        &[("Content-Type", "text/plain; charset=utf-8")],
        format!("{body}\n").as_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_on_the_path_only() {
        assert_eq!(route(b"GET /socket HTTP/1.1\r\n\r\n"), Ok(Route::Chat));
        assert_eq!(route(b"GET /echo?x=1 HTTP/1.1\r\n\r\n"), Ok(Route::Echo));
        assert_eq!(
            route(b"GET / HTTP/1.1\r\n\r\n"),
            Ok(Route::Asset(INDEX_HTML))
        );
        assert_eq!(
            route(b"GET /chat.js HTTP/1.1\r\n"),
            Ok(Route::Asset(CHAT_JS))
        );
        assert_eq!(route(b"GET /nope HTTP/1.1\r\n\r\n"), Ok(Route::NotFound));
        assert_eq!(
            route(b"POST / HTTP/1.1\r\n\r\n"),
            Ok(Route::MethodNotAllowed)
        );
        // The WebSocket paths are validated later, by the handshake rules,
        // which answer a wrong method with 405 themselves.
        assert_eq!(route(b"POST /echo HTTP/1.1\r\n\r\n"), Ok(Route::Echo));
    }

    #[test]
    fn refuses_what_is_not_http() {
        assert!(route(b"\x16\x03\x01\x02\x00").is_err());
        assert!(route(b"GET /\r\n\r\n").is_err());
        assert!(route(b"GET / SPDY/3\r\n\r\n").is_err());
        assert!(route(b"GET  / HTTP/1.1\r\n\r\n").is_err());
        assert!(route(b"").is_err());
    }

    #[test]
    fn finds_the_end_of_the_head() {
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n\x81"), Some(27));
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nHost: a\r\n"), None);
        assert_eq!(head_end(b""), None);
        assert_eq!(head_end(b"GET / HTTP/1.1\nHost: a\n\n"), Some(24));
        assert_eq!(head_end(b"\n\n"), Some(2));
        assert_eq!(head_end(b"x\r\n\r"), None);
    }

    #[test]
    fn the_page_renders_messages_as_text() {
        let js = std::str::from_utf8(CHAT_JS.body).unwrap();
        assert!(js.contains("textContent"));
        assert!(
            !js.contains("innerHTML"),
            "never build markup from messages"
        );
        assert!(js.contains("new WebSocket('ws://' + location.host + '/socket')"));
        assert!(js.contains("JSON.stringify({ username, message })"));
        let html = std::str::from_utf8(INDEX_HTML.body).unwrap();
        assert!(html.contains(r#"<script src="/chat.js"></script>"#));
    }
}

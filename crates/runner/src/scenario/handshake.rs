//! The opening handshake a `handshake` step sends, and the header maps
//! that handshakes and refusals share.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use super::{Chunks, Dur, SendSpec};

/// The opening handshake a client sends.
///
/// The default is a correct RFC 6455 request for the target's host and path.
/// `headers` edits it: a value replaces the default header of that name (the
/// spelling you write is the spelling sent, so `upgrade: websocket` re-cases
/// it), a new name is added, and `null` removes the header. `raw` replaces the
/// whole request with your own text.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandshakeSpec {
    /// Request path; defaults to the target's path.
    pub path: Option<String>,
    /// Request method; defaults to `GET`.
    pub method: Option<String>,
    /// HTTP version after `HTTP/`; defaults to `1.1`.
    pub http: Option<String>,
    /// The `Sec-WebSocket-Extensions` offer, e.g.
    /// `permessage-deflate; client_max_window_bits` (RFC 7692). When the
    /// server accepts permessage-deflate, the connection speaks it: server
    /// messages are inflated and `send: { compress: true }` compresses.
    pub extensions: Option<String>,
    /// Header edits, in order: replace, add, or remove (`null`).
    #[serde(default, deserialize_with = "ordered_headers")]
    pub headers: Vec<(String, Option<String>)>,
    /// The whole request as text. `{host}`, `{path}` and `{key}` are
    /// substituted; lines ending in a bare newline are sent with CRLF.
    pub raw: Option<String>,
    /// Cut the request into separate writes, as a slow client does
    /// (`chunks: 1` is one byte at a time): a server must not take one
    /// `read` for the whole request.
    pub chunks: Option<Chunks>,
    /// Wait this long between the chunks.
    pub pause: Option<Dur>,
    /// A message or control frame sent right behind the request, in the same
    /// write, before the response is read: the eager client. RFC 6455 4.1
    /// asks a client to wait for the 101 first, but a server that reads the
    /// request with a large buffer must still not throw away what followed
    /// its blank line.
    pub then: Option<SendSpec>,
}

/// Header edits in the order written (a map would lose it), each value
/// read as text (or `null`: remove the header).
pub(super) fn ordered_headers<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Vec<(String, Option<String>)>, D::Error> {
    struct HeaderVisitor;
    impl<'de> Visitor<'de> for HeaderVisitor {
        type Value = Vec<(String, Option<String>)>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            write!(f, "a map of header names to values (or null to remove one)")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some((name, value)) = map.next_entry::<String, Option<ScalarText>>()? {
                out.push((name, value.map(|v| v.0)));
            }
            Ok(out)
        }
    }
    d.deserialize_map(HeaderVisitor)
}

/// A YAML scalar read as text, so `Sec-WebSocket-Version: 13` works unquoted.
#[derive(Debug, Clone)]
struct ScalarText(String);

// Hand-written: serde has no derive for "any scalar, as text".
impl<'de> Deserialize<'de> for ScalarText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ScalarVisitor;
        impl Visitor<'_> for ScalarVisitor {
            type Value = ScalarText;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(f, "a text, number or boolean")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_string()))
            }
        }
        d.deserialize_any(ScalarVisitor)
    }
}

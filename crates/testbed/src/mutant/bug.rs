//! The catalogue of classic bugs.

use std::fmt;
use std::str::FromStr;

/// One classic bug of a first WebSocket server. A mutant server carries
/// exactly one of them; everything else it does is correct.
///
/// Each variant documents where the bug lives and what a client sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bug {
    /// The `Sec-WebSocket-Accept` value is computed without the GUID:
    /// base64(SHA-1(key)) instead of base64(SHA-1(key + GUID)). Every
    /// client refuses the 101 response (RFC 6455 §4.2.2).
    WrongAcceptKey,
    /// The headers the server reads (`Upgrade`, `Connection`,
    /// `Sec-WebSocket-Key`) are looked up with their exact spelling in the
    /// RFC; a client writing `upgrade` or `sec-websocket-key` (header names
    /// are case-insensitive, RFC 7230 §3.2) gets 400.
    CaseSensitiveHeaders,
    /// The 16-bit extended payload length is read little-endian: a 300-byte
    /// frame (`01 2C`) is read as 11 265 bytes (RFC 6455 §5.2 says network
    /// byte order).
    LittleEndianLength,
    /// Only the 7-bit and 16-bit length forms are handled: a frame with the
    /// 64-bit form (127) makes the server drop the connection.
    No64BitLength,
    /// One `read` is assumed to hold exactly one whole frame: the frame is
    /// parsed from the bytes of a single read, bytes after it are thrown
    /// away, and a frame split across reads kills the connection.
    OneReadOneFrame,
    /// The FIN bit is ignored: every fragment is handled as a whole message,
    /// so a fragmented message is echoed piece by piece (RFC 6455 §5.4).
    FinIgnored,
    /// Pings get no pong (RFC 6455 §5.5.2 requires one).
    PingIgnored,
    /// A close frame is not answered with a close frame: the server just
    /// drops the TCP connection (RFC 6455 §5.5.1).
    CloseNotAnswered,
    /// The server masks its own frames, as if it were a client; every client
    /// must then fail the connection (RFC 6455 §5.1).
    MaskedServerFrames,
    /// Frames the server sends with a payload of 126..=65 535 bytes carry
    /// their 16-bit length little-endian (what `to_ne_bytes` gives on x86).
    WrongLongLength,
    /// Text messages are not checked for UTF-8: invalid bytes are echoed
    /// back instead of failing the connection with 1007 (RFC 6455 §8.1).
    NoUtf8Check,
    /// Unmasked client frames are accepted instead of failing the connection
    /// with 1002 (RFC 6455 §5.1).
    UnmaskedAccepted,
    /// A chat message is sent back to its sender only, not to the room.
    BroadcastToSenderOnly,
    /// The accept loop serves one connection to its end before accepting the
    /// next: a second client waits until the first one leaves.
    OneClientAtATime,
    /// permessage-deflate: RSV1 on a continuation frame is taken as part
    /// of the compressed message instead of failing the connection.
    Rsv1OnContinuation,
    /// permessage-deflate: the inflater is reset after every message
    /// although the client keeps its context.
    ContextTakeoverIgnored,
    /// permessage-deflate: `server_max_window_bits` in the offer is
    /// ignored: the answer leaves it out (RFC 7692 7.1.2.1 requires it)
    /// and the server compresses with a 32 KiB window.
    WindowBitsIgnored,
}

impl Bug {
    /// Every bug, in the order of the book's chapters.
    pub const ALL: [Bug; 17] = [
        Bug::WrongAcceptKey,
        Bug::CaseSensitiveHeaders,
        Bug::OneReadOneFrame,
        Bug::LittleEndianLength,
        Bug::No64BitLength,
        Bug::WrongLongLength,
        Bug::MaskedServerFrames,
        Bug::UnmaskedAccepted,
        Bug::NoUtf8Check,
        Bug::FinIgnored,
        Bug::PingIgnored,
        Bug::CloseNotAnswered,
        Bug::OneClientAtATime,
        Bug::BroadcastToSenderOnly,
        Bug::Rsv1OnContinuation,
        Bug::ContextTakeoverIgnored,
        Bug::WindowBitsIgnored,
    ];

    /// The bug's stable kebab-case name, used on the command line and in
    /// snapshots of which scenarios catch which mutant.
    pub fn name(self) -> &'static str {
        match self {
            Bug::WrongAcceptKey => "wrong-accept-key",
            Bug::CaseSensitiveHeaders => "case-sensitive-headers",
            Bug::LittleEndianLength => "little-endian-length",
            Bug::No64BitLength => "no-64-bit-length",
            Bug::OneReadOneFrame => "one-read-one-frame",
            Bug::FinIgnored => "fin-ignored",
            Bug::PingIgnored => "ping-ignored",
            Bug::CloseNotAnswered => "close-not-answered",
            Bug::MaskedServerFrames => "masked-server-frames",
            Bug::WrongLongLength => "wrong-long-length",
            Bug::NoUtf8Check => "no-utf8-check",
            Bug::UnmaskedAccepted => "unmasked-accepted",
            Bug::BroadcastToSenderOnly => "broadcast-to-sender-only",
            Bug::OneClientAtATime => "one-client-at-a-time",
            Bug::Rsv1OnContinuation => "rsv1-on-continuation",
            Bug::ContextTakeoverIgnored => "context-takeover-ignored",
            Bug::WindowBitsIgnored => "window-bits-ignored",
        }
    }

    /// The chapter of the book whose scenarios must catch this bug: the
    /// scenario folder `NN-<chapter>` (e.g. `03-lengths`), and the book page
    /// `<chapter>.md` whose exercises describe the bug. One of [`CHAPTERS`].
    ///
    /// [`CHAPTERS`]: crate::CHAPTERS
    pub fn chapter(self) -> &'static str {
        match self {
            Bug::WrongAcceptKey | Bug::CaseSensitiveHeaders => "handshake",
            Bug::OneReadOneFrame => "frames",
            Bug::LittleEndianLength | Bug::No64BitLength | Bug::WrongLongLength => "lengths",
            Bug::MaskedServerFrames | Bug::UnmaskedAccepted => "masking",
            Bug::NoUtf8Check => "text-utf8",
            Bug::FinIgnored => "fragmentation",
            Bug::PingIgnored => "ping-pong",
            Bug::CloseNotAnswered => "closing",
            Bug::BroadcastToSenderOnly => "chat",
            Bug::OneClientAtATime => "concurrency",
            Bug::Rsv1OnContinuation | Bug::ContextTakeoverIgnored | Bug::WindowBitsIgnored => {
                "compression"
            }
        }
    }

    /// One sentence saying what the bug does, for listings and reports.
    pub fn description(self) -> &'static str {
        match self {
            Bug::WrongAcceptKey => "Sec-WebSocket-Accept computed without the GUID",
            Bug::CaseSensitiveHeaders => "header names compared case-sensitively",
            Bug::LittleEndianLength => "16-bit payload length read little-endian",
            Bug::No64BitLength => "64-bit payload length unsupported: connection dropped",
            Bug::OneReadOneFrame => "one read assumed to be one whole frame",
            Bug::FinIgnored => "FIN ignored: each fragment handled as a message",
            Bug::PingIgnored => "no pong sent for a ping",
            Bug::CloseNotAnswered => "close frame not answered, TCP just dropped",
            Bug::MaskedServerFrames => "server frames masked",
            Bug::WrongLongLength => "16-bit length of server frames written little-endian",
            Bug::NoUtf8Check => "text messages not checked for UTF-8",
            Bug::UnmaskedAccepted => "unmasked client frames accepted",
            Bug::BroadcastToSenderOnly => "chat messages sent back to the sender only",
            Bug::OneClientAtATime => "one client served at a time",
            Bug::Rsv1OnContinuation => "RSV1 accepted on a continuation frame",
            Bug::ContextTakeoverIgnored => {
                "inflater reset after every message despite context takeover"
            }
            Bug::WindowBitsIgnored => {
                "server_max_window_bits dropped from the answer, 32 KiB window used"
            }
        }
    }
}

impl fmt::Display for Bug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A bug name that is not in [`Bug::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown bug {name:?}; known bugs: {known}")]
pub struct UnknownBug {
    /// The name that was asked for.
    pub name: String,
    /// The known names, comma-separated.
    pub known: String,
}

impl FromStr for Bug {
    type Err = UnknownBug;

    /// Parses a name given by [`Bug::name`].
    fn from_str(name: &str) -> Result<Bug, UnknownBug> {
        Bug::ALL
            .into_iter()
            .find(|bug| bug.name() == name)
            .ok_or_else(|| UnknownBug {
                name: name.to_owned(),
                known: Bug::ALL.map(Bug::name).join(", "),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_round_trip() {
        let mut names: Vec<&str> = Bug::ALL.iter().map(|b| b.name()).collect();
        for bug in Bug::ALL {
            assert_eq!(bug.name().parse::<Bug>(), Ok(bug));
            assert!(
                bug.name()
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            );
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Bug::ALL.len());
        let err = "off-by-one".parse::<Bug>().unwrap_err();
        assert!(err.to_string().contains("fin-ignored"));
    }

    #[test]
    fn chapters_are_from_the_documented_list() {
        for bug in Bug::ALL {
            assert!(crate::CHAPTERS.contains(&bug.chapter()), "{bug}");
        }
    }
}

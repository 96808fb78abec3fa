//! What a run is asked to do — mode, target, connections, size, when to stop —
//! and the bounds every setting is checked against before a socket opens.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::plan::Target;

use super::chat::chat_message_overhead;

/// The most connections one run may open (one process may hold at most
/// 20 000 open files on the machines this was written for).
pub const MAX_CONNECTIONS: usize = 19_000;
/// The largest message size.
pub const MAX_SIZE: usize = 16 << 20;
/// The longest a run may generate load (and the longest it may hold idle
/// connections).
pub const MAX_DURATION: Duration = Duration::from_secs(600);
/// The largest message count.
pub const MAX_COUNT: u64 = 1_000_000_000;

/// What the connections do; see the [module documentation](super).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Round trips: send a message, wait for the echo.
    Echo,
    /// Chat fan-out: one sender, every client receives every message.
    Chat,
    /// Open connections that send nothing.
    Idle,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Echo => "echo",
            Mode::Chat => "chat",
            Mode::Idle => "idle",
        })
    }
}

impl std::str::FromStr for Mode {
    type Err = String;

    fn from_str(text: &str) -> Result<Mode, String> {
        match text {
            "echo" => Ok(Mode::Echo),
            "chat" => Ok(Mode::Chat),
            "idle" => Ok(Mode::Idle),
            other => Err(format!("unknown mode '{other}': use echo, chat or idle")),
        }
    }
}

/// When a load run stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopCondition {
    /// After this much time of load (or of holding idle connections).
    After(Duration),
    /// After this many messages: round trips in echo mode, chat messages
    /// sent in chat mode.
    Count(u64),
}

/// Where the load goes: a WebSocket server or a raw TCP echo server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadEndpoint {
    /// A WebSocket server: `ws://HOST:PORT/PATH`.
    WebSocket(Target),
    /// A raw TCP echo server: `tcp://HOST:PORT`.
    Tcp {
        /// Host name or address.
        host: String,
        /// TCP port.
        port: u16,
    },
}

impl LoadEndpoint {
    /// Parses `ws://HOST:PORT/PATH` or `tcp://HOST:PORT`.
    pub fn parse(url: &str) -> Result<LoadEndpoint, BenchError> {
        if let Some(rest) = url.strip_prefix("tcp://") {
            let bad = || {
                BenchError::Target(format!(
                    "'{url}': write a raw TCP target like tcp://127.0.0.1:9000"
                ))
            };
            let (host, port) = rest.rsplit_once(':').ok_or_else(bad)?;
            let port = port.parse::<u16>().map_err(|_| bad())?;
            return Ok(LoadEndpoint::Tcp {
                host: host.to_owned(),
                port,
            });
        }
        Target::parse(url)
            .map(LoadEndpoint::WebSocket)
            .map_err(BenchError::Target)
    }

    /// Whether it speaks WebSocket (not a raw TCP echo).
    pub(super) fn is_websocket(&self) -> bool {
        matches!(self, LoadEndpoint::WebSocket(_))
    }

    /// The address to connect to.
    pub(super) fn host_port(&self) -> (&str, u16) {
        match self {
            LoadEndpoint::WebSocket(target) => (&target.host, target.port),
            LoadEndpoint::Tcp { host, port } => (host, *port),
        }
    }

    /// The endpoint written back as a URL (the report's `target`).
    pub(super) fn url(&self) -> String {
        match self {
            LoadEndpoint::WebSocket(t) => format!("ws://{}:{}{}", t.host, t.port, t.path),
            LoadEndpoint::Tcp { host, port } => format!("tcp://{host}:{port}"),
        }
    }
}

/// One run's settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where to send the load.
    pub endpoint: LoadEndpoint,
    /// How many connections.
    pub connections: usize,
    /// Payload bytes per message (in chat mode: bytes of the JSON text).
    pub size: usize,
    /// When to stop.
    pub stop: StopCondition,
    /// What the connections do.
    pub mode: Mode,
    /// A hard limit on the load phase, also in count mode: a server that
    /// stops answering ends the run after this long, as an incomplete run.
    pub deadline: Duration,
    /// What the echoed messages hold.
    pub payload: PayloadKind,
    /// Offer permessage-deflate and compress every message when the server
    /// accepts (a server that declines fails the run: the numbers would not
    /// be what was asked for). In idle mode every connection first sends
    /// one compressed message and reads its compressed echo, so the server
    /// holds the state a used connection holds.
    pub deflate: bool,
    /// Idle mode: one echo round trip on every connection before holding
    /// it, so a server's idle figure is that of a connection that was used.
    pub warm_up: bool,
}

/// What an echoed message holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PayloadKind {
    /// Pseudo-random bytes in a binary message: what no compressor shrinks.
    #[default]
    Random,
    /// Words of English prose in a text message: what chat and JSON traffic
    /// look like to a compressor.
    Text,
}

impl std::str::FromStr for PayloadKind {
    type Err = String;

    fn from_str(text: &str) -> Result<PayloadKind, String> {
        match text {
            "random" => Ok(PayloadKind::Random),
            "text" => Ok(PayloadKind::Text),
            other => Err(format!("unknown payload '{other}': use random or text")),
        }
    }
}

impl Settings {
    /// Settings with the defaults of `wsconform bench`: 64 connections,
    /// 64-byte messages, echo mode, 5 seconds, a 60-second deadline.
    pub fn new(endpoint: LoadEndpoint) -> Settings {
        Settings {
            endpoint,
            connections: 64,
            size: 64,
            stop: StopCondition::After(Duration::from_secs(5)),
            mode: Mode::Echo,
            deadline: Duration::from_secs(60),
            payload: PayloadKind::Random,
            deflate: false,
            warm_up: false,
        }
    }

    /// Refuses settings outside the bounds (and combinations that make no
    /// sense) with a message that says which limit and how to fix it.
    pub fn check(&self) -> Result<(), BenchError> {
        let out_of_bounds = |what: &'static str, value: u128, limit: u128| {
            Err(BenchError::OutOfBounds { what, value, limit })
        };
        if self.connections == 0 || self.connections > MAX_CONNECTIONS {
            return out_of_bounds(
                "connections",
                self.connections as u128,
                MAX_CONNECTIONS as u128,
            );
        }
        if self.size == 0 || self.size > MAX_SIZE {
            return out_of_bounds("size", self.size as u128, MAX_SIZE as u128);
        }
        match self.stop {
            StopCondition::After(d) if d.is_zero() || d > MAX_DURATION => {
                return out_of_bounds("duration (ms)", d.as_millis(), MAX_DURATION.as_millis());
            }
            StopCondition::Count(n) if n == 0 || n > MAX_COUNT => {
                return out_of_bounds("count", n.into(), MAX_COUNT.into());
            }
            StopCondition::Count(_) if self.mode == Mode::Idle => {
                return Err(BenchError::Usage(
                    "idle mode sends no messages: give it a --duration, not a --count".into(),
                ));
            }
            _ => {}
        }
        if self.deadline.is_zero() || self.deadline > MAX_DURATION {
            return out_of_bounds(
                "deadline (ms)",
                self.deadline.as_millis(),
                MAX_DURATION.as_millis(),
            );
        }
        if matches!(self.endpoint, LoadEndpoint::Tcp { .. }) && self.mode == Mode::Chat {
            return Err(BenchError::Usage(
                "chat mode needs a WebSocket chat server: use a ws://HOST:PORT/socket target"
                    .into(),
            ));
        }
        if self.deflate && (self.mode == Mode::Chat || !self.endpoint.is_websocket()) {
            return Err(BenchError::Usage(
                "--deflate compresses echo and idle connections to a ws:// target".into(),
            ));
        }
        if self.warm_up && (self.mode != Mode::Idle || !self.endpoint.is_websocket()) {
            return Err(BenchError::Usage(
                "--warm-up is one round trip before idle connections to a ws:// target".into(),
            ));
        }
        if self.mode == Mode::Chat && self.size < chat_message_overhead() {
            return Err(BenchError::Usage(format!(
                "a chat message with a timestamp needs at least {} bytes: use --size {} or more",
                chat_message_overhead(),
                chat_message_overhead()
            )));
        }
        Ok(())
    }
}

/// What can stop a run from starting or completing.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The target URL cannot be used.
    #[error("bad target: {0}")]
    Target(String),
    /// A setting is beyond its bound.
    #[error("{what} {value} is out of bounds: use 1 to {limit}")]
    OutOfBounds {
        /// Which setting.
        what: &'static str,
        /// The value given.
        value: u128,
        /// The largest value allowed.
        limit: u128,
    },
    /// Settings that do not go together.
    #[error("{0}")]
    Usage(String),
    /// This process may not open enough sockets.
    #[error(
        "{connections} connections need about {needed} open files but this process may open only {allowed} (ulimit -n); raise the limit or use fewer connections"
    )]
    TooFewFiles {
        /// Connections asked for.
        connections: usize,
        /// Files needed.
        needed: u64,
        /// The hard limit.
        allowed: u64,
    },
    /// A connection could not be opened or its handshake failed.
    #[error("connection {index} of {total}: {problem}")]
    Connect {
        /// Which connection (from 1).
        index: usize,
        /// How many were being opened.
        total: usize,
        /// What went wrong.
        problem: String,
    },
    /// The warm-up round trip failed on a connection.
    #[error("warm-up round trip: {0}")]
    WarmUp(String),
    /// The tokio runtime could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_out_of_bounds_are_refused() {
        let endpoint = LoadEndpoint::parse("ws://127.0.0.1:9/echo").unwrap();
        let mut settings = Settings::new(endpoint);
        assert!(settings.check().is_ok());
        settings.connections = MAX_CONNECTIONS + 1;
        assert!(matches!(
            settings.check(),
            Err(BenchError::OutOfBounds {
                what: "connections",
                ..
            })
        ));
        settings.connections = 1;
        settings.mode = Mode::Idle;
        settings.stop = StopCondition::Count(5);
        assert!(matches!(settings.check(), Err(BenchError::Usage(_))));
        settings.stop = StopCondition::After(Duration::from_secs(1));
        settings.deflate = true;
        assert!(settings.check().is_ok());
        settings.mode = Mode::Chat;
        settings.size = 1000;
        assert!(matches!(settings.check(), Err(BenchError::Usage(_))));
        settings.mode = Mode::Echo;
        settings.endpoint = LoadEndpoint::parse("tcp://127.0.0.1:7").unwrap();
        assert!(matches!(settings.check(), Err(BenchError::Usage(_))));
        settings.deflate = false;
        assert!(matches!(
            LoadEndpoint::parse("tcp://localhost"),
            Err(BenchError::Target(_))
        ));
        assert_eq!(
            LoadEndpoint::parse("tcp://127.0.0.1:7").unwrap(),
            LoadEndpoint::Tcp {
                host: "127.0.0.1".into(),
                port: 7
            }
        );
    }
}

//! # wsconform-testbed: servers that test the tests
//!
//! A conformance suite makes two promises: a correct server passes it, and a
//! wrong one fails it. This crate holds the servers that check both promises,
//! plus the baselines the benchmarks compare with.
//!
//! | server | start it with | what it is for |
//! |---|---|---|
//! | the **peer** | [`start_peer`] | an echo and chat server on tokio-tungstenite, sharing no code with `wsconform-wire`: every scenario must pass against it. Its `/echo` is also the benchmarks' tokio-tungstenite server |
//! | a **mutant** | [`start_mutant`] | a plain server on `wsconform-wire` with one classic [`Bug`] (or none: the baseline): each bug must fail at least one scenario of its chapter |
//! | fastwebsockets echo | [`start_fastwebsockets_echo`] | benchmark baseline: the fastest WebSocket library around |
//! | TCP echo | [`start_tcp_echo`] | benchmark baseline: the loopback limit, no WebSocket at all |
//! | the **client peer** and **client mutants** | [`client`] | clients for the client scenarios (`run --client-cmd`): tungstenite's, which must pass, and one [`client::ClientBug`] each, which must be caught |
//! | a **stuck** server | [`start_stuck`] | answers the handshake, then nothing ([`Stuck::BlackHole`]) or nothing after a few echoes ([`Stuck::StallAfter`]): the runner must grade it fast, with the same verdicts whatever its shortcuts |
//! | a **do-nothing** server | [`start_do_nothing`] | a correct handshake, then a hang-up (at once, or after a few unchecked echoes): what tricks earn is pinned |
//!
//! Every `start_*` function binds `127.0.0.1` on a free port, runs the
//! server in a spawned task, and returns the bound address with a
//! [`ShutdownHandle`]; dropping the handle stops the server. The `*_on`
//! variants bind a given address; [`start`] starts any [`Server`]. The
//! `wsconform-testbed` binary starts one from the command line:
//!
//! ```text
//! wsconform-testbed peer --port 0
//! wsconform-testbed mutant little-endian-length --port 9001
//! wsconform-testbed mutant baseline
//! wsconform-testbed fastwebsockets-echo
//! wsconform-testbed tcp-echo
//! wsconform-testbed black-hole
//! wsconform-testbed black-hole-one-at-a-time
//! wsconform-testbed refuse-only
//! wsconform-testbed stops-after-first
//! wsconform-testbed stall-after 3
//! wsconform-testbed do-nothing hang-up
//! wsconform-testbed list
//! ```
//!
//! It prints `listening on 127.0.0.1:PORT` and runs until Ctrl-C or SIGTERM.
//!
//! ## Endpoints
//!
//! The peer and the mutants serve `/echo` (every text and binary message
//! comes back unchanged) and `/socket` (the chat, see [`chat`]); other paths
//! are refused with 404.
//!
//! ## Chapters
//!
//! [`Bug::chapter`] names the book chapter whose scenarios must catch a bug.
//! It is the scenario folder without its number (`lengths` for
//! `scenarios/03-lengths`) and the book page (`lengths.md`), whose exercises
//! describe the same bugs. The names are [`CHAPTERS`]:
//!
//! | chapter | bugs |
//! |---|---|
//! | `handshake` | `wrong-accept-key`, `case-sensitive-headers` |
//! | `frames` | `one-read-one-frame` |
//! | `lengths` | `little-endian-length`, `no-64-bit-length`, `wrong-long-length` |
//! | `masking` | `masked-server-frames`, `unmasked-accepted` |
//! | `text-utf8` | `no-utf8-check` |
//! | `fragmentation` | `fin-ignored` |
//! | `ping-pong` | `ping-ignored` |
//! | `closing` | `close-not-answered` |
//! | `concurrency` | `one-client-at-a-time` |
//! | `chat` | `broadcast-to-sender-only` |
//! | `hardening` | (none: limits and hostile clients, no single classic bug) |
//! | `compression` | `rsv1-on-continuation`, `context-takeover-ignored`, `window-bits-ignored` |
//!
//! The mutants speak permessage-deflate (RFC 7692) through the wire crate
//! when a client offers it, so the compression chapter applies to them.

pub mod chat;
pub mod client;
mod do_nothing;
mod fastws;
mod mutant;
mod peer;
mod shutdown;
mod stuck;
mod tcp_echo;

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

pub use do_nothing::{DoNothing, UnknownDoNothing, start_do_nothing, start_do_nothing_on};
pub use fastws::{start_fastwebsockets_echo, start_fastwebsockets_echo_on};
pub use mutant::{Bug, UnknownBug, start_mutant, start_mutant_on};
pub use peer::{MAX_FRAME_SIZE, MAX_MESSAGE_SIZE, start_peer, start_peer_on, strict_config};
pub use shutdown::ShutdownHandle;
pub use stuck::{Stuck, start_stuck, start_stuck_on};
pub use tcp_echo::{start_tcp_echo, start_tcp_echo_on};

/// The chapters of the book in reading order; the scenario suite has one
/// folder per chapter, numbered in the same order (`01-handshake`,
/// `02-frames`, …). Every [`Bug::chapter`] is one of them.
pub const CHAPTERS: [&str; 12] = [
    "handshake",
    "frames",
    "lengths",
    "masking",
    "text-utf8",
    "fragmentation",
    "ping-pong",
    "closing",
    "concurrency",
    "chat",
    "hardening",
    "compression",
];

/// Any server of the testbed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    /// The tokio-tungstenite peer.
    Peer,
    /// A mutant; `None` is the bug-free baseline.
    Mutant(Option<Bug>),
    /// The fastwebsockets echo server.
    FastwebsocketsEcho,
    /// The raw TCP echo server.
    TcpEcho,
    /// A server that gets stuck after the handshake.
    Stuck(Stuck),
    /// A do-nothing server.
    DoNothing(DoNothing),
}

impl Server {
    /// A stable name: `peer`, `mutant:baseline`, `mutant:<bug name>`,
    /// `fastwebsockets-echo`, `tcp-echo`, `black-hole`, `black-hole-one-at-a-time`, `refuse-only`, `stops-after-first`, `stall-after:<n>`,
    /// `do-nothing:<kind>`. [`FromStr`] reads it back.
    pub fn name(self) -> String {
        match self {
            Server::Peer => "peer".to_owned(),
            Server::Mutant(None) => "mutant:baseline".to_owned(),
            Server::Mutant(Some(bug)) => format!("mutant:{}", bug.name()),
            Server::FastwebsocketsEcho => "fastwebsockets-echo".to_owned(),
            Server::TcpEcho => "tcp-echo".to_owned(),
            Server::Stuck(Stuck::BlackHole) => "black-hole".to_owned(),
            Server::Stuck(Stuck::OneAtATime) => "black-hole-one-at-a-time".to_owned(),
            Server::Stuck(Stuck::RefuseOnly) => "refuse-only".to_owned(),
            Server::Stuck(Stuck::StopsAfterFirst) => "stops-after-first".to_owned(),
            Server::Stuck(Stuck::StallAfter(n)) => format!("stall-after:{n}"),
            Server::DoNothing(kind) => format!("do-nothing:{kind}"),
        }
    }
}

impl fmt::Display for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// A server name that [`Server::from_str`] does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnknownServer {
    /// Not one of the server kinds.
    #[error(
        "unknown server {0:?}; use peer, mutant:baseline, mutant:<bug>, fastwebsockets-echo, tcp-echo, black-hole, black-hole-one-at-a-time, refuse-only, stops-after-first, stall-after:<n> or do-nothing:<kind>"
    )]
    Kind(String),
    /// `mutant:` followed by an unknown bug.
    #[error(transparent)]
    Bug(#[from] UnknownBug),
    /// `do-nothing:` followed by an unknown kind.
    #[error(transparent)]
    DoNothing(#[from] UnknownDoNothing),
}

impl FromStr for Server {
    type Err = UnknownServer;

    fn from_str(name: &str) -> Result<Server, UnknownServer> {
        match name {
            "peer" => Ok(Server::Peer),
            "fastwebsockets-echo" => Ok(Server::FastwebsocketsEcho),
            "tcp-echo" => Ok(Server::TcpEcho),
            "black-hole" => Ok(Server::Stuck(Stuck::BlackHole)),
            "black-hole-one-at-a-time" => Ok(Server::Stuck(Stuck::OneAtATime)),
            "refuse-only" => Ok(Server::Stuck(Stuck::RefuseOnly)),
            "stops-after-first" => Ok(Server::Stuck(Stuck::StopsAfterFirst)),
            "mutant:baseline" => Ok(Server::Mutant(None)),
            _ => {
                if let Some(bug) = name.strip_prefix("mutant:") {
                    return Ok(Server::Mutant(Some(bug.parse()?)));
                }
                if let Some(kind) = name.strip_prefix("do-nothing:") {
                    return Ok(Server::DoNothing(kind.parse()?));
                }
                match name.strip_prefix("stall-after:").map(str::parse) {
                    Some(Ok(n)) => Ok(Server::Stuck(Stuck::StallAfter(n))),
                    _ => Err(UnknownServer::Kind(name.to_owned())),
                }
            }
        }
    }
}

/// Starts `server` on `addr` (port 0 picks a free port).
pub async fn start(
    server: Server,
    addr: SocketAddr,
) -> std::io::Result<(SocketAddr, ShutdownHandle)> {
    match server {
        Server::Peer => start_peer_on(addr).await,
        Server::Mutant(bug) => start_mutant_on(bug, addr).await,
        Server::FastwebsocketsEcho => start_fastwebsockets_echo_on(addr).await,
        Server::TcpEcho => start_tcp_echo_on(addr).await,
        Server::Stuck(stuck) => start_stuck_on(stuck, addr).await,
        Server::DoNothing(kind) => start_do_nothing_on(kind, addr).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_names_round_trip() {
        let mut servers = vec![
            Server::Peer,
            Server::Mutant(None),
            Server::FastwebsocketsEcho,
            Server::TcpEcho,
            Server::Stuck(Stuck::BlackHole),
            Server::Stuck(Stuck::OneAtATime),
            Server::Stuck(Stuck::RefuseOnly),
            Server::Stuck(Stuck::StopsAfterFirst),
            Server::Stuck(Stuck::StallAfter(3)),
        ];
        servers.extend(Bug::ALL.map(|bug| Server::Mutant(Some(bug))));
        servers.extend(DoNothing::ALL.map(Server::DoNothing));
        for server in servers {
            assert_eq!(server.name().parse::<Server>(), Ok(server));
        }
        assert!(matches!(
            "mutant:nope".parse::<Server>(),
            Err(UnknownServer::Bug(_))
        ));
        assert!(matches!(
            "apache".parse::<Server>(),
            Err(UnknownServer::Kind(_))
        ));
        assert!(matches!(
            "do-nothing:hang-up-after-x".parse::<Server>(),
            Err(UnknownServer::DoNothing(_))
        ));
    }
}

//! `wsconform-testbed`: start one testbed server from the command line.
//!
//! It prints `listening on 127.0.0.1:PORT` once the port is bound (so a
//! script can wait for that line and read the port from it) and runs until
//! Ctrl-C or SIGTERM, then exits with status 0.

use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use wsconform_testbed::{Bug, CHAPTERS, DoNothing, Server, Stuck, client, start};

/// Servers that validate the wsconform scenario suite.
#[derive(Debug, Parser)]
#[command(name = "wsconform-testbed", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The tokio-tungstenite echo + chat peer (/echo, /socket).
    Peer(Listen),
    /// A mutant with one classic bug, or `baseline` for none (/echo, /socket).
    Mutant {
        /// A bug name (see `list`) or `baseline`.
        bug: String,
        #[command(flatten)]
        listen: Listen,
    },
    /// The fastwebsockets echo server (echoes on every path).
    FastwebsocketsEcho(Listen),
    /// The raw TCP echo server (no WebSocket).
    TcpEcho(Listen),
    /// Answers the opening handshake, then never sends a byte.
    BlackHole(Listen),
    /// A black hole that serves one connection at a time (a plain accept loop).
    BlackHoleOneAtATime(Listen),
    /// Answers no valid frame; fails a connection whose frames break a rule.
    RefuseOnly(Listen),
    /// A one-at-a-time black hole that serves nobody after its first client.
    StopsAfterFirst(Listen),
    /// Echoes the first N messages of each connection, then never sends a byte.
    StallAfter {
        /// Messages echoed before the server goes quiet.
        n: usize,
        #[command(flatten)]
        listen: Listen,
    },
    /// A do-nothing server: hang-up, hang-up-after-N or echo-unchecked.
    DoNothing {
        /// When it hangs up.
        kind: String,
        #[command(flatten)]
        listen: Listen,
    },
    /// Lists the mutants' bugs with their chapters.
    List,
    /// The tungstenite echo client: connects to URL, echoes until the server closes.
    ClientPeer {
        /// The ws:// URL to connect to.
        url: String,
    },
    /// A client with one classic bug (see `list`), connecting to URL.
    ClientMutant {
        /// The bug.
        bug: String,
        /// The ws:// URL to connect to.
        url: String,
    },
}

#[derive(Debug, Args)]
struct Listen {
    /// Port to listen on; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Address to listen on.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    host: IpAddr,
}

impl Listen {
    fn addr(&self) -> SocketAddr {
        SocketAddr::new(self.host, self.port)
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let (server, listen) = match cli.command {
        Command::List => {
            print_bugs();
            return ExitCode::SUCCESS;
        }
        Command::ClientPeer { url } => return client_exit(client::run_peer(&url)),
        Command::ClientMutant { bug, url } => {
            return match client::ClientBug::parse(&bug) {
                Ok(bug) => client_exit(client::run_mutant(bug, &url)),
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(2)
                }
            };
        }
        Command::Peer(listen) => (Server::Peer, listen),
        Command::FastwebsocketsEcho(listen) => (Server::FastwebsocketsEcho, listen),
        Command::TcpEcho(listen) => (Server::TcpEcho, listen),
        Command::BlackHole(listen) => (Server::Stuck(Stuck::BlackHole), listen),
        Command::BlackHoleOneAtATime(listen) => (Server::Stuck(Stuck::OneAtATime), listen),
        Command::RefuseOnly(listen) => (Server::Stuck(Stuck::RefuseOnly), listen),
        Command::StopsAfterFirst(listen) => (Server::Stuck(Stuck::StopsAfterFirst), listen),
        Command::StallAfter { n, listen } => (Server::Stuck(Stuck::StallAfter(n)), listen),
        Command::DoNothing { kind, listen } => match kind.parse::<DoNothing>() {
            Ok(kind) => (Server::DoNothing(kind), listen),
            Err(error) => {
                eprintln!("error: {error}");
                return ExitCode::from(2);
            }
        },
        Command::Mutant { bug, listen } => {
            let bug = match bug.as_str() {
                "baseline" => None,
                name => match name.parse::<Bug>() {
                    Ok(bug) => Some(bug),
                    Err(error) => {
                        eprintln!("error: {error} (or baseline)");
                        return ExitCode::from(2);
                    }
                },
            };
            (Server::Mutant(bug), listen)
        }
    };
    // Listen for the stop signals *before* telling anyone we are up: a parent
    // that reads the line below may send SIGTERM at once, and a signal that
    // arrives before its handler exists kills the process with no clean exit.
    let stopped = match stop_signals() {
        Ok(stopped) => stopped,
        Err(error) => {
            eprintln!("error: cannot wait for a stop signal: {error}");
            return ExitCode::FAILURE;
        }
    };
    let (addr, handle) = match start(server, listen.addr()).await {
        Ok(started) => started,
        Err(error) => {
            eprintln!(
                "error: cannot listen on {}: {error} (is the port in use? try --port 0)",
                listen.addr()
            );
            return ExitCode::FAILURE;
        }
    };
    println!("listening on {addr}");
    // A parent process reads this line through a pipe: send it now.
    let _ = std::io::stdout().flush();
    if let Err(error) = stopped.await {
        eprintln!("error: cannot wait for a stop signal: {error}");
        return ExitCode::FAILURE;
    }
    handle.shutdown().await;
    ExitCode::SUCCESS
}

/// Installs the handlers for Ctrl-C (SIGINT) and, on Unix, SIGTERM, and
/// returns a future that completes when either arrives.
fn stop_signals() -> std::io::Result<impl std::future::Future<Output = std::io::Result<()>>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate())?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        Ok(async move {
            tokio::select! {
                _ = interrupt.recv() => Ok(()),
                _ = terminate.recv() => Ok(()),
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(tokio::signal::ctrl_c())
    }
}

/// A client's exit: 0 after a closing handshake, 1 with the reason otherwise.
fn client_exit(result: Result<(), String>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("client: {e}");
            ExitCode::FAILURE
        }
    }
}

fn print_bugs() {
    for chapter in CHAPTERS {
        for bug in Bug::ALL.iter().filter(|bug| bug.chapter() == chapter) {
            println!("{:<26} {:<14} {}", bug.name(), chapter, bug.description());
        }
    }
    for bug in client::ClientBug::ALL {
        println!("{:<26} {:<14} (client-mutant)", bug.name(), "client");
    }
}

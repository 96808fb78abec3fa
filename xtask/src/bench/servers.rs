//! The processes of a benchmark: the servers compared, started pinned to
//! a core and killed when dropped.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// The servers compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Reference,
    TcpEcho,
    Tungstenite,
    Fastwebsockets,
    /// The slowest mutant to grade: it assumes one frame per read.
    SlowestMutant,
    /// Answers the handshake, then never sends a byte.
    BlackHole,
    /// A black hole that serves one connection at a time.
    BlackHoleOneAtATime,
}

pub const SERVERS: [Kind; 4] = [
    Kind::Reference,
    Kind::TcpEcho,
    Kind::Tungstenite,
    Kind::Fastwebsockets,
];

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Reference => "reference",
            Kind::TcpEcho => "tcp-echo",
            Kind::Tungstenite => "tokio-tungstenite",
            Kind::Fastwebsockets => "fastwebsockets",
            Kind::SlowestMutant => "mutant one-read-one-frame",
            Kind::BlackHole => "black hole",
            Kind::BlackHoleOneAtATime => "black hole, one client at a time",
        }
    }

    pub fn echo_url(self, addr: &str) -> String {
        match self {
            Kind::TcpEcho => format!("tcp://{addr}"),
            _ => format!("ws://{addr}/echo"),
        }
    }

    /// The chat URL of the servers that have a chat room.
    pub fn chat_url(self, addr: &str) -> Option<String> {
        match self {
            Kind::Reference | Kind::Tungstenite => Some(format!("ws://{addr}/socket")),
            Kind::TcpEcho
            | Kind::Fastwebsockets
            | Kind::SlowestMutant
            | Kind::BlackHole
            | Kind::BlackHoleOneAtATime => None,
        }
    }
}

/// The programs the benchmark starts.
pub struct Binaries {
    /// The `wsconform` CLI (the load generator and the suite).
    pub wsconform: PathBuf,
    /// `wsconform-testbed`: the baselines.
    pub testbed: PathBuf,
    /// `wsconform-server`.
    pub server: PathBuf,
}

/// Raises this process's soft limit on open files to its hard limit, so
/// the servers and the load generator (its children) inherit it. Returns
/// the limit in force.
pub fn raise_open_files() -> u64 {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) if soft < hard => {
            if setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
                hard
            } else {
                soft
            }
        }
        Ok((soft, _)) => soft,
        Err(_) => 0,
    }
}

/// Pins processes to cores with `taskset` (util-linux) when there is one
/// and at least two cores; otherwise runs them unpinned and says so.
pub struct Pinning {
    /// Whether processes are pinned.
    pub enabled: bool,
}

impl Pinning {
    pub fn detect() -> Pinning {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let taskset = Command::new("taskset")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        Pinning {
            enabled: taskset && cores >= 2,
        }
    }

    pub fn describe(&self, core: usize) -> String {
        if self.enabled {
            format!("core {core}")
        } else {
            "any core (not pinned: no taskset or one core)".into()
        }
    }

    /// A command for `program`, pinned to `core`.
    pub fn command(&self, core: usize, program: &Path) -> Command {
        if self.enabled {
            let mut command = Command::new("taskset");
            command.arg("-c").arg(core.to_string()).arg(program);
            command
        } else {
            Command::new(program)
        }
    }
}

/// A server process; killed when dropped.
pub struct Running {
    child: Child,
    /// `host:port` it listens on.
    pub addr: String,
}

impl Running {
    pub fn start(kind: Kind, bins: &Binaries, pinning: &Pinning) -> Result<Running> {
        let mut command = match kind {
            Kind::Reference => {
                let mut c = pinning.command(0, &bins.server);
                c.args([
                    "--port",
                    "0",
                    "--max-connections",
                    "19000",
                    "--max-connections-per-address",
                    "19000",
                ]);
                c.env("RUST_LOG", "warn");
                c
            }
            _ => {
                let mut c = pinning.command(0, &bins.testbed);
                c.args(match kind {
                    Kind::TcpEcho => &["tcp-echo"][..],
                    Kind::Tungstenite => &["peer"],
                    Kind::SlowestMutant => &["mutant", "one-read-one-frame"],
                    Kind::BlackHole => &["black-hole"],
                    Kind::BlackHoleOneAtATime => &["black-hole-one-at-a-time"],
                    _ => &["fastwebsockets-echo"],
                });
                c.args(["--port", "0"]);
                c
            }
        };
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("cannot start the {} server", kind.name()))?;
        let Some(stdout) = child.stdout.take() else {
            bail!("no stdout from the {} server", kind.name());
        };
        let lines = read_lines(stdout);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(addr) = line.trim().strip_prefix("listening on ") {
                        return Ok(Running {
                            child,
                            addr: addr.to_owned(),
                        });
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    bail!(
                        "the {} server did not say 'listening on' in 20 s",
                        kind.name()
                    );
                }
            }
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads a child's output line by line on a thread (which also keeps the
/// pipe drained, so the child never blocks on a full pipe).
pub fn read_lines(output: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(output).lines() {
            let Ok(line) = line else { break };
            if send.send(line).is_err() {
                // Nobody listens any more; keep draining.
                continue;
            }
        }
    });
    receive
}

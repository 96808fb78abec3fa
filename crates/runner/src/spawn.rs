//! `--spawn`: starting the server under test, and always stopping it.
//!
//! The command runs under `sh -c` in a **process group of its own**. That is
//! the point: a target started as `cargo run -p server` is cargo, which starts
//! the real server as a child; killing only the process we started would
//! leave the server running and holding the port. Signalling the whole group
//! reaches every process the command started, forked children included.
//!
//! The group is stopped on every way out: [`SpawnedTarget::stop`] on the
//! normal paths (and after Ctrl-C), and `Drop` as the last resort when the
//! runner returns early with an error or unwinds from a panic.

use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::time::Instant;

/// Why the target could not be started or did not become ready.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    /// The shell could not be started.
    #[error("cannot start `{command}`: {source}")]
    Start {
        /// The command.
        command: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The target exited before its port opened.
    #[error("the target `{command}` exited ({status}) before accepting connections on {addr}")]
    Exited {
        /// The command.
        command: String,
        /// How it exited.
        status: String,
        /// The address waited for.
        addr: String,
    },
    /// The port did not open in time.
    #[error(
        "the target `{command}` did not accept connections on {addr} within {secs} s; \
         check the port, or raise --ready-timeout if it builds slowly"
    )]
    NotReady {
        /// The command.
        command: String,
        /// The address waited for.
        addr: String,
        /// The timeout in seconds.
        secs: u64,
    },
}

/// A target started with `--spawn`, in its own process group.
#[derive(Debug)]
pub struct SpawnedTarget {
    command: String,
    child: Child,
    group: Option<Pid>,
}

fn forward<R: AsyncRead + Unpin + Send + 'static>(reader: R, prefix: String) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(reader).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            eprintln!("{prefix} {line}");
        }
    });
}

impl SpawnedTarget {
    /// Starts `command` with `sh -c` in a new process group; its output is
    /// shown on stderr, each line under `prefix`.
    pub fn start(command: &str, prefix: &str) -> Result<SpawnedTarget, SpawnError> {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(command)
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| SpawnError::Start {
                command: command.to_string(),
                source,
            })?;
        // With process_group(0) the group id is the child's pid.
        let group = child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .map(Pid::from_raw);
        if let Some(out) = child.stdout.take() {
            forward(out, prefix.to_string());
        }
        if let Some(err) = child.stderr.take() {
            forward(err, prefix.to_string());
        }
        Ok(SpawnedTarget {
            command: command.to_string(),
            child,
            group,
        })
    }

    /// The process group id (the shell's pid).
    pub fn group_id(&self) -> Option<i32> {
        self.group.map(Pid::as_raw)
    }

    /// Waits until `addr` accepts TCP connections, the target exits, or `timeout` passes.
    pub async fn wait_ready(&mut self, addr: &str, timeout: Duration) -> Result<(), SpawnError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(SpawnError::Exited {
                    command: self.command.clone(),
                    status: status.to_string(),
                    addr: addr.to_string(),
                });
            }
            let attempt =
                tokio::time::timeout(Duration::from_millis(500), TcpStream::connect(addr));
            if let Ok(Ok(_)) = attempt.await {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(SpawnError::NotReady {
                    command: self.command.clone(),
                    addr: addr.to_string(),
                    secs: timeout.as_secs(),
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the whole group: SIGTERM, a short grace period, then SIGKILL.
    pub async fn stop(&mut self) {
        let Some(group) = self.group else {
            return;
        };
        let _ = killpg(group, Signal::SIGTERM);
        let _ = tokio::time::timeout(Duration::from_secs(2), self.child.wait()).await;
        // Children that ignored SIGTERM, or outlived the shell, still share the group.
        let _ = killpg(group, Signal::SIGKILL);
        let _ = tokio::time::timeout(Duration::from_secs(1), self.child.wait()).await;
        self.group = None;
    }
}

impl Drop for SpawnedTarget {
    fn drop(&mut self) {
        if let Some(group) = self.group.take() {
            let _ = killpg(group, Signal::SIGKILL);
        }
    }
}

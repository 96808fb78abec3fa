//! `--spawn`: starting the server under test, and always stopping it.
//!
//! The target must not outlive the runner, however the runner ends: a run
//! that finishes, Ctrl-C, `SIGTERM`, `SIGHUP`, or `SIGKILL` of the runner,
//! which no code in the runner can answer. An orphaned target keeps its port
//! and is graded by the next run in place of the server that run meant to
//! start.
//!
//! # A supervising process
//!
//! The runner does not start the command itself. It starts a copy of its
//! own program in a hidden mode ([`SUPERVISE_ARG`], served by
//! [`supervise_if_asked`]), and that small **supervisor** starts the command
//! with `sh -c` in a **process group of its own**. The runner holds the
//! write end of a pipe that is the supervisor's standard input and never
//! writes to it. When the runner ends *in any way* the kernel closes that
//! pipe, the supervisor reads end-of-file, and it stops everything the
//! command started: `SIGTERM` to the group and to every descendant, a grace
//! period of [`GRACE`], then `SIGKILL`, until none is left. The supervisor
//! does the same when it is signalled itself (`SIGINT`, `SIGTERM`,
//! `SIGHUP`), and when the command's shell exits (then with its status, so
//! the runner learns that the target died early).
//!
//! Why not `PR_SET_PDEATHSIG` on the command? It fires when the *thread*
//! that forked exits (tokio retires idle threads), and it reaches only the
//! direct child, while `sh -c` grandchildren and anything that calls
//! `setsid` escape.
//!
//! # What is covered, and what is not
//!
//! - Every process in the command's process group (`cargo run` and the
//!   server it starts, `sleep 300 &` in the command line).
//! - Descendants that left the group (`setsid`, `setpgid`) and daemons that
//!   double-fork: the supervisor is a *child subreaper*
//!   (`PR_SET_CHILD_SUBREAPER`), so orphans are re-parented to it instead of
//!   to init, and it finds every descendant through `/proc` by parentage.
//! - Not covered: a process the command has *another* program start (a
//!   service manager, `at`, a container runtime): it is no descendant. A PID
//!   namespace or a cgroup would contain even those, but needs root or user
//!   namespaces and is not used. And if the supervisor itself is killed with
//!   `SIGKILL` (not the runner: the supervisor), the target is left running.
//!
//! # A port already in use
//!
//! Before starting anything, [`refuse_busy_port`] checks that nothing
//! accepts connections on the target's address, and names the process that
//! holds it when `/proc` can tell: a run that waited for "the port to open"
//! would otherwise grade that process.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::process::{ExitCode, Stdio};
use std::time::Duration;

use nix::sys::signal::{SigSet, Signal, kill, killpg};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, ChildStdin, Command};
use tokio::time::Instant;

/// The hidden first argument that runs a program as the supervisor of a
/// spawned target.
pub const SUPERVISE_ARG: &str = "__supervise";

/// How long the target's processes get to stop after `SIGTERM` before they
/// are killed with `SIGKILL`.
pub const GRACE: Duration = Duration::from_secs(2);

/// Why the target could not be started or did not become ready.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    /// The supervisor could not be started.
    #[error("cannot start `{command}`: {source}")]
    Start {
        /// The command.
        command: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// Something already accepts connections on the target's address.
    #[error(
        "{addr} is already in use{holder}: stop that process first, or test another port \
         (a run would grade it instead of `{command}`)"
    )]
    PortInUse {
        /// The command that was to be started.
        command: String,
        /// The address.
        addr: String,
        /// " by process PID (COMMAND LINE)", when `/proc` tells.
        holder: String,
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

/// A target started with `--spawn`, under its supervisor.
#[derive(Debug)]
pub struct SpawnedTarget {
    command: String,
    /// The supervisor process.
    supervisor: Child,
    /// The pipe whose closing tells the supervisor to stop the target.
    /// Dropped (closed) by [`SpawnedTarget::stop`], by `Drop`, and by the
    /// kernel when the runner dies.
    lifeline: Option<ChildStdin>,
}

fn forward<R: AsyncRead + Unpin + Send + 'static>(reader: R, prefix: String) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(reader).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            eprintln!("{prefix} {line}");
        }
    });
}

/// Refuses to start a target when something already accepts connections on
/// `addr` (`HOST:PORT`), naming the process that listens there if it can.
pub async fn refuse_busy_port(command: &str, addr: &str) -> Result<(), SpawnError> {
    let probe = tokio::time::timeout(Duration::from_millis(500), TcpStream::connect(addr)).await;
    if !matches!(probe, Ok(Ok(_))) {
        return Ok(());
    }
    let port = addr
        .rsplit(':')
        .next()
        .and_then(|port| port.parse::<u16>().ok());
    let holder = port
        .and_then(listening_process)
        .map(|who| format!(" by {who}"))
        .unwrap_or_default();
    Err(SpawnError::PortInUse {
        command: command.to_string(),
        addr: addr.to_string(),
        holder,
    })
}

impl SpawnedTarget {
    /// Starts `command` with `sh -c` under a supervisor (this program run
    /// again with [`SUPERVISE_ARG`]: its `main` must call
    /// [`supervise_if_asked`] first). The target's output is shown on
    /// stderr, each line under `prefix`.
    pub fn start(command: &str, prefix: &str) -> Result<SpawnedTarget, SpawnError> {
        let start_error = |source| SpawnError::Start {
            command: command.to_string(),
            source,
        };
        let program = std::env::current_exe().map_err(start_error)?;
        let mut supervisor = Command::new(program)
            .arg(SUPERVISE_ARG)
            .arg(command)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Never SIGKILL the supervisor: it must live to stop the target.
            .kill_on_drop(false)
            .spawn()
            .map_err(start_error)?;
        let lifeline = supervisor.stdin.take();
        if let Some(out) = supervisor.stdout.take() {
            forward(out, prefix.to_string());
        }
        if let Some(err) = supervisor.stderr.take() {
            forward(err, prefix.to_string());
        }
        Ok(SpawnedTarget {
            command: command.to_string(),
            supervisor,
            lifeline,
        })
    }

    /// Waits until `addr` accepts TCP connections, the target exits, or `timeout` passes.
    pub async fn wait_ready(&mut self, addr: &str, timeout: Duration) -> Result<(), SpawnError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.supervisor.try_wait() {
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

    /// How the target's shell ended, once it has (`None` while it runs):
    /// a server that crashed while it was being tested.
    pub fn exited(&mut self) -> Option<String> {
        self.supervisor
            .try_wait()
            .ok()
            .flatten()
            .map(|status| status.to_string())
    }

    /// Stops every process of the target (`SIGTERM`, [`GRACE`], `SIGKILL`)
    /// and waits for the supervisor to confirm by exiting.
    pub async fn stop(&mut self) {
        // Closing the pipe is the signal.
        self.lifeline = None;
        let confirm = GRACE + Duration::from_secs(3);
        if tokio::time::timeout(confirm, self.supervisor.wait())
            .await
            .is_err()
        {
            // A supervisor that does not answer is stopped the hard way.
            let _ = self.supervisor.start_kill();
        }
    }
}

// Dropping a `SpawnedTarget` drops `lifeline`, which closes the pipe: the
// supervisor stops the target on its own, also when the runner unwinds
// from a panic or returns early with an error.

/// When this program was started as a supervisor (first argument
/// [`SUPERVISE_ARG`], then the command), supervises the command and returns
/// the exit code to end with; otherwise returns `None` at once.
///
/// Call it first thing in `main`, before any thread or runtime is started.
pub fn supervise_if_asked() -> Option<ExitCode> {
    let mut args = std::env::args_os().skip(1);
    if args.next()? != SUPERVISE_ARG {
        return None;
    }
    let command = args.next().unwrap_or_default();
    Some(supervise(command))
}

/// The supervisor: starts `command`, waits for the runner to go away, a
/// stop signal or the command's end, then stops every process it started.
fn supervise(command: OsString) -> ExitCode {
    // Orphaned descendants (setsid, double fork) become our children, not
    // init's, so they can be found and stopped. Best effort: without it,
    // the process group is still covered.
    #[cfg(target_os = "linux")]
    let _ = nix::sys::prctl::set_child_subreaper(true);

    // These signals are received synchronously with `sigwait` below, never
    // by a handler. Blocked before anything else starts, so none is lost.
    // (The standard library clears the signal mask of the processes it
    // starts, so the target receives them as usual.)
    let mut watched = SigSet::empty();
    for signal in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGCHLD,
        Signal::SIGUSR1,
    ] {
        watched.add(signal);
    }
    if let Err(error) = watched.thread_block() {
        eprintln!("supervisor: cannot block signals: {error}");
        return ExitCode::from(125);
    }

    let shell = std::process::Command::new("sh")
        .arg("-c")
        .arg(&command)
        .process_group(0)
        .stdin(Stdio::null())
        .spawn();
    let shell = match shell {
        Ok(shell) => shell,
        Err(error) => {
            eprintln!(
                "cannot start `sh -c {}`: {error}",
                command.to_string_lossy()
            );
            return ExitCode::from(127);
        }
    };
    // With process_group(0) the group id is the shell's pid.
    let Ok(group) = i32::try_from(shell.id()).map(Pid::from_raw) else {
        return ExitCode::from(125);
    };

    // End-of-file on standard input: the runner is gone. The watcher
    // thread turns it into a signal, so one `sigwait` sees every event.
    std::thread::spawn(|| {
        let mut sink = [0u8; 256];
        loop {
            match std::io::Read::read(&mut std::io::stdin(), &mut sink) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        let _ = kill(Pid::this(), Signal::SIGUSR1);
    });

    let code = loop {
        match watched.wait() {
            Ok(Signal::SIGCHLD) => {
                if let Some(code) = reap_children(group) {
                    break code;
                }
            }
            // The runner is gone, or we were told to stop.
            Ok(_) => break 0,
            Err(_) => {}
        }
    };
    stop_all(group);
    ExitCode::from(code)
}

/// Reaps every child that has exited; returns the shell's exit code once
/// the shell (`group`'s leader) is among them.
fn reap_children(group: Pid) -> Option<u8> {
    let mut shell_code = None;
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) if pid == group => {
                shell_code = Some(u8::try_from(code).unwrap_or(1));
            }
            Ok(WaitStatus::Signaled(pid, signal, _)) if pid == group => {
                shell_code = Some(128u8.saturating_add(signal as u8));
            }
            Ok(WaitStatus::StillAlive) | Err(_) => return shell_code,
            Ok(_) => {}
        }
    }
}

/// Stops the group and every descendant: `SIGTERM`, up to [`GRACE`] for
/// them to exit, then `SIGKILL` until none is left (bounded).
fn stop_all(group: Pid) {
    let signal_all = |signal| {
        let _ = killpg(group, signal);
        for pid in descendants(Pid::this()) {
            let _ = kill(pid, signal);
        }
    };
    signal_all(Signal::SIGTERM);
    if wait_all_gone(group, GRACE) {
        return;
    }
    for _ in 0..20 {
        signal_all(Signal::SIGKILL);
        if wait_all_gone(group, Duration::from_millis(250)) {
            return;
        }
    }
}

/// Reaps children until no descendant is left or `within` has passed;
/// returns whether none is left.
///
/// "None left" must be seen twice, 20 ms apart. One scan of `/proc` is not
/// atomic: it may read a child's parent before the parent's own entry, and
/// if the parent exits in between (or its pid is lower, after the pid
/// counter wrapped around), the child seems to belong to nobody. Its
/// re-parenting to us is complete when its parent has exited, so a second
/// scan, started later, sees it.
fn wait_all_gone(group: Pid, within: Duration) -> bool {
    let until = std::time::Instant::now() + within;
    let mut seen_empty = false;
    loop {
        let _ = reap_children(group);
        if descendants(Pid::this()).is_empty() {
            if seen_empty {
                return true;
            }
            seen_empty = true;
        } else {
            seen_empty = false;
        }
        if std::time::Instant::now() >= until {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Every live process whose chain of parents leads to `root`, read from
/// `/proc` (zombies are left out: they are gone, only not yet reaped).
/// Public for the tools that measure a target's whole tree (the grading
/// benchmark's memory).
pub fn descendants(root: Pid) -> Vec<Pid> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let parents: Vec<(i32, i32, bool)> = entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // "PID (COMM) STATE PPID ...": COMM may hold spaces and parens.
            let (_, rest) = stat.rsplit_once(')')?;
            let mut fields = rest.split_whitespace();
            let zombie = fields.next()? == "Z";
            let ppid = fields.next()?.parse().ok()?;
            Some((pid, ppid, zombie))
        })
        .collect();
    // Zombies link the chain (their children may not be re-parented yet)
    // but are not listed: they are gone, only not yet reaped.
    let mut found = vec![(root.as_raw(), true)];
    let mut i = 0;
    while let Some(&(parent, _)) = found.get(i) {
        for &(pid, ppid, zombie) in &parents {
            if ppid == parent && !found.iter().any(|&(f, _)| f == pid) {
                found.push((pid, zombie));
            }
        }
        i += 1;
    }
    found
        .into_iter()
        .skip(1)
        .filter(|&(_, zombie)| !zombie)
        .map(|(pid, _)| Pid::from_raw(pid))
        .collect()
}

/// "process PID (COMMAND LINE)" for the process that listens on TCP `port`,
/// if `/proc` tells (it does for processes this user may inspect).
fn listening_process(port: u16) -> Option<String> {
    let mut sockets = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(state), Some(inode)) =
                (fields.get(1), fields.get(3), fields.get(9))
            else {
                continue;
            };
            let local_port = local
                .rsplit(':')
                .next()
                .and_then(|hex| u16::from_str_radix(hex, 16).ok());
            // State 0A is LISTEN.
            if *state == "0A" && local_port == Some(port) {
                sockets.push(format!("socket:[{inode}]"));
            }
        }
    }
    if sockets.is_empty() {
        return None;
    }
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        let holds = fds.flatten().any(|fd| {
            std::fs::read_link(fd.path())
                .is_ok_and(|link| sockets.iter().any(|s| link.as_os_str() == s.as_str()))
        });
        if holds {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline)
                .split('\0')
                .filter(|part| !part.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            return Some(format!("process {pid} ({cmdline})"));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_busy_port_is_refused_and_its_holder_named() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let error = refuse_busy_port("my-server", &addr).await.unwrap_err();
        let message = error.to_string();
        assert!(message.contains(&addr), "{message}");
        assert!(
            message.contains(&format!("process {}", std::process::id())),
            "the holder is this test process: {message}"
        );
        drop(listener);
        assert!(refuse_busy_port("my-server", &addr).await.is_ok());
    }

    #[test]
    fn descendants_of_this_process_include_a_child_and_not_itself() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let found = descendants(Pid::this());
        let child_pid = Pid::from_raw(child.id() as i32);
        assert!(found.contains(&child_pid), "{found:?}");
        assert!(!found.contains(&Pid::this()));
        child.kill().unwrap();
        child.wait().unwrap();
    }
}

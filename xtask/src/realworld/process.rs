//! One library's echo server as a child process: started on a free loopback
//! port, waited for until it prints "ready", always stopped.

use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::catalogue::{Library, Runtime};
use super::install::Installed;
use crate::bench::servers::read_lines;

/// How long a server may take to say "ready" (an interpreter's start-up
/// and imports take well under a second; this only guards against a hang).
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A running server; killed when dropped, whatever happened meanwhile.
pub struct Server {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl Server {
    /// Starts `library`'s server with `runtime`, its output to `log`.
    pub fn start(library: &Library, runtime: &Installed, log: &Path) -> Result<Server> {
        let addr = free_port()?;
        let log_file =
            File::create(log).with_context(|| format!("cannot create {}", log.display()))?;
        let mut command = Command::new(&runtime.program);
        if library.runtime != Runtime::Rust {
            // An interpreter: the server file comes first. A Rust server is
            // the program itself.
            command.arg(library.script_path());
        }
        command
            .arg(addr.port().to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file);
        for (name, value) in &runtime.env {
            command.env(name, value);
        }
        let mut child = command
            .spawn()
            .with_context(|| format!("cannot start {}'s server", library.package))?;
        let Some(stdout) = child.stdout.take() else {
            bail!("no standard output from {}'s server", library.package);
        };
        // From here on the server is stopped on every path out.
        let server = Server { child, addr };
        let lines = read_lines(stdout);
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(line) if line.trim() == "ready" => return Ok(server),
                Ok(_) => continue,
                Err(_) => bail!(
                    "{}'s server did not print 'ready' within {} s (its log: {})",
                    library.package,
                    READY_TIMEOUT.as_secs(),
                    log.display()
                ),
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port nobody listens on now. The server binds it a moment
/// later; another program taking it in between makes the start fail with a
/// clear message, not a wrong result.
fn free_port() -> Result<SocketAddr> {
    let listener =
        TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("cannot find a free loopback port")?;
    listener
        .local_addr()
        .context("cannot read the free port's address")
}

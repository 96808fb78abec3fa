//! One library's echo server as a child process: started on a free loopback
//! port, waited for until it accepts connections, always stopped.
//!
//! The server runs under the runner's spawn supervisor
//! (`wsconform_runner::spawn`, the same as `wsconform run --spawn`): however
//! this chore ends — done, an error, Ctrl-C, `SIGKILL` — the supervisor
//! sees its pipe close and stops the server with everything it started, so
//! no interpreter is left holding a port.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use wsconform_runner::spawn::SpawnedTarget;

use super::catalogue::{Library, Runtime};
use super::install::Installed;

/// How long a server may take to accept connections (an interpreter's
/// start-up and imports take well under a second; this only guards
/// against a hang).
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A running server; stopped by [`Server::stop`], or by its supervisor when
/// this value is dropped or this process dies.
pub struct Server {
    target: SpawnedTarget,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl Server {
    /// Starts `library`'s server with `runtime`, its output to `log`, and
    /// waits until it accepts connections.
    pub async fn start(library: &Library, runtime: &Installed, log: &Path) -> Result<Server> {
        let addr = free_port()?;
        let command = shell_command(library, runtime, addr.port(), log);
        let mut target = SpawnedTarget::start(&command, &format!("[{}]", library.package))
            .with_context(|| format!("cannot start {}'s server", library.package))?;
        target
            .wait_ready(&addr.to_string(), READY_TIMEOUT)
            .await
            .with_context(|| {
                format!(
                    "{}'s server did not start (its log: {})",
                    library.package,
                    log.display()
                )
            })?;
        Ok(Server { target, addr })
    }

    /// Stops the server and everything it started.
    pub async fn stop(mut self) {
        self.target.stop().await;
    }
}

/// The `sh -c` line that runs the server: its environment, the program,
/// the server file for an interpreter, the port, and the output to the log
/// (a server's complaints about the suite's malformed requests would
/// otherwise fill the terminal).
fn shell_command(library: &Library, runtime: &Installed, port: u16, log: &Path) -> String {
    let mut words: Vec<String> = runtime
        .env
        .iter()
        .map(|(name, value)| format!("{name}={}", quote(&value.to_string_lossy())))
        .collect();
    words.push("exec".to_string());
    words.push(quote(&runtime.program.to_string_lossy()));
    if library.runtime != Runtime::Rust {
        // An interpreter: the server file comes first. A Rust server is
        // the program itself.
        words.push(quote(&library.script_path().to_string_lossy()));
    }
    words.push(port.to_string());
    words.push(format!("> {} 2>&1", quote(&log.to_string_lossy())));
    words.join(" ")
}

/// `text` as one word for `sh`: in single quotes, each `'` written `'\''`.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
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

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::realworld::catalogue::LIBRARIES;

    #[test]
    fn an_interpreter_gets_the_server_file_and_a_rust_server_runs_itself() {
        let node = Installed {
            program: PathBuf::from("node"),
            env: vec![("NODE_PATH".into(), PathBuf::from("/t/it's/node_modules"))],
        };
        let ws = LIBRARIES.iter().find(|l| l.package == "ws");
        let actix = LIBRARIES.iter().find(|l| l.runtime == Runtime::Rust);
        let (Some(ws), Some(actix)) = (ws, actix) else {
            panic!("the catalogue has ws and a Rust library");
        };
        let line = shell_command(ws, &node, 4242, Path::new("/t/ws.log"));
        assert!(line.starts_with(r"NODE_PATH='/t/it'\''s/node_modules' exec 'node' '"));
        assert!(line.ends_with("ws_echo.js' 4242 > '/t/ws.log' 2>&1"));
        let built = Installed {
            program: PathBuf::from("/t/realworld-actix"),
            env: Vec::new(),
        };
        let line = shell_command(actix, &built, 4243, Path::new("/t/a.log"));
        assert_eq!(line, "exec '/t/realworld-actix' 4243 > '/t/a.log' 2>&1");
    }
}

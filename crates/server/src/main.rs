//! `wsconform-server`: runs the reference server until Ctrl-C.
//!
//! ```text
//! wsconform-server [--bind ADDR] [--port PORT]
//! ```
//!
//! A stopgap binary: the `wsconform serve` command of the CLI does the same
//! through the library. Logging follows `RUST_LOG` (default `info`).

use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;

use wsconform_server::{Config, bind, shutdown_signal};

const USAGE: &str = "usage: wsconform-server [--bind ADDR] [--port PORT]
  --bind ADDR   IP address to listen on (default 127.0.0.1)
  --port PORT   TCP port to listen on (default 8080; 0 picks a free one)";

/// Reads `--bind` and `--port` from the command line.
fn parse_args(mut args: impl Iterator<Item = String>) -> Result<SocketAddr, String> {
    let mut addr = Config::default().bind_addr;
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--bind" => {
                let text = value("--bind")?;
                let ip: IpAddr = text
                    .parse()
                    .map_err(|_| format!("--bind {text:?} is not an IP address, e.g. 127.0.0.1"))?;
                addr.set_ip(ip);
            }
            "--port" => {
                let text = value("--port")?;
                let port: u16 = text
                    .parse()
                    .map_err(|_| format!("--port {text:?} is not a port number (0-65535)"))?;
                addr.set_port(port);
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(addr)
}

#[tokio::main]
async fn main() -> ExitCode {
    let addr = match parse_args(std::env::args().skip(1)) {
        Ok(addr) => addr,
        Err(problem) if problem.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(problem) => {
            eprintln!("error: {problem}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let server = match bind(Config::with_bind_addr(addr)).await {
        Ok(server) => server,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    server.run(shutdown_signal()).await;
    ExitCode::SUCCESS
}

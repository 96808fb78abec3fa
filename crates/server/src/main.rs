//! `wsconform-server`: runs the reference server until Ctrl-C.
//!
//! ```text
//! wsconform-server [--bind ADDR] [--port PORT] [--max-connections N]
//!                  [--max-connections-per-address N] [--no-deflate]
//! ```
//!
//! Once the port is open it prints `listening on ADDR` on stdout, so a
//! script (the benchmarks) can start it with `--port 0` and read the port.
//!
//! A stopgap binary: the `wsconform serve` command of the CLI does the same
//! through the library. Logging follows `RUST_LOG` (default `info`).

use std::net::IpAddr;
use std::process::ExitCode;

use wsconform_server::{Config, bind, shutdown_signal};

const USAGE: &str = "usage: wsconform-server [--bind ADDR] [--port PORT] [--max-connections N]
                        [--max-connections-per-address N] [--no-deflate]
  --bind ADDR            IP address to listen on: 127.0.0.1 (default), ::1, [::1]
  --port PORT            TCP port to listen on (default 8080; 0 picks a free one)
  --max-connections N    connections served at once (default 1024)
  --max-connections-per-address N
                         connections one IP address may have open (default 64)
  --no-deflate           decline permessage-deflate offers (RFC 7692)";

/// Reads `--bind`, `--port`, `--max-connections` and `--no-deflate` from the
/// command line.
fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Config, String> {
    let mut config = Config::default();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--bind" => {
                let text = value("--bind")?;
                let bare = text
                    .strip_prefix('[')
                    .and_then(|t| t.strip_suffix(']'))
                    .unwrap_or(&text);
                let ip: IpAddr = bare
                    .parse()
                    .map_err(|_| format!("--bind {text:?} is not an IP address, e.g. 127.0.0.1"))?;
                config.bind_addr.set_ip(ip);
            }
            "--port" => {
                let text = value("--port")?;
                let port: u16 = text
                    .parse()
                    .map_err(|_| format!("--port {text:?} is not a port number (0-65535)"))?;
                config.bind_addr.set_port(port);
            }
            "--max-connections" => {
                let text = value("--max-connections")?;
                config.max_connections = text
                    .parse()
                    .map_err(|_| format!("--max-connections {text:?} is not a number"))?;
            }
            "--max-connections-per-address" => {
                let text = value("--max-connections-per-address")?;
                config.max_connections_per_address = text.parse().map_err(|_| {
                    format!("--max-connections-per-address {text:?} is not a number")
                })?;
            }
            "--no-deflate" => config.deflate = None,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(config)
}

#[tokio::main]
async fn main() -> ExitCode {
    let config = match parse_args(std::env::args().skip(1)) {
        Ok(config) => config,
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
    let server = match bind(config).await {
        Ok(server) => server,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    println!("listening on {}", server.local_addr());
    // A parent process may read this line through a pipe: send it now.
    let _ = std::io::Write::flush(&mut std::io::stdout());
    server.run(shutdown_signal()).await;
    ExitCode::SUCCESS
}

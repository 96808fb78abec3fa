//! `wsconform serve`: the reference server, with a flag for every limit and
//! logs through `tracing`.

use std::io::IsTerminal;
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;

use wsconform_runner::scenario::Dur;
use wsconform_server::Config;

use crate::output::outln;

/// Every flag of `serve`. Each limit's default is the server's
/// ([`Config::default`]), shown by `--help`.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on: an IP address (127.0.0.1, ::1, 0.0.0.0, ::),
    /// or an address with a port (127.0.0.1:9001, [::1]:9001).
    #[arg(long, default_value = "127.0.0.1")]
    bind: String,
    /// Port to listen on (0 picks a free one); a port given in --bind wins.
    #[arg(long, short, default_value_t = 8080)]
    port: u16,
    /// Connections served at once, counting those still in the handshake.
    #[arg(long, value_name = "N", default_value_t = Config::default().max_connections)]
    max_connections: usize,
    /// Connections one IP address may have open at once.
    #[arg(long, value_name = "N", default_value_t = Config::default().max_connections_per_address)]
    max_connections_per_address: usize,
    /// Largest HTTP request head, in bytes (more: 431).
    #[arg(long, value_name = "BYTES", default_value_t = Config::default().max_handshake_size)]
    max_handshake_size: usize,
    /// Time a client has to send its request head (then dropped).
    #[arg(long, value_name = "DUR", value_parser = parse_dur,
          default_value_t = Dur(Config::default().handshake_timeout))]
    handshake_timeout: Dur,
    /// Largest frame payload, in bytes (more: close 1009).
    #[arg(long, value_name = "BYTES", default_value_t = Config::default().max_frame_size)]
    max_frame_size: u64,
    /// Largest message, all fragments together, in bytes (more: close 1009).
    #[arg(long, value_name = "BYTES", default_value_t = Config::default().max_message_size)]
    max_message_size: usize,
    /// Bytes of chat messages that may wait for one client (more: close 1008,
    /// too slow).
    #[arg(long, value_name = "BYTES", default_value_t = Config::default().chat_queue_bytes)]
    chat_queue_bytes: usize,
    /// Memory budget: bytes of messages buffered over all connections
    /// (a message that would exceed it: close 1013, try again later).
    #[arg(long, value_name = "BYTES", default_value_t = Config::default().max_buffered_bytes)]
    max_buffered_bytes: usize,
    /// Silence after which a client is pinged (half of it) and closed with
    /// 1001 (all of it).
    #[arg(long, value_name = "DUR", value_parser = parse_dur,
          default_value_t = Dur(Config::default().idle_timeout))]
    idle_timeout: Dur,
    /// Time a client may leave bytes unread before it is dropped.
    #[arg(long, value_name = "DUR", value_parser = parse_dur,
          default_value_t = Dur(Config::default().write_timeout))]
    write_timeout: Dur,
    /// Time the closing handshake may take.
    #[arg(long, value_name = "DUR", value_parser = parse_dur,
          default_value_t = Dur(Config::default().close_timeout))]
    close_timeout: Dur,
    /// Time connections get to close on Ctrl-C or SIGTERM.
    #[arg(long, value_name = "DUR", value_parser = parse_dur,
          default_value_t = Dur(Config::default().shutdown_grace))]
    shutdown_grace: Dur,
    /// Decline permessage-deflate (RFC 7692) offers: plain RFC 6455 only.
    #[arg(long)]
    no_deflate: bool,
    /// More log lines on standard error: -v every connection, -vv protocol
    /// details. RUST_LOG (e.g. RUST_LOG=wsconform_server=debug) overrides.
    #[arg(short, long, action = clap::ArgAction::Count)]
    verbose: u8,
}

fn parse_dur(text: &str) -> Result<Dur, String> {
    Dur::parse(text)
}

/// Reads `--bind` (with `--port` when it has none) as a socket address.
fn bind_addr(bind: &str, port: u16) -> Result<SocketAddr, String> {
    if let Ok(addr) = bind.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let bare = bind
        .strip_prefix('[')
        .and_then(|b| b.strip_suffix(']'))
        .unwrap_or(bind);
    bare.parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, port))
        .map_err(|_| {
            format!(
                "'{bind}' is not an address to listen on: write an IP address \
                 (127.0.0.1, ::1, 0.0.0.0) or ADDRESS:PORT (127.0.0.1:9001, [::1]:9001)"
            )
        })
}

impl ServeArgs {
    /// The server configuration these flags ask for.
    fn config(&self) -> Result<Config, String> {
        let defaults = Config::default();
        Ok(Config {
            bind_addr: bind_addr(&self.bind, self.port)?,
            max_handshake_size: self.max_handshake_size,
            handshake_timeout: self.handshake_timeout.0,
            max_frame_size: self.max_frame_size,
            max_message_size: self.max_message_size,
            idle_timeout: self.idle_timeout.0,
            write_timeout: self.write_timeout.0,
            close_timeout: self.close_timeout.0,
            max_connections: self.max_connections,
            max_connections_per_address: self.max_connections_per_address,
            chat_queue_bytes: self.chat_queue_bytes,
            max_buffered_bytes: self.max_buffered_bytes,
            shutdown_grace: self.shutdown_grace.0,
            deflate: defaults.deflate.filter(|_| !self.no_deflate),
        })
    }
}

/// Logs to standard error: warnings by default (server full, per-address
/// limit, too slow, task panicked), every connection with `-v`, protocol
/// details with `-vv`; `RUST_LOG` overrides.
fn init_logs(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let color = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(color)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Runs the reference server until Ctrl-C or SIGTERM.
pub async fn serve(args: ServeArgs) -> ExitCode {
    let config = match args.config() {
        Ok(config) => config,
        Err(problem) => {
            eprintln!("error: {problem}");
            return ExitCode::from(crate::USAGE);
        }
    };
    init_logs(args.verbose);
    let server = match wsconform_server::spawn(config).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(crate::USAGE);
        }
    };
    let local = server.local_addr();
    outln!(
        "wsconform reference server: ws://{local}/echo (echo), ws://{local}/socket (chat), http://{local}/ (chat page)"
    );
    wsconform_server::shutdown_signal().await;
    server.shutdown().await;
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_takes_ipv4_ipv6_and_addresses_with_ports() {
        let cases = [
            ("127.0.0.1", "127.0.0.1:8080"),
            ("::1", "[::1]:8080"),
            ("[::1]", "[::1]:8080"),
            ("[::1]:9001", "[::1]:9001"),
            ("0.0.0.0:9001", "0.0.0.0:9001"),
        ];
        for (bind, expected) in cases {
            assert_eq!(bind_addr(bind, 8080).unwrap().to_string(), expected);
        }
        let error = bind_addr("localhost", 8080).unwrap_err();
        assert!(error.contains("'localhost' is not an address"), "{error}");
    }

    #[test]
    fn every_flag_defaults_to_the_server_default() {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct Wrapper {
            #[command(flatten)]
            args: ServeArgs,
        }
        let parsed = Wrapper::parse_from(["serve"]).args.config().unwrap();
        assert_eq!(parsed, Config::default());
        let limited = Wrapper::parse_from([
            "serve",
            "--max-connections-per-address",
            "3",
            "--idle-timeout",
            "5s",
            "--max-buffered-bytes",
            "99999999",
        ])
        .args
        .config()
        .unwrap();
        assert_eq!(limited.max_connections_per_address, 3);
        assert_eq!(limited.idle_timeout, std::time::Duration::from_secs(5));
        assert_eq!(limited.max_buffered_bytes, 99_999_999);
    }
}

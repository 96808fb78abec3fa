//! `wsconform client URL`: the reference client on the command line —
//! interactive (each line of standard input is a text message, each
//! message received is printed), or `--echo`, the contract of a client
//! under test (echo every message, close when the server closes).

use std::process::ExitCode;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use wsconform_client::{Client, ClientError, Options, Received, echo::echo};
use wsconform_wire::Message;

use crate::USAGE;

/// Arguments of `wsconform client`.
#[derive(clap::Args, Debug)]
#[command(after_long_help = "\
Interactive: every line you type is sent as a text message; every message the \
server sends is printed (binary ones as hex). End the input (Ctrl-D) to close \
with 1000. --echo instead echoes every message back until the server closes, \
as a client under test does for Autobahn's fuzzing server; the text message \
wsconform:close is not echoed but starts the closing handshake with 1000 \
(the optional part of the contract, tested by `wsconform run --client-cmd`).

Exit status: 0 when the connection ended with a closing handshake, 1 when it \
failed (a refused 101, a protocol error, the TCP connection lost), 2 for usage \
errors.")]
pub struct ClientArgs {
    /// The server: ws://HOST:PORT/PATH.
    url: String,
    /// Echo every message back until the server closes, printing nothing but a summary.
    #[arg(long)]
    echo: bool,
    /// Offer a subprotocol (repeat for several).
    #[arg(long, value_name = "NAME")]
    protocol: Vec<String>,
    /// Give up on the opening handshake after this long.
    #[arg(long, value_name = "DUR", default_value = "10s", value_parser = crate::parse_dur)]
    handshake_timeout: wsconform_runner::scenario::Dur,
}

/// Runs `wsconform client`.
pub fn client(args: ClientArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(USAGE);
        }
    };
    runtime.block_on(session(args))
}

async fn session(args: ClientArgs) -> ExitCode {
    let options = Options {
        handshake_timeout: args.handshake_timeout.0,
        // Interactive sessions wait for the person typing; echo sessions
        // for the server, which may pause between messages.
        read_timeout: if args.echo {
            Some(Duration::from_secs(60))
        } else {
            None
        },
        protocols: args.protocol.clone(),
        ..Options::default()
    };
    let mut client = match Client::connect(&args.url, options).await {
        Ok(c) => c,
        Err(ClientError::Url(e)) => {
            eprintln!("error: {e}");
            return ExitCode::from(USAGE);
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    if args.echo {
        return match echo(&mut client).await {
            Ok(end) => {
                let code = end
                    .close
                    .map_or_else(|| "no status code".to_string(), |c| c.code.to_string());
                let closing = if end.closed_by_us {
                    format!("we closed as asked, the server answered with {code}")
                } else {
                    format!("the server closed with {code}")
                };
                eprintln!(
                    "echoed {} message{}; {closing}",
                    end.echoed,
                    if end.echoed == 1 { "" } else { "s" },
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        };
    }
    match client.protocol() {
        Some(p) => eprintln!("connected to {} (subprotocol {p})", args.url),
        None => eprintln!("connected to {}", args.url),
    }
    interactive(client).await
}

async fn interactive(mut client: Client) -> ExitCode {
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    loop {
        tokio::select! {
            line = lines.next_line() => match line {
                Ok(Some(line)) => {
                    if let Err(e) = client.send(&Message::Text(line)).await {
                        eprintln!("error: {e}");
                        return ExitCode::FAILURE;
                    }
                }
                // End of input: we start the closing handshake.
                Ok(None) | Err(_) => {
                    return match client.close(1000, "").await {
                        Ok(closing) => {
                            for message in &closing.messages {
                                print_message(message);
                            }
                            ExitCode::SUCCESS
                        }
                        Err(e) => {
                            eprintln!("error while closing: {e}");
                            ExitCode::FAILURE
                        }
                    };
                }
            },
            received = client.recv() => match received {
                Ok(Received::Message(message)) => print_message(&message),
                Ok(Received::Closed(close)) => {
                    match close {
                        Some(c) if c.reason.is_empty() => eprintln!("the server closed with {}", c.code),
                        Some(c) => eprintln!("the server closed with {} ({})", c.code, c.reason),
                        None => eprintln!("the server closed (no status code)"),
                    }
                    return ExitCode::SUCCESS;
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::FAILURE;
                }
            },
        }
    }
}

fn print_message(message: &Message) {
    match message {
        Message::Text(text) => println!("{text}"),
        Message::Binary(bytes) => println!(
            "binary, {} byte{}: {}",
            bytes.len(),
            if bytes.len() == 1 { "" } else { "s" },
            hex(bytes)
        ),
    }
}

/// At most 64 bytes as hex, then a count of the rest.
fn hex(bytes: &[u8]) -> String {
    let shown: Vec<String> = bytes.iter().take(64).map(|b| format!("{b:02x}")).collect();
    let mut text = shown.join(" ");
    if bytes.len() > 64 {
        text.push_str(&format!(" … ({} more)", bytes.len() - 64));
    }
    text
}

//! The load generator behind `wsconform bench`: many connections, one
//! message size, for a duration or a count, and what came out of it —
//! messages per second, megabytes per second, latency percentiles.
//!
//! # Three modes
//!
//! - **echo**: every connection sends one message, waits for it to come
//!   back, checks it byte for byte, and sends the next (a closed loop: one
//!   message in flight per connection). The time from the first byte written
//!   to the last byte of the echo read is one latency sample.
//! - **chat**: every connection joins the chat room (`/socket`); one of them
//!   sends chat messages, keeping [`CHAT_WINDOW`] of them in flight, and the
//!   server broadcasts each to every client. What counts is *deliveries*: one
//!   message reaching one client. Each message carries the time it was sent,
//!   so every delivery is a latency sample.
//! - **idle**: open the connections, finish the opening handshakes, hold
//!   them without a byte of traffic for the duration, then hang up. It
//!   measures what an open connection costs a server (see `cargo xtask bench`).
//!   With `warm_up`, each connection first makes one echo round trip.
//!
//! With `deflate` the connections offer permessage-deflate (RFC 7692) and
//! compress every message with the wire crate's `Deflater`, inflating the
//! echoes with its `Inflater`; the report counts the bytes on the wire per
//! message each way, so the compression ratio is measured, not assumed.
//!
//! A target is `ws://HOST:PORT/PATH`, or `tcp://HOST:PORT` for a raw TCP echo
//! server: the same loop without any WebSocket framing, which is the limit a
//! WebSocket server is compared with.
//!
//! # Why it is built this way
//!
//! A load generator must not be the bottleneck, or it measures itself. This
//! one spends as little as it can per message:
//!
//! - it runs on **one thread** ([`run_blocking`] builds a current-thread
//!   tokio runtime), so it can be pinned to one core and never competes with
//!   itself for locks or caches;
//! - the masked frame is **encoded once** and the same bytes are written for
//!   every message (masking keys only have to be unpredictable to a browser's
//!   scripts; a benchmark is not one);
//! - replies go through the same sans-IO [`Decoder`](wsconform_wire::Decoder) a client would use, into
//!   a per-connection buffer that is reused;
//! - latencies go into a log-scale [`LatencyHistogram`] (1 % precision),
//!   not a growing list.
//!
//! Everything is bounded: at most [`MAX_CONNECTIONS`] connections,
//! [`MAX_SIZE`] bytes per message, [`MAX_DURATION`] of load, and a count
//! mode that still stops after [`Settings::deadline`].

//!
//! # Where things are
//!
//! | module | what |
//! | --- | --- |
//! | `settings` | modes, targets, stop conditions, bounds, errors |
//! | `resources` | open-file limit, CPU time of the process |
//! | `connection` | opening connections, reading events, pongs |
//! | `tally` | the shared stop budget, per-task tallies, the collector |
//! | `echo`, `chat` | the two load loops |
//! | `message` | an echo's payload (random or text) and its frame, compressed or not |
//! | `histogram` | latency samples |
//! | `report` | the typed [`BenchReport`] (`--json`) |

mod chat;
mod connection;
mod echo;
mod histogram;
mod message;
mod report;
mod resources;
mod settings;
mod tally;

use std::time::Instant;

pub use chat::CHAT_WINDOW;
pub use histogram::LatencyHistogram;
pub use message::{level_one_size, payload};
pub use report::{BenchReport, Latency};
pub use settings::{
    BenchError, LoadEndpoint, MAX_CONNECTIONS, MAX_COUNT, MAX_DURATION, MAX_SIZE, Mode,
    PayloadKind, Settings, StopCondition,
};

use tally::ClientTally;

/// Progress a run reports while it goes, for a caller that wants to act on
/// it (the benchmark suite reads a server's memory once every idle
/// connection is open).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Every connection is open and its handshake done.
    Connected(usize),
}

/// Runs the load on a new single-threaded runtime and returns the report.
/// See [`run`].
pub fn run_blocking(
    settings: &Settings,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<BenchReport, BenchError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(BenchError::Runtime)?;
    runtime.block_on(run(settings, progress))
}

/// Opens the connections, generates the load, and measures it.
pub async fn run(
    settings: &Settings,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<BenchReport, BenchError> {
    settings.check()?;
    resources::allow_open_files(settings.connections)?;
    let opening = Instant::now();
    let mut connections = connection::open_all(settings).await?;
    if settings.warm_up {
        echo::warm_up(settings, &mut connections)
            .await
            .map_err(BenchError::WarmUp)?;
    }
    let connect_seconds = opening.elapsed().as_secs_f64();
    progress(Progress::Connected(connections.len()));
    let cpu_before = resources::cpu_seconds();
    let mut tally = match settings.mode {
        Mode::Echo => echo::echo_load(settings, connections).await,
        Mode::Chat => chat::chat_load(settings, connections).await,
        Mode::Idle => {
            if let StopCondition::After(hold) = settings.stop {
                tokio::time::sleep(hold).await;
            }
            drop(connections);
            ClientTally::default()
        }
    };
    tally.cpu_seconds = resources::cpu_seconds() - cpu_before;
    Ok(BenchReport::new(settings, connect_seconds, tally))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::net::TcpListener;

    /// A raw TCP echo server for the tests, on a free loopback port.
    async fn tcp_echo() -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (mut reader, mut writer) = stream.split();
                    let _ = tokio::io::copy(&mut reader, &mut writer).await;
                });
            }
        });
        port
    }

    #[tokio::test]
    async fn counts_round_trips_against_a_raw_echo() {
        let port = tcp_echo().await;
        let mut settings =
            Settings::new(LoadEndpoint::parse(&format!("tcp://127.0.0.1:{port}")).unwrap());
        settings.connections = 4;
        settings.size = 100;
        settings.stop = StopCondition::Count(200);
        settings.deadline = Duration::from_secs(20);
        let connected = std::sync::Mutex::new(0);
        let report = run(&settings, &|Progress::Connected(n)| {
            *connected.lock().unwrap() = n;
        })
        .await
        .unwrap();
        assert_eq!(*connected.lock().unwrap(), 4);
        assert_eq!(report.messages, 200);
        assert!(report.complete, "{report}");
        assert!(report.latency.p50_us > 0.0 && report.latency.max_us >= report.latency.p99_us);
        let json = serde_json::to_string(&report).unwrap();
        let back: BenchReport = serde_json::from_str(&json).unwrap();
        assert_eq!(back, report);
    }

    #[tokio::test]
    async fn a_refused_connection_is_an_error_naming_it() {
        // Bind then drop: nothing listens on that port any more.
        let port = {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            listener.local_addr().unwrap().port()
        };
        let mut settings =
            Settings::new(LoadEndpoint::parse(&format!("ws://127.0.0.1:{port}/echo")).unwrap());
        settings.connections = 2;
        let error = run(&settings, &|_| {}).await.unwrap_err();
        assert!(matches!(error, BenchError::Connect { .. }), "{error}");
        assert!(error.to_string().contains("cannot connect"), "{error}");
    }
}

//! What a run measured, as the typed [`BenchReport`]: printed for a person,
//! and written as the JSON of `wsconform bench --json` that `cargo xtask
//! bench` reads back with the same type.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::settings::{Mode, PayloadKind, Settings};
use super::tally::ClientTally;

/// Latency percentiles, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// The median.
    pub p50_us: f64,
    /// The 99th percentile.
    pub p99_us: f64,
    /// The slowest sample.
    pub max_us: f64,
}

/// What a run measured. Serialises to the JSON of `wsconform bench --json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchReport {
    /// The target URL.
    pub target: String,
    /// The mode.
    pub mode: Mode,
    /// Connections opened.
    pub connections: usize,
    /// Payload bytes per message.
    pub size: usize,
    /// Seconds it took to open every connection (handshakes included).
    pub connect_seconds: f64,
    /// Seconds of load (from the first message to the last).
    pub seconds: f64,
    /// Messages completed: round trips (echo) or deliveries (chat).
    pub messages: u64,
    /// `messages / seconds`.
    pub messages_per_sec: f64,
    /// Payload megabytes (10^6 bytes) per second in one direction.
    pub mb_per_sec: f64,
    /// Latency of the completed messages.
    pub latency: Latency,
    /// CPU seconds (user + system) the load generator itself used during
    /// the load phase. Close to `seconds` means its one thread was busy all
    /// the time: then it, not the server, may be what limits the rate.
    #[serde(default)]
    pub cpu_seconds: f64,
    /// Connections that failed during the load phase.
    pub failed_connections: usize,
    /// What went wrong first, when something did.
    pub first_error: Option<String>,
    /// False when the deadline cut a count-mode run short or a connection failed.
    pub complete: bool,
    /// What the echoed messages held.
    #[serde(default)]
    pub payload: PayloadKind,
    /// Whether every connection spoke permessage-deflate.
    #[serde(default)]
    pub deflate: bool,
    /// Bytes written to the server per completed message (frame headers
    /// included): with compression, what the payload shrank to.
    #[serde(default)]
    pub wire_bytes_sent_per_message: f64,
    /// Bytes read from the server per completed message.
    #[serde(default)]
    pub wire_bytes_received_per_message: f64,
}

impl BenchReport {
    /// The report of a run with these settings, whose connections took
    /// `connect_seconds` to open, from the sum of its tasks' tallies.
    pub(super) fn new(
        settings: &Settings,
        connect_seconds: f64,
        tally: ClientTally,
    ) -> BenchReport {
        let per_sec = |n: f64| {
            if tally.seconds > 0.0 {
                n / tally.seconds
            } else {
                0.0
            }
        };
        let per_message = |bytes: u64| bytes as f64 / tally.messages.max(1) as f64;
        BenchReport {
            target: settings.endpoint.url(),
            mode: settings.mode,
            connections: settings.connections,
            size: settings.size,
            connect_seconds,
            seconds: tally.seconds,
            messages: tally.messages,
            messages_per_sec: per_sec(tally.messages as f64),
            mb_per_sec: per_sec(tally.messages as f64 * settings.size as f64) / 1e6,
            latency: Latency {
                p50_us: tally.latency.quantile(0.50) / 1e3,
                p99_us: tally.latency.quantile(0.99) / 1e3,
                max_us: tally.latency.max() as f64 / 1e3,
            },
            cpu_seconds: tally.cpu_seconds,
            failed_connections: tally.failed,
            complete: !tally.cut_short && tally.failed == 0,
            first_error: tally.first_error,
            payload: settings.payload,
            deflate: settings.deflate,
            wire_bytes_sent_per_message: per_message(tally.wire_sent),
            wire_bytes_received_per_message: per_message(tally.wire_received),
        }
    }

    /// The report as pretty-printed JSON (the `--json` file), with a final
    /// newline.
    pub fn to_json(&self) -> String {
        // Plain numbers, strings and options: serialising cannot fail.
        let mut json = serde_json::to_string_pretty(self).unwrap_or_default();
        json.push('\n');
        json
    }
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} × {} B, {} mode, {}: opened in {:.2} s",
            self.connections, self.size, self.mode, self.target, self.connect_seconds
        )?;
        if self.mode != Mode::Idle {
            let what = if self.mode == Mode::Chat {
                "deliveries"
            } else {
                "round trips"
            };
            writeln!(
                f,
                "  {} {what} in {:.2} s: {:.0}/s, {:.2} MB/s",
                self.messages, self.seconds, self.messages_per_sec, self.mb_per_sec
            )?;
            writeln!(
                f,
                "  latency p50 {:.0} µs, p99 {:.0} µs, max {:.0} µs",
                self.latency.p50_us, self.latency.p99_us, self.latency.max_us
            )?;
            if self.mode == Mode::Echo {
                writeln!(
                    f,
                    "  on the wire per message: {:.0} B sent, {:.0} B received{}",
                    self.wire_bytes_sent_per_message,
                    self.wire_bytes_received_per_message,
                    if self.deflate {
                        " (permessage-deflate)"
                    } else {
                        ""
                    }
                )?;
            }
            writeln!(
                f,
                "  load generator CPU {:.2} s ({:.0} % of one core)",
                self.cpu_seconds,
                100.0 * self.cpu_seconds / self.seconds.max(1e-9)
            )?;
        }
        if let Some(error) = &self.first_error {
            writeln!(
                f,
                "  {} connection(s) failed; first: {error}",
                self.failed_connections
            )?;
        }
        if !self.complete {
            writeln!(f, "  incomplete run")?;
        }
        Ok(())
    }
}

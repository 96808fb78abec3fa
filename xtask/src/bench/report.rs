//! The benchmark's report (`<target>/bench/report.json`) as types, and the
//! performance targets checked against it.
//!
//! The table and the chart read these fields, never string keys, so a
//! renamed field is a compile error rather than a silent zero.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One run of `cargo xtask bench`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// `release`, or `debug` for `--smoke`.
    pub profile: String,
    /// Rounds per echo measurement.
    pub rounds: usize,
    /// Milliseconds of load per round.
    pub millis_per_round: u64,
    /// Where it ran.
    pub machine: Machine,
    /// Echo round trips per case; `None` when not measured (`--only`).
    pub echo: Option<Vec<EchoCase>>,
    /// The chat fan-out.
    pub chat: Option<Chat>,
    /// Memory per idle connection, per connection count.
    pub idle: Option<Vec<IdleCase>>,
    /// Suite wall time per profile (`echo`, `chat`).
    pub suite: Option<BTreeMap<String, SuiteTime>>,
    /// Masking against copying, per buffer size in bytes.
    pub masking: Option<BTreeMap<String, Masking>>,
    /// permessage-deflate on the reference server.
    #[serde(default)]
    pub compression: Option<Compression>,
    /// The performance targets and whether they hold (none for `--smoke`).
    pub targets: Vec<Target>,
    /// How long the whole run took.
    pub wall_seconds: f64,
}

/// The machine a run measured on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    /// Cores available to this process.
    pub cpus: usize,
    /// Whether servers and load were pinned to separate cores.
    pub pinned: bool,
    /// The open-files limit the servers inherited.
    pub open_files_per_process: u64,
    /// `/proc/loadavg`'s three averages at the end of the run.
    pub load_average: Option<String>,
}

/// One echo case (connections × message size), every server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EchoCase {
    /// `64 B × 100`.
    pub case: String,
    /// Connections.
    pub connections: usize,
    /// Message size in bytes.
    pub size: usize,
    /// Per server name.
    pub servers: BTreeMap<String, EchoStats>,
    /// Median per-round ratio of the reference server's rate to each other
    /// server's rate.
    pub reference_over: BTreeMap<String, f64>,
    /// Median per-round ratio of each server's rate to the raw TCP echo's.
    pub over_tcp_echo: BTreeMap<String, f64>,
}

/// One server in one echo case: medians over the rounds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EchoStats {
    /// Round trips per second.
    pub messages_per_sec: f64,
    /// Payload MB per second, one direction.
    pub mb_per_sec: f64,
    /// Median latency, µs.
    pub p50_us: f64,
    /// 99th percentile latency, µs.
    pub p99_us: f64,
    /// Highest latency, µs.
    pub max_us: f64,
    /// The server's CPU time over the load's wall time.
    pub server_cpu_share: f64,
    /// The load generator's CPU time over the load's wall time.
    pub load_cpu_share: f64,
    /// The server's CPU µs per echo: steadier than the rate on a busy
    /// machine, since time other processes take is not counted.
    pub server_cpu_us_per_message: f64,
    /// The rate of each round.
    pub rounds: Vec<f64>,
    /// Whether every round completed.
    pub complete: bool,
}

/// The chat fan-out, every server with a chat room.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chat {
    /// Clients in the room.
    pub clients: usize,
    /// Bytes per chat message.
    pub message_bytes: usize,
    /// Per server name.
    pub servers: BTreeMap<String, ChatStats>,
}

/// One server's chat fan-out: medians over the rounds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatStats {
    /// Messages delivered to clients per second.
    pub deliveries_per_sec: f64,
    /// Median latency, µs.
    pub p50_us: f64,
    /// 99th percentile latency, µs.
    pub p99_us: f64,
    /// The server's CPU time over the load's wall time.
    pub server_cpu_share: f64,
    /// The load generator's CPU time over the load's wall time.
    pub load_cpu_share: f64,
    /// Whether every round completed.
    pub complete: bool,
}

/// Idle connections: memory at one connection count, every server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdleCase {
    /// Connections held open.
    pub connections: usize,
    /// Per server name.
    pub servers: BTreeMap<String, IdleStats>,
}

/// One server's memory with idle connections.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdleStats {
    /// VmRSS of the fresh process.
    pub rss_before_bytes: u64,
    /// VmRSS with every connection open.
    pub rss_after_bytes: u64,
    /// The growth divided by the connections.
    pub bytes_per_connection: f64,
    /// Seconds to open every connection.
    pub connect_seconds: f64,
}

/// permessage-deflate on the reference server: text echoed compressed and
/// plain, and idle connections that did the one or the other once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Compression {
    /// Echo connections.
    pub connections: usize,
    /// Bytes of text per message.
    pub size: usize,
    /// The text echoed uncompressed.
    pub plain: CompressionEcho,
    /// The same text, permessage-deflate.
    pub deflate: CompressionEcho,
    /// Median per-round ratio of the compressed echo's rate to the plain one's.
    pub deflate_rate_over_plain: f64,
    /// What zlib level 1 makes of one message on its own (the goal).
    pub level_one_bytes: Option<usize>,
    /// Idle memory per connection count.
    pub idle: Vec<CompressionIdle>,
}

/// One side of the compressed echo: medians over the rounds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompressionEcho {
    /// Round trips per second.
    pub messages_per_sec: f64,
    /// Payload MB per second, one direction.
    pub mb_per_sec: f64,
    /// Median latency, µs.
    pub p50_us: f64,
    /// 99th percentile latency, µs.
    pub p99_us: f64,
    /// The server's CPU µs per echo.
    pub server_cpu_us_per_message: f64,
    /// Bytes written to the server per message, frame header included.
    pub wire_bytes_sent_per_message: f64,
    /// Bytes read from the server per message, frame header included.
    pub wire_bytes_received_per_message: f64,
    /// Whether every connection negotiated permessage-deflate.
    pub deflate: bool,
    /// Whether every round completed.
    pub complete: bool,
}

/// Idle connections after one round trip each, plain and compressed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompressionIdle {
    /// Connections held open.
    pub connections: usize,
    /// VmRSS growth per connection after one plain round trip.
    pub plain_bytes_per_connection: f64,
    /// VmRSS growth per connection after one compressed message each way.
    pub deflate_bytes_per_connection: f64,
    /// `deflate_bytes_per_connection / plain_bytes_per_connection`.
    pub deflate_over_plain: f64,
}

/// The suite's wall time with one profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuiteTime {
    /// Median over the rounds.
    pub median_seconds: f64,
    /// Whether every round passed.
    pub all_passed: bool,
}

/// Masking against copying, one buffer size (criterion medians).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Masking {
    /// Nanoseconds to copy the buffer.
    pub copy_ns: f64,
    /// Nanoseconds to mask it.
    pub mask_ns: f64,
    /// `copy_ns / mask_ns`.
    pub mask_speed_over_copy: f64,
}

/// One performance target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Target {
    /// What is measured.
    pub target: String,
    /// The measured value, when it was measured.
    pub measured: Option<f64>,
    /// `≥ 0.85` or `≤ 8`.
    pub goal: String,
    /// Whether the measurement meets the goal.
    pub holds: Option<bool>,
}

/// The performance targets the project holds itself to, each with its
/// measured value and whether it holds.
pub fn targets(report: &Report) -> Vec<Target> {
    let mut targets = Vec::new();
    let mut target = |name: String, value: Option<f64>, goal: f64, at_most: bool| {
        targets.push(Target {
            target: name,
            measured: value,
            goal: if at_most {
                format!("≤ {goal}")
            } else {
                format!("≥ {goal}")
            },
            holds: value.map(|v| if at_most { v <= goal } else { v >= goal }),
        });
    };
    for case in report.echo.iter().flatten() {
        let name = &case.case;
        let ratio = |server: &str| case.reference_over.get(server).copied();
        if case.size == 64 && case.connections >= 100 {
            target(
                format!("{name}: reference / tcp-echo"),
                ratio("tcp-echo"),
                0.85,
                false,
            );
            target(
                format!("{name}: reference / tokio-tungstenite"),
                ratio("tokio-tungstenite"),
                1.3,
                false,
            );
            target(
                format!("{name}: reference / fastwebsockets"),
                ratio("fastwebsockets"),
                1.0,
                false,
            );
        }
        if case.size >= 64 * 1024 {
            target(
                format!("{name}: reference / tcp-echo"),
                ratio("tcp-echo"),
                0.9,
                false,
            );
        }
    }
    if let Some(sizes) = &report.masking {
        let slowest = sizes
            .values()
            .map(|s| s.mask_speed_over_copy)
            .reduce(f64::min);
        target(
            "masking speed / copy speed (slowest size)".into(),
            slowest,
            0.5,
            false,
        );
    }
    for entry in report.idle.iter().flatten() {
        if entry.connections == 15_000 {
            let bytes = entry
                .servers
                .get("reference")
                .map(|s| s.bytes_per_connection);
            target(
                "reference KiB per idle connection at 15 000".into(),
                bytes.map(|b| b / 1024.0),
                8.0,
                true,
            );
        }
    }
    if let Some(compression) = &report.compression {
        for idle in &compression.idle {
            target(
                format!("compressed / plain idle memory at {}", idle.connections),
                Some(idle.deflate_over_plain),
                2.0,
                true,
            );
        }
        let echoed =
            super::compression::frame_payload(compression.deflate.wire_bytes_received_per_message);
        target(
            "compressed echo bytes / zlib level 1 bytes".into(),
            compression
                .level_one_bytes
                .map(|l| echoed / l.max(1) as f64),
            1.0,
            true,
        );
    }
    let suite = report
        .suite
        .iter()
        .flat_map(|s| ["echo", "chat"].map(|p| s.get(p).map(|t| t.median_seconds)))
        .flatten()
        .reduce(f64::max);
    if suite.is_some() {
        target(
            "suite wall time, s (slower profile)".into(),
            suite,
            5.0,
            true,
        );
    }
    targets
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A small full report, as a release run would write it.
    pub(crate) fn sample() -> Report {
        let echo_stats = |rate: f64| EchoStats {
            messages_per_sec: rate,
            mb_per_sec: rate * 64.0 / 1e6,
            p50_us: 50.0,
            p99_us: 90.0,
            max_us: 120.0,
            server_cpu_share: 0.5,
            load_cpu_share: 0.6,
            server_cpu_us_per_message: 3.0,
            rounds: vec![rate],
            complete: true,
        };
        let names = [
            "reference",
            "tcp-echo",
            "tokio-tungstenite",
            "fastwebsockets",
        ];
        let rates = [90_000.0, 100_000.0, 60_000.0, 80_000.0];
        let servers = names
            .iter()
            .zip(rates)
            .map(|(n, r)| (n.to_string(), echo_stats(r)))
            .collect();
        let reference_over = names[1..]
            .iter()
            .zip(&rates[1..])
            .map(|(n, r)| (n.to_string(), rates[0] / r))
            .collect();
        let over_tcp_echo = names
            .iter()
            .zip(rates)
            .map(|(n, r)| (n.to_string(), r / rates[1]))
            .collect();
        let idle = |kib: f64| IdleStats {
            rss_before_bytes: 1_000_000,
            rss_after_bytes: 1_000_000 + (kib * 1024.0 * 15_000.0) as u64,
            bytes_per_connection: kib * 1024.0,
            connect_seconds: 1.5,
        };
        Report {
            profile: "release".into(),
            rounds: 1,
            millis_per_round: 1000,
            machine: Machine {
                cpus: 2,
                pinned: true,
                open_files_per_process: 65_536,
                load_average: Some("1.00 0.90 0.80".into()),
            },
            echo: Some(vec![EchoCase {
                case: "64 B × 100".into(),
                connections: 100,
                size: 64,
                servers,
                reference_over,
                over_tcp_echo,
            }]),
            chat: Some(Chat {
                clients: 1000,
                message_bytes: 128,
                servers: [(
                    "reference".to_string(),
                    ChatStats {
                        deliveries_per_sec: 500_000.0,
                        p50_us: 800.0,
                        p99_us: 2000.0,
                        server_cpu_share: 0.9,
                        load_cpu_share: 0.8,
                        complete: true,
                    },
                )]
                .into(),
            }),
            idle: Some(vec![IdleCase {
                connections: 15_000,
                servers: names
                    .iter()
                    .zip([6.0, 1.0, 12.0, 9.0])
                    .map(|(n, k)| (n.to_string(), idle(k)))
                    .collect(),
            }]),
            suite: Some(
                [
                    (
                        "chat".to_string(),
                        SuiteTime {
                            median_seconds: 4.0,
                            all_passed: true,
                        },
                    ),
                    (
                        "echo".to_string(),
                        SuiteTime {
                            median_seconds: 3.0,
                            all_passed: true,
                        },
                    ),
                ]
                .into(),
            ),
            masking: Some(
                [(
                    "64".to_string(),
                    Masking {
                        copy_ns: 10.0,
                        mask_ns: 25.0,
                        mask_speed_over_copy: 0.4,
                    },
                )]
                .into(),
            ),
            compression: Some(Compression {
                connections: 10,
                size: 16 * 1024,
                plain: compression_echo(16 * 1024 + 4, false),
                deflate: compression_echo(5004, true),
                deflate_rate_over_plain: 0.5,
                level_one_bytes: Some(5000),
                idle: vec![CompressionIdle {
                    connections: 1000,
                    plain_bytes_per_connection: 6000.0,
                    deflate_bytes_per_connection: 9000.0,
                    deflate_over_plain: 1.5,
                }],
            }),
            targets: Vec::new(),
            wall_seconds: 60.0,
        }
    }

    fn compression_echo(received: usize, deflate: bool) -> CompressionEcho {
        CompressionEcho {
            messages_per_sec: 1000.0,
            mb_per_sec: 16.0,
            p50_us: 900.0,
            p99_us: 2000.0,
            server_cpu_us_per_message: 300.0,
            wire_bytes_sent_per_message: received as f64 + 4.0,
            wire_bytes_received_per_message: received as f64,
            deflate,
            complete: true,
        }
    }

    #[test]
    fn targets_read_every_part_of_the_report() {
        let report = sample();
        let targets = targets(&report);
        let names: Vec<&str> = targets.iter().map(|t| t.target.as_str()).collect();
        assert_eq!(
            names,
            [
                "64 B × 100: reference / tcp-echo",
                "64 B × 100: reference / tokio-tungstenite",
                "64 B × 100: reference / fastwebsockets",
                "masking speed / copy speed (slowest size)",
                "reference KiB per idle connection at 15 000",
                "compressed / plain idle memory at 1000",
                "compressed echo bytes / zlib level 1 bytes",
                "suite wall time, s (slower profile)",
            ]
        );
        let holds: Vec<Option<bool>> = targets.iter().map(|t| t.holds).collect();
        // 0.9 ≥ 0.85, 1.5 ≥ 1.3, 1.125 ≥ 1.0, 0.4 < 0.5, 6 KiB ≤ 8,
        // 1.5 ≤ 2, 5000 / 5000 ≤ 1, 4 s ≤ 5.
        assert_eq!(
            holds,
            [
                Some(true),
                Some(true),
                Some(true),
                Some(false),
                Some(true),
                Some(true),
                Some(true),
                Some(true)
            ]
        );
        assert_eq!(targets[6].measured, Some(1.0));
        assert_eq!(targets[7].measured, Some(4.0));
        assert_eq!(targets[4].goal, "≤ 8");
    }

    #[test]
    fn a_partial_report_has_only_the_targets_it_measured() {
        let report = Report {
            echo: None,
            idle: None,
            masking: None,
            compression: None,
            ..sample()
        };
        let targets = targets(&report);
        assert_eq!(targets.len(), 1);
        assert_eq!(targets[0].target, "suite wall time, s (slower profile)");
    }

    #[test]
    fn the_report_reads_back_what_it_writes() {
        let report = Report {
            targets: targets(&sample()),
            ..sample()
        };
        let text = serde_json::to_string_pretty(&report).unwrap();
        let back: Report = serde_json::from_str(&text).unwrap();
        assert_eq!(back, report);
        // A part left out by --only is written as null, as before.
        let partial = Report {
            chat: None,
            ..sample()
        };
        let value: serde_json::Value =
            serde_json::from_str(&serde_json::to_string(&partial).unwrap()).unwrap();
        assert!(value["chat"].is_null());
        assert_eq!(value["echo"][0]["servers"]["reference"]["p99_us"], 90.0);
    }
}

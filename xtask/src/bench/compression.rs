//! permessage-deflate on the reference server: a compressed echo of
//! English-like 16 KiB text messages next to the same echo uncompressed
//! (rate, and bytes on the wire each way), and the memory of an idle
//! connection that compressed one message each way next to one that sent
//! the same message plainly.
//!
//! Both sides of every comparison run in the same round, one after the
//! other in a rotating order, and the ratios are medians of per-round
//! ratios, as everywhere in the benchmark. The load generator compresses
//! each message on its own (it may always reset its context), so the bytes
//! the server receives are zlib level 1's; the bytes it sends back are
//! what its own compressor made.

use std::time::Duration;

use anyhow::Result;
use wsconform_runner::bench::{PayloadKind, level_one_size};

use super::Plan;
use super::measure::{Measured, load, median};
use super::report::{Compression, CompressionEcho, CompressionIdle};
use super::servers::{Binaries, Kind, Pinning, Running};
use super::system::rss_bytes;

/// The load generator's arguments for the two sides of each comparison.
const PLAIN: [&str; 2] = ["--payload", "text"];
const DEFLATE: [&str; 3] = ["--payload", "text", "--deflate"];

/// The size of the one message each idle connection sends (and gets back)
/// before it is held: enough to set up every piece of compression state,
/// small enough that message buffers do not dominate the figure.
const WARM_UP_BYTES: usize = 1024;

/// Measures the echo and the idle memory, compressed and not.
pub fn measure(plan: &Plan, bins: &Binaries, pinning: &Pinning) -> Result<Compression> {
    let (connections, size) = plan.compression_echo;
    let server = Running::start(Kind::Reference, bins, pinning)?;
    let url = Kind::Reference.echo_url(&server.addr);
    let mut plain_runs = Vec::new();
    let mut deflate_runs = Vec::new();
    for round in 0..plan.rounds {
        eprintln!(
            "compression round {}/{}: {} text, plain and deflate",
            round + 1,
            plan.rounds,
            super::measure::case_name(connections, size)
        );
        for turn in 0..2 {
            let deflate = (turn + round) % 2 == 1;
            let extra: &[&str] = if deflate { &DEFLATE } else { &PLAIN };
            let measured = load(
                bins,
                pinning,
                &server,
                &url,
                "echo",
                connections,
                size,
                plan.millis,
                extra,
                || {},
            )?;
            if deflate {
                deflate_runs.push(measured);
            } else {
                plain_runs.push(measured);
            }
        }
    }
    drop(server);
    let mut per_round: Vec<f64> = plain_runs
        .iter()
        .zip(&deflate_runs)
        .map(|(p, d)| d.report.messages_per_sec / p.report.messages_per_sec.max(1e-9))
        .collect();
    let mut idle = Vec::new();
    for &count in &plan.idle_counts {
        idle.push(idle_pair(count, bins, pinning)?);
    }
    Ok(Compression {
        connections,
        size,
        plain: echo_stats(&plain_runs),
        deflate: echo_stats(&deflate_runs),
        deflate_rate_over_plain: median(&mut per_round),
        level_one_bytes: level_one_size(PayloadKind::Text, size),
        idle,
    })
}

/// Medians over the rounds of one side.
fn echo_stats(runs: &[Measured]) -> CompressionEcho {
    let pick = |f: &dyn Fn(&Measured) -> f64| median(&mut runs.iter().map(f).collect::<Vec<_>>());
    CompressionEcho {
        messages_per_sec: pick(&|m| m.report.messages_per_sec),
        mb_per_sec: pick(&|m| m.report.mb_per_sec),
        p50_us: pick(&|m| m.report.latency.p50_us),
        p99_us: pick(&|m| m.report.latency.p99_us),
        server_cpu_us_per_message: pick(&|m| {
            m.server_cpu * 1e6 / (m.report.messages.max(1) as f64)
        }),
        wire_bytes_sent_per_message: pick(&|m| m.report.wire_bytes_sent_per_message),
        wire_bytes_received_per_message: pick(&|m| m.report.wire_bytes_received_per_message),
        deflate: runs.iter().all(|m| m.report.deflate),
        complete: runs.iter().all(|m| m.report.complete),
    }
}

/// `count` idle connections after one round trip each, plain then
/// compressed, each on a fresh server process.
fn idle_pair(count: usize, bins: &Binaries, pinning: &Pinning) -> Result<CompressionIdle> {
    let mut per_connection = [0.0; 2];
    for (slot, extra) in [&PLAIN[..], &DEFLATE[..]].into_iter().enumerate() {
        let what = if slot == 1 { "compressed" } else { "plain" };
        eprintln!("compression idle: {count} {what} connections to the reference");
        let server = Running::start(Kind::Reference, bins, pinning)?;
        // Let the process settle (runtime threads, first allocations).
        std::thread::sleep(Duration::from_millis(300));
        let before = rss_bytes(server.pid()).unwrap_or(0);
        let mut after = None;
        let url = Kind::Reference.echo_url(&server.addr);
        let mut args = extra.to_vec();
        args.push("--warm-up");
        load(
            bins,
            pinning,
            &server,
            &url,
            "idle",
            count,
            WARM_UP_BYTES,
            2000,
            &args,
            || {
                std::thread::sleep(Duration::from_millis(700));
                after = rss_bytes(server.pid());
            },
        )?;
        let grown = after.unwrap_or(0).saturating_sub(before);
        per_connection[slot] = grown as f64 / count as f64;
    }
    let [plain, deflate] = per_connection;
    Ok(CompressionIdle {
        connections: count,
        plain_bytes_per_connection: plain,
        deflate_bytes_per_connection: deflate,
        deflate_over_plain: deflate / plain.max(1.0),
    })
}

/// The payload bytes inside a frame of `total` bytes from the server
/// (unmasked: a 2-, 4- or 10-byte header).
pub fn frame_payload(total: f64) -> f64 {
    if total < 2.0 + 126.0 {
        total - 2.0
    } else if total < 4.0 + 65_536.0 {
        total - 4.0
    } else {
        total - 10.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frames_payload_is_its_length_less_the_header() {
        assert_eq!(frame_payload(7.0), 5.0);
        assert_eq!(frame_payload(4.0 + 5000.0), 5000.0);
        assert_eq!(frame_payload(10.0 + 70_000.0), 70_000.0);
    }
}

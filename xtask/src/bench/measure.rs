//! The measurements: each runs the load generator (`wsconform bench`, a
//! process pinned to core 1) against the servers in turn and keeps the
//! medians.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use super::report::{
    Chat, ChatStats, EchoCase, EchoStats, IdleCase, IdleStats, Masking, SuiteTime,
};
use super::servers::{Binaries, Kind, Pinning, Running, SERVERS, read_lines};
use super::system::{cpu_seconds, rss_bytes};
use super::{Plan, target_dir};
use crate::project_root;

/// What the load generator writes with `--json`: the runner's own report
/// type, named once here so a change of its home is a one-line change.
type LoadReport = wsconform_runner::bench::BenchReport;

/// One load run: its report and the server's CPU seconds during it.
pub(super) struct Measured {
    pub(super) report: LoadReport,
    pub(super) server_cpu: f64,
}

/// Runs `wsconform bench` pinned to core 1 against `url`, with `extra`
/// arguments; `on_connected` runs when every connection is open.
#[allow(clippy::too_many_arguments)]
pub(super) fn load(
    bins: &Binaries,
    pinning: &Pinning,
    server: &Running,
    url: &str,
    mode: &str,
    connections: usize,
    size: usize,
    millis: u64,
    extra: &[&str],
    mut on_connected: impl FnMut(),
) -> Result<Measured> {
    // A fresh file of an unpredictable name, removed when `json_file` drops.
    let json_file = tempfile::Builder::new()
        .prefix("wsconform-bench-")
        .suffix(".json")
        .tempfile()
        .context("cannot create a temporary file for the load report")?;
    let json = json_file.path();
    let cpu_before = cpu_seconds(server.pid());
    let mut child = pinning
        .command(1, &bins.wsconform)
        .args(["bench", "--target", url, "--mode", mode])
        .args(["--connections", &connections.to_string()])
        .args(["--size", &size.to_string()])
        .args(["--duration", &format!("{millis}ms")])
        .args(extra)
        .arg("--json")
        .arg(json)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("cannot start `wsconform bench`")?;
    if let Some(stdout) = child.stdout.take() {
        let lines = read_lines(stdout);
        while let Ok(line) = lines.recv_timeout(Duration::from_secs(120)) {
            if line.starts_with("connected:") {
                on_connected();
            }
        }
    }
    let status = child.wait()?;
    let server_cpu = cpu_seconds(server.pid()) - cpu_before;
    let text = std::fs::read_to_string(json).unwrap_or_default();
    if text.trim().is_empty() {
        bail!("`wsconform bench --target {url} --mode {mode}` wrote no report ({status})");
    }
    let report: LoadReport = serde_json::from_str(&text)?;
    if !report.complete {
        eprintln!(
            "  warning: incomplete run against {url}: {}",
            report.first_error.as_deref().unwrap_or("cut short")
        );
    }
    Ok(Measured { report, server_cpu })
}

/// The median; 0 for no values.
pub fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    if values.len() % 2 == 1 {
        values[middle]
    } else {
        (values[middle - 1] + values[middle]) / 2.0
    }
}

/// `64 B × 100`, `64 KiB × 10`.
pub fn case_name(connections: usize, size: usize) -> String {
    if size >= 1024 {
        format!("{} KiB × {connections}", size / 1024)
    } else {
        format!("{size} B × {connections}")
    }
}

/// Echo round trips: every case, every server, `rounds` times, servers
/// taking turns in a rotating order.
pub fn echo_rounds(plan: &Plan, bins: &Binaries, pinning: &Pinning) -> Result<Vec<EchoCase>> {
    let servers: Vec<Running> = SERVERS
        .iter()
        .map(|&kind| Running::start(kind, bins, pinning))
        .collect::<Result<_>>()?;
    // samples[case][server] = one Measured per round
    let mut samples: Vec<Vec<Vec<Measured>>> = plan
        .echo_cases
        .iter()
        .map(|_| SERVERS.iter().map(|_| Vec::new()).collect())
        .collect();
    for round in 0..plan.rounds {
        for (case, &(connections, size)) in plan.echo_cases.iter().enumerate() {
            eprintln!(
                "echo round {}/{}: {}",
                round + 1,
                plan.rounds,
                case_name(connections, size)
            );
            for turn in 0..SERVERS.len() {
                let index = (turn + round) % SERVERS.len();
                let server = &servers[index];
                let url = SERVERS[index].echo_url(&server.addr);
                let measured = load(
                    bins,
                    pinning,
                    server,
                    &url,
                    "echo",
                    connections,
                    size,
                    plan.millis,
                    &[],
                    || {},
                )?;
                samples[case][index].push(measured);
            }
        }
    }
    let mut cases = Vec::new();
    for (case, &(connections, size)) in plan.echo_cases.iter().enumerate() {
        let mut servers = BTreeMap::new();
        for (index, kind) in SERVERS.iter().enumerate() {
            let runs = &samples[case][index];
            let pick =
                |f: &dyn Fn(&Measured) -> f64| median(&mut runs.iter().map(f).collect::<Vec<_>>());
            let stats = EchoStats {
                messages_per_sec: pick(&|m| m.report.messages_per_sec),
                mb_per_sec: pick(&|m| m.report.mb_per_sec),
                p50_us: pick(&|m| m.report.latency.p50_us),
                p99_us: pick(&|m| m.report.latency.p99_us),
                max_us: pick(&|m| m.report.latency.max_us),
                server_cpu_share: pick(&|m| m.server_cpu / m.report.seconds.max(1e-9)),
                load_cpu_share: pick(&|m| m.report.cpu_seconds / m.report.seconds.max(1e-9)),
                server_cpu_us_per_message: pick(&|m| {
                    m.server_cpu * 1e6 / (m.report.messages.max(1) as f64)
                }),
                rounds: runs.iter().map(|m| m.report.messages_per_sec).collect(),
                complete: runs.iter().all(|m| m.report.complete),
            };
            servers.insert(kind.name().to_owned(), stats);
        }
        // Ratios per round, then their median: both sides of each ratio
        // were measured within seconds of each other.
        let rate = |server: usize, round: usize| {
            samples[case][server]
                .get(round)
                .map_or(0.0, |m| m.report.messages_per_sec)
        };
        let mut reference_over = BTreeMap::new();
        for (index, kind) in SERVERS.iter().enumerate().skip(1) {
            let mut per_round: Vec<f64> = (0..plan.rounds)
                .map(|r| rate(0, r) / rate(index, r).max(1e-9))
                .collect();
            reference_over.insert(kind.name().to_owned(), median(&mut per_round));
        }
        // Every server against the raw TCP echo, the same way (the chart).
        let tcp = SERVERS
            .iter()
            .position(|&k| k == Kind::TcpEcho)
            .unwrap_or(1);
        let mut over_tcp_echo = BTreeMap::new();
        for (index, kind) in SERVERS.iter().enumerate() {
            let mut per_round: Vec<f64> = (0..plan.rounds)
                .map(|r| rate(index, r) / rate(tcp, r).max(1e-9))
                .collect();
            over_tcp_echo.insert(kind.name().to_owned(), median(&mut per_round));
        }
        cases.push(EchoCase {
            case: case_name(connections, size),
            connections,
            size,
            servers,
            reference_over,
            over_tcp_echo,
        });
    }
    Ok(cases)
}

/// Chat fan-out: one sender, every client receives; the servers with a
/// chat room take turns.
pub fn chat_rounds(plan: &Plan, bins: &Binaries, pinning: &Pinning) -> Result<Chat> {
    let chat_servers: Vec<Kind> = SERVERS
        .iter()
        .copied()
        .filter(|k| k.chat_url("x").is_some())
        .collect();
    let servers: Vec<Running> = chat_servers
        .iter()
        .map(|&kind| Running::start(kind, bins, pinning))
        .collect::<Result<_>>()?;
    let mut samples: Vec<Vec<Measured>> = chat_servers.iter().map(|_| Vec::new()).collect();
    for round in 0..plan.chat_rounds {
        eprintln!(
            "chat round {}/{}: {} clients",
            round + 1,
            plan.chat_rounds,
            plan.chat_clients
        );
        for turn in 0..servers.len() {
            let index = (turn + round) % servers.len();
            let server = &servers[index];
            let Some(url) = chat_servers[index].chat_url(&server.addr) else {
                continue;
            };
            let measured = load(
                bins,
                pinning,
                server,
                &url,
                "chat",
                plan.chat_clients,
                CHAT_MESSAGE_BYTES,
                plan.millis * 2,
                &[],
                || {},
            )?;
            samples[index].push(measured);
        }
    }
    let mut servers = BTreeMap::new();
    for (index, kind) in chat_servers.iter().enumerate() {
        let runs = &samples[index];
        let pick =
            |f: &dyn Fn(&Measured) -> f64| median(&mut runs.iter().map(f).collect::<Vec<_>>());
        let stats = ChatStats {
            deliveries_per_sec: pick(&|m| m.report.messages_per_sec),
            p50_us: pick(&|m| m.report.latency.p50_us),
            p99_us: pick(&|m| m.report.latency.p99_us),
            server_cpu_share: pick(&|m| m.server_cpu / m.report.seconds.max(1e-9)),
            load_cpu_share: pick(&|m| m.report.cpu_seconds / m.report.seconds.max(1e-9)),
            complete: runs.iter().all(|m| m.report.complete),
        };
        servers.insert(kind.name().to_owned(), stats);
    }
    Ok(Chat {
        clients: plan.chat_clients,
        message_bytes: CHAT_MESSAGE_BYTES,
        servers,
    })
}

/// Memory per idle connection: a fresh server process, its VmRSS, then
/// `count` open connections, its VmRSS again.
pub fn idle_memory(plan: &Plan, bins: &Binaries, pinning: &Pinning) -> Result<Vec<IdleCase>> {
    let mut results = Vec::new();
    for &count in &plan.idle_counts {
        let mut servers = BTreeMap::new();
        for kind in SERVERS {
            eprintln!("idle: {count} connections to {}", kind.name());
            let server = Running::start(kind, bins, pinning)?;
            // Let the process settle (runtime threads, first allocations).
            std::thread::sleep(Duration::from_millis(300));
            let before = rss_bytes(server.pid()).unwrap_or(0);
            let mut after = None;
            let url = kind.echo_url(&server.addr);
            let measured = load(
                bins,
                pinning,
                &server,
                &url,
                "idle",
                count,
                64,
                2000,
                &[],
                || {
                    std::thread::sleep(Duration::from_millis(700));
                    after = rss_bytes(server.pid());
                },
            )?;
            let after = after.unwrap_or(0);
            let per_connection = after.saturating_sub(before) as f64 / count as f64;
            let stats = IdleStats {
                rss_before_bytes: before,
                rss_after_bytes: after,
                bytes_per_connection: per_connection,
                connect_seconds: measured.report.connect_seconds,
            };
            servers.insert(kind.name().to_owned(), stats);
        }
        results.push(IdleCase {
            connections: count,
            servers,
        });
    }
    Ok(results)
}

/// Wall time of the bundled suite at default settings: against the
/// reference server with both profiles (echo on /echo, chat on /socket),
/// and with the echo profile against three broken servers, the slowest
/// mutant to grade and two black holes, one serving clients side by side
/// and one serving a client at a time (`echo: <server>`), whose runs fail.
/// The servers take turns inside each round.
pub fn suite_time(
    plan: &Plan,
    bins: &Binaries,
    pinning: &Pinning,
) -> Result<Option<BTreeMap<String, SuiteTime>>> {
    if plan.suite_rounds == 0 {
        return Ok(None);
    }
    let reference = Running::start(Kind::Reference, bins, pinning)?;
    let mutant = Running::start(Kind::SlowestMutant, bins, pinning)?;
    let black_hole = Running::start(Kind::BlackHole, bins, pinning)?;
    let one_at_a_time = Running::start(Kind::BlackHoleOneAtATime, bins, pinning)?;
    let runs = [
        (
            "echo".to_owned(),
            "echo",
            format!("ws://{}/echo", reference.addr),
        ),
        (
            "chat".to_owned(),
            "chat",
            format!("ws://{}/socket", reference.addr),
        ),
        (
            format!("echo: {}", Kind::SlowestMutant.name()),
            "echo",
            format!("ws://{}/echo", mutant.addr),
        ),
        (
            format!("echo: {}", Kind::BlackHole.name()),
            "echo",
            format!("ws://{}/echo", black_hole.addr),
        ),
        (
            format!("echo: {}", Kind::BlackHoleOneAtATime.name()),
            "echo",
            format!("ws://{}/echo", one_at_a_time.addr),
        ),
    ];
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); runs.len()];
    let mut passed = vec![true; runs.len()];
    for round in 0..plan.suite_rounds {
        for (i, (name, profile, url)) in runs.iter().enumerate() {
            eprintln!("suite ({name}) round {}/{}", round + 1, plan.suite_rounds);
            let started = Instant::now();
            let output = pinning
                .command(1, &bins.wsconform)
                .args(["run", "--profile", profile, "--target", url])
                .env("NO_COLOR", "1")
                .output()
                .context("cannot start `wsconform run`")?;
            if let Some(t) = times.get_mut(i) {
                t.push(started.elapsed().as_secs_f64());
            }
            if let Some(p) = passed.get_mut(i) {
                *p &= output.status.success();
            }
        }
    }
    let mut results = BTreeMap::new();
    for ((name, _, _), (mut t, all_passed)) in runs.into_iter().zip(times.into_iter().zip(passed)) {
        let time = SuiteTime {
            median_seconds: median(&mut t),
            all_passed,
        };
        results.insert(name, time);
    }
    Ok(Some(results))
}

/// Masking speed as a fraction of copy speed, from the wire crate's
/// criterion benchmark (`cargo bench -p wsconform-wire --bench wire -- mask/`).
pub fn masking_ratios(pinning: &Pinning) -> Result<BTreeMap<String, Masking>> {
    eprintln!("masking: criterion mask/ benchmarks");
    let program = PathBuf::from("cargo");
    let mut command = if pinning.enabled {
        let mut c = Command::new("taskset");
        c.args(["-c", "1"]).arg(&program);
        c
    } else {
        Command::new(&program)
    };
    let status = command
        .args([
            "bench",
            "--quiet",
            "-p",
            "wsconform-wire",
            "--bench",
            "wire",
            "--",
        ])
        .args(["mask/", "--warm-up-time", "0.5", "--measurement-time", "1"])
        .current_dir(project_root())
        .stdout(Stdio::null())
        .status()
        .context("cannot run cargo bench")?;
    if !status.success() {
        bail!("`cargo bench -p wsconform-wire` failed ({status})");
    }
    let estimate = |function: &str, size: usize| -> Option<f64> {
        let path = target_dir()
            .join("criterion/mask")
            .join(function)
            .join(size.to_string())
            .join("new/estimates.json");
        let estimates: CriterionEstimates =
            serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
        Some(estimates.median.point_estimate)
    };
    let mut sizes = BTreeMap::new();
    for size in [64usize, 1024, 16 * 1024, 64 * 1024, 1024 * 1024] {
        if let (Some(copy), Some(mask)) = (estimate("copy", size), estimate("apply_mask", size)) {
            let masking = Masking {
                copy_ns: copy,
                mask_ns: mask,
                mask_speed_over_copy: copy / mask.max(1e-9),
            };
            sizes.insert(size.to_string(), masking);
        }
    }
    Ok(sizes)
}

/// Bytes per chat message in the fan-out.
const CHAT_MESSAGE_BYTES: usize = 128;

/// What we read of criterion's `estimates.json`.
#[derive(Deserialize)]
struct CriterionEstimates {
    median: CriterionEstimate,
}

#[derive(Deserialize)]
struct CriterionEstimate {
    point_estimate: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_of_odd_and_even_counts() {
        assert_eq!(median(&mut []), 0.0);
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
    }

    #[test]
    fn case_names_use_kib_from_one_kib() {
        assert_eq!(case_name(100, 64), "64 B × 100");
        assert_eq!(case_name(10, 64 * 1024), "64 KiB × 10");
    }

    #[test]
    fn criterion_estimates_are_read_typed() {
        let text = r#"{"mean":{"point_estimate":2.0},"median":{"point_estimate":1.5,"standard_error":0.1}}"#;
        let estimates: CriterionEstimates = serde_json::from_str(text).unwrap();
        assert_eq!(estimates.median.point_estimate, 1.5);
    }
}

//! `cargo xtask bench`: the reference server next to the baselines, in one
//! run, under the same load, on pinned cores.
//!
//! Four servers run as separate processes on **core 0**; the load generator
//! (`wsconform bench`) runs as a process on **core 1**:
//!
//! | name | what | started with |
//! |---|---|---|
//! | `reference` | the reference server | `wsconform-server` |
//! | `tcp-echo` | a raw tokio TCP echo, no WebSocket: the loopback limit | `wsconform-testbed tcp-echo` |
//! | `tokio-tungstenite` | the testbed's tungstenite peer | `wsconform-testbed peer` |
//! | `fastwebsockets` | a fastwebsockets echo | `wsconform-testbed fastwebsockets-echo` |
//!
//! The machine is shared and noisy, so every measurement is several short
//! rounds, the servers take turns inside each round (in a rotating order),
//! and what is reported is the **median of the per-round ratios**: two
//! servers measured a second apart suffer the same noise.
//!
//! It measures echo round trips (64 B × 1, 100 and 500 connections, 64 KiB
//! × 10), a chat fan-out to 1 000 clients, the memory (VmRSS) of an idle
//! connection at 1 000 and 15 000 connections, masking against a plain copy
//! (the wire crate's criterion benchmark) and the wall time of the
//! conformance suite. It prints a table, writes `<target>/bench/report.json`
//! and draws `book/src/generated/bench.svg` from it.
//!
//! `--smoke` runs a tiny version on debug builds that only checks that every
//! part completes (CI); it writes `<target>/bench/smoke.json` and no chart.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use wsconform_runner::bench::BenchReport;

use crate::{project_root, run_command};

/// Options of `cargo xtask bench`.
#[derive(clap::Args)]
pub struct Args {
    /// A tiny run on debug builds that only checks that everything completes.
    #[arg(long)]
    pub smoke: bool,
    /// Rounds per echo measurement; the medians are over them.
    #[arg(long, default_value_t = 5)]
    pub rounds: usize,
    /// Milliseconds of load per round.
    #[arg(long, default_value_t = 1000)]
    pub millis: u64,
    /// Run only these parts (comma-separated: echo, chat, idle, suite,
    /// masking); the chart is drawn only from a full run.
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
}

/// The servers compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Reference,
    TcpEcho,
    Tungstenite,
    Fastwebsockets,
}

const SERVERS: [Kind; 4] = [
    Kind::Reference,
    Kind::TcpEcho,
    Kind::Tungstenite,
    Kind::Fastwebsockets,
];

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Reference => "reference",
            Kind::TcpEcho => "tcp-echo",
            Kind::Tungstenite => "tokio-tungstenite",
            Kind::Fastwebsockets => "fastwebsockets",
        }
    }

    fn echo_url(self, addr: &str) -> String {
        match self {
            Kind::TcpEcho => format!("tcp://{addr}"),
            _ => format!("ws://{addr}/echo"),
        }
    }

    /// The chat URL of the servers that have a chat room.
    fn chat_url(self, addr: &str) -> Option<String> {
        match self {
            Kind::Reference | Kind::Tungstenite => Some(format!("ws://{addr}/socket")),
            Kind::TcpEcho | Kind::Fastwebsockets => None,
        }
    }
}

/// What one run measures; `--smoke` shrinks everything.
struct Plan {
    profile: &'static str,
    rounds: usize,
    millis: u64,
    echo_cases: Vec<(usize, usize)>,
    chat_clients: usize,
    chat_rounds: usize,
    idle_counts: Vec<usize>,
    suite_rounds: usize,
    masking: bool,
}

impl Plan {
    fn new(args: &Args) -> Plan {
        if args.smoke {
            return Plan {
                profile: "debug",
                rounds: 1,
                millis: 200,
                echo_cases: vec![(1, 64), (10, 64), (2, 64 * 1024)],
                chat_clients: 10,
                chat_rounds: 1,
                idle_counts: vec![50],
                suite_rounds: 0,
                masking: false,
            };
        }
        Plan {
            profile: "release",
            rounds: args.rounds.clamp(1, 50),
            millis: args.millis.clamp(100, 60_000),
            echo_cases: vec![(1, 64), (100, 64), (500, 64), (10, 64 * 1024)],
            chat_clients: 1000,
            chat_rounds: args.rounds.clamp(1, 3),
            idle_counts: vec![1000, 15_000],
            suite_rounds: 3,
            masking: true,
        }
    }
}

/// The programs the benchmark starts.
struct Binaries {
    wsconform: PathBuf,
    testbed: PathBuf,
    server: PathBuf,
}

/// Where cargo puts build output: `CARGO_TARGET_DIR` or `./target`.
fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => project_root().join(dir),
        None => project_root().join("target"),
    }
}

/// Runs the benchmarks; see the [module documentation](self).
pub fn run(args: Args) -> Result<()> {
    let plan = Plan::new(&args);
    let started = Instant::now();
    let mut build = vec![
        "build",
        "--quiet",
        "-p",
        "wsconform",
        "-p",
        "wsconform-testbed",
    ];
    build.extend(["-p", "wsconform-server"]);
    if plan.profile == "release" {
        build.push("--release");
    }
    run_command("cargo", &build)?;
    let bin_dir = target_dir().join(plan.profile);
    let bins = Binaries {
        wsconform: bin_dir.join("wsconform"),
        testbed: bin_dir.join("wsconform-testbed"),
        server: bin_dir.join("wsconform-server"),
    };
    let files = raise_open_files();
    let pinning = Pinning::detect();
    eprintln!(
        "bench: {} build, servers on {}, load on {}; open files per process: {files}",
        plan.profile,
        pinning.describe(0),
        pinning.describe(1)
    );

    let wanted = |part: &str| args.only.is_empty() || args.only.iter().any(|p| p == part);
    for part in &args.only {
        if !["echo", "chat", "idle", "suite", "masking"].contains(&part.as_str()) {
            bail!("--only {part}: use echo, chat, idle, suite or masking");
        }
    }
    let echo = if wanted("echo") {
        echo_rounds(&plan, &bins, &pinning)?
    } else {
        Value::Null
    };
    let chat = if wanted("chat") {
        chat_rounds(&plan, &bins, &pinning)?
    } else {
        Value::Null
    };
    let idle = if wanted("idle") {
        idle_memory(&plan, &bins, &pinning)?
    } else {
        Value::Null
    };
    let suite = if wanted("suite") {
        suite_time(&plan, &bins, &pinning)?
    } else {
        Value::Null
    };
    let masking = if plan.masking && wanted("masking") {
        masking_ratios(&pinning)?
    } else {
        Value::Null
    };

    let mut report = json!({
        "profile": plan.profile,
        "rounds": plan.rounds,
        "millis_per_round": plan.millis,
        "machine": {
            "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            "pinned": pinning.enabled,
            "open_files_per_process": files,
            "load_average": load_average(),
        },
        "echo": echo,
        "chat": chat,
        "idle": idle,
        "suite": suite,
        "masking": masking,
    });
    // A smoke run is a debug build with tiny loads: its numbers say nothing.
    report["targets"] = if args.smoke {
        Value::Array(Vec::new())
    } else {
        targets(&report)
    };
    report["wall_seconds"] = json!(started.elapsed().as_secs_f64());

    print_table(&report);
    let out_dir = target_dir().join("bench");
    std::fs::create_dir_all(&out_dir)
        .with_context(|| format!("cannot create {}", out_dir.display()))?;
    let partial = !args.only.is_empty();
    let name = if args.smoke {
        "smoke.json"
    } else if partial {
        "partial.json"
    } else {
        "report.json"
    };
    let path = out_dir.join(name);
    std::fs::write(&path, serde_json::to_string_pretty(&report)? + "\n")
        .with_context(|| format!("cannot write {}", path.display()))?;
    eprintln!("wrote {}", path.display());
    if !args.smoke && !partial {
        let svg = project_root().join("book/src/generated/bench.svg");
        std::fs::write(&svg, chart(&report))
            .with_context(|| format!("cannot write {}", svg.display()))?;
        eprintln!("wrote {}", svg.display());
    }
    Ok(())
}

/// Raises this process's soft limit on open files to its hard limit, so
/// the servers and the load generator (its children) inherit it. Returns
/// the limit in force.
fn raise_open_files() -> u64 {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) if soft < hard => {
            if setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
                hard
            } else {
                soft
            }
        }
        Ok((soft, _)) => soft,
        Err(_) => 0,
    }
}

/// Pins processes to cores with `taskset` (util-linux) when there is one
/// and at least two cores; otherwise runs them unpinned and says so.
struct Pinning {
    enabled: bool,
}

impl Pinning {
    fn detect() -> Pinning {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let taskset = Command::new("taskset")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        Pinning {
            enabled: taskset && cores >= 2,
        }
    }

    fn describe(&self, core: usize) -> String {
        if self.enabled {
            format!("core {core}")
        } else {
            "any core (not pinned: no taskset or one core)".into()
        }
    }

    /// A command for `program`, pinned to `core`.
    fn command(&self, core: usize, program: &Path) -> Command {
        if self.enabled {
            let mut command = Command::new("taskset");
            command.arg("-c").arg(core.to_string()).arg(program);
            command
        } else {
            Command::new(program)
        }
    }
}

/// A server process; killed when dropped.
struct Running {
    child: Child,
    addr: String,
}

impl Running {
    fn start(kind: Kind, bins: &Binaries, pinning: &Pinning) -> Result<Running> {
        let mut command = match kind {
            Kind::Reference => {
                let mut c = pinning.command(0, &bins.server);
                c.args(["--port", "0", "--max-connections", "19000"]);
                c.env("RUST_LOG", "warn");
                c
            }
            Kind::TcpEcho | Kind::Tungstenite | Kind::Fastwebsockets => {
                let mut c = pinning.command(0, &bins.testbed);
                c.arg(match kind {
                    Kind::TcpEcho => "tcp-echo",
                    Kind::Tungstenite => "peer",
                    _ => "fastwebsockets-echo",
                });
                c.args(["--port", "0"]);
                c
            }
        };
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("cannot start the {} server", kind.name()))?;
        let Some(stdout) = child.stdout.take() else {
            bail!("no stdout from the {} server", kind.name());
        };
        let lines = read_lines(stdout);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(addr) = line.trim().strip_prefix("listening on ") {
                        return Ok(Running {
                            child,
                            addr: addr.to_owned(),
                        });
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    bail!(
                        "the {} server did not say 'listening on' in 20 s",
                        kind.name()
                    );
                }
            }
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads a child's output line by line on a thread (which also keeps the
/// pipe drained, so the child never blocks on a full pipe).
fn read_lines(output: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(output).lines() {
            let Ok(line) = line else { break };
            if send.send(line).is_err() {
                // Nobody listens any more; keep draining.
                continue;
            }
        }
    });
    receive
}

/// One load run: its report and the server's CPU seconds during it.
struct Measured {
    report: BenchReport,
    server_cpu: f64,
}

/// Runs `wsconform bench` pinned to core 1 against `url`; `on_connected`
/// runs when every connection is open.
#[allow(clippy::too_many_arguments)]
fn load(
    bins: &Binaries,
    pinning: &Pinning,
    server: &Running,
    url: &str,
    mode: &str,
    connections: usize,
    size: usize,
    millis: u64,
    mut on_connected: impl FnMut(),
) -> Result<Measured> {
    let json = std::env::temp_dir().join(format!("wsconform-bench-{}.json", std::process::id()));
    let _ = std::fs::remove_file(&json);
    let cpu_before = cpu_seconds(server.pid());
    let mut child = pinning
        .command(1, &bins.wsconform)
        .args(["bench", "--target", url, "--mode", mode])
        .args(["--connections", &connections.to_string()])
        .args(["--size", &size.to_string()])
        .args(["--duration", &format!("{millis}ms")])
        .arg("--json")
        .arg(&json)
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
    let text = std::fs::read_to_string(&json).with_context(|| {
        format!("`wsconform bench --target {url} --mode {mode}` wrote no report ({status})")
    })?;
    let report: BenchReport = serde_json::from_str(&text)?;
    if !report.complete {
        eprintln!(
            "  warning: incomplete run against {url}: {}",
            report.first_error.as_deref().unwrap_or("cut short")
        );
    }
    Ok(Measured { report, server_cpu })
}

/// CPU seconds (user + system) process `pid` has used, from /proc.
fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the command name (which may hold spaces, in parentheses).
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 here.
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<f64>().ok())
        .sum();
    ticks / clock_ticks_per_second()
}

fn clock_ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse().ok())
        .unwrap_or(100.0)
}

/// VmRSS of process `pid` in bytes.
fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn load_average() -> Option<String> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
}

fn median(values: &mut [f64]) -> f64 {
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

fn case_name(connections: usize, size: usize) -> String {
    if size >= 1024 {
        format!("{} KiB × {connections}", size / 1024)
    } else {
        format!("{size} B × {connections}")
    }
}

/// Echo round trips: every case, every server, `rounds` times, servers
/// taking turns in a rotating order.
fn echo_rounds(plan: &Plan, bins: &Binaries, pinning: &Pinning) -> Result<Value> {
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
                    || {},
                )?;
                samples[case][index].push(measured);
            }
        }
    }
    let mut cases = Vec::new();
    for (case, &(connections, size)) in plan.echo_cases.iter().enumerate() {
        let mut per_server = serde_json::Map::new();
        for (index, kind) in SERVERS.iter().enumerate() {
            let runs = &samples[case][index];
            let pick =
                |f: &dyn Fn(&Measured) -> f64| median(&mut runs.iter().map(f).collect::<Vec<_>>());
            per_server.insert(
                kind.name().into(),
                json!({
                    "messages_per_sec": pick(&|m| m.report.messages_per_sec),
                    "mb_per_sec": pick(&|m| m.report.mb_per_sec),
                    "p50_us": pick(&|m| m.report.latency.p50_us),
                    "p99_us": pick(&|m| m.report.latency.p99_us),
                    "max_us": pick(&|m| m.report.latency.max_us),
                    "server_cpu_share": pick(&|m| m.server_cpu / m.report.seconds.max(1e-9)),
                    "load_cpu_share": pick(&|m| m.report.cpu_seconds / m.report.seconds.max(1e-9)),
                    // CPU per echo is steadier than the rate on a busy
                    // machine: time other processes take is not counted.
                    "server_cpu_us_per_message": pick(&|m| m.server_cpu * 1e6 / (m.report.messages.max(1) as f64)),
                    "rounds": runs.iter().map(|m| m.report.messages_per_sec).collect::<Vec<_>>(),
                    "complete": runs.iter().all(|m| m.report.complete),
                }),
            );
        }
        // Ratios per round, then their median: both sides of each ratio
        // were measured within seconds of each other.
        let rate = |server: usize, round: usize| {
            samples[case][server]
                .get(round)
                .map_or(0.0, |m| m.report.messages_per_sec)
        };
        let mut ratios = serde_json::Map::new();
        for (index, kind) in SERVERS.iter().enumerate().skip(1) {
            let mut per_round: Vec<f64> = (0..plan.rounds)
                .map(|r| rate(0, r) / rate(index, r).max(1e-9))
                .collect();
            ratios.insert(kind.name().into(), json!(median(&mut per_round)));
        }
        // Every server against the raw TCP echo, the same way (the chart).
        let tcp = SERVERS
            .iter()
            .position(|&k| k == Kind::TcpEcho)
            .unwrap_or(1);
        let mut over_tcp = serde_json::Map::new();
        for (index, kind) in SERVERS.iter().enumerate() {
            let mut per_round: Vec<f64> = (0..plan.rounds)
                .map(|r| rate(index, r) / rate(tcp, r).max(1e-9))
                .collect();
            over_tcp.insert(kind.name().into(), json!(median(&mut per_round)));
        }
        cases.push(json!({
            "case": case_name(connections, size),
            "connections": connections,
            "size": size,
            "servers": per_server,
            "reference_over": ratios,
            "over_tcp_echo": over_tcp,
        }));
    }
    Ok(Value::Array(cases))
}

/// Chat fan-out: one sender, every client receives; the servers with a
/// chat room take turns.
fn chat_rounds(plan: &Plan, bins: &Binaries, pinning: &Pinning) -> Result<Value> {
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
                128,
                plan.millis * 2,
                || {},
            )?;
            samples[index].push(measured);
        }
    }
    let mut per_server = serde_json::Map::new();
    for (index, kind) in chat_servers.iter().enumerate() {
        let runs = &samples[index];
        let pick =
            |f: &dyn Fn(&Measured) -> f64| median(&mut runs.iter().map(f).collect::<Vec<_>>());
        per_server.insert(
            kind.name().into(),
            json!({
                "deliveries_per_sec": pick(&|m| m.report.messages_per_sec),
                "p50_us": pick(&|m| m.report.latency.p50_us),
                "p99_us": pick(&|m| m.report.latency.p99_us),
                "server_cpu_share": pick(&|m| m.server_cpu / m.report.seconds.max(1e-9)),
                "load_cpu_share": pick(&|m| m.report.cpu_seconds / m.report.seconds.max(1e-9)),
                "complete": runs.iter().all(|m| m.report.complete),
            }),
        );
    }
    Ok(json!({
        "clients": plan.chat_clients,
        "message_bytes": 128,
        "servers": per_server,
    }))
}

/// Memory per idle connection: a fresh server process, its VmRSS, then
/// `count` open connections, its VmRSS again.
fn idle_memory(plan: &Plan, bins: &Binaries, pinning: &Pinning) -> Result<Value> {
    let mut results = Vec::new();
    for &count in &plan.idle_counts {
        let mut per_server = serde_json::Map::new();
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
                || {
                    std::thread::sleep(Duration::from_millis(700));
                    after = rss_bytes(server.pid());
                },
            )?;
            let after = after.unwrap_or(0);
            let per_connection = after.saturating_sub(before) as f64 / count as f64;
            per_server.insert(
                kind.name().into(),
                json!({
                    "rss_before_bytes": before,
                    "rss_after_bytes": after,
                    "bytes_per_connection": per_connection,
                    "connect_seconds": measured.report.connect_seconds,
                }),
            );
        }
        results.push(json!({ "connections": count, "servers": per_server }));
    }
    Ok(Value::Array(results))
}

/// Wall time of the bundled suite against the reference server, both
/// profiles (echo on /echo, chat on /socket).
fn suite_time(plan: &Plan, bins: &Binaries, pinning: &Pinning) -> Result<Value> {
    if plan.suite_rounds == 0 {
        return Ok(Value::Null);
    }
    let server = Running::start(Kind::Reference, bins, pinning)?;
    let mut results = serde_json::Map::new();
    for (profile, path) in [("echo", "/echo"), ("chat", "/socket")] {
        let mut times = Vec::new();
        let mut passed = true;
        for round in 0..plan.suite_rounds {
            eprintln!(
                "suite ({profile}) round {}/{}",
                round + 1,
                plan.suite_rounds
            );
            let started = Instant::now();
            let output = pinning
                .command(1, &bins.wsconform)
                .args(["run", "--profile", profile, "--target"])
                .arg(format!("ws://{}{path}", server.addr))
                .env("NO_COLOR", "1")
                .output()
                .context("cannot start `wsconform run`")?;
            times.push(started.elapsed().as_secs_f64());
            passed &= output.status.success();
        }
        results.insert(
            profile.into(),
            json!({ "median_seconds": median(&mut times), "all_passed": passed }),
        );
    }
    Ok(Value::Object(results))
}

/// Masking speed as a fraction of copy speed, from the wire crate's
/// criterion benchmark (`cargo bench -p wsconform-wire --bench wire -- mask/`).
fn masking_ratios(pinning: &Pinning) -> Result<Value> {
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
        let value: Value = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
        value["median"]["point_estimate"].as_f64()
    };
    let mut sizes = BTreeMap::new();
    for size in [64usize, 1024, 16 * 1024, 64 * 1024, 1024 * 1024] {
        if let (Some(copy), Some(mask)) = (estimate("copy", size), estimate("apply_mask", size)) {
            sizes.insert(
                size.to_string(),
                json!({
                    "copy_ns": copy,
                    "mask_ns": mask,
                    "mask_speed_over_copy": copy / mask.max(1e-9),
                }),
            );
        }
    }
    Ok(json!(sizes))
}

/// The issue's targets, each with its measured value and whether it holds.
fn targets(report: &Value) -> Value {
    let mut targets = Vec::new();
    let mut target = |name: String, value: Option<f64>, goal: f64, at_most: bool| {
        let holds = value.map(|v| if at_most { v <= goal } else { v >= goal });
        targets.push(json!({
            "target": name,
            "measured": value,
            "goal": if at_most { format!("≤ {goal}") } else { format!("≥ {goal}") },
            "holds": holds,
        }));
    };
    if let Some(cases) = report["echo"].as_array() {
        for case in cases {
            let name = case["case"].as_str().unwrap_or("?");
            let ratio = |server: &str| case["reference_over"][server].as_f64();
            if case["size"] == 64 && case["connections"].as_u64().unwrap_or(0) >= 100 {
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
            if case["size"].as_u64().unwrap_or(0) >= 64 * 1024 {
                target(
                    format!("{name}: reference / tcp-echo"),
                    ratio("tcp-echo"),
                    0.9,
                    false,
                );
            }
        }
    }
    if let Some(sizes) = report["masking"].as_object() {
        let slowest = sizes
            .values()
            .filter_map(|s| s["mask_speed_over_copy"].as_f64())
            .reduce(f64::min);
        target(
            "masking speed / copy speed (slowest size)".into(),
            slowest,
            0.5,
            false,
        );
    }
    if let Some(idle) = report["idle"].as_array() {
        for entry in idle {
            if entry["connections"].as_u64() == Some(15_000) {
                let bytes = entry["servers"]["reference"]["bytes_per_connection"].as_f64();
                target(
                    "reference KiB per idle connection at 15 000".into(),
                    bytes.map(|b| b / 1024.0),
                    8.0,
                    true,
                );
            }
        }
    }
    let suite = ["echo", "chat"]
        .iter()
        .filter_map(|p| report["suite"][p]["median_seconds"].as_f64())
        .reduce(f64::max);
    if suite.is_some() {
        target(
            "suite wall time, s (slower profile)".into(),
            suite,
            5.0,
            true,
        );
    }
    Value::Array(targets)
}

fn print_table(report: &Value) {
    println!();
    println!(
        "{:<14} {:>11} {:>11} {:>11} {:>11}   {:>7} {:>7} {:>7}",
        "echo msg/s", "reference", "tcp-echo", "tungstenite", "fastws", "/tcp", "/tung", "/fws"
    );
    for case in report["echo"].as_array().into_iter().flatten() {
        let rate = |s: &str| {
            case["servers"][s]["messages_per_sec"]
                .as_f64()
                .unwrap_or(0.0)
        };
        let ratio = |s: &str| case["reference_over"][s].as_f64().unwrap_or(0.0);
        println!(
            "{:<14} {:>11.0} {:>11.0} {:>11.0} {:>11.0}   {:>7.2} {:>7.2} {:>7.2}",
            case["case"].as_str().unwrap_or("?"),
            rate("reference"),
            rate("tcp-echo"),
            rate("tokio-tungstenite"),
            rate("fastwebsockets"),
            ratio("tcp-echo"),
            ratio("tokio-tungstenite"),
            ratio("fastwebsockets"),
        );
    }
    println!(
        "\n{:<14} {:>11} {:>11} {:>11} {:>11}",
        "server CPU µs/msg", "reference", "tcp-echo", "tungstenite", "fastws"
    );
    for case in report["echo"].as_array().into_iter().flatten() {
        let cpu = |s: &str| {
            case["servers"][s]["server_cpu_us_per_message"]
                .as_f64()
                .unwrap_or(0.0)
        };
        println!(
            "{:<17} {:>8.2} {:>11.2} {:>11.2} {:>11.2}",
            case["case"].as_str().unwrap_or("?"),
            cpu("reference"),
            cpu("tcp-echo"),
            cpu("tokio-tungstenite"),
            cpu("fastwebsockets"),
        );
    }
    if let Some(servers) = report["chat"]["servers"].as_object() {
        println!("\nchat fan-out to {} clients:", report["chat"]["clients"]);
        for (name, s) in servers {
            println!(
                "  {name:<18} {:>10.0} deliveries/s, p99 {:>8.0} µs",
                s["deliveries_per_sec"].as_f64().unwrap_or(0.0),
                s["p99_us"].as_f64().unwrap_or(0.0)
            );
        }
    }
    for entry in report["idle"].as_array().into_iter().flatten() {
        println!("\nidle memory at {} connections:", entry["connections"]);
        for (name, s) in entry["servers"].as_object().into_iter().flatten() {
            println!(
                "  {name:<18} {:>8.2} KiB per connection",
                s["bytes_per_connection"].as_f64().unwrap_or(0.0) / 1024.0
            );
        }
    }
    if let Some(sizes) = report["masking"].as_object() {
        println!("\nmasking speed / copy speed:");
        for (size, s) in sizes {
            println!(
                "  {size:>8} B {:>6.2}",
                s["mask_speed_over_copy"].as_f64().unwrap_or(0.0)
            );
        }
    }
    if let Some(suite) = report["suite"].as_object() {
        println!();
        for (profile, s) in suite {
            println!(
                "suite ({profile}): {:.2} s, all passed: {}",
                s["median_seconds"].as_f64().unwrap_or(0.0),
                s["all_passed"]
            );
        }
    }
    println!("\ntargets:");
    for t in report["targets"].as_array().into_iter().flatten() {
        let verdict = match t["holds"].as_bool() {
            Some(true) => "holds",
            Some(false) => "MISSED",
            None => "not measured",
        };
        println!(
            "  {:<52} {:>8.2} {:<7} {verdict}",
            t["target"].as_str().unwrap_or("?"),
            t["measured"].as_f64().unwrap_or(f64::NAN),
            t["goal"].as_str().unwrap_or(""),
        );
    }
}

/// Escapes text for SVG.
fn xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The chart of the book's performance page, drawn from the report: echo
/// throughput of each server relative to the raw TCP echo, per case, and
/// memory per idle connection.
pub fn chart(report: &Value) -> String {
    const COLORS: [&str; 4] = ["#d1495b", "#8d99ae", "#edae49", "#00798c"];
    let cases: Vec<&Value> = report["echo"].as_array().into_iter().flatten().collect();
    let idle: Option<&Value> = report["idle"].as_array().and_then(|a| a.last());
    let (width, left, top, plot_h) = (760.0, 60.0, 50.0, 220.0);
    let group_w = (width - left - 290.0) / cases.len().max(1) as f64;
    let bar_w = group_w / 5.0;
    let max_ratio = 1.2;
    let y_of = |ratio: f64| top + plot_h - plot_h * (ratio.min(max_ratio) / max_ratio);
    let mut svg = String::new();
    svg.push_str(&format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="340" viewBox="0 0 {width} 340" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="{left}" y="22" font-size="15" font-weight="bold">Echo throughput relative to a raw TCP echo (median of rounds)</text>
"#
    ));
    for tick in [0.0, 0.25, 0.5, 0.75, 1.0] {
        let y = y_of(tick);
        svg.push_str(&format!(
            r##"<line x1="{left}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{tick:.2}×</text>
"##,
            left + group_w * cases.len() as f64,
            left - 6.0,
            y + 4.0
        ));
    }
    for (i, case) in cases.iter().enumerate() {
        let x0 = left + group_w * i as f64 + bar_w / 2.0;
        for (j, kind) in SERVERS.iter().enumerate() {
            let rate = case["servers"][kind.name()]["messages_per_sec"]
                .as_f64()
                .unwrap_or(0.0);
            let ratio = case["over_tcp_echo"][kind.name()].as_f64().unwrap_or(0.0);
            let (x, y) = (x0 + bar_w * j as f64, y_of(ratio));
            svg.push_str(&format!(
                r#"<rect x="{x:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="{}"><title>{}: {rate:.0} msg/s ({ratio:.2}×)</title></rect>
"#,
                bar_w - 2.0,
                top + plot_h - y,
                COLORS[j],
                kind.name()
            ));
        }
        svg.push_str(&format!(
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>
"#,
            x0 + bar_w * 2.0,
            top + plot_h + 18.0,
            xml(case["case"].as_str().unwrap_or("?"))
        ));
    }
    // Legend.
    for (j, kind) in SERVERS.iter().enumerate() {
        let y = top + plot_h + 40.0;
        let x = left + 140.0 * j as f64;
        svg.push_str(&format!(
            r#"<rect x="{x}" y="{:.1}" width="12" height="12" fill="{}"/><text x="{}" y="{:.1}">{}</text>
"#,
            y - 10.0,
            COLORS[j],
            x + 16.0,
            y,
            kind.name()
        ));
    }
    // Idle memory panel.
    if let Some(idle) = idle {
        let panel_x = width - 250.0;
        svg.push_str(&format!(
            r#"<text x="{panel_x}" y="{:.1}" font-weight="bold">KiB per idle connection ({} open)</text>
"#,
            top - 8.0,
            idle["connections"]
        ));
        let values: Vec<f64> = SERVERS
            .iter()
            .map(|k| {
                idle["servers"][k.name()]["bytes_per_connection"]
                    .as_f64()
                    .unwrap_or(0.0)
                    / 1024.0
            })
            .collect();
        let max = values.iter().copied().fold(1.0, f64::max);
        for (j, (kind, kib)) in SERVERS.iter().zip(&values).enumerate() {
            let y = top + 14.0 + 44.0 * j as f64;
            let w = 150.0 * kib / max;
            svg.push_str(&format!(
                r#"<text x="{panel_x}" y="{y:.1}">{}</text><rect x="{panel_x}" y="{:.1}" width="{w:.1}" height="14" fill="{}"/><text x="{:.1}" y="{:.1}">{kib:.1}</text>
"#,
                kind.name(),
                y + 5.0,
                COLORS[j],
                panel_x + w + 4.0,
                y + 16.0
            ));
        }
    }
    svg.push_str("</svg>\n");
    svg
}

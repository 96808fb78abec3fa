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
//! (the wire crate's criterion benchmark), the wall time of the
//! conformance suite, and permessage-deflate on the reference server
//! ([`compression`]: a compressed echo of 16 KiB of text next to the plain
//! one, bytes on the wire, idle memory after one compressed message each way). It prints a table, writes `<target>/bench/report.json`
//! and draws `book/src/generated/bench.svg` from it.
//!
//! The parts: [`servers`] (the processes and their pinning), [`measure`]
//! (the load runs and their medians), [`compression`], [`system`] (CPU time and memory from
//! `/proc`), [`report`] (the report's types and the targets), [`table`] and
//! [`chart`].
//!
//! `--only grade` grades a class of 60 submissions instead ([`grade`]).
//!
//! `--smoke` runs a tiny version on debug builds that only checks that every
//! part completes (CI); it writes `<target>/bench/smoke.json` and no chart.

mod chart;
mod compression;
mod grade;
mod measure;
mod report;
mod servers;
mod system;
mod table;

use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::{project_root, run_command, target_dir};
use report::{Machine, Report};
use servers::{Binaries, Pinning, raise_open_files};

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
    /// masking, compression, grade); the chart is drawn only from a full
    /// run. `grade` (a class graded with `wsconform grade`) runs only when
    /// named here.
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// `grade`: how many submissions the class has.
    #[arg(long, default_value_t = 60)]
    pub submissions: usize,
    /// `grade`: submissions graded at once.
    #[arg(long, default_value_t = 4)]
    pub grade_jobs: usize,
}

/// What one run measures; `--smoke` shrinks everything.
struct Plan {
    profile: &'static str,
    rounds: usize,
    millis: u64,
    /// (connections, message size) per echo case.
    echo_cases: Vec<(usize, usize)>,
    chat_clients: usize,
    chat_rounds: usize,
    idle_counts: Vec<usize>,
    suite_rounds: usize,
    masking: bool,
    /// (connections, bytes of text) of the compressed echo.
    compression_echo: (usize, usize),
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
                compression_echo: (2, 16 * 1024),
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
            suite_rounds: args.rounds.clamp(1, 3),
            masking: true,
            compression_echo: (10, 16 * 1024),
        }
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
        if ![
            "echo",
            "chat",
            "idle",
            "suite",
            "masking",
            "compression",
            "grade",
        ]
        .contains(&part.as_str())
        {
            bail!("--only {part}: use echo, chat, idle, suite, masking, compression or grade");
        }
    }
    if args.only.iter().any(|p| p == "grade") {
        grade_part(&args, &bins, plan.profile)?;
        if args.only.iter().all(|p| p == "grade") {
            return Ok(());
        }
    }
    let echo = wanted("echo")
        .then(|| measure::echo_rounds(&plan, &bins, &pinning))
        .transpose()?;
    let chat = wanted("chat")
        .then(|| measure::chat_rounds(&plan, &bins, &pinning))
        .transpose()?;
    let idle = wanted("idle")
        .then(|| measure::idle_memory(&plan, &bins, &pinning))
        .transpose()?;
    let suite = if wanted("suite") {
        measure::suite_time(&plan, &bins, &pinning)?
    } else {
        None
    };
    let masking = (plan.masking && wanted("masking"))
        .then(|| measure::masking_ratios(&pinning))
        .transpose()?;
    let compression = wanted("compression")
        .then(|| compression::measure(&plan, &bins, &pinning))
        .transpose()?;

    let mut report = Report {
        profile: plan.profile.to_owned(),
        rounds: plan.rounds,
        millis_per_round: plan.millis,
        machine: Machine {
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            pinned: pinning.enabled,
            open_files_per_process: files,
            load_average: system::load_average(),
        },
        echo,
        chat,
        idle,
        suite,
        masking,
        compression,
        targets: Vec::new(),
        wall_seconds: 0.0,
    };
    // A smoke run is a debug build with tiny loads: its numbers say nothing.
    if !args.smoke {
        report.targets = report::targets(&report);
    }
    report.wall_seconds = started.elapsed().as_secs_f64();

    table::print_table(&report);
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
        std::fs::write(&svg, chart::chart(&report))
            .with_context(|| format!("cannot write {}", svg.display()))?;
        eprintln!("wrote {}", svg.display());
    }
    Ok(())
}

/// `--only grade`: grades a class of mutants and correct servers, prints
/// the numbers and writes `<target>/bench/grade.json`.
fn grade_part(args: &Args, bins: &Binaries, profile: &str) -> Result<()> {
    let result = grade::measure(bins, args.submissions.max(1), args.grade_jobs.max(1))?;
    println!(
        "grade ({profile} build): {} submissions, -j {}: {:.1} s wall, {:.1} submissions/min, \
         grader peak {:.1} MiB, grader + servers peak {:.1} MiB; statuses {:?}",
        result.submissions,
        result.jobs,
        result.wall_seconds,
        result.per_minute,
        result.grader_peak_mib,
        result.tree_peak_mib,
        result.statuses
    );
    let out_dir = target_dir().join("bench");
    std::fs::create_dir_all(&out_dir)
        .with_context(|| format!("cannot create {}", out_dir.display()))?;
    let path = out_dir.join("grade.json");
    std::fs::write(&path, serde_json::to_string_pretty(&result)? + "\n")
        .with_context(|| format!("cannot write {}", path.display()))?;
    eprintln!("wrote {}", path.display());
    Ok(())
}

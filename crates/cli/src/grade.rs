//! `wsconform grade`: a whole class in one command, and `grade merge` for
//! the parts graded on several machines. Also the `run --baseline`
//! decision. Arguments only; the work is in `wsconform_runner::grade`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use wsconform_runner::grade::isolation::{self, Limits};
use wsconform_runner::grade::network::{self, NetworkMode};
use wsconform_runner::grade::record::Status;
use wsconform_runner::grade::selection::{Weights, up_to};
use wsconform_runner::grade::submissions::Shard;
use wsconform_runner::grade::{self as grading, GradeSettings, baseline, endpoints};
use wsconform_runner::plan::Profile;
use wsconform_runner::report::RunReport;
use wsconform_runner::scenario::Dur;
use wsconform_runner::verdict::NonStrictPoints;

use crate::{ProfileArg, USAGE, load, parse_dur, progress};

/// Isolation, said in `--help` (the same text as the library's statement).
const AFTER_HELP: &str = isolation::STATEMENT;

#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true, after_long_help = AFTER_HELP)]
pub struct GradeArgs {
    #[command(subcommand)]
    merge: Option<GradeCommand>,
    #[command(flatten)]
    class: ClassArgs,
}

#[derive(clap::Subcommand, Debug)]
enum GradeCommand {
    /// Merge the output folders of shards (`--shard i/n`) into one gradebook and overview.
    Merge {
        /// The output folders of the shards.
        #[arg(required = true)]
        parts: Vec<PathBuf>,
        /// Where the merged gradebook goes.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
}

#[derive(clap::Args, Debug)]
struct ClassArgs {
    /// The class: every sub-folder is one submission.
    #[arg(long, value_name = "DIR")]
    submissions: Option<PathBuf>,
    /// How to start a submission's server, run with `sh -c` inside its
    /// folder; {port} and {dir} are replaced, e.g. "python3 server.py {port}".
    #[arg(long, value_name = "CMD")]
    start: Option<String>,
    /// Where grades.csv, grade.json, overview.html and each submission's reports go.
    #[arg(long, value_name = "DIR", default_value = "grades")]
    out: PathBuf,
    /// The profiles to grade (default: echo and chat, like the reference server).
    #[arg(long, value_enum)]
    profile: Vec<ProfileArg>,
    /// The path the echo profile is played on.
    #[arg(long, value_name = "PATH", default_value = "/echo")]
    echo_path: String,
    /// The path the chat profile is played on.
    #[arg(long, value_name = "PATH", default_value = "/socket")]
    chat_path: String,
    /// A scenario file or folder instead of the bundled suite.
    #[arg(long, value_name = "PATH")]
    scenarios: Option<PathBuf>,
    /// Only the chapters up to and including this one (the chapters taught so far).
    #[arg(long, value_name = "CHAPTER")]
    up_to: Option<String>,
    /// Multiply a chapter's points: CHAPTER=N (repeat for several).
    #[arg(long, value_name = "CHAPTER=N")]
    weight: Vec<String>,
    /// The base of every seed (nonces, keys, payloads); recorded, so a regrade gives the same rows.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// What a non-strict result (a SHOULD missed, no MUST broken) earns:
    /// full, half (rounded down) or zero of the scenario's points.
    #[arg(long, value_name = "POLICY", default_value = "full")]
    non_strict_points: NonStrictPoints,
    /// Grade only part I of N of the class (stable: by a hash of each folder's name).
    #[arg(long, value_name = "I/N", value_parser = Shard::parse)]
    shard: Option<Shard>,
    /// Submissions graded at once (default: number of CPUs).
    #[arg(short = 'j', long)]
    jobs: Option<usize>,
    /// Scenarios run at once against one server.
    #[arg(long, value_name = "N", default_value_t = 4)]
    scenario_jobs: usize,
    /// Deadline for each step.
    #[arg(long, value_name = "DUR", default_value = "2s", value_parser = parse_dur)]
    timeout: Dur,
    /// How long a server gets to accept connections (status did-not-start after).
    #[arg(long, value_name = "DUR", default_value = "30s", value_parser = parse_dur)]
    start_timeout: Dur,
    /// How long one submission's whole suite may take (status timed-out after).
    #[arg(long, value_name = "DUR", default_value = "5m", value_parser = parse_dur)]
    wall_limit: Dur,
    /// Memory of each server, in MiB (cgroup v2 memory.max; not capped without it).
    #[arg(long, value_name = "MIB", default_value_t = 512)]
    memory: u64,
    /// CPUs each server may use at once (cgroup v2 cpu.max); CPU seconds are
    /// capped per process with RLIMIT_CPU at this times the wall-clock limit.
    #[arg(long, value_name = "N", default_value_t = 1.0)]
    cpus: f64,
    /// Processes and threads of each server (cgroup v2 pids.max).
    #[arg(long, value_name = "N", default_value_t = 256)]
    pids: u32,
    /// The unprivileged user servers run as when wsconform runs as root (default: nobody).
    #[arg(long, value_name = "NAME")]
    user: Option<String>,
    /// Where servers are reachable from: `private` gives each submission a
    /// network namespace of its own (its server and the grader's client on a
    /// private loopback: no other submission, no host, no internet), `shared`
    /// leaves every server on the grader's loopback, `auto` is private when
    /// the machine allows it (root, or unprivileged user namespaces) and
    /// shared otherwise, said in the gradebook.
    #[arg(long, value_name = "MODE", default_value = "auto", value_parser = NetworkMode::parse)]
    network: NetworkMode,
    /// No progress bar.
    #[arg(long)]
    no_progress: bool,
}

/// `wsconform grade` and `wsconform grade merge`.
pub fn grade(args: GradeArgs) -> ExitCode {
    if let Some(GradeCommand::Merge { parts, out }) = args.merge {
        return match grading::merge(&parts, &out) {
            Ok(book) => {
                println!(
                    "merged {} submissions from {} parts into {}",
                    book.rows.len(),
                    parts.len(),
                    out.display()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(USAGE)
            }
        };
    }
    let settings = match settings(args.class) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let (settings, show) = settings;
    let class = match grading::class(&settings) {
        Ok(class) => class,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(USAGE);
        }
    };
    if class.is_empty() {
        eprintln!(
            "error: no submission folder in {}{}",
            settings.submissions.display(),
            if settings.shard.is_some() {
                " for this shard"
            } else {
                ""
            }
        );
        return ExitCode::from(USAGE);
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(USAGE);
        }
    };
    let bar = progress::bar(class.len(), show, crate::color_enabled());
    let on_row = |row: &grading::record::Row| {
        bar.set_message(format!(
            "{} {}/{} {}",
            row.submission,
            row.points,
            row.max_points,
            row.status.word()
        ));
        bar.inc(1);
    };
    let outcome = runtime.block_on(async {
        tokio::select! {
            book = grading::grade_class(&settings, class, on_row) => Some(book),
            _ = tokio::signal::ctrl_c() => None,
        }
    });
    bar.finish_and_clear();
    match outcome {
        None => {
            eprintln!("interrupted");
            ExitCode::from(130)
        }
        Some(Err(e)) => {
            eprintln!("error: {e}");
            ExitCode::from(USAGE)
        }
        Some(Ok(book)) => {
            let count = |status| book.rows.iter().filter(|r| r.status == status).count();
            println!(
                "graded {} submissions into {} ({} ok, {} did not start, {} crashed, {} timed out)",
                book.rows.len(),
                settings.out.display(),
                count(Status::Ok),
                count(Status::DidNotStart),
                count(Status::Crashed),
                count(Status::TimedOut)
            );
            println!("isolation: {}", book.settings.isolation);
            ExitCode::SUCCESS
        }
    }
}

/// The settings of a class from its arguments, and whether to show a bar.
fn settings(args: ClassArgs) -> Result<(GradeSettings, bool), ExitCode> {
    let usage = |message: String| {
        eprintln!("error: {message}");
        ExitCode::from(USAGE)
    };
    let submissions = args
        .submissions
        .ok_or_else(|| usage("say where the class is: --submissions DIR".into()))?;
    let start = args
        .start
        .ok_or_else(|| usage("say how to start a server: --start \"CMD {port}\"".into()))?;
    let mut suite = load(args.scenarios.as_deref())?;
    // A class's servers are graded; client scenarios are for `run --client-cmd`.
    suite.retain(|s| s.scenario.role == wsconform_runner::scenario::Role::Server);
    let selected = match &args.up_to {
        Some(chapter) => up_to(&suite, chapter).map_err(usage)?,
        None => suite.clone(),
    };
    let weights = Weights::parse(&args.weight).map_err(usage)?;
    let profiles = if args.profile.is_empty() {
        vec![ProfileArg::Echo, ProfileArg::Chat]
    } else {
        args.profile.clone()
    };
    let wanted: Vec<(Profile, String)> = profiles
        .iter()
        .map(|p| match p {
            ProfileArg::Echo => (Profile::Echo, args.echo_path.clone()),
            ProfileArg::Chat => (Profile::Chat, args.chat_path.clone()),
        })
        .collect();
    let account = isolation::account(args.user.as_deref()).map_err(usage)?;
    // While this process has one thread: a user namespace may be needed.
    let network = network::prepare(args.network).map_err(usage)?;
    let program = std::env::current_exe()
        .map_err(|e| usage(format!("cannot find this program to re-run it: {e}")))?;
    let wall_limit = args.wall_limit.0;
    let cpu_seconds = ((wall_limit.as_secs_f64() * args.cpus.max(0.01)).ceil() as u64).max(1);
    let jobs = args.jobs.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
    });
    let settings = GradeSettings {
        submissions,
        start,
        endpoints: endpoints(&wanted, &selected),
        suite,
        up_to: args.up_to,
        weights,
        seed: args.seed,
        shard: args.shard,
        jobs,
        scenario_jobs: args.scenario_jobs.max(1),
        step_timeout: args.timeout.0,
        start_timeout: args.start_timeout.0,
        wall_limit,
        limits: Limits {
            memory_bytes: args.memory.saturating_mul(1024 * 1024),
            cpus: args.cpus,
            pids: args.pids,
            cpu_seconds,
        },
        account,
        network,
        program,
        out: args.out,
        non_strict_points: args.non_strict_points,
    };
    Ok((settings, progress::wanted(args.no_progress)))
}

/// The exit code of `run` with `--baseline` and `--write-baseline`: with a
/// baseline, only failures not listed in it fail the run.
pub fn run_exit(report: &RunReport, baseline: Option<&Path>, write: Option<&Path>) -> ExitCode {
    if let Some(path) = write {
        let body = serde_json::to_string_pretty(&baseline::of(report)).unwrap_or_default();
        if let Err(e) = std::fs::write(path, body + "\n") {
            eprintln!("error: cannot write the baseline {}: {e}", path.display());
            return ExitCode::from(USAGE);
        }
    }
    let Some(path) = baseline else {
        return if report.passed() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        };
    };
    let known = match std::fs::read_to_string(path)
        .map_err(|e| e.to_string())
        .and_then(|text| baseline::parse(&text))
    {
        Ok(known) => known,
        Err(e) => {
            eprintln!("error: --baseline {}: {e}", path.display());
            return ExitCode::from(USAGE);
        }
    };
    let comparison = baseline::compare(&known, report);
    eprint!("{}", comparison.summary(&known));
    if comparison.new_failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

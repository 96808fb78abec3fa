//! The `wsconform` command line: a thin layer over `wsconform-runner`.
//! (Long on purpose: every subcommand's arguments live here, so `--help` is defined in one place.)
//!
//! Every subcommand parses its arguments, calls one library function and
//! turns the outcome into text and an exit code: 0 when everything passed,
//! 1 when a scenario failed or could not run, 2 for usage or input errors.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::{Parser, Subcommand, ValueEnum};
use wsconform_runner::check::check;
use wsconform_runner::decode::explain_bytes;
use wsconform_runner::hex::parse_hex;
use wsconform_runner::load::{LoadError, LoadedScenario, bundled, bundled_clients, load_path};
use wsconform_runner::plan::{PlanSettings, Profile, Target};
use wsconform_runner::report::ReportFormat;
use wsconform_runner::report::human::{HumanOptions, render_limited};
use wsconform_runner::scenario::Dur;
use wsconform_runner::scenario::Role;
use wsconform_runner::spawn::{SpawnedTarget, refuse_busy_port};
use wsconform_runner::suite::{Selection, Shortcuts, run_suite_with};
use wsconform_runner::verdict::Outcome;
use wsconform_runner::violations::{self, Sender};
use wsconform_runner::wording::{count, count_as};
use wsconform_runner::{chapter, ids};

mod client;
mod grade;
mod output;
mod progress;
mod serve;

use output::{out, outln};

/// Grades WebSocket servers against RFC 6455 with readable YAML scenarios.
#[derive(Parser, Debug)]
#[command(name = "wsconform", version, about, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run scenarios against a server and report.
    Run(RunArgs),
    /// List the scenarios, grouped by chapter.
    List {
        /// A scenario file or folder instead of the bundled suite.
        path: Option<PathBuf>,
    },
    /// Validate scenario files (exit 2 on any error).
    Check {
        /// A scenario file or folder instead of the bundled suite.
        path: Option<PathBuf>,
    },
    /// Show a scenario: what it checks, its RFC section, its hint and its YAML.
    Explain {
        /// The scenario id.
        id: String,
        /// Look in this file or folder instead of the bundled suite.
        #[arg(long)]
        scenarios: Option<PathBuf>,
    },
    /// Annotate frame bytes given in hex: FIN, RSV, opcode, mask, length,
    /// payload; then every rule they break, with its RFC section.
    Decode {
        /// The bytes, e.g. "81 85 37fa213d 7f9f4d5158" (spaces optional).
        hex: Vec<String>,
        /// Who sent the bytes (a client masks its frames, a server does
        /// not); default: a client when the first frame is masked.
        #[arg(long, value_enum)]
        from: Option<FromArg>,
    },
    /// Run the reference server: echo at /echo, chat at /socket.
    Serve(serve::ServeArgs),
    /// Put load on a server: echo round trips, chat fan-out or idle connections.
    Bench(BenchArgs),
    /// Grade a class: every sub-folder of --submissions is a server to start and test.
    Grade(grade::GradeArgs),
    /// Connect to a server with the reference client: type messages, or --echo.
    Client(client::ClientArgs),
}

/// `decode --from`.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum FromArg {
    Client,
    Server,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ProfileArg {
    Echo,
    Chat,
}

#[derive(clap::Args, Debug)]
struct RunArgs {
    /// Scenario files, folders or ids (default: the bundled suite).
    scenarios: Vec<String>,
    /// The server: ws://HOST:PORT/PATH.
    #[arg(long, required_unless_present_any = ["reference", "client_cmd"])]
    target: Option<String>,
    /// Test a client instead of a server: wsconform listens on loopback and
    /// plays the server of each client scenario, starting this command once
    /// per connection with {url} replaced by the URL to connect to (appended
    /// when absent), e.g. "python3 client.py {url}". The client must echo
    /// every message and close when the server closes (Autobahn's contract);
    /// optionally, it starts the closing handshake when it receives the text
    /// message wsconform:close (scenarios that need it are skipped for a
    /// client that echoes it, unless --require client-close).
    #[arg(long, value_name = "CMD", conflicts_with_all = ["target", "reference", "spawn"])]
    client_cmd: Option<String>,
    /// Test the reference server, started inside this process on a free
    /// port (/echo for the echo profile, /socket for chat), instead of --target.
    #[arg(long, conflicts_with_all = ["target", "spawn"])]
    reference: bool,
    /// Start this command first (in its own process group), wait for the
    /// target's port, and stop it when the run ends.
    #[arg(long, value_name = "CMD")]
    spawn: Option<String>,
    /// How long to wait for a spawned target's port.
    #[arg(long, value_name = "DUR", default_value = "30s", value_parser = parse_dur)]
    ready_timeout: Dur,
    /// The application protocol: echo (default) or chat.
    #[arg(long, value_enum, default_value = "echo")]
    profile: ProfileArg,
    /// Only scenarios of this chapter (folder name, or its name without the number).
    #[arg(long)]
    chapter: Vec<String>,
    /// Every chapter of the main chain from the first up to and including
    /// this one (the optional chapters are left out); when all pass, says
    /// which chapter comes next.
    #[arg(long, value_name = "CHAPTER", conflicts_with = "chapter")]
    up_to: Option<String>,
    /// Only scenarios with this tag.
    #[arg(long)]
    tag: Vec<String>,
    /// Only scenarios whose id matches this glob (e.g. 'lengths.*').
    #[arg(long, value_name = "GLOB")]
    filter: Option<String>,
    /// Scenarios run in parallel (default: 16 per CPU: they mostly wait for
    /// the server), from the concurrency chapter on; the chapters before it
    /// (and the optional compression chapter) run one at a time, since a
    /// server from those chapters may serve one connection at a time,
    /// unless the target first serves two clients at once (two handshakes,
    /// then an echo on each).
    #[arg(short = 'j', long)]
    jobs: Option<usize>,
    /// Deadline for each step.
    #[arg(long, value_name = "DUR", default_value = "2s", value_parser = parse_dur)]
    timeout: Dur,
    /// Write a report: FORMAT=FILE (FILE '-' is stdout); repeat for several.
    /// Formats: json, gradescope (results.json), junit (XML), tap (TAP 14),
    /// html (one self-contained page).
    #[arg(long, value_name = "FORMAT=FILE")]
    report: Vec<String>,
    /// No progress bar (it is also left out when standard error is not a
    /// terminal or CI is set).
    #[arg(long)]
    no_progress: bool,
    /// Show at most N failures in full (failures with one cause count
    /// once); the "Fix this first" list still names the first causes.
    #[arg(long, value_name = "N")]
    max_failures: Option<usize>,
    /// Known failures (a file from --write-baseline): exit 1 only on a failure not listed.
    #[arg(long, value_name = "FILE")]
    baseline: Option<PathBuf>,
    /// Write this run's failures as a baseline file.
    #[arg(long, value_name = "FILE")]
    write_baseline: Option<PathBuf>,
    /// Fail, instead of skipping, the scenarios of an optional feature the
    /// target does not take on: `--require deflate` (a server that declines
    /// permessage-deflate, RFC 7692), `--require client-close` (with
    /// --client-cmd: a client that echoes the text message wsconform:close
    /// instead of starting the closing handshake).
    #[arg(long, value_enum)]
    require: Vec<RequireArg>,
    /// What a non-strict result (a SHOULD missed, no MUST broken) earns in
    /// every report: full, half (rounded down) or zero of its points.
    #[arg(long, value_name = "POLICY", default_value = "full")]
    non_strict_points: wsconform_runner::verdict::NonStrictPoints,
    /// Wait every step deadline in full and play the chapters before
    /// concurrency one at a time. By default a server that answers nothing
    /// after its handshake (a text message and a ping unanswered for a
    /// whole deadline) gets each wait cut to a hundredth of the deadline,
    /// and a server that proves it serves two clients at once plays the
    /// early chapters side by side; the report says so. Both give the same
    /// verdicts: this only makes a broken server's run minutes longer.
    #[arg(long)]
    full_waits: bool,
}

/// Optional features `--require` can make mandatory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum RequireArg {
    /// permessage-deflate (RFC 7692).
    Deflate,
    /// The client-initiated closing handshake (the optional part of the
    /// client contract: close with 1000 on the text message wsconform:close).
    ClientClose,
}

fn parse_dur(text: &str) -> Result<Dur, String> {
    Dur::parse(text)
}

/// Exit code for usage and input errors.
pub(crate) const USAGE: u8 = 2;

fn color_enabled() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

fn print_load_errors(errors: &[LoadError]) {
    for e in errors {
        eprintln!("error: {e}");
    }
}

/// Loads a path, or the bundled suite (server and client scenarios) when
/// `path` is `None`.
fn load(path: Option<&Path>) -> Result<Vec<LoadedScenario>, ExitCode> {
    let loaded = match path {
        Some(p) if !p.exists() => {
            eprintln!("error: {}: no such file or folder", p.display());
            return Err(ExitCode::from(USAGE));
        }
        Some(p) => load_path(p),
        None => bundled().and_then(|mut all| {
            all.extend(bundled_clients()?);
            Ok(all)
        }),
    };
    loaded.map_err(|errors| {
        print_load_errors(&errors);
        ExitCode::from(USAGE)
    })
}

fn main() -> ExitCode {
    // `--spawn` runs this program again as the target's supervisor.
    if let Some(code) = wsconform_runner::spawn::supervise_if_asked() {
        return code;
    }
    // `grade` runs this program again to confine a submission's server.
    if let Some(code) = wsconform_runner::grade::isolation::confine_if_asked() {
        return code;
    }
    let cli = Cli::parse();
    match cli.command {
        Command::Run(args) => match tokio::runtime::Runtime::new() {
            Ok(rt) => rt.block_on(run(args)),
            Err(e) => {
                eprintln!("error: cannot start the async runtime: {e}");
                ExitCode::from(USAGE)
            }
        },
        Command::List { path } => list(path.as_deref()),
        Command::Check { path } => check_command(path.as_deref()),
        Command::Explain { id, scenarios } => explain(&id, scenarios.as_deref()),
        Command::Decode { hex, from } => decode(&hex.join(" "), from),
        Command::Serve(args) => match tokio::runtime::Runtime::new() {
            Ok(rt) => rt.block_on(serve::serve(args)),
            Err(e) => {
                eprintln!("error: cannot start the async runtime: {e}");
                ExitCode::from(USAGE)
            }
        },
        Command::Bench(args) => bench(args),
        Command::Grade(args) => grade::grade(args),
        Command::Client(args) => client::client(args),
    }
}

#[derive(clap::Args, Debug)]
struct BenchArgs {
    /// The server: ws://HOST:PORT/PATH, or tcp://HOST:PORT for a raw TCP echo.
    #[arg(long)]
    target: String,
    /// How many connections.
    #[arg(long, short = 'c', default_value_t = 64)]
    connections: usize,
    /// Payload bytes per message (chat: bytes of the JSON text).
    #[arg(long, default_value_t = 64)]
    size: usize,
    /// How long to run (default 5s), or to hold idle connections.
    #[arg(long, value_name = "DUR", value_parser = parse_dur, conflicts_with = "count")]
    duration: Option<Dur>,
    /// Stop after this many round trips (echo) or messages sent (chat).
    #[arg(long, value_name = "N")]
    count: Option<u64>,
    /// What the connections do: echo, chat or idle.
    #[arg(long, default_value = "echo")]
    mode: wsconform_runner::bench::Mode,
    /// What an echoed message holds: random (bytes, binary) or text
    /// (English-like words, a text message).
    #[arg(long, default_value = "random")]
    payload: wsconform_runner::bench::PayloadKind,
    /// Offer permessage-deflate and compress every message (echo, idle);
    /// a server that declines fails the run.
    #[arg(long)]
    deflate: bool,
    /// Idle mode: one echo round trip on every connection before holding it.
    #[arg(long)]
    warm_up: bool,
    /// Also write the results as JSON to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

/// `wsconform bench`: runs the load generator and prints (and saves) its report.
fn bench(args: BenchArgs) -> ExitCode {
    use wsconform_runner::bench::{LoadEndpoint, Progress, Settings, StopCondition, run_blocking};
    let endpoint = match LoadEndpoint::parse(&args.target) {
        Ok(endpoint) => endpoint,
        Err(e) => {
            eprintln!("error: --target: {e}");
            return ExitCode::from(USAGE);
        }
    };
    let stop = match (args.count, args.duration) {
        (Some(count), _) => StopCondition::Count(count),
        (None, Some(Dur(duration))) => StopCondition::After(duration),
        (None, None) => StopCondition::After(std::time::Duration::from_secs(5)),
    };
    let settings = Settings {
        connections: args.connections,
        size: args.size,
        stop,
        mode: args.mode,
        payload: args.payload,
        deflate: args.deflate,
        warm_up: args.warm_up,
        ..Settings::new(endpoint)
    };
    let announce = |Progress::Connected(n)| {
        use std::io::Write as _;
        outln!("connected: {n}");
        let _ = std::io::stdout().flush();
    };
    let report = match run_blocking(&settings, &announce) {
        Ok(report) => report,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(USAGE);
        }
    };
    out!("{report}");
    if let Some(path) = &args.json
        && let Err(e) = std::fs::write(path, report.to_json())
    {
        eprintln!("error: cannot write {}: {e}", path.display());
        return ExitCode::from(USAGE);
    }
    if report.complete {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn list(path: Option<&Path>) -> ExitCode {
    let scenarios = match load(path) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let mut chapter = "";
    for s in &scenarios {
        if s.chapter != chapter {
            chapter = &s.chapter;
            outln!("{chapter}");
        }
        let sc = &s.scenario;
        let profile = match sc.profile {
            wsconform_runner::scenario::ProfileNeed::Any => "",
            wsconform_runner::scenario::ProfileNeed::Echo => " [echo]",
            wsconform_runner::scenario::ProfileNeed::Chat => " [chat]",
        };
        let profile = match sc.role {
            Role::Client => " [client: run --client-cmd]",
            Role::Server => profile,
        };
        outln!("  {:<36} {}{profile}", sc.id, sc.title);
    }
    let points: u32 = scenarios.iter().map(|s| s.scenario.points).sum();
    outln!(
        "\n{}, {}",
        count(scenarios.len() as u64, "scenario"),
        count(points as u64, "point")
    );
    ExitCode::SUCCESS
}

fn check_command(path: Option<&Path>) -> ExitCode {
    let scenarios = match load(path) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let errors = check(&scenarios);
    for e in &errors {
        eprintln!("error: {e}");
    }
    if errors.is_empty() {
        outln!("{} OK", count(scenarios.len() as u64, "scenario"));
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "{} in {}",
            count(errors.len() as u64, "problem"),
            count(scenarios.len() as u64, "scenario")
        );
        ExitCode::from(USAGE)
    }
}

fn explain(id: &str, path: Option<&Path>) -> ExitCode {
    let scenarios = match load(path) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let Some(s) = scenarios.iter().find(|s| ids::names(&s.scenario.id, id)) else {
        eprintln!("error: no scenario with id '{id}'; `wsconform list` shows them all");
        return ExitCode::from(USAGE);
    };
    let sc = &s.scenario;
    outln!("{} — {}", sc.id, sc.title);
    outln!(
        "chapter: {}   points: {}   file: {}",
        s.chapter,
        sc.points,
        s.path
    );
    if let Some(rfc) = &sc.rfc {
        outln!(
            "{}: {}",
            wsconform_runner::rfc_name(rfc),
            wsconform_runner::rfc_link(rfc)
        );
    }
    if let Some(case) = &sc.autobahn {
        outln!("Autobahn case: {case}");
    }
    if let Some(req) = &sc.requirement {
        outln!("\n{}", req.trim());
    }
    if let Some(hint) = &sc.hint {
        outln!("\nHint: {}", hint.trim());
    }
    outln!("\n{}", s.source.trim_end());
    ExitCode::SUCCESS
}

fn decode(hex: &str, from: Option<FromArg>) -> ExitCode {
    match parse_hex(hex) {
        Ok(bytes) if bytes.is_empty() => {
            eprintln!("error: no bytes given; try: wsconform decode 81 85 37fa213d 7f9f4d5158");
            ExitCode::from(USAGE)
        }
        Ok(bytes) => {
            let sender = match from {
                Some(FromArg::Client) => Sender::Client,
                Some(FromArg::Server) => Sender::Server,
                None => Sender::guess(&bytes),
            };
            out!("{}", explain_bytes(&bytes));
            out!("{}", violations::explain(&bytes, sender));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(USAGE)
        }
    }
}

/// Splits positional arguments into paths to load and ids to select.
fn scenarios_for(args: &RunArgs) -> Result<(Vec<LoadedScenario>, Vec<String>), ExitCode> {
    let mut loaded = Vec::new();
    let mut ids = Vec::new();
    let mut any_path = false;
    for arg in &args.scenarios {
        let path = Path::new(arg);
        if path.exists() {
            any_path = true;
            loaded.extend(load(Some(path))?);
        } else if arg.ends_with(".yaml") || arg.ends_with(".yml") || arg.contains('/') {
            eprintln!("error: {arg}: no such file or folder");
            return Err(ExitCode::from(USAGE));
        } else {
            ids.push(arg.clone());
        }
    }
    if !any_path {
        loaded = load(None)?;
    }
    // A server is tested by the server scenarios, a client by the client ones.
    let role = if args.client_cmd.is_some() {
        Role::Client
    } else {
        Role::Server
    };
    loaded.retain(|s| s.scenario.role == role);
    let (unfair, errors): (Vec<_>, Vec<_>) = check(&loaded).into_iter().partition(|e| e.fairness);
    // A scenario of one's own may run without quoting its MUST; `check`
    // (and the bundled suite's tests) insist.
    for e in &unfair {
        eprintln!("warning: {e}");
    }
    if !errors.is_empty() {
        for e in &errors {
            eprintln!("error: {e}");
        }
        return Err(ExitCode::from(USAGE));
    }
    for id in &ids {
        if !loaded.iter().any(|s| ids::names(&s.scenario.id, id)) {
            eprintln!("error: no scenario with id '{id}'; `wsconform list` shows them all");
            return Err(ExitCode::from(USAGE));
        }
    }
    Ok((loaded, ids))
}

/// What `--up-to CHAPTER` says when every chapter up to it passes.
fn what_next(last: &str) -> String {
    let name = chapter::find(last).map_or(last, |(_, c)| c.name);
    match chapter::next(name) {
        Some(next) => format!(
            "all of {name} passes — next: {}, {}",
            next.name,
            next.page()
        ),
        None => {
            let optional: Vec<&str> = chapter::CHAPTERS
                .iter()
                .filter(|c| c.optional)
                .map(|c| c.name)
                .collect();
            format!(
                "all of {name} passes — the main chain is done; optional chapters: {}",
                optional.join(", ")
            )
        }
    }
}

/// Starts the reference server on a free loopback port.
async fn start_reference() -> Result<wsconform_server::RunningServer, String> {
    wsconform_server::spawn(wsconform_server::Config::ephemeral())
        .await
        .map_err(|e| format!("cannot start the reference server: {e}"))
}

/// `--report FORMAT=FILE` pairs, checked.
fn report_outputs(args: &RunArgs) -> Result<Vec<(ReportFormat, String)>, ExitCode> {
    let mut reports = Vec::new();
    for spec in &args.report {
        let Some((format, file)) = spec.split_once('=') else {
            eprintln!("error: --report '{spec}': write it as FORMAT=FILE, e.g. json=report.json");
            return Err(ExitCode::from(USAGE));
        };
        match ReportFormat::parse(format) {
            Ok(f) => reports.push((f, file.to_string())),
            Err(e) => {
                eprintln!("error: --report: {e}");
                return Err(ExitCode::from(USAGE));
            }
        }
    }
    Ok(reports)
}

/// The scenarios a run plays: loaded, checked and selected.
fn selected_scenarios(args: &RunArgs) -> Result<Vec<LoadedScenario>, ExitCode> {
    let (scenarios, ids) = scenarios_for(args)?;
    let filter = match args.filter.as_deref().map(glob::Pattern::new).transpose() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: --filter: {e}");
            return Err(ExitCode::from(USAGE));
        }
    };
    let chapters = match &args.up_to {
        Some(last) => match chapter::up_to(last) {
            Ok(names) => names.into_iter().map(String::from).collect(),
            Err(e) => {
                eprintln!("error: --up-to {e}");
                return Err(ExitCode::from(USAGE));
            }
        },
        None => args.chapter.clone(),
    };
    let selection = Selection {
        ids,
        chapters,
        tags: args.tag.clone(),
        filter,
    };
    let selected: Vec<LoadedScenario> = scenarios
        .into_iter()
        .filter(|s| selection.selects(s))
        .collect();
    if selected.is_empty() {
        eprintln!("error: the selection matches no scenario; `wsconform list` shows them all");
        return Err(ExitCode::from(USAGE));
    }
    Ok(selected)
}

/// The human report (on standard error when a report goes to standard
/// output) and every `--report FORMAT=FILE`.
fn emit(
    report: &wsconform_runner::report::RunReport,
    opts: HumanOptions,
    max_failures: Option<usize>,
    reports: Vec<(ReportFormat, String)>,
) -> Result<(), ExitCode> {
    let text = render_limited(report, opts, max_failures);
    if reports.iter().any(|(_, f)| f == "-") {
        eprint!("{text}");
    } else {
        out!("{text}");
    }
    for (format, file) in reports {
        let body = format.render(report);
        if file == "-" {
            out!("{body}");
        } else if let Err(e) = std::fs::write(&file, body) {
            eprintln!("error: cannot write the report to {file}: {e}");
            return Err(ExitCode::from(USAGE));
        }
    }
    Ok(())
}

/// `wsconform run --client-cmd CMD`: the client scenarios against a client.
async fn run_clients(args: RunArgs, command: String) -> ExitCode {
    let reports = match report_outputs(&args) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let selected = match selected_scenarios(&args) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let settings = wsconform_runner::clients::ClientSettings {
        command,
        timeout: args.timeout.0,
        connect_timeout: args.ready_timeout.0,
    };
    let opts = HumanOptions {
        color: color_enabled(),
        timings: true,
    };
    let bar = progress::bar(
        selected.len(),
        progress::wanted(args.no_progress),
        opts.color,
    );
    let on_result = |r: &wsconform_runner::verdict::ScenarioResult| progress::advance(&bar, r);
    let outcome = tokio::select! {
        report = wsconform_runner::clients::run_client_suite(&selected, &settings, on_result) => Some(report),
        _ = tokio::signal::ctrl_c() => None,
    };
    bar.finish_and_clear();
    let Some(mut report) = outcome else {
        eprintln!("interrupted");
        return ExitCode::from(130);
    };
    if args.require.contains(&RequireArg::ClientClose) {
        wsconform_runner::clients::closing::require_client_close(&mut report.results);
    }
    let report = report.with_non_strict_points(args.non_strict_points);
    if let Err(code) = emit(&report, opts, args.max_failures, reports) {
        return code;
    }
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

async fn run(args: RunArgs) -> ExitCode {
    if let Some(command) = args.client_cmd.clone() {
        return run_clients(args, command).await;
    }
    let mut reference = None;
    let url = match (&args.target, args.reference) {
        (_, true) => match start_reference().await {
            Ok(server) => {
                let addr = server.local_addr();
                reference = Some(server);
                let path = match args.profile {
                    ProfileArg::Echo => "echo",
                    ProfileArg::Chat => "socket",
                };
                format!("ws://{addr}/{path}")
            }
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(USAGE);
            }
        },
        (Some(url), false) => url.clone(),
        (None, false) => {
            eprintln!(
                "error: say which server to test with --target ws://HOST:PORT/PATH (or --reference)"
            );
            return ExitCode::from(USAGE);
        }
    };
    let target = match Target::parse(&url) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: --target {e}");
            return ExitCode::from(USAGE);
        }
    };
    let reports = match report_outputs(&args) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let selected = match selected_scenarios(&args) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let profile = match args.profile {
        ProfileArg::Echo => Profile::Echo,
        ProfileArg::Chat => Profile::Chat,
    };
    let run_id = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let settings = PlanSettings {
        target: target.clone(),
        profile,
        timeout: args.timeout.0,
        run_id,
    };
    let jobs = args.jobs.unwrap_or_else(|| {
        16 * std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
    });

    let mut spawned = None;
    if let Some(command) = &args.spawn {
        if let Err(e) = refuse_busy_port(command, &target.authority()).await {
            eprintln!("error: {e}");
            return ExitCode::from(USAGE);
        }
        let mut target_process = match SpawnedTarget::start(command, "[target]") {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(USAGE);
            }
        };
        let authority = target.authority();
        let ready = tokio::select! {
            ready = target_process.wait_ready(&authority, args.ready_timeout.0) => ready,
            _ = tokio::signal::ctrl_c() => {
                target_process.stop().await;
                eprintln!("interrupted");
                return ExitCode::from(130);
            }
        };
        if let Err(e) = ready {
            target_process.stop().await;
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
        spawned = Some(target_process);
    }

    let opts = HumanOptions {
        color: color_enabled(),
        timings: true,
    };
    let human_to_stderr = reports.iter().any(|(_, f)| f == "-");
    let bar = progress::bar(
        selected.len(),
        progress::wanted(args.no_progress),
        opts.color,
    );
    let on_result = |r: &wsconform_runner::verdict::ScenarioResult| progress::advance(&bar, r);
    let shortcuts = if args.full_waits {
        Shortcuts::Off
    } else {
        Shortcuts::On
    };
    let outcome = tokio::select! {
        report = run_suite_with(&selected, &settings, jobs, shortcuts, on_result) => Some(report),
        _ = tokio::signal::ctrl_c() => None,
    };
    bar.finish_and_clear();
    if let Some(mut t) = spawned.take() {
        t.stop().await;
    }
    if let Some(server) = reference.take() {
        server.shutdown().await;
    }
    let Some(mut report) = outcome else {
        eprintln!("interrupted");
        return ExitCode::from(130);
    };
    if args.require.contains(&RequireArg::Deflate) {
        wsconform_runner::exec::deflate::require_deflate(&mut report.results);
    }
    let report = report.with_non_strict_points(args.non_strict_points);
    if let Err(code) = emit(&report, opts, args.max_failures, reports) {
        return code;
    }
    if report.passed()
        && let Some(last) = &args.up_to
    {
        let skipped = report
            .results
            .iter()
            .filter(|r| r.outcome == Outcome::Skip)
            .count();
        let mut next = what_next(last);
        if skipped > 0 {
            next.push_str(&format!(
                "\n({} skipped: {} the other profile; run them too, \
                     e.g. --profile chat on /socket)",
                count_as(skipped as u64, "scenario was", "scenarios were"),
                if skipped == 1 {
                    "it needs"
                } else {
                    "they need"
                }
            ));
        }
        if human_to_stderr {
            eprintln!("{next}");
        } else {
            outln!("{next}");
        }
    }
    grade::run_exit(
        &report,
        args.baseline.as_deref(),
        args.write_baseline.as_deref(),
    )
}

//! `cargo xtask conformance`: the main job. Runs the bundled suite and says
//! whether a server conforms.
//!
//! | command | what it runs the suite against |
//! |---|---|
//! | `cargo xtask conformance` | the reference server, started in this process: `/echo` with the echo profile, `/socket` with chat, side by side |
//! | `--target ws://HOST:PORT/PATH --profile P` | any running server, one endpoint |
//! | `--peer` | the testbed's tokio-tungstenite peer, both endpoints |
//! | `--mutants` | every testbed mutant, both endpoints; prints the matrix mutant → failed scenarios and checks each fails in its own chapter |
//!
//! It exits non-zero when a server fails a scenario (or, with `--mutants`,
//! when a mutant is not caught in its chapter). The work is done by
//! `wsconform_runner::conformance`; this file only starts servers and prints.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tokio::task::JoinSet;
use wsconform_runner::conformance::{Caught, Endpoint, render_matrix, run_endpoints};
use wsconform_runner::load::{LoadedScenario, bundled};
use wsconform_runner::plan::{Profile, Target};
use wsconform_runner::report::human::{HumanOptions, render};
use wsconform_runner::suite::RunReport;
use wsconform_testbed::{Bug, Server, start};

/// Options of `cargo xtask conformance`.
#[derive(clap::Args)]
pub struct Args {
    /// Test this server instead of the reference server: ws://HOST:PORT/PATH.
    #[arg(long, conflicts_with_all = ["peer", "mutants"])]
    pub target: Option<String>,
    /// The application protocol of --target: echo or chat.
    #[arg(long, default_value = "echo", requires = "target")]
    pub profile: String,
    /// Test the testbed's tokio-tungstenite peer (it must pass everything).
    #[arg(long, conflicts_with = "mutants")]
    pub peer: bool,
    /// Run every testbed mutant and print which scenarios catch each.
    #[arg(long)]
    pub mutants: bool,
    /// Scenarios run in parallel against one endpoint.
    #[arg(short, long, default_value_t = 8)]
    pub jobs: usize,
}

/// Step deadline, as the command line's default.
const STEP_TIMEOUT: Duration = Duration::from_secs(2);

/// Runs the chosen conformance job.
pub fn run(args: Args) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;
    runtime.block_on(job(args))
}

async fn job(args: Args) -> Result<()> {
    let started = Instant::now();
    let scenarios = bundled().map_err(|errors| {
        let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
        anyhow::anyhow!("the bundled suite does not load:\n{}", lines.join("\n"))
    })?;
    if args.mutants {
        return mutants(&scenarios, started).await;
    }
    let (name, endpoints, server) = match &args.target {
        Some(url) => {
            let target = Target::parse(url).map_err(anyhow::Error::msg)?;
            let profile = match args.profile.as_str() {
                "echo" => Profile::Echo,
                "chat" => Profile::Chat,
                other => bail!("unknown profile '{other}': use echo or chat"),
            };
            (url.clone(), vec![Endpoint { target, profile }], None)
        }
        None if args.peer => {
            let (addr, handle) = start(Server::Peer, loopback())
                .await
                .context("cannot start the peer")?;
            (
                format!("the tokio-tungstenite peer on {addr}"),
                Endpoint::both(addr).to_vec(),
                Some(Running::Testbed(handle)),
            )
        }
        None => {
            let server = wsconform_server::spawn(wsconform_server::Config::ephemeral())
                .await
                .context("cannot start the reference server")?;
            let addr = server.local_addr();
            (
                format!("the reference server on {addr}"),
                Endpoint::both(addr).to_vec(),
                Some(Running::Reference(server)),
            )
        }
    };
    let up = started.elapsed();
    let suite_started = Instant::now();
    let reports = run_endpoints(&scenarios, &endpoints, args.jobs, STEP_TIMEOUT, run_id()).await;
    let suite_time = suite_started.elapsed();
    if let Some(server) = server {
        server.stop().await;
    }
    let opts = HumanOptions {
        color: std::env::var_os("NO_COLOR").is_none()
            && std::io::IsTerminal::is_terminal(&std::io::stdout()),
        timings: true,
    };
    for report in &reports {
        print!("{}", render(report, opts));
        println!();
    }
    println!("{}", summary(&name, &reports, suite_time, up));
    if reports.iter().all(RunReport::passed) {
        Ok(())
    } else {
        bail!("{name} does not pass the suite (see the failures above)")
    }
}

/// One line per endpoint and the times: the suite's own, and setup.
fn summary(name: &str, reports: &[RunReport], suite: Duration, setup: Duration) -> String {
    let mut lines = vec![format!(
        "conformance of {name}: {} scenarios in {:.2} s (suite), {:.2} s to load it and start the server",
        reports.first().map_or(0, |r| r.results.len()),
        suite.as_secs_f64(),
        setup.as_secs_f64()
    )];
    for r in reports {
        let count = |word: &str| {
            r.results
                .iter()
                .filter(|x| x.outcome.word() == word)
                .count()
        };
        let failed = r.results.iter().filter(|x| !x.outcome.is_ok()).count();
        lines.push(format!(
            "  {} ({}): {} passed, {} non-strict, {failed} failed, {} skipped, {:.2} s",
            r.target,
            r.profile,
            count("pass"),
            count("non-strict"),
            count("skip"),
            r.duration.as_secs_f64()
        ));
    }
    lines.join("\n")
}

/// Runs every mutant at once, each with its endpoints one after the other
/// and one scenario at a time (so a mutant serving one client at a time
/// fails the same scenarios from run to run), and prints the matrix.
async fn mutants(scenarios: &[LoadedScenario], started: Instant) -> Result<()> {
    let shared = std::sync::Arc::new(scenarios.to_vec());
    let mut runs = JoinSet::new();
    for bug in Bug::ALL {
        let scenarios = std::sync::Arc::clone(&shared);
        runs.spawn(async move {
            let (addr, handle) = start(Server::Mutant(Some(bug)), loopback()).await?;
            // One endpoint after the other: a mutant that serves one client
            // at a time would otherwise fail whatever happens to overlap.
            let mut reports = Vec::new();
            for endpoint in Endpoint::both(addr) {
                reports.extend(
                    run_endpoints(&scenarios, &[endpoint], 1, STEP_TIMEOUT, run_id()).await,
                );
            }
            handle.shutdown().await;
            std::io::Result::Ok((bug, reports))
        });
    }
    let mut rows = Vec::new();
    while let Some(done) = runs.join_next().await {
        let (bug, reports) = done.context("a mutant run panicked")??;
        rows.push((
            bug,
            Caught::from_reports(&Server::Mutant(Some(bug)).name(), bug.chapter(), &reports),
        ));
    }
    // The catalogue's order, whatever order the runs finished in.
    rows.sort_by_key(|(bug, _)| Bug::ALL.iter().position(|b| b == bug));
    let rows: Vec<Caught> = rows.into_iter().map(|(_, row)| row).collect();
    print!("{}", render_matrix(&rows));
    let missed: Vec<&str> = rows
        .iter()
        .filter(|r| !r.caught_in_chapter())
        .map(|r| r.server.as_str())
        .collect();
    println!(
        "\n{} of {} mutants caught in their own chapter ({:.1} s)",
        rows.len() - missed.len(),
        rows.len(),
        started.elapsed().as_secs_f64()
    );
    if missed.is_empty() {
        Ok(())
    } else {
        bail!(
            "not caught in their chapter: {}: the suite needs a scenario there",
            missed.join(", ")
        )
    }
}

/// A server started for the run.
enum Running {
    Reference(wsconform_server::RunningServer),
    Testbed(wsconform_testbed::ShutdownHandle),
}

impl Running {
    async fn stop(self) {
        match self {
            Running::Reference(server) => server.shutdown().await,
            Running::Testbed(handle) => handle.shutdown().await,
        }
    }
}

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// Makes chat nonces differ from run to run.
fn run_id() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
}

//! `cargo xtask realworld`: the suite against popular server libraries.
//!
//! A suite written by one project and passed by that project's own servers
//! may still fail behaviour the RFC allows. Correct, widely used libraries
//! are the calibration: where one of them fails a scenario, either the
//! library breaks a MUST of RFC 6455 or the scenario asks for too much.
//!
//! How a run goes:
//!
//! 1. **Install** each runtime's pinned packages into `<target>/realworld/`
//!    (`install.rs`): a virtual environment from
//!    `realworld/python/requirements.txt`, a `node_modules` from
//!    `realworld/node/package-lock.json`, the actix-web server built by
//!    cargo from `realworld/rust-actix/`. A runtime that is not on this
//!    machine is skipped with a message saying how to install it
//!    (`--require-all` makes that an error, as CI wants).
//! 2. **Grade each library** (`catalogue.rs`), one after the other: start
//!    its echo server from `realworld/` on a free loopback port under the
//!    runner's spawn supervisor (`process.rs`), run the bundled suite with
//!    the echo profile, stop the server. The run uses a fixed run id, so the payloads are the same
//!    from run to run.
//! 3. **Write the appendix** `book/src/appendix/realworld.md`
//!    (`appendix.rs`): per library its counts and every fail with the rule
//!    it cites. `--check` writes nothing and fails when the committed page
//!    differs from the regenerated one.
//!
//! The servers' output goes to `<target>/realworld/logs/`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use wsconform_runner::conformance::{Endpoint, run_endpoints};
use wsconform_runner::grade::record::suite_version;
use wsconform_runner::load::{LoadedScenario, bundled};
use wsconform_runner::plan::{Profile, Target};

use crate::{project_root, target_dir};

mod appendix;
mod catalogue;
mod install;
mod process;

use appendix::{Graded, PAGE, differs, render, stale};
use catalogue::{LIBRARIES, Library, Runtime};
use install::{Installed, Missing, install};
use process::Server;

/// Options of `cargo xtask realworld`.
#[derive(clap::Args)]
pub struct Args {
    /// Compare the regenerated appendix with the committed one instead of
    /// writing it; fail when it is stale.
    #[arg(long)]
    pub check: bool,
    /// Fail instead of skipping when a runtime (python3 with venv, node
    /// with npm, cargo) is missing.
    #[arg(long)]
    pub require_all: bool,
    /// Scenarios run in parallel against one server (the early chapters
    /// always run one at a time).
    #[arg(short, long, default_value_t = 4)]
    pub jobs: usize,
}

/// Step deadline, as the command line's default.
const STEP_TIMEOUT: Duration = Duration::from_secs(2);

/// The whole suite against one server must end within this (it takes
/// 10 to 20 s against each of these servers): a hang guard, not a speed
/// limit.
const SUITE_TIMEOUT: Duration = Duration::from_secs(300);

/// Payloads and keys come from the run id: one fixed id makes every run
/// send the same bytes, so the page's texts are the same from run to run.
const RUN_ID: u64 = 6455;

/// Runs the chore; see the module documentation.
pub fn run(args: Args) -> Result<()> {
    let started = Instant::now();
    let work = target_dir().join("realworld");
    let logs = work.join("logs");
    std::fs::create_dir_all(&logs).with_context(|| format!("cannot create {}", logs.display()))?;

    let mut runtimes: Vec<(Runtime, Installed)> = Vec::new();
    for runtime in [Runtime::Python, Runtime::Node, Runtime::Rust] {
        match install(runtime, &work)? {
            Ok(installed) => runtimes.push((runtime, installed)),
            Err(Missing(why)) if args.require_all => bail!("{why}"),
            Err(Missing(why)) => {
                eprintln!("realworld: skipping the {} servers: {why}", runtime.name())
            }
        }
    }
    let scenarios = bundled().map_err(|errors| {
        let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
        anyhow::anyhow!("the bundled suite does not load:\n{}", lines.join("\n"))
    })?;
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;

    let path: PathBuf = project_root().join(PAGE);
    let committed = if args.check {
        Some(
            std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?,
        )
    } else {
        None
    };
    let mut graded = Vec::new();
    for library in LIBRARIES {
        let Some((_, installed)) = runtimes.iter().find(|(r, _)| *r == library.runtime) else {
            continue;
        };
        let version = library.version()?;
        let log = logs.join(format!("{}.log", library.package));
        let grading = Grading {
            library: &library,
            version: &version,
            installed,
            log: &log,
            jobs: args.jobs,
        };
        let mut row = grading.run(&tokio, &scenarios)?;
        if let Some(committed) = &committed
            && differs(committed, &row)
        {
            // A step that misses its deadline on a busy machine must not
            // make the page look stale: what differs is graded once more,
            // and only a second difference counts.
            eprintln!(
                "realworld: {} {version} differs from {PAGE}: grading it once more",
                library.package
            );
            row = grading.run(&tokio, &scenarios)?;
        }
        graded.push(row);
    }
    tokio.shutdown_timeout(Duration::from_secs(1));

    let complete = graded.len() == LIBRARIES.len();
    let page = render(&graded, &suite_version(), scenarios.len());
    let outcome = if let Some(committed) = committed {
        let fresh = work.join("realworld.md");
        std::fs::write(&fresh, &page)
            .with_context(|| format!("cannot write {}", fresh.display()))?;
        let stale = stale(&committed, &page, &graded, complete);
        if stale.is_empty() {
            eprintln!(
                "realworld: {PAGE} is up to date ({} libraries graded)",
                graded.len()
            );
            Ok(())
        } else {
            Err(anyhow::anyhow!(
                "{PAGE} is stale ({}; this run's page is {}): run `cargo xtask realworld` and commit the page",
                stale.join(", "),
                fresh.display()
            ))
        }
    } else if complete {
        std::fs::write(&path, &page).with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("realworld: wrote {PAGE}");
        Ok(())
    } else {
        eprintln!(
            "realworld: {PAGE} not written: only {} of {} libraries could be graded here (see above)",
            graded.len(),
            LIBRARIES.len()
        );
        Ok(())
    };
    eprintln!(
        "realworld: finished in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    outcome
}

/// One library to grade: its server, and how to run the suite against it.
struct Grading<'a> {
    library: &'a Library,
    version: &'a str,
    installed: &'a Installed,
    log: &'a Path,
    jobs: usize,
}

impl Grading<'_> {
    /// Starts the server, runs the suite with the echo profile, stops the
    /// server (also when the suite runs out of time), and says the counts.
    fn run(&self, tokio: &tokio::runtime::Runtime, scenarios: &[LoadedScenario]) -> Result<Graded> {
        let started = Instant::now();
        let package = self.library.package;
        let server = tokio.block_on(Server::start(self.library, self.installed, self.log))?;
        let endpoint = Endpoint {
            target: Target {
                host: server.addr.ip().to_string(),
                port: server.addr.port(),
                path: self.library.path.to_string(),
            },
            profile: Profile::Echo,
        };
        let reports = tokio.block_on(async {
            tokio::time::timeout(
                SUITE_TIMEOUT,
                run_endpoints(scenarios, &[endpoint], self.jobs, STEP_TIMEOUT, RUN_ID),
            )
            .await
        });
        tokio.block_on(server.stop());
        let Ok(reports) = reports else {
            bail!(
                "the suite against {package} {} did not end within {} s",
                self.version,
                SUITE_TIMEOUT.as_secs()
            );
        };
        let Some(report) = reports.first() else {
            bail!("no report for {package}");
        };
        let row = Graded::from_report(self.library, self.version, report);
        eprintln!(
            "realworld: {package} {}: {} pass, {} non-strict, {} fail, {} skip, {} error ({:.1} s)",
            self.version,
            row.pass,
            row.non_strict.len(),
            row.fails.len(),
            row.skip,
            row.error,
            started.elapsed().as_secs_f64()
        );
        for fail in &row.fails {
            eprintln!("    fail {}: {}", fail.id, fail.actual);
        }
        Ok(row)
    }
}

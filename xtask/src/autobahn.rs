//! `cargo xtask autobahn`: cross-check against the real Autobahn|Testsuite.
//!
//! Autobahn|Testsuite is the conformance suite that WebSocket library authors
//! trust. wsconform grades servers with its own scenarios; running the
//! reference server through Autobahn too tells us two things a self-written
//! suite cannot: that the reference server is right by an outside measure, and
//! (with `--agreement`) that wsconform's verdicts match Autobahn's where both
//! test the same thing.
//!
//! How a run goes:
//!
//! 1. **Find Python 2.7.** Autobahn|Testsuite 0.8.2 is Python 2 code. We look
//!    for `$WSCONFORM_PYTHON2`, then pyenv's `2.7.*` versions, then
//!    `python2.7` and `python2` on `PATH`, and stop with a clear message when
//!    none is there.
//! 2. **Install the suite once** with that interpreter's pip into
//!    `<target dir>/autobahn/python-0.8.2` (a `--prefix` install, so nothing
//!    outside the build directory changes). The install is written to a
//!    temporary directory and renamed when complete, so an interrupted install
//!    is never mistaken for a finished one.
//! 3. **Start the reference server** in this process on an ephemeral loopback
//!    port and point Autobahn's `fuzzingclient` at its `/echo` endpoint.
//! 4. **Read `index.json`**, keep what is stable from run to run (the
//!    behaviours and the close code, not the durations), and compare it with
//!    the committed `xtask/autobahn/expected-reference.json`. Any difference
//!    fails the task, the way tungstenite's CI guards its Autobahn results.
//!
//! The cases run are listed in `xtask/autobahn/fuzzingclient.json`: 1–7, 9
//! and 10, 301 in all. The 9.x cases send messages of up to 16 MiB and take
//! a few seconds together, so they stay in. Cases 12 and 13 test
//! permessage-deflate (RFC 7692); each sends 1,000 messages, so a bounded
//! subset of small-message cases runs here and `--compression-full` runs
//! all 216.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::{project_root, target_dir};

mod agreement;
mod client;
mod results;
mod wstest;

use results::{
    CaseId, CaseResult, Index, compare, parse_expected, print_not_ok, print_summary,
    render_expected,
};
use wstest::{SpecTemplate, Target, Wstest, find_python};

/// The Autobahn|Testsuite release we pin. 0.8.2 is the last release; its pip
/// metadata pins dependencies that still install on Python 2.7.
const AUTOBAHN_VERSION: &str = "0.8.2";

/// Environment variable naming a Python 2.7 interpreter to use instead of
/// searching for one.
const PYTHON_ENV: &str = "WSCONFORM_PYTHON2";

/// How long one `wstest` run may take per server before we call it hung.
/// A full run of the reference server takes well under a minute; this is a
/// hang guard, not a performance limit.
const WSTEST_TIMEOUT_PER_SERVER: Duration = Duration::from_secs(1200);

/// Options of `cargo xtask autobahn`.
#[derive(clap::Args)]
pub struct Args {
    /// Rewrite `xtask/autobahn/expected-reference.json` with this run's
    /// results instead of comparing against it.
    #[arg(long, conflicts_with_all = ["url", "cases"])]
    pub update: bool,

    /// Test a server that is already running at this WebSocket URL instead
    /// of the reference server. Prints Autobahn's results and fails when a
    /// case is neither OK nor INFORMATIONAL; compares nothing.
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,

    /// Run only these cases (Autobahn's patterns, e.g. `6.4.*`), and compare
    /// only them with the expected results.
    #[arg(long, value_name = "PATTERN", num_args = 1..)]
    pub cases: Vec<String>,

    /// Compare wsconform's verdicts with Autobahn's: every bundled scenario
    /// that names an `autobahn:` case is run by both tools against the
    /// reference server, the testbed peer and every mutant. With
    /// `--client`: the client scenarios mapped in
    /// `xtask/autobahn/client-cases.yaml`, against the reference client, the
    /// tungstenite client peer, the course's Python client and every client
    /// mutant, with Autobahn's fuzzing server.
    #[arg(long, conflicts_with_all = ["update", "url", "cases"])]
    pub agreement: bool,

    /// Run every permessage-deflate case (12.* and 13.*, 216 cases of 1,000
    /// messages each: minutes through Python 2.7) against the reference
    /// server and fail on any case that is neither OK nor INFORMATIONAL.
    /// CI runs the bounded subset listed in `fuzzingclient.json` instead.
    #[arg(long, conflicts_with_all = ["update", "url", "cases", "agreement"])]
    pub compression_full: bool,

    /// Test the reference client instead of the server: Autobahn's fuzzing
    /// server (`wstest -m fuzzingserver`) plays cases 1–7, 9 and 10 against
    /// `wsconform-client`, which echoes every message; every case must be OK
    /// or INFORMATIONAL. `--cases` narrows the run. With `--agreement`: the
    /// client agreement check.
    #[arg(long, conflicts_with_all = ["update", "url", "compression_full"])]
    pub client: bool,

    /// When no Python 2.7 is found, say so and succeed instead of failing
    /// (for CI scripts that run the cross-check wherever it can run).
    #[arg(long)]
    pub skip_without_python: bool,
}

/// Runs the task: see the module documentation.
pub fn run(args: Args) -> Result<()> {
    let started = Instant::now();
    let work_dir = autobahn_dir();
    let python = match find_python() {
        Ok(python) => python,
        Err(error) if args.skip_without_python => {
            eprintln!("autobahn: skipped: {error}");
            return Ok(());
        }
        Err(error) => return Err(error),
    };
    let wstest = Wstest::install(python, &work_dir)?;
    let spec = SpecTemplate::load()?;
    let cases = if args.cases.is_empty() {
        spec.cases.clone()
    } else {
        args.cases.clone()
    };

    if args.agreement && args.client {
        let outcome = agreement::run_clients(&wstest, &work_dir);
        eprintln!(
            "autobahn: finished in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        return outcome;
    }

    if args.agreement {
        let outcome = agreement::run(&wstest, &work_dir, &spec);
        eprintln!(
            "autobahn: finished in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        return outcome;
    }

    if args.client {
        let outcome = client::run(&wstest, &work_dir.join("run-client"), &args.cases);
        eprintln!(
            "autobahn: finished in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        return outcome;
    }

    if args.compression_full {
        let cases = ["12.*".to_string(), "13.*".to_string()];
        let outcome = with_reference_server(|url| {
            let targets = [Target {
                agent: "wsconform-server".to_string(),
                url: url.to_string(),
            }];
            let index = wstest.fuzz(&work_dir.join("run-compression"), &spec, &cases, &targets)?;
            let results = index.results_of("wsconform-server")?;
            print_summary(url, &results);
            match print_not_ok(&index, "wsconform-server", &results) {
                0 => Ok(()),
                bad => Err(anyhow::anyhow!(
                    "{bad} permessage-deflate case(s) neither OK nor INFORMATIONAL"
                )),
            }
        });
        eprintln!(
            "autobahn: finished in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        return outcome;
    }

    let outcome = match &args.url {
        Some(url) => {
            let targets = [Target {
                agent: "target".to_string(),
                url: url.clone(),
            }];
            let index = wstest.fuzz(&work_dir.join("run-url"), &spec, &cases, &targets)?;
            let results = index.results_of("target")?;
            print_summary(url, &results);
            let bad = print_not_ok(&index, "target", &results);
            if bad > 0 {
                Err(anyhow::anyhow!(
                    "{bad} case(s) neither OK nor INFORMATIONAL at {url}"
                ))
            } else {
                Ok(())
            }
        }
        None => check_reference(&wstest, &work_dir, &spec, &cases, &args),
    };
    eprintln!(
        "autobahn: finished in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    outcome
}

/// Runs Autobahn against the reference server and compares with (or, with
/// `--update`, rewrites) the expected results.
fn check_reference(
    wstest: &Wstest,
    work_dir: &Path,
    spec: &SpecTemplate,
    cases: &[String],
    args: &Args,
) -> Result<()> {
    const AGENT: &str = "wsconform-server";
    let run_dir = work_dir.join("run-reference");
    let index = with_reference_server(|url| {
        let targets = [Target {
            agent: AGENT.to_string(),
            url: url.to_string(),
        }];
        wstest.fuzz(&run_dir, spec, cases, &targets)
    })?;
    let results = index.results_of(AGENT)?;
    print_summary("the reference server", &results);
    print_not_ok(&index, AGENT, &results);

    let expected_path = expected_path();
    if args.update {
        fs::write(&expected_path, render_expected(&results))
            .with_context(|| format!("could not write {}", expected_path.display()))?;
        eprintln!(
            "autobahn: wrote {} ({} cases)",
            expected_path.display(),
            results.len()
        );
        return Ok(());
    }

    let expected_text = fs::read_to_string(&expected_path).with_context(|| {
        format!(
            "could not read {}; run `cargo xtask autobahn --update` to create it",
            expected_path.display()
        )
    })?;
    let mut expected = parse_expected(&expected_text)
        .with_context(|| format!("{} is not a valid results file", expected_path.display()))?;
    if !args.cases.is_empty() {
        // Only the cases that ran can be compared.
        expected.retain(|case, _| results.contains_key(case));
    }
    let differences = compare(&expected, &results);
    if differences.is_empty() {
        eprintln!(
            "autobahn: all {} cases match {}",
            results.len(),
            expected_path.display()
        );
        return Ok(());
    }
    eprintln!(
        "autobahn: {} difference(s) from {}:",
        differences.len(),
        expected_path.display()
    );
    for difference in &differences {
        eprintln!("  {difference}");
        if let Some(reason) = difference
            .actual_case()
            .and_then(|case| index.reason(AGENT, case))
        {
            eprintln!("      Autobahn says: {reason}");
        }
    }
    bail!(
        "Autobahn results differ from {} in {} case(s); if the change is intended, \
         run `cargo xtask autobahn --update` and commit the file",
        expected_path.display(),
        differences.len()
    )
}

/// Starts the reference server on an ephemeral loopback port, calls `body`
/// with its echo URL, and stops the server whatever `body` returns.
fn with_reference_server<T>(body: impl FnOnce(&str) -> Result<T>) -> Result<T> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("could not start a tokio runtime for the reference server")?;
    let server = runtime
        .block_on(wsconform_server::spawn(
            wsconform_server::Config::ephemeral(),
        ))
        .context("could not start the reference server")?;
    let url = format!("ws://{}/echo", server.local_addr());
    let outcome = body(&url);
    // Graceful shutdown is bounded by the server's own grace period; the
    // timeout only guards against a bug there hanging the task.
    let _ = runtime
        .block_on(async { tokio::time::timeout(Duration::from_secs(10), server.shutdown()).await });
    runtime.shutdown_timeout(Duration::from_secs(1));
    outcome
}

/// Where everything Autobahn-related lives: `<target dir>/autobahn`.
///
/// The target directory is `$CARGO_TARGET_DIR` when set (relative to the
/// project root, as cargo resolves it) and `target/` otherwise.
fn autobahn_dir() -> PathBuf {
    target_dir().join("autobahn")
}

/// The committed expected results of the reference server.
fn expected_path() -> PathBuf {
    project_root().join("xtask/autobahn/expected-reference.json")
}

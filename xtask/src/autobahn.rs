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
//! permessage-deflate, which wsconform does not implement.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::str::FromStr;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::project_root;

mod agreement;

/// The Autobahn|Testsuite release we pin. 0.8.2 is the last release; its pip
/// metadata pins dependencies that still install on Python 2.7.
const AUTOBAHN_VERSION: &str = "0.8.2";

/// Environment variable naming a Python 2.7 interpreter to use instead of
/// searching for one.
const PYTHON_ENV: &str = "WSCONFORM_PYTHON2";

/// How long one `wstest` run may take per server before we call it hung.
/// A full run of the reference server takes well under a minute; this is a
/// hang guard, not a performance limit.
const WSTEST_TIMEOUT_PER_SERVER: Duration = Duration::from_secs(300);

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
    /// reference server, the testbed peer and every mutant.
    #[arg(long, conflicts_with_all = ["update", "url", "cases"])]
    pub agreement: bool,

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

    if args.agreement {
        let outcome = agreement::run(&wstest, &work_dir, &spec);
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

// ---------------------------------------------------------------------------
// Installing and running wstest
// ---------------------------------------------------------------------------

/// Where everything Autobahn-related lives: `<target dir>/autobahn`.
///
/// The target directory is `$CARGO_TARGET_DIR` when set (relative to the
/// project root, as cargo resolves it) and `target/` otherwise.
fn autobahn_dir() -> PathBuf {
    target_dir().join("autobahn")
}

/// Cargo's target directory for this workspace.
fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => project_root().join(dir),
        _ => project_root().join("target"),
    }
}

/// The committed expected results of the reference server.
fn expected_path() -> PathBuf {
    project_root().join("xtask/autobahn/expected-reference.json")
}

/// An installed Autobahn|Testsuite and the interpreter that runs it.
struct Wstest {
    python: PathBuf,
    site_packages: PathBuf,
}

impl Wstest {
    /// Installs Autobahn|Testsuite with `python` under `work_dir` unless it
    /// is there already.
    fn install(python: PathBuf, work_dir: &Path) -> Result<Wstest> {
        let prefix = work_dir.join(format!("python-{AUTOBAHN_VERSION}"));
        let site_packages = prefix.join("lib/python2.7/site-packages");
        let stamp = prefix.join("installed");
        if !stamp.exists() {
            let partial = work_dir.join(format!("python-{AUTOBAHN_VERSION}.partial"));
            if partial.exists() {
                fs::remove_dir_all(&partial)
                    .with_context(|| format!("could not remove {}", partial.display()))?;
            }
            if prefix.exists() {
                fs::remove_dir_all(&prefix)
                    .with_context(|| format!("could not remove {}", prefix.display()))?;
            }
            fs::create_dir_all(work_dir)
                .with_context(|| format!("could not create {}", work_dir.display()))?;
            eprintln!(
                "autobahn: installing autobahntestsuite=={AUTOBAHN_VERSION} into {} (once)",
                prefix.display()
            );
            let partial_arg = partial.to_string_lossy().into_owned();
            let status = std::process::Command::new(&python)
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "--no-warn-script-location",
                    "--prefix",
                    &partial_arg,
                    &format!("autobahntestsuite=={AUTOBAHN_VERSION}"),
                ])
                .env("PYTHONWARNINGS", "ignore")
                .status()
                .with_context(|| format!("could not start {}", python.display()))?;
            if !status.success() {
                bail!(
                    "`{} -m pip install autobahntestsuite=={AUTOBAHN_VERSION}` failed ({status}); \
                     pip needs to reach the Python package index",
                    python.display()
                );
            }
            fs::rename(&partial, &prefix).with_context(|| {
                format!(
                    "could not move {} to {}",
                    partial.display(),
                    prefix.display()
                )
            })?;
            fs::write(&stamp, format!("autobahntestsuite=={AUTOBAHN_VERSION}\n"))
                .with_context(|| format!("could not write {}", stamp.display()))?;
        }
        Ok(Wstest {
            python,
            site_packages,
        })
    }

    /// Runs `wstest -m fuzzingclient` against every target with the given
    /// case patterns, in a fresh `run_dir`, and reads its `index.json`.
    fn fuzz(
        &self,
        run_dir: &Path,
        template: &SpecTemplate,
        cases: &[String],
        targets: &[Target],
    ) -> Result<Index> {
        if run_dir.exists() {
            fs::remove_dir_all(run_dir)
                .with_context(|| format!("could not remove {}", run_dir.display()))?;
        }
        let reports = run_dir.join("reports");
        fs::create_dir_all(&reports)
            .with_context(|| format!("could not create {}", reports.display()))?;
        let spec_path = run_dir.join("fuzzingclient.json");
        let spec = template.render(&reports, cases, targets);
        fs::write(&spec_path, spec)
            .with_context(|| format!("could not write {}", spec_path.display()))?;
        let log_path = run_dir.join("wstest.log");
        let log = fs::File::create(&log_path)
            .with_context(|| format!("could not create {}", log_path.display()))?;
        let log_err = log
            .try_clone()
            .with_context(|| format!("could not reopen {}", log_path.display()))?;

        // `zope` is a namespace package made by a `.pth` file, which only
        // `site.addsitedir` processes (PYTHONPATH does not), so a two-line
        // launcher loads the install and calls the real `wstest` entry point.
        let launcher = "import site, sys\n\
                        site.addsitedir(sys.argv[1])\n\
                        sys.argv = ['wstest'] + sys.argv[2:]\n\
                        from autobahntestsuite.wstest import run\n\
                        sys.exit(run())\n";
        let mut command = tokio::process::Command::new(&self.python);
        command
            .arg("-c")
            .arg(launcher)
            .arg(&self.site_packages)
            .args(["-m", "fuzzingclient", "-s"])
            .arg(&spec_path)
            .current_dir(run_dir)
            .env("PYTHONWARNINGS", "ignore")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err);

        let names: Vec<&str> = targets.iter().map(|t| t.agent.as_str()).collect();
        eprintln!(
            "autobahn: wstest fuzzingclient, cases {} against {} (log: {})",
            cases.join(" "),
            names.join(", "),
            log_path.display()
        );
        let limit = WSTEST_TIMEOUT_PER_SERVER * u32::try_from(targets.len()).unwrap_or(u32::MAX);
        let status = run_to_completion(command, limit, &log_path)?;
        let index_path = reports.join("index.json");
        if !status.success() || !index_path.exists() {
            bail!(
                "wstest failed ({status}) without writing {}; last lines of {}:\n{}",
                index_path.display(),
                log_path.display(),
                tail(&log_path, 20)
            );
        }
        let text = fs::read_to_string(&index_path)
            .with_context(|| format!("could not read {}", index_path.display()))?;
        let mut index = Index::parse(&text)
            .with_context(|| format!("{} is not an Autobahn index", index_path.display()))?;
        index.reports_dir = reports;
        Ok(index)
    }
}

/// Runs `command` and waits for it, killing it when it runs longer than
/// `limit` (and on any early return: the child is killed when dropped). `log` names where its output goes, for
/// the error message.
fn run_to_completion(
    mut command: tokio::process::Command,
    limit: Duration,
    log: &Path,
) -> Result<std::process::ExitStatus> {
    let program = command
        .as_std()
        .get_program()
        .to_string_lossy()
        .into_owned();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("could not start a tokio runtime to run a child process")?;
    runtime.block_on(async {
        let mut child = command
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("could not start {program}"))?;
        match tokio::time::timeout(limit, child.wait()).await {
            Ok(status) => status.with_context(|| format!("could not wait for {program}")),
            Err(_) => {
                let _ = child.kill().await;
                bail!(
                    "{program} did not finish within {} s and was stopped; see {}",
                    limit.as_secs(),
                    log.display()
                )
            }
        }
    })
}

/// The last `lines` lines of a log file, for error messages.
fn tail(path: &Path, lines: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    let start = all.len().saturating_sub(lines);
    all.get(start..).unwrap_or_default().join("\n")
}

/// Finds a Python 2.7 interpreter; see the module documentation for the
/// search order.
fn find_python() -> Result<PathBuf> {
    let candidates = python_candidates();
    for candidate in &candidates {
        let ok = std::process::Command::new(candidate)
            .args([
                "-c",
                "import sys; sys.exit(0 if sys.version_info[:2] == (2, 7) else 1)",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if ok {
            return Ok(candidate.clone());
        }
    }
    let tried: Vec<String> = candidates.iter().map(|c| c.display().to_string()).collect();
    bail!(
        "Autobahn|Testsuite {AUTOBAHN_VERSION} needs Python 2.7, and none was found \
         (tried: {}). Install it (for example `pyenv install 2.7.18`) or set \
         {PYTHON_ENV} to a python2.7 interpreter.",
        tried.join(", ")
    )
}

/// Interpreters to try, best first.
fn python_candidates() -> Vec<PathBuf> {
    if let Some(python) = std::env::var_os(PYTHON_ENV) {
        return vec![PathBuf::from(python)];
    }
    let mut candidates = Vec::new();
    let pyenv_root = std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".pyenv")));
    if let Some(root) = pyenv_root
        && let Ok(entries) = fs::read_dir(root.join("versions"))
    {
        let mut versions: Vec<String> = entries
            .filter_map(|entry| entry.ok())
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .filter(|name| name.starts_with("2.7"))
            .collect();
        versions.sort();
        for version in versions.iter().rev() {
            candidates.push(root.join("versions").join(version).join("bin/python2.7"));
        }
    }
    candidates.push(PathBuf::from("python2.7"));
    candidates.push(PathBuf::from("python2"));
    candidates
}

/// A server for `wstest` to test: Autobahn calls it an agent.
struct Target {
    agent: String,
    url: String,
}

/// The committed `fuzzingclient` specification, `xtask/autobahn/fuzzingclient.json`.
///
/// It holds the case list; `outdir` and `servers` are filled in per run.
struct SpecTemplate {
    json: serde_json::Map<String, serde_json::Value>,
    cases: Vec<String>,
}

impl SpecTemplate {
    fn load() -> Result<SpecTemplate> {
        let path = project_root().join("xtask/autobahn/fuzzingclient.json");
        let text = fs::read_to_string(&path)
            .with_context(|| format!("could not read {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("{} is not a valid spec", path.display()))
    }

    fn parse(text: &str) -> Result<SpecTemplate> {
        let json: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text)?;
        let cases = match json.get("cases") {
            Some(serde_json::Value::Array(items)) => items
                .iter()
                .map(|item| {
                    item.as_str()
                        .map(str::to_string)
                        .context("every entry of `cases` must be a string")
                })
                .collect::<Result<Vec<_>>>()?,
            _ => bail!("`cases` must be a list of case patterns"),
        };
        Ok(SpecTemplate { json, cases })
    }

    /// The spec for one run, as JSON text.
    fn render(&self, outdir: &Path, cases: &[String], targets: &[Target]) -> String {
        let mut json = self.json.clone();
        json.insert(
            "outdir".into(),
            serde_json::Value::String(outdir.display().to_string()),
        );
        json.insert("cases".into(), serde_json::json!(cases));
        let servers: Vec<serde_json::Value> = targets
            .iter()
            .map(|t| serde_json::json!({ "agent": t.agent, "url": t.url }))
            .collect();
        json.insert("servers".into(), serde_json::Value::Array(servers));
        serde_json::Value::Object(json).to_string()
    }
}

// ---------------------------------------------------------------------------
// Results
// ---------------------------------------------------------------------------

/// An Autobahn case id such as `6.4.1`, ordered numerically (so `1.1.2`
/// comes before `1.1.10`, unlike a string sort).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CaseId(Vec<u32>);

impl FromStr for CaseId {
    type Err = anyhow::Error;

    fn from_str(text: &str) -> Result<CaseId> {
        let parts = text
            .split('.')
            .map(|part| part.parse::<u32>())
            .collect::<Result<Vec<u32>, _>>()
            .with_context(|| format!("`{text}` is not an Autobahn case id like 6.4.1"))?;
        Ok(CaseId(parts))
    }
}

impl fmt::Display for CaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(u32::to_string).collect();
        f.write_str(&parts.join("."))
    }
}

/// What we keep of one case's result: everything that does not change from
/// run to run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseResult {
    /// The verdict on the messages exchanged: `OK`, `NON-STRICT`, `FAILED`,
    /// `INFORMATIONAL`, `UNIMPLEMENTED`, …
    pub behavior: String,
    /// The verdict on the closing handshake: `OK`, `FAILED`, `WRONG CODE`,
    /// `UNCLEAN`, `INFORMATIONAL`, …
    #[serde(rename = "behaviorClose")]
    pub behavior_close: String,
    /// The close code the server sent, if it sent a close frame.
    #[serde(rename = "remoteCloseCode")]
    pub remote_close_code: Option<u16>,
}

impl fmt::Display for CaseResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} / close {}", self.behavior, self.behavior_close)?;
        match self.remote_close_code {
            Some(code) => write!(f, " (server sent {code})"),
            None => write!(f, " (no close code)"),
        }
    }
}

/// One entry of `index.json`, as Autobahn writes it.
#[derive(Debug, Deserialize)]
struct IndexEntry {
    #[serde(flatten)]
    result: CaseResult,
    #[serde(rename = "reportfile")]
    report_file: Option<String>,
}

/// A parsed `index.json`: results per agent, per case.
struct Index {
    agents: BTreeMap<String, BTreeMap<CaseId, IndexEntry>>,
    reports_dir: PathBuf,
}

impl Index {
    fn parse(text: &str) -> Result<Index> {
        let raw: BTreeMap<String, BTreeMap<String, IndexEntry>> = serde_json::from_str(text)?;
        let mut agents = BTreeMap::new();
        for (agent, cases) in raw {
            let mut parsed = BTreeMap::new();
            for (case, entry) in cases {
                parsed.insert(case.parse::<CaseId>()?, entry);
            }
            agents.insert(agent, parsed);
        }
        Ok(Index {
            agents,
            reports_dir: PathBuf::new(),
        })
    }

    /// The results of one agent, durations and file names stripped.
    fn results_of(&self, agent: &str) -> Result<BTreeMap<CaseId, CaseResult>> {
        let cases = self
            .agents
            .get(agent)
            .with_context(|| format!("index.json has no results for agent `{agent}`"))?;
        Ok(cases
            .iter()
            .map(|(case, entry)| (case.clone(), entry.result.clone()))
            .collect())
    }

    /// Autobahn's own explanation of a case's verdict, from the case's
    /// report file: its `result` and `resultClose` sentences.
    fn reason(&self, agent: &str, case: &CaseId) -> Option<String> {
        let file = self.agents.get(agent)?.get(case)?.report_file.as_ref()?;
        let text = fs::read_to_string(self.reports_dir.join(file)).ok()?;
        let report: serde_json::Value = serde_json::from_str(&text).ok()?;
        let result = report.get("result").and_then(|v| v.as_str()).unwrap_or("");
        let close = report
            .get("resultClose")
            .and_then(|v| v.as_str())
            .unwrap_or("");
        Some(format!("{result} {close}").trim().to_string())
    }
}

/// Prints how many cases got each behaviour.
fn print_summary(what: &str, results: &BTreeMap<CaseId, CaseResult>) {
    eprintln!("autobahn: {} cases against {what}", results.len());
    eprintln!("  behavior:      {}", count_by(results, |r| &r.behavior));
    eprintln!(
        "  behaviorClose: {}",
        count_by(results, |r| &r.behavior_close)
    );
}

/// "240 OK, 4 NON-STRICT, 3 INFORMATIONAL", most frequent first.
fn count_by(
    results: &BTreeMap<CaseId, CaseResult>,
    field: impl Fn(&CaseResult) -> &String,
) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for result in results.values() {
        *counts.entry(field(result).as_str()).or_default() += 1;
    }
    let mut counts: Vec<(&str, usize)> = counts.into_iter().collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let parts: Vec<String> = counts.iter().map(|(b, n)| format!("{n} {b}")).collect();
    parts.join(", ")
}

/// True for a behaviour that is not a problem: `OK`, or `INFORMATIONAL` for
/// the cases where Autobahn only reports what happened.
fn is_acceptable(behavior: &str) -> bool {
    matches!(behavior, "OK" | "INFORMATIONAL")
}

/// Prints every case whose behaviour is neither OK nor INFORMATIONAL with
/// Autobahn's reason, and returns how many there were.
fn print_not_ok(index: &Index, agent: &str, results: &BTreeMap<CaseId, CaseResult>) -> usize {
    let mut count = 0;
    for (case, result) in results {
        if is_acceptable(&result.behavior) && is_acceptable(&result.behavior_close) {
            continue;
        }
        count += 1;
        eprintln!("  {case}: {result}");
        if let Some(reason) = index.reason(agent, case) {
            eprintln!("      Autobahn says: {reason}");
        }
    }
    count
}

/// Renders results as the expected-results file: one case per line, in case
/// order, so that a change shows up in review as a one-line diff.
fn render_expected(results: &BTreeMap<CaseId, CaseResult>) -> String {
    let mut out = String::from("{\n");
    let mut lines = results.iter().peekable();
    while let Some((case, result)) = lines.next() {
        let value = serde_json::json!({
            "behavior": result.behavior,
            "behaviorClose": result.behavior_close,
            "remoteCloseCode": result.remote_close_code,
        });
        out.push_str(&format!("  \"{case}\": {value}"));
        out.push_str(if lines.peek().is_some() { ",\n" } else { "\n" });
    }
    out.push_str("}\n");
    out
}

/// Parses an expected-results file written by [`render_expected`].
fn parse_expected(text: &str) -> Result<BTreeMap<CaseId, CaseResult>> {
    let raw: BTreeMap<String, CaseResult> = serde_json::from_str(text)?;
    raw.into_iter()
        .map(|(case, result)| Ok((case.parse::<CaseId>()?, result)))
        .collect()
}

/// One way a run differs from the expected results.
#[derive(Debug, PartialEq, Eq)]
enum Difference {
    /// Expected, but the run has no such case.
    Missing(CaseId, CaseResult),
    /// The run has a case the expected results do not list.
    Unexpected(CaseId, CaseResult),
    /// Both have the case, with different results.
    Changed {
        case: CaseId,
        expected: CaseResult,
        actual: CaseResult,
    },
}

impl Difference {
    /// The case of this run the difference is about, if the run has it.
    fn actual_case(&self) -> Option<&CaseId> {
        match self {
            Difference::Missing(..) => None,
            Difference::Unexpected(case, _) | Difference::Changed { case, .. } => Some(case),
        }
    }
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Difference::Missing(case, expected) => {
                write!(f, "{case}: expected {expected}, but the case did not run")
            }
            Difference::Unexpected(case, actual) => {
                write!(f, "{case}: not in the expected results, got {actual}")
            }
            Difference::Changed {
                case,
                expected,
                actual,
            } => write!(f, "{case}: expected {expected}, got {actual}"),
        }
    }
}

/// Every difference between expected and actual results, in case order.
fn compare(
    expected: &BTreeMap<CaseId, CaseResult>,
    actual: &BTreeMap<CaseId, CaseResult>,
) -> Vec<Difference> {
    let mut differences = Vec::new();
    for (case, want) in expected {
        match actual.get(case) {
            None => differences.push(Difference::Missing(case.clone(), want.clone())),
            Some(got) if got != want => differences.push(Difference::Changed {
                case: case.clone(),
                expected: want.clone(),
                actual: got.clone(),
            }),
            Some(_) => {}
        }
    }
    for (case, got) in actual {
        if !expected.contains_key(case) {
            differences.push(Difference::Unexpected(case.clone(), got.clone()));
        }
    }
    differences.sort_by(|a, b| a.sort_key().cmp(b.sort_key()));
    differences
}

impl Difference {
    fn sort_key(&self) -> &CaseId {
        match self {
            Difference::Missing(case, _)
            | Difference::Unexpected(case, _)
            | Difference::Changed { case, .. } => case,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(behavior: &str, close: &str, code: Option<u16>) -> CaseResult {
        CaseResult {
            behavior: behavior.into(),
            behavior_close: close.into(),
            remote_close_code: code,
        }
    }

    fn id(text: &str) -> CaseId {
        text.parse().unwrap()
    }

    #[test]
    fn case_ids_sort_numerically_and_print_back() {
        let mut ids = [id("1.1.10"), id("10.1.1"), id("1.1.2"), id("9.1.1")];
        ids.sort();
        let printed: Vec<String> = ids.iter().map(ToString::to_string).collect();
        assert_eq!(printed, ["1.1.2", "1.1.10", "9.1.1", "10.1.1"]);
    }

    #[test]
    fn case_id_rejects_text_that_is_not_dotted_numbers() {
        assert!("6.4.x".parse::<CaseId>().is_err());
        assert!("".parse::<CaseId>().is_err());
    }

    #[test]
    fn index_keeps_behaviours_and_close_code_and_drops_durations() {
        let text = r#"{"srv": {
            "1.1.1": {"behavior": "OK", "behaviorClose": "OK", "duration": 2,
                      "remoteCloseCode": 1000, "reportfile": "srv_case_1_1_1.json"},
            "6.4.1": {"behavior": "NON-STRICT", "behaviorClose": "OK", "duration": 1005,
                      "remoteCloseCode": null, "reportfile": "srv_case_6_4_1.json"}}}"#;
        let index = Index::parse(text).unwrap();
        let results = index.results_of("srv").unwrap();
        assert_eq!(results[&id("1.1.1")], result("OK", "OK", Some(1000)));
        assert_eq!(results[&id("6.4.1")], result("NON-STRICT", "OK", None));
        assert!(index.results_of("other").is_err());
    }

    #[test]
    fn expected_file_round_trips_one_case_per_line_in_case_order() {
        let mut results = BTreeMap::new();
        results.insert(id("1.1.10"), result("OK", "OK", Some(1000)));
        results.insert(id("1.1.2"), result("INFORMATIONAL", "INFORMATIONAL", None));
        let text = render_expected(&results);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4);
        assert!(lines[1].starts_with("  \"1.1.2\": "));
        assert!(lines[2].starts_with("  \"1.1.10\": "));
        assert_eq!(parse_expected(&text).unwrap(), results);
    }

    #[test]
    fn compare_reports_changed_missing_and_unexpected_cases() {
        let mut expected = BTreeMap::new();
        expected.insert(id("1.1.1"), result("OK", "OK", Some(1000)));
        expected.insert(id("2.1"), result("OK", "OK", Some(1000)));
        expected.insert(id("3.1"), result("OK", "OK", Some(1002)));
        let mut actual = BTreeMap::new();
        actual.insert(id("1.1.1"), result("OK", "OK", Some(1000)));
        actual.insert(id("3.1"), result("FAILED", "UNCLEAN", None));
        actual.insert(id("4.1.1"), result("OK", "OK", Some(1002)));
        let differences = compare(&expected, &actual);
        assert_eq!(differences.len(), 3);
        assert!(matches!(&differences[0], Difference::Missing(case, _) if *case == id("2.1")));
        assert!(
            matches!(&differences[1], Difference::Changed { case, actual, .. }
                if *case == id("3.1") && actual.behavior == "FAILED")
        );
        assert!(matches!(&differences[2], Difference::Unexpected(case, _) if *case == id("4.1.1")));
        assert!(compare(&expected, &expected).is_empty());
    }

    #[test]
    fn summary_counts_most_frequent_first() {
        let mut results = BTreeMap::new();
        results.insert(id("1.1.1"), result("OK", "OK", Some(1000)));
        results.insert(id("1.1.2"), result("OK", "OK", Some(1000)));
        results.insert(id("6.4.1"), result("NON-STRICT", "OK", None));
        assert_eq!(count_by(&results, |r| &r.behavior), "2 OK, 1 NON-STRICT");
    }

    #[test]
    fn spec_template_fills_in_outdir_cases_and_servers() {
        let template =
            SpecTemplate::parse(r#"{"cases": ["1.*"], "exclude-cases": [], "servers": []}"#)
                .unwrap();
        assert_eq!(template.cases, ["1.*"]);
        let targets = [Target {
            agent: "a".into(),
            url: "ws://127.0.0.1:1/echo".into(),
        }];
        let text = template.render(Path::new("/tmp/out"), &["6.4.*".to_string()], &targets);
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(json["outdir"], "/tmp/out");
        assert_eq!(json["cases"], serde_json::json!(["6.4.*"]));
        assert_eq!(json["servers"][0]["url"], "ws://127.0.0.1:1/echo");
        assert_eq!(json["exclude-cases"], serde_json::json!([]));
        assert!(SpecTemplate::parse(r#"{"cases": [1]}"#).is_err());
    }
}

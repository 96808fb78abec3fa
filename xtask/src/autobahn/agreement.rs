//! `cargo xtask autobahn --agreement`: do wsconform and Autobahn agree?
//!
//! Many bundled scenarios test exactly what one Autobahn case tests and say
//! so with an `autobahn:` field. For each of them, both tools grade the same
//! servers: the reference server, the testbed's tungstenite peer, the
//! mutants' correct baseline and every mutant with its one bug. Where the two
//! verdicts differ, one tool is wrong, or the RFC allows both behaviours and
//! the tools weigh them differently; either way a person should look, so the
//! task prints each difference with both tools' reasons and fails.
//!
//! Verdicts map one to one:
//!
//! | Autobahn (`behavior`, `behaviorClose`) | wsconform |
//! |---|---|
//! | both `OK` | `pass` |
//! | a `NON-STRICT`, nothing worse | `non-strict` |
//! | a `FAILED`, `WRONG CODE`, `UNCLEAN` or `FAILED BY CLIENT` | `fail` |
//!
//! `INFORMATIONAL` and `UNIMPLEMENTED` carry no verdict, nor do wsconform's
//! `skip`; such pairs are listed as not compared. An `autobahn:` value that is
//! not one case id (a group such as `2.x`) cannot be compared either.
//!
//! # Explaining a difference
//!
//! Sometimes the tools differ for a good reason: the RFC allows both
//! behaviours, or Autobahn checks something the scenario deliberately leaves
//! to another one. The scenario then says so in a comment the task reads:
//!
//! ```yaml
//! # autobahn-differs: mutant-close-not-answered: Autobahn grades the closing
//! #   handshake of every case; closing.* scenarios grade it here.
//! ```
//!
//! The first word after `autobahn-differs:` is the server the explanation is
//! about (as named in the table, or `*` for every server), the rest of the
//! line is the reason. An explained difference is still printed, with its
//! reason, but does not fail the task.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use super::{CaseId, CaseResult, Index, SpecTemplate, Target, Wstest, run_to_completion, tail};
use crate::{project_root, run_command};

/// How long one `wsconform run` over the covered scenarios may take before
/// it is called hung. Every step has its own deadline in the runner; this
/// only guards against a bug there.
const WSCONFORM_TIMEOUT: Duration = Duration::from_secs(300);

/// Runs the agreement check; see the module documentation.
pub(super) fn run(wstest: &Wstest, work_dir: &Path, spec: &SpecTemplate) -> Result<()> {
    let scenarios_dir = project_root().join("scenarios");
    let covered = load_covered(&scenarios_dir)?;
    if covered.is_empty() {
        bail!(
            "no scenario under {} names an `autobahn:` case; nothing to compare",
            scenarios_dir.display()
        );
    }
    let cases: BTreeSet<CaseId> = covered.iter().filter_map(|c| c.case_id()).collect();
    let case_patterns: Vec<String> = cases.iter().map(ToString::to_string).collect();
    let scenario_files: Vec<PathBuf> = covered.iter().map(|c| c.file.clone()).collect();

    run_command("cargo", &["build", "--quiet", "--package", "wsconform"])?;
    let cli = super::target_dir()
        .join("debug")
        .join(format!("wsconform{}", std::env::consts::EXE_SUFFIX));

    let run_dir = work_dir.join("run-agreement");
    if run_dir.exists() {
        fs::remove_dir_all(&run_dir)
            .with_context(|| format!("could not remove {}", run_dir.display()))?;
    }
    fs::create_dir_all(&run_dir)
        .with_context(|| format!("could not create {}", run_dir.display()))?;

    let (targets, index, reports) = with_all_servers(|targets| {
        let index = wstest.fuzz(&run_dir.join("wstest"), spec, &case_patterns, targets)?;
        let mut reports = BTreeMap::new();
        for target in targets {
            let results = run_wsconform(&cli, target, &scenario_files, &run_dir)?;
            reports.insert(target.agent.clone(), results);
        }
        let names: Vec<String> = targets.iter().map(|t| t.agent.clone()).collect();
        Ok((names, index, reports))
    })?;

    let rows = compare_all(&covered, &targets, &index, &reports);
    print_report(&covered, &targets, &rows, &index);
    let unexplained = rows
        .iter()
        .filter(|row| row.comparison == Comparison::Disagree && row.explained().is_none())
        .count();
    if unexplained > 0 {
        bail!(
            "wsconform and Autobahn disagree on {unexplained} verdict(s) that no scenario \
             explains; see the list above (an `# autobahn-differs: SERVER: REASON` comment \
             in the scenario explains a deliberate difference)"
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Scenarios that name an Autobahn case
// ---------------------------------------------------------------------------

/// A bundled scenario with an `autobahn:` field.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Covered {
    /// The scenario's id.
    scenario: String,
    /// The `autobahn:` value as written.
    case: String,
    /// The file, for messages.
    file: PathBuf,
    /// The file's `# autobahn-differs:` comments.
    explanations: Vec<Explanation>,
}

/// A scenario's written reason why wsconform and Autobahn may differ on a
/// server.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Explanation {
    /// The server (agent name) it is about, or `*` for every server.
    server: String,
    /// Why.
    reason: String,
}

/// Reads the `# autobahn-differs: SERVER: REASON` comments of a scenario.
fn parse_explanations(text: &str) -> Vec<Explanation> {
    text.lines()
        .filter_map(|line| {
            let rest = line
                .trim_start()
                .strip_prefix('#')?
                .trim_start()
                .strip_prefix("autobahn-differs:")?;
            let (server, reason) = rest.split_once(':')?;
            Some(Explanation {
                server: server.trim().to_string(),
                reason: reason.trim().to_string(),
            })
        })
        .collect()
}

impl Covered {
    /// The Autobahn case, when the value names exactly one.
    fn case_id(&self) -> Option<CaseId> {
        self.case.parse().ok()
    }

    /// The scenario's explanation of a difference on `agent`, if it has one.
    fn explanation_for(&self, agent: &str) -> Option<&str> {
        self.explanations
            .iter()
            .find(|e| e.server == agent || e.server == "*")
            .map(|e| e.reason.as_str())
    }
}

/// The two fields of a scenario this task reads; the runner owns the rest of
/// the schema, so everything else is ignored here.
#[derive(Deserialize)]
struct ScenarioHead {
    id: String,
    #[serde(default)]
    autobahn: Option<serde_yaml::Value>,
}

/// Reads `id` and `autobahn` from every `*.yaml` under `dir`, keeping the
/// scenarios that name an Autobahn case, sorted by id.
fn load_covered(dir: &Path) -> Result<Vec<Covered>> {
    let pattern = dir.join("**").join("*.yaml");
    let pattern = pattern.to_string_lossy();
    let mut covered = Vec::new();
    for path in glob::glob(&pattern).with_context(|| format!("bad glob pattern {pattern}"))? {
        let path = path.context("could not list the scenarios")?;
        let text = fs::read_to_string(&path)
            .with_context(|| format!("could not read {}", path.display()))?;
        if let Some(entry) = parse_covered(&text, &path)? {
            covered.push(entry);
        }
    }
    covered.sort_by(|a, b| a.scenario.cmp(&b.scenario));
    Ok(covered)
}

/// One scenario file's `autobahn:` coverage, if it declares any.
fn parse_covered(text: &str, path: &Path) -> Result<Option<Covered>> {
    let head: ScenarioHead = serde_yaml::from_str(text)
        .with_context(|| format!("{} has no readable `id`", path.display()))?;
    let case = match head.autobahn {
        None | Some(serde_yaml::Value::Null) => return Ok(None),
        Some(serde_yaml::Value::String(case)) => case,
        // `autobahn: 2.1` without quotes is a YAML number.
        Some(serde_yaml::Value::Number(number)) => number.to_string(),
        Some(other) => bail!(
            "{}: `autobahn` must be a case id like \"6.4.1\", not {other:?}",
            path.display()
        ),
    };
    Ok(Some(Covered {
        scenario: head.id,
        case: case.trim().to_string(),
        file: path.to_path_buf(),
        explanations: parse_explanations(text),
    }))
}

// ---------------------------------------------------------------------------
// The servers both tools grade
// ---------------------------------------------------------------------------

/// Starts every server of the comparison on ephemeral loopback ports, calls
/// `body` with their echo URLs, and stops them all whatever `body` returns.
fn with_all_servers<T>(body: impl FnOnce(&[Target]) -> Result<T>) -> Result<T> {
    use wsconform_testbed::{Bug, start_mutant, start_peer};

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("could not start a tokio runtime for the servers")?;
    let started = runtime.block_on(async {
        let mut targets = Vec::new();
        let mut handles = Vec::new();

        let reference = wsconform_server::spawn(wsconform_server::Config::ephemeral())
            .await
            .context("could not start the reference server")?;
        targets.push(Target {
            agent: "reference".into(),
            url: format!("ws://{}/echo", reference.local_addr()),
        });

        let (addr, handle) = start_peer().await.context("could not start the peer")?;
        targets.push(Target {
            agent: "peer".into(),
            url: format!("ws://{addr}/echo"),
        });
        handles.push(handle);

        let (addr, handle) = start_mutant(None)
            .await
            .context("could not start the mutant baseline")?;
        targets.push(Target {
            agent: "mutant-baseline".into(),
            url: format!("ws://{addr}/echo"),
        });
        handles.push(handle);

        for bug in Bug::ALL {
            let (addr, handle) = start_mutant(Some(bug))
                .await
                .with_context(|| format!("could not start mutant {}", bug.name()))?;
            targets.push(Target {
                agent: format!("mutant-{}", bug.name()),
                url: format!("ws://{addr}/echo"),
            });
            handles.push(handle);
        }
        anyhow::Ok((targets, handles, reference))
    });
    let (targets, handles, reference) = match started {
        Ok(started) => started,
        Err(error) => {
            runtime.shutdown_timeout(Duration::from_secs(1));
            return Err(error);
        }
    };

    let outcome = body(&targets);

    runtime.block_on(async {
        let reference = tokio::spawn(reference.shutdown());
        for handle in handles {
            let _ = tokio::time::timeout(Duration::from_secs(5), handle.shutdown()).await;
        }
        let _ = tokio::time::timeout(Duration::from_secs(10), reference).await;
    });
    runtime.shutdown_timeout(Duration::from_secs(1));
    outcome
}

// ---------------------------------------------------------------------------
// wsconform's verdicts
// ---------------------------------------------------------------------------

/// What we read of one result of a wsconform JSON report
/// (schema `wsconform-report/1`).
#[derive(Debug, Clone, Deserialize)]
struct WsconformResult {
    id: String,
    outcome: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    failure: Option<WsconformFailure>,
}

#[derive(Debug, Clone, Deserialize)]
struct WsconformFailure {
    #[serde(default)]
    expected: String,
    #[serde(default)]
    actual: String,
}

#[derive(Deserialize)]
struct WsconformReport {
    results: Vec<WsconformResult>,
}

impl WsconformResult {
    /// The runner's explanation, on one line.
    fn reason(&self) -> String {
        let mut reason = self.message.trim().to_string();
        if let Some(failure) = &self.failure {
            if !failure.expected.is_empty() && !reason.contains(failure.expected.trim()) {
                reason.push_str(&format!("; expected: {}", failure.expected.trim()));
            }
            if !failure.actual.is_empty() && !reason.contains(failure.actual.trim()) {
                reason.push_str(&format!("; actual: {}", failure.actual.trim()));
            }
        }
        reason.replace('\n', " ")
    }
}

/// Runs `wsconform run` on the given scenario files against one target and
/// reads its JSON report.
///
/// The files are the ones this task read the `autobahn:` fields from, so both
/// always agree on what is being compared. Scenarios run one at a time
/// (`-j 1`), as Autobahn runs its cases: a server that serves one client at a
/// time is then graded on the same terms by both tools.
fn run_wsconform(
    cli: &Path,
    target: &Target,
    scenario_files: &[PathBuf],
    run_dir: &Path,
) -> Result<BTreeMap<String, WsconformResult>> {
    let report_path = run_dir.join(format!("wsconform-{}.json", target.agent));
    let log_path = run_dir.join(format!("wsconform-{}.log", target.agent));
    let log = fs::File::create(&log_path)
        .with_context(|| format!("could not create {}", log_path.display()))?;
    let log_err = log
        .try_clone()
        .with_context(|| format!("could not reopen {}", log_path.display()))?;
    let mut command = tokio::process::Command::new(cli);
    command
        .arg("run")
        .args(scenario_files)
        .args(["-j", "1", "--target", &target.url, "--report"])
        .arg(format!("json={}", report_path.display()))
        .env("NO_COLOR", "1")
        .current_dir(project_root())
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err);
    eprintln!("autobahn: wsconform run against {}", target.agent);
    let status = run_to_completion(command, WSCONFORM_TIMEOUT, &log_path)?;
    // 0: all passed, 1: some failed (expected for mutants), 2: usage error.
    if !matches!(status.code(), Some(0 | 1)) || !report_path.exists() {
        bail!(
            "`wsconform run` against {} failed ({status}); last lines of {}:\n{}",
            target.agent,
            log_path.display(),
            tail(&log_path, 20)
        );
    }
    let text = fs::read_to_string(&report_path)
        .with_context(|| format!("could not read {}", report_path.display()))?;
    let report: WsconformReport = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a wsconform JSON report", report_path.display()))?;
    Ok(report
        .results
        .into_iter()
        .map(|result| (result.id.clone(), result))
        .collect())
}

// ---------------------------------------------------------------------------
// Comparing verdicts
// ---------------------------------------------------------------------------

/// The verdicts both tools can give.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Pass,
    NonStrict,
    Fail,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Pass => "pass",
            Verdict::NonStrict => "non-strict",
            Verdict::Fail => "fail",
        })
    }
}

/// Autobahn's verdict on a case, from its two behaviours; `None` when
/// Autobahn only informs (or did not implement the case).
fn autobahn_verdict(result: &CaseResult) -> Option<Verdict> {
    let words = [result.behavior.as_str(), result.behavior_close.as_str()];
    if words
        .iter()
        .any(|w| matches!(*w, "FAILED" | "WRONG CODE" | "UNCLEAN" | "FAILED BY CLIENT"))
    {
        Some(Verdict::Fail)
    } else if words.contains(&"NON-STRICT") {
        Some(Verdict::NonStrict)
    } else if words.iter().all(|w| *w == "OK") {
        Some(Verdict::Pass)
    } else {
        None
    }
}

/// wsconform's verdict from a report's `outcome`; `None` for `skip`.
/// `error` (the scenario could not run) counts as a failure to grade, so it
/// shows up as a disagreement unless Autobahn failed the server too.
fn wsconform_verdict(outcome: &str) -> Option<Verdict> {
    match outcome {
        "pass" => Some(Verdict::Pass),
        "non-strict" => Some(Verdict::NonStrict),
        "fail" | "error" => Some(Verdict::Fail),
        _ => None,
    }
}

/// How the two tools' verdicts on one scenario and one server compare.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Comparison {
    Agree,
    Disagree,
    /// Not comparable, with the reason.
    NotCompared(String),
}

/// Compares one pair of results.
fn compare_one(
    covered: &Covered,
    autobahn: Option<&CaseResult>,
    wsconform: Option<&WsconformResult>,
) -> Comparison {
    if covered.case_id().is_none() {
        return Comparison::NotCompared(format!(
            "`autobahn: {}` is not a single Autobahn case id",
            covered.case
        ));
    }
    let Some(autobahn) = autobahn else {
        return Comparison::NotCompared(format!(
            "Autobahn {} has no case {}",
            super::AUTOBAHN_VERSION,
            covered.case
        ));
    };
    let Some(wsconform) = wsconform else {
        return Comparison::NotCompared("wsconform's report has no result for it".into());
    };
    let Some(theirs) = autobahn_verdict(autobahn) else {
        return Comparison::NotCompared(format!("Autobahn gives no verdict ({autobahn})"));
    };
    let Some(ours) = wsconform_verdict(&wsconform.outcome) else {
        return Comparison::NotCompared(format!("wsconform: {}", wsconform.outcome));
    };
    if theirs == ours {
        Comparison::Agree
    } else {
        Comparison::Disagree
    }
}

/// One scenario on one server.
struct Row {
    covered: Covered,
    agent: String,
    autobahn: Option<CaseResult>,
    wsconform: Option<WsconformResult>,
    comparison: Comparison,
}

impl Row {
    /// The scenario's reason for this difference, if it gives one.
    fn explained(&self) -> Option<&str> {
        self.covered.explanation_for(&self.agent)
    }
}

/// Compares every covered scenario on every server.
fn compare_all(
    covered: &[Covered],
    agents: &[String],
    index: &Index,
    reports: &BTreeMap<String, BTreeMap<String, WsconformResult>>,
) -> Vec<Row> {
    let mut rows = Vec::new();
    for agent in agents {
        for entry in covered {
            let autobahn = entry.case_id().and_then(|case| {
                index
                    .agents
                    .get(agent)
                    .and_then(|cases| cases.get(&case))
                    .map(|e| e.result.clone())
            });
            let wsconform = reports
                .get(agent)
                .and_then(|results| results.get(&entry.scenario))
                .cloned();
            let comparison = compare_one(entry, autobahn.as_ref(), wsconform.as_ref());
            rows.push(Row {
                covered: entry.clone(),
                agent: agent.clone(),
                autobahn,
                wsconform,
                comparison,
            });
        }
    }
    rows
}

/// Counts of one group of rows.
#[derive(Default)]
struct Tally {
    agree: usize,
    /// Every disagreement, explained or not.
    disagree: usize,
    /// The disagreements a scenario explains.
    explained: usize,
    not_compared: usize,
}

impl Tally {
    fn add(&mut self, row: &Row) {
        match row.comparison {
            Comparison::Agree => self.agree += 1,
            Comparison::Disagree => {
                self.disagree += 1;
                if row.explained().is_some() {
                    self.explained += 1;
                }
            }
            Comparison::NotCompared(_) => self.not_compared += 1,
        }
    }

    /// "97.5%" of compared pairs that agree, or "n/a".
    fn percent(&self) -> String {
        let compared = self.agree + self.disagree;
        if compared == 0 {
            "n/a".into()
        } else {
            // Integer tenths of a percent, rounded half up.
            let tenths = (self.agree * 2000 + compared) / (compared * 2);
            format!("{}.{}%", tenths / 10, tenths % 10)
        }
    }
}

/// Prints the agreement tables, every disagreement with both tools' reasons,
/// and what could not be compared.
fn print_report(covered: &[Covered], agents: &[String], rows: &[Row], index: &Index) {
    let mut by_agent: BTreeMap<&str, Tally> = BTreeMap::new();
    let mut by_scenario: BTreeMap<&str, (Tally, Vec<&str>)> = BTreeMap::new();
    let mut total = Tally::default();
    for row in rows {
        by_agent.entry(row.agent.as_str()).or_default().add(row);
        let scenario = by_scenario
            .entry(row.covered.scenario.as_str())
            .or_default();
        scenario.0.add(row);
        if row.comparison == Comparison::Disagree {
            scenario.1.push(row.agent.as_str());
        }
        total.add(row);
    }

    println!();
    println!(
        "Agreement between wsconform and Autobahn|Testsuite {}: {} scenarios with an Autobahn case, {} servers",
        super::AUTOBAHN_VERSION,
        covered.len(),
        agents.len()
    );
    println!();
    println!(
        "{:<34} {:>6} {:>9} {:>10} {:>13} {:>9}",
        "server", "agree", "disagree", "explained", "not compared", "agreement"
    );
    for agent in agents {
        if let Some(tally) = by_agent.get(agent.as_str()) {
            println!(
                "{:<34} {:>6} {:>9} {:>10} {:>13} {:>9}",
                agent,
                tally.agree,
                tally.disagree,
                tally.explained,
                tally.not_compared,
                tally.percent()
            );
        }
    }
    println!(
        "{:<34} {:>6} {:>9} {:>10} {:>13} {:>9}",
        "total",
        total.agree,
        total.disagree,
        total.explained,
        total.not_compared,
        total.percent()
    );

    println!();
    println!(
        "{:<34} {:>8} {:>6} {:>9}  disagreeing servers",
        "scenario", "autobahn", "agree", "disagree"
    );
    for entry in covered {
        if let Some((tally, disagreeing)) = by_scenario.get(entry.scenario.as_str()) {
            println!(
                "{:<34} {:>8} {:>6} {:>9}  {}",
                entry.scenario,
                entry.case,
                tally.agree,
                tally.disagree,
                disagreeing.join(", ")
            );
        }
    }

    let disagreements: Vec<&Row> = rows
        .iter()
        .filter(|row| row.comparison == Comparison::Disagree)
        .collect();
    if !disagreements.is_empty() {
        println!();
        println!("Disagreements ({}):", disagreements.len());
        for row in disagreements {
            println!(
                "  {} on {} (Autobahn {}, {})",
                row.covered.scenario,
                row.agent,
                row.covered.case,
                row.covered.file.display()
            );
            if let Some(ours) = &row.wsconform {
                println!("      wsconform: {}: {}", ours.outcome, ours.reason());
            }
            if let Some(theirs) = &row.autobahn {
                let reason = row
                    .covered
                    .case_id()
                    .and_then(|case| index.reason(&row.agent, &case))
                    .unwrap_or_default();
                println!("      Autobahn:  {theirs}: {reason}");
            }
            match row.explained() {
                Some(why) => println!("      explained: {why}"),
                None => println!("      not explained: look into it"),
            }
        }
    }

    // "Not compared" is usually the same reason on every server: say it once.
    let mut not_compared: BTreeMap<(&str, &str), Vec<&str>> = BTreeMap::new();
    for row in rows {
        if let Comparison::NotCompared(reason) = &row.comparison {
            not_compared
                .entry((row.covered.scenario.as_str(), reason.as_str()))
                .or_default()
                .push(row.agent.as_str());
        }
    }
    if !not_compared.is_empty() {
        println!();
        println!("Not compared:");
        for ((scenario, reason), servers) in not_compared {
            if servers.len() == agents.len() {
                println!("  {scenario}: {reason} (every server)");
            } else {
                println!("  {scenario}: {reason} ({})", servers.join(", "));
            }
        }
    }
    println!();
    println!(
        "Agreement: {} of {} compared verdicts ({}); {} difference(s) explained, {} not",
        total.agree,
        total.agree + total.disagree,
        total.percent(),
        total.explained,
        total.disagree - total.explained
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(behavior: &str, close: &str) -> CaseResult {
        CaseResult {
            behavior: behavior.into(),
            behavior_close: close.into(),
            remote_close_code: None,
        }
    }

    fn covered(case: &str) -> Covered {
        Covered {
            scenario: "utf8.fail-fast".into(),
            case: case.into(),
            file: PathBuf::from("scenarios/05-text-utf8/fail-fast.yaml"),
            explanations: Vec::new(),
        }
    }

    fn ours(outcome: &str) -> WsconformResult {
        WsconformResult {
            id: "utf8.fail-fast".into(),
            outcome: outcome.into(),
            message: String::new(),
            failure: None,
        }
    }

    #[test]
    fn autobahn_behaviours_map_to_verdicts() {
        assert_eq!(autobahn_verdict(&case("OK", "OK")), Some(Verdict::Pass));
        assert_eq!(
            autobahn_verdict(&case("NON-STRICT", "OK")),
            Some(Verdict::NonStrict)
        );
        assert_eq!(
            autobahn_verdict(&case("NON-STRICT", "WRONG CODE")),
            Some(Verdict::Fail)
        );
        assert_eq!(
            autobahn_verdict(&case("OK", "UNCLEAN")),
            Some(Verdict::Fail)
        );
        assert_eq!(autobahn_verdict(&case("FAILED", "OK")), Some(Verdict::Fail));
        // Autobahn, as the client, had to fail the connection: the server
        // broke the protocol (for example, it masked its frames).
        assert_eq!(
            autobahn_verdict(&case("OK", "FAILED BY CLIENT")),
            Some(Verdict::Fail)
        );
        assert_eq!(
            autobahn_verdict(&case("INFORMATIONAL", "INFORMATIONAL")),
            None
        );
        assert_eq!(autobahn_verdict(&case("UNIMPLEMENTED", "OK")), None);
    }

    #[test]
    fn wsconform_outcomes_map_to_verdicts() {
        assert_eq!(wsconform_verdict("pass"), Some(Verdict::Pass));
        assert_eq!(wsconform_verdict("non-strict"), Some(Verdict::NonStrict));
        assert_eq!(wsconform_verdict("fail"), Some(Verdict::Fail));
        assert_eq!(wsconform_verdict("error"), Some(Verdict::Fail));
        assert_eq!(wsconform_verdict("skip"), None);
    }

    #[test]
    fn compare_one_agrees_disagrees_or_says_why_not() {
        let entry = covered("6.4.1");
        let ok = case("OK", "OK");
        let lax = case("NON-STRICT", "OK");
        assert_eq!(
            compare_one(&entry, Some(&ok), Some(&ours("pass"))),
            Comparison::Agree
        );
        assert_eq!(
            compare_one(&entry, Some(&lax), Some(&ours("non-strict"))),
            Comparison::Agree
        );
        assert_eq!(
            compare_one(&entry, Some(&lax), Some(&ours("pass"))),
            Comparison::Disagree
        );
        assert!(matches!(
            compare_one(&covered("2.x"), Some(&ok), Some(&ours("pass"))),
            Comparison::NotCompared(reason) if reason.contains("2.x")
        ));
        assert!(matches!(
            compare_one(&entry, None, Some(&ours("pass"))),
            Comparison::NotCompared(_)
        ));
        assert!(matches!(
            compare_one(&entry, Some(&ok), None),
            Comparison::NotCompared(_)
        ));
        assert!(matches!(
            compare_one(&entry, Some(&ok), Some(&ours("skip"))),
            Comparison::NotCompared(_)
        ));
    }

    #[test]
    fn scenario_heads_give_the_case_as_text_or_nothing() {
        let path = Path::new("x.yaml");
        let quoted = parse_covered("id: a.b\nautobahn: \"6.4.1\"\nsteps: []\n", path)
            .unwrap()
            .unwrap();
        assert_eq!(quoted.scenario, "a.b");
        assert_eq!(quoted.case_id(), Some("6.4.1".parse().unwrap()));
        let number = parse_covered("id: a.c\nautobahn: 2.1\n", path)
            .unwrap()
            .unwrap();
        assert_eq!(number.case, "2.1");
        assert_eq!(parse_covered("id: a.d\ntitle: t\n", path).unwrap(), None);
        assert!(parse_covered("title: no id\n", path).is_err());
        assert!(parse_covered("id: a.e\nautobahn: [1, 2]\n", path).is_err());
    }

    #[test]
    fn explanations_are_read_from_comments_per_server_or_for_all() {
        let text = "id: a.b\n\
                    # autobahn-differs: mutant-fin-ignored: the RFC allows both\n\
                    #   a second comment line is for people only\n\
                    # autobahn-differs: *: Autobahn checks the close here\n\
                    # autobahn-differs missing its colon\n\
                    autobahn: \"6.4.1\"\n";
        let entry = parse_covered(text, Path::new("x.yaml")).unwrap().unwrap();
        assert_eq!(entry.explanations.len(), 2);
        assert_eq!(
            entry.explanation_for("mutant-fin-ignored"),
            Some("the RFC allows both")
        );
        assert_eq!(
            entry.explanation_for("peer"),
            Some("Autobahn checks the close here")
        );
        let mut plain = covered("6.4.1");
        assert_eq!(plain.explanation_for("peer"), None);
        plain.explanations = parse_explanations("# autobahn-differs: peer: because\n");
        assert_eq!(plain.explanation_for("peer"), Some("because"));
        assert_eq!(plain.explanation_for("reference"), None);
    }

    #[test]
    fn load_covered_walks_chapters_and_keeps_only_scenarios_with_a_case() {
        let dir = std::env::temp_dir().join(format!("xtask-autobahn-{}", std::process::id()));
        let chapter = dir.join("02-frames");
        fs::create_dir_all(&chapter).unwrap();
        fs::write(chapter.join("b.yaml"), "id: frames.b\nautobahn: \"3.1\"\n").unwrap();
        fs::write(
            chapter.join("a.yaml"),
            "id: frames.a\nautobahn: \"1.1.2\"\n",
        )
        .unwrap();
        fs::write(chapter.join("none.yaml"), "id: frames.none\n").unwrap();
        fs::write(chapter.join("notes.txt"), "not a scenario").unwrap();
        let covered = load_covered(&dir);
        fs::remove_dir_all(&dir).unwrap();
        let covered = covered.unwrap();
        let ids: Vec<&str> = covered.iter().map(|c| c.scenario.as_str()).collect();
        assert_eq!(ids, ["frames.a", "frames.b"]);
        assert_eq!(covered[0].case, "1.1.2");
        assert!(covered[0].file.ends_with("02-frames/a.yaml"));
    }

    #[test]
    fn tally_percent_rounds_to_tenths() {
        let tally = Tally {
            agree: 2,
            disagree: 1,
            explained: 0,
            not_compared: 5,
        };
        assert_eq!(tally.percent(), "66.7%");
        assert_eq!(Tally::default().percent(), "n/a");
    }

    #[test]
    fn wsconform_reason_joins_message_and_failure_on_one_line() {
        let result = WsconformResult {
            id: "x".into(),
            outcome: "fail".into(),
            message: "step 3 failed".into(),
            failure: Some(WsconformFailure {
                expected: "close 1007".into(),
                actual: "echo of\n11 bytes".into(),
            }),
        };
        assert_eq!(
            result.reason(),
            "step 3 failed; expected: close 1007; actual: echo of 11 bytes"
        );
    }
}

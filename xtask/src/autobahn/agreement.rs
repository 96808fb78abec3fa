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
//! The scenarios are read with the runner's loader and run with the
//! runner's `run_suite` in this process, so both tools see exactly the
//! scenarios the suite ships; Autobahn's `wstest` is the only other process.
//!
//! # Explaining a difference
//!
//! Sometimes the tools differ for a good reason: the RFC allows both
//! behaviours, or Autobahn checks something the scenario deliberately leaves
//! to another one. `xtask/autobahn/differences.yaml` then says so, one entry
//! per scenario and server (or `*` for every server):
//!
//! ```yaml
//! - scenario: closing.normal
//!   server: mutant-close-not-answered
//!   reason: Autobahn grades the closing handshake of every case; closing.* grade it here.
//! ```
//!
//! An explained difference is still printed, with its reason, but does not
//! fail the task.
//!
//! The parts: [`covered`] (what is compared), [`compare`] (the verdicts) and
//! [`print`] (the report); [`clients`] runs the same comparison for
//! clients (`--agreement --client`), with Autobahn's fuzzing server.

mod clients;
mod compare;
mod covered;
mod print;

pub(super) use clients::run_clients;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use wsconform_runner::load::LoadedScenario;
use wsconform_runner::plan::{PlanSettings, Profile};
use wsconform_runner::suite::run_suite;
use wsconform_runner::verdict::ScenarioResult;

use super::{CaseId, SpecTemplate, Target, Wstest};
use crate::project_root;
use compare::{Comparison, compare_all};
use covered::{Covered, load_covered};

/// The explained differences, relative to the project root.
const DIFFERENCES: &str = "xtask/autobahn/differences.yaml";

/// The client scenarios and the Autobahn client cases that test the same
/// thing, relative to the project root.
const CLIENT_CASES: &str = "xtask/autobahn/client-cases.yaml";

/// The explained differences on clients, relative to the project root.
const CLIENT_DIFFERENCES: &str = "xtask/autobahn/client-differences.yaml";

/// How long one wsconform run over the covered scenarios may take before
/// it is called hung. Every step has its own deadline in the runner; this
/// only guards against a bug there.
const WSCONFORM_TIMEOUT: Duration = Duration::from_secs(300);

/// The step deadline, as `wsconform run`'s default.
const STEP_TIMEOUT: Duration = Duration::from_secs(2);

/// Runs the agreement check; see the module documentation.
pub(super) fn run(wstest: &Wstest, work_dir: &Path, spec: &SpecTemplate) -> Result<()> {
    let scenarios_dir = project_root().join("scenarios");
    let differences_path = project_root().join(DIFFERENCES);
    let differences = fs::read_to_string(&differences_path)
        .with_context(|| format!("could not read {}", differences_path.display()))?;
    let covered = load_covered(&scenarios_dir, &differences)?;
    if covered.is_empty() {
        bail!(
            "no scenario under {} names an `autobahn:` case; nothing to compare",
            scenarios_dir.display()
        );
    }
    let cases: BTreeSet<CaseId> = covered.iter().filter_map(Covered::case_id).collect();
    let case_patterns: Vec<String> = cases.iter().map(ToString::to_string).collect();
    let scenarios: Vec<LoadedScenario> = covered.iter().map(|c| c.loaded.clone()).collect();

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
            let results = run_wsconform(&scenarios, target)?;
            reports.insert(target.agent.clone(), results);
        }
        let names: Vec<String> = targets.iter().map(|t| t.agent.clone()).collect();
        Ok((names, index, reports))
    })?;

    let rows = compare_all(&covered, &targets, &index, &reports);
    print::print_report(&covered, &targets, &rows, &index, "server");
    let unexplained = rows
        .iter()
        .filter(|row| row.comparison == Comparison::Disagree && row.explained().is_none())
        .count();
    if unexplained > 0 {
        bail!(
            "wsconform and Autobahn disagree on {unexplained} verdict(s) that {DIFFERENCES} \
             does not explain; see the list above (an entry `scenario`, `server`, `reason` \
             there explains a deliberate difference)"
        );
    }
    Ok(())
}

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

/// Runs the covered scenarios against one target with the runner, in this
/// process, and keeps each result by scenario id.
///
/// Scenarios run one at a time (`-j 1`), as Autobahn runs its cases: a
/// server that serves one client at a time is then graded on the same terms
/// by both tools. The servers run on their own runtime (see
/// [`with_all_servers`]); this one only drives the runner.
fn run_wsconform(
    scenarios: &[LoadedScenario],
    target: &Target,
) -> Result<BTreeMap<String, ScenarioResult>> {
    let settings = PlanSettings {
        target: wsconform_runner::plan::Target::parse(&target.url).map_err(anyhow::Error::msg)?,
        profile: Profile::Echo,
        timeout: STEP_TIMEOUT,
        run_id: std::process::id().into(),
    };
    eprintln!("autobahn: wsconform run against {}", target.agent);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("could not start a tokio runtime for the runner")?;
    let report = runtime
        .block_on(async {
            tokio::time::timeout(
                WSCONFORM_TIMEOUT,
                run_suite(scenarios, &settings, 1, |_| {}),
            )
            .await
        })
        .with_context(|| {
            format!(
                "the wsconform run against {} took over {} s",
                target.agent,
                WSCONFORM_TIMEOUT.as_secs()
            )
        })?;
    Ok(report
        .results
        .into_iter()
        .map(|result| (result.id.clone(), result))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_runner_grades_covered_scenarios_in_process() {
        let text = fs::read_to_string(project_root().join(DIFFERENCES)).unwrap();
        let covered = load_covered(&project_root().join("scenarios"), &text).unwrap();
        let some: Vec<LoadedScenario> = covered.iter().take(3).map(|c| c.loaded.clone()).collect();
        let servers = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let reference = servers
            .block_on(wsconform_server::spawn(
                wsconform_server::Config::ephemeral(),
            ))
            .unwrap();
        let target = Target {
            agent: "reference".into(),
            url: format!("ws://{}/echo", reference.local_addr()),
        };
        let results = run_wsconform(&some, &target).unwrap();
        servers.block_on(reference.shutdown());
        let ids: Vec<&str> = results.keys().map(String::as_str).collect();
        let mut expected: Vec<&str> = some.iter().map(|s| s.scenario.id.as_str()).collect();
        expected.sort();
        assert_eq!(ids, expected);
        for (id, result) in &results {
            assert_eq!(
                compare::wsconform_verdict(result.outcome),
                Some(compare::Verdict::Pass),
                "{id}: {}",
                compare::reason(result)
            );
        }
    }
}

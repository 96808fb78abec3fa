//! Running many scenarios: selection, parallelism, and the shared cause.
//!
//! Before the scenarios, one *preflight* connection performs the default
//! opening handshake. If the target cannot be reached, every scenario is an
//! `error` with that one reason; if the handshake fails, every scenario that
//! needs a working connection fails with the handshake named as the cause,
//! shown once, instead of the same failure three hundred times.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::exec::run_scenario;
use crate::load::{LoadedScenario, parse_scenario};
use crate::plan::{Op, PlanSettings, plan};
use crate::scenario::Action;
use crate::verdict::{Failure, Outcome, ScenarioResult};

// The run report belongs to the reports that render it; re-exported here,
// where a run produces it.
pub use crate::report::run::{Cause, RunReport};

/// Which scenarios to run.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Scenario ids (exact); empty selects all.
    pub ids: Vec<String>,
    /// Chapters (folder names, or their part after the number: `lengths` matches `03-lengths`).
    pub chapters: Vec<String>,
    /// Tags; a scenario needs one of them.
    pub tags: Vec<String>,
    /// A glob over ids (`framing.*`).
    pub filter: Option<glob::Pattern>,
}

impl Selection {
    /// Whether `s` is selected.
    pub fn selects(&self, s: &LoadedScenario) -> bool {
        (self.ids.is_empty() || self.ids.contains(&s.scenario.id))
            && (self.chapters.is_empty()
                || self
                    .chapters
                    .iter()
                    .any(|c| crate::chapter::matches(&s.chapter, c)))
            && (self.tags.is_empty() || self.tags.iter().any(|t| s.scenario.tags.contains(t)))
            && self
                .filter
                .as_ref()
                .is_none_or(|p| p.matches(&s.scenario.id))
    }
}

const PREFLIGHT: &str = "id: preflight.handshake\ntitle: The server accepts a default opening handshake\nrfc: \"4.2.2\"\nsteps:\n  - handshake\n  - send: { close: 1000 }\n";

fn needs_connection(s: &LoadedScenario, settings: &PlanSettings) -> bool {
    plan(s, settings).is_ok_and(|steps| {
        steps.iter().any(|p| {
            matches!(
                p.op,
                Op::Expect {
                    prerequisite: true,
                    ..
                } | Op::Flood(_)
            )
        })
    })
}

/// Whether a scenario has a `flood` step (and so runs alone).
fn floods(s: &LoadedScenario) -> bool {
    s.scenario
        .steps
        .iter()
        .any(|step| matches!(step.action, Action::Flood(_)))
}

/// Runs `scenarios` against the target, `jobs` at a time (scenarios with a
/// `flood` step run last, one at a time). `on_result` is
/// called as each scenario finishes (for progress display).
pub async fn run_suite(
    scenarios: &[LoadedScenario],
    settings: &PlanSettings,
    jobs: usize,
    on_result: impl Fn(&ScenarioResult),
) -> RunReport {
    let started = std::time::Instant::now();
    let mut report = RunReport {
        target: settings.target.url(),
        profile: settings.profile.name().to_string(),
        results: Vec::new(),
        cause: None,
        duration: Duration::ZERO,
    };
    let mut to_run: Vec<(usize, LoadedScenario)> = Vec::new();
    let mut slots: Vec<Option<ScenarioResult>> = vec![None; scenarios.len()];
    if let Ok(preflight) = parse_scenario("preflight.yaml", PREFLIGHT) {
        let result = run_scenario(&preflight, settings).await;
        match result.outcome {
            Outcome::Error => {
                let message = result.message.clone();
                for (i, s) in scenarios.iter().enumerate() {
                    let mut r = ScenarioResult::for_scenario(s, Outcome::Skip);
                    r.outcome = Outcome::Error;
                    r.message = message.clone();
                    on_result(&r);
                    if let Some(slot) = slots.get_mut(i) {
                        *slot = Some(r);
                    }
                }
                report.cause = Some(Cause {
                    message,
                    preflight: result,
                });
            }
            Outcome::Fail => {
                let message = result.message.clone();
                for (i, s) in scenarios.iter().enumerate() {
                    if needs_connection(s, settings) {
                        let mut r = ScenarioResult::for_scenario(s, Outcome::Skip);
                        r.outcome = Outcome::Fail;
                        r.message = format!("{message} (shown once above)");
                        r.failure = result.failure.clone().map(|f| Failure {
                            prerequisite: true,
                            ..f
                        });
                        on_result(&r);
                        if let Some(slot) = slots.get_mut(i) {
                            *slot = Some(r);
                        }
                    } else {
                        to_run.push((i, s.clone()));
                    }
                }
                report.cause = Some(Cause {
                    message,
                    preflight: result,
                });
            }
            _ => to_run = scenarios.iter().cloned().enumerate().collect(),
        }
    }
    // A flood is a load test: it gets the server to itself, after the rest,
    // so its thousands of chat broadcasts never reach other scenarios' clients.
    let (alone, together): (Vec<_>, Vec<_>) = to_run.into_iter().partition(|(_, s)| floods(s));
    for (batch, batch_jobs) in [(together, jobs.max(1)), (alone, 1)] {
        let limit = Arc::new(Semaphore::new(batch_jobs));
        let mut set = JoinSet::new();
        for (i, s) in batch {
            let limit = Arc::clone(&limit);
            let settings = settings.clone();
            set.spawn(async move {
                let _permit = limit.acquire_owned().await;
                (i, run_scenario(&s, &settings).await)
            });
        }
        while let Some(done) = set.join_next().await {
            match done {
                Ok((i, r)) => {
                    on_result(&r);
                    if let Some(slot) = slots.get_mut(i) {
                        *slot = Some(r);
                    }
                }
                Err(e) => {
                    // A panicking scenario task is a runner bug; report it rather than hide it.
                    if let Some(first) = scenarios.first() {
                        report.cause.get_or_insert_with(|| Cause {
                            message: format!("internal error in a scenario task: {e}"),
                            preflight: ScenarioResult::for_scenario(first, Outcome::Skip),
                        });
                    }
                }
            }
        }
    }
    for (slot, s) in slots.into_iter().zip(scenarios) {
        report.results.push(slot.unwrap_or_else(|| {
            let mut r = ScenarioResult::for_scenario(s, Outcome::Skip);
            r.outcome = Outcome::Error;
            r.message = "the scenario did not report a result (internal error)".into();
            r
        }));
    }
    report.duration = started.elapsed();
    report
}

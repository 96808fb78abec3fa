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
use crate::payload::payload_len;
use crate::plan::{Op, PlanSettings, plan};
use crate::scenario::{Action, SendKind};
use crate::verdict::{Failure, NonStrictPoints, Outcome, ScenarioResult};
use crate::{chapter, ids};

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
    /// Whether `s` is selected. Ids and `--filter` also take the ids a
    /// scenario had before ([`ids`]).
    pub fn selects(&self, s: &LoadedScenario) -> bool {
        let id = &s.scenario.id;
        (self.ids.is_empty() || self.ids.iter().any(|wanted| ids::names(id, wanted)))
            && (self.chapters.is_empty()
                || self
                    .chapters
                    .iter()
                    .any(|c| chapter::matches(&s.chapter, c)))
            && (self.tags.is_empty() || self.tags.iter().any(|t| s.scenario.tags.contains(t)))
            && self
                .filter
                .as_ref()
                .is_none_or(|p| p.matches(id) || ids::former(id).iter().any(|old| p.matches(old)))
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

/// Above this many payload bytes sent, a scenario is a load test.
const HEAVY: usize = 4 << 20;

/// Whether a scenario is a load test and so runs alone: it has a `flood`
/// step, or sends more than [`HEAVY`] bytes of payload (a message over a
/// size limit). Played beside others, it would take the CPU their
/// deadlines count on.
fn runs_alone(s: &LoadedScenario) -> bool {
    let mut sent = 0usize;
    for step in &s.scenario.steps {
        match &step.action {
            Action::Flood(_) => return true,
            Action::Send(send) => {
                if let SendKind::Text(p) | SendKind::Binary(p) = &send.kind {
                    sent = sent.saturating_add(payload_len(p));
                }
            }
            Action::Frame(frame) => sent = sent.saturating_add(payload_len(&frame.payload)),
            _ => {}
        }
    }
    sent > HEAVY
}

/// Runs `scenarios` against the target, `jobs` at a time. Scenarios of the
/// chapters before concurrency run first, one at a time (a server from
/// those chapters may serve one connection at a time, and a second
/// connection would wait for the first to end); load tests (a `flood` step,
/// or megabytes of payload) run last, one at a time. `on_result` is called as each scenario
/// finishes (for progress display).
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
        non_strict_points: NonStrictPoints::default(),
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
                    slots[i] = Some(r);
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
                        slots[i] = Some(r);
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
    // A flood, or a message of many megabytes, is a load test: it gets the
    // server to itself, after the rest, so its thousands of chat broadcasts
    // never reach other scenarios' clients and its CPU never starves their
    // deadlines.
    let (alone, rest): (Vec<_>, Vec<_>) = to_run.into_iter().partition(|(_, s)| runs_alone(s));
    let (serial, together): (Vec<_>, Vec<_>) = rest
        .into_iter()
        .partition(|(_, s)| chapter::serves_one_at_a_time(&s.chapter));
    for (batch, batch_jobs) in [(serial, 1), (together, jobs.max(1)), (alone, 1)] {
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
                    report.cause.get_or_insert_with(|| Cause {
                        message: format!("internal error in a scenario task: {e}"),
                        preflight: ScenarioResult::for_scenario(&scenarios[0], Outcome::Skip),
                    });
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

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(folder: &str, steps: &str) -> LoadedScenario {
        let yaml = format!("id: a.b\ntitle: t\nsteps:\n{steps}");
        parse_scenario(&format!("scenarios/{folder}/a.yaml"), &yaml)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn load_tests_run_alone() {
        assert!(runs_alone(&scenario(
            "09-concurrency",
            "  - flood: { clients: 2, messages: 2 }\n"
        )));
        assert!(runs_alone(&scenario(
            "11-hardening",
            "  - send: { binary: { len: 16777216 }, fragments: [1048576] }\n"
        )));
        assert!(!runs_alone(&scenario(
            "03-lengths",
            "  - send: { binary: { len: 327680 } }\n"
        )));
        assert!(!runs_alone(&scenario(
            "11-hardening",
            "  - frame: { opcode: binary, claimed_len: 67108864, payload: { len: 16 } }\n"
        )));
    }

    #[test]
    fn selection_takes_old_ids_and_chapter_names() {
        let s = scenario("05-text-utf8", "  - send: { text: hi }\n");
        let mut s = s;
        s.scenario.id = "text-utf8.invalid".into();
        let by_old_id = Selection {
            ids: vec!["utf8.invalid".into()],
            ..Selection::default()
        };
        assert!(by_old_id.selects(&s));
        let by_old_glob = Selection {
            filter: glob::Pattern::new("utf8.*").ok(),
            ..Selection::default()
        };
        assert!(by_old_glob.selects(&s));
        let by_new_glob = Selection {
            filter: glob::Pattern::new("text-utf8.*").ok(),
            ..Selection::default()
        };
        assert!(by_new_glob.selects(&s));
        let other = Selection {
            filter: glob::Pattern::new("ping.*").ok(),
            ..Selection::default()
        };
        assert!(!other.selects(&s));
        let by_chapter = Selection {
            chapters: vec!["text-utf8".into(), "frames".into()],
            ..Selection::default()
        };
        assert!(by_chapter.selects(&s));
    }
}

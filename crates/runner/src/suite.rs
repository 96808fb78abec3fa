//! Running many scenarios: selection, parallelism, and the shared cause.
//!
//! Before the scenarios, one *preflight* connection performs the default
//! opening handshake. If the target cannot be reached, every scenario is an
//! `error` with that one reason; if the handshake fails, every scenario that
//! needs a working connection fails with the handshake named as the cause,
//! shown once, instead of the same failure three hundred times.
//!
//! Then the scenarios run in batches ([`schedule`]): the chapters before
//! concurrency (and the optional compression chapter) one at a time,
//! unless the target has just proven that it serves clients concurrently
//! ([`crate::concurrent`]); the rest `jobs` at a time; load tests last,
//! alone. A target that fails the proof and answers nothing after its
//! handshake ([`crate::silence`]) has its waits cut. The schedule and the
//! pace decide how long a run takes, never what it finds: a scenario's
//! verdict depends only on the target.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::concurrent::{Proof, prove};
use crate::exec::{Pace, run_scenario, run_scenario_paced};
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

/// The default request with a frame right behind it in the same write:
/// played only when the preflight got no answer, for
/// [`crate::diagnose::handshake_waits_for_more`].
const EAGER_PROBE: &str = "id: preflight.eager-handshake\ntitle: The server answers a request followed by a frame\nrfc: \"4.2.2\"\nsteps:\n  - handshake: { then: { text: probe } }\n  - send: { close: 1000 }\n";

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

/// Whether a run may look for the proof of concurrency that lets the
/// chapters before concurrency run side by side ([`crate::concurrent`]),
/// and probe a server that failed it for silence ([`crate::silence`]).
/// `Off` plays the schedule every target gets and waits every deadline in
/// full; both give the same verdicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shortcuts {
    /// Prove concurrency first, and use it; cut the waits for a silent server.
    On,
    /// Never run the chapters before concurrency side by side, never cut a wait.
    Off,
}

/// One batch of the schedule: scenarios (by index in the run's list) and
/// how many of them run at once. Batches run one after the other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// Indices into the scenarios of the run.
    pub scenarios: Vec<usize>,
    /// How many run at once.
    pub at_once: usize,
}

/// The order a run plays `scenarios` in. Scenarios of the chapters before
/// concurrency run first, one at a time (a server from those chapters may
/// serve one connection at a time, and a second connection would wait for
/// the first to end), unless `proven` (the target served two clients at
/// once): then they join the rest, `jobs` at a time. Load tests (a `flood`
/// step, or megabytes of payload) run last, one at a time: played beside
/// others they would take the CPU the others' deadlines count on.
pub fn schedule(scenarios: &[LoadedScenario], jobs: usize, proven: bool) -> Vec<Batch> {
    let mut serial = Vec::new();
    let mut together = Vec::new();
    let mut alone = Vec::new();
    for (i, s) in scenarios.iter().enumerate() {
        if runs_alone(s) {
            alone.push(i);
        } else if !proven && chapter::serves_one_at_a_time(&s.chapter) {
            serial.push(i);
        } else {
            together.push(i);
        }
    }
    [(serial, 1), (together, jobs.max(1)), (alone, 1)]
        .into_iter()
        .filter(|(batch, _)| !batch.is_empty())
        .map(|(scenarios, at_once)| Batch { scenarios, at_once })
        .collect()
}

/// Runs `scenarios` against the target, `jobs` at a time, in the order of
/// [`schedule`], with [`Shortcuts::On`]. `on_result` is called as each
/// scenario finishes (for progress display).
pub async fn run_suite(
    scenarios: &[LoadedScenario],
    settings: &PlanSettings,
    jobs: usize,
    on_result: impl Fn(&ScenarioResult),
) -> RunReport {
    run_suite_with(scenarios, settings, jobs, Shortcuts::On, on_result).await
}

/// [`run_suite`] with the shortcuts chosen: the same verdicts either way.
pub async fn run_suite_with(
    scenarios: &[LoadedScenario],
    settings: &PlanSettings,
    jobs: usize,
    shortcuts: Shortcuts,
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
        shortcuts: Vec::new(),
    };
    let mut to_run: Vec<(usize, LoadedScenario)> = Vec::new();
    let mut slots: Vec<Option<ScenarioResult>> = vec![None; scenarios.len()];
    if let Ok(preflight) = parse_scenario("preflight.yaml", PREFLIGHT) {
        let mut result = run_scenario(&preflight, settings).await;
        if result.outcome == Outcome::Fail
            && let Ok(probe) = parse_scenario("probe.yaml", EAGER_PROBE)
        {
            // One more connection, only for a server that did not answer:
            // does a frame behind the request get the answer out?
            let unanswered = result
                .failure
                .as_ref()
                .is_some_and(|f| f.actual.starts_with("no handshake response"));
            if unanswered {
                let probed = run_scenario(&probe, settings).await;
                result
                    .diagnosis
                    .extend(crate::diagnose::handshake_waits_for_more(&result, &probed));
            }
        }
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
    // The proof is worth two connections only when it can shorten the run:
    // several scenarios of the chapters played one at a time, and room to
    // play them side by side.
    let early = to_run
        .iter()
        .filter(|(_, s)| chapter::serves_one_at_a_time(&s.chapter) && !runs_alone(s))
        .count();
    let proof = if shortcuts == Shortcuts::On && jobs > 1 && early > 1 && report.cause.is_none() {
        prove(settings).await
    } else {
        Proof::default()
    };
    let mut proven = proof.concurrent;
    // A server that did not prove it: is it silent after its handshake?
    // Worth one probe only when several scenarios would wait on it.
    let mut pace = Pace::default();
    let watch = Arc::new(crate::stall::Watch::default());
    let watching = shortcuts == Shortcuts::On && report.cause.is_none();
    if watching && proof.first_unanswered {
        // The preflight's handshake was answered, the proof's was not.
        watch
            .check("the preflight handshake", settings, PREFLIGHT)
            .await;
    }
    if shortcuts == Shortcuts::On
        && !proven
        && !proof.first_unanswered
        && report.cause.is_none()
        && to_run.iter().filter(|(_, s)| !runs_alone(s)).count() > 1
        && let Some(silent) = crate::silence::probe(settings, proof.handshakes_at_once).await
    {
        pace = Pace {
            answer_wait: Some(crate::silence::cut(settings.timeout)),
            any_wait: None,
            why: crate::silence::WHY,
        };
        proven = silent.handshakes_at_once && jobs > 1;
        report.shortcuts.push(silent.sentence(settings.timeout));
    }
    let (indices, chosen): (Vec<usize>, Vec<LoadedScenario>) = to_run.into_iter().unzip();
    for batch in schedule(&chosen, jobs, proven) {
        // Only a scenario played alone can show that the server stopped:
        // side by side, a server that serves one client at a time leaves
        // handshakes unanswered while it serves the others.
        let watching = watching && batch.at_once == 1;
        let limit = Arc::new(Semaphore::new(batch.at_once));
        let mut set = JoinSet::new();
        for at in batch.scenarios {
            let (Some(&i), Some(s)) = (indices.get(at), chosen.get(at)) else {
                continue;
            };
            let s = s.clone();
            let limit = Arc::clone(&limit);
            let settings = settings.clone();
            let watch = Arc::clone(&watch);
            set.spawn(async move {
                let _permit = limit.acquire_owned().await;
                let pace = watch.pace(pace, settings.timeout).await;
                let r = run_scenario_paced(&s, &settings, pace).await;
                if watching {
                    watch.after(&r, &settings, PREFLIGHT).await;
                }
                (i, r)
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
    if let Some(stopped) = Arc::try_unwrap(watch)
        .ok()
        .and_then(crate::stall::Watch::into_stopped)
    {
        report.shortcuts.push(stopped.sentence(settings.timeout));
    }
    for (slot, s) in slots.into_iter().zip(scenarios) {
        report.results.push(slot.unwrap_or_else(|| {
            let mut r = ScenarioResult::for_scenario(s, Outcome::Skip);
            r.outcome = Outcome::Error;
            r.message = "the scenario did not report a result (internal error)".into();
            r
        }));
    }
    crate::diagnose::across_run(&mut report.results);
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
    fn the_proof_moves_only_the_early_chapters() {
        let scenarios = [
            scenario("03-lengths", "  - send: { text: hi }\n"),
            scenario("10-chat", "  - send: { text: hi }\n"),
            scenario("09-concurrency", "  - flood: { clients: 2, messages: 2 }\n"),
        ];
        let batches = |proven| {
            schedule(&scenarios, 8, proven)
                .into_iter()
                .map(|b| (b.scenarios, b.at_once))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            batches(false),
            vec![(vec![0], 1), (vec![1], 8), (vec![2], 1)]
        );
        assert_eq!(batches(true), vec![(vec![0, 1], 8), (vec![2], 1)]);
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

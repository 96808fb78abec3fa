//! A server that stops answering opening handshakes in the middle of a run.
//!
//! A server written to serve one client at a time can get stuck on a
//! connection for good: its read loop spins on the end of a connection the
//! runner has already closed, or it waits for bytes that never come. From
//! then on every scenario's handshake waits out a whole deadline, three
//! hundred times: a quarter of an hour for a server that has stopped.
//!
//! The watch notices the first scenario played alone (one at a time: side
//! by side, a server that serves one client at a time leaves handshakes
//! unanswered while it serves the others) whose handshake got no answer at
//! all, and plays the default handshake once more, with the whole deadline.
//! Answered: the server only had a slow moment, and the run goes on as
//! before (the next such failure is checked again). Not answered: the
//! server has **stopped**, and the scenarios still to come are played with
//! every wait cut ([`crate::silence::cut`], the handshake's answer
//! included): each is judged as before, on what the server does, and a
//! server that stays stuck costs milliseconds a scenario. Scenarios
//! already under way finish as they started. Every report names the
//! scenario after which the server stopped; `--full-waits` waits in full.

use std::time::Duration;

use tokio::sync::Mutex;

use crate::exec::{Pace, run_scenario};
use crate::load::parse_scenario;
use crate::plan::PlanSettings;
use crate::verdict::{Outcome, ScenarioResult};

/// Why a wait was cut, as a transcript says it.
const WHY: &str = "the server stopped answering opening handshakes";

/// What the watch found: the handshake check that went unanswered.
#[derive(Debug, Clone)]
pub struct Stopped {
    /// The scenario whose handshake went unanswered first.
    pub after: String,
    /// The default handshake played then, unanswered too.
    pub check: ScenarioResult,
}

/// Watches a run for a server that stops answering handshakes.
#[derive(Debug, Default)]
pub struct Watch {
    stopped: Mutex<Option<Stopped>>,
}

/// Whether a result failed because its handshake got no answer at all.
pub fn unanswered(r: &ScenarioResult) -> bool {
    r.outcome == Outcome::Fail
        && r.failure
            .as_ref()
            .is_some_and(|f| f.actual.starts_with("no handshake response"))
}

impl Watch {
    /// The pace of a scenario about to start: `base`, or every wait cut
    /// once the server has stopped answering handshakes.
    pub async fn pace(&self, base: Pace, timeout: Duration) -> Pace {
        if self.stopped.lock().await.is_none() {
            return base;
        }
        Pace {
            any_wait: Some(crate::silence::cut(timeout)),
            why: WHY,
            ..base
        }
    }

    /// Looks at a finished scenario: a handshake without an answer is
    /// checked once more with the default handshake, in full time.
    pub async fn after(&self, r: &ScenarioResult, settings: &PlanSettings, preflight: &str) {
        if unanswered(r) {
            self.check(&r.id, settings, preflight).await;
        }
    }

    /// Plays the default handshake `preflight` in full time, after `after`
    /// went unanswered: unanswered too, the server has stopped.
    pub async fn check(&self, after: &str, settings: &PlanSettings, preflight: &str) {
        // One check at a time; scenarios finishing meanwhile wait for it.
        let mut stopped = self.stopped.lock().await;
        if stopped.is_some() {
            return;
        }
        let Ok(check) = parse_scenario("preflight.yaml", preflight) else {
            return;
        };
        let check = run_scenario(&check, settings).await;
        if unanswered(&check) {
            *stopped = Some(Stopped {
                after: after.to_owned(),
                check,
            });
        }
    }

    /// What the watch found, once the run is over.
    pub fn into_stopped(self) -> Option<Stopped> {
        self.stopped.into_inner()
    }
}

impl Stopped {
    /// The sentence every report gives the run.
    pub fn sentence(&self, timeout: Duration) -> String {
        format!(
            "the server stopped answering opening handshakes after {}: the default handshake then went unanswered too, for {}. \
             Every wait of the scenarios after that, the handshake's included, was cut to {}. \
             `--full-waits` waits every deadline in full (same verdicts for a server that stays stuck, minutes longer)",
            self.after,
            crate::exec::describe::seconds(timeout),
            crate::exec::describe::seconds(crate::silence::cut(timeout)),
        )
    }
}

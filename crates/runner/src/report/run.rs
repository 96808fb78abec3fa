//! The result of a whole run, which every report format renders: one
//! result per scenario, and the shared cause when the preflight handshake
//! failed.

use std::time::Duration;

use crate::verdict::{NonStrictPoints, Outcome, ScenarioResult};

/// Something that went wrong before or for every scenario, shown once.
#[derive(Debug, Clone, PartialEq)]
pub struct Cause {
    /// One line.
    pub message: String,
    /// The preflight's full result (transcript and failure).
    pub preflight: ScenarioResult,
}

/// The result of a whole run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunReport {
    /// The target URL.
    pub target: String,
    /// The profile name.
    pub profile: String,
    /// One result per selected scenario, in file order.
    pub results: Vec<ScenarioResult>,
    /// The shared cause, when the preflight failed.
    pub cause: Option<Cause>,
    /// Wall time of the run.
    pub duration: Duration,
    /// What a non-strict result earned (every report says it).
    pub non_strict_points: NonStrictPoints,
}

impl RunReport {
    /// The report with `policy`'s points for every non-strict result.
    pub fn with_non_strict_points(mut self, policy: NonStrictPoints) -> RunReport {
        for r in &mut self.results {
            if r.outcome == Outcome::NonStrict {
                r.points = policy.of(r.max_points);
            }
        }
        self.non_strict_points = policy;
        self
    }

    /// Whether the run counts as passed (exit code 0).
    pub fn passed(&self) -> bool {
        self.results.iter().all(|r| r.outcome.is_ok())
    }
}

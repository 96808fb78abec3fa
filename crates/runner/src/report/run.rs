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
    /// What the run did to finish sooner that a reader should know (waits
    /// cut for a server that answers nothing), one sentence each; every
    /// report states them.
    pub shortcuts: Vec<String>,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::parse_scenario;

    #[test]
    fn the_policy_sets_the_points_of_non_strict_results_only() {
        let yaml = "id: a\ntitle: t\npoints: 4\nsteps:\n  - send: { text: a }\n";
        let loaded = parse_scenario("scenarios/02-frames/a.yaml", yaml).unwrap();
        let mut lax = ScenarioResult::for_scenario(&loaded, Outcome::NonStrict);
        lax.points = 4;
        let mut pass = ScenarioResult::for_scenario(&loaded, Outcome::Pass);
        pass.points = 4;
        let report = RunReport {
            target: String::new(),
            profile: "echo".into(),
            results: vec![lax, pass],
            cause: None,
            duration: Duration::ZERO,
            non_strict_points: NonStrictPoints::Full,
            shortcuts: Vec::new(),
        };
        let half = report.clone().with_non_strict_points(NonStrictPoints::Half);
        assert_eq!(half.results[0].points, 2);
        assert_eq!(half.results[1].points, 4);
        assert_eq!(half.non_strict_points, NonStrictPoints::Half);
        let zero = report.with_non_strict_points(NonStrictPoints::Zero);
        assert_eq!(zero.results[0].points, 0);
    }
}

//! `wsconform run --baseline known-failures.json`: a library's CI fails
//! only on failures that are new. The file lists the scenario ids known to
//! fail (and the suite version it was written with); `--write-baseline`
//! writes it from a run.

use serde::{Deserialize, Serialize};

use crate::report::RunReport;

use super::record::suite_version;

/// The known failures of a library.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Baseline {
    /// The suite version the file was written with.
    pub suite_version: String,
    /// Scenario ids that fail (or cannot run) today, sorted.
    pub known_failures: Vec<String>,
}

/// A run compared with a baseline.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Comparison {
    /// Failing now, not in the baseline: these fail the build.
    pub new_failures: Vec<String>,
    /// In the baseline, passing now: the baseline can be tightened.
    pub fixed: Vec<String>,
    /// In the baseline and still failing.
    pub known: Vec<String>,
}

fn failing(report: &RunReport) -> Vec<String> {
    let mut ids: Vec<String> = report
        .results
        .iter()
        .filter(|r| !r.outcome.is_ok())
        .map(|r| r.id.clone())
        .collect();
    ids.sort();
    ids
}

/// The baseline of a run: what fails in it.
pub fn of(report: &RunReport) -> Baseline {
    Baseline {
        suite_version: suite_version(),
        known_failures: failing(report),
    }
}

/// Parses a baseline file's text.
pub fn parse(text: &str) -> Result<Baseline, String> {
    serde_json::from_str(text).map_err(|e| format!("not a baseline file: {e}"))
}

/// Compares a run with a baseline (only scenarios that ran count as fixed).
pub fn compare(baseline: &Baseline, report: &RunReport) -> Comparison {
    let now = failing(report);
    let ran: Vec<&str> = report.results.iter().map(|r| r.id.as_str()).collect();
    let mut out = Comparison::default();
    for id in &now {
        if baseline.known_failures.contains(id) {
            out.known.push(id.clone());
        } else {
            out.new_failures.push(id.clone());
        }
    }
    for id in &baseline.known_failures {
        if !now.contains(id) && ran.contains(&id.as_str()) {
            out.fixed.push(id.clone());
        }
    }
    out
}

impl Comparison {
    /// The lines the command line prints.
    pub fn summary(&self, baseline: &Baseline) -> String {
        let mut out = String::new();
        if baseline.suite_version != suite_version() {
            out.push_str(&format!(
                "baseline: written with suite {}, this is suite {} (see scenarios/CHANGELOG.md)\n",
                baseline.suite_version,
                suite_version()
            ));
        }
        for id in &self.new_failures {
            out.push_str(&format!("baseline: NEW failure {id}\n"));
        }
        for id in &self.fixed {
            out.push_str(&format!(
                "baseline: {id} passes now; remove it from the baseline\n"
            ));
        }
        out.push_str(&format!(
            "baseline: {} new, {} known, {} fixed\n",
            self.new_failures.len(),
            self.known.len(),
            self.fixed.len()
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::{Outcome, ScenarioResult};

    fn report(outcomes: &[(&str, Outcome)]) -> RunReport {
        let suite = crate::load::bundled().unwrap();
        RunReport {
            target: "ws://127.0.0.1:1/".into(),
            profile: "echo".into(),
            results: outcomes
                .iter()
                .map(|(id, outcome)| {
                    let mut r = ScenarioResult::for_scenario(&suite[0], *outcome);
                    r.id = id.to_string();
                    r
                })
                .collect(),
            cause: None,
            duration: std::time::Duration::ZERO,
            non_strict_points: Default::default(),
            shortcuts: Vec::new(),
        }
    }

    #[test]
    fn only_new_failures_are_new() {
        let base = of(&report(&[
            ("a", Outcome::Fail),
            ("b", Outcome::Fail),
            ("c", Outcome::Pass),
        ]));
        assert_eq!(base.known_failures, ["a", "b"]);
        let now = report(&[
            ("a", Outcome::Fail),
            ("b", Outcome::Pass),
            ("c", Outcome::Error),
        ]);
        let cmp = compare(&base, &now);
        assert_eq!(cmp.new_failures, ["c"]);
        assert_eq!(cmp.fixed, ["b"]);
        assert_eq!(cmp.known, ["a"]);
        let text = serde_json::to_string(&base).unwrap();
        assert_eq!(parse(&text).unwrap(), base);
    }
}

//! Comparing the two tools' verdicts, one scenario on one server at a time.

use std::collections::BTreeMap;
use std::fmt;

use wsconform_runner::verdict::{Failure, Outcome, ScenarioResult};

use super::super::{AUTOBAHN_VERSION, CaseResult, Index};
use super::covered::Covered;

/// The verdicts both tools can give.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Every expectation met.
    Pass,
    /// Allowed, but not the best behaviour.
    NonStrict,
    /// Wrong.
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
/// Autobahn only informs (or did not implement the case). `WRONG CODE` (the
/// connection was closed, with another close code) is non-strict: the code
/// is a SHOULD (RFC 6455 7.1.7, 7.4), as wsconform judges it.
pub fn autobahn_verdict(result: &CaseResult) -> Option<Verdict> {
    let words = [result.behavior.as_str(), result.behavior_close.as_str()];
    if words
        .iter()
        .any(|w| matches!(*w, "FAILED" | "UNCLEAN" | "FAILED BY CLIENT"))
    {
        Some(Verdict::Fail)
    } else if words
        .iter()
        .any(|w| matches!(*w, "NON-STRICT" | "WRONG CODE"))
    {
        Some(Verdict::NonStrict)
    } else if words.iter().all(|w| *w == "OK") {
        Some(Verdict::Pass)
    } else {
        None
    }
}

/// wsconform's verdict from a result's outcome; `None` for `skip`.
/// `error` (the scenario could not run) counts as a failure to grade, so it
/// shows up as a disagreement unless Autobahn failed the server too.
pub fn wsconform_verdict(outcome: Outcome) -> Option<Verdict> {
    match outcome {
        Outcome::Pass => Some(Verdict::Pass),
        Outcome::NonStrict => Some(Verdict::NonStrict),
        Outcome::Fail | Outcome::Error => Some(Verdict::Fail),
        Outcome::Skip => None,
    }
}

/// The runner's explanation of a result, on one line.
pub fn reason(result: &ScenarioResult) -> String {
    one_line_reason(&result.message, result.failure.as_ref())
}

/// A result's message and failure (expected, actual) on one line.
fn one_line_reason(message: &str, failure: Option<&Failure>) -> String {
    let mut reason = message.trim().to_string();
    if let Some(failure) = failure {
        if !failure.expected.is_empty() && !reason.contains(failure.expected.trim()) {
            reason.push_str(&format!("; expected: {}", failure.expected.trim()));
        }
        if !failure.actual.is_empty() && !reason.contains(failure.actual.trim()) {
            reason.push_str(&format!("; actual: {}", failure.actual.trim()));
        }
    }
    reason.replace('\n', " ")
}

/// How the two tools' verdicts on one scenario and one server compare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Comparison {
    /// Same verdict.
    Agree,
    /// Different verdicts.
    Disagree,
    /// Not comparable, with the reason.
    NotCompared(String),
}

/// Compares one pair of results.
pub fn compare_one(
    covered: &Covered,
    autobahn: Option<&CaseResult>,
    wsconform: Option<Outcome>,
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
            AUTOBAHN_VERSION, covered.case
        ));
    };
    let Some(wsconform) = wsconform else {
        return Comparison::NotCompared("wsconform's report has no result for it".into());
    };
    let Some(theirs) = autobahn_verdict(autobahn) else {
        return Comparison::NotCompared(format!("Autobahn gives no verdict ({autobahn})"));
    };
    let Some(ours) = wsconform_verdict(wsconform) else {
        return Comparison::NotCompared(format!("wsconform: {}", wsconform.word()));
    };
    // The MUST parts are compared: both fail, or neither does. Pass and
    // non-strict differ only in a SHOULD, which each tool weighs its own way.
    if (theirs == Verdict::Fail) == (ours == Verdict::Fail) {
        Comparison::Agree
    } else {
        Comparison::Disagree
    }
}

/// One scenario on one server.
pub struct Row {
    /// The scenario.
    pub covered: Covered,
    /// The server.
    pub agent: String,
    /// Autobahn's result on the scenario's case.
    pub autobahn: Option<CaseResult>,
    /// wsconform's result.
    pub wsconform: Option<ScenarioResult>,
    /// How they compare.
    pub comparison: Comparison,
}

impl Row {
    /// The scenario's reason for this difference, if it gives one.
    pub fn explained(&self) -> Option<&str> {
        self.covered.explanation_for(&self.agent)
    }
}

/// Compares every covered scenario on every server.
pub fn compare_all(
    covered: &[Covered],
    agents: &[String],
    index: &Index,
    reports: &BTreeMap<String, BTreeMap<String, ScenarioResult>>,
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
                .and_then(|results| results.get(entry.id()))
                .cloned();
            let comparison = compare_one(
                entry,
                autobahn.as_ref(),
                wsconform.as_ref().map(|r| r.outcome),
            );
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
pub struct Tally {
    /// Pairs that agree.
    pub agree: usize,
    /// Every disagreement, explained or not.
    pub disagree: usize,
    /// The disagreements `differences.yaml` explains.
    pub explained: usize,
    /// Pairs that could not be compared.
    pub not_compared: usize,
}

impl Tally {
    /// Counts one row.
    pub fn add(&mut self, row: &Row) {
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
    pub fn percent(&self) -> String {
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

#[cfg(test)]
mod tests {
    use super::super::covered::tests::scenario;
    use super::*;
    use wsconform_runner::verdict::Strength;

    fn case(behavior: &str, close: &str) -> CaseResult {
        CaseResult {
            behavior: behavior.into(),
            behavior_close: close.into(),
            remote_close_code: None,
        }
    }

    fn covered(case: &str) -> Covered {
        Covered {
            loaded: scenario("fragmentation.utf8-fail-fast", Some(case)),
            case: case.into(),
            explanations: Vec::new(),
        }
    }

    #[test]
    fn autobahn_behaviours_map_to_verdicts() {
        let table = [
            ("OK", "OK", Some(Verdict::Pass)),
            ("NON-STRICT", "OK", Some(Verdict::NonStrict)),
            ("NON-STRICT", "WRONG CODE", Some(Verdict::NonStrict)),
            ("OK", "WRONG CODE", Some(Verdict::NonStrict)),
            ("FAILED", "WRONG CODE", Some(Verdict::Fail)),
            ("OK", "UNCLEAN", Some(Verdict::Fail)),
            ("FAILED", "OK", Some(Verdict::Fail)),
            // Autobahn, as the client, had to fail the connection: the
            // server broke the protocol (for example, it masked its frames).
            ("OK", "FAILED BY CLIENT", Some(Verdict::Fail)),
            ("INFORMATIONAL", "INFORMATIONAL", None),
            ("UNIMPLEMENTED", "OK", None),
        ];
        for (behavior, close, verdict) in table {
            assert_eq!(
                autobahn_verdict(&case(behavior, close)),
                verdict,
                "{behavior}, {close}"
            );
        }
    }

    #[test]
    fn wsconform_outcomes_map_to_verdicts() {
        assert_eq!(wsconform_verdict(Outcome::Pass), Some(Verdict::Pass));
        assert_eq!(
            wsconform_verdict(Outcome::NonStrict),
            Some(Verdict::NonStrict)
        );
        assert_eq!(wsconform_verdict(Outcome::Fail), Some(Verdict::Fail));
        assert_eq!(wsconform_verdict(Outcome::Error), Some(Verdict::Fail));
        assert_eq!(wsconform_verdict(Outcome::Skip), None);
    }

    #[test]
    fn compare_one_agrees_disagrees_or_says_why_not() {
        let entry = covered("6.4.1");
        let ok = case("OK", "OK");
        let lax = case("NON-STRICT", "OK");
        assert_eq!(
            compare_one(&entry, Some(&ok), Some(Outcome::Pass)),
            Comparison::Agree
        );
        assert_eq!(
            compare_one(&entry, Some(&lax), Some(Outcome::NonStrict)),
            Comparison::Agree
        );
        // Only the MUST parts are compared: pass and non-strict agree.
        assert_eq!(
            compare_one(&entry, Some(&lax), Some(Outcome::Pass)),
            Comparison::Agree
        );
        assert_eq!(
            compare_one(&entry, Some(&ok), Some(Outcome::NonStrict)),
            Comparison::Agree
        );
        assert_eq!(
            compare_one(&entry, Some(&lax), Some(Outcome::Fail)),
            Comparison::Disagree
        );
        assert_eq!(
            compare_one(
                &entry,
                Some(&case("FAILED", "OK")),
                Some(Outcome::NonStrict)
            ),
            Comparison::Disagree
        );
        assert!(matches!(
            compare_one(&covered("2.x"), Some(&ok), Some(Outcome::Pass)),
            Comparison::NotCompared(reason) if reason.contains("2.x")
        ));
        assert!(matches!(
            compare_one(&entry, None, Some(Outcome::Pass)),
            Comparison::NotCompared(_)
        ));
        assert!(matches!(
            compare_one(&entry, Some(&ok), None),
            Comparison::NotCompared(_)
        ));
        assert!(matches!(
            compare_one(&entry, Some(&ok), Some(Outcome::Skip)),
            Comparison::NotCompared(_)
        ));
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
        let failure = Failure {
            step: Some(3),
            client: "a".into(),
            expected: "close 1007".into(),
            actual: "echo of\n11 bytes".into(),
            rule: None,
            caret: None,
            prerequisite: false,
            strength: Strength::Must,
            reason: None,
        };
        assert_eq!(
            one_line_reason("step 3 failed", Some(&failure)),
            "step 3 failed; expected: close 1007; actual: echo of 11 bytes"
        );
    }
}

//! Autobahn's results: case ids, what `index.json` says per case, the
//! committed expected results of the reference server and how a run
//! differs from them.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::path::PathBuf;
use std::str::FromStr;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// An Autobahn case id such as `6.4.1`, ordered numerically (so `1.1.2`
/// comes before `1.1.10`, unlike a string sort).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CaseId(Vec<u32>);

impl FromStr for CaseId {
    type Err = anyhow::Error;

    fn from_str(text: &str) -> Result<CaseId> {
        let parts = text
            .split('.')
            .map(|part| part.parse::<u32>())
            .collect::<Result<Vec<u32>, _>>()
            .with_context(|| format!("`{text}` is not an Autobahn case id like 6.4.1"))?;
        Ok(CaseId(parts))
    }
}

impl fmt::Display for CaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(u32::to_string).collect();
        f.write_str(&parts.join("."))
    }
}

/// What we keep of one case's result: everything that does not change from
/// run to run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseResult {
    /// The verdict on the messages exchanged: `OK`, `NON-STRICT`, `FAILED`,
    /// `INFORMATIONAL`, `UNIMPLEMENTED`, …
    pub behavior: String,
    /// The verdict on the closing handshake: `OK`, `FAILED`, `WRONG CODE`,
    /// `UNCLEAN`, `INFORMATIONAL`, …
    #[serde(rename = "behaviorClose")]
    pub behavior_close: String,
    /// The close code the server sent, if it sent a close frame.
    #[serde(rename = "remoteCloseCode")]
    pub remote_close_code: Option<u16>,
}

impl fmt::Display for CaseResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} / close {}", self.behavior, self.behavior_close)?;
        match self.remote_close_code {
            Some(code) => write!(f, " (server sent {code})"),
            None => write!(f, " (no close code)"),
        }
    }
}

/// One entry of `index.json`, as Autobahn writes it.
#[derive(Debug, Deserialize)]
pub(super) struct IndexEntry {
    #[serde(flatten)]
    pub(super) result: CaseResult,
    #[serde(rename = "reportfile")]
    pub(super) report_file: Option<String>,
}

/// A parsed `index.json`: results per agent, per case.
pub(super) struct Index {
    pub(super) agents: BTreeMap<String, BTreeMap<CaseId, IndexEntry>>,
    pub(super) reports_dir: PathBuf,
}

impl Index {
    pub(super) fn parse(text: &str) -> Result<Index> {
        let raw: BTreeMap<String, BTreeMap<String, IndexEntry>> = serde_json::from_str(text)?;
        let mut agents = BTreeMap::new();
        for (agent, cases) in raw {
            let mut parsed = BTreeMap::new();
            for (case, entry) in cases {
                parsed.insert(case.parse::<CaseId>()?, entry);
            }
            agents.insert(agent, parsed);
        }
        Ok(Index {
            agents,
            reports_dir: PathBuf::new(),
        })
    }

    /// The results of one agent, durations and file names stripped.
    pub(super) fn results_of(&self, agent: &str) -> Result<BTreeMap<CaseId, CaseResult>> {
        let cases = self
            .agents
            .get(agent)
            .with_context(|| format!("index.json has no results for agent `{agent}`"))?;
        Ok(cases
            .iter()
            .map(|(case, entry)| (case.clone(), entry.result.clone()))
            .collect())
    }

    /// Autobahn's own explanation of a case's verdict, from the case's
    /// report file: its `result` and `resultClose` sentences.
    pub(super) fn reason(&self, agent: &str, case: &CaseId) -> Option<String> {
        let file = self.agents.get(agent)?.get(case)?.report_file.as_ref()?;
        let text = fs::read_to_string(self.reports_dir.join(file)).ok()?;
        let report: serde_json::Value = serde_json::from_str(&text).ok()?;
        let result = report.get("result").and_then(|v| v.as_str()).unwrap_or("");
        let close = report
            .get("resultClose")
            .and_then(|v| v.as_str())
            .unwrap_or("");
        Some(format!("{result} {close}").trim().to_string())
    }
}

/// Prints how many cases got each behaviour.
pub(super) fn print_summary(what: &str, results: &BTreeMap<CaseId, CaseResult>) {
    eprintln!("autobahn: {} cases against {what}", results.len());
    eprintln!("  behavior:      {}", count_by(results, |r| &r.behavior));
    eprintln!(
        "  behaviorClose: {}",
        count_by(results, |r| &r.behavior_close)
    );
}

/// "240 OK, 4 NON-STRICT, 3 INFORMATIONAL", most frequent first.
pub(super) fn count_by(
    results: &BTreeMap<CaseId, CaseResult>,
    field: impl Fn(&CaseResult) -> &String,
) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for result in results.values() {
        *counts.entry(field(result).as_str()).or_default() += 1;
    }
    let mut counts: Vec<(&str, usize)> = counts.into_iter().collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let parts: Vec<String> = counts.iter().map(|(b, n)| format!("{n} {b}")).collect();
    parts.join(", ")
}

/// True for a behaviour that is not a problem: `OK`, or `INFORMATIONAL` for
/// the cases where Autobahn only reports what happened.
pub(super) fn is_acceptable(behavior: &str) -> bool {
    matches!(behavior, "OK" | "INFORMATIONAL")
}

/// Prints every case whose behaviour is neither OK nor INFORMATIONAL with
/// Autobahn's reason, and returns how many there were.
pub(super) fn print_not_ok(
    index: &Index,
    agent: &str,
    results: &BTreeMap<CaseId, CaseResult>,
) -> usize {
    let mut count = 0;
    for (case, result) in results {
        if is_acceptable(&result.behavior) && is_acceptable(&result.behavior_close) {
            continue;
        }
        count += 1;
        eprintln!("  {case}: {result}");
        if let Some(reason) = index.reason(agent, case) {
            eprintln!("      Autobahn says: {reason}");
        }
    }
    count
}

/// Renders results as the expected-results file: one case per line, in case
/// order, so that a change shows up in review as a one-line diff.
pub(super) fn render_expected(results: &BTreeMap<CaseId, CaseResult>) -> String {
    let mut out = String::from("{\n");
    let mut lines = results.iter().peekable();
    while let Some((case, result)) = lines.next() {
        let value = serde_json::json!({
            "behavior": result.behavior,
            "behaviorClose": result.behavior_close,
            "remoteCloseCode": result.remote_close_code,
        });
        out.push_str(&format!("  \"{case}\": {value}"));
        out.push_str(if lines.peek().is_some() { ",\n" } else { "\n" });
    }
    out.push_str("}\n");
    out
}

/// Parses an expected-results file written by [`render_expected`].
pub(super) fn parse_expected(text: &str) -> Result<BTreeMap<CaseId, CaseResult>> {
    let raw: BTreeMap<String, CaseResult> = serde_json::from_str(text)?;
    raw.into_iter()
        .map(|(case, result)| Ok((case.parse::<CaseId>()?, result)))
        .collect()
}

/// One way a run differs from the expected results.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Difference {
    /// Expected, but the run has no such case.
    Missing(CaseId, CaseResult),
    /// The run has a case the expected results do not list.
    Unexpected(CaseId, CaseResult),
    /// Both have the case, with different results.
    Changed {
        case: CaseId,
        expected: CaseResult,
        actual: CaseResult,
    },
}

impl Difference {
    /// The case of this run the difference is about, if the run has it.
    pub(super) fn actual_case(&self) -> Option<&CaseId> {
        match self {
            Difference::Missing(..) => None,
            Difference::Unexpected(case, _) | Difference::Changed { case, .. } => Some(case),
        }
    }
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Difference::Missing(case, expected) => {
                write!(f, "{case}: expected {expected}, but the case did not run")
            }
            Difference::Unexpected(case, actual) => {
                write!(f, "{case}: not in the expected results, got {actual}")
            }
            Difference::Changed {
                case,
                expected,
                actual,
            } => write!(f, "{case}: expected {expected}, got {actual}"),
        }
    }
}

/// Every difference between expected and actual results, in case order.
pub(super) fn compare(
    expected: &BTreeMap<CaseId, CaseResult>,
    actual: &BTreeMap<CaseId, CaseResult>,
) -> Vec<Difference> {
    let mut differences = Vec::new();
    for (case, want) in expected {
        match actual.get(case) {
            None => differences.push(Difference::Missing(case.clone(), want.clone())),
            Some(got) if got != want => differences.push(Difference::Changed {
                case: case.clone(),
                expected: want.clone(),
                actual: got.clone(),
            }),
            Some(_) => {}
        }
    }
    for (case, got) in actual {
        if !expected.contains_key(case) {
            differences.push(Difference::Unexpected(case.clone(), got.clone()));
        }
    }
    differences.sort_by(|a, b| a.sort_key().cmp(b.sort_key()));
    differences
}

impl Difference {
    pub(super) fn sort_key(&self) -> &CaseId {
        match self {
            Difference::Missing(case, _)
            | Difference::Unexpected(case, _)
            | Difference::Changed { case, .. } => case,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(behavior: &str, close: &str, code: Option<u16>) -> CaseResult {
        CaseResult {
            behavior: behavior.into(),
            behavior_close: close.into(),
            remote_close_code: code,
        }
    }

    fn id(text: &str) -> CaseId {
        text.parse().unwrap()
    }

    #[test]
    fn case_ids_sort_numerically_and_print_back() {
        let mut ids = [id("1.1.10"), id("10.1.1"), id("1.1.2"), id("9.1.1")];
        ids.sort();
        let printed: Vec<String> = ids.iter().map(ToString::to_string).collect();
        assert_eq!(printed, ["1.1.2", "1.1.10", "9.1.1", "10.1.1"]);
    }

    #[test]
    fn case_id_rejects_text_that_is_not_dotted_numbers() {
        assert!("6.4.x".parse::<CaseId>().is_err());
        assert!("".parse::<CaseId>().is_err());
    }

    #[test]
    fn index_keeps_behaviours_and_close_code_and_drops_durations() {
        let text = r#"{"srv": {
            "1.1.1": {"behavior": "OK", "behaviorClose": "OK", "duration": 2,
                      "remoteCloseCode": 1000, "reportfile": "srv_case_1_1_1.json"},
            "6.4.1": {"behavior": "NON-STRICT", "behaviorClose": "OK", "duration": 1005,
                      "remoteCloseCode": null, "reportfile": "srv_case_6_4_1.json"}}}"#;
        let index = Index::parse(text).unwrap();
        let results = index.results_of("srv").unwrap();
        assert_eq!(results[&id("1.1.1")], result("OK", "OK", Some(1000)));
        assert_eq!(results[&id("6.4.1")], result("NON-STRICT", "OK", None));
        assert!(index.results_of("other").is_err());
    }

    #[test]
    fn expected_file_round_trips_one_case_per_line_in_case_order() {
        let mut results = BTreeMap::new();
        results.insert(id("1.1.10"), result("OK", "OK", Some(1000)));
        results.insert(id("1.1.2"), result("INFORMATIONAL", "INFORMATIONAL", None));
        let text = render_expected(&results);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4);
        assert!(lines[1].starts_with("  \"1.1.2\": "));
        assert!(lines[2].starts_with("  \"1.1.10\": "));
        assert_eq!(parse_expected(&text).unwrap(), results);
    }

    #[test]
    fn compare_reports_changed_missing_and_unexpected_cases() {
        let mut expected = BTreeMap::new();
        expected.insert(id("1.1.1"), result("OK", "OK", Some(1000)));
        expected.insert(id("2.1"), result("OK", "OK", Some(1000)));
        expected.insert(id("3.1"), result("OK", "OK", Some(1002)));
        let mut actual = BTreeMap::new();
        actual.insert(id("1.1.1"), result("OK", "OK", Some(1000)));
        actual.insert(id("3.1"), result("FAILED", "UNCLEAN", None));
        actual.insert(id("4.1.1"), result("OK", "OK", Some(1002)));
        let differences = compare(&expected, &actual);
        assert_eq!(differences.len(), 3);
        assert!(matches!(&differences[0], Difference::Missing(case, _) if *case == id("2.1")));
        assert!(
            matches!(&differences[1], Difference::Changed { case, actual, .. }
                if *case == id("3.1") && actual.behavior == "FAILED")
        );
        assert!(matches!(&differences[2], Difference::Unexpected(case, _) if *case == id("4.1.1")));
        assert!(compare(&expected, &expected).is_empty());
    }

    #[test]
    fn summary_counts_most_frequent_first() {
        let mut results = BTreeMap::new();
        results.insert(id("1.1.1"), result("OK", "OK", Some(1000)));
        results.insert(id("1.1.2"), result("OK", "OK", Some(1000)));
        results.insert(id("6.4.1"), result("NON-STRICT", "OK", None));
        assert_eq!(count_by(&results, |r| &r.behavior), "2 OK, 1 NON-STRICT");
    }
}

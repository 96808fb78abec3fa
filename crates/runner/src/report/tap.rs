//! The TAP report: Test Anything Protocol, version 14.
//!
//! TAP is the smallest format a harness can read line by line (`prove`,
//! `tappy`, `node --test` reporters, many CI plugins). One test point per
//! scenario, in run order, with a comment naming each chapter:
//!
//! ```text
//! TAP version 14
//! 1..3
//! # 03-lengths
//! ok 1 - lengths.7bit-125: A 125-byte text message uses the 7-bit length
//! not ok 2 - lengths.16bit-126: A 126-byte text message uses the 16-bit length form
//!   ---
//!   outcome: fail
//!   message: expected …
//!   expected: a text message of 126 bytes
//!   actual: a frame whose length uses a longer form than needed
//!   transcript: |-
//!     → 81 fe 007e …
//!   ...
//! ok 3 - lengths.huge: … # SKIP does not apply to the chat profile
//! ```
//!
//! Every `not ok` (and every `non-strict` pass) is followed by a YAML
//! diagnostic block. The block is written by the YAML serializer, never by
//! hand, so a transcript full of control bytes or YAML syntax from a hostile
//! server still parses as the string it is.

use std::fmt::Write;

use serde::Serialize;

use super::Summary;
use super::detail::{plain_transcript, rfc_link};
use crate::report::run::RunReport;
use crate::verdict::{Note, Outcome, ScenarioResult};

/// The diagnostic block of one test point.
#[derive(Serialize)]
struct Diagnostic<'a> {
    outcome: &'static str,
    id: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    step: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expected: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    actual: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rule: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rfc: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    strength: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    notes: Vec<TapNote<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    transcript: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hint: Option<&'a str>,
    points: u32,
    max_points: u32,
}

/// A `should` or `may` not met: as in the JSON report, `step` is 1-based.
#[derive(Serialize)]
struct TapNote<'a> {
    strength: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    step: Option<usize>,
    client: &'a str,
    expected: &'a str,
    actual: &'a str,
    reason: &'a str,
}

impl<'a> TapNote<'a> {
    fn of(note: &'a Note) -> TapNote<'a> {
        TapNote {
            strength: note.strength.word(),
            step: note.step.map(|s| s + 1),
            client: &note.client,
            expected: &note.expected,
            actual: &note.actual,
            reason: note.reason.trim(),
        }
    }
}

/// A test point's description must stay on one line, and `#` starts a
/// directive, so both are escaped as TAP 14 says (`\#`, `\\`).
fn description(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '#' => out.push_str("\\#"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

fn diagnostic(r: &ScenarioResult) -> String {
    let failure = r.failure.as_ref();
    let doc = Diagnostic {
        outcome: r.outcome.word(),
        id: &r.id,
        message: &r.message,
        step: failure.and_then(|f| f.step).map(|s| s + 1),
        expected: failure.map(|f| f.expected.as_str()),
        actual: failure.map(|f| f.actual.as_str()),
        rule: failure
            .and_then(|f| f.rule.as_deref())
            .or(r.requirement.as_deref())
            .map(str::trim),
        rfc: r.rfc.as_deref().map(rfc_link),
        strength: failure.map(|f| f.strength.word()),
        notes: r.notes.iter().map(TapNote::of).collect(),
        transcript: (r.outcome == Outcome::Fail && !r.transcript.lines.is_empty())
            .then(|| plain_transcript(r)),
        hint: r.hint.as_deref().map(str::trim),
        points: r.points,
        max_points: r.max_points,
    };
    let yaml = serde_yaml::to_string(&doc)
        .unwrap_or_else(|e| format!("message: \"the diagnostic could not be written: {e:?}\"\n"));
    let mut out = String::from("  ---\n");
    for line in yaml.lines() {
        let _ = writeln!(out, "  {line}");
    }
    out.push_str("  ...\n");
    out
}

/// Renders the report as TAP version 14.
pub fn render(report: &RunReport) -> String {
    let mut out = String::from("TAP version 14\n");
    let _ = writeln!(out, "1..{}", report.results.len());
    let _ = writeln!(
        out,
        "# wsconform → {} (profile {})",
        description(&report.target),
        report.profile
    );
    if let Some(cause) = &report.cause {
        let _ = writeln!(out, "# {}", description(&cause.message));
    }
    for shortcut in &report.shortcuts {
        let _ = writeln!(out, "# {}", description(shortcut));
    }
    let mut chapter = "";
    for (index, r) in report.results.iter().enumerate() {
        if r.chapter != chapter {
            chapter = &r.chapter;
            let _ = writeln!(out, "# {}", description(chapter));
        }
        let number = index + 1;
        let name = description(&format!("{}: {}", r.id, r.title));
        match r.outcome {
            Outcome::Pass if r.notes.is_empty() => {
                let _ = writeln!(out, "ok {number} - {name}");
            }
            Outcome::Pass | Outcome::NonStrict => {
                let _ = writeln!(out, "ok {number} - {name}");
                out.push_str(&diagnostic(r));
            }
            Outcome::Skip => {
                let _ = writeln!(
                    out,
                    "ok {number} - {name} # SKIP {}",
                    description(&r.message)
                );
            }
            Outcome::Fail | Outcome::Error => {
                let _ = writeln!(out, "not ok {number} - {name}");
                out.push_str(&diagnostic(r));
            }
        }
    }
    let s = Summary::of(report);
    let _ = writeln!(
        out,
        "# {} passed, {} failed, {} non-strict, {} skipped, {} — {}/{} points",
        s.passed,
        s.failed,
        s.non_strict,
        s.skipped,
        crate::wording::count(s.errors as u64, "error"),
        s.points,
        s.max_points
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_escape_directives_and_stay_on_one_line() {
        assert_eq!(description("a # b \\ c\nd"), "a \\# b \\\\ c d");
    }
}

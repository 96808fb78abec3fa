//! The Gradescope report: an autograder's `results.json`.
//!
//! Gradescope runs `/autograder/run_autograder` and reads
//! `/autograder/results/results.json`. Every scenario that applies becomes one
//! Gradescope test, named by its stable id so a student can rerun exactly
//! that scenario at home (`wsconform run ID --target …`). Points come from
//! the scenarios; a failure's `output` carries the whole story the terminal
//! would show (rule, `Expected:` / `Actual:`, transcript, hint).
//!
//! ```json
//! {
//!   "score": 19,
//!   "execution_time": 4,
//!   "output": "wsconform: 18 of 20 scenarios passed, 19/20 points …",
//!   "output_format": "text",
//!   "visibility": "visible",
//!   "stdout_visibility": "hidden",
//!   "tests": [
//!     { "name": "lengths.16bit-126: A 126-byte text message …",
//!       "number": "3.2", "score": 0, "max_score": 1, "status": "failed",
//!       "output": "expected …\nTranscript:\n  → 81 fe 007e …",
//!       "output_format": "text", "tags": ["framing", "length"],
//!       "visibility": "visible" }
//!   ]
//! }
//! ```
//!
//! Skipped scenarios (the profile does not apply) are left out, so they
//! neither earn nor cost points. `number` is `CHAPTER.N` (chapter folder
//! number, then position in the chapter), which Gradescope sorts by.

use serde::Serialize;

use super::Summary;
use super::detail::{by_chapter, chapter_number, plain_detail};
use crate::report::run::RunReport;
use crate::verdict::Outcome;

#[derive(Serialize)]
struct Results {
    score: u32,
    execution_time: u64,
    output: String,
    output_format: &'static str,
    visibility: &'static str,
    stdout_visibility: &'static str,
    tests: Vec<Test>,
}

#[derive(Serialize)]
struct Test {
    name: String,
    number: String,
    score: u32,
    max_score: u32,
    status: &'static str,
    output: String,
    output_format: &'static str,
    tags: Vec<String>,
    visibility: &'static str,
}

/// The top-level `output`: counts, points, and the shared cause when one
/// stopped the run (an unreachable server is the most common reason for a
/// zero, and the student must see it first).
fn overview(report: &RunReport) -> String {
    let s = Summary::of(report);
    let graded = s.total - s.skipped;
    let ok = s.passed + s.non_strict;
    let mut text = format!(
        "wsconform: {ok} of {graded} scenarios passed, {}/{} points ({} failed, {} non-strict, {} could not run) against {} (profile {}).",
        s.points, s.max_points, s.failed, s.non_strict, s.errors, report.target, report.profile
    );
    text.push(' ');
    text.push_str(&report.non_strict_points.sentence());
    for shortcut in &report.shortcuts {
        text.push_str("\n\n");
        text.push_str(shortcut);
    }
    if let Some(cause) = &report.cause {
        text.push_str(&format!(
            "\n\nEvery scenario below depends on this: {}",
            cause.message
        ));
        if let Some(f) = &cause.preflight.failure {
            text.push_str(&format!(
                "\nExpected: {}\nActual:   {}",
                f.expected, f.actual
            ));
        }
    }
    text
}

/// Renders the report as Gradescope's `results.json`.
pub fn render(report: &RunReport) -> String {
    let mut tests = Vec::new();
    for (position, (chapter, results)) in by_chapter(&report.results).into_iter().enumerate() {
        let number = chapter_number(chapter, position + 1);
        for (index, r) in results.into_iter().enumerate() {
            if r.outcome == Outcome::Skip {
                continue;
            }
            tests.push(Test {
                name: format!("{}: {}", r.id, r.title),
                number: format!("{number}.{}", index + 1),
                score: r.points,
                max_score: r.max_points,
                status: if r.outcome.is_ok() {
                    "passed"
                } else {
                    "failed"
                },
                output: plain_detail(r),
                output_format: "text",
                tags: r.tags.clone(),
                visibility: "visible",
            });
        }
    }
    let results = Results {
        score: Summary::of(report).points,
        execution_time: report.duration.as_secs(),
        output: overview(report),
        output_format: "text",
        visibility: "visible",
        stdout_visibility: "hidden",
        tests,
    };
    let mut text = serde_json::to_string_pretty(&results).unwrap_or_else(|e| {
        let why = serde_json::Value::String(format!("wsconform could not write the results: {e}"));
        format!("{{\"score\": 0, \"output\": {why}, \"tests\": []}}")
    });
    text.push('\n');
    text
}

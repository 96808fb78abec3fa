//! The JSON report: a stable schema for graders and CI.
//!
//! The schema is versioned by its `schema` field (`wsconform-report/1`).
//! Fields are only ever added within a version, never renamed or removed:
//!
//! ```json
//! {
//!   "schema": "wsconform-report/1",
//!   "target": "ws://127.0.0.1:9001/echo",
//!   "profile": "echo",
//!   "duration_ms": 812,
//!   "cause": null,
//!   "summary": { "total": 20, "passed": 18, "failed": 1, "non_strict": 1,
//!                "skipped": 0, "errors": 0, "points": 19, "max_points": 20 },
//!   "results": [
//!     { "id": "lengths.16bit-126", "title": "…", "chapter": "03-lengths",
//!       "tags": ["framing"], "outcome": "fail", "points": 0, "max_points": 1,
//!       "duration_ms": 3, "message": "expected …; got …", "rfc": "5.2",
//!       "autobahn": "1.1.4", "twin": "none",
//!       "failure": { "step": 1, "client": "client", "expected": "…",
//!                    "actual": "…", "rule": null, "prerequisite": false } }
//!   ]
//! }
//! ```
//!
//! `outcome` is one of `pass`, `fail`, `non-strict`, `skip`, `error`;
//! `twin` is `none`, `passed` or `failed`: for a scenario that expects a
//! refusal, whether the server handled its valid twin (a refusal counts
//! only then);
//! `failure` is `null` unless the outcome is `fail`; `step` is 1-based (as in
//! the YAML file) or `null` for the implicit handshake.

use serde::Serialize;

use super::Summary;
use crate::report::run::RunReport;
use crate::verdict::{Outcome, Twin};

/// The schema name and version.
pub const SCHEMA: &str = "wsconform-report/1";

#[derive(Serialize)]
struct JsonReport<'a> {
    schema: &'static str,
    target: &'a str,
    profile: &'a str,
    duration_ms: u64,
    cause: Option<&'a str>,
    summary: Summary,
    results: Vec<JsonResult<'a>>,
}

#[derive(Serialize)]
struct JsonResult<'a> {
    id: &'a str,
    title: &'a str,
    chapter: &'a str,
    tags: &'a [String],
    outcome: Outcome,
    points: u32,
    max_points: u32,
    duration_ms: u64,
    message: &'a str,
    rfc: Option<&'a str>,
    autobahn: Option<&'a str>,
    twin: Twin,
    failure: Option<JsonFailure<'a>>,
}

#[derive(Serialize)]
struct JsonFailure<'a> {
    step: Option<usize>,
    client: &'a str,
    expected: &'a str,
    actual: &'a str,
    rule: Option<&'a str>,
    prerequisite: bool,
}

/// Renders the report as pretty-printed JSON.
pub fn render(report: &RunReport) -> String {
    let doc = JsonReport {
        schema: SCHEMA,
        target: &report.target,
        profile: &report.profile,
        duration_ms: report.duration.as_millis() as u64,
        cause: report.cause.as_ref().map(|c| c.message.as_str()),
        summary: Summary::of(report),
        results: report
            .results
            .iter()
            .map(|r| JsonResult {
                id: &r.id,
                title: &r.title,
                chapter: &r.chapter,
                tags: &r.tags,
                outcome: r.outcome,
                points: r.points,
                max_points: r.max_points,
                duration_ms: r.duration.as_millis() as u64,
                message: &r.message,
                rfc: r.rfc.as_deref(),
                autobahn: r.autobahn.as_deref(),
                twin: r.twin,
                failure: r.failure.as_ref().map(|f| JsonFailure {
                    step: f.step.map(|s| s + 1),
                    client: &f.client,
                    expected: &f.expected,
                    actual: &f.actual,
                    rule: f.rule.as_deref(),
                    prerequisite: f.prerequisite,
                }),
            })
            .collect(),
    };
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_else(|e| {
        format!("{{\"schema\": \"{SCHEMA}\", \"error\": \"cannot serialize the report: {e}\"}}")
    });
    text.push('\n');
    text
}

//! The JSON report: a stable schema for graders and CI.
//!
//! The schema is versioned by its `schema` field (`wsconform-report/1`).
//! Fields are only ever added within a version, never renamed or removed:
//!
//! ```json
//! {
//!   "schema": "wsconform-report/1",
//!   "wsconform_version": "0.1.0", "suite_version": "1.0.0",
//!   "target": "ws://127.0.0.1:9001/echo",
//!   "profile": "echo",
//!   "duration_ms": 812,
//!   "cause": null,
//!   "non_strict_points": "full",
//!   "shortcuts": [],
//!   "summary": { "total": 20, "passed": 18, "failed": 1, "non_strict": 1,
//!                "skipped": 0, "errors": 0, "points": 19, "max_points": 20 },
//!   "results": [
//!     { "id": "lengths.16bit-126", "title": "…", "chapter": "03-lengths",
//!       "tags": ["framing"], "outcome": "fail", "points": 0, "max_points": 1,
//!       "duration_ms": 3, "message": "expected …; got …", "rfc": "5.2",
//!       "autobahn": "1.1.4", "twin": "none",
//!       "hint": "…",
//!       "failure": { "step": 1, "client": "client", "expected": "…",
//!                    "actual": "…", "rule": null, "prerequisite": false,
//!                    "diagnosis": ["…"], "caret": { "line": 3, "byte": 2 },
//!                    "strength": "must" },
//!       "notes": [],
//!       "transcript": [
//!         { "at_ms": 0, "client": "client", "kind": "sent",
//!           "text": "GET /echo HTTP/1.1  (158 bytes of HTTP)",
//!           "head": ["Host: …", "Upgrade: websocket", "…"] },
//!         { "at_ms": 1, "client": "client", "kind": "received",
//!           "hex": "82 7e 03 7b 2a …", "header_len": 4,
//!           "text": "FIN binary len=891 … (only 124 of 891 payload bytes present)" } ] }
//!   ]
//! }
//! ```
//!
//! `suite_version` is the version of the suite bundled with this wsconform
//! (the first heading of `scenarios/CHANGELOG.md`), for a CI that pins it.
//! `outcome` is one of `pass`, `fail`, `non-strict`, `skip`, `error`;
//! `twin` is `none`, `passed` or `failed`: for a scenario that expects a
//! refusal, whether the server handled its valid twin (a refusal counts
//! only then);
//! `failure` is `null` unless the outcome is `fail`; `step` is 1-based (as in
//! the YAML file) or `null` for the implicit handshake. `diagnosis` holds
//! the known bugs recognised in the run ([`crate::diagnose`]); `caret`
//! points into `transcript` (the annotated lines, handshake heads whole),
//! which is present for results that did not pass.
//! `non_strict_points` is the grader's policy for a non-strict result
//! (`full`, `half` or `zero`: what its `points` are). `notes` lists the
//! `should` and `may` expectations that were not met (each with `strength`,
//! `step`, `client`, `expected`, `actual` and the `reason` it is not a
//! MUST): a `non-strict` result has at least one `should` note.
//! `shortcuts` lists, one sentence each, what the run did to finish sooner
//! that a reader should know (the waits cut for a server that answers
//! nothing after its handshake, [`crate::silence`]).

use serde::Serialize;

use super::Summary;
use crate::hex::to_hex;
use crate::report::run::RunReport;
use crate::transcript::LineKind;
use crate::verdict::{Caret, NonStrictPoints, Outcome, Strength, Twin};

/// The schema name and version.
pub const SCHEMA: &str = "wsconform-report/1";

#[derive(Serialize)]
struct JsonReport<'a> {
    schema: &'static str,
    wsconform_version: &'static str,
    suite_version: String,
    target: &'a str,
    profile: &'a str,
    duration_ms: u64,
    cause: Option<&'a str>,
    non_strict_points: NonStrictPoints,
    shortcuts: &'a [String],
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
    #[serde(skip_serializing_if = "Option::is_none")]
    hint: Option<&'a str>,
    twin: Twin,
    failure: Option<JsonFailure<'a>>,
    notes: Vec<JsonNote<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    transcript: Vec<JsonLine<'a>>,
}

/// A `should` or `may` expectation that was not met, and why it is not a MUST.
#[derive(Serialize)]
struct JsonNote<'a> {
    strength: Strength,
    step: Option<usize>,
    client: &'a str,
    expected: &'a str,
    actual: &'a str,
    reason: &'a str,
}

#[derive(Serialize)]
struct JsonLine<'a> {
    at_ms: u64,
    client: &'a str,
    kind: LineKind,
    #[serde(skip_serializing_if = "String::is_empty")]
    hex: String,
    #[serde(skip_serializing_if = "is_zero")]
    header_len: usize,
    text: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    head: &'a [String],
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

#[derive(Serialize)]
struct JsonFailure<'a> {
    step: Option<usize>,
    client: &'a str,
    expected: &'a str,
    actual: &'a str,
    rule: Option<&'a str>,
    prerequisite: bool,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    diagnosis: &'a [String],
    caret: Option<Caret>,
    strength: Strength,
}

/// Renders the report as pretty-printed JSON.
pub fn render(report: &RunReport) -> String {
    let doc = JsonReport {
        schema: SCHEMA,
        wsconform_version: env!("CARGO_PKG_VERSION"),
        suite_version: crate::load::suite_version(),
        target: &report.target,
        profile: &report.profile,
        duration_ms: report.duration.as_millis() as u64,
        cause: report.cause.as_ref().map(|c| c.message.as_str()),
        non_strict_points: report.non_strict_points,
        shortcuts: &report.shortcuts,
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
                hint: r.hint.as_deref().filter(|_| r.outcome != Outcome::Pass),
                transcript: if r.outcome == Outcome::Pass {
                    Vec::new()
                } else {
                    r.transcript
                        .lines
                        .iter()
                        .map(|l| JsonLine {
                            at_ms: l.at.as_millis() as u64,
                            client: &l.client,
                            kind: l.kind,
                            hex: to_hex(&l.bytes),
                            header_len: l.header_len,
                            text: &l.text,
                            head: &l.head,
                        })
                        .collect()
                },
                twin: r.twin,
                failure: r.failure.as_ref().map(|f| JsonFailure {
                    step: f.step.map(|s| s + 1),
                    client: &f.client,
                    expected: &f.expected,
                    actual: &f.actual,
                    rule: f.rule.as_deref(),
                    prerequisite: f.prerequisite,
                    diagnosis: &r.diagnosis,
                    caret: f.caret,
                    strength: f.strength,
                }),
                notes: r
                    .notes
                    .iter()
                    .map(|n| JsonNote {
                        strength: n.strength,
                        step: n.step.map(|s| s + 1),
                        client: &n.client,
                        expected: &n.expected,
                        actual: &n.actual,
                        reason: &n.reason,
                    })
                    .collect(),
            })
            .collect(),
    };
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_else(|e| {
        format!("{{\"schema\": \"{SCHEMA}\", \"error\": \"cannot serialize the report: {e}\"}}")
    });
    text.push('\n');
    text
}

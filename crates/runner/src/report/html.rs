//! The HTML report: one page a person can read, on a laptop or a phone.
//!
//! The page is self-contained — styles inline, no fonts, scripts or images
//! from anywhere — so it can be mailed, attached to a CI run or opened from
//! a grader's download folder offline. It has three parts:
//!
//! 1. a summary: target, profile, counts and points, and the shared cause
//!    when something stopped the whole run;
//! 2. a grid of chapters × scenarios, one coloured cell per scenario (like
//!    Autobahn's matrix, but with a mark in each cell, not only a colour, and
//!    the id on hover), each cell a link to its detail;
//! 3. one expandable `<details>` per scenario with the verdict, the RFC rule
//!    and link, `Expected:` / `Actual:`, the annotated transcript and the
//!    hint. Failures start open.
//!
//! The page is built with `maud`, so nothing reaches it unescaped by
//! accident, and everything that came from a scenario file or from the
//! server under test goes through [`escape`]: transcripts hold whatever bytes a hostile server sent, and a
//! report must never run them. Control characters are shown as `\xNN`.

use std::fmt::Write;

use maud::{Markup, PreEscaped, Render, html};

use super::Summary;
use super::detail::{by_chapter, plain_transcript, rfc_link};
use super::human::mark;
use crate::report::run::{Cause, RunReport};
use crate::verdict::{Outcome, ScenarioResult, Strength, Twin};

/// The label of a note's row: its strength.
fn note_label(strength: Strength) -> &'static str {
    match strength {
        Strength::Should => "Non-strict (should)",
        Strength::May | Strength::Must => "Note (may)",
    }
}

/// Escapes text for HTML element content and quoted attribute values, and
/// makes control characters visible (they are invisible, or parse errors).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' | '\t' => out.push(c),
            c if c.is_control() => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// An element id for a scenario: `s-` and the id with anything outside
/// `[A-Za-z0-9._-]` replaced, so it is safe in `id=""` and in `href="#…"`.
pub fn anchor(id: &str) -> String {
    let safe: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("s-{safe}")
}

fn class(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Pass => "pass",
        Outcome::Fail => "fail",
        Outcome::NonStrict => "nonstrict",
        Outcome::Skip => "skip",
        Outcome::Error => "error",
    }
}

const STYLE: &str = r#"
:root { --pass:#1b7f3b; --pass-bg:#d5f0dc; --fail:#b3261e; --fail-bg:#fbd9d5;
  --nonstrict:#8a5a00; --nonstrict-bg:#ffecb3; --skip:#5f6368; --skip-bg:#e8eaed;
  --error:#6a1b9a; --error-bg:#ead7f5; }
* { box-sizing: border-box; }
body { font: 16px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto;
  max-width: 64rem; padding: 1rem; color: #202124; background: #fff; }
h1 { font-size: 1.4rem; margin: 0 0 .25rem; }
h2 { font-size: 1.15rem; margin: 1.5rem 0 .5rem; }
code, pre { font: 13px/1.4 ui-monospace, "DejaVu Sans Mono", Menlo, monospace; }
.meta { color: #5f6368; margin: 0 0 1rem; overflow-wrap: anywhere; }
.summary { display: flex; flex-wrap: wrap; gap: .5rem; margin: 0 0 1rem; padding: 0; list-style: none; }
.summary li { padding: .35rem .7rem; border-radius: .4rem; background: #f1f3f4; }
.summary .points { font-weight: 700; }
.cause { border-left: 4px solid var(--fail); background: var(--fail-bg); padding: .5rem .75rem; }
.grid { display: grid; grid-template-columns: minmax(7rem, max-content) 1fr; gap: .35rem .75rem; align-items: start; }
.grid .chapter { font-weight: 600; padding-top: .2rem; overflow-wrap: anywhere; }
.cells { display: flex; flex-wrap: wrap; gap: 3px; }
.cell { display: inline-flex; width: 1.9rem; height: 1.9rem; align-items: center; justify-content: center;
  border-radius: .3rem; text-decoration: none; font-weight: 700; }
.cell:focus, .cell:hover { outline: 2px solid #202124; }
.pass { color: var(--pass); background: var(--pass-bg); }
.fail { color: var(--fail); background: var(--fail-bg); }
.nonstrict { color: var(--nonstrict); background: var(--nonstrict-bg); }
.skip { color: var(--skip); background: var(--skip-bg); }
.error { color: var(--error); background: var(--error-bg); }
.legend { display: flex; flex-wrap: wrap; gap: .75rem; margin: .75rem 0; font-size: .9rem; }
.legend span.cell { width: 1.4rem; height: 1.4rem; margin-right: .3rem; }
details { border: 1px solid #dadce0; border-radius: .4rem; margin: .35rem 0; }
details > summary { cursor: pointer; padding: .45rem .6rem; display: flex; flex-wrap: wrap; gap: .25rem .5rem; align-items: baseline; }
details > summary .cell { width: 1.5rem; height: 1.5rem; flex: none; }
details > summary .id { min-width: 0; font-family: ui-monospace, "DejaVu Sans Mono", Menlo, monospace; font-size: .85rem; overflow-wrap: anywhere; }
details > summary .title { flex: 1 1 12rem; min-width: 0; }
details > summary .pts { color: #5f6368; white-space: nowrap; }
details:target { outline: 2px solid #1a73e8; }
.body { padding: 0 .75rem .75rem; overflow-wrap: anywhere; }
.body dl { display: grid; grid-template-columns: max-content 1fr; gap: .2rem .75rem; margin: .5rem 0; }
.body dt { font-weight: 600; }
.body dd { margin: 0; }
.rule { border-left: 3px solid #dadce0; margin: .5rem 0; padding-left: .6rem; color: #3c4043; white-space: pre-wrap; }
pre.transcript { background: #f8f9fa; border: 1px solid #e8eaed; border-radius: .3rem; padding: .5rem;
  overflow-x: auto; margin: .5rem 0; }
pre.transcript .sent { color: #174ea6; }
pre.transcript .received { color: #0d652d; }
pre.transcript .caret { color: var(--fail); font-weight: 700; }
.hint { background: #e8f0fe; border-radius: .3rem; padding: .5rem .7rem; }
@media (max-width: 40rem) {
  body { padding: .6rem; }
  .grid { grid-template-columns: 1fr; }
  .grid .chapter { padding-top: .5rem; }
  .cell { width: 2.2rem; height: 2.2rem; }
}
"#;

/// Opens the `<details>` a grid link points at (a link to a closed details
/// element scrolls to it but leaves it shut). Inline, so the page needs
/// nothing from the network; the report works without it too.
const SCRIPT: &str = r#"
function openTarget() {
  var id = decodeURIComponent(location.hash.slice(1));
  var el = id && document.getElementById(id);
  if (el && el.tagName === 'DETAILS') { el.open = true; }
}
window.addEventListener('hashchange', openTarget);
openTarget();
"#;

/// Text from a scenario file or from the server under test. Every such
/// string is interpolated through this type, whose rendering is [`escape`]:
/// maud's own escaping leaves `'` and control characters as they are.
struct Text<'a>(&'a str);

impl Render for Text<'_> {
    fn render_to(&self, out: &mut String) {
        out.push_str(&escape(self.0));
    }
}

/// A line break between elements: the page keeps one element per line, so
/// that it reads (and diffs) line by line.
const NL: &str = "\n";

fn transcript_html(r: &ScenarioResult) -> Markup {
    let plain = plain_transcript(r);
    html! {
        pre class="transcript" {
            @for line in plain.lines() {
                @let trimmed = line.trim_start();
                @if trimmed.starts_with('→') {
                    span class="sent" { (Text(line)) } (NL)
                } @else if trimmed.starts_with('←') {
                    span class="received" { (Text(line)) } (NL)
                } @else if !trimmed.is_empty() && trimmed.chars().all(|c| c == '^') {
                    span class="caret" { (Text(line)) } (NL)
                } @else {
                    (Text(line)) (NL)
                }
            }
        }
    }
}

fn scenario_detail(r: &ScenarioResult) -> Markup {
    let word = r.outcome.word();
    let failure = r.failure.as_ref();
    let rule = failure
        .and_then(|f| f.rule.as_deref())
        .or(r.requirement.as_deref());
    html! {
        details id=(anchor(&r.id)) class="scenario" data-id=(Text(&r.id)) data-outcome=(word)
            open[matches!(r.outcome, Outcome::Fail | Outcome::Error)] {
            (NL)
            summary {
                span class={ "cell " (class(r.outcome)) } aria-label=(word) { (mark(r.outcome)) }
                span class="id" { (Text(&r.id)) }
                span class="title" { (Text(&r.title)) }
                span class="pts" { (r.points) "/" (r.max_points) " pt" }
            }
            (NL)
            div class="body" {
                (NL)
                dl {
                    (NL)
                    dt { "Outcome" } dd { (word) } (NL)
                    // A failure's message is "expected X; got Y", said better by
                    // the Expected and Actual rows below; other outcomes need it.
                    @if !r.message.is_empty() && r.failure.is_none() {
                        dt { "Verdict" } dd { (Text(&r.message)) } (NL)
                    }
                    @if let Some(section) = &r.rfc {
                        dt { "RFC 6455" }
                        dd { a href=(Text(&rfc_link(section))) { "§" (Text(section)) } }
                        (NL)
                    }
                    @if let Some(case) = &r.autobahn {
                        dt { "Autobahn" } dd { "case " (Text(case)) } (NL)
                    }
                    @if !r.tags.is_empty() {
                        dt { "Tags" } dd { (Text(&r.tags.join(", "))) } (NL)
                    }
                    @if let Some(f) = failure {
                        dt { "Expected" @if let Some(step) = f.step { " (step " (step + 1) ")" } }
                        dd { (Text(&f.expected)) } (NL)
                        dt { "Actual" } dd { (Text(&f.actual)) } (NL)
                    }
                    @if let Some(f) = failure {
                        dt { "Strength" } dd { (f.strength.word()) } (NL)
                    }
                    @for note in &r.notes {
                        dt { (note_label(note.strength)) @if let Some(step) = note.step { " (step " (step + 1) ")" } }
                        dd { (Text(&note.summary())) } (NL)
                        dt { "Why not a MUST" } dd { (Text(note.reason.trim())) } (NL)
                    }
                }
                (NL)
                @if failure.is_some_and(|f| f.prerequisite) {
                    p { "The opening handshake failed, so this scenario never reached its point." }
                    (NL)
                }
                @if r.twin == Twin::Failed {
                    p class="twin" {
                        "The refusal was not counted: " (Twin::FAILED_NOTE)
                        " (the same steps with a valid frame, on their own connection, as client "
                        code { "twin" } ")."
                    }
                    (NL)
                }
                @if let Some(rule) = rule {
                    p class="rule" { (Text(rule.trim())) } (NL)
                }
                @if !r.transcript.lines.is_empty() {
                    (transcript_html(r)) (NL)
                }
                @if let Some(hint) = &r.hint {
                    p class="hint" { strong { "Hint:" } " " (Text(hint.trim())) } (NL)
                }
            }
            (NL)
        }
        (NL)
    }
}

/// The counts and points at the top of the page.
fn header(report: &RunReport, s: &Summary) -> Markup {
    html! {
        header {
            (NL)
            h1 { "wsconform report" } (NL)
            p class="meta" {
                "Target " code { (Text(&report.target)) }
                ", profile " code { (Text(&report.profile)) }
                ", " (s.total) " scenarios in " (format!("{:.1}", report.duration.as_secs_f64())) " s"
            }
            (NL)
            ul class="summary" id="summary" {
                (NL)
                li class="points" { (s.points) "/" (s.max_points) " points" } (NL)
                @for (count, outcome) in [
                    (s.passed, Outcome::Pass),
                    (s.failed, Outcome::Fail),
                    (s.non_strict, Outcome::NonStrict),
                    (s.skipped, Outcome::Skip),
                    (s.errors, Outcome::Error),
                ] {
                    li class=(class(outcome)) { (count) " " (outcome.word()) } (NL)
                }
            }
            (NL)
        }
        (NL)
    }
}

/// The shared cause, when something stopped the whole run.
fn cause(cause: &Cause) -> Markup {
    html! {
        div class="cause" {
            strong { "Every failing scenario depends on this:" } " " (Text(&cause.message)) (NL)
            @if let Some(f) = &cause.preflight.failure {
                br; "Expected: " (Text(&f.expected)) br; "Actual: " (Text(&f.actual)) (NL)
            }
            @if !cause.preflight.transcript.lines.is_empty() {
                (transcript_html(&cause.preflight))
            }
        }
        (NL)
    }
}

/// The chapters × scenarios grid, its legend and every scenario's detail.
fn chapters(report: &RunReport) -> Markup {
    let chapters = by_chapter(&report.results);
    let outcomes = [
        Outcome::Pass,
        Outcome::Fail,
        Outcome::NonStrict,
        Outcome::Skip,
        Outcome::Error,
    ];
    html! {
        main {
            (NL)
            h2 { "Chapters × scenarios" } (NL)
            div class="grid" id="grid" {
                (NL)
                @for (chapter, results) in &chapters {
                    div class="chapter" { (Text(chapter)) } (NL)
                    div class="cells" {
                        @for r in results {
                            a class={ "cell " (class(r.outcome)) } href={ "#" (anchor(&r.id)) }
                                title={ (Text(&r.id)) ": " (Text(&r.title)) " (" (r.outcome.word()) ")" } {
                                (mark(r.outcome))
                            }
                        }
                    }
                    (NL)
                }
            }
            (NL)
            div class="legend" {
                @for outcome in outcomes {
                    span { span class={ "cell " (class(outcome)) } { (mark(outcome)) } (outcome.word()) }
                }
            }
            (NL)
            @for (chapter, results) in &chapters {
                section {
                    (NL)
                    h2 { (Text(chapter)) } (NL)
                    @for r in results {
                        (scenario_detail(r))
                    }
                }
                (NL)
            }
        }
        (NL)
    }
}

/// Renders the report as one self-contained HTML page.
pub fn render(report: &RunReport) -> String {
    let s = Summary::of(report);
    let page = html! {
        (PreEscaped("<!doctype html>")) (NL)
        html lang="en" {
            (NL)
            head {
                (NL)
                meta charset="utf-8"; (NL)
                meta name="viewport" content="width=device-width, initial-scale=1"; (NL)
                meta http-equiv="Content-Security-Policy"
                    content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'";
                (NL)
                title { "wsconform: " (s.points) "/" (s.max_points) " points — " (Text(&report.target)) }
                (NL)
                style { (PreEscaped(STYLE)) } (NL)
            }
            (NL)
            body {
                (NL)
                (header(report, &s))
                @if let Some(c) = &report.cause {
                    (cause(c))
                }
                @for shortcut in &report.shortcuts {
                    div class="cause" { (Text(shortcut)) } (NL)
                }
                (chapters(report))
                script { (PreEscaped(SCRIPT)) } (NL)
            }
            (NL)
        }
        (NL)
    };
    page.into_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_leaves_no_markup_and_shows_control_bytes() {
        let hostile = "<script>alert('x')</script>&\"\u{1b}[31m\u{0}";
        let escaped = escape(hostile);
        assert!(!escaped.contains('<'));
        assert!(!escaped.contains('"'));
        assert!(!escaped.contains('\''));
        assert!(!escaped.contains('\u{1b}'));
        assert!(escaped.contains("\\x1b[31m\\x00"));
        assert!(escaped.starts_with("&lt;script&gt;alert(&#39;x&#39;)"));
    }

    #[test]
    fn anchors_are_safe_in_attributes_and_urls() {
        assert_eq!(anchor("lengths.16bit-126"), "s-lengths.16bit-126");
        assert_eq!(anchor("a\"b c#d"), "s-a_b_c_d");
    }
}

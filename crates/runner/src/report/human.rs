//! The human report: what a learner reads in the terminal.
//!
//! Results are grouped by chapter, one line each. Failures follow, each with
//! the RFC rule, `Expected:` / `Actual:`, the annotated transcript with a
//! caret under the first offending byte, and the scenario's hint. The output
//! of a failing run is snapshot-tested: it is part of the product.

use std::fmt::Write;

use super::Summary;
use super::annotated::Paint;
pub use super::annotated::{HumanOptions, transcript};
use super::detail::{failure_explanation, note_lines, rfc_link};
use super::groups::{FailureGroup, group};
use crate::report::run::RunReport;
use crate::verdict::{Outcome, ScenarioResult};
use crate::wording::{count, count_as};

/// The mark in front of a result line.
pub fn mark(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Pass => "✓",
        Outcome::Fail => "✗",
        Outcome::NonStrict => "~",
        Outcome::Skip => "-",
        Outcome::Error => "!",
    }
}

fn paint_mark(p: &Paint, outcome: Outcome) -> String {
    let m = mark(outcome);
    match outcome {
        Outcome::Pass => p.green(m),
        Outcome::Fail | Outcome::Error => p.red(m),
        Outcome::NonStrict => p.yellow(m),
        Outcome::Skip => p.dim(m),
    }
}

/// One result line, as printed while the run progresses.
pub fn result_line(r: &ScenarioResult, opts: HumanOptions) -> String {
    let p = Paint { on: opts.color };
    let mut line = format!("  {} {:<34} {}", paint_mark(&p, r.outcome), r.id, r.title);
    if opts.timings {
        line.push_str(&p.dim(&format!(" ({} ms)", r.duration.as_millis())));
    }
    match r.outcome {
        Outcome::Skip | Outcome::Error if !r.message.is_empty() => {
            line.push_str(&format!("\n      {}", p.dim(&r.message)));
        }
        _ => {}
    }
    // Each SHOULD missed (or MAY noted) with its reason: a non-strict
    // result says why it is not a fail.
    for note in &r.notes {
        for text in note_lines(note, "").lines() {
            line.push_str(&format!("\n      {}", p.dim(text)));
        }
    }
    line
}

fn failure_block(r: &ScenarioResult, opts: HumanOptions) -> String {
    let p = Paint { on: opts.color };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {} — {}",
        paint_mark(&p, r.outcome),
        p.bold(&r.id),
        r.title
    );
    if let Some(section) = &r.rfc {
        let name = crate::rfc_name(section);
        let _ = writeln!(out, "  {name}  {}", p.dim(&rfc_link(section)));
    }
    let Some(f) = &r.failure else {
        let _ = writeln!(out, "  {}", r.message);
        return out;
    };
    out.push_str(&failure_explanation(r, f, "  ", &p.red(&f.actual)));
    if !r.transcript.lines.is_empty() {
        let _ = writeln!(out, "  Transcript:");
        out.push_str(&transcript(&r.transcript, f.caret, opts, "    "));
    }
    if let Some(hint) = &r.hint {
        let _ = writeln!(out, "  Hint: {}", hint.trim());
    }
    out
}

/// The summary line: counts and points.
pub fn summary_line(report: &RunReport, opts: HumanOptions) -> String {
    let p = Paint { on: opts.color };
    let s = Summary::of(report);
    let counts = format!(
        "{} passed, {} failed, {} non-strict, {} skipped, {}",
        s.passed,
        s.failed,
        s.non_strict,
        s.skipped,
        count(s.errors as u64, "error")
    );
    let counts = if s.failed + s.errors > 0 {
        p.red(&counts)
    } else {
        p.green(&counts)
    };
    let mut line = format!("{counts} — {}/{} points", s.points, s.max_points);
    if opts.timings {
        line.push_str(&format!(" ({:.1} s)", report.duration.as_secs_f64()));
    }
    if s.non_strict > 0 {
        line.push('\n');
        line.push_str(&p.dim(&report.non_strict_points.sentence()));
    }
    line
}

/// How many groups the "Fix this first" list names.
pub const FIX_FIRST: usize = 3;
/// How long the report may grow with failure details (512 KiB): past it,
/// each further failure gets one line, so a server that fails everything
/// with long transcripts still gets a report a terminal can show.
pub const DETAIL_BUDGET: usize = 512 * 1024;
/// How much of a message a one-line failure shows.
const SHORT_MESSAGE: usize = 300;

/// The whole report after the run, every failure shown (grouped by cause).
pub fn render(report: &RunReport, opts: HumanOptions) -> String {
    render_limited(report, opts, None)
}

/// The first sentence of a cause, cut to one line, for a list.
fn short(text: &str) -> String {
    let sentence = text
        .split(". ")
        .next()
        .unwrap_or(text)
        .trim_end_matches('.');
    if sentence.chars().count() > 110 {
        let cut: String = sentence.chars().take(109).collect();
        format!("{cut}…")
    } else {
        sentence.to_string()
    }
}

/// The line above a group of failures with one cause.
fn group_heading(p: &Paint, group: &FailureGroup) -> String {
    let n = group.members.len();
    let others: Vec<&str> = group
        .members
        .iter()
        .skip(1)
        .take(5)
        .map(|r| r.id.as_str())
        .collect();
    let rest = n - 1 - others.len();
    let mut also = others.join(", ");
    if rest > 0 {
        also.push_str(&format!(" and {} more", rest));
    }
    format!(
        "{} fail the same way: {} — first: {}, also {also}",
        p.bold(&count(n as u64, "scenario")),
        short(&group.cause()),
        group.first().id,
    )
}

/// The whole report after the run, failures grouped by cause; with
/// `max_failures`, only that many groups are shown in full.
pub fn render_limited(
    report: &RunReport,
    opts: HumanOptions,
    max_failures: Option<usize>,
) -> String {
    let p = Paint { on: opts.color };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "wsconform → {} (profile {})",
        report.target, report.profile
    );
    if let Some(cause) = &report.cause {
        let affected = report.results.iter().filter(|r| !r.outcome.is_ok()).count();
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{} {} ({} on it)",
            p.red("!"),
            p.bold(&cause.message),
            count_as(affected as u64, "scenario depends", "scenarios depend")
        );
        if let Some(f) = &cause.preflight.failure {
            let _ = writeln!(out, "  Expected: {}", f.expected);
            let _ = writeln!(out, "  Actual:   {}", p.red(&f.actual));
        }
        for likely in &cause.preflight.diagnosis {
            let _ = writeln!(out, "  Likely cause: {likely}");
        }
        if !cause.preflight.transcript.lines.is_empty() {
            out.push_str(&transcript(&cause.preflight.transcript, None, opts, "    "));
        }
    }
    for shortcut in &report.shortcuts {
        let _ = writeln!(out);
        let _ = writeln!(out, "{} {}", p.red("!"), p.bold(shortcut));
    }
    let mut chapter = "";
    for r in &report.results {
        if r.chapter != chapter {
            chapter = &r.chapter;
            let _ = writeln!(out, "\n{}", p.bold(chapter));
        }
        let _ = writeln!(out, "{}", result_line(r, opts));
    }
    let failures: Vec<&ScenarioResult> = report
        .results
        .iter()
        .filter(|r| {
            // A failed default handshake that is the run's shared cause was
            // shown once at the top; one that happened only in this scenario
            // (a second client refused, say) is explained here like any failure.
            let shown_as_cause =
                report.cause.is_some() && r.failure.as_ref().is_some_and(|f| f.prerequisite);
            r.outcome == Outcome::Fail && !shown_as_cause
        })
        .collect();
    if !failures.is_empty() {
        let _ = writeln!(out, "\n{}\n", p.bold("Failures"));
        let mut groups = group(&failures);
        groups.sort_by_key(|g| crate::chapter::number(&g.first().chapter).unwrap_or(usize::MAX));
        let shown = max_failures.unwrap_or(usize::MAX).min(groups.len());
        let mut one_line = 0usize;
        for g in groups.iter().take(shown) {
            if out.len() >= DETAIL_BUDGET {
                one_line += 1;
                let r = g.first();
                let message: String = r.message.chars().take(SHORT_MESSAGE).collect();
                let _ = writeln!(out, "{} {} — {message}", paint_mark(&p, r.outcome), r.id);
                continue;
            }
            if g.members.len() > 1 {
                let _ = writeln!(out, "{}", group_heading(&p, g));
            }
            out.push_str(&failure_block(g.first(), opts));
            out.push('\n');
        }
        if one_line > 0 {
            let _ = writeln!(
                out,
                "\n({} shown in one line: the report reached {} KiB; run fewer scenarios for their details)\n",
                count(one_line as u64, "failure"),
                DETAIL_BUDGET / 1024
            );
        }
        if shown < groups.len() {
            let hidden: usize = groups.iter().skip(shown).map(|g| g.members.len()).sum();
            let _ = writeln!(
                out,
                "({} with {} not shown: raise --max-failures to see them)\n",
                count(hidden as u64, "failed scenario"),
                count_as((groups.len() - shown) as u64, "other cause", "other causes"),
            );
        }
        // One cause needs no list: its failure is right above.
        let fix_first = if groups.len() > 1 { FIX_FIRST } else { 0 };
        if fix_first > 0 {
            let _ = writeln!(out, "{}", p.bold("Fix this first"));
        }
        for (i, g) in groups.iter().take(fix_first).enumerate() {
            let _ = writeln!(
                out,
                "  {}. {} ({}): {} — e.g. {}",
                i + 1,
                g.first().chapter,
                count(g.members.len() as u64, "scenario"),
                short(&g.cause()),
                g.first().id
            );
        }
        if fix_first > 0 {
            out.push('\n');
        }
    } else {
        out.push('\n');
    }
    let _ = writeln!(out, "{}", summary_line(report, opts));
    out
}

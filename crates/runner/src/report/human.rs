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
use crate::report::run::RunReport;
use crate::verdict::{Outcome, ScenarioResult};

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
        "{} passed, {} failed, {} non-strict, {} skipped, {} errors",
        s.passed, s.failed, s.non_strict, s.skipped, s.errors
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

/// The whole report after the run.
pub fn render(report: &RunReport, opts: HumanOptions) -> String {
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
            "{} {} ({affected} scenarios depend on it)",
            p.red("!"),
            p.bold(&cause.message)
        );
        if let Some(f) = &cause.preflight.failure {
            let _ = writeln!(out, "  Expected: {}", f.expected);
            let _ = writeln!(out, "  Actual:   {}", p.red(&f.actual));
        }
        if !cause.preflight.transcript.lines.is_empty() {
            out.push_str(&transcript(&cause.preflight.transcript, None, opts, "    "));
        }
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
        for r in failures {
            out.push_str(&failure_block(r, opts));
            out.push('\n');
        }
    } else {
        out.push('\n');
    }
    let _ = writeln!(out, "{}", summary_line(report, opts));
    out
}

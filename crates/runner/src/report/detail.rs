//! The plain-text story of one scenario, shared by the machine reports.
//!
//! Gradescope shows it to the student, JUnit puts it in a `<failure>`, TAP
//! in its diagnostic block. Each wants the same facts a learner reads in the
//! terminal — the RFC rule, `Expected:` / `Actual:`, the annotated transcript
//! with its caret, and the hint — without colours or timings, which would
//! make a report differ from run to run for no reason.

use std::fmt::Write;

use super::annotated::{Heads, HumanOptions, transcript_with};
use crate::verdict::{Failure, Note, Outcome, ScenarioResult, Strength, Twin};

pub use crate::rfc_link;

/// A stable chapter number: `03-lengths` is 3. Chapters without a number
/// (a course's own folder) get `fallback`, their position in the run.
pub fn chapter_number(chapter: &str, fallback: usize) -> usize {
    crate::chapter::number(chapter).unwrap_or(fallback)
}

/// The chapters of a run in order of first appearance, each with its
/// results. Scenarios arrive in file order, so a chapter's results are
/// already together; grouping by first appearance keeps that order.
pub fn by_chapter(results: &[ScenarioResult]) -> Vec<(&str, Vec<&ScenarioResult>)> {
    let mut chapters: Vec<(&str, Vec<&ScenarioResult>)> = Vec::new();
    for r in results {
        match chapters.iter_mut().find(|(name, _)| *name == r.chapter) {
            Some((_, list)) => list.push(r),
            None => chapters.push((&r.chapter, vec![r])),
        }
    }
    chapters
}

/// The annotated transcript as plain text (no colours, no timings,
/// handshake heads whole).
pub fn plain_transcript(r: &ScenarioResult) -> String {
    let opts = HumanOptions {
        color: false,
        timings: false,
    };
    transcript_with(
        &r.transcript,
        r.failure.as_ref().and_then(|f| f.caret),
        opts,
        "  ",
        Heads::Whole,
    )
}

/// What a failure says, one line each with `indent` before it: that the
/// opening handshake failed first (when it did), the rule, and `Expected`
/// versus `Actual` (the actual text given as `actual`, painted or not).
/// The terminal and every plain-text report print these same lines.
pub fn failure_explanation(r: &ScenarioResult, f: &Failure, indent: &str, actual: &str) -> String {
    let mut out = String::new();
    if f.prerequisite {
        let _ = writeln!(
            out,
            "{indent}The opening handshake failed, so this scenario never reached its point."
        );
    }
    if r.twin == Twin::Failed {
        let _ = writeln!(
            out,
            "{indent}The refusal was not counted: {} (the same steps with a valid frame, \
             on their own connection, as client `twin`).",
            Twin::FAILED_NOTE
        );
    }
    if let Some(rule) = f.rule.as_ref().or(r.requirement.as_ref()) {
        let _ = writeln!(out, "{indent}{}", rule.trim());
    }
    let step = f
        .step
        .map(|s| format!(" (step {})", s + 1))
        .unwrap_or_default();
    let _ = writeln!(out, "{indent}Expected{step}: {}", f.expected);
    let _ = writeln!(out, "{indent}Actual:   {actual}");
    for cause in &r.diagnosis {
        let _ = writeln!(out, "{indent}Likely cause: {cause}");
    }
    out
}

/// A note's two lines, with `indent` before each: what was expected and
/// what came, labelled by its strength, then why it is not a MUST.
pub fn note_lines(note: &Note, indent: &str) -> String {
    let label = match note.strength {
        Strength::Should => "Non-strict (should)",
        Strength::May | Strength::Must => "Note (may)",
    };
    let step = note
        .step
        .map(|s| format!(" at step {}", s + 1))
        .unwrap_or_default();
    let mut out = format!("{indent}{label}{step}: {}\n", note.summary());
    if !note.reason.is_empty() {
        let _ = writeln!(out, "{indent}  Why not a MUST: {}", note.reason.trim());
    }
    out
}

/// Everything a grader or a student needs to understand a result that was
/// not a plain pass: what happened, the rule, expected versus actual, the
/// transcript and the hint. A pass gives an empty string.
pub fn plain_detail(r: &ScenarioResult) -> String {
    let mut out = String::new();
    if r.outcome == Outcome::Pass {
        for note in &r.notes {
            out.push_str(&note_lines(note, ""));
        }
        return out;
    }
    // A failure's one-line message is "expected X; got Y": the Expected and
    // Actual lines below say it better, so it is only printed without them.
    // A non-strict message is its notes' summaries: the notes say it with
    // their reasons.
    if !r.message.is_empty() && r.failure.is_none() && r.notes.is_empty() {
        let _ = writeln!(out, "{}", r.message);
    }
    for note in &r.notes {
        out.push_str(&note_lines(note, ""));
    }
    if let Some(section) = &r.rfc {
        let _ = writeln!(out, "{}: {}", crate::rfc_name(section), rfc_link(section));
    }
    if let Some(f) = &r.failure {
        out.push_str(&failure_explanation(r, f, "", &f.actual));
    }
    if r.outcome == Outcome::Fail && !r.transcript.lines.is_empty() {
        let _ = writeln!(out, "Transcript:");
        out.push_str(&plain_transcript(r));
    }
    if let Some(hint) = &r.hint
        && r.outcome != Outcome::Skip
    {
        let _ = writeln!(out, "Hint: {}", hint.trim());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chapter_numbers_come_from_the_folder_name() {
        assert_eq!(chapter_number("03-lengths", 9), 3);
        assert_eq!(chapter_number("11-hardening", 9), 11);
        assert_eq!(chapter_number("extra", 9), 9);
        assert_eq!(chapter_number("x-y", 4), 4);
    }
}

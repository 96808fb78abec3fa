//! Reports: the same [`RunReport`] (in [`run`]) rendered for people or for machines.
//!
//! Each format is one module with one `render` function from the report to
//! text: [`human`] for the terminal, [`json`], [`gradescope`], [`junit`],
//! [`tap`] and [`html`] for `--report FORMAT=FILE`. Adding a format means
//! adding a module and a [`ReportFormat`] variant, nothing else.

mod annotated;
pub mod detail;
pub mod gradescope;
pub mod groups;
pub mod html;
pub mod human;
pub mod json;
pub mod junit;
pub mod run;
pub mod tap;

use serde::Serialize;

use crate::verdict::Outcome;
pub use run::{Cause, RunReport};

/// Counts over a run, shared by every format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Scenarios selected.
    pub total: usize,
    /// Passed.
    pub passed: usize,
    /// Failed.
    pub failed: usize,
    /// Passed in a non-strict way.
    pub non_strict: usize,
    /// Skipped (profile does not apply).
    pub skipped: usize,
    /// Could not run.
    pub errors: usize,
    /// Points earned.
    pub points: u32,
    /// Points available (skipped scenarios excluded).
    pub max_points: u32,
}

impl Summary {
    /// Counts the results of `report`.
    pub fn of(report: &RunReport) -> Summary {
        let mut s = Summary {
            total: report.results.len(),
            ..Summary::default()
        };
        for r in &report.results {
            match r.outcome {
                Outcome::Pass => s.passed += 1,
                Outcome::Fail => s.failed += 1,
                Outcome::NonStrict => s.non_strict += 1,
                Outcome::Skip => s.skipped += 1,
                Outcome::Error => s.errors += 1,
            }
            s.points += r.points;
            if r.outcome != Outcome::Skip {
                s.max_points += r.max_points;
            }
        }
        s
    }
}

/// A machine-readable report format (`--report FORMAT=FILE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    /// The stable JSON schema of [`json`].
    Json,
    /// Gradescope's autograder `results.json` ([`gradescope`]).
    Gradescope,
    /// JUnit XML for CI test reports ([`junit`]).
    Junit,
    /// TAP version 14 ([`tap`]).
    Tap,
    /// One self-contained HTML page ([`html`]).
    Html,
}

impl ReportFormat {
    /// Parses a format name.
    pub fn parse(name: &str) -> Result<ReportFormat, String> {
        match name {
            "json" => Ok(ReportFormat::Json),
            "gradescope" => Ok(ReportFormat::Gradescope),
            "junit" => Ok(ReportFormat::Junit),
            "tap" => Ok(ReportFormat::Tap),
            "html" => Ok(ReportFormat::Html),
            other => Err(format!(
                "unknown report format '{other}': available: json, gradescope, junit, tap, html"
            )),
        }
    }

    /// Renders `report` in this format.
    pub fn render(self, report: &RunReport) -> String {
        match self {
            ReportFormat::Json => json::render(report),
            ReportFormat::Gradescope => gradescope::render(report),
            ReportFormat::Junit => junit::render(report),
            ReportFormat::Tap => tap::render(report),
            ReportFormat::Html => html::render(report),
        }
    }
}

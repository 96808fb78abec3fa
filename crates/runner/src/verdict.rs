//! Verdicts: what the judge decided about one scenario, and why.
//!
//! Reports (human, JSON, and later JUnit, Gradescope, HTML) all render these
//! types; nothing about formatting lives here.

use std::time::Duration;

use serde::Serialize;

use crate::transcript::Transcript;

/// The outcome of one scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Every expectation was met.
    Pass,
    /// An expectation was not met, or the server broke a rule.
    Fail,
    /// Allowed, but not the best behaviour (an `otherwise: non-strict` step was not met).
    NonStrict,
    /// The scenario does not apply to this profile.
    Skip,
    /// The scenario could not run (target unreachable, invalid scenario).
    Error,
}

impl Outcome {
    /// The word used in reports.
    pub fn word(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::NonStrict => "non-strict",
            Outcome::Skip => "skip",
            Outcome::Error => "error",
        }
    }

    /// Whether this outcome counts as passed for the exit code.
    pub fn is_ok(self) -> bool {
        matches!(self, Outcome::Pass | Outcome::NonStrict | Outcome::Skip)
    }
}

/// Points to a byte in a transcript line: the first one that broke the rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Caret {
    /// Index into [`Transcript::lines`].
    pub line: usize,
    /// Byte index within the line's bytes.
    pub byte: usize,
}

/// Why a scenario failed, in the h2spec style: expected versus actual.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// The scenario step (0-based) that failed, `None` for implicit steps.
    pub step: Option<usize>,
    /// The client that saw the failure.
    pub client: String,
    /// What the step expected.
    pub expected: String,
    /// What happened.
    pub actual: String,
    /// The RFC rule broken, quoted, when the server broke a protocol rule.
    pub rule: Option<String>,
    /// The first offending byte.
    pub caret: Option<Caret>,
    /// The default opening handshake failed: the scenario never got to its point.
    pub prerequisite: bool,
}

/// Everything known about one scenario after it ran.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScenarioResult {
    /// Stable id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Chapter (folder).
    pub chapter: String,
    /// Tags.
    pub tags: Vec<String>,
    /// RFC section.
    pub rfc: Option<String>,
    /// Autobahn case.
    pub autobahn: Option<String>,
    /// Quoted requirement from the scenario.
    pub requirement: Option<String>,
    /// Hint for learners.
    pub hint: Option<String>,
    /// The verdict.
    pub outcome: Outcome,
    /// Points earned.
    pub points: u32,
    /// Points available.
    pub max_points: u32,
    /// Wall time.
    pub duration: Duration,
    /// One line saying what happened.
    pub message: String,
    /// Details when it failed.
    pub failure: Option<Failure>,
    /// Notes that made it non-strict.
    pub non_strict: Vec<String>,
    /// What crossed the wire.
    pub transcript: Transcript,
}

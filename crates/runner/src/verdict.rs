//! Verdicts: what the judge decided about one scenario, and why.
//!
//! Every report (human, JSON, JUnit, TAP, Gradescope, HTML) renders these
//! types; nothing about formatting lives here.

use std::time::Duration;

use serde::Serialize;

use crate::load::LoadedScenario;
pub use crate::transcript::Caret;
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

/// The positive twin of a scenario that expects a refusal: the same
/// conversation with valid frames, played first. A refusal counts only
/// when the server handles the twin (a server that closes every
/// connection refuses everything).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Twin {
    /// The scenario expects no refusal, or its twin did not get to run.
    #[default]
    None,
    /// The server handled the valid twin.
    Passed,
    /// The server did not handle the valid twin: the refusal earns nothing.
    Failed,
}

impl Twin {
    /// The sentence every report gives a scenario whose twin failed.
    pub const FAILED_NOTE: &'static str =
        "a refusal counts only when the server handles the valid twin";
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
    /// How the positive twin went, for a scenario that expects a refusal.
    pub twin: Twin,
    /// What crossed the wire.
    pub transcript: Transcript,
}

impl ScenarioResult {
    /// A result carrying `loaded`'s metadata (id, title, chapter, tags,
    /// references, points), with `outcome` and nothing else yet.
    pub fn for_scenario(loaded: &LoadedScenario, outcome: Outcome) -> ScenarioResult {
        let scenario = &loaded.scenario;
        ScenarioResult {
            id: scenario.id.clone(),
            title: scenario.title.clone(),
            chapter: loaded.chapter.clone(),
            tags: scenario.tags.clone(),
            rfc: scenario.rfc.clone(),
            autobahn: scenario.autobahn.clone(),
            requirement: scenario.requirement.clone(),
            hint: scenario.hint.clone(),
            outcome,
            points: 0,
            max_points: scenario.points,
            duration: Duration::ZERO,
            message: String::new(),
            failure: None,
            non_strict: Vec::new(),
            twin: Twin::None,
            transcript: Transcript::default(),
        }
    }
}

//! Verdicts: what the judge decided about one scenario, and why.
//!
//! Every report (human, JSON, JUnit, TAP, Gradescope, HTML) renders these
//! types; nothing about formatting lives here.

use std::time::Duration;

use serde::Serialize;

use crate::load::LoadedScenario;
pub use crate::scenario::Strength;
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
    /// Allowed, but not the best behaviour: a `should` expectation was not
    /// met (the notes say which, and why it is not a MUST).
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

/// What a `non-strict` result is worth: a grader's policy (`run` and
/// `grade` take `--non-strict-points`). A non-strict server broke no MUST,
/// so by default it earns the scenario's points; a grader who wants to
/// reward the best behaviour gives half (rounded down) or nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NonStrictPoints {
    /// All the scenario's points (the default).
    #[default]
    Full,
    /// Half of them, rounded down (a 1-point scenario earns nothing).
    Half,
    /// None.
    Zero,
}

impl NonStrictPoints {
    /// The word on the command line and in reports.
    pub fn word(self) -> &'static str {
        match self {
            NonStrictPoints::Full => "full",
            NonStrictPoints::Half => "half",
            NonStrictPoints::Zero => "zero",
        }
    }

    /// The points a non-strict result earns out of `max`.
    pub fn of(self, max: u32) -> u32 {
        match self {
            NonStrictPoints::Full => max,
            NonStrictPoints::Half => max / 2,
            NonStrictPoints::Zero => 0,
        }
    }

    /// The sentence reports print about it.
    pub fn sentence(self) -> String {
        let worth = match self {
            NonStrictPoints::Full => "full points",
            NonStrictPoints::Half => "half points, rounded down",
            NonStrictPoints::Zero => "no points",
        };
        format!(
            "A non-strict result (a SHOULD missed, no MUST broken) earns {worth} (--non-strict-points {}).",
            self.word()
        )
    }
}

impl std::str::FromStr for NonStrictPoints {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "full" => Ok(NonStrictPoints::Full),
            "half" => Ok(NonStrictPoints::Half),
            "zero" => Ok(NonStrictPoints::Zero),
            other => Err(format!(
                "'{other}' is not a non-strict policy: use full, half or zero"
            )),
        }
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
    /// How strongly the unmet expectation was required: a `fail` is a broken
    /// `must`; the judge itself marks a weaker miss (a close code other than
    /// the one expected) `should`.
    pub strength: Strength,
    /// Why a `should` or `may` miss is not a MUST, when it is one.
    pub reason: Option<String>,
}

impl Failure {
    /// A `must` failure seen by `client`: expected versus actual, nothing else.
    pub fn must(client: &str, expected: String, actual: String) -> Failure {
        Failure {
            step: None,
            client: client.to_string(),
            expected,
            actual,
            rule: None,
            caret: None,
            prerequisite: false,
            strength: Strength::Must,
            reason: None,
        }
    }
}

/// An expectation that was not met but is not a MUST: a `should` (the
/// scenario is `non-strict`) or a `may` (it still passes), with its reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Note {
    /// `should` or `may`.
    pub strength: Strength,
    /// The scenario step (0-based), `None` for implicit steps.
    pub step: Option<usize>,
    /// The client that saw it.
    pub client: String,
    /// What the step asked for.
    pub expected: String,
    /// What happened.
    pub actual: String,
    /// Why this is not a MUST: a quote or a sentence.
    pub reason: String,
}

impl Note {
    /// One line: what was expected and what came.
    pub fn summary(&self) -> String {
        format!("{} (got {})", self.expected, self.actual)
    }
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
    /// Expectations not met that are not MUSTs: `should` notes make the
    /// result non-strict, `may` notes are informational.
    pub notes: Vec<Note>,
    /// Known bugs recognised in what was recorded ([`crate::diagnose`]),
    /// one sentence each.
    pub diagnosis: Vec<String>,
    /// How the positive twin went, for a scenario that expects a refusal.
    pub twin: Twin,
    /// What crossed the wire.
    pub transcript: Transcript,
}

impl ScenarioResult {
    /// Once every step is played: a pass with `should` notes is
    /// non-strict (its message the notes), and a result that counts earns
    /// its points. Servers and clients are settled the same way.
    pub fn settle(&mut self) {
        let should: Vec<String> = self
            .notes
            .iter()
            .filter(|n| n.strength == Strength::Should)
            .map(Note::summary)
            .collect();
        if self.outcome == Outcome::Pass && !should.is_empty() {
            self.outcome = Outcome::NonStrict;
            self.message = should.join("; ");
        }
        if self.outcome.is_ok() && self.outcome != Outcome::Skip {
            self.points = self.max_points;
        }
    }

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
            notes: Vec::new(),
            diagnosis: Vec::new(),
            twin: Twin::None,
            transcript: Transcript::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_strict_points_follow_the_policy() {
        assert_eq!(NonStrictPoints::default(), NonStrictPoints::Full);
        assert_eq!(NonStrictPoints::Full.of(3), 3);
        assert_eq!(NonStrictPoints::Half.of(3), 1);
        assert_eq!(NonStrictPoints::Half.of(1), 0);
        assert_eq!(NonStrictPoints::Zero.of(3), 0);
        assert_eq!("half".parse(), Ok(NonStrictPoints::Half));
        assert!("most".parse::<NonStrictPoints>().is_err());
        assert!(NonStrictPoints::Zero.sentence().contains("no points"));
    }
}

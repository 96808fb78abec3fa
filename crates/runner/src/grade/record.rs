//! The gradebook as data (`grade.json`): one row per submission, and
//! everything needed to give the same row again — the wsconform version,
//! the suite's version and fingerprint, the settings and every seed.
//! `grades.csv` and `overview.html` are renderings of it, and `merge`
//! reads it back.

use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};

use crate::load::LoadedScenario;
use crate::report::RunReport;
use crate::verdict::Outcome;

use super::selection::Weights;

/// The file name of the gradebook record in an output folder.
pub const RECORD_FILE: &str = "grade.json";

pub use crate::load::suite_version;

/// SHA-1 over every scenario's path and source, in order: two gradebooks
/// with the same fingerprint were graded by the same scenarios.
pub fn suite_hash(scenarios: &[LoadedScenario]) -> String {
    let mut sha = Sha1::new();
    for s in scenarios {
        sha.update(s.path.as_bytes());
        sha.update([0]);
        sha.update(s.source.as_bytes());
        sha.update([0]);
    }
    sha.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// How a submission's grading ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// The server started and the suite ran to its end.
    Ok,
    /// The server exited, or never accepted a connection, within the start timeout.
    DidNotStart,
    /// The server exited while the suite ran.
    Crashed,
    /// The suite did not finish within the wall-clock limit.
    TimedOut,
}

impl Status {
    /// The word in the gradebook.
    pub fn word(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::DidNotStart => "did-not-start",
            Status::Crashed => "crashed",
            Status::TimedOut => "timed-out",
        }
    }
}

/// One scenario's mark for one submission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mark {
    /// Scenario id.
    pub id: String,
    /// Chapter folder.
    pub chapter: String,
    /// pass, fail, non-strict, skip, error.
    pub outcome: String,
    /// Points earned (weighted).
    pub points: u32,
    /// Points available (weighted), skipped or not.
    pub max_points: u32,
    /// The failure's one line, empty when passed.
    pub cause: String,
}

/// Points of one chapter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChapterPoints {
    /// Chapter folder.
    pub chapter: String,
    /// Earned.
    pub points: u32,
    /// Available.
    pub max_points: u32,
}

/// One submission's row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row {
    /// The folder name.
    pub submission: String,
    /// How grading ended.
    pub status: Status,
    /// Why, in one line, when the status is not `ok`.
    pub detail: String,
    /// Points earned.
    pub points: u32,
    /// Points available: every selected scenario, whatever happened.
    pub max_points: u32,
    /// Points per chapter, in suite order.
    pub chapters: Vec<ChapterPoints>,
    /// The seed of every random choice (nonces, masking keys, payloads).
    pub seed: u64,
    /// Every scenario's mark, in suite order.
    pub marks: Vec<Mark>,
}

/// The settings a class was graded with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// The start command, with `{port}` and `{dir}`.
    pub start: String,
    /// `profile=/path` pairs.
    pub endpoints: Vec<String>,
    /// `--up-to`, if given.
    pub up_to: Option<String>,
    /// `--weight` pairs.
    pub weights: Weights,
    /// The base seed (`--seed`); each submission's seed derives from it and its name.
    pub seed: u64,
    /// Step timeout, start timeout and wall-clock limit, as written.
    pub timeouts: String,
    /// What limits and isolation applied.
    pub isolation: String,
}

/// The whole record of a graded class (or a merge of shards).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gradebook {
    /// The wsconform version that graded.
    pub wsconform_version: String,
    /// `scenarios/CHANGELOG.md`'s version.
    pub suite_version: String,
    /// [`suite_hash`] of the scenarios loaded.
    pub suite_hash: String,
    /// How the class was graded.
    pub settings: Settings,
    /// The shards this record holds (`1/1` for a whole class).
    pub shards: Vec<String>,
    /// The chapters graded, in suite order.
    pub chapters: Vec<String>,
    /// One row per submission, sorted by name.
    pub rows: Vec<Row>,
}

/// A failure's line with its byte dumps (`[bd 72 0e …]`) cut out: payloads
/// come from each submission's seed, and the class overview groups
/// submissions by cause, which must not differ by random bytes.
pub fn shareable(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        let Some(close) = after.find(']') else {
            break;
        };
        let inside = &after[..close];
        let dump = !inside.is_empty()
            && inside
                .chars()
                .all(|c| c.is_ascii_hexdigit() || c == ' ' || c == '…');
        out.push_str(&rest[..open]);
        out.push_str(if dump {
            "[…]"
        } else {
            &rest[open..open + 2 + close]
        });
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

/// The chapters of `scenarios`, in their order.
pub fn chapters_of(scenarios: &[LoadedScenario]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in scenarios {
        if !out.contains(&s.chapter) {
            out.push(s.chapter.clone());
        }
    }
    out
}

/// A row from the selected scenarios and the reports of the runs that
/// happened (none when the server did not start). A scenario with no
/// result earns nothing but keeps its points in `max_points`.
pub fn row(
    submission: &str,
    status: Status,
    detail: &str,
    seed: u64,
    scenarios: &[LoadedScenario],
    reports: &[RunReport],
    weights: &Weights,
) -> Row {
    let mut marks = Vec::new();
    for s in scenarios {
        let weight = weights.of(&s.chapter);
        let result = reports
            .iter()
            .flat_map(|r| &r.results)
            .find(|r| r.id == s.scenario.id);
        let (outcome, points, cause) = match result {
            Some(r) => {
                let cause = if r.outcome == Outcome::Pass {
                    String::new()
                } else {
                    shareable(r.message.lines().next().unwrap_or(""))
                };
                (r.outcome.word().to_string(), r.points * weight, cause)
            }
            None => (
                Outcome::Error.word().to_string(),
                0,
                if detail.is_empty() {
                    "not run".to_string()
                } else {
                    detail.to_string()
                },
            ),
        };
        marks.push(Mark {
            id: s.scenario.id.clone(),
            chapter: s.chapter.clone(),
            outcome,
            points,
            max_points: s.scenario.points * weight,
            cause,
        });
    }
    let chapters = chapters_of(scenarios)
        .into_iter()
        .map(|chapter| {
            let of_chapter = marks.iter().filter(|m| m.chapter == chapter);
            let (points, max_points) = of_chapter.fold((0, 0), |(p, m), mark| {
                (p + mark.points, m + mark.max_points)
            });
            ChapterPoints {
                chapter,
                points,
                max_points,
            }
        })
        .collect();
    Row {
        submission: submission.to_string(),
        status,
        detail: detail.to_string(),
        points: marks.iter().map(|m| m.points).sum(),
        max_points: marks.iter().map(|m| m.max_points).sum(),
        chapters,
        seed,
        marks,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_suite_has_a_version_and_a_fingerprint() {
        let version = suite_version();
        assert!(
            version.split('.').count() == 3 && version.split('.').all(|n| n.parse::<u32>().is_ok()),
            "{version}"
        );
        let suite = crate::load::bundled().unwrap();
        let hash = suite_hash(&suite);
        assert_eq!(hash.len(), 40);
        assert_ne!(hash, suite_hash(&suite[1..]));
    }

    #[test]
    fn byte_dumps_are_cut_from_causes() {
        assert_eq!(
            shareable("expected a binary message of 3 bytes: [bd 72 0e…]; got [x] nothing"),
            "expected a binary message of 3 bytes: […]; got [x] nothing"
        );
        assert_eq!(shareable("a [ b"), "a [ b");
    }

    #[test]
    fn a_server_that_did_not_start_keeps_every_point_available() {
        let suite = crate::load::bundled().unwrap();
        let weights = Weights::parse(&["01=2".to_string()]).unwrap();
        let r = row("x", Status::DidNotStart, "exited", 7, &suite, &[], &weights);
        let expected: u32 = suite
            .iter()
            .map(|s| s.scenario.points * weights.of(&s.chapter))
            .sum();
        assert_eq!(r.points, 0);
        assert_eq!(r.max_points, expected);
        assert!(r.max_points > suite.iter().map(|s| s.scenario.points).sum::<u32>());
        assert!(r.marks.iter().all(|m| m.cause == "exited"));
    }
}

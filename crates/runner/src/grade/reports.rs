//! Each submission's own reports, next to the gradebook: per endpoint the
//! runner's JSON and HTML reports (`echo.json`, `echo.html`, `chat.json`,
//! `chat.html`), and one Gradescope `gradescope.json` over every endpoint,
//! so that an autograder that grades one submission per container can
//! hand it over as its `results.json`. A server that never ran still gets
//! a `gradescope.json`: every scenario an error, with the reason.

use std::path::Path;
use std::time::Duration;

use crate::load::LoadedScenario;
use crate::report::{RunReport, gradescope, html, json};
use crate::verdict::{Outcome, ScenarioResult};

use super::process::Graded;
use super::record::Status;
use super::selection::Weights;

/// One report over every endpoint's run, points multiplied by the
/// chapters' weights (so Gradescope's score is the gradebook's); for a
/// server that did not run to the end, every scenario without a result is
/// an error saying why.
pub fn combined(graded: &Graded, scenarios: &[LoadedScenario], weights: &Weights) -> RunReport {
    let mut results: Vec<ScenarioResult> = Vec::new();
    for s in scenarios {
        let found = graded
            .reports
            .iter()
            .flat_map(|(_, r)| &r.results)
            .find(|r| r.id == s.scenario.id);
        results.push(match found {
            Some(r) => r.clone(),
            None => {
                let mut r = ScenarioResult::for_scenario(s, Outcome::Skip);
                r.outcome = Outcome::Error;
                r.message = match graded.status {
                    Status::Ok => "not run".to_string(),
                    _ => graded.detail.clone(),
                };
                r
            }
        });
        if let Some(r) = results.last_mut() {
            let weight = weights.of(&r.chapter);
            r.points *= weight;
            r.max_points *= weight;
        }
    }
    let first = graded.reports.first().map(|(_, r)| r);
    RunReport {
        target: first.map_or_else(String::new, |r| r.target.clone()),
        profile: graded
            .reports
            .iter()
            .map(|(e, _)| e.profile.name())
            .collect::<Vec<_>>()
            .join("+"),
        results,
        cause: graded.reports.iter().find_map(|(_, r)| r.cause.clone()),
        duration: graded
            .reports
            .iter()
            .map(|(_, r)| r.duration)
            .sum::<Duration>(),
        non_strict_points: first.map(|r| r.non_strict_points).unwrap_or_default(),
        shortcuts: graded
            .reports
            .iter()
            .flat_map(|(e, r)| {
                r.shortcuts
                    .iter()
                    .map(move |s| format!("{} run: {s}", e.profile.name()))
            })
            .collect(),
    }
}

/// Writes a submission's reports into its folder.
pub fn write(
    folder: &Path,
    graded: &Graded,
    scenarios: &[LoadedScenario],
    weights: &Weights,
) -> std::io::Result<()> {
    for (endpoint, report) in &graded.reports {
        let name = endpoint.profile.name();
        std::fs::write(folder.join(format!("{name}.json")), json::render(report))?;
        std::fs::write(folder.join(format!("{name}.html")), html::render(report))?;
    }
    std::fs::write(
        folder.join("gradescope.json"),
        gradescope::render(&combined(graded, scenarios, weights)),
    )
}

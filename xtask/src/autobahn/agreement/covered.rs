//! The scenarios both tools grade: every bundled scenario with an
//! `autobahn:` case, read with the runner's own loader, and the explained
//! differences of `xtask/autobahn/differences.yaml`.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use wsconform_runner::check::check;
use wsconform_runner::load::{LoadedScenario, load_path};

use super::super::CaseId;

/// A bundled scenario with an `autobahn:` field.
#[derive(Debug, Clone)]
pub struct Covered {
    /// The scenario, as the runner loaded it (what is run).
    pub loaded: LoadedScenario,
    /// The `autobahn:` value as written, trimmed.
    pub case: String,
    /// The explained differences on this scenario.
    pub explanations: Vec<Explanation>,
}

/// A written reason why wsconform and Autobahn may differ on one scenario
/// and server: one entry of `differences.yaml`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Explanation {
    /// The scenario's id.
    pub scenario: String,
    /// The server (agent name) it is about, or `*` for every server.
    pub server: String,
    /// Why.
    pub reason: String,
}

impl Covered {
    /// The scenario's id.
    pub fn id(&self) -> &str {
        &self.loaded.scenario.id
    }

    /// The file, for messages.
    pub fn file(&self) -> &str {
        &self.loaded.path
    }

    /// The Autobahn case, when the value names exactly one.
    pub fn case_id(&self) -> Option<CaseId> {
        self.case.parse().ok()
    }

    /// The explanation of a difference on `agent`, if there is one.
    pub fn explanation_for(&self, agent: &str) -> Option<&str> {
        self.explanations
            .iter()
            .find(|e| e.server == agent || e.server == "*")
            .map(|e| e.reason.as_str())
    }
}

/// Loads every scenario under `dir` with the runner's loader (and its
/// checks, as `wsconform run` does), keeps those with an `autobahn:` case,
/// sorted by id, and attaches the explanations of `differences` (the text
/// of `differences.yaml`).
pub fn load_covered(dir: &Path, differences: &str) -> Result<Vec<Covered>> {
    let loaded = load_path(dir).map_err(|errors| {
        let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
        anyhow::anyhow!("the scenarios do not load:\n{}", lines.join("\n"))
    })?;
    let problems = check(&loaded);
    if !problems.is_empty() {
        let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
        bail!("the scenarios do not check:\n{}", lines.join("\n"));
    }
    covered_with_explanations(loaded, differences)
}

/// The part of [`load_covered`] after loading: select, sort, explain.
pub fn covered_with_explanations(
    loaded: Vec<LoadedScenario>,
    differences: &str,
) -> Result<Vec<Covered>> {
    let explanations: Vec<Explanation> =
        serde_yaml::from_str::<Option<Vec<Explanation>>>(differences)
            .context("differences.yaml is not a list of {scenario, server, reason}")?
            .unwrap_or_default();
    let mut covered: Vec<Covered> = loaded
        .into_iter()
        .filter_map(|loaded| {
            let case = loaded.scenario.autobahn.as_deref()?.trim().to_owned();
            Some(Covered {
                loaded,
                case,
                explanations: Vec::new(),
            })
        })
        .collect();
    covered.sort_by(|a, b| a.id().cmp(b.id()));
    let ids: BTreeSet<&str> = covered.iter().map(Covered::id).collect();
    let stale: Vec<&str> = explanations
        .iter()
        .map(|e| e.scenario.as_str())
        .filter(|id| !ids.contains(id))
        .collect();
    if !stale.is_empty() {
        bail!(
            "differences.yaml explains scenarios that have no `autobahn:` case: {}",
            stale.join(", ")
        );
    }
    for entry in &mut covered {
        entry.explanations = explanations
            .iter()
            .filter(|e| e.scenario == entry.id())
            .cloned()
            .collect();
    }
    Ok(covered)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use wsconform_runner::load::parse_scenario;

    /// A loaded scenario with an optional `autobahn:` line.
    pub(crate) fn scenario(id: &str, autobahn: Option<&str>) -> LoadedScenario {
        let case = autobahn.map_or(String::new(), |c| format!("autobahn: \"{c}\"\n"));
        let yaml = format!(
            "id: {id}\ntitle: t\n{case}steps:\n  - frame: {{ opcode: text, payload: \"hi\" }}\n  - expect: {{ echo: last }}\n"
        );
        parse_scenario(&format!("scenarios/02-frames/{id}.yaml"), &yaml).unwrap()
    }

    const DIFFERENCES: &str = "\
- scenario: frames.a
  server: mutant-fin-ignored
  reason: the RFC allows both
- scenario: frames.a
  server: '*'
  reason: >-
    Autobahn checks
    the close here
";

    #[test]
    fn only_scenarios_with_a_case_are_kept_sorted_with_their_explanations() {
        let loaded = vec![
            scenario("frames.b", Some("3.1")),
            scenario("frames.none", None),
            scenario("frames.a", Some("1.1.2")),
        ];
        let covered = covered_with_explanations(loaded, DIFFERENCES).unwrap();
        let ids: Vec<&str> = covered.iter().map(Covered::id).collect();
        assert_eq!(ids, ["frames.a", "frames.b"]);
        assert_eq!(covered[0].case_id(), Some("1.1.2".parse().unwrap()));
        assert_eq!(covered[0].file(), "scenarios/02-frames/frames.a.yaml");
        assert_eq!(
            covered[0].explanation_for("mutant-fin-ignored"),
            Some("the RFC allows both")
        );
        assert_eq!(
            covered[0].explanation_for("peer"),
            Some("Autobahn checks the close here")
        );
        assert_eq!(covered[1].explanation_for("peer"), None);
    }

    #[test]
    fn an_explanation_of_a_scenario_without_a_case_is_an_error() {
        let loaded = vec![
            scenario("frames.b", Some("3.1")),
            scenario("frames.a", None),
        ];
        let error = covered_with_explanations(loaded, DIFFERENCES).unwrap_err();
        assert!(error.to_string().contains("frames.a"), "{error}");
    }

    #[test]
    fn an_empty_file_explains_nothing_and_unknown_fields_are_refused() {
        let covered =
            covered_with_explanations(vec![scenario("frames.b", Some("3.1"))], "# none\n").unwrap();
        assert!(covered[0].explanations.is_empty());
        let typo = "- scenario: frames.b\n  servr: peer\n  reason: x\n";
        assert!(covered_with_explanations(vec![scenario("frames.b", Some("3.1"))], typo).is_err());
    }

    #[test]
    fn the_committed_differences_name_bundled_scenarios_with_a_case() {
        let dir = crate::project_root().join("scenarios");
        let text =
            std::fs::read_to_string(crate::project_root().join(super::super::DIFFERENCES)).unwrap();
        let covered = load_covered(&dir, &text).unwrap();
        let explained: usize = covered.iter().map(|c| c.explanations.len()).sum();
        assert_eq!(explained, 10);
        assert!(
            covered.len() > 250,
            "{} scenarios name a case",
            covered.len()
        );
    }
}

//! The scenarios both tools grade: every bundled scenario with an
//! `autobahn:` case, read with the runner's own loader, and the explained
//! differences of `xtask/autobahn/differences.yaml`; for clients, the
//! client scenarios that `xtask/autobahn/client-cases.yaml` maps to
//! Autobahn's client cases, and `client-differences.yaml`.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use wsconform_runner::check::check;
use wsconform_runner::load::{LoadedScenario, load_path};
use wsconform_runner::scenario::Role;

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

/// One entry of `client-cases.yaml`: a client scenario and the Autobahn
/// client case that tests the same thing.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// The client scenario's id.
    pub scenario: String,
    /// The Autobahn case id (one case).
    pub case: String,
    /// How the two differ in what they send, when they do.
    #[serde(default)]
    pub note: Option<String>,
}

/// Loads every scenario under `dir` with the runner's loader (and its
/// checks, as `wsconform run` does).
pub fn load_checked(dir: &Path) -> Result<Vec<LoadedScenario>> {
    let loaded = load_path(dir).map_err(|errors| {
        let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
        anyhow::anyhow!("the scenarios do not load:\n{}", lines.join("\n"))
    })?;
    let problems = check(&loaded);
    if !problems.is_empty() {
        let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
        bail!("the scenarios do not check:\n{}", lines.join("\n"));
    }
    Ok(loaded)
}

/// Loads every scenario under `dir` (see [`load_checked`]), keeps those with
/// an `autobahn:` case, sorted by id, and attaches the explanations of
/// `differences` (the text of `differences.yaml`).
pub fn load_covered(dir: &Path, differences: &str) -> Result<Vec<Covered>> {
    covered_with_explanations(load_checked(dir)?, differences)
}

/// The client scenarios of `loaded` that `mapping` (the text of
/// `client-cases.yaml`) maps to an Autobahn case, sorted by id, with the
/// explanations of `differences`. A mapping that names a scenario not
/// loaded, names one twice, or gives more than one case is an error.
pub fn covered_from_mapping(
    loaded: Vec<LoadedScenario>,
    mapping: &str,
    differences: &str,
) -> Result<Vec<Covered>> {
    let entries: Vec<Mapping> = serde_yaml::from_str::<Option<Vec<Mapping>>>(mapping)
        .context("client-cases.yaml is not a list of {scenario, case, note}")?
        .unwrap_or_default();
    let mut seen = BTreeSet::new();
    let mut covered = Vec::new();
    for entry in entries {
        if !seen.insert(entry.scenario.clone()) {
            bail!("client-cases.yaml maps {} twice", entry.scenario);
        }
        if entry.case.trim().parse::<CaseId>().is_err() {
            bail!(
                "client-cases.yaml: {}: `{}` is not one Autobahn case id",
                entry.scenario,
                entry.case
            );
        }
        let Some(found) = loaded
            .iter()
            .find(|l| l.scenario.id == entry.scenario && l.scenario.role == Role::Client)
        else {
            bail!(
                "client-cases.yaml maps {}, which is not a client scenario",
                entry.scenario
            );
        };
        covered.push(Covered {
            loaded: found.clone(),
            case: entry.case.trim().to_owned(),
            explanations: Vec::new(),
        });
    }
    explain(covered, differences)
}

/// The part of [`load_covered`] after loading: select, sort, explain.
pub fn covered_with_explanations(
    loaded: Vec<LoadedScenario>,
    differences: &str,
) -> Result<Vec<Covered>> {
    let covered: Vec<Covered> = loaded
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
    explain(covered, differences)
}

/// Sorts `covered` by id and attaches the explanations of `differences`;
/// an explanation of a scenario that is not covered is an error.
fn explain(mut covered: Vec<Covered>, differences: &str) -> Result<Vec<Covered>> {
    let explanations: Vec<Explanation> =
        serde_yaml::from_str::<Option<Vec<Explanation>>>(differences)
            .context("the differences are not a list of {scenario, server, reason}")?
            .unwrap_or_default();
    covered.sort_by(|a, b| a.id().cmp(b.id()));
    let ids: BTreeSet<&str> = covered.iter().map(Covered::id).collect();
    let stale: Vec<&str> = explanations
        .iter()
        .map(|e| e.scenario.as_str())
        .filter(|id| !ids.contains(id))
        .collect();
    if !stale.is_empty() {
        bail!(
            "the differences explain scenarios that have no Autobahn case: {}",
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

    /// A loaded client scenario.
    fn client_scenario(id: &str) -> LoadedScenario {
        let yaml = format!(
            "id: {id}\ntitle: t\nrole: client\nsteps:\n  - send: {{ text: hi }}\n  - expect: {{ echo: last }}\n"
        );
        parse_scenario(&format!("scenarios/13-client/{id}.yaml"), &yaml).unwrap()
    }

    #[test]
    fn the_client_mapping_gives_each_scenario_its_case_and_explanations() {
        let loaded = vec![client_scenario("client.b"), client_scenario("client.a")];
        let mapping = "- scenario: client.b\n  case: \"2.2\"\n- scenario: client.a\n  case: \"1.1.2\"\n  note: shorter text\n";
        let differences = "- scenario: client.a\n  server: mutant-x\n  reason: why\n";
        let covered = covered_from_mapping(loaded.clone(), mapping, differences).unwrap();
        let ids: Vec<&str> = covered.iter().map(Covered::id).collect();
        assert_eq!(ids, ["client.a", "client.b"]);
        assert_eq!(covered[0].case_id(), Some("1.1.2".parse().unwrap()));
        assert_eq!(covered[0].explanation_for("mutant-x"), Some("why"));
        assert_eq!(covered[1].explanation_for("mutant-x"), None);

        // Unknown scenarios, server scenarios, repeats, groups and stale
        // explanations are refused.
        let unknown = "- scenario: client.c\n  case: \"2.2\"\n";
        assert!(covered_from_mapping(loaded.clone(), unknown, "").is_err());
        let server = vec![scenario("frames.a", None)];
        let named = "- scenario: frames.a\n  case: \"2.2\"\n";
        assert!(covered_from_mapping(server, named, "").is_err());
        let twice =
            "- scenario: client.a\n  case: \"2.2\"\n- scenario: client.a\n  case: \"2.3\"\n";
        assert!(covered_from_mapping(loaded.clone(), twice, "").is_err());
        let group = "- scenario: client.a\n  case: 2.x\n";
        assert!(covered_from_mapping(loaded.clone(), group, "").is_err());
        let stale = "- scenario: client.b\n  server: peer\n  reason: r\n";
        let only_a = "- scenario: client.a\n  case: \"1.1.2\"\n";
        assert!(covered_from_mapping(loaded, only_a, stale).is_err());
    }

    #[test]
    fn the_committed_client_mapping_names_client_scenarios() {
        let root = crate::project_root();
        let loaded = load_checked(&root.join("scenarios/13-client")).unwrap();
        let mapping = std::fs::read_to_string(root.join(super::super::CLIENT_CASES)).unwrap();
        let differences =
            std::fs::read_to_string(root.join(super::super::CLIENT_DIFFERENCES)).unwrap();
        let covered = covered_from_mapping(loaded, &mapping, &differences).unwrap();
        assert!(
            covered.len() >= 15,
            "{} client scenarios mapped",
            covered.len()
        );
        let explained: usize = covered.iter().map(|c| c.explanations.len()).sum();
        assert_eq!(explained, 10);
        // A reason written once and referred to (a YAML alias) is read in full.
        let ping = covered.iter().find(|c| c.id() == "client.ping").unwrap();
        assert!(
            ping.explanation_for("mutant-constant-mask")
                .is_some_and(|why| why.contains("fresh masking key")),
            "{:?}",
            ping.explanations
        );
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

//! Appendix B's table: which scenario covers which Autobahn case.
//!
//! The table is committed (`book/src/generated/autobahn-table.md`) so that a
//! plain `mdbook build book` renders the whole appendix. It is written from
//! the scenarios' `autobahn:` fields by this one function, which both the
//! staleness test (`tests/autobahn_table.rs`) and the book's build task use,
//! so the committed file and the suite cannot drift apart unnoticed.

use wsconform_runner::load::LoadedScenario;

/// Where the table lives, relative to `book/src`.
pub const TABLE_FILE: &str = "generated/autobahn-table.md";

/// A case id such as `"6.4.10"` as numbers, so that `6.4.10` sorts after
/// `6.4.9`. A part that is not a number sorts last.
fn case_key(case: &str) -> Vec<u32> {
    case.split('.')
        .map(|part| part.parse().unwrap_or(u32::MAX))
        .collect()
}

/// The Markdown of Appendix B's table: every scenario that names an Autobahn
/// case, sorted by case number and then by scenario id, with the count of
/// scenarios and of distinct cases on top.
pub fn autobahn_table(scenarios: &[LoadedScenario]) -> String {
    let mut rows: Vec<(Vec<u32>, &str, &LoadedScenario)> = scenarios
        .iter()
        .filter_map(|loaded| {
            let case = loaded.scenario.autobahn.as_deref()?;
            Some((case_key(case), case, loaded))
        })
        .collect();
    rows.sort_by(|a, b| {
        a.0.cmp(&b.0)
            .then_with(|| a.2.scenario.id.cmp(&b.2.scenario.id))
    });

    let mut cases: Vec<&str> = rows.iter().map(|row| row.1).collect();
    cases.dedup();
    let mut out = format!(
        "{} scenarios of the bundled suite name the Autobahn case they cover ({} cases).\n\n",
        rows.len(),
        cases.len()
    );
    out.push_str("| Autobahn case | scenario | chapter | what it checks |\n|---|---|---|---|\n");
    for (_, case, loaded) in rows {
        out.push_str(&format!(
            "| {case} | `{}` | {} | {} |\n",
            loaded.scenario.id,
            loaded.chapter,
            loaded.scenario.title.replace('|', "\\|")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use wsconform_runner::load::parse_scenario;

    fn scenario(folder: &str, id: &str, case: Option<&str>) -> LoadedScenario {
        let autobahn = case.map_or(String::new(), |c| format!("autobahn: \"{c}\"\n"));
        let yaml =
            format!("id: {id}\ntitle: checks a | b\n{autobahn}steps:\n  - send: {{ text: hi }}\n");
        parse_scenario(&format!("scenarios/{folder}/{id}.yaml"), &yaml)
            .unwrap_or_else(|e| panic!("{e:?}"))
    }

    #[test]
    fn rows_sort_by_case_number_and_skip_scenarios_without_a_case() {
        let table = autobahn_table(&[
            scenario("05-text-utf8", "b", Some("6.4.10")),
            scenario("05-text-utf8", "a", Some("6.4.9")),
            scenario("02-frames", "c", None),
            scenario("02-frames", "d", Some("6.4.9")),
        ]);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(
            lines[0],
            "3 scenarios of the bundled suite name the Autobahn case they cover (2 cases)."
        );
        assert_eq!(lines[4], "| 6.4.9 | `a` | 05-text-utf8 | checks a \\| b |");
        assert_eq!(lines[5], "| 6.4.9 | `d` | 02-frames | checks a \\| b |");
        assert_eq!(lines[6], "| 6.4.10 | `b` | 05-text-utf8 | checks a \\| b |");
        assert_eq!(lines.len(), 7);
    }
}

//! The book's appendix "How popular servers fare": written from the graded
//! results, and compared with the committed page by `--check`.
//!
//! The page holds only what a rerun reproduces: versions, counts, scenario
//! ids and the texts of the verdicts — no durations, no dates, no ports.

use std::fmt::Write as _;

use wsconform_runner::suite::RunReport;
use wsconform_runner::verdict::{Outcome, ScenarioResult};
use wsconform_runner::{rfc_link, rfc_name};

use super::catalogue::Library;

/// The appendix's path in the book.
pub const PAGE: &str = "book/src/appendix/realworld.md";

/// One library's graded run, reduced to what the page shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Graded {
    /// Registry name.
    pub package: String,
    /// Pinned version.
    pub version: String,
    /// Runtime name.
    pub runtime: String,
    /// What the server file sets beyond the library's defaults.
    pub settings: String,
    /// Scenarios passed.
    pub pass: usize,
    /// Scenarios passed non-strictly.
    pub non_strict: Vec<String>,
    /// Scenarios failed, in suite order.
    pub fails: Vec<Fail>,
    /// Scenarios skipped (another profile, or an optional feature declined).
    pub skip: usize,
    /// Scenarios that could not run.
    pub error: usize,
}

/// One failed scenario: what it checks and what the server did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fail {
    /// Scenario id.
    pub id: String,
    /// The scenario's RFC section, as written in it.
    pub rfc: Option<String>,
    /// The rule the scenario cites (its requirement).
    pub cites: String,
    /// The protocol rule the judge found broken in what the server sent,
    /// when it names one (the server's own frame was invalid).
    pub broke: Option<String>,
    /// What the failing step expected.
    pub expected: String,
    /// What the server did.
    pub actual: String,
}

impl Graded {
    /// Reduces `report` (one echo-profile run) for `library`.
    pub fn from_report(library: &Library, version: &str, report: &RunReport) -> Graded {
        let of = |outcome: Outcome| report.results.iter().filter(move |r| r.outcome == outcome);
        Graded {
            package: library.package.to_string(),
            version: version.to_string(),
            runtime: library.runtime.name().to_string(),
            settings: library.settings.to_string(),
            pass: of(Outcome::Pass).count(),
            non_strict: of(Outcome::NonStrict).map(|r| r.id.clone()).collect(),
            fails: of(Outcome::Fail).map(Fail::from_result).collect(),
            skip: of(Outcome::Skip).count(),
            error: of(Outcome::Error).count(),
        }
    }

    /// The summary table's row.
    fn row(&self) -> String {
        format!(
            "| [{package}](#{anchor}) | {version} | {runtime} | {pass} | {non_strict} | {fail} | {skip} | {error} |\n",
            package = self.package,
            anchor = self.anchor(),
            version = self.version,
            runtime = self.runtime,
            pass = self.pass,
            non_strict = self.non_strict.len(),
            fail = self.fails.len(),
            skip = self.skip,
            error = self.error,
        )
    }

    /// The heading's anchor as mdbook makes it.
    fn anchor(&self) -> String {
        format!("{}-{}", self.package, self.version)
            .chars()
            .filter_map(|c| match c {
                'a'..='z' | '0'..='9' | '-' | '_' => Some(c),
                'A'..='Z' => Some(c.to_ascii_lowercase()),
                ' ' => Some('-'),
                _ => None,
            })
            .collect()
    }

    /// The library's own section: settings, fails, non-strict results.
    fn section(&self) -> String {
        let mut out = format!(
            "## {} {}\n\n{}; set beyond the library's defaults: {}.\n\n",
            self.package, self.version, self.runtime, self.settings
        );
        if self.fails.is_empty() {
            out.push_str("No scenario fails.\n");
        } else {
            let _ = writeln!(out, "Fails ({}):\n", self.fails.len());
            for fail in &self.fails {
                out.push_str(&fail.item());
            }
        }
        if !self.non_strict.is_empty() {
            let ids: Vec<String> = self.non_strict.iter().map(|id| format!("`{id}`")).collect();
            let _ = write!(out, "\nNon-strict: {}.\n", ids.join(", "));
        }
        out
    }
}

impl Fail {
    fn from_result(result: &ScenarioResult) -> Fail {
        Fail {
            id: result.id.clone(),
            rfc: result.rfc.clone(),
            cites: result
                .requirement
                .clone()
                .unwrap_or_else(|| result.title.clone()),
            broke: result.failure.as_ref().and_then(|f| f.rule.clone()),
            expected: result
                .failure
                .as_ref()
                .map_or_else(String::new, |f| f.expected.clone()),
            actual: result
                .failure
                .as_ref()
                .map_or_else(|| result.message.clone(), |f| f.actual.clone()),
        }
    }

    /// A list item: id and section, the cited rule, expected and actual.
    fn item(&self) -> String {
        let section = match &self.rfc {
            Some(rfc) => format!(" ([{}]({}))", rfc_name(rfc), rfc_link(rfc)),
            None => String::new(),
        };
        let mut out = format!("- `{}`{section}\n", self.id);
        let _ = writeln!(out, "  - cites: {}", inline(&self.cites));
        if !self.expected.is_empty() {
            let _ = writeln!(out, "  - expected: {}", inline(&self.expected));
        }
        let _ = writeln!(out, "  - actual: {}", inline(&self.actual));
        if let Some(rule) = &self.broke {
            let _ = writeln!(out, "  - what the server sent breaks: {}", inline(rule));
        }
        out
    }
}

/// One line of Markdown from any text: whitespace runs folded, and the
/// characters Markdown or HTML would read as markup escaped.
fn inline(text: &str) -> String {
    let folded = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out = String::with_capacity(folded.len());
    for c in folded.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '*' | '_' | '`' | '[' | ']' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// The whole page for `graded` (every library, in catalogue order).
pub fn render(graded: &[Graded], suite_version: &str, scenarios: usize) -> String {
    let mut out = format!(
        "# Appendix G: How popular servers fare

<!-- Written by `cargo xtask realworld`; `cargo xtask realworld --check` fails when this page is stale. Do not edit by hand. -->

A grader is only as fair as its failures. This page runs the suite (version
{suite_version}, {scenarios} scenarios) against popular WebSocket server
libraries, each installed at a pinned version from its package registry and
started as an echo server by a small program in `realworld/`: the
`echo` profile, a step deadline of 2 s, the library's defaults unless the
library's section says otherwise (message limits are raised to 16 MiB where
they are lower, as Autobahn's test servers do, so that limits do not hide
framing). Chat scenarios are skipped (these servers speak the echo
protocol only), and so are the compression scenarios where a library does
not negotiate permessage-deflate.

A `fail` here is a disagreement between the suite and a library that
thousands of applications run on. Each one is either a real violation of a
MUST of RFC 6455, which the library's authors would want to hear about, or
a scenario asking for more than the RFC does, which the suite must relax.
Each fail below names the scenario and the rule it cites, with what the
scenario expected and what the server did.

A few scenarios pass strictly only when the server reacts before the rest
of a frame arrives (failing fast on invalid UTF-8, for one); on a busy
machine the same server reacts a moment later and the result is
`non-strict`. So the pass and non-strict columns may trade a scenario or
two from run to run, and the staleness check compares their sum; fails
and skips are compared exactly.

| library | version | runtime | pass | non-strict | fail | skip | error |
|---|---|---|---|---|---|---|---|
"
    );
    for library in graded {
        out.push_str(&library.row());
    }
    for library in graded {
        out.push('\n');
        out.push_str(&library.section());
    }
    out
}

/// What in `committed` differs from the page `graded` would write. With
/// every library graded the whole page must match; with some runtimes
/// missing, the row and the section of each graded library must appear in
/// the committed page as written. Both are compared in their [`stable`]
/// form. Returns the names of what is stale.
pub fn stale(committed: &str, regenerated: &str, graded: &[Graded], complete: bool) -> Vec<String> {
    if complete {
        return if stable(committed) == stable(regenerated) {
            Vec::new()
        } else {
            vec!["the page".to_string()]
        };
    }
    graded
        .iter()
        .filter(|g| differs(committed, g))
        .map(|g| format!("{} {}", g.package, g.version))
        .collect()
}

/// Whether `graded`'s row or section, in their [`stable`] form, is not in
/// the committed page.
pub fn differs(committed: &str, graded: &Graded) -> bool {
    let committed = stable(committed);
    !committed.contains(&stable(&graded.row())) || !committed.contains(&stable(&graded.section()))
}

/// A page without what timing decides. A few scenarios pass strictly only
/// when the server reacts before the rest of a frame arrives (failing fast
/// on invalid UTF-8, say); on a busy machine the same server reacts a
/// moment later and the result is `non-strict`. So the check compares the
/// sum of the pass and non-strict columns, and leaves out the non-strict
/// lists; fails and skips are compared exactly.
fn stable(page: &str) -> String {
    let mut out = String::with_capacity(page.len());
    for line in page.split_inclusive('\n') {
        if line.starts_with("Non-strict: ") {
            continue;
        }
        let cells: Vec<&str> = line.split('|').collect();
        let counts = (cells.len() == 10 && line.starts_with("| ["))
            .then(|| {
                Some((
                    cells[4].trim().parse::<usize>().ok()?,
                    cells[5].trim().parse::<usize>().ok()?,
                ))
            })
            .flatten();
        match counts {
            Some((pass, non_strict)) => {
                let mut merged: Vec<String> = cells.iter().map(|c| c.to_string()).collect();
                merged[4] = format!(" {} ", pass + non_strict);
                merged[5] = " ~ ".to_string();
                out.push_str(&merged.join("|"));
            }
            None => out.push_str(line),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graded(package: &str, fails: usize) -> Graded {
        Graded {
            package: package.to_string(),
            version: "1.2.3".to_string(),
            runtime: "Python".to_string(),
            settings: "none".to_string(),
            pass: 10,
            non_strict: vec!["closing.echo-code".to_string()],
            fails: (0..fails)
                .map(|i| Fail {
                    id: format!("frames.case-{i}"),
                    rfc: Some("5.2".to_string()),
                    cites: "a server MUST <fail> the *connection*".to_string(),
                    expected: "the connection failed".to_string(),
                    actual: "an echo\nof 3 bytes".to_string(),
                    broke: Some("RFC 6455 5.5.1: a close code".to_string()),
                })
                .collect(),
            skip: 4,
            error: 0,
        }
    }

    #[test]
    fn the_page_has_a_row_and_a_section_per_library_with_every_fail() {
        let page = render(&[graded("alpha", 2), graded("beta", 0)], "1.0", 16);
        assert!(page.contains("| [alpha](#alpha-123) | 1.2.3 | Python | 10 | 1 | 2 | 4 | 0 |\n"));
        assert!(page.contains("## beta 1.2.3\n"));
        assert!(page.contains("No scenario fails."));
        let cited = format!("- `frames.case-1` ([RFC 6455 §5.2]({}))\n", rfc_link("5.2"));
        assert!(page.contains(&cited));
        assert!(page.contains("  - cites: a server MUST &lt;fail&gt; the \\*connection\\*\n"));
        assert!(page.contains("  - actual: an echo of 3 bytes\n"));
        assert!(page.contains("  - what the server sent breaks: RFC 6455 5.5.1: a close code\n"));
        assert!(page.contains("Non-strict: `closing.echo-code`."));
    }

    #[test]
    fn a_complete_run_compares_the_whole_page() {
        let all = [graded("alpha", 1), graded("beta", 0)];
        let page = render(&all, "1.0", 16);
        assert!(stale(&page, &page, &all, true).is_empty());
        let edited = page.replace("version\n1.0", "version\n0.9");
        assert_eq!(stale(&edited, &page, &all, true), ["the page"]);
    }

    #[test]
    fn pass_and_non_strict_may_trade_places_but_fails_may_not_change() {
        let before = graded("alpha", 1);
        let mut after = before.clone();
        after.pass -= 1;
        after.non_strict.push("text-utf8.fail-fast".to_string());
        let committed = render(std::slice::from_ref(&before), "1.0", 16);
        let regenerated = render(&[after.clone()], "1.0", 16);
        assert_ne!(committed, regenerated);
        assert!(stale(&committed, &regenerated, &[after.clone()], true).is_empty());
        assert!(stale(&committed, &regenerated, &[after], false).is_empty());
        let mut failing = before;
        failing.pass -= 1;
        failing.fails.push(failing.fails[0].clone());
        let regenerated = render(&[failing.clone()], "1.0", 16);
        assert_eq!(
            stale(&committed, &regenerated, &[failing], true),
            ["the page"]
        );
    }

    #[test]
    fn a_partial_run_checks_the_libraries_it_graded() {
        let committed = render(&[graded("alpha", 1), graded("beta", 0)], "1.0", 16);
        let beta_now = [graded("beta", 1)];
        let regenerated = render(&beta_now, "1.0", 16);
        assert_eq!(
            stale(&committed, &regenerated, &beta_now, false),
            ["beta 1.2.3"]
        );
        let alpha_now = [graded("alpha", 1)];
        let regenerated = render(&alpha_now, "1.0", 16);
        assert!(stale(&committed, &regenerated, &alpha_now, false).is_empty());
    }
}

//! The JUnit XML report: what CI systems already know how to show.
//!
//! GitLab's test report, the common GitHub Actions reporters and Jenkins all
//! read JUnit XML, so a failing scenario appears next to the project's own
//! unit tests with no plugin. The mapping:
//!
//! - one `<testsuite>` per chapter (`03-lengths`), in run order;
//! - one `<testcase>` per scenario, `name` = the scenario id and
//!   `classname` = `wsconform.CHAPTER` (reporters group by class name, and
//!   some refuse a test case without one);
//! - a `fail` is a `<failure>` whose message is the one-line verdict and
//!   whose text is the rule, `Expected:` / `Actual:`, the annotated
//!   transcript and the hint; an `error` (the scenario could not run) is an
//!   `<error>` with the same parts;
//! - a `skip` is `<skipped>` with the reason; a `non-strict` result passes,
//!   with its note in `<system-out>`.
//!
//! The XML itself is written by `quick-junit`, which escapes text and drops
//! the control characters XML cannot carry: a transcript may hold any byte
//! a hostile server sent.

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use super::detail::{by_chapter, plain_detail};
use crate::report::run::RunReport;
use crate::verdict::{Outcome, ScenarioResult};

fn test_case(chapter: &str, r: &ScenarioResult) -> TestCase {
    let status = match r.outcome {
        Outcome::Pass | Outcome::NonStrict => TestCaseStatus::success(),
        Outcome::Skip => {
            let mut status = TestCaseStatus::skipped();
            status.set_message(r.message.as_str());
            status
        }
        Outcome::Fail | Outcome::Error => {
            let kind = if r.outcome == Outcome::Fail {
                NonSuccessKind::Failure
            } else {
                NonSuccessKind::Error
            };
            let mut status = TestCaseStatus::non_success(kind);
            status
                .set_message(r.message.as_str())
                .set_type(r.outcome.word())
                .set_description(plain_detail(r));
            status
        }
    };
    let mut case = TestCase::new(r.id.as_str(), status);
    case.set_classname(format!("wsconform.{chapter}"))
        .set_time(r.duration);
    if r.outcome == Outcome::NonStrict {
        case.set_system_out(plain_detail(r));
    }
    case.add_property(Property::new("title", r.title.as_str()));
    case.add_property(Property::new(
        "points",
        format!("{}/{}", r.points, r.max_points),
    ));
    if let Some(section) = &r.rfc {
        case.add_property(Property::new("rfc6455", section.as_str()));
    }
    case
}

/// Renders the report as JUnit XML.
pub fn render(report: &RunReport) -> String {
    let mut junit = Report::new("wsconform");
    junit.set_time(report.duration);
    for (chapter, results) in by_chapter(&report.results) {
        let mut suite = TestSuite::new(chapter);
        suite.set_time(results.iter().map(|r| r.duration).sum());
        suite.add_property(Property::new("target", report.target.as_str()));
        suite.add_property(Property::new("profile", report.profile.as_str()));
        for shortcut in &report.shortcuts {
            suite.add_property(Property::new("shortcut", shortcut.as_str()));
        }
        for r in results {
            suite.add_test_case(test_case(chapter, r));
        }
        junit.add_test_suite(suite);
    }
    match junit.to_string() {
        Ok(mut xml) => {
            if !xml.ends_with('\n') {
                xml.push('\n');
            }
            xml
        }
        Err(e) => format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- wsconform could not write this report: {} -->\n<testsuites/>\n",
            e.to_string().replace("--", "- -")
        ),
    }
}

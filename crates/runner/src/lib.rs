//! wsconform-runner: replays YAML scenarios against a WebSocket server over
//! raw TCP, judges what comes back, and reports.
//!
//! The data flow is one line, and each arrow is a module:
//!
//! ```text
//! scenario.yaml --load--> Scenario --plan(profile)--> steps --execute--> Transcript (typed events) --judge--> Verdict --report--> text | json | junit | tap | gradescope | html
//! ```
//!
//! Dependencies between modules follow the same direction (a test keeps
//! them free of circles): scenario → plan → exec/flood → verdict → report.
//!
//! | module | what it does |
//! |---|---|
//! | [`scenario`] | the YAML format as Rust types (documented in the book's appendix) |
//! | [`load`] | reads files or the embedded suite; errors with file, line, column and field |
//! | [`check`] | what loading cannot see: duplicate ids, impossible expectations |
//! | [`plan`] | a scenario plus a profile (echo, chat) becomes concrete bytes |
//! | [`target`] | the `ws://` URL played against |
//! | [`exec`] | plays the plan over raw TCP with deadlines and bounded reads; its [`judge`](exec::judge) is a pure function |
//! | [`flood`] | many clients × many messages, every delivery accounted for |
//! | [`connect`] | TCP connect and the handshake response, for every client |
//! | [`limits`] | how much the runner reads from a server |
//! | [`chat`] | the chat profile's messages: nonces and broadcasts |
//! | [`transcript`] | every byte each way, with times, the annotated view and the judged events |
//! | [`verdict`] | outcomes and failures |
//! | [`suite`] | selection, parallel runs, the shared cause when the handshake fails |
//! | [`report`] | the run report and its renderings: human, JSON, Gradescope, JUnit, TAP, HTML |
//! | [`decode`] | frame bytes annotated for people (`wsconform decode`) |
//! | [`chapter`] | a chapter folder's name without its number |
//! | [`payload`] | payload descriptions become bytes; repeatable keys |
//! | [`spawn`] | starting the target in its own process group and always stopping it |
//! | [`grade`] | a class of submissions: gradebook, overview, shards, baselines |
//! | [`bench`](mod@bench) | the load generator behind `wsconform bench` |
//!
//! Running the bundled suite against a server takes three calls:
//!
//! ```no_run
//! # async fn example() {
//! use std::time::Duration;
//! use wsconform_runner::{load, plan, suite};
//!
//! let scenarios = load::bundled().expect("the bundled suite loads");
//! let settings = plan::PlanSettings {
//!     target: plan::Target::parse("ws://127.0.0.1:8080/echo").expect("a ws:// URL"),
//!     profile: plan::Profile::Echo,
//!     timeout: Duration::from_secs(2),
//!     run_id: 1,
//! };
//! let report = suite::run_suite(&scenarios, &settings, 4, |_| {}).await;
//! println!("{}", wsconform_runner::report::human::render(
//!     &report,
//!     wsconform_runner::report::human::HumanOptions { color: false, timings: true },
//! ));
//! # }
//! ```

// Everything a server sends is untrusted: no panicking shortcut outside
// tests. The exceptions are written next to them, with their reason.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

pub mod bench;
pub mod chapter;
pub mod chat;
pub mod check;
pub mod clients;
pub mod concurrent;
pub mod conformance;
pub mod connect;
pub mod decode;
pub mod diagnose;
pub mod exec;
pub mod flood;
pub mod grade;
pub mod hex;
pub mod ids;
pub mod limits;
pub mod load;
pub mod payload;
pub mod plan;
pub mod quotes;
pub mod report;
pub mod scenario;
pub mod silence;
pub mod spawn;
pub mod stages;
pub mod stall;
pub mod suite;
pub mod target;
pub mod transcript;
pub mod verdict;
pub mod violations;
pub mod wording;

#[cfg(test)]
mod layering;

/// The link to the section a scenario's `rfc` field cites, as every report
/// and the command line print it: `rfc_link("5.2")` for RFC 6455 §5.2,
/// `rfc_link("7692 7.2")` for RFC 7692 §7.2.
pub fn rfc_link(field: &str) -> String {
    match rfc_citation(field) {
        ("6455", section) => format!("https://www.rfc-editor.org/rfc/rfc6455#section-{section}"),
        (rfc, section) => format!("https://www.rfc-editor.org/rfc/rfc{rfc}#section-{section}"),
    }
}

/// The RFC number and the section of a scenario's `rfc` field: `"5.2"` is
/// RFC 6455's (the default), `"7692 7.2"` names another RFC first.
///
/// ```
/// use wsconform_runner::{rfc_citation, rfc_link, rfc_name};
/// assert_eq!(rfc_citation("5.2"), ("6455", "5.2"));
/// assert_eq!(rfc_citation("7692 7.2.1"), ("7692", "7.2.1"));
/// assert_eq!(rfc_name("7692 6.1"), "RFC 7692 §6.1");
/// assert!(rfc_link("7692 6.1").ends_with("rfc7692#section-6.1"));
/// ```
pub fn rfc_citation(field: &str) -> (&str, &str) {
    match field.trim().split_once(' ') {
        Some((rfc, section)) if rfc.len() == 4 && rfc.chars().all(|c| c.is_ascii_digit()) => {
            (rfc, section.trim())
        }
        _ => ("6455", field.trim()),
    }
}

/// How reports name a cited section: `RFC 6455 §5.2`, `RFC 7692 §7.2`.
pub fn rfc_name(field: &str) -> String {
    let (rfc, section) = rfc_citation(field);
    format!("RFC {rfc} §{section}")
}

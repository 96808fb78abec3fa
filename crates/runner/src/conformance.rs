//! Conformance runs: the whole suite against one server's endpoints, and the
//! check that known-bad servers fail it where they should.
//!
//! A server usually speaks both application protocols on two paths (the
//! reference server: `/echo` for `echo`, `/socket` for `chat`), so one
//! conformance run is the suite played once per [`Endpoint`]. Framing
//! scenarios run in both, profile-specific ones in theirs only.
//!
//! The second half is about the suite itself. A suite that every server
//! passes proves nothing, so it is also run against *mutants*: servers with
//! one classic bug each. A [`Caught`] row records which scenarios a mutant
//! failed; the suite is doing its job when every mutant fails at least one
//! scenario **of the chapter that teaches its bug** — a learner who has that
//! bug must be sent to the right page, not just told "something failed".
//! `cargo xtask conformance --mutants` prints these rows as a matrix.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;

use crate::load::LoadedScenario;
use crate::plan::{PlanSettings, Profile, Target};
use crate::suite::{RunReport, run_suite};
use crate::verdict::Outcome;

/// One path of a server and the protocol it speaks there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Where to connect.
    pub target: Target,
    /// What the path speaks.
    pub profile: Profile,
}

impl Endpoint {
    /// The two endpoints of a server laid out like the reference server:
    /// `/echo` with the echo profile, `/socket` with the chat profile.
    pub fn both(addr: SocketAddr) -> [Endpoint; 2] {
        // An IPv6 host is written in brackets, as in a URL (RFC 3986 3.2.2).
        let host = match addr {
            SocketAddr::V4(v4) => v4.ip().to_string(),
            SocketAddr::V6(v6) => format!("[{}]", v6.ip()),
        };
        let at = |path: &str| Target {
            host: host.clone(),
            port: addr.port(),
            path: path.to_owned(),
        };
        [
            Endpoint {
                target: at("/echo"),
                profile: Profile::Echo,
            },
            Endpoint {
                target: at("/socket"),
                profile: Profile::Chat,
            },
        ]
    }
}

/// Plays `scenarios` against every endpoint at once, `jobs` scenarios at a
/// time per endpoint, with `timeout` per step; one report per endpoint, in
/// the order given.
///
/// The endpoints run side by side: an echo client never joins the chat
/// room, so the two runs cannot see each other's messages, and a suite that
/// waits on the network more than on the CPU finishes in the time of the
/// longer run instead of the sum.
pub async fn run_endpoints(
    scenarios: &[LoadedScenario],
    endpoints: &[Endpoint],
    jobs: usize,
    timeout: Duration,
    run_id: u64,
) -> Vec<RunReport> {
    let shared = Arc::new(scenarios.to_vec());
    let mut runs = JoinSet::new();
    for (position, endpoint) in endpoints.iter().enumerate() {
        let settings = PlanSettings {
            target: endpoint.target.clone(),
            profile: endpoint.profile,
            timeout,
            run_id,
        };
        let scenarios = Arc::clone(&shared);
        runs.spawn(async move {
            let report = run_suite(&scenarios, &settings, jobs, |_| {}).await;
            (position, report)
        });
    }
    let mut reports: Vec<Option<RunReport>> = vec![None; endpoints.len()];
    while let Some(done) = runs.join_next().await {
        match done {
            Ok((position, report)) => {
                if let Some(slot) = reports.get_mut(position) {
                    *slot = Some(report);
                }
            }
            // A panicking run is a runner bug: let it surface.
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }
    reports.into_iter().flatten().collect()
}

/// A scenario a server failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedScenario {
    /// Scenario id.
    pub id: String,
    /// Chapter name without its number.
    pub chapter: String,
    /// The profile it failed with.
    pub profile: Profile,
    /// It was `non-strict`, not `fail`: a SHOULD missed. That catches a
    /// mutant whose bug is only a SHOULD, in its own chapter only.
    pub non_strict: bool,
}

/// What the suite caught in one server that should fail it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caught {
    /// The server's name (`mutant:little-endian-length`).
    pub server: String,
    /// The chapter whose scenarios must catch its bug.
    pub chapter: String,
    /// Every scenario it failed, in report order, profile by profile.
    pub failed: Vec<FailedScenario>,
}

impl Caught {
    /// Collects the failures (outcome `fail`; `error` too, since a crash
    /// is a failure) of `reports`, and the `non-strict` results of the
    /// server's own chapter (a bug that is only a SHOULD shows there).
    pub fn from_reports(server: &str, chapter: &str, reports: &[RunReport]) -> Caught {
        let mut failed = Vec::new();
        for report in reports {
            let profile = if report.profile == Profile::Chat.name() {
                Profile::Chat
            } else {
                Profile::Echo
            };
            for r in &report.results {
                let name = crate::chapter::name(&r.chapter);
                let non_strict = r.outcome == Outcome::NonStrict && name == chapter;
                if matches!(r.outcome, Outcome::Fail | Outcome::Error) || non_strict {
                    failed.push(FailedScenario {
                        id: r.id.clone(),
                        chapter: name.to_owned(),
                        profile,
                        non_strict,
                    });
                }
            }
        }
        Caught {
            server: server.to_owned(),
            chapter: chapter.to_owned(),
            failed,
        }
    }

    /// Ids of failed (or non-strict) scenarios in the server's own chapter,
    /// without repeats (a scenario may fail with both profiles).
    pub fn in_chapter(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = self
            .failed
            .iter()
            .filter(|f| f.chapter == self.chapter)
            .map(|f| f.id.as_str())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// Whether the suite sends a learner with this bug to the right chapter.
    pub fn caught_in_chapter(&self) -> bool {
        !self.in_chapter().is_empty()
    }
}

/// The matrix as text: one block per server, every failed scenario of its
/// own chapter by id, and how many of other chapters it failed (the first
/// few named).
pub fn render_matrix(rows: &[Caught]) -> String {
    let mut out = String::new();
    for row in rows {
        let own = row.in_chapter();
        let mut others: Vec<&str> = row
            .failed
            .iter()
            .filter(|f| f.chapter != row.chapter)
            .map(|f| f.id.as_str())
            .collect();
        others.sort_unstable();
        others.dedup();
        let verdict = if own.is_empty() {
            "NOT CAUGHT in its chapter"
        } else {
            "caught"
        };
        let _ = writeln!(out, "{} ({}): {verdict}", row.server, row.chapter);
        let own_text = if own.is_empty() {
            "none".to_owned()
        } else {
            own.join(", ")
        };
        let _ = writeln!(out, "  {}: {own_text}", row.chapter);
        if !others.is_empty() {
            let _ = writeln!(
                out,
                "  other chapters: {} scenario{} ({})",
                others.len(),
                if others.len() == 1 { "" } else { "s" },
                list(&others)
            );
        }
    }
    out
}

/// `a, b, c` or `a, b, c and 12 more`, `none` when empty.
fn list(ids: &[&str]) -> String {
    const SHOWN: usize = 6;
    if ids.is_empty() {
        return "none".into();
    }
    let shown = ids
        .iter()
        .take(SHOWN)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    match ids.len().saturating_sub(SHOWN) {
        0 => shown,
        more => format!("{shown} and {more} more"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::ScenarioResult;

    fn result(id: &str, chapter: &str, outcome: Outcome) -> ScenarioResult {
        let yaml = format!("id: {id}\ntitle: t\nsteps:\n  - send: {{ text: a }}\n");
        let loaded = crate::load::parse_scenario(&format!("scenarios/{chapter}/a.yaml"), &yaml)
            .expect("a valid scenario");
        ScenarioResult::for_scenario(&loaded, outcome)
    }

    fn report(profile: Profile, results: Vec<ScenarioResult>) -> RunReport {
        RunReport {
            target: "ws://127.0.0.1:1/echo".into(),
            profile: profile.name().into(),
            results,
            cause: None,
            duration: Duration::ZERO,
            non_strict_points: Default::default(),
            shortcuts: Vec::new(),
        }
    }

    #[test]
    fn a_mutant_is_caught_only_by_failures_in_its_chapter() {
        let reports = [
            report(
                Profile::Echo,
                vec![
                    result("lengths.a", "03-lengths", Outcome::Pass),
                    result("frames.b", "02-frames", Outcome::Fail),
                    result("lengths.c", "03-lengths", Outcome::NonStrict),
                ],
            ),
            report(
                Profile::Chat,
                vec![result("frames.b", "02-frames", Outcome::Fail)],
            ),
        ];
        let elsewhere = Caught::from_reports("mutant:x", "masking", &reports);
        assert_eq!(
            elsewhere.failed.len(),
            2,
            "non-strict elsewhere is no failure"
        );
        assert!(!elsewhere.caught_in_chapter());
        let text = render_matrix(std::slice::from_ref(&elsewhere));
        assert!(text.contains("NOT CAUGHT"), "{text}");
        assert!(
            text.contains("other chapters: 1 scenario (frames.b)"),
            "{text}"
        );

        // A bug that is only a SHOULD is caught by a non-strict result in its chapter.
        let should = Caught::from_reports("mutant:z", "lengths", &reports[..1]);
        assert_eq!(should.in_chapter(), ["lengths.c"]);
        assert!(should.failed.iter().any(|f| f.non_strict));

        let reports = [report(
            Profile::Chat,
            vec![result("lengths.c", "03-lengths", Outcome::Error)],
        )];
        let caught = Caught::from_reports("mutant:y", "lengths", &reports);
        assert_eq!(caught.in_chapter(), ["lengths.c"]);
        assert_eq!(caught.failed[0].profile, Profile::Chat);
    }

    #[test]
    fn long_lists_are_cut() {
        let ids: Vec<String> = (0..10).map(|i| format!("s{i}")).collect();
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        assert_eq!(list(&refs), "s0, s1, s2, s3, s4, s5 and 4 more");
        assert_eq!(list(&[]), "none");
    }

    #[test]
    fn both_brackets_an_ipv6_host() {
        let [echo, chat] = Endpoint::both("[::1]:9001".parse().unwrap());
        assert_eq!(echo.target.url(), "ws://[::1]:9001/echo");
        assert_eq!(chat.target.authority(), "[::1]:9001");
        let [v4, _] = Endpoint::both("127.0.0.1:9001".parse().unwrap());
        assert_eq!(v4.target.url(), "ws://127.0.0.1:9001/echo");
    }
}

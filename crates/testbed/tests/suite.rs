//! The bundled suite, validated both ways.
//!
//! - The peer and the bug-free baseline pass every scenario, with both
//!   profiles (`/echo` with `echo`, `/socket` with `chat`).
//! - Every mutant fails at least one scenario, and (unless listed in
//!   [`AWAITING_SCENARIOS`]) one in the chapter of its bug.
//! - The matrix "server → scenarios it does not pass" is an insta snapshot,
//!   so any change in the suite's power shows up in review.
//!
//! Mutants run one scenario at a time (`-j 1`): a mutant that serves one
//! client at a time would otherwise fail whichever scenarios happen to
//! overlap, and the snapshot would change from run to run.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use wsconform_runner::load::{LoadedScenario, bundled};
use wsconform_runner::plan::{PlanSettings, Profile, Target};
use wsconform_runner::suite::run_suite;
use wsconform_runner::verdict::Outcome;
use wsconform_testbed::{Bug, Server, start};

/// Bugs the suite cannot yet catch *in their own chapter*, with what is
/// missing. They must still fail some scenario; the snapshot shows when a
/// new scenario catches them (then they belong off this list).
const AWAITING_SCENARIOS: [(Bug, &str); 0] = [];

/// Bugs whose effect on some scenarios depends on TCP timing: whether two
/// writes of the runner reach the server in one `read` or two is up to the
/// scheduler. Their snapshot lists only failures in their own chapter.
const TIMING_DEPENDENT: [Bug; 1] = [Bug::OneReadOneFrame];

/// Step deadline, as the command line's default.
const STEP_TIMEOUT: Duration = Duration::from_secs(2);

/// How many (server, profile) runs go on at the same time.
const RUNS_AT_ONCE: usize = 8;

/// Hang guard for the whole matrix. A hang guard, not a speed limit: the
/// matrix takes under two minutes on an idle two-core machine, and the
/// chapters before concurrency run one scenario at a time, so a busy
/// machine needs the margin.
const WHOLE_RUN: Duration = Duration::from_secs(420);

/// One scenario's outcome: (id, chapter without its number, outcome).
type Row = (String, String, Outcome);

/// Runs the bundled suite against `server` with `profile`.
async fn run(
    scenarios: Arc<Vec<LoadedScenario>>,
    server: Server,
    profile: Profile,
    jobs: usize,
) -> Vec<Row> {
    let (addr, handle) = start(server, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("the server starts");
    let path = match profile {
        Profile::Echo => "/echo",
        Profile::Chat => "/socket",
    };
    let settings = PlanSettings {
        target: Target {
            host: addr.ip().to_string(),
            port: addr.port(),
            path: path.to_owned(),
        },
        profile,
        timeout: STEP_TIMEOUT,
        run_id: 1,
    };
    let report = run_suite(&scenarios, &settings, jobs, |_| {}).await;
    handle.shutdown().await;
    report
        .results
        .into_iter()
        .map(|r| {
            let chapter = wsconform_runner::chapter::name(&r.chapter);
            (r.id.clone(), chapter.to_owned(), r.outcome)
        })
        .collect()
}

/// The rows that are not a pass or a skip, as (chapter, `id` or
/// `id (outcome)`), sorted by id.
fn not_passed<'a>(rows: &'a [Row], only_chapter: Option<&str>) -> Vec<(&'a str, String)> {
    let mut failed: Vec<(&str, String)> = rows
        .iter()
        .filter(|(_, chapter, _)| only_chapter.is_none_or(|c| c == chapter))
        .filter(|(_, _, outcome)| !matches!(outcome, Outcome::Pass | Outcome::Skip))
        .map(|(id, chapter, outcome)| {
            let label = match outcome {
                Outcome::Fail => id.clone(),
                other => format!("{id} ({})", other.word()),
            };
            (chapter.as_str(), label)
        })
        .collect();
    failed.sort_by(|a, b| a.1.cmp(&b.1));
    failed
}

/// One server's part of the matrix, readable in a diff: a table of the
/// chapters where it fails scenarios, with the count per profile, then one
/// line per failed scenario of `listed_chapter` (every chapter when `None`)
/// with the profiles it fails under.
fn matrix_entry(
    echo: &[(&str, String)],
    chat: &[(&str, String)],
    listed_chapter: Option<&str>,
) -> String {
    let mut out = String::new();
    if echo.is_empty() && chat.is_empty() {
        let _ = writeln!(out, "  fails nothing");
        return out;
    }
    // Chapters by name, so that the table's order does not depend on the run.
    let mut chapters: Vec<&str> = Vec::new();
    for (chapter, _) in echo.iter().chain(chat) {
        if !chapters.contains(chapter) {
            chapters.push(chapter);
        }
    }
    chapters.sort();
    let _ = writeln!(
        out,
        "  {:<24}{:>6}{:>6}",
        "failed per chapter", "echo", "chat"
    );
    for chapter in &chapters {
        let count = |list: &[(&str, String)]| list.iter().filter(|(c, _)| c == chapter).count();
        let _ = writeln!(out, "    {chapter:<22}{:>6}{:>6}", count(echo), count(chat));
    }
    let mut labels: Vec<&str> = Vec::new();
    for (chapter, label) in echo.iter().chain(chat) {
        if listed_chapter.is_none_or(|c| c == *chapter) && !labels.contains(&label.as_str()) {
            labels.push(label);
        }
    }
    labels.sort();
    match listed_chapter {
        Some(chapter) => {
            let _ = writeln!(out, "  failed in {chapter}:");
        }
        None => {
            let _ = writeln!(out, "  failed:");
        }
    }
    for label in labels {
        let under = |list: &[(&str, String)]| list.iter().any(|(_, l)| l == label);
        let profiles: Vec<&str> = [("echo", under(echo)), ("chat", under(chat))]
            .into_iter()
            .filter_map(|(name, failed)| failed.then_some(name))
            .collect();
        let _ = writeln!(out, "    {label:<56} {}", profiles.join(" "));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_suite_passes_correct_servers_and_catches_every_mutant() {
    let scenarios = Arc::new(bundled().expect("the bundled suite loads"));
    let mut servers = vec![(Server::Peer, 4), (Server::Mutant(None), 4)];
    servers.extend(Bug::ALL.map(|bug| (Server::Mutant(Some(bug)), 1)));

    // At most RUNS_AT_ONCE runs share the test's two worker threads: with all
    // 32 at once (floods included) a starved server can miss a 2 s step
    // deadline, and the snapshot would change from run to run.
    let at_once = Arc::new(tokio::sync::Semaphore::new(RUNS_AT_ONCE));
    let mut runs = JoinSet::new();
    for (server, jobs) in servers.iter().copied() {
        for profile in [Profile::Echo, Profile::Chat] {
            let scenarios = Arc::clone(&scenarios);
            let at_once = Arc::clone(&at_once);
            runs.spawn(async move {
                let _permit = at_once.acquire_owned().await;
                let rows = run(scenarios, server, profile, jobs).await;
                (server, profile, rows)
            });
        }
    }
    let finished = tokio::time::timeout(WHOLE_RUN, runs.join_all())
        .await
        .expect("the whole matrix runs within its hang guard");
    let rows_of = |server: Server, profile: Profile| -> &Vec<Row> {
        finished
            .iter()
            .find(|(s, p, _)| *s == server && *p == profile)
            .map(|(_, _, rows)| rows)
            .expect("every run finished")
    };

    let mut matrix = String::new();
    for (server, _) in &servers {
        let bug = match server {
            Server::Mutant(Some(bug)) => Some(*bug),
            _ => None,
        };
        let own_chapter = bug.map(Bug::chapter);
        let heading = match bug {
            Some(bug) => format!("{} ({})", server.name(), bug.chapter()),
            None => server.name(),
        };
        let _ = writeln!(matrix, "{heading}:");
        let mut failed_any = false;
        let mut failed_in_chapter = false;
        let timing_dependent = bug.is_some_and(|b| TIMING_DEPENDENT.contains(&b));
        let shown_chapter = own_chapter.filter(|_| timing_dependent);
        let mut shown = Vec::new();
        for profile in [Profile::Echo, Profile::Chat] {
            let rows = rows_of(*server, profile);
            assert!(!rows.is_empty(), "{server} {}: no results", profile.name());
            for (id, chapter, outcome) in rows {
                let own = Some(chapter.as_str()) == own_chapter;
                // A bug that is only a SHOULD is caught by a non-strict
                // result in its own chapter.
                if *outcome == Outcome::Fail || (own && *outcome == Outcome::NonStrict) {
                    failed_any = true;
                    failed_in_chapter |= own;
                }
                match server {
                    // The reference behaviour of our own code: nothing less than pass.
                    Server::Mutant(None) => assert!(
                        matches!(outcome, Outcome::Pass | Outcome::Skip),
                        "the baseline mutant: {id} is {} with {}",
                        outcome.word(),
                        profile.name()
                    ),
                    // tungstenite may be lenient (non-strict), never wrong. Where it
                    // is (the snapshot's `peer:` lines show the list):
                    // - text-utf8.fail-fast-in-frame, text-utf8.fail-fast-in-frame-one-byte:
                    //   tungstenite checks a text frame's UTF-8 once the frame is
                    //   complete, so a bad byte early in a frame fails the connection
                    //   only when the frame ends (allowed; failing fast is best).
                    Server::Peer => assert!(
                        matches!(outcome, Outcome::Pass | Outcome::Skip | Outcome::NonStrict),
                        "the peer: {id} is {} with {}",
                        outcome.word(),
                        profile.name()
                    ),
                    _ => {}
                }
            }
            shown.push(not_passed(rows, shown_chapter));
        }
        if timing_dependent {
            let _ = writeln!(
                matrix,
                "  (timing-dependent: only its own chapter is shown)"
            );
        }
        let _ = write!(
            matrix,
            "{}",
            matrix_entry(&shown[0], &shown[1], own_chapter)
        );
        if let Some(bug) = bug {
            assert!(failed_any, "the suite does not catch {bug} at all");
            let awaiting = AWAITING_SCENARIOS.iter().any(|(b, _)| *b == bug);
            assert!(
                failed_in_chapter || awaiting,
                "the suite catches {bug} only outside its chapter {}",
                bug.chapter()
            );
            let _ = writeln!(matrix, "  caught in its chapter: {failed_in_chapter}");
        }
    }
    insta::assert_snapshot!("matrix", matrix);
}

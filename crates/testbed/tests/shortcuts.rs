//! The suite's shortcuts change how long a run takes, never what it finds.
//!
//! - The proof of concurrency holds for servers that serve clients at once
//!   and for no other: not for a server that serves one client at a time,
//!   nor for one that answers nothing after its handshake.
//! - Every mutant and the partly stuck servers get the same outcome in
//!   every scenario with the shortcuts and without them.
//! - Against the slowest mutant and a server that stalls, the waits that run
//!   out (each a whole step deadline) are few once they run side by side:
//!   counted from the transcripts, never timed.
//! - The silence probe finds the servers that answer nothing after their
//!   handshake, and no other; against them every wait but the probe's is
//!   cut, and the waits a run spends one after the other stay within 15 s.
//! - A server that stops answering handshakes is noticed once, and the
//!   scenarios after that are not played (same outcomes, see above).

use std::net::SocketAddr;
use std::time::Duration;

use wsconform_runner::concurrent::serves_concurrently;
use wsconform_runner::load::{LoadedScenario, bundled};
use wsconform_runner::plan::{PlanSettings, Profile, Target};
use wsconform_runner::silence::{Silent, cut, probe};
use wsconform_runner::suite::{Shortcuts, run_suite_with, schedule};
use wsconform_runner::transcript::Event;
use wsconform_runner::verdict::Outcome;
use wsconform_testbed::{Bug, DoNothing, Server, Stuck, start};

/// Step deadline, as the command line's default.
const STEP_TIMEOUT: Duration = Duration::from_secs(2);
/// Scenarios at once when the schedule allows it (the command line's
/// default on two CPUs).
const JOBS: usize = 32;
/// A hang guard for one run, not a speed limit.
const ONE_RUN: Duration = Duration::from_secs(300);

fn settings(addr: SocketAddr) -> PlanSettings {
    PlanSettings {
        target: Target {
            host: addr.ip().to_string(),
            port: addr.port(),
            path: "/echo".to_owned(),
        },
        profile: Profile::Echo,
        timeout: STEP_TIMEOUT,
        run_id: 1,
    }
}

fn suite() -> Vec<LoadedScenario> {
    bundled().unwrap_or_else(|e| panic!("the bundled suite loads: {e:?}"))
}

fn chapter_of(s: &LoadedScenario, wanted: &str) -> bool {
    wsconform_runner::chapter::name(&s.chapter) == wanted
}

async fn started(server: Server) -> (SocketAddr, wsconform_testbed::ShutdownHandle) {
    start(server, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap_or_else(|e| panic!("{server} starts: {e}"))
}

/// The outcome of every scenario, by id.
async fn outcomes(
    server: Server,
    scenarios: &[LoadedScenario],
    shortcuts: Shortcuts,
) -> Vec<(String, Outcome)> {
    let (addr, handle) = started(server).await;
    let settings = settings(addr);
    let run = run_suite_with(scenarios, &settings, JOBS, shortcuts, |_| {});
    let report = tokio::time::timeout(ONE_RUN, run)
        .await
        .unwrap_or_else(|_| panic!("{server}: the run ended within its hang guard"));
    handle.shutdown().await;
    report
        .results
        .into_iter()
        .map(|r| (r.id, r.outcome))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proof_holds_only_for_servers_that_serve_clients_at_once() {
    let cases = [
        (Server::Mutant(None), true),
        (Server::Peer, true),
        (Server::Stuck(Stuck::StallAfter(1)), true),
        (Server::Mutant(Some(Bug::OneClientAtATime)), false),
        (Server::Stuck(Stuck::BlackHole), false),
    ];
    for (server, proven) in cases {
        let (addr, handle) = started(server).await;
        let got = tokio::time::timeout(ONE_RUN, serves_concurrently(&settings(addr)))
            .await
            .unwrap_or_else(|_| panic!("{server}: the proof ended within its hang guard"));
        handle.shutdown().await;
        assert_eq!(got, proven, "{server}: proven concurrent");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shortcuts_never_change_an_outcome() {
    let all = suite();
    // Each mutant on the chapters the shortcuts touch where its bug shows,
    // its own; the stuck servers on one early chapter (without shortcuts
    // their every wait runs out, one after the other).
    let mut cases: Vec<(Server, &str)> = Bug::ALL
        .into_iter()
        .filter(|bug| wsconform_runner::chapter::serves_one_at_a_time(bug.chapter()))
        .map(|bug| (Server::Mutant(Some(bug)), bug.chapter()))
        .collect();
    cases.push((Server::Mutant(None), "closing"));
    cases.push((Server::Stuck(Stuck::StallAfter(1)), "frames"));
    cases.push((Server::Stuck(Stuck::StallAfter(3)), "masking"));
    cases.push((Server::Stuck(Stuck::BlackHole), "masking"));
    cases.push((Server::Stuck(Stuck::OneAtATime), "masking"));
    cases.push((Server::Stuck(Stuck::RefuseOnly), "masking"));
    cases.push((Server::Stuck(Stuck::RefuseOnly), "ping-pong"));
    cases.push((Server::Stuck(Stuck::StopsAfterFirst), "handshake"));
    cases.push((Server::Stuck(Stuck::StopsAfterFirst), "frames"));
    for (server, chapter) in cases {
        let chosen: Vec<LoadedScenario> = all
            .iter()
            .filter(|s| chapter_of(s, chapter))
            .cloned()
            .collect();
        assert!(!chosen.is_empty(), "{chapter} has scenarios");
        let with = outcomes(server, &chosen, Shortcuts::On).await;
        let without = outcomes(server, &chosen, Shortcuts::Off).await;
        assert_eq!(with, without, "{server} on {chapter}: the same outcomes");
        if server == Server::Mutant(None) {
            assert!(with.iter().all(|(_, o)| o.is_ok()), "the baseline passes");
        } else {
            assert!(
                with.iter().any(|(_, o)| *o == Outcome::Fail),
                "{server} fails something in {chapter}"
            );
        }
    }
}

/// The step deadlines a run waits out one after the other: per batch of
/// the schedule, the scenarios' waits that ran out, spread over the
/// scenarios the batch runs at once.
fn waits_in_a_row(scenarios: &[LoadedScenario], results: &[u32], proven: bool) -> u32 {
    schedule(scenarios, JOBS, proven)
        .iter()
        .map(|batch| {
            let waits: u32 = batch.scenarios.iter().filter_map(|&i| results.get(i)).sum();
            let at_once = u32::try_from(batch.at_once).unwrap_or(1).max(1);
            waits.div_ceil(at_once)
        })
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_servers_wait_out_few_deadlines_in_a_row() {
    let all = suite();
    for server in [
        Server::Mutant(Some(Bug::OneReadOneFrame)),
        Server::Mutant(Some(Bug::FinIgnored)),
        Server::Stuck(Stuck::StallAfter(1)),
    ] {
        let (addr, handle) = started(server).await;
        let settings = settings(addr);
        let run = run_suite_with(&all, &settings, JOBS, Shortcuts::On, |_| {});
        let report = tokio::time::timeout(ONE_RUN, run)
            .await
            .unwrap_or_else(|_| panic!("{server}: the run ended within its hang guard"));
        handle.shutdown().await;
        let timed_out: Vec<u32> = report
            .results
            .iter()
            .map(|r| {
                let n = r
                    .transcript
                    .events
                    .iter()
                    .filter(|e| e.event == Event::TimedOut)
                    .count();
                u32::try_from(n).unwrap_or(u32::MAX)
            })
            .collect();
        let total: u32 = timed_out.iter().sum();
        let in_a_row = waits_in_a_row(&all, &timed_out, true);
        // 15 s of 2 s deadlines: seven in a row at most.
        assert!(
            in_a_row <= 7,
            "{server}: {in_a_row} deadlines waited out in a row ({total} in all)"
        );
        assert!(
            waits_in_a_row(&all, &timed_out, false) > in_a_row || total == 0,
            "{server}: without the proof the same waits would run one after the other"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_silence_probe_finds_only_silent_servers() {
    let at_once = Some(Silent {
        handshakes_at_once: true,
    });
    let cases = [
        (Server::Stuck(Stuck::BlackHole), at_once),
        (
            Server::Stuck(Stuck::OneAtATime),
            Some(Silent {
                handshakes_at_once: false,
            }),
        ),
        // Silent to valid frames: its refusals are judged after their twins.
        (Server::Stuck(Stuck::RefuseOnly), at_once),
        (Server::Stuck(Stuck::StallAfter(1)), None),
        (Server::Mutant(None), None),
        (Server::Mutant(Some(Bug::PingIgnored)), None),
        (Server::Mutant(Some(Bug::OneClientAtATime)), None),
        (Server::Peer, None),
        (Server::DoNothing(DoNothing::HangUp), None),
    ];
    for (server, expected) in cases {
        let (addr, handle) = started(server).await;
        let got = tokio::time::timeout(ONE_RUN, probe(&settings(addr), None))
            .await
            .unwrap_or_else(|_| panic!("{server}: the probe ended within its hang guard"));
        handle.shutdown().await;
        assert_eq!(got, expected, "{server}: silent");
    }
}

/// The waits that ran out in a run, by scenario: those of the full step
/// deadline, and those cut short for a silent server.
fn waits(report: &wsconform_runner::suite::RunReport) -> (Vec<u32>, Vec<u32>) {
    let count = |r: &wsconform_runner::verdict::ScenarioResult, cut: bool| {
        let n = r
            .transcript
            .lines
            .iter()
            .filter(|l| l.text.contains("timed out after") && l.text.contains("(cut from") == cut)
            .count();
        u32::try_from(n).unwrap_or(u32::MAX)
    };
    (
        report.results.iter().map(|r| count(r, false)).collect(),
        report.results.iter().map(|r| count(r, true)).collect(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_servers_cost_seconds_not_minutes() {
    let all = suite();
    for (server, at_once) in [
        (Server::Stuck(Stuck::BlackHole), true),
        (Server::Stuck(Stuck::OneAtATime), false),
    ] {
        let (addr, handle) = started(server).await;
        let settings = settings(addr);
        let run = run_suite_with(&all, &settings, JOBS, Shortcuts::On, |_| {});
        let report = tokio::time::timeout(ONE_RUN, run)
            .await
            .unwrap_or_else(|_| panic!("{server}: the run ended within its hang guard"));
        handle.shutdown().await;
        assert_eq!(report.shortcuts.len(), 1, "{server}: the report says why");
        let (full, short) = waits(&report);
        let full_in_a_row = waits_in_a_row(&all, &full, at_once);
        let short_in_a_row = waits_in_a_row(&all, &short, at_once);
        assert!(
            short.iter().sum::<u32>() > 300,
            "{server}: the scenarios wait, cut short"
        );
        // The probes' waits and the run's: within 15 s of waiting in a row
        // (handshakes refused for want of a free server count as full).
        let waited = STEP_TIMEOUT * (full_in_a_row + 2) + cut(STEP_TIMEOUT) * short_in_a_row;
        assert!(
            waited <= Duration::from_secs(15),
            "{server}: {waited:?} of waits in a row ({full_in_a_row} full, {short_in_a_row} cut)"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_stops_answering_is_noticed_once() {
    let all = suite();
    let server = Server::Stuck(Stuck::StopsAfterFirst);
    let (addr, handle) = started(server).await;
    let settings = settings(addr);
    let run = run_suite_with(&all, &settings, JOBS, Shortcuts::On, |_| {});
    let report = tokio::time::timeout(ONE_RUN, run)
        .await
        .unwrap_or_else(|_| panic!("{server}: the run ended within its hang guard"));
    handle.shutdown().await;
    assert_eq!(report.shortcuts.len(), 1, "the report says why");
    assert!(
        report
            .shortcuts
            .iter()
            .all(|s| s.contains("stopped answering")),
        "{:?}",
        report.shortcuts
    );
    // Noticed before the scenarios (its preflight was answered, the proof's
    // handshake was not): no scenario waits a whole deadline.
    let full = seconds_text(STEP_TIMEOUT);
    let waited_in_full: Vec<&str> = report
        .results
        .iter()
        .filter(|r| {
            r.message.contains(&format!("after {full}"))
                || r.message.contains(&format!("within {full}"))
        })
        .map(|r| r.id.as_str())
        .collect();
    assert!(
        waited_in_full.is_empty(),
        "waited in full: {waited_in_full:?}"
    );
    assert!(
        report
            .results
            .iter()
            .all(|r| r.outcome != Outcome::Pass || r.id == "handshake.version-8"),
        "a server that stopped passes nothing that needs its answer"
    );
}

/// A deadline as the reports write it.
fn seconds_text(d: Duration) -> String {
    wsconform_runner::exec::describe::seconds(d)
}

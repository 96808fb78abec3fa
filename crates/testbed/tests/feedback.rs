//! What the runner tells a learner about the mutants' classic bugs: the
//! known-bug detectors name the bug, failures with one cause are shown
//! once, and `--max-failures` keeps a long run short. Each report is a
//! snapshot (timings off, the port normalised).

use std::time::Duration;

use wsconform_runner::load::bundled;
use wsconform_runner::plan::{PlanSettings, Profile, Target};
use wsconform_runner::report::human::{HumanOptions, render_limited};
use wsconform_runner::suite::run_suite;
use wsconform_testbed::{Bug, start_mutant};

/// The human report of the bundled scenarios `ids` (or of `chapter`)
/// against the mutant with `bug`, showing at most `max_failures` causes.
async fn report(
    bug: Bug,
    ids: &[&str],
    chapter: Option<&str>,
    max_failures: Option<usize>,
) -> String {
    let (addr, _server) = start_mutant(Some(bug)).await.expect("the mutant starts");
    let scenarios: Vec<_> = bundled()
        .expect("the bundled suite loads")
        .into_iter()
        .filter(|s| ids.contains(&s.scenario.id.as_str()) || chapter == Some(s.chapter.as_str()))
        .collect();
    assert!(!scenarios.is_empty());
    let settings = PlanSettings {
        target: Target::parse(&format!("ws://{addr}/echo")).expect("a valid target"),
        profile: Profile::Echo,
        timeout: Duration::from_secs(1),
        run_id: 1,
    };
    let report = tokio::time::timeout(
        Duration::from_secs(120),
        run_suite(&scenarios, &settings, 1, |_| {}),
    )
    .await
    .expect("the run ends");
    let opts = HumanOptions {
        color: false,
        timings: false,
    };
    render_limited(&report, opts, max_failures).replace(&addr.to_string(), "127.0.0.1:PORT")
}

#[tokio::test]
async fn a_length_read_or_written_little_endian_is_named() {
    let read = report(
        Bug::LittleEndianLength,
        &["lengths.16bit-126", "lengths.round-trips-binary-256"],
        None,
        Some(1),
    )
    .await;
    let written = report(Bug::WrongLongLength, &["lengths.16bit-126"], None, None).await;
    assert!(
        read.contains(
            "Likely cause: the server went quiet after a frame whose 16-bit length is 126 (00 7e)"
        ),
        "{read}"
    );
    assert!(read.contains("not shown: raise --max-failures"), "{read}");
    assert!(read.contains("Fix this first"), "{read}");
    assert!(read.contains("read little-endian that is 1 —"), "{read}");
    assert!(
        written
            .contains("an incomplete frame: the header announces 32256 payload bytes, 126 present"),
        "{written}"
    );
    assert!(
        written.contains("The 16-bit length is written little-endian"),
        "{written}"
    );
    insta::assert_snapshot!("little_endian", format!("{read}\n----\n{written}"));
}

#[tokio::test]
async fn one_frame_per_read_is_named() {
    let text = report(
        Bug::OneReadOneFrame,
        &[
            "frames.two-frames-in-one-write",
            "frames.reserved-opcode-5-after-message",
        ],
        None,
        None,
    )
    .await;
    assert!(
        text.contains("the server handles one frame per read"),
        "{text}"
    );
    insta::assert_snapshot!("one_frame_per_read", text);
}

#[tokio::test]
async fn failures_with_one_cause_are_shown_once() {
    let text = report(Bug::CloseNotAnswered, &[], Some("08-closing"), Some(3)).await;
    assert!(
        text.contains("scenarios fail the same way: the server closed the TCP connection"),
        "{text}"
    );
    assert_eq!(
        text.matches("Expected (step").count(),
        text.matches("fail the same way").count().max(1),
        "{text}"
    );
    insta::assert_snapshot!("grouped_closing", text);
}

/// The human report of the chapter `chapter` against `server`, with the
/// command line's defaults (2 s deadlines, 32 scenarios at once).
async fn report_of(server: wsconform_testbed::Server, chapter: &str) -> String {
    let (addr, handle) =
        wsconform_testbed::start(server, std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("the server starts");
    let scenarios: Vec<_> = bundled()
        .expect("the bundled suite loads")
        .into_iter()
        .filter(|s| wsconform_runner::chapter::matches(&s.chapter, chapter))
        .collect();
    let settings = PlanSettings {
        target: Target::parse(&format!("ws://{addr}/echo")).expect("a valid target"),
        profile: Profile::Echo,
        timeout: Duration::from_secs(2),
        run_id: 1,
    };
    let report = tokio::time::timeout(
        Duration::from_secs(120),
        run_suite(&scenarios, &settings, 32, |_| {}),
    )
    .await
    .expect("the run ends");
    handle.shutdown().await;
    let opts = HumanOptions {
        color: false,
        timings: false,
    };
    render_limited(&report, opts, Some(1)).replace(&addr.to_string(), "127.0.0.1:PORT")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_or_stopped_server_is_told_once_why_the_waits_were_short() {
    use wsconform_testbed::{Server, Stuck};
    let silent = report_of(Server::Stuck(Stuck::BlackHole), "masking").await;
    let stopped = report_of(Server::Stuck(Stuck::StopsAfterFirst), "masking").await;
    assert!(
        silent.contains("! the server answered nothing after its opening handshake"),
        "{silent}"
    );
    assert!(
        silent.contains(
            "(cut from 2 s: the server answered nothing after its handshake in the silence probe)"
        ),
        "{silent}"
    );
    assert!(
        stopped.contains(
            "! the server stopped answering opening handshakes after the preflight handshake"
        ),
        "{stopped}"
    );
    insta::assert_snapshot!("silent_and_stopped", format!("{silent}\n----\n{stopped}"));
}

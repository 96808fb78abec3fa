//! The runner against scripted servers: correct, buggy and hostile. Every
//! run must end within its deadlines with a clear verdict.

mod support;

use std::time::Duration;

use support::{
    Behaviour, Bugs, Fault, assert_contains, only, plain_human, read_handshake, serve, starter,
};
use wsconform_runner::plan::{PlanSettings, Profile};
use wsconform_runner::suite::{RunReport, Selection, run_suite};
use wsconform_runner::verdict::{Outcome, ScenarioResult};

/// The settings of every run here: `/echo`, deadlines of 1.5 s.
fn settings(addr: std::net::SocketAddr, profile: Profile) -> PlanSettings {
    support::settings(addr, "/echo", profile, Duration::from_millis(1500), 1)
}

async fn run(behaviour: Behaviour, profile: Profile, selection: Selection) -> RunReport {
    let addr = serve(behaviour).await;
    let all = starter();
    let chosen: Vec<_> = all.into_iter().filter(|s| selection.selects(s)).collect();
    assert!(
        !chosen.is_empty(),
        "the selection matches no bundled scenario"
    );
    let settings = settings(addr, profile);
    // Hang guard only: the runner's own deadlines must end the run long before.
    tokio::time::timeout(
        Duration::from_secs(120),
        run_suite(&chosen, &settings, 4, |_| {}),
    )
    .await
    .expect("the run did not end")
}

fn result<'a>(report: &'a RunReport, id: &str) -> &'a ScenarioResult {
    report
        .results
        .iter()
        .find(|r| r.id == id)
        .unwrap_or_else(|| panic!("no result for {id}"))
}

fn outcome(report: &RunReport, id: &str) -> Outcome {
    result(report, id).outcome
}

fn failing(report: &RunReport) -> Vec<String> {
    report
        .results
        .iter()
        .filter(|r| !r.outcome.is_ok())
        .map(|r| format!("{} ({}): {}", r.id, r.outcome.word(), r.message))
        .collect()
}

#[tokio::test]
async fn a_correct_echo_server_passes_everything() {
    let report = run(
        Behaviour::Echo(Bugs::default()),
        Profile::Echo,
        Selection::default(),
    )
    .await;
    assert!(report.passed(), "failures: {:#?}", failing(&report));
    assert!(report.cause.is_none());
    assert_eq!(outcome(&report, "chat.broadcast"), Outcome::Skip);
    assert_eq!(outcome(&report, "lengths.64bit-65536"), Outcome::Pass);
}

fn print(report: &RunReport) {
    println!("{}", plain_human(report));
}

#[tokio::test]
async fn non_minimal_lengths_are_caught_with_a_caret() {
    let bugs = Bugs::of(&[Fault::NonMinimalLengths]);
    let report = run(Behaviour::Echo(bugs), Profile::Echo, Selection::default()).await;
    print(&report);
    assert_eq!(outcome(&report, "frames.text-hello"), Outcome::Fail);
    let r = result(&report, "frames.text-hello");
    let f = r.failure.as_ref().unwrap();
    assert!(f.rule.as_ref().unwrap().contains("minimal number of bytes"));
    assert_eq!(f.caret.unwrap().byte, 1);
}

#[tokio::test]
async fn buggy_servers_fail_the_matching_scenarios() {
    let cases = [
        (Fault::MaskFrames, "frames.text-hello"),
        (Fault::IgnorePing, "ping-pong.echo-payload"),
        (Fault::TruncateLong, "lengths.16bit-126"),
        (Fault::WrongAccept, "handshake.accept-key"),
    ];
    for (fault, id) in cases {
        let bugs = Bugs::of(&[fault]);
        let report = run(Behaviour::Echo(bugs), Profile::Echo, Selection::default()).await;
        assert_eq!(
            outcome(&report, id),
            Outcome::Fail,
            "{bugs:?} should fail {id}: {:#?}",
            failing(&report)
        );
        assert!(!report.passed());
    }
}

#[tokio::test]
async fn a_wrong_accept_key_is_reported_once_as_the_cause() {
    let bugs = Bugs::of(&[Fault::WrongAccept]);
    let report = run(Behaviour::Echo(bugs), Profile::Echo, Selection::default()).await;
    print(&report);
    let cause = report.cause.as_ref().expect("a shared cause");
    assert_contains(&cause.message, "opening handshake failed");
    let prerequisite = report
        .results
        .iter()
        .filter(|r| r.failure.as_ref().is_some_and(|f| f.prerequisite))
        .count();
    assert!(
        prerequisite > 10,
        "only {prerequisite} scenarios name the handshake as cause"
    );
    // Scenarios with their own handshake still ran on their own terms.
    assert_eq!(outcome(&report, "handshake.missing-key"), Outcome::Pass);
}

async fn hostile(behaviour: Behaviour) -> RunReport {
    let selection = only(&[
        "frames.text-hello",
        "ping-pong.echo-payload",
        "handshake.bad-version",
    ]);
    let report = run(behaviour, Profile::Echo, selection).await;
    print(&report);
    assert!(!report.passed(), "{behaviour:?} passed");
    for r in report.results.iter().filter(|r| !r.outcome.is_ok()) {
        assert!(!r.message.is_empty(), "{} has no message", r.id);
    }
    report
}

#[tokio::test]
async fn a_silent_server_times_out_with_what_was_awaited() {
    let report = hostile(Behaviour::Silent).await;
    let cause = report.cause.unwrap();
    assert_contains(&cause.message, "timed out after");
}

#[tokio::test]
async fn endless_bytes_are_bounded() {
    let report = hostile(Behaviour::Endless).await;
    let r = result(&report, "frames.text-hello");
    assert_eq!(r.outcome, Outcome::Fail);
    assert_contains(&r.message, "more than the runner accepts");
}

#[tokio::test]
async fn garbage_is_an_unreadable_response() {
    let report = hostile(Behaviour::Garbage).await;
    assert!(
        report
            .cause
            .unwrap()
            .message
            .contains("unreadable handshake response")
    );
}

#[tokio::test]
async fn a_reset_mid_frame_is_reported() {
    let report = hostile(Behaviour::ResetMidFrame).await;
    let r = result(&report, "frames.text-hello");
    assert_eq!(r.outcome, Outcome::Fail);
    let text: Vec<&str> = r.transcript.lines.iter().map(|l| l.text.as_str()).collect();
    assert!(
        text.iter()
            .any(|t| t.contains("only 2 of 5 payload bytes present")),
        "{text:?}"
    );
}

#[tokio::test]
async fn a_slow_server_times_out() {
    let report = hostile(Behaviour::Slow).await;
    assert!(report.cause.unwrap().message.contains("timed out"));
}

#[tokio::test]
async fn closing_before_the_handshake_is_reported() {
    let report = hostile(Behaviour::CloseBeforeHandshake).await;
    let message = report.cause.unwrap().message;
    assert!(
        message.contains("closed the TCP connection") || message.contains("connection broke"),
        "{message}"
    );
}

#[tokio::test]
async fn an_unreachable_target_is_an_error_once() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let all = starter();
    let report = run_suite(&all, &settings(addr, Profile::Echo), 4, |_| {}).await;
    assert!(report.results.iter().all(|r| r.outcome == Outcome::Error));
    assert!(report.cause.unwrap().message.contains("cannot connect"));
}

#[tokio::test]
async fn a_chat_server_passes_in_the_chat_profile() {
    let report = run(Behaviour::Chat, Profile::Chat, Selection::default()).await;
    print(&report);
    assert!(report.passed(), "failures: {:#?}", failing(&report));
    assert_eq!(outcome(&report, "chat.broadcast"), Outcome::Pass);
    assert_eq!(outcome(&report, "lengths.binary-126"), Outcome::Skip);
}

#[tokio::test]
async fn chat_history_replayed_on_connect_is_skipped() {
    let report = run(
        Behaviour::ChatWithHistory,
        Profile::Chat,
        Selection::default(),
    )
    .await;
    assert!(report.passed(), "failures: {:#?}", failing(&report));
    assert_eq!(outcome(&report, "chat.broadcast"), Outcome::Pass);
    assert_eq!(outcome(&report, "frames.text-hello"), Outcome::Pass);
}

#[tokio::test]
async fn history_is_not_skipped_in_the_echo_profile() {
    let selection = only(&["frames.text-hello"]);
    let report = run(Behaviour::ChatWithHistory, Profile::Echo, selection).await;
    let r = &report.results[0];
    assert_eq!(r.outcome, Outcome::Fail);
    assert_contains(&r.message, "old message 0");
}

/// A ping whose pong is expected with another payload (non-strict), then an
/// echo, against a correct echo server.
async fn run_unmet_pong() -> wsconform_runner::verdict::ScenarioResult {
    use wsconform_runner::exec::run_scenario;
    use wsconform_runner::load::parse_scenario;
    let addr = serve(Behaviour::Echo(Bugs::default())).await;
    let scenario = parse_scenario(
        "scenarios/07-ping-pong/x.yaml",
        "id: x.non-strict\ntitle: t\npoints: 3\nsteps:\n  - send: { ping: x }\n  - expect: { pong: y, timeout: 300ms, otherwise: non-strict }\n  - send: { text: still here }\n  - expect: { echo: last }\n",
    )
    .unwrap();
    run_scenario(&scenario, &settings(addr, Profile::Echo)).await
}

#[tokio::test]
async fn an_unmet_non_strict_expectation_is_non_strict_and_earns_the_points() {
    let r = run_unmet_pong().await;
    assert_eq!(r.outcome, Outcome::NonStrict, "{}", r.message);
    assert_eq!(r.points, 3);
    assert!(
        r.message.contains("a pong with payload \"y\""),
        "{}",
        r.message
    );
    assert!(r.outcome.is_ok());
}

#[tokio::test]
async fn a_server_frame_claiming_2_to_the_64_bytes_is_a_clear_failure() {
    use tokio::io::AsyncWriteExt;
    use wsconform_runner::exec::run_scenario;
    use wsconform_runner::load::parse_scenario;
    // Accepts the handshake, then sends a header whose 64-bit length is all ones.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Some((response, _)) = read_handshake(&mut stream).await else {
                    return;
                };
                let _ = stream.write_all(&response).await;
                let _ = stream
                    .write_all(&[0x82, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])
                    .await;
                tokio::time::sleep(Duration::from_secs(5)).await;
            });
        }
    });
    let scenario = parse_scenario(
        "scenarios/02-frames/x.yaml",
        "id: x.huge\ntitle: t\nsteps:\n  - send: { text: hi }\n  - expect: { echo: last }\n",
    )
    .unwrap();
    let r = run_scenario(&scenario, &settings(addr, Profile::Echo)).await;
    assert_eq!(r.outcome, Outcome::Fail);
    let f = r.failure.unwrap();
    assert!(f.rule.unwrap().contains("most significant bit MUST be 0"));
    assert_eq!(f.caret.unwrap().byte, 2);
}

#[tokio::test]
async fn unsolicited_pongs_are_heartbeats_not_failures() {
    let bugs = Bugs::of(&[Fault::HeartbeatPong]);
    let report = run(Behaviour::Echo(bugs), Profile::Echo, Selection::default()).await;
    assert!(report.passed(), "failures: {:#?}", failing(&report));
}

#[tokio::test]
async fn the_transcript_holds_the_events_the_judge_decided_on() {
    use wsconform_runner::exec::judge::{Before, ConnState, Progress, judge};
    use wsconform_runner::plan::Expected;
    use wsconform_runner::scenario::DataKind;
    use wsconform_runner::transcript::Event;
    let r = run_unmet_pong().await;
    assert_eq!(r.outcome, Outcome::NonStrict, "{}", r.message);
    let events: Vec<Event> = r
        .transcript
        .events
        .iter()
        .map(|recorded| recorded.event.clone())
        .collect();
    let echoed = Event::Message {
        kind: DataKind::Text,
        bytes: b"still here".to_vec(),
    };
    assert_eq!(events, [Event::Pong(b"x".to_vec()), echoed]);
    // Judged again from the transcript alone, each step decides the same.
    let conn = ConnState::new("unused");
    let before = Before {
        client: "client",
        conn: Some(&conn),
        nonces: None,
        timeout: Duration::from_millis(300),
    };
    let pong_y = Expected::Pong(b"y".to_vec());
    assert!(matches!(
        judge(&pong_y, before, &events[..1]),
        Progress::Unmet(_)
    ));
    let echo = Expected::Message {
        kind: Some(DataKind::Text),
        bytes: Some(b"still here".to_vec()),
    };
    assert_eq!(judge(&echo, before, &events[1..]), Progress::Met);
}

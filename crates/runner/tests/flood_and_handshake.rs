//! The `flood` step and the handshake's `chunks`, `pause` and `then`,
//! played against the reference server in-process: what passes against a
//! correct server, and what a flood says when messages go missing.

mod support;

use std::time::Duration;

use support::{assert_contains, settings};
use wsconform_runner::exec::run_scenario;
use wsconform_runner::load::parse_scenario;
use wsconform_runner::plan::Profile;
use wsconform_runner::transcript::Direction;
use wsconform_runner::verdict::{Outcome, ScenarioResult};
use wsconform_server::{Config, RunningServer, spawn};

/// Starts the reference server on a free port; it stops when the handle is
/// dropped at the end of the test.
async fn reference_server() -> RunningServer {
    spawn(Config::ephemeral()).await.unwrap()
}

async fn play(
    addr: std::net::SocketAddr,
    path: &str,
    profile: Profile,
    timeout: Duration,
    yaml: &str,
) -> ScenarioResult {
    let scenario = parse_scenario("scenarios/09-concurrency/t.yaml", yaml).unwrap();
    run_scenario(&scenario, &settings(addr, path, profile, timeout, 11)).await
}

/// The transcript's lines (frames, HTTP heads, notes) as one text.
fn lines(r: &ScenarioResult) -> String {
    let texts: Vec<&str> = r.transcript.lines.iter().map(|l| l.text.as_str()).collect();
    texts.join("\n")
}

/// Everything the server sent, as text.
fn received(r: &ScenarioResult) -> String {
    let bytes: Vec<u8> = r
        .transcript
        .io
        .iter()
        .filter(|c| c.direction == Direction::Received)
        .flat_map(|c| c.bytes.iter().copied())
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

#[tokio::test]
async fn a_flood_passes_a_correct_server_in_both_profiles() {
    let server = reference_server().await;
    let addr = server.local_addr();
    let yaml = "id: t\ntitle: t\nsteps:\n  - flood: { clients: 4, messages: 25, size: 100 }\n";
    for (path, profile) in [("/socket", Profile::Chat), ("/echo", Profile::Echo)] {
        let r = play(addr, path, profile, Duration::from_secs(2), yaml).await;
        assert_eq!(r.outcome, Outcome::Pass, "{profile:?}: {}", r.message);
        let text = lines(&r);
        let delivered = match profile {
            Profile::Chat => "400 delivered",
            Profile::Echo => "100 delivered",
        };
        assert!(text.contains(delivered), "{profile:?}: {text}");
    }
}

#[tokio::test]
async fn a_flood_names_the_first_message_that_never_arrived() {
    let server = reference_server().await;
    let addr = server.local_addr();
    // Chat messages sent to an echo endpoint only come back to their sender:
    // every other sender's messages are missing.
    let yaml = "id: t\ntitle: t\nsteps:\n  - flood: { clients: 2, messages: 3 }\n";
    let r = play(
        addr,
        "/echo",
        Profile::Chat,
        Duration::from_millis(300),
        yaml,
    )
    .await;
    assert_eq!(r.outcome, Outcome::Fail, "{}", r.message);
    let failure = r.failure.expect("a failure");
    assert!(failure.client.starts_with("flood-"), "{failure:?}");
    assert!(
        failure.actual.contains("received 3 of 6 messages")
            && failure
                .actual
                .contains("first missing: message 1 of flood-"),
        "{}",
        failure.actual
    );
    assert_contains(&failure.expected, "every client");
}

#[tokio::test]
async fn a_handshake_can_trickle_or_carry_the_first_message() {
    let server = reference_server().await;
    let addr = server.local_addr();
    let yaml = r#"id: t
title: t
steps:
  - as: slow
    handshake: { chunks: 7, pause: 1ms }
  - as: slow
    send: { text: after a slow request }
  - as: slow
    expect: { echo: last }
  - as: eager
    handshake: { then: { text: "with the request" } }
  - as: eager
    expect: { echo: last }
  - as: sample
    handshake:
      headers: { Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ== }
  - as: sample
    expect: accepted
"#;
    for (path, profile) in [("/echo", Profile::Echo), ("/socket", Profile::Chat)] {
        let r = play(addr, path, profile, Duration::from_secs(2), yaml).await;
        assert_eq!(r.outcome, Outcome::Pass, "{profile:?}: {}", r.message);
        let text = lines(&r);
        assert!(text.contains("pieces"), "{text}");
        let answers = received(&r);
        assert!(
            answers.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
            "{answers}"
        );
    }
}

#[tokio::test]
async fn floods_beyond_the_limits_are_invalid_scenarios() {
    let server = reference_server().await;
    let addr = server.local_addr();
    let yaml = "id: t\ntitle: t\nsteps:\n  - flood: { clients: 500, messages: 1 }\n";
    let r = play(addr, "/socket", Profile::Chat, Duration::from_secs(1), yaml).await;
    assert_eq!(r.outcome, Outcome::Error);
    assert_contains(&r.message, "at most 200 clients");
}

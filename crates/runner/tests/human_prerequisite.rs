//! A failed default handshake is explained once: at the top when it is the
//! run's shared cause, or in the Failures block when only one scenario met it
//! (a second client refused while the first was served, say).

mod support;

use std::time::Duration;

use support::{Behaviour, Bugs, plain_human, serve, settings};
use wsconform_runner::load::parse_scenario;
use wsconform_runner::plan::Profile;
use wsconform_runner::suite::{Cause, run_suite};
use wsconform_runner::verdict::{Failure, Outcome, Strength};

const SCENARIO: &str = r#"
id: concurrency.two-clients
title: Two clients are served at once
rfc: "4.1"
hint: Give every connection its own task.
steps:
  - as: alice
    send: { text: hi }
  - as: alice
    expect: { echo: last }
"#;

#[tokio::test]
async fn a_prerequisite_failed_in_one_scenario_is_explained_in_failures() {
    let addr = serve(Behaviour::Echo(Bugs::default())).await;
    let scenario = parse_scenario("scenarios/09-concurrency/two.yaml", SCENARIO).unwrap();
    let settings = settings(addr, "/echo", Profile::Echo, Duration::from_secs(1), 1);
    let mut report = run_suite(&[scenario], &settings, 1, |_| {}).await;
    assert!(report.cause.is_none());
    // What the executor records when the second client's default handshake
    // times out: a failure marked as a prerequisite.
    let result = &mut report.results[0];
    result.outcome = Outcome::Fail;
    result.message = "timed out after 1 s waiting for the 101 response".into();
    result.failure = Some(Failure {
        step: None,
        client: "bob".into(),
        expected: "101 Switching Protocols".into(),
        actual: "nothing within 1 s".into(),
        rule: None,
        caret: None,
        prerequisite: true,
        strength: Strength::Must,
        reason: None,
    });
    let text = plain_human(&report);
    let failures = text.split("Failures").nth(1).unwrap_or_default();
    assert!(failures.contains("concurrency.two-clients"), "{text}");
    assert!(failures.contains("nothing within 1 s"), "{text}");

    // As the run's shared cause it is shown once at the top instead.
    let preflight = report.results[0].clone();
    report.cause = Some(Cause {
        message: "the opening handshake failed".into(),
        preflight,
    });
    let text = plain_human(&report);
    assert!(!text.contains("Failures"), "{text}");
}

//! Every report format of one fixed run is a snapshot: what a grader, a CI
//! system or a student's browser receives is part of the product.
//!
//! The run is real — five scenarios against a scripted echo server with two
//! bugs — so the transcripts are what the executor records. The scenarios
//! are written here rather than taken from the bundled suite, whose wording
//! grows on its own; these snapshots are about the formats. Two results are then added by hand for outcomes a
//! scripted server cannot produce on demand: an `error`, and a failure whose
//! transcript is full of hostile bytes (markup, control characters, XML and
//! YAML syntax) that every format must carry without breaking. Timings are
//! set to zero and the port is normalised, so the snapshots are stable.

mod support;

use std::time::Duration;

use support::{Behaviour, Bugs, Fault, serve, settings};
use wsconform_runner::load::{LoadedScenario, parse_scenario};
use wsconform_runner::plan::Profile;
use wsconform_runner::report::ReportFormat;
use wsconform_runner::suite::{RunReport, run_suite};
use wsconform_runner::transcript::{LineKind, Transcript};
use wsconform_runner::verdict::{Caret, Failure, Outcome, Strength, Twin};

const HOSTILE: &str = "<script>alert(1)</script> ]]> --> \"' & \u{1b}[31m\u{0}\u{7} # not a directive\n---\nkey: [value";

/// The scenarios of the fixed run: a pass, three failures (a non-minimal
/// length with a caret, a missing pong that times out, a refusal whose
/// valid twin is not handled), a non-strict one (a `should` not met, with
/// its reason) and a skip.
const FIXED: &[(&str, &str)] = &[
    (
        "scenarios/01-handshake/missing-key.yaml",
        r#"
id: handshake.missing-key
title: A handshake without Sec-WebSocket-Key is refused
rfc: "4.2.1"
tags: [handshake, refusal]
hint: Refuse the upgrade with 400 Bad Request when the key is missing.
steps:
  - handshake:
      headers: { Sec-WebSocket-Key: null }
  - expect: { refused: { status: [400] } }
"#,
    ),
    (
        "scenarios/03-lengths/16bit-126.yaml",
        r#"
id: lengths.16bit-126
title: A 126-byte text message uses the 16-bit length form
rfc: "5.2"
autobahn: "1.1.3"
tags: [framing, length]
hint: Lengths 126..=65535 are sent as 126 followed by a 16-bit big-endian length.
steps:
  - send: { text: { len: 126 } }
  - expect: { echo: last }
"#,
    ),
    (
        "scenarios/07-ping-pong/ping.yaml",
        r#"
id: ping-pong.echo-payload
title: A ping is answered by a pong with the same payload
rfc: "5.5.2"
autobahn: "2.2"
tags: [ping]
points: 2
hint: Answer opcode 0x9 with opcode 0xA carrying the same payload, right away.
steps:
  - send: { ping: "Hello, ping" }
  - expect: { pong: last }
"#,
    ),
    (
        "scenarios/07-ping-pong/pong-soon.yaml",
        r#"
id: ping-pong.pong-soon
title: A ping is answered soon (a SHOULD)
rfc: "5.5.2"
tags: [ping]
steps:
  - expect: { silence: 100ms }
  - send: { ping: "soon?" }
  - expect:
      pong: last
      strength: should
      reason: 'RFC 6455 5.5.2: "It SHOULD respond with Pong frame as soon as is practical."'
"#,
    ),
    (
        "scenarios/07-ping-pong/too-long.yaml",
        r#"
id: ping-pong.too-long
title: A ping with 126 bytes of payload fails the connection
rfc: "5.5"
tags: [ping]
hint: Control frames carry at most 125 bytes; fail the connection on a longer one.
steps:
  - send: { ping: { len: 126 } }
  - expect: { fail: [1002] }
"#,
    ),
    (
        "scenarios/09-chat/broadcast.yaml",
        r#"
id: chat.broadcast
title: A chat message is broadcast to every client, the sender included
rfc: "6.1"
tags: [chat]
profile: chat
points: 3
steps:
  - send: { text: "hello everyone" }
  - expect: { echo: last }
"#,
    ),
];

/// The fixed run, normalised.
async fn fixed_run() -> RunReport {
    let bugs = Bugs::of(&[Fault::NonMinimalLengths, Fault::IgnorePing]);
    let addr = serve(Behaviour::Echo(bugs)).await;
    let scenarios: Vec<LoadedScenario> = FIXED
        .iter()
        .map(|(path, yaml)| parse_scenario(path, yaml).unwrap())
        .collect();
    let settings = settings(addr, "/echo", Profile::Echo, Duration::from_secs(1), 1);
    let mut report = run_suite(&scenarios, &settings, 1, |_| {}).await;
    report.target = report.target.replace(&addr.to_string(), "127.0.0.1:PORT");
    // The request heads name the port too.
    for result in &mut report.results {
        for line in &mut result.transcript.lines {
            for header in &mut line.head {
                *header = header.replace(&addr.to_string(), "127.0.0.1:PORT");
            }
        }
    }

    let template = report
        .results
        .iter()
        .find(|r| r.id == "handshake.missing-key")
        .unwrap()
        .clone();

    let mut error = template.clone();
    error.id = "closing.normal".into();
    error.title = "A close frame is answered with a close frame".into();
    error.chapter = "08-closing".into();
    error.rfc = Some("5.5.1".into());
    error.tags = vec!["closing".into()];
    error.requirement = None;
    error.hint = None;
    error.outcome = Outcome::Error;
    error.points = 0;
    error.message = "cannot connect to 127.0.0.1:PORT: connection refused".into();
    error.transcript = Transcript::default();
    report.results.push(error);

    let mut hostile = template;
    hostile.id = "hardening.hostile-bytes".into();
    hostile.title = format!("A server that answers with {HOSTILE}");
    hostile.chapter = "11-hardening".into();
    hostile.rfc = Some("5.2".into());
    hostile.tags = vec!["hardening".into()];
    hostile.requirement = None;
    hostile.outcome = Outcome::Fail;
    hostile.points = 0;
    hostile.message = format!("expected a close frame; got {HOSTILE}");
    hostile.hint = Some(format!("Never echo {HOSTILE}"));
    let mut transcript = Transcript::default();
    transcript.note(Duration::ZERO, "client", HOSTILE);
    transcript.http(
        Duration::ZERO,
        "client",
        LineKind::Received,
        format!("HTTP/1.1 200 {HOSTILE}\r\n\r\n").as_bytes(),
    );
    let line = transcript.frames(
        Duration::ZERO,
        "client",
        LineKind::Received,
        b"\x81\x0d<b>\x1b]0;\x00</b>",
    );
    hostile.transcript = transcript;
    hostile.failure = Some(Failure {
        step: Some(0),
        client: "client".into(),
        expected: "a close frame".into(),
        actual: HOSTILE.into(),
        rule: None,
        caret: Some(Caret { line, byte: 2 }),
        prerequisite: false,
        strength: Strength::Must,
        reason: None,
    });
    report.results.push(hostile);

    report.duration = Duration::ZERO;
    for r in &mut report.results {
        r.duration = Duration::ZERO;
    }
    report
}

#[tokio::test]
async fn every_format_of_one_fixed_run() {
    let report = fixed_run().await;
    let outcomes: Vec<Outcome> = report.results.iter().map(|r| r.outcome).collect();
    assert_eq!(
        outcomes,
        [
            Outcome::Pass,
            Outcome::Fail,
            Outcome::Fail,
            Outcome::NonStrict,
            Outcome::Fail,
            Outcome::Skip,
            Outcome::Error,
            Outcome::Fail
        ],
        "the fixed run must cover every outcome the formats treat differently"
    );
    let twin = report
        .results
        .iter()
        .find(|r| r.id == "ping-pong.too-long")
        .map(|r| r.twin);
    assert_eq!(
        twin,
        Some(Twin::Failed),
        "the pong-less server fails the twin"
    );

    let gradescope = ReportFormat::Gradescope.render(&report);
    let junit = ReportFormat::Junit.render(&report);
    let tap = ReportFormat::Tap.render(&report);
    let html = ReportFormat::Html.render(&report);

    // Structure checks that would catch a broken document even if someone
    // accepted a bad snapshot.
    let doc: serde_json::Value = serde_json::from_str(&gradescope).unwrap();
    let tests = doc["tests"].as_array().unwrap();
    assert_eq!(tests.len(), 7, "skips are left out of Gradescope tests");
    assert_eq!(
        doc["score"], 2,
        "a non-strict result earns its points by default"
    );
    for t in tests {
        for field in [
            "name",
            "number",
            "score",
            "max_score",
            "status",
            "output",
            "tags",
            "visibility",
        ] {
            assert!(t.get(field).is_some(), "gradescope test without {field}");
        }
    }
    let failed = tests
        .iter()
        .find(|t| t["name"].as_str().unwrap().starts_with("lengths.16bit-126"))
        .unwrap();
    assert_eq!(failed["status"], "failed");
    let output = failed["output"].as_str().unwrap();
    assert!(output.contains("Transcript:") && output.contains("Hint:"));

    assert!(junit.contains("<testsuite name=\"03-lengths\""));
    assert!(junit.contains("classname=\"wsconform.03-lengths\""));
    assert!(junit.contains("<skipped"));
    assert!(junit.contains("<error"));
    assert!(!junit.contains("<script>"), "JUnit must escape markup");
    assert!(!junit.contains('\u{1b}') && !junit.contains('\u{0}'));

    // A non-strict result carries its strength and its reason in every format.
    let json = ReportFormat::Json.render(&report);
    let reason = "It SHOULD respond with Pong frame as soon as is practical.";
    for (name, text) in [
        ("gradescope", gradescope.replace("\\\"", "\"")),
        ("junit", junit.replace("&quot;", "\"")),
        ("tap", tap.clone()),
        ("html", html.replace("&quot;", "\"")),
        ("json", json.replace("\\\"", "\"")),
    ] {
        assert!(
            text.contains(reason),
            "{name} lacks the reason of the non-strict result"
        );
        assert!(text.contains("should"), "{name} lacks the strength");
    }
    assert!(tap.starts_with("TAP version 14\n1..8\n"));
    assert_eq!(tap.lines().filter(|l| l.starts_with("not ok ")).count(), 5);
    assert!(tap.contains("# SKIP"));
    for block in tap.split("  ---\n").skip(1) {
        let yaml: String = block
            .lines()
            .take_while(|l| *l != "  ...")
            .map(|l| format!("{}\n", l.strip_prefix("  ").unwrap()))
            .collect();
        let parsed: serde_yaml::Value = serde_yaml::from_str(&yaml)
            .unwrap_or_else(|e| panic!("a TAP diagnostic is not YAML: {e}\n{yaml}"));
        assert!(parsed["outcome"].is_string());
    }

    assert!(!html.contains("<script>alert"), "HTML must escape markup");
    assert!(!html.contains('\u{1b}') && !html.contains('\u{0}'));
    for r in &report.results {
        assert!(
            html.contains(&format!("data-id=\"{}\"", r.id)),
            "{} is missing from the HTML report",
            r.id
        );
    }
    assert!(!html.contains("http://") && !html.contains("src="));

    // Every format says why a refusal earned nothing.
    let json = ReportFormat::Json.render(&report);
    for (format, text) in [
        ("gradescope", &gradescope),
        ("junit", &junit),
        ("tap", &tap),
        ("html", &html),
        ("json", &json),
    ] {
        assert!(
            text.contains(Twin::FAILED_NOTE),
            "the {format} report does not say that the twin failed"
        );
    }
    assert!(json.contains("\"twin\": \"failed\""));

    insta::assert_snapshot!("gradescope", gradescope);
    insta::assert_snapshot!("junit", junit);
    insta::assert_snapshot!("tap", tap);
    insta::assert_snapshot!("html", html);
}

//! The load generator against the reference server, in-process: every mode
//! completes and counts what it should. (No speed is asserted: the machine
//! running the tests is shared and noisy.)

use std::time::Duration;

use wsconform_runner::bench::{
    LoadEndpoint, Mode, PayloadKind, Progress, Settings, StopCondition, run,
};
use wsconform_server::{Config, RunningServer, spawn};

/// Starts the reference server on a free port; it stops when the handle is
/// dropped at the end of the test.
async fn reference_server() -> RunningServer {
    spawn(Config::ephemeral()).await.unwrap()
}

fn settings(
    url: String,
    mode: Mode,
    connections: usize,
    size: usize,
    stop: StopCondition,
) -> Settings {
    Settings {
        connections,
        size,
        stop,
        mode,
        deadline: Duration::from_secs(30),
        ..Settings::new(LoadEndpoint::parse(&url).unwrap())
    }
}

#[tokio::test]
async fn echo_mode_counts_exact_round_trips() {
    let server = reference_server().await;
    let addr = server.local_addr();
    for size in [1, 64, 70_000] {
        let s = settings(
            format!("ws://{addr}/echo"),
            Mode::Echo,
            3,
            size,
            StopCondition::Count(60),
        );
        let report = run(&s, &|_| {}).await.unwrap();
        assert!(report.complete, "{report}");
        assert_eq!(report.messages, 60);
        assert_eq!(report.failed_connections, 0);
        assert!(report.latency.p50_us > 0.0);
        assert!(report.mb_per_sec > 0.0);
    }
}

#[tokio::test]
async fn echo_mode_with_a_duration_stops_on_time() {
    let server = reference_server().await;
    let addr = server.local_addr();
    let s = settings(
        format!("ws://{addr}/echo"),
        Mode::Echo,
        2,
        64,
        StopCondition::After(Duration::from_millis(200)),
    );
    let report = run(&s, &|_| {}).await.unwrap();
    assert!(report.complete, "{report}");
    assert!(report.messages > 0);
    // Stops after the duration plus at most the hang guard.
    assert!(report.seconds >= 0.2 && report.seconds < 10.0, "{report}");
}

#[tokio::test]
async fn chat_mode_delivers_every_message_to_every_client() {
    let server = reference_server().await;
    let addr = server.local_addr();
    let s = settings(
        format!("ws://{addr}/socket"),
        Mode::Chat,
        5,
        80,
        StopCondition::Count(40),
    );
    let report = run(&s, &|_| {}).await.unwrap();
    assert!(report.complete, "{report}");
    // 40 messages, each delivered to the 5 clients (the sender included).
    assert_eq!(report.messages, 200, "{report}");
}

#[tokio::test]
async fn idle_mode_reports_when_every_connection_is_open() {
    let server = reference_server().await;
    let addr = server.local_addr();
    let s = settings(
        format!("ws://{addr}/echo"),
        Mode::Idle,
        20,
        64,
        StopCondition::After(Duration::from_millis(50)),
    );
    let seen = std::sync::Mutex::new(Vec::new());
    let report = run(&s, &|progress| seen.lock().unwrap().push(progress))
        .await
        .unwrap();
    assert_eq!(*seen.lock().unwrap(), [Progress::Connected(20)]);
    assert_eq!(report.messages, 0);
    assert!(report.complete, "{report}");
}

#[tokio::test]
async fn a_wrong_path_fails_the_handshake_with_the_status() {
    let server = reference_server().await;
    let addr = server.local_addr();
    let s = settings(
        format!("ws://{addr}/nope"),
        Mode::Echo,
        1,
        64,
        StopCondition::Count(1),
    );
    let error = run(&s, &|_| {}).await.unwrap_err();
    assert!(error.to_string().contains("404"), "{error}");
}

#[tokio::test]
async fn compressed_echo_of_text_shrinks_on_the_wire_both_ways() {
    let server = reference_server().await;
    let addr = server.local_addr();
    let mut plain = settings(
        format!("ws://{addr}/echo"),
        Mode::Echo,
        2,
        16 * 1024,
        StopCondition::Count(20),
    );
    plain.payload = PayloadKind::Text;
    let compressed = Settings {
        deflate: true,
        ..plain.clone()
    };
    let plain = run(&plain, &|_| {}).await.unwrap();
    let compressed = run(&compressed, &|_| {}).await.unwrap();
    for report in [&plain, &compressed] {
        assert!(report.complete, "{report}");
        assert_eq!(report.messages, 20);
    }
    assert!(!plain.deflate && compressed.deflate);
    // 16 KiB plus a 4-byte header (and the 4-byte mask one way).
    assert_eq!(plain.wire_bytes_sent_per_message, 16.0 * 1024.0 + 8.0);
    assert_eq!(plain.wire_bytes_received_per_message, 16.0 * 1024.0 + 4.0);
    // Words of prose deflate to well under two thirds.
    let most = 16.0 * 1024.0 * 0.6;
    assert!(
        compressed.wire_bytes_sent_per_message < most,
        "{compressed}"
    );
    assert!(
        compressed.wire_bytes_received_per_message < most,
        "{compressed}"
    );
}

#[tokio::test]
async fn deflate_against_a_server_that_declines_is_an_error() {
    let server = spawn(Config {
        deflate: None,
        ..Config::ephemeral()
    })
    .await
    .unwrap();
    let mut s = settings(
        format!("ws://{}/echo", server.local_addr()),
        Mode::Echo,
        1,
        64,
        StopCondition::Count(1),
    );
    s.deflate = true;
    let error = run(&s, &|_| {}).await.unwrap_err();
    assert!(error.to_string().contains("declined"), "{error}");
}

#[tokio::test]
async fn idle_mode_warms_every_connection_up_before_it_reports_them() {
    let server = reference_server().await;
    let mut s = settings(
        format!("ws://{}/echo", server.local_addr()),
        Mode::Idle,
        4,
        1024,
        StopCondition::After(Duration::from_millis(100)),
    );
    s.deflate = true;
    s.warm_up = true;
    s.payload = PayloadKind::Text;
    let connected = std::sync::Mutex::new(0);
    let report = run(&s, &|Progress::Connected(n)| {
        *connected.lock().unwrap() = n;
    })
    .await
    .unwrap();
    assert!(report.complete, "{report}");
    assert_eq!(*connected.lock().unwrap(), 4);
    assert_eq!(report.messages, 0);
}

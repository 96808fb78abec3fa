//! The book's first server passes the bundled suite (echo profile).
//!
//! The chapters show it as the server a reader can write first; this test is
//! what makes that claim true. Scenarios that do not apply to an echo
//! server are skipped, and the fail-fast UTF-8 scenario may say
//! `non-strict`: both count as passes, as they do for `wsconform run`.

use std::net::TcpListener;
use std::time::Duration;

use wsconform_book::listings::first_server;
use wsconform_runner::load::bundled;
use wsconform_runner::plan::{PlanSettings, Profile, Target};
use wsconform_runner::suite::run_suite;
use wsconform_runner::verdict::Outcome;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_server_passes_the_suite() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let addr = listener.local_addr().expect("the bound address");
    // The server thread ends with the test process; its accept loop has no
    // stop button, like the listing it is.
    std::thread::spawn(move || first_server::serve(listener));

    let suite = bundled().expect("the bundled suite loads");
    let settings = PlanSettings {
        target: Target::parse(&format!("ws://{addr}/echo")).expect("a valid target"),
        profile: Profile::Echo,
        timeout: Duration::from_secs(2),
        run_id: 1,
    };
    // Hang guard only: every step has its own deadline.
    let report = tokio::time::timeout(
        Duration::from_secs(120),
        run_suite(&suite, &settings, 2, |_| {}),
    )
    .await
    .expect("the run ended");

    let failed: Vec<String> = report
        .results
        .iter()
        .filter(|r| !r.outcome.is_ok())
        .map(|r| format!("{} ({}): {}", r.id, r.outcome.word(), r.message))
        .collect();
    assert!(
        failed.is_empty(),
        "the first server fails:\n{}",
        failed.join("\n")
    );
    let passed = report
        .results
        .iter()
        .filter(|r| r.outcome == Outcome::Pass)
        .count();
    assert!(passed >= 20, "only {passed} scenarios really ran");
}

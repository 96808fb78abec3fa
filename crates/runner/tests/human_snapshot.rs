//! The learner's view of a failing run is a tested product: its text is a
//! snapshot. Timings are left out and the port is normalised; masks are
//! derived from the scenario ids, so the transcript is the same every run.

mod support;

use std::time::Duration;

use support::{Behaviour, Bugs, Fault, only, plain_human, serve, settings, starter};
use wsconform_runner::plan::Profile;
use wsconform_runner::report::json;
use wsconform_runner::suite::run_suite;

#[tokio::test]
async fn human_output_of_a_failing_run() {
    let bugs = Bugs::of(&[Fault::NonMinimalLengths, Fault::IgnorePing]);
    let addr = serve(Behaviour::Echo(bugs)).await;
    let selection = only(&[
        "handshake.missing-key",
        "lengths.16bit-126",
        "ping-pong.echo-payload",
    ]);
    let scenarios: Vec<_> = starter()
        .into_iter()
        .filter(|s| selection.selects(s))
        .collect();
    let settings = settings(addr, "/echo", Profile::Echo, Duration::from_secs(2), 1);
    let report = run_suite(&scenarios, &settings, 1, |_| {}).await;
    let text = plain_human(&report);
    let text = text.replace(&addr.to_string(), "127.0.0.1:PORT");
    insta::assert_snapshot!(text);

    // The JSON report of the same run carries the documented fields.
    let doc: serde_json::Value = serde_json::from_str(&json::render(&report)).unwrap();
    assert_eq!(doc["schema"], "wsconform-report/1");
    assert_eq!(
        doc["suite_version"],
        wsconform_runner::load::suite_version()
    );
    assert_ne!(doc["suite_version"], "unversioned");
    assert_eq!(doc["wsconform_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(doc["summary"]["total"], 3);
    assert_eq!(doc["summary"]["passed"], 1);
    assert_eq!(doc["summary"]["failed"], 2);
    assert_eq!(doc["summary"]["max_points"], 4);
    let failed = doc["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "lengths.16bit-126")
        .unwrap();
    for field in [
        "id",
        "title",
        "chapter",
        "tags",
        "outcome",
        "points",
        "max_points",
        "duration_ms",
        "message",
        "rfc",
        "autobahn",
    ] {
        assert!(failed.get(field).is_some(), "missing {field}");
    }
    assert_eq!(failed["outcome"], "fail");
    assert_eq!(failed["failure"]["step"], 2);
}

//! Doing nothing earns nothing: what the do-nothing servers score, pinned.
//!
//! A server that answers the opening handshake and hangs up "refuses" every
//! bad frame. The suite counts a refusal only when the server handles the
//! scenario's valid twin, so such a server earns the handshake chapter
//! (its handshake is right) and at most 2% of any other chapter. The
//! points of every do-nothing server per chapter and profile are an insta
//! snapshot, so any change in what a trick earns shows up in review.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use wsconform_runner::load::{LoadedScenario, bundled};
use wsconform_runner::plan::{PlanSettings, Profile, Target};
use wsconform_runner::suite::run_suite;
use wsconform_runner::verdict::Outcome;
use wsconform_testbed::{DoNothing, Server, start};

/// Step deadline, as the command line's default.
const STEP_TIMEOUT: Duration = Duration::from_secs(2);

/// Hang guard for all runs together (most steps end at once: the server
/// hangs up).
const WHOLE_RUN: Duration = Duration::from_secs(300);

/// The most a hang-up server may earn outside the handshake chapter, as a
/// share of each chapter's points.
const MAX_SHARE_OUTSIDE_HANDSHAKE: f64 = 0.02;

/// Points earned and available per chapter folder (`03-lengths`, so in
/// the course's order); skipped scenarios count in neither.
type Points = BTreeMap<String, (u32, u32)>;

async fn points(scenarios: Arc<Vec<LoadedScenario>>, kind: DoNothing, profile: Profile) -> Points {
    let (addr, handle) = start(
        Server::DoNothing(kind),
        SocketAddr::from(([127, 0, 0, 1], 0)),
    )
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
    let report = run_suite(&scenarios, &settings, 4, |_| {}).await;
    handle.shutdown().await;
    let mut points = Points::new();
    for r in report.results {
        if r.outcome == Outcome::Skip {
            continue;
        }
        let entry = points.entry(r.chapter.clone()).or_default();
        entry.0 += r.points;
        entry.1 += r.max_points;
    }
    points
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn do_nothing_servers_earn_the_handshake_chapter_and_almost_nothing_else() {
    let scenarios = Arc::new(bundled().expect("the bundled suite loads"));
    let mut runs = JoinSet::new();
    for kind in DoNothing::ALL {
        for profile in [Profile::Echo, Profile::Chat] {
            let scenarios = Arc::clone(&scenarios);
            runs.spawn(async move { (kind, profile, points(scenarios, kind, profile).await) });
        }
    }
    let finished = tokio::time::timeout(WHOLE_RUN, runs.join_all())
        .await
        .expect("the runs finish within their hang guard");
    let of = |kind: DoNothing, profile: Profile| -> &Points {
        finished
            .iter()
            .find(|(k, p, _)| *k == kind && *p == profile)
            .map(|(_, _, points)| points)
            .expect("every run finished")
    };

    let mut table = String::new();
    let _ = writeln!(
        table,
        "points earned / available per chapter (echo profile, chat profile)"
    );
    for kind in DoNothing::ALL {
        let _ = writeln!(table, "{kind}:");
        let (echo, chat) = (of(kind, Profile::Echo), of(kind, Profile::Chat));
        let mut total = [(0, 0), (0, 0)];
        let chapters: Vec<&String> = echo.keys().chain(chat.keys()).collect();
        let mut seen: Vec<&String> = Vec::new();
        for chapter in chapters {
            if seen.contains(&chapter) {
                continue;
            }
            seen.push(chapter);
        }
        seen.sort();
        for chapter in seen {
            let cell = |points: &Points, total: &mut (u32, u32)| match points.get(chapter) {
                Some((earned, max)) => {
                    total.0 += earned;
                    total.1 += max;
                    format!("{earned}/{max}")
                }
                None => "-".to_owned(),
            };
            let echo_cell = cell(echo, &mut total[0]);
            let chat_cell = cell(chat, &mut total[1]);
            let _ = writeln!(table, "  {chapter:<16}{echo_cell:>9}{chat_cell:>9}");
        }
        let _ = writeln!(
            table,
            "  {:<16}{:>9}{:>9}",
            "total",
            format!("{}/{}", total[0].0, total[0].1),
            format!("{}/{}", total[1].0, total[1].1)
        );
    }
    for profile in [Profile::Echo, Profile::Chat] {
        for (chapter, (earned, max)) in of(DoNothing::HangUp, profile) {
            if wsconform_runner::chapter::name(chapter) == "handshake" {
                assert_eq!(
                    earned,
                    max,
                    "a correct handshake earns the whole handshake chapter ({}):\n{table}",
                    profile.name()
                );
            } else {
                assert!(
                    f64::from(*earned) <= MAX_SHARE_OUTSIDE_HANDSHAKE * f64::from(*max),
                    "hanging up after the handshake earns {earned} of {max} points in {chapter} ({}):\n{table}",
                    profile.name()
                );
            }
        }
    }

    insta::assert_snapshot!("do_nothing", table);
}

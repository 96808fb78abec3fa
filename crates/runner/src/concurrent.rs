//! The proof that a target serves its clients concurrently, which lets the
//! suite play the chapters before concurrency side by side.
//!
//! Those chapters run one scenario at a time because a server written for
//! them may serve one connection at a time: a plain accept loop that reads
//! one client until it leaves. Played side by side, the second scenario
//! would wait for the first to end, and time out: a verdict the server did
//! not earn. The proof rules that server out before anything runs in
//! parallel, with two clients of the echo profile:
//!
//! 1. `first` completes its handshake and stays open, silent;
//! 2. `second` completes its handshake and gets its message echoed, while
//!    `first` is still open;
//! 3. `first` then gets its own message echoed.
//!
//! A server that serves one connection at a time is stuck in step 2 (it is
//! reading `first`); one that answers handshakes in its accept loop and then
//! serves one connection at a time is stuck in step 2 too (no echo for
//! `second`); one that gives up on an idle client to serve the next fails
//! step 3. Each message carries its client's name, so a server that mixes
//! up its connections fails as well. Every step of the proof waits a
//! quarter of the step deadline: a server that serves clients at once
//! answers in milliseconds, and one that misses the shorter deadlines only
//! loses the shortcut. Whatever does not pass the proof
//! (including a server that answers nothing, and every chat target, whose
//! messages are broadcasts, not echoes) is played one scenario at a time in
//! those chapters, as before: the proof can only make a run faster, never
//! decide a verdict.

use crate::exec::run_scenario;
use crate::load::parse_scenario;
use crate::plan::{PlanSettings, Profile};
use crate::verdict::Outcome;

const PROOF: &str = "id: preflight.concurrency
title: Two clients are served at the same time
profile: echo
steps:
  - as: first
    handshake:
  - as: second
    handshake:
  - as: second
    send: { text: \"second, while first is open\" }
  - as: second
    expect: { echo: last }
  - as: first
    send: { text: \"first, after second\" }
  - as: first
    expect: { echo: last }
";

/// What the proof found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Proof {
    /// The target served two clients at once.
    pub concurrent: bool,
    /// Whether the second client's handshake was answered while the first
    /// client's connection was open; `None` when the proof did not get
    /// that far (or did not run).
    pub handshakes_at_once: Option<bool>,
    /// The first client's handshake got no answer at all.
    pub first_unanswered: bool,
}

/// Whether the target has just proven that it serves clients concurrently
/// (see the [module documentation](self)). Only the echo profile can prove
/// it; it costs two connections and two echoes.
pub async fn serves_concurrently(settings: &PlanSettings) -> bool {
    prove(settings).await.concurrent
}

/// Runs the proof (see the [module documentation](self)) and says how far
/// the target got.
pub async fn prove(settings: &PlanSettings) -> Proof {
    if settings.profile != Profile::Echo {
        return Proof::default();
    }
    let Ok(proof) = parse_scenario("preflight.yaml", PROOF) else {
        return Proof::default();
    };
    // A server that serves clients at once answers in milliseconds; one
    // that misses these shorter deadlines only loses the shortcut.
    let quick = PlanSettings {
        timeout: settings.timeout / 4,
        ..settings.clone()
    };
    let result = run_scenario(&proof, &quick).await;
    if result.outcome == Outcome::Pass {
        return Proof {
            concurrent: true,
            handshakes_at_once: Some(true),
            first_unanswered: false,
        };
    }
    let handshakes_at_once =
        result
            .failure
            .as_ref()
            .and_then(|f| match (f.client.as_str(), f.prerequisite) {
                ("first", true) => None,
                ("second", true) => Some(false),
                _ => Some(true),
            });
    let first_unanswered = crate::stall::unanswered(&result)
        && result.failure.as_ref().is_some_and(|f| f.client == "first");
    Proof {
        concurrent: false,
        handshakes_at_once,
        first_unanswered,
    }
}

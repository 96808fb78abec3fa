//! The silence probe: does the target answer anything after its handshake?
//!
//! A server that accepts the opening handshake and then never sends a byte
//! (a student's server that hangs in its read loop) makes every scenario
//! wait out a whole step deadline: 2 s, three hundred times, one after the
//! other in the chapters before concurrency. A grader with a class to mark
//! cannot afford that, and the verdicts do not need it: such a server fails
//! each scenario at its first wait for an answer to valid frames (a
//! scenario that expects a refusal plays its valid twin first, see
//! [`crate::plan`]), however long that wait lasts.
//!
//! So before the scenarios, a server that did not pass the proof of
//! concurrency ([`crate::concurrent`]) gets one probe, in full time:
//!
//! 1. `first` completes its handshake and sends frames a server must answer
//!    (a text message, which the chat profile sends as a chat message that
//!    comes back to its sender, a binary message in the echo profile, and
//!    a ping);
//!    the step deadline passes without a single byte or the end of the
//!    connection: the server is **silent**;
//! 2. while `first` is still open, `second` completes its handshake: the
//!    server answers handshakes of clients side by side.
//!
//! A silent server's scenarios then run with every wait for its answer cut
//! to [`cut`] (a hundredth of the deadline; the handshake's own answer still
//! gets the whole deadline), and, when it answered `second`, side by side
//! in the chapters before concurrency too. Every report says so, once. A
//! server that answers anything in step 1 (an echo, a pong, a close, a
//! hang-up, part of a frame) is not silent, and nothing changes for it.
//! `--full-waits` turns the probe off.

use std::time::Duration;

use crate::exec::run_scenario;
use crate::load::parse_scenario;
use crate::plan::{PlanSettings, Profile};
use crate::transcript::Event;
use crate::verdict::Outcome;

/// Why a wait was cut, as a transcript says it.
pub const WHY: &str = "the server answered nothing after its handshake in the silence probe";

/// What the probe found about a silent server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Silent {
    /// A second client's handshake was answered while the first client's
    /// connection was open (and stuck).
    pub handshakes_at_once: bool,
}

impl Silent {
    /// The sentence every report gives the run of a silent server.
    pub fn sentence(&self, timeout: Duration) -> String {
        let side_by_side = if self.handshakes_at_once {
            ", and the chapters before concurrency ran side by side (it answered a second client's handshake while the first was open)"
        } else {
            ""
        };
        format!(
            "the server answered nothing after its opening handshake: not a byte within {} of a message and a ping it must answer. \
             Each wait for its answer was cut to {}{side_by_side}. \
             Fix that first; `--full-waits` waits every deadline in full (same verdicts, minutes longer)",
            crate::exec::describe::seconds(timeout),
            crate::exec::describe::seconds(cut(timeout)),
        )
    }
}

/// How long a wait for a silent server's answer lasts: a hundredth of the
/// step deadline, at least 20 ms (20 ms at the default 2 s). A server that
/// left a message and a ping unanswered for a whole deadline does not
/// answer valid frames elsewhere either, and every scenario waits first
/// for an answer to valid frames (a refusal's valid twin comes first): the
/// verdict is the same after 20 ms as after 2 s. On loopback an answer
/// takes a millisecond or two; a server run one client at a time has three
/// hundred scenarios to go through one after the other, so the cut is
/// what it costs.
pub fn cut(timeout: Duration) -> Duration {
    (timeout / 100).max(Duration::from_millis(20)).min(timeout)
}

fn probe_yaml(profile: Profile, second: bool) -> String {
    // Frames the earliest chapters teach a server to answer: a text
    // message (a chat message in the chat profile, which comes back to its
    // sender too), a binary message in the echo profile, and a ping.
    let text = match profile {
        Profile::Echo => {
            "  - as: first\n    send: { text: \"silence probe\" }\n  - as: first\n    send: { binary: \"silence probe\" }\n"
        }
        Profile::Chat => "  - as: first\n    send: { text: \"silence probe\" }\n",
    };
    let second = if second {
        "  - as: second\n    handshake:\n  - as: second\n    send: { close: 1000 }\n"
    } else {
        ""
    };
    format!(
        "id: preflight.silence
title: The server answers frames after its handshake
twin: []
steps:
  - as: first
    handshake:
{text}  - as: first
    send: {{ ping: \"silence probe\" }}
  - as: first
    expect: {{ pong: last, strength: should, reason: \"a probe, not a verdict\" }}
{second}  - as: first
    send: {{ close: 1000 }}
"
    )
}

/// Probes the target (see the [module documentation](self)): `Some` when
/// it answered nothing after its handshake within the step deadline.
/// `handshakes_at_once` is what the proof of concurrency already found out
/// ([`crate::concurrent::Proof`]); when it is `None` the probe finds out.
pub async fn probe(settings: &PlanSettings, handshakes_at_once: Option<bool>) -> Option<Silent> {
    let yaml = probe_yaml(settings.profile, handshakes_at_once.is_none());
    let probe = parse_scenario("preflight.yaml", &yaml).ok()?;
    let result = run_scenario(&probe, settings).await;
    let first: Vec<&Event> = result
        .transcript
        .events
        .iter()
        .filter(|e| e.client == "first")
        .map(|e| &e.event)
        .collect();
    // Silent: the wait for the pong saw nothing at all (no event, no part
    // of a frame) before its deadline.
    let silent = first.first() == Some(&&Event::TimedOut)
        && result.notes.len() == 1
        && result
            .notes
            .first()
            .is_some_and(|n| n.actual.starts_with("nothing"));
    silent.then_some(Silent {
        handshakes_at_once: handshakes_at_once
            .unwrap_or(matches!(result.outcome, Outcome::Pass | Outcome::NonStrict)),
    })
}

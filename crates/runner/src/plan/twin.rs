//! The positive twin of a scenario that expects a refusal.
//!
//! A server that answers the opening handshake and then closes every
//! connection "fails the connection" on every bad frame: a refusal alone
//! proves nothing. So each scenario that such a server would pass (every
//! strict expectation a refusal or a closed connection) has a twin, played
//! first on its own connections: the connections opened the same way, with
//! valid messages where the bad frames were, which the server must answer.
//! The refusal counts only when the twin passes.
//!
//! The twin is derived: the scenario's steps before its first frame and its
//! refusal (the handshakes, with their extension offers, and what they
//! expect; a refused handshake is left out), then
//! two valid text messages from the client that expects the refusal, each
//! followed by its echo. Two, so that a server answering one message and
//! then hanging up does not pass. The frames before a refusal are not kept:
//! one `raw` step often holds a valid frame and the bad one together, and a
//! fragment left open would make any message after it invalid. A scenario
//! that needs a closer twin (the same frame kind, made valid) writes its
//! twin in the `twin:` field instead. Handshake-chapter scenarios have no
//! twin: a refused handshake needs no frame code, and a server with only a
//! handshake rightly passes that chapter.

use crate::load::LoadedScenario;
use crate::scenario::{Action, ExpectKind, Step};

use super::DEFAULT_CLIENT;

/// The chapter whose refusals need no twin.
const EXEMPT_CHAPTER: &str = "handshake";

/// The name a client of the scenario has in its twin: `twin` for the
/// default client, `twin-NAME` for the others, so that the transcript tells
/// the twin's lines apart.
pub fn twin_client(name: &str) -> String {
    if name == DEFAULT_CLIENT {
        "twin".to_owned()
    } else {
        format!("twin-{name}")
    }
}

/// Whether a scenario needs a twin: outside the handshake chapter, a
/// server that closes every connection right after its 101 would meet each
/// of its strict expectations (a refusal, a closed connection, or nothing
/// strict at all).
pub fn needs_twin(loaded: &LoadedScenario) -> bool {
    crate::chapter::name(&loaded.chapter) != EXEMPT_CHAPTER
        && loaded.scenario.steps.iter().all(|s| match &s.action {
            Action::Expect(e) => e.otherwise_non_strict || met_by_hanging_up(&e.kind),
            _ => true,
        })
}

/// The twin's steps, with the scenario's client names (the plan renames
/// them): the `twin:` field when written, else derived. `None` for a
/// scenario that needs no twin.
pub fn twin_steps(loaded: &LoadedScenario) -> Option<Vec<Step>> {
    if !needs_twin(loaded) {
        return None;
    }
    if let Some(written) = &loaded.scenario.twin {
        return Some(written.clone());
    }
    Some(derive(&loaded.scenario.steps))
}

/// An expectation that a server closing the connection after its 101 meets.
fn met_by_hanging_up(kind: &ExpectKind) -> bool {
    matches!(
        kind,
        ExpectKind::Accepted
            | ExpectKind::Fail(_)
            | ExpectKind::Refused { .. }
            | ExpectKind::TcpClosed
    )
}

/// The first strict expectation of a refusal or a closed connection.
fn first_refusal(steps: &[Step]) -> Option<usize> {
    steps.iter().position(|s| {
        matches!(&s.action, Action::Expect(e)
            if !e.otherwise_non_strict
                && matches!(e.kind, ExpectKind::Fail(_) | ExpectKind::Refused { .. } | ExpectKind::TcpClosed))
    })
}

/// The derived twin: the handshakes and their expectations before the
/// first frame sent and before the refusal (without frames written behind
/// a request, and without a refused handshake), then two valid messages and their echoes from the client
/// that expects the refusal.
fn derive(steps: &[Step]) -> Vec<Step> {
    let refusal = first_refusal(steps);
    let client = refusal
        .or_else(|| {
            steps
                .iter()
                .position(|s| matches!(s.action, Action::Expect(_)))
        })
        .and_then(|i| steps.get(i))
        .and_then(|s| s.client.clone());
    let mut end = steps
        .iter()
        .position(|s| !matches!(s.action, Action::Expect(_) | Action::Handshake(_)))
        .unwrap_or(steps.len())
        .min(refusal.unwrap_or(steps.len()));
    // A refused handshake is not part of the twin: its client opens the
    // ordinary way.
    if let Some(index) = refusal
        && let Some(Action::Expect(e)) = steps.get(index).map(|s| &s.action)
        && matches!(e.kind, ExpectKind::Refused { .. })
        && let Some(handshake) = steps[..index]
            .iter()
            .rposition(|s| matches!(s.action, Action::Handshake(_)) && s.client == client)
    {
        end = end.min(handshake);
    }
    let mut twin: Vec<Step> = steps[..end]
        .iter()
        .filter_map(|s| match &s.action {
            Action::Handshake(spec) => Some(Step {
                client: s.client.clone(),
                action: Action::Handshake(crate::scenario::HandshakeSpec {
                    then: None,
                    ..spec.clone()
                }),
            }),
            Action::Expect(e)
                if matches!(e.kind, ExpectKind::Accepted | ExpectKind::Refused { .. }) =>
            {
                Some(s.clone())
            }
            _ => None,
        })
        .collect();
    for text in ["valid twin, first message", "valid twin, second message"] {
        twin.extend(valid_message(text).into_iter().map(|action| Step {
            client: client.clone(),
            action,
        }));
    }
    twin
}

/// A masked text message and the expectation of its echo.
fn valid_message(text: &str) -> [Action; 2] {
    [
        Action::Send(crate::scenario::SendSpec::text(text)),
        Action::Expect(crate::scenario::Expectation::echo_last()),
    ]
}

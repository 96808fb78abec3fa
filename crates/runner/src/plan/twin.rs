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
//! then hanging up does not pass. Where the bad frames are control frames
//! or fragments, the twin also sends a valid one of the same kind: a ping
//! (its pong expected), an unsolicited pong, a fragmented message (echoed
//! whole), and last a close with 1000 (answered with 1000), so that a
//! server cannot "refuse" every frame of a kind it never handles. The frames before a refusal are not kept:
//! one `raw` step often holds a valid frame and the bad one together, and a
//! fragment left open would make any message after it invalid. A scenario
//! that needs a closer twin (the same frame kind, made valid) writes its
//! twin in the `twin:` field instead. Handshake-chapter scenarios have no
//! twin: a refused handshake needs no frame code, and a server with only a
//! handshake rightly passes that chapter.

use crate::load::LoadedScenario;
use wsconform_wire::split_frames;

use crate::scenario::{
    Action, CloseSpec, ExpectKind, Expectation, Payload, PongOf, SendKind, SendSpec, Step, Strength,
};

use super::DEFAULT_CLIENT;

/// The chapter whose refusals need no twin.
const EXEMPT_CHAPTER: &str = "handshake";

/// The chapters that teach fragments, pings and closes.
const FRAGMENTATION: &str = "fragmentation";
const PING_PONG: &str = "ping-pong";
const CLOSING: &str = "closing";

/// A chapter's number: its place in the course, from 1 (`01-handshake`).
fn number_of(name: &str) -> usize {
    crate::chapter::CHAPTERS
        .iter()
        .position(|c| c.name == name)
        .map_or(usize::MAX, |i| i + 1)
}

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

/// Whether `name` is a client of a twin (so transcripts name it).
pub fn is_twin_client(name: &str) -> bool {
    name == "twin" || name.starts_with("twin-")
}

/// Whether a scenario needs a twin: outside the handshake chapter, it
/// expects something, and a server that closes every connection right
/// after its 101 would meet each of its strict expectations (a refusal, a
/// closed connection, or nothing strict at all).
pub fn needs_twin(loaded: &LoadedScenario) -> bool {
    let steps = &loaded.scenario.steps;
    crate::chapter::name(&loaded.chapter) != EXEMPT_CHAPTER
        && steps.iter().any(|s| matches!(s.action, Action::Expect(_)))
        && steps.iter().all(|s| match &s.action {
            Action::Expect(e) => e.strength != Strength::Must || met_by_hanging_up(&e.kind),
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
    Some(derive(
        &loaded.scenario.steps,
        crate::chapter::number(&loaded.chapter),
    ))
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

/// The first expectation of a refusal or a closed connection, whatever its
/// strength: a refused handshake is left out of the twin even where the
/// refusal is only a `should`.
fn first_refusal(steps: &[Step]) -> Option<usize> {
    steps.iter().position(|s| {
        matches!(&s.action, Action::Expect(e)
            if matches!(e.kind, ExpectKind::Fail(_) | ExpectKind::Refused { .. } | ExpectKind::TcpClosed))
    })
}

/// The derived twin: the handshakes and their expectations before the
/// first frame sent and before the refusal (without frames written behind
/// a request, and without a refused handshake), then two valid messages and their echoes from the client
/// that expects the refusal.
fn derive(steps: &[Step], chapter: Option<usize>) -> Vec<Step> {
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
        && let Some(handshake) = steps
            .get(..index)
            .unwrap_or_default()
            .iter()
            .rposition(|s| matches!(s.action, Action::Handshake(_)) && s.client == client)
    {
        end = end.min(handshake);
    }
    let mut twin: Vec<Step> = steps
        .get(..end)
        .unwrap_or_default()
        .iter()
        .filter_map(|s| match &s.action {
            Action::Handshake(spec) => Some(Step {
                client: s.client.clone(),
                action: Action::Handshake(crate::scenario::HandshakeSpec {
                    then: None,
                    ..spec.clone()
                }),
                hint: None,
            }),
            Action::Expect(e)
                if matches!(e.kind, ExpectKind::Accepted | ExpectKind::Refused { .. }) =>
            {
                Some(s.clone())
            }
            _ => None,
        })
        .collect();
    let bad = bad_kinds(
        steps
            .get(end..refusal.unwrap_or(steps.len()))
            .unwrap_or_default(),
        &client,
    );
    // A kind of frame is only asked for from its own chapter on: a server
    // at the masking chapter may well not answer pings yet.
    let taught = |kind: &str| chapter.is_none_or(|number| number >= number_of(kind));
    let mut add = |actions: Vec<Action>| {
        twin.extend(actions.into_iter().map(|action| Step {
            client: client.clone(),
            action,
            hint: None,
        }));
    };
    if bad.ping && taught(PING_PONG) {
        add(vec![
            Action::Send(SendSpec::of(SendKind::Ping(Payload::Text(
                "valid twin".into(),
            )))),
            Action::Expect(expectation(ExpectKind::Pong(PongOf::Last))),
        ]);
    }
    if bad.pong && taught(PING_PONG) {
        add(vec![Action::Send(SendSpec::of(SendKind::Pong(
            Payload::Text("valid twin".into()),
        )))]);
    }
    for text in ["valid twin, first message", "valid twin, second message"] {
        add(valid_message(text).into());
    }
    if bad.fragmented && taught(FRAGMENTATION) {
        let mut fragmented = SendSpec::text("valid twin, a fragmented message");
        fragmented.fragments = vec![11, 2];
        add(vec![
            Action::Send(fragmented),
            Action::Expect(Expectation::echo_last()),
        ]);
    }
    if bad.close && taught(CLOSING) {
        let close = CloseSpec {
            code: Some(1000),
            reason: String::new(),
            payload: None,
        };
        add(vec![
            Action::Send(SendSpec::of(SendKind::Close(close))),
            Action::Expect(expectation(ExpectKind::Close(vec![1000]))),
        ]);
    }
    twin
}

/// The kinds of frame among the bad ones that get a valid twin of their own.
#[derive(Debug, Default)]
struct BadKinds {
    /// A close frame: the twin closes with 1000 and expects 1000 back.
    close: bool,
    /// A ping: the twin pings and expects the pong.
    ping: bool,
    /// A pong: the twin sends an unsolicited pong, which changes nothing.
    pong: bool,
    /// A continuation or an unfinished data frame: the twin sends a
    /// fragmented message and expects it whole.
    fragmented: bool,
}

/// What kinds of frame `client` sends in `steps` (the frames before the
/// refusal, where the bad ones are).
fn bad_kinds(steps: &[Step], client: &Option<String>) -> BadKinds {
    let mut kinds = BadKinds::default();
    let mut note = |opcode: u8, fin: bool| match opcode {
        0x0 => kinds.fragmented = true,
        0x1 | 0x2 if !fin => kinds.fragmented = true,
        0x8 => kinds.close = true,
        0x9 => kinds.ping = true,
        0xa => kinds.pong = true,
        _ => {}
    };
    let mut mid_frame = false;
    for step in steps.iter().filter(|s| &s.client == client) {
        match &step.action {
            Action::Send(send) => {
                let opcode = match send.kind {
                    SendKind::Text(_) => 0x1,
                    SendKind::Binary(_) => 0x2,
                    SendKind::Close(_) => 0x8,
                    SendKind::Ping(_) => 0x9,
                    SendKind::Pong(_) => 0xa,
                };
                note(opcode, send.fragments.is_empty());
                for between in &send.between {
                    note(
                        match between {
                            SendKind::Close(_) => 0x8,
                            SendKind::Pong(_) => 0xa,
                            _ => 0x9,
                        },
                        true,
                    );
                }
            }
            Action::Frame(frame) => note(frame.opcode.0, frame.fin),
            // A raw step may go on with the payload of the one before:
            // its bytes are then no header.
            Action::Raw(raw) if !mid_frame => {
                for piece in split_frames(&raw.bytes.0) {
                    if let Some(header) = piece.header {
                        note(header.opcode.as_u8(), header.fin);
                    }
                    mid_frame = !piece.complete;
                }
            }
            _ => {}
        }
    }
    kinds
}

/// A strict expectation with the scenario's deadline.
fn expectation(kind: ExpectKind) -> Expectation {
    Expectation {
        kind,
        timeout: None,
        strength: Strength::Must,
        reason: None,
        answer: true,
    }
}

/// A masked text message and the expectation of its echo.
fn valid_message(text: &str) -> [Action; 2] {
    [
        Action::Send(SendSpec::text(text)),
        Action::Expect(Expectation::echo_last()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::parse_scenario;

    fn loaded(chapter: &str, steps: &str) -> LoadedScenario {
        let yaml = format!("id: a\ntitle: t\nsteps:\n{steps}");
        parse_scenario(&format!("scenarios/{chapter}/a.yaml"), &yaml).unwrap()
    }

    /// The twin's steps in short: `send:text`, `expect:echo`, …
    fn outline(steps: &[Step]) -> Vec<String> {
        steps
            .iter()
            .map(|s| match &s.action {
                Action::Send(send) if !send.fragments.is_empty() => "send:fragments".to_owned(),
                Action::Send(send) => format!("send:{}", send.kind.name()),
                Action::Expect(e) => format!(
                    "expect:{}",
                    match e.kind {
                        ExpectKind::Echo(_) => "echo",
                        ExpectKind::Pong(_) => "pong",
                        ExpectKind::Close(_) => "close",
                        ExpectKind::Accepted => "accepted",
                        _ => "other",
                    }
                ),
                Action::Handshake(_) => "handshake".to_owned(),
                _ => "other".to_owned(),
            })
            .collect()
    }

    #[test]
    fn a_bad_data_frame_gets_two_valid_messages_echoed() {
        let s = loaded(
            "02-frames",
            "  - frame: { opcode: 3, payload: x }\n  - expect: { fail: [1002] }\n",
        );
        assert!(needs_twin(&s));
        let twin = twin_steps(&s).unwrap();
        assert_eq!(
            outline(&twin),
            ["send:text", "expect:echo", "send:text", "expect:echo"]
        );
    }

    #[test]
    fn a_bad_close_gets_a_valid_close_from_the_closing_chapter_on() {
        let steps = "  - send: { close: 1004 }\n  - expect: { fail: [1002] }\n";
        let closing = twin_steps(&loaded("08-closing", steps)).unwrap();
        assert_eq!(closing.len(), 6);
        assert_eq!(outline(&closing[4..]), ["send:close", "expect:close"]);
        // Before the closing chapter, a server need not answer a close.
        let frames = twin_steps(&loaded("02-frames", steps)).unwrap();
        assert_eq!(frames.len(), 4);
    }

    #[test]
    fn pings_and_fragments_get_their_own_valid_twins() {
        let s = loaded(
            "07-ping-pong",
            "  - frame: { opcode: ping, fin: false, payload: a }\n  - frame: { opcode: continuation, payload: b }\n  - expect: { fail: [1002] }\n",
        );
        assert_eq!(
            outline(&twin_steps(&s).unwrap()),
            [
                "send:ping",
                "expect:pong",
                "send:text",
                "expect:echo",
                "send:text",
                "expect:echo",
                "send:fragments",
                "expect:echo"
            ]
        );
    }

    #[test]
    fn the_handshake_chapter_and_scenarios_with_a_strict_answer_need_no_twin() {
        let refusal = "  - frame: { opcode: 3, payload: x }\n  - expect: { fail: [1002] }\n";
        assert!(!needs_twin(&loaded("01-handshake", refusal)));
        let echo = "  - send: { text: a }\n  - expect: { echo: last }\n";
        assert!(!needs_twin(&loaded("02-frames", echo)));
        let lenient = "  - send: { text: a }\n  - expect: { echo: last, otherwise: non-strict }\n";
        assert!(needs_twin(&loaded("02-frames", lenient)));
    }

    #[test]
    fn a_refused_handshake_outside_its_chapter_is_left_out_of_the_twin() {
        let s = loaded(
            "11-hardening",
            "  - handshake: { path: /nope }\n  - expect: { refused: { status: [404] } }\n",
        );
        let twin = twin_steps(&s).unwrap();
        assert_eq!(
            outline(&twin),
            ["send:text", "expect:echo", "send:text", "expect:echo"]
        );
    }

    #[test]
    fn frames_behind_a_request_are_left_out_and_its_offer_kept() {
        let s = loaded(
            "12-compression",
            "  - handshake: { headers: { Sec-WebSocket-Extensions: permessage-deflate }, then: { text: x } }\n  - expect: { fail: [1002] }\n",
        );
        let twin = twin_steps(&s).unwrap();
        let Action::Handshake(spec) = &twin[0].action else {
            panic!("the twin opens as the scenario does");
        };
        assert!(spec.then.is_none());
        assert_eq!(spec.headers.len(), 1);
    }

    #[test]
    fn a_written_twin_replaces_the_derived_one() {
        let s = loaded(
            "06-fragmentation",
            "  - frame: { opcode: text, fin: false, payload: a }\n  - frame: { opcode: continuation, payload: { hex: ff } }\n  - expect: { fail: [1007] }\ntwin:\n  - send: { binary: a }\n  - expect: { echo: last }\n",
        );
        assert_eq!(
            outline(&twin_steps(&s).unwrap()),
            ["send:binary", "expect:echo"]
        );
    }

    #[test]
    fn twin_clients_are_named_apart() {
        assert_eq!(twin_client(DEFAULT_CLIENT), "twin");
        assert_eq!(twin_client("alice"), "twin-alice");
        assert!(is_twin_client("twin") && is_twin_client("twin-alice"));
        assert!(!is_twin_client(DEFAULT_CLIENT));
    }
}

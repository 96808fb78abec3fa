//! The judge without sockets: each expectation against hand-built events.

use std::time::Duration;

use wsconform_wire::{OpCode, parse_response};

use super::*;
use crate::chat::ChatMessage;
use crate::scenario::DataKind;
use crate::transcript::{Broken, Caret};

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

fn open() -> ConnState {
    ConnState::new(KEY)
}

/// A connection whose handshake got the response `head`.
fn answered(head: &str) -> ConnState {
    let (response, _) = parse_response(head.as_bytes(), 4096).unwrap().unwrap();
    ConnState {
        response: Some(Ok(response)),
        ..open()
    }
}

fn before(conn: Option<&ConnState>) -> Before<'_> {
    Before {
        client: "client",
        conn,
        nonces: None,
        timeout: Duration::from_secs(2),
    }
}

/// What `decide` found instead, when the expectation is unmet.
fn says(expected: &Expected, conn: &ConnState, events: &[Event]) -> String {
    actual(decide(expected, conn, events))
}

/// Judges `events` on connection `conn`, in the echo profile.
fn decide(expected: &Expected, conn: &ConnState, events: &[Event]) -> Progress {
    judge(expected, before(Some(conn)), events)
}

fn text(t: &str) -> Event {
    Event::Message {
        kind: DataKind::Text,
        bytes: t.as_bytes().to_vec(),
    }
}

fn close(code: Option<u16>) -> Event {
    Event::Close {
        code,
        reason: String::new(),
    }
}

fn actual(progress: Progress) -> String {
    match progress {
        Progress::Unmet(f) => f.actual,
        other => panic!("expected a failure, got {other:?}"),
    }
}

fn echo(t: &str) -> Expected {
    Expected::Message {
        kind: Some(DataKind::Text),
        bytes: Some(t.as_bytes().to_vec()),
    }
}

#[test]
fn a_message_meets_its_expectation_and_a_different_one_does_not() {
    let conn = open();
    let expected = echo("Hello");
    assert_eq!(decide(&expected, &conn, &[text("Hello")]), Progress::Met);
    let failure = decide(&expected, &conn, &[text("Hellp")]);
    let Progress::Unmet(f) = failure else {
        panic!("{failure:?}")
    };
    assert_eq!(f.expected, "a text message of 5 bytes: \"Hello\"");
    assert_eq!(f.actual, "a text message of 5 bytes: \"Hellp\"");
    assert_eq!(f.client, "client");
    assert_eq!(f.rule, None);
}

#[test]
fn nothing_read_yet_needs_more() {
    let conn = open();
    assert_eq!(decide(&echo("x"), &conn, &[]), Progress::NeedMore);
}

#[test]
fn heartbeat_pongs_are_skipped_unless_a_pong_is_expected() {
    let conn = open();
    let events = [Event::Pong(b"beat".to_vec()), text("x")];
    assert_eq!(decide(&echo("x"), &conn, &events), Progress::Met);
    let pong = Expected::Pong(b"mine".to_vec());
    assert_eq!(says(&pong, &conn, &events), "a pong with payload \"beat\"");
    let mine = [Event::Pong(b"mine".to_vec())];
    assert_eq!(decide(&pong, &conn, &mine), Progress::Met);
}

#[test]
fn a_timeout_fails_except_for_silence() {
    let conn = open();
    assert_eq!(
        says(&echo("x"), &conn, &[Event::TimedOut]),
        "nothing: timed out after 2 s waiting for it"
    );
    let silence = Expected::Silence(Duration::from_millis(300));
    assert_eq!(decide(&silence, &conn, &[Event::TimedOut]), Progress::Met);
    assert_eq!(
        says(&silence, &conn, &[text("noise")]),
        "a text message of 5 bytes: \"noise\""
    );
}

#[test]
fn silence_after_a_close_allows_nothing_but_the_wait_and_data_breaks_a_must() {
    let silence = Expected::Silence(Duration::from_millis(300));
    let mut closed = open();
    closed.close = CloseState::Received(Some(1000));
    // The peer's close arrived before the step: silence may still follow.
    assert_eq!(decide(&silence, &closed, &[Event::TimedOut]), Progress::Met);
    // Data after it breaks 5.5.1, whatever the step's strength.
    let Progress::Unmet(data) = decide(&silence, &closed, &[text("late")]) else {
        panic!("data after a close must be unmet");
    };
    assert_eq!(data.rule.as_deref(), Some(DATA_AFTER_CLOSE_RULE));
    assert_eq!(
        data.expected,
        "no data frame after the server's close frame"
    );
    // The close arriving during the step counts too.
    let Progress::Unmet(during) = decide(&silence, &open(), &[close(Some(1000)), text("late")])
    else {
        panic!("the close itself breaks silence");
    };
    assert_eq!(during.rule, None, "the close frame is the step's own miss");
    let fresh = open();
    let mut judging = Judging::start(&silence, before(Some(&fresh))).0;
    judging.feed(&close(Some(1000)));
    assert!(matches!(
        judging.feed(&text("late")),
        Progress::Unmet(Failure { rule: Some(_), .. })
    ));
    // The TCP connection closed: the step's own miss, no rule.
    let Progress::Unmet(ended) = decide(&silence, &closed, &[Event::Ended(PeerEnd::Eof)]) else {
        panic!("a closed connection is no silence");
    };
    assert_eq!(ended.rule, None);
    assert_eq!(ended.actual, "the server closed the TCP connection");
    let mut gone = closed.clone();
    gone.ended = Some(PeerEnd::Eof);
    assert_eq!(
        says(&silence, &gone, &[]),
        "the server closed the TCP connection"
    );
}

#[test]
fn an_ended_connection_meets_fail_and_tcp_closed_only() {
    let conn = open();
    let ended = [Event::Ended(PeerEnd::Eof)];
    assert_eq!(
        decide(&Expected::Fail(vec![1002]), &conn, &ended),
        Progress::Met
    );
    assert_eq!(decide(&Expected::TcpClosed, &conn, &ended), Progress::Met);
    assert_eq!(
        says(&echo("x"), &conn, &ended),
        "the server closed the TCP connection"
    );
    // Already ended before the step: decided without reading.
    let mut gone = open();
    gone.ended = Some(PeerEnd::Reset("reset".into()));
    assert_eq!(decide(&Expected::TcpClosed, &gone, &[]), Progress::Met);
    assert_eq!(says(&echo("x"), &gone, &[]), "the connection broke (reset)");
}

#[test]
fn tcp_closed_reads_past_everything_until_the_end() {
    let conn = open();
    let events = [text("a"), close(Some(1000)), Event::Pong(Vec::new())];
    assert_eq!(
        decide(&Expected::TcpClosed, &conn, &events),
        Progress::NeedMore
    );
    assert_eq!(
        actual(judge(
            &Expected::TcpClosed,
            before(Some(&conn)),
            &[Event::TimedOut]
        )),
        "nothing: timed out after 2 s waiting for it"
    );
}

#[test]
fn close_codes_are_checked() {
    let conn = open();
    let close_1002 = Expected::Close(vec![1002]);
    assert_eq!(
        decide(&close_1002, &conn, &[close(Some(1002))]),
        Progress::Met
    );
    assert_eq!(
        actual(judge(
            &close_1002,
            before(Some(&conn)),
            &[close(Some(1000))]
        )),
        "a close frame with code 1000"
    );
    assert_eq!(
        says(&close_1002, &conn, &[close(None)]),
        "a close frame without a status code"
    );
    assert_eq!(
        judge(
            &Expected::Close(vec![]),
            before(Some(&conn)),
            &[close(None)]
        ),
        Progress::Met
    );
    let fail = Expected::Fail(vec![1007]);
    assert_eq!(
        says(&fail, &conn, &[close(Some(1002))]),
        "a close frame with code 1002"
    );
    // Another code is only a SHOULD: failing the connection is the MUST
    // (7.1.7), echoing a close code is "typically" (5.5.1).
    for (expected, words) in [
        (&fail, "SHOULD send a Close frame"),
        (&close_1002, "typically echos"),
    ] {
        for event in [close(Some(1000)), close(None)] {
            let Progress::Unmet(f) = decide(expected, &conn, std::slice::from_ref(&event)) else {
                panic!("another code is noted");
            };
            assert_eq!(f.strength, Strength::Should);
            assert!(f.reason.is_some_and(|r| r.contains(words)));
        }
    }
    // Anything but a close or the end is still a MUST broken.
    let Progress::Unmet(f) = decide(&fail, &conn, &[text("oops")]) else {
        panic!("a message where a failure is expected");
    };
    assert_eq!(f.strength, Strength::Must);
    assert_eq!(
        says(&fail, &conn, &[text("oops")]),
        "a text message of 4 bytes: \"oops\""
    );
}

#[test]
fn a_close_received_earlier_still_counts() {
    let mut closed = open();
    closed.close = CloseState::Received(Some(1000));
    assert_eq!(
        decide(&Expected::Close(vec![1000]), &closed, &[]),
        Progress::Met
    );
    assert_eq!(
        decide(&Expected::Fail(vec![1000]), &closed, &[]),
        Progress::Met
    );
    assert_eq!(
        says(&echo("x"), &closed, &[]),
        "the server had already closed the connection with code 1000"
    );
}

#[test]
fn a_broken_rule_carries_its_rule_and_caret() {
    let conn = open();
    let broke = Event::Broke(Broken {
        actual: "a frame that breaks a rule".into(),
        rule: "RFC 6455 5.1".into(),
        caret: Some(Caret { line: 3, byte: 1 }),
    });
    for expected in [echo("x"), Expected::Fail(vec![]), Expected::TcpClosed] {
        let Progress::Unmet(f) = decide(&expected, &conn, std::slice::from_ref(&broke)) else {
            panic!("{expected:?}")
        };
        assert_eq!(f.rule.as_deref(), Some("RFC 6455 5.1"));
        assert_eq!(f.caret, Some(Caret { line: 3, byte: 1 }));
    }
}

#[test]
fn frames_are_compared_field_by_field() {
    let conn = open();
    let expected = Expected::Frame {
        opcode: Some(1),
        fin: Some(false),
        payload: None,
    };
    let frame = |opcode, fin| Event::Frame {
        opcode,
        fin,
        payload: b"ab".to_vec(),
    };
    assert_eq!(
        judge(
            &expected,
            before(Some(&conn)),
            &[frame(OpCode::Text, false)]
        ),
        Progress::Met
    );
    assert_eq!(
        actual(judge(
            &expected,
            before(Some(&conn)),
            &[frame(OpCode::Continuation, true)]
        )),
        "a frame with opcode continuation FIN=1 payload \"ab\""
    );
}

#[test]
fn chat_skips_messages_of_other_scenarios() {
    let conn = open();
    let sent = ChatMessage {
        nonce: "n00000001".into(),
        username: "client".into(),
        message: "n00000001 hi".into(),
    };
    let nonces = vec![sent.nonce.clone()];
    let chat = Before {
        nonces: Some(&nonces),
        ..before(Some(&conn))
    };
    let expected = Expected::Broadcast(sent);
    let stranger = text(r#"{"username":"x","message":"n99 other"}"#);
    let mine = text(r#"{"username":"client","message":"n00000001 hi"}"#);
    assert_eq!(
        judge(&expected, chat, &[stranger.clone(), mine.clone()]),
        Progress::Met
    );
    let altered = text(r#"{"username":"client","message":"n00000001 ho"}"#);
    assert!(actual(judge(&expected, chat, &[altered])).contains("differs"));
    // Past the limit of skipped messages, a stranger is the answer.
    let many = vec![stranger; MAX_SKIPPED + 1];
    assert!(matches!(judge(&expected, chat, &many), Progress::Unmet(_)));
    // Without nonces (echo), nothing is skipped.
    assert!(matches!(
        decide(&echo("x"), &conn, &[mine]),
        Progress::Unmet(_)
    ));
}

#[test]
fn handshake_expectations_read_the_stored_response() {
    let accept = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
    let conn = answered(accept);
    assert_eq!(decide(&Expected::Accepted, &conn, &[]), Progress::Met);
    let refused = Expected::Refused {
        status: vec![400],
        headers: Vec::new(),
    };
    assert_eq!(says(&refused, &conn, &[]), "status 101 Switching Protocols");
    let mut wrong_key = conn.clone();
    wrong_key.key = "AAAAAAAAAAAAAAAAAAAAAA==".into();
    let Progress::Unmet(f) = decide(&Expected::Accepted, &wrong_key, &[]) else {
        panic!()
    };
    assert!(f.rule.is_some_and(|r| r.contains("4.2.2")));
    let mut silent = open();
    silent.response = Some(Err("no handshake response: timed out".into()));
    assert_eq!(
        says(&Expected::Accepted, &silent, &[]),
        "no handshake response: timed out"
    );
    assert_eq!(
        actual(judge(&Expected::Accepted, before(None), &[])),
        "no handshake was sent on this connection"
    );
    assert_eq!(
        actual(judge(&echo("x"), before(None), &[])),
        "this client never connected"
    );
}

#[test]
fn a_server_may_select_an_offered_subprotocol_and_no_other() {
    let accept = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat.v2\r\n\r\n";
    let mut offered = answered(accept);
    offered.protocols = Some("chat.v1, chat.v2".into());
    assert_eq!(decide(&Expected::Accepted, &offered, &[]), Progress::Met);
    let mut other = offered.clone();
    other.protocols = Some("chat.v1".into());
    assert!(says(&Expected::Accepted, &other, &[]).contains(
        "Sec-WebSocket-Protocol: chat.v2, which is not one the request offered (chat.v1)"
    ));
    let none = answered(accept);
    assert!(
        says(&Expected::Accepted, &none, &[]).contains("but the request offered no subprotocol")
    );
}

#[test]
fn refusals_check_status_and_headers() {
    let refused = "HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\n\r\n";
    let conn = answered(refused);
    let expect = |status: Vec<u16>, headers: Vec<(String, Option<String>)>| Expected::Refused {
        status,
        headers,
    };
    let version = |value: Option<&str>| {
        vec![(
            "Sec-WebSocket-Version".to_string(),
            value.map(str::to_string),
        )]
    };
    assert_eq!(
        decide(&expect(vec![], version(Some("13"))), &conn, &[]),
        Progress::Met
    );
    assert_eq!(
        decide(&expect(vec![426, 400], version(None)), &conn, &[]),
        Progress::Met
    );
    // Another error status refuses all the same: only a SHOULD, with its reason.
    let Progress::Unmet(other) = decide(&expect(vec![400], Vec::new()), &conn, &[]) else {
        panic!("a 426 where 400 is expected is noted");
    };
    assert_eq!(other.actual, "status 426 Upgrade Required");
    assert_eq!(other.strength, Strength::Should);
    assert!(
        other
            .reason
            .is_some_and(|r| r.contains("such as 400 Bad Request"))
    );
    // 101 and 2xx are no refusal at all: a MUST.
    let upgraded = answered("HTTP/1.1 200 OK\r\n\r\n");
    let Progress::Unmet(ok) = decide(&expect(vec![], Vec::new()), &upgraded, &[]) else {
        panic!("a 200 is no refusal");
    };
    assert_eq!(ok.strength, Strength::Must);
    // A version list holds the version expected (RFC 6455 4.4: "all versions").
    let listed = answered("HTTP/1.1 400 Bad Request\r\nSec-WebSocket-Version: 13, 8\r\n\r\n");
    assert_eq!(
        decide(&expect(vec![400], version(Some("13"))), &listed, &[]),
        Progress::Met
    );
    assert_eq!(
        says(&expect(vec![400], version(Some("7"))), &listed, &[]),
        "status 400 with Sec-WebSocket-Version: 13, 8 (expected 7)"
    );
    assert_eq!(
        says(&expect(vec![], version(Some("8"))), &conn, &[]),
        "status 426 with Sec-WebSocket-Version: 13 (expected 8)"
    );
    let missing = vec![("X-Missing".to_string(), None)];
    assert_eq!(
        says(&expect(vec![], missing), &conn, &[]),
        "status 426 without a X-Missing header"
    );
}

#[test]
fn a_message_of_the_other_kind_does_not_meet() {
    let conn = open();
    let binary = Event::Message {
        kind: DataKind::Binary,
        bytes: b"x".to_vec(),
    };
    assert_eq!(
        says(&echo("x"), &conn, std::slice::from_ref(&binary)),
        "a binary message of 1 byte: \"x\""
    );
    let any_binary = Expected::Message {
        kind: Some(DataKind::Binary),
        bytes: None,
    };
    assert_eq!(decide(&any_binary, &conn, &[binary]), Progress::Met);
}

//! The judge: a pure function of what a step expects, the connection as it
//! was when the step began, and the events read since.
//!
//! No socket, no clock: the executor reads an event, records it in the
//! transcript, and asks the judge whether that settles the step
//! ([`Progress::NeedMore`] means "keep reading"). Unit tests ask the same
//! question with events built by hand.
//!
//! [`Judging`] is the incremental form the executor uses (it keeps only a
//! count of skipped messages, however long a server talks); [`judge`] folds a
//! list of events through it.

use std::time::Duration;

use wsconform_wire::{OpCode, ServerResponse};

use super::deflate::negotiated;

use super::describe::{describe_event, describe_expected, seconds};
use crate::chat;
use crate::connect::PeerEnd;
use crate::limits::MAX_SKIPPED;
use crate::plan::Expected;
use crate::scenario::Strength;
use crate::transcript::Event;
use crate::verdict::Failure;

/// Why a connection failed with another close code is not a fail: failing
/// the connection is the MUST, its code a SHOULD.
pub const FAIL_CODE_REASON: &str = "RFC 6455 7.1.7: failing the connection is the MUST; the code is not: the endpoint \"SHOULD send a Close frame with an appropriate status code\"";

/// Why a close with another code is not a fail: a reply "typically" echoes
/// the code, and an endpoint that closes picks its own.
pub const CLOSE_CODE_REASON: &str = "RFC 6455 5.5.1: sending a Close frame is the MUST; its code is not: \"When sending a Close frame in response, the endpoint typically echos the status code it received\"";

/// Why a close that starts the closing handshake with another code than
/// asked is not a fail: the code is the choice of the endpoint that closes.
pub const OWN_CLOSE_CODE_REASON: &str = "RFC 6455 7.1.2: sending the Close frame is the MUST; its code is the choice of the endpoint that starts the closing (\"To _Start the WebSocket Closing Handshake_ with a status code (Section 7.4) /code/\"), and the client-close contract's 1000 is a convention of this suite";

/// The rule a data message breaks when it follows its sender's close frame.
pub const DATA_AFTER_CLOSE_RULE: &str = "RFC 6455 5.5.1: \"The application MUST NOT send any more data frames after sending a Close frame.\"";

/// Why a refusal with another error status is not a fail: not upgrading is
/// the MUST, the status is an example.
pub const STATUS_REASON: &str = "RFC 6455 4.2.1: refusing the upgrade is the MUST; the status is the server's choice: \"an HTTP response with an appropriate error code (such as 400 Bad Request)\"";

/// Whether a header value holds `want`: equal (ASCII case-insensitively), or
/// one of the comma-separated tokens of a list (`13, 8` holds `13`: RFC 6455
/// 4.4 asks for "all versions it is willing to use").
fn list_holds(got: &str, want: &str) -> bool {
    got.eq_ignore_ascii_case(want)
        || got
            .split(',')
            .any(|token| token.trim().eq_ignore_ascii_case(want.trim()))
}

/// The response without its `Sec-WebSocket-Protocol` when the server picked
/// one of the values the request offered (RFC 6455 4.2.2: the value "MUST be
/// derived from the client's handshake"); an error naming the value when it
/// picked one that was not offered.
fn subprotocol_checked(conn: &ConnState, r: &ServerResponse) -> Result<ServerResponse, String> {
    let Some(chosen) = r.header("Sec-WebSocket-Protocol") else {
        return Ok(r.clone());
    };
    let offered = conn.protocols.as_deref().unwrap_or_default();
    if offered.split(',').any(|p| p.trim() == chosen.trim()) {
        return Ok(ServerResponse {
            headers: r
                .headers
                .iter()
                .filter(|(n, _)| !n.eq_ignore_ascii_case("Sec-WebSocket-Protocol"))
                .cloned()
                .collect(),
            ..r.clone()
        });
    }
    Err(if offered.is_empty() {
        format!("Sec-WebSocket-Protocol: {chosen}, but the request offered no subprotocol")
    } else {
        format!(
            "Sec-WebSocket-Protocol: {chosen}, which is not one the request offered ({offered})"
        )
    })
}

/// Whether the server's close frame has arrived on a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseState {
    /// No close frame yet.
    Open,
    /// A close frame arrived, with this status code (`None`: empty body).
    Received(Option<u16>),
}

/// What is known of a connection between steps: what the executor keeps
/// and the judge reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnState {
    /// The handshake response, or why there is none; `None` before a handshake.
    pub response: Option<Result<ServerResponse, String>>,
    /// The `Sec-WebSocket-Key` sent.
    pub key: String,
    /// Whether the server's close arrived (perhaps consumed by an earlier step).
    pub close: CloseState,
    /// How the connection ended, if it did.
    pub ended: Option<PeerEnd>,
    /// The `Sec-WebSocket-Extensions` offer of the request, if any.
    pub offer: Option<String>,
    /// The `Sec-WebSocket-Protocol` values of the request, if any.
    pub protocols: Option<String>,
}

impl ConnState {
    /// A connection that sent a handshake with `key` and has heard nothing yet.
    pub fn new(key: &str) -> ConnState {
        ConnState {
            response: None,
            key: key.to_string(),
            close: CloseState::Open,
            ended: None,
            offer: None,
            protocols: None,
        }
    }
}

/// Everything besides events that a decision depends on.
#[derive(Debug, Clone, Copy)]
pub struct Before<'a> {
    /// The client, for the failure.
    pub client: &'a str,
    /// Its connection as the step found it, `None` when it never connected.
    pub conn: Option<&'a ConnState>,
    /// In the chat profile, the nonces this scenario sent: a message
    /// carrying none of them is someone else's and skipped. `None` in echo.
    pub nonces: Option<&'a [String]>,
    /// The step's timeout, for the text of a timeout.
    pub timeout: Duration,
}

/// Where a step stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Undecided: read another event.
    NeedMore,
    /// The expectation is met.
    Met,
    /// It is not, and why.
    Unmet(Failure),
}

/// Judging one step, event after event.
#[derive(Debug)]
pub struct Judging<'a> {
    expected: &'a Expected,
    before: Before<'a>,
    skipped: usize,
    /// Whether the peer's close frame has arrived (before the step or
    /// during it): a data message after it breaks §5.5.1.
    peer_closed: bool,
}

impl<'a> Judging<'a> {
    /// Starts judging; the step may already be decided before any event
    /// (handshake expectations, a connection already closed).
    pub fn start(expected: &'a Expected, before: Before<'a>) -> (Judging<'a>, Progress) {
        let judging = Judging {
            expected,
            before,
            skipped: 0,
            peer_closed: before
                .conn
                .is_some_and(|c| matches!(c.close, CloseState::Received(_))),
        };
        let progress = judging.without_events();
        (judging, progress)
    }

    /// Whether this step reads single frames ([`Event::Frame`]) rather than
    /// messages.
    pub fn wants_frames(&self) -> bool {
        matches!(self.expected, Expected::Frame { .. })
    }

    fn unmet(&self, actual: String) -> Progress {
        Progress::Unmet(Failure::must(
            self.before.client,
            describe_expected(self.expected),
            actual,
        ))
    }

    /// Unmet, but only a SHOULD whatever the step says: `reason` says why.
    fn lax(&self, actual: String, reason: &str) -> Progress {
        Progress::Unmet(Failure {
            strength: Strength::Should,
            reason: Some(reason.to_string()),
            ..Failure::must(self.before.client, describe_expected(self.expected), actual)
        })
    }

    fn without_events(&self) -> Progress {
        let expected = self.expected;
        let Some(conn) = self.before.conn else {
            return match expected {
                Expected::Accepted | Expected::Refused { .. } => {
                    self.unmet("no handshake was sent on this connection".into())
                }
                _ => self.unmet("this client never connected".into()),
            };
        };
        match expected {
            Expected::Accepted | Expected::Refused { .. } => return self.handshake(conn),
            Expected::Fail(codes) => {
                return match (conn.close, &conn.ended) {
                    (CloseState::Received(code), _) => self.check_codes(codes, code),
                    (CloseState::Open, Some(_)) => Progress::Met,
                    (CloseState::Open, None) => Progress::NeedMore,
                };
            }
            Expected::TcpClosed if conn.ended.is_some() => return Progress::Met,
            Expected::TcpClosed => return Progress::NeedMore,
            // After a close frame the peer has nothing more to send: silence
            // is what is expected of it, while its TCP connection is open.
            Expected::Silence(_) => {
                return match &conn.ended {
                    None => Progress::NeedMore,
                    Some(end) => self.unmet(end.describe()),
                };
            }
            _ => {}
        }
        if let CloseState::Received(code) = conn.close {
            if let Expected::Close(codes) = expected {
                // A close consumed earlier (e.g. by a fail expectation) still counts.
                return self.check_codes(codes, code);
            }
            let code = code.map(|c| format!(" with code {c}")).unwrap_or_default();
            return self.unmet(format!(
                "the server had already closed the connection{code}"
            ));
        }
        match &conn.ended {
            Some(end) => self.unmet(end.describe()),
            None => Progress::NeedMore,
        }
    }

    fn handshake(&self, conn: &ConnState) -> Progress {
        let Some(response) = &conn.response else {
            return self.unmet("no handshake was sent on this connection".into());
        };
        match (self.expected, response) {
            (Expected::Accepted, Ok(r)) => match subprotocol_checked(conn, r)
                .and_then(|r| negotiated(conn.offer.as_deref(), &r, &conn.key))
            {
                Ok(_) => Progress::Met,
                // A refusal breaks no rule (whether this handshake must be
                // accepted is the step's strength); a 101 that is wrong does.
                Err(e) if r.status != 101 => self.unmet(format!("{} {}: {e}", r.status, r.reason)),
                Err(e) => match self.unmet(format!("{} {}: {e}", r.status, r.reason)) {
                    Progress::Unmet(failure) => Progress::Unmet(Failure {
                        rule: Some("RFC 6455 4.2.2: the server answers 101 with Upgrade, Connection and the Sec-WebSocket-Accept computed from the key".into()),
                        ..failure
                    }),
                    other => other,
                },
            },
            (Expected::Refused { status, headers }, Ok(r)) => {
                // 101 upgrades; a 1xx or 2xx is no refusal. A 3xx (4.2.2: the
                // server "MAY" redirect) or another 4xx/5xx refuses.
                if r.status < 300 && !(status.contains(&r.status) && r.status != 101) {
                    return self.unmet(format!("status {} {}", r.status, r.reason));
                }
                for (name, value) in headers {
                    match (r.header(name), value) {
                        (None, _) => {
                            return self
                                .unmet(format!("status {} without a {name} header", r.status));
                        }
                        (Some(got), Some(want)) if !list_holds(&got, want) => {
                            return self.unmet(format!(
                                "status {} with {name}: {got} (expected {want})",
                                r.status
                            ));
                        }
                        _ => {}
                    }
                }
                if !status.is_empty() && !status.contains(&r.status) {
                    // Refusing is the MUST; which error code is the server's choice.
                    return self.lax(format!("status {} {}", r.status, r.reason), STATUS_REASON);
                }
                Progress::Met
            }
            (_, Err(e)) => self.unmet(e.clone()),
            _ => Progress::Met,
        }
    }

    /// A close frame arrived: the MUST (fail the connection, answer a close)
    /// is met; a code other than the expected ones is only a SHOULD.
    fn check_codes(&self, codes: &[u16], code: Option<u16>) -> Progress {
        let reason = match self.expected {
            Expected::Fail(_) => FAIL_CODE_REASON,
            _ => CLOSE_CODE_REASON,
        };
        match code {
            _ if codes.is_empty() => Progress::Met,
            Some(c) if codes.contains(&c) => Progress::Met,
            Some(c) => self.lax(format!("a close frame with code {c}"), reason),
            None => self.lax("a close frame without a status code".into(), reason),
        }
    }

    /// A wait that ended without the thing waited for.
    fn stopped(&self, event: &Event) -> Progress {
        match event {
            Event::TimedOut => self.unmet(format!(
                "nothing: timed out after {} waiting for it",
                seconds(self.before.timeout)
            )),
            Event::Broke(b) => match self.unmet(b.actual.clone()) {
                Progress::Unmet(failure) => Progress::Unmet(Failure {
                    rule: Some(b.rule.clone()),
                    caret: b.caret,
                    ..failure
                }),
                other => other,
            },
            other => self.unmet(describe_event(other)),
        }
    }

    /// Whether a message belongs to another scenario on the same chat server.
    fn unrelated(&self, event: &Event, wanted: Option<&str>) -> bool {
        match (self.before.nonces, event) {
            (Some(nonces), Event::Message { bytes, .. }) => {
                chat::is_unrelated(bytes, wanted, nonces)
            }
            _ => false,
        }
    }

    /// Counts a skipped event; false once too many were skipped.
    fn skip(&mut self) -> bool {
        if self.skipped < MAX_SKIPPED {
            self.skipped += 1;
            true
        } else {
            false
        }
    }

    /// Takes the next event read on the connection.
    pub fn feed(&mut self, event: &Event) -> Progress {
        let expected = self.expected;
        let closed_before = self.peer_closed;
        if matches!(event, Event::Close { .. }) {
            self.peer_closed = true;
        }
        if closed_before
            && matches!(expected, Expected::Silence(_))
            && matches!(event, Event::Message { .. })
        {
            // Whatever the step's strength: data after a close breaks a MUST.
            return Progress::Unmet(Failure {
                rule: Some(DATA_AFTER_CLOSE_RULE.to_string()),
                ..Failure::must(
                    self.before.client,
                    "no data frame after the server's close frame".to_string(),
                    describe_event(event),
                )
            });
        }
        match expected {
            Expected::Fail(codes) => match event {
                Event::Close { code, .. } => self.check_codes(codes, *code),
                Event::Pong(_) => Progress::NeedMore,
                Event::Ended(_) => Progress::Met,
                Event::TimedOut | Event::Broke(_) => self.stopped(event),
                other if self.unrelated(other, None) && self.skip() => Progress::NeedMore,
                other => self.unmet(describe_event(other)),
            },
            Expected::TcpClosed => match event {
                Event::Ended(_) => Progress::Met,
                Event::TimedOut | Event::Broke(_) => self.stopped(event),
                _ => Progress::NeedMore,
            },
            Expected::Frame {
                opcode,
                fin,
                payload,
            } => match event {
                Event::Frame {
                    opcode: got_op,
                    fin: got_fin,
                    payload: got,
                } => {
                    let op_ok = opcode.is_none_or(|o| OpCode::from_u8(o) == *got_op);
                    let fin_ok = fin.is_none_or(|f| f == *got_fin);
                    let payload_ok = payload.as_ref().is_none_or(|want| want == got);
                    if op_ok && fin_ok && payload_ok {
                        Progress::Met
                    } else {
                        self.unmet(describe_event(event))
                    }
                }
                other => self.stopped(other),
            },
            _ => self.feed_message(event),
        }
    }

    fn feed_message(&mut self, event: &Event) -> Progress {
        let expected = self.expected;
        match event {
            Event::TimedOut if matches!(expected, Expected::Silence(_)) => return Progress::Met,
            Event::TimedOut | Event::Ended(_) | Event::Broke(_) => return self.stopped(event),
            _ => {}
        }
        let wanted = match expected {
            Expected::Broadcast(m) => Some(m.nonce.as_str()),
            _ => None,
        };
        // Unsolicited pongs are heartbeats (RFC 6455 5.5.3 allows them): only
        // a pong expectation looks at them.
        let heartbeat = matches!(event, Event::Pong(_)) && !matches!(expected, Expected::Pong(_));
        if (heartbeat || self.unrelated(event, wanted)) && self.skip() {
            return Progress::NeedMore;
        }
        match (expected, event) {
            (Expected::Message { kind, bytes }, Event::Message { kind: k, bytes: b }) => {
                if kind.is_some_and(|want| want != *k)
                    || bytes.as_ref().is_some_and(|want| want != b)
                {
                    self.unmet(describe_event(event))
                } else {
                    Progress::Met
                }
            }
            (Expected::Broadcast(m), Event::Message { bytes, .. }) => {
                match chat::matches(bytes, m) {
                    Ok(()) => Progress::Met,
                    Err(actual) => self.unmet(actual),
                }
            }
            (Expected::Pong(want), Event::Pong(got)) if want == got => Progress::Met,
            (Expected::Close(codes), Event::Close { code, .. }) => self.check_codes(codes, *code),
            _ => self.unmet(describe_event(event)),
        }
    }
}

/// Judges a step from its events (the fold of [`Judging`]): `NeedMore` if
/// they do not settle it.
pub fn judge(expected: &Expected, before: Before, events: &[Event]) -> Progress {
    let (mut judging, mut progress) = Judging::start(expected, before);
    for event in events {
        if progress != Progress::NeedMore {
            break;
        }
        progress = judging.feed(event);
    }
    progress
}

#[cfg(test)]
#[path = "judge_tests.rs"]
mod tests;

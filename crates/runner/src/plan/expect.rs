//! `expect` steps: what to wait for, with every byte decided.
//!
//! `echo: last` becomes the exact message in the echo profile and the
//! broadcast carrying the sent nonce in the chat profile; payload
//! descriptions become bytes; the timeout grows with the message size.

use std::collections::HashMap;
use std::time::Duration;

use super::{ClientState, Expected, Op, PlanError, PlanSettings, Profile, scaled_for};
use crate::payload::payload_bytes;
use crate::scenario::{DataKind, EchoOf, ExpectKind, Expectation, PongOf};

/// The operation of an `expect` step of client `name`.
pub(super) fn expect_op(
    e: &Expectation,
    name: &str,
    clients: &HashMap<String, ClientState>,
    settings: &PlanSettings,
    base_timeout: Duration,
    invalid: impl Fn(String) -> PlanError,
) -> Result<Op, PlanError> {
    let state = clients
        .get(name)
        .ok_or_else(|| invalid(format!("no client named '{name}'")))?;
    let last_len = state
        .last_message
        .as_ref()
        .map(|m| m.bytes.len())
        .unwrap_or(0);
    let timeout = e.timeout.map(|d| d.0).unwrap_or(base_timeout) + scaled_for(last_len);
    let expected = expected(&e.kind, name, state, clients, settings, &invalid)?;
    let timeout = match expected {
        Expected::Silence(d) => d + timeout,
        _ => timeout,
    };
    Ok(Op::Expect {
        expected,
        timeout,
        strength: e.strength,
        reason: e.reason.clone(),
        prerequisite: false,
        answer: e.answer,
    })
}

fn expected(
    kind: &ExpectKind,
    name: &str,
    state: &ClientState,
    clients: &HashMap<String, ClientState>,
    settings: &PlanSettings,
    invalid: &impl Fn(String) -> PlanError,
) -> Result<Expected, PlanError> {
    Ok(match kind {
        ExpectKind::Accepted => Expected::Accepted,
        ExpectKind::Refused { status, headers } => Expected::Refused {
            status: status.clone(),
            headers: headers.clone(),
        },
        ExpectKind::Echo(of) => {
            let sent = match of {
                EchoOf::Last => state.last_message.clone().ok_or_else(|| {
                    invalid(format!(
                        "`echo: last` but client '{name}' has sent no text or binary message before"
                    ))
                })?,
                EchoOf::Client(other) => {
                    if settings.profile == Profile::Echo {
                        return Err(PlanError::NotApplicable(format!(
                            "expects a broadcast from '{other}', which only a chat server sends"
                        )));
                    }
                    clients
                        .get(other)
                        .and_then(|c| c.last_message.clone())
                        .ok_or_else(|| {
                            invalid(format!(
                                "`echo: {other}` but client '{other}' has sent no message before"
                            ))
                        })?
                }
            };
            match (&sent.chat, settings.profile) {
                (Some(chat), _) => Expected::Broadcast(chat.clone()),
                (None, Profile::Chat) => {
                    return Err(PlanError::NotApplicable(
                        "echoes a message a chat server cannot carry (binary or not UTF-8)".into(),
                    ));
                }
                (None, Profile::Echo) => Expected::Message {
                    kind: Some(sent.kind),
                    bytes: Some(sent.bytes),
                },
            }
        }
        ExpectKind::Message { kind, payload } => Expected::Message {
            kind: Some(*kind),
            bytes: payload
                .as_ref()
                .map(|p| payload_bytes(p, *kind == DataKind::Text)),
        },
        ExpectKind::Frame {
            opcode,
            fin,
            payload,
        } => Expected::Frame {
            opcode: opcode.map(|o| o.0),
            fin: *fin,
            payload: payload.as_ref().map(|p| payload_bytes(p, false)),
        },
        ExpectKind::Pong(of) => Expected::Pong(match of {
            PongOf::Last => state.last_ping.clone().ok_or_else(|| {
                invalid(format!(
                    "`pong: last` but client '{name}' has sent no ping before"
                ))
            })?,
            PongOf::Payload(p) => payload_bytes(p, false),
        }),
        ExpectKind::Close(codes) => Expected::Close(codes.clone()),
        ExpectKind::Fail(codes) => Expected::Fail(codes.clone()),
        ExpectKind::Silence(d) => Expected::Silence(d.0),
        ExpectKind::TcpClosed => Expected::TcpClosed,
    })
}

//! The plan of whole scenarios, profile by profile.

use super::*;
use crate::load::parse_scenario;

/// The plan of the scenario `yaml` in `profile` (the chapter plays no part).
fn planned(yaml: &str, profile: Profile) -> Vec<PlannedStep> {
    let s = parse_scenario("scenarios/01-any/a.yaml", yaml).unwrap();
    plan(&s, &settings(profile)).unwrap()
}

fn settings(profile: Profile) -> PlanSettings {
    test_settings("ws://127.0.0.1:9001/echo", profile)
}

#[test]
fn inserts_default_handshake_and_fragments() {
    let plan = planned(
        "id: a\ntitle: t\nsteps:\n  - send: { text: Hello, fragments: [2, 2], between: [{ ping: x }], mask: \"37fa213d\" }\n  - expect: { echo: last }\n",
        Profile::Echo,
    );
    assert!(matches!(plan[0].op, Op::Handshake { .. }));
    assert!(matches!(
        plan[1].op,
        Op::Expect {
            prerequisite: true,
            ..
        }
    ));
    let Op::Write { bytes, .. } = &plan[2].op else {
        panic!("expected a write");
    };
    let views = crate::decode::frames(bytes);
    let summaries: Vec<String> = views.iter().map(crate::decode::summary).collect();
    assert_eq!(
        summaries,
        [
            "text MASK len=2 \"He\"",
            "FIN ping MASK len=1 \"x\"",
            "cont MASK len=2 \"ll\"",
            "FIN cont MASK len=1 \"o\"",
        ]
    );
    assert!(matches!(
        &plan[3].op,
        Op::Expect { expected: Expected::Message { bytes: Some(b), .. }, .. } if b == b"Hello"
    ));
}

#[test]
fn chat_profile_keeps_the_size_and_adds_a_nonce() {
    let plan = planned(
        "id: a\ntitle: t\nsteps:\n  - send: { text: { len: 126 } }\n  - expect: { echo: last }\n",
        Profile::Chat,
    );
    let Op::Write {
        message: Some(m), ..
    } = &plan[2].op
    else {
        panic!("expected a write");
    };
    assert_eq!(m.bytes.len(), 126);
    let v: serde_json::Value = serde_json::from_slice(&m.bytes).unwrap();
    let chat = m.chat.as_ref().unwrap();
    assert_eq!(v["username"], "client");
    assert!(v["message"].as_str().unwrap().starts_with(&chat.nonce));
    assert!(matches!(
        plan[3].op,
        Op::Expect {
            expected: Expected::Broadcast(_),
            ..
        }
    ));
}

#[test]
fn profile_mismatch_skips() {
    let s = parse_scenario(
        "scenarios/10-chat/a.yaml",
        "id: a\ntitle: t\nprofile: chat\nsteps:\n  - send: { text: hi }\n",
    )
    .unwrap();
    assert!(matches!(
        plan(&s, &settings(Profile::Echo)),
        Err(PlanError::NotApplicable(_))
    ));
}

#[test]
fn raw_handshake_is_sent_with_crlf_and_placeholders() {
    let steps: Vec<crate::scenario::Step> = crate::load::from_yaml(
            "- handshake:\n    raw: |+\n      GET {path} HTTP/1.1\n      Host: {host}\n      Sec-WebSocket-Key: {key}\n\n",
        )
        .unwrap();
    let Action::Handshake(spec) = &steps[0].action else {
        panic!("expected a handshake");
    };
    let target = Target::parse("ws://h:1/p").unwrap();
    let text = String::from_utf8(handshake_request(spec, &target, "k")).unwrap();
    assert_eq!(
        text,
        "GET /p HTTP/1.1\r\nHost: h:1\r\nSec-WebSocket-Key: k\r\n\r\n"
    );
}

#[test]
fn edited_handshake_replaces_removes_and_recases() {
    let spec: HandshakeSpec = crate::load::from_yaml(
        "headers: { upgrade: WebSocket, Sec-WebSocket-Key: null, X-Extra: 1 }",
    )
    .unwrap();
    let target = Target::parse("ws://h:1/p").unwrap();
    let text = String::from_utf8(handshake_request(&spec, &target, "k")).unwrap();
    assert!(text.contains("upgrade: WebSocket\r\n"), "{text}");
    assert!(!text.contains("Sec-WebSocket-Key"), "{text}");
    assert!(text.ends_with("X-Extra: 1\r\n\r\n"), "{text}");
}

#[test]
fn a_path_can_extend_the_targets_and_a_written_key_is_the_one_checked() {
    let plan = planned(
        "id: a\ntitle: t\nsteps:\n  - handshake: { path: \"{path}?room=1\", headers: { Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ== }, chunks: 1, then: { text: hi } }\n  - expect: { echo: last }\n",
        Profile::Echo,
    );
    let Op::Handshake {
        request,
        key,
        then,
        chunks,
        message,
        ..
    } = &plan[0].op
    else {
        panic!("expected a handshake");
    };
    let text = String::from_utf8_lossy(request);
    assert!(text.starts_with("GET /echo?room=1 HTTP/1.1\r\n"), "{text}");
    assert_eq!(key, "dGhlIHNhbXBsZSBub25jZQ==");
    assert_eq!(chunks, &Some(Chunks::Every(1)));
    let frames: Vec<String> = crate::decode::frames(then)
        .iter()
        .map(crate::decode::summary)
        .collect();
    assert_eq!(frames.len(), 1);
    assert!(frames[0].starts_with("FIN text MASK len=2"), "{frames:?}");
    assert_eq!(
        message.as_ref().map(|m| m.bytes.as_slice()),
        Some(&b"hi"[..])
    );
    // The edited handshake is no prerequisite, and `echo: last` finds `then`'s message.
    assert!(matches!(
        plan[1].op,
        Op::Expect {
            prerequisite: false,
            ..
        }
    ));
    assert!(matches!(
        &plan[2].op,
        Op::Expect { expected: Expected::Message { bytes: Some(b), .. }, .. } if b == b"hi"
    ));
}

#[test]
fn compressed_sends_are_encoded_at_write_time_with_rsv1_on_the_first_frame() {
    let plan = planned(
        "id: a\ntitle: t\nsteps:\n  - handshake: { extensions: \"permessage-deflate\" }\n  - send: { text: Hello, compress: true, fragments: [3], between: [{ ping: x }] }\n  - expect: { echo: last }\n",
        Profile::Echo,
    );
    let Op::Handshake { request, .. } = &plan[0].op else {
        panic!("expected a handshake");
    };
    let request = String::from_utf8_lossy(request);
    assert!(request.contains("\r\nSec-WebSocket-Extensions: permessage-deflate\r\n"));
    let Op::SendCompressed(send) = &plan[2].op else {
        panic!("expected a compressed send, got {:?}", plan[2].op);
    };
    assert_eq!(send.payload, b"Hello");
    // RFC 7692 7.2.3.1's "Hello", cut after 3 bytes with the ping between.
    let bytes = send
        .frames(Some(&[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]))
        .unwrap();
    let views = crate::decode::frames(&bytes);
    let summaries: Vec<String> = views.iter().map(crate::decode::summary).collect();
    assert_eq!(summaries.len(), 3, "{summaries:?}");
    assert!(
        summaries[0].starts_with("RSV1 text MASK len=3"),
        "{summaries:?}"
    );
    assert!(
        summaries[1].starts_with("FIN ping MASK len=1"),
        "{summaries:?}"
    );
    assert!(
        summaries[2].starts_with("FIN cont MASK len=4"),
        "{summaries:?}"
    );
    // Uncompressed when the window does not allow compression.
    let plain = send.frames(None).unwrap();
    assert_eq!(crate::decode::frames(&plain).len(), 3);
    assert!(matches!(
        &plan[3].op,
        Op::Expect { expected: Expected::Message { bytes: Some(b), .. }, .. } if b == b"Hello"
    ));
}

#[test]
fn compress_is_for_data_messages() {
    let s = parse_scenario(
        "scenarios/01-any/a.yaml",
        "id: a\ntitle: t\nsteps:\n  - send: { ping: x, compress: true }\n",
    );
    assert!(s.is_err());
}

#[test]
fn a_twin_is_played_first_on_its_own_connection_then_dropped() {
    let s = parse_scenario(
        "scenarios/02-frames/a.yaml",
        "id: a\ntitle: t\nsteps:\n  - frame: { opcode: 3, payload: x }\n  - expect: { fail: [1002] }\n",
    )
    .unwrap();
    let plan = plan(&s, &settings(Profile::Echo)).unwrap();
    let twin: Vec<&PlannedStep> = plan.iter().filter(|p| p.twin).collect();
    // handshake, accepted, two messages with their echoes, disconnect
    assert_eq!(twin.len(), 7);
    assert!(twin.iter().all(|p| p.client == "twin" && p.step.is_none()));
    assert!(plan.iter().take(7).all(|p| p.twin));
    assert!(matches!(twin[6].op, Op::Disconnect));
    let own: Vec<&PlannedStep> = plan.iter().filter(|p| !p.twin).collect();
    assert!(own.iter().all(|p| p.client == DEFAULT_CLIENT));
    assert_eq!(own.last().map(|p| p.step), Some(Some(1)));
}

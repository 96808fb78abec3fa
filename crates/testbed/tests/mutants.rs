//! Each mutant's bug really happens: the same probe, run against the
//! bug-free baseline and against the mutant, gives the right answer from the
//! first and the wrong one from the second.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{Raw, chat, chat_fields, within, ws_connect, ws_next_data, ws_round_trip};
use futures_util::SinkExt as _;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use wsconform_testbed::{Bug, ShutdownHandle, start_mutant};
use wsconform_wire::{
    CloseFrame, Event, Message, OpCode, ProtocolError, ResponseError, build_request, generate_key,
    validate_response,
};

async fn launch(bug: Option<Bug>) -> (SocketAddr, ShutdownHandle) {
    start_mutant(bug).await.expect("the mutant starts")
}

/// Runs `probe` against the baseline and against the mutant with `bug`.
async fn both<T, F, Fut>(bug: Bug, probe: F) -> (T, T)
where
    F: Fn(SocketAddr) -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let (baseline, _a) = launch(None).await;
    let (mutant, _b) = launch(Some(bug)).await;
    (probe(baseline).await, probe(mutant).await)
}

#[test]
fn every_bug_is_tested_here() {
    // The list of bugs below must grow with Bug::ALL.
    let tested = [
        Bug::WrongAcceptKey,
        Bug::CaseSensitiveHeaders,
        Bug::LittleEndianLength,
        Bug::No64BitLength,
        Bug::OneReadOneFrame,
        Bug::FinIgnored,
        Bug::PingIgnored,
        Bug::CloseNotAnswered,
        Bug::MaskedServerFrames,
        Bug::WrongLongLength,
        Bug::NoUtf8Check,
        Bug::UnmaskedAccepted,
        Bug::BroadcastToSenderOnly,
        Bug::OneClientAtATime,
        Bug::Rsv1OnContinuation,
        Bug::ContextTakeoverIgnored,
        Bug::WindowBitsIgnored,
    ];
    for bug in Bug::ALL {
        assert!(
            tested.contains(&bug),
            "{bug} has no test in tests/mutants.rs"
        );
    }
    assert_eq!(tested.len(), Bug::ALL.len());
}

#[tokio::test]
async fn wrong_accept_key() {
    let (good, bad) = both(Bug::WrongAcceptKey, |addr| async move {
        let mut raw = Raw::connect(addr).await;
        let key = generate_key(3);
        raw.send(&build_request(&addr.to_string(), "/echo", &key, &[]))
            .await;
        let response = raw.response().await;
        validate_response(&response, &key)
    })
    .await;
    assert_eq!(good, Ok(()));
    assert!(
        matches!(bad, Err(ResponseError::WrongAccept { .. })),
        "{bad:?}"
    );
}

#[tokio::test]
async fn case_sensitive_headers() {
    // Every name in lower case, and only Upgrade and Connection in lower case.
    for (upgrade, connection, key) in [
        ("upgrade", "connection", "sec-websocket-key"),
        ("upgrade", "connection", "Sec-WebSocket-Key"),
        ("Upgrade", "Connection", "SEC-WEBSOCKET-KEY"),
    ] {
        let (good, bad) = both(Bug::CaseSensitiveHeaders, |addr| async move {
            let mut raw = Raw::connect(addr).await;
            let request = format!(
                "GET /echo HTTP/1.1\r\nhost: {addr}\r\n{upgrade}: websocket\r\n\
                 {connection}: Upgrade\r\n{key}: dGhlIHNhbXBsZSBub25jZQ==\r\n\
                 sec-websocket-version: 13\r\n\r\n"
            );
            raw.send(request.as_bytes()).await;
            raw.response().await.status
        })
        .await;
        assert_eq!((good, bad), (101, 400), "{upgrade}, {connection}, {key}");
    }
}

#[tokio::test]
async fn little_endian_length() {
    // 256 bytes is 01 00 on the wire; read little-endian it is 1 byte.
    let (good, bad) = both(Bug::LittleEndianLength, |addr| async move {
        let mut raw = Raw::open(addr, "/echo").await;
        raw.send_frame(true, OpCode::Binary, &[0xAB; 256]).await;
        raw.event().await
    })
    .await;
    assert_eq!(good, Ok(Event::Message(Message::Binary(vec![0xAB; 256]))));
    assert_eq!(bad, Ok(Event::Message(Message::Binary(vec![0xAB]))));
}

#[tokio::test]
async fn no_64_bit_length() {
    let (good, bad) = both(Bug::No64BitLength, |addr| async move {
        let mut raw = Raw::open(addr, "/echo").await;
        // The mutant may hang up while this is written: no error then.
        raw.send_lossy(&Raw::frame(true, OpCode::Binary, &[1; 65_536]))
            .await;
        raw.raw_frame().await.map(|frame| frame.payload.len())
    })
    .await;
    assert_eq!(good, Some(65_536));
    assert_eq!(bad, None, "the mutant should drop the connection");
}

#[tokio::test]
async fn one_read_one_frame() {
    // Two frames in one write, then a third after the first echo: the
    // mutant loses the second, which came in the same read as the first.
    let (good, bad) = both(Bug::OneReadOneFrame, |addr| async move {
        let mut raw = Raw::open(addr, "/echo").await;
        let mut two = Raw::frame(true, OpCode::Text, b"first");
        two.extend(Raw::frame(true, OpCode::Text, b"second"));
        raw.send(&two).await;
        let mut echoed = vec![raw.event().await];
        raw.send_frame(true, OpCode::Text, b"third").await;
        echoed.push(raw.event().await);
        echoed
    })
    .await;
    let text = |t: &str| Ok(Event::Message(Message::Text(t.into())));
    assert_eq!(good, [text("first"), text("second")]);
    assert_eq!(bad, [text("first"), text("third")]);
}

#[tokio::test]
async fn one_read_one_frame_breaks_on_a_split_frame() {
    let (good, bad) = both(Bug::OneReadOneFrame, |addr| async move {
        let mut raw = Raw::open(addr, "/echo").await;
        let frame = Raw::frame(true, OpCode::Text, b"split in two");
        let (head, tail) = frame.split_at(4);
        raw.send(head).await;
        // Give the server time to read the first part on its own.
        tokio::time::sleep(Duration::from_millis(100)).await;
        raw.send_lossy(tail).await;
        raw.raw_frame().await.map(|frame| frame.payload)
    })
    .await;
    assert_eq!(good.as_deref(), Some(&b"split in two"[..]));
    assert_eq!(bad, None, "the mutant should drop the connection");
}

#[tokio::test]
async fn fin_ignored() {
    let (good, bad) = both(Bug::FinIgnored, |addr| async move {
        let mut raw = Raw::open(addr, "/echo").await;
        raw.send_frame(false, OpCode::Text, b"Hel").await;
        raw.send_frame(true, OpCode::Continuation, b"lo").await;
        raw.send_frame(true, OpCode::Text, b"!").await;
        let first = raw.event().await;
        let second = raw.event().await;
        (first, second)
    })
    .await;
    let text = |t: &str| Ok(Event::Message(Message::Text(t.into())));
    assert_eq!(good, (text("Hello"), text("!")));
    assert_eq!(bad, (text("Hel"), text("lo")));
}

#[tokio::test]
async fn ping_ignored() {
    let (good, bad) = both(Bug::PingIgnored, |addr| async move {
        let mut raw = Raw::open(addr, "/echo").await;
        raw.send_frame(true, OpCode::Ping, b"ping?").await;
        raw.send_frame(true, OpCode::Text, b"after").await;
        raw.event().await
    })
    .await;
    assert_eq!(good, Ok(Event::Pong(b"ping?".to_vec())));
    assert_eq!(bad, Ok(Event::Message(Message::Text("after".into()))));
}

#[tokio::test]
async fn close_not_answered() {
    let (good, bad) = both(Bug::CloseNotAnswered, |addr| async move {
        let mut raw = Raw::open(addr, "/echo").await;
        raw.send_frame(true, OpCode::Close, &[0x03, 0xE8]).await;
        raw.raw_frame().await.map(|frame| frame.header.opcode)
    })
    .await;
    assert_eq!(good, Some(OpCode::Close));
    assert_eq!(bad, None, "the mutant should hang up without a close frame");
}

#[tokio::test]
async fn masked_server_frames() {
    let (good, bad) = both(Bug::MaskedServerFrames, |addr| async move {
        let mut raw = Raw::open(addr, "/echo").await;
        raw.send_frame(true, OpCode::Text, b"hello").await;
        raw.event().await
    })
    .await;
    assert_eq!(good, Ok(Event::Message(Message::Text("hello".into()))));
    assert_eq!(bad, Err(ProtocolError::MaskedFrame));

    // tungstenite, as a client, refuses the masked frame too.
    let (addr, _mutant) = launch(Some(Bug::MaskedServerFrames)).await;
    let mut ws = ws_connect(addr, "/echo").await;
    within("sending", ws.send(WsMessage::text("hello")))
        .await
        .expect("send");
    let reply = within("the reply", futures_util::StreamExt::next(&mut ws)).await;
    assert!(matches!(reply, Some(Err(_))), "{reply:?}");
}

#[tokio::test]
async fn wrong_long_length() {
    let (good, bad) = both(Bug::WrongLongLength, |addr| async move {
        let mut raw = Raw::open(addr, "/echo").await;
        raw.send_frame(true, OpCode::Binary, &[9; 300]).await;
        while raw.buf.len() < 4 && raw.read_more().await {}
        raw.buf.get(..4).map(<[u8]>::to_vec)
    })
    .await;
    // 300 = 0x012C, big-endian on the wire.
    assert_eq!(good, Some(vec![0x82, 126, 0x01, 0x2C]));
    assert_eq!(bad, Some(vec![0x82, 126, 0x2C, 0x01]));
}

#[tokio::test]
async fn no_utf8_check() {
    let (good, bad) = both(Bug::NoUtf8Check, |addr| async move {
        let mut raw = Raw::open(addr, "/echo").await;
        raw.send_frame(true, OpCode::Text, b"caf\xC3").await;
        raw.raw_frame().await
    })
    .await;
    let good = good.expect("a frame from the baseline");
    assert_eq!(good.header.opcode, OpCode::Close);
    assert_eq!(good.payload.get(..2), Some(&[0x03, 0xEF][..])); // 1007
    let bad = bad.expect("a frame from the mutant");
    assert_eq!(
        (bad.header.opcode, bad.payload),
        (OpCode::Text, b"caf\xC3".to_vec())
    );
}

#[tokio::test]
async fn unmasked_accepted() {
    let (good, bad) = both(Bug::UnmaskedAccepted, |addr| async move {
        let mut raw = Raw::open(addr, "/echo").await;
        let mut unmasked = Vec::new();
        wsconform_wire::encode_frame(&mut unmasked, true, OpCode::Text, None, b"bare");
        raw.send(&unmasked).await;
        raw.event().await
    })
    .await;
    assert!(
        matches!(good, Ok(Event::Close(Some(CloseFrame { code: 1002, .. })))),
        "{good:?}"
    );
    assert_eq!(bad, Ok(Event::Message(Message::Text("bare".into()))));
}

#[tokio::test]
async fn broadcast_to_sender_only() {
    let (good, bad) = both(Bug::BroadcastToSenderOnly, |addr| async move {
        let mut alice = ws_connect(addr, "/socket").await;
        // Alice receives her own message: she is in the room.
        ws_round_trip(&mut alice, WsMessage::text(chat("alice", "one"))).await;
        let mut bob = ws_connect(addr, "/socket").await;
        ws_round_trip(&mut bob, WsMessage::text(chat("bob", "two"))).await;
        // Bob's message was broadcast before Alice's next one, so a correct
        // server delivers it to Alice first.
        within(
            "sending",
            alice.send(WsMessage::text(chat("alice", "three"))),
        )
        .await
        .expect("send");
        chat_fields(&ws_next_data(&mut alice).await)
    })
    .await;
    assert_eq!(good, ("bob".to_owned(), "two".to_owned()));
    assert_eq!(bad, ("alice".to_owned(), "three".to_owned()));
}

#[tokio::test]
async fn one_client_at_a_time() {
    // The baseline completes a second handshake while the first client is
    // still connected.
    let (addr, _baseline) = launch(None).await;
    let _first = ws_connect(addr, "/echo").await;
    let mut second = ws_connect(addr, "/echo").await;
    let echoed = ws_round_trip(&mut second, WsMessage::text("me too")).await;
    assert_eq!(echoed.to_text().ok(), Some("me too"));

    // The mutant is not even reading the second connection: however long
    // we wait, its handshake cannot complete while the first client stays.
    let (addr, _mutant) = launch(Some(Bug::OneClientAtATime)).await;
    let mut first = ws_connect(addr, "/echo").await;
    let mut second = tokio::spawn(async move {
        let url = format!("ws://{addr}/echo");
        tokio_tungstenite::connect_async(url).await.is_ok()
    });
    let waited = tokio::time::timeout(Duration::from_millis(500), &mut second).await;
    assert!(
        waited.is_err(),
        "the second client was served alongside the first"
    );
    // Its turn comes when the first client leaves.
    within("closing", first.close(None)).await.expect("close");
    let served = within("the second handshake", second)
        .await
        .expect("the client task runs");
    assert!(
        served,
        "the second client is served once the first has left"
    );
}

/// A masked frame with RSV1 set: the "Per-Message Compressed" bit.
fn compressed_frame(fin: bool, opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    let mut frame = Raw::frame(fin, opcode, payload);
    frame[0] |= 0x40;
    frame
}

/// RFC 7692 7.2.3.1: "Hello" compressed, and 7.2.3.2: the second "Hello"
/// as a back reference into the first.
const HELLO: [u8; 7] = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
const HELLO_AGAIN: [u8; 5] = [0xf2, 0x00, 0x11, 0x00, 0x00];

#[tokio::test]
async fn rsv1_on_continuation() {
    let (good, bad) = both(Bug::Rsv1OnContinuation, |addr| async move {
        let (mut raw, _) = Raw::open_offering(addr, "permessage-deflate").await;
        let mut bytes = compressed_frame(false, OpCode::Text, &HELLO[..3]);
        bytes.extend(compressed_frame(true, OpCode::Continuation, &HELLO[3..]));
        raw.send(&bytes).await;
        raw.event().await
    })
    .await;
    assert!(
        matches!(&good, Ok(e) if close_code(e) == Some(1002)),
        "{good:?}"
    );
    assert_eq!(bad, Ok(Event::Message(Message::Text("Hello".into()))));
}

#[tokio::test]
async fn context_takeover_ignored() {
    let (good, bad) = both(Bug::ContextTakeoverIgnored, |addr| async move {
        let (mut raw, _) = Raw::open_offering(addr, "permessage-deflate").await;
        raw.send(&compressed_frame(true, OpCode::Text, &HELLO))
            .await;
        let first = raw.event().await;
        raw.send(&compressed_frame(true, OpCode::Text, &HELLO_AGAIN))
            .await;
        (first, raw.event().await)
    })
    .await;
    let hello = Ok(Event::Message(Message::Text("Hello".into())));
    assert_eq!(good, (hello.clone(), hello.clone()));
    assert_eq!(bad.0, hello);
    assert!(
        matches!(&bad.1, Ok(e) if close_code(e) == Some(1007)),
        "{bad:?}"
    );
}

#[tokio::test]
async fn window_bits_ignored() {
    let (good, bad) = both(Bug::WindowBitsIgnored, |addr| async move {
        let (_, response) =
            Raw::open_offering(addr, "permessage-deflate; server_max_window_bits=10").await;
        response.header("Sec-WebSocket-Extensions")
    })
    .await;
    assert_eq!(
        good.as_deref(),
        Some("permessage-deflate; server_max_window_bits=10")
    );
    assert_eq!(bad.as_deref(), Some("permessage-deflate"));
}

fn close_code(event: &Event) -> Option<u16> {
    match event {
        Event::Close(Some(CloseFrame { code, .. })) => Some(*code),
        _ => None,
    }
}

//! What every correct server does, checked on the two servers that must be
//! correct: the tungstenite peer and the bug-free baseline mutant.

mod common;

use std::net::SocketAddr;

use common::{Raw, chat, chat_fields, within, ws_connect, ws_next_data, ws_round_trip};
use futures_util::SinkExt as _;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use wsconform_testbed::{Server, ShutdownHandle, start};
use wsconform_wire::{CloseFrame, Event, Message, OpCode, build_request, generate_key};

const CORRECT: [Server; 2] = [Server::Peer, Server::Mutant(None)];

async fn launch(server: Server) -> (SocketAddr, ShutdownHandle) {
    start(server, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("the server starts")
}

fn close_code(event: &Event) -> Option<u16> {
    match event {
        Event::Close(Some(CloseFrame { code, .. })) => Some(*code),
        _ => None,
    }
}

#[tokio::test]
async fn echo_text_and_binary_of_every_length_form() {
    for server in CORRECT {
        let (addr, _server) = launch(server).await;
        let mut ws = ws_connect(addr, "/echo").await;
        for len in [0, 5, 125, 126, 300, 65_535, 65_536, 200_000] {
            let text = "é".repeat(len / 2) + &"x".repeat(len % 2);
            let echoed = ws_round_trip(&mut ws, WsMessage::text(text.clone())).await;
            assert_eq!(
                echoed.to_text().ok(),
                Some(text.as_str()),
                "{server} text {len}"
            );
            let binary: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            let echoed = ws_round_trip(&mut ws, WsMessage::binary(binary.clone())).await;
            assert_eq!(
                echoed.into_data().as_ref(),
                &binary[..],
                "{server} binary {len}"
            );
        }
        within("closing", ws.close(None))
            .await
            .expect("close succeeds");
    }
}

#[tokio::test]
async fn chat_broadcasts_to_everyone_in_order_per_sender() {
    for server in CORRECT {
        let (addr, _server) = launch(server).await;
        let mut clients = Vec::new();
        for name in ["alice", "bob", "carol"] {
            let mut ws = ws_connect(addr, "/socket").await;
            // Receiving our own hello proves we are in the room.
            let hello = ws_round_trip(&mut ws, WsMessage::text(chat(name, "hello"))).await;
            assert_eq!(chat_fields(&hello), (name.to_owned(), "hello".to_owned()));
            clients.push((name, ws));
        }
        for i in 0..5 {
            for (name, ws) in clients.iter_mut() {
                let text = chat(name, &format!("message {i}"));
                within("sending", ws.send(WsMessage::text(text)))
                    .await
                    .expect("send");
            }
        }
        // Everyone gets all 15 messages, each sender's in the order sent.
        for (receiver, ws) in clients.iter_mut() {
            let mut next_from = std::collections::HashMap::new();
            let mut received = 0;
            while received < 15 {
                let (from, text) = chat_fields(&ws_next_data(ws).await);
                if text == "hello" {
                    continue; // a later client's hello
                }
                let expected = next_from.entry(from.clone()).or_insert(0);
                assert_eq!(
                    text,
                    format!("message {expected}"),
                    "{server}: {receiver} from {from}"
                );
                *expected += 1;
                received += 1;
            }
        }
    }
}

#[tokio::test]
async fn chat_refuses_what_is_not_a_chat_message_with_1003() {
    for server in CORRECT {
        let (addr, _server) = launch(server).await;
        let mut raw = Raw::open(addr, "/socket").await;
        raw.send_frame(true, OpCode::Text, b"just text").await;
        let event = raw.event().await.expect("a valid close frame");
        assert_eq!(close_code(&event), Some(1003), "{server}: {event:?}");
    }
}

#[tokio::test]
async fn ping_gets_a_pong_and_close_is_echoed() {
    for server in CORRECT {
        let (addr, _server) = launch(server).await;
        let mut raw = Raw::open(addr, "/echo").await;
        raw.send_frame(true, OpCode::Ping, b"are you there").await;
        assert_eq!(
            raw.event().await,
            Ok(Event::Pong(b"are you there".to_vec())),
            "{server}"
        );
        raw.send_frame(true, OpCode::Close, &[0x0F, 0xA0]).await; // 4000
        let event = raw.event().await.expect("a valid close frame");
        assert_eq!(close_code(&event), Some(4000), "{server}");
        assert!(raw.rest().await.is_empty(), "{server}: nothing after close");
    }
}

#[tokio::test]
async fn fragments_are_reassembled_around_a_ping() {
    for server in CORRECT {
        let (addr, _server) = launch(server).await;
        let mut raw = Raw::open(addr, "/echo").await;
        raw.send_frame(false, OpCode::Text, b"Hel").await;
        raw.send_frame(true, OpCode::Ping, b"!").await;
        raw.send_frame(true, OpCode::Continuation, b"lo").await;
        assert_eq!(
            raw.event().await,
            Ok(Event::Pong(b"!".to_vec())),
            "{server}"
        );
        assert_eq!(
            raw.event().await,
            Ok(Event::Message(Message::Text("Hello".into()))),
            "{server}"
        );
    }
}

#[tokio::test]
async fn violations_fail_the_connection_with_the_right_code() {
    // (what is sent, the close code expected)
    let unmasked = {
        let mut out = Vec::new();
        wsconform_wire::encode_frame(&mut out, true, OpCode::Text, None, b"hi");
        out
    };
    let too_big = {
        // A header announcing 1 GiB: refused before any payload is sent.
        let mut out = Vec::new();
        wsconform_wire::FrameHeader {
            mask: Some(common::KEY),
            ..wsconform_wire::FrameHeader::new(OpCode::Binary, 1 << 30)
        }
        .encode(wsconform_wire::LengthForm::Minimal, &mut out)
        .expect("the header encodes");
        out
    };
    let cases: [(&str, Vec<u8>, u16); 5] = [
        ("unmasked frame", unmasked, 1002),
        (
            "reserved opcode",
            Raw::frame(true, OpCode::Reserved(3), b""),
            1002,
        ),
        (
            "invalid UTF-8",
            Raw::frame(true, OpCode::Text, b"ok\xFF"),
            1007,
        ),
        ("1-byte close", Raw::frame(true, OpCode::Close, b"x"), 1002),
        ("1 GiB frame", too_big, 1009),
    ];
    for server in CORRECT {
        let (addr, _server) = launch(server).await;
        for (what, bytes, code) in &cases {
            let mut raw = Raw::open(addr, "/echo").await;
            raw.send(bytes).await;
            let event = raw.event().await.expect("a valid close frame");
            assert_eq!(
                close_code(&event),
                Some(*code),
                "{server}: {what}: {event:?}"
            );
        }
    }
}

#[tokio::test]
async fn request_and_first_frame_in_one_write() {
    for server in CORRECT {
        let (addr, _server) = launch(server).await;
        let mut raw = Raw::connect(addr).await;
        let key = generate_key(1);
        let mut bytes = build_request(&addr.to_string(), "/echo", &key, &[]);
        bytes.extend(Raw::frame(true, OpCode::Text, b"eager"));
        raw.send(&bytes).await;
        let response = raw.response().await;
        wsconform_wire::validate_response(&response, &key).expect("a valid 101");
        assert_eq!(
            raw.event().await,
            Ok(Event::Message(Message::Text("eager".into()))),
            "{server}"
        );
    }
}

#[tokio::test]
async fn invalid_requests_get_an_http_status() {
    let cases: [(&str, &str, u16); 4] = [
        ("version 8", "Sec-WebSocket-Version: 8\r\n", 426),
        ("short key", "Sec-WebSocket-Key: c2hvcnQ=\r\n", 400),
        ("no upgrade", "Upgrade: h2c\r\n", 400),
        ("no host", "", 400),
    ];
    for server in CORRECT {
        let (addr, _server) = launch(server).await;
        for (what, replaced, status) in cases {
            let mut request = String::from("GET /echo HTTP/1.1\r\n");
            let standard = [
                ("Host", format!("Host: {addr}\r\n")),
                ("Upgrade", "Upgrade: websocket\r\n".to_owned()),
                ("Connection", "Connection: Upgrade\r\n".to_owned()),
                (
                    "Sec-WebSocket-Key",
                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n".to_owned(),
                ),
                (
                    "Sec-WebSocket-Version",
                    "Sec-WebSocket-Version: 13\r\n".to_owned(),
                ),
            ];
            for (name, line) in standard {
                let replace = replaced.starts_with(&format!("{name}:"))
                    || (what == "no host" && name == "Host");
                request.push_str(if replace { replaced } else { &line });
            }
            request.push_str("\r\n");
            let mut raw = Raw::connect(addr).await;
            raw.send(request.as_bytes()).await;
            let response = raw.response().await;
            assert_eq!(response.status, status, "{server}: {what}");
            if status == 426 {
                assert_eq!(
                    response.header("Sec-WebSocket-Version").as_deref(),
                    Some("13")
                );
            }
        }
        let mut raw = Raw::connect(addr).await;
        let key = generate_key(2);
        raw.send(&build_request(&addr.to_string(), "/nowhere", &key, &[]))
            .await;
        assert_eq!(raw.response().await.status, 404, "{server}: unknown path");
    }
}

#[tokio::test]
async fn a_client_is_in_the_room_as_soon_as_it_sees_101() {
    // The server must join the client to the room *before* answering 101:
    // a message sent right after the 101 arrives must still reach it.
    for server in CORRECT {
        let (addr, _server) = launch(server).await;
        let mut alice = ws_connect(addr, "/socket").await;
        for round in 0..20 {
            let mut bob = ws_connect(addr, "/socket").await;
            let text = chat("alice", &format!("round {round}"));
            within("sending", alice.send(WsMessage::text(text)))
                .await
                .expect("send");
            let (from, got) = chat_fields(&ws_next_data(&mut bob).await);
            assert_eq!(
                (from.as_str(), got),
                ("alice", format!("round {round}")),
                "{server}"
            );
            let _ = ws_next_data(&mut alice).await; // her own copy
            within("closing", bob.close(None)).await.expect("close");
        }
    }
}

#[tokio::test]
async fn the_baseline_fails_bad_utf8_before_the_frame_ends() {
    // Fail fast (Autobahn 6.4.x): a frame announcing 1000 bytes whose first
    // payload byte can never be UTF-8 fails at once, not after byte 1000.
    // (tungstenite checks a frame once it is complete: the peer is lenient
    // here, which the suite rates non-strict.)
    let (addr, _server) = launch(Server::Mutant(None)).await;
    let mut raw = Raw::open(addr, "/echo").await;
    let mut payload = vec![b'a'; 1000];
    payload[0] = 0xFF;
    let frame = Raw::frame(true, OpCode::Text, &payload);
    raw.send(&frame[..20]).await;
    let event = raw.event().await.expect("a valid close frame");
    assert_eq!(close_code(&event), Some(1007), "{event:?}");
}

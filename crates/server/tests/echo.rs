//! `/echo` with an independent client (tokio-tungstenite): sizes at every
//! length-encoding boundary, fragmentation, ping/pong and the closing
//! handshake.

mod common;

use common::*;
use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};

/// 0 and 125: 7-bit length; 126 and 65535: 16-bit; 65536 and 1 MiB: 64-bit.
const SIZES: [usize; 6] = [0, 125, 126, 65535, 65536, 1 << 20];

fn text_of(len: usize) -> String {
    // Multi-byte characters too, so UTF-8 sequences cross read boundaries;
    // ASCII fills up to the exact length.
    let mut text = String::with_capacity(len);
    for c in "aé€𝄞".chars().cycle() {
        if text.len() + c.len_utf8() > len {
            break;
        }
        text.push(c);
    }
    while text.len() < len {
        text.push('z');
    }
    text
}

#[tokio::test]
async fn echoes_text_and_binary_at_every_length_boundary() {
    let server = TestServer::default().await;
    let mut client = connect(&server, "/echo").await;
    for len in SIZES {
        let text = text_of(len);
        assert_eq!(text.len(), len);
        send(&mut client, Message::text(text.clone())).await;
        assert_eq!(
            next_message(&mut client).await,
            Message::text(text),
            "text of {len} bytes"
        );

        let bytes: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
        send(&mut client, Message::binary(bytes.clone())).await;
        assert_eq!(
            next_message(&mut client).await,
            Message::binary(bytes),
            "binary of {len} bytes"
        );
    }
    client.close(None).await.expect("close");
    server.stop().await;
}

#[tokio::test]
async fn reassembles_fragmented_messages() {
    let server = TestServer::default().await;
    let mut client = connect(&server, "/echo").await;

    // "Hello, wörld" in three fragments; the ö is split across two of them.
    let bytes = "Hello, wörld".as_bytes();
    let split = bytes.iter().position(|&b| b == 0xc3).unwrap() + 1;
    let parts: [&[u8]; 3] = [&bytes[..5], &bytes[5..split], &bytes[split..]];
    send(
        &mut client,
        Message::Frame(Frame::message(
            parts[0].to_vec(),
            OpCode::Data(Data::Text),
            false,
        )),
    )
    .await;
    // A ping in the middle of a fragmented message is allowed (§5.4).
    send(&mut client, Message::Ping(b"mid".to_vec().into())).await;
    send(
        &mut client,
        Message::Frame(Frame::message(
            parts[1].to_vec(),
            OpCode::Data(Data::Continue),
            false,
        )),
    )
    .await;
    send(
        &mut client,
        Message::Frame(Frame::message(
            parts[2].to_vec(),
            OpCode::Data(Data::Continue),
            true,
        )),
    )
    .await;
    assert_eq!(
        next_message(&mut client).await,
        Message::text("Hello, wörld")
    );

    // A binary message in 100 fragments of 1000 bytes.
    let payload: Vec<u8> = (0..100_000u32).map(|i| (i % 256) as u8).collect();
    for (i, chunk) in payload.chunks(1000).enumerate() {
        let opcode = if i == 0 { Data::Binary } else { Data::Continue };
        let last = (i + 1) * 1000 >= payload.len();
        send(
            &mut client,
            Message::Frame(Frame::message(chunk.to_vec(), OpCode::Data(opcode), last)),
        )
        .await;
    }
    assert_eq!(next_message(&mut client).await, Message::binary(payload));
    server.stop().await;
}

#[tokio::test]
async fn answers_ping_with_pong_of_the_same_payload() {
    let server = TestServer::default().await;
    let mut client = connect(&server, "/echo").await;
    for payload in [Vec::new(), b"hello".to_vec(), vec![0xfe; 125]] {
        send(&mut client, Message::Ping(payload.clone().into())).await;
        let reply = tokio::time::timeout(GUARD, client.next())
            .await
            .expect("no pong")
            .expect("stream ended")
            .expect("read failed");
        assert_eq!(reply, Message::Pong(payload.into()));
    }
    server.stop().await;
}

#[tokio::test]
async fn echoes_the_close_code_then_closes_tcp() {
    let server = TestServer::default().await;
    for code in [1000u16, 1001, 1003, 3000, 4999] {
        let mut client = connect(&server, "/echo").await;
        let frame = CloseFrame {
            code: CloseCode::from(code),
            reason: "bye".into(),
        };
        send(&mut client, Message::Close(Some(frame))).await;
        match next_message(&mut client).await {
            Message::Close(Some(reply)) => assert_eq!(u16::from(reply.code), code),
            other => panic!("expected a close reply, got {other:?}"),
        }
        // Then the server ends the connection.
        let end = tokio::time::timeout(GUARD, client.next())
            .await
            .expect("no end");
        assert!(end.is_none() || matches!(end, Some(Err(_))), "got {end:?}");
    }

    // A close without a code is answered with 1000.
    let mut client = connect(&server, "/echo").await;
    send(&mut client, Message::Close(None)).await;
    match next_message(&mut client).await {
        Message::Close(Some(reply)) => assert_eq!(u16::from(reply.code), 1000),
        other => panic!("expected a close 1000 reply, got {other:?}"),
    }
    server.stop().await;
}

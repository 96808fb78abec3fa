//! The benchmark baselines work: the fastwebsockets server echoes messages
//! of every length form, the TCP echo server echoes bytes.

mod common;

use common::{Raw, within, ws_connect, ws_round_trip};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use wsconform_testbed::{start_fastwebsockets_echo, start_tcp_echo};
use wsconform_wire::{CloseFrame, Event, OpCode};

#[tokio::test]
async fn fastwebsockets_echoes_text_and_binary() {
    let (addr, _server) = start_fastwebsockets_echo().await.expect("starts");
    let mut ws = ws_connect(addr, "/echo").await;
    for len in [0, 5, 126, 65_536, 100_000] {
        let text = "z".repeat(len);
        let echoed = ws_round_trip(&mut ws, WsMessage::text(text.clone())).await;
        assert_eq!(echoed.to_text().ok(), Some(text.as_str()));
        let binary = vec![0x5A; len];
        let echoed = ws_round_trip(&mut ws, WsMessage::binary(binary.clone())).await;
        assert_eq!(echoed.into_data().as_ref(), &binary[..]);
    }
}

#[tokio::test]
async fn fastwebsockets_answers_ping_and_close() {
    let (addr, _server) = start_fastwebsockets_echo().await.expect("starts");
    let mut raw = Raw::open(addr, "/").await;
    raw.send_frame(true, OpCode::Ping, b"p").await;
    assert_eq!(raw.event().await, Ok(Event::Pong(b"p".to_vec())));
    raw.send_frame(true, OpCode::Close, &[0x03, 0xE8]).await;
    assert!(matches!(
        raw.event().await,
        Ok(Event::Close(Some(CloseFrame { code: 1000, .. })))
    ));
}

#[tokio::test]
async fn tcp_echo_returns_every_byte() {
    let (addr, _server) = start_tcp_echo().await.expect("starts");
    let mut raw = Raw::connect(addr).await;
    let sent: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    // Write and read concurrently: 300 KB may not fit the socket buffers.
    let (mut reader, mut writer) = raw.stream.split();
    let write = async { tokio::io::AsyncWriteExt::write_all(&mut writer, &sent).await };
    let read = async {
        let mut got = vec![0u8; sent.len()];
        tokio::io::AsyncReadExt::read_exact(&mut reader, &mut got)
            .await
            .map(|_| got)
    };
    let (written, received) = within("the echo", async { tokio::join!(write, read) }).await;
    written.expect("write");
    assert_eq!(received.expect("read"), sent);
}

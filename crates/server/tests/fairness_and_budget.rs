//! Limits that protect clients from each other: the per-address connection
//! limit, the memory budget, and who pays when a fast chat sender meets a
//! slow reader.

mod common;

use std::net::{IpAddr, SocketAddr};

use common::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use wsconform_server::Config;

/// A TCP connection to the server from the loopback address `ip`
/// (127.0.0.2 and up are all loopback on Linux).
async fn connect_from(server: &TestServer, ip: [u8; 4]) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket
        .bind(SocketAddr::new(IpAddr::from(ip), 0))
        .expect("bind a loopback address");
    tokio::time::timeout(GUARD, socket.connect(server.addr))
        .await
        .expect("connect timed out")
        .expect("connect")
}

/// Whether the server ends this connection (EOF or reset) within a second.
async fn is_cut_off(stream: &mut TcpStream) -> bool {
    let mut byte = [0u8; 1];
    matches!(
        tokio::time::timeout(std::time::Duration::from_secs(1), stream.read(&mut byte)).await,
        Ok(Ok(0) | Err(_))
    )
}

#[tokio::test]
async fn one_address_cannot_lock_out_another() {
    // Without the per-address limit, 150 half-open connections from one
    // address would take all 100 slots and 127.0.0.3 would get a 503.
    let config = Config {
        max_connections: 100,
        max_connections_per_address: 40,
        ..Config::ephemeral()
    };
    let server = TestServer::start(config).await;
    let mut hogs = Vec::new();
    for i in 0..150 {
        let mut stream = connect_from(&server, [127, 0, 0, 2]).await;
        // Some say nothing, some stop in the middle of the request head.
        if i % 2 == 0 {
            let _ = stream
                .write_all(b"GET /socket HTTP/1.1\r\nHost: x\r\nUpg")
                .await;
        }
        hogs.push(stream);
    }
    // The server accepts in order: the first 40 are held, later ones are
    // cut off at once, without an answer.
    let mut over_limit = hogs.pop().expect("150 connections");
    assert!(
        is_cut_off(&mut over_limit).await,
        "a connection over the per-address limit must be closed"
    );
    assert!(
        !is_cut_off(&mut hogs[0]).await,
        "connections within the limit stay open"
    );

    let mut fair = connect_from(&server, [127, 0, 0, 3]).await;
    fair.write_all(&upgrade_request("/echo")).await.unwrap();
    let head = read_response_head(&mut fair).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    fair.write_all(&client_frame(FIN | TEXT, b"served"))
        .await
        .unwrap();
    let echo = read_frame(&mut fair).await.expect("the echo");
    assert_eq!(echo.payload, b"served");

    // Slots come back when the hogs leave.
    drop(hogs);
    drop(over_limit);
    let deadline = tokio::time::Instant::now() + GUARD;
    loop {
        let mut again = connect_from(&server, [127, 0, 0, 2]).await;
        again.write_all(&upgrade_request("/echo")).await.unwrap();
        let mut first = [0u8; 12];
        if again.read_exact(&mut first).await.is_ok() && &first == b"HTTP/1.1 101" {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "127.0.0.2 never got a slot back"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    server.stop().await;
}

/// The header of a masked binary frame that announces `len` bytes, with
/// the all-zero masking key (so payload bytes go on the wire as they are).
fn binary_header(len: u64) -> Vec<u8> {
    let mut header = vec![FIN | BINARY, 0x80 | 127];
    header.extend_from_slice(&len.to_be_bytes());
    header.extend_from_slice(&[0, 0, 0, 0]);
    header
}

#[tokio::test]
async fn a_message_over_the_memory_budget_is_refused_with_1013() {
    const KIB: usize = 1024;
    let config = Config {
        max_message_size: 1024 * KIB,
        max_frame_size: 1024 * KIB as u64,
        max_buffered_bytes: 1024 * KIB,
        ..Config::ephemeral()
    };
    let server = TestServer::start(config).await;

    // A announces 800 KiB and sends only the first bytes: the server holds
    // the whole 800 KiB for it from the header on (less the 64 KiB each
    // connection buffers uncharged).
    let mut a = raw_connect(&server, "/echo").await;
    a.write_all(&binary_header(800 * KIB as u64)).await.unwrap();
    a.write_all(&[7u8; 100]).await.unwrap();
    // Give the server a moment to read A's header before B's arrives.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;

    // B's 400 KiB do not fit beside A's 800: refused before the payload.
    let mut b = raw_connect(&server, "/echo").await;
    b.write_all(&binary_header(400 * KIB as u64)).await.unwrap();
    let close = expect_close(&mut b).await;
    assert_eq!(close.close_code(), Some(1013), "{}", close.close_reason());
    assert!(close.close_reason().contains("try again later"));

    // A, within the budget, gets its whole echo.
    // A small message still passes while the budget is spent.
    let mut small = raw_connect(&server, "/echo").await;
    small
        .write_all(&client_frame(FIN | TEXT, b"small"))
        .await
        .unwrap();
    assert_eq!(
        read_frame(&mut small).await.expect("echo").payload,
        b"small"
    );

    a.write_all(&vec![7u8; 800 * KIB - 100]).await.unwrap();
    let echo = read_frame(&mut a).await.expect("A's echo");
    assert_eq!(echo.opcode, BINARY);
    assert_eq!(echo.payload.len(), 800 * KIB);

    // Once A's echo has left, the budget has room for C's 400 KiB.
    let mut c = raw_connect(&server, "/echo").await;
    c.write_all(&binary_header(400 * KIB as u64)).await.unwrap();
    c.write_all(&vec![9u8; 400 * KIB]).await.unwrap();
    let echo = read_frame(&mut c).await.expect("C's echo");
    assert_eq!(echo.payload.len(), 400 * KIB);
    server.stop().await;
}

#[tokio::test]
async fn a_chat_sender_that_reads_everything_is_never_closed_however_fast_it_sends() {
    // With a queue bounded by count (4,096 messages) this sender was
    // closed with 1008 after a few thousand: one read of its socket holds
    // thousands of messages, all broadcast into its own queue at once.
    const MESSAGES: usize = 20_000;
    let config = Config {
        chat_queue_bytes: 64 * 1024,
        ..Config::ephemeral()
    };
    let server = TestServer::start(config).await;
    let client = connect(&server, "/socket").await;
    let (mut sink, mut stream) = client.split();
    let sender = tokio::spawn(async move {
        for n in 0..MESSAGES {
            let text = json!({ "username": "fast", "message": n.to_string() }).to_string();
            if sink.feed(Message::text(text)).await.is_err() {
                return n;
            }
        }
        let _ = sink.flush().await;
        MESSAGES
    });
    let mut received = 0;
    while received < MESSAGES {
        let next = tokio::time::timeout(GUARD, stream.next())
            .await
            .expect("the room went quiet");
        match next {
            Some(Ok(Message::Text(text))) => {
                let value: serde_json::Value = serde_json::from_str(text.as_str()).unwrap();
                assert_eq!(value["message"], received.to_string(), "in order");
                received += 1;
            }
            Some(Ok(Message::Close(frame))) => {
                panic!("closed after {received} messages: {frame:?}")
            }
            Some(Ok(_)) => {}
            Some(Err(error)) => panic!("error after {received} messages: {error}"),
            None => panic!("connection ended after {received} messages"),
        }
    }
    assert_eq!(sender.await.unwrap(), MESSAGES);
    server.stop().await;
}

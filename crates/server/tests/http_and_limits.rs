//! The HTTP side (page, 404, refused handshakes) and the resource limits:
//! handshake deadline, idle timeout, connection count, half-open
//! connections, and graceful shutdown.

mod common;

use std::time::{Duration, Instant};

use common::*;
use futures_util::StreamExt;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use wsconform_server::Config;

/// Sends `request` and returns the whole response (the server closes the
/// connection after one response).
async fn http(server: &TestServer, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(GUARD, stream.read_to_end(&mut response))
        .await
        .expect("the server must answer and close")
        .expect("read");
    String::from_utf8(response).expect("text response")
}

fn status_line(response: &str) -> &str {
    response.lines().next().unwrap_or_default()
}

#[tokio::test]
async fn serves_the_chat_page_and_refuses_everything_else_clearly() {
    let server = TestServer::default().await;

    let page = http(&server, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(status_line(&page), "HTTP/1.1 200 OK");
    assert!(page.contains("Content-Type: text/html; charset=utf-8"));
    assert!(page.contains(r#"<script src="/chat.js"></script>"#));
    let script = http(&server, b"GET /chat.js HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(status_line(&script), "HTTP/1.1 200 OK");
    assert!(script.contains("new WebSocket('ws://' + location.host + '/socket')"));
    assert!(script.contains("textContent"));

    let missing = http(&server, b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(status_line(&missing), "HTTP/1.1 404 Not Found");

    let garbage = http(&server, b"\x16\x03\x01 hello\r\n\r\n").await;
    assert_eq!(status_line(&garbage), "HTTP/1.1 400 Bad Request");

    // WebSocket paths with a broken handshake.
    let no_key = b"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\
                   Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n";
    let response = http(&server, no_key).await;
    assert_eq!(status_line(&response), "HTTP/1.1 400 Bad Request");
    assert!(
        response.contains("Sec-WebSocket-Key"),
        "the body names the rule: {response}"
    );

    let no_upgrade = b"GET /socket HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_eq!(
        status_line(&http(&server, no_upgrade).await),
        "HTTP/1.1 400 Bad Request"
    );

    let version_8 = b"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\
                      Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
                      Sec-WebSocket-Version: 8\r\n\r\n";
    let response = http(&server, version_8).await;
    assert_eq!(status_line(&response), "HTTP/1.1 426 Upgrade Required");
    assert!(response.contains("Sec-WebSocket-Version: 13\r\n"));

    let post = b"POST /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\
                 Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
                 Sec-WebSocket-Version: 13\r\n\r\n";
    assert_eq!(
        status_line(&http(&server, post).await),
        "HTTP/1.1 405 Method Not Allowed"
    );

    let mut huge = b"GET /echo HTTP/1.1\r\nHost: x\r\nX-Padding: ".to_vec();
    huge.extend(std::iter::repeat_n(b'a', 20_000));
    huge.extend_from_slice(b"\r\n\r\n");
    let response = http(&server, &huge).await;
    assert_eq!(
        status_line(&response),
        "HTTP/1.1 431 Request Header Fields Too Large"
    );

    assert_still_serving(&server).await;
    server.stop().await;
}

#[tokio::test]
async fn a_handshake_that_never_finishes_is_dropped_at_its_deadline() {
    let deadline = Duration::from_millis(300);
    let config = Config {
        handshake_timeout: deadline,
        ..Config::ephemeral()
    };
    let server = TestServer::start(config).await;

    // Before connecting: the server's clock for each starts after this.
    let started = Instant::now();
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    let mut partial = TcpStream::connect(server.addr).await.unwrap();
    partial
        .write_all(b"GET /echo HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    for stream in [&mut silent, &mut partial] {
        let mut buf = [0u8; 64];
        let read = tokio::time::timeout(GUARD, stream.read(&mut buf))
            .await
            .expect("the server must drop a handshake that never finishes");
        // Dropped without an answer: end of stream (or a reset).
        assert!(matches!(read, Ok(0) | Err(_)), "got {read:?}");
    }
    // Timers never fire early, so this lower bound cannot flake.
    assert!(started.elapsed() >= deadline);
    assert_still_serving(&server).await;
    server.stop().await;
}

#[tokio::test]
async fn five_hundred_half_open_connections_do_not_stop_a_new_client() {
    // All from 127.0.0.1, the new client too: the per-address limit is
    // raised so that this tests the global limit and the handshake timeout
    // (`fairness_and_budget.rs` tests the per-address limit).
    let config = Config {
        max_connections_per_address: 1024,
        ..Config::ephemeral()
    };
    let server = TestServer::start(config).await;
    let mut idle = Vec::new();
    for i in 0..500 {
        let mut stream = TcpStream::connect(server.addr).await.expect("connect");
        // Some say nothing, some stop in the middle of the request head.
        if i % 2 == 0 {
            stream
                .write_all(b"GET /socket HTTP/1.1\r\nHost: x\r\nUpg")
                .await
                .unwrap();
        }
        idle.push(stream);
    }
    let mut alice = connect(&server, "/socket").await;
    let sent = json!({ "username": "alice", "message": "anyone here?" });
    send(&mut alice, Message::text(sent.to_string())).await;
    let Message::Text(reply) = next_message(&mut alice).await else {
        panic!("expected the broadcast");
    };
    let reply: serde_json::Value = serde_json::from_str(reply.as_str()).unwrap();
    assert_eq!(reply, sent);
    drop(idle);
    server.stop().await;
}

#[tokio::test]
async fn connections_over_the_limit_get_503_and_slots_come_back() {
    let config = Config {
        max_connections: 2,
        ..Config::ephemeral()
    };
    let server = TestServer::start(config).await;
    let first = connect(&server, "/echo").await;
    let second = TcpStream::connect(server.addr).await.unwrap();
    // The server accepts in order, so the second connection holds the last
    // slot before the third arrives.
    let refused = http(&server, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(status_line(&refused), "HTTP/1.1 503 Service Unavailable");

    // When a connection ends, its slot is free again.
    drop(second);
    drop(first);
    let mut served = false;
    for _ in 0..100 {
        let response = http(&server, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
        if status_line(&response) == "HTTP/1.1 200 OK" {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(served, "a slot must come back when a connection ends");
    server.stop().await;
}

#[tokio::test]
async fn a_quiet_client_is_pinged_then_closed_with_1001() {
    let config = Config {
        idle_timeout: Duration::from_millis(400),
        ..Config::ephemeral()
    };
    let server = TestServer::start(config).await;

    // A client that answers pings stays open past the idle timeout.
    let mut lively = connect(&server, "/echo").await;
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(1200) {
        // tokio-tungstenite answers pings by itself while we read.
        let _ = tokio::time::timeout(Duration::from_millis(100), lively.next()).await;
    }
    send(&mut lively, Message::text("still open")).await;
    assert_eq!(next_message(&mut lively).await, Message::text("still open"));

    // A raw client that never answers gets a ping, then close 1001.
    let mut quiet = raw_connect(&server, "/echo").await;
    let ping = read_frame(&mut quiet).await.expect("ping");
    assert_eq!(ping.opcode, PING);
    let close = expect_close(&mut quiet).await;
    assert_eq!(close.close_code(), Some(1001));
    assert_eq!(close.close_reason(), "idle timeout");
    server.stop().await;
}

#[tokio::test]
async fn graceful_shutdown_sends_1001_to_every_client_and_returns() {
    let server = TestServer::default().await;
    let mut echo = connect(&server, "/echo").await;
    let mut chat = connect(&server, "/socket").await;
    let mut raw = raw_connect(&server, "/socket").await;
    // A client in the middle of its handshake is simply dropped.
    let mut half = TcpStream::connect(server.addr).await.unwrap();
    half.write_all(b"GET /echo HTTP/1.1\r\n").await.unwrap();
    // Make sure the server has seen the open connections.
    send(&mut echo, Message::text("ready?")).await;
    assert_eq!(next_message(&mut echo).await, Message::text("ready?"));

    let addr = server.addr;
    let stopping = tokio::spawn(server.stop());

    for client in [&mut echo, &mut chat] {
        match next_message(client).await {
            Message::Close(Some(frame)) => assert_eq!(u16::from(frame.code), 1001),
            other => panic!("expected close 1001, got {other:?}"),
        }
    }
    // The raw client never answers the close: the server hangs up anyway
    // after its close timeout, and `run` returns within the grace period.
    let close = read_frame(&mut raw).await.expect("close frame");
    assert_eq!(close.close_code(), Some(1001));
    expect_tcp_closed(&mut raw).await;
    expect_tcp_closed(&mut half).await;
    tokio::time::timeout(GUARD, stopping)
        .await
        .expect("shutdown must finish in bounded time")
        .expect("stop panicked");
    // The listener is gone.
    assert!(TcpStream::connect(addr).await.is_err());
}

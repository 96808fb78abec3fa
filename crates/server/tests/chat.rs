//! `/socket`, the chat room: broadcast to everyone exactly once in each
//! sender's order, what happens to messages that are not chat messages, and
//! a stalled reader that must not hold up the room.

mod common;

use std::collections::HashMap;

use common::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpSocket;
use tokio_tungstenite::tungstenite::Message;
use wsconform_server::Config;

fn chat(username: &str, message: &str) -> Message {
    Message::text(json!({ "username": username, "message": message }).to_string())
}

/// Parses a broadcast; returns (username, message).
fn parse(message: Message) -> (String, String) {
    let Message::Text(text) = message else {
        panic!("chat broadcasts are text messages, got {message:?}");
    };
    let value: Value = serde_json::from_str(text.as_str()).expect("broadcast is JSON");
    (
        value["username"].as_str().expect("username").to_string(),
        value["message"].as_str().expect("message").to_string(),
    )
}

#[tokio::test]
async fn three_clients_each_receive_every_message_once_in_sender_order() {
    const PER_CLIENT: usize = 30;
    let server = TestServer::default().await;
    let mut clients = Vec::new();
    for _ in 0..3 {
        clients.push(connect(&server, "/socket").await);
    }

    // Every client sends and reads at the same time.
    let mut tasks = Vec::new();
    for (index, client) in clients.into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            let (mut write, mut read) = client.split();
            let name = format!("user{index}");
            let sender = async {
                for n in 0..PER_CLIENT {
                    write
                        .send(chat(&name, &format!("{n}")))
                        .await
                        .expect("send");
                }
                write
            };
            let receiver = async {
                let mut got = Vec::new();
                while got.len() < 3 * PER_CLIENT {
                    match read.next().await.expect("stream ended").expect("read") {
                        Message::Ping(_) | Message::Pong(_) => {}
                        message => got.push(parse(message)),
                    }
                }
                got
            };
            let (_write, got) = tokio::join!(sender, receiver);
            got
        }));
    }

    for task in tasks {
        let got = tokio::time::timeout(GUARD, task)
            .await
            .expect("chat hung")
            .expect("task");
        let mut by_sender: HashMap<String, Vec<usize>> = HashMap::new();
        for (username, message) in got {
            by_sender
                .entry(username)
                .or_default()
                .push(message.parse().expect("message is a number"));
        }
        assert_eq!(
            by_sender.len(),
            3,
            "messages from every client: {by_sender:?}"
        );
        for (sender, numbers) in by_sender {
            let expected: Vec<usize> = (0..PER_CLIENT).collect();
            assert_eq!(
                numbers, expected,
                "{sender}'s messages: each once, in order"
            );
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn the_broadcast_carries_exactly_the_two_fields_as_text() {
    let server = TestServer::default().await;
    let mut alice = connect(&server, "/socket").await;
    let mut bob = connect(&server, "/socket").await;
    let markup = r#"<img src=x onerror="alert(1)">"#;
    let sent = json!({ "username": "alice", "message": markup, "color": "red" });
    send(&mut alice, Message::text(sent.to_string())).await;
    for client in [&mut alice, &mut bob] {
        let Message::Text(text) = next_message(client).await else {
            panic!("expected text");
        };
        let value: Value = serde_json::from_str(text.as_str()).unwrap();
        assert_eq!(value, json!({ "username": "alice", "message": markup }));
    }
    server.stop().await;
}

/// The documented rule (see `wsconform_server::chat`): a message that is not
/// `{"username": string, "message": string}` closes the sender with 1003,
/// and nobody else sees it.
#[tokio::test]
async fn a_message_that_is_not_chat_json_closes_the_sender_with_1003() {
    let server = TestServer::default().await;
    let mut watcher = connect(&server, "/socket").await;
    let bad_messages = [
        Message::text("hello"),
        Message::text(r#"{"username":"mallory"}"#),
        Message::text(r#"{"username":"mallory","message":42}"#),
        Message::binary(b"{\"username\":\"m\",\"message\":\"binary\"}".to_vec()),
    ];
    for bad in bad_messages {
        let mut sender = connect(&server, "/socket").await;
        send(&mut sender, bad.clone()).await;
        match next_message(&mut sender).await {
            Message::Close(Some(frame)) => {
                assert_eq!(u16::from(frame.code), 1003, "for {bad:?}");
                assert!(
                    frame.reason.contains("username"),
                    "reason says what is expected"
                );
            }
            other => panic!("expected close 1003 for {bad:?}, got {other:?}"),
        }
    }
    // The watcher saw none of it: the next thing it gets is this message.
    let mut carol = connect(&server, "/socket").await;
    send(&mut carol, chat("carol", "first real message")).await;
    assert_eq!(
        parse(next_message(&mut watcher).await),
        ("carol".into(), "first real message".into())
    );
    server.stop().await;
}

/// A client that never reads must not delay the others. With a small
/// queue, it is evicted (close 1008 or dropped), and the others get every
/// message.
#[tokio::test]
async fn a_stalled_reader_does_not_delay_the_others_and_is_evicted() {
    // 200 messages of 64 KB: far more than the kernel's socket buffers
    // (a few MB at most) plus the server's queue can hold for one client.
    const MESSAGES: usize = 200;
    let config = Config {
        chat_queue_bytes: 8 * 1024,
        ..Config::ephemeral()
    };
    let server = TestServer::start(config).await;

    // The stalled client: a tiny receive buffer, and it never reads.
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stalled = socket.connect(server.addr).await.unwrap();
    stalled
        .write_all(&upgrade_request("/socket"))
        .await
        .unwrap();
    let head = read_response_head(&mut stalled).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");

    let mut alice = connect(&server, "/socket").await;
    let mut bob = connect(&server, "/socket").await;
    let filler = "x".repeat(64_000);
    // In lockstep: alice sends, then both active clients receive it. Their
    // queues never hold more than one message, so only the stalled client
    // can fill its queue. If the hub waited for the stalled client, this
    // would hang and the guard would fail the test.
    for n in 0..MESSAGES {
        send(&mut alice, chat("alice", &format!("{n} {filler}"))).await;
        for reader in [&mut alice, &mut bob] {
            let (user, message) = parse(next_message(reader).await);
            assert_eq!(user, "alice");
            assert!(
                message.starts_with(&format!("{n} ")),
                "message {n} in order"
            );
        }
    }

    // The stalled client was cut off: reading now, it finds fewer than all
    // messages and then the end (close 1008 if the frame got through).
    let mut received = 0;
    let mut close_code = None;
    while received < MESSAGES
        && let Some(frame) = read_frame(&mut stalled).await
    {
        match frame.opcode {
            TEXT => received += 1,
            CLOSE => {
                close_code = frame.close_code();
                break;
            }
            _ => {}
        }
    }
    assert!(
        received < MESSAGES,
        "the stalled client must have been evicted"
    );
    if let Some(code) = close_code {
        assert_eq!(code, 1008);
    }
    server.stop().await;
}

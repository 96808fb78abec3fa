//! permessage-deflate (RFC 7692) on `/echo` and `/socket` over raw TCP:
//! the negotiation in the 101 response, compressed echoes, the RSV1 rules,
//! invalid data and an inflation bomb.

mod common;

use common::*;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use wsconform_server::Config;
use wsconform_wire::deflate::{Deflater, Inflater};

/// Connects offering `extensions`; returns the stream and the 101 head.
async fn connect_offering(
    server: &TestServer,
    path: &str,
    extensions: &str,
) -> (TcpStream, String) {
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    let mut request = upgrade_request(path);
    request.truncate(request.len() - 2);
    request.extend_from_slice(format!("Sec-WebSocket-Extensions: {extensions}\r\n\r\n").as_bytes());
    stream.write_all(&request).await.expect("write");
    let head = read_response_head(&mut stream).await;
    assert!(
        head.starts_with("HTTP/1.1 101 "),
        "expected 101, got {head}"
    );
    (stream, head)
}

fn extension_line(head: &str) -> Option<&str> {
    head.lines()
        .find_map(|l| l.strip_prefix("Sec-WebSocket-Extensions: "))
}

/// Reads one echoed message and inflates it if RSV1 is set.
async fn read_echo(stream: &mut TcpStream, inflater: &mut Inflater) -> (bool, Vec<u8>) {
    let frame = read_frame(stream).await.expect("a frame");
    assert!(frame.fin);
    if frame.rsv == 0b100 {
        let mut out = Vec::new();
        inflater.inflate(&frame.payload, &mut out, 1 << 20).unwrap();
        inflater.finish_message(&mut out, 1 << 20).unwrap();
        (true, out)
    } else {
        assert_eq!(frame.rsv, 0);
        (false, frame.payload)
    }
}

#[tokio::test]
async fn negotiates_and_echoes_compressed_messages() {
    let server = TestServer::default().await;
    let (mut stream, head) = connect_offering(
        &server,
        "/echo",
        "x-unknown, permessage-deflate; client_max_window_bits",
    )
    .await;
    assert_eq!(
        extension_line(&head),
        Some("permessage-deflate; server_no_context_takeover")
    );
    // The client keeps its context: the second message refers to the first.
    let mut deflater = Deflater::new(15, 6, false);
    let mut inflater = Inflater::new(15, true);
    let text = "a text that repeats, a text that repeats, a text that repeats".repeat(20);
    for _ in 0..3 {
        let compressed = deflater.compress(text.as_bytes()).unwrap();
        stream
            .write_all(&client_frame(FIN | 0x40 | TEXT, &compressed))
            .await
            .unwrap();
        let (was_compressed, echo) = read_echo(&mut stream, &mut inflater).await;
        assert!(was_compressed);
        assert_eq!(echo, text.as_bytes());
    }
    // An uncompressed message on the same connection is fine too.
    stream
        .write_all(&client_frame(FIN | BINARY, b"plain"))
        .await
        .unwrap();
    assert_eq!(read_echo(&mut stream, &mut inflater).await.1, b"plain");
    // A compressed message over three fragments, RSV1 on the first only.
    let compressed = deflater.compress(b"fragmented").unwrap();
    let (a, rest) = compressed.split_at(2);
    let (b, c) = rest.split_at(1);
    let mut bytes = client_frame(0x40 | BINARY, a);
    bytes.extend(client_frame(CONT, b));
    bytes.extend(client_frame(FIN | CONT, c));
    stream.write_all(&bytes).await.unwrap();
    assert_eq!(read_echo(&mut stream, &mut inflater).await.1, b"fragmented");
    server.stop().await;
}

#[tokio::test]
async fn window_bits_are_honoured() {
    let server = TestServer::default().await;
    let (mut stream, head) = connect_offering(
        &server,
        "/echo",
        "permessage-deflate; server_max_window_bits=8",
    )
    .await;
    assert_eq!(
        extension_line(&head),
        Some("permessage-deflate; server_no_context_takeover; server_max_window_bits=8")
    );
    // zlib cannot write an 8-bit window: the echo comes back uncompressed.
    let compressed = Deflater::new(15, 6, true).compress(b"hello hello").unwrap();
    stream
        .write_all(&client_frame(FIN | 0x40 | TEXT, &compressed))
        .await
        .unwrap();
    let mut inflater = Inflater::new(8, true);
    assert_eq!(
        read_echo(&mut stream, &mut inflater).await,
        (false, b"hello hello".to_vec())
    );

    let (mut stream, head) = connect_offering(
        &server,
        "/echo",
        "permessage-deflate; server_max_window_bits=10",
    )
    .await;
    assert!(
        extension_line(&head)
            .unwrap()
            .ends_with("server_max_window_bits=10")
    );
    let text = vec![b'x'; 5000];
    stream
        .write_all(&client_frame(FIN | BINARY, &text))
        .await
        .unwrap();
    let mut inflater = Inflater::new(10, true);
    assert_eq!(read_echo(&mut stream, &mut inflater).await, (true, text));
    server.stop().await;
}

#[tokio::test]
async fn bad_offers_are_declined() {
    let server = TestServer::default().await;
    for offer in [
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; foo=1",
        "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate;",
    ] {
        let (mut stream, head) = connect_offering(&server, "/echo", offer).await;
        assert_eq!(extension_line(&head), None, "{offer}");
        // Without the extension RSV1 is a reserved bit: 1002.
        let compressed = Deflater::new(15, 6, true).compress(b"x").unwrap();
        stream
            .write_all(&client_frame(FIN | 0x40 | TEXT, &compressed))
            .await
            .unwrap();
        assert_eq!(expect_close(&mut stream).await.close_code(), Some(1002));
    }
    // Turned off in the configuration: every offer declined.
    let off = TestServer::start(Config {
        deflate: None,
        ..Config::ephemeral()
    })
    .await;
    let (_, head) = connect_offering(&off, "/echo", "permessage-deflate").await;
    assert_eq!(extension_line(&head), None);
    off.stop().await;
    server.stop().await;
}

#[tokio::test]
async fn violations_fail_the_connection() {
    let server = TestServer::start(Config {
        max_message_size: 64 * 1024,
        ..Config::ephemeral()
    })
    .await;
    let compressed = Deflater::new(15, 6, true).compress(b"hello").unwrap();
    let cases: Vec<(Vec<u8>, u16)> = vec![
        // RSV1 on a continuation frame.
        (
            [
                client_frame(BINARY, &compressed[..2]),
                client_frame(FIN | 0x40 | CONT, &compressed[2..]),
            ]
            .concat(),
            1002,
        ),
        // RSV1 on a ping.
        (client_frame(FIN | 0x40 | PING, b""), 1002),
        // Not DEFLATE data.
        (client_frame(FIN | 0x40 | BINARY, &[0xff; 16]), 1007),
        // 10 MiB of zeros in a few kilobytes, against a 64 KiB limit.
        (
            client_frame(
                FIN | 0x40 | BINARY,
                &Deflater::new(15, 9, true)
                    .compress(&vec![0; 10 << 20])
                    .unwrap(),
            ),
            1009,
        ),
    ];
    for (bytes, code) in cases {
        let (mut stream, _) = connect_offering(&server, "/echo", "permessage-deflate").await;
        stream.write_all(&bytes).await.unwrap();
        assert_eq!(expect_close(&mut stream).await.close_code(), Some(code));
    }
    assert_still_serving(&server).await;
    server.stop().await;
}

#[tokio::test]
async fn chat_broadcasts_are_compressed() {
    let server = TestServer::default().await;
    let (mut stream, head) = connect_offering(&server, "/socket", "permessage-deflate").await;
    assert!(extension_line(&head).is_some());
    let message = br#"{"username":"ada","message":"hello hello hello"}"#;
    let compressed = Deflater::new(15, 6, false).compress(message).unwrap();
    stream
        .write_all(&client_frame(FIN | 0x40 | TEXT, &compressed))
        .await
        .unwrap();
    let mut inflater = Inflater::new(15, true);
    let (was_compressed, broadcast) = read_echo(&mut stream, &mut inflater).await;
    assert!(was_compressed);
    let text = String::from_utf8(broadcast).unwrap();
    assert!(text.contains("hello hello hello"), "{text}");
    server.stop().await;
}

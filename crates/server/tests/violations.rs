//! Bad input over raw TCP: every protocol violation gets the close code
//! RFC 6455 assigns to it, the server closes the TCP connection, and it
//! keeps serving new clients afterwards.

mod common;

use common::*;
use tokio::io::AsyncWriteExt;
use wsconform_server::Config;

/// Sends `bytes` on a fresh `/echo` connection and returns the server's
/// close frame (after checking that the server also closed TCP).
async fn close_after(server: &TestServer, bytes: &[u8]) -> ServerFrame {
    let mut stream = raw_connect(server, "/echo").await;
    stream.write_all(bytes).await.expect("write");
    expect_close(&mut stream).await
}

fn cat(frames: &[Vec<u8>]) -> Vec<u8> {
    frames.concat()
}

#[tokio::test]
async fn each_violation_gets_its_close_code_and_the_server_keeps_serving() {
    let server = TestServer::default().await;
    let valid_utf8_then_bad = [b"caf\xc3\xa9 ".as_slice(), b"\xff"].concat();
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        // Framing rules: 1002.
        ("unmasked frame", vec![FIN | TEXT, 0x02, b'h', b'i'], 1002),
        (
            "RSV1 without extension",
            client_frame(FIN | 0x40 | TEXT, b"hi"),
            1002,
        ),
        ("RSV2", client_frame(FIN | 0x20 | BINARY, b"hi"), 1002),
        ("RSV3", client_frame(FIN | 0x10 | TEXT, b"hi"), 1002),
        (
            "reserved data opcode 0x3",
            client_frame(FIN | 0x3, b""),
            1002,
        ),
        (
            "reserved control opcode 0xB",
            client_frame(FIN | 0xB, b""),
            1002,
        ),
        (
            "ping with 126 bytes",
            client_frame(FIN | PING, &[0; 126]),
            1002,
        ),
        ("fragmented ping", client_frame(PING, b"x"), 1002),
        (
            "continuation with nothing to continue",
            client_frame(FIN | CONT, b"x"),
            1002,
        ),
        (
            "new text frame inside a fragmented message",
            cat(&[client_frame(TEXT, b"a"), client_frame(FIN | TEXT, b"b")]),
            1002,
        ),
        // Close frames: 1002 for the shape and the code, 1007 for the reason.
        (
            "close with a 1-byte payload",
            client_frame(FIN | CLOSE, &[0x03]),
            1002,
        ),
        (
            "close code 999",
            client_frame(FIN | CLOSE, &close_body(999, b"")),
            1002,
        ),
        (
            "close code 1004",
            client_frame(FIN | CLOSE, &close_body(1004, b"")),
            1002,
        ),
        (
            "close code 1005",
            client_frame(FIN | CLOSE, &close_body(1005, b"")),
            1002,
        ),
        (
            "close code 1006",
            client_frame(FIN | CLOSE, &close_body(1006, b"")),
            1002,
        ),
        (
            "close code 1015",
            client_frame(FIN | CLOSE, &close_body(1015, b"")),
            1002,
        ),
        (
            "close code 2999",
            client_frame(FIN | CLOSE, &close_body(2999, b"")),
            1002,
        ),
        (
            "close code 5000",
            client_frame(FIN | CLOSE, &close_body(5000, b"")),
            1002,
        ),
        (
            "close reason not UTF-8",
            client_frame(FIN | CLOSE, &close_body(1000, b"\xce\xba\xe1\xbd")),
            1007,
        ),
        // Text that is not UTF-8: 1007.
        (
            "invalid UTF-8 in text",
            client_frame(FIN | TEXT, b"\xce\xba\xff"),
            1007,
        ),
        (
            "UTF-16 surrogate in text",
            client_frame(FIN | TEXT, b"\xed\xa0\x80"),
            1007,
        ),
        (
            "overlong encoding in text",
            client_frame(FIN | TEXT, b"\xc0\xaf"),
            1007,
        ),
        (
            "text ending mid-character",
            client_frame(FIN | TEXT, b"ok\xe2\x82"),
            1007,
        ),
        (
            "invalid UTF-8 across fragments",
            cat(&[
                client_frame(TEXT, b"\xe2\x82"),
                client_frame(FIN | CONT, b"\x28"),
            ]),
            1007,
        ),
        (
            "invalid UTF-8 after valid",
            client_frame(FIN | TEXT, &valid_utf8_then_bad),
            1007,
        ),
    ];
    for (name, bytes, code) in cases {
        let close = close_after(&server, &bytes).await;
        assert_eq!(
            close.close_code(),
            Some(code),
            "{name}: reason {:?}",
            close.close_reason()
        );
        assert!(
            !close.close_reason().is_empty(),
            "{name}: the reason says what was wrong"
        );
    }
    assert_still_serving(&server).await;
    server.stop().await;
}

/// Fail fast: a text frame announcing 1000 bytes whose third byte is already
/// impossible UTF-8 is failed with 1007 without waiting for the other 997.
#[tokio::test]
async fn invalid_utf8_fails_at_the_first_bad_byte() {
    let server = TestServer::default().await;
    let mut stream = raw_connect(&server, "/echo").await;
    let whole = client_frame(FIN | TEXT, &[b"ab\xff".as_slice(), &[b'c'; 997]].concat());
    // Header (2 + 2 length + 4 key) plus the first three payload bytes only.
    stream.write_all(&whole[..8 + 3]).await.unwrap();
    let close = expect_close(&mut stream).await;
    assert_eq!(close.close_code(), Some(1007));
    assert_still_serving(&server).await;
    server.stop().await;
}

/// A header claiming 2^63 - 1 bytes is refused with 1009 at once: no
/// payload is awaited and nothing is allocated (the test would run out of
/// memory or hang otherwise). With the top bit set (2^63) it is a protocol
/// error, 1002.
#[tokio::test]
async fn giant_length_headers_cost_nothing() {
    let server = TestServer::default().await;
    for (length, code) in [(u64::MAX >> 1, 1009), (1u64 << 63, 1002), (u64::MAX, 1002)] {
        for opcode in [TEXT, BINARY] {
            let mut header = vec![FIN | opcode, 0x80 | 127];
            header.extend_from_slice(&length.to_be_bytes());
            header.extend_from_slice(&[1, 2, 3, 4]);
            let close = close_after(&server, &header).await;
            assert_eq!(close.close_code(), Some(code), "length {length:#x}");
        }
    }
    assert_still_serving(&server).await;
    server.stop().await;
}

#[tokio::test]
async fn over_limit_frames_and_messages_get_1009() {
    let config = Config {
        max_frame_size: 1000,
        max_message_size: 1500,
        ..Config::ephemeral()
    };
    let server = TestServer::start(config).await;

    // At the limits: fine.
    let mut stream = raw_connect(&server, "/echo").await;
    let at_limit = cat(&[
        client_frame(BINARY, &[7; 1000]),
        client_frame(FIN | CONT, &[7; 500]),
    ]);
    stream.write_all(&at_limit).await.unwrap();
    let echo = read_frame(&mut stream).await.expect("echo");
    assert_eq!((echo.opcode, echo.payload.len()), (BINARY, 1500));

    // One frame over: 1009.
    let close = close_after(&server, &client_frame(FIN | BINARY, &[7; 1001])).await;
    assert_eq!(close.close_code(), Some(1009));
    // A message over, in frames that are each within the limit: 1009.
    let over = cat(&[
        client_frame(TEXT, &[b'a'; 1000]),
        client_frame(FIN | CONT, &[b'a'; 501]),
    ]);
    let close = close_after(&server, &over).await;
    assert_eq!(close.close_code(), Some(1009));
    assert_still_serving(&server).await;
    server.stop().await;
}

#[tokio::test]
async fn close_handshake_over_raw_tcp() {
    let server = TestServer::default().await;

    // Client-initiated: the same code comes back, then the server closes TCP.
    let close = close_after(
        &server,
        &client_frame(FIN | CLOSE, &close_body(1000, b"bye")),
    )
    .await;
    assert_eq!(close.close_code(), Some(1000));
    let close = close_after(&server, &client_frame(FIN | CLOSE, &close_body(4000, b""))).await;
    assert_eq!(close.close_code(), Some(4000));
    // Empty close: answered with 1000.
    let close = close_after(&server, &client_frame(FIN | CLOSE, b"")).await;
    assert_eq!(close.close_code(), Some(1000));

    // Data after a close frame is ignored: no echo comes back.
    let bytes = cat(&[
        client_frame(FIN | CLOSE, &close_body(1000, b"")),
        client_frame(FIN | TEXT, b"too late"),
    ]);
    let mut stream = raw_connect(&server, "/echo").await;
    stream.write_all(&bytes).await.unwrap();
    let first = read_frame(&mut stream).await.expect("close reply");
    assert_eq!((first.opcode, first.close_code()), (CLOSE, Some(1000)));
    expect_tcp_closed(&mut stream).await;
    server.stop().await;
}

#[tokio::test]
async fn control_frames_over_raw_tcp() {
    let server = TestServer::default().await;
    let mut stream = raw_connect(&server, "/echo").await;
    // Ping inside a fragmented message, answered at once; then the echo.
    let bytes = cat(&[
        client_frame(TEXT, b"Hel"),
        client_frame(FIN | PING, b"are you there?"),
        client_frame(FIN | PONG, b"unsolicited"),
        client_frame(FIN | CONT, b"lo"),
    ]);
    // One byte per write: the server must reassemble across reads.
    for byte in bytes {
        stream.write_all(&[byte]).await.unwrap();
    }
    let pong = read_frame(&mut stream).await.expect("pong");
    assert_eq!((pong.fin, pong.rsv, pong.opcode), (true, 0, PONG));
    assert_eq!(pong.payload, b"are you there?");
    let echo = read_frame(&mut stream).await.expect("echo");
    assert_eq!(
        (echo.fin, echo.opcode, echo.payload.as_slice()),
        (true, TEXT, b"Hello".as_slice())
    );

    // A frame sent in the same packet as the handshake is served too.
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let mut both = upgrade_request("/echo");
    both.extend_from_slice(&client_frame(FIN | BINARY, b"early"));
    stream.write_all(&both).await.unwrap();
    let head = read_response_head(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    let echo = read_frame(&mut stream).await.expect("echo");
    assert_eq!(
        (echo.opcode, echo.payload.as_slice()),
        (BINARY, b"early".as_slice())
    );
    server.stop().await;
}

/// Seeded garbage after a valid handshake: whatever the bytes, no task of
/// the server panics, every connection ends (with a close frame or a TCP
/// close), and the server keeps serving.
#[tokio::test]
async fn random_bytes_never_panic_the_server() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static PANICS: AtomicUsize = AtomicUsize::new(0);
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICS.fetch_add(1, Ordering::SeqCst);
        previous(info);
    }));

    let config = Config {
        max_frame_size: 4096,
        max_message_size: 8192,
        ..Config::ephemeral()
    };
    let server = TestServer::start(config).await;
    // The wire crate's reproducible generator: the same run every time.
    let mut rng = wsconform_wire::SplitMix::new(0x5eed);
    let mut next = move || rng.next_u64();
    let mut codes = std::collections::BTreeMap::new();
    for round in 0..150 {
        let path = if round % 2 == 0 { "/echo" } else { "/socket" };
        let mut stream = raw_connect(&server, path).await;
        let len = (next() % 600) as usize;
        let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        // Half the rounds start with a plausible masked frame header, so the
        // garbage reaches the payload and fragment logic too.
        if round % 4 < 2 && bytes.len() > 6 {
            bytes[0] = [TEXT, BINARY, CONT, PING, CLOSE, FIN | TEXT][(next() % 6) as usize];
            bytes[1] = 0x80 | (next() % 126) as u8;
        }
        let _ = stream.write_all(&bytes).await;
        // Then a clean close, in case the garbage was a valid prefix.
        let _ = stream
            .write_all(&client_frame(FIN | CLOSE, &close_body(1000, b"")))
            .await;
        loop {
            match read_frame(&mut stream).await {
                None => break,
                Some(frame) if frame.opcode == CLOSE => {
                    *codes.entry(frame.close_code()).or_insert(0) += 1;
                    expect_tcp_closed(&mut stream).await;
                    break;
                }
                Some(_) => {}
            }
        }
    }
    // The garbage exercised several rules, not just the first check.
    assert!(codes.len() >= 3, "close codes seen: {codes:?}");
    assert_still_serving(&server).await;
    server.stop().await;
    assert_eq!(PANICS.load(Ordering::SeqCst), 0, "a server task panicked");
}

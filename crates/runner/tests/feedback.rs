//! What a learner reads about a failure, against scripted servers with one
//! classic fault each: the failing step's own hint, a frame sent only in
//! part, the handshake heads, and the known bugs the run recognises. Each
//! report is a snapshot (timings off, the port normalised).

mod support;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha1::{Digest, Sha1};
use support::{Behaviour, Bugs, Fault, plain_human, read_handshake, serve};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use wsconform_runner::decode::explain_bytes;
use wsconform_runner::hex::parse_hex;
use wsconform_runner::load::{LoadedScenario, parse_scenario};
use wsconform_runner::plan::Profile;
use wsconform_runner::report::{html, json};
use wsconform_runner::suite::{RunReport, run_suite};
use wsconform_runner::violations::{self, Sender};
use wsconform_wire::{FrameReader, Limits, OpCode, Role, WEBSOCKET_GUID, encode_frame};

/// Serves every connection with `connection`, on 127.0.0.1.
async fn serve_with<F, Fut>(connection: F) -> SocketAddr
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(connection(stream));
        }
    });
    addr
}

fn scenario(yaml: &str) -> LoadedScenario {
    parse_scenario("scenarios/99-feedback/x.yaml", yaml).unwrap()
}

async fn run(addr: SocketAddr, scenarios: &[LoadedScenario]) -> RunReport {
    let settings = support::settings(addr, "/echo", Profile::Echo, Duration::from_secs(1), 1);
    tokio::time::timeout(
        Duration::from_secs(60),
        run_suite(scenarios, &settings, 1, |_| {}),
    )
    .await
    .expect("the run did not end")
}

fn human(report: &RunReport, addr: SocketAddr) -> String {
    plain_human(report).replace(&addr.to_string(), "127.0.0.1:PORT")
}

/// The client frames of a connection, one at a time (`None` at the end).
struct Frames {
    reader: FrameReader,
}

impl Frames {
    fn new(leftover: &[u8]) -> Frames {
        let mut reader = FrameReader::new(Role::Server, Limits::default());
        reader.push(leftover);
        Frames { reader }
    }

    /// The next frame: opcode, header length, key, raw (masked) payload.
    async fn next(&mut self, stream: &mut TcpStream) -> Option<(OpCode, usize, [u8; 4], Vec<u8>)> {
        let mut chunk = [0u8; 4096];
        loop {
            if let Ok(Some(f)) = self.reader.next_frame() {
                let key = f.header.mask.unwrap_or_default();
                return Some((f.header.opcode, f.header_len, key, f.payload().to_vec()));
            }
            let n = stream.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            self.reader.push(&chunk[..n]);
        }
    }
}

/// An echo server that unmasks with `unmask(i, key, header_len)` as the key
/// byte of payload byte `i`: a mask-offset bug.
async fn echo_unmasking_with(mut stream: TcpStream, unmask: fn(usize, usize) -> usize) {
    let Some((response, rest)) = read_handshake(&mut stream).await else {
        return;
    };
    let _ = stream.write_all(&response).await;
    let mut frames = Frames::new(&rest);
    while let Some((opcode, header_len, key, raw)) = frames.next(&mut stream).await {
        let payload: Vec<u8> = raw
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ key[unmask(i, header_len) % 4])
            .collect();
        let mut out = Vec::new();
        encode_frame(&mut out, true, opcode, None, &payload);
        if stream.write_all(&out).await.is_err() || opcode == OpCode::Close {
            return;
        }
    }
}

#[tokio::test]
async fn a_failure_shows_the_hint_of_the_step_that_failed() {
    let addr = serve(Behaviour::Echo(Bugs::of(&[
        Fault::TruncateLong,
        Fault::IgnorePing,
    ])))
    .await;
    let step_hint = scenario(
        "id: feedback.step-hint\ntitle: A long echo, then a close\nhint: Answer a close frame with a close frame.\nsteps:\n  - send: { text: { len: 300 } }\n  - expect: { echo: last }\n    hint: 300 bytes take the 16-bit length form; echo every byte.\n  - send: { close: 1000 }\n  - expect: { close: [1000] }\n",
    );
    let scenario_hint = scenario(
        "id: feedback.scenario-hint\ntitle: A short echo, then a ping\nhint: Answer a ping with a pong carrying its payload.\nsteps:\n  - send: { text: Hi }\n  - expect: { echo: last }\n    hint: Echo short messages unchanged.\n  - send: { ping: abc }\n  - expect: { pong: abc }\n",
    );
    let report = run(addr, &[step_hint, scenario_hint]).await;
    let text = human(&report, addr);
    insta::assert_snapshot!("step_hints", text);
    assert!(text.contains("Hint: 300 bytes take the 16-bit length form"));
    assert!(text.contains("Hint: Answer a ping with a pong"));
    assert!(!text.contains("Hint: Echo short messages unchanged."));
}

#[tokio::test]
async fn a_frame_sent_in_part_is_named_with_a_caret_in_every_report() {
    let addr = serve_with(|mut stream| async move {
        let Some((response, rest)) = read_handshake(&mut stream).await else {
            return;
        };
        let _ = stream.write_all(&response).await;
        let mut frames = Frames::new(&rest);
        if frames.next(&mut stream).await.is_some() {
            // 128 bytes of a frame whose header announces 891.
            let mut partial = vec![0x82, 0x7e, 0x03, 0x7b];
            partial.extend_from_slice(&[b'*'; 124]);
            let _ = stream.write_all(&partial).await;
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
    })
    .await;
    let partial = scenario(
        "id: feedback.partial\ntitle: An 891-byte binary message comes back\nsteps:\n  - send: { binary: { len: 891 } }\n  - expect: { echo: last }\n",
    );
    let report = run(addr, &[partial]).await;
    let text = human(&report, addr);
    insta::assert_snapshot!("partial_frame", text);
    let said = "an incomplete frame: the header announces 891 payload bytes, 124 present";
    assert!(text.contains(said), "{text}");
    let doc: serde_json::Value = serde_json::from_str(&json::render(&report)).unwrap();
    let result = &doc["results"][0];
    assert!(result["failure"]["actual"].as_str().unwrap().contains(said));
    let caret = &result["failure"]["caret"];
    let line = &result["transcript"][caret["line"].as_u64().unwrap() as usize];
    assert!(
        line["hex"].as_str().unwrap().starts_with("82 7e 03 7b"),
        "{line}"
    );
    assert_eq!(caret["byte"], 2);
    // The handshake heads, whole, in JSON and HTML.
    let request = &result["transcript"][0];
    assert!(
        request["head"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h == "Upgrade: websocket")
    );
    let page = html::render(&report);
    assert!(page.contains(said));
    assert!(page.contains("Sec-WebSocket-Version: 13"));
}

#[tokio::test]
async fn an_accept_value_of_the_hex_digest_is_recognised() {
    let addr = serve_with(|mut stream| async move {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let head = String::from_utf8_lossy(&buf).to_string();
        let Some(key) = head.lines().find_map(|l| l.strip_prefix("Sec-WebSocket-Key: ")) else {
            return;
        };
        let digest = Sha1::new()
            .chain_update(key.trim())
            .chain_update(WEBSOCKET_GUID)
            .finalize();
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        let response = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
            BASE64.encode(hex)
        );
        let _ = stream.write_all(response.as_bytes()).await;
        tokio::time::sleep(Duration::from_secs(5)).await;
    })
    .await;
    let echo = scenario(
        "id: feedback.echo\ntitle: A message comes back\nsteps:\n  - send: { text: Hello }\n  - expect: { echo: last }\n",
    );
    let report = run(addr, &[echo]).await;
    let text = human(&report, addr);
    insta::assert_snapshot!("hex_digest_accept", text);
    assert!(text.contains("Likely cause: the accept value is 56 characters long"));
}

#[tokio::test]
async fn an_echo_right_for_four_bytes_is_a_mask_offset_bug() {
    let first_four =
        serve_with(|s| echo_unmasking_with(s, |i, _| if i < 4 { i } else { i + 1 })).await;
    let from_frame_start = serve_with(|s| echo_unmasking_with(s, |i, header| i + header)).await;
    let echo = scenario(
        "id: feedback.echo\ntitle: A message comes back\nsteps:\n  - send: { binary: { len: 19, fill: \"Hello, mask offset!\" } }\n  - expect: { echo: last }\n",
    );
    let mut texts = Vec::new();
    for addr in [first_four, from_frame_start] {
        let report = run(addr, std::slice::from_ref(&echo)).await;
        texts.push(human(&report, addr));
    }
    let text = texts.join("\n----\n");
    insta::assert_snapshot!("mask_offset", text);
    assert!(texts[0].contains("Likely cause: only the first 4 bytes of the echo are right"));
    assert!(
        texts[1]
            .contains("Likely cause: the echo is the payload unmasked with the key shifted by 2")
    );
}

#[tokio::test]
async fn a_handshake_answered_only_after_a_frame_is_recognised() {
    let addr = serve_with(|mut stream| async move {
        // The bug: the request is read until more than its head has come.
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let end = buf.windows(4).position(|w| w == b"\r\n\r\n");
            if end.is_some_and(|e| buf.len() > e + 4) {
                break;
            }
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let mut reader = &buf[..];
        let Some((response, _)) = read_handshake_from(&mut reader) else {
            return;
        };
        let _ = stream.write_all(&response).await;
        tokio::time::sleep(Duration::from_secs(5)).await;
    })
    .await;
    let echo = scenario(
        "id: feedback.echo\ntitle: A message comes back\nsteps:\n  - send: { text: Hello }\n  - expect: { echo: last }\n",
    );
    let report = run(addr, &[echo]).await;
    let text = human(&report, addr);
    insta::assert_snapshot!("handshake_waits_for_more", text);
    assert!(text.contains("Likely cause: the handshake was answered only when a frame followed"));
}

/// The 101 response to a request already read into `bytes`.
fn read_handshake_from(bytes: &mut &[u8]) -> Option<(Vec<u8>, usize)> {
    match wsconform_wire::parse_request(bytes, 16 * 1024) {
        Ok(Some((req, used))) => Some((wsconform_wire::accept_response(&req), used)),
        _ => None,
    }
}

#[test]
fn decode_flags_every_rule_with_its_section() {
    let mut out = String::new();
    for (hex, from) in [
        ("827f8000000000000001", None),
        ("880103", None),
        ("880203ed", None),
        ("8102c328", None),
        ("8300 c100", None),
        ("0900", None),
        ("817e0005 48656c6c6f", None),
        ("8100", Some(Sender::Client)),
        ("81 85 37fa213d 7f9f4d5158", None),
    ] {
        let bytes = parse_hex(hex).unwrap();
        let sender = from.unwrap_or_else(|| Sender::guess(&bytes));
        out.push_str(&format!("$ wsconform decode {hex}\n"));
        out.push_str(&explain_bytes(&bytes));
        out.push_str(&violations::explain(&bytes, sender));
        out.push('\n');
    }
    insta::assert_snapshot!("decode_violations", out);
    assert!(out.contains("the most significant bit MUST be 0"));
    assert!(out.contains("close code 1005 may not be sent on the wire"));
    assert!(out.contains("MUST be valid UTF-8"));
    assert!(out.contains("a client MUST mask"));
}

//! Scripted servers for testing the runner: a correct one, buggy ones and
//! hostile ones, and the few helpers every runner test shares (settings for
//! a target, reading a client's handshake, the plain human report). Each
//! server listens on 127.0.0.1 port 0 and serves until the test process ends.
//!
//! # Why these servers and not the testbed's mutants
//!
//! `wsconform-testbed` could be a dev-dependency here (it needs the runner
//! only for its own tests, so there is no cycle), but its mutants answer a
//! different question. A mutant carries exactly one classic bug and is
//! otherwise correct: it checks that the *suite* catches that bug. These
//! servers check the *runner*: what it says about faults that are not bugs
//! of a learner's server at all (garbage bytes, endless output, a reset in
//! the middle of a frame, a one-byte-a-second server, a close before the
//! handshake, a heartbeat pong), about bugs the mutant catalogue does not
//! have (non-minimal lengths, a truncated echo), and about two bugs in one
//! server. And the report snapshots pin the exact bytes these servers send:
//! moving to another server would change every snapshot.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use wsconform_runner::load::{LoadedScenario, bundled_sources, parse_scenario};
use wsconform_runner::plan::{PlanSettings, Profile, Target};
use wsconform_runner::report::human::{HumanOptions, render};
use wsconform_runner::suite::{RunReport, Selection};
use wsconform_wire::{
    Decoder, Event, FrameHeader, LengthForm, Limits, Message, OpCode, Role, accept_response,
    apply_mask, close_payload, parse_request,
};

/// Classic bugs a learner's echo server may have.
#[derive(Debug, Clone, Copy, Default)]
pub struct Bugs {
    /// Writes every length in the 64-bit form.
    pub non_minimal_lengths: bool,
    /// Masks its own frames.
    pub mask_frames: bool,
    /// Never answers pings.
    pub ignore_ping: bool,
    /// Drops the last byte of echoes longer than 125 bytes.
    pub truncate_long: bool,
    /// Sends a wrong Sec-WebSocket-Accept.
    pub wrong_accept: bool,
    /// Not a bug: sends an unsolicited pong (a heartbeat) before each echo.
    pub heartbeat_pong: bool,
}

/// One of the [`Bugs`], to name them in a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// [`Bugs::non_minimal_lengths`].
    NonMinimalLengths,
    /// [`Bugs::mask_frames`].
    MaskFrames,
    /// [`Bugs::ignore_ping`].
    IgnorePing,
    /// [`Bugs::truncate_long`].
    TruncateLong,
    /// [`Bugs::wrong_accept`].
    WrongAccept,
    /// [`Bugs::heartbeat_pong`].
    HeartbeatPong,
}

impl Bugs {
    /// An echo server with these faults and no other.
    pub fn of(faults: &[Fault]) -> Bugs {
        let mut bugs = Bugs::default();
        for fault in faults {
            let flag = match fault {
                Fault::NonMinimalLengths => &mut bugs.non_minimal_lengths,
                Fault::MaskFrames => &mut bugs.mask_frames,
                Fault::IgnorePing => &mut bugs.ignore_ping,
                Fault::TruncateLong => &mut bugs.truncate_long,
                Fault::WrongAccept => &mut bugs.wrong_accept,
                Fault::HeartbeatPong => &mut bugs.heartbeat_pong,
            };
            *flag = true;
        }
        bugs
    }
}

/// Settings for a run against `ws://{addr}{path}`.
pub fn settings(
    addr: SocketAddr,
    path: &str,
    profile: Profile,
    timeout: Duration,
    run_id: u64,
) -> PlanSettings {
    PlanSettings {
        target: Target::parse(&format!("ws://{addr}{path}")).unwrap(),
        profile,
        timeout,
        run_id,
    }
}

/// Asserts that `text` contains `needle`, and shows `text` when it does not.
#[track_caller]
pub fn assert_contains(text: &str, needle: &str) {
    assert!(text.contains(needle), "{needle:?} is not in:\n{text}");
}

/// A selection of these scenario ids.
pub fn only(ids: &[&str]) -> Selection {
    Selection {
        ids: ids.iter().map(|id| id.to_string()).collect(),
        ..Selection::default()
    }
}

/// The human report without colours or timings, as the snapshots hold it.
pub fn plain_human(report: &RunReport) -> String {
    render(
        report,
        HumanOptions {
            color: false,
            timings: false,
        },
    )
}

/// What a scripted server does.
#[derive(Debug, Clone, Copy)]
pub enum Behaviour {
    /// An echo server, correct unless bugs are set.
    Echo(Bugs),
    /// A correct chat server: JSON text broadcast to every client.
    Chat,
    /// A chat server that first replays unrelated history to each new client.
    ChatWithHistory,
    /// Accepts TCP and never sends anything.
    Silent,
    /// Accepts the handshake, then sends bytes forever.
    Endless,
    /// Answers the handshake with garbage bytes.
    Garbage,
    /// Accepts, sends half a frame, then resets the connection.
    ResetMidFrame,
    /// Answers one byte per 100 ms.
    Slow,
    /// Closes the connection before answering the handshake.
    CloseBeforeHandshake,
}

/// Starts a server with `behaviour`; returns its address.
pub async fn serve(behaviour: Behaviour) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let peers: Arc<Mutex<Vec<tokio::sync::mpsc::UnboundedSender<Vec<u8>>>>> = Arc::default();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let peers = Arc::clone(&peers);
            tokio::spawn(connection(stream, behaviour, peers));
        }
    });
    addr
}

/// Reads a client's opening handshake: the 101 response to it and the bytes
/// that came after it; `None` when the client left or sent a bad request
/// (which is answered with its error response).
pub async fn read_handshake(stream: &mut TcpStream) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match parse_request(&buf, 16 * 1024) {
            Ok(Some((req, used))) => return Some((accept_response(&req), buf[used..].to_vec())),
            Ok(None) => {}
            Err(e) => {
                let _ = stream.write_all(&e.response()).await;
                return None;
            }
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn frame(out: &mut Vec<u8>, opcode: OpCode, payload: &[u8], bugs: Bugs) {
    let mut header = FrameHeader::new(opcode, payload.len() as u64);
    let form = if bugs.non_minimal_lengths {
        LengthForm::Bits64
    } else {
        LengthForm::Minimal
    };
    if bugs.mask_frames {
        header.mask = Some([1, 2, 3, 4]);
    }
    header.encode(form, out).unwrap();
    let start = out.len();
    out.extend_from_slice(payload);
    if let Some(key) = header.mask {
        apply_mask(&mut out[start..], key, 0);
    }
}

type Peers = Arc<Mutex<Vec<tokio::sync::mpsc::UnboundedSender<Vec<u8>>>>>;

async fn connection(mut stream: TcpStream, behaviour: Behaviour, peers: Peers) {
    let bugs = match behaviour {
        Behaviour::Echo(b) => b,
        Behaviour::Chat | Behaviour::ChatWithHistory => Bugs::default(),
        Behaviour::Silent => {
            tokio::time::sleep(Duration::from_secs(60)).await;
            return;
        }
        Behaviour::CloseBeforeHandshake => return,
        Behaviour::Garbage => {
            let _ = read_handshake(&mut stream).await;
            let _ = stream
                .write_all(b"\x00\xffHTTP/0.9 whatever\x07\x08\r\n\r\n")
                .await;
            tokio::time::sleep(Duration::from_secs(60)).await;
            return;
        }
        Behaviour::Slow => {
            let Some((response, _)) = read_handshake(&mut stream).await else {
                return;
            };
            for b in response {
                if stream.write_all(&[b]).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            return;
        }
        Behaviour::Endless => {
            let Some((response, _)) = read_handshake(&mut stream).await else {
                return;
            };
            let _ = stream.write_all(&response).await;
            // A binary frame announcing 2^40 bytes, then bytes forever.
            let mut head = Vec::new();
            FrameHeader::new(OpCode::Binary, 1 << 40)
                .encode(LengthForm::Minimal, &mut head)
                .unwrap();
            let _ = stream.write_all(&head).await;
            let junk = vec![0x61u8; 64 * 1024];
            while stream.write_all(&junk).await.is_ok() {}
            return;
        }
        Behaviour::ResetMidFrame => {
            let Some((response, _)) = read_handshake(&mut stream).await else {
                return;
            };
            let _ = stream.write_all(&response).await;
            let mut buf = [0u8; 1024];
            let _ = stream.read(&mut buf).await;
            let _ = stream.write_all(&[0x81, 0x05, b'H', b'e']).await;
            #[allow(deprecated)] // a reset is exactly what this server is for
            let _ = stream.set_linger(Some(Duration::ZERO));
            return;
        }
    };
    let Some((mut response, mut pending)) = read_handshake(&mut stream).await else {
        return;
    };
    if bugs.wrong_accept {
        let text = String::from_utf8_lossy(&response)
            .replace("Sec-WebSocket-Accept: ", "Sec-WebSocket-Accept: x");
        response = text.into_bytes();
    }
    if stream.write_all(&response).await.is_err() {
        return;
    }
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Vec<u8>>();
    let chat = matches!(behaviour, Behaviour::Chat | Behaviour::ChatWithHistory);
    if matches!(behaviour, Behaviour::ChatWithHistory) {
        let mut history = Vec::new();
        for i in 0..3 {
            let old = format!("{{\"username\":\"earlier\",\"message\":\"old message {i}\"}}");
            frame(&mut history, OpCode::Text, old.as_bytes(), bugs);
        }
        if stream.write_all(&history).await.is_err() {
            return;
        }
    }
    if chat {
        peers.lock().unwrap().push(tx);
    }
    let mut decoder = Decoder::new(Role::Server, Limits::default());
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        // Decode everything pending.
        loop {
            let (used, event) = match decoder.decode(&pending) {
                Ok(r) => r,
                Err(e) => {
                    let mut out = Vec::new();
                    frame(
                        &mut out,
                        OpCode::Close,
                        &close_payload(e.close_code(), ""),
                        bugs,
                    );
                    let _ = stream.write_all(&out).await;
                    return;
                }
            };
            pending.drain(..used);
            let Some(event) = event else {
                if used == 0 {
                    break;
                }
                continue;
            };
            let mut out = Vec::new();
            match event {
                Event::Message(Message::Text(t)) if chat => {
                    let mut f = Vec::new();
                    frame(&mut f, OpCode::Text, t.as_bytes(), bugs);
                    for peer in peers.lock().unwrap().iter() {
                        let _ = peer.send(f.clone());
                    }
                }
                Event::Message(Message::Text(t)) => {
                    if bugs.heartbeat_pong {
                        frame(&mut out, OpCode::Pong, b"heartbeat", bugs);
                    }
                    let mut p = t.into_bytes();
                    if bugs.truncate_long && p.len() > 125 {
                        p.pop();
                    }
                    frame(&mut out, OpCode::Text, &p, bugs);
                }
                Event::Message(Message::Binary(b)) => frame(&mut out, OpCode::Binary, &b, bugs),
                Event::Ping(p) if !bugs.ignore_ping => frame(&mut out, OpCode::Pong, &p, bugs),
                Event::Ping(_) | Event::Pong(_) => {}
                Event::Close(c) => {
                    let body = c.map(|c| close_payload(c.code, "")).unwrap_or_default();
                    frame(&mut out, OpCode::Close, &body, bugs);
                    let _ = stream.write_all(&out).await;
                    let _ = stream.shutdown().await;
                    return;
                }
            }
            if !out.is_empty() && stream.write_all(&out).await.is_err() {
                return;
            }
        }
        tokio::select! {
            read = stream.read(&mut chunk) => match read {
                Ok(0) | Err(_) => return,
                Ok(n) => pending.extend_from_slice(&chunk[..n]),
            },
            Some(bytes) = rx.recv() => {
                if stream.write_all(&bytes).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// The starter scenarios these tests were written against. The suite grows
/// independently (and is checked against the reference server and the
/// testbed); the scripted servers here are only as complete as these need.
pub const STARTER: &[&str] = &[
    "01-handshake/accept-key.yaml",
    "01-handshake/bad-version.yaml",
    "01-handshake/header-case.yaml",
    "01-handshake/missing-key.yaml",
    "03-lengths/binary-126.yaml",
    "02-frames/reserved-opcode.yaml",
    "04-masking/rsv-bits.yaml",
    "02-frames/text-hello.yaml",
    "03-lengths/16bit-126.yaml",
    "03-lengths/16bit-65535.yaml",
    "03-lengths/64bit-65536.yaml",
    "03-lengths/7bit-125.yaml",
    "04-masking/unmasked.yaml",
    "06-fragmentation/utf8-fail-fast.yaml",
    "05-text-utf8/invalid.yaml",
    "05-text-utf8/valid-multibyte.yaml",
    "06-fragmentation/orphan-continuation.yaml",
    "07-ping-pong/ping-between.yaml",
    "06-fragmentation/slow-client.yaml",
    "06-fragmentation/three-fragments.yaml",
    "07-ping-pong/ping-too-long.yaml",
    "07-ping-pong/ping.yaml",
    "08-closing/invalid-code.yaml",
    "08-closing/normal.yaml",
    "10-chat/broadcast.yaml",
    "09-concurrency/independent-clients.yaml",
    "11-hardening/length-top-bit.yaml",
];

/// The starter scenarios, loaded from the embedded suite.
pub fn starter() -> Vec<LoadedScenario> {
    STARTER
        .iter()
        .map(|rel| {
            let (_, text) = bundled_sources()
                .iter()
                .find(|(path, _)| path == rel)
                .unwrap_or_else(|| panic!("{rel} is not in the embedded suite"));
            parse_scenario(&format!("scenarios/{rel}"), text).unwrap()
        })
        .collect()
}

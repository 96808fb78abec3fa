//! A large slice of the bundled suite against servers that attack the runner: a ping
//! flood, one endless fragmented message, random bytes, 16 MiB frames and a
//! one-byte-per-100-ms trickle. Each run must end with a report, and the
//! human report must stay under a megabyte. (The runner's peak memory under
//! the same attacks is measured by `cargo xtask soak --runner`.)

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use support::{plain_human, read_handshake, settings};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use wsconform_runner::load::bundled;
use wsconform_runner::payload::SplitMix;
use wsconform_runner::plan::Profile;
use wsconform_runner::suite::{RunReport, run_suite};

/// What a hostile server sends after its 101.
#[derive(Debug, Clone, Copy)]
enum Attack {
    /// `89 00` forever.
    PingFlood,
    /// A text message that never ends: a first fragment, then 4 KiB
    /// continuations forever.
    EndlessFragments,
    /// Random bytes forever.
    RandomBytes,
    /// Binary frames of 16 MiB, one after another.
    HugeFrames,
    /// A valid `Hello` text frame over and over, one byte per 100 ms.
    Trickle,
}

/// The next bytes the attack writes; `round` counts the writes so far.
fn attack_bytes(attack: Attack, round: u64, rng: &mut SplitMix) -> Vec<u8> {
    match attack {
        Attack::PingFlood => [0x89u8, 0x00].repeat(32 * 1024),
        Attack::EndlessFragments => {
            let opcode = if round == 0 { 0x01 } else { 0x00 };
            let mut out = vec![opcode, 126, 0x10, 0x00];
            out.extend(std::iter::repeat_n(b'a', 4096));
            out
        }
        Attack::RandomBytes => (0..64 * 1024)
            .map(|_| (rng.next_u64() >> 56) as u8)
            .collect(),
        Attack::HugeFrames => {
            let mut out = vec![0x82, 127];
            out.extend_from_slice(&(16u64 * 1024 * 1024).to_be_bytes());
            out.resize(out.len() + 16 * 1024 * 1024, 0x55);
            out
        }
        Attack::Trickle => {
            let frame = [0x81u8, 0x05, b'H', b'e', b'l', b'l', b'o'];
            vec![frame[(round % frame.len() as u64) as usize]]
        }
    }
}

/// Serves every connection: a valid 101, then the attack until the client
/// leaves, while draining whatever the client sends.
async fn serve(attack: Attack) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Some((response, _)) = read_handshake(&mut stream).await else {
                    return;
                };
                let (mut reader, mut writer) = stream.into_split();
                tokio::spawn(async move {
                    let mut sink = vec![0u8; 16 * 1024];
                    while matches!(reader.read(&mut sink).await, Ok(n) if n > 0) {}
                });
                if writer.write_all(&response).await.is_err() {
                    return;
                }
                let mut rng = SplitMix::new(99);
                for round in 0.. {
                    let bytes = attack_bytes(attack, round, &mut rng);
                    if writer.write_all(&bytes).await.is_err() {
                        return;
                    }
                    if matches!(attack, Attack::Trickle) {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            });
        }
    });
    addr
}

/// Runs the whole bundled suite against the attack, with short deadlines.
async fn run_against(attack: Attack) -> RunReport {
    let addr = serve(attack).await;
    // Every third scenario and every concurrency one (the floods): all the
    // step kinds, in a third of the time (`cargo xtask soak --runner` plays
    // the whole suite).
    let all: Vec<_> = bundled()
        .unwrap()
        .into_iter()
        .enumerate()
        .filter(|(i, s)| i % 3 == 0 || s.chapter.starts_with("10"))
        .map(|(_, s)| s)
        .collect();
    let settings = settings(addr, "/echo", Profile::Echo, Duration::from_millis(300), 3);
    // Hang guard only: the runner's own deadlines must end the run long before.
    tokio::time::timeout(
        Duration::from_secs(240),
        run_suite(&all, &settings, 8, |_| {}),
    )
    .await
    .unwrap_or_else(|_| panic!("the suite did not end against {attack:?}"))
}

async fn check(attack: Attack) {
    let report = run_against(attack).await;
    assert!(!report.results.is_empty(), "{attack:?}: no results");
    assert!(!report.passed(), "{attack:?}: the suite passed");
    for r in report.results.iter().filter(|r| !r.outcome.is_ok()) {
        assert!(!r.message.is_empty(), "{attack:?}: {} has no message", r.id);
    }
    let human = plain_human(&report);
    assert!(
        human.len() <= 1024 * 1024,
        "{attack:?}: the human report is {} bytes",
        human.len()
    );
    eprintln!(
        "{attack:?}: {} results, human report {} bytes",
        report.results.len(),
        human.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ping_flood_cannot_stall_the_suite() {
    check(Attack::PingFlood).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_fragmented_message_cannot_stall_the_suite() {
    check(Attack::EndlessFragments).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_bytes_cannot_stall_the_suite() {
    check(Attack::RandomBytes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_frames_cannot_stall_the_suite() {
    check(Attack::HugeFrames).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickle_cannot_stall_the_suite() {
    check(Attack::Trickle).await;
}

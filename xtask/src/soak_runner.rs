//! `cargo xtask soak --runner`: the runner against hostile servers, with its
//! memory and output measured.
//!
//! Five servers, each started in this process on loopback, answer every
//! opening handshake with a valid 101 and then attack: a ping flood (`89 00`
//! forever), one text message whose fragments never end, random bytes,
//! 16 MiB binary frames one after another, and a trickle of one byte per
//! 100 ms. Against each, the release `wsconform run` plays the whole bundled
//! suite as a child process; its peak resident memory (`VmHWM`, sampled from
//! `/proc/PID/status` until it exits) and its output are measured.
//!
//! The chore fails when a goal is missed: the run does not end, writes no
//! report, peaks over 256 MiB, or prints more than 1 MB.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, sleep, timeout};
use wsconform_wire::{accept_response, parse_request};

const MIB: u64 = 1024 * 1024;
/// Goal: the runner's peak resident memory against each server.
const PEAK_GOAL: u64 = 256 * MIB;
/// Goal: the size of the human report.
const OUTPUT_GOAL: u64 = 1_000_000;
/// A hang guard: the runner's own deadlines must end it long before.
const HANG_GUARD: Duration = Duration::from_secs(600);

/// What a hostile server sends after its 101.
#[derive(Debug, Clone, Copy)]
enum Attack {
    PingFlood,
    EndlessFragments,
    RandomBytes,
    HugeFrames,
    Trickle,
}

impl Attack {
    const ALL: [Attack; 5] = [
        Attack::PingFlood,
        Attack::EndlessFragments,
        Attack::RandomBytes,
        Attack::HugeFrames,
        Attack::Trickle,
    ];

    fn name(self) -> &'static str {
        match self {
            Attack::PingFlood => "ping flood (89 00 forever)",
            Attack::EndlessFragments => "endless fragments of one message",
            Attack::RandomBytes => "random bytes",
            Attack::HugeFrames => "16 MiB frames",
            Attack::Trickle => "trickle, 1 byte / 100 ms",
        }
    }

    /// The next bytes to write; `round` counts the writes so far.
    fn bytes(self, round: u64, state: &mut u64) -> Cow<'static, [u8]> {
        if let Attack::HugeFrames = self {
            return Cow::Borrowed(HUGE_FRAME.as_slice());
        }
        Cow::Owned(match self {
            Attack::PingFlood => [0x89u8, 0x00].repeat(32 * 1024),
            Attack::EndlessFragments => {
                let mut out = vec![if round == 0 { 0x01 } else { 0x00 }, 126, 0x10, 0x00];
                out.resize(out.len() + 4096, b'a');
                out
            }
            Attack::RandomBytes => (0..64 * 1024)
                .map(|_| {
                    // xorshift: any bytes will do, the same on every run.
                    *state ^= *state << 13;
                    *state ^= *state >> 7;
                    *state ^= *state << 17;
                    (*state >> 56) as u8
                })
                .collect(),
            Attack::HugeFrames => Vec::new(),
            Attack::Trickle => {
                let frame = *b"\x81\x05Hello";
                vec![frame[(round % frame.len() as u64) as usize]]
            }
        })
    }
}

/// One 16 MiB binary frame, built once and written again and again.
static HUGE_FRAME: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let mut out = vec![0x82, 127];
    out.extend_from_slice(&(16 * MIB).to_be_bytes());
    out.resize(out.len() + 16 * MIB as usize, 0x55);
    out
});

/// One row of the results.
struct Measured {
    attack: Attack,
    seconds: f64,
    peak: u64,
    human: u64,
    html: u64,
    tap: u64,
    summary: String,
}

pub async fn soak_runner(wsconform: std::path::PathBuf, timeout_text: &str) -> Result<()> {
    let reports = tempfile::tempdir().context("cannot make a directory for the reports")?;
    let mut rows = Vec::new();
    for attack in Attack::ALL {
        let addr = serve(attack).await?;
        let html = reports.path().join("report.html");
        let tap = reports.path().join("report.tap");
        let started = Instant::now();
        let mut child = tokio::process::Command::new(&wsconform)
            .arg("run")
            .args(["--target", &format!("ws://{addr}/echo")])
            .args(["--timeout", timeout_text, "-j", "16", "--no-progress"])
            .arg("--report")
            .arg(format!("html={}", html.display()))
            .arg("--report")
            .arg(format!("tap={}", tap.display()))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", wsconform.display()))?;
        let pid = child.id().context("the runner has no pid")?;
        let peak = Arc::new(AtomicU64::new(0));
        let sampler = tokio::spawn(sample_hwm(pid, Arc::clone(&peak)));
        let mut stdout = child.stdout.take().context("no stdout")?;
        let mut human = Vec::new();
        let read = timeout(HANG_GUARD, stdout.read_to_end(&mut human)).await;
        let status = timeout(Duration::from_secs(10), child.wait()).await;
        sampler.abort();
        let seconds = started.elapsed().as_secs_f64();
        if read.is_err() || status.is_err() {
            bail!(
                "{}: the run did not end within {HANG_GUARD:?}",
                attack.name()
            );
        }
        let summary = String::from_utf8_lossy(&human)
            .lines()
            .rev()
            .find(|l| l.contains(" passed, "))
            .unwrap_or("")
            .to_string();
        if summary.is_empty() {
            bail!("{}: no report (no summary line)", attack.name());
        }
        let size = |path: &std::path::Path| std::fs::metadata(path).map_or(0, |m| m.len());
        let row = Measured {
            attack,
            seconds,
            peak: peak.load(Ordering::Relaxed),
            human: human.len() as u64,
            html: size(&html),
            tap: size(&tap),
            summary,
        };
        eprintln!(
            "soak --runner: {} done in {:.0} s, peak {:.1} MiB",
            attack.name(),
            row.seconds,
            row.peak as f64 / MIB as f64
        );
        rows.push(row);
    }

    println!(
        "\nthe runner (whole bundled suite, --timeout {timeout_text}) against hostile servers"
    );
    println!(
        "{:<34} {:>7} {:>11} {:>10} {:>10} {:>10}  summary",
        "server", "time", "peak RSS", "human", "html", "tap"
    );
    let mut missed = Vec::new();
    for row in &rows {
        println!(
            "{:<34} {:>5.0} s {:>7.1} MiB {:>10} {:>10} {:>10}  {}",
            row.attack.name(),
            row.seconds,
            row.peak as f64 / MIB as f64,
            row.human,
            row.html,
            row.tap,
            row.summary
        );
        if row.peak > PEAK_GOAL {
            missed.push(format!(
                "{}: peak {:.1} MiB > {} MiB",
                row.attack.name(),
                row.peak as f64 / MIB as f64,
                PEAK_GOAL / MIB
            ));
        }
        if row.human > OUTPUT_GOAL {
            missed.push(format!(
                "{}: human report {} bytes > {OUTPUT_GOAL}",
                row.attack.name(),
                row.human
            ));
        }
    }
    if !missed.is_empty() {
        bail!("runner goals missed: {}", missed.join("; "));
    }
    println!(
        "goals met: every run ended with a report, peak ≤ {} MiB, human output ≤ {OUTPUT_GOAL} bytes",
        PEAK_GOAL / MIB
    );
    Ok(())
}

/// Samples the child's `VmHWM` until aborted (the last sample before it
/// exits is its peak, give or take one interval).
async fn sample_hwm(pid: u32, peak: Arc<AtomicU64>) {
    loop {
        if let Some(hwm) = crate::soak::status_field(pid, "VmHWM:") {
            peak.fetch_max(hwm, Ordering::Relaxed);
        }
        sleep(Duration::from_millis(20)).await;
    }
}

/// Starts a hostile server on 127.0.0.1 and returns its address.
async fn serve(attack: Attack) -> Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .context("cannot listen")?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(attack_one(stream, attack));
        }
    });
    Ok(addr)
}

/// A valid 101, then the attack until the client leaves (draining what it sends).
async fn attack_one(mut stream: TcpStream, attack: Attack) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let response = loop {
        match parse_request(&buf, 16 * 1024) {
            Ok(Some((request, _))) => break accept_response(&request),
            Ok(None) => {}
            Err(e) => {
                let _ = stream.write_all(&e.response()).await;
                return;
            }
        }
        match stream.read(&mut chunk).await {
            Ok(n) if n > 0 => buf.extend_from_slice(chunk.get(..n).unwrap_or_default()),
            _ => return,
        }
    };
    let (mut reader, mut writer) = stream.into_split();
    tokio::spawn(async move {
        let mut sink = vec![0u8; 16 * 1024];
        while matches!(reader.read(&mut sink).await, Ok(n) if n > 0) {}
    });
    if writer.write_all(&response).await.is_err() {
        return;
    }
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    for round in 0.. {
        if writer
            .write_all(&attack.bytes(round, &mut state))
            .await
            .is_err()
        {
            return;
        }
        if matches!(attack, Attack::Trickle) {
            sleep(Duration::from_millis(100)).await;
        }
    }
}

//! `cargo xtask soak`: the hostile clients of a security probe, against the
//! reference server, with its memory measured.
//!
//! The server runs as a child process (`wsconform-server`, release build)
//! with its default limits, so its resident memory can be read from
//! `/proc/PID/status` while three attacks run one after the other, all on
//! loopback and each bounded in time:
//!
//! 1. **chat**: one client sends ~1 MB chat messages as fast as it can (and
//!    reads everything), one reads 4 MB every 4 s.
//! 2. **echo**: 200 clients (50 from each of four addresses) each send one
//!    16 MiB message and never read.
//! 3. **idle**: 500 connections from 127.0.0.1 that upgrade and stay idle.
//!
//! Throughout, a normal client from 127.0.0.2 sends an echo every 250 ms and
//! must get each answer within [`SERVED_WITHIN`] (generous: the machine may
//! be busy; the point is that it is never locked out). At the end every client leaves and, a
//! few seconds later, the server's memory is read once more.
//!
//! The chore fails when a goal is missed: peak memory over 512 MiB, memory
//! 5 s after the clients left over 64 MiB, or a normal echo not served.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::Mutex;
use tokio::time::{Instant, sleep, timeout};

use crate::{run_command, target_dir};

const MIB: u64 = 1024 * 1024;
/// Goal: the server's peak resident memory under every attack.
const PEAK_GOAL: u64 = 512 * MIB;
/// Goal: its resident memory a few seconds after the clients left.
const AFTER_GOAL: u64 = 64 * MIB;
/// How long the normal client waits for each echo.
const SERVED_WITHIN: Duration = Duration::from_secs(5);
/// How long after the clients left the memory is read.
const SETTLE: Duration = Duration::from_secs(5);

/// Options of `cargo xtask soak`.
#[derive(clap::Args)]
pub struct Args {
    /// Total length of the attacks, in seconds (at least 30).
    #[arg(long, default_value_t = 120)]
    seconds: u64,
    /// Also soak the runner: the whole suite against five hostile servers
    /// (its peak memory and output size).
    #[arg(long)]
    runner: bool,
    /// Only the runner section.
    #[arg(long, requires = "runner")]
    runner_only: bool,
    /// The runner's step deadline in the runner section.
    #[arg(long, default_value = "300ms")]
    runner_timeout: String,
}

pub fn run(args: Args) -> Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("cannot start tokio")?;
    if !args.runner_only {
        run_command(
            "cargo",
            &["build", "--quiet", "--release", "-p", "wsconform-server"],
        )?;
        let server = target_dir().join("release").join("wsconform-server");
        runtime.block_on(soak(server, args.seconds.max(30)))?;
    }
    if args.runner {
        run_command(
            "cargo",
            &["build", "--quiet", "--release", "-p", "wsconform"],
        )?;
        let wsconform = target_dir().join("release").join("wsconform");
        runtime.block_on(crate::soak_runner::soak_runner(
            wsconform,
            &args.runner_timeout,
        ))?;
    }
    Ok(())
}

/// What happened to the attacking connections, by outcome.
type Tally = Arc<Mutex<BTreeMap<String, usize>>>;

async fn count(tally: &Tally, outcome: impl Into<String>) {
    *tally.lock().await.entry(outcome.into()).or_default() += 1;
}

async fn soak(server: PathBuf, seconds: u64) -> Result<()> {
    let mut child = tokio::process::Command::new(&server)
        .args(["--port", "0"])
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot start {}", server.display()))?;
    let pid = child.id().context("the server has no pid")?;
    let stdout = child.stdout.take().context("no stdout")?;
    let mut banner = String::new();
    timeout(
        Duration::from_secs(10),
        BufReader::new(stdout).read_line(&mut banner),
    )
    .await
    .context("the server printed nothing")??;
    let addr: SocketAddr = banner
        .trim()
        .strip_prefix("listening on ")
        .context("no 'listening on' line")?
        .parse()?;
    eprintln!("soak: server pid {pid} on {addr}, {seconds} s of attacks");

    let peak = Arc::new(AtomicU64::new(0));
    let sampling = Arc::new(AtomicBool::new(true));
    tokio::spawn(sample_rss(pid, Arc::clone(&peak), Arc::clone(&sampling)));
    let normal = Arc::new(NormalClient::default());
    let normal_task = tokio::spawn(normal_client(addr, Arc::clone(&normal)));

    let chat_time = Duration::from_secs(seconds / 4);
    let echo_time = Duration::from_secs(seconds * 5 / 12);
    let idle_time = Duration::from_secs(seconds / 3);
    let mut rows = Vec::new();

    let tally = Tally::default();
    let phase_peak = run_phase(&peak, pid, chat_attack(addr, chat_time, tally.clone())).await;
    rows.push(("chat: 1 MB sender + slow reader", phase_peak, tally));
    let tally = Tally::default();
    let phase_peak = run_phase(&peak, pid, echo_attack(addr, echo_time, tally.clone())).await;
    rows.push(("echo: 200 × 16 MiB, never read", phase_peak, tally));
    let tally = Tally::default();
    let phase_peak = run_phase(&peak, pid, idle_attack(addr, idle_time, tally.clone())).await;
    rows.push(("idle: 500 from 127.0.0.1", phase_peak, tally));

    normal.stop.store(true, Ordering::Relaxed);
    let _ = normal_task.await;
    sleep(SETTLE).await;
    let after = rss(pid).unwrap_or(0);
    sampling.store(false, Ordering::Relaxed);
    let hwm = status_field(pid, "VmHWM:").unwrap_or(0);
    let _ = child.kill().await;

    println!("\nsoak of the reference server (default limits), {seconds} s");
    println!("{:<34} {:>14}  connections", "attack", "peak RSS");
    for (name, phase_peak, tally) in &rows {
        let outcomes: Vec<String> = tally
            .lock()
            .await
            .iter()
            .map(|(outcome, n)| format!("{n} {outcome}"))
            .collect();
        println!(
            "{name:<34} {:>10.1} MiB  {}",
            mib(*phase_peak),
            outcomes.join(", ")
        );
    }
    let served = normal.served.load(Ordering::Relaxed);
    let missed = normal.missed.load(Ordering::Relaxed);
    println!(
        "normal client (127.0.0.2): {served} echoes served (slowest {} ms), {missed} not served within {} s",
        normal.slowest_ms.load(Ordering::Relaxed),
        SERVED_WITHIN.as_secs()
    );
    println!(
        "peak RSS (VmHWM) {:.1} MiB (goal ≤ {}), RSS {} s after the clients left {:.1} MiB (goal < {})",
        mib(hwm),
        PEAK_GOAL / MIB,
        SETTLE.as_secs(),
        mib(after),
        AFTER_GOAL / MIB
    );
    if hwm > PEAK_GOAL || after >= AFTER_GOAL || missed > 0 || served == 0 {
        bail!("soak: a goal was missed (see above)");
    }
    println!("soak: every goal met");
    Ok(())
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / MIB as f64
}

/// Runs one attack and returns the highest RSS sampled while it ran.
async fn run_phase(peak: &AtomicU64, pid: u32, attack: impl Future<Output = ()>) -> u64 {
    peak.store(rss(pid).unwrap_or(0), Ordering::Relaxed);
    attack.await;
    peak.load(Ordering::Relaxed)
}

/// Keeps `peak` at the highest RSS seen, sampling every 50 ms.
async fn sample_rss(pid: u32, peak: Arc<AtomicU64>, sampling: Arc<AtomicBool>) {
    while sampling.load(Ordering::Relaxed) {
        if let Some(now) = rss(pid) {
            peak.fetch_max(now, Ordering::Relaxed);
        }
        sleep(Duration::from_millis(50)).await;
    }
}

fn rss(pid: u32) -> Option<u64> {
    status_field(pid, "VmRSS:")
}

/// A `kB` field of `/proc/PID/status`, in bytes.
pub fn status_field(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with(field))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

// ---- WebSocket by hand: the attacks send what no library would. ----

/// Connects from `from` (a loopback address) and completes the opening
/// handshake on `path`; `None` if the server refused or hung up.
async fn open(addr: SocketAddr, from: [u8; 4], path: &str) -> Option<TcpStream> {
    let socket = TcpSocket::new_v4().ok()?;
    socket.bind(SocketAddr::from((from, 0))).ok()?;
    let mut stream = timeout(Duration::from_secs(5), socket.connect(addr))
        .await
        .ok()?
        .ok()?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = timeout(Duration::from_secs(10), stream.read(&mut byte))
            .await
            .ok()?
            .ok()?;
        if n == 0 || head.len() > 4096 {
            return None;
        }
        head.extend_from_slice(&byte);
    }
    head.starts_with(b"HTTP/1.1 101").then_some(stream)
}

/// The header of a masked client frame (all-zero key: the payload goes on
/// the wire as it is).
fn frame_header(opcode: u8, len: usize) -> Vec<u8> {
    let mut header = vec![0x80 | opcode];
    if len < 126 {
        header.push(0x80 | len as u8);
    } else if len <= 0xffff {
        header.push(0x80 | 126);
        header.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        header.push(0x80 | 127);
        header.extend_from_slice(&(len as u64).to_be_bytes());
    }
    header.extend_from_slice(&[0, 0, 0, 0]);
    header
}

/// Reads one server frame: its opcode and payload.
async fn read_frame(stream: &mut (impl AsyncReadExt + Unpin)) -> std::io::Result<(u8, Vec<u8>)> {
    let mut head = [0u8; 2];
    stream.read_exact(&mut head).await?;
    let len = match head[1] & 0x7f {
        126 => u64::from(stream.read_u16().await?),
        127 => stream.read_u64().await?,
        short => u64::from(short),
    };
    if len > 64 * MIB {
        return Err(std::io::Error::other("implausible frame length"));
    }
    let mut payload = vec![0u8; len as usize];
    stream.read_exact(&mut payload).await?;
    Ok((head[0] & 0x0f, payload))
}

/// "closed 1008", or how the connection ended without a close frame.
fn ending(result: std::io::Result<(u8, Vec<u8>)>) -> Option<String> {
    match result {
        Ok((0x8, payload)) => Some(match payload.get(..2) {
            Some(&[hi, lo]) => format!("closed {}", u16::from_be_bytes([hi, lo])),
            _ => "closed without a code".into(),
        }),
        Ok(_) => None,
        Err(_) => Some("dropped".into()),
    }
}

// ---- The normal client. ----

#[derive(Default)]
struct NormalClient {
    served: AtomicU64,
    /// The slowest echo, in milliseconds.
    slowest_ms: AtomicU64,
    missed: AtomicU64,
    stop: AtomicBool,
}

/// An echo every 250 ms from 127.0.0.2, each answered within
/// [`SERVED_WITHIN`], until
/// told to stop; reconnects when its connection is lost.
async fn normal_client(addr: SocketAddr, stats: Arc<NormalClient>) {
    let mut stream = None;
    while !stats.stop.load(Ordering::Relaxed) {
        if stream.is_none() {
            stream = open(addr, [127, 0, 0, 2], "/echo").await;
        }
        let asked = Instant::now();
        let served = match stream.as_mut() {
            Some(s) => timeout(SERVED_WITHIN, async {
                let mut frame = frame_header(0x1, 5);
                frame.extend_from_slice(b"hello");
                s.write_all(&frame).await?;
                loop {
                    let (opcode, payload) = read_frame(s).await?;
                    if opcode == 0x1 {
                        return std::io::Result::Ok(payload == b"hello");
                    }
                }
            })
            .await
            .is_ok_and(|echo| echo.is_ok_and(|same| same)),
            None => false,
        };
        if served {
            stats.served.fetch_add(1, Ordering::Relaxed);
            let took = asked.elapsed().as_millis() as u64;
            stats.slowest_ms.fetch_max(took, Ordering::Relaxed);
        } else {
            stats.missed.fetch_add(1, Ordering::Relaxed);
            stream = None;
        }
        sleep(Duration::from_millis(250)).await;
    }
}

// ---- The attacks. ----

/// One sender of ~1 MB chat messages that reads everything, one reader
/// that reads 4 MB every 4 s.
async fn chat_attack(addr: SocketAddr, length: Duration, tally: Tally) {
    let until = Instant::now() + length;
    let (Some(sender), Some(mut slow)) = (
        open(addr, [127, 0, 0, 1], "/socket").await,
        open(addr, [127, 0, 0, 1], "/socket").await,
    ) else {
        count(&tally, "refused at the handshake").await;
        return;
    };
    let slow_task = {
        let tally = tally.clone();
        tokio::spawn(async move {
            loop {
                let mut read = 0;
                while read < 4 * MIB {
                    match read_frame(&mut slow).await {
                        Ok((0x8, payload)) => {
                            let end = ending(Ok((0x8, payload))).unwrap_or_default();
                            count(&tally, format!("slow reader {end}")).await;
                            return;
                        }
                        Ok((_, payload)) => read += payload.len() as u64,
                        Err(_) => {
                            count(&tally, "slow reader dropped").await;
                            return;
                        }
                    }
                }
                sleep(Duration::from_secs(4)).await;
            }
        })
    };
    let (mut reader, mut writer) = sender.into_split();
    let sender_end = Arc::new(Mutex::new(None::<String>));
    let reader_task = {
        let sender_end = Arc::clone(&sender_end);
        tokio::spawn(async move {
            loop {
                if let Some(end) = ending(read_frame(&mut reader).await) {
                    *sender_end.lock().await = Some(end);
                    return;
                }
            }
        })
    };
    let text = format!(
        r#"{{"username":"soak","message":"{}"}}"#,
        "x".repeat(1_000_000)
    );
    let mut message = frame_header(0x1, text.len());
    message.extend_from_slice(text.as_bytes());
    let mut sent = 0u64;
    while Instant::now() < until {
        match timeout(until - Instant::now(), writer.write_all(&message)).await {
            Ok(Ok(())) => sent += 1,
            Ok(Err(_)) => break,
            Err(_) => break,
        }
    }
    match sender_end.lock().await.take() {
        Some(end) => count(&tally, format!("sender {end} after {sent} messages")).await,
        None => count(&tally, format!("sender served ({sent} messages)")).await,
    }
    reader_task.abort();
    if !slow_task.is_finished() {
        count(&tally, "slow reader still open").await;
    }
    slow_task.abort();
}

/// 200 clients each send one 16 MiB message and never read the echo.
async fn echo_attack(addr: SocketAddr, length: Duration, tally: Tally) {
    let until = Instant::now() + length;
    let mut tasks = Vec::new();
    for peer in 0..200u8 {
        let tally = tally.clone();
        // From four addresses, 50 each: within the per-address limit, so
        // that the memory budget is what stops them.
        let from = [127, 0, 1, 1 + peer % 4];
        tasks.push(tokio::spawn(async move {
            let Some(mut stream) = open(addr, from, "/echo").await else {
                count(&tally, "refused at the handshake").await;
                return;
            };
            let len = 16 * MIB as usize;
            let chunk = vec![b'e'; 256 * 1024];
            let sent = timeout(until - Instant::now(), async {
                stream.write_all(&frame_header(0x2, len)).await?;
                for _ in 0..len / chunk.len() {
                    stream.write_all(&chunk).await?;
                }
                std::io::Result::Ok(())
            })
            .await;
            // Not reading the echo: wait for the server to give up on us,
            // or for the end of the phase. Only the close frame is looked
            // for, so the echo's bytes are skipped, not kept.
            let outcome = match sent {
                Ok(Err(_)) => "cut off while sending".to_string(),
                Err(_) => "still sending at the end".to_string(),
                Ok(Ok(())) => {
                    let remaining = until.saturating_duration_since(Instant::now());
                    sleep(remaining / 2).await;
                    match timeout(remaining / 2, read_frame(&mut stream)).await {
                        Ok(result) => ending(result).unwrap_or_else(|| "echo received".into()),
                        Err(_) => "still open at the end".into(),
                    }
                }
            };
            let outcome = if outcome == "cut off while sending" {
                match read_frame(&mut stream).await {
                    Ok((0x8, payload)) => ending(Ok((0x8, payload))).unwrap_or(outcome),
                    _ => outcome,
                }
            } else {
                outcome
            };
            count(&tally, outcome).await;
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
}

/// 500 connections from 127.0.0.1 that upgrade and then say nothing.
async fn idle_attack(addr: SocketAddr, length: Duration, tally: Tally) {
    let until = Instant::now() + length;
    let mut held = Vec::new();
    for _ in 0..500 {
        match open(addr, [127, 0, 0, 1], "/echo").await {
            Some(stream) => held.push(stream),
            None => count(&tally, "refused (per-address limit)").await,
        }
    }
    let open_count = held.len();
    sleep(until.saturating_duration_since(Instant::now())).await;
    for _ in 0..open_count {
        count(&tally, "held idle").await;
    }
    drop(held);
}

//! The load generator behind `wsconform bench`: many connections, one
//! message size, for a duration or a count, and what came out of it —
//! messages per second, megabytes per second, latency percentiles.
//!
//! # Three modes
//!
//! - **echo**: every connection sends one message, waits for it to come
//!   back, checks it byte for byte, and sends the next (a closed loop: one
//!   message in flight per connection). The time from the first byte written
//!   to the last byte of the echo read is one latency sample.
//! - **chat**: every connection joins the chat room (`/socket`); one of them
//!   sends chat messages, keeping [`CHAT_WINDOW`] of them in flight, and the
//!   server broadcasts each to every client. What counts is *deliveries*: one
//!   message reaching one client. Each message carries the time it was sent,
//!   so every delivery is a latency sample.
//! - **idle**: open the connections, finish the opening handshakes, hold
//!   them without a byte of traffic for the duration, then hang up. It
//!   measures what an open connection costs a server (see `cargo xtask bench`).
//!
//! A target is `ws://HOST:PORT/PATH`, or `tcp://HOST:PORT` for a raw TCP echo
//! server: the same loop without any WebSocket framing, which is the limit a
//! WebSocket server is compared with.
//!
//! # Why it is built this way
//!
//! A load generator must not be the bottleneck, or it measures itself. This
//! one spends as little as it can per message:
//!
//! - it runs on **one thread** ([`run_blocking`] builds a current-thread
//!   tokio runtime), so it can be pinned to one core and never competes with
//!   itself for locks or caches;
//! - the masked frame is **encoded once** and the same bytes are written for
//!   every message (masking keys only have to be unpredictable to a browser's
//!   scripts; a benchmark is not one);
//! - replies go through the same sans-IO [`Decoder`] a client would use, into
//!   a per-connection buffer that is reused;
//! - latencies go into a fixed-size log-scale [`Histogram`] (3 % precision),
//!   not a growing list.
//!
//! Everything is bounded: at most [`MAX_CONNECTIONS`] connections,
//! [`MAX_SIZE`] bytes per message, [`MAX_DURATION`] of load, and a count
//! mode that still stops after [`Settings::deadline`].

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use wsconform_wire::{
    Decoder, Event, Limits, Message, OpCode, Role, build_request, encode_frame, generate_key,
    parse_response, validate_response,
};

use crate::plan::Target;

/// The most connections one run may open (one process may hold at most
/// 20 000 open files on the machines this was written for).
pub const MAX_CONNECTIONS: usize = 19_000;
/// The largest message size.
pub const MAX_SIZE: usize = 16 << 20;
/// The longest a run may generate load (and the longest it may hold idle
/// connections).
pub const MAX_DURATION: Duration = Duration::from_secs(600);
/// The largest message count.
pub const MAX_COUNT: u64 = 1_000_000_000;
/// How many chat messages the sender keeps in flight: enough to keep the
/// server busy, few enough that no client's queue on the server fills up.
pub const CHAT_WINDOW: usize = 16;

/// Connections opened at the same time. Thousands of simultaneous SYNs
/// overflow a server's accept backlog, and a dropped SYN is retried only
/// after a second: opening them in waves is faster.
const CONNECT_CONCURRENCY: usize = 128;
/// How long one connection may take to connect and finish its handshake.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The masking key of every frame the load generator sends.
const MASK_KEY: [u8; 4] = [0x5a, 0x17, 0xc3, 0x9e];
/// Read buffer capacity per connection.
const READ_CHUNK: usize = 16 * 1024;
/// The largest handshake response accepted.
const MAX_RESPONSE_HEAD: usize = 16 * 1024;
/// Digits of the send time in a chat message (nanoseconds since the start).
const STAMP_DIGITS: usize = 20;

/// What the connections do; see the [module documentation](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Round trips: send a message, wait for the echo.
    Echo,
    /// Chat fan-out: one sender, every client receives every message.
    Chat,
    /// Open connections that send nothing.
    Idle,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Echo => "echo",
            Mode::Chat => "chat",
            Mode::Idle => "idle",
        })
    }
}

impl std::str::FromStr for Mode {
    type Err = String;

    fn from_str(text: &str) -> Result<Mode, String> {
        match text {
            "echo" => Ok(Mode::Echo),
            "chat" => Ok(Mode::Chat),
            "idle" => Ok(Mode::Idle),
            other => Err(format!("unknown mode '{other}': use echo, chat or idle")),
        }
    }
}

/// When a run stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// After this much time of load (or of holding idle connections).
    After(Duration),
    /// After this many messages: round trips in echo mode, chat messages
    /// sent in chat mode.
    Count(u64),
}

/// Where the load goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A WebSocket server: `ws://HOST:PORT/PATH`.
    WebSocket(Target),
    /// A raw TCP echo server: `tcp://HOST:PORT`.
    Tcp {
        /// Host name or address.
        host: String,
        /// TCP port.
        port: u16,
    },
}

impl Endpoint {
    /// Parses `ws://HOST:PORT/PATH` or `tcp://HOST:PORT`.
    pub fn parse(url: &str) -> Result<Endpoint, BenchError> {
        if let Some(rest) = url.strip_prefix("tcp://") {
            let bad = || {
                BenchError::Target(format!(
                    "'{url}': write a raw TCP target like tcp://127.0.0.1:9000"
                ))
            };
            let (host, port) = rest.rsplit_once(':').ok_or_else(bad)?;
            let port = port.parse::<u16>().map_err(|_| bad())?;
            return Ok(Endpoint::Tcp {
                host: host.to_owned(),
                port,
            });
        }
        Target::parse(url)
            .map(Endpoint::WebSocket)
            .map_err(BenchError::Target)
    }

    fn host_port(&self) -> (&str, u16) {
        match self {
            Endpoint::WebSocket(target) => (&target.host, target.port),
            Endpoint::Tcp { host, port } => (host, *port),
        }
    }
}

/// One run's settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where to send the load.
    pub endpoint: Endpoint,
    /// How many connections.
    pub connections: usize,
    /// Payload bytes per message (in chat mode: bytes of the JSON text).
    pub size: usize,
    /// When to stop.
    pub stop: Stop,
    /// What the connections do.
    pub mode: Mode,
    /// A hard limit on the load phase, also in count mode: a server that
    /// stops answering ends the run after this long, as an incomplete run.
    pub deadline: Duration,
}

impl Settings {
    /// Settings with the defaults of `wsconform bench`: 64 connections,
    /// 64-byte messages, echo mode, 5 seconds, a 60-second deadline.
    pub fn new(endpoint: Endpoint) -> Settings {
        Settings {
            endpoint,
            connections: 64,
            size: 64,
            stop: Stop::After(Duration::from_secs(5)),
            mode: Mode::Echo,
            deadline: Duration::from_secs(60),
        }
    }

    /// Refuses settings outside the bounds (and combinations that make no
    /// sense) with a message that says which limit and how to fix it.
    pub fn check(&self) -> Result<(), BenchError> {
        let out_of_bounds = |what: &'static str, value: u128, limit: u128| {
            Err(BenchError::OutOfBounds { what, value, limit })
        };
        if self.connections == 0 || self.connections > MAX_CONNECTIONS {
            return out_of_bounds(
                "connections",
                self.connections as u128,
                MAX_CONNECTIONS as u128,
            );
        }
        if self.size == 0 || self.size > MAX_SIZE {
            return out_of_bounds("size", self.size as u128, MAX_SIZE as u128);
        }
        match self.stop {
            Stop::After(d) if d.is_zero() || d > MAX_DURATION => {
                return out_of_bounds("duration (ms)", d.as_millis(), MAX_DURATION.as_millis());
            }
            Stop::Count(n) if n == 0 || n > MAX_COUNT => {
                return out_of_bounds("count", n.into(), MAX_COUNT.into());
            }
            Stop::Count(_) if self.mode == Mode::Idle => {
                return Err(BenchError::Usage(
                    "idle mode sends no messages: give it a --duration, not a --count".into(),
                ));
            }
            _ => {}
        }
        if self.deadline.is_zero() || self.deadline > MAX_DURATION {
            return out_of_bounds(
                "deadline (ms)",
                self.deadline.as_millis(),
                MAX_DURATION.as_millis(),
            );
        }
        if matches!(self.endpoint, Endpoint::Tcp { .. }) && self.mode == Mode::Chat {
            return Err(BenchError::Usage(
                "chat mode needs a WebSocket chat server: use a ws://HOST:PORT/socket target"
                    .into(),
            ));
        }
        if self.mode == Mode::Chat && self.size < chat_message_overhead() {
            return Err(BenchError::Usage(format!(
                "a chat message with a timestamp needs at least {} bytes: use --size {} or more",
                chat_message_overhead(),
                chat_message_overhead()
            )));
        }
        Ok(())
    }
}

/// Latency percentiles, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// The median.
    pub p50_us: f64,
    /// The 99th percentile.
    pub p99_us: f64,
    /// The slowest sample.
    pub max_us: f64,
}

/// What a run measured. Serialises to the JSON of `wsconform bench --json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchReport {
    /// The target URL.
    pub target: String,
    /// The mode.
    pub mode: Mode,
    /// Connections opened.
    pub connections: usize,
    /// Payload bytes per message.
    pub size: usize,
    /// Seconds it took to open every connection (handshakes included).
    pub connect_seconds: f64,
    /// Seconds of load (from the first message to the last).
    pub seconds: f64,
    /// Messages completed: round trips (echo) or deliveries (chat).
    pub messages: u64,
    /// `messages / seconds`.
    pub messages_per_sec: f64,
    /// Payload megabytes (10^6 bytes) per second in one direction.
    pub mb_per_sec: f64,
    /// Latency of the completed messages.
    pub latency: Latency,
    /// CPU seconds (user + system) the load generator itself used during
    /// the load phase. Close to `seconds` means its one thread was busy all
    /// the time: then it, not the server, may be what limits the rate.
    #[serde(default)]
    pub cpu_seconds: f64,
    /// Connections that failed during the load phase.
    pub failed_connections: usize,
    /// What went wrong first, when something did.
    pub first_error: Option<String>,
    /// False when the deadline cut a count-mode run short or a connection failed.
    pub complete: bool,
}

impl BenchReport {
    /// The report as pretty-printed JSON (the `--json` file), with a final
    /// newline.
    pub fn to_json(&self) -> String {
        // Plain numbers, strings and options: serialising cannot fail.
        let mut json = serde_json::to_string_pretty(self).unwrap_or_default();
        json.push('\n');
        json
    }
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} × {} B, {} mode, {}: opened in {:.2} s",
            self.connections, self.size, self.mode, self.target, self.connect_seconds
        )?;
        if self.mode != Mode::Idle {
            let what = if self.mode == Mode::Chat {
                "deliveries"
            } else {
                "round trips"
            };
            writeln!(
                f,
                "  {} {what} in {:.2} s: {:.0}/s, {:.2} MB/s",
                self.messages, self.seconds, self.messages_per_sec, self.mb_per_sec
            )?;
            writeln!(
                f,
                "  latency p50 {:.0} µs, p99 {:.0} µs, max {:.0} µs",
                self.latency.p50_us, self.latency.p99_us, self.latency.max_us
            )?;
            writeln!(
                f,
                "  load generator CPU {:.2} s ({:.0} % of one core)",
                self.cpu_seconds,
                100.0 * self.cpu_seconds / self.seconds.max(1e-9)
            )?;
        }
        if let Some(error) = &self.first_error {
            writeln!(
                f,
                "  {} connection(s) failed; first: {error}",
                self.failed_connections
            )?;
        }
        if !self.complete {
            writeln!(f, "  incomplete run")?;
        }
        Ok(())
    }
}

/// What can stop a run from starting or completing.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The target URL cannot be used.
    #[error("bad target: {0}")]
    Target(String),
    /// A setting is beyond its bound.
    #[error("{what} {value} is out of bounds: use 1 to {limit}")]
    OutOfBounds {
        /// Which setting.
        what: &'static str,
        /// The value given.
        value: u128,
        /// The largest value allowed.
        limit: u128,
    },
    /// Settings that do not go together.
    #[error("{0}")]
    Usage(String),
    /// This process may not open enough sockets.
    #[error(
        "{connections} connections need about {needed} open files but this process may open only {allowed} (ulimit -n); raise the limit or use fewer connections"
    )]
    TooFewFiles {
        /// Connections asked for.
        connections: usize,
        /// Files needed.
        needed: u64,
        /// The hard limit.
        allowed: u64,
    },
    /// A connection could not be opened or its handshake failed.
    #[error("connection {index} of {total}: {problem}")]
    Connect {
        /// Which connection (from 1).
        index: usize,
        /// How many were being opened.
        total: usize,
        /// What went wrong.
        problem: String,
    },
    /// The tokio runtime could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
}

/// Progress a run reports while it goes, for a caller that wants to act on
/// it (the benchmark suite reads a server's memory once every idle
/// connection is open).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Every connection is open and its handshake done.
    Connected(usize),
}

/// Runs the load on a new single-threaded runtime and returns the report.
/// See [`run`].
pub fn run_blocking(
    settings: &Settings,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<BenchReport, BenchError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(BenchError::Runtime)?;
    runtime.block_on(run(settings, progress))
}

/// Opens the connections, generates the load, and measures it.
pub async fn run(
    settings: &Settings,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<BenchReport, BenchError> {
    settings.check()?;
    allow_open_files(settings.connections)?;
    let opening = Instant::now();
    let connections = open_all(settings).await?;
    let connect_seconds = opening.elapsed().as_secs_f64();
    progress(Progress::Connected(connections.len()));
    let cpu_before = cpu_seconds();
    let mut outcome = match settings.mode {
        Mode::Echo => echo_load(settings, connections).await,
        Mode::Chat => chat_load(settings, connections).await,
        Mode::Idle => {
            if let Stop::After(hold) = settings.stop {
                tokio::time::sleep(hold).await;
            }
            drop(connections);
            Outcome::default()
        }
    };
    outcome.cpu_seconds = cpu_seconds() - cpu_before;
    Ok(outcome.report(settings, connect_seconds))
}

/// CPU time this process has used so far, user and system, in seconds.
fn cpu_seconds() -> f64 {
    use nix::sys::resource::{UsageWho, getrusage};
    let Ok(usage) = getrusage(UsageWho::RUSAGE_SELF) else {
        return 0.0;
    };
    let seconds = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
    seconds(usage.user_time()) + seconds(usage.system_time())
}

/// Raises this process's limit on open files (the soft limit, up to the
/// hard limit) so that `connections` sockets fit.
fn allow_open_files(connections: usize) -> Result<(), BenchError> {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let needed = connections as u64 + 64;
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return Ok(());
    };
    if soft >= needed {
        return Ok(());
    }
    if hard < needed {
        return Err(BenchError::TooFewFiles {
            connections,
            needed,
            allowed: hard,
        });
    }
    // Refusal is reported when the sockets are opened.
    let _ = setrlimit(Resource::RLIMIT_NOFILE, needed.max(soft), hard);
    Ok(())
}

/// An open connection, past its handshake.
struct Connection {
    stream: TcpStream,
    /// Bytes read but not used yet (at first: frames that came right behind
    /// the handshake response).
    input: Vec<u8>,
    /// The WebSocket decoder (`None` for a raw TCP target).
    decoder: Option<Decoder>,
}

/// Opens every connection, [`CONNECT_CONCURRENCY`] at a time.
async fn open_all(settings: &Settings) -> Result<Vec<Connection>, BenchError> {
    let total = settings.connections;
    let gate = Arc::new(Semaphore::new(CONNECT_CONCURRENCY));
    let mut opening = JoinSet::new();
    for index in 0..total {
        let gate = Arc::clone(&gate);
        let endpoint = settings.endpoint.clone();
        opening.spawn(async move {
            let _permit = gate.acquire_owned().await;
            let opened = tokio::time::timeout(CONNECT_TIMEOUT, open(&endpoint, index)).await;
            let result = match opened {
                Ok(result) => result,
                Err(_) => Err(format!("not open after {CONNECT_TIMEOUT:?}")),
            };
            (index, result)
        });
    }
    let mut open = Vec::with_capacity(total);
    while let Some(joined) = opening.join_next().await {
        let (index, result) = joined.map_err(|e| BenchError::Connect {
            index: 0,
            total,
            problem: e.to_string(),
        })?;
        match result {
            Ok(connection) => open.push(connection),
            Err(problem) => {
                opening.abort_all();
                return Err(BenchError::Connect {
                    index: index + 1,
                    total,
                    problem,
                });
            }
        }
    }
    Ok(open)
}

/// Connects and, for a WebSocket target, performs the opening handshake.
async fn open(endpoint: &Endpoint, index: usize) -> Result<Connection, String> {
    let (host, port) = endpoint.host_port();
    let mut stream = TcpStream::connect((host, port))
        .await
        .map_err(|e| format!("cannot connect to {host}:{port}: {e}"))?;
    // Small messages must leave at once, not wait for Nagle's algorithm.
    let _ = stream.set_nodelay(true);
    let Endpoint::WebSocket(target) = endpoint else {
        return Ok(Connection {
            stream,
            input: Vec::with_capacity(READ_CHUNK),
            decoder: None,
        });
    };
    let key = generate_key(index as u64);
    let host_header = format!("{host}:{port}");
    let request = build_request(&host_header, &target.path, &key, &[]);
    stream
        .write_all(&request)
        .await
        .map_err(|e| format!("cannot send the handshake: {e}"))?;
    let mut input = Vec::with_capacity(READ_CHUNK);
    loop {
        let read = stream
            .read_buf(&mut input)
            .await
            .map_err(|e| format!("cannot read the handshake response: {e}"))?;
        if read == 0 {
            return Err("the server closed the connection during the handshake".into());
        }
        match parse_response(&input, MAX_RESPONSE_HEAD) {
            Ok(None) => continue,
            Ok(Some((response, used))) => {
                validate_response(&response, &key).map_err(|e| e.to_string())?;
                input.drain(..used.min(input.len()));
                break;
            }
            Err(e) => return Err(e.to_string()),
        }
    }
    let limits = Limits {
        max_frame_size: MAX_SIZE as u64,
        max_message_size: MAX_SIZE,
    };
    Ok(Connection {
        stream,
        input,
        decoder: Some(Decoder::new(Role::Client, limits)),
    })
}

/// What one connection's task brings back.
#[derive(Default)]
struct Outcome {
    messages: u64,
    seconds: f64,
    latency: Histogram,
    failed: usize,
    first_error: Option<String>,
    cut_short: bool,
    cpu_seconds: f64,
}

impl Outcome {
    fn absorb(&mut self, other: Outcome) {
        self.messages += other.messages;
        self.latency.merge(&other.latency);
        self.failed += other.failed;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }

    fn failure(error: String) -> Outcome {
        Outcome {
            failed: 1,
            first_error: Some(error),
            ..Outcome::default()
        }
    }

    fn report(self, settings: &Settings, connect_seconds: f64) -> BenchReport {
        let per_sec = |n: f64| {
            if self.seconds > 0.0 {
                n / self.seconds
            } else {
                0.0
            }
        };
        let target = match &settings.endpoint {
            Endpoint::WebSocket(t) => format!("ws://{}:{}{}", t.host, t.port, t.path),
            Endpoint::Tcp { host, port } => format!("tcp://{host}:{port}"),
        };
        BenchReport {
            target,
            mode: settings.mode,
            connections: settings.connections,
            size: settings.size,
            connect_seconds,
            seconds: self.seconds,
            messages: self.messages,
            messages_per_sec: per_sec(self.messages as f64),
            mb_per_sec: per_sec(self.messages as f64 * settings.size as f64) / 1e6,
            latency: Latency {
                p50_us: self.latency.quantile(0.50) / 1e3,
                p99_us: self.latency.quantile(0.99) / 1e3,
                max_us: self.latency.max as f64 / 1e3,
            },
            cpu_seconds: self.cpu_seconds,
            failed_connections: self.failed,
            complete: !self.cut_short && self.failed == 0,
            first_error: self.first_error,
        }
    }
}

/// What the tasks of one run share: when to stop.
struct Shared {
    /// Set when the time is up (duration mode).
    stop: AtomicBool,
    /// Messages still to send (count mode); `u64::MAX` in duration mode.
    tickets: AtomicU64,
    /// Chat deliveries so far, over all clients: the sender's window.
    delivered: AtomicU64,
}

impl Shared {
    fn new(stop: Stop) -> Shared {
        let tickets = match stop {
            Stop::Count(n) => n,
            Stop::After(_) => u64::MAX,
        };
        Shared {
            stop: AtomicBool::new(false),
            tickets: AtomicU64::new(tickets),
            delivered: AtomicU64::new(0),
        }
    }

    /// May one more message be sent?
    fn take_ticket(&self) -> bool {
        if self.stop.load(Ordering::Relaxed) {
            return false;
        }
        self.tickets
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok()
    }
}

/// Echo mode: one closed loop per connection until the time or the count
/// is used up.
async fn echo_load(settings: &Settings, connections: Vec<Connection>) -> Outcome {
    let payload: Arc<[u8]> = seeded_payload(settings.size).into();
    let wire: Arc<[u8]> = match settings.endpoint {
        Endpoint::WebSocket(_) => {
            let mut frame = Vec::with_capacity(settings.size + 14);
            encode_frame(&mut frame, true, OpCode::Binary, Some(MASK_KEY), &payload);
            frame.into()
        }
        Endpoint::Tcp { .. } => Arc::clone(&payload),
    };
    let shared = Arc::new(Shared::new(settings.stop));
    let start = Instant::now();
    let mut tasks = JoinSet::new();
    for connection in connections {
        let (shared, payload, wire) = (Arc::clone(&shared), payload.clone(), wire.clone());
        tasks.spawn(async move {
            let mut outcome = Outcome::default();
            if let Err(error) = echo_loop(connection, &shared, &payload, &wire, &mut outcome).await
            {
                outcome.failed = 1;
                outcome.first_error = Some(error);
            }
            outcome
        });
    }
    collect(settings, tasks, &shared, start).await
}

/// Waits for the tasks to end, stopping them when the time is up, and adds
/// up what they measured.
async fn collect(
    settings: &Settings,
    mut tasks: JoinSet<Outcome>,
    shared: &Shared,
    start: Instant,
) -> Outcome {
    let mut total = Outcome::default();
    let hard_stop = start + settings.deadline;
    let soft_stop = match settings.stop {
        Stop::After(d) => start + d.min(settings.deadline),
        Stop::Count(_) => hard_stop,
    };
    let mut stop_timer = std::pin::pin!(tokio::time::sleep_until(soft_stop.into()));
    let mut stopped = false;
    loop {
        tokio::select! {
            joined = tasks.join_next() => match joined {
                Some(Ok(outcome)) => total.absorb(outcome),
                Some(Err(e)) => total.absorb(Outcome::failure(format!("task failed: {e}"))),
                None => break,
            },
            () = &mut stop_timer => {
                if stopped {
                    // The grace period is over too: give up on the rest.
                    total.cut_short = true;
                    tasks.abort_all();
                    stop_timer.set(tokio::time::sleep(MAX_DURATION));
                    continue;
                }
                shared.stop.store(true, Ordering::Relaxed);
                stopped = true;
                if matches!(settings.stop, Stop::Count(_)) {
                    total.cut_short = true;
                }
                // Every task now finishes the message in flight; one that
                // waits on a silent server is cut off after a grace period.
                let grace = hard_stop.max(Instant::now()) + Duration::from_secs(2);
                stop_timer.set(tokio::time::sleep_until(grace.into()));
            }
        }
    }
    total.seconds = start.elapsed().as_secs_f64();
    total
}

/// Round trips on one connection until the shared budget says stop.
async fn echo_loop(
    mut connection: Connection,
    shared: &Shared,
    payload: &[u8],
    wire: &[u8],
    outcome: &mut Outcome,
) -> Result<(), String> {
    while shared.take_ticket() {
        let sent = Instant::now();
        connection
            .stream
            .write_all(wire)
            .await
            .map_err(|e| format!("write failed: {e}"))?;
        match connection.decoder {
            Some(_) => receive_echo(&mut connection, payload).await?,
            None => receive_raw(&mut connection, payload.len()).await?,
        }
        outcome.latency.record(sent.elapsed());
        outcome.messages += 1;
    }
    Ok(())
}

/// Reads until the next WebSocket message and checks it is the payload.
async fn receive_echo(connection: &mut Connection, payload: &[u8]) -> Result<(), String> {
    loop {
        match next_event(connection).await? {
            Event::Message(Message::Binary(bytes)) if bytes == payload => {
                if let Some(decoder) = connection.decoder.as_mut() {
                    decoder.recycle(bytes);
                }
                return Ok(());
            }
            Event::Message(_) => return Err("the echo differs from the message sent".into()),
            Event::Ping(data) => send_pong(connection, &data).await?,
            Event::Pong(_) => {}
            Event::Close(frame) => {
                return Err(format!(
                    "the server closed the connection (code {})",
                    frame.map_or(1005, |f| f.code)
                ));
            }
        }
    }
}

/// Reads `len` raw bytes (a raw TCP echo); the content is not compared, as
/// a plain stream may split and join the echoes anywhere.
async fn receive_raw(connection: &mut Connection, len: usize) -> Result<(), String> {
    while connection.input.len() < len {
        connection.input.reserve(READ_CHUNK);
        let read = connection
            .stream
            .read_buf(&mut connection.input)
            .await
            .map_err(|e| format!("read failed: {e}"))?;
        if read == 0 {
            return Err("the server closed the connection".into());
        }
    }
    connection.input.drain(..len);
    Ok(())
}

/// The next event from the server, reading as needed.
async fn next_event(connection: &mut Connection) -> Result<Event, String> {
    let Connection {
        stream,
        input,
        decoder,
    } = connection;
    let Some(decoder) = decoder.as_mut() else {
        return Err("not a WebSocket connection".into());
    };
    loop {
        let (used, event) = decoder
            .decode(input)
            .map_err(|e| format!("protocol error from the server: {e}"))?;
        input.drain(..used.min(input.len()));
        if let Some(event) = event {
            return Ok(event);
        }
        input.reserve(READ_CHUNK);
        let read = stream
            .read_buf(input)
            .await
            .map_err(|e| format!("read failed: {e}"))?;
        if read == 0 {
            return Err("the server closed the connection without a close frame".into());
        }
    }
}

async fn send_pong(connection: &mut Connection, data: &[u8]) -> Result<(), String> {
    let mut pong = Vec::with_capacity(data.len() + 6);
    encode_frame(&mut pong, true, OpCode::Pong, Some(MASK_KEY), data);
    connection
        .stream
        .write_all(&pong)
        .await
        .map_err(|e| format!("write failed: {e}"))
}

/// `len` bytes of a fixed pseudo-random pattern (so a server that mixes up
/// bytes is caught by the echo check).
fn seeded_payload(len: usize) -> Vec<u8> {
    let mut state: u32 = 0x9e37_79b9;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state.to_le_bytes()[0]
        })
        .collect()
}

/// Bytes of a chat message around its padding: `{"username":"bench",
/// "message":"t=<20 digits> "}`.
fn chat_message_overhead() -> usize {
    chat_text(0, 0).len()
}

/// The chat message sent at `stamp` nanoseconds after the start, padded
/// with `x` to `size` bytes when it is shorter.
fn chat_text(stamp: u64, size: usize) -> String {
    let head = format!(r#"{{"username":"bench","message":"t={stamp:0STAMP_DIGITS$} "#);
    let pad = size.saturating_sub(head.len() + 2);
    let mut text = head;
    text.extend(std::iter::repeat_n('x', pad));
    text.push_str(r#""}"#);
    text
}

/// Reads the send time back out of a chat broadcast.
fn chat_stamp(text: &str) -> Option<u64> {
    let at = text.find("t=")? + 2;
    text.get(at..at + STAMP_DIGITS)?.parse().ok()
}

/// Chat mode: connection 0 sends, every connection (0 included) receives.
async fn chat_load(settings: &Settings, connections: Vec<Connection>) -> Outcome {
    let shared = Arc::new(Shared::new(settings.stop));
    let (stop_receivers, receivers_stop) = watch::channel(false);
    let start = Instant::now();
    let mut tasks = JoinSet::new();
    let mut connections = connections.into_iter();
    let Some(sender) = connections.next() else {
        return Outcome::default();
    };
    let size = settings.size;
    // In count mode every client expects every message.
    let expected = match settings.stop {
        Stop::Count(n) => Some(n),
        Stop::After(_) => None,
    };
    for connection in connections {
        let stop = receivers_stop.clone();
        tasks.spawn(chat_receiver(
            connection,
            Arc::clone(&shared),
            stop,
            expected,
            start,
        ));
    }
    let sending = {
        let shared = Arc::clone(&shared);
        let clients = settings.connections as u64;
        tokio::spawn(async move { chat_sender(sender, &shared, clients, size, start).await })
    };
    // The sender's budget ends first; receivers then get a moment to take
    // the last deliveries before they are told to stop.
    let mut sender_tasks = JoinSet::new();
    sender_tasks.spawn(async move {
        sending
            .await
            .unwrap_or_else(|e| Outcome::failure(format!("task failed: {e}")))
    });
    let mut total = collect(settings, sender_tasks, &shared, start).await;
    let mut received = Outcome::default();
    // Count mode: receivers end by themselves after the last message.
    // Duration mode: in-flight deliveries at the stop are not counted.
    let grace = match settings.stop {
        Stop::Count(_) => Duration::from_secs(5),
        Stop::After(_) => Duration::ZERO,
    };
    let gather = async {
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(outcome) => received.absorb(outcome),
                Err(e) => received.absorb(Outcome::failure(format!("task failed: {e}"))),
            }
        }
    };
    if tokio::time::timeout(grace, gather).await.is_err() {
        let _ = stop_receivers.send(true);
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(outcome) => received.absorb(outcome),
                Err(e) => received.absorb(Outcome::failure(format!("task failed: {e}"))),
            }
        }
    }
    total.absorb(received);
    total
}

/// The sending chat client: keeps at most [`CHAT_WINDOW`] messages in
/// flight, a message being in flight until *every* client has it (so no
/// client's queue on the server can overflow), and counts its own
/// deliveries too.
async fn chat_sender(
    mut connection: Connection,
    shared: &Shared,
    clients: u64,
    size: usize,
    start: Instant,
) -> Outcome {
    let mut outcome = Outcome::default();
    // Own copies not yet back.
    let mut in_flight = 0usize;
    let mut sent = 0u64;
    let window = CHAT_WINDOW as u64 * clients;
    let undelivered =
        |sent: u64| (sent * clients).saturating_sub(shared.delivered.load(Ordering::Relaxed));
    let mut frame = Vec::with_capacity(size + 14);
    let result: Result<(), String> = async {
        loop {
            while undelivered(sent) < window && shared.take_ticket() {
                let stamp = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
                frame.clear();
                let text = chat_text(stamp, size);
                encode_frame(
                    &mut frame,
                    true,
                    OpCode::Text,
                    Some(MASK_KEY),
                    text.as_bytes(),
                );
                connection
                    .stream
                    .write_all(&frame)
                    .await
                    .map_err(|e| format!("write failed: {e}"))?;
                in_flight += 1;
                sent += 1;
            }
            if in_flight == 0 {
                let done = shared.stop.load(Ordering::Relaxed)
                    || shared.tickets.load(Ordering::Relaxed) == 0;
                if done {
                    return Ok(());
                }
                // Own copies are all back but others are behind: let the
                // receivers run.
                tokio::task::yield_now().await;
                continue;
            }
            let event = next_event(&mut connection).await?;
            if chat_delivery(&mut connection, event, shared, start, &mut outcome).await? {
                in_flight -= 1;
            }
        }
    }
    .await;
    if let Err(error) = result {
        outcome.failed = 1;
        outcome.first_error = Some(error);
    }
    outcome
}

/// A receiving chat client: counts deliveries until it has the `expected`
/// number or is told to stop.
async fn chat_receiver(
    mut connection: Connection,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
    expected: Option<u64>,
    start: Instant,
) -> Outcome {
    let mut outcome = Outcome::default();
    loop {
        if Some(outcome.messages) == expected {
            return outcome;
        }
        let event = tokio::select! {
            biased;
            _ = stop.changed() => return outcome,
            event = next_event(&mut connection) => event,
        };
        let delivered = match event {
            Ok(event) => chat_delivery(&mut connection, event, &shared, start, &mut outcome).await,
            Err(error) => Err(error),
        };
        if let Err(error) = delivered {
            outcome.failed = 1;
            outcome.first_error = Some(error);
            return outcome;
        }
    }
}

/// Handles one event of a chat client; returns whether it was a delivery.
async fn chat_delivery(
    connection: &mut Connection,
    event: Event,
    shared: &Shared,
    start: Instant,
    outcome: &mut Outcome,
) -> Result<bool, String> {
    match event {
        Event::Message(Message::Text(text)) => {
            let stamp = chat_stamp(&text)
                .ok_or_else(|| format!("a chat broadcast without the send time: {text:.80}"))?;
            let now = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
            outcome
                .latency
                .record(Duration::from_nanos(now.saturating_sub(stamp)));
            outcome.messages += 1;
            shared.delivered.fetch_add(1, Ordering::Relaxed);
            Ok(true)
        }
        Event::Message(Message::Binary(_)) => Err("a binary message in the chat".into()),
        Event::Ping(data) => send_pong(connection, &data).await.map(|()| false),
        Event::Pong(_) => Ok(false),
        Event::Close(frame) => Err(format!(
            "the server closed the connection (code {})",
            frame.map_or(1005, |f| f.code)
        )),
    }
}

/// Latency samples in log-scale buckets: exact below 64 ns, then 32 buckets
/// per power of two (at most 3 % wide). Fixed size, so recording costs the
/// same at the millionth sample as at the first.
#[derive(Debug, Clone, Default)]
pub struct Histogram {
    /// Samples per bucket; allocated at the first sample.
    counts: Vec<u64>,
    /// The largest sample, exact (nanoseconds).
    max: u64,
    /// How many samples.
    total: u64,
}

/// Buckets: 64 exact ones, then 32 for each power of two from 2^6 to 2^63.
const BUCKETS: usize = 64 + 58 * 32;

impl Histogram {
    /// Adds one sample.
    pub fn record(&mut self, sample: Duration) {
        let nanos = u64::try_from(sample.as_nanos()).unwrap_or(u64::MAX);
        if self.counts.is_empty() {
            self.counts = vec![0; BUCKETS];
        }
        if let Some(count) = self.counts.get_mut(bucket_of(nanos)) {
            *count += 1;
        }
        self.total += 1;
        self.max = self.max.max(nanos);
    }

    /// Adds every sample of `other`.
    pub fn merge(&mut self, other: &Histogram) {
        if other.total == 0 {
            return;
        }
        if self.counts.is_empty() {
            self.counts = vec![0; BUCKETS];
        }
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        self.total += other.total;
        self.max = self.max.max(other.max);
    }

    /// The sample below which a fraction `q` (0 to 1) of the samples lie, in
    /// nanoseconds (the middle of its bucket, never above the maximum); 0
    /// without samples.
    pub fn quantile(&self, q: f64) -> f64 {
        if self.total == 0 {
            return 0.0;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (index, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                let (low, width) = bucket_range(index);
                let middle = low as f64 + width as f64 / 2.0;
                return middle.min(self.max as f64);
            }
        }
        self.max as f64
    }
}

/// The bucket of a sample.
fn bucket_of(nanos: u64) -> usize {
    if nanos < 64 {
        return nanos as usize;
    }
    let power = 63 - nanos.leading_zeros() as usize; // 6..=63
    let top_bits = (nanos >> (power - 5)) as usize; // 32..=63
    64 + (power - 6) * 32 + (top_bits - 32)
}

/// The lowest sample of a bucket and its width.
fn bucket_range(index: usize) -> (u64, u64) {
    if index < 64 {
        return (index as u64, 1);
    }
    let power = 6 + (index - 64) / 32;
    let top_bits = 32 + (index - 64) % 32;
    ((top_bits as u64) << (power - 5), 1u64 << (power - 5))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    #[test]
    fn histogram_buckets_cover_every_value_in_order() {
        let mut last = 0;
        for nanos in (0..5000).chain([u64::MAX / 3, u64::MAX]) {
            let bucket = bucket_of(nanos);
            assert!(bucket < BUCKETS);
            assert!(bucket >= last, "buckets go up with the value");
            last = bucket;
            let (low, width) = bucket_range(bucket);
            assert!(
                low <= nanos && nanos - low < width,
                "{nanos} in {low}+{width}"
            );
        }
    }

    #[test]
    fn histogram_quantiles_are_within_three_percent() {
        let mut histogram = Histogram::default();
        for micros in 1..=1000u64 {
            histogram.record(Duration::from_micros(micros));
        }
        let p50 = histogram.quantile(0.5) / 1e3;
        let p99 = histogram.quantile(0.99) / 1e3;
        assert!((p50 - 500.0).abs() < 15.0, "{p50}");
        assert!((p99 - 990.0).abs() < 30.0, "{p99}");
        assert_eq!(histogram.quantile(1.0), 1_000_000.0);
        let mut merged = Histogram::default();
        merged.merge(&histogram);
        merged.merge(&histogram);
        assert_eq!(merged.total, 2000);
        assert_eq!(merged.quantile(0.5), histogram.quantile(0.5));
    }

    #[test]
    fn chat_messages_carry_their_stamp_and_size() {
        let text = chat_text(123_456, 100);
        assert_eq!(text.len(), 100);
        assert_eq!(chat_stamp(&text), Some(123_456));
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["username"], "bench");
        assert!(chat_text(1, 0).len() == chat_message_overhead());
    }

    #[test]
    fn settings_out_of_bounds_are_refused() {
        let endpoint = Endpoint::parse("ws://127.0.0.1:9/echo").unwrap();
        let mut settings = Settings::new(endpoint);
        assert!(settings.check().is_ok());
        settings.connections = MAX_CONNECTIONS + 1;
        assert!(matches!(
            settings.check(),
            Err(BenchError::OutOfBounds {
                what: "connections",
                ..
            })
        ));
        settings.connections = 1;
        settings.mode = Mode::Idle;
        settings.stop = Stop::Count(5);
        assert!(matches!(settings.check(), Err(BenchError::Usage(_))));
        assert!(matches!(
            Endpoint::parse("tcp://localhost"),
            Err(BenchError::Target(_))
        ));
        assert_eq!(
            Endpoint::parse("tcp://127.0.0.1:7").unwrap(),
            Endpoint::Tcp {
                host: "127.0.0.1".into(),
                port: 7
            }
        );
    }

    /// A raw TCP echo server for the tests, on a free loopback port.
    async fn tcp_echo() -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (mut reader, mut writer) = stream.split();
                    let _ = tokio::io::copy(&mut reader, &mut writer).await;
                });
            }
        });
        port
    }

    #[tokio::test]
    async fn counts_round_trips_against_a_raw_echo() {
        let port = tcp_echo().await;
        let mut settings =
            Settings::new(Endpoint::parse(&format!("tcp://127.0.0.1:{port}")).unwrap());
        settings.connections = 4;
        settings.size = 100;
        settings.stop = Stop::Count(200);
        settings.deadline = Duration::from_secs(20);
        let connected = std::sync::Mutex::new(0);
        let report = run(&settings, &|Progress::Connected(n)| {
            *connected.lock().unwrap() = n;
        })
        .await
        .unwrap();
        assert_eq!(*connected.lock().unwrap(), 4);
        assert_eq!(report.messages, 200);
        assert!(report.complete, "{report}");
        assert!(report.latency.p50_us > 0.0 && report.latency.max_us >= report.latency.p99_us);
        let json = serde_json::to_string(&report).unwrap();
        let back: BenchReport = serde_json::from_str(&json).unwrap();
        assert_eq!(back, report);
    }

    #[tokio::test]
    async fn a_refused_connection_is_an_error_naming_it() {
        // Bind then drop: nothing listens on that port any more.
        let port = {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            listener.local_addr().unwrap().port()
        };
        let mut settings =
            Settings::new(Endpoint::parse(&format!("ws://127.0.0.1:{port}/echo")).unwrap());
        settings.connections = 2;
        let error = run(&settings, &|_| {}).await.unwrap_err();
        assert!(matches!(error, BenchError::Connect { .. }), "{error}");
        assert!(error.to_string().contains("cannot connect"), "{error}");
    }
}

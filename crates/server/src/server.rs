//! The listener: accept connections, give each its own task, and shut down
//! gracefully.
//!
//! Starting a server is split in two, [`bind`] and [`Server::run`], for the
//! sake of tests: after `bind` the port is open and known
//! ([`Server::local_addr`]), so a test can bind to port 0, learn the port,
//! spawn `run` and connect, with no race and no fixed port numbers.
//!
//! Every tool that needs the reference server in its own process (the CLI's
//! `--reference`, the xtask checks, tests) starts it with [`spawn`], which
//! does both steps on the current tokio runtime and returns a
//! [`RunningServer`] handle: one way to start it, one way to stop it.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{Semaphore, oneshot};
use tokio::task::{JoinHandle, JoinSet};
use tracing::{Instrument, error, info, info_span, warn};

use crate::budget::Budget;
use crate::config::Config;
use crate::connection::{self, Shared};
use crate::error::ServerError;
use crate::hub::Hub;
use crate::limits::{AddressSlots, Admission};
use crate::shutdown;

/// How many "503 Service Unavailable" answers may be in flight at once.
const MAX_REFUSALS_IN_FLIGHT: usize = 64;

/// A bound, not yet running server. Created by [`bind`].
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    local_addr: SocketAddr,
    shared: Arc<Shared>,
}

/// Checks `config` and opens its listening socket. Same as [`Server::bind`].
pub async fn bind(config: Config) -> Result<Server, ServerError> {
    Server::bind(config).await
}

/// A server started by [`spawn`], running on a task of the tokio runtime
/// that spawned it.
///
/// [`RunningServer::shutdown`] stops it gracefully and waits until it has
/// stopped. Dropping the handle stops it too: the graceful shutdown then
/// runs on in the background, on the same runtime.
#[derive(Debug)]
pub struct RunningServer {
    local_addr: SocketAddr,
    /// Dropping or sending on it ends [`Server::run`]'s shutdown future.
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

/// Binds `config`'s address and serves on a task of the current tokio
/// runtime until the returned handle is shut down or dropped.
///
/// The port is open when this returns, so callers can connect to
/// [`RunningServer::local_addr`] at once.
///
/// # Panics
///
/// When called outside a tokio runtime (as [`tokio::spawn`] does).
pub async fn spawn(config: Config) -> Result<RunningServer, ServerError> {
    let server = Server::bind(config).await?;
    let local_addr = server.local_addr();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async {
        // A send and a dropped sender both mean: stop.
        let _ = stopped.await;
    }));
    Ok(RunningServer {
        local_addr,
        stop,
        task,
    })
}

impl RunningServer {
    /// The address the server listens on, with the real port when the
    /// configuration asked for port 0.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Runs the graceful shutdown (stop accepting, close every connection
    /// with 1001, wait at most [`Config::shutdown_grace`]) and returns once
    /// the server has stopped.
    pub async fn shutdown(self) {
        let RunningServer { stop, task, .. } = self;
        let _ = stop.send(());
        if let Err(join_error) = task.await {
            report_panic(Err(join_error));
        }
    }
}

impl Server {
    /// Checks `config` and opens its listening socket.
    ///
    /// The port is open when this returns: connections made before
    /// [`Server::run`] starts wait in the operating system's backlog.
    pub async fn bind(config: Config) -> Result<Server, ServerError> {
        check(&config)?;
        let addr = config.bind_addr;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| ServerError::Bind { addr, source })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| ServerError::Bind { addr, source })?;
        let budget = Budget::new(config.max_buffered_bytes);
        let hub = Arc::new(Hub::new(config.chat_queue_bytes, Arc::clone(&budget)));
        Ok(Server {
            listener,
            local_addr,
            shared: Arc::new(Shared {
                config,
                hub,
                budget,
            }),
        })
    }

    /// The address the server listens on, with the real port when the
    /// configuration asked for port 0.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The configuration the server runs with.
    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    // ANCHOR: accept_loop
    /// Serves connections until `shutdown` completes, then shuts down
    /// gracefully: stop accepting, send close 1001 to every client, wait at
    /// most [`Config::shutdown_grace`] for them, and return.
    ///
    /// Pass [`shutdown_signal()`](crate::shutdown_signal) to stop on Ctrl-C,
    /// or any future (a oneshot receiver, a timer) in tests.
    pub async fn run<F: Future>(self, shutdown: F) {
        let Server {
            listener,
            local_addr,
            shared,
        } = self;
        let config = &shared.config;
        info!(
            "listening on {local_addr}: chat page http://{local_addr}/, \
             chat ws://{local_addr}/socket, echo ws://{local_addr}/echo"
        );

        // One permit per connection: when none is left, the server is full.
        let slots = Arc::new(Semaphore::new(config.max_connections));
        // And at most so many per IP address, so one peer cannot take them all.
        let address_slots = AddressSlots::new(config.max_connections_per_address);
        // Refusing politely costs a short task; cap those as well, so a flood
        // beyond the limit cannot create tasks without bound.
        let refusal_slots = Arc::new(Semaphore::new(MAX_REFUSALS_IN_FLIGHT));
        let (trigger, signal) = shutdown::channel();
        let mut connections = JoinSet::new();
        let mut next_id: u64 = 0;
        tokio::pin!(shutdown);

        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                accepted = listener.accept() => {
                    let (stream, peer) = match accepted {
                        Ok(accepted) => accepted,
                        Err(error) => {
                            // Usually out of file descriptors: wait for some
                            // connections to end instead of spinning.
                            warn!(%error, "accept failed; retrying in 100 ms");
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            continue;
                        }
                    };
                    let Some(address_slot) = address_slots.try_take(peer.ip()) else {
                        // No answer: a peer over its limit is opening
                        // connections in a loop, and a 503 would cost a task.
                        warn!(%peer, limit = config.max_connections_per_address, "per-address limit: connection refused");
                        continue;
                    };
                    let Ok(permit) = Arc::clone(&slots).try_acquire_owned() else {
                        // Full. Say so with a 503 if a refusal slot is free
                        // (answering takes a task too), else just hang up.
                        warn!(%peer, limit = config.max_connections, "server full: connection refused");
                        if let Ok(refusal_slot) = Arc::clone(&refusal_slots).try_acquire_owned() {
                            let shared = Arc::clone(&shared);
                            connections.spawn(async move {
                                connection::refuse_busy(stream, &shared.config).await;
                                drop(refusal_slot);
                            });
                        }
                        continue;
                    };
                    next_id += 1;
                    let span = info_span!("connection", id = next_id, %peer);
                    let admission = Admission { _server: permit, _address: address_slot };
                    let task = connection::handle(stream, Arc::clone(&shared), signal.clone(), admission);
                    connections.spawn(task.instrument(span));
                }
                // Collect finished tasks so the set does not grow forever.
                Some(finished) = connections.join_next(), if !connections.is_empty() => {
                    report_panic(finished);
                }
            }
        }
        // ANCHOR_END: accept_loop

        // ANCHOR: graceful_shutdown
        drop(listener);
        info!(
            open = connections.len(),
            "shutting down: closing every connection with 1001"
        );
        trigger.begin();
        let all_closed = async {
            while let Some(finished) = connections.join_next().await {
                report_panic(finished);
            }
        };
        if tokio::time::timeout(config.shutdown_grace, all_closed)
            .await
            .is_err()
        {
            warn!(
                remaining = connections.len(),
                grace = ?config.shutdown_grace,
                "connections still open after the grace period; dropping them"
            );
            connections.shutdown().await;
        }
        info!("server stopped");
        // ANCHOR_END: graceful_shutdown
    }
}

/// Logs a connection task that panicked. (None should: peer input cannot
/// reach a panic. If one does, it takes down that connection only, and the
/// log line says so.)
fn report_panic(finished: Result<(), tokio::task::JoinError>) {
    match finished {
        Err(join_error) if join_error.is_panic() => {
            error!(%join_error, "task panicked: a connection was dropped");
        }
        _ => {}
    }
}

/// Refuses configurations that cannot work.
fn check(config: &Config) -> Result<(), ServerError> {
    let invalid = |field, problem| Err(ServerError::InvalidConfig { field, problem });
    if config.max_connections == 0 || config.max_connections > Semaphore::MAX_PERMITS {
        return invalid("max_connections", "must be between 1 and 2^61");
    }
    if config.max_connections_per_address == 0 {
        return invalid("max_connections_per_address", "must be at least 1");
    }
    if config.chat_queue_bytes == 0 {
        return invalid("chat_queue_bytes", "must be at least 1 byte");
    }
    if config.max_buffered_bytes < config.max_message_size {
        return invalid(
            "max_buffered_bytes",
            "must be at least max_message_size, or no message of that size could ever be taken",
        );
    }
    if config.max_handshake_size < 16 {
        return invalid(
            "max_handshake_size",
            "must be at least 16 bytes to hold a request line",
        );
    }
    if config.max_frame_size == 0 || config.max_message_size == 0 {
        return invalid("max_frame_size/max_message_size", "must be at least 1 byte");
    }
    for (field, value) in [
        ("handshake_timeout", config.handshake_timeout),
        ("idle_timeout", config.idle_timeout),
        ("write_timeout", config.write_timeout),
        ("close_timeout", config.close_timeout),
    ] {
        if value.is_zero() {
            return invalid(field, "must be longer than zero");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn refuses_configurations_that_cannot_work() {
        let zero_queue = Config {
            chat_queue_bytes: 0,
            ..Config::ephemeral()
        };
        let error = bind(zero_queue).await.unwrap_err();
        assert!(error.to_string().contains("chat_queue_bytes"), "{error}");
        let small_budget = Config {
            max_buffered_bytes: 1000,
            max_message_size: 1001,
            ..Config::ephemeral()
        };
        let error = bind(small_budget).await.unwrap_err();
        assert!(error.to_string().contains("max_buffered_bytes"), "{error}");
        let zero_idle = Config {
            idle_timeout: Duration::ZERO,
            ..Config::ephemeral()
        };
        assert!(matches!(
            bind(zero_idle).await,
            Err(ServerError::InvalidConfig {
                field: "idle_timeout",
                ..
            })
        ));
    }

    /// Whether a TCP connection to `addr` is accepted.
    async fn accepts(addr: SocketAddr) -> bool {
        tokio::time::timeout(Duration::from_secs(5), tokio::net::TcpStream::connect(addr))
            .await
            .is_ok_and(|connected| connected.is_ok())
    }

    #[tokio::test]
    async fn a_spawned_server_serves_until_shut_down() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        let running = spawn(Config::ephemeral()).await.unwrap();
        let addr = running.local_addr();
        assert_ne!(addr.port(), 0, "the real port is reported");

        // It answers HTTP: the chat page at `/`.
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await
            .unwrap();
        let mut head = [0u8; 12];
        tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut head))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&head, b"HTTP/1.1 200");
        drop(stream);

        tokio::time::timeout(Duration::from_secs(10), running.shutdown())
            .await
            .expect("shutdown returns within the grace period");
        assert!(!accepts(addr).await, "the port is closed after shutdown");
    }

    #[tokio::test]
    async fn dropping_the_handle_stops_the_server() {
        let running = spawn(Config::ephemeral()).await.unwrap();
        let addr = running.local_addr();
        assert!(accepts(addr).await);
        drop(running);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while accepts(addr).await {
            assert!(
                tokio::time::Instant::now() < deadline,
                "still listening 10 s after the handle was dropped"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[tokio::test]
    async fn spawn_reports_bind_errors() {
        let first = spawn(Config::ephemeral()).await.unwrap();
        let taken = Config::with_bind_addr(first.local_addr());
        assert!(matches!(spawn(taken).await, Err(ServerError::Bind { .. })));
        first.shutdown().await;
    }

    #[tokio::test]
    async fn a_busy_port_is_a_clear_error() {
        let first = bind(Config::ephemeral()).await.unwrap();
        let taken = Config::with_bind_addr(first.local_addr());
        let error = bind(taken).await.unwrap_err();
        assert!(matches!(error, ServerError::Bind { .. }));
        assert!(error.to_string().contains("port 0"), "{error}");
    }
}

//! Graceful shutdown: tell every connection to close with 1001, then wait a
//! bounded time.
//!
//! Stopping a WebSocket server well takes two steps. First, stop accepting:
//! drop the listener. Second, say goodbye: RFC 6455 gives close code 1001
//! ("going away") to a server that is going down, so every open connection
//! sends a close frame with 1001 and waits briefly for the client's reply.
//! A client that never answers must not keep the process alive, so the whole
//! goodbye is bounded by [`Config::shutdown_grace`](crate::Config::shutdown_grace).
//!
//! The signal travels over a [`tokio::sync::watch`] channel holding a single
//! `bool`. Unlike a broadcast of an event, a `watch` remembers its value: a
//! connection that starts listening *after* shutdown began still learns of it
//! at once, so no connection can miss the news.

use tokio::sync::watch;

/// The server's side of the signal: flips the shared flag once.
#[derive(Debug)]
pub(crate) struct ShutdownTrigger {
    sender: watch::Sender<bool>,
}

/// A connection's side of the signal. Cheap to clone, one per task.
#[derive(Debug, Clone)]
pub(crate) struct ShutdownSignal {
    receiver: watch::Receiver<bool>,
}

/// A connected trigger and signal, with shutdown not yet begun.
pub(crate) fn channel() -> (ShutdownTrigger, ShutdownSignal) {
    let (sender, receiver) = watch::channel(false);
    (ShutdownTrigger { sender }, ShutdownSignal { receiver })
}

impl ShutdownTrigger {
    /// Tells every [`ShutdownSignal`] that shutdown has begun.
    pub(crate) fn begin(&self) {
        // `send_replace` works even when no receiver is left.
        self.sender.send_replace(true);
    }
}

impl ShutdownSignal {
    // ANCHOR: shutdown_signal
    /// Completes once shutdown has begun (immediately if it already has).
    ///
    /// Cancel-safe, so it can sit in a `tokio::select!` branch that is
    /// polled again on every turn of a connection's loop.
    pub(crate) async fn recv(&mut self) {
        // An error means the trigger is gone, that is, the server itself has
        // stopped: that is a shutdown too.
        let _ = self.receiver.wait_for(|begun| *begun).await;
    }
    // ANCHOR_END: shutdown_signal
}

/// Completes when the process is asked to stop: Ctrl-C, or on Unix also
/// `SIGTERM` (what `kill` and service managers send).
///
/// Pass it to [`Server::run`](crate::Server::run) to get graceful shutdown
/// in a binary. If the signal handlers cannot be installed the future never
/// completes, and the server runs until the process is killed, which is what
/// it would do without graceful shutdown anyway; a warning is logged.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "cannot listen for Ctrl-C; graceful shutdown disabled");
            std::future::pending::<()>().await;
        }
    };

    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut stream) => {
                stream.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();

    tokio::select! {
        () = ctrl_c => tracing::info!("Ctrl-C received, shutting down"),
        () = terminate => tracing::info!("SIGTERM received, shutting down"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_signal_created_before_or_after_the_trigger_fires_sees_it() {
        let (trigger, mut early) = channel();
        let mut clone = early.clone();

        // Not begun: recv must still be pending after a short wait.
        let waited = tokio::time::timeout(Duration::from_millis(20), early.recv()).await;
        assert!(waited.is_err(), "recv completed before shutdown began");

        trigger.begin();
        tokio::time::timeout(Duration::from_secs(5), early.recv())
            .await
            .expect("recv must complete once shutdown began");
        let mut late = clone.clone();
        tokio::time::timeout(Duration::from_secs(5), late.recv())
            .await
            .expect("a signal cloned after the trigger fired must see it");
        tokio::time::timeout(Duration::from_secs(5), clone.recv())
            .await
            .expect("recv must complete again");
    }

    #[tokio::test]
    async fn a_dropped_trigger_counts_as_shutdown() {
        let (trigger, mut signal) = channel();
        drop(trigger);
        tokio::time::timeout(Duration::from_secs(5), signal.recv())
            .await
            .expect("a signal whose server is gone must complete");
    }
}

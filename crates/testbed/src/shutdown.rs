//! Stopping a server that runs in a background task.
//!
//! Every server of the testbed runs its accept loop in a spawned tokio task
//! and hands back a [`ShutdownHandle`]. A test keeps the handle alive for as
//! long as it needs the server; dropping it (at the end of the test, or on a
//! panic) stops the server, so a failing test never leaves a listener behind.
//!
//! The accept loop owns every connection task in a [`tokio::task::JoinSet`].
//! When the loop ends, the set is dropped and every connection is aborted
//! with it: stopping a server really stops all of it.

use std::future::Future;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Stops a running testbed server: explicitly with [`ShutdownHandle::shutdown`],
/// or implicitly when dropped.
#[derive(Debug)]
pub struct ShutdownHandle {
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl ShutdownHandle {
    /// Stops the server and waits until its task has ended (the listener is
    /// closed and every connection dropped when this returns).
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            // The receiver is gone only if the task already ended; nothing to stop then.
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            // A task that panicked has ended too; that is all we wait for.
            let _ = task.await;
        }
    }
}

impl Drop for ShutdownHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Spawns `serve` so that it runs until the returned handle asks it to stop.
///
/// `serve` receives nothing: the server's own loop does not need to know
/// about shutdown, because it is simply dropped (and with it every resource
/// it owns) when the stop signal arrives.
pub(crate) fn spawn_server<F>(serve: F) -> ShutdownHandle
where
    F: Future<Output = ()> + Send + 'static,
{
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        tokio::select! {
            _ = serve => {}
            // An error means the handle was dropped without sending: stop too.
            _ = stopped => {}
        }
    });
    ShutdownHandle {
        stop: Some(stop),
        task: Some(task),
    }
}

/// Accepts connections until the server is stopped, serving each one in its
/// own task with `serve`.
///
/// The connections live in a [`JoinSet`](tokio::task::JoinSet) owned by this
/// loop, so stopping the server (aborting the loop) stops them too; finished
/// ones are reaped so the set does not grow forever. When `accept` fails (out
/// of file descriptors, usually) the loop waits a little for some to close
/// instead of spinning.
pub(crate) async fn accept_each<S, F>(listener: tokio::net::TcpListener, serve: S)
where
    S: Fn(tokio::net::TcpStream) -> F,
    F: Future<Output = ()> + Send + 'static,
{
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(serve(stream));
                }
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(10)).await,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

//! **Mutants**: small, plain servers on `wsconform-wire` and tokio, correct
//! by default, each able to carry exactly one classic [`Bug`].
//!
//! A test suite proves its power by catching bugs. Each mutant is the same
//! server with one bug switched on, written the way it shows up in real
//! first servers: a `match bug` at the one place the mistake lives, so that
//! reading the mutant's code shows exactly what the suite must notice. With
//! no bug ([`start_mutant`]`(None)`), the mutant is the *baseline*: strict
//! RFC 6455 (pong with the ping's payload, close echoed, 1002/1007/1009 on
//! violations, UTF-8 failed at the first impossible byte) and must pass the
//! whole suite, which shows that a mutant fails because of its bug and not
//! because of the rest of its code.
//!
//! | module | what lives there |
//! |---|---|
//! | [`bug`](Bug) | the catalogue: names and chapters |
//! | `handshake` | request and 101 response |
//! | `frames` | reading client frames, writing server frames |
//! | `room` | the chat broadcast |
//! | `connection` | one client from handshake to close |

mod bug;
mod connection;
mod frames;
mod handshake;
mod room;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::task::JoinSet;

pub use bug::{Bug, UnknownBug};

use crate::shutdown::{ShutdownHandle, spawn_server};

/// Starts a mutant on `127.0.0.1` with a free port: with `bug`, or the
/// correct baseline for `None`.
///
/// `/echo` echoes, `/socket` is the chat (see [`crate::chat`]); other paths
/// get 404.
pub async fn start_mutant(bug: Option<Bug>) -> std::io::Result<(SocketAddr, ShutdownHandle)> {
    start_mutant_on(bug, SocketAddr::from(([127, 0, 0, 1], 0))).await
}

/// Starts a mutant on `addr` (port 0 picks a free port).
pub async fn start_mutant_on(
    bug: Option<Bug>,
    addr: SocketAddr,
) -> std::io::Result<(SocketAddr, ShutdownHandle)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    Ok((local, spawn_server(accept_loop(listener, bug))))
}

async fn accept_loop(listener: TcpListener, bug: Option<Bug>) {
    let room = Arc::new(room::Room::default());
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else {
                    // Out of file descriptors, usually: wait for some to close.
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                };
                let room = Arc::clone(&room);
                match bug {
                    // The bug: the client is served right here, and the loop
                    // accepts the next one only when this one has left.
                    Some(Bug::OneClientAtATime) => connection::serve(stream, bug, room).await,
                    _ => {
                        connections.spawn(connection::serve(stream, bug, room));
                    }
                }
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

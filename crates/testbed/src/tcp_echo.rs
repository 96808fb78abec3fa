//! A raw TCP echo server: no HTTP, no WebSocket, just bytes back.
//!
//! It is the physical limit of the benchmarks. On one machine the cost of a
//! small echo is mostly the kernel's loopback path and the scheduler; a
//! WebSocket server can approach this speed but never beat it, so results
//! are reported as a fraction of it.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

use crate::shutdown::{ShutdownHandle, accept_each, spawn_server};

/// Size of the per-connection buffer: one read, one write of at most this.
const BUFFER_SIZE: usize = 64 * 1024;

/// Starts the TCP echo server on `127.0.0.1` with a free port.
pub async fn start_tcp_echo() -> std::io::Result<(SocketAddr, ShutdownHandle)> {
    start_tcp_echo_on(SocketAddr::from(([127, 0, 0, 1], 0))).await
}

/// Starts the TCP echo server on `addr` (port 0 picks a free port).
pub async fn start_tcp_echo_on(addr: SocketAddr) -> std::io::Result<(SocketAddr, ShutdownHandle)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    Ok((local, spawn_server(accept_each(listener, echo))))
}

/// Writes back every byte read, until the client closes.
async fn echo(mut stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let mut buf = vec![0u8; BUFFER_SIZE];
    loop {
        let n = match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let Some(bytes) = buf.get(..n) else { return };
        if stream.write_all(bytes).await.is_err() {
            return;
        }
    }
}

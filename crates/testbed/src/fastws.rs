//! An echo server on [fastwebsockets](https://docs.rs/fastwebsockets), the
//! fastest WebSocket library of the Rust ecosystem: the benchmarks' measure
//! of what a WebSocket server can do.
//!
//! It is set up as the library documents it: hyper answers the HTTP upgrade
//! (the `upgrade` feature), a `FragmentCollector` reassembles messages, and
//! the library answers pings and close frames itself. Every path echoes.
//! It is a benchmark baseline, not a conformance target: only the peer and
//! the mutants are judged by the suite.

use std::net::SocketAddr;

use fastwebsockets::upgrade::{UpgradeFut, is_upgrade_request, upgrade};
use fastwebsockets::{FragmentCollector, OpCode, WebSocketError};
use http_body_util::Empty;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use crate::shutdown::{ShutdownHandle, accept_each, spawn_server};

/// Starts the fastwebsockets echo server on `127.0.0.1` with a free port.
pub async fn start_fastwebsockets_echo() -> std::io::Result<(SocketAddr, ShutdownHandle)> {
    start_fastwebsockets_echo_on(SocketAddr::from(([127, 0, 0, 1], 0))).await
}

/// Starts the fastwebsockets echo server on `addr` (port 0 picks a free port).
pub async fn start_fastwebsockets_echo_on(
    addr: SocketAddr,
) -> std::io::Result<(SocketAddr, ShutdownHandle)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    Ok((local, spawn_server(accept_each(listener, serve_connection))))
}

/// Serves HTTP until the request is upgraded, then echoes in the same task
/// (so that stopping the server stops this connection too).
async fn serve_connection(stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let (upgraded, mut upgrades) = mpsc::channel::<UpgradeFut>(1);
    let service = service_fn(move |request: Request<Incoming>| {
        let upgraded = upgraded.clone();
        async move { answer(request, &upgraded).await }
    });
    let http = http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    if http.await.is_err() {
        return;
    }
    if let Ok(websocket) = upgrades.try_recv() {
        let _ = echo(websocket).await;
    }
}

/// Answers one HTTP request: 101 for a WebSocket upgrade, 400 otherwise.
async fn answer(
    mut request: Request<Incoming>,
    upgraded: &mpsc::Sender<UpgradeFut>,
) -> Result<Response<Empty<Bytes>>, WebSocketError> {
    if !is_upgrade_request(&request) {
        let mut refusal = Response::new(Empty::new());
        *refusal.status_mut() = StatusCode::BAD_REQUEST;
        return Ok(refusal);
    }
    let (response, websocket) = upgrade(&mut request)?;
    // The channel holds one upgrade; a second upgrade on one connection
    // cannot happen (the connection is no longer HTTP after the first).
    let _ = upgraded.try_send(websocket);
    Ok(response)
}

async fn echo(websocket: UpgradeFut) -> Result<(), WebSocketError> {
    let mut ws = FragmentCollector::new(websocket.await?);
    loop {
        let frame = ws.read_frame().await?;
        match frame.opcode {
            OpCode::Text | OpCode::Binary => ws.write_frame(frame).await?,
            // fastwebsockets has already answered it.
            OpCode::Close => return Ok(()),
            _ => {}
        }
    }
}

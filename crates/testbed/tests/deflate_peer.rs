//! The compression chapter against an independent permessage-deflate
//! server: yawc (tungstenite, the peer of every other chapter, has no
//! deflate; yawc implements RFC 7692 with both window-bits and both
//! context-takeover parameters, and is served here through hyper's HTTP/1
//! upgrade, the way its own documentation serves it).
//!
//! Of the maintained Rust libraries with permessage-deflate, yawc 0.5 gets
//! the most of the chapter right (ratchet 1.2 broke seven of its rules and
//! soketto 0.8 inflates every message without the context the client kept).
//! Every scenario that yawc gets right passes; the ones it does not are
//! exactly the RFC rules it breaks, listed in [`YAWC_DEVIATIONS`] with the
//! rule: the chapter asks nothing of a server that RFC 7692 does not, and
//! what it catches in an implementation other than ours is real.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use http_body_util::Empty;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use tokio::net::{TcpListener, TcpStream};
use wsconform_runner::load::bundled;
use wsconform_runner::plan::{PlanSettings, Profile, Target};
use wsconform_runner::suite::run_suite;
use wsconform_runner::verdict::Outcome;
use yawc::{CompressionLevel, OpCode, Options, WebSocket, WebSocketError};

/// The largest message yawc accepts; the inflation bomb (17 MB) is above it.
const MAX_MESSAGE_SIZE: usize = 16 << 20;

/// What yawc 0.5 does against RFC 7692, scenario by scenario.
const YAWC_DEVIATIONS: [(&str, Outcome, &str); 5] = [
    (
        "compression.rsv1-on-continuation",
        Outcome::Fail,
        "RSV1 is allowed or not per connection, not per frame: accepted on a \
         continuation frame (7692 6.1: MUST fail)",
    ),
    (
        "compression.rsv1-on-ping",
        Outcome::Fail,
        "the same: RSV1 on a ping is not refused (7692 6.1: MUST fail)",
    ),
    (
        "compression.bad-offer-declined",
        Outcome::Fail,
        "server_max_window_bits=16 is accepted, not declined, and answered \
         with server_max_window_bits without a value (7692 5.1: MUST decline \
         an offer with an invalid value; 7.1.2.1: the answer carries a value)",
    ),
    (
        "compression.server-window-bits-8",
        Outcome::Fail,
        "server_max_window_bits=8 is answered with server_max_window_bits \
         without a value (7692 7.1.2.1: the answer carries a value of 8 to 15)",
    ),
    (
        "compression.second-offer-accepted",
        Outcome::Skip,
        "a header with two offers is not parsed as a list: every offer is \
         declined (allowed by 7692 5: declining is always allowed, so the \
         scenario skips)",
    ),
];

/// yawc's options: compression at zlib's fastest level, UTF-8 checked,
/// the message limit, and empty messages sent uncompressed (RFC 7692
/// allows any message uncompressed). yawc 0.5 never finishes compressing
/// an empty message once its context holds earlier ones: its sync flush
/// waits for `00 00 ff ff` that zlib does not write again, and the task
/// spins.
fn options() -> Options {
    Options::default()
        .with_max_payload_read(MAX_MESSAGE_SIZE)
        .with_compression_level(CompressionLevel::fast())
        .with_compression_threshold(1)
        .with_utf8()
}

/// Echoes every data message of one upgraded connection until it closes.
async fn echo(mut socket: WebSocket<yawc::HttpStream>) {
    while let Some(frame) = socket.next().await {
        let echoed = match frame.opcode() {
            OpCode::Text | OpCode::Binary => socket.send(frame).await,
            OpCode::Close => return,
            _ => Ok(()),
        };
        if echoed.is_err() {
            return;
        }
    }
}

/// Serves one TCP connection: the HTTP/1 upgrade, then [`echo`].
async fn serve(stream: TcpStream) {
    let service = hyper::service::service_fn(|mut request: Request<Incoming>| async move {
        let (response, upgrade) = WebSocket::upgrade_with_options(&mut request, options())?;
        tokio::spawn(async move {
            if let Ok(socket) = upgrade.await {
                echo(socket).await;
            }
        });
        Ok::<Response<Empty<Bytes>>, WebSocketError>(response)
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
        .with_upgrades()
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_independent_deflate_server_fails_only_where_it_breaks_rfc_7692() {
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let server = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream));
        }
    });
    let scenarios: Vec<_> = bundled()
        .expect("the bundled suite loads")
        .into_iter()
        .filter(|s| s.chapter == "12-compression")
        .collect();
    assert!(scenarios.len() >= 10, "{} scenarios", scenarios.len());
    let settings = PlanSettings {
        target: Target {
            host: addr.ip().to_string(),
            port: addr.port(),
            path: "/echo".to_owned(),
        },
        profile: Profile::Echo,
        timeout: Duration::from_secs(2),
        run_id: 1,
    };
    let report = tokio::time::timeout(
        Duration::from_secs(120),
        run_suite(&scenarios, &settings, 2, |_| {}),
    )
    .await
    .expect("the chapter finishes");
    server.abort();
    let mut unexpected = Vec::new();
    for result in &report.results {
        let expected = YAWC_DEVIATIONS
            .iter()
            .find(|(id, _, _)| *id == result.id)
            .map_or(Outcome::Pass, |(_, outcome, _)| *outcome);
        if result.outcome != expected {
            unexpected.push(format!(
                "{}: {:?}, expected {:?}: {}",
                result.id, result.outcome, expected, result.message
            ));
        }
    }
    assert!(unexpected.is_empty(), "{}", unexpected.join("\n"));
    for (id, _, _) in YAWC_DEVIATIONS {
        assert!(
            report.results.iter().any(|r| r.id == id),
            "{id} is not in the chapter"
        );
    }
}

//! The compression chapter against an independent permessage-deflate
//! server: ratchet (tungstenite, the peer of every other chapter, has no
//! deflate). Every scenario must pass: none is skipped (the server accepts
//! every valid offer), and none fails, so the chapter asks nothing that a
//! careful implementation of RFC 7692 other than ours does not do.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::BytesMut;
use ratchet_rs::deflate::{DeflateConfig, DeflateExtProvider};
use ratchet_rs::{Message, PayloadType, SubprotocolRegistry, WebSocketConfig};
use tokio::net::{TcpListener, TcpStream};
use wsconform_runner::load::bundled;
use wsconform_runner::plan::{PlanSettings, Profile, Target};
use wsconform_runner::suite::run_suite;
use wsconform_runner::verdict::Outcome;

/// ratchet's largest message; the inflation bomb (17 MB) is above it.
const MAX_MESSAGE_SIZE: usize = 16 << 20;

/// Echoes every message of one connection, compressed as negotiated.
async fn echo(stream: TcpStream) -> Result<(), ratchet_rs::Error> {
    let config = WebSocketConfig {
        max_message_size: MAX_MESSAGE_SIZE,
    };
    let provider = DeflateExtProvider::with_config(DeflateConfig {
        // Keep the context unless asked not to, so context takeover is
        // exercised; accept whatever the client asks.
        request_server_no_context_takeover: false,
        request_client_no_context_takeover: false,
        accept_no_context_takeover: true,
        ..DeflateConfig::default()
    });
    let mut socket =
        ratchet_rs::accept_with(stream, config, provider, SubprotocolRegistry::default())
            .await?
            .upgrade()
            .await?
            .websocket;
    let mut buf = BytesMut::new();
    loop {
        match socket.read(&mut buf).await? {
            Message::Text => socket.write(&mut buf, PayloadType::Text).await?,
            Message::Binary => socket.write(&mut buf, PayloadType::Binary).await?,
            Message::Ping(_) | Message::Pong(_) => {}
            Message::Close(_) => return Ok(()),
        }
        buf.clear();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_independent_deflate_server_passes_the_compression_chapter() {
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let server = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(echo(stream));
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
    let not_passed: Vec<String> = report
        .results
        .iter()
        .filter(|r| r.outcome != Outcome::Pass)
        .map(|r| format!("{} {:?}: {}", r.id, r.outcome, r.message))
        .collect();
    assert!(not_passed.is_empty(), "{}", not_passed.join("\n"));
}

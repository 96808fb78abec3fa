//! The compression chapter against an independent permessage-deflate
//! server: ratchet (tungstenite, the peer of every other chapter, has no
//! deflate; ratchet implements RFC 7692 with both window-bits and both
//! context-takeover parameters on a plain TCP stream).
//!
//! Every scenario that ratchet gets right passes, none is skipped (it
//! accepts every valid offer), and the ones it fails are exactly the RFC
//! rules ratchet 1.2 breaks, listed in [`RATCHET_DEVIATIONS`] with the rule:
//! the chapter asks nothing of a server that RFC 7692 does not, and what it
//! catches in an implementation other than ours is real.

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

/// What ratchet 1.2 does against RFC 7692, scenario by scenario.
const RATCHET_DEVIATIONS: [(&str, Outcome, &str); 7] = [
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
        "compression.fragmented",
        Outcome::Fail,
        "a ping between the fragments of a compressed message fails the \
         connection with 1002 (6455 5.4: control frames MAY be injected)",
    ),
    (
        "compression.inflation-bomb",
        Outcome::NonStrict,
        "max_message_size bounds the compressed size: a 17 MB message inflated \
         from a few kilobytes is echoed despite the 16 MiB limit",
    ),
    (
        "compression.second-offer-accepted",
        Outcome::Fail,
        "an offer with an unknown parameter ends the connection instead of \
         being declined (7692 5.1: MUST decline that offer)",
    ),
    (
        "compression.server-window-bits",
        Outcome::Fail,
        "server_max_window_bits=9 answered with 15 (7692 7.1.2.1: no larger \
         than offered)",
    ),
    (
        "compression.server-window-bits-8",
        Outcome::Fail,
        "server_max_window_bits=8 answered with 15 (7692 7.1.2.1)",
    ),
];

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
async fn an_independent_deflate_server_fails_only_where_it_breaks_rfc_7692() {
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
    let mut unexpected = Vec::new();
    for result in &report.results {
        let expected = RATCHET_DEVIATIONS
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
    for (id, _, _) in RATCHET_DEVIATIONS {
        assert!(
            report.results.iter().any(|r| r.id == id),
            "{id} is not in the chapter"
        );
    }
}

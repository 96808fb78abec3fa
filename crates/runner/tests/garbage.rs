//! Seeded garbage from a server, before and after the handshake: every run
//! ends with a verdict, and the runner never panics.

mod support;

use std::time::Duration;

use support::{read_handshake, settings};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use wsconform_runner::exec::run_scenario;
use wsconform_runner::load::parse_scenario;
use wsconform_runner::payload::SplitMix;
use wsconform_runner::plan::Profile;
use wsconform_runner::verdict::Outcome;

/// Serves one connection: optionally a valid 101, then `garbage`, then closes.
async fn serve_once(garbage: Vec<u8>, accept_first: bool) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let Ok((mut stream, _)) = listener.accept().await else {
            return;
        };
        let Some((response, _)) = read_handshake(&mut stream).await else {
            return;
        };
        if accept_first {
            let _ = stream.write_all(&response).await;
        }
        let _ = stream.write_all(&garbage).await;
        // Read what the runner sends until it hangs up.
        let mut buf = vec![0u8; 4096];
        while matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {}
    });
    addr
}

#[tokio::test]
async fn garbage_never_panics_and_always_ends() {
    let scenario = parse_scenario(
        "scenarios/02-frames/garbage.yaml",
        "id: garbage\ntitle: t\nsteps:\n  - handshake\n  - send: { text: Hello, fragments: [2] }\n  - expect: { echo: last }\n  - send: { ping: x }\n  - expect: { pong: last }\n  - send: { close: 1000 }\n  - expect: { close: [1000] }\n",
    )
    .unwrap();
    let mut rng = SplitMix::new(42);
    for round in 0..60 {
        let len = (rng.next_u64() % 300) as usize;
        let mut garbage: Vec<u8> = (0..len).map(|_| (rng.next_u64() >> 56) as u8).collect();
        // Half the rounds start with a plausible frame header to reach deeper code.
        if round % 2 == 0 && garbage.len() > 2 {
            garbage[0] = 0x80 | (garbage[0] & 0x0f);
            garbage[1] &= 0x7f;
        }
        let accept_first = round % 3 != 0;
        let addr = serve_once(garbage, accept_first).await;
        let settings = settings(addr, "/", Profile::Echo, Duration::from_millis(300), 0);
        let result =
            tokio::time::timeout(Duration::from_secs(30), run_scenario(&scenario, &settings))
                .await
                .expect("the run did not end");
        assert_ne!(
            result.outcome,
            Outcome::Pass,
            "round {round} passed on garbage"
        );
        assert!(!result.message.is_empty(), "round {round}: no message");
    }
}

//! Stopping a server stops all of it: the listener and every connection.

mod common;

use common::{Raw, within};
use wsconform_testbed::{Bug, Server, start};

#[tokio::test]
async fn shutdown_closes_the_listener_and_open_connections() {
    for server in [
        Server::Peer,
        Server::Mutant(None),
        Server::Mutant(Some(Bug::OneClientAtATime)),
        Server::FastwebsocketsEcho,
        Server::TcpEcho,
    ] {
        let (addr, handle) = start(server, "127.0.0.1:0".parse().expect("an address"))
            .await
            .expect("starts");
        let mut open = match server {
            Server::TcpEcho => Raw::connect(addr).await,
            _ => Raw::open(addr, "/echo").await,
        };
        within("the shutdown", handle.shutdown()).await;
        assert!(
            !open.read_more().await,
            "{server}: an open connection ends with the server"
        );
        assert!(
            tokio::net::TcpStream::connect(addr).await.is_err(),
            "{server}: nothing listens any more"
        );
    }
}

#[tokio::test]
async fn dropping_the_handle_stops_the_server() {
    let (addr, handle) = wsconform_testbed::start_peer().await.expect("starts");
    drop(handle);
    // The task notices on its next poll; give it a bounded number of tries.
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the peer still accepts connections 1 s after its handle was dropped");
}

//! The contract of a client under test, as Autobahn|Testsuite's fuzzing
//! server expects it: echo every message received, and close when the
//! server closes. Its optional part (`rfc/profiles.txt`, `client-close`):
//! the text message [`CLOSE_REQUEST`] is not echoed but starts the closing
//! handshake with 1000.

use crate::connection::{Client, ClientError, Received};
use wsconform_wire::{CloseFrame, Message};

/// The text message that asks a client under test to start the closing
/// handshake (the optional part of its contract).
pub const CLOSE_REQUEST: &str = "wsconform:close";

/// How an echo session ended well: the server's close frame (if it had a
/// payload), how many messages were echoed, and who started the closing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EchoEnd {
    /// Messages echoed.
    pub echoed: u64,
    /// The server's close code and reason.
    pub close: Option<CloseFrame>,
    /// Whether we started the closing handshake (asked by [`CLOSE_REQUEST`]).
    pub closed_by_us: bool,
}

// ANCHOR: echo
/// Echoes every data message with its type and payload until the server
/// closes, or starts the closing handshake when asked to. A protocol error
/// ends it with the error (the connection already failed with the right
/// close code).
pub async fn echo(client: &mut Client) -> Result<EchoEnd, ClientError> {
    let mut echoed = 0;
    loop {
        match client.recv().await? {
            Received::Message(Message::Text(text)) if text == CLOSE_REQUEST => {
                // What the server sends before its close is read, not echoed.
                let closing = client.close(1000, "closing as asked").await?;
                return Ok(EchoEnd {
                    echoed,
                    close: closing.close,
                    closed_by_us: true,
                });
            }
            Received::Message(message) => {
                client.send(&message).await?;
                echoed += 1;
            }
            Received::Closed(close) => {
                return Ok(EchoEnd {
                    echoed,
                    close,
                    closed_by_us: false,
                });
            }
        }
    }
}
// ANCHOR_END: echo

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::Options;

    /// The reference server's echo endpoint, and this client echoing it:
    /// the client sends one message, the server echoes it back, the client
    /// echoes that again … until the client closes after a few rounds.
    #[tokio::test]
    async fn the_reference_server_and_client_understand_each_other() {
        let server = wsconform_server::spawn(wsconform_server::Config {
            bind_addr: "127.0.0.1:0".parse().unwrap(),
            ..Default::default()
        })
        .await
        .unwrap();
        let url = format!("ws://{}/echo", server.local_addr());
        let mut client = Client::connect(&url, Options::default()).await.unwrap();
        let long = "é".repeat(40_000);
        for text in ["hello", long.as_str()] {
            client.send(&Message::Text(text.into())).await.unwrap();
            assert_eq!(
                client.recv().await.unwrap(),
                Received::Message(Message::Text(text.into()))
            );
        }
        client.ping(b"p").await.unwrap();
        let close = client.close(1000, "done").await.unwrap();
        assert_eq!(close.close.map(|c| c.code), Some(1000));
        assert!(close.messages.is_empty());
        server.shutdown().await;
    }
}

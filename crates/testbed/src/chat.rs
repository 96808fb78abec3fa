//! The chat protocol of `/socket`, as every testbed server speaks it.
//!
//! A client sends `{"username": ..., "message": ...}` as a text message; the
//! server broadcasts `{"username":...,"message":...}` (exactly those two
//! fields, both strings) to every open client, the sender included. Anything
//! else on `/socket` — a binary message, text that is not such an object —
//! closes the sender's connection with 1003 "unsupported data", as the
//! reference server does, so that the suite sees the same application
//! behaviour from every target and only the protocol bugs differ.

use serde::{Deserialize, Serialize};

/// Close code for a message that is not a chat message (RFC 6455 §7.4.1).
pub const NOT_CHAT_CODE: u16 = 1003;

/// Close reason sent with [`NOT_CHAT_CODE`]: it says what the server expects.
pub const NOT_CHAT_REASON: &str = r#"expected JSON {"username": string, "message": string}"#;

/// One chat message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Who wrote it, as the sender claims.
    pub username: String,
    /// What they wrote.
    pub message: String,
}

/// Reads a chat message from the payload of a text message and returns the
/// JSON text to broadcast, or `None` if the payload is not a chat message.
///
/// Unknown fields are accepted and dropped: the broadcast carries exactly
/// `username` and `message`.
///
/// ```
/// use wsconform_testbed::chat::broadcast_text;
/// assert_eq!(
///     broadcast_text(br#"{"message":"hi","username":"ada","t":1}"#).as_deref(),
///     Some(r#"{"username":"ada","message":"hi"}"#)
/// );
/// assert_eq!(broadcast_text(b"hello"), None);
/// ```
pub fn broadcast_text(payload: &[u8]) -> Option<String> {
    let message: ChatMessage = serde_json::from_slice(payload).ok()?;
    serde_json::to_string(&message).ok()
}

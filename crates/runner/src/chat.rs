//! The chat profile's messages: what a broadcast must carry, and which
//! messages belong to someone else.
//!
//! A chat server broadcasts every message to every client, so a scenario's
//! client also sees messages of scenarios running in parallel on the same
//! server. Each message the runner sends carries a unique nonce; a message
//! without one of this scenario's nonces is unrelated and skipped.

use crate::decode::show_payload;

/// A chat message the runner sent: what its broadcast must carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    /// The unique marker inside `message`.
    pub nonce: String,
    /// The `username` field.
    pub username: String,
    /// The `message` field.
    pub message: String,
}

/// Whether a chat broadcast carries `m` unchanged; else what differs.
pub fn matches(bytes: &[u8], m: &ChatMessage) -> Result<(), String> {
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| format!("a message carrying {} that is not JSON ({e})", m.nonce))?;
    let username = value.get("username").and_then(|v| v.as_str());
    let message = value.get("message").and_then(|v| v.as_str());
    if username != Some(m.username.as_str()) {
        return Err(format!(
            "a broadcast whose username is {} instead of {:?}",
            username
                .map(|u| format!("{u:?}"))
                .unwrap_or_else(|| "missing".into()),
            m.username
        ));
    }
    if message != Some(m.message.as_str()) {
        return Err(format!(
            "a broadcast carrying {} whose message field differs from the one sent: {}",
            m.nonce,
            message
                .map(|t| show_payload(t.as_bytes(), 60))
                .unwrap_or_else(|| "missing".into())
        ));
    }
    Ok(())
}

/// Whether a received message is someone else's: it lacks `wanted` when one
/// nonce is waited for, else every nonce the scenario sent.
pub fn is_unrelated(bytes: &[u8], wanted: Option<&str>, sent: &[String]) -> bool {
    let text = String::from_utf8_lossy(bytes);
    match wanted {
        Some(nonce) => !text.contains(nonce),
        None => !sent.iter().any(|n| text.contains(n.as_str())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent() -> ChatMessage {
        ChatMessage {
            nonce: "n1".into(),
            username: "alice".into(),
            message: "n1 hi".into(),
        }
    }

    #[test]
    fn a_broadcast_must_carry_the_fields_unchanged() {
        let good = br#"{"username":"alice","message":"n1 hi"}"#;
        assert_eq!(matches(good, &sent()), Ok(()));
        let renamed = br#"{"username":"bob","message":"n1 hi"}"#;
        assert!(matches(renamed, &sent()).unwrap_err().contains("\"bob\""));
        let altered = br#"{"username":"alice","message":"n1 ho"}"#;
        assert!(matches(altered, &sent()).unwrap_err().contains("differs"));
        assert!(matches(b"n1", &sent()).unwrap_err().contains("not JSON"));
    }

    #[test]
    fn messages_without_the_nonces_are_unrelated() {
        let nonces = ["n1".to_string(), "n2".to_string()];
        assert!(!is_unrelated(b"x n2 y", None, &nonces));
        assert!(is_unrelated(b"x n3 y", None, &nonces));
        assert!(is_unrelated(b"x n2 y", Some("n1"), &nonces));
        assert!(!is_unrelated(b"x n1 y", Some("n1"), &nonces));
    }
}

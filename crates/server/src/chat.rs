//! The chat application protocol: what travels inside the WebSocket messages
//! on `/socket`.
//!
//! The lecture's browser code sends
//! `JSON.stringify({'username': username, 'message': message})` as a text
//! message, and expects every client in the room, the sender included, to
//! receive it. That is the whole protocol.
//!
//! # Messages that are not chat messages
//!
//! The server is strict here too. A message on `/socket` that is not a chat
//! message **closes the sender's connection with code 1003** ("unsupported
//! data", RFC 6455 §7.4.1) and a reason that states the expected shape. That
//! covers:
//!
//! - a binary message (the chat is a text protocol);
//! - a text message that is not JSON, or not a JSON object;
//! - an object whose `username` or `message` is missing or not a string.
//!
//! Nothing is broadcast for such a message, so the other clients never see
//! it. Why close instead of answering with an error message? Because the only
//! client of `/socket` the server ships, the chat page, never sends anything
//! else: a peer that does is not a chat client, and a close code is the one
//! answer every WebSocket client understands. Extra JSON fields are allowed
//! and ignored; the broadcast carries exactly `username` and `message`.

use serde::{Deserialize, Serialize};

/// One chat message, as the browser sends it and as the server broadcasts it.
///
/// ```
/// use wsconform_server::chat::ChatMessage;
///
/// let msg = ChatMessage::parse(r#"{"username":"ada","message":"hi","extra":1}"#).unwrap();
/// assert_eq!(msg.username, "ada");
/// assert_eq!(msg.to_json(), r#"{"username":"ada","message":"hi"}"#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Who wrote the message, as the sender claims (there are no accounts).
    pub username: String,
    /// The text of the message. It is data, never markup: the chat page
    /// renders it with `textContent`.
    pub message: String,
}

/// Why a WebSocket message is not a chat message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChatError {
    /// The chat carries text; a binary message has no meaning in it.
    #[error(
        r#"chat accepts text messages only: send JSON {{"username": string, "message": string}}"#
    )]
    Binary,
    /// The text is not a JSON object with string `username` and `message`.
    #[error(r#"not a chat message: expected JSON {{"username": string, "message": string}}"#)]
    NotChatJson,
}

impl ChatMessage {
    /// Reads a chat message from the text of a WebSocket message.
    ///
    /// Unknown fields are ignored; `username` and `message` must both be
    /// present and be strings.
    pub fn parse(text: &str) -> Result<ChatMessage, ChatError> {
        serde_json::from_str(text).map_err(|_| ChatError::NotChatJson)
    }

    /// The JSON text broadcast to the room: exactly the two fields.
    pub fn to_json(&self) -> String {
        // Serializing a struct of two `String`s into JSON cannot fail: there
        // are no maps with non-string keys and no failing `Serialize` impls.
        // Fall back to an empty object rather than panic all the same.
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_lecture_shape_and_ignores_extra_fields() {
        let msg = ChatMessage::parse(r#"{"message":"<b>hi</b>","username":"ada","t":3}"#).unwrap();
        assert_eq!(
            msg,
            ChatMessage {
                username: "ada".into(),
                message: "<b>hi</b>".into()
            }
        );
        let round = ChatMessage::parse(&msg.to_json()).unwrap();
        assert_eq!(round, msg);
    }

    #[test]
    fn rejects_everything_else() {
        for text in [
            "",
            "hello",
            "[]",
            "null",
            r#""a string""#,
            r#"{"username":"ada"}"#,
            r#"{"message":"hi"}"#,
            r#"{"username":1,"message":"hi"}"#,
            r#"{"username":"ada","message":null}"#,
            r#"{"username":"ada","message":"hi"} trailing"#,
        ] {
            assert_eq!(
                ChatMessage::parse(text),
                Err(ChatError::NotChatJson),
                "{text:?} must be rejected"
            );
        }
    }
}

//! A `flood` step's plan: every client's handshake and every message it
//! sends, each carrying a unique nonce (chat) or its own text (echo),
//! decided before a byte is sent. [`crate::flood`] plays it.

use std::collections::HashMap;
use std::time::Duration;

use wsconform_wire::{OpCode, encode_frame, generate_key};

use super::{ChatMessage, PlanSettings, Profile, SentMessage, handshake_request};
use crate::payload::stable_hash;
use crate::scenario::{
    DataKind, FloodSpec, HandshakeSpec, MAX_FLOOD_CLIENTS, MAX_FLOOD_DELIVERIES,
};

/// Everything one `flood` step sends and expects, decided by the plan.
#[derive(Debug, Clone, PartialEq)]
pub struct FloodPlan {
    /// One entry per client, in name order.
    pub clients: Vec<FloodClient>,
    /// Chat (everyone receives everything) or echo (each its own).
    pub profile: Profile,
}

/// One client of a flood.
#[derive(Debug, Clone, PartialEq)]
pub struct FloodClient {
    /// `flood-1`, `flood-2`, …
    pub name: String,
    /// The opening handshake request.
    pub request: Vec<u8>,
    /// The key in it, to check the 101.
    pub key: String,
    /// The messages, in sending order.
    pub messages: Vec<SentMessage>,
    /// Each message as one masked frame, in the same order.
    pub frames: Vec<Vec<u8>>,
}

impl FloodPlan {
    /// How many messages each client must receive.
    pub fn expected_per_client(&self) -> usize {
        let per_sender = self.clients.first().map_or(0, |c| c.messages.len());
        match self.profile {
            Profile::Chat => per_sender * self.clients.len(),
            Profile::Echo => per_sender,
        }
    }

    /// Which sender and which message each nonce belongs to (chat).
    pub fn nonce_index(&self) -> HashMap<String, (usize, usize)> {
        let mut index = HashMap::new();
        for (sender, client) in self.clients.iter().enumerate() {
            for (number, message) in client.messages.iter().enumerate() {
                if let Some(chat) = &message.chat {
                    index.insert(chat.nonce.clone(), (sender, number));
                }
            }
        }
        index
    }

    /// A generous bound on the whole step, only ever reached by a server that
    /// keeps trickling bytes: twice the step timeout plus 2 ms per delivery.
    pub fn hang_guard(&self, step_timeout: Duration) -> Duration {
        let deliveries = (self.expected_per_client() * self.clients.len()) as u32;
        step_timeout * 2 + Duration::from_millis(2) * deliveries
    }
}

/// Plans a flood: names, handshakes, and every message with its frame.
///
/// `prefix` names the clients (`flood` unless the step says `as:`).
pub fn plan_flood(
    scenario_id: &str,
    prefix: &str,
    spec: &FloodSpec,
    settings: &PlanSettings,
) -> Result<FloodPlan, String> {
    if spec.clients == 0 || spec.messages == 0 {
        return Err("a flood needs at least one client and one message".into());
    }
    if spec.clients > MAX_FLOOD_CLIENTS {
        return Err(format!(
            "a flood opens at most {MAX_FLOOD_CLIENTS} clients, not {}",
            spec.clients
        ));
    }
    let receivers = match settings.profile {
        Profile::Chat => spec.clients,
        Profile::Echo => 1,
    };
    let deliveries = spec
        .clients
        .saturating_mul(spec.messages)
        .saturating_mul(receivers);
    if deliveries > MAX_FLOOD_DELIVERIES {
        return Err(format!(
            "{} clients × {} messages make {deliveries} deliveries; a flood allows at most {MAX_FLOOD_DELIVERIES}",
            spec.clients, spec.messages
        ));
    }
    let mut clients = Vec::with_capacity(spec.clients);
    for index in 1..=spec.clients {
        let name = format!("{prefix}-{index}");
        let seed = stable_hash(&format!("{scenario_id}/{name}"));
        let key = generate_key(seed);
        let request = handshake_request(&HandshakeSpec::default(), &settings.target, &key);
        let scope = stable_hash(&format!("{}/{scenario_id}/{name}", settings.run_id));
        let mut messages = Vec::with_capacity(spec.messages);
        let mut frames = Vec::with_capacity(spec.messages);
        for number in 1..=spec.messages {
            let nonce = format!("n{:08x}f{number:05}", scope as u32);
            let bytes = message_text(settings.profile, &name, &nonce, number, spec.size);
            let chat = match settings.profile {
                Profile::Chat => {
                    let value: serde_json::Value =
                        serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
                    Some(ChatMessage {
                        nonce,
                        username: name.clone(),
                        message: value
                            .get("message")
                            .and_then(|m| m.as_str())
                            .unwrap_or_default()
                            .to_string(),
                    })
                }
                Profile::Echo => None,
            };
            let mask = (seed ^ number as u64).to_be_bytes();
            let mut frame = Vec::with_capacity(bytes.len() + 14);
            encode_frame(
                &mut frame,
                true,
                OpCode::Text,
                Some([mask[4], mask[5], mask[6], mask[7]]),
                &bytes,
            );
            frames.push(frame);
            messages.push(SentMessage {
                kind: DataKind::Text,
                bytes,
                chat,
            });
        }
        clients.push(FloodClient {
            name,
            request,
            key,
            messages,
            frames,
        });
    }
    Ok(FloodPlan {
        clients,
        profile: settings.profile,
    })
}

/// The text of message `number` of client `name`, padded with `*` to `size`
/// bytes when it is shorter. In chat it is the JSON chat message.
fn message_text(profile: Profile, name: &str, nonce: &str, number: usize, size: usize) -> Vec<u8> {
    let body = format!("{nonce} message {number} from {name}");
    match profile {
        Profile::Echo => {
            let mut text = body.into_bytes();
            text.resize(text.len().max(size), b'*');
            text
        }
        Profile::Chat => {
            let build = |message: &str| {
                format!(
                    "{{\"username\":{},\"message\":{}}}",
                    serde_json::Value::from(name),
                    serde_json::Value::from(message)
                )
            };
            let short = build(&body);
            let padding = size.saturating_sub(short.len());
            build(&format!("{body}{}", "*".repeat(padding))).into_bytes()
        }
    }
}

/// A flood of `clients` × `messages` messages of 100 bytes, for tests.
#[cfg(test)]
pub(crate) fn sample(
    profile: Profile,
    clients: usize,
    messages: usize,
) -> Result<FloodPlan, String> {
    let spec = FloodSpec {
        clients,
        messages,
        size: 100,
    };
    let settings = super::test_settings("ws://127.0.0.1:9/socket", profile);
    plan_flood("s", "flood", &spec, &settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_unique_chat_messages_of_the_asked_size() {
        let plan = sample(Profile::Chat, 3, 4).unwrap();
        assert_eq!(plan.clients.len(), 3);
        assert_eq!(plan.expected_per_client(), 12);
        let mut nonces = std::collections::HashSet::new();
        for client in &plan.clients {
            assert_eq!(client.frames.len(), 4);
            for m in &client.messages {
                assert_eq!(m.bytes.len(), 100, "{}", String::from_utf8_lossy(&m.bytes));
                let chat = m.chat.as_ref().unwrap();
                assert_eq!(chat.username, client.name);
                assert!(nonces.insert(chat.nonce.clone()));
            }
        }
    }

    #[test]
    fn echo_clients_expect_only_their_own_messages() {
        let plan = sample(Profile::Echo, 5, 7).unwrap();
        assert_eq!(plan.expected_per_client(), 7);
        assert!(plan.clients[0].messages[0].chat.is_none());
        assert_ne!(
            plan.clients[0].messages[0].bytes,
            plan.clients[1].messages[0].bytes
        );
    }

    #[test]
    fn refuses_floods_beyond_the_limits() {
        let chat = Profile::Chat;
        assert!(sample(chat, 0, 1).is_err());
        assert!(sample(chat, MAX_FLOOD_CLIENTS + 1, 1).is_err());
        assert!(sample(chat, 100, 100).is_err());
        assert!(sample(chat, 20, 50).is_ok());
    }
}

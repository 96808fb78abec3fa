//! The chat room of `/socket`. Home of [`Bug::BroadcastToSenderOnly`].

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::mpsc::UnboundedSender;

use super::Bug;

/// Every open `/socket` connection's outgoing queue of encoded frames.
///
/// A broadcast pushes into every queue while holding the lock, so two
/// broadcasts never interleave: each client sees each sender's messages in
/// the order they were sent.
#[derive(Debug, Default)]
pub(crate) struct Room {
    members: Mutex<HashMap<u64, UnboundedSender<Vec<u8>>>>,
    next_id: Mutex<u64>,
}

impl Room {
    /// Adds a connection's queue; returns its id in the room.
    pub(crate) fn join(&self, queue: UnboundedSender<Vec<u8>>) -> u64 {
        let id = match self.next_id.lock() {
            Ok(mut next) => {
                *next += 1;
                *next
            }
            Err(_) => 0,
        };
        if let Ok(mut members) = self.members.lock() {
            members.insert(id, queue);
        }
        id
    }

    /// Removes a connection: after this, no broadcast reaches its queue.
    pub(crate) fn leave(&self, id: u64) {
        if let Ok(mut members) = self.members.lock() {
            members.remove(&id);
        }
    }

    /// Sends an encoded frame from member `from` to the room.
    pub(crate) fn broadcast(&self, from: u64, frame: Vec<u8>, bug: Option<Bug>) {
        let Ok(members) = self.members.lock() else {
            return;
        };
        match bug {
            // The bug: the message goes back where it came from, and only there.
            Some(Bug::BroadcastToSenderOnly) => {
                if let Some(queue) = members.get(&from) {
                    let _ = queue.send(frame);
                }
            }
            _ => {
                for queue in members.values() {
                    // A closed queue belongs to a client that is leaving.
                    let _ = queue.send(frame.clone());
                }
            }
        }
    }
}

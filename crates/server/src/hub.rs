//! The chat room: a broadcast hub with a bounded queue per client.
//!
//! Every chat connection *subscribes* to the hub and gets its own queue of
//! outgoing messages. Broadcasting a message puts one shared copy
//! (an `Arc<str>`) into every queue; each connection task then writes its
//! queue to its own socket at whatever speed its client reads.
//!
//! The queues are **bounded** and the hub **never waits** on one. If a
//! client's queue is full, that client is not keeping up with the room:
//! waiting for it would stall every other client, and growing its queue
//! would let one idle browser tab eat the server's memory. So the hub
//! *evicts* it: the client is removed from the room and its connection is
//! told to close with code 1008 (policy violation). The other clients never
//! notice.
//!
//! Ordering comes for free from one lock: a broadcast puts its message into
//! all queues while holding the hub's mutex, so two broadcasts can never
//! interleave, and every client sees the room's messages in the same order,
//! each exactly once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::{mpsc, oneshot};

/// The shared chat room. Lives as long as the server; connections hold an
/// `Arc` to it.
#[derive(Debug)]
pub(crate) struct Hub {
    clients: Mutex<HashMap<u64, Member>>,
    next_id: AtomicU64,
    queue_capacity: usize,
}

/// The hub's handle on one subscribed client.
#[derive(Debug)]
struct Member {
    queue: mpsc::Sender<Arc<str>>,
    /// Fired (once) when the hub evicts this client.
    evict: oneshot::Sender<()>,
}

/// A connection's membership in the room. Dropping it leaves the room.
#[derive(Debug)]
pub(crate) struct Subscription {
    hub: Arc<Hub>,
    id: u64,
    /// Messages broadcast to the room, in room order, for this client.
    pub(crate) queue: mpsc::Receiver<Arc<str>>,
    /// Completes when the hub has evicted this client for being too slow.
    pub(crate) evicted: oneshot::Receiver<()>,
}

/// What a broadcast did, for logs and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Delivery {
    /// Clients whose queue accepted the message.
    pub(crate) queued: usize,
    /// Clients evicted because their queue was full.
    pub(crate) evicted: usize,
}

impl Hub {
    /// An empty room in which every client may have `queue_capacity`
    /// messages waiting (at least 1).
    pub(crate) fn new(queue_capacity: usize) -> Hub {
        Hub {
            clients: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            queue_capacity: queue_capacity.max(1),
        }
    }

    /// Joins the room. The returned subscription receives every message
    /// broadcast from now on, until it is dropped or evicted.
    pub(crate) fn subscribe(self: &Arc<Self>) -> Subscription {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (queue_tx, queue_rx) = mpsc::channel(self.queue_capacity);
        let (evict_tx, evict_rx) = oneshot::channel();
        self.lock().insert(
            id,
            Member {
                queue: queue_tx,
                evict: evict_tx,
            },
        );
        Subscription {
            hub: Arc::clone(self),
            id,
            queue: queue_rx,
            evicted: evict_rx,
        }
    }

    // ANCHOR: broadcast
    /// Puts `text` into the queue of every client in the room, without ever
    /// waiting. A client whose queue is full is evicted.
    pub(crate) fn broadcast(&self, text: Arc<str>) -> Delivery {
        let mut delivery = Delivery::default();
        let mut clients = self.lock();
        let mut too_slow = Vec::new();
        let mut gone = Vec::new();
        for (&id, member) in clients.iter() {
            match member.queue.try_send(Arc::clone(&text)) {
                Ok(()) => delivery.queued += 1,
                Err(mpsc::error::TrySendError::Full(_)) => too_slow.push(id),
                // The connection dropped its queue and is about to leave.
                Err(mpsc::error::TrySendError::Closed(_)) => gone.push(id),
            }
        }
        for id in gone {
            clients.remove(&id);
        }
        for id in too_slow {
            if let Some(member) = clients.remove(&id) {
                tracing::warn!(
                    client = id,
                    queue_capacity = self.queue_capacity,
                    "chat client evicted: its outgoing queue is full because it reads too slowly"
                );
                delivery.evicted += 1;
                // The connection may already be gone; nothing to do then.
                let _ = member.evict.send(());
            }
        }
        delivery
    }
    // ANCHOR_END: broadcast

    /// How many clients are in the room.
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    fn unsubscribe(&self, id: u64) {
        self.lock().remove(&id);
    }

    /// Locks the member table. A panic while holding the lock cannot leave
    /// the map half-updated (each operation is one map call), so a poisoned
    /// lock is safe to keep using.
    fn lock(&self) -> MutexGuard<'_, HashMap<u64, Member>> {
        self.clients.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.hub.unsubscribe(self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(sub: &mut Subscription) -> Vec<String> {
        let mut out = Vec::new();
        while let Ok(text) = sub.queue.try_recv() {
            out.push(text.to_string());
        }
        out
    }

    #[test]
    fn every_member_gets_every_message_once_in_order() {
        let hub = Arc::new(Hub::new(16));
        let mut a = hub.subscribe();
        let mut b = hub.subscribe();
        for i in 0..5 {
            let delivery = hub.broadcast(Arc::from(format!("m{i}")));
            assert_eq!(
                delivery,
                Delivery {
                    queued: 2,
                    evicted: 0
                }
            );
        }
        let expected: Vec<String> = (0..5).map(|i| format!("m{i}")).collect();
        assert_eq!(drain(&mut a), expected);
        assert_eq!(drain(&mut b), expected);
    }

    #[test]
    fn a_full_queue_evicts_only_that_member() {
        let hub = Arc::new(Hub::new(2));
        let mut slow = hub.subscribe();
        let mut fast = hub.subscribe();
        for i in 0..3 {
            hub.broadcast(Arc::from(format!("m{i}")));
            // The fast member keeps up.
            assert_eq!(drain(&mut fast), vec![format!("m{i}")]);
        }
        assert_eq!(hub.len(), 1, "the slow member must have been removed");
        assert_eq!(
            slow.evicted.try_recv(),
            Ok(()),
            "the slow member must be told"
        );
        // What was queued before the eviction is still readable, nothing more.
        assert_eq!(drain(&mut slow), vec!["m0".to_string(), "m1".to_string()]);

        let later = hub.broadcast(Arc::from("m3"));
        assert_eq!(
            later,
            Delivery {
                queued: 1,
                evicted: 0
            }
        );
        assert_eq!(drain(&mut fast), vec!["m3".to_string()]);
    }

    #[test]
    fn dropping_a_subscription_leaves_the_room() {
        let hub = Arc::new(Hub::new(4));
        let a = hub.subscribe();
        let _b = hub.subscribe();
        assert_eq!(hub.len(), 2);
        drop(a);
        assert_eq!(hub.len(), 1);
        assert_eq!(hub.broadcast(Arc::from("x")).queued, 1);
    }
}

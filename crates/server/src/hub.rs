//! The chat room: a broadcast hub with a queue per client bounded in bytes.
//!
//! Every chat connection *subscribes* to the hub and gets its own queue of
//! outgoing messages. Broadcasting a message puts one shared copy
//! (an `Arc<RoomMessage>`) into every queue; each connection task then
//! writes its queue to its own socket at whatever speed its client reads.
//!
//! The queues are **bounded in bytes** and the hub **never waits** on one.
//! A count of messages is no bound at all when one message may be 16 MiB,
//! so each queue counts the bytes it holds (plus a small overhead per
//! message). A queue that holds [`Config::chat_queue_bytes`] or more takes
//! no further message: its client is not keeping up with the room. Waiting
//! for it would stall every other client, and growing its queue would let
//! one idle browser tab eat the server's memory. So the hub *evicts* it:
//! the client is removed from the room and its connection is told to close
//! with code 1008 (policy violation). The other clients never notice. An
//! empty queue always takes one message, so a message larger than the
//! bound can still be delivered; a queue thus never holds more than the
//! bound plus one message.
//!
//! # Who pays: the slow reader, never the fast sender
//!
//! When a fast sender meets a slow reader, the **slow reader pays**: its
//! queue fills and it is evicted. The sender is never closed for sending
//! fast. Its own messages come back to it through its own queue, so a
//! sender that writes faster than it reads would look like a slow reader
//! of its own messages; instead, its connection stops *reading* from it
//! while its own queue holds half the bound or more
//! ([`Subscription::is_backed_up`]), and TCP flow control slows the sender
//! down to the pace at which it reads. A client that reads everything is
//! therefore never closed, however fast it sends; a client that does not
//! read is closed, however little it sends.
//!
//! Every message in a queue also holds its size of the server's memory
//! [budget](crate::budget) until the last queue lets go of it.
//!
//! Ordering comes for free from one lock: a broadcast puts its message into
//! all queues while holding the hub's mutex, so two broadcasts can never
//! interleave, and every client sees the room's messages in the same order,
//! each exactly once.
//!
//! [`Config::chat_queue_bytes`]: crate::Config::chat_queue_bytes

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::{mpsc, oneshot};

use crate::budget::{Budget, Held, OverBudget};

/// What a queued message costs beyond its text: the shared allocation's
/// counters and the queue's node. Counting it keeps a flood of empty-ish
/// messages bounded too.
const MESSAGE_OVERHEAD: usize = 64;

/// One message of the room, shared by every queue it is in. Its text's
/// bytes are held from the budget until the last queue drops it.
#[derive(Debug)]
pub(crate) struct RoomMessage {
    /// The JSON text sent to every client.
    pub(crate) text: String,
    _held: Held,
}

impl RoomMessage {
    /// What this message counts for in a client's queue.
    fn cost(&self) -> usize {
        self.text.len().saturating_add(MESSAGE_OVERHEAD)
    }
}

/// The shared chat room. Lives as long as the server; connections hold an
/// `Arc` to it.
#[derive(Debug)]
pub(crate) struct Hub {
    clients: Mutex<HashMap<u64, Member>>,
    next_id: AtomicU64,
    queue_bytes: usize,
    budget: Arc<Budget>,
}

/// The hub's handle on one subscribed client.
#[derive(Debug)]
struct Member {
    queue: mpsc::UnboundedSender<Arc<RoomMessage>>,
    /// Bytes waiting in the queue, shared with the subscription.
    queued: Arc<AtomicUsize>,
    /// Fired (once) when the hub evicts this client.
    evict: oneshot::Sender<()>,
}

/// A connection's membership in the room. Dropping it leaves the room.
#[derive(Debug)]
pub(crate) struct Subscription {
    hub: Arc<Hub>,
    id: u64,
    /// Messages broadcast to the room, in room order, for this client.
    queue: mpsc::UnboundedReceiver<Arc<RoomMessage>>,
    queued: Arc<AtomicUsize>,
    /// Completes when the hub has evicted this client for being too slow.
    evicted: oneshot::Receiver<()>,
}

/// What the chat room has for a client.
#[derive(Debug)]
pub(crate) enum RoomEvent {
    /// A message to send to the client.
    Message(Arc<RoomMessage>),
    /// The hub evicted the client for being too slow.
    Evicted,
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
    /// An empty room in which every client may have `queue_bytes` bytes of
    /// messages waiting, and every message is charged to `budget`.
    pub(crate) fn new(queue_bytes: usize, budget: Arc<Budget>) -> Hub {
        Hub {
            clients: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            queue_bytes: queue_bytes.max(1),
            budget,
        }
    }

    /// Joins the room. The returned subscription receives every message
    /// broadcast from now on, until it is dropped or evicted.
    pub(crate) fn subscribe(self: &Arc<Self>) -> Subscription {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (queue_tx, queue_rx) = mpsc::unbounded_channel();
        let (evict_tx, evict_rx) = oneshot::channel();
        let queued = Arc::new(AtomicUsize::new(0));
        self.lock().insert(
            id,
            Member {
                queue: queue_tx,
                queued: Arc::clone(&queued),
                evict: evict_tx,
            },
        );
        Subscription {
            hub: Arc::clone(self),
            id,
            queue: queue_rx,
            queued,
            evicted: evict_rx,
        }
    }

    // ANCHOR: broadcast
    /// Puts `text` into the queue of every client in the room, without ever
    /// waiting. A client whose queue is full is evicted. Refused, and
    /// queued nowhere, when the text does not fit in the memory budget.
    pub(crate) fn broadcast(&self, text: String) -> Result<Delivery, OverBudget> {
        let mut held = Held::nothing(&self.budget);
        held.set(text.len())?;
        let message = Arc::new(RoomMessage { text, _held: held });
        let cost = message.cost();
        let mut delivery = Delivery::default();
        let mut clients = self.lock();
        let mut too_slow = Vec::new();
        let mut gone = Vec::new();
        for (&id, member) in clients.iter() {
            // An empty queue always takes one message, however large.
            if member.queued.load(Ordering::Relaxed) >= self.queue_bytes {
                too_slow.push(id);
                continue;
            }
            member.queued.fetch_add(cost, Ordering::Relaxed);
            match member.queue.send(Arc::clone(&message)) {
                Ok(()) => delivery.queued += 1,
                // The connection dropped its queue and is about to leave.
                Err(_) => gone.push(id),
            }
        }
        for id in gone {
            clients.remove(&id);
        }
        for id in too_slow {
            if let Some(member) = clients.remove(&id) {
                // Logged here at debug level only: this runs in the
                // sender's task; the evicted connection logs its own close.
                tracing::debug!(
                    client = id,
                    queue_bytes = self.queue_bytes,
                    "chat client evicted: too slow, its outgoing queue is full because it reads \
                     less than the room sends"
                );
                delivery.evicted += 1;
                // The connection may already be gone; nothing to do then.
                let _ = member.evict.send(());
            }
        }
        Ok(delivery)
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

impl Subscription {
    /// Waits for the next message for this client, or its eviction.
    /// Cancel-safe: a message is taken only by the call that returns it.
    pub(crate) async fn next_event(&mut self) -> RoomEvent {
        tokio::select! {
            message = self.queue.recv() => match message {
                Some(message) => {
                    self.took(&message);
                    RoomEvent::Message(message)
                }
                // The hub let go of this client: evicted.
                None => RoomEvent::Evicted,
            },
            _ = &mut self.evicted => RoomEvent::Evicted,
        }
    }

    /// The next message if one is waiting.
    pub(crate) fn try_recv(&mut self) -> Option<Arc<RoomMessage>> {
        let message = self.queue.try_recv().ok()?;
        self.took(&message);
        Some(message)
    }

    fn took(&self, message: &RoomMessage) {
        let cost = message.cost();
        // Never below zero, even if the hub and this side race.
        let _ = self
            .queued
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |q| {
                Some(q.saturating_sub(cost))
            });
    }

    /// Bytes waiting in this client's queue.
    pub(crate) fn queued_bytes(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    /// Whether this client's queue holds half its bound or more: its
    /// connection then stops reading from the client until it has caught
    /// up, so that a fast sender is slowed down, not evicted, by its own
    /// messages.
    pub(crate) fn is_backed_up(&self) -> bool {
        self.queued_bytes() >= self.hub.queue_bytes / 2
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

    fn hub(queue_bytes: usize) -> Arc<Hub> {
        Arc::new(Hub::new(queue_bytes, Budget::new(1 << 30)))
    }

    fn drain(sub: &mut Subscription) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(message) = sub.try_recv() {
            out.push(message.text.clone());
        }
        out
    }

    #[test]
    fn every_member_gets_every_message_once_in_order() {
        let hub = hub(1 << 20);
        let mut a = hub.subscribe();
        let mut b = hub.subscribe();
        for i in 0..5 {
            let delivery = hub.broadcast(format!("m{i}")).unwrap();
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
        assert_eq!(a.queued_bytes(), 0);
    }

    #[test]
    fn a_queue_is_bounded_in_bytes_not_messages() {
        // Room for 1000 bytes: three 400-byte messages fill it (the third
        // is taken because the queue held less than the bound before it).
        let hub = hub(1000);
        let mut slow = hub.subscribe();
        let mut fast = hub.subscribe();
        let big = "x".repeat(400 - MESSAGE_OVERHEAD);
        for _ in 0..3 {
            hub.broadcast(big.clone()).unwrap();
            assert_eq!(drain(&mut fast).len(), 1, "the fast member keeps up");
        }
        assert_eq!(slow.queued_bytes(), 1200);
        assert_eq!(hub.len(), 2, "not full before the fourth message");
        let fourth = hub.broadcast(big.clone()).unwrap();
        assert_eq!(
            fourth,
            Delivery {
                queued: 1,
                evicted: 1
            }
        );
        assert_eq!(hub.len(), 1, "the slow member must have been removed");
        assert_eq!(
            slow.evicted.try_recv(),
            Ok(()),
            "the slow member must be told"
        );
        // What was queued before the eviction is still readable, nothing more.
        assert_eq!(drain(&mut slow).len(), 3);
        assert_eq!(drain(&mut fast).len(), 1);
    }

    #[test]
    fn an_empty_queue_takes_a_message_larger_than_the_bound() {
        let hub = hub(100);
        let mut member = hub.subscribe();
        hub.broadcast("y".repeat(5000)).unwrap();
        assert_eq!(hub.len(), 1);
        assert!(member.is_backed_up());
        assert_eq!(drain(&mut member), vec!["y".repeat(5000)]);
        assert!(!member.is_backed_up());
    }

    #[test]
    fn queued_messages_hold_the_budget_until_the_last_queue_lets_go() {
        let budget = Budget::new(1000);
        let hub = Arc::new(Hub::new(1 << 20, Arc::clone(&budget)));
        let mut a = hub.subscribe();
        let mut b = hub.subscribe();
        hub.broadcast("z".repeat(600)).unwrap();
        assert_eq!(budget.used(), 600, "one copy, however many queues");
        let refused = hub.broadcast("z".repeat(600)).unwrap_err();
        assert_eq!(refused.limit, 1000);
        drain(&mut a);
        assert_eq!(budget.used(), 600, "b still holds it");
        drain(&mut b);
        assert_eq!(budget.used(), 0);
        assert!(hub.broadcast("z".repeat(600)).is_ok());
    }

    #[test]
    fn dropping_a_subscription_leaves_the_room() {
        let hub = hub(1 << 20);
        let a = hub.subscribe();
        let _b = hub.subscribe();
        assert_eq!(hub.len(), 2);
        drop(a);
        assert_eq!(hub.len(), 1);
        assert_eq!(hub.broadcast("x".into()).unwrap().queued, 1);
    }
}

//! Admission: the connection limits a new TCP connection must fit in.
//!
//! Two limits apply from the moment a connection is accepted, while it is
//! still in the opening handshake as much as after: the server's
//! [`max_connections`](crate::Config::max_connections), and
//! [`max_connections_per_address`](crate::Config::max_connections_per_address)
//! for the peer's IP address. The second is what keeps one address from
//! taking every slot, with idle WebSockets or with handshakes it never
//! finishes, and locking everyone else out.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::OwnedSemaphorePermit;

/// How many connections each address has open.
#[derive(Debug)]
pub(crate) struct AddressSlots {
    limit: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One connection's place in the per-address count; dropping it gives the
/// place back (and forgets the address once it has no connection left, so
/// the table holds only addresses that are connected).
#[derive(Debug)]
pub(crate) struct AddressSlot {
    slots: Arc<AddressSlots>,
    ip: IpAddr,
}

/// Everything a connection holds of the limits, given back when its task
/// ends.
#[derive(Debug)]
pub(crate) struct Admission {
    /// The slot in the server's connection limit.
    pub(crate) _server: OwnedSemaphorePermit,
    /// The slot in its address's connection limit.
    pub(crate) _address: AddressSlot,
}

impl AddressSlots {
    /// Allows `limit` connections per address.
    pub(crate) fn new(limit: usize) -> Arc<AddressSlots> {
        Arc::new(AddressSlots {
            limit,
            open: Mutex::new(HashMap::new()),
        })
    }

    /// A slot for one more connection from `ip`, or `None` when that
    /// address is at its limit.
    pub(crate) fn try_take(self: &Arc<Self>, ip: IpAddr) -> Option<AddressSlot> {
        let mut open = self.lock();
        let count = open.entry(ip).or_insert(0);
        if *count >= self.limit {
            return None;
        }
        *count += 1;
        Some(AddressSlot {
            slots: Arc::clone(self),
            ip,
        })
    }

    /// How many connections `ip` has open.
    #[cfg(test)]
    fn open_from(&self, ip: IpAddr) -> usize {
        self.lock().get(&ip).copied().unwrap_or(0)
    }

    /// The count table. Every update is one map operation, so a poisoned
    /// lock cannot hold a half-made change and is safe to keep using.
    fn lock(&self) -> MutexGuard<'_, HashMap<IpAddr, usize>> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut open = self.slots.lock();
        if let Some(count) = open.get_mut(&self.ip) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_address_has_its_own_count_and_drop_gives_back() {
        let slots = AddressSlots::new(2);
        let a: IpAddr = [127, 0, 0, 2].into();
        let b: IpAddr = [127, 0, 0, 3].into();
        let first = slots.try_take(a).unwrap();
        let _second = slots.try_take(a).unwrap();
        assert!(slots.try_take(a).is_none(), "a is at its limit");
        assert!(slots.try_take(b).is_some(), "b is not limited by a");
        drop(first);
        assert_eq!(slots.open_from(a), 1);
        assert!(slots.try_take(a).is_some());
        assert_eq!(slots.open_from(b), 0, "forgotten once b has no connection");
    }
}

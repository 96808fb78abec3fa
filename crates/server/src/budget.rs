//! The memory budget: one number of bytes that all buffered messages share.
//!
//! Every limit in [`Config`](crate::Config) bounds *one* connection. A
//! thousand connections that each stay within their limits can still add
//! up to more memory than the machine has: 1,024 echo clients that each send
//! one 16 MiB message and never read the echo would make the server hold
//! 16 GiB. The budget bounds the sum.
//!
//! What is counted is what a peer can make the server keep: the message a
//! connection is assembling (charged in full as soon as a frame header
//! announces its payload, before the payload arrives), the bytes waiting to
//! be written to the peer, and each chat message while any client's queue
//! still holds it. The first 64 KiB a connection buffers are not charged,
//! so that a budget spent by a few floods of large messages still lets the
//! small messages of every other client through; like the small fixed
//! costs per connection (its state, its read buffer), they are bounded by
//! the connection limits instead.
//!
//! A message that would take the total over the budget is refused: the
//! connection that brought it is closed with **1013 "try again later"**
//! (IANA close code registry). Not 1009 "message too big": the message is
//! within the size limit and would be welcome a moment later, once other
//! clients' messages have left; 1013 says exactly that the server is
//! temporarily overloaded, so a client may retry.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::memory;

/// The close code for a message refused because the budget is spent.
pub(crate) const OVER_BUDGET_CODE: u16 = 1013;

/// The budget shared by every connection of one server.
#[derive(Debug)]
pub(crate) struct Budget {
    limit: usize,
    used: AtomicUsize,
    /// The most bytes used since memory was last trimmed (see
    /// [`crate::memory`]).
    peak: AtomicUsize,
}

/// A charge that did not fit in the budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OverBudget {
    /// The bytes asked for.
    pub(crate) wanted: usize,
    /// The budget.
    pub(crate) limit: usize,
}

impl OverBudget {
    /// The reason text of the 1013 close frame.
    pub(crate) fn reason(&self) -> String {
        format!(
            "server busy: buffered messages would exceed {} bytes; try again later",
            self.limit
        )
    }
}

impl Budget {
    /// A budget of `limit` bytes, none of them used.
    pub(crate) fn new(limit: usize) -> Arc<Budget> {
        Arc::new(Budget {
            limit,
            used: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        })
    }

    /// Bytes in use right now.
    #[cfg(test)]
    pub(crate) fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// Takes `bytes` if they fit, all or nothing.
    fn take(&self, bytes: usize) -> Result<(), OverBudget> {
        let refused = OverBudget {
            wanted: bytes,
            limit: self.limit,
        };
        let mut used = self.used.load(Ordering::Relaxed);
        loop {
            let after = used.checked_add(bytes).ok_or(refused)?;
            if after > self.limit {
                return Err(refused);
            }
            match self
                .used
                .compare_exchange_weak(used, after, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => {
                    self.peak.fetch_max(after, Ordering::Relaxed);
                    return Ok(());
                }
                Err(now) => used = now,
            }
        }
    }

    fn give_back(&self, bytes: usize) {
        let before = self.used.fetch_sub(bytes, Ordering::Relaxed);
        let now = before.saturating_sub(bytes);
        // A large drop from the peak: return the freed memory to the system.
        if self.peak.load(Ordering::Relaxed).saturating_sub(now) >= memory::TRIM_STEP {
            self.peak.store(now, Ordering::Relaxed);
            memory::trim_soon();
        }
    }
}

/// Bytes one owner (a connection, a chat message) holds of the budget;
/// all of them go back when it is dropped, so no path can leak a charge.
#[derive(Debug)]
pub(crate) struct Held {
    budget: Arc<Budget>,
    bytes: usize,
}

impl Held {
    /// Holds nothing yet.
    pub(crate) fn nothing(budget: &Arc<Budget>) -> Held {
        Held {
            budget: Arc::clone(budget),
            bytes: 0,
        }
    }

    /// Holds exactly `bytes` from now on. Growing can fail (and then
    /// nothing changes); shrinking always succeeds.
    pub(crate) fn set(&mut self, bytes: usize) -> Result<(), OverBudget> {
        if bytes > self.bytes {
            self.budget.take(bytes - self.bytes)?;
        } else {
            self.budget.give_back(self.bytes - bytes);
        }
        self.bytes = bytes;
        Ok(())
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.budget.give_back(self.bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_fit_or_are_refused_whole_and_drop_gives_back() {
        let budget = Budget::new(100);
        let mut a = Held::nothing(&budget);
        let mut b = Held::nothing(&budget);
        assert_eq!(a.set(60), Ok(()));
        assert_eq!(
            b.set(50),
            Err(OverBudget {
                wanted: 50,
                limit: 100
            })
        );
        assert_eq!(budget.used(), 60, "a refused charge takes nothing");
        assert_eq!(b.set(40), Ok(()));
        assert_eq!(a.set(10), Ok(()), "shrinking always works");
        assert_eq!(budget.used(), 50);
        drop(a);
        drop(b);
        assert_eq!(budget.used(), 0);
    }
}

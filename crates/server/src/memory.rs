//! Giving memory back to the operating system once clients have left.
//!
//! Freeing a buffer returns it to the allocator, not necessarily to the
//! operating system. glibc's `malloc` serves large buffers with `mmap` at
//! first, but raises that threshold (up to 32 MiB) each time such a buffer
//! is freed, so the next 16 MiB messages come from its heaps, and freed heap
//! memory in the middle of a heap stays with the process. Measured before
//! this module existed: 596 MB still resident after 200 echo clients with
//! 16 MiB messages had all left.
//!
//! The policy: whenever the bytes held from the memory
//! [budget](crate::budget) have fallen by [`TRIM_STEP`] or more from their
//! peak, the server asks glibc to return every free page
//! (`malloc_trim(0)`, which since glibc 2.8 releases free pages inside its
//! heaps as well as at their tops), at most once per [`TRIM_DELAY`]. So the
//! process shrinks within about a second after a burst of large messages
//! ends, and a steady stream of small messages never triggers it. On other
//! platforms and C libraries this is a no-op.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How far the budget must fall from its peak before memory is trimmed.
pub(crate) const TRIM_STEP: usize = 8 * 1024 * 1024;

/// How long a trim waits after it is asked for, so that the frees of one
/// burst (many clients leaving together) are returned in one trim.
const TRIM_DELAY: Duration = Duration::from_millis(250);

/// Whether a trim is already on its way.
static TRIM_PENDING: AtomicBool = AtomicBool::new(false);

/// Returns free heap memory to the operating system soon, from a blocking
/// thread of the current tokio runtime. Does nothing outside a runtime or
/// when a trim is already pending.
pub(crate) fn trim_soon() {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    if TRIM_PENDING.swap(true, Ordering::AcqRel) {
        return;
    }
    runtime.spawn(async {
        tokio::time::sleep(TRIM_DELAY).await;
        TRIM_PENDING.store(false, Ordering::Release);
        // malloc_trim walks every heap: keep it off the async workers.
        let _ = tokio::task::spawn_blocking(return_free_memory).await;
    });
}

/// Asks the C library to hand every free page back to the operating system.
/// Returns whether any memory was returned.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub fn return_free_memory() -> bool {
    // SAFETY: malloc_trim has no preconditions: it takes glibc's own arena
    // locks and only releases pages that no allocation uses.
    unsafe { libc::malloc_trim(0) == 1 }
}

/// Asks the C library to hand every free page back to the operating system:
/// there is nothing to ask on this platform.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn return_free_memory() -> bool {
    false
}

//! How much the runner reads from a server, in one place: every reader (the
//! executor, the flood, the handshake) is bounded by these, so a server that
//! streams forever cannot exhaust the runner's memory.

use wsconform_wire::Limits;

/// The largest frame the runner accepts from a server (16 MiB of payload).
pub const MAX_FRAME: u64 = 16 * 1024 * 1024;
/// The largest message the runner assembles (64 MiB).
pub const MAX_MESSAGE: usize = 64 * 1024 * 1024;
/// The largest handshake response header block (16 KiB).
pub const MAX_HTTP: usize = 16 * 1024;
/// How many bytes of an offending frame are kept for its transcript line.
pub const MAX_SHOWN: usize = 64 * 1024;
/// How many unrelated chat messages an expectation skips before giving up.
pub const MAX_SKIPPED: usize = 256;

/// [`MAX_FRAME`] and [`MAX_MESSAGE`] as the wire reader's limits.
pub fn reader_limits() -> Limits {
    Limits {
        max_frame_size: MAX_FRAME,
        max_message_size: MAX_MESSAGE,
    }
}

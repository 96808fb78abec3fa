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

/// How many pings one connection answers; later pings are read but not
/// answered, so a server sending `89 00` forever cannot keep the runner
/// writing.
pub const MAX_PINGS_ANSWERED: usize = 256;
/// What a scenario may receive beyond twice the largest thing it sends
/// (1 MiB): room for a chat server's JSON around an echoed message.
pub const RECEIVE_SLACK: usize = 1024 * 1024;

/// [`MAX_FRAME`] and [`MAX_MESSAGE`] as the wire reader's limits.
pub fn reader_limits() -> Limits {
    Limits {
        max_frame_size: MAX_FRAME,
        max_message_size: MAX_MESSAGE,
    }
}

/// The reader's limits sized to what a scenario sends: a well-behaved server
/// sends back at most what it was sent (an echo, or a chat message inside a
/// little JSON), so twice the largest write plus [`RECEIVE_SLACK`] is plenty,
/// and a server streaming one endless message is cut long before
/// [`MAX_MESSAGE`]. Never more than [`reader_limits`].
pub fn sized_to(largest_sent: usize) -> Limits {
    let size = largest_sent
        .saturating_mul(2)
        .saturating_add(RECEIVE_SLACK)
        .min(MAX_MESSAGE);
    Limits {
        max_frame_size: (size as u64).min(MAX_FRAME),
        max_message_size: size,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sized_limits_grow_with_what_is_sent_and_stop_at_the_defaults() {
        let small = sized_to(100);
        assert_eq!(small.max_message_size, 200 + RECEIVE_SLACK);
        assert_eq!(small.max_frame_size, (200 + RECEIVE_SLACK) as u64);
        let huge = sized_to(usize::MAX);
        assert_eq!(huge.max_message_size, MAX_MESSAGE);
        assert_eq!(huge.max_frame_size, MAX_FRAME);
    }
}

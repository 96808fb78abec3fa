//! permessage-deflate compression and decompression (RFC 7692 §7.2), sans-IO.
//!
//! A compressed message is one DEFLATE stream cut at a message boundary:
//! the sender compresses the payload, flushes with an empty stored block
//! ("sync flush") and removes the last four bytes of that flush,
//! `00 00 ff ff` (§7.2.1: "Remove 4 octets (that are 0x00 0x00 0xff 0xff)
//! from the tail end"). The receiver appends them again before inflating
//! the end of the message (§7.2.2). The first frame of a compressed message
//! carries RSV1 ("Per-Message Compressed" bit, §6); continuation frames and
//! control frames never do (§6.1: "An endpoint MUST NOT set the 'Per-Message
//! Compressed' bit of control frames and non-first fragments").
//!
//! With *context takeover* (the default) the LZ77 window outlives the
//! message, so a later message may refer to bytes of an earlier one; with
//! `*_no_context_takeover` each message is a fresh stream and the state can
//! be dropped between messages, which is what [`Deflater`] and [`Inflater`]
//! do to keep an idle connection small.
//!
//! The DEFLATE algorithm itself is `flate2` on the `zlib-rs` backend. Two
//! edges of that library are handled here: it accepts window bits 9..=15
//! only (and panics on others), so every peer-chosen value is clamped
//! before it reaches it; and zlib cannot *compress* with a raw 8-bit window,
//! so a sender limited to 8 bits sends its messages uncompressed (RFC 7692
//! §6: compression is per message and optional).

use std::cell::RefCell;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// The bytes a sync flush ends with, removed by the sender (§7.2.1).
pub const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// How much output room is reserved per inflate call.
const INFLATE_CHUNK: usize = 16 * 1024;

/// Why a compressed message could not be inflated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InflateError {
    /// The bytes are not a DEFLATE stream.
    #[error("invalid DEFLATE data: {0}")]
    Corrupt(String),
    /// The inflated message grew beyond the limit (close code 1009).
    #[error("inflated message larger than the limit of {limit} bytes")]
    TooBig {
        /// The configured maximum message size.
        limit: usize,
    },
}

/// Window bits the library accepts: 9..=15. An 8-bit window is inflated
/// with a 9-bit one (a larger window reads every stream a smaller one
/// wrote).
fn library_bits(bits: u8) -> u8 {
    bits.clamp(9, 15)
}

/// The receiving half: inflates one compressed message after another.
#[derive(Debug)]
pub struct Inflater {
    window_bits: u8,
    no_context_takeover: bool,
    /// Allocated at the first compressed message; dropped after each
    /// message when there is no context to keep.
    state: Option<Box<Decompress>>,
}

impl Inflater {
    /// An inflater for a peer whose window is at most 2^`window_bits`
    /// bytes and which resets its context after every message when
    /// `no_context_takeover`.
    pub fn new(window_bits: u8, no_context_takeover: bool) -> Inflater {
        Inflater {
            window_bits: library_bits(window_bits),
            no_context_takeover,
            state: None,
        }
    }

    /// Does it hold inflate state right now (for memory checks)?
    pub fn is_allocated(&self) -> bool {
        self.state.is_some()
    }

    // ANCHOR: inflate
    /// Inflates `input`, a piece of a compressed message, appending to
    /// `out`. Fails as soon as `out` would grow beyond `limit` bytes, so a
    /// small frame that claims gigabytes costs at most `limit` bytes and
    /// the work to produce them.
    pub fn inflate(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), InflateError> {
        let window_bits = self.window_bits;
        let state = self
            .state
            .get_or_insert_with(|| Box::new(Decompress::new_with_window_bits(false, window_bits)));
        let mut input = input;
        loop {
            // Room for one byte past the limit at most: that byte is the
            // proof that the message is too big.
            let room = limit
                .saturating_sub(out.len())
                .saturating_add(1)
                .min(INFLATE_CHUNK);
            let start = out.len();
            out.resize(start + room, 0);
            let (in_before, out_before) = (state.total_in(), state.total_out());
            let result = state.decompress(
                input,
                out.get_mut(start..).unwrap_or_default(),
                FlushDecompress::Sync,
            );
            let used = (state.total_in() - in_before) as usize;
            let produced = (state.total_out() - out_before) as usize;
            out.truncate(start + produced);
            let status = result.map_err(|e| InflateError::Corrupt(e.to_string()))?;
            let spare_before = room;
            input = input.get(used..).unwrap_or_default();
            if out.len() > limit {
                return Err(InflateError::TooBig { limit });
            }
            if status == Status::StreamEnd {
                // The peer ended the stream (BFINAL); what follows, if
                // anything, starts a new one.
                state.reset(false);
            }
            let output_full = produced == spare_before;
            if input.is_empty() && !output_full {
                return Ok(());
            }
            if used == 0 && produced == 0 && status != Status::StreamEnd {
                return Err(InflateError::Corrupt("inflate made no progress".into()));
            }
        }
    }
    // ANCHOR_END: inflate

    /// Ends a message: inflates the [`TAIL`] the sender removed and, with
    /// no context takeover, frees the state.
    pub fn finish_message(&mut self, out: &mut Vec<u8>, limit: usize) -> Result<(), InflateError> {
        let result = self.inflate(&TAIL, out, limit);
        if self.no_context_takeover || result.is_err() {
            self.state = None;
        }
        result
    }
}

/// Compressor states kept per thread for the next message of any
/// connection without context takeover: a zlib compressor is about 256 KiB,
/// and allocating and freeing one per message leaves the heap in pieces
/// that the next connection's smaller allocations split, so a server's
/// memory grew by most of a compressor per connection that ever compressed
/// a message. A few states per thread, reset between messages, cost the
/// same work and a bounded amount of memory.
const SPARE_COMPRESSORS_PER_THREAD: usize = 2;

/// A spare compressor: its window bits, level, and state.
type SpareCompressor = (u8, u32, Box<Compress>);

thread_local! {
    static SPARE_COMPRESSORS: RefCell<Vec<SpareCompressor>> = const { RefCell::new(Vec::new()) };
}

/// A reset compressor with these settings, from this thread's spares.
fn take_spare(window_bits: u8, level: u32) -> Option<Box<Compress>> {
    SPARE_COMPRESSORS.with(|spares| {
        let mut spares = spares.borrow_mut();
        let found = spares
            .iter()
            .position(|(bits, lvl, _)| *bits == window_bits && *lvl == level)?;
        Some(spares.swap_remove(found).2)
    })
}

/// Keeps `state`, reset, for another message on this thread (or drops it
/// when the thread already keeps enough).
fn give_back(window_bits: u8, level: u32, mut state: Box<Compress>) {
    state.reset();
    SPARE_COMPRESSORS.with(|spares| {
        let mut spares = spares.borrow_mut();
        if spares.len() < SPARE_COMPRESSORS_PER_THREAD {
            spares.push((window_bits, level, state));
        }
    });
}

/// The sending half: compresses one message after another.
#[derive(Debug)]
pub struct Deflater {
    /// `None`: the negotiated window is 8 bits, which zlib cannot write:
    /// messages go out uncompressed.
    window_bits: Option<u8>,
    level: Compression,
    no_context_takeover: bool,
    state: Option<Box<Compress>>,
}

impl Deflater {
    /// A deflater whose window is at most 2^`window_bits` bytes, at zlib
    /// `level` (0..=9), resetting after each message when
    /// `no_context_takeover`.
    pub fn new(window_bits: u8, level: u32, no_context_takeover: bool) -> Deflater {
        Deflater {
            window_bits: (window_bits >= 9).then_some(window_bits.min(15)),
            level: Compression::new(level.min(9)),
            no_context_takeover,
            state: None,
        }
    }

    /// Does it hold deflate state right now (for memory checks)?
    pub fn is_allocated(&self) -> bool {
        self.state.is_some()
    }

    /// The compressed form of `payload` without the [`TAIL`], or `None`
    /// when the message must be sent uncompressed (an 8-bit window).
    pub fn compress(&mut self, payload: &[u8]) -> Option<Vec<u8>> {
        let window_bits = self.window_bits?;
        if payload.is_empty() {
            // An empty message is an empty stored block: §7.2.3.6 gives
            // `00` as its shortest form. It changes no context.
            return Some(vec![0x00]);
        }
        let level = self.level;
        let state = self.state.get_or_insert_with(|| {
            take_spare(window_bits, level.level()).unwrap_or_else(|| {
                Box::new(Compress::new_with_window_bits(level, false, window_bits))
            })
        });
        let mut out = Vec::with_capacity(payload.len() / 2 + 64);
        let mut input = payload;
        loop {
            if out.capacity() - out.len() < 64 {
                out.reserve(out.capacity().max(256));
            }
            let spare_before = out.capacity() - out.len();
            let (in_before, out_before) = (state.total_in(), state.total_out());
            if state
                .compress_vec(input, &mut out, FlushCompress::Sync)
                .is_err()
            {
                // Cannot happen with a valid state; the message then goes
                // out uncompressed, which is always allowed.
                self.state = None;
                return None;
            }
            let used = (state.total_in() - in_before) as usize;
            let produced = (state.total_out() - out_before) as usize;
            input = input.get(used..).unwrap_or_default();
            if input.is_empty() && produced < spare_before {
                break;
            }
            if used == 0 && produced == 0 {
                break;
            }
        }
        if !out.ends_with(&TAIL) {
            // Not a sync flush: start afresh; this message goes out as is.
            self.state = None;
            return None;
        }
        out.truncate(out.len() - TAIL.len());
        if self.no_context_takeover
            && let Some(state) = self.state.take()
        {
            give_back(window_bits, self.level.level(), state);
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn inflate_all(
        inflater: &mut Inflater,
        data: &[u8],
        limit: usize,
    ) -> Result<Vec<u8>, InflateError> {
        let mut out = Vec::new();
        inflater.inflate(data, &mut out, limit)?;
        inflater.finish_message(&mut out, limit)?;
        Ok(out)
    }

    #[test]
    fn a_reused_compressor_writes_what_a_fresh_one_writes() {
        let first = b"an earlier message that fills the window a little".repeat(20);
        let second = b"a later message, compressed on its own".repeat(20);
        let fresh = Deflater::new(12, 1, true).compress(&second).unwrap();
        let mut earlier = Deflater::new(12, 1, true);
        earlier.compress(&first).unwrap();
        assert!(!earlier.is_allocated());
        // This thread now keeps the earlier state; the next deflater of the
        // same settings starts from it, reset.
        let mut later = Deflater::new(12, 1, true);
        assert_eq!(later.compress(&second).unwrap(), fresh);
        let mut inflater = Inflater::new(12, true);
        assert_eq!(inflate_all(&mut inflater, &fresh, 1 << 20).unwrap(), second);
        // Other window bits never take it.
        let other = Deflater::new(9, 1, true).compress(&second).unwrap();
        let mut small = Inflater::new(9, true);
        assert_eq!(inflate_all(&mut small, &other, 1 << 20).unwrap(), second);
    }

    #[test]
    fn rfc_7692_examples() {
        // §7.2.3.1: "Hello" compressed.
        let hello = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        let mut inflater = Inflater::new(15, false);
        assert_eq!(inflate_all(&mut inflater, &hello, 100).unwrap(), b"Hello");
        // §7.2.3.2: the second "Hello" with context takeover refers back.
        let again = [0xf2, 0x00, 0x11, 0x00, 0x00];
        assert_eq!(inflate_all(&mut inflater, &again, 100).unwrap(), b"Hello");
        // Without the shared context the back reference is invalid.
        let mut fresh = Inflater::new(15, true);
        assert_eq!(inflate_all(&mut fresh, &hello, 100).unwrap(), b"Hello");
        assert!(!fresh.is_allocated());
        assert!(inflate_all(&mut fresh, &again, 100).is_err());
        // §7.2.3.3: "Hello" in a stored (uncompressed) block.
        let stored = [
            0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
        ];
        assert_eq!(
            inflate_all(&mut Inflater::new(15, false), &stored, 100).unwrap(),
            b"Hello"
        );
        // §7.2.3.4: BFINAL set, then the tail starts a new stream.
        let last = [0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        assert_eq!(
            inflate_all(&mut Inflater::new(15, false), &last, 100).unwrap(),
            b"Hello"
        );
    }

    #[test]
    fn our_hello_is_the_rfc_one() {
        let mut deflater = Deflater::new(15, 6, false);
        assert_eq!(
            deflater.compress(b"Hello").unwrap(),
            [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]
        );
        // Context takeover: the second one is a back reference, shorter.
        assert!(deflater.compress(b"Hello").unwrap().len() < 7);
        assert_eq!(Deflater::new(15, 6, false).compress(b"").unwrap(), [0x00]);
        assert_eq!(Deflater::new(8, 6, false).compress(b"Hello"), None);
    }

    #[test]
    fn state_lives_only_as_long_as_the_context() {
        // Nothing is allocated before the first message.
        let mut kept = Deflater::new(15, 1, false);
        let mut dropped = Deflater::new(15, 1, true);
        assert!(!kept.is_allocated() && !dropped.is_allocated());
        kept.compress(b"a message").unwrap();
        dropped.compress(b"a message").unwrap();
        // Context takeover keeps the window; without it nothing is left.
        assert!(kept.is_allocated());
        assert!(!dropped.is_allocated());
        let mut inflater = Inflater::new(15, false);
        assert!(!inflater.is_allocated());
        let mut out = Vec::new();
        inflater.inflate(&HELLO, &mut out, 100).unwrap();
        inflater.finish_message(&mut out, 100).unwrap();
        assert!(inflater.is_allocated());
    }

    const HELLO: [u8; 7] = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];

    #[test]
    fn corrupt_data() {
        let err = inflate_all(&mut Inflater::new(15, false), &[0xff, 0xff, 0xff], 100);
        assert!(matches!(err, Err(InflateError::Corrupt(_))), "{err:?}");
    }

    #[test]
    fn a_bomb_stops_at_the_limit() {
        let big = vec![b'a'; 10 << 20];
        let compressed = Deflater::new(15, 9, true).compress(&big).unwrap();
        assert!(compressed.len() < 20_000);
        let mut out = Vec::new();
        let err = Inflater::new(15, true).inflate(&compressed, &mut out, 64 * 1024);
        assert_eq!(err, Err(InflateError::TooBig { limit: 64 * 1024 }));
        // It stopped within one chunk of the limit.
        assert!(out.len() <= 64 * 1024 + INFLATE_CHUNK, "{}", out.len());
        // Exactly at the limit is fine.
        let exact = vec![b'b'; 4096];
        let c = Deflater::new(15, 1, true).compress(&exact).unwrap();
        assert_eq!(
            inflate_all(&mut Inflater::new(15, true), &c, 4096).unwrap(),
            exact
        );
        assert!(inflate_all(&mut Inflater::new(15, true), &c, 4095).is_err());
    }

    proptest! {
        #[test]
        fn round_trip(
            messages in proptest::collection::vec(proptest::collection::vec(0u8..4, 0..3000), 1..5),
            bits in 8u8..=15,
            takeover in any::<bool>(),
            level in 0u32..=9,
            split in 1usize..50,
        ) {
            let mut deflater = Deflater::new(bits, level, !takeover);
            let mut inflater = Inflater::new(bits, !takeover);
            for message in &messages {
                let Some(compressed) = deflater.compress(message) else {
                    prop_assert_eq!(bits, 8);
                    continue;
                };
                let mut out = Vec::new();
                for piece in compressed.chunks(split) {
                    inflater.inflate(piece, &mut out, 1 << 20).unwrap();
                }
                inflater.finish_message(&mut out, 1 << 20).unwrap();
                prop_assert_eq!(&out, message);
            }
        }
    }
}

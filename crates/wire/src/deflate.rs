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
//! `*_no_context_takeover` each message is a fresh stream.
//!
//! What a context needs between two messages is its window and nothing
//! else: the last 2^window_bits bytes of plaintext (fewer if fewer went
//! through it). A live zlib stream keeps far more (an inflater its 32 KiB
//! window and tables, a compressor about 256 KiB of hash chains and
//! buffers), which made an idle connection with a kept context several
//! times the size of a plain one. So [`Deflater`] and [`Inflater`] keep only
//! that *history* between messages. Each message gets a fresh raw stream
//! (from a small per-thread list of spare streams), primed with the
//! history as a preset dictionary (zlib's `deflateSetDictionary` /
//! `inflateSetDictionary`); after the message the stream goes back to the
//! list and the history takes the message's plaintext in. The bytes on
//! the wire are those of one long-lived stream: a peer that keeps its zlib
//! stream for the whole connection reads ours, and we read its. With no
//! context takeover nothing is kept.
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

/// The most output room an inflate call gets.
const INFLATE_CHUNK: usize = 16 * 1024;

/// The least output room an inflate call makes when the output buffer is
/// full. The room is the buffer's spare capacity; a full buffer grows by
/// twice the input, or this much if more, so the buffer grows with the
/// message: a small message leaves a small buffer behind, not a whole
/// chunk (the buffer may be kept for the connection's next message).
const INFLATE_MIN_ROOM: usize = 1024;

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

/// The plaintext a context keeps between messages: the last bytes that
/// went through it, at most `limit` (the window; 0 when no context is
/// kept). Its allocation is exactly as large as the bytes kept.
#[derive(Debug)]
struct History {
    bytes: Vec<u8>,
    limit: usize,
}

impl History {
    fn new(limit: usize) -> History {
        History {
            bytes: Vec::new(),
            limit,
        }
    }

    /// Appends `data`, forgetting the oldest bytes beyond the limit.
    fn push(&mut self, data: &[u8]) {
        let data = data
            .get(data.len().saturating_sub(self.limit)..)
            .unwrap_or_default();
        if data.is_empty() {
            return;
        }
        let keep = self.bytes.len().min(self.limit.saturating_sub(data.len()));
        let forget = self.bytes.len() - keep;
        self.bytes.drain(..forget);
        self.bytes.reserve_exact(data.len());
        self.bytes.extend_from_slice(data);
    }

    /// Forgets everything and frees the memory.
    fn clear(&mut self) {
        self.bytes = Vec::new();
    }
}

/// Streams kept per thread for the next message of any connection: a
/// zlib compressor is about 256 KiB, an inflater about 40 KiB, and
/// allocating and freeing one per message leaves the heap in pieces that
/// the next connection's smaller allocations split, so a server's memory
/// grew by most of a compressor per connection that ever compressed a
/// message. A few streams per thread, reset between messages, cost the
/// same work and a bounded amount of memory.
const SPARE_STREAMS_PER_THREAD: usize = 2;

/// A spare compressor: its window bits, level, and state.
type SpareCompressor = (u8, u32, Box<Compress>);

/// A spare inflater: its window bits and state.
type SpareDecompressor = (u8, Box<Decompress>);

thread_local! {
    static SPARE_COMPRESSORS: RefCell<Vec<SpareCompressor>> = const { RefCell::new(Vec::new()) };
    static SPARE_DECOMPRESSORS: RefCell<Vec<SpareDecompressor>> = const { RefCell::new(Vec::new()) };
}

/// A reset compressor with these settings, from this thread's spares, or
/// a new one.
fn take_compressor(window_bits: u8, level: Compression) -> Box<Compress> {
    let spare = SPARE_COMPRESSORS.with(|spares| {
        let mut spares = spares.borrow_mut();
        let found = spares
            .iter()
            .position(|(bits, lvl, _)| *bits == window_bits && *lvl == level.level())?;
        Some(spares.swap_remove(found).2)
    });
    spare.unwrap_or_else(|| Box::new(Compress::new_with_window_bits(level, false, window_bits)))
}

/// Keeps `state`, reset, for another message on this thread (or drops it
/// when the thread already keeps enough).
fn give_back_compressor(window_bits: u8, level: Compression, mut state: Box<Compress>) {
    state.reset();
    SPARE_COMPRESSORS.with(|spares| {
        let mut spares = spares.borrow_mut();
        if spares.len() < SPARE_STREAMS_PER_THREAD {
            spares.push((window_bits, level.level(), state));
        }
    });
}

/// A reset raw inflater with this window, from this thread's spares, or a
/// new one.
fn take_decompressor(window_bits: u8) -> Box<Decompress> {
    let spare = SPARE_DECOMPRESSORS.with(|spares| {
        let mut spares = spares.borrow_mut();
        let found = spares.iter().position(|(bits, _)| *bits == window_bits)?;
        Some(spares.swap_remove(found).1)
    });
    spare.unwrap_or_else(|| Box::new(Decompress::new_with_window_bits(false, window_bits)))
}

/// Keeps `state`, reset, for another message on this thread (or drops it
/// when the thread already keeps enough).
fn give_back_decompressor(window_bits: u8, mut state: Box<Decompress>) {
    state.reset(false);
    SPARE_DECOMPRESSORS.with(|spares| {
        let mut spares = spares.borrow_mut();
        if spares.len() < SPARE_STREAMS_PER_THREAD {
            spares.push((window_bits, state));
        }
    });
}

/// The receiving half: inflates one compressed message after another.
#[derive(Debug)]
pub struct Inflater {
    window_bits: u8,
    /// The stream of the message being inflated; `None` between messages.
    state: Option<Box<Decompress>>,
    /// The peer's window as it stands between messages (nothing without
    /// context takeover).
    history: History,
}

impl Inflater {
    /// An inflater for a peer whose window is at most 2^`window_bits`
    /// bytes and which resets its context after every message when
    /// `no_context_takeover`.
    pub fn new(window_bits: u8, no_context_takeover: bool) -> Inflater {
        let window_bits = library_bits(window_bits);
        let window = if no_context_takeover {
            0
        } else {
            1 << window_bits
        };
        Inflater {
            window_bits,
            state: None,
            history: History::new(window),
        }
    }

    /// Does it hold an inflate stream right now (only while a message is
    /// inflated; for memory checks)?
    pub fn is_allocated(&self) -> bool {
        self.state.is_some()
    }

    /// How many bytes of plaintext it keeps as the peer's context (at most
    /// the window; none without context takeover).
    pub fn context_len(&self) -> usize {
        self.history.bytes.len()
    }

    /// The first bytes of a message: a fresh stream that starts from the
    /// kept context.
    fn start_message(&mut self) -> Result<Box<Decompress>, InflateError> {
        let mut state = take_decompressor(self.window_bits);
        if !self.history.bytes.is_empty()
            && let Err(error) = state.set_dictionary(&self.history.bytes)
        {
            give_back_decompressor(self.window_bits, state);
            self.history.clear();
            return Err(InflateError::Corrupt(error.to_string()));
        }
        Ok(state)
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
        let mut state = match self.state.take() {
            Some(state) => state,
            None => self.start_message()?,
        };
        let result = Self::inflate_into(&mut state, &mut self.history, input, out, limit);
        if result.is_ok() {
            self.state = Some(state);
        } else {
            // The connection fails; nothing of this context is needed.
            give_back_decompressor(self.window_bits, state);
            self.history.clear();
        }
        result
    }

    /// The work of [`Inflater::inflate`] on the message's stream; every
    /// byte produced also goes into the history.
    fn inflate_into(
        state: &mut Decompress,
        history: &mut History,
        input: &[u8],
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), InflateError> {
        let mut input = input;
        loop {
            // The buffer's spare capacity, or room to grow when it has none.
            let buffer_room = match out.capacity() - out.len() {
                0 => INFLATE_MIN_ROOM.max(input.len().saturating_mul(2)),
                spare => spare,
            };
            // Room for one byte past the limit at most: that byte is the
            // proof that the message is too big.
            let room = limit
                .saturating_sub(out.len())
                .saturating_add(1)
                .min(INFLATE_CHUNK)
                .min(buffer_room);
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
            input = input.get(used..).unwrap_or_default();
            if out.len() > limit {
                return Err(InflateError::TooBig { limit });
            }
            history.push(out.get(start..).unwrap_or_default());
            if status == Status::StreamEnd {
                // The peer ended the stream (BFINAL); what follows, if
                // anything, starts a new one, with an empty window.
                state.reset(false);
                history.clear();
            }
            let output_full = produced == room;
            if input.is_empty() && !output_full {
                return Ok(());
            }
            if used == 0 && produced == 0 && status != Status::StreamEnd {
                return Err(InflateError::Corrupt("inflate made no progress".into()));
            }
        }
    }
    // ANCHOR_END: inflate

    /// Ends a message: inflates the [`TAIL`] the sender removed, and lets
    /// the stream go; only the history stays.
    pub fn finish_message(&mut self, out: &mut Vec<u8>, limit: usize) -> Result<(), InflateError> {
        let result = self.inflate(&TAIL, out, limit);
        if let Some(state) = self.state.take() {
            give_back_decompressor(self.window_bits, state);
        }
        result
    }
}

/// The sending half: compresses one message after another.
#[derive(Debug)]
pub struct Deflater {
    /// `None`: the negotiated window is 8 bits, which zlib cannot write:
    /// messages go out uncompressed.
    window_bits: Option<u8>,
    level: Compression,
    /// The plaintext of the messages compressed so far, as far back as
    /// the window reaches (nothing without context takeover).
    history: History,
}

impl Deflater {
    /// A deflater whose window is at most 2^`window_bits` bytes, at zlib
    /// `level` (0..=9), resetting after each message when
    /// `no_context_takeover`.
    pub fn new(window_bits: u8, level: u32, no_context_takeover: bool) -> Deflater {
        let window_bits = (window_bits >= 9).then_some(window_bits.min(15));
        let window = match window_bits {
            Some(bits) if !no_context_takeover => 1 << bits,
            _ => 0,
        };
        Deflater {
            window_bits,
            level: Compression::new(level.min(9)),
            history: History::new(window),
        }
    }

    /// How many bytes of plaintext it keeps as its context (at most the
    /// window; none without context takeover).
    pub fn context_len(&self) -> usize {
        self.history.bytes.len()
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
        let mut state = take_compressor(window_bits, self.level);
        let primed =
            self.history.bytes.is_empty() || state.set_dictionary(&self.history.bytes).is_ok();
        let compressed = if primed {
            deflate_message(&mut state, payload)
        } else {
            None
        };
        give_back_compressor(window_bits, self.level, state);
        match compressed {
            Some(compressed) => {
                self.history.push(payload);
                Some(compressed)
            }
            None => {
                // Cannot happen with a valid state. The message goes out
                // uncompressed, which is always allowed, and the next one
                // starts a new context (a sender may always reset).
                self.history.clear();
                None
            }
        }
    }
}

/// `payload` through `state` with a sync flush, the [`TAIL`] removed;
/// `None` if the library failed or did not end on a sync flush.
fn deflate_message(state: &mut Compress, payload: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(payload.len() / 2 + 64);
    let mut input = payload;
    loop {
        if out.capacity() - out.len() < 64 {
            out.reserve(out.capacity().max(256));
        }
        let spare_before = out.capacity() - out.len();
        let (in_before, out_before) = (state.total_in(), state.total_out());
        state
            .compress_vec(input, &mut out, FlushCompress::Sync)
            .ok()?;
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
        return None;
    }
    out.truncate(out.len() - TAIL.len());
    Some(out)
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

    /// A peer that keeps one raw zlib compressor for the whole connection,
    /// as RFC 7692 describes it: sync flush, tail removed.
    struct LongLivedSender(Compress);

    impl LongLivedSender {
        fn new(bits: u8, level: u32) -> Self {
            LongLivedSender(Compress::new_with_window_bits(
                Compression::new(level),
                false,
                bits,
            ))
        }

        fn send(&mut self, message: &[u8]) -> Vec<u8> {
            if message.is_empty() {
                // zlib writes nothing for a second sync flush in a row;
                // §7.2.3.6's empty stored block stands in.
                return vec![0x00];
            }
            let mut out = Vec::with_capacity(message.len() + 64);
            let mut input = message;
            loop {
                out.reserve(message.len() + 64);
                let before = self.0.total_in();
                self.0
                    .compress_vec(input, &mut out, FlushCompress::Sync)
                    .unwrap();
                input = &input[(self.0.total_in() - before) as usize..];
                if input.is_empty() && out.ends_with(&TAIL) {
                    break;
                }
            }
            out.truncate(out.len() - TAIL.len());
            out
        }
    }

    /// A peer that keeps one raw zlib inflater for the whole connection.
    struct LongLivedReceiver(Decompress);

    impl LongLivedReceiver {
        fn new(bits: u8) -> Self {
            LongLivedReceiver(Decompress::new_with_window_bits(false, bits))
        }

        fn receive(&mut self, compressed: &[u8]) -> Vec<u8> {
            let input = [compressed, &TAIL[..]].concat();
            let mut input = &input[..];
            let mut out = Vec::new();
            loop {
                out.reserve(64 * 1024);
                let (in_before, out_before) = (self.0.total_in(), self.0.total_out());
                self.0
                    .decompress_vec(input, &mut out, FlushDecompress::Sync)
                    .unwrap();
                input = &input[(self.0.total_in() - in_before) as usize..];
                let produced = self.0.total_out() - out_before;
                if input.is_empty() && produced == 0 {
                    return out;
                }
            }
        }
    }

    /// Repeatable text messages of 0 to about 3 000 bytes, many of them
    /// repeating words or whole earlier messages, so that later messages
    /// refer back into earlier ones, near and far.
    fn conversation(count: usize, seed: u64) -> Vec<Vec<u8>> {
        const WORDS: [&str; 12] = [
            "the", "socket", "frame", "window", "deflate", "message", "context", "takeover",
            "history", "byte", "server", "client",
        ];
        let mut random = crate::splitmix::SplitMix::new(seed);
        let mut messages: Vec<Vec<u8>> = Vec::new();
        for _ in 0..count {
            let pick = random.next_u64();
            let message = match pick % 8 {
                0 if !messages.is_empty() => {
                    messages[(pick >> 8) as usize % messages.len()].clone()
                }
                1 => Vec::new(),
                2 => (0..(pick >> 8) % 3000)
                    .map(|_| random.next_u64() as u8)
                    .collect(),
                _ => {
                    let mut text = Vec::new();
                    for _ in 0..(pick >> 8) % 400 {
                        let word = WORDS[random.next_u64() as usize % WORDS.len()];
                        text.extend_from_slice(word.as_bytes());
                        text.push(b' ');
                    }
                    text
                }
            };
            messages.push(message);
        }
        messages
    }

    #[test]
    fn a_long_run_with_context_takeover_interoperates_with_long_lived_streams() {
        let messages = conversation(300, 7);
        let total: usize = messages.iter().map(Vec::len).sum();
        assert!(total > 8 * 32 * 1024, "{total}");
        for bits in [9, 10, 12, 15] {
            for level in [1, 6, 9] {
                let mut ours = Deflater::new(bits, level, false);
                let mut reset = Deflater::new(bits, level, true);
                let mut peer_in = LongLivedReceiver::new(bits);
                let mut our_in = Inflater::new(bits, false);
                let mut peer_out = LongLivedSender::new(bits, level);
                let mut our_in_from_peer = Inflater::new(bits, false);
                let (mut with_context, mut without, mut long_lived) = (0, 0, 0);
                for (i, message) in messages.iter().enumerate() {
                    let what = format!("bits {bits}, level {level}, message {i}");
                    // Ours to a peer that keeps its stream, and to ourselves.
                    let compressed = ours.compress(message).unwrap();
                    with_context += compressed.len();
                    without += reset.compress(message).unwrap().len();
                    assert_eq!(&peer_in.receive(&compressed), message, "{what}");
                    assert_eq!(
                        &inflate_all(&mut our_in, &compressed, 1 << 20).unwrap(),
                        message,
                        "{what}"
                    );
                    // The peer's, from its long-lived stream, to us.
                    let theirs = peer_out.send(message);
                    long_lived += theirs.len();
                    assert_eq!(
                        &inflate_all(&mut our_in_from_peer, &theirs, 1 << 20).unwrap(),
                        message,
                        "{what}"
                    );
                    let window = 1usize << bits;
                    assert!(ours.context_len() <= window && our_in.context_len() <= window);
                }
                // The context was used: the repeated messages and words
                // cost less than messages compressed on their own, and
                // about what a stream kept for the whole run makes.
                assert!(
                    with_context < without && with_context * 100 < long_lived * 102,
                    "bits {bits}, level {level}: {with_context} against {without} alone, {long_lived} kept"
                );
            }
        }
    }

    #[test]
    fn a_repeated_message_is_a_back_reference_into_the_history() {
        let message = b"a message long enough to be worth a back reference".repeat(4);
        let mut deflater = Deflater::new(15, 1, false);
        let first = deflater.compress(&message).unwrap();
        let again = deflater.compress(&message).unwrap();
        assert!(again.len() < 12 && again.len() < first.len(), "{again:?}");
        let mut peer = LongLivedReceiver::new(15);
        assert_eq!(peer.receive(&first), message);
        assert_eq!(peer.receive(&again), message);
    }

    #[test]
    fn the_history_is_capped_at_the_window() {
        let mut history = History::new(8);
        history.push(b"abc");
        history.push(b"defghij");
        assert_eq!(history.bytes, b"cdefghij");
        history.push(b"0123456789xyz");
        assert_eq!(history.bytes, b"56789xyz");
        assert!(
            history.bytes.capacity() <= 8,
            "{}",
            history.bytes.capacity()
        );

        let mut random = crate::splitmix::SplitMix::new(3);
        let noise: Vec<u8> = (0..2000).map(|_| random.next_u64() as u8).collect();
        for (bits, kept) in [(8, 512), (9, 512), (11, 2000), (15, 2000)] {
            let mut inflater = Inflater::new(bits, false);
            let compressed = LongLivedSender::new(15, 6).send(&noise);
            inflate_all(&mut inflater, &compressed, 1 << 20).unwrap();
            assert_eq!(inflater.context_len(), kept, "bits {bits}");
            assert_eq!(inflater.history.bytes, noise[noise.len() - kept..]);
        }
        for (bits, kept) in [(9, 512), (11, 2000), (15, 2000)] {
            let mut deflater = Deflater::new(bits, 1, false);
            deflater.compress(&noise).unwrap();
            assert_eq!(deflater.context_len(), kept, "bits {bits}");
            assert_eq!(deflater.history.bytes, noise[noise.len() - kept..]);
        }
        // An 8-bit sender compresses nothing, so it keeps nothing.
        let mut eight = Deflater::new(8, 1, false);
        assert_eq!(eight.compress(&noise), None);
        assert_eq!(eight.context_len(), 0);

        // A peer whose next message points 2 000 bytes back, beyond a
        // 2^9 window, is refused by a 9-bit inflater and read by an
        // 11-bit one.
        let mut peer = LongLivedSender::new(15, 6);
        let first = peer.send(&noise);
        let second = peer.send(&noise[..600]);
        let mut small = Inflater::new(9, false);
        inflate_all(&mut small, &first, 1 << 20).unwrap();
        let err = inflate_all(&mut small, &second, 1 << 20);
        assert!(matches!(err, Err(InflateError::Corrupt(_))), "{err:?}");
        assert_eq!(small.context_len(), 0);
        let mut large = Inflater::new(11, false);
        inflate_all(&mut large, &first, 1 << 20).unwrap();
        assert_eq!(
            inflate_all(&mut large, &second, 1 << 20).unwrap(),
            noise[..600]
        );
    }

    #[test]
    fn no_context_takeover_keeps_nothing() {
        let message = b"the same sentence, again and again".repeat(10);
        let mut deflater = Deflater::new(15, 6, true);
        let mut inflater = Inflater::new(15, true);
        let first = deflater.compress(&message).unwrap();
        for _ in 0..3 {
            // Each message is a stream of its own: the same bytes every time.
            let compressed = deflater.compress(&message).unwrap();
            assert_eq!(compressed, first);
            assert_eq!(deflater.context_len(), 0);
            assert_eq!(
                inflate_all(&mut inflater, &compressed, 1 << 20).unwrap(),
                message
            );
            assert_eq!(inflater.context_len(), 0);
            assert!(!inflater.is_allocated());
        }
        // A message that refers to the previous one cannot be read.
        let mut peer = LongLivedSender::new(15, 6);
        inflate_all(&mut inflater, &peer.send(&message), 1 << 20).unwrap();
        assert!(inflate_all(&mut inflater, &peer.send(&message), 1 << 20).is_err());
    }

    #[test]
    fn a_reused_compressor_writes_what_a_fresh_one_writes() {
        let first = b"an earlier message that fills the window a little".repeat(20);
        let second = b"a later message, compressed on its own".repeat(20);
        let fresh = Deflater::new(12, 1, true).compress(&second).unwrap();
        let mut earlier = Deflater::new(12, 1, true);
        earlier.compress(&first).unwrap();
        assert_eq!(earlier.context_len(), 0);
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
        // A context primed from a history writes what a kept stream writes
        // from the same start: a spare that served another context leaks
        // nothing into this one.
        let mut kept = Deflater::new(12, 1, false);
        kept.compress(&first).unwrap();
        let mut alone = Deflater::new(12, 1, false);
        let primed = alone.compress(&second).unwrap();
        assert_eq!(primed, fresh);
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
        // §7.2.3.4: BFINAL set, then the tail starts a new stream, with an
        // empty window: the next message cannot refer back.
        let last = [0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        let mut ended = Inflater::new(15, false);
        assert_eq!(inflate_all(&mut ended, &last, 100).unwrap(), b"Hello");
        assert_eq!(ended.context_len(), 0);
        assert!(inflate_all(&mut ended, &again, 100).is_err());
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
    fn only_the_history_outlives_a_message() {
        // Nothing is kept before the first message.
        let mut kept = Deflater::new(15, 1, false);
        let mut dropped = Deflater::new(15, 1, true);
        assert_eq!(kept.context_len() + dropped.context_len(), 0);
        kept.compress(b"a message").unwrap();
        dropped.compress(b"a message").unwrap();
        // Context takeover keeps the plaintext; without it nothing is left.
        assert_eq!(kept.context_len(), 9);
        assert_eq!(dropped.context_len(), 0);
        // An empty message changes no context.
        kept.compress(b"").unwrap();
        assert_eq!(kept.context_len(), 9);
        // The inflater holds a stream while a message is under way, and
        // only the history after it.
        let mut inflater = Inflater::new(15, false);
        assert!(!inflater.is_allocated());
        let mut out = Vec::new();
        inflater.inflate(&HELLO[..3], &mut out, 100).unwrap();
        assert!(inflater.is_allocated());
        inflater.inflate(&HELLO[3..], &mut out, 100).unwrap();
        inflater.finish_message(&mut out, 100).unwrap();
        assert!(!inflater.is_allocated());
        assert_eq!(inflater.context_len(), 5);
        assert_eq!(inflater.history.bytes, b"Hello");
    }

    const HELLO: [u8; 7] = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];

    #[test]
    fn corrupt_data() {
        let err = inflate_all(&mut Inflater::new(15, false), &[0xff, 0xff, 0xff], 100);
        assert!(matches!(err, Err(InflateError::Corrupt(_))), "{err:?}");
    }

    #[test]
    fn a_small_message_leaves_a_small_buffer() {
        // The buffer of a message may be kept for the next one: a 1 KiB
        // message must not leave a 16 KiB chunk behind.
        let message = b"one kilobyte of text, more or less. ".repeat(28);
        let compressed = Deflater::new(15, 1, true).compress(&message).unwrap();
        let mut out = Vec::new();
        let mut inflater = Inflater::new(15, false);
        inflater.inflate(&compressed, &mut out, 1 << 20).unwrap();
        inflater.finish_message(&mut out, 1 << 20).unwrap();
        assert_eq!(out, message);
        assert!(out.capacity() < 2 * message.len(), "{}", out.capacity());
        // A large one still gets there, in rooms of up to a chunk.
        let large = b"a larger message ".repeat(10_000);
        let compressed = Deflater::new(15, 1, true).compress(&large).unwrap();
        assert_eq!(
            inflate_all(&mut inflater, &compressed, 1 << 20).unwrap(),
            large
        );
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

    #[test]
    fn the_limit_holds_with_a_kept_context() {
        let mut deflater = Deflater::new(15, 9, false);
        let mut inflater = Inflater::new(15, false);
        let warm = b"aaaa bbbb aaaa".repeat(100);
        let c = deflater.compress(&warm).unwrap();
        assert_eq!(inflate_all(&mut inflater, &c, 1 << 20).unwrap(), warm);
        assert_eq!(inflater.context_len(), warm.len());
        // A message at the limit, primed with the history, passes ...
        let exact = vec![b'a'; 4096];
        let c = deflater.compress(&exact).unwrap();
        assert_eq!(inflate_all(&mut inflater, &c, 4096).unwrap(), exact);
        // ... and a bomb after it stops within a chunk of the limit.
        let bomb = deflater.compress(&vec![b'a'; 10 << 20]).unwrap();
        assert!(bomb.len() < 20_000);
        let mut out = Vec::new();
        let err = inflater.inflate(&bomb, &mut out, 64 * 1024);
        assert_eq!(err, Err(InflateError::TooBig { limit: 64 * 1024 }));
        assert!(out.len() <= 64 * 1024 + INFLATE_CHUNK, "{}", out.len());
        // The failed connection keeps nothing.
        assert!(!inflater.is_allocated());
        assert_eq!(inflater.context_len(), 0);
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

        #[test]
        fn long_lived_peers_read_us_and_we_read_them(
            messages in proptest::collection::vec(proptest::collection::vec(0u8..8, 0..3000), 1..8),
            bits in 9u8..=15,
            level in 0u32..=9,
        ) {
            let mut ours = Deflater::new(bits, level, false);
            let mut peer_in = LongLivedReceiver::new(bits);
            let mut peer_out = LongLivedSender::new(bits, level);
            let mut our_in = Inflater::new(bits, false);
            for message in &messages {
                let compressed = ours.compress(message).unwrap();
                prop_assert_eq!(&peer_in.receive(&compressed), message);
                let theirs = peer_out.send(message);
                prop_assert_eq!(&inflate_all(&mut our_in, &theirs, 1 << 20).unwrap(), message);
            }
        }
    }
}

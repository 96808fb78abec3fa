//! The message every echo round trip sends: its payload (pseudo-random
//! bytes, or English-like text for a compressor to work on) and its bytes
//! on the wire (masked, compressed when the connection negotiated
//! permessage-deflate).

use wsconform_wire::deflate::Deflater;
use wsconform_wire::{FrameHeader, LengthForm, OpCode, SplitMix, apply_mask, encode_frame};

use super::connection::{DEFLATE_LEVEL, MASK_KEY};
use super::settings::PayloadKind;

/// Words of plain English prose, most frequent first. Drawn at random,
/// common ones more often, they compress about as well as chat messages
/// do: repeated words, no long repeated phrases.
const WORDS: [&str; 64] = [
    "the", "of", "and", "to", "a", "in", "is", "it", "you", "that", "he", "was", "for", "on",
    "are", "with", "as", "his", "they", "be", "at", "one", "have", "this", "from", "or", "had",
    "by", "word", "but", "what", "some", "we", "can", "out", "other", "were", "all", "there",
    "when", "up", "use", "your", "how", "said", "an", "each", "she", "which", "do", "their",
    "time", "if", "will", "way", "about", "many", "then", "them", "write", "would", "like", "so",
    "these",
];

/// `len` bytes of the given kind, the same on every run.
pub fn payload(kind: PayloadKind, len: usize) -> Vec<u8> {
    let mut rng = SplitMix::new(0x5eed);
    match kind {
        PayloadKind::Random => (0..len).map(|_| rng.next_u64().to_le_bytes()[0]).collect(),
        PayloadKind::Text => {
            let mut text = Vec::with_capacity(len + 16);
            while text.len() < len {
                let draw = rng.next_u64();
                // Frequent words more often, as in prose: the square of
                // a uniform draw in [0, 1) picks the low (common) indexes
                // more.
                let uniform = (draw & 0xffff_ffff) as f64 / (1u64 << 32) as f64;
                let index = (uniform * uniform * WORDS.len() as f64) as usize;
                let word = WORDS.get(index).copied().unwrap_or("the");
                text.extend_from_slice(word.as_bytes());
                // A sentence ends about every twelve words.
                text.extend_from_slice(if draw >> 32 & 0xf < 1 { b". " } else { b" " });
            }
            text.truncate(len);
            text
        }
    }
}

/// The bytes zlib at level 1 (32 KiB window) makes of a `len`-byte payload
/// of this kind, compressed on its own, without the sync flush's tail: the
/// compression goal a server's echo is held to.
pub fn level_one_size(kind: PayloadKind, len: usize) -> Option<usize> {
    Deflater::new(15, DEFLATE_LEVEL, true)
        .compress(&payload(kind, len))
        .map(|bytes| bytes.len())
}

/// The opcode a payload of this kind travels in.
pub(super) fn opcode(kind: PayloadKind) -> OpCode {
    match kind {
        PayloadKind::Random => OpCode::Binary,
        PayloadKind::Text => OpCode::Text,
    }
}

/// One masked frame of `payload`, compressed (RSV1 set) when `deflater`
/// compresses it.
pub(super) fn frame(opcode: OpCode, payload: &[u8], deflater: Option<&mut Deflater>) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 14);
    let Some(mut compressed) = deflater.and_then(|d| d.compress(payload)) else {
        encode_frame(&mut out, true, opcode, Some(MASK_KEY), payload);
        return out;
    };
    let header = FrameHeader {
        rsv1: true,
        mask: Some(MASK_KEY),
        ..FrameHeader::new(opcode, compressed.len() as u64)
    };
    if header.encode(LengthForm::Minimal, &mut out).is_err() {
        // A header that cannot be written (it cannot: the length fits):
        // send the message uncompressed instead.
        out.clear();
        encode_frame(&mut out, true, opcode, Some(MASK_KEY), payload);
        return out;
    }
    apply_mask(&mut compressed, MASK_KEY, 0);
    out.extend_from_slice(&compressed);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use wsconform_wire::deflate::Inflater;

    #[test]
    fn text_payloads_are_ascii_words_of_the_exact_length() {
        let text = payload(PayloadKind::Text, 16 * 1024);
        assert_eq!(text.len(), 16 * 1024);
        assert!(
            text.iter()
                .all(|b| b.is_ascii_lowercase() || b" .".contains(b))
        );
        assert_eq!(text, payload(PayloadKind::Text, 16 * 1024));
        assert_ne!(
            payload(PayloadKind::Random, 64),
            payload(PayloadKind::Text, 64)
        );
    }

    #[test]
    fn a_compressed_frame_inflates_to_the_payload() {
        let text = payload(PayloadKind::Text, 4000);
        let mut deflater = Deflater::new(15, 1, false);
        let bytes = frame(OpCode::Text, &text, Some(&mut deflater));
        assert!(bytes.len() < text.len() * 6 / 10, "{} bytes", bytes.len());
        let (header, used) = FrameHeader::parse(&bytes).unwrap();
        assert!(header.rsv1);
        let mut body = bytes[used..].to_vec();
        apply_mask(&mut body, MASK_KEY, 0);
        let mut inflater = Inflater::new(15, false);
        let mut out = Vec::new();
        inflater.inflate(&body, &mut out, 1 << 20).unwrap();
        inflater.finish_message(&mut out, 1 << 20).unwrap();
        assert_eq!(out, text);
    }

    #[test]
    fn without_a_deflater_the_frame_is_plain() {
        let bytes = frame(OpCode::Binary, b"abc", None);
        let (header, _) = FrameHeader::parse(&bytes).unwrap();
        assert!(!header.rsv1);
        assert_eq!(bytes.len(), 2 + 4 + 3);
    }
}

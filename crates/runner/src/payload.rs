//! Turning a scenario's [`Payload`] description into the bytes sent or expected.
//!
//! Payload descriptions are short (`{ len: 65536 }`) so that scenarios stay
//! readable; the bytes they stand for are produced here, deterministically:
//! the same scenario always sends the same bytes, so transcripts can be
//! compared between runs.

use crate::scenario::Payload;

/// The pseudo-random generator of payloads and masking keys; the wire
/// crate's, which also makes the handshake keys.
pub use wsconform_wire::SplitMix;

/// Masking keys for the frames the runner writes on its own accord (a pong
/// answering a ping, a close answering a close), deterministic so that
/// transcripts are the same from run to run.
#[derive(Debug, Clone)]
pub struct MaskKeys(u32);

impl MaskKeys {
    /// A sequence started from `seed`.
    pub fn new(seed: u32) -> MaskKeys {
        MaskKeys(seed)
    }

    /// The next key (a linear congruential step: cheap, and never repeats
    /// within a connection's lifetime of replies).
    pub fn next_key(&mut self) -> [u8; 4] {
        self.0 = self.0.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        self.0.to_be_bytes()
    }
}

/// A stable 64-bit hash of a text (FNV-1a), used to derive seeds from ids.
pub fn stable_hash(text: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

const ALPHANUMERIC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// The number of bytes a payload stands for, without making them.
pub fn payload_len(payload: &Payload) -> usize {
    match payload {
        Payload::Text(t) => t.len(),
        Payload::Hex(h) => h.0.len(),
        Payload::Fill { len, .. } | Payload::Random { len, .. } => *len,
        Payload::Json(v) => v.to_string().len(),
    }
}

/// The bytes a payload stands for. `text` says the payload goes into a text
/// message, where random bytes are drawn from ASCII letters and digits so
/// the message stays valid UTF-8.
pub fn payload_bytes(payload: &Payload, text: bool) -> Vec<u8> {
    match payload {
        Payload::Text(t) => t.as_bytes().to_vec(),
        Payload::Hex(h) => h.0.clone(),
        Payload::Fill { len, fill } => fill.as_bytes().iter().copied().cycle().take(*len).collect(),
        Payload::Random { len, seed } => {
            let mut rng = SplitMix::new(*seed);
            (0..*len)
                .map(|_| {
                    let r = rng.next_u64();
                    if text {
                        let index = (r % ALPHANUMERIC.len() as u64) as usize;
                        ALPHANUMERIC.get(index).copied().unwrap_or(b'a')
                    } else {
                        (r >> 56) as u8
                    }
                })
                .collect()
        }
        Payload::Json(v) => v.to_string().into_bytes(),
    }
}

/// A short human description of a payload for reports (`126 bytes of '*'`).
pub fn describe(payload: &Payload) -> String {
    match payload {
        Payload::Text(t) if t.len() <= 40 => format!("{t:?}"),
        Payload::Text(t) => format!("{} of text", crate::wording::count(t.len() as u64, "byte")),
        Payload::Hex(h) if h.0.len() <= 16 => format!("bytes {h}"),
        Payload::Hex(h) => format!(
            "{} given in hex",
            crate::wording::count(h.0.len() as u64, "byte")
        ),
        Payload::Fill { len, fill } => {
            format!("{} of {fill:?}", crate::wording::count(*len as u64, "byte"))
        }
        Payload::Random { len, seed } => format!("{len} random bytes (seed {seed})"),
        Payload::Json(v) => format!("JSON {v}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_repeats_and_cuts() {
        let p = Payload::Fill {
            len: 5,
            fill: "ab".into(),
        };
        assert_eq!(payload_bytes(&p, true), b"ababa");
    }

    #[test]
    fn random_is_reproducible_and_text_safe() {
        let p = Payload::Random { len: 64, seed: 9 };
        let a = payload_bytes(&p, true);
        assert_eq!(a, payload_bytes(&p, true));
        assert!(a.iter().all(u8::is_ascii_alphanumeric));
        let b = payload_bytes(&p, false);
        assert_eq!(b.len(), 64);
        assert_ne!(a, b);
    }
}

//! The two randomness rules of a client, as pure functions over the keys
//! seen: RFC 6455 §4.1 (the `Sec-WebSocket-Key` "MUST be selected randomly
//! for each connection") and §5.3 (the masking key "MUST pick a fresh
//! masking key from the set of allowed 32-bit values" for each frame,
//! "unpredictable").
//!
//! A truly random 32-bit key repeats among a few hundred frames with odds
//! of about one in a hundred thousand, so a repeat within one connection is
//! taken as the bug it almost always is; so is a run of keys that count up
//! by a constant step.

/// The §5.3 quote shown when a masking rule is broken.
pub const MASK_RULE: &str = "RFC 6455 5.3: \"The masking key is a 32-bit value chosen at random by the client. When preparing a masked frame, the client MUST pick a fresh masking key from the set of allowed 32-bit values.\"";

/// The §4.1 quote shown when a key is reused.
pub const KEY_RULE: &str =
    "RFC 6455 4.1: \"The nonce MUST be selected randomly for each connection.\"";

/// What is wrong with the masking keys of one connection's frames, in order.
pub fn mask_problem(keys: &[[u8; 4]]) -> Option<String> {
    for (i, key) in keys.iter().enumerate() {
        if let Some(j) = keys.iter().take(i).position(|k| k == key) {
            return Some(format!(
                "frames {} and {} use the same masking key {}",
                j + 1,
                i + 1,
                hex(key)
            ));
        }
    }
    let numbers: Vec<u32> = keys.iter().map(|k| u32::from_be_bytes(*k)).collect();
    if let [a, b, c, ..] = numbers.as_slice() {
        let step = b.wrapping_sub(*a);
        if c.wrapping_sub(*b) == step
            && numbers
                .windows(2)
                .all(|w| matches!(w, [x, y] if y.wrapping_sub(*x) == step))
        {
            return Some(format!(
                "the masking keys count up by {step} from frame to frame ({} …): predictable",
                keys.iter().take(3).map(hex).collect::<Vec<_>>().join(", ")
            ));
        }
    }
    None
}

fn hex(key: &[u8; 4]) -> String {
    key.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_keys_pass() {
        let keys = [
            [0x37, 0xfa, 0x21, 0x3d],
            [0x12, 0x00, 0xff, 0x01],
            [0x99, 0x42, 0x00, 0x07],
        ];
        assert_eq!(mask_problem(&keys), None);
        assert_eq!(mask_problem(&[]), None);
        assert_eq!(mask_problem(&[[0, 0, 0, 0]]), None);
    }

    #[test]
    fn a_repeated_key_is_named() {
        let keys = [[1, 2, 3, 4], [9, 9, 9, 9], [1, 2, 3, 4]];
        assert_eq!(
            mask_problem(&keys).unwrap(),
            "frames 1 and 3 use the same masking key 01020304"
        );
    }

    #[test]
    fn counting_keys_are_predictable() {
        let keys = [[0, 0, 0, 1], [0, 0, 0, 2], [0, 0, 0, 3], [0, 0, 0, 4]];
        assert!(mask_problem(&keys).unwrap().contains("count up by 1"));
        // Two keys are not enough to call it counting.
        assert_eq!(mask_problem(&keys[..2]), None);
    }
}

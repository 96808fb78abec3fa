//! Masking (RFC 6455 §5.3).
//!
//! Every frame a client sends is *masked*: each payload byte `i` is XORed with
//! byte `i % 4` of a random 4-byte key carried in the header. Masking is not
//! encryption — the key travels in clear — it exists so that a malicious page
//! cannot make a browser emit bytes that a confused proxy would mistake for an
//! HTTP request (the "cache poisoning" attack that motivated §10.3).
//!
//! XOR is its own inverse, so the same function masks and unmasks.

/// Masks or unmasks `buf` in place, the plain way: one byte at a time.
///
/// `offset` is the position of `buf[0]` within the frame's payload. It matters
/// when a payload arrives in several reads: the second read continues the key
/// where the first stopped. This is the definition the fast version is tested
/// against.
///
/// ```
/// use wsconform_wire::apply_mask_bytewise;
/// // RFC 6455 §5.7: "Hello" masked with 37 fa 21 3d.
/// let mut data = *b"Hello";
/// apply_mask_bytewise(&mut data, [0x37, 0xfa, 0x21, 0x3d], 0);
/// assert_eq!(data, [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
/// ```
#[allow(clippy::indexing_slicing)] // `% 4` into a `[u8; 4]`: always in bounds
// ANCHOR: apply_mask_bytewise
pub fn apply_mask_bytewise(buf: &mut [u8], key: [u8; 4], offset: usize) {
    for (i, byte) in buf.iter_mut().enumerate() {
        *byte ^= key[(offset + i) % 4];
    }
}
// ANCHOR_END: apply_mask_bytewise

/// Masks or unmasks `buf` in place, 32 bytes at a time.
///
/// Same result as [`apply_mask_bytewise`] for every buffer, key and offset
/// (a test checks it), but fast: the key is rotated to line up with
/// `offset` and repeated into a 32-byte pattern, and the buffer is XORed
/// with that pattern one 32-byte block at a time. A block of a fixed size
/// lets the compiler use SIMD registers (16 or 32 bytes per instruction) and
/// drop the `% 4`, so masking runs at close to the speed of copying memory.
/// Only the last few bytes go one at a time.
///
/// ```
/// use wsconform_wire::apply_mask;
/// let key = [0x37, 0xfa, 0x21, 0x3d];
/// let mut data = *b"Hello";
/// apply_mask(&mut data, key, 0);
/// apply_mask(&mut data, key, 0); // XOR twice gives the original back
/// assert_eq!(&data, b"Hello");
/// ```
#[allow(clippy::indexing_slicing)] // `% 4` into a `[u8; 4]`: always in bounds
// ANCHOR: apply_mask
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    // Rotate the key so that rotated[0] applies to buf[0].
    let shift = offset % 4;
    let rotated = [
        key[shift],
        key[(shift + 1) % 4],
        key[(shift + 2) % 4],
        key[(shift + 3) % 4],
    ];
    let mut pattern = [0u8; 32];
    for (i, byte) in pattern.iter_mut().enumerate() {
        *byte = rotated[i % 4];
    }
    let mut blocks = buf.chunks_exact_mut(32);
    for block in &mut blocks {
        for (byte, mask) in block.iter_mut().zip(pattern) {
            *byte ^= mask;
        }
    }
    // Whole blocks are multiples of 4 bytes, so the tail starts at key index 0.
    for (i, byte) in blocks.into_remainder().iter_mut().enumerate() {
        *byte ^= rotated[i % 4];
    }
}
// ANCHOR_END: apply_mask

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_example() {
        let mut data = *b"Hello";
        apply_mask(&mut data, [0x37, 0xfa, 0x21, 0x3d], 0);
        assert_eq!(data, [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    }

    #[test]
    fn every_length_alignment_and_offset_matches_the_definition() {
        let key = [0x12, 0x34, 0x56, 0x78];
        let source: Vec<u8> = (0..=255u8).map(|b| b.wrapping_mul(31)).collect();
        for start in 0..8 {
            for len in 0..100 {
                for offset in 0..9 {
                    let mut fast = source.clone();
                    let mut slow = source.clone();
                    apply_mask(&mut fast[start..start + len], key, offset);
                    apply_mask_bytewise(&mut slow[start..start + len], key, offset);
                    assert_eq!(fast, slow, "start={start} len={len} offset={offset}");
                }
            }
        }
    }
}

//! Incremental UTF-8 validation (RFC 6455 §5.6, §8.1).
//!
//! A text message must be valid UTF-8, but it may arrive in many frames and
//! each frame in many TCP reads. A multi-byte character can be cut anywhere.
//! Waiting for the whole message before checking works, but it is slow to fail:
//! a peer could send megabytes after the first impossible byte. RFC 6455 §8.1
//! says an endpoint that receives invalid UTF-8 "MUST _Fail the WebSocket
//! Connection_", and good servers do so at the first byte that makes the text
//! impossible. That needs a validator that remembers where it is inside a
//! character between calls — this one.

/// Where validation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Utf8Error {
    /// Offset, counted from the start of the whole stream (all calls to
    /// [`Utf8Validator::feed`] together), of the byte at which the text became
    /// impossible. For an incomplete tail this is the stream length.
    pub position: u64,
    /// True when the bytes so far were a valid prefix but the stream ended in
    /// the middle of a character (reported by [`Utf8Validator::finish`]).
    pub incomplete: bool,
}

impl std::fmt::Display for Utf8Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.incomplete {
            write!(
                f,
                "text ends in the middle of a UTF-8 sequence (after byte {})",
                self.position
            )
        } else {
            write!(f, "invalid UTF-8 at byte {}", self.position)
        }
    }
}

impl std::error::Error for Utf8Error {}

/// A UTF-8 validator that can be fed a stream in pieces of any size.
///
/// ```
/// use wsconform_wire::Utf8Validator;
/// let euro = "€".as_bytes(); // e2 82 ac
/// let mut v = Utf8Validator::new();
/// v.feed(&euro[..1]).unwrap();   // a valid beginning...
/// assert!(!v.is_at_boundary());  // ...but not a whole character yet
/// v.feed(&euro[1..]).unwrap();
/// v.finish().unwrap();
///
/// let mut v = Utf8Validator::new();
/// let err = v.feed(&[b'a', 0xe2, 0x28]).unwrap_err();
/// assert_eq!(err.position, 2); // 0x28 cannot continue 0xe2
/// ```
#[derive(Debug, Clone, Default)]
pub struct Utf8Validator {
    /// Continuation bytes still expected for the current character.
    needed: u8,
    /// Allowed range for the *next* continuation byte. Most continuation bytes
    /// are 0x80..=0xBF, but the second byte after E0, ED, F0 and F4 is
    /// narrower: that is how UTF-8 forbids overlong forms, UTF-16 surrogates
    /// (U+D800..U+DFFF) and code points above U+10FFFF.
    low: u8,
    high: u8,
    /// Bytes accepted so far.
    consumed: u64,
}

impl Utf8Validator {
    /// A validator at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets everything: ready for the next message.
    pub fn reset(&mut self) {
        *self = Self::default();
    }

    /// True when the bytes so far end on a character boundary.
    pub fn is_at_boundary(&self) -> bool {
        self.needed == 0
    }

    /// Checks the next piece of the stream.
    ///
    /// Fails at the first byte that no valid continuation could follow. After
    /// an error the validator should not be used again (call [`reset`](Self::reset)).
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), Utf8Error> {
        let mut rest = bytes;
        // Finish a character left open by the previous call, byte by byte.
        while self.needed > 0 {
            let Some((&b, tail)) = rest.split_first() else {
                return Ok(());
            };
            self.step(b)?;
            rest = tail;
        }
        // Fast path: the standard library validates whole slices very quickly.
        match std::str::from_utf8(rest) {
            Ok(_) => {
                self.consumed += rest.len() as u64;
                Ok(())
            }
            Err(e) => {
                let good = e.valid_up_to();
                self.consumed += good as u64;
                // Walk the remainder byte by byte: either it is an incomplete
                // tail (fine for now) or we find the exact impossible byte.
                for &b in rest.get(good..).unwrap_or_default() {
                    self.step(b)?;
                }
                Ok(())
            }
        }
    }

    /// Declares the end of the stream: an open character is now an error.
    pub fn finish(&mut self) -> Result<(), Utf8Error> {
        if self.needed > 0 {
            Err(Utf8Error {
                position: self.consumed,
                incomplete: true,
            })
        } else {
            Ok(())
        }
    }

    fn step(&mut self, b: u8) -> Result<(), Utf8Error> {
        let fail = Utf8Error {
            position: self.consumed,
            incomplete: false,
        };
        if self.needed > 0 {
            if b < self.low || b > self.high {
                return Err(fail);
            }
            self.needed -= 1;
            self.low = 0x80;
            self.high = 0xBF;
        } else {
            // ANCHOR: utf8_step
            let (needed, low, high) = match b {
                0x00..=0x7F => (0, 0x80, 0xBF),
                0xC2..=0xDF => (1, 0x80, 0xBF),
                0xE0 => (2, 0xA0, 0xBF),
                0xE1..=0xEC | 0xEE..=0xEF => (2, 0x80, 0xBF),
                0xED => (2, 0x80, 0x9F),
                0xF0 => (3, 0x90, 0xBF),
                0xF1..=0xF3 => (3, 0x80, 0xBF),
                0xF4 => (3, 0x80, 0x8F),
                // 0x80..=0xC1 (stray continuation or overlong lead) and 0xF5..
                _ => return Err(fail),
            };
            // ANCHOR_END: utf8_step
            self.needed = needed;
            self.low = low;
            self.high = high;
        }
        self.consumed += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first_error(bytes: &[u8]) -> Option<u64> {
        let mut v = Utf8Validator::new();
        v.feed(bytes).err().map(|e| e.position)
    }

    #[test]
    fn fails_at_the_first_impossible_byte() {
        assert_eq!(first_error(b"hello"), None);
        assert_eq!(first_error(&[0xC0, 0x80]), Some(0)); // overlong lead
        assert_eq!(first_error(&[0xE0, 0x80, 0x80]), Some(1)); // overlong 3-byte
        assert_eq!(first_error(&[0xED, 0xA0, 0x80]), Some(1)); // surrogate
        assert_eq!(first_error(&[0xF4, 0x90, 0x80, 0x80]), Some(1)); // > U+10FFFF
        assert_eq!(first_error(&[0xF5]), Some(0));
        assert_eq!(first_error(b"ab\x80"), Some(2));
        // Autobahn 6.3.1: "κόσμε" followed by an ED A0 80 surrogate.
        let mut bytes = "κόσμε".as_bytes().to_vec();
        bytes.extend_from_slice(&[0xED, 0xA0, 0x80, b'e', b'd', b'i', b't', b'e', b'd']);
        assert_eq!(first_error(&bytes), Some(11));
    }

    #[test]
    fn incomplete_tail_is_only_an_error_at_the_end() {
        let mut v = Utf8Validator::new();
        v.feed(&[b'x', 0xF0, 0x9F]).unwrap();
        assert!(!v.is_at_boundary());
        assert_eq!(
            v.finish(),
            Err(Utf8Error {
                position: 3,
                incomplete: true
            })
        );
    }

    #[test]
    fn any_split_agrees_with_the_standard_library() {
        let samples: Vec<Vec<u8>> = vec![
            "Hello-µ@ßöäüàá-UTF-8!!".as_bytes().to_vec(),
            "κόσμε 𝄞 €".as_bytes().to_vec(),
            vec![
                0xCE, 0xBA, 0xE1, 0xBD, 0xB9, 0xCF, 0x83, 0xCE, 0xBC, 0xCE, 0xB5, 0xF4, 0x90,
            ],
            vec![0xF0, 0x9F, 0x98, 0x80, 0xED, 0x9F, 0xBF],
        ];
        for s in &samples {
            for split in 0..=s.len() {
                let mut v = Utf8Validator::new();
                let ok = v.feed(&s[..split]).and_then(|()| v.feed(&s[split..]));
                let ok = ok.and_then(|()| v.finish());
                assert_eq!(
                    ok.is_ok(),
                    std::str::from_utf8(s).is_ok(),
                    "{s:x?} at {split}"
                );
            }
        }
    }
}

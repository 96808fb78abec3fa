//! Hex text to bytes and back, the way scenarios and reports write bytes.
//!
//! Scenarios write bytes the way people read them in a packet dump:
//! `"81 85 37fa213d"`. Spaces, newlines, `_`, `:` and `-` are ignored so that
//! bytes may be grouped freely; anything else must be a hex digit.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer};

/// Bytes written in hex in a scenario.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Hex(pub Vec<u8>);

/// Parses hex text, ignoring separators; says which character is wrong.
pub fn parse_hex(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(text.len() / 2);
    let mut high: Option<u8> = None;
    for (index, c) in text.char_indices() {
        if c.is_whitespace() || matches!(c, '_' | ':' | '-') {
            continue;
        }
        let Some(nibble) = c.to_digit(16) else {
            return Err(format!(
                "bad hex '{text}': '{c}' at position {} is not a hex digit (0-9, a-f)",
                index + 1
            ));
        };
        let nibble = nibble as u8;
        match high.take() {
            Some(h) => out.push(h << 4 | nibble),
            None => high = Some(nibble),
        }
    }
    if high.is_some() {
        return Err(format!(
            "bad hex '{text}': odd number of hex digits (each byte is two digits)"
        ));
    }
    Ok(out)
}

/// Writes bytes as lowercase hex pairs separated by spaces.
pub fn to_hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(&format!("{b:02x}"));
    }
    out
}

impl fmt::Display for Hex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&to_hex(&self.0))
    }
}

impl<'de> Deserialize<'de> for Hex {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        parse_hex(&text).map(Hex).map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_grouped_hex() {
        assert_eq!(
            parse_hex("81 85 37fa213d").unwrap(),
            vec![0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d]
        );
        assert_eq!(parse_hex("").unwrap(), Vec::<u8>::new());
    }

    #[test]
    fn rejects_bad_digits_and_odd_length() {
        assert!(parse_hex("8g").unwrap_err().contains("'g' at position 2"));
        assert!(parse_hex("818").unwrap_err().contains("odd number"));
    }
}

//! Durations as scenarios and the command line write them: `500ms`, `2s`,
//! `1.5s`, `1m` — parsed by `humantime`, capped at an hour.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;

/// The longest duration a scenario or an option may ask for: a typo must
/// not make a run wait for days.
const LONGEST: Duration = Duration::from_secs(3600);

/// A duration written with a unit: `500ms`, `2s`, `1.5s`, `1m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Dur(pub Duration);

impl Dur {
    /// Parses `500ms`, `2s`, `1.5s` or `1m` (and the other forms `humantime`
    /// reads, such as `1m30s`), from zero to one hour.
    pub fn parse(text: &str) -> Result<Dur, String> {
        let text = text.trim();
        // A text without one of the three units documented needs a unit;
        // one with a unit but a bad number is not a duration.
        let documented_unit = ["ms", "s", "m"].iter().any(|unit| text.ends_with(unit));
        let duration = humantime::parse_duration(text).map_err(|_| {
            if documented_unit {
                format!("'{text}' is not a duration: write it like 500ms, 2s or 1m")
            } else {
                format!("duration '{text}' needs a unit: write it like 500ms, 2s or 1m")
            }
        })?;
        if duration > LONGEST {
            return Err(format!("duration '{text}' is out of range (0 to 1 hour)"));
        }
        Ok(Dur(duration))
    }
}

impl TryFrom<String> for Dur {
    type Error = String;

    fn try_from(text: String) -> Result<Dur, String> {
        Dur::parse(&text)
    }
}

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if ms.is_multiple_of(1000) && ms > 0 {
            write!(f, "{} s", ms / 1000)
        } else {
            write!(f, "{ms} ms")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_fractions_and_the_cap() {
        let ms = |text: &str| Dur::parse(text).map(|d| d.0.as_millis());
        for (text, millis) in [
            ("500ms", 500),
            (" 2s ", 2000),
            ("1.5s", 1500),
            ("1m", 60_000),
            ("0s", 0),
            ("60m", 3_600_000),
        ] {
            assert_eq!(ms(text), Ok(millis), "{text}");
        }
        for (text, message) in [
            ("2", "duration '2' needs a unit"),
            ("fast", "duration 'fast' needs a unit"),
            ("1.2.3s", "'1.2.3s' is not a duration"),
            ("61m", "duration '61m' is out of range (0 to 1 hour)"),
        ] {
            let error = ms(text).unwrap_err();
            assert!(error.starts_with(message), "{text}: {error}");
        }
        assert!(
            ms("2")
                .unwrap_err()
                .ends_with(": write it like 500ms, 2s or 1m")
        );
    }

    #[test]
    fn shown_in_whole_seconds_when_it_is_some() {
        assert_eq!(Dur(Duration::from_secs(2)).to_string(), "2 s");
        assert_eq!(Dur(Duration::from_millis(1500)).to_string(), "1500 ms");
        assert_eq!(Dur(Duration::ZERO).to_string(), "0 ms");
    }
}

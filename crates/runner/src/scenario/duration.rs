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
        if ms % 1000 == 0 && ms > 0 {
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
        assert_eq!(ms("500ms"), Ok(500));
        assert_eq!(ms(" 2s "), Ok(2000));
        assert_eq!(ms("1.5s"), Ok(1500));
        assert_eq!(ms("1m"), Ok(60_000));
        assert_eq!(ms("0s"), Ok(0));
        assert_eq!(ms("60m"), Ok(3_600_000));
        assert_eq!(
            ms("2"),
            Err("duration '2' needs a unit: write it like 500ms, 2s or 1m".into())
        );
        assert_eq!(
            ms("fast"),
            Err("duration 'fast' needs a unit: write it like 500ms, 2s or 1m".into())
        );
        assert_eq!(
            ms("1.2.3s"),
            Err("'1.2.3s' is not a duration: write it like 500ms, 2s or 1m".into())
        );
        assert_eq!(
            ms("61m"),
            Err("duration '61m' is out of range (0 to 1 hour)".into())
        );
    }

    #[test]
    fn shown_in_whole_seconds_when_it_is_some() {
        assert_eq!(Dur(Duration::from_secs(2)).to_string(), "2 s");
        assert_eq!(Dur(Duration::from_millis(1500)).to_string(), "1500 ms");
        assert_eq!(Dur(Duration::ZERO).to_string(), "0 ms");
    }
}

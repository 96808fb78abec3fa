//! What a class is graded on: `--up-to CHAPTER` (the chapters taught so
//! far) and `--weight CHAPTER=N` (points of a chapter multiplied by N).

use crate::chapter;
use crate::load::LoadedScenario;

/// The scenarios of the chapters up to and including `wanted` (a chapter as
/// `--chapter` names it: `03-lengths`, `lengths` or `03`), in the suite's
/// order. Chapters come in the order the suite lists them.
pub fn up_to(scenarios: &[LoadedScenario], wanted: &str) -> Result<Vec<LoadedScenario>, String> {
    let mut order: Vec<&str> = Vec::new();
    for s in scenarios {
        if !order.contains(&s.chapter.as_str()) {
            order.push(&s.chapter);
        }
    }
    let Some(last) = order.iter().position(|c| chapter::matches(c, wanted)) else {
        return Err(format!(
            "--up-to {wanted}: no such chapter; the chapters are {}",
            order.join(", ")
        ));
    };
    let kept = order.get(..=last).unwrap_or_default();
    Ok(scenarios
        .iter()
        .filter(|s| kept.contains(&s.chapter.as_str()))
        .cloned()
        .collect())
}

/// Point weights per chapter (`--weight 09-chat=2`); a chapter not named
/// weighs 1.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Weights(pub Vec<(String, u32)>);

impl Weights {
    /// Parses `CHAPTER=N` items.
    pub fn parse(items: &[String]) -> Result<Weights, String> {
        let mut out = Vec::new();
        for item in items {
            let parsed = item
                .split_once('=')
                .and_then(|(c, n)| Some((c.trim().to_string(), n.trim().parse::<u32>().ok()?)));
            match parsed {
                Some(pair) => out.push(pair),
                None => {
                    return Err(format!(
                        "--weight '{item}': write it as CHAPTER=N, e.g. 09-chat=2"
                    ));
                }
            }
        }
        Ok(Weights(out))
    }

    /// The weight of a chapter folder.
    pub fn of(&self, folder: &str) -> u32 {
        self.0
            .iter()
            .find(|(wanted, _)| chapter::matches(folder, wanted))
            .map_or(1, |(_, weight)| *weight)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn up_to_keeps_the_chapters_before_and_including() {
        let suite = crate::load::bundled().unwrap();
        let first_two: Vec<String> = {
            let mut chapters: Vec<String> = suite.iter().map(|s| s.chapter.clone()).collect();
            chapters.dedup();
            chapters.into_iter().take(2).collect()
        };
        let kept = up_to(&suite, &first_two[1]).unwrap();
        assert!(!kept.is_empty());
        assert!(kept.iter().all(|s| first_two.contains(&s.chapter)));
        assert!(kept.len() < suite.len());
        assert!(up_to(&suite, "no-such-chapter").is_err());
    }

    #[test]
    fn weights_default_to_one() {
        let w = Weights::parse(&["chat=3".to_string()]).unwrap();
        assert_eq!(w.of("09-chat"), 3);
        assert_eq!(w.of("01-handshake"), 1);
        assert!(Weights::parse(&["chat".to_string()]).is_err());
    }
}

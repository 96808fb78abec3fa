//! Failures grouped by cause: one server bug fails many scenarios the same
//! way (a server that answers a close by closing TCP fails every closing
//! scenario), and a learner needs to read it once, not twenty-six times.
//!
//! Two failures share a cause when what the run recognised (the first
//! [`diagnosis`](crate::verdict::ScenarioResult::diagnosis)) or, without
//! one, their `Actual:` line is the same once numbers and payloads are set
//! aside. Groups keep the order of the run (chapter order), so the first
//! group is the first thing to fix.

use crate::verdict::ScenarioResult;

/// Failures with one cause, in run order.
#[derive(Debug, Clone, PartialEq)]
pub struct FailureGroup<'r> {
    /// The failures; the first is shown in full.
    pub members: Vec<&'r ScenarioResult>,
}

impl<'r> FailureGroup<'r> {
    /// The failure shown in full.
    pub fn first(&self) -> &'r ScenarioResult {
        // A group is made with its first member and never emptied.
        #[allow(clippy::indexing_slicing)]
        self.members[0]
    }

    /// The cause in a few words: the diagnosis when there is one, else the
    /// `Actual:` line of the first failure.
    pub fn cause(&self) -> String {
        let first = self.first();
        match (first.diagnosis.first(), &first.failure) {
            (Some(d), _) => d.clone(),
            (None, Some(f)) => f.actual.clone(),
            (None, None) => first.message.clone(),
        }
    }
}

/// The key two failures with one cause share: the text with its numbers,
/// quoted payloads, hex and parentheses replaced by placeholders.
pub fn cause_key(r: &ScenarioResult) -> String {
    let text = match (r.diagnosis.first(), &r.failure) {
        (Some(d), _) => d.as_str(),
        (None, Some(f)) => f.actual.as_str(),
        (None, None) => r.message.as_str(),
    };
    let mut key = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '0'..='9' => {
                while chars.peek().is_some_and(char::is_ascii_digit) {
                    chars.next();
                }
                key.push('#');
            }
            '"' | '[' | '(' => {
                let close = match c {
                    '"' => '"',
                    '[' => ']',
                    _ => ')',
                };
                for d in chars.by_ref() {
                    if d == close {
                        break;
                    }
                }
                key.push('…');
            }
            _ => key.push(c),
        }
    }
    key
}

/// Groups `failures` by [`cause_key`], in order of first appearance.
pub fn group<'r>(failures: &[&'r ScenarioResult]) -> Vec<FailureGroup<'r>> {
    let mut groups: Vec<(String, FailureGroup<'r>)> = Vec::new();
    for r in failures {
        let key = cause_key(r);
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, g)) => g.members.push(r),
            None => groups.push((key, FailureGroup { members: vec![r] })),
        }
    }
    groups.into_iter().map(|(_, g)| g).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::parse_scenario;
    use crate::verdict::{Failure, Outcome};

    fn failed(id: &str, actual: &str) -> ScenarioResult {
        let loaded = parse_scenario(
            "x.yaml",
            &format!("id: {id}\ntitle: T\nsteps:\n  - handshake\n"),
        )
        .unwrap();
        let mut r = ScenarioResult::for_scenario(&loaded, Outcome::Fail);
        r.failure = Some(Failure {
            step: Some(1),
            client: "client".into(),
            expected: "x".into(),
            actual: actual.into(),
            rule: None,
            caret: None,
            prerequisite: false,
            strength: crate::scenario::Strength::Must,
            reason: None,
        });
        r
    }

    #[test]
    fn numbers_and_payloads_do_not_split_a_cause() {
        let a = failed(
            "a.a",
            "an incomplete frame: the header announces 32256 payload bytes, 126 present",
        );
        let b = failed(
            "a.b",
            "an incomplete frame: the header announces 32512 payload bytes, 127 present",
        );
        let c = failed("a.c", "a text message of 5 bytes: \"Hello\"");
        let d = failed("a.d", "a text message of 6 bytes: \"Hello!\"");
        let e = failed("a.e", "the server closed the TCP connection");
        let all = [&a, &b, &c, &d, &e];
        let groups = group(&all);
        let sizes: Vec<usize> = groups.iter().map(|g| g.members.len()).collect();
        assert_eq!(sizes, [2, 2, 1]);
        assert_eq!(groups[0].first().id, "a.a");
    }

    #[test]
    fn a_diagnosis_is_the_cause() {
        let mut a = failed("a.a", "nothing");
        let mut b = failed("a.b", "the server closed the TCP connection");
        a.diagnosis = vec!["one frame per read".into()];
        b.diagnosis = vec!["one frame per read".into()];
        let groups = group(&[&a, &b]);
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].cause(), "one frame per read");
    }
}

//! Hints speak of bytes and steps: a student may write the server in any
//! language, so no hint names one language's API.

use wsconform_runner::load::{bundled, bundled_clients};

/// Spellings that belong to one language's library, not to the protocol.
const API_WORDS: &[&str] = &[
    "from_be_bytes",
    "to_be_bytes",
    "eq_ignore_ascii_case",
    "Vec<u8>",
    "read_exact",
    "tokio::",
    "std::",
    "unwrap",
    "read()",
    "struct.unpack",
    "with_capacity",
    "Vec::",
];

#[test]
fn no_hint_names_a_language_api() {
    let mut scenarios = bundled().unwrap_or_else(|e| panic!("the bundled suite loads: {e:?}"));
    scenarios.extend(bundled_clients().unwrap_or_else(|e| panic!("the client suite loads: {e:?}")));
    let offenders: Vec<String> = scenarios
        .iter()
        .filter_map(|s| {
            let hint = s.scenario.hint.as_deref()?;
            let word = API_WORDS.iter().find(|w| hint.contains(**w))?;
            Some(format!("{}: {word}", s.scenario.id))
        })
        .collect();
    assert!(
        offenders.is_empty(),
        "language-specific hints:\n{}",
        offenders.join("\n")
    );
}

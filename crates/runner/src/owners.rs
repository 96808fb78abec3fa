//! One owner per concept: the code that several parts of the workspace need
//! is written once, and this test fails when a second copy appears.
//!
//! Each rule names a marker (a constant or a call that only the owner may
//! contain) and the one file allowed to contain it. `PENDING` lists copies
//! known to remain, each to be switched to the owner; an entry fails once its
//! file no longer holds the marker, so the list cannot go stale.

use std::path::Path;

use crate::layering::{code_of, rust_sources};

/// (marker, the owner's path relative to `crates/`, what the concept is,
/// where copies are looked for). The testbed's mutants are out of scope for
/// the reading rules: each reimplements a rule wrongly on purpose.
const OWNERS: &[(&str, &str, &str, &str)] = &[
    (
        "0x9e37_79b9_7f4a_7c15",
        "wire/src/splitmix.rs",
        "the SplitMix64 generator",
        "",
    ),
    (
        "1_664_525",
        "runner/src/payload.rs",
        "the masking keys of the runner's replies",
        "",
    ),
    (
        "Utf8Validator::new",
        "wire/src/",
        "reading frames: the wire crate's reader",
        "runner/",
    ),
    (
        "check_server_frame(",
        "wire/src/",
        "reading frames: the wire crate's reader",
        "runner/",
    ),
    (
        "Decoder::new(Role::Client",
        "wire/src/",
        "reading a server's frames: the wire crate's reader",
        "runner/",
    ),
    (
        "rfc6455#section-",
        "runner/src/lib.rs",
        "the RFC 6455 link (rfc_link)",
        "",
    ),
    (
        "reserved-0x",
        "wire/src/frame.rs",
        "opcode names (OpCode::name, OpCode::long_name)",
        "",
    ),
    (
        "split_once('-')",
        "runner/src/chapter.rs",
        "a chapter folder's name (chapter::name)",
        "runner/",
    ),
    (
        "non_strict: Vec::new(),",
        "runner/src/verdict.rs",
        "a result carrying a scenario's metadata (ScenarioResult::for_scenario)",
        "runner/",
    ),
    (
        "parse_response(",
        "runner/src/connect.rs",
        "reading a handshake response (connect::read_response)",
        "runner/",
    ),
];

/// Copies still to be switched to their owner: (file relative to `crates/`, marker).
const PENDING: &[(&str, &str)] = &[
    (
        "runner/src/bench/connection.rs",
        "Decoder::new(Role::Client",
    ),
    ("runner/src/scenario/frame.rs", "reserved-0x"),
    ("runner/src/suite.rs", "split_once('-')"),
    ("runner/src/report/detail.rs", "split_once('-')"),
    ("runner/src/suite.rs", "non_strict: Vec::new(),"),
    ("runner/src/bench/connection.rs", "parse_response("),
];

#[test]
fn each_concept_is_written_once() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    // Tests may spell anything; benches measure, they do not read frames.
    let files = rust_sources(&crates, &["tests", "benches", "target"]);
    assert!(files.len() > 20, "the sources are found: {}", files.len());
    let mut strays = Vec::new();
    for path in &files {
        let relative = path
            .strip_prefix(&crates)
            .unwrap_or(path)
            .to_string_lossy()
            .replace('\\', "/");
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let code = code_of(&text);
        for (marker, owner, concept, scope) in OWNERS {
            if !relative.starts_with(scope) || !code.contains(marker) || relative.starts_with(owner)
            {
                continue;
            }
            if relative.ends_with("_tests.rs") || relative.ends_with("/owners.rs") {
                continue;
            }
            if PENDING.contains(&(relative.as_str(), marker)) {
                continue;
            }
            strays.push(format!("{relative}: {concept} belongs to {owner}"));
        }
    }
    assert!(strays.is_empty(), "second copies:\n{}", strays.join("\n"));
}

#[test]
fn pending_copies_still_exist() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for (file, marker) in PENDING {
        let text = std::fs::read_to_string(crates.join(file)).unwrap_or_default();
        assert!(
            text.contains(marker),
            "{file} no longer holds {marker:?}: remove it from PENDING"
        );
    }
}

//! `cargo xtask owners`: each concept that used to be written in several
//! places has one owner, and stays there.
//!
//! A duplicate removed by hand comes back the next time someone needs the
//! same thing and does not know where it lives. So the owners are data: a
//! table of (concept, pattern, owner). The check scans every `.rs` file of
//! `crates/` and `xtask/` (tests included: a test that needs the concept
//! calls the owner too) and fails naming the file and line of each match
//! outside the owner. The fix is to call the owner, not to rename the copy.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use regex::Regex;

/// One concept and the one place allowed to write it.
#[derive(Debug, Clone, Copy)]
pub struct Owner {
    /// What the concept is, for the failure message.
    pub what: &'static str,
    /// A regular expression that finds a definition (or a hand-made copy).
    pub pattern: &'static str,
    /// The file, or the folder ending in `/`, that may contain it (relative
    /// to the project root).
    pub owner: &'static str,
    /// Where a copy is a second definition: a folder ending in `/` (empty:
    /// everywhere). Reading frames, for instance, is the wire crate's job in
    /// the runner, while the server and the testbed's mutants have their own
    /// reasons to read frames.
    pub scope: &'static str,
}

/// The owners. This file itself is not scanned: it spells every pattern.
pub const OWNERS: &[Owner] = &[
    Owner {
        what: "starting the reference server (call wsconform_server::spawn)",
        pattern: r"wsconform_server::(bind\b|\{[^}]*\bbind\b)",
        owner: "crates/server/",
        scope: "",
    },
    Owner {
        what: "SplitMix64's increment (use wsconform_wire::SplitMix)",
        pattern: r"(?i)0x9e37_?79b9_?7f4a_?7c15",
        owner: "crates/wire/src/splitmix.rs",
        scope: "",
    },
    Owner {
        what: "the link to a section of RFC 6455 (wsconform_runner::rfc_link)",
        pattern: r"rfc-editor\.org/rfc/rfc6455",
        owner: "crates/runner/src/lib.rs",
        scope: "",
    },
    Owner {
        what: "the masking keys of the runner's frames (payload::MaskKeys)",
        pattern: r"1_?664_?525",
        owner: "crates/runner/src/payload.rs",
        scope: "",
    },
    Owner {
        what: "opcode names (OpCode::name, OpCode::long_name)",
        pattern: r"reserved-0x|\(reserved\)",
        owner: "crates/wire/src/frame.rs",
        scope: "crates/runner/src/",
    },
    Owner {
        what: "reading a server's frames (wsconform_wire::FrameReader)",
        pattern: r"Utf8Validator::new|check_server_frame\(|Decoder::new\(Role::Client",
        owner: "crates/wire/",
        scope: "crates/runner/",
    },
    Owner {
        what: "a chapter folder's name and number (wsconform_runner::chapter)",
        pattern: r"split_once\('-'\)",
        owner: "crates/runner/src/chapter.rs",
        scope: "",
    },
    Owner {
        what: "a result carrying a scenario's metadata (ScenarioResult::for_scenario)",
        pattern: r"notes: Vec::new\(\),",
        owner: "crates/runner/src/verdict.rs",
        scope: "crates/runner/src/",
    },
    Owner {
        what: "reading a handshake response (wsconform_runner::connect)",
        pattern: r"parse_response\(",
        owner: "crates/runner/src/connect.rs",
        scope: "crates/runner/",
    },
];

/// A match of a concept outside its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stray {
    /// The file, relative to the project root.
    pub path: PathBuf,
    /// 1-based line number.
    pub line: usize,
    /// The concept's [`Owner::what`].
    pub what: &'static str,
    /// The concept's [`Owner::owner`].
    pub owner: &'static str,
}

/// Runs the check over the workspace.
pub fn run() -> Result<()> {
    let sources = crate::workspace_sources()?;
    let strays = strays(OWNERS, &sources)?;
    if strays.is_empty() {
        eprintln!(
            "owners: each of {} concepts is written only by its owner",
            OWNERS.len()
        );
        return Ok(());
    }
    let lines: Vec<String> = strays
        .iter()
        .map(|s| {
            format!(
                "  {}:{}: {}; its owner is {}",
                s.path.display(),
                s.line,
                s.what,
                s.owner
            )
        })
        .collect();
    bail!(
        "{} second definition(s) of a concept that has one owner:\n{}",
        strays.len(),
        lines.join("\n")
    )
}

/// Every match of an owner's pattern in `sources` (path, text) outside the
/// owner, in the order of `sources` and then of lines.
pub fn strays(owners: &[Owner], sources: &[(PathBuf, String)]) -> Result<Vec<Stray>> {
    let compiled = owners
        .iter()
        .map(|o| {
            Regex::new(o.pattern)
                .with_context(|| format!("bad pattern for '{}': {}", o.what, o.pattern))
                .map(|regex| (o, regex))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut found = Vec::new();
    for (path, text) in sources {
        if is_this_table(path) {
            continue;
        }
        for (number, line) in text.lines().enumerate() {
            // Comments may name anything; only code defines.
            if line.trim_start().starts_with("//") {
                continue;
            }
            for (owner, regex) in &compiled {
                let in_scope = owner.scope.is_empty()
                    || (is_owned_by(path, owner.scope) && !is_test_file(path));
                if in_scope && regex.is_match(line) && !is_owned_by(path, owner.owner) {
                    found.push(Stray {
                        path: path.clone(),
                        line: number + 1,
                        what: owner.what,
                        owner: owner.owner,
                    });
                }
            }
        }
    }
    Ok(found)
}

/// Whether `path` is `owner`, or lies under it when `owner` ends in `/`.
fn is_owned_by(path: &Path, owner: &str) -> bool {
    let path = path.to_string_lossy().replace('\\', "/");
    if owner.ends_with('/') {
        path.starts_with(owner)
    } else {
        path == owner
    }
}

/// Test code may use a scoped concept's building blocks to make its inputs
/// (a test that parses a response to judge it); scoped owners guard the
/// product's code.
fn is_test_file(path: &Path) -> bool {
    let path = path.to_string_lossy().replace('\\', "/");
    path.contains("/tests/") || path.ends_with("_tests.rs") || path.ends_with("/tests.rs")
}

fn is_this_table(path: &Path) -> bool {
    is_owned_by(path, "xtask/src/owners.rs")
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &[Owner] = &[
        Owner {
            what: "the answer",
            pattern: r"\b42\b",
            owner: "crates/a/src/answer.rs",
            scope: "",
        },
        Owner {
            what: "greeting",
            pattern: "hello\\(",
            owner: "crates/greet/",
            scope: "",
        },
    ];

    fn source(path: &str, text: &str) -> (PathBuf, String) {
        (PathBuf::from(path), text.to_string())
    }

    #[test]
    fn a_match_in_the_owner_is_fine() {
        let sources = [
            source("crates/a/src/answer.rs", "const A: u8 = 42;\n"),
            source("crates/greet/src/lib.rs", "fn x() { hello(); }\n"),
            source("crates/greet/tests/t.rs", "hello();\n"),
        ];
        assert_eq!(strays(TABLE, &sources).unwrap(), vec![]);
    }

    #[test]
    fn a_second_definition_is_named_with_file_and_line() {
        let sources = [
            source("crates/a/src/answer.rs", "const A: u8 = 42;\n"),
            source(
                "crates/b/src/copy.rs",
                "// one\n// two\nconst B: u8 = 42;\n",
            ),
            source("xtask/src/x.rs", "fn main() { hello(); }\n"),
            source("crates/b/src/fine.rs", "const C: u8 = 420;\n"),
        ];
        assert_eq!(
            strays(TABLE, &sources).unwrap(),
            vec![
                Stray {
                    path: "crates/b/src/copy.rs".into(),
                    line: 3,
                    what: "the answer",
                    owner: "crates/a/src/answer.rs",
                },
                Stray {
                    path: "xtask/src/x.rs".into(),
                    line: 1,
                    what: "greeting",
                    owner: "crates/greet/",
                },
            ]
        );
    }

    #[test]
    fn a_file_owner_is_not_a_prefix() {
        let sources = [source("crates/a/src/answer.rs.bak.rs", "42\n")];
        assert_eq!(strays(TABLE, &sources).unwrap().len(), 1);
        assert!(!is_owned_by(
            Path::new("crates/greeter/x.rs"),
            "crates/greet/"
        ));
    }

    #[test]
    fn the_real_patterns_match_what_they_guard() {
        let find = |what: &str| {
            let owner = OWNERS.iter().find(|o| o.what.starts_with(what)).unwrap();
            Regex::new(owner.pattern).unwrap()
        };
        let server = find("starting the reference server");
        assert!(server.is_match(concat!("let s = wsconform_server::", "bind(config)")));
        assert!(server.is_match(concat!("use wsconform_server::{Config, ", "bind};")));
        assert!(!server.is_match("wsconform_server::spawn(config)"));
        assert!(!server.is_match("use wsconform_server::{Config, spawn};"));
        let splitmix = find("SplitMix64");
        assert!(splitmix.is_match(concat!("x.wrapping_add(0x9E37_79B9_", "7F4A_7C15)")));
        assert!(splitmix.is_match(concat!("0x9e3779b9", "7f4a7c15")));
        assert!(!splitmix.is_match("0x9e37_79b9;"));
        let rfc = find("the link");
        assert!(rfc.is_match(concat!(
            "https://www.rfc-editor.org/rfc/",
            "rfc6455#section-5"
        )));
    }

    #[test]
    fn a_scope_limits_where_copies_count_and_comments_never_do() {
        let scoped = [Owner {
            scope: "crates/runner/",
            ..TABLE[0]
        }];
        let sources = [
            source("crates/server/src/x.rs", "const A: u8 = 42;\n"),
            source("crates/runner/src/y.rs", "// 42 in a comment\n"),
            source("crates/runner/src/z.rs", "const B: u8 = 42;\n"),
            source("crates/runner/tests/t.rs", "const C: u8 = 42;\n"),
        ];
        let found = strays(&scoped, &sources).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].path, PathBuf::from("crates/runner/src/z.rs"));
    }

    #[test]
    fn this_table_is_not_scanned() {
        let sources = [source("xtask/src/owners.rs", "42 hello(\n")];
        assert!(strays(TABLE, &sources).unwrap().is_empty());
    }
}

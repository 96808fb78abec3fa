//! `cargo xtask msrv`: the declared `rust-version` must be at least what the
//! code and its dependencies need.
//!
//! Only one toolchain is installed where this project is built, so the floor
//! cannot be found by compiling with older ones, and clippy's
//! `incompatible_msrv` sees library calls but not syntax such as `let`
//! chains. So the floor is derived from two sources instead:
//!
//! - every package in `Cargo.lock`, through the `rust_version` that
//!   `cargo metadata` reports for it;
//! - the language and library features this workspace's own sources use,
//!   found by the detectors in [`FEATURES`], and the edition of its crates.
//!
//! The check fails when a workspace package declares less than the highest
//! of these, and names the package or feature (with file and line) that sets
//! the floor.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use regex::Regex;
use serde::Deserialize;

use crate::project_root;

/// A Rust release, `1.88` or `1.88.0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct RustVersion {
    major: u32,
    minor: u32,
    patch: u32,
}

impl RustVersion {
    /// Reads `1.88`, `1.88.0` (what `rust-version` accepts).
    pub fn parse(text: &str) -> Option<RustVersion> {
        let mut parts = text.trim().split('.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next().map_or(Some(0), |p| p.parse().ok())?;
        let patch = parts.next().map_or(Some(0), |p| p.parse().ok())?;
        if parts.next().is_some() {
            return None;
        }
        Some(RustVersion {
            major,
            minor,
            patch,
        })
    }
}

impl fmt::Display for RustVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.patch == 0 {
            write!(f, "{}.{}", self.major, self.minor)
        } else {
            write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
        }
    }
}

/// One reason the toolchain must be at least `version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Floor {
    /// The lowest Rust release that works.
    pub version: RustVersion,
    /// What needs it: `criterion 0.8.1 (rust-version)` or
    /// `let chains (crates/x/src/y.rs:12)`.
    pub because: String,
}

/// How a feature is recognised in a source file.
#[derive(Debug, Clone, Copy)]
pub enum Detector {
    /// A regular expression over the code (comments removed).
    Pattern(&'static str),
    /// `if let … && …` or `… && let …`: needs a small scan, since the `&&`
    /// may be lines away from the `let`.
    LetChain,
}

/// A language or library feature and the release that stabilised it.
#[derive(Debug, Clone, Copy)]
pub struct Feature {
    /// What the floor message calls it.
    pub name: &'static str,
    /// How to find a use.
    pub detector: Detector,
    /// The first stable release with it.
    pub version: &'static str,
}

/// The features this workspace uses (or has used) that set a floor above
/// old toolchains. Add a row when the code starts to use a newer feature.
pub const FEATURES: &[Feature] = &[
    Feature {
        name: "let chains",
        detector: Detector::LetChain,
        version: "1.88",
    },
    Feature {
        name: "Option::is_none_or",
        detector: Detector::Pattern(r"\.is_none_or\("),
        version: "1.82",
    },
    Feature {
        name: "std::iter::repeat_n",
        detector: Detector::Pattern(r"\brepeat_n\("),
        version: "1.82",
    },
    Feature {
        name: "#[expect] lint attribute",
        detector: Detector::Pattern(r"#!?\[expect\("),
        version: "1.81",
    },
    Feature {
        name: "LazyLock / LazyCell",
        detector: Detector::Pattern(r"\bLazy(Lock|Cell)\b"),
        version: "1.80",
    },
    Feature {
        name: "slice::first_chunk / split_first_chunk",
        detector: Detector::Pattern(r"\.(split_)?(first|last)_chunk(::<[^>]*>)?\("),
        version: "1.77",
    },
    Feature {
        name: "Option::is_some_and",
        detector: Detector::Pattern(r"\.is_some_and\("),
        version: "1.70",
    },
    Feature {
        name: "let … else",
        detector: Detector::Pattern(r"(?m)^\s*let\s[^;=]*=[^;{]*\belse\s*\{"),
        version: "1.65",
    },
];

/// Editions and the release that introduced them.
const EDITIONS: &[(&str, &str)] = &[("2024", "1.85"), ("2021", "1.56"), ("2018", "1.31")];

/// Runs the check; fails naming what sets the floor when a workspace package
/// declares less.
pub fn run() -> Result<()> {
    let metadata = metadata()?;
    let mut floors = dependency_floors(&metadata);
    floors.extend(edition_floors(&metadata));
    let sources = crate::workspace_sources()?;
    floors.extend(feature_floors(&sources)?);
    let Some(highest) = highest(&floors) else {
        bail!("found nothing to derive a Rust version from");
    };
    eprintln!(
        "msrv: the floor is {} (set by {})",
        highest.version, highest.because
    );

    let mut too_low = Vec::new();
    for package in metadata.workspace_packages() {
        let Some(declared) = &package.rust_version else {
            continue;
        };
        let declared = RustVersion::parse(declared).with_context(|| {
            format!(
                "{}: rust-version '{declared}' is not a version",
                package.name
            )
        })?;
        if declared < highest.version {
            too_low.push(format!("{} declares {declared}", package.name));
        }
    }
    if too_low.is_empty() {
        eprintln!(
            "msrv: every declared rust-version is at least {}",
            highest.version
        );
        return Ok(());
    }
    let needs: Vec<String> = floors
        .iter()
        .filter(|f| f.version == highest.version)
        .map(|f| format!("  {} needs {}", f.because, f.version))
        .collect();
    bail!(
        "rust-version too low: {}; the code needs {}:\n{}\n\
         Set `rust-version` in the root Cargo.toml's [workspace.package] (and the README).",
        too_low.join(", "),
        highest.version,
        needs.join("\n")
    )
}

/// What we read of `cargo metadata --format-version 1`.
#[derive(Debug, Deserialize)]
struct Metadata {
    packages: Vec<Package>,
    workspace_members: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Package {
    id: String,
    name: String,
    version: String,
    edition: String,
    rust_version: Option<String>,
}

impl Metadata {
    fn workspace_packages(&self) -> impl Iterator<Item = &Package> {
        self.packages
            .iter()
            .filter(|p| self.workspace_members.contains(&p.id))
    }
}

fn metadata() -> Result<Metadata> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(project_root())
        .output()
        .context("could not run `cargo metadata`")?;
    if !output.status.success() {
        bail!(
            "`cargo metadata` failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    serde_json::from_slice(&output.stdout).context("cannot read `cargo metadata`'s output")
}

/// The `rust-version` of every package in the lock file that is not part of
/// this workspace.
fn dependency_floors(metadata: &Metadata) -> Vec<Floor> {
    metadata
        .packages
        .iter()
        .filter(|p| !metadata.workspace_members.contains(&p.id))
        .filter_map(|p| {
            let version = RustVersion::parse(p.rust_version.as_deref()?)?;
            Some(Floor {
                version,
                because: format!("{} {} (its rust-version)", p.name, p.version),
            })
        })
        .collect()
}

/// The edition of each workspace package.
fn edition_floors(metadata: &Metadata) -> Vec<Floor> {
    metadata
        .workspace_packages()
        .filter_map(|p| {
            let (_, version) = EDITIONS.iter().find(|(e, _)| *e == p.edition)?;
            Some(Floor {
                version: RustVersion::parse(version)?,
                because: format!("edition {} of {}", p.edition, p.name),
            })
        })
        .collect()
}

/// For each feature in [`FEATURES`], its first use in `sources`.
pub fn feature_floors(sources: &[(PathBuf, String)]) -> Result<Vec<Floor>> {
    let mut floors = Vec::new();
    for feature in FEATURES {
        let version = RustVersion::parse(feature.version)
            .with_context(|| format!("bad version in the table: {}", feature.version))?;
        let pattern = match feature.detector {
            Detector::Pattern(p) => Some(Regex::new(p).context("bad pattern in the table")?),
            Detector::LetChain => None,
        };
        let first_use = sources.iter().find_map(|(path, text)| {
            let code = without_comments(text);
            let at = match &pattern {
                Some(regex) => regex.find(&code).map(|m| m.start()),
                None => let_chain(&code),
            }?;
            Some(location(path, &code, at))
        });
        if let Some(place) = first_use {
            floors.push(Floor {
                version,
                because: format!("{} ({place})", feature.name),
            });
        }
    }
    Ok(floors)
}

/// The highest floor; the first one listed among equals.
pub fn highest(floors: &[Floor]) -> Option<&Floor> {
    floors
        .iter()
        .reduce(|best, f| if f.version > best.version { f } else { best })
}

/// `path:line` of byte offset `at` in `text`.
fn location(path: &Path, text: &str, at: usize) -> String {
    let line = text
        .get(..at)
        .map_or(0, |before| before.matches('\n').count())
        + 1;
    format!("{}:{line}", path.display())
}

/// `text` with `//` comments blanked (line structure kept), so that prose
/// about a feature is not taken for a use of it. String literals are kept:
/// a `//` inside one (a URL) blanks the rest of that line, which can only
/// hide a use, never invent one.
fn without_comments(text: &str) -> String {
    text.lines()
        .map(|line| match line.find("//") {
            Some(at) => line.get(..at).unwrap_or(line),
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The byte offset of the first `let` chain in `code`: an `if let` or
/// `while let` whose condition has a `&&` outside brackets before its block,
/// or a `&& let` anywhere.
fn let_chain(code: &str) -> Option<usize> {
    // Both patterns are valid regular expressions.
    let and_let = Regex::new(r"&&\s*let\b").ok()?;
    let if_let = Regex::new(r"\b(if|while)\s+let\b").ok()?;
    let chained_after = if_let.find_iter(code).find_map(|m| {
        let rest = code.get(m.end()..)?;
        let mut depth = 0i32;
        let mut previous = ' ';
        for c in rest.chars() {
            match c {
                '(' | '[' => depth += 1,
                ')' | ']' => depth -= 1,
                '{' if depth <= 0 => return None,
                ';' if depth <= 0 => return None,
                '&' if depth <= 0 && previous == '&' => return Some(m.start()),
                _ => {}
            }
            previous = c;
        }
        None
    });
    let chained_before = and_let.find(code).map(|m| m.start());
    match (chained_after, chained_before) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> RustVersion {
        RustVersion::parse(text).unwrap()
    }

    #[test]
    fn versions_parse_and_order_numerically() {
        assert_eq!(v("1.88"), v("1.88.0"));
        assert!(v("1.9") < v("1.10"));
        assert!(v("1.85.1") > v("1.85"));
        assert_eq!(v("1.86").to_string(), "1.86");
        assert_eq!(v("1.74.1").to_string(), "1.74.1");
        assert_eq!(RustVersion::parse("1.x"), None);
        assert_eq!(RustVersion::parse("1.2.3.4"), None);
        assert_eq!(RustVersion::parse(""), None);
    }

    #[test]
    fn let_chains_are_found_across_lines_but_not_in_plain_if_let() {
        assert!(let_chain("if let Some(x) = y\n    && x > 1\n{").is_some());
        assert!(let_chain("if ready && let Some(x) = y {").is_some());
        assert!(let_chain("while let Some(x) = it.next() && x > 0 {").is_some());
        assert_eq!(let_chain("if let Some(x) = y.filter(|v| a && b) {"), None);
        assert_eq!(let_chain("if let Some(x) = y { a && b }"), None);
        assert_eq!(let_chain("if a && b { let c = 1; }"), None);
        assert_eq!(let_chain("if let [a, b] = pair { x && y; }"), None);
    }

    #[test]
    fn comments_do_not_count_as_uses() {
        let sources = vec![(
            PathBuf::from("a.rs"),
            "// x.is_none_or(f)\nfn f() {}\n".to_string(),
        )];
        let floors = feature_floors(&sources).unwrap();
        assert!(floors.is_empty(), "{floors:?}");
    }

    #[test]
    fn each_feature_is_found_with_its_version_and_place() {
        let sources = vec![
            (PathBuf::from("a.rs"), "fn a() {}\n".to_string()),
            (
                PathBuf::from("b.rs"),
                "fn b(o: Option<u8>) -> bool {\n    o.is_none_or(|x| x > 1)\n}\n".to_string(),
            ),
            (
                PathBuf::from("c.rs"),
                "fn c() {\n    if let Some(x) = y\n        && x {\n    }\n}\n".to_string(),
            ),
        ];
        let floors = feature_floors(&sources).unwrap();
        assert_eq!(
            floors,
            vec![
                Floor {
                    version: v("1.88"),
                    because: "let chains (c.rs:2)".into()
                },
                Floor {
                    version: v("1.82"),
                    because: "Option::is_none_or (b.rs:2)".into()
                },
            ]
        );
        assert_eq!(highest(&floors).unwrap().version, v("1.88"));
    }

    #[test]
    fn let_else_is_told_from_if_else() {
        let Detector::Pattern(pattern) = FEATURES
            .iter()
            .find(|f| f.name == "let … else")
            .unwrap()
            .detector
        else {
            panic!("let-else uses a pattern");
        };
        let regex = Regex::new(pattern).unwrap();
        assert!(regex.is_match("    let Some(x) = y else {"));
        assert!(!regex.is_match("    let x = if a { 1 } else { 2 };"));
    }

    #[test]
    fn every_table_row_is_well_formed() {
        for feature in FEATURES {
            assert!(
                RustVersion::parse(feature.version).is_some(),
                "{}",
                feature.name
            );
            if let Detector::Pattern(p) = feature.detector {
                assert!(Regex::new(p).is_ok(), "{}", feature.name);
            }
        }
        for (_, version) in EDITIONS {
            assert!(RustVersion::parse(version).is_some());
        }
    }

    #[test]
    fn dependencies_and_editions_give_floors_and_the_highest_wins() {
        let metadata: Metadata = serde_json::from_str(
            r#"{
              "workspace_members": ["me"],
              "packages": [
                {"id": "me", "name": "mine", "version": "0.1.0", "edition": "2024", "rust_version": "1.88"},
                {"id": "c", "name": "criterion", "version": "0.8.1", "edition": "2021", "rust_version": "1.86"},
                {"id": "o", "name": "old", "version": "1.0.0", "edition": "2015", "rust_version": null}
              ]
            }"#,
        )
        .unwrap();
        let mut floors = dependency_floors(&metadata);
        assert_eq!(
            floors,
            vec![Floor {
                version: v("1.86"),
                because: "criterion 0.8.1 (its rust-version)".into()
            }]
        );
        floors.extend(edition_floors(&metadata));
        assert_eq!(floors.len(), 2);
        assert_eq!(floors[1].because, "edition 2024 of mine");
        assert_eq!(highest(&floors).unwrap().because, floors[0].because);
    }
}

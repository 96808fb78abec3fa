//! Loading scenario files, with errors that point at the line and the field.
//!
//! A learner who mistypes a step should see
//! `scenarios/03-lengths/x.yaml:7:5: unknown step 'sned', expected one of …`,
//! not a stack of serde jargon. The loader runs the YAML through
//! `serde_path_to_error` to learn *which* field failed, takes the line and
//! column from the YAML parser, and rewrites serde's generic messages into
//! the scenario vocabulary.

use std::fmt;
use std::fs;
use std::path::Path;

use serde::Deserialize;

use crate::scenario::{EXPECT_NAMES, Role, STEP_NAMES, Scenario};

mod bundled {
    include!(concat!(env!("OUT_DIR"), "/bundled.rs"));
}

/// A scenario with where it came from.
#[derive(Debug, Clone)]
pub struct LoadedScenario {
    /// The parsed scenario.
    pub scenario: Scenario,
    /// The chapter: the name of the folder holding the file (`03-lengths`).
    pub chapter: String,
    /// The file, as shown in messages (`scenarios/03-lengths/x.yaml`).
    pub path: String,
    /// The YAML text, for `wsconform explain`.
    pub source: String,
}

/// Why a scenario file could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    /// The file.
    pub path: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// The field that failed (`steps[2].send`), when known.
    pub field: Option<String>,
    /// What is wrong and, where possible, how to fix it.
    pub message: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(col) = self.column {
                write!(f, ":{col}")?;
            }
        }
        write!(f, ": {}", self.message)?;
        if let Some(field) = &self.field {
            write!(f, " (in {field})")?;
        }
        Ok(())
    }
}

impl std::error::Error for LoadError {}

/// The chapter a file belongs to: its folder's name.
fn chapter_of(path: &str) -> String {
    let parts: Vec<&str> = path.split('/').collect();
    match parts.len().checked_sub(2).and_then(|i| parts.get(i)) {
        Some(folder) => folder.to_string(),
        None => "scenarios".to_string(),
    }
}

/// Parses one scenario from YAML text. `path` names the file in errors.
pub fn parse_scenario(path: &str, source: &str) -> Result<LoadedScenario, LoadError> {
    let deserializer = serde_yaml::Deserializer::from_str(source);
    match serde_path_to_error::deserialize::<_, Scenario>(deserializer) {
        Ok(scenario) => Ok(LoadedScenario {
            scenario,
            chapter: chapter_of(path),
            path: path.to_string(),
            source: source.to_string(),
        }),
        Err(err) => {
            let field = err.path().to_string();
            let inner = err.inner();
            let location = inner.location();
            let raw = inner.to_string();
            // serde_yaml appends " at line L column C"; the location is shown in front instead.
            let message = match raw.find(" at line ") {
                Some(at) => raw[..at].to_string(),
                None => raw,
            };
            // serde_yaml may also put its own path in front ("steps[1]: "); the
            // field is shown at the end instead.
            let message = match message.split_once(": ") {
                Some((head, tail)) if !head.contains(' ') && !head.is_empty() => tail.to_string(),
                _ => message,
            };
            let field = if field == "." || field == "?" {
                None
            } else {
                Some(field)
            };
            let message = friendly(&message, field.as_deref());
            Err(LoadError {
                path: path.to_string(),
                line: location.as_ref().map(|l| l.line()),
                column: location.as_ref().map(|l| l.column()),
                field,
                message,
            })
        }
    }
}

/// Rewrites serde's and YAML's generic messages in scenario terms.
fn friendly(message: &str, field: Option<&str>) -> String {
    if message.starts_with("mapping values are not allowed") {
        return format!(
            "{message}: a text containing ': ' must be quoted, e.g. title: \"Connection: Upgrade is required\""
        );
    }
    let Some(rest) = message.strip_prefix("unknown field `") else {
        return message.to_string();
    };
    let name = rest.split('`').next().unwrap_or("");
    let parent = field.unwrap_or("");
    // The path ends with the unknown field itself: look at what holds it.
    let holder = parent.rsplit_once('.').map(|(h, _)| h).unwrap_or("");
    let last = holder.rsplit('.').next().unwrap_or("");
    if last.starts_with("steps[") {
        let mut names: Vec<&str> = STEP_NAMES.to_vec();
        names.push("as");
        return format!(
            "unknown step '{name}', expected one of {}",
            names.join(", ")
        );
    }
    if last == "expect" {
        let mut names: Vec<&str> = EXPECT_NAMES.to_vec();
        names.extend(["timeout", "otherwise"]);
        return format!(
            "unknown expectation '{name}', expected one of {}",
            names.join(", ")
        );
    }
    let expected = rest.split_once(", ").map(|(_, e)| e).unwrap_or("");
    let expected = expected.replace('`', "");
    if expected.is_empty() {
        format!("unknown field '{name}'")
    } else {
        format!("unknown field '{name}', {expected}")
    }
}

/// Loads a scenario file, or every `*.yaml`/`*.yml` file under a folder.
/// Files are sorted by path so that runs are reproducible.
pub fn load_path(path: &Path) -> Result<Vec<LoadedScenario>, Vec<LoadError>> {
    let mut files = Vec::new();
    if path.is_dir() {
        collect_files(path, &mut files);
        files.sort();
    } else {
        files.push(path.to_path_buf());
    }
    let mut loaded = Vec::new();
    let mut errors = Vec::new();
    for file in files {
        let shown = file.to_string_lossy().replace('\\', "/");
        match fs::read_to_string(&file) {
            Ok(text) => match parse_scenario(&shown, &text) {
                Ok(s) => loaded.push(s),
                Err(e) => errors.push(e),
            },
            Err(e) => errors.push(LoadError {
                path: shown,
                line: None,
                column: None,
                field: None,
                message: format!("cannot read the file: {e}"),
            }),
        }
    }
    if errors.is_empty() {
        Ok(loaded)
    } else {
        Err(errors)
    }
}

fn collect_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let p = entry.path();
        if p.is_dir() {
            collect_files(&p, out);
        } else if matches!(
            p.extension().and_then(|e| e.to_str()),
            Some("yaml") | Some("yml")
        ) {
            out.push(p);
        }
    }
}

/// The suite's changelog: its first `## VERSION` heading is the version.
const CHANGELOG: &str = include_str!("../../../scenarios/CHANGELOG.md");

/// The suite's version, from the first `## ` heading of `scenarios/CHANGELOG.md`.
pub fn suite_version() -> String {
    CHANGELOG
        .lines()
        .find_map(|line| line.strip_prefix("## "))
        .and_then(|heading| heading.split_whitespace().next())
        .unwrap_or("unversioned")
        .to_string()
}

/// The embedded files as they are: (path under `scenarios/`, YAML text).
pub fn bundled_sources() -> &'static [(&'static str, &'static str)] {
    bundled::BUNDLED
}

/// The server suite embedded into the binary at build time (`scenarios/`):
/// every scenario but the client ones ([`bundled_clients`]).
pub fn bundled() -> Result<Vec<LoadedScenario>, Vec<LoadError>> {
    bundled_for(Role::Server)
}

/// The client scenarios embedded into the binary (`role: client`), played
/// by `wsconform run --client-cmd` against a client under test.
pub fn bundled_clients() -> Result<Vec<LoadedScenario>, Vec<LoadError>> {
    bundled_for(Role::Client)
}

fn bundled_for(role: Role) -> Result<Vec<LoadedScenario>, Vec<LoadError>> {
    let mut loaded = Vec::new();
    let mut errors = Vec::new();
    for (rel, text) in bundled::BUNDLED {
        match parse_scenario(&format!("scenarios/{rel}"), text) {
            Ok(s) if s.scenario.role == role => loaded.push(s),
            Ok(_) => {}
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(loaded)
    } else {
        Err(errors)
    }
}

/// Deserializes any scenario value from YAML text (used by tests and tools).
pub fn from_yaml<T: for<'de> Deserialize<'de>>(text: &str) -> Result<T, String> {
    serde_yaml::from_str(text).map_err(|e| e.to_string())
}

//! The libraries graded, and the versions they are pinned at.
//!
//! Each library has a small echo server in `realworld/<runtime>/` (one file:
//! the port from the command line, "ready" on standard output once it
//! listens; a Rust one is a small cargo project of its own). The versions
//! live in the runtime's pin file only — `realworld/python/requirements.txt`,
//! `realworld/node/package.json`, `realworld/rust-actix/Cargo.lock` — and
//! are read from there, so the table can never name another version than
//! the one installed.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};

use crate::project_root;

/// The language runtime a library runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Runtime {
    /// CPython 3, the packages in a virtual environment.
    Python,
    /// Node.js, the packages in a local `node_modules`.
    Node,
    /// Rust: a cargo project of its own, built outside the workspace.
    Rust,
}

impl Runtime {
    /// The name shown in the table.
    pub fn name(self) -> &'static str {
        match self {
            Runtime::Python => "Python",
            Runtime::Node => "Node.js",
            Runtime::Rust => "Rust",
        }
    }

    /// The folder of `realworld/` holding this runtime's servers and pins.
    pub fn folder(self) -> PathBuf {
        project_root().join("realworld").join(match self {
            Runtime::Python => "python",
            Runtime::Node => "node",
            Runtime::Rust => "rust-actix",
        })
    }
}

/// One graded library.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Library {
    /// The package's name in its registry (and in the pin file).
    pub package: &'static str,
    /// What it runs on.
    pub runtime: Runtime,
    /// The server's file in the runtime's folder (for Rust, the binary the
    /// project builds).
    pub script: &'static str,
    /// The echo endpoint's path.
    pub path: &'static str,
    /// What the server file sets that is not the library's default.
    pub settings: &'static str,
}

/// Every graded library: each parses and builds frames with its own code.
pub const LIBRARIES: [Library; 8] = [
    Library {
        package: "websockets",
        runtime: Runtime::Python,
        script: "websockets_echo.py",
        path: "/echo",
        settings: "message limit 16 MiB (default 1 MiB); other paths refused with 404 (`process_request`)",
    },
    Library {
        package: "tornado",
        runtime: Runtime::Python,
        script: "tornado_echo.py",
        path: "/echo",
        settings: "message limit 16 MiB (default 10 MiB)",
    },
    Library {
        package: "aiohttp",
        runtime: Runtime::Python,
        script: "aiohttp_echo.py",
        path: "/echo",
        settings: "message limit 16 MiB (default 4 MiB)",
    },
    Library {
        package: "wsproto",
        runtime: Runtime::Python,
        script: "wsproto_echo.py",
        path: "/echo",
        settings: "sans-IO: a short asyncio loop feeds it bytes and answers its events; other paths refused with 404",
    },
    Library {
        package: "ws",
        runtime: Runtime::Node,
        script: "ws_echo.js",
        path: "/echo",
        settings: "`path: \"/echo\"` (the library refuses other paths)",
    },
    Library {
        package: "faye-websocket",
        runtime: Runtime::Node,
        script: "faye_echo.js",
        path: "/echo",
        settings: "what the library leaves to the application: a plain HTTP request gets 426 at /echo and 404 elsewhere, an upgrade the library does not recognise gets 400",
    },
    Library {
        package: "websocket",
        runtime: Runtime::Node,
        script: "websocket_node_echo.js",
        path: "/echo",
        settings: "frame and message limits 16 MiB (defaults 64 KiB and 1 MiB); other paths rejected with 404; a plain HTTP request (which never reaches the library) gets 426 at /echo and 404 elsewhere",
    },
    Library {
        package: "actix-web",
        runtime: Runtime::Rust,
        script: "realworld-actix",
        path: "/echo",
        settings: "frames through actix-http's codec and actix-ws; frame and message limits 16 MiB (defaults 64 KiB and 1 MiB); actix-ws leaves the close after a protocol error to the application, which closes with 1007 for a text that is not UTF-8 and 1002 otherwise",
    },
];

impl Library {
    /// The server file.
    pub fn script_path(&self) -> PathBuf {
        self.runtime.folder().join(self.script)
    }

    /// The pinned version, read from the runtime's pin file.
    pub fn version(&self) -> Result<String> {
        let pins = self.runtime.pin_file();
        let text = std::fs::read_to_string(&pins)
            .with_context(|| format!("cannot read {}", pins.display()))?;
        let found = match self.runtime {
            Runtime::Python => python_pin(&text, self.package),
            Runtime::Node => node_pin(&text, self.package)?,
            Runtime::Rust => cargo_lock_pin(&text, self.package),
        };
        match found {
            Some(version) => Ok(version),
            None => bail!("{} does not pin {}", pins.display(), self.package),
        }
    }
}

impl Runtime {
    /// The file that pins this runtime's packages.
    pub fn pin_file(self) -> PathBuf {
        self.folder().join(match self {
            Runtime::Python => "requirements.txt",
            Runtime::Node => "package.json",
            Runtime::Rust => "Cargo.lock",
        })
    }
}

/// The version of `package` in a pip requirements file (`name==version`).
fn python_pin(requirements: &str, package: &str) -> Option<String> {
    requirements.lines().find_map(|line| {
        let (name, version) = line.trim().split_once("==")?;
        name.trim()
            .eq_ignore_ascii_case(package)
            .then(|| version.trim().to_string())
    })
}

/// The version of `package` in a `package.json`'s dependencies, which must
/// be an exact version (no range) for the table to mean anything.
fn node_pin(package_json: &str, package: &str) -> Result<Option<String>> {
    let value: serde_json::Value =
        serde_json::from_str(package_json).context("package.json is not JSON")?;
    let Some(version) = value
        .get("dependencies")
        .and_then(|d| d.get(package))
        .and_then(|v| v.as_str())
    else {
        return Ok(None);
    };
    if !version.chars().all(|c| c.is_ascii_digit() || c == '.') {
        bail!("package.json pins {package} at '{version}': write an exact version");
    }
    Ok(Some(version.to_string()))
}

/// The version of `package` in a `Cargo.lock`: the `version` line after
/// its `name` line.
fn cargo_lock_pin(lock: &str, package: &str) -> Option<String> {
    let name = format!("name = \"{package}\"");
    let mut lines = lock.lines().map(str::trim);
    lines.find(|line| *line == name)?;
    let version = lines.next()?.strip_prefix("version = \"")?;
    Some(version.trim_end_matches('"').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_pins_are_read_by_name_whatever_the_case() {
        let text = "# pinned\naiohttp==3.14.5\nWebsockets==17.4\n";
        assert_eq!(python_pin(text, "websockets").as_deref(), Some("17.4"));
        assert_eq!(python_pin(text, "tornado"), None);
    }

    #[test]
    fn node_pins_must_be_exact_versions() {
        let exact = r#"{"dependencies": {"ws": "8.23.0"}}"#;
        assert_eq!(
            node_pin(exact, "ws").ok().flatten().as_deref(),
            Some("8.23.0")
        );
        assert!(matches!(node_pin(exact, "websocket"), Ok(None)));
        assert!(node_pin(r#"{"dependencies": {"ws": "^8.23.0"}}"#, "ws").is_err());
    }

    #[test]
    fn cargo_lock_pins_are_the_version_after_the_name() {
        let lock = "[[package]]\nname = \"actix-http\"\nversion = \"3.20.0\"\n\n[[package]]\nname = \"actix-web\"\nversion = \"4.18.1\"\n";
        assert_eq!(cargo_lock_pin(lock, "actix-web").as_deref(), Some("4.18.1"));
        assert_eq!(cargo_lock_pin(lock, "actix-ws"), None);
    }

    #[test]
    fn every_library_has_its_server_file_and_pin() {
        for library in LIBRARIES {
            let source = match library.runtime {
                Runtime::Rust => library.runtime.folder().join("src/main.rs"),
                _ => library.script_path(),
            };
            assert!(source.is_file(), "{}", library.script);
            assert!(library.version().is_ok(), "{}", library.package);
        }
    }
}

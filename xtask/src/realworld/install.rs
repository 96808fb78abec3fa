//! Installing the pinned packages into a cache under the target directory.
//!
//! Python packages go into a virtual environment, Node packages into a
//! local `node_modules` made by `npm ci` from the committed lock file, and
//! the Rust server is built by cargo from its own lock file (`--locked`)
//! into a target directory of its own, so the workspace's build never
//! compiles it.
//! Nothing outside `<target>/realworld/` changes. Each install writes a
//! stamp holding the pin file it installed, last: an interrupted install
//! has no stamp and is redone, and an edited pin file reinstalls.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use super::catalogue::Runtime;

/// A runtime with its packages, ready to start servers.
#[derive(Debug, Clone)]
pub struct Installed {
    /// The program that runs a server file.
    pub program: PathBuf,
    /// Extra environment for it (where Node finds its packages).
    pub env: Vec<(String, PathBuf)>,
}

/// Why a runtime cannot be used here: said, and the runtime skipped.
#[derive(Debug)]
pub struct Missing(pub String);

/// Installs `runtime`'s pinned packages under `work`, or says what is
/// missing. Fails only when the tools are there and the install fails.
pub fn install(runtime: Runtime, work: &Path) -> Result<std::result::Result<Installed, Missing>> {
    match runtime {
        Runtime::Python => python(work),
        Runtime::Node => node(work),
        Runtime::Rust => rust(work),
    }
}

fn rust(work: &Path) -> Result<std::result::Result<Installed, Missing>> {
    if !answers("cargo", &["--version"]) {
        return Ok(Err(Missing(
            "cargo not found: install Rust with rustup".into(),
        )));
    }
    let project = Runtime::Rust.folder();
    let target = work.join("rust");
    eprintln!("realworld: building {} (cargo, once)", project.display());
    // Cargo decides what is stale; a built server costs a second to check.
    run(Command::new("cargo")
        .args(["build", "--quiet", "--locked", "--manifest-path"])
        .arg(project.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target)
        // The workspace's target directory must not leak into this build.
        .env_remove("CARGO_TARGET_DIR"))?;
    Ok(Ok(Installed {
        program: target.join("debug").join("realworld-actix"),
        env: Vec::new(),
    }))
}

fn python(work: &Path) -> Result<std::result::Result<Installed, Missing>> {
    if !answers("python3", &["--version"]) {
        return Ok(Err(Missing(
            "python3 not found: install Python 3 (Debian: apt-get install python3 python3-venv)"
                .into(),
        )));
    }
    if !answers("python3", &["-c", "import ensurepip, venv"]) {
        return Ok(Err(Missing(
            "python3 cannot make a virtual environment: install venv (Debian: apt-get install python3-venv)"
                .into(),
        )));
    }
    let venv = work.join("python");
    let python = venv.join("bin").join("python");
    let requirements = Runtime::Python.pin_file();
    let pins = read(&requirements)?;
    if !stamped(&venv, &pins) {
        remove(&venv)?;
        eprintln!(
            "realworld: installing {} into {}",
            requirements.display(),
            venv.display()
        );
        run(Command::new("python3").arg("-m").arg("venv").arg(&venv))?;
        run(Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(["--no-deps", "-r"])
            .arg(&requirements))?;
        stamp(&venv, &pins)?;
    }
    Ok(Ok(Installed {
        program: python,
        env: Vec::new(),
    }))
}

fn node(work: &Path) -> Result<std::result::Result<Installed, Missing>> {
    if !answers("node", &["--version"]) || !answers("npm", &["--version"]) {
        return Ok(Err(Missing(
            "node and npm not found: install Node.js (Debian: apt-get install nodejs npm)".into(),
        )));
    }
    let dir = work.join("node");
    let lock_path = Runtime::Node.folder().join("package-lock.json");
    let pins = format!(
        "{}\n{}",
        read(&Runtime::Node.pin_file())?,
        read(&lock_path)?
    );
    if !stamped(&dir, &pins) {
        remove(&dir)?;
        fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        for file in [Runtime::Node.pin_file(), lock_path] {
            let name = file.file_name().context("a pin file has no name")?;
            fs::copy(&file, dir.join(name))
                .with_context(|| format!("cannot copy {}", file.display()))?;
        }
        eprintln!(
            "realworld: installing realworld/node's lock file into {}",
            dir.display()
        );
        run(Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--silent"])
            .current_dir(&dir))?;
        stamp(&dir, &pins)?;
    }
    Ok(Ok(Installed {
        program: PathBuf::from("node"),
        env: vec![("NODE_PATH".into(), dir.join("node_modules"))],
    }))
}

/// Whether `program args` runs and exits 0.
fn answers(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn run(command: &mut Command) -> Result<()> {
    let shown = format!("{command:?}");
    let status = command
        .status()
        .with_context(|| format!("cannot start {shown}"))?;
    if !status.success() {
        bail!("{shown} failed ({status}): the package registry must be reachable");
    }
    Ok(())
}

const STAMP: &str = "installed-from.txt";

fn stamped(dir: &Path, pins: &str) -> bool {
    fs::read_to_string(dir.join(STAMP)).is_ok_and(|s| s == pins)
}

fn stamp(dir: &Path, pins: &str) -> Result<()> {
    let path = dir.join(STAMP);
    fs::write(&path, pins).with_context(|| format!("cannot write {}", path.display()))
}

fn read(path: &Path) -> Result<String> {
    fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

fn remove(dir: &Path) -> Result<()> {
    if dir.exists() {
        fs::remove_dir_all(dir).with_context(|| format!("cannot remove {}", dir.display()))?;
    }
    Ok(())
}

//! Project chores, run as `cargo xtask <command>` (alias in `.cargo/config.toml`).
//!
//! Every task a contributor or CI needs is a subcommand here, written in Rust,
//! so there are no shell scripts to remember and it works the same everywhere.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

mod autobahn;
mod bench;
mod book;
mod browser;
mod ci;
mod conformance;
mod fuzz;
mod msrv;
mod owners;
mod realworld;
mod soak;
mod soak_runner;

/// wsconform's project chores.
#[derive(Parser)]
#[command(name = "cargo xtask", about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Everything CI checks: formatting, clippy, all tests (the README's test command).
    Ci(ci::Args),
    /// The main job: run the whole suite against the reference server (or --target, --peer, --mutants).
    Conformance(conformance::Args),
    /// Cross-check the reference server against the real Autobahn|Testsuite (needs Python 2.7).
    Autobahn(autobahn::Args),
    /// Benchmarks: the reference server next to the baselines, pinned cores (writes target/bench/report.json).
    Bench(bench::Args),
    /// Build the workbook (installs mdbook if missing) and check its includes, links and anchors.
    Book,
    /// Fail if the declared rust-version is below what the dependencies and the code need.
    Msrv,
    /// Fail if a concept with one owner file is written again elsewhere.
    Owners,
    /// Headless Chromium: the chat page in two tabs, and an HTML report (screenshots in target/browser/).
    Browser,
    /// Hostile clients against the reference server: peak and settled memory, who was cut off (bounded, default 2 min).
    Soak(soak::Args),
    /// Popular server libraries (Python, Node, Rust) installed from their registries and graded by the suite; writes the book's appendix "How popular servers fare".
    Realworld(realworld::Args),
    /// Coverage-guided fuzzing (AFL++ via cargo-afl, installed when missing): replay the corpus, then fuzz each target.
    Fuzz(fuzz::Args),
}

fn main() -> Result<std::process::ExitCode> {
    // `realworld` starts its servers under the runner's spawn supervisor:
    // this program run again in a hidden mode.
    if let Some(code) = wsconform_runner::spawn::supervise_if_asked() {
        return Ok(code);
    }
    let cli = Cli::parse();
    let done = match cli.command {
        Task::Ci(args) => ci::run(args),
        Task::Conformance(args) => conformance::run(args),
        Task::Autobahn(args) => autobahn::run(args),
        Task::Bench(args) => bench::run(args),
        Task::Book => book::run(),
        Task::Browser => browser::run(),
        Task::Msrv => msrv::run(),
        Task::Owners => owners::run(),
        Task::Soak(args) => soak::run(args),
        Task::Realworld(args) => realworld::run(args),
        Task::Fuzz(args) => fuzz::run(args),
    };
    done.map(|()| std::process::ExitCode::SUCCESS)
}

/// The workspace root (the parent of this crate's directory).
pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Cargo's target directory for this workspace: `$CARGO_TARGET_DIR` when
/// set (relative to the project root, as cargo resolves it), `target/`
/// otherwise.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => project_root().join(dir),
        _ => project_root().join("target"),
    }
}

/// Runs `program args...` in the project root, echoing it first; fails with
/// the command line when it exits non-zero.
pub fn run_command(program: &str, args: &[&str]) -> Result<()> {
    eprintln!("$ {program} {}", args.join(" "));
    let status = Command::new(program)
        .args(args)
        .current_dir(project_root())
        .status()
        .with_context(|| format!("could not start `{program}`: is it installed and on PATH?"))?;
    if !status.success() {
        bail!("`{program} {}` failed ({status})", args.join(" "));
    }
    Ok(())
}

/// Every `.rs` file of `crates/` and `xtask/`, as (path relative to the
/// root, text), sorted by path.
pub fn workspace_sources() -> Result<Vec<(PathBuf, String)>> {
    let root = project_root();
    let mut sources = Vec::new();
    for top in ["crates", "xtask"] {
        for entry in walkdir::WalkDir::new(root.join(top)).sort_by_file_name() {
            let entry = entry.context("cannot list the workspace's sources")?;
            let path = entry.path();
            if !entry.file_type().is_file() || path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let relative = path.strip_prefix(&root).unwrap_or(path).to_path_buf();
            sources.push((relative, text));
        }
    }
    Ok(sources)
}

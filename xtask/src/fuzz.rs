//! `cargo xtask fuzz`: coverage-guided fuzzing on stable Rust with AFL++
//! (`cargo afl`, installed when missing).
//!
//! Builds the `wsconform-fuzz` targets instrumented (their own target
//! directory, `afl/` under the usual one), replays the committed corpus
//! through each (a crash there is a regression), then fuzzes each target
//! for `--seconds`. Any crash fails the chore, naming the saved input:
//! replay it with `wsconform-fuzz TARGET < FILE`, fix the code, and add the
//! input to the corpus or a regression test of the crate it belongs to.
//!
//! CMPLOG is off (it needs an LLVM matching rustc's); the environment tells
//! AFL++ that a container's CPU governor and core-dump handler are fine.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::project_root;

/// Options of `cargo xtask fuzz`.
#[derive(clap::Args)]
pub struct Args {
    /// How long each target is fuzzed, in seconds.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Only this target (default: every one).
    #[arg(long)]
    target: Option<String>,
}

/// The targets (`wsconform_fuzz::TARGETS`, by name: xtask does not link the
/// fuzz crate, whose instrumented build is separate).
const TARGETS: &[&str] = &[
    "wire_server",
    "wire_client",
    "handshake_request",
    "handshake_response",
    "frame_reader",
    "scenario",
    "decode",
];

pub fn run(args: Args) -> Result<()> {
    let targets: Vec<&str> = match &args.target {
        Some(t) if TARGETS.contains(&t.as_str()) => vec![t.as_str()],
        Some(t) => bail!("no fuzz target {t:?} (one of: {})", TARGETS.join(", ")),
        None => TARGETS.to_vec(),
    };
    ensure_cargo_afl()?;
    let target_dir = crate::target_dir().join("afl");
    let status = Command::new("cargo")
        .args([
            "afl",
            "build",
            "--quiet",
            "--release",
            "-p",
            "wsconform-fuzz",
            "--features",
            "afl",
        ])
        .env("CARGO_TARGET_DIR", &target_dir)
        .current_dir(project_root())
        .status()
        .context("cannot run cargo afl build")?;
    if !status.success() {
        bail!("cargo afl build failed ({status})");
    }
    let binary = target_dir.join("release").join("wsconform-fuzz");
    let corpus_root = project_root().join("crates/fuzz/corpus");
    for target in &targets {
        replay(&binary, target, &corpus_root.join(target))?;
    }
    eprintln!("corpus replayed: every input of every target ran without a crash");
    let mut crashes = Vec::new();
    for target in &targets {
        let out = target_dir.join("fuzz-out").join(target);
        let found = fuzz(
            &binary,
            target,
            &corpus_root.join(target),
            &out,
            args.seconds,
        )?;
        crashes.extend(found.into_iter().map(|path| (*target, path)));
    }
    if !crashes.is_empty() {
        for (target, path) in &crashes {
            eprintln!("crash in {target}: {}", path.display());
        }
        bail!(
            "{} crashing inputs (replay one with `wsconform-fuzz TARGET < FILE`)",
            crashes.len()
        );
    }
    eprintln!(
        "fuzzed {} targets for {} s each: no crash",
        targets.len(),
        args.seconds
    );
    Ok(())
}

/// Installs cargo-afl (it builds AFL++ from its crate) when missing.
fn ensure_cargo_afl() -> Result<()> {
    let present = Command::new("cargo")
        .args(["afl", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if present {
        return Ok(());
    }
    eprintln!("cargo-afl not found: installing it with cargo (a few minutes)");
    crate::run_command("cargo", &["install", "cargo-afl", "--locked", "--quiet"])
}

/// Runs the instrumented target once on each corpus file (outside AFL the
/// binary reads one input from stdin).
fn replay(binary: &Path, target: &str, corpus: &Path) -> Result<()> {
    let mut inputs = files(corpus)?;
    inputs.sort();
    for input in inputs {
        let file = std::fs::File::open(&input)
            .with_context(|| format!("cannot open {}", input.display()))?;
        let status = Command::new(binary)
            .arg(target)
            .stdin(file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .with_context(|| format!("cannot run {}", binary.display()))?;
        if !status.success() {
            bail!(
                "{target} crashes on its corpus input {} ({status})",
                input.display()
            );
        }
    }
    Ok(())
}

/// Fuzzes one target for `seconds`; returns the crashing inputs it saved.
fn fuzz(
    binary: &Path,
    target: &str,
    corpus: &Path,
    out: &Path,
    seconds: u64,
) -> Result<Vec<PathBuf>> {
    if out.exists() {
        std::fs::remove_dir_all(out).with_context(|| format!("cannot clear {}", out.display()))?;
    }
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    eprintln!("$ cargo afl fuzz {target} for {seconds} s");
    let seconds_text = seconds.max(1).to_string();
    let log = std::fs::File::create(out.join("afl.log"))
        .with_context(|| format!("cannot create a log in {}", out.display()))?;
    let status = Command::new("cargo")
        .arg("afl")
        .arg("fuzz")
        .arg("-i")
        .arg(corpus)
        .arg("-o")
        .arg(out)
        .args(["-V", &seconds_text, "--"])
        .arg(binary)
        .arg(target)
        .env("AFL_SKIP_CPUFREQ", "1")
        .env("AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES", "1")
        .env("AFL_NO_UI", "1")
        .env("AFL_NO_AFFINITY", "1")
        .env("AFL_FAST_CAL", "1")
        .stdout(log.try_clone().context("cannot share the log")?)
        .stderr(log)
        .current_dir(project_root())
        .status()
        .context("cannot run cargo afl fuzz")?;
    if !status.success() {
        bail!(
            "afl-fuzz failed on {target} ({status}); its log: {}",
            out.join("afl.log").display()
        );
    }
    let crashes = out.join("default").join("crashes");
    let found: Vec<PathBuf> = files(&crashes)
        .unwrap_or_default()
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n != "README.txt"))
        .collect();
    let execs = stat(&out.join("default").join("fuzzer_stats"), "execs_done");
    let paths = stat(&out.join("default").join("fuzzer_stats"), "corpus_count");
    eprintln!(
        "  {target}: {execs} executions, {paths} inputs in the queue, {} crashes",
        found.len()
    );
    Ok(found)
}

/// The regular files of a directory.
fn files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let path = entry?.path();
        if path.is_file() {
            out.push(path);
        }
    }
    Ok(out)
}

/// One figure of AFL++'s `fuzzer_stats` (`name : value` lines), or `?`.
fn stat(path: &Path, name: &str) -> String {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|text| {
            text.lines().find_map(|line| {
                let (key, value) = line.split_once(':')?;
                (key.trim() == name).then(|| value.trim().to_string())
            })
        })
        .unwrap_or_else(|| "?".into())
}

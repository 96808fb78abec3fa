//! `cargo xtask bench --only grade`: a class graded on this machine.
//!
//! The class is `--submissions N` folders (60 by default), each a server
//! started as its own process: the testbed's mutants in turn (one classic
//! bug each) and, every few folders, the correct reference server. One
//! `wsconform grade` grades them, `--grade-jobs` at a time, with the whole
//! bundled suite on echo and chat. Measured: the wall time, submissions per
//! minute, and the peak memory of the grader alone and of the grader with
//! every process it started (supervisors and servers), sampled from `/proc`.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::Serialize;

use super::servers::Binaries;
use super::system::rss_bytes;

/// What grading the class measured.
#[derive(Debug, Serialize)]
pub struct GradeBench {
    /// Submissions graded.
    pub submissions: usize,
    /// Submissions graded at once (`-j`).
    pub jobs: usize,
    /// Wall time of the whole `wsconform grade`, in seconds.
    pub wall_seconds: f64,
    /// Submissions per minute.
    pub per_minute: f64,
    /// Peak VmRSS of the grader process, in MiB.
    pub grader_peak_mib: f64,
    /// Peak of the summed VmRSS of the grader and all its descendants, in MiB.
    pub tree_peak_mib: f64,
    /// The statuses in the gradebook (`ok`, `did-not-start`, …) with counts.
    pub statuses: Vec<(String, usize)>,
}

/// The mutants' bug names, from `wsconform-testbed list`.
fn bugs(testbed: &Path) -> Result<Vec<String>> {
    let out = Command::new(testbed)
        .arg("list")
        .output()
        .with_context(|| format!("cannot run {}", testbed.display()))?;
    let names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect();
    if names.is_empty() {
        bail!("wsconform-testbed list named no mutant");
    }
    Ok(names)
}

/// `root` and every live process under it (the runner's one `/proc` walk).
fn tree(root: u32) -> Vec<u32> {
    let Ok(raw) = i32::try_from(root) else {
        return vec![root];
    };
    let mut found = vec![root];
    found.extend(
        wsconform_runner::spawn::descendants(nix::unistd::Pid::from_raw(raw))
            .into_iter()
            .filter_map(|pid| u32::try_from(pid.as_raw()).ok()),
    );
    found
}

/// Lays out the class, grades it, and measures.
pub fn measure(bins: &Binaries, submissions: usize, jobs: usize) -> Result<GradeBench> {
    let bugs = bugs(&bins.testbed)?;
    let root = tempfile::tempdir().context("a temp folder")?;
    let open =
        |path: &Path, mode| std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode));
    open(root.path(), 0o755)?;
    let class = root.path().join("class");
    for i in 0..submissions {
        let dir = class.join(format!("s{i:03}"));
        std::fs::create_dir_all(&dir)?;
        // Every fifth submission is correct; the others cycle through the bugs.
        let start = if i % 5 == 0 {
            format!("exec '{}' serve --port \"$1\"\n", bins.wsconform.display())
        } else {
            let bug = &bugs[i % bugs.len()];
            format!(
                "exec '{}' mutant {bug} --port \"$1\"\n",
                bins.testbed.display()
            )
        };
        std::fs::write(dir.join("start.sh"), start)?;
        open(&dir, 0o755)?;
        open(&dir.join("start.sh"), 0o644)?;
    }
    open(&class, 0o755)?;
    let out = root.path().join("out");
    let started = Instant::now();
    let mut grader = Command::new(&bins.wsconform)
        .arg("grade")
        .arg("--submissions")
        .arg(&class)
        .args(["--start", "sh start.sh {port}", "--no-progress"])
        .args(["-j", &jobs.to_string(), "--wall-limit", "5m"])
        .arg("--out")
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start wsconform grade")?;
    let pid = grader.id();
    let (mut grader_peak, mut tree_peak) = (0u64, 0u64);
    let deadline = started + Duration::from_secs(60 * 60);
    let status = loop {
        if let Some(status) = grader.try_wait()? {
            break status;
        }
        if Instant::now() > deadline {
            let _ = grader.kill();
            bail!("grading the class took more than an hour");
        }
        grader_peak = grader_peak.max(rss_bytes(pid).unwrap_or(0));
        let total: u64 = tree(pid).into_iter().filter_map(rss_bytes).sum();
        tree_peak = tree_peak.max(total);
        std::thread::sleep(Duration::from_millis(100));
    };
    let wall = started.elapsed().as_secs_f64();
    if !status.success() {
        bail!("wsconform grade failed: {status}");
    }
    let csv = std::fs::read_to_string(out.join("grades.csv")).context("no grades.csv")?;
    let mut statuses: Vec<(String, usize)> = Vec::new();
    for line in csv.lines().skip(1) {
        let status = line.split(',').nth(3).unwrap_or("").to_string();
        match statuses.iter_mut().find(|(s, _)| *s == status) {
            Some((_, n)) => *n += 1,
            None => statuses.push((status, 1)),
        }
    }
    let mib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
    Ok(GradeBench {
        submissions,
        jobs,
        wall_seconds: wall,
        per_minute: submissions as f64 * 60.0 / wall.max(0.001),
        grader_peak_mib: mib(grader_peak),
        tree_peak_mib: mib(tree_peak),
        statuses,
    })
}

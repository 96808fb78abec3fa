//! Installing Autobahn|Testsuite (`wstest`) with Python 2.7 and running its
//! fuzzing client against a list of servers.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::{AUTOBAHN_VERSION, Index, PYTHON_ENV, WSTEST_TIMEOUT_PER_SERVER};
use crate::project_root;

/// An installed Autobahn|Testsuite and the interpreter that runs it.
pub(super) struct Wstest {
    pub(super) python: PathBuf,
    pub(super) site_packages: PathBuf,
}

impl Wstest {
    /// Installs Autobahn|Testsuite with `python` under `work_dir` unless it
    /// is there already.
    pub(super) fn install(python: PathBuf, work_dir: &Path) -> Result<Wstest> {
        let prefix = work_dir.join(format!("python-{AUTOBAHN_VERSION}"));
        let site_packages = prefix.join("lib/python2.7/site-packages");
        let stamp = prefix.join("installed");
        if !stamp.exists() {
            let partial = work_dir.join(format!("python-{AUTOBAHN_VERSION}.partial"));
            if partial.exists() {
                fs::remove_dir_all(&partial)
                    .with_context(|| format!("could not remove {}", partial.display()))?;
            }
            if prefix.exists() {
                fs::remove_dir_all(&prefix)
                    .with_context(|| format!("could not remove {}", prefix.display()))?;
            }
            fs::create_dir_all(work_dir)
                .with_context(|| format!("could not create {}", work_dir.display()))?;
            eprintln!(
                "autobahn: installing autobahntestsuite=={AUTOBAHN_VERSION} into {} (once)",
                prefix.display()
            );
            let partial_arg = partial.to_string_lossy().into_owned();
            let status = std::process::Command::new(&python)
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "--no-warn-script-location",
                    "--prefix",
                    &partial_arg,
                    &format!("autobahntestsuite=={AUTOBAHN_VERSION}"),
                ])
                .env("PYTHONWARNINGS", "ignore")
                .status()
                .with_context(|| format!("could not start {}", python.display()))?;
            if !status.success() {
                bail!(
                    "`{} -m pip install autobahntestsuite=={AUTOBAHN_VERSION}` failed ({status}); \
                     pip needs to reach the Python package index",
                    python.display()
                );
            }
            fs::rename(&partial, &prefix).with_context(|| {
                format!(
                    "could not move {} to {}",
                    partial.display(),
                    prefix.display()
                )
            })?;
            fs::write(&stamp, format!("autobahntestsuite=={AUTOBAHN_VERSION}\n"))
                .with_context(|| format!("could not write {}", stamp.display()))?;
        }
        Ok(Wstest {
            python,
            site_packages,
        })
    }

    /// Runs `wstest -m fuzzingclient` against every target with the given
    /// case patterns, in a fresh `run_dir`, and reads its `index.json`.
    pub(super) fn fuzz(
        &self,
        run_dir: &Path,
        template: &SpecTemplate,
        cases: &[String],
        targets: &[Target],
    ) -> Result<Index> {
        if run_dir.exists() {
            fs::remove_dir_all(run_dir)
                .with_context(|| format!("could not remove {}", run_dir.display()))?;
        }
        let reports = run_dir.join("reports");
        fs::create_dir_all(&reports)
            .with_context(|| format!("could not create {}", reports.display()))?;
        let spec_path = run_dir.join("fuzzingclient.json");
        let spec = template.render(&reports, cases, targets);
        fs::write(&spec_path, spec)
            .with_context(|| format!("could not write {}", spec_path.display()))?;
        let log_path = run_dir.join("wstest.log");
        let log = fs::File::create(&log_path)
            .with_context(|| format!("could not create {}", log_path.display()))?;
        let log_err = log
            .try_clone()
            .with_context(|| format!("could not reopen {}", log_path.display()))?;

        let mut command = tokio::process::Command::new(&self.python);
        command
            .arg("-c")
            .arg(LAUNCHER)
            .arg(&self.site_packages)
            .args(["-m", "fuzzingclient", "-s"])
            .arg(&spec_path)
            .current_dir(run_dir)
            .env("PYTHONWARNINGS", "ignore")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err);

        let names: Vec<&str> = targets.iter().map(|t| t.agent.as_str()).collect();
        eprintln!(
            "autobahn: wstest fuzzingclient, cases {} against {} (log: {})",
            cases.join(" "),
            names.join(", "),
            log_path.display()
        );
        let limit = WSTEST_TIMEOUT_PER_SERVER * u32::try_from(targets.len()).unwrap_or(u32::MAX);
        let status = run_to_completion(command, limit, &log_path)?;
        let index_path = reports.join("index.json");
        if !status.success() || !index_path.exists() {
            bail!(
                "wstest failed ({status}) without writing {}; last lines of {}:\n{}",
                index_path.display(),
                log_path.display(),
                tail(&log_path, 20)
            );
        }
        let text = fs::read_to_string(&index_path)
            .with_context(|| format!("could not read {}", index_path.display()))?;
        let mut index = Index::parse(&text)
            .with_context(|| format!("{} is not an Autobahn index", index_path.display()))?;
        index.reports_dir = reports;
        Ok(index)
    }
}

/// `zope` is a namespace package made by a `.pth` file, which only
/// `site.addsitedir` processes (PYTHONPATH does not), so a small launcher
/// loads the install and calls the real `wstest` entry point.
pub(super) const LAUNCHER: &str = "import site, sys\n\
                                   site.addsitedir(sys.argv[1])\n\
                                   sys.argv = ['wstest'] + sys.argv[2:]\n\
                                   from autobahntestsuite.wstest import run\n\
                                   sys.exit(run())\n";

/// Runs `command` and waits for it, killing it when it runs longer than
/// `limit` (and on any early return: the child is killed when dropped). `log` names where its output goes, for
/// the error message.
pub(super) fn run_to_completion(
    mut command: tokio::process::Command,
    limit: Duration,
    log: &Path,
) -> Result<std::process::ExitStatus> {
    let program = command
        .as_std()
        .get_program()
        .to_string_lossy()
        .into_owned();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("could not start a tokio runtime to run a child process")?;
    runtime.block_on(async {
        let mut child = command
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("could not start {program}"))?;
        match tokio::time::timeout(limit, child.wait()).await {
            Ok(status) => status.with_context(|| format!("could not wait for {program}")),
            Err(_) => {
                let _ = child.kill().await;
                bail!(
                    "{program} did not finish within {} s and was stopped; see {}",
                    limit.as_secs(),
                    log.display()
                )
            }
        }
    })
}

/// The last `lines` lines of a log file, for error messages.
pub(super) fn tail(path: &Path, lines: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    let start = all.len().saturating_sub(lines);
    all.get(start..).unwrap_or_default().join("\n")
}

/// Finds a Python 2.7 interpreter; see the module documentation for the
/// search order.
pub(super) fn find_python() -> Result<PathBuf> {
    let candidates = python_candidates();
    for candidate in &candidates {
        let ok = std::process::Command::new(candidate)
            .args([
                "-c",
                "import sys; sys.exit(0 if sys.version_info[:2] == (2, 7) else 1)",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if ok {
            return Ok(candidate.clone());
        }
    }
    let tried: Vec<String> = candidates.iter().map(|c| c.display().to_string()).collect();
    bail!(
        "Autobahn|Testsuite {AUTOBAHN_VERSION} needs Python 2.7, and none was found \
         (tried: {}). Install it (for example `pyenv install 2.7.18`) or set \
         {PYTHON_ENV} to a python2.7 interpreter.",
        tried.join(", ")
    )
}

/// Interpreters to try, best first.
pub(super) fn python_candidates() -> Vec<PathBuf> {
    if let Some(python) = std::env::var_os(PYTHON_ENV) {
        return vec![PathBuf::from(python)];
    }
    let mut candidates = Vec::new();
    let pyenv_root = std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".pyenv")));
    if let Some(root) = pyenv_root
        && let Ok(entries) = fs::read_dir(root.join("versions"))
    {
        let mut versions: Vec<String> = entries
            .filter_map(|entry| entry.ok())
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .filter(|name| name.starts_with("2.7"))
            .collect();
        versions.sort();
        for version in versions.iter().rev() {
            candidates.push(root.join("versions").join(version).join("bin/python2.7"));
        }
    }
    candidates.push(PathBuf::from("python2.7"));
    candidates.push(PathBuf::from("python2"));
    candidates
}

/// A server for `wstest` to test: Autobahn calls it an agent.
pub(super) struct Target {
    pub(super) agent: String,
    pub(super) url: String,
}

/// The committed `fuzzingclient` specification, `xtask/autobahn/fuzzingclient.json`.
///
/// It holds the case list; `outdir` and `servers` are filled in per run.
pub(super) struct SpecTemplate {
    pub(super) json: serde_json::Map<String, serde_json::Value>,
    pub(super) cases: Vec<String>,
}

impl SpecTemplate {
    pub(super) fn load() -> Result<SpecTemplate> {
        let path = project_root().join("xtask/autobahn/fuzzingclient.json");
        let text = fs::read_to_string(&path)
            .with_context(|| format!("could not read {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("{} is not a valid spec", path.display()))
    }

    pub(super) fn parse(text: &str) -> Result<SpecTemplate> {
        let json: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text)?;
        let cases = match json.get("cases") {
            Some(serde_json::Value::Array(items)) => items
                .iter()
                .map(|item| {
                    item.as_str()
                        .map(str::to_string)
                        .context("every entry of `cases` must be a string")
                })
                .collect::<Result<Vec<_>>>()?,
            _ => bail!("`cases` must be a list of case patterns"),
        };
        Ok(SpecTemplate { json, cases })
    }

    /// The spec for one run, as JSON text.
    pub(super) fn render(&self, outdir: &Path, cases: &[String], targets: &[Target]) -> String {
        let mut json = self.json.clone();
        json.insert(
            "outdir".into(),
            serde_json::Value::String(outdir.display().to_string()),
        );
        json.insert("cases".into(), serde_json::json!(cases));
        let servers: Vec<serde_json::Value> = targets
            .iter()
            .map(|t| serde_json::json!({ "agent": t.agent, "url": t.url }))
            .collect();
        json.insert("servers".into(), serde_json::Value::Array(servers));
        serde_json::Value::Object(json).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_template_fills_in_outdir_cases_and_servers() {
        let template =
            SpecTemplate::parse(r#"{"cases": ["1.*"], "exclude-cases": [], "servers": []}"#)
                .unwrap();
        assert_eq!(template.cases, ["1.*"]);
        let targets = [Target {
            agent: "a".into(),
            url: "ws://127.0.0.1:1/echo".into(),
        }];
        let text = template.render(Path::new("/tmp/out"), &["6.4.*".to_string()], &targets);
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(json["outdir"], "/tmp/out");
        assert_eq!(json["cases"], serde_json::json!(["6.4.*"]));
        assert_eq!(json["servers"][0]["url"], "ws://127.0.0.1:1/echo");
        assert_eq!(json["exclude-cases"], serde_json::json!([]));
        assert!(SpecTemplate::parse(r#"{"cases": [1]}"#).is_err());
    }
}

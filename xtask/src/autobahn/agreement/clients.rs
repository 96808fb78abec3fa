//! `cargo xtask autobahn --agreement --client`: do wsconform and Autobahn
//! agree on *clients*?
//!
//! Autobahn's fuzzing server (`wstest -m fuzzingserver`) plays the server
//! side of its cases against a client; `wsconform run --client-cmd` plays the
//! client scenarios. Both grade the same clients, each started as a command
//! once per case or connection: the reference client (`wsconform client
//! --echo`), the testbed's tungstenite client peer, the course's Python
//! client and every client mutant. The client scenarios are not copies of
//! Autobahn's cases (they have no `autobahn:` field); the pairs that test
//! the same thing are listed in `xtask/autobahn/client-cases.yaml`, and
//! deliberate differences are explained in `client-differences.yaml`, in the
//! format of the server side's `differences.yaml`. Verdicts are compared as
//! for servers (see [`super::compare`]): both fail, or neither does.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use wsconform_runner::clients::{ClientSettings, run_client_suite};
use wsconform_runner::load::LoadedScenario;
use wsconform_runner::verdict::ScenarioResult;
use wsconform_testbed::client::ClientBug;

use super::super::Wstest;
use super::super::client::{ClientAgent, Player, fuzz_clients};
use super::compare::{Comparison, compare_all};
use super::covered::{covered_from_mapping, load_checked};
use super::{CLIENT_CASES, CLIENT_DIFFERENCES, STEP_TIMEOUT, print};
use crate::{project_root, run_command, target_dir};

/// How long one client may take to connect after it is started.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the wsconform run against one client may take before it is
/// called hung (every step has its own deadline; this guards the rest).
const WSCONFORM_TIMEOUT: Duration = Duration::from_secs(300);

/// One client of the comparison: its agent name and its command (`{url}`
/// is the URL to connect to).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientTarget {
    /// The name both tools' reports use.
    pub agent: String,
    /// The command that starts it.
    pub command: String,
}

/// Runs the client agreement check; see the module documentation.
pub(in super::super) fn run_clients(wstest: &Wstest, work_dir: &Path) -> Result<()> {
    let root = project_root();
    let read = |name: &str| {
        fs::read_to_string(root.join(name))
            .with_context(|| format!("could not read {}", root.join(name).display()))
    };
    let loaded = load_checked(&root.join("scenarios/13-client"))?;
    let covered = covered_from_mapping(loaded, &read(CLIENT_CASES)?, &read(CLIENT_DIFFERENCES)?)?;
    if covered.is_empty() {
        bail!("{CLIENT_CASES} maps no client scenario; nothing to compare");
    }
    run_command(
        "cargo",
        &[
            "build",
            "--quiet",
            "-p",
            "wsconform",
            "-p",
            "wsconform-testbed",
        ],
    )?;
    let targets = client_targets(&target_dir().join("debug"), &root);

    let run_dir = work_dir.join("run-client-agreement");
    let cases: Vec<String> = covered.iter().map(|c| c.case.clone()).collect();
    let agents: Vec<ClientAgent> = targets
        .iter()
        .map(|t| ClientAgent {
            agent: t.agent.clone(),
            player: Player::Command(t.command.clone()),
        })
        .collect();
    let index = fuzz_clients(wstest, &run_dir.join("wstest"), &cases, &agents)?;

    let scenarios: Vec<LoadedScenario> = covered.iter().map(|c| c.loaded.clone()).collect();
    let mut reports = BTreeMap::new();
    for target in &targets {
        reports.insert(target.agent.clone(), run_wsconform(&scenarios, target)?);
    }
    let names: Vec<String> = targets.iter().map(|t| t.agent.clone()).collect();
    let rows = compare_all(&covered, &names, &index, &reports);
    print::print_report(&covered, &names, &rows, &index, "client");
    let unexplained = rows
        .iter()
        .filter(|row| row.comparison == Comparison::Disagree && row.explained().is_none())
        .count();
    if unexplained > 0 {
        bail!(
            "wsconform and Autobahn disagree on {unexplained} client verdict(s) that \
             {CLIENT_DIFFERENCES} does not explain; see the list above"
        );
    }
    Ok(())
}

/// The clients compared, with the binaries under `bin` and the course's
/// client under `root`: the reference client, the tungstenite peer, the
/// course's Python client and every client mutant. Their output is
/// dropped: Autobahn's and wsconform's reports say what happened.
pub fn client_targets(bin: &Path, root: &Path) -> Vec<ClientTarget> {
    let quiet = |command: String| format!("{command} 2>/dev/null");
    let wsconform: PathBuf = bin.join("wsconform");
    let testbed: PathBuf = bin.join("wsconform-testbed");
    let python = root.join("crates/course/python/client.py");
    let mut targets = vec![
        ClientTarget {
            agent: "reference".into(),
            command: quiet(format!("{} client --echo {{url}}", wsconform.display())),
        },
        ClientTarget {
            agent: "peer".into(),
            command: quiet(format!("{} client-peer {{url}}", testbed.display())),
        },
        ClientTarget {
            agent: "course-python".into(),
            command: quiet(format!("python3 {} {{url}}", python.display())),
        },
    ];
    for bug in ClientBug::ALL {
        targets.push(ClientTarget {
            agent: format!("mutant-{}", bug.name()),
            command: quiet(format!(
                "{} client-mutant {} {{url}}",
                testbed.display(),
                bug.name()
            )),
        });
    }
    targets
}

/// Runs the covered client scenarios against one client with the runner,
/// in this process, keeping each result by scenario id.
fn run_wsconform(
    scenarios: &[LoadedScenario],
    target: &ClientTarget,
) -> Result<BTreeMap<String, ScenarioResult>> {
    let settings = ClientSettings {
        command: target.command.clone(),
        timeout: STEP_TIMEOUT,
        connect_timeout: CONNECT_TIMEOUT,
    };
    eprintln!(
        "autobahn: wsconform run --client-cmd against {}",
        target.agent
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("could not start a tokio runtime for the runner")?;
    let report = runtime
        .block_on(async {
            tokio::time::timeout(
                WSCONFORM_TIMEOUT,
                run_client_suite(scenarios, &settings, |_| {}),
            )
            .await
        })
        .with_context(|| {
            format!(
                "the wsconform run against {} took over {} s",
                target.agent,
                WSCONFORM_TIMEOUT.as_secs()
            )
        })?;
    Ok(report
        .results
        .into_iter()
        .map(|result| (result.id.clone(), result))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_client_mutant_and_the_three_clients_are_compared() {
        let targets = client_targets(Path::new("/bin"), Path::new("/src"));
        let agents: Vec<&str> = targets.iter().map(|t| t.agent.as_str()).collect();
        assert_eq!(agents[..3], ["reference", "peer", "course-python"]);
        assert_eq!(agents.len(), 3 + ClientBug::ALL.len());
        assert!(agents.contains(&"mutant-data-after-close"));
        assert_eq!(
            targets[0].command,
            "/bin/wsconform client --echo {url} 2>/dev/null"
        );
        assert!(targets.iter().all(|t| t.command.contains("{url}")));
    }
}

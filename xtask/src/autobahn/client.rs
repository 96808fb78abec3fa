//! `cargo xtask autobahn --client`: the other half of Autobahn — its
//! fuzzing *server* tests a client. wstest runs in `fuzzingserver` mode on
//! a free loopback port; the reference client (`wsconform-client`) asks it
//! how many cases there are (`/getCaseCount`), connects once per case
//! (`/runCase?case=N&agent=…`) and echoes every message until the server
//! closes, then asks for the reports (`/updateReports`). Every case must be
//! OK or INFORMATIONAL; the summary and every other result are printed.
//!
//! [`fuzz_clients`] is the same run for several clients, each under its
//! agent name: the reference client in this process, or any client command
//! started once per case with the case's URL (what the client agreement,
//! `--agreement --client`, runs).

use std::fs;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use wsconform_client::{Client, Options, Received, echo::echo};
use wsconform_wire::Message;

use super::results::{Index, print_not_ok, print_summary};
use super::wstest::{Wstest, tail};

/// The agent name the reports are filed under.
pub(super) const AGENT: &str = "wsconform-client";

/// The cases a client is run through: what Autobahn tests of a client
/// without extensions (12.* and 13.* need permessage-deflate, which the
/// reference client does not offer).
const CASES: [&str; 9] = [
    "1.*", "2.*", "3.*", "4.*", "5.*", "6.*", "7.*", "9.*", "10.*",
];

/// Bounds: one case (9.x sends 16 MiB messages through Python), the whole run.
const CASE_LIMIT: Duration = Duration::from_secs(120);
const RUN_LIMIT: Duration = Duration::from_secs(1200);

/// How a client plays the fuzzing server's cases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Player {
    /// The reference client, in this process.
    Reference,
    /// A command started once per case; `{url}` is replaced by the case's
    /// URL (single-quoted for the shell), which is appended when absent.
    Command(String),
}

/// One client under Autobahn's fuzzing server.
#[derive(Debug, Clone)]
pub(super) struct ClientAgent {
    /// The agent name its reports are filed under.
    pub(super) agent: String,
    /// How it plays.
    pub(super) player: Player,
}

/// Runs the fuzzing server and the reference client against it, in `run_dir`.
pub(super) fn run(wstest: &Wstest, run_dir: &Path, cases: &[String]) -> Result<()> {
    let cases: Vec<String> = if cases.is_empty() {
        CASES.iter().map(|c| c.to_string()).collect()
    } else {
        cases.to_vec()
    };
    let agents = [ClientAgent {
        agent: AGENT.to_string(),
        player: Player::Reference,
    }];
    let index = fuzz_clients(wstest, run_dir, &cases, &agents)?;
    let results = index.results_of(AGENT)?;
    print_summary("the reference client", &results);
    match print_not_ok(&index, AGENT, &results) {
        0 => Ok(()),
        bad => bail!("{bad} client case(s) neither OK nor INFORMATIONAL"),
    }
}

/// Runs `wstest -m fuzzingserver` with `cases` in a fresh `run_dir`, plays
/// every case with every client of `agents`, one after the other, and
/// reads the reports' `index.json`.
pub(super) fn fuzz_clients(
    wstest: &Wstest,
    run_dir: &Path,
    cases: &[String],
    agents: &[ClientAgent],
) -> Result<Index> {
    if run_dir.exists() {
        fs::remove_dir_all(run_dir)
            .with_context(|| format!("could not remove {}", run_dir.display()))?;
    }
    let reports = run_dir.join("reports");
    fs::create_dir_all(&reports)
        .with_context(|| format!("could not create {}", reports.display()))?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .context("no free loopback port for the fuzzing server")?
        .port();
    let url = format!("ws://127.0.0.1:{port}");
    let spec = serde_json::json!({
        "url": url,
        "outdir": reports,
        "cases": cases,
        "exclude-cases": [],
        "exclude-agent-cases": {},
    });
    let spec_path = run_dir.join("fuzzingserver.json");
    fs::write(&spec_path, serde_json::to_string_pretty(&spec)?)
        .with_context(|| format!("could not write {}", spec_path.display()))?;
    let log_path = run_dir.join("wstest.log");
    let log = fs::File::create(&log_path)
        .with_context(|| format!("could not create {}", log_path.display()))?;
    let log_err = log.try_clone()?;
    let mut command = tokio::process::Command::new(&wstest.python);
    command
        .arg("-c")
        .arg(super::wstest::LAUNCHER)
        .arg(&wstest.site_packages)
        .args(["-m", "fuzzingserver", "--webport", "0", "-s"])
        .arg(&spec_path)
        .current_dir(run_dir)
        .env("PYTHONWARNINGS", "ignore")
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .kill_on_drop(true);
    let names: Vec<&str> = agents.iter().map(|a| a.agent.as_str()).collect();
    eprintln!(
        "autobahn: wstest fuzzingserver at {url}, cases {}, clients {} (log: {})",
        cases.join(" "),
        names.join(", "),
        log_path.display()
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("could not start a tokio runtime")?;
    let played = runtime.block_on(async {
        let mut server = command.spawn().context("could not start wstest")?;
        let outcome = tokio::time::timeout(RUN_LIMIT, play(&url, &mut server, agents)).await;
        let _ = server.kill().await;
        match outcome {
            Ok(result) => result,
            Err(_) => bail!(
                "the client run did not finish within {} s",
                RUN_LIMIT.as_secs()
            ),
        }
    });
    if let Err(e) = played {
        bail!(
            "{e:#}\nlast lines of {}:\n{}",
            log_path.display(),
            tail(&log_path, 20)
        );
    }
    let index_path = reports.join("index.json");
    let text = fs::read_to_string(&index_path).with_context(|| {
        format!(
            "wstest wrote no {}; last lines of {}:\n{}",
            index_path.display(),
            log_path.display(),
            tail(&log_path, 20)
        )
    })?;
    let mut index = Index::parse(&text)
        .with_context(|| format!("{} is not an Autobahn index", index_path.display()))?;
    index.reports_dir = reports;
    Ok(index)
}

/// The clients' side of a run: count, every case with every client, the
/// reports.
async fn play(url: &str, server: &mut tokio::process::Child, agents: &[ClientAgent]) -> Result<()> {
    let count = case_count(url, server).await?;
    eprintln!("autobahn: {count} client cases");
    for agent in agents {
        let started = Instant::now();
        for case in 1..=count {
            let case_url = format!("{url}/runCase?case={case}&agent={}", agent.agent);
            play_case(&agent.player, &case_url).await?;
        }
        eprintln!(
            "autobahn: {count} cases played by {} in {:.1} s",
            agent.agent,
            started.elapsed().as_secs_f64()
        );
    }
    let last = agents.last().map_or(AGENT, |a| a.agent.as_str());
    let mut client = Client::connect(&format!("{url}/updateReports?agent={last}"), options())
        .await
        .context("could not ask the fuzzing server to write its reports")?;
    // The server closes once the reports are written.
    while let Ok(Received::Message(_)) = client.recv().await {}
    Ok(())
}

/// One case, played by one client. The outcome is Autobahn's to judge: a
/// case that ends in a protocol error is often the point of the case.
async fn play_case(player: &Player, case_url: &str) -> Result<()> {
    match player {
        Player::Reference => {
            let _ = tokio::time::timeout(CASE_LIMIT, async {
                let mut client = Client::connect(case_url, options()).await?;
                echo(&mut client).await
            })
            .await;
        }
        Player::Command(template) => {
            let command = command_for(template, case_url);
            let mut child = tokio::process::Command::new("sh")
                .arg("-c")
                .arg(format!("exec {command}"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .with_context(|| format!("could not start `{command}`"))?;
            if tokio::time::timeout(CASE_LIMIT, child.wait())
                .await
                .is_err()
            {
                let _ = child.kill().await;
            }
        }
    }
    Ok(())
}

/// A client command for one case: `{url}` replaced by the URL in single
/// quotes (it holds `&` and `?`), or the quoted URL appended.
fn command_for(template: &str, url: &str) -> String {
    let quoted = format!("'{}'", url.replace('\'', "'\\''"));
    if template.contains("{url}") {
        template.replace("{url}", &quoted)
    } else {
        format!("{template} {quoted}")
    }
}

/// Connects to `/getCaseCount` (retrying while wstest starts) and reads the count.
async fn case_count(url: &str, server: &mut tokio::process::Child) -> Result<u32> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = server.try_wait()? {
            bail!("wstest exited ({status}) before accepting connections");
        }
        match Client::connect(&format!("{url}/getCaseCount"), options()).await {
            Ok(mut client) => {
                return match client.recv().await {
                    Ok(Received::Message(Message::Text(text))) => text
                        .trim()
                        .parse()
                        .with_context(|| format!("getCaseCount answered {text:?}")),
                    other => bail!("getCaseCount answered {other:?}"),
                };
            }
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => bail!("the fuzzing server did not accept connections within 30 s: {e}"),
        }
    }
}

fn options() -> Options {
    Options {
        read_timeout: Some(Duration::from_secs(30)),
        ..Options::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_case_url_is_quoted_for_the_shell() {
        let url = "ws://127.0.0.1:9/runCase?case=3&agent=peer";
        assert_eq!(
            command_for("client --echo {url}", url),
            "client --echo 'ws://127.0.0.1:9/runCase?case=3&agent=peer'"
        );
        assert_eq!(
            command_for("client", "ws://h/it's"),
            "client 'ws://h/it'\\''s'"
        );
    }
}

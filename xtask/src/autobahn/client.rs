//! `cargo xtask autobahn --client`: the other half of Autobahn — its
//! fuzzing *server* tests a client. wstest runs in `fuzzingserver` mode on
//! a free loopback port; the reference client (`wsconform-client`) asks it
//! how many cases there are (`/getCaseCount`), connects once per case
//! (`/runCase?case=N&agent=…`) and echoes every message until the server
//! closes, then asks for the reports (`/updateReports`). Every case must be
//! OK or INFORMATIONAL; the summary and every other result are printed.

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

/// Runs the fuzzing server and the reference client against it, in `run_dir`.
pub(super) fn run(wstest: &Wstest, run_dir: &Path, cases: &[String]) -> Result<()> {
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
    let cases: Vec<String> = if cases.is_empty() {
        CASES.iter().map(|c| c.to_string()).collect()
    } else {
        cases.to_vec()
    };
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
    eprintln!(
        "autobahn: wstest fuzzingserver at {url}, cases {}, the reference client as {AGENT} (log: {})",
        cases.join(" "),
        log_path.display()
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("could not start a tokio runtime")?;
    let played = runtime.block_on(async {
        let mut server = command.spawn().context("could not start wstest")?;
        let outcome = tokio::time::timeout(RUN_LIMIT, play(&url, &mut server)).await;
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
    let results = index.results_of(AGENT)?;
    print_summary("the reference client", &results);
    match print_not_ok(&index, AGENT, &results) {
        0 => Ok(()),
        bad => bail!("{bad} client case(s) neither OK nor INFORMATIONAL"),
    }
}

/// The client's side of a run: count, every case, the reports.
async fn play(url: &str, server: &mut tokio::process::Child) -> Result<()> {
    let count = case_count(url, server).await?;
    eprintln!("autobahn: {count} client cases");
    let started = Instant::now();
    for case in 1..=count {
        let case_url = format!("{url}/runCase?case={case}&agent={AGENT}");
        // The outcome is Autobahn's to judge: a case that ends in a
        // protocol error is often the point of the case.
        let _ = tokio::time::timeout(CASE_LIMIT, async {
            let mut client = Client::connect(&case_url, options()).await?;
            echo(&mut client).await
        })
        .await;
    }
    eprintln!(
        "autobahn: {count} cases played in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let mut client = Client::connect(&format!("{url}/updateReports?agent={AGENT}"), options())
        .await
        .context("could not ask the fuzzing server to write its reports")?;
    // The server closes once the reports are written.
    while let Ok(Received::Message(_)) = client.recv().await {}
    Ok(())
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

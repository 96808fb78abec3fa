//! The from-scratch track against the suite: every step, in Rust and in
//! Python, is started on a free loopback port and played its own chapter
//! and the next one.
//!
//! - Step N fails, in its own chapter, exactly the scenarios `STAGING.md`
//!   lists for it (each needs something a later chapter teaches).
//! - Step N fails at least one scenario of chapter N+1: the suite can tell
//!   the steps apart (steps 1 to 9; `STAGING.md` says why not step 10).
//! - The last step passes the whole suite: echo on `/echo`, chat on
//!   `/socket`.
//!
//! The steps run side by side; steps before the concurrency chapter serve
//! one connection at a time, so their scenarios run one at a time (`-j 1`).

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use wsconform_runner::conformance::{Endpoint, run_endpoints};
use wsconform_runner::load::{LoadedScenario, bundled};
use wsconform_runner::plan::{PlanSettings, Profile, Target};
use wsconform_runner::suite::{RunReport, Selection, run_suite};

/// One step of the track: its number, file name and chapter.
struct Step {
    number: usize,
    name: &'static str,
    chapter: &'static str,
    rust: &'static str,
}

const STEPS: [Step; 11] = [
    Step {
        number: 1,
        name: "step01_handshake",
        chapter: "handshake",
        rust: env!("CARGO_BIN_EXE_step01_handshake"),
    },
    Step {
        number: 2,
        name: "step02_frames",
        chapter: "frames",
        rust: env!("CARGO_BIN_EXE_step02_frames"),
    },
    Step {
        number: 3,
        name: "step03_lengths",
        chapter: "lengths",
        rust: env!("CARGO_BIN_EXE_step03_lengths"),
    },
    Step {
        number: 4,
        name: "step04_masking",
        chapter: "masking",
        rust: env!("CARGO_BIN_EXE_step04_masking"),
    },
    Step {
        number: 5,
        name: "step05_text_utf8",
        chapter: "text-utf8",
        rust: env!("CARGO_BIN_EXE_step05_text_utf8"),
    },
    Step {
        number: 6,
        name: "step06_fragmentation",
        chapter: "fragmentation",
        rust: env!("CARGO_BIN_EXE_step06_fragmentation"),
    },
    Step {
        number: 7,
        name: "step07_ping_pong",
        chapter: "ping-pong",
        rust: env!("CARGO_BIN_EXE_step07_ping_pong"),
    },
    Step {
        number: 8,
        name: "step08_closing",
        chapter: "closing",
        rust: env!("CARGO_BIN_EXE_step08_closing"),
    },
    Step {
        number: 9,
        name: "step09_concurrency",
        chapter: "concurrency",
        rust: env!("CARGO_BIN_EXE_step09_concurrency"),
    },
    Step {
        number: 10,
        name: "step10_chat",
        chapter: "chat",
        rust: env!("CARGO_BIN_EXE_step10_chat"),
    },
    Step {
        number: 11,
        name: "step11_hardening",
        chapter: "hardening",
        rust: env!("CARGO_BIN_EXE_step11_hardening"),
    },
];

/// The first step that serves clients concurrently.
const CONCURRENCY: usize = 9;
/// The next chapter has no scenario this step fails (see `STAGING.md`).
const NEXT_CHAPTER_HAS_NO_POWER: &[usize] = &[10];

/// How long a step may take to print its `listening on` line.
const START_DEADLINE: Duration = Duration::from_secs(20);
/// Deadline for each scenario step in the step's own chapter.
const STEP_TIMEOUT: Duration = Duration::from_secs(2);
/// Deadline for each scenario step in the next chapter, where only "fails
/// something" is asserted: failures there are mostly timeouts.
const NEXT_TIMEOUT: Duration = Duration::from_secs(1);

/// A language of the track and how to start a step in it.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Language {
    Rust,
    Python,
}

impl Language {
    fn command(self, step: &Step) -> Command {
        match self {
            Language::Rust => Command::new(step.rust),
            Language::Python => {
                let mut command = Command::new("python3");
                let script = Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("python")
                    .join(format!("{}.py", step.name));
                command.arg(script);
                command
            }
        }
    }
}

/// A running step; killed (and reaped) when dropped.
struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a step on port 0 and reads the port it printed.
fn start(language: Language, step: &Step) -> Server {
    let mut command = language.command(step);
    let mut child = command
        .arg("0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{language:?} {}: cannot start: {e}", step.name));
    let stdout = child.stdout.take().expect("stdout is piped");
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = sender.send(line);
    });
    let mut server = Server { child, port: 0 };
    let line = receiver
        .recv_timeout(START_DEADLINE)
        .unwrap_or_else(|_| panic!("{language:?} {}: no 'listening on' line", step.name));
    let port = line
        .trim()
        .strip_prefix("listening on 127.0.0.1:")
        .and_then(|port| port.parse().ok())
        .unwrap_or_else(|| panic!("{language:?} {}: printed {line:?}", step.name));
    server.port = port;
    server
}

fn target(port: u16, path: &str) -> Target {
    Target {
        host: "127.0.0.1".into(),
        port,
        path: path.into(),
    }
}

fn chapter(all: &[LoadedScenario], name: &str) -> Vec<LoadedScenario> {
    let selection = Selection {
        chapters: vec![name.to_string()],
        ..Selection::default()
    };
    let chosen: Vec<LoadedScenario> = all
        .iter()
        .filter(|s| selection.selects(s))
        .cloned()
        .collect();
    assert!(!chosen.is_empty(), "no scenario in chapter {name}");
    chosen
}

fn failing(report: &RunReport) -> BTreeSet<String> {
    report
        .results
        .iter()
        .filter(|r| !r.outcome.is_ok())
        .map(|r| r.id.clone())
        .collect()
}

/// Plays one chapter against a step: `/socket` with the chat profile for
/// the chat chapter, `/echo` with the echo profile otherwise.
async fn play(
    all: &[LoadedScenario],
    name: &str,
    port: u16,
    step: usize,
    timeout: Duration,
) -> RunReport {
    let (path, profile) = if name == "chat" {
        ("/socket", Profile::Chat)
    } else {
        ("/echo", Profile::Echo)
    };
    let settings = PlanSettings {
        target: target(port, path),
        profile,
        timeout,
        run_id: step as u64,
    };
    let jobs = if step < CONCURRENCY { 1 } else { 4 };
    run_suite(&chapter(all, name), &settings, jobs, |_| {}).await
}

/// What one step did: its own chapter's failures and the next chapter's.
struct Outcome {
    language: Language,
    step: usize,
    own: BTreeSet<String>,
    next: Option<BTreeSet<String>>,
    elapsed: Duration,
}

async fn check_step(all: &[LoadedScenario], language: Language, index: usize) -> Outcome {
    let step = &STEPS[index];
    let started = Instant::now();
    let server = start(language, step);
    let (own, next) = if step.number == STEPS.len() {
        let reports = run_endpoints(
            all,
            &Endpoint::both(([127, 0, 0, 1], server.port).into()),
            4,
            STEP_TIMEOUT,
            11,
        )
        .await;
        let own: BTreeSet<String> = reports.iter().flat_map(failing).collect();
        (own, None)
    } else {
        let own = failing(&play(all, step.chapter, server.port, step.number, STEP_TIMEOUT).await);
        let next_chapter = STEPS[index + 1].chapter;
        let next = failing(&play(all, next_chapter, server.port, step.number, NEXT_TIMEOUT).await);
        (own, Some(next))
    };
    drop(server);
    Outcome {
        language,
        step: step.number,
        own,
        next,
        elapsed: started.elapsed(),
    }
}

/// The rows of the staging table: (step, scenario id).
fn staging_table() -> BTreeSet<(usize, String)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("STAGING.md");
    let text = std::fs::read_to_string(&path).expect("STAGING.md is readable");
    text.lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let step = cells.get(1)?.parse::<usize>().ok()?;
            let id = cells.get(2)?.trim_matches('`');
            id.contains('.').then(|| (step, id.to_string()))
        })
        .collect()
}

fn python_available() -> bool {
    Command::new("python3")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_step_passes_its_chapter_and_the_last_passes_everything() {
    let started = Instant::now();
    let all = std::sync::Arc::new(bundled().expect("the bundled suite loads"));
    let table = staging_table();
    assert!(!table.is_empty(), "STAGING.md has no table rows");
    let mut languages = vec![Language::Rust];
    if python_available() {
        languages.push(Language::Python);
    } else {
        println!("python3 is not installed: the Python steps are not checked");
    }
    let mut runs = tokio::task::JoinSet::new();
    for &language in &languages {
        for index in 0..STEPS.len() {
            let all = std::sync::Arc::clone(&all);
            runs.spawn(async move { check_step(&all, language, index).await });
        }
    }
    let mut outcomes = Vec::new();
    while let Some(done) = runs.join_next().await {
        match done {
            Ok(outcome) => outcomes.push(outcome),
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }
    outcomes.sort_by_key(|o| (o.step, o.language == Language::Python));

    let mut problems = Vec::new();
    for o in &outcomes {
        let next = o
            .next
            .as_ref()
            .map_or(String::from("-"), |n| n.len().to_string());
        println!(
            "{:?} step {:2}: {} own-chapter failures, {next} next-chapter failures ({:.1} s)",
            o.language,
            o.step,
            o.own.len(),
            o.elapsed.as_secs_f64()
        );
        for id in &o.own {
            println!("    own:  {id}");
        }
        if let Some(next) = &o.next {
            for id in next.iter().take(3) {
                println!("    next: {id}");
            }
        }
        let expected: BTreeSet<String> = table
            .iter()
            .filter(|(step, _)| *step == o.step)
            .map(|(_, id)| id.clone())
            .collect();
        if o.own != expected {
            let unexpected: Vec<_> = o.own.difference(&expected).collect();
            let missing: Vec<_> = expected.difference(&o.own).collect();
            problems.push(format!(
                "{:?} step {}: fails {unexpected:?} that STAGING.md does not list, passes {missing:?} that it lists",
                o.language, o.step
            ));
        }
        match &o.next {
            Some(next) if next.is_empty() && !NEXT_CHAPTER_HAS_NO_POWER.contains(&o.step) => {
                problems.push(format!(
                    "{:?} step {}: passes all of chapter {}, so the suite cannot tell it from the next step",
                    o.language,
                    o.step,
                    o.step + 1
                ));
            }
            Some(next) if !next.is_empty() && NEXT_CHAPTER_HAS_NO_POWER.contains(&o.step) => {
                problems.push(format!(
                    "{:?} step {}: now fails {next:?} of the next chapter: take it out of NEXT_CHAPTER_HAS_NO_POWER",
                    o.language, o.step
                ));
            }
            _ => {}
        }
    }
    assert_eq!(outcomes.len(), languages.len() * STEPS.len());
    println!("the track took {:.1} s", started.elapsed().as_secs_f64());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Waits up to `deadline` for the child to exit.
fn wait_exit(child: &mut Child, deadline: Duration) -> Option<std::process::ExitStatus> {
    let started = Instant::now();
    while started.elapsed() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

#[test]
fn every_step_ends_on_sigterm() {
    use std::os::unix::process::ExitStatusExt;

    let mut languages = vec![Language::Rust];
    if python_available() {
        languages.push(Language::Python);
    } else {
        println!("python3 is not installed: the Python steps are not checked");
    }
    for language in languages {
        for step in &STEPS {
            let mut server = start(language, step);
            let pid = server.child.id().to_string();
            let sent = Command::new("kill").args(["-TERM", &pid]).status();
            assert!(sent.is_ok_and(|s| s.success()), "kill -TERM {pid} failed");
            let status =
                wait_exit(&mut server.child, Duration::from_secs(5)).unwrap_or_else(|| {
                    panic!("{language:?} {}: still running after SIGTERM", step.name)
                });
            match language {
                // std has no signal handling: SIGTERM's default action ends
                // the process, and the kernel closes its sockets.
                Language::Rust => assert_eq!(status.signal(), Some(15), "{}: {status}", step.name),
                // The Python steps catch SIGTERM and exit with status 0.
                Language::Python => assert!(status.success(), "{}: {status}", step.name),
            }
        }
    }
}

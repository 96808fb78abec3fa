//! The from-scratch track against the suite: every step, in Rust and in
//! Python, is started on a free loopback port and played the chapters up to
//! its own and the next one. This is the staging rule tested from both sides:
//!
//! - step N passes `--up-to N` with no failure: a scenario of chapter N
//!   needs only chapters 1 to N;
//! - step N does not pass every scenario of the next chapter of the main
//!   chain (a failure, or a SHOULD missed: non-strict): the suite can tell
//!   the steps apart;
//! - the last step passes the whole main chain: echo on `/echo`, chat on
//!   `/socket`, every scenario in both profiles.
//!
//! A few steps run side by side; the runner plays the chapters before
//! concurrency one scenario at a time (their steps serve one connection at
//! a time).

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use wsconform_runner::chapter;
use wsconform_runner::conformance::{Endpoint, run_endpoints};
use wsconform_runner::load::{LoadedScenario, bundled};
use wsconform_runner::plan::{PlanSettings, Profile, Target};
use wsconform_runner::suite::{RunReport, Selection, run_suite};
use wsconform_runner::verdict::Outcome as RunOutcome;

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

/// How many steps are checked at the same time.
const STEPS_AT_ONCE: usize = 6;
/// How long a step may take to print its `listening on` line.
const START_DEADLINE: Duration = Duration::from_secs(20);
/// Deadline for each scenario step in the step's own chapters.
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

fn chapters(all: &[LoadedScenario], names: &[&str]) -> Vec<LoadedScenario> {
    let selection = Selection {
        chapters: names.iter().map(|name| name.to_string()).collect(),
        ..Selection::default()
    };
    let chosen: Vec<LoadedScenario> = all
        .iter()
        .filter(|s| selection.selects(s))
        .cloned()
        .collect();
    assert!(!chosen.is_empty(), "no scenario in chapters {names:?}");
    chosen
}

/// The scenarios failed; with `non_strict_too`, the non-strict ones as well
/// (a step told apart from the next by a SHOULD it misses).
fn failing(report: &RunReport, non_strict_too: bool) -> BTreeSet<String> {
    report
        .results
        .iter()
        .filter(|r| !r.outcome.is_ok() || (non_strict_too && r.outcome == RunOutcome::NonStrict))
        .map(|r| r.id.clone())
        .collect()
}

/// Plays chapters against a step: the chat chapter on `/socket` with the
/// chat profile, the others on `/echo` with the echo profile.
async fn play(
    all: &[LoadedScenario],
    names: &[&str],
    port: u16,
    step: usize,
    timeout: Duration,
    non_strict_too: bool,
) -> BTreeSet<String> {
    let mut failed = BTreeSet::new();
    // With the chat chapter, `/socket` gets every chapter up to it (the
    // scenarios for any profile, played as chat), `/echo` the echo ones.
    let echo: Vec<&str> = names
        .iter()
        .copied()
        .filter(|name| *name != "chat")
        .collect();
    let chat: Vec<&str> = if names.contains(&"chat") {
        names.to_vec()
    } else {
        Vec::new()
    };
    for (names, path, profile) in [
        (echo, "/echo", Profile::Echo),
        (chat, "/socket", Profile::Chat),
    ] {
        if names.is_empty() {
            continue;
        }
        let settings = PlanSettings {
            target: target(port, path),
            profile,
            timeout,
            run_id: step as u64,
        };
        let report = run_suite(&chapters(all, &names), &settings, 4, |_| {}).await;
        failed.extend(failing(&report, non_strict_too));
    }
    failed
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
    let (own, next) = match chapter::next(step.chapter) {
        None => {
            let main_chain: Vec<LoadedScenario> = all
                .iter()
                .filter(|s| chapter::find(&s.chapter).is_some_and(|(_, c)| !c.optional))
                .cloned()
                .collect();
            let reports = run_endpoints(
                &main_chain,
                &Endpoint::both(([127, 0, 0, 1], server.port).into()),
                4,
                STEP_TIMEOUT,
                step.number as u64,
            )
            .await;
            let own: BTreeSet<String> = reports.iter().flat_map(|r| failing(r, false)).collect();
            (own, None)
        }
        Some(next) => {
            let up_to =
                chapter::up_to(step.chapter).expect("a step's chapter is in the main chain");
            let own = play(all, &up_to, server.port, step.number, STEP_TIMEOUT, false).await;
            let next = play(
                all,
                &[next.name],
                server.port,
                step.number,
                NEXT_TIMEOUT,
                true,
            )
            .await;
            (own, Some(next))
        }
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

fn python_available() -> bool {
    Command::new("python3")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_step_passes_up_to_its_chapter_and_fails_the_next() {
    let started = Instant::now();
    let all = std::sync::Arc::new(bundled().expect("the bundled suite loads"));
    let mut languages = vec![Language::Rust];
    if python_available() {
        languages.push(Language::Python);
    } else {
        println!("python3 is not installed: the Python steps are not checked");
    }
    // A few steps at a time: all 22 at once on a small machine would starve
    // some of them past their step deadlines, and a pass must not depend
    // on the machine being idle.
    let at_once = std::sync::Arc::new(tokio::sync::Semaphore::new(STEPS_AT_ONCE));
    let mut runs = tokio::task::JoinSet::new();
    for &language in &languages {
        for index in 0..STEPS.len() {
            let all = std::sync::Arc::clone(&all);
            let at_once = std::sync::Arc::clone(&at_once);
            runs.spawn(async move {
                let _permit = at_once.acquire_owned().await;
                check_step(&all, language, index).await
            });
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
        if !o.own.is_empty() {
            problems.push(format!(
                "{:?} step {}: --up-to {} fails {:?}: a scenario needs a later chapter, or the step has a bug",
                o.language,
                o.step,
                STEPS[o.step - 1].chapter,
                o.own
            ));
        }
        if o.next.as_ref().is_some_and(BTreeSet::is_empty) {
            problems.push(format!(
                "{:?} step {}: passes all of the next chapter, so the suite cannot tell it from the next step",
                o.language, o.step
            ));
        }
    }
    assert_eq!(outcomes.len(), languages.len() * STEPS.len());
    println!("the track took {:.1} s", started.elapsed().as_secs_f64());
    let step_chapters: Vec<&str> = STEPS.iter().map(|s| s.chapter).collect();
    let main_chain: Vec<&str> = chapter::CHAPTERS
        .iter()
        .filter(|c| !c.optional)
        .map(|c| c.name)
        .collect();
    assert_eq!(
        step_chapters, main_chain,
        "one step per main-chain chapter, in order"
    );
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

//! The book's generated excerpts are real output, and never stale.
//!
//! Each chapter's "Check your server" shows what `wsconform` prints for a
//! server with that chapter's classic bug. Those excerpts are not typed:
//! this test runs the scenario against a mutant server of the testbed (the
//! reference behaviour with exactly one bug), renders the report exactly as
//! the `wsconform run` command does (without colour and timings), and
//! compares it with the file the chapter includes. The output of
//! `wsconform decode` shown in the chapters is generated the same way, and
//! so are the "break it" exercises (`generated/breaks.rs`): a bug put into a
//! step of the from-scratch track, and the report it gets.
//! (Appendix B's table of Autobahn cases is checked by
//! `tests/autobahn_table.rs`.)
//!
//! When the runner's output or the suite changes, this test fails and names
//! the stale files. Regenerate them with
//!
//! ```text
//! WSCONFORM_BLESS=1 cargo test -p wsconform-book --test generated
//! ```
//!
//! and review the diff like any other change to the book.

// The break-it exercises live in their own file; `tests/generated/` is not
// a test target of its own.
#[path = "generated/breaks.rs"]
mod breaks;

use std::path::{Path, PathBuf};
use std::time::Duration;

use wsconform_runner::decode::explain_bytes;
use wsconform_runner::hex::parse_hex;
use wsconform_runner::load::{LoadedScenario, bundled};
use wsconform_runner::plan::{PlanSettings, Profile, Target};
use wsconform_runner::report::human::{HumanOptions, render};
use wsconform_runner::suite::run_suite;
use wsconform_runner::violations::{self, Sender};
use wsconform_testbed::{Bug, start_mutant};

/// Set to `1` to rewrite the generated files instead of comparing them.
const BLESS: &str = "WSCONFORM_BLESS";

/// The address the book's commands use; the mutant's real one replaces it.
const BOOK_ADDR: &str = "127.0.0.1:8080";

/// One excerpt: a scenario run against a server with one bug.
struct Excerpt {
    /// File under `book/src/generated/`.
    file: &'static str,
    /// The scenario, by id.
    scenario: &'static str,
    /// The bug the server has.
    bug: Bug,
    /// The profile, and the target path that goes with it.
    chat: bool,
}

/// One excerpt per chapter with a classic bug to show.
const EXCERPTS: &[Excerpt] = &[
    Excerpt {
        file: "handshake-wrong-accept-key.txt",
        scenario: "handshake.accept-key",
        bug: Bug::WrongAcceptKey,
        chat: false,
    },
    Excerpt {
        file: "frames-one-read-one-frame.txt",
        scenario: "fragmentation.slow-client",
        bug: Bug::OneReadOneFrame,
        chat: false,
    },
    Excerpt {
        file: "lengths-little-endian.txt",
        scenario: "lengths.round-trips-binary-256",
        bug: Bug::LittleEndianLength,
        chat: false,
    },
    Excerpt {
        file: "masking-unmasked-accepted.txt",
        scenario: "masking.unmasked-frame",
        bug: Bug::UnmaskedAccepted,
        chat: false,
    },
    Excerpt {
        file: "utf8-no-check.txt",
        scenario: "text-utf8.invalid",
        bug: Bug::NoUtf8Check,
        chat: false,
    },
    Excerpt {
        file: "fragmentation-fin-ignored.txt",
        scenario: "fragmentation.three-fragments",
        bug: Bug::FinIgnored,
        chat: false,
    },
    Excerpt {
        file: "ping-ignored.txt",
        scenario: "ping-pong.echo-payload",
        bug: Bug::PingIgnored,
        chat: false,
    },
    Excerpt {
        file: "closing-not-answered.txt",
        scenario: "closing.normal",
        bug: Bug::CloseNotAnswered,
        chat: false,
    },
    Excerpt {
        file: "chat-sender-only.txt",
        scenario: "chat.broadcast",
        bug: Bug::BroadcastToSenderOnly,
        chat: true,
    },
    Excerpt {
        file: "concurrency-one-at-a-time.txt",
        scenario: "concurrency.idle-client-does-not-block",
        bug: Bug::OneClientAtATime,
        chat: false,
    },
];

fn generated_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../book/src/generated")
}

/// Compares `text` with the committed file, or rewrites it when blessing.
/// Returns a line describing the problem, if any.
fn check(file: &str, text: &str) -> Option<String> {
    let path = generated_dir().join(file);
    let blessing = std::env::var(BLESS).is_ok_and(|v| v == "1");
    let current = std::fs::read_to_string(&path).ok();
    if current.as_deref() == Some(text) {
        return None;
    }
    if blessing {
        std::fs::create_dir_all(generated_dir()).expect("create book/src/generated");
        std::fs::write(&path, text).expect("write a generated file");
        return None;
    }
    Some(match current {
        None => format!("book/src/generated/{file} is missing"),
        Some(_) => format!("book/src/generated/{file} is stale"),
    })
}

/// Runs one excerpt's scenario against its mutant; returns the command and
/// the report as the reader would see them.
async fn failing_run(excerpt: &Excerpt, scenario: LoadedScenario) -> String {
    let (addr, server) = start_mutant(Some(excerpt.bug))
        .await
        .expect("start a mutant on 127.0.0.1");
    let (profile, path, flag) = if excerpt.chat {
        (Profile::Chat, "socket", " --profile chat")
    } else {
        (Profile::Echo, "echo", "")
    };
    let settings = PlanSettings {
        target: Target::parse(&format!("ws://{addr}/{path}")).expect("a valid target"),
        profile,
        // The command's default step deadline, so "timed out after 2 s"
        // reads as the reader will see it.
        timeout: Duration::from_secs(2),
        run_id: 1,
    };
    // Hang guard only: the runner's own deadlines end the run long before.
    let report = tokio::time::timeout(
        Duration::from_secs(60),
        run_suite(&[scenario], &settings, 1, |_| {}),
    )
    .await
    .expect("the run ended");
    server.shutdown().await;
    assert!(
        report.results.iter().any(|r| !r.outcome.is_ok()),
        "the mutant '{}' passes {}: this excerpt would not show a failing run; pick another scenario",
        excerpt.bug.name(),
        excerpt.scenario
    );
    let output = render(
        &report,
        HumanOptions {
            color: false,
            timings: false,
        },
    );
    format!(
        "$ wsconform run {}{flag} --target ws://{BOOK_ADDR}/{path}\n{}",
        excerpt.scenario,
        output.replace(&addr.to_string(), BOOK_ADDR)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_run_excerpts_are_current() {
    let suite = bundled().expect("the bundled suite loads");
    let mut runs = Vec::new();
    for excerpt in EXCERPTS {
        let scenario = suite
            .iter()
            .find(|s| s.scenario.id == excerpt.scenario)
            .unwrap_or_else(|| panic!("no bundled scenario {}", excerpt.scenario))
            .clone();
        runs.push(tokio::spawn(failing_run(excerpt, scenario)));
    }
    let mut problems = Vec::new();
    for (excerpt, run) in EXCERPTS.iter().zip(runs) {
        let text = run.await.expect("the run did not panic");
        problems.extend(check(excerpt.file, &text));
    }
    assert!(
        problems.is_empty(),
        "{}\nregenerate with `{BLESS}=1 cargo test -p wsconform-book --test generated` and review the diff",
        problems.join("\n")
    );
}

/// `wsconform decode` examples: (file, the bytes as typed on the command line).
const DECODES: &[(&str, &str)] = &[
    ("decode-hello.txt", "81 85 37 fa 21 3d 7f 9f 4d 51 58"),
    ("decode-256.txt", "82 7e 01 00"),
    ("decode-top-bit.txt", "82 7f 80 00 00 00 00 00 00 01"),
];

#[test]
fn decode_excerpts_are_current() {
    let mut problems = Vec::new();
    for (file, hex) in DECODES {
        let bytes = parse_hex(hex).expect("valid hex");
        // What `wsconform decode` prints: the command joins its arguments
        // with spaces and prints `explain_bytes`, then the rules broken.
        let sender = Sender::guess(&bytes);
        let text = format!(
            "$ wsconform decode {hex}\n{}{}",
            explain_bytes(&bytes),
            violations::explain(&bytes, sender)
        );
        problems.extend(check(file, &text));
    }
    assert!(
        problems.is_empty(),
        "{}\nregenerate with `{BLESS}=1 cargo test -p wsconform-book --test generated` and review the diff",
        problems.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn break_it_excerpts_are_current() {
    let suite = bundled().expect("the bundled suite loads");
    let problems = breaks::check_breaks(suite).await;
    assert!(
        problems.is_empty(),
        "{}\nregenerate with `{BLESS}=1 cargo test -p wsconform-book --test generated` and review the diff",
        problems.join("\n")
    );
}

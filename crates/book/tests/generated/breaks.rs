//! The "break it" exercises: one deliberate bug put into a step of the
//! from-scratch track, and what `wsconform run --up-to CHAPTER` prints for
//! it.
//!
//! A break is a textual change to a course step, given for both languages.
//! The Python change is applied to a copy of `crates/course/python/stepNN_*.py`
//! in a temporary folder, the copy is started on a free loopback port, and
//! the chapters up to the step's own are played against it exactly as the
//! command in the book does. The course steps themselves never change:
//! `crates/course/tests/track.rs` keeps proving them whole.
//!
//! Three files per break are written to `book/src/generated/`:
//!
//! - `break-NAME.py.diff` and `break-NAME.rs.diff`: the change, as a diff
//!   of the course step (each change must match its step exactly once, so
//!   a step that is edited makes the test name the break to update);
//! - `break-NAME.txt`: the command and an excerpt of its report: the
//!   failing result lines, one failure explained in full, and the summary.
//!
//! The Rust change is checked to apply to its step, not built: the run is
//! the Python step's, which needs no compiler and starts in a moment.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use wsconform_runner::chapter;
use wsconform_runner::load::LoadedScenario;
use wsconform_runner::plan::{PlanSettings, Profile, Target};
use wsconform_runner::report::human::{HumanOptions, render, result_line, summary_line};
use wsconform_runner::suite::{RunReport, Selection, run_suite};
use wsconform_runner::verdict::Outcome;

use super::{BOOK_ADDR, check};

/// A change to one file: `old` must occur exactly once and becomes `new`.
struct Change {
    old: &'static str,
    new: &'static str,
}

/// One exercise: a bug, put into a course step.
struct Break {
    /// The files are `break-{name}.txt`, `.py.diff` and `.rs.diff`.
    name: &'static str,
    /// The course step, by file stem (`step03_lengths`).
    step: &'static str,
    /// The chapter the step belongs to: the command's `--up-to`.
    chapter: &'static str,
    /// Played as chat on `/socket` rather than echo on `/echo`.
    chat: bool,
    /// Played one scenario at a time (`-j 1`): a server that serves one
    /// client at a time makes parallel scenarios wait for each other, and
    /// which one waits would change from run to run.
    serial: bool,
    /// The changes to the Python step.
    python: &'static [Change],
    /// The same bug in the Rust step.
    rust: &'static [Change],
    /// The scenario whose failure the excerpt explains in full.
    focus: &'static str,
}

/// One or two breaks for every chapter of the main chain, in its order.
const BREAKS: &[Break] = &[
    Break {
        name: "handshake-no-guid",
        step: "step01_handshake",
        chapter: "handshake",
        chat: false,
        serial: false,
        python: &[Change {
            old: r#"hashlib.sha1(key.encode("ascii") + GUID)"#,
            new: r#"hashlib.sha1(key.encode("ascii"))"#,
        }],
        rust: &[Change {
            old: r#"format!("{key}{GUID}").as_bytes()"#,
            new: "key.as_bytes()",
        }],
        focus: "handshake.rfc-sample-key",
    },
    Break {
        name: "handshake-connection-whole",
        step: "step01_handshake",
        chapter: "handshake",
        chat: false,
        serial: false,
        python: &[Change {
            old: "    connection = \",\".join(headers.get(\"connection\", []))\n    tokens = [token.strip().lower() for token in connection.split(\",\")]\n    if \"upgrade\" not in tokens:\n",
            new: "    if one_header(headers, \"connection\") != \"Upgrade\":\n",
        }],
        rust: &[Change {
            old: "    let connection = request.headers.get(\"connection\").cloned();\n    let connection = connection.unwrap_or_default().join(\",\");\n    if !connection\n        .split(',')\n        .any(|token| token.trim().eq_ignore_ascii_case(\"upgrade\"))\n    {\n",
            new: "    if one_header(request, \"connection\") != Some(\"Upgrade\") {\n",
        }],
        focus: "handshake.connection-keep-alive-upgrade",
    },
    Break {
        name: "frames-one-read",
        step: "step02_frames",
        chapter: "frames",
        chat: false,
        serial: false,
        python: &[Change {
            old: "    payload = unmask(reader.read_exact(length), mask)\n",
            new: "    if not reader.buffer:\n        reader.fill()\n    payload = unmask(reader.read_exact(min(length, len(reader.buffer))), mask)\n",
        }],
        rust: &[Change {
            old: "    reader.read_exact(&mut payload)?;\n",
            new: "    let got = reader.read(&mut payload)?;\n    payload.truncate(got);\n",
        }],
        focus: "frames.split-payload",
    },
    Break {
        name: "lengths-little-endian",
        step: "step03_lengths",
        chapter: "lengths",
        chat: false,
        serial: false,
        python: &[Change {
            old: r#"struct.unpack("!H", reader.read_exact(2))"#,
            new: r#"struct.unpack("<H", reader.read_exact(2))"#,
        }],
        rust: &[Change {
            old: "u16::from_be_bytes(bytes)",
            new: "u16::from_le_bytes(bytes)",
        }],
        focus: "lengths.round-trips-text-256",
    },
    Break {
        name: "masking-not-unmasked",
        step: "step04_masking",
        chapter: "masking",
        chat: false,
        serial: false,
        python: &[Change {
            old: "payload = unmask(reader.read_exact(length), mask)",
            new: "payload = reader.read_exact(length)",
        }],
        rust: &[Change {
            old: "    unmask(&mut payload, mask);\n",
            new: "",
        }],
        focus: "frames.text-hello",
    },
    Break {
        name: "utf8-unchecked",
        step: "step05_text_utf8",
        chapter: "text-utf8",
        chat: false,
        serial: false,
        python: &[Change {
            old: "        if opcode == TEXT:\n            check_utf8(payload)\n",
            new: "",
        }],
        rust: &[Change {
            old: "        if frame.opcode == TEXT {\n            check_utf8(&frame.payload)?;\n        }\n",
            new: "",
        }],
        focus: "text-utf8.invalid",
    },
    Break {
        name: "fragmentation-interleaved",
        step: "step06_fragmentation",
        chapter: "fragmentation",
        chat: false,
        serial: false,
        python: &[Change {
            old: "            if message is not None:\n                raise ProtocolError(1002, \"a new message inside an unfinished one\")\n",
            new: "",
        }],
        rust: &[Change {
            old: "            (TEXT | BINARY, Some(_)) => {\n                return Err(Stop::Protocol(\n                    1002,\n                    \"a new message inside an unfinished one\",\n                ));\n            }\n            (TEXT | BINARY, None) => message.insert(Message::new(frame.opcode)),\n",
            new: "            (TEXT | BINARY, _) => message.insert(Message::new(frame.opcode)),\n",
        }],
        focus: "fragmentation.text-inside-text",
    },
    Break {
        name: "fragmentation-utf8-per-fragment",
        step: "step06_fragmentation",
        chapter: "fragmentation",
        chat: false,
        serial: false,
        python: &[Change {
            old: "check_utf8(self.utf8, payload, final=False)",
            new: "check_utf8(self.utf8, payload, final=True)",
        }],
        rust: &[Change {
            old: "        self.data.extend_from_slice(payload);\n        self.check_utf8(false)\n",
            new: "        self.data.extend_from_slice(payload);\n        self.check_utf8(true)\n",
        }],
        focus: "fragmentation.utf8-valid-greek-one-byte-fragments",
    },
    Break {
        name: "ping-empty-pong",
        step: "step07_ping_pong",
        chapter: "ping-pong",
        chat: false,
        serial: false,
        python: &[Change {
            old: "sock.sendall(encode_frame(PONG, payload))",
            new: "sock.sendall(encode_frame(PONG, b\"\"))",
        }],
        rust: &[Change {
            old: "writer.write_all(&encode_frame(PONG, &frame.payload))?;",
            new: "writer.write_all(&encode_frame(PONG, &[]))?;",
        }],
        focus: "ping-pong.echo-payload",
    },
    Break {
        name: "closing-not-answered",
        step: "step08_closing",
        chapter: "closing",
        chat: false,
        serial: false,
        python: &[Change {
            old: "sock.sendall(encode_frame(CLOSE, struct.pack(\"!H\", code)))",
            new: "pass  # the close is not answered",
        }],
        rust: &[Change {
            old: "writer.write_all(&encode_frame(CLOSE, &code.to_be_bytes()))?;",
            new: "// the close is not answered",
        }],
        focus: "closing.normal",
    },
    Break {
        name: "concurrency-one-at-a-time",
        step: "step09_concurrency",
        chapter: "concurrency",
        chat: false,
        serial: true,
        python: &[Change {
            old: "threading.Thread(target=serve, args=(sock,), daemon=True).start()",
            new: "serve(sock)",
        }],
        rust: &[Change {
            old: "thread::spawn(move || serve(stream));",
            new: "serve(stream);",
        }],
        focus: "concurrency.idle-client-does-not-block",
    },
    Break {
        name: "chat-sender-only",
        step: "step10_chat",
        chapter: "chat",
        chat: true,
        serial: false,
        python: &[Change {
            old: "room.broadcast(encode_frame(TEXT, data))",
            new: "peer.sendall(encode_frame(TEXT, data))",
        }],
        rust: &[Change {
            old: "room.broadcast(&encode_frame(TEXT, data))",
            new: "peer.send(&encode_frame(TEXT, data))?",
        }],
        focus: "chat.broadcast",
    },
    Break {
        name: "hardening-head-unbounded",
        step: "step11_hardening",
        chapter: "hardening",
        chat: false,
        serial: false,
        python: &[
            Change {
                old: "            if end >= 0 and end + 4 <= MAX_HEAD:\n",
                new: "            if end >= 0:\n",
            },
            Change {
                old: "            if len(self.buffer) > MAX_HEAD:\n                raise Refusal(431, \"request head too large\")\n",
                new: "",
            },
        ],
        rust: &[Change {
            old: "        let room = MAX_HEAD.saturating_sub(head.len());\n        if room == 0 {\n            return Err(refuse(431, \"request head too large\"));\n        }\n        // `take` bounds the read: a line without end stops at the limit.\n        let read = reader.take(room as u64).read_until(b'\\n', &mut head)?;\n",
            new: "        let read = reader.read_until(b'\\n', &mut head)?;\n",
        }],
        focus: "hardening.oversized-request-head",
    },
];

/// How many broken steps run at the same time.
const AT_ONCE: usize = 4;
/// How long a step may take to print its `listening on` line.
const START_DEADLINE: Duration = Duration::from_secs(20);
/// Failing result lines shown before the rest are elided.
const SHOWN_FAILURES: usize = 6;

fn workspace_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The course file of a step in one language, relative to the workspace.
fn step_file(step: &str, python: bool) -> String {
    if python {
        format!("crates/course/python/{step}.py")
    } else {
        format!("crates/course/src/bin/{step}.rs")
    }
}

fn read_step(step: &str, python: bool) -> String {
    let path = workspace_dir().join(step_file(step, python));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// The source with the changes applied, and their unified diff; or why a
/// change does not apply.
fn apply(source: &str, changes: &[Change], file: &str) -> Result<(String, String), String> {
    let mut patched = source.to_string();
    for change in changes {
        let found = patched.matches(change.old).count();
        if change.old.is_empty() || found != 1 {
            return Err(format!(
                "{file}: the break's text {:?} occurs {found} times (once is needed): update the break",
                change.old
            ));
        }
        patched = patched.replacen(change.old, change.new, 1);
    }
    let diff = similar::TextDiff::from_lines(source, &patched)
        .unified_diff()
        .context_radius(2)
        .header(file, &format!("{file} (broken)"))
        .to_string();
    Ok((patched, diff))
}

/// A broken copy of a step, running; killed (and reaped) when dropped.
struct Running {
    child: Child,
    port: u16,
    _folder: tempfile::TempDir,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes the broken Python step to a temporary folder and starts it on a
/// free port.
fn start_python(name: &str, source: &str) -> Running {
    let folder = tempfile::tempdir().expect("a temporary folder");
    let script = folder.path().join(format!("{name}.py"));
    std::fs::write(&script, source).expect("write the broken step");
    let mut child = Command::new("python3")
        .arg(&script)
        .arg("0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{name}: cannot start python3: {e}"));
    let stdout = child.stdout.take().expect("stdout is piped");
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = sender.send(line);
    });
    let mut running = Running {
        child,
        port: 0,
        _folder: folder,
    };
    let line = receiver
        .recv_timeout(START_DEADLINE)
        .unwrap_or_else(|_| panic!("{name}: no 'listening on' line"));
    running.port = line
        .trim()
        .strip_prefix("listening on 127.0.0.1:")
        .and_then(|port| port.parse().ok())
        .unwrap_or_else(|| panic!("{name}: printed {line:?}"));
    running
}

/// What `wsconform run --up-to CHAPTER` plays: the main chain up to it.
fn up_to(all: &[LoadedScenario], last: &str) -> Vec<LoadedScenario> {
    let selection = Selection {
        chapters: chapter::up_to(last)
            .expect("a main-chain chapter")
            .into_iter()
            .map(String::from)
            .collect(),
        ..Selection::default()
    };
    all.iter()
        .filter(|s| selection.selects(s))
        .cloned()
        .collect()
}

/// The lines of the report a reader needs: the failing results (the first
/// few), the focus scenario's failure in full, the summary. Left-out lines
/// are marked `…`.
fn excerpt(report: &RunReport, focus: &str) -> Result<String, String> {
    let opts = HumanOptions {
        color: false,
        timings: false,
    };
    let full = render(report, opts);
    // The focus in full, even when the report groups it under another
    // failure with the same cause.
    let alone = RunReport {
        results: report
            .results
            .iter()
            .filter(|r| r.id == focus)
            .cloned()
            .collect(),
        cause: None,
        ..report.clone()
    };
    let focus_report = render(&alone, opts);
    let results = &report.results;
    // Failures, and non-strict results (a SHOULD missed): both are what a
    // break can show.
    let failing: Vec<&str> = results
        .iter()
        .filter(|r| !r.outcome.is_ok() || r.outcome == Outcome::NonStrict)
        .map(|r| r.id.as_str())
        .collect();
    let focus_non_strict = results
        .iter()
        .any(|r| r.id == focus && r.outcome == Outcome::NonStrict);
    let Some(focus_at) = failing.iter().position(|id| *id == focus) else {
        return Err(format!(
            "{focus} does not fail; the failures are {failing:?}"
        ));
    };
    // The first few failures, the focus always among them.
    let mut shown: Vec<&str> = failing.iter().copied().take(SHOWN_FAILURES).collect();
    if !shown.contains(&focus) {
        shown.truncate(SHOWN_FAILURES - 1);
        shown.push(focus);
    }
    let mut out = full.lines().next().unwrap_or_default().to_string();
    out.push('\n');
    let mut last: Option<usize> = None;
    for (i, r) in results.iter().enumerate() {
        if !shown.contains(&r.id.as_str()) {
            continue;
        }
        let same_chapter = last.is_some_and(|j| results[j].chapter == r.chapter);
        if same_chapter {
            if last != Some(i - 1) {
                out.push_str("  …\n");
            }
        } else {
            let chapter_start = results
                .iter()
                .position(|other| other.chapter == r.chapter)
                .unwrap_or(i);
            if chapter_start > last.map_or(0, |j| j + 1) {
                out.push_str("…\n");
            }
            out.push_str(&format!("{}\n", r.chapter));
            if i > chapter_start {
                out.push_str("  …\n");
            }
        }
        out.push_str(&result_line(r, opts));
        out.push('\n');
        last = Some(i);
    }
    if last.is_some_and(|j| j + 1 < results.len()) {
        out.push_str("  …\n");
    }
    let block: Vec<&str> = if focus_non_strict {
        // A non-strict result is explained under its own line: the SHOULD
        // missed and why it is not a MUST.
        out.push('\n');
        let start = format!("  ~ {focus} ");
        let mut lines = focus_report
            .lines()
            .skip_while(|line| !line.starts_with(&start));
        let first = lines.next();
        first
            .into_iter()
            .chain(lines.take_while(|line| line.starts_with("    ")))
            .collect()
    } else {
        out.push_str("\nFailures\n\n");
        if focus_at > 0 {
            out.push_str("…\n");
        }
        let start = format!("✗ {focus} — ");
        focus_report
            .lines()
            .skip_while(|line| !line.starts_with(&start))
            .take_while(|line| !line.is_empty())
            .collect()
    };
    if block.is_empty() {
        return Err(format!(
            "{focus} fails, but the report explains it only as the run's shared cause: pick another focus"
        ));
    }
    for line in block {
        out.push_str(line);
        out.push('\n');
    }
    if focus_at + 1 < failing.len() && !focus_non_strict {
        out.push_str("…\n");
    }
    out.push('\n');
    out.push_str(&summary_line(report, opts));
    out.push('\n');
    Ok(out)
}

/// Applies one break, plays it, and returns (file, text) to check, or the
/// problems found.
async fn play(all: &[LoadedScenario], b: &Break) -> Result<Vec<(String, String)>, String> {
    let py_file = step_file(b.step, true);
    let rs_file = step_file(b.step, false);
    let (broken, py_diff) = apply(&read_step(b.step, true), b.python, &py_file)?;
    let (_, rs_diff) = apply(&read_step(b.step, false), b.rust, &rs_file)?;
    let running = start_python(b.step, &broken);
    let (profile, path, mut flags) = if b.chat {
        (Profile::Chat, "socket", String::from(" --profile chat"))
    } else {
        (Profile::Echo, "echo", String::new())
    };
    let jobs = if b.serial {
        flags.push_str(" -j 1");
        1
    } else {
        4
    };
    let addr = format!("127.0.0.1:{}", running.port);
    let settings = PlanSettings {
        target: Target::parse(&format!("ws://{addr}/{path}")).expect("a valid target"),
        profile,
        // The command's default step deadline.
        timeout: Duration::from_secs(2),
        run_id: 1,
    };
    let scenarios = up_to(all, b.chapter);
    // Hang guard only: the runner's own deadlines end the run long before.
    let report = tokio::time::timeout(
        Duration::from_secs(300),
        run_suite(&scenarios, &settings, jobs, |_| {}),
    )
    .await
    .map_err(|_| format!("{}: the run did not end", b.name))?;
    drop(running);
    let text = excerpt(&report, b.focus).map_err(|e| format!("{}: {e}", b.name))?;
    let text = format!(
        "$ wsconform run --up-to {}{flags} --target ws://{BOOK_ADDR}/{path}\n{}",
        b.chapter,
        text.replace(&addr, BOOK_ADDR)
    );
    let [txt, py, rs] = files_of(b);
    Ok(vec![(txt, text), (py, py_diff), (rs, rs_diff)])
}

/// The files a break writes.
fn files_of(b: &Break) -> [String; 3] {
    ["txt", "py.diff", "rs.diff"].map(|ext| format!("break-{}.{ext}", b.name))
}

/// Each chapter's page shows its break's three files, and no file of a
/// break that is gone stays behind in `book/src/generated/`.
fn pages_include_their_breaks() -> Vec<String> {
    let book = workspace_dir().join("book/src");
    let mut problems = Vec::new();
    for b in BREAKS {
        let page = format!("{}.md", b.chapter);
        let text = std::fs::read_to_string(book.join(&page)).unwrap_or_default();
        for file in files_of(b) {
            if !text.contains(&format!("{{{{#include generated/{file}}}}}")) {
                problems.push(format!("book/src/{page} does not include generated/{file}"));
            }
        }
    }
    let known: Vec<String> = BREAKS.iter().flat_map(files_of).collect();
    if let Ok(entries) = std::fs::read_dir(book.join("generated")) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("break-") && !known.contains(&name) {
                problems.push(format!(
                    "book/src/generated/{name} belongs to no break: remove it"
                ));
            }
        }
    }
    problems
}

fn python_available() -> bool {
    Command::new("python3")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Checks (or, when blessing, writes) every break's files; returns the
/// problems.
pub async fn check_breaks(all: Vec<LoadedScenario>) -> Vec<String> {
    if !python_available() {
        println!("python3 is not installed: the break-it excerpts are not checked");
        return Vec::new();
    }
    let main_chain: Vec<&str> = chapter::CHAPTERS
        .iter()
        .filter(|c| !c.optional)
        .map(|c| c.name)
        .collect();
    let mut covered: Vec<&str> = BREAKS.iter().map(|b| b.chapter).collect();
    covered.dedup();
    let mut problems = Vec::new();
    if covered != main_chain {
        problems.push(format!(
            "a break or two for every main-chain chapter, in order: {main_chain:?}, have {covered:?}"
        ));
    }
    problems.extend(pages_include_their_breaks());
    let all = std::sync::Arc::new(all);
    let at_once = std::sync::Arc::new(tokio::sync::Semaphore::new(AT_ONCE));
    let mut runs = Vec::new();
    for b in BREAKS {
        let all = std::sync::Arc::clone(&all);
        let at_once = std::sync::Arc::clone(&at_once);
        runs.push(tokio::spawn(async move {
            let _permit = at_once.acquire_owned().await;
            play(&all, b).await
        }));
    }
    for run in runs {
        match run.await.expect("a break's run did not panic") {
            Ok(files) => {
                for (file, text) in files {
                    problems.extend(check(&file, &text));
                }
            }
            Err(problem) => problems.push(problem),
        }
    }
    problems
}

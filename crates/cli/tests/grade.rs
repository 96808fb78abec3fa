//! `wsconform grade` end to end: a class of good, broken (a testbed
//! mutant), crashing, hanging and never-starting submissions, each a folder
//! with a `start.sh`; the gradebook and the overview are snapshots, a
//! regrade gives the same rows, shards merge into the whole class, and no
//! process of any submission outlives the run.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

const WSCONFORM: &str = env!("CARGO_BIN_EXE_wsconform");

/// The testbed binary (mutants), built next to `wsconform` when missing.
fn testbed() -> PathBuf {
    let path = Path::new(WSCONFORM).with_file_name("wsconform-testbed");
    if !path.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-p", "wsconform-testbed"])
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building the testbed failed");
    }
    path
}

/// Python without a shell shim, readable by the unprivileged server user.
const PYTHON: &str = "/usr/bin/python3";

const CRASHES: &str = r#"
import socket, sys, os
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(8)
probe, _ = s.accept()   # the grader's readiness probe
probe.close()
conn, _ = s.accept()    # the first scenario's connection
conn.recv(1024)
os._exit(1)
"#;

const HANGS: &str = r#"
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(64)
held = []
while True:
    conn, _ = s.accept()
    held.append(conn)   # accepts, never answers
"#;

fn submission(class: &Path, name: &str, script: &str, extra: Option<(&str, &str)>) {
    let dir = class.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("start.sh"), script).unwrap();
    if let Some((file, body)) = extra {
        std::fs::write(dir.join(file), body).unwrap();
    }
}

/// A class in a temp folder readable by the unprivileged user servers run as.
fn class() -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let class = root.path().join("class");
    let testbed = testbed();
    submission(
        &class,
        "good",
        &format!("exec '{WSCONFORM}' serve --port \"$1\"\n"),
        None,
    );
    submission(
        &class,
        "broken",
        &format!(
            "exec '{}' mutant one-read-one-frame --port \"$1\"\n",
            testbed.display()
        ),
        None,
    );
    submission(
        &class,
        "crashes",
        &format!("exec {PYTHON} crash.py \"$1\"\n"),
        Some(("crash.py", CRASHES)),
    );
    submission(&class, "never-listens", "sleep 60\n", None);
    submission(&class, "exits", "echo 'no server here' >&2; exit 3\n", None);
    for entry in walk(root.path()) {
        let mode = if entry.is_dir() { 0o755 } else { 0o644 };
        std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    root
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        }
        out.push(path);
    }
    out
}

fn grade(class: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    grade_with(
        class,
        out,
        &["--timeout", "1s", "--wall-limit", "30s"],
        extra,
    )
}

fn grade_with(class: &Path, out: &Path, limits: &[&str], extra: &[&str]) -> std::process::Output {
    let output = Command::new("timeout")
        .arg("120")
        .arg(WSCONFORM)
        .arg("grade")
        .arg("--submissions")
        .arg(class)
        .args(["--start", "sh start.sh {port}", "--up-to", "02-frames"])
        .args(["--start-timeout", "2s", "-j", "6"])
        .args(limits)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Processes whose command line mentions `needle`, other than this test.
fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if pid == std::process::id() {
            continue;
        }
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if text.contains(needle) {
            found.push(format!("{pid}: {text}"));
        }
    }
    found
}

fn rows(out: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(out.join("grade.json")).unwrap();
    let book: serde_json::Value = serde_json::from_str(&text).unwrap();
    book["rows"].clone()
}

#[test]
fn a_class_is_graded_with_a_clear_row_for_every_kind_of_submission() {
    let root = class();
    let class = root.path().join("class");
    let out = root.path().join("out");
    grade(&class, &out, &["--no-progress"]);

    let csv = std::fs::read_to_string(out.join("grades.csv")).unwrap();
    insta::assert_snapshot!("gradebook", csv);

    let overview = std::fs::read_to_string(out.join("overview.html")).unwrap();
    insta::with_settings!({filters => vec![
        (r"wsconform \d+\.\d+\.\d+", "wsconform [VERSION]"),
        (r"suite \d+\.\d+\.\d+", "suite [VERSION]"),
        (r"[0-9a-f]{40}", "[SUITE-HASH]"),
        (r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]"),
        // How a connection to a mutant ends depends on timing.
        (r"got (the connection broke \(Broken pipe \(os error 32\)\)|the connection broke \(Connection reset by peer \(os error 104\)\)|the server closed the TCP connection)", "got [CONNECTION ENDED]"),
    ]}, {
        insta::assert_snapshot!("overview", overview.replace("><", ">\n<"));
    });

    for name in ["good", "broken", "crashes"] {
        let folder = out.join("submissions").join(name);
        for file in ["echo.json", "echo.html", "chat.json", "chat.html"] {
            assert!(folder.join(file).exists(), "{name}/{file}");
        }
    }
    let log = std::fs::read_to_string(out.join("submissions/exits/server.log")).unwrap();
    assert!(log.contains("no server here"), "{log}");

    let leftovers = processes_mentioning(&class.to_string_lossy());
    assert!(
        leftovers.is_empty(),
        "servers outlived the run: {leftovers:?}"
    );

    // Regrading the good and broken submissions alone gives the same rows.
    let again = root.path().join("again");
    let only = root.path().join("only");
    std::fs::create_dir_all(&only).unwrap();
    for name in ["good", "broken"] {
        std::fs::rename(class.join(name), only.join(name)).unwrap();
    }
    grade(&only, &again, &["--no-progress"]);
    // (the same points and status; a failure's wording may vary with timing).
    let line = |dir: &Path, name: &str| {
        std::fs::read_to_string(dir.join("grades.csv"))
            .unwrap()
            .lines()
            .find(|l| l.starts_with(&format!("{name},")))
            .map(str::to_string)
    };
    for name in ["good", "broken"] {
        assert_eq!(line(&again, name), line(&out, name), "{name}");
    }
    let seeds = |dir: &Path| -> Vec<serde_json::Value> {
        rows(dir)
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["seed"].clone())
            .collect()
    };
    let before = seeds(&out);
    for seed in seeds(&again) {
        assert!(before.contains(&seed), "a seed changed on regrade");
    }
}

#[test]
fn a_hanging_server_times_out_within_the_wall_clock_limit() {
    let root = tempfile::tempdir().unwrap();
    std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let class = root.path().join("class");
    submission(
        &class,
        "hangs",
        &format!("exec {PYTHON} hang.py \"$1\"\n"),
        Some(("hang.py", HANGS)),
    );
    for entry in walk(root.path()) {
        let mode = if entry.is_dir() { 0o755 } else { 0o644 };
        std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let out = root.path().join("out");
    // Each step may wait 20 s, the whole submission only 1 s.
    let started = std::time::Instant::now();
    grade_with(
        &class,
        &out,
        &["--timeout", "20s", "--wall-limit", "1s"],
        &[],
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(15));
    let csv = std::fs::read_to_string(out.join("grades.csv")).unwrap();
    assert!(csv.contains("\nhangs,0,49,timed-out,0,0\n"), "{csv}");
    let leftovers = processes_mentioning(&class.to_string_lossy());
    assert!(
        leftovers.is_empty(),
        "servers outlived the run: {leftovers:?}"
    );
}

#[test]
fn shards_merge_into_the_whole_class() {
    let root = tempfile::tempdir().unwrap();
    std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let class = root.path().join("class");
    for i in 0..6 {
        submission(
            &class,
            &format!("s{i}"),
            &format!("exec '{WSCONFORM}' serve --port \"$1\"\n"),
            None,
        );
    }
    for entry in walk(root.path()) {
        let mode = if entry.is_dir() { 0o755 } else { 0o644 };
        std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let whole = root.path().join("whole");
    grade(&class, &whole, &["--profile", "echo"]);
    let mut parts = Vec::new();
    for i in 1..=2 {
        let part = root.path().join(format!("part{i}"));
        grade(
            &class,
            &part,
            &["--profile", "echo", "--shard", &format!("{i}/2")],
        );
        parts.push(part);
    }
    let merged = root.path().join("merged");
    let status = Command::new(WSCONFORM)
        .args(["grade", "merge"])
        .args(&parts)
        .arg("--out")
        .arg(&merged)
        .status()
        .unwrap();
    assert!(status.success());
    let csv = |dir: &Path| std::fs::read_to_string(dir.join("grades.csv")).unwrap();
    assert_eq!(csv(&merged), csv(&whole));
    assert_eq!(csv(&whole).lines().count(), 7);
    // Merging a part twice is refused.
    let twice = Command::new(WSCONFORM)
        .args(["grade", "merge"])
        .arg(&parts[0])
        .arg(&parts[0])
        .arg("--out")
        .arg(root.path().join("twice"))
        .output()
        .unwrap();
    assert_eq!(twice.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&twice.stderr).contains("graded in two parts"));
}

#[test]
fn a_baseline_fails_only_on_new_failures() {
    let root = tempfile::tempdir().unwrap();
    let known = root.path().join("known-failures.json");
    let run = |extra: &[&str]| {
        Command::new("timeout")
            .arg("60")
            .arg(WSCONFORM)
            .args([
                "run",
                "--reference",
                "--chapter",
                "01-handshake",
                "--no-progress",
            ])
            .args(extra)
            .output()
            .unwrap()
    };
    // Nothing fails on the reference server: an empty baseline, exit 0.
    let first = run(&["--write-baseline", known.to_str().unwrap()]);
    assert_eq!(first.status.code(), Some(0));
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&known).unwrap()).unwrap();
    assert_eq!(written["known_failures"], serde_json::json!([]));
    // A baseline that lists a passing scenario says it is fixed, still exit 0.
    std::fs::write(
        &known,
        r#"{"suite_version":"1.0.0","known_failures":["handshake.accept-key"]}"#,
    )
    .unwrap();
    let second = run(&["--baseline", known.to_str().unwrap()]);
    assert_eq!(second.status.code(), Some(0));
    let said = String::from_utf8_lossy(&second.stderr);
    assert!(said.contains("0 new"), "{said}");
}

#[test]
fn the_help_says_what_is_not_isolated() {
    let output = Command::new(WSCONFORM)
        .args(["grade", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(help.contains("NOT isolated: the filesystem"), "{help}");
    assert!(help.contains("network namespace of their own"), "{help}");
    assert!(help.contains("memory is NOT capped"), "{help}");
}

#[test]
fn weights_multiply_a_chapters_points_in_the_gradebook() {
    let root = tempfile::tempdir().unwrap();
    std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let class = root.path().join("class");
    submission(
        &class,
        "good",
        &format!("exec '{WSCONFORM}' serve --port \"$1\"\n"),
        None,
    );
    for entry in walk(root.path()) {
        let mode = if entry.is_dir() { 0o755 } else { 0o644 };
        std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let out = root.path().join("out");
    grade(
        &class,
        &out,
        &["--profile", "echo", "--weight", "01-handshake=2"],
    );
    let csv = std::fs::read_to_string(out.join("grades.csv")).unwrap();
    assert_eq!(
        csv,
        "submission,points,max_points,status,01-handshake,02-frames\ngood,79,79,ok,60,19\n"
    );
    // Gradescope's score for the submission is the gradebook's.
    let gradescope = std::fs::read_to_string(out.join("submissions/good/gradescope.json")).unwrap();
    let results: serde_json::Value = serde_json::from_str(&gradescope).unwrap();
    assert_eq!(results["score"], 79, "{gradescope}");
}

/// A server that tries to reach a port on the grader's loopback and says
/// what happened (then exits: the row is did-not-start, the log is the point).
const PROBES_THE_HOST: &str = r#"
import socket, sys
try:
    socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close()
    print("reached the grader's port")
except OSError as e:
    print("unreachable:", e)
"#;

#[test]
fn a_private_network_keeps_a_server_from_the_graders_loopback() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let root = tempfile::tempdir().unwrap();
    std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let class = root.path().join("class");
    submission(
        &class,
        "curious",
        &format!("exec {PYTHON} probe.py {port}\n"),
        Some(("probe.py", PROBES_THE_HOST)),
    );
    for entry in walk(root.path()) {
        let mode = if entry.is_dir() { 0o755 } else { 0o644 };
        std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    // As root, and again as an unprivileged user (a user namespace first).
    let log = |mode: &str, as_nobody: bool| {
        let out = root.path().join(format!("out-{mode}-{as_nobody}"));
        std::fs::create_dir_all(&out).unwrap();
        std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o777)).unwrap();
        let mut command = Command::new("timeout");
        command.arg("60");
        if as_nobody {
            command.args([
                "setpriv",
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
            ]);
        }
        let output = command
            .arg(WSCONFORM)
            .arg("grade")
            .arg("--submissions")
            .arg(&class)
            .args(["--start", "sh start.sh", "--up-to", "01-handshake"])
            .args([
                "--start-timeout",
                "3s",
                "--profile",
                "echo",
                "--network",
                mode,
            ])
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&output.stderr).to_string();
        let log =
            std::fs::read_to_string(out.join("submissions/curious/server.log")).unwrap_or_default();
        (output.status.code(), said, log, out)
    };
    let (code, said, private_log, out) = log("private", false);
    if code == Some(2) && said.contains("cannot create a network namespace") {
        eprintln!("skipped: this machine allows no network namespace: {said}");
        return;
    }
    assert!(private_log.contains("unreachable"), "{said}\n{private_log}");
    let book = std::fs::read_to_string(out.join("grade.json")).unwrap();
    assert!(book.contains("a namespace per submission"), "{book}");
    let (_, said, shared_log, _) = log("shared", false);
    assert!(
        shared_log.contains("reached the grader's port"),
        "{said}\n{shared_log}"
    );
    let setpriv = Command::new("setpriv").arg("--version").output();
    if running_as_root() && setpriv.is_ok_and(|o| o.status.success()) {
        let (code, said, log, _) = log("private", true);
        if code == Some(2) && said.contains("cannot create a network namespace") {
            eprintln!("unprivileged part skipped: no user namespaces here: {said}");
        } else {
            assert!(log.contains("unreachable"), "{said}\n{log}");
        }
    }
}

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

/// Takes 300 MiB, touching every page, and says so.
const GREEDY: &str = r#"
block = b"x" * (300 * 1024 * 1024)
print("allocated", len(block), flush=True)
"#;

#[test]
fn a_server_over_its_memory_cap_is_killed_where_cgroups_exist() {
    let root = tempfile::tempdir().unwrap();
    std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let class = root.path().join("class");
    submission(
        &class,
        "greedy",
        &format!("exec {PYTHON} greedy.py\n"),
        Some(("greedy.py", GREEDY)),
    );
    for entry in walk(root.path()) {
        let mode = if entry.is_dir() { 0o755 } else { 0o644 };
        std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let run = |mib: &str| {
        let out = root.path().join(format!("out-{mib}"));
        let output = Command::new("timeout")
            .arg("60")
            .arg(WSCONFORM)
            .arg("grade")
            .arg("--submissions")
            .arg(&class)
            .args(["--start", "sh start.sh", "--up-to", "01-handshake"])
            .args([
                "--start-timeout",
                "5s",
                "--profile",
                "echo",
                "--memory",
                mib,
            ])
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        let log =
            std::fs::read_to_string(out.join("submissions/greedy/server.log")).unwrap_or_default();
        let book = std::fs::read_to_string(out.join("grade.json")).unwrap_or_default();
        (
            String::from_utf8_lossy(&output.stdout).to_string(),
            log,
            book,
        )
    };
    let (said, log, book) = run("64");
    if book.contains("memory not capped") {
        eprintln!("skipped: no writable cgroup hierarchy here: {said}");
        return;
    }
    assert!(
        !log.contains("allocated"),
        "64 MiB cap not enforced: {said}\n{log}"
    );
    assert!(
        book.contains("more than its memory cap of 64 MiB"),
        "{book}"
    );
    let (said, log, _) = run("1024");
    assert!(
        log.contains("allocated"),
        "a 1 GiB cap stopped 300 MiB: {said}\n{log}"
    );
}

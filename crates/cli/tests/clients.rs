//! `wsconform run --client-cmd`: the client scenarios against the reference
//! client, the course's Python client (standard library only), and broken
//! copies of it — each broken in one way a student breaks a client, each
//! caught by the scenario that names the rule.

use std::path::{Path, PathBuf};
use std::process::Command;

const WSCONFORM: &str = env!("CARGO_BIN_EXE_wsconform");

fn python_client() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../course/python/client.py")
}

/// Runs the client suite against `command`; (exit code, report JSON).
fn run_against(command: &str) -> (Option<i32>, serde_json::Value) {
    run_with(command, &[])
}

/// Runs the client suite against `command` with more arguments.
fn run_with(command: &str, more: &[&str]) -> (Option<i32>, serde_json::Value) {
    let output = Command::new("timeout")
        .arg("180")
        .arg(WSCONFORM)
        .args(["run", "--no-progress", "--client-cmd", command])
        .args(more)
        .args(["--report", "json=-"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let json = stdout.find("{\n").map(|i| &stdout[i..]).unwrap_or("{}");
    let doc = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    (output.status.code(), doc)
}

fn outcomes(doc: &serde_json::Value) -> Vec<(String, String)> {
    doc["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_string(),
                r["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn failed(doc: &serde_json::Value) -> Vec<String> {
    outcomes(doc)
        .into_iter()
        .filter(|(_, o)| o == "fail")
        .map(|(id, _)| id)
        .collect()
}

#[test]
fn the_reference_client_passes_every_client_scenario() {
    let (code, doc) = run_against(&format!("{WSCONFORM} client --echo {{url}}"));
    let all = outcomes(&doc);
    assert!(all.len() >= 15, "{all:?}");
    assert!(all.iter().all(|(_, o)| o == "pass"), "{all:?}");
    assert_eq!(code, Some(0));
}

#[test]
fn the_courses_python_client_passes_and_each_break_is_caught() {
    let client = python_client();
    let (code, doc) = run_against(&format!("python3 {} {{url}}", client.display()));
    assert_eq!(failed(&doc), Vec::<String>::new(), "{:?}", outcomes(&doc));
    assert_eq!(code, Some(0));

    let source = std::fs::read_to_string(&client).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let broken = [
        (
            "mask = os.urandom(4)  # a fresh random key for every frame",
            "mask = b\"\\x01\\x02\\x03\\x04\"",
            "client.fresh-masks",
        ),
        (
            "if headers.get(\"sec-websocket-accept\") != expected:",
            "if False:",
            "client.wrong-accept",
        ),
        (
            "key = base64.b64encode(os.urandom(16)).decode()",
            "key = \"dGhlIHNhbXBsZSBub25jZQ==\"",
            "client.fresh-key",
        ),
        ("if b1 & 0x80:", "if False:", "client.masked-server-frame"),
        (
            "            if opcode == 8:\n                break\n",
            "            if opcode == 8:\n                break\n            send_frame(sock, opcode, payload)\n",
            "client.close-start-data-before-reply",
        ),
    ];
    for (i, (from, to, caught_by)) in broken.iter().enumerate() {
        assert!(source.contains(from), "the client no longer has {from:?}");
        let path = dir.path().join(format!("broken{i}.py"));
        std::fs::write(&path, source.replace(from, to)).unwrap();
        let (code, doc) = run_against(&format!("python3 {} {{url}}", path.display()));
        let failed = failed(&doc);
        assert!(
            failed.iter().any(|id| id == caught_by),
            "{to:?} not caught by {caught_by}: {failed:?}"
        );
        assert_eq!(code, Some(1));
    }
}

#[test]
fn a_client_that_echoes_the_close_request_is_skipped_unless_it_is_required() {
    // The course's client without the optional part: it echoes wsconform:close.
    let source = std::fs::read_to_string(python_client()).unwrap();
    let from = "if message == CLOSE_REQUEST:";
    assert!(source.contains(from));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("echo_only.py");
    std::fs::write(&path, source.replace(from, "if False:")).unwrap();
    let command = format!("python3 {} {{url}}", path.display());
    let only = ["--filter", "client.close-start*"];
    let (code, doc) = run_with(&command, &only);
    let all = outcomes(&doc);
    assert_eq!(all.len(), 5, "{all:?}");
    assert!(all.iter().all(|(_, o)| o == "skip"), "{all:?}");
    let message = doc["results"][0]["message"].as_str().unwrap();
    assert!(
        message.starts_with("the client echoed wsconform:close")
            && message.contains("--require client-close"),
        "{message}"
    );
    assert_eq!(code, Some(0));

    let (code, doc) = run_with(&command, &[only[0], only[1], "--require", "client-close"]);
    let all = outcomes(&doc);
    assert!(all.iter().all(|(_, o)| o == "fail"), "{all:?}");
    assert_eq!(code, Some(1));
}

#[test]
fn a_client_command_that_never_connects_fails_with_the_reason() {
    let (code, doc) = run_against("true");
    assert_eq!(code, Some(1));
    let first = &doc["results"][0];
    assert_eq!(first["outcome"], "fail");
    let actual = first["failure"]["actual"].as_str().unwrap();
    assert!(
        actual.contains("without connecting") || actual.contains("no connection"),
        "{actual}"
    );
}

/// The testbed binary (client peer and mutants), built when missing.
fn testbed() -> PathBuf {
    let path = Path::new(WSCONFORM).with_file_name("wsconform-testbed");
    if !path.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-p", "wsconform-testbed"])
            .status()
            .unwrap();
        assert!(status.success(), "building the testbed failed");
    }
    path
}

/// What tungstenite's client does against RFC 6455, checked by hand: it
/// uses a connection whose 101 names an extension it never offered.
const TUNGSTENITE_DEVIATIONS: [&str; 1] = ["client.unrequested-extension"];

#[test]
fn the_tungstenite_client_passes_all_but_the_rule_it_breaks() {
    let (_, doc) = run_against(&format!("{} client-peer {{url}}", testbed().display()));
    let all = outcomes(&doc);
    assert!(all.len() >= 15, "{all:?}");
    assert_eq!(failed(&doc), TUNGSTENITE_DEVIATIONS, "{all:?}");
    assert!(
        all.iter().all(|(_, o)| o == "pass" || o == "fail"),
        "{all:?}"
    );
}

#[test]
fn every_client_mutant_is_caught_in_the_client_chapter() {
    let testbed = testbed();
    let listed = Command::new(&testbed).arg("list").output().unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout).to_string();
    let bugs: Vec<&str> = listed
        .lines()
        .filter(|l| l.ends_with("(client-mutant)"))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(bugs.len(), 6, "{listed}");
    let mut matrix = String::new();
    for bug in bugs {
        let (_, doc) = run_against(&format!(
            "{} client-mutant {bug} {{url}}",
            testbed.display()
        ));
        let caught: Vec<String> = outcomes(&doc)
            .into_iter()
            .filter(|(_, o)| o != "pass")
            .map(|(id, o)| format!("{id} ({o})"))
            .collect();
        assert!(
            !caught.is_empty(),
            "client mutant {bug} passes every client scenario"
        );
        matrix.push_str(&format!("{bug}: {}\n", caught.join(", ")));
    }
    insta::assert_snapshot!(matrix);
}

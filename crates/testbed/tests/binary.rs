//! The `wsconform-testbed` binary: starts a server, prints where it
//! listens, and exits cleanly on SIGTERM.

mod common;

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Raw, within};
use wsconform_wire::{Event, Message, OpCode};

const BINARY: &str = env!("CARGO_BIN_EXE_wsconform-testbed");

/// Starts the binary with `args` and reads its `listening on` line.
fn spawn(args: &[&str]) -> (Child, SocketAddr) {
    let mut child = Command::new(BINARY)
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("the binary prints a line");
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .parse()
        .expect("an address");
    (child, addr)
}

/// Sends SIGTERM and waits (at most 5 s) for the exit status.
fn terminate(mut child: Child) -> std::process::ExitStatus {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(status) = child.try_wait().expect("the child can be waited for") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the binary did not exit within 5 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

async fn echoes(addr: SocketAddr) {
    let mut raw = Raw::open(addr, "/echo").await;
    raw.send_frame(true, OpCode::Text, b"hi").await;
    assert_eq!(
        within("the echo", raw.event()).await,
        Ok(Event::Message(Message::Text("hi".into())))
    );
}

#[tokio::test]
async fn peer_and_mutant_from_the_command_line() {
    for args in [
        &["peer", "--port", "0"][..],
        &["mutant", "baseline"][..],
        &["mutant", "ping-ignored", "--port", "0"][..],
        &["fastwebsockets-echo"][..],
    ] {
        let (child, addr) = spawn(args);
        assert!(addr.ip().is_loopback());
        assert_ne!(addr.port(), 0);
        echoes(addr).await;
        assert!(terminate(child).success(), "{args:?} exits with 0");
    }
}

#[tokio::test]
async fn tcp_echo_from_the_command_line() {
    let (child, addr) = spawn(&["tcp-echo"]);
    let mut raw = Raw::connect(addr).await;
    raw.send(b"plain bytes").await;
    while raw.buf.len() < 11 && raw.read_more().await {}
    assert_eq!(raw.buf, b"plain bytes");
    assert!(terminate(child).success());
}

#[test]
fn list_and_unknown_bug() {
    let list = Command::new(BINARY).arg("list").output().expect("runs");
    assert!(list.status.success());
    let text = String::from_utf8(list.stdout).expect("UTF-8");
    for bug in wsconform_testbed::Bug::ALL {
        assert!(
            text.contains(bug.name()) && text.contains(bug.chapter()),
            "{bug}"
        );
    }
    let unknown = Command::new(BINARY)
        .args(["mutant", "off-by-one"])
        .output()
        .expect("runs");
    assert_eq!(unknown.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        stderr.contains("unknown bug") && stderr.contains("fin-ignored"),
        "{stderr}"
    );
}

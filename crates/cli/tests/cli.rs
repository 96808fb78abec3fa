//! The `wsconform` binary end to end: exit codes, messages, `--spawn`.
//! (Long on purpose: the end-to-end tests share their process and port helpers.)

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_wsconform");

fn wsconform(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A fresh folder under the system temp dir, with an unpredictable name.
/// It is kept after the test, for looking into a failure.
fn temp_dir(name: &str) -> PathBuf {
    tempfile::Builder::new()
        .prefix(&format!("wsconform-cli-{name}-"))
        .tempdir()
        .unwrap()
        .keep()
}

fn write(dir: &Path, rel: &str, body: &str) -> PathBuf {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, body).unwrap();
    path
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether a process is alive (a zombie waiting to be reaped counts as gone).
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .map(|(_, rest)| !rest.trim_start().starts_with('Z'))
            .unwrap_or(false),
        Err(_) => false,
    }
}

/// Waits (bounded) until `pid` is gone; returns whether it is.
fn gone(pid: u32) -> bool {
    let until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < until {
        if !alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn check_accepts_the_bundled_suite() {
    let out = wsconform(&["check"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("scenarios OK"));
}

#[test]
fn check_reports_file_line_column_and_exits_2() {
    let dir = temp_dir("check");
    write(
        &dir,
        "03-lengths/x.yaml",
        "id: x.one\ntitle: t\nsteps:\n  - send: { text: hi }\n  - sned: { text: hi }\n",
    );
    let out = wsconform(&["check", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("03-lengths/x.yaml:5:5: unknown step 'sned', expected one of handshake, send"),
        "{err}"
    );
}

#[test]
fn check_finds_duplicates_and_impossible_expectations() {
    let dir = temp_dir("dups");
    let body =
        "id: same.id\ntitle: t\nsteps:\n  - send: { text: hi }\n  - expect: { close: [1006] }\n";
    write(&dir, "01-a/a.yaml", body);
    write(&dir, "01-a/b.yaml", body);
    write(
        &dir,
        "01-a/c.yaml",
        "id: c\ntitle: t\nsteps:\n  - expect: { echo: last }\n",
    );
    let out = wsconform(&["check", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("duplicate id 'same.id'"), "{err}");
    assert!(err.contains("close code 1006 can never arrive"), "{err}");
    assert!(
        err.contains("has sent no text or binary message before"),
        "{err}"
    );
}

#[test]
fn decode_annotates_the_rfc_example() {
    let out = wsconform(&["decode", "81 85 37fa213d 7f9f4d5158"]);
    assert_eq!(out.status.code(), Some(0));
    let o = text(&out.stdout);
    assert!(o.contains("FIN text MASK len=5 \"Hello\""), "{o}");
    assert!(o.contains("masking key"), "{o}");
    assert_eq!(wsconform(&["decode", "8z"]).status.code(), Some(2));
}

#[test]
fn list_and_explain() {
    let out = wsconform(&["list"]);
    assert!(text(&out.stdout).contains("lengths.16bit-126"));
    let out = wsconform(&["explain", "lengths.16bit-126"]);
    let o = text(&out.stdout);
    assert!(
        o.contains("RFC 6455 §5.2") && o.contains("Hint:") && o.contains("steps:"),
        "{o}"
    );
    assert_eq!(wsconform(&["explain", "no.such.id"]).status.code(), Some(2));
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(
        wsconform(&["run", "--target", "http://x"]).status.code(),
        Some(2)
    );
    assert_eq!(wsconform(&["run"]).status.code(), Some(2));
    assert_eq!(
        wsconform(&[
            "run",
            "--target",
            "ws://127.0.0.1:1/",
            "--report",
            "xml=out"
        ])
        .status
        .code(),
        Some(2)
    );
}

#[test]
fn run_spawns_the_reference_server_and_passes() {
    let port = free_port();
    let dir = temp_dir("run");
    let report = dir.join("report.json");
    let spawn = format!("{BIN} serve --port {port}");
    let target = format!("ws://127.0.0.1:{port}/echo");
    let out = wsconform(&[
        "run",
        "--spawn",
        &spawn,
        "--target",
        &target,
        "--report",
        &format!("json={}", report.display()),
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(stdout.contains("0 failed"), "{stdout}");
    assert!(
        text(&out.stderr).contains("[target] "),
        "the target's output is shown under a prefix"
    );
    let json = std::fs::read_to_string(&report).unwrap();
    assert!(
        json.contains("\"schema\": \"wsconform-report/1\""),
        "{json}"
    );
}

#[test]
fn reference_runs_the_suite_against_the_embedded_server() {
    for profile in ["echo", "chat"] {
        let out = wsconform(&["run", "--reference", "--profile", profile]);
        let stdout = text(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{profile}: {stdout}\n{}",
            text(&out.stderr)
        );
        assert!(stdout.contains(" 0 failed"), "{stdout}");
    }
}

#[test]
fn a_failing_scenario_exits_1() {
    let port = free_port();
    let dir = temp_dir("fail");
    write(
        &dir,
        "02-frames/wrong.yaml",
        "id: wrong.expectation\ntitle: expects a message the server never sends\nprofile: echo\nsteps:\n  - send: { text: hi }\n  - expect: { message: { text: bye } }\n",
    );
    let spawn = format!("{BIN} serve --port {port}");
    let target = format!("ws://127.0.0.1:{port}/echo");
    let out = wsconform(&[
        "run",
        dir.to_str().unwrap(),
        "--spawn",
        &spawn,
        "--target",
        &target,
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("Expected (step 2): a text message of 3 bytes: \"bye\""),
        "{stdout}"
    );
    assert!(
        stdout.contains("Actual:   a text message of 2 bytes: \"hi\""),
        "{stdout}"
    );
}

/// A target whose shell forks a long-lived child before starting the server.
fn forking_target(dir: &Path, port: u16) -> (String, PathBuf) {
    let pidfile = dir.join("child.pid");
    let cmd = format!(
        "sleep 300 & echo $! > {}; exec {BIN} serve --port {port}",
        pidfile.display()
    );
    (cmd, pidfile)
}

fn read_pid(path: &Path) -> u32 {
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(t) = std::fs::read_to_string(path)
            && let Ok(pid) = t.trim().parse()
        {
            return pid;
        }
        assert!(
            Instant::now() < until,
            "the target never wrote its child's pid"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn spawn_leaves_no_process_behind() {
    let port = free_port();
    let dir = temp_dir("spawn");
    let (cmd, pidfile) = forking_target(&dir, port);
    let target = format!("ws://127.0.0.1:{port}/echo");
    let out = wsconform(&[
        "run",
        "--spawn",
        &cmd,
        "--target",
        &target,
        "frames.text-hello",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let child = read_pid(&pidfile);
    assert!(
        gone(child),
        "the target's forked child {child} is still running"
    );
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the server still listens"
    );
}

#[test]
fn ctrl_c_stops_the_spawned_group() {
    let port = free_port();
    let dir = temp_dir("ctrlc");
    let (cmd, pidfile) = forking_target(&dir, port);
    let scenario = write(
        &dir,
        "01-slow/slow.yaml",
        "id: slow.pause\ntitle: waits long enough to be interrupted\nsteps:\n  - send: { text: hi }\n  - pause: 30s\n",
    );
    let target = format!("ws://127.0.0.1:{port}/echo");
    let mut run = Command::new(BIN)
        .args([
            "run",
            scenario.to_str().unwrap(),
            "--spawn",
            &cmd,
            "--target",
            &target,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the target has printed its banner: the run is under way.
    let stderr = run.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("[target] ") {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(30))
        .expect("the target never started");
    let child = read_pid(&pidfile);
    std::thread::sleep(Duration::from_millis(300));
    let status = Command::new("kill")
        .args(["-INT", &run.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let until = Instant::now() + Duration::from_secs(20);
    let code = loop {
        if let Some(s) = run.try_wait().unwrap() {
            break s.code();
        }
        if Instant::now() > until {
            let _ = run.kill();
            panic!("wsconform did not stop after Ctrl-C");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(code, Some(130));
    assert!(
        gone(child),
        "the target's forked child {child} is still running"
    );
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the server still listens"
    );
}

/// Runs `wsconform` with a standard output whose reader is already gone
/// (one end of a socket pair, the other end closed: every write fails with
/// "broken pipe", as it does behind `| head` once head has exited).
fn with_closed_stdout(args: &[&str]) -> Output {
    let (reader, writer) = std::os::unix::net::UnixStream::pair().unwrap();
    drop(reader);
    Command::new(BIN)
        .args(args)
        .env("NO_COLOR", "1")
        .stdout(std::os::fd::OwnedFd::from(writer))
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

#[test]
fn a_closed_stdout_ends_every_printing_command_quietly() {
    for args in [
        &["list"][..],
        &["explain", "frames.text-hello"],
        &["decode", "81 85 37fa213d 7f9f4d5158"],
        &["check"],
        &["run", "--reference", "--no-progress", "frames.text-hello"],
    ] {
        let out = with_closed_stdout(args);
        let stderr = text(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
    }
}

/// Starts `wsconform serve` with `args`; returns it and its first stdout line.
fn start_serve(args: &[&str]) -> (std::process::Child, String) {
    let mut serve = Command::new(BIN)
        .arg("serve")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = serve.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let banner = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("serve printed no banner");
    (serve, banner)
}

/// Stops `serve` with SIGTERM and returns what it logged.
fn stop_serve(mut serve: std::process::Child) -> String {
    let _ = Command::new("kill")
        .args(["-TERM", &serve.id().to_string()])
        .status();
    let until = Instant::now() + Duration::from_secs(20);
    while serve.try_wait().unwrap().is_none() {
        if Instant::now() > until {
            let _ = serve.kill();
            panic!("serve did not stop on SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut logs = String::new();
    if let Some(mut stderr) = serve.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut stderr, &mut logs);
    }
    logs
}

/// The port in a banner like `... ws://[::1]:PORT/echo ...`.
fn banner_port(banner: &str) -> u16 {
    let after = banner
        .split("]:")
        .nth(1)
        .or_else(|| banner.split("1:").nth(1));
    after
        .and_then(|rest| rest.split('/').next())
        .and_then(|port| port.parse().ok())
        .unwrap_or_else(|| panic!("no port in {banner:?}"))
}

/// Sends `GET /` and returns the status line.
fn get_status_line(addr: std::net::SocketAddr) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    text(&response)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn serve_listens_on_ipv6_loopback() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        println!("skipped: this machine has no IPv6 loopback (::1)");
        return;
    }
    let (serve, banner) = start_serve(&["--bind", "::1", "--port", "0"]);
    assert!(banner.contains("ws://[::1]:"), "{banner}");
    let port = banner_port(&banner);
    let status = get_status_line(std::net::SocketAddr::from((
        std::net::Ipv6Addr::LOCALHOST,
        port,
    )));
    assert_eq!(status, "HTTP/1.1 200 OK");
    stop_serve(serve);

    // The address and port together, in brackets.
    let port = free_port();
    let (serve, banner) = start_serve(&["--bind", &format!("[::1]:{port}")]);
    assert!(
        banner.contains(&format!("ws://[::1]:{port}/echo")),
        "{banner}"
    );
    stop_serve(serve);
}

#[test]
fn serve_logs_why_it_refuses_a_connection() {
    let (serve, banner) = start_serve(&["--port", "0", "--max-connections-per-address", "1"]);
    let port = banner_port(&banner);
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let held = std::net::TcpStream::connect(addr).unwrap();
    // The second connection from 127.0.0.1 is over the limit: closed unanswered.
    let status = get_status_line(addr);
    assert_eq!(status, "", "the refused connection gets no answer");
    drop(held);
    let logs = stop_serve(serve);
    assert!(logs.contains("per-address limit"), "{logs}");
    assert!(logs.contains("peer=127.0.0.1:"), "{logs}");
}

/// A target that leaves three processes behind if nobody stops them: a
/// background child, a `setsid` escapee (new session, new group), and the
/// server itself (the shell's pid, kept by `exec`). Returns the command and
/// the file where it writes their pids.
fn escaping_target(dir: &Path, port: u16) -> (String, PathBuf) {
    let pids = dir.join("pids");
    let cmd = format!(
        "sleep 300 & echo $! >> {pids}; setsid sleep 301 & echo $! >> {pids}; \
         echo $$ >> {pids}; exec {BIN} serve --port {port}",
        pids = pids.display()
    );
    (cmd, pids)
}

/// Starts `wsconform run` of a scenario that pauses for 30 s, against the
/// target `cmd`; returns once the target has printed its banner.
fn start_long_run(dir: &Path, cmd: &str, port: u16) -> std::process::Child {
    let scenario = write(
        dir,
        "01-slow/slow.yaml",
        "id: slow.pause\ntitle: waits long enough to be interrupted\nsteps:\n  - send: { text: hi }\n  - pause: 30s\n",
    );
    let target = format!("ws://127.0.0.1:{port}/echo");
    let mut run = Command::new(BIN)
        .args([
            "run",
            scenario.to_str().unwrap(),
            "--spawn",
            cmd,
            "--target",
            &target,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = run.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("[target] ") {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(30))
        .expect("the target never started");
    run
}

#[test]
fn the_target_dies_with_the_runner_on_sigterm_sighup_and_sigkill() {
    for signal in ["TERM", "HUP", "KILL"] {
        let port = free_port();
        let dir = temp_dir(&format!("orphans-{signal}"));
        let (cmd, pidfile) = escaping_target(&dir, port);
        let mut run = start_long_run(&dir, &cmd, port);
        let pids: Vec<u32> = std::fs::read_to_string(&pidfile)
            .unwrap()
            .lines()
            .map(|line| line.trim().parse().unwrap())
            .collect();
        assert_eq!(pids.len(), 3, "{pids:?}");
        assert!(pids.iter().all(|&pid| alive(pid)), "{pids:?}");
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &run.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let _ = run.wait();
        for pid in pids {
            assert!(
                gone(pid),
                "SIG{signal} to the runner left process {pid} of the target running: {}",
                std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default()
            );
        }
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
            "the server still listens after SIG{signal}"
        );
    }
}

#[test]
fn spawn_refuses_a_port_already_in_use() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let target = format!("ws://127.0.0.1:{port}/echo");
    let out = wsconform(&[
        "run",
        "--spawn",
        "exit 0",
        "--target",
        &target,
        "frames.text-hello",
    ]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("127.0.0.1:{port} is already in use by process")),
        "{stderr}"
    );
    drop(listener);
}

#[test]
fn up_to_runs_the_chapters_so_far_and_says_what_comes_next() {
    let out = wsconform(&["run", "--reference", "--up-to", "frames", "--no-progress"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("01-handshake") && stdout.contains("02-frames"),
        "{stdout}"
    );
    assert!(!stdout.contains("03-lengths"), "{stdout}");
    assert!(
        stdout.contains("all of frames passes — next: lengths, book/src/lengths.md"),
        "{stdout}"
    );
    let out = wsconform(&["run", "--reference", "--up-to", "compression"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("optional chapter"),
        "{}",
        text(&out.stderr)
    );
    let out = wsconform(&["run", "--reference", "--up-to", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("handshake, frames, lengths"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn old_ids_still_select_their_scenarios() {
    let out = wsconform(&["explain", "utf8.invalid"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("text-utf8.invalid"),
        "{}",
        text(&out.stdout)
    );
    let out = wsconform(&[
        "run",
        "--reference",
        "--filter",
        "ping.ten-*",
        "--no-progress",
    ]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("ping-pong.ten-pings-chopped"), "{stdout}");
    assert!(stdout.contains("2 passed"), "{stdout}");
    let out = wsconform(&["run", "--reference", "frames.binary", "--no-progress"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("lengths.binary-126"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn check_rejects_a_step_from_a_later_chapter() {
    let dir = temp_dir("staging");
    write(
        &dir,
        "02-frames/close.yaml",
        "id: frames.close-early\ntitle: t\nsteps:\n  - send: { text: hi }\n  - expect: { echo: last }\n  - send: { close: 1000 }\n  - expect: { close: [1000] }\n",
    );
    let out = wsconform(&["check", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("02-frames/close.yaml"), "{stderr}");
    assert!(
        stderr.contains("step 3 uses a close frame, which the closing chapter teaches"),
        "{stderr}"
    );
    assert!(
        stderr.contains("step 4 uses a close frame expected from the server"),
        "{stderr}"
    );
}

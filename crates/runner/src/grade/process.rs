//! One submission graded: a free port, its server started confined and
//! supervised, the suite run per endpoint under a wall-clock limit, and a
//! status for every way that can end. Whatever happens, the server and
//! everything it started are stopped before the row is returned.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use crate::plan::{PlanSettings, Target};
use crate::report::RunReport;
use crate::spawn::{SpawnError, SpawnedTarget, refuse_busy_port};
use crate::suite::run_suite;

use super::cgroups::{Cgroups, Leaf};
use super::isolation::{Confinement, shell_quote};
use super::record::Status;
use super::submissions::{Submission, stable_hash};
use super::{Endpoint, GradeSettings};

/// The ports handed out in this run, so that two submissions started at
/// the same moment never get the same one.
#[derive(Debug, Default)]
pub struct Ports(Mutex<HashSet<u16>>);

impl Ports {
    /// A loopback port free now and not handed out to another submission.
    pub fn reserve(&self) -> std::io::Result<u16> {
        for _ in 0..64 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")?
                .local_addr()?
                .port();
            if let Ok(mut taken) = self.0.lock()
                && taken.insert(port)
            {
                return Ok(port);
            }
        }
        Err(std::io::Error::other("no free loopback port"))
    }

    /// Gives a port back once its server is stopped.
    pub fn release(&self, port: u16) {
        if let Ok(mut taken) = self.0.lock() {
            taken.remove(&port);
        }
    }
}

/// The seed of a submission: the run's base seed mixed with a hash of its
/// name, so that regrading one submission alone gives it the same seed.
pub fn seed_of(base: u64, name: &str) -> u64 {
    base ^ stable_hash(name)
}

/// The start command with `{port}` and `{dir}` (quoted for `sh`) replaced.
pub fn start_command(template: &str, port: u16, dir: &Path) -> String {
    template
        .replace("{port}", &port.to_string())
        .replace("{dir}", &shell_quote(&dir.to_string_lossy()))
}

/// What grading one submission produced.
#[derive(Debug)]
pub struct Graded {
    /// How it ended.
    pub status: Status,
    /// Why, when not `ok`.
    pub detail: String,
    /// The seed used.
    pub seed: u64,
    /// One report per endpoint that ran to its end.
    pub reports: Vec<(Endpoint, RunReport)>,
}

impl Graded {
    /// A submission that never got a server started, and why.
    pub fn not_started(detail: String, seed: u64) -> Graded {
        Graded {
            status: Status::DidNotStart,
            detail,
            seed,
            reports: Vec::new(),
        }
    }
}

/// Grades one submission; `folder` is where its server log goes.
pub async fn grade_one(
    submission: &Submission,
    settings: &GradeSettings,
    ports: &Ports,
    cgroups: Option<&Cgroups>,
    folder: &Path,
) -> Graded {
    let mut graded = Graded::not_started(String::new(), seed_of(settings.seed, &submission.name));
    let port = match ports.reserve() {
        Ok(port) => port,
        Err(e) => {
            graded.detail = format!("no port for the server: {e}");
            return graded;
        }
    };
    let leaf = cgroups.and_then(|c| c.leaf(&submission.name, &settings.limits).ok());
    run_server(
        submission,
        settings,
        port,
        leaf.as_ref(),
        folder,
        &mut graded,
    )
    .await;
    if let Some(leaf) = &leaf {
        if Cgroups::oom_kills(leaf) > 0 && graded.status != Status::Ok {
            graded.detail = format!(
                "{}; the kernel killed it for using more than its memory cap of {} MiB (--memory)",
                graded.detail,
                settings.limits.memory_bytes / (1024 * 1024)
            );
        }
        Cgroups::remove_leaf(leaf);
    }
    ports.release(port);
    graded
}

async fn run_server(
    submission: &Submission,
    settings: &GradeSettings,
    port: u16,
    cgroup: Option<&Leaf>,
    folder: &Path,
    graded: &mut Graded,
) {
    let addr = format!("127.0.0.1:{port}");
    let command = start_command(&settings.start, port, &submission.dir);
    let confinement = Confinement {
        dir: submission.dir.clone(),
        account: settings.account.clone(),
        cgroups: cgroup.map(|l| l.0.clone()).unwrap_or_default(),
        cpu_seconds: settings.limits.cpu_seconds,
    };
    let line = confinement.command_line(&settings.program, &command, &folder.join("server.log"));
    if let Err(e) = refuse_busy_port(&command, &addr).await {
        graded.detail = e.to_string();
        return;
    }
    let mut server = match SpawnedTarget::start(&line, &format!("[{}]", submission.name)) {
        Ok(server) => server,
        Err(e) => {
            graded.detail = e.to_string();
            return;
        }
    };
    match server.wait_ready(&addr, settings.start_timeout).await {
        Ok(()) => {}
        Err(SpawnError::Exited { status, .. }) => {
            graded.detail = format!("the server exited ({status}) before accepting connections");
            server.stop().await;
            return;
        }
        Err(SpawnError::NotReady { secs, .. }) => {
            graded.detail = format!("the server accepted no connection within {secs} s");
            server.stop().await;
            return;
        }
        Err(e) => {
            graded.detail = e.to_string();
            server.stop().await;
            return;
        }
    }
    let suites = async {
        let mut reports = Vec::new();
        for endpoint in &settings.endpoints {
            let url = format!("ws://{addr}{}", endpoint.path);
            let Ok(target) = Target::parse(&url) else {
                continue;
            };
            let plan = PlanSettings {
                target,
                profile: endpoint.profile,
                timeout: settings.step_timeout,
                run_id: graded.seed,
            };
            let report = run_suite(&endpoint.scenarios, &plan, settings.scenario_jobs, |_| {})
                .await
                .with_non_strict_points(settings.non_strict_points);
            reports.push((endpoint.clone(), report));
        }
        reports
    };
    match tokio::time::timeout(settings.wall_limit, suites).await {
        Ok(reports) => {
            graded.reports = reports;
            match crash_of(&mut server, &addr).await {
                Some(status) => {
                    graded.status = Status::Crashed;
                    graded.detail = format!("the server exited ({status}) while the suite ran");
                }
                None => graded.status = Status::Ok,
            }
        }
        Err(_) => {
            graded.status = Status::TimedOut;
            graded.detail = format!(
                "the suite did not finish within the wall-clock limit of {}",
                humantime::format_duration(round_to_ms(settings.wall_limit))
            );
        }
    }
    server.stop().await;
}

/// How the server ended, if it did while the suite ran. A server that
/// crashed at the suite's first connection lets the rest fail at once, so
/// its supervisor may not have reported yet: when the port no longer
/// accepts connections, its exit is awaited a little (bounded).
async fn crash_of(server: &mut SpawnedTarget, addr: &str) -> Option<String> {
    if let Some(status) = server.exited() {
        return Some(status);
    }
    let probe = tokio::time::timeout(
        Duration::from_millis(500),
        tokio::net::TcpStream::connect(addr),
    );
    if matches!(probe.await, Ok(Ok(_))) {
        return None;
    }
    let until = tokio::time::Instant::now() + crate::spawn::GRACE + Duration::from_secs(1);
    while tokio::time::Instant::now() < until {
        if let Some(status) = server.exited() {
            return Some(status);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

fn round_to_ms(d: Duration) -> Duration {
    Duration::from_millis(d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_replaced_and_the_folder_quoted() {
        assert_eq!(
            start_command("python3 {dir}/s.py {port}", 9001, Path::new("/c/it's")),
            r"python3 '/c/it'\''s'/s.py 9001"
        );
    }

    #[test]
    fn ports_are_not_handed_out_twice() {
        let ports = Ports::default();
        let a = ports.reserve().unwrap();
        let b = ports.reserve().unwrap();
        assert_ne!(a, b);
        ports.release(a);
        assert!(!ports.0.lock().unwrap().contains(&a));
    }

    #[test]
    fn a_seed_depends_on_the_name_only() {
        assert_eq!(seed_of(5, "alice"), seed_of(5, "alice"));
        assert_ne!(seed_of(5, "alice"), seed_of(5, "bob"));
    }
}

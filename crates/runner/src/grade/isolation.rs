//! What a submission's server may do: its user, its environment, its
//! memory, CPU and process count — and, said plainly, what is not isolated.
//!
//! The server is started by the spawn supervisor (its own process group, a
//! subreaper, stopped with its whole tree; see [`crate::spawn`]) through a
//! small hidden mode of this program, [`CONFINE_ARG`]: it joins the
//! submission's cgroup, sets resource limits, drops to the unprivileged
//! user, clears the environment, enters the submission's folder and only
//! then runs the start command with `sh -c`.

use super::cgroups::Cgroups;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The hidden first argument of the confining mode.
pub const CONFINE_ARG: &str = "__confine";

/// What is and is not isolated; `wsconform grade --help` and the book's
/// appendix say the same.
pub const STATEMENT: &str = "\
Isolated: each server runs in its own process group under a supervisor that \
stops it and every descendant when its grading ends or wsconform dies; as \
root, it runs as an unprivileged user (nobody, or --user) without \
supplementary groups; its environment is cleared (PATH and LANG kept, HOME \
is the submission folder). Memory, CPU and process count are capped with a \
cgroup (v2: memory.max, cpu.max, pids.max; or the older v1 layout's \
memory.limit_in_bytes, cpu.cfs_quota_us, pids.max) when /sys/fs/cgroup holds \
a writable hierarchy with those controllers; otherwise only CPU time is capped, per process, with \
RLIMIT_CPU, and memory is NOT capped (RLIMIT_AS would kill Node, Go and JVM \
servers at start; Linux ignores RLIMIT_RSS). \
The network is private by default (--network auto): each submission's \
server and the client that grades it share a network namespace of their own \
with only a loopback interface, so no submission reaches another's port, the \
grading machine or the internet; where the machine cannot create namespaces \
(not root and unprivileged user namespaces disabled) every server shares the \
grader's loopback, and the gradebook's isolation line says so. \
NOT isolated: the filesystem (a \
server reads whatever its user may read, other submissions' folders \
included when they are world-readable, and writes where its user may, \
such as /tmp).";

/// Per-submission limits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// `memory.max` in bytes (cgroup only).
    pub memory_bytes: u64,
    /// CPUs the server may use at once (`cpu.max`), e.g. 1.0.
    pub cpus: f64,
    /// `pids.max` (cgroup only).
    pub pids: u32,
    /// `RLIMIT_CPU` in seconds, per process (always set).
    pub cpu_seconds: u64,
}

/// The unprivileged account a server runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The user name.
    pub name: String,
    /// Its uid.
    pub uid: u32,
    /// Its primary gid.
    pub gid: u32,
}

/// The account to drop to: `--user NAME`, or `nobody` when running as
/// root; none when not root (there is nothing to drop, and no way to).
pub fn account(wanted: Option<&str>) -> Result<Option<Account>, String> {
    let root = nix::unistd::geteuid().is_root();
    if !root {
        return match wanted {
            Some(name) => Err(format!(
                "--user {name}: changing user needs root; without it servers run as you"
            )),
            None => Ok(None),
        };
    }
    let name = wanted.unwrap_or("nobody");
    match nix::unistd::User::from_name(name) {
        Ok(Some(user)) if user.uid.is_root() => Err(format!(
            "--user {name}: student code must not run as root; name an unprivileged user"
        )),
        Ok(Some(user)) => Ok(Some(Account {
            name: name.to_string(),
            uid: user.uid.as_raw(),
            gid: user.gid.as_raw(),
        })),
        Ok(None) => Err(format!("--user {name}: no such user")),
        Err(e) => Err(format!("--user {name}: cannot look it up: {e}")),
    }
}

/// A one-line description of the isolation a run applies, for the record.
pub fn describe(account: Option<&Account>, cgroups: Option<&Cgroups>, limits: &Limits) -> String {
    let user = account.map_or_else(
        || "the invoking user (not root)".to_string(),
        |a| format!("user {} (uid {})", a.name, a.uid),
    );
    match cgroups {
        Some(c) => format!(
            "{user}; {}; RLIMIT_CPU {} s",
            c.describe(limits),
            limits.cpu_seconds
        ),
        None => format!(
            "{user}; RLIMIT_CPU {} s per process; memory not capped (no writable cgroup v2 or v1 memory, cpu and pids controllers)",
            limits.cpu_seconds
        ),
    }
}

/// Puts `text` in single quotes for `sh`.
pub fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// How one server is confined: the arguments of [`CONFINE_ARG`].
#[derive(Debug, Clone)]
pub struct Confinement {
    /// The submission folder (the server's working directory and HOME).
    pub dir: PathBuf,
    /// The account to drop to.
    pub account: Option<Account>,
    /// The cgroup folders to join (one for v2, one per controller for v1).
    pub cgroups: Vec<PathBuf>,
    /// `RLIMIT_CPU` seconds.
    pub cpu_seconds: u64,
}

impl Confinement {
    /// The shell command line that runs `command` confined (this program
    /// re-run in its hidden mode), its output into `log`.
    pub fn command_line(&self, program: &Path, command: &str, log: &Path) -> String {
        let mut line = format!(
            "exec {} {CONFINE_ARG} --dir {} --cpu-seconds {}",
            shell_quote(&program.to_string_lossy()),
            shell_quote(&self.dir.to_string_lossy()),
            self.cpu_seconds
        );
        if let Some(a) = &self.account {
            line.push_str(&format!(" --uid {} --gid {}", a.uid, a.gid));
        }
        for c in &self.cgroups {
            line.push_str(&format!(" --cgroup {}", shell_quote(&c.to_string_lossy())));
        }
        line.push_str(&format!(
            " -- {} </dev/null >{} 2>&1",
            shell_quote(command),
            shell_quote(&log.to_string_lossy())
        ));
        line
    }
}

/// When this program was started in the confining mode, confines itself
/// and runs the command (returning only on failure, with exit code 126);
/// otherwise returns `None`. Call it first thing in `main`.
pub fn confine_if_asked() -> Option<ExitCode> {
    let mut args = std::env::args().skip(1);
    if args.next()? != CONFINE_ARG {
        return None;
    }
    let args: Vec<String> = args.collect();
    Some(match confine(&args) {
        Ok(never) => match never {},
        Err(message) => {
            eprintln!("wsconform: cannot start the submission: {message}");
            ExitCode::from(126)
        }
    })
}

fn confine(args: &[String]) -> Result<std::convert::Infallible, String> {
    use nix::sys::resource::{Resource, setrlimit};
    use nix::unistd::{Gid, Uid, setgid, setgroups, setuid};
    use std::os::unix::process::CommandExt;

    let mut dir = None;
    let mut uid = None;
    let mut gid = None;
    let mut cgroups = Vec::new();
    let mut cpu_seconds = None;
    let mut command = None;
    let mut i = 0;
    while let Some(arg) = args.get(i) {
        let value = args.get(i + 1).cloned();
        match arg.as_str() {
            "--dir" => dir = value,
            "--uid" => uid = value.and_then(|v| v.parse::<u32>().ok()),
            "--gid" => gid = value.and_then(|v| v.parse::<u32>().ok()),
            "--cgroup" => cgroups.extend(value),
            "--cpu-seconds" => cpu_seconds = value.and_then(|v| v.parse::<u64>().ok()),
            "--" => {
                command = value;
                break;
            }
            other => return Err(format!("unknown argument {other}")),
        }
        i += 2;
    }
    let dir = dir.ok_or("no --dir")?;
    let command = command.ok_or("no command")?;
    for cgroup in cgroups {
        std::fs::write(
            Path::new(&cgroup).join("cgroup.procs"),
            std::process::id().to_string(),
        )
        .map_err(|e| format!("cannot join the cgroup {cgroup}: {e}"))?;
    }
    if let Some(seconds) = cpu_seconds {
        setrlimit(Resource::RLIMIT_CPU, seconds, seconds.saturating_add(1))
            .map_err(|e| format!("RLIMIT_CPU: {e}"))?;
    }
    // No core files written into the submission folder.
    let _ = setrlimit(Resource::RLIMIT_CORE, 0, 0);
    if let (Some(uid), Some(gid)) = (uid, gid) {
        setgroups(&[]).map_err(|e| format!("setgroups: {e}"))?;
        setgid(Gid::from_raw(gid)).map_err(|e| format!("setgid {gid}: {e}"))?;
        setuid(Uid::from_raw(uid)).map_err(|e| format!("setuid {uid}: {e}"))?;
        if Uid::effective().is_root() {
            return Err("still root after setuid".into());
        }
    }
    // After dropping privileges, so the folder must be readable by the user.
    std::env::set_current_dir(&dir).map_err(|e| {
        format!("cannot enter {dir} as the server's user: {e} (make the folders readable, e.g. chmod -R a+rX)")
    })?;
    let keep = |name: &str| std::env::var_os(name);
    let mut shell = std::process::Command::new("sh");
    shell.arg("-c").arg(&command).env_clear();
    for name in ["PATH", "LANG", "LC_ALL"] {
        if let Some(value) = keep(name) {
            shell.env(name, value);
        }
    }
    shell.env("HOME", &dir);
    Err(format!("cannot run sh -c: {}", shell.exec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_survives_quotes() {
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }

    #[test]
    fn the_command_line_names_every_limit() {
        let c = Confinement {
            dir: PathBuf::from("/subs/a b"),
            account: Some(Account {
                name: "nobody".into(),
                uid: 65534,
                gid: 65534,
            }),
            cgroups: Vec::new(),
            cpu_seconds: 30,
        };
        let line = c.command_line(
            Path::new("/bin/wsconform"),
            "python3 s.py 9",
            Path::new("/o/log"),
        );
        assert_eq!(
            line,
            "exec '/bin/wsconform' __confine --dir '/subs/a b' --cpu-seconds 30 --uid 65534 --gid 65534 -- 'python3 s.py 9' </dev/null >'/o/log' 2>&1"
        );
    }

    #[test]
    fn root_is_refused_as_the_servers_user() {
        if nix::unistd::geteuid().is_root() {
            assert!(account(Some("root")).is_err());
            assert_eq!(
                account(None).unwrap().map(|a| a.name),
                Some("nobody".into())
            );
        } else {
            assert_eq!(account(None), Ok(None));
        }
    }
}

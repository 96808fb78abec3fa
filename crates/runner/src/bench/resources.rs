//! What the load generator asks of its own process: enough open files for
//! every socket, and the CPU time it used (to tell whether it, not the
//! server, was the bottleneck).

use super::settings::BenchError;

/// CPU time this process has used so far, user and system, in seconds.
pub(super) fn cpu_seconds() -> f64 {
    use nix::sys::resource::{UsageWho, getrusage};
    let Ok(usage) = getrusage(UsageWho::RUSAGE_SELF) else {
        return 0.0;
    };
    let seconds = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
    seconds(usage.user_time()) + seconds(usage.system_time())
}

/// Raises this process's limit on open files (the soft limit, up to the
/// hard limit) so that `connections` sockets fit.
pub(super) fn allow_open_files(connections: usize) -> Result<(), BenchError> {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let needed = connections as u64 + 64;
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return Ok(());
    };
    if soft >= needed {
        return Ok(());
    }
    if hard < needed {
        return Err(BenchError::TooFewFiles {
            connections,
            needed,
            allowed: hard,
        });
    }
    // Refusal is reported when the sockets are opened.
    let _ = setrlimit(Resource::RLIMIT_NOFILE, needed.max(soft), hard);
    Ok(())
}

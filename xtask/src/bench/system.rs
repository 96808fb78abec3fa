//! What the operating system says about a server process: CPU time and
//! resident memory, read from `/proc` with the `procfs` crate (which also
//! knows the clock tick, so no `getconf` process is needed).
//!
//! Every reading is best effort: a process that has just exited, or a
//! system without `/proc`, gives zero or `None`, and the benchmark reports
//! what it could measure.

/// CPU seconds (user + system) process `pid` has used.
pub fn cpu_seconds(pid: u32) -> f64 {
    let Some(stat) = process(pid).and_then(|p| p.stat().ok()) else {
        return 0.0;
    };
    (stat.utime + stat.stime) as f64 / procfs::ticks_per_second() as f64
}

/// VmRSS of process `pid` in bytes.
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let status = process(pid)?.status().ok()?;
    // The kernel reports VmRSS in kB (KiB).
    status.vmrss.map(|kib| kib * 1024)
}

/// The 1, 5 and 15 minute load averages, as `/proc/loadavg` writes them.
pub fn load_average() -> Option<String> {
    use procfs::Current;
    let load = procfs::LoadAverage::current().ok()?;
    Some(format!(
        "{:.2} {:.2} {:.2}",
        load.one, load.five, load.fifteen
    ))
}

fn process(pid: u32) -> Option<procfs::process::Process> {
    procfs::process::Process::new(i32::try_from(pid).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_memory_and_cpu_time() {
        let me = std::process::id();
        // Burn a little CPU so the counter is not zero on a fast machine.
        let mut x = 0u64;
        let started = std::time::Instant::now();
        while started.elapsed() < std::time::Duration::from_millis(50) {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        assert!(cpu_seconds(me) > 0.0);
        assert!(rss_bytes(me).is_some_and(|bytes| bytes > 1024 * 1024));
        let load = load_average().unwrap();
        assert_eq!(load.split(' ').count(), 3, "{load}");
    }

    #[test]
    fn a_missing_process_reads_as_nothing() {
        // Above the kernel's pid_max (at most 2^22), so no such process.
        let missing = 1 << 23;
        assert_eq!(cpu_seconds(missing), 0.0);
        assert_eq!(rss_bytes(missing), None);
    }
}

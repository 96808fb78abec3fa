//! Memory, CPU and process caps for each submission's server, with the
//! kernel's control groups: a folder for the run, one child per
//! submission, the limits written into the child's files, and the server's
//! confining process moved into it before it runs the student's command
//! (so everything it starts is capped too).
//!
//! Two layouts exist in the wild. cgroup v2 (one tree, `memory.max`,
//! `cpu.max`, `pids.max`) is what current distributions mount. Many hosts
//! and containers still run the older v1 layout, a tree per controller
//! (`memory/…/memory.limit_in_bytes`, `cpu/…/cpu.cfs_quota_us`,
//! `pids/…/pids.max`); there the run gets a folder in each of the three.
//! Whichever is found and writable is used; with neither, memory is not
//! capped and the record says so.

use std::path::{Path, PathBuf};

use super::isolation::Limits;

const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// The v1 controllers used, each a tree of its own.
const V1_CONTROLLERS: [&str; 3] = ["memory", "cpu", "pids"];

/// Which layout the run's caps are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// One tree with every controller.
    V2,
    /// A tree per controller.
    V1,
}

/// This run's cgroup folders (one for v2, one per controller for v1),
/// removed when dropped.
#[derive(Debug)]
pub struct Cgroups {
    layout: Layout,
    parents: Vec<PathBuf>,
}

/// One submission's cgroup folders: the confining process joins each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leaf(pub Vec<PathBuf>);

impl Cgroups {
    /// Creates this run's cgroups, v2 first then v1, or `None` when neither
    /// is mounted with the memory, cpu and pids controllers and writable.
    pub fn create() -> Option<Cgroups> {
        let root = Path::new(CGROUP_ROOT);
        let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        Cgroups::create_v2(root).or_else(|| Cgroups::create_v1(root, &own))
    }

    /// The layout in use.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    fn run_folder() -> String {
        format!("wsconform-grade-{}", std::process::id())
    }

    /// v2 under `root` (tests use a plain folder).
    fn create_v2(root: &Path) -> Option<Cgroups> {
        let controllers = std::fs::read_to_string(root.join("cgroup.controllers")).ok()?;
        let has = |name: &str| controllers.split_whitespace().any(|c| c == name);
        if !(has("memory") && has("cpu") && has("pids")) {
            return None;
        }
        let parent = root.join(Cgroups::run_folder());
        std::fs::create_dir(&parent).ok()?;
        if std::fs::write(parent.join("cgroup.subtree_control"), "+memory +cpu +pids").is_err() {
            let _ = std::fs::remove_dir(&parent);
            return None;
        }
        Some(Cgroups {
            layout: Layout::V2,
            parents: vec![parent],
        })
    }

    /// v1 under `root`, each controller's folder placed below the cgroup
    /// this process is in (`own` is `/proc/self/cgroup`), so a container's
    /// limits still apply above it.
    fn create_v1(root: &Path, own: &str) -> Option<Cgroups> {
        let mut parents = Vec::new();
        for controller in V1_CONTROLLERS {
            let tree = root.join(controller);
            let made = tree.join("cgroup.procs").exists().then(|| {
                let below = own_path(own, controller);
                let parent = tree
                    .join(below.trim_start_matches('/'))
                    .join(Cgroups::run_folder());
                std::fs::create_dir(&parent).ok().map(|()| parent)
            });
            match made.flatten() {
                Some(parent) => parents.push(parent),
                None => {
                    for p in &parents {
                        let _ = std::fs::remove_dir(p);
                    }
                    return None;
                }
            }
        }
        Some(Cgroups {
            layout: Layout::V1,
            parents,
        })
    }

    /// A child cgroup for one submission, its limits written.
    pub fn leaf(&self, submission: &str, limits: &Limits) -> std::io::Result<Leaf> {
        let name: String = submission
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let period = 100_000u64;
        let quota = ((limits.cpus * period as f64) as u64).max(1_000);
        let mut dirs = Vec::new();
        for parent in &self.parents {
            let leaf = parent.join(&name);
            std::fs::create_dir_all(&leaf)?;
            dirs.push(leaf);
        }
        let leaf = Leaf(dirs);
        let result = self.write_limits(&leaf, limits, quota, period);
        if result.is_err() {
            Cgroups::remove_leaf(&leaf);
        }
        result.map(|()| leaf)
    }

    fn write_limits(
        &self,
        leaf: &Leaf,
        limits: &Limits,
        quota: u64,
        period: u64,
    ) -> std::io::Result<()> {
        let write = |dir: &Path, file: &str, value: String| std::fs::write(dir.join(file), value);
        match self.layout {
            Layout::V2 => {
                let dir = leaf.0.first().ok_or_else(no_folder)?;
                write(dir, "memory.max", limits.memory_bytes.to_string())?;
                // Swap would let a server exceed memory.max unnoticed.
                let _ = write(dir, "memory.swap.max", "0".into());
                write(dir, "cpu.max", format!("{quota} {period}"))?;
                write(dir, "pids.max", limits.pids.to_string())?;
            }
            Layout::V1 => {
                let [memory, cpu, pids] = leaf.0.as_slice() else {
                    return Err(no_folder());
                };
                write(
                    memory,
                    "memory.limit_in_bytes",
                    limits.memory_bytes.to_string(),
                )?;
                // Memory plus swap, where the kernel accounts swap: the same
                // cap, so swapping out does not lift it.
                let _ = write(
                    memory,
                    "memory.memsw.limit_in_bytes",
                    limits.memory_bytes.to_string(),
                );
                write(cpu, "cpu.cfs_period_us", period.to_string())?;
                write(cpu, "cpu.cfs_quota_us", quota.to_string())?;
                write(pids, "pids.max", limits.pids.to_string())?;
            }
        }
        Ok(())
    }

    /// How many times the kernel killed a process of this submission for
    /// going over its memory cap (`oom_kill` in v2's `memory.events` or
    /// v1's `memory.oom_control`).
    pub fn oom_kills(leaf: &Leaf) -> u64 {
        leaf.0
            .iter()
            .flat_map(|dir| {
                ["memory.events", "memory.oom_control"]
                    .map(|file| std::fs::read_to_string(dir.join(file)).unwrap_or_default())
            })
            .flat_map(|text| {
                text.lines()
                    .filter_map(|line| line.strip_prefix("oom_kill "))
                    .filter_map(|n| n.trim().parse::<u64>().ok())
                    .collect::<Vec<_>>()
            })
            .sum()
    }

    /// Removes a submission's cgroups once its processes are gone (bounded retries).
    pub fn remove_leaf(leaf: &Leaf) {
        for dir in &leaf.0 {
            for _ in 0..20 {
                if std::fs::remove_dir(dir).is_ok() || !dir.exists() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        }
    }

    /// The caps as the record states them.
    pub fn describe(&self, limits: &Limits) -> String {
        let mib = limits.memory_bytes / (1024 * 1024);
        match self.layout {
            Layout::V2 => format!(
                "cgroup v2: memory.max {mib} MiB, cpu.max {} CPU, pids.max {}",
                limits.cpus, limits.pids
            ),
            Layout::V1 => format!(
                "cgroup v1: memory.limit_in_bytes {mib} MiB, cpu.cfs_quota_us {} CPU, pids.max {}",
                limits.cpus, limits.pids
            ),
        }
    }
}

impl Drop for Cgroups {
    fn drop(&mut self) {
        for parent in &self.parents {
            let _ = std::fs::remove_dir(parent);
        }
    }
}

fn no_folder() -> std::io::Error {
    std::io::Error::other("a cgroup folder is missing")
}

/// The path of this process's cgroup for a v1 controller, from
/// `/proc/self/cgroup` lines like `4:memory:/docker/abc` or
/// `2:cpu,cpuacct:/` (`/` when not listed).
fn own_path<'a>(own: &'a str, controller: &str) -> &'a str {
    own.lines()
        .find_map(|line| {
            let mut parts = line.splitn(3, ':');
            let _id = parts.next()?;
            let names = parts.next()?;
            let path = parts.next()?;
            names.split(',').any(|n| n == controller).then_some(path)
        })
        .unwrap_or("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            memory_bytes: 256 * 1024 * 1024,
            cpus: 0.5,
            pids: 64,
            cpu_seconds: 10,
        }
    }

    #[test]
    fn a_v2_submission_cgroup_gets_its_limits() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(
            root.path().join("cgroup.controllers"),
            "cpuset cpu io memory pids\n",
        )
        .unwrap();
        let cgroups = Cgroups::create_v2(root.path()).unwrap();
        let parent = cgroups.parents[0].clone();
        assert_eq!(
            std::fs::read_to_string(parent.join("cgroup.subtree_control")).unwrap(),
            "+memory +cpu +pids"
        );
        let leaf = cgroups.leaf("ann lee", &limits()).unwrap();
        assert_eq!(leaf.0, vec![parent.join("ann_lee")]);
        let read = |name: &str| std::fs::read_to_string(leaf.0[0].join(name)).unwrap();
        assert_eq!(read("memory.max"), "268435456");
        assert_eq!(read("cpu.max"), "50000 100000");
        assert_eq!(read("pids.max"), "64");
        assert!(
            cgroups
                .describe(&limits())
                .starts_with("cgroup v2: memory.max 256 MiB")
        );

        // Without every controller there is no v2 cgroup.
        let partial = tempfile::tempdir().unwrap();
        std::fs::write(partial.path().join("cgroup.controllers"), "cpu pids\n").unwrap();
        assert!(Cgroups::create_v2(partial.path()).is_none());
    }

    #[test]
    fn a_v1_submission_gets_a_folder_per_controller_below_its_own_cgroup() {
        let root = tempfile::tempdir().unwrap();
        for c in V1_CONTROLLERS {
            std::fs::create_dir_all(root.path().join(c).join("box")).unwrap();
            std::fs::write(root.path().join(c).join("cgroup.procs"), "").unwrap();
        }
        let own = "9:name=systemd:/\n4:memory:/box\n2:cpu,cpuacct:/box\n8:pids:/\n";
        let cgroups = Cgroups::create_v1(root.path(), own).unwrap();
        assert_eq!(cgroups.layout(), Layout::V1);
        let leaf = cgroups.leaf("bo", &limits()).unwrap();
        let run = Cgroups::run_folder();
        assert_eq!(
            leaf.0,
            vec![
                root.path().join("memory/box").join(&run).join("bo"),
                root.path().join("cpu/box").join(&run).join("bo"),
                root.path().join("pids").join(&run).join("bo"),
            ]
        );
        let read = |i: usize, name: &str| std::fs::read_to_string(leaf.0[i].join(name)).unwrap();
        assert_eq!(read(0, "memory.limit_in_bytes"), "268435456");
        assert_eq!(read(1, "cpu.cfs_quota_us"), "50000");
        assert_eq!(read(1, "cpu.cfs_period_us"), "100000");
        assert_eq!(read(2, "pids.max"), "64");

        // A controller missing: no v1 cgroups, nothing left behind.
        let partial = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(partial.path().join("memory")).unwrap();
        std::fs::write(partial.path().join("memory/cgroup.procs"), "").unwrap();
        assert!(Cgroups::create_v1(partial.path(), "").is_none());
        assert!(!partial.path().join("memory").join(&run).exists());
    }

    #[test]
    fn out_of_memory_kills_are_counted_in_either_layout() {
        let dir = tempfile::tempdir().unwrap();
        let (v2, v1) = (dir.path().join("v2"), dir.path().join("v1"));
        std::fs::create_dir_all(&v2).unwrap();
        std::fs::create_dir_all(&v1).unwrap();
        std::fs::write(
            v2.join("memory.events"),
            "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n",
        )
        .unwrap();
        std::fs::write(
            v1.join("memory.oom_control"),
            "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
        )
        .unwrap();
        assert_eq!(Cgroups::oom_kills(&Leaf(vec![v2.clone()])), 1);
        assert_eq!(Cgroups::oom_kills(&Leaf(vec![v1, v2])), 3);
        assert_eq!(Cgroups::oom_kills(&Leaf(vec![dir.path().join("none")])), 0);
    }

    #[test]
    fn the_own_path_is_found_per_controller() {
        let own = "4:memory:/docker/abc\n2:cpu,cpuacct:/x\n0::/\n";
        assert_eq!(own_path(own, "memory"), "/docker/abc");
        assert_eq!(own_path(own, "cpu"), "/x");
        assert_eq!(own_path(own, "pids"), "/");
    }
}

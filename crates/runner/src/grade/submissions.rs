//! The class: every sub-folder of `--submissions DIR` is one submission,
//! named by its folder, and `--shard i/n` picks a stable part of them.

use std::path::{Path, PathBuf};

/// One student's folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    /// The folder's name: the gradebook's `submission` column.
    pub name: String,
    /// The folder, absolute.
    pub dir: PathBuf,
}

/// The sub-folders of `root`, sorted by name (hidden ones, `.git` and the
/// like, left out), so that every run lists a class in the same order.
pub fn list(root: &Path) -> std::io::Result<Vec<Submission>> {
    let root = std::path::absolute(root)?;
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&root)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || !entry.file_type()?.is_dir() {
            continue;
        }
        out.push(Submission {
            name,
            dir: root.join(entry.file_name()),
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// `--shard i/n`: this machine grades part `index` (1-based) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 1..=count.
    pub index: u32,
    /// How many parts the class is cut into.
    pub count: u32,
}

impl Shard {
    /// Parses `i/n` with `1 <= i <= n`.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let wrong = || format!("--shard '{text}': write it as I/N with 1 <= I <= N, e.g. 2/4");
        let (index, count) = text.split_once('/').ok_or_else(wrong)?;
        let index: u32 = index.trim().parse().map_err(|_| wrong())?;
        let count: u32 = count.trim().parse().map_err(|_| wrong())?;
        if index == 0 || count == 0 || index > count {
            return Err(wrong());
        }
        Ok(Shard { index, count })
    }

    /// Whether `name` belongs to this shard. A hash of the name alone
    /// decides, not the position in the listing: a submission added or
    /// removed late moves no other submission to another shard.
    pub fn holds(self, name: &str) -> bool {
        stable_hash(name) % u64::from(self.count) == u64::from(self.index - 1)
    }
}

/// FNV-1a, 64 bits: the same value on every machine and every version of
/// Rust (the standard library's hasher is randomly keyed per process).
pub fn stable_hash(text: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_cover_the_class_once() {
        let names: Vec<String> = (0..200).map(|i| format!("student-{i:03}")).collect();
        let shards: Vec<Shard> = (1..=4).map(|i| Shard { index: i, count: 4 }).collect();
        for name in &names {
            let holders = shards.iter().filter(|s| s.holds(name)).count();
            assert_eq!(holders, 1, "{name}");
        }
        for shard in &shards {
            let size = names.iter().filter(|n| shard.holds(n)).count();
            assert!((25..=75).contains(&size), "shard {shard:?} holds {size}");
        }
    }

    #[test]
    fn the_hash_is_fixed() {
        // FNV-1a test vectors: a stable hash must not change between versions.
        assert_eq!(stable_hash(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(stable_hash("a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn shard_syntax() {
        assert_eq!(Shard::parse("2/4"), Ok(Shard { index: 2, count: 4 }));
        for bad in ["0/4", "5/4", "1/0", "2", "a/b"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn lists_folders_sorted_without_hidden_ones() {
        let dir = std::env::temp_dir().join(format!("wsconform-list-{}", std::process::id()));
        for sub in ["bob", "alice", ".git"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        std::fs::write(dir.join("notes.txt"), "x").unwrap();
        let names: Vec<String> = list(&dir).unwrap().into_iter().map(|s| s.name).collect();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(names, ["alice", "bob"]);
    }
}

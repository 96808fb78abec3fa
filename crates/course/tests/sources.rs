//! What the step files promise about themselves: every `ANCHOR` region the
//! book can include is closed, the steps are numbered 1 to 11 in both
//! languages, and they use nothing beyond what the track allows (Rust: std,
//! `sha1`, `base64`; Python: a few standard modules).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The step files of one language, sorted by name.
fn step_files(folder: &str, extension: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(folder);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| {
            path.extension().is_some_and(|ext| ext == extension)
                && path
                    .file_name()
                    .is_some_and(|name| name.to_string_lossy().starts_with("step"))
        })
        .collect();
    files.sort();
    files
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The names after `marker` on the lines that carry it.
fn anchors(text: &str, marker: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| line.split_once(marker))
        .map(|(_, name)| name.trim().to_string())
        .collect()
}

#[test]
fn both_languages_have_the_same_eleven_steps() {
    let rust: Vec<String> = step_files("src/bin", "rs")
        .iter()
        .map(|p| stem(p))
        .collect();
    let python: Vec<String> = step_files("python", "py").iter().map(|p| stem(p)).collect();
    assert_eq!(rust.len(), 11, "{rust:?}");
    assert_eq!(rust, python);
    for (index, name) in rust.iter().enumerate() {
        assert!(
            name.starts_with(&format!("step{:02}_", index + 1)),
            "{name} is not step {}",
            index + 1
        );
    }
}

#[test]
fn every_anchor_region_is_closed_once() {
    let files = [step_files("src/bin", "rs"), step_files("python", "py")].concat();
    for path in files {
        let text = read(&path);
        let opened = anchors(&text, "ANCHOR: ");
        let closed = anchors(&text, "ANCHOR_END: ");
        let unique: BTreeSet<&String> = opened.iter().collect();
        assert_eq!(
            unique.len(),
            opened.len(),
            "{}: an anchor name is used twice",
            path.display()
        );
        let opened: BTreeSet<String> = opened.into_iter().collect();
        let closed: BTreeSet<String> = closed.into_iter().collect();
        assert_eq!(
            opened,
            closed,
            "{}: ANCHOR and ANCHOR_END do not pair up",
            path.display()
        );
        assert!(
            !opened.is_empty(),
            "{}: no anchor for the book",
            path.display()
        );
    }
}

#[test]
fn rust_steps_use_only_std_sha1_and_base64() {
    for path in step_files("src/bin", "rs") {
        for line in read(&path).lines().filter(|l| l.starts_with("use ")) {
            let root = line["use ".len()..].split("::").next().unwrap_or_default();
            assert!(
                ["std", "sha1", "base64"].contains(&root),
                "{}: `{line}` goes beyond std, sha1 and base64",
                path.display()
            );
        }
    }
}

#[test]
fn python_steps_use_only_the_standard_modules_of_the_track() {
    let allowed = [
        "base64",
        "codecs",
        "hashlib",
        "signal",
        "socket",
        "struct",
        "sys",
        "threading",
    ];
    for path in step_files("python", "py") {
        for line in read(&path).lines() {
            let module = match line.split_whitespace().collect::<Vec<_>>()[..] {
                ["import", module, ..] | ["from", module, "import", ..] => module,
                _ => continue,
            };
            assert!(
                allowed.contains(&module),
                "{}: imports {module}, which the track does not use",
                path.display()
            );
        }
    }
}

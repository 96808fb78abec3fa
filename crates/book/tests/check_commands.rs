//! The "Check your server" commands of the book name chapters that exist.
//!
//! Every chapter ends with `wsconform run --chapter NAME ...`. A renamed or
//! split scenario folder would leave the reader with a command that selects
//! nothing; this test catches that, and it also checks the other way round:
//! every folder of the bundled suite is the subject of some chapter.

use std::collections::BTreeSet;
use std::path::Path;

use wsconform_runner::load::bundled;

use wsconform_runner::chapter::name as short_name;

/// Every `--chapter NAME` in the book's chapters, with the file it is in.
fn chapter_flags() -> Vec<(String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../book/src");
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&src).expect("book/src exists") {
        let path = entry.expect("a directory entry").path();
        if path.extension().is_none_or(|e| e != "md") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("a readable chapter");
        let file = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        for part in text.split("--chapter ").skip(1) {
            let name: String = part
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            found.push((file.clone(), name));
        }
    }
    found
}

#[test]
fn every_chapter_command_selects_scenarios_and_every_folder_has_a_chapter() {
    let suite = bundled().expect("the bundled suite loads");
    let folders: BTreeSet<&str> = suite.iter().map(|s| s.chapter.as_str()).collect();
    let short: BTreeSet<&str> = folders.iter().map(|f| short_name(f)).collect();

    let flags = chapter_flags();
    assert!(
        flags.len() >= 10,
        "expected a --chapter command in every chapter, found {flags:?}"
    );
    let unknown: Vec<String> = flags
        .iter()
        .filter(|(_, name)| !short.contains(name.as_str()) && !folders.contains(name.as_str()))
        .map(|(file, name)| format!("book/src/{file}: --chapter {name}"))
        .collect();
    assert!(
        unknown.is_empty(),
        "these commands select no scenario (folders: {folders:?}):\n{}",
        unknown.join("\n")
    );

    let used: BTreeSet<&str> = flags.iter().map(|(_, name)| name.as_str()).collect();
    let orphans: Vec<&&str> = short.iter().filter(|name| !used.contains(**name)).collect();
    assert!(
        orphans.is_empty(),
        "no chapter ends with `wsconform run --chapter` for these scenario folders: {orphans:?}"
    );
}

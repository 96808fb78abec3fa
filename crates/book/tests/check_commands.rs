//! The "Check your server" commands of the book name chapters that exist.
//!
//! Every chapter's "Check your server" runs `wsconform run --up-to NAME ...`
//! for its own chapter. A renamed or split scenario folder would leave the
//! reader with a command that selects nothing; this test catches that, and
//! it also checks the other way round: every folder of the bundled suite is
//! the subject of some chapter. It also holds each chapter to the track: the
//! step that starts its server and the command that checks it.

use std::collections::BTreeSet;
use std::path::Path;

use wsconform_runner::chapter;
use wsconform_runner::load::bundled;

use wsconform_runner::chapter::name as short_name;

/// Every `--chapter NAME` and `--up-to NAME` in the book's chapters, with
/// the file it is in.
fn chapter_flags() -> Vec<(String, String, String)> {
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
        for flag in ["--chapter ", "--up-to "] {
            for part in text.split(flag).skip(1) {
                let name: String = part
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                    .collect();
                found.push((file.clone(), format!("{flag}{name}"), name));
            }
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
        .filter(|(_, _, name)| !short.contains(name.as_str()) && !folders.contains(name.as_str()))
        .map(|(file, command, _)| format!("book/src/{file}: {command}"))
        .collect();
    assert!(
        unknown.is_empty(),
        "these commands select no scenario (folders: {folders:?}):\n{}",
        unknown.join("\n")
    );

    let used: BTreeSet<&str> = flags.iter().map(|(_, _, name)| name.as_str()).collect();
    let orphans: Vec<&&str> = short.iter().filter(|name| !used.contains(**name)).collect();
    assert!(
        orphans.is_empty(),
        "no chapter ends with `wsconform run --up-to` for these scenario folders: {orphans:?}"
    );
}

/// The text of `book/src/NAME.md`.
fn page(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../book/src")
        .join(format!("{name}.md"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The part of a page from `## heading` to the next `## `.
fn section<'a>(text: &'a str, heading: &str) -> Option<&'a str> {
    let start = text.find(&format!("\n## {heading}\n"))? + 1;
    let rest = &text[start..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |at| at + 4);
    Some(&rest[..end])
}

#[test]
fn every_main_chapter_has_a_contract_an_up_to_check_and_its_track_step() {
    let main_chain: Vec<&str> = chapter::CHAPTERS
        .iter()
        .filter(|c| !c.optional)
        .map(|c| c.name)
        .collect();
    let steps = Path::new(env!("CARGO_MANIFEST_DIR")).join("../course/src/bin");
    let mut problems = Vec::new();
    for (index, name) in main_chain.iter().enumerate() {
        let text = page(name);
        let number = index + 1;
        let step = format!("step{number:02}_{}", name.replace('-', "_"));
        let up_to = format!("wsconform run --up-to {name} --target ws://127.0.0.1:8080/echo");
        if !text.contains("> **Server contract.**") {
            problems.push(format!("{name}.md: no server contract at the top"));
        }
        match section(&text, "Check your server") {
            Some(check) if check.contains(&up_to) => {}
            _ => problems.push(format!(
                "{name}.md: \"Check your server\" does not run `{up_to}`"
            )),
        }
        let Some(track) = section(&text, &format!("The track's step {number}")) else {
            problems.push(format!(
                "{name}.md: no section \"The track's step {number}\""
            ));
            continue;
        };
        if !steps.join(format!("{step}.rs")).is_file() {
            problems.push(format!("the track has no {step}.rs for {name}"));
        }
        for wanted in [
            format!("cargo run -p wsconform-course --bin {step} -- 8080"),
            format!("python3 crates/course/python/{step}.py 8080"),
            up_to.clone(),
            format!("{{{{#include ../../crates/course/src/bin/{step}.rs:"),
            format!("{{{{#include ../../crates/course/python/{step}.py:"),
        ] {
            if !track.contains(&wanted) {
                problems.push(format!(
                    "{name}.md, the track's step {number}: no `{wanted}`"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_summary_follows_the_chapter_table() {
    let summary = page("SUMMARY");
    let places: Vec<(usize, &str)> = chapter::CHAPTERS
        .iter()
        .filter(|c| !c.optional)
        .map(|c| {
            let at = summary
                .find(&format!("({}.md)", c.name))
                .unwrap_or_else(|| panic!("SUMMARY.md has no {}.md", c.name));
            (at, c.name)
        })
        .collect();
    let mut sorted = places.clone();
    sorted.sort();
    assert_eq!(
        places, sorted,
        "SUMMARY.md lists the chapters in another order"
    );
}

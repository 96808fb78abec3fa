//! Expands the book's `{{#include}}` directives so rustdoc sees the same
//! chapters mdbook renders, then generates one documented module per chapter
//! (see `src/lib.rs`). A directive that does not resolve fails the build with
//! the chapter, the line and the cause.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[allow(dead_code)]
#[path = "src/includes.rs"]
mod includes;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default());
    let book_src = manifest.join("../../book/src");
    println!("cargo::rerun-if-changed={}", book_src.display());

    let mut chapters = Vec::new();
    collect_markdown(&book_src, &mut chapters);
    chapters.sort();

    let mut modules = String::new();
    for chapter in &chapters {
        let relative = chapter.strip_prefix(&book_src).unwrap_or(chapter);
        if relative == Path::new("SUMMARY.md") {
            continue;
        }
        let name = relative.display().to_string();
        println!("cargo::rerun-if-changed={}", chapter.display());
        let markdown = std::fs::read_to_string(chapter).unwrap_or_default();
        let dir = chapter.parent().unwrap_or(&book_src);
        let markdown = includes::mark_listings(&markdown);
        // Files under generated/ are written by this crate's own tests
        // (tests/generated.rs, tests/autobahn_table.rs), which fail while one
        // is missing: a missing one must not stop the crate from building
        // first.
        let generated = |path: &str| {
            let generated = path.starts_with("generated/") || path.starts_with("../generated/");
            if generated {
                println!(
                    "cargo::warning=book/src/{name}: {path} is missing; WSCONFORM_BLESS=1 cargo test -p wsconform-book writes it"
                );
            }
            generated
        };
        let (expanded, read) =
            match includes::expand(&markdown, dir, &format!("book/src/{name}"), &generated) {
                Ok(done) => done,
                Err(err) => {
                    println!("cargo::error={err}");
                    return;
                }
            };
        for file in read {
            println!("cargo::rerun-if-changed={}", file.display());
        }
        let module = name.trim_end_matches(".md").replace(['/', '-', '.'], "_");
        let target = out.join(format!("{module}.md"));
        if let Err(err) = std::fs::write(&target, expanded) {
            println!("cargo::error=cannot write {}: {err}", target.display());
            return;
        }
        let _ = writeln!(
            modules,
            "#[doc = include_str!({:?})]\npub mod {module} {{}}\n",
            target.display().to_string()
        );
    }
    if let Err(err) = std::fs::write(out.join("chapters.rs"), modules) {
        println!("cargo::error=cannot write chapters.rs: {err}");
    }
}

/// Every `.md` file under `dir`, recursively.
fn collect_markdown(dir: &Path, into: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            // `generated/` holds files the chapters include, not chapters.
            if path.file_name().is_some_and(|n| n == "generated") {
                continue;
            }
            println!("cargo::rerun-if-changed={}", path.display());
            collect_markdown(&path, into);
        } else if path.extension().is_some_and(|e| e == "md") {
            into.push(path);
        }
    }
}

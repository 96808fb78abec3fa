//! `cargo xtask book`: build the workbook and prove nothing in it is broken.
//!
//! mdbook is forgiving in ways a book of listings cannot afford: an
//! `{{#include}}` whose file or anchor is gone is only logged and rendered as
//! an empty listing, and a link to a renamed chapter or heading builds fine
//! and leads nowhere. So this task checks, in order:
//!
//! 1. every `{{#include}}` / `{{#rustdoc_include}}` of every chapter resolves
//!    to an existing file and a non-empty `ANCHOR` region;
//! 2. every chapter file is listed in `SUMMARY.md`;
//! 3. Appendix B's table of Autobahn cases (committed in
//!    `book/src/generated/autobahn-table.md`) is what the book crate's one
//!    writer of it makes of the scenarios today;
//! 4. mdbook (installed with `cargo install` if missing) builds the book
//!    without logging an error;
//! 5. in the rendered HTML, every relative link points to an existing page and
//!    every `#fragment` to an element with that `id`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::{project_root, run_command};

#[allow(dead_code)]
#[path = "../../crates/book/src/includes.rs"]
mod includes;

/// The mdbook version the book is written for (installed when missing).
const MDBOOK_VERSION: &str = "0.5.4";

/// Checks the sources, builds the book into `book/book`, checks the links.
pub fn run() -> Result<()> {
    let root = project_root();
    let src = root.join("book/src");
    let chapters = markdown_files(&src)?;
    check_autobahn_table(&root)?;

    let mut problems = check_includes(&src, &chapters);
    problems.extend(check_summary(&src, &chapters)?);
    if !problems.is_empty() {
        bail!(report("the book's sources", &problems));
    }

    ensure_mdbook()?;
    eprintln!("$ mdbook build book");
    let output = Command::new("mdbook")
        .args(["build", "book"])
        .current_dir(&root)
        .output()
        .context("could not run `mdbook build book`")?;
    let log = String::from_utf8_lossy(&output.stderr);
    eprint!("{log}");
    if !output.status.success() {
        bail!("`mdbook build book` failed ({})", output.status);
    }
    let errors: Vec<String> = log
        .lines()
        .filter(|l| l.contains("ERROR"))
        .map(str::to_owned)
        .collect();
    if !errors.is_empty() {
        bail!(report("mdbook's log", &errors));
    }

    let problems = check_html(&root.join("book/book"))?;
    if !problems.is_empty() {
        bail!(report("the rendered book", &problems));
    }
    eprintln!(
        "book OK: {} chapters, includes resolve, links and anchors exist -> book/book/index.html",
        chapters.len()
    );
    Ok(())
}

fn report(what: &str, problems: &[String]) -> String {
    format!(
        "{} problem(s) in {what}:\n  {}",
        problems.len(),
        problems.join("\n  ")
    )
}

/// Fails when Appendix B's committed table is not what the scenarios give
/// (the book crate writes it; its test regenerates it when blessed).
fn check_autobahn_table(root: &Path) -> Result<()> {
    let scenarios =
        wsconform_runner::load::load_path(&root.join("scenarios")).map_err(|errors| {
            let first = errors.first().map(ToString::to_string).unwrap_or_default();
            anyhow::anyhow!(
                "{} scenario file(s) do not load; `wsconform check` says why. First: {first}",
                errors.len()
            )
        })?;
    let path = root.join("book/src/generated/autobahn-table.md");
    let committed = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    if committed != wsconform_book::autobahn::autobahn_table(&scenarios) {
        bail!(
            "{} is stale: regenerate it with `WSCONFORM_BLESS=1 cargo test -p wsconform-book --test autobahn_table`",
            path.display()
        );
    }
    Ok(())
}

/// Installs mdbook with cargo unless an `mdbook` already runs.
fn ensure_mdbook() -> Result<()> {
    let found = Command::new("mdbook")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("mdbook is not installed: installing mdbook {MDBOOK_VERSION} with cargo");
        run_command(
            "cargo",
            &["install", "mdbook", "--locked", "--version", MDBOOK_VERSION],
        )
        .context(
            "installing mdbook failed; install it by hand with `cargo install mdbook --locked`",
        )?;
    }
    Ok(())
}

/// Every `.md` file under `dir`, sorted.
fn markdown_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries =
            std::fs::read_dir(&dir).with_context(|| format!("cannot read {}", dir.display()))?;
        for entry in entries {
            let path = entry?.path();
            if path.is_dir() {
                // `generated/` holds files the chapters include, not chapters.
                if path.file_name().is_none_or(|n| n != "generated") {
                    stack.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "md") {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

fn display_name(src: &Path, file: &Path) -> String {
    format!(
        "book/src/{}",
        file.strip_prefix(src).unwrap_or(file).display()
    )
}

/// Step 1: every include directive resolves.
fn check_includes(src: &Path, chapters: &[PathBuf]) -> Vec<String> {
    let mut problems = Vec::new();
    for chapter in chapters {
        let name = display_name(src, chapter);
        let Ok(markdown) = std::fs::read_to_string(chapter) else {
            problems.push(format!("{name}: cannot be read"));
            continue;
        };
        let dir = chapter.parent().unwrap_or(src);
        if let Err(err) = includes::expand(&markdown, dir, &name, &|_| false) {
            problems.push(err.to_string());
        }
    }
    problems
}

/// Step 2: every chapter file is in `SUMMARY.md`.
fn check_summary(src: &Path, chapters: &[PathBuf]) -> Result<Vec<String>> {
    let summary = std::fs::read_to_string(src.join("SUMMARY.md"))
        .context("book/src/SUMMARY.md is missing")?;
    let mut problems = Vec::new();
    for chapter in chapters {
        let relative = chapter.strip_prefix(src).unwrap_or(chapter);
        if relative == Path::new("SUMMARY.md") {
            continue;
        }
        let link = format!("({})", relative.display());
        if !summary.contains(&link) {
            problems.push(format!(
                "{} is not listed in book/src/SUMMARY.md, so mdbook never renders it",
                display_name(src, chapter)
            ));
        }
    }
    Ok(problems)
}

/// The values of every `attr="..."` in `html`.
fn attribute_values<'a>(html: &'a str, attr: &str) -> Vec<&'a str> {
    let needle = format!(" {attr}=\"");
    let mut values = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find(&needle) {
        rest = &rest[start + needle.len()..];
        let end = rest.find('"').unwrap_or(rest.len());
        values.push(&rest[..end]);
        rest = &rest[end..];
    }
    values
}

/// `base/../x` → `x`, without touching the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// Step 4: links and anchors in the rendered HTML.
fn check_html(out: &Path) -> Result<Vec<String>> {
    let mut pages = BTreeMap::new();
    let mut stack = vec![out.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)
            .with_context(|| format!("mdbook wrote no output in {}", dir.display()))?
        {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "html") {
                let html = std::fs::read_to_string(&path)?;
                pages.insert(normalize(&path), html);
            }
        }
    }
    let ids: BTreeMap<&PathBuf, BTreeSet<&str>> = pages
        .iter()
        .map(|(path, html)| (path, attribute_values(html, "id").into_iter().collect()))
        .collect();

    let mut problems = Vec::new();
    for (page, html) in &pages {
        let name = page.strip_prefix(out).unwrap_or(page).display().to_string();
        // The print page repeats every chapter with rewritten anchors, and
        // the 404 page links from the site's root; the chapters themselves
        // are what readers click through.
        if name == "print.html" || name == "404.html" {
            continue;
        }
        if html.contains("{{#") {
            problems.push(format!(
                "{name}: contains an unexpanded `{{{{#...}}}}` directive"
            ));
        }
        for href in attribute_values(html, "href") {
            let external = ["http:", "https:", "mailto:", "javascript:", "data:", "//"];
            if external.iter().any(|p| href.starts_with(p)) || href.is_empty() {
                continue;
            }
            let (file, fragment) = match href.split_once('#') {
                Some((file, fragment)) => (file, Some(fragment)),
                None => (href, None),
            };
            let file = file.split('?').next().unwrap_or_default();
            let target = if file.is_empty() {
                page.clone()
            } else {
                let mut target = normalize(&page.parent().unwrap_or(out).join(file));
                if file.ends_with('/') {
                    target.push("index.html");
                }
                target
            };
            if !target.exists() {
                problems.push(format!("{name}: link `{href}` points to a missing file"));
                continue;
            }
            if let Some(fragment) = fragment.filter(|f| !f.is_empty()) {
                let known = ids.get(&target).is_some_and(|set| set.contains(fragment));
                if !known {
                    problems.push(format!(
                        "{name}: link `{href}`: {} has no element with id `{fragment}`",
                        target.strip_prefix(out).unwrap_or(&target).display()
                    ));
                }
            }
        }
    }
    Ok(problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_and_paths() {
        let html = r##"<a href="a.html#x" id="top"><h2 id="check-your-server">"##;
        assert_eq!(attribute_values(html, "href"), ["a.html#x"]);
        assert_eq!(attribute_values(html, "id"), ["top", "check-your-server"]);
        assert_eq!(
            normalize(Path::new("/b/appendix/../frames.html")),
            PathBuf::from("/b/frames.html")
        );
    }

    #[test]
    fn broken_links_and_anchors_are_reported() {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path();
        std::fs::create_dir_all(dir.join("appendix")).unwrap();
        std::fs::write(dir.join("frames.html"), r#"<h2 id="the-header">"#).unwrap();
        std::fs::write(
            dir.join("appendix/a.html"),
            r#"<a href="../frames.html#the-header"><a href="../frames.html#gone"><a href="../nope.html"><a href="https://example.com/x">"#,
        )
        .unwrap();
        let problems = check_html(dir).unwrap();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems[0].contains("no element with id `gone`"),
            "{problems:?}"
        );
        assert!(problems[1].contains("missing file"), "{problems:?}");
    }
}

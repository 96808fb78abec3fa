//! Expanding mdbook's `{{#include}}` and `{{#rustdoc_include}}` directives.
//!
//! The book never pastes code: a chapter says
//! `{{#include ../../crates/wire/src/frame.rs:parse}}` and mdbook copies the
//! lines between `// ANCHOR: parse` and `// ANCHOR_END: parse` into the page.
//! rustdoc does not know these directives, so the doc-test crate expands them
//! itself (in its build script) before handing the chapters to rustdoc. The
//! same code checks, for `cargo xtask book`, that every directive resolves:
//! mdbook only logs a missing file or anchor and renders an empty listing.
//!
//! The rules follow mdbook 0.5: paths are relative to the chapter's folder;
//! `file:name` takes an anchored region and drops every `ANCHOR` line inside
//! it; `rustdoc_include` keeps the whole file and hides the lines outside the
//! region with `# `, so the listing shows the region but compiles as a whole
//! program. Line-number ranges (`file:10:20`) are refused on purpose: they go
//! stale silently when the file changes, an anchor does not.

use std::fmt;
use std::path::{Path, PathBuf};

/// Which directive it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncludeKind {
    /// `{{#include path[:anchor]}}`: the lines themselves.
    Include,
    /// `{{#rustdoc_include path[:anchor]}}`: the whole file, lines outside
    /// the anchor hidden with `# `.
    RustdocInclude,
}

/// One directive found in a chapter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    /// The kind of directive.
    pub kind: IncludeKind,
    /// The path as written, relative to the chapter's folder.
    pub path: String,
    /// The anchor name after `:`, if any.
    pub anchor: Option<String>,
    /// Byte range of the whole `{{#...}}` text in the chapter.
    pub span: std::ops::Range<usize>,
    /// 1-based line of the directive in the chapter (for error messages).
    pub line: usize,
}

/// Why a directive could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IncludeError {
    /// The included file does not exist or cannot be read.
    MissingFile {
        /// The chapter and line of the directive.
        at: String,
        /// The resolved path.
        path: PathBuf,
    },
    /// The file has no `ANCHOR: name` … `ANCHOR_END: name` region.
    MissingAnchor {
        /// The chapter and line of the directive.
        at: String,
        /// The resolved path.
        path: PathBuf,
        /// The anchor that was asked for.
        anchor: String,
    },
    /// The anchored region exists but holds no line.
    EmptyAnchor {
        /// The chapter and line of the directive.
        at: String,
        /// The anchor that was asked for.
        anchor: String,
    },
    /// A line range instead of an anchor.
    LineRange {
        /// The chapter and line of the directive.
        at: String,
        /// The directive's argument.
        argument: String,
    },
    /// A `{{#...}}` directive this code does not know (e.g. `#playground`).
    Unsupported {
        /// The chapter and line of the directive.
        at: String,
        /// The directive's name.
        name: String,
    },
}

impl fmt::Display for IncludeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IncludeError::MissingFile { at, path } => write!(
                f,
                "{at}: included file {} does not exist (the path is relative to the chapter's folder)",
                path.display()
            ),
            IncludeError::MissingAnchor { at, path, anchor } => write!(
                f,
                "{at}: {} has no region `// ANCHOR: {anchor}` ... `// ANCHOR_END: {anchor}`",
                path.display()
            ),
            IncludeError::EmptyAnchor { at, anchor } => {
                write!(f, "{at}: anchor `{anchor}` is empty")
            }
            IncludeError::LineRange { at, argument } => write!(
                f,
                "{at}: `{argument}` includes lines by number; put `// ANCHOR: name` comments in the file and include `:name` instead"
            ),
            IncludeError::Unsupported { at, name } => {
                write!(
                    f,
                    "{at}: the directive `{{{{#{name}}}}}` is not supported here"
                )
            }
        }
    }
}

impl std::error::Error for IncludeError {}

/// Finds every `{{#name argument}}` directive in `markdown`, skipping escaped
/// ones (`\{{#...}}`), which mdbook shows literally.
///
/// Directives other than `include` and `rustdoc_include` are errors, so a
/// typo such as `{{#inclde ...}}` does not pass unnoticed.
pub fn find_directives(markdown: &str, chapter: &str) -> Result<Vec<Directive>, IncludeError> {
    let mut found = Vec::new();
    let mut search_from = 0;
    while let Some(offset) = markdown.get(search_from..).and_then(|s| s.find("{{")) {
        let start = search_from + offset;
        search_from = start + 2;
        if start > 0 && markdown.as_bytes().get(start - 1) == Some(&b'\\') {
            continue;
        }
        let Some(body_end) = markdown.get(start + 2..).and_then(|s| s.find("}}")) else {
            break;
        };
        let body = &markdown[start + 2..start + 2 + body_end];
        let trimmed = body.trim_start();
        let Some(directive) = trimmed.strip_prefix('#') else {
            continue;
        };
        if body.contains('}') {
            continue;
        }
        let line = markdown[..start].matches('\n').count() + 1;
        let at = format!("{chapter}:{line}");
        let mut words = directive.split_whitespace();
        let name = words.next().unwrap_or_default();
        let kind = match name {
            "include" => IncludeKind::Include,
            "rustdoc_include" => IncludeKind::RustdocInclude,
            other => {
                return Err(IncludeError::Unsupported {
                    at,
                    name: other.to_owned(),
                });
            }
        };
        let argument = words.next().unwrap_or_default();
        let (path, anchor) = match argument.split_once(':') {
            None => (argument.to_owned(), None),
            Some((path, rest)) => {
                if rest.is_empty() || rest.starts_with(|c: char| c.is_ascii_digit()) {
                    return Err(IncludeError::LineRange {
                        at,
                        argument: argument.to_owned(),
                    });
                }
                (path.to_owned(), Some(rest.to_owned()))
            }
        };
        let end = start + 2 + body_end + 2;
        found.push(Directive {
            kind,
            path,
            anchor,
            span: start..end,
            line,
        });
        search_from = end;
    }
    Ok(found)
}

/// Is `line` the start (or end, with `end`) marker of `anchor`?
fn marker_name(line: &str, marker: &str) -> Option<String> {
    let rest = &line[line.find(marker)? + marker.len()..];
    let name: String = rest
        .trim_start()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    (!name.is_empty()).then_some(name)
}

fn is_marker(line: &str) -> bool {
    marker_name(line, "ANCHOR:").is_some() || marker_name(line, "ANCHOR_END:").is_some()
}

/// The text a directive stands for, given the included file's contents.
/// `None` when the anchor does not exist.
pub fn select(kind: IncludeKind, contents: &str, anchor: Option<&str>) -> Option<String> {
    let Some(anchor) = anchor else {
        // A whole file: like mdbook, keep it as it is.
        return Some(contents.lines().collect::<Vec<_>>().join("\n"));
    };
    let mut inside = false;
    let mut seen = false;
    let mut out = Vec::new();
    for line in contents.lines() {
        if inside {
            if marker_name(line, "ANCHOR_END:").as_deref() == Some(anchor) {
                inside = false;
                if kind == IncludeKind::Include {
                    break;
                }
            } else if !is_marker(line) {
                out.push(line.to_owned());
            }
        } else if marker_name(line, "ANCHOR:").as_deref() == Some(anchor) {
            inside = true;
            seen = true;
        } else if kind == IncludeKind::RustdocInclude && !is_marker(line) {
            out.push(format!("# {line}"));
        }
    }
    seen.then(|| out.join("\n"))
}

/// Expands every directive of `markdown`, a chapter living in `chapter_dir`
/// and named `chapter` in messages. Returns the expanded text and the files
/// it read (so a build script can ask to be re-run when one changes).
///
/// A missing file is an error, except when `may_be_missing` says yes for its
/// path as written: then the directive becomes a note saying so. The build
/// script uses that for `generated/` files, which a test of this crate
/// writes; that test fails while they are missing.
pub fn expand(
    markdown: &str,
    chapter_dir: &Path,
    chapter: &str,
    may_be_missing: &dyn Fn(&str) -> bool,
) -> Result<(String, Vec<PathBuf>), IncludeError> {
    let mut out = String::with_capacity(markdown.len());
    let mut read = Vec::new();
    let mut copied_to = 0;
    for directive in find_directives(markdown, chapter)? {
        let at = format!("{chapter}:{}", directive.line);
        let path = chapter_dir.join(&directive.path);
        // Messages name the path as the chapter wrote it.
        let written = PathBuf::from(&directive.path);
        let contents = match std::fs::read_to_string(&path) {
            Ok(contents) => contents,
            Err(_) if may_be_missing(&directive.path) => {
                out.push_str(&markdown[copied_to..directive.span.start]);
                out.push_str(&format!("(missing: {})", directive.path));
                copied_to = directive.span.end;
                continue;
            }
            Err(_) => {
                return Err(IncludeError::MissingFile { at, path: written });
            }
        };
        let text =
            select(directive.kind, &contents, directive.anchor.as_deref()).ok_or_else(|| {
                IncludeError::MissingAnchor {
                    at: at.clone(),
                    path: path.clone(),
                    anchor: directive.anchor.clone().unwrap_or_default(),
                }
            })?;
        if text.trim().is_empty() {
            return Err(IncludeError::EmptyAnchor {
                at,
                anchor: directive.anchor.unwrap_or_default(),
            });
        }
        out.push_str(&markdown[copied_to..directive.span.start]);
        out.push_str(&text);
        copied_to = directive.span.end;
        read.push(path);
    }
    out.push_str(&markdown[copied_to..]);
    Ok((out, read))
}

/// Turns the Rust blocks that only *show* compiled code into text blocks,
/// for rustdoc.
///
/// A block whose whole body is one `{{#include file:anchor}}` is a listing:
/// a region of a crate (a function that uses its module's private items, a
/// piece of a loop) that its own crate compiles and tests. Cut out of its
/// module it cannot compile, so it is handed to rustdoc as text instead of
/// being marked `ignore` in every chapter. Every other Rust block, including
/// `{{#rustdoc_include}}` of a whole program, stays a doc test.
pub fn mark_listings(markdown: &str) -> String {
    let mut out = Vec::new();
    let mut lines = markdown.lines().peekable();
    while let Some(line) = lines.next() {
        let info = line.trim_start().strip_prefix("```");
        let is_rust = info.is_some_and(|info| {
            let lang = info.split(',').next().unwrap_or_default().trim();
            lang == "rust"
        });
        if !is_rust {
            out.push(line.to_owned());
            continue;
        }
        let mut body = Vec::new();
        let mut closing = None;
        for inner in lines.by_ref() {
            if inner.trim_start().starts_with("```") {
                closing = Some(inner);
                break;
            }
            body.push(inner);
        }
        let single_include = match body.as_slice() {
            [only] => {
                let only = only.trim();
                only.starts_with("{{#include ") && only.ends_with("}}")
            }
            _ => false,
        };
        if single_include {
            let indent = &line[..line.len() - line.trim_start().len()];
            out.push(format!("{indent}```text"));
        } else {
            out.push(line.to_owned());
        }
        out.extend(body.iter().map(|l| (*l).to_owned()));
        out.extend(closing.map(str::to_owned));
    }
    let mut text = out.join("\n");
    if markdown.ends_with('\n') {
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: &str = "use a;\n// ANCHOR: one\nfn one() {}\n// ANCHOR: inner\nfn two() {}\n// ANCHOR_END: inner\n// ANCHOR_END: one\nfn main() {}\n";

    #[test]
    fn anchored_include_drops_markers() {
        let text = select(IncludeKind::Include, SOURCE, Some("one"));
        assert_eq!(text.as_deref(), Some("fn one() {}\nfn two() {}"));
        assert_eq!(
            select(IncludeKind::Include, SOURCE, Some("inner")).as_deref(),
            Some("fn two() {}")
        );
        assert_eq!(select(IncludeKind::Include, SOURCE, Some("nope")), None);
    }

    #[test]
    fn rustdoc_include_hides_the_rest() {
        let text = select(IncludeKind::RustdocInclude, SOURCE, Some("inner"));
        assert_eq!(
            text.as_deref(),
            Some("# use a;\n# fn one() {}\nfn two() {}\n# fn main() {}")
        );
    }

    #[test]
    fn directives_are_found_with_lines_and_escapes_skipped() {
        let md = "a\n```rust\n{{#include ../x.rs:one}}\n```\n\\{{#include nope}}\n{{ #rustdoc_include y.rs }}\n";
        let found = find_directives(md, "ch.md").unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].path, "../x.rs");
        assert_eq!(found[0].anchor.as_deref(), Some("one"));
        assert_eq!(found[0].line, 3);
        assert_eq!(found[1].kind, IncludeKind::RustdocInclude);
        assert_eq!(found[1].anchor, None);
    }

    #[test]
    fn line_ranges_and_unknown_directives_are_refused() {
        let err = find_directives("{{#include x.rs:3:9}}", "ch.md").unwrap_err();
        assert!(err.to_string().contains("ANCHOR"), "{err}");
        let err = find_directives("{{#inclde x.rs}}", "ch.md").unwrap_err();
        assert!(matches!(err, IncludeError::Unsupported { .. }));
    }

    #[test]
    fn expand_reports_missing_files_and_anchors() {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path().to_path_buf();
        std::fs::write(dir.join("src.rs"), SOURCE).unwrap();
        let (text, read) =
            expand("x {{#include src.rs:inner}} y", &dir, "ch.md", &|_| false).unwrap();
        assert_eq!(text, "x fn two() {} y");
        assert_eq!(read, [dir.join("src.rs")]);
        let err = expand("{{#include src.rs:gone}}", &dir, "ch.md", &|_| false).unwrap_err();
        assert!(matches!(err, IncludeError::MissingAnchor { .. }));
        let err = expand("{{#include other.rs}}", &dir, "ch.md", &|_| false).unwrap_err();
        assert!(matches!(err, IncludeError::MissingFile { .. }));
        let (text, read) = expand("{{#include gen/x.txt}}", &dir, "ch.md", &|p| {
            p.starts_with("gen/")
        })
        .unwrap();
        assert_eq!((text.as_str(), read.len()), ("(missing: gen/x.txt)", 0));
    }

    #[test]
    fn single_include_blocks_become_text_for_rustdoc() {
        let md = "intro\n```rust\n{{#include a.rs:x}}\n```\n```rust\nlet a = 1;\n```\n```rust\n{{#rustdoc_include b.rs:y}}\n```\n";
        let marked = mark_listings(md);
        assert_eq!(
            marked,
            "intro\n```text\n{{#include a.rs:x}}\n```\n```rust\nlet a = 1;\n```\n```rust\n{{#rustdoc_include b.rs:y}}\n```\n"
        );
    }
}

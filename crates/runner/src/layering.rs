//! The runner's modules depend on each other in one direction only:
//! scenario → plan → exec/flood → verdict → report. This test reads the
//! `crate::` paths of every source file and fails on a circle, naming it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The top-level module a source file belongs to: `exec/judge.rs` is `exec`.
fn module_of(relative: &Path) -> String {
    let first = relative
        .components()
        .next()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .unwrap_or_default();
    first.trim_end_matches(".rs").to_string()
}

/// Every `crate::NAME` the code of a text mentions (comments, where a doc
/// link may point anywhere, are not code).
fn uses(text: &str) -> BTreeSet<String> {
    let code = code_of(text);
    let text = code.as_str();
    let mut out = BTreeSet::new();
    for (i, _) in text.match_indices("crate::") {
        // `wsconform_runner::crate::` cannot occur; skip `$crate::` in macros.
        if text[..i].ends_with('$') {
            continue;
        }
        let name: String = text[i + "crate::".len()..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() {
            out.insert(name);
        }
    }
    out
}

/// Every `.rs` file below `dir`, skipping folders named in `skip`.
pub(crate) fn rust_sources(dir: &Path, skip: &[&str]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() && !skip.contains(&name) {
            out.extend(rust_sources(&path, skip));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

/// Code only: lines of comments dropped (a doc link may point anywhere).
pub(crate) fn code_of(text: &str) -> String {
    text.lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn collect(root: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for path in rust_sources(root, &[]) {
        let relative = path.strip_prefix(root).unwrap_or(&path);
        let module = module_of(relative);
        if module == "lib" || module == "layering" {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let edges = graph.entry(module.clone()).or_default();
        for used in uses(&text) {
            if used != module {
                edges.insert(used);
            }
        }
    }
    graph
}

/// A circle in the graph, if there is one (depth-first search).
fn circle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut found = path[at..].to_vec();
            found.push(node.to_string());
            return Some(found);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(found) = visit(next, graph, path, done) {
                return Some(found);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        if let Some(found) = visit(node, graph, &mut Vec::new(), &mut done) {
            return Some(found);
        }
    }
    None
}

#[test]
fn no_module_depends_on_itself_through_others() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = collect(&root);
    assert!(graph.contains_key("exec") && graph.contains_key("plan"));
    assert!(
        graph["exec"].contains("plan"),
        "the graph is read: {graph:?}"
    );
    if let Some(found) = circle(&graph) {
        panic!("module circle: {}", found.join(" → "));
    }
}

#[test]
fn a_circle_is_found() {
    let mut graph = BTreeMap::new();
    graph.insert("a".to_string(), BTreeSet::from(["b".to_string()]));
    graph.insert("b".to_string(), BTreeSet::from(["c".to_string()]));
    graph.insert("c".to_string(), BTreeSet::from(["a".to_string()]));
    assert_eq!(
        circle(&graph).map(|c| c.join(" ")),
        Some("a b c a".to_string())
    );
    graph.remove("c");
    assert_eq!(circle(&graph), None);
}

#[test]
fn uses_are_read_from_paths_and_use_lines() {
    let text = "use crate::plan::{A, B};\n/// [`crate::report`]\nlet x = crate::exec::run();\n$crate::skip";
    assert_eq!(
        uses(text),
        BTreeSet::from(["exec".to_string(), "plan".to_string()])
    );
}

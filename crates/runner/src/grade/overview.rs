//! `overview.html`: the class at a glance — the score histogram, each
//! chapter's pass rate, and the scenarios most of the class failed with the
//! cause they share (what to teach again on Monday).
//!
//! Built with `maud` like the per-run HTML report: every interpolation is
//! escaped by construction.

use std::collections::BTreeMap;

use maud::{Markup, PreEscaped, html};

use super::record::{Gradebook, Status};

const STYLE: &str = "body{font:15px/1.45 system-ui,sans-serif;margin:2em auto;max-width:60em;padding:0 1em;color:#222}\
table{border-collapse:collapse;margin:1em 0}td,th{padding:.25em .7em;border-bottom:1px solid #ddd;text-align:left}\
.bar{background:#4a7fd4;height:1em;display:inline-block}.num{text-align:right}code{background:#f3f3f3;padding:0 .2em}\
.meta{color:#666;font-size:90%}";

/// How many of the most failed scenarios the page lists.
const WORST: usize = 10;

/// The score bucket of a row: 0 for 0–9 %, …, 9 for 90–99 %, 10 for 100 %.
fn bucket(points: u32, max_points: u32) -> usize {
    if max_points == 0 {
        return 0;
    }
    ((u64::from(points) * 10 / u64::from(max_points)) as usize).min(10)
}

/// A scenario failed by part of the class, with its most common cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trouble {
    /// Scenario id.
    pub id: String,
    /// Its chapter.
    pub chapter: String,
    /// Submissions (that ran) failing it.
    pub failed: usize,
    /// The most common one-line cause.
    pub cause: String,
    /// How many of the failures share that cause.
    pub sharing: usize,
}

/// The scenarios failed most often by submissions whose server ran (a
/// server that never started would put every scenario on the list), most
/// failed first, ties by id.
pub fn troubles(book: &Gradebook) -> Vec<Trouble> {
    let mut by_id: BTreeMap<&str, (&str, BTreeMap<&str, usize>)> = BTreeMap::new();
    for row in book.rows.iter().filter(|r| r.status == Status::Ok) {
        for mark in &row.marks {
            if mark.outcome == "fail" || mark.outcome == "error" {
                let entry = by_id
                    .entry(&mark.id)
                    .or_insert_with(|| (&mark.chapter, BTreeMap::new()));
                *entry.1.entry(&mark.cause).or_default() += 1;
            }
        }
    }
    let mut out: Vec<Trouble> = by_id
        .into_iter()
        .map(|(id, (chapter, causes))| {
            let failed = causes.values().sum();
            let (cause, sharing) = causes
                .iter()
                .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
                .map_or(("", 0), |(c, n)| (*c, *n));
            Trouble {
                id: id.to_string(),
                chapter: chapter.to_string(),
                failed,
                cause: cause.to_string(),
                sharing,
            }
        })
        .collect();
    out.sort_by(|a, b| b.failed.cmp(&a.failed).then(a.id.cmp(&b.id)));
    out.truncate(WORST);
    out
}

fn percent(part: usize, whole: usize) -> String {
    if whole == 0 {
        "–".to_string()
    } else {
        format!("{:.0} %", part as f64 * 100.0 / whole as f64)
    }
}

fn histogram(book: &Gradebook) -> Markup {
    let mut counts = [0usize; 11];
    for row in &book.rows {
        // `bucket` is at most 10, the last index.
        if let Some(count) = counts.get_mut(bucket(row.points, row.max_points)) {
            *count += 1;
        }
    }
    let most = counts.iter().copied().max().unwrap_or(0).max(1);
    html! {
        table {
            tr { th { "score" } th.num { "submissions" } th {} }
            @for (i, n) in counts.iter().enumerate() {
                tr {
                    td { @if i == 10 { "100 %" } @else { (i * 10) "–" (i * 10 + 9) " %" } }
                    td.num { (n) }
                    td { span.bar style=(format!("width:{}em", n * 20 / most)) {} }
                }
            }
        }
    }
}

fn chapters(book: &Gradebook) -> Markup {
    let ran: Vec<_> = book
        .rows
        .iter()
        .filter(|r| r.status == Status::Ok)
        .collect();
    html! {
        table {
            tr { th { "chapter" } th.num { "scenarios passed" } th.num { "full marks" } }
            @for chapter in &book.chapters {
                @let marks = ran.iter().flat_map(|r| r.marks.iter().filter(|m| &m.chapter == chapter));
                @let (passed, total) = marks.fold((0, 0), |(p, t), m| (p + usize::from(m.outcome == "pass" || m.outcome == "non-strict"), t + 1));
                @let full = ran.iter().filter(|r| r.chapters.iter().any(|c| &c.chapter == chapter && c.points == c.max_points)).count();
                tr {
                    td { code { (chapter) } }
                    td.num { (percent(passed, total)) }
                    td.num { (percent(full, ran.len())) }
                }
            }
        }
    }
}

/// The class overview page.
pub fn render(book: &Gradebook) -> String {
    let mut statuses: BTreeMap<&str, usize> = BTreeMap::new();
    for row in &book.rows {
        *statuses.entry(row.status.word()).or_default() += 1;
    }
    let page = html! {
        (PreEscaped("<!doctype html>\n"))
        html lang="en" {
            head {
                meta charset="utf-8";
                title { "wsconform: class overview" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                h1 { "Class overview" }
                p.meta {
                    (book.rows.len()) " submissions · wsconform " (book.wsconform_version)
                    " · suite " (book.suite_version) " (" code { (book.suite_hash) } ")"
                    " · shards " (book.shards.join(", "))
                }
                p {
                    @for (word, n) in &statuses { code { (word) } ": " (n) " " }
                }
                h2 { "Scores" }
                (histogram(book))
                h2 { "Chapters" }
                p.meta { "Over the submissions whose server ran (status ok)." }
                (chapters(book))
                h2 { "What most of the class failed" }
                @let worst = troubles(book);
                @if worst.is_empty() {
                    p { "No scenario failed." }
                } @else {
                    table {
                        tr { th { "scenario" } th { "chapter" } th.num { "failed by" } th { "shared cause" } }
                        @for t in &worst {
                            tr {
                                td { code { (t.id) } }
                                td { (t.chapter) }
                                td.num { (t.failed) }
                                td { (t.cause) " " span.meta { "(" (t.sharing) " of " (t.failed) ")" } }
                            }
                        }
                    }
                }
                h2 { "Submissions" }
                table {
                    tr { th { "submission" } th.num { "points" } th { "status" } th { "reports" } }
                    @for row in &book.rows {
                        tr {
                            td { (row.submission) }
                            td.num { (row.points) " / " (row.max_points) }
                            td { (row.status.word()) @if !row.detail.is_empty() { span.meta { " — " (row.detail) } } }
                            td { a href=(format!("submissions/{}/", row.submission)) { "folder" } }
                        }
                    }
                }
            }
        }
    };
    page.into_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_put_full_marks_apart() {
        assert_eq!(bucket(0, 10), 0);
        assert_eq!(bucket(9, 10), 9);
        assert_eq!(bucket(99, 100), 9);
        assert_eq!(bucket(10, 10), 10);
        assert_eq!(bucket(0, 0), 0);
    }
}

//! `grades.csv`: one row per submission, `submission, points, max_points,
//! status`, then the points of each chapter — what a spreadsheet or an LMS
//! import reads.

use super::record::Gradebook;

/// A CSV field, quoted when it holds a comma, a quote or a line break (RFC 4180).
fn field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// The gradebook as CSV.
pub fn render(book: &Gradebook) -> String {
    let mut out = String::from("submission,points,max_points,status");
    for chapter in &book.chapters {
        out.push(',');
        out.push_str(&field(chapter));
    }
    out.push('\n');
    for row in &book.rows {
        out.push_str(&format!(
            "{},{},{},{}",
            field(&row.submission),
            row.points,
            row.max_points,
            row.status.word()
        ));
        for chapter in &book.chapters {
            let points = row
                .chapters
                .iter()
                .find(|c| &c.chapter == chapter)
                .map_or(0, |c| c.points);
            out.push_str(&format!(",{points}"));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_with_commas_and_quotes_are_quoted() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}

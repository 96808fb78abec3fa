//! The chart of the book's performance page (`book/src/generated/bench.svg`),
//! drawn from a typed [`Report`].
//!
//! A small SVG template rather than a plotting library: the chart is a
//! dozen rectangles and labels placed at fixed positions, and the committed
//! SVG can only be redrawn by a full release benchmark run, so its look
//! should not change with a library's layout. The text is escaped with
//! [`xml`], and every value comes from the report's types.

use super::report::{EchoCase, IdleCase, Report};
use super::servers::SERVERS;

/// Escapes text for SVG.
fn xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The chart of the book's performance page, drawn from the report: echo
/// throughput of each server relative to the raw TCP echo, per case, and
/// memory per idle connection.
pub fn chart(report: &Report) -> String {
    const COLORS: [&str; 4] = ["#d1495b", "#8d99ae", "#edae49", "#00798c"];
    let cases: Vec<&EchoCase> = report.echo.iter().flatten().collect();
    let idle: Option<&IdleCase> = report.idle.as_ref().and_then(|a| a.last());
    let (width, left, top, plot_h) = (760.0, 60.0, 50.0, 220.0);
    let group_w = (width - left - 290.0) / cases.len().max(1) as f64;
    let bar_w = group_w / 5.0;
    let max_ratio = 1.2;
    let y_of = |ratio: f64| top + plot_h - plot_h * (ratio.min(max_ratio) / max_ratio);
    let mut svg = String::new();
    svg.push_str(&format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="340" viewBox="0 0 {width} 340" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="{left}" y="22" font-size="15" font-weight="bold">Echo throughput relative to a raw TCP echo (median of rounds)</text>
"#
    ));
    for tick in [0.0, 0.25, 0.5, 0.75, 1.0] {
        let y = y_of(tick);
        svg.push_str(&format!(
            r##"<line x1="{left}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{tick:.2}×</text>
"##,
            left + group_w * cases.len() as f64,
            left - 6.0,
            y + 4.0
        ));
    }
    for (i, case) in cases.iter().enumerate() {
        let x0 = left + group_w * i as f64 + bar_w / 2.0;
        for (j, kind) in SERVERS.iter().enumerate() {
            let rate = case
                .servers
                .get(kind.name())
                .map_or(0.0, |s| s.messages_per_sec);
            let ratio = case.over_tcp_echo.get(kind.name()).copied().unwrap_or(0.0);
            let (x, y) = (x0 + bar_w * j as f64, y_of(ratio));
            svg.push_str(&format!(
                r#"<rect x="{x:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="{}"><title>{}: {rate:.0} msg/s ({ratio:.2}×)</title></rect>
"#,
                bar_w - 2.0,
                top + plot_h - y,
                COLORS[j],
                kind.name()
            ));
        }
        svg.push_str(&format!(
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>
"#,
            x0 + bar_w * 2.0,
            top + plot_h + 18.0,
            xml(&case.case)
        ));
    }
    // Legend.
    for (j, kind) in SERVERS.iter().enumerate() {
        let y = top + plot_h + 40.0;
        let x = left + 140.0 * j as f64;
        svg.push_str(&format!(
            r#"<rect x="{x}" y="{:.1}" width="12" height="12" fill="{}"/><text x="{}" y="{:.1}">{}</text>
"#,
            y - 10.0,
            COLORS[j],
            x + 16.0,
            y,
            kind.name()
        ));
    }
    // Idle memory panel.
    if let Some(idle) = idle {
        let panel_x = width - 250.0;
        svg.push_str(&format!(
            r#"<text x="{panel_x}" y="{:.1}" font-weight="bold">KiB per idle connection ({} open)</text>
"#,
            top - 8.0,
            idle.connections
        ));
        let values: Vec<f64> = SERVERS
            .iter()
            .map(|k| {
                idle.servers
                    .get(k.name())
                    .map_or(0.0, |s| s.bytes_per_connection)
                    / 1024.0
            })
            .collect();
        let max = values.iter().copied().fold(1.0, f64::max);
        for (j, (kind, kib)) in SERVERS.iter().zip(&values).enumerate() {
            let y = top + 14.0 + 44.0 * j as f64;
            let w = 150.0 * kib / max;
            svg.push_str(&format!(
                r#"<text x="{panel_x}" y="{y:.1}">{}</text><rect x="{panel_x}" y="{:.1}" width="{w:.1}" height="14" fill="{}"/><text x="{:.1}" y="{:.1}">{kib:.1}</text>
"#,
                kind.name(),
                y + 5.0,
                COLORS[j],
                panel_x + w + 4.0,
                y + 16.0
            ));
        }
    }
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    use super::super::report::tests::sample;
    use super::*;

    #[test]
    fn the_chart_has_a_bar_per_server_and_case_and_the_idle_panel() {
        let svg = chart(&sample());
        assert!(svg.starts_with("<svg "), "{svg}");
        assert!(svg.ends_with("</svg>\n"));
        // One case, four servers: four echo bars, four legend squares, four idle bars.
        assert_eq!(svg.matches("<rect ").count(), 1 + 4 + 4 + 4);
        assert!(
            svg.contains("<title>reference: 90000 msg/s (0.90×)</title>"),
            "{svg}"
        );
        assert!(svg.contains(">64 B × 100</text>"));
        assert!(svg.contains("KiB per idle connection (15000 open)"));
        assert!(
            svg.contains(">12.0</text>"),
            "tokio-tungstenite's 12 KiB: {svg}"
        );
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(xml("a < b & c > d"), "a &lt; b &amp; c &gt; d");
    }
}

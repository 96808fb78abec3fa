//! The table `cargo xtask bench` prints at the end of a run.

use super::report::Report;

/// Prints the report as text tables.
pub fn print_table(report: &Report) {
    print!("{}", table(report));
}

/// The report as text tables, one per part, then the targets.
pub fn table(report: &Report) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let echo = report.echo.as_deref().unwrap_or_default();
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:<14} {:>11} {:>11} {:>11} {:>11}   {:>7} {:>7} {:>7}",
        "echo msg/s", "reference", "tcp-echo", "tungstenite", "fastws", "/tcp", "/tung", "/fws"
    );
    for case in echo {
        let rate = |s: &str| case.servers.get(s).map_or(0.0, |s| s.messages_per_sec);
        let ratio = |s: &str| case.reference_over.get(s).copied().unwrap_or(0.0);
        let _ = writeln!(
            out,
            "{:<14} {:>11.0} {:>11.0} {:>11.0} {:>11.0}   {:>7.2} {:>7.2} {:>7.2}",
            case.case,
            rate("reference"),
            rate("tcp-echo"),
            rate("tokio-tungstenite"),
            rate("fastwebsockets"),
            ratio("tcp-echo"),
            ratio("tokio-tungstenite"),
            ratio("fastwebsockets"),
        );
    }
    let _ = writeln!(
        out,
        "\n{:<14} {:>11} {:>11} {:>11} {:>11}",
        "server CPU µs/msg", "reference", "tcp-echo", "tungstenite", "fastws"
    );
    for case in echo {
        let cpu = |s: &str| {
            case.servers
                .get(s)
                .map_or(0.0, |s| s.server_cpu_us_per_message)
        };
        let _ = writeln!(
            out,
            "{:<17} {:>8.2} {:>11.2} {:>11.2} {:>11.2}",
            case.case,
            cpu("reference"),
            cpu("tcp-echo"),
            cpu("tokio-tungstenite"),
            cpu("fastwebsockets"),
        );
    }
    if let Some(chat) = &report.chat {
        let _ = writeln!(out, "\nchat fan-out to {} clients:", chat.clients);
        for (name, s) in &chat.servers {
            let _ = writeln!(
                out,
                "  {name:<18} {:>10.0} deliveries/s, p99 {:>8.0} µs",
                s.deliveries_per_sec, s.p99_us
            );
        }
    }
    for entry in report.idle.iter().flatten() {
        let _ = writeln!(out, "\nidle memory at {} connections:", entry.connections);
        for (name, s) in &entry.servers {
            let _ = writeln!(
                out,
                "  {name:<18} {:>8.2} KiB per connection",
                s.bytes_per_connection / 1024.0
            );
        }
    }
    if let Some(c) = &report.compression {
        let _ = writeln!(
            out,
            "\ncompression, reference, text {} B × {}:",
            c.size, c.connections
        );
        for (name, e) in [("plain", &c.plain), ("permessage-deflate", &c.deflate)] {
            let _ = writeln!(
                out,
                "  {name:<18} {:>10.0} msg/s, p99 {:>8.0} µs, {:>6.0} B sent, {:>6.0} B received per message",
                e.messages_per_sec,
                e.p99_us,
                e.wire_bytes_sent_per_message,
                e.wire_bytes_received_per_message
            );
        }
        let _ = writeln!(
            out,
            "  compressed rate / plain rate {:.2}; zlib level 1: {} B",
            c.deflate_rate_over_plain,
            c.level_one_bytes.map_or("?".into(), |b| b.to_string())
        );
        for idle in &c.idle {
            let _ = writeln!(
                out,
                "  idle at {}: {:.2} KiB plain, {:.2} KiB compressed per connection ({:.2}×)",
                idle.connections,
                idle.plain_bytes_per_connection / 1024.0,
                idle.deflate_bytes_per_connection / 1024.0,
                idle.deflate_over_plain
            );
        }
    }
    if let Some(sizes) = &report.masking {
        let _ = writeln!(out, "\nmasking speed / copy speed:");
        for (size, s) in sizes {
            let _ = writeln!(out, "  {size:>8} B {:>6.2}", s.mask_speed_over_copy);
        }
    }
    if let Some(suite) = &report.suite {
        let _ = writeln!(out);
        for (profile, s) in suite {
            let _ = writeln!(
                out,
                "suite ({profile}): {:.2} s, all passed: {}",
                s.median_seconds, s.all_passed
            );
        }
    }
    let _ = writeln!(out, "\ntargets:");
    for t in &report.targets {
        let verdict = match t.holds {
            Some(true) => "holds",
            Some(false) => "MISSED",
            None => "not measured",
        };
        let _ = writeln!(
            out,
            "  {:<52} {:>8.2} {:<7} {verdict}",
            t.target,
            t.measured.unwrap_or(f64::NAN),
            t.goal,
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::report::{targets, tests::sample};
    use super::*;

    #[test]
    fn every_part_is_in_the_table() {
        let report = Report {
            targets: targets(&sample()),
            ..sample()
        };
        let text = table(&report);
        for expected in [
            "64 B × 100           90000      100000       60000       80000      0.90    1.50    1.12",
            "chat fan-out to 1000 clients:",
            "  reference              500000 deliveries/s, p99     2000 µs",
            "idle memory at 15000 connections:",
            "  tcp-echo               1.00 KiB per connection",
            "        64 B   0.40",
            "suite (chat): 4.00 s, all passed: true",
            "compression, reference, text 16384 B × 10:",
            "idle at 1000: 5.86 KiB plain, 8.79 KiB compressed per connection (1.50×)",
            "MISSED",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in\n{text}");
        }
    }
}

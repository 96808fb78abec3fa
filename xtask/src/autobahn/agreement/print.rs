//! The agreement report: tables per server and per scenario, every
//! disagreement with both tools' reasons, and what could not be compared.

use std::collections::BTreeMap;

use super::super::{AUTOBAHN_VERSION, Index};
use super::compare::{Comparison, Row, Tally, reason};
use super::covered::Covered;

/// Prints the agreement tables, every disagreement with both tools' reasons,
/// and what could not be compared. `peer` names what the agents are
/// (`server` or `client`).
pub fn print_report(
    covered: &[Covered],
    agents: &[String],
    rows: &[Row],
    index: &Index,
    peer: &str,
) {
    let mut by_agent: BTreeMap<&str, Tally> = BTreeMap::new();
    let mut by_scenario: BTreeMap<&str, (Tally, Vec<&str>)> = BTreeMap::new();
    let mut total = Tally::default();
    for row in rows {
        by_agent.entry(row.agent.as_str()).or_default().add(row);
        let scenario = by_scenario.entry(row.covered.id()).or_default();
        scenario.0.add(row);
        if row.comparison == Comparison::Disagree {
            scenario.1.push(row.agent.as_str());
        }
        total.add(row);
    }

    println!();
    println!(
        "Agreement between wsconform and Autobahn|Testsuite {}: {} scenarios with an Autobahn case, {} {peer}s",
        AUTOBAHN_VERSION,
        covered.len(),
        agents.len()
    );
    println!();
    println!(
        "{:<34} {:>6} {:>9} {:>10} {:>13} {:>9}",
        peer, "agree", "disagree", "explained", "not compared", "agreement"
    );
    for agent in agents {
        if let Some(tally) = by_agent.get(agent.as_str()) {
            println!(
                "{:<34} {:>6} {:>9} {:>10} {:>13} {:>9}",
                agent,
                tally.agree,
                tally.disagree,
                tally.explained,
                tally.not_compared,
                tally.percent()
            );
        }
    }
    println!(
        "{:<34} {:>6} {:>9} {:>10} {:>13} {:>9}",
        "total",
        total.agree,
        total.disagree,
        total.explained,
        total.not_compared,
        total.percent()
    );

    println!();
    println!(
        "{:<34} {:>8} {:>6} {:>9}  disagreeing {peer}s",
        "scenario", "autobahn", "agree", "disagree"
    );
    for entry in covered {
        if let Some((tally, disagreeing)) = by_scenario.get(entry.id()) {
            println!(
                "{:<34} {:>8} {:>6} {:>9}  {}",
                entry.id(),
                entry.case,
                tally.agree,
                tally.disagree,
                disagreeing.join(", ")
            );
        }
    }

    let disagreements: Vec<&Row> = rows
        .iter()
        .filter(|row| row.comparison == Comparison::Disagree)
        .collect();
    if !disagreements.is_empty() {
        println!();
        println!("Disagreements ({}):", disagreements.len());
        for row in disagreements {
            println!(
                "  {} on {} (Autobahn {}, {})",
                row.covered.id(),
                row.agent,
                row.covered.case,
                row.covered.file()
            );
            if let Some(ours) = &row.wsconform {
                println!("      wsconform: {}: {}", ours.outcome.word(), reason(ours));
            }
            if let Some(theirs) = &row.autobahn {
                let reason = row
                    .covered
                    .case_id()
                    .and_then(|case| index.reason(&row.agent, &case))
                    .unwrap_or_default();
                println!("      Autobahn:  {theirs}: {reason}");
            }
            match row.explained() {
                Some(why) => println!("      explained: {why}"),
                None => println!("      not explained: look into it"),
            }
        }
    }

    // "Not compared" is usually the same reason on every server: say it once.
    let mut not_compared: BTreeMap<(&str, &str), Vec<&str>> = BTreeMap::new();
    for row in rows {
        if let Comparison::NotCompared(reason) = &row.comparison {
            not_compared
                .entry((row.covered.id(), reason.as_str()))
                .or_default()
                .push(row.agent.as_str());
        }
    }
    if !not_compared.is_empty() {
        println!();
        println!("Not compared:");
        for ((scenario, reason), servers) in not_compared {
            if servers.len() == agents.len() {
                println!("  {scenario}: {reason} (every {peer})");
            } else {
                println!("  {scenario}: {reason} ({})", servers.join(", "));
            }
        }
    }
    println!();
    println!(
        "Agreement: {} of {} compared verdicts ({}); {} difference(s) explained, {} not",
        total.agree,
        total.agree + total.disagree,
        total.percent(),
        total.explained,
        total.disagree - total.explained
    );
}

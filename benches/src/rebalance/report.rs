//! The rebalance tables: per assignor, change and client the median over the measured changes
//! (with the range), then every change.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{Change, ChangeResult, Options, Outcome};
use crate::report::median;

fn ms(v: Option<i64>) -> String {
    v.map_or("-".into(), |v| v.to_string())
}

fn med(values: &[i64]) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    let v: Vec<f64> = values.iter().map(|&v| v as f64).collect();
    Some(median(&v).round() as i64)
}

/// The summary table.
pub fn summary_table(changes: &[ChangeResult]) -> String {
    let mut groups: BTreeMap<(String, Change, super::MemberKind), Vec<&ChangeResult>> =
        BTreeMap::new();
    for c in changes {
        groups
            .entry((c.assignor.clone(), c.change, c.client))
            .or_default()
            .push(c);
    }
    let mut out = String::new();
    out.push_str(
        "| assignor | change | client | changes | rebalance ms (median) | rebalance ms (min-max) | partitions moved / stayed | stayed: longest gap ms (median) | stayed: longest gap ms (max) | steady gap ms (median) | oldest record at delivery ms (median) | failed commits |\n",
    );
    out.push_str("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for ((assignor, change, client), cs) in &groups {
        let lat: Vec<i64> = cs.iter().map(|c| c.metrics.latency_ms).collect();
        let gaps: Vec<i64> = cs.iter().filter_map(|c| c.metrics.unmoved_gap_ms).collect();
        let steady: Vec<i64> = cs.iter().filter_map(|c| c.metrics.steady_gap_ms).collect();
        let age: Vec<i64> = cs.iter().filter_map(|c| c.metrics.max_age_ms).collect();
        let moved: Vec<i64> = cs.iter().map(|c| c.metrics.moved as i64).collect();
        let stayed: Vec<i64> = cs.iter().map(|c| c.metrics.unmoved as i64).collect();
        let _ = writeln!(
            out,
            "| {assignor} | {} | {} | {} | {} | {}-{} | {} / {} | {} | {} | {} | {} | {} |",
            change.name(),
            client.name(),
            cs.len(),
            ms(med(&lat)),
            ms(lat.iter().min().copied()),
            ms(lat.iter().max().copied()),
            ms(med(&moved)),
            ms(med(&stayed)),
            ms(med(&gaps)),
            ms(gaps.iter().max().copied()),
            ms(med(&steady)),
            ms(med(&age)),
            cs.iter().map(|c| c.commit_failures).sum::<usize>(),
        );
    }
    out
}

/// Every change, in the order measured.
pub fn changes_table(changes: &[ChangeResult]) -> String {
    let mut out = String::new();
    out.push_str("| round | cycle | assignor | change | client | rebalance ms | moved / stayed | stayed: longest gap ms | steady gap ms | oldest record ms |\n");
    out.push_str("|---:|---:|---|---|---|---:|---:|---:|---:|---:|\n");
    for c in changes {
        let m = &c.metrics;
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} / {} | {} | {} | {} |",
            c.round,
            c.cycle,
            c.assignor,
            c.change.name(),
            c.client.name(),
            m.latency_ms,
            m.moved,
            m.unmoved,
            ms(m.unmoved_gap_ms),
            ms(m.steady_gap_ms),
            ms(m.max_age_ms),
        );
    }
    out
}

/// The whole Markdown output.
pub fn render(o: &Options, outcome: &Outcome) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Rebalance on Apache Kafka {}: groups of 3 members of one client, {} partitions, one record per partition every {} ms; \
         heartbeat.interval.ms {}, session.timeout.ms {}, auto-commit off (each member commits what it processed before giving a partition up); \
         {} round(s) x {} join/leave cycle(s) per assignor and client; quiet window {} s.\n",
        gregor_testkit::kafka::KAFKA_VERSION,
        o.partitions,
        o.interval.as_millis(),
        o.heartbeat.as_millis(),
        o.session.as_millis(),
        o.rounds,
        o.cycles,
        o.steady.as_secs(),
    );
    for v in &outcome.versions {
        let _ = writeln!(out, "- {v}");
    }
    out.push('\n');
    out.push_str(&summary_table(&outcome.changes));
    out.push('\n');
    out.push_str("Every change:\n\n");
    out.push_str(&changes_table(&outcome.changes));
    out.push('\n');
    for n in &outcome.notes {
        let _ = writeln!(out, "- note: {n}");
    }
    for f in &outcome.failures {
        let first = f.lines().next().unwrap_or_default();
        let _ = writeln!(out, "- failed: {first}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rebalance::MemberKind;
    use crate::rebalance::analysis::EventMetrics;

    #[test]
    fn the_summary_takes_medians_per_client() {
        let change = |latency_ms: i64, gap: Option<i64>| ChangeResult {
            assignor: "range".into(),
            client: MemberKind::Gregor,
            change: Change::Join,
            round: 1,
            cycle: 1,
            metrics: EventMetrics {
                latency_ms,
                moved: 4,
                unmoved: 8,
                unmoved_gap_ms: gap,
                steady_gap_ms: Some(30),
                max_age_ms: Some(latency_ms + 20),
            },
            commit_failures: 1,
        };
        let table = summary_table(&[
            change(100, Some(90)),
            change(300, None),
            change(200, Some(150)),
        ]);
        assert!(
            table.contains("| range | join (3 -> 4) | gregor | 3 | 200 | 100-300 | 4 / 8 | 120 | 150 | 30 | 220 | 3 |"),
            "{table}"
        );
        assert!(changes_table(&[change(5, None)]).contains("| 5 | 4 / 8 | - | 30 | 25 |"));
    }
}

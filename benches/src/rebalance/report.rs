//! The rebalance tables: per protocol, change and client the median over the measured changes
//! (with the range), then every change.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{Change, ChangeResult, MemberKind, Options, Outcome, Protocol};
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

/// The summary table: per protocol, change and client, then a row per row skipped.
pub fn summary_table(
    changes: &[ChangeResult],
    skipped: &[(Protocol, MemberKind, String)],
) -> String {
    let mut groups: BTreeMap<(Protocol, Change, MemberKind), Vec<&ChangeResult>> = BTreeMap::new();
    for c in changes {
        groups
            .entry((c.protocol.clone(), c.change, c.client))
            .or_default()
            .push(c);
    }
    let members = changes.first().map_or(3, |c| c.members);
    let mut out = String::new();
    out.push_str(
        "| protocol | change | client | changes | rebalance ms (median) | rebalance ms (min-max) | partitions moved / stayed | stayed: longest gap ms (median) | stayed: longest gap ms (max) | group: no delivery ms (median) | group: no delivery ms (max) | steady gap ms (median) | oldest record at delivery ms (median) | failed commits |\n",
    );
    out.push_str("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for ((protocol, change, client), cs) in &groups {
        let lat: Vec<i64> = cs.iter().map(|c| c.metrics.latency_ms).collect();
        let gaps: Vec<i64> = cs.iter().filter_map(|c| c.metrics.unmoved_gap_ms).collect();
        let group: Vec<i64> = cs.iter().filter_map(|c| c.metrics.group_gap_ms).collect();
        let steady: Vec<i64> = cs.iter().filter_map(|c| c.metrics.steady_gap_ms).collect();
        let age: Vec<i64> = cs.iter().filter_map(|c| c.metrics.max_age_ms).collect();
        let moved: Vec<i64> = cs.iter().map(|c| c.metrics.moved as i64).collect();
        let stayed: Vec<i64> = cs.iter().map(|c| c.metrics.unmoved as i64).collect();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {}-{} | {} / {} | {} | {} | {} | {} | {} | {} | {} |",
            protocol.name(),
            change.name(cs[0].members),
            client.name(),
            cs.len(),
            ms(med(&lat)),
            ms(lat.iter().min().copied()),
            ms(lat.iter().max().copied()),
            ms(med(&moved)),
            ms(med(&stayed)),
            ms(med(&gaps)),
            ms(gaps.iter().max().copied()),
            ms(med(&group)),
            ms(group.iter().max().copied()),
            ms(med(&steady)),
            ms(med(&age)),
            cs.iter().map(|c| c.commit_failures).sum::<usize>(),
        );
    }
    for (protocol, client, _) in skipped {
        for change in [Change::Join, Change::Leave] {
            let _ = writeln!(
                out,
                "| {} | {} | {} | 0 | skipped (see the notes) | - | - | - | - | - | - | - | - | - |",
                protocol.name(),
                change.name(members),
                client.name(),
            );
        }
    }
    out
}

/// Every change, in the order measured.
pub fn changes_table(changes: &[ChangeResult]) -> String {
    let mut out = String::new();
    out.push_str("| round | cycle | protocol | change | client | rebalance ms | moved / stayed | stayed: longest gap ms | group: no delivery ms | steady gap ms | oldest record ms |\n");
    out.push_str("|---:|---:|---|---|---|---:|---:|---:|---:|---:|---:|\n");
    for c in changes {
        let m = &c.metrics;
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} / {} | {} | {} | {} | {} |",
            c.round,
            c.cycle,
            c.protocol.name(),
            c.change.name(c.members),
            c.client.name(),
            m.latency_ms,
            m.moved,
            m.unmoved,
            ms(m.unmoved_gap_ms),
            ms(m.group_gap_ms),
            ms(m.steady_gap_ms),
            ms(m.max_age_ms),
        );
    }
    out
}

/// The whole Markdown output.
pub fn render(o: &Options, outcome: &Outcome) -> String {
    let mut out = String::new();
    let protocols: Vec<String> = o.protocols.iter().map(Protocol::name).collect();
    let _ = writeln!(
        out,
        "Rebalance on Apache Kafka {} (one node of its own): groups of {} members of one client, {} partitions, one record per partition every {} ms; \
         auto-commit off (each member commits what it processed before giving a partition up); \
         {} round(s) x {} join/leave cycle(s) per protocol and client ({}); quiet window {} s.\n",
        gregor_testkit::kafka::KAFKA_VERSION,
        o.members,
        o.partitions,
        o.interval.as_millis(),
        o.rounds,
        o.cycles,
        protocols.join(", "),
        o.steady.as_secs(),
    );
    let _ = writeln!(
        out,
        "- classic rows: each member sets heartbeat.interval.ms {} and session.timeout.ms {}",
        o.heartbeat.as_millis(),
        o.session.as_millis(),
    );
    let broker: Vec<String> = outcome
        .broker
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let _ = writeln!(
        out,
        "- KIP-848 rows (consumer/...): the members set group.protocol=consumer and group.remote.assignor, no heartbeat or session; \
         the broker sets both: {}",
        broker.join(", "),
    );
    for v in &outcome.versions {
        let _ = writeln!(out, "- {v}");
    }
    out.push('\n');
    out.push_str(&summary_table(&outcome.changes, &outcome.skipped));
    out.push('\n');
    out.push_str("Every change:\n\n");
    out.push_str(&changes_table(&outcome.changes));
    out.push('\n');
    for n in &outcome.notes {
        let _ = writeln!(out, "- note: {n}");
    }
    for (protocol, client, why) in &outcome.skipped {
        let _ = writeln!(
            out,
            "- skipped: {} with {}: {}",
            client.name(),
            protocol.name(),
            why.lines().next().unwrap_or_default()
        );
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
    use crate::rebalance::analysis::EventMetrics;

    #[test]
    fn the_summary_takes_medians_per_client() {
        let change = |latency_ms: i64, gap: Option<i64>| ChangeResult {
            protocol: Protocol::Classic("range".into()),
            client: MemberKind::Gregor,
            change: Change::Join,
            members: 3,
            round: 1,
            cycle: 1,
            metrics: EventMetrics {
                latency_ms,
                moved: 4,
                unmoved: 8,
                unmoved_gap_ms: gap,
                group_gap_ms: gap.map(|g| g / 2),
                steady_gap_ms: Some(30),
                max_age_ms: Some(latency_ms + 20),
            },
            commit_failures: 1,
        };
        let skipped = [(
            Protocol::Consumer("uniform".into()),
            MemberKind::Gregor,
            "refused".to_owned(),
        )];
        let table = summary_table(
            &[
                change(100, Some(90)),
                change(300, None),
                change(200, Some(150)),
            ],
            &skipped,
        );
        assert!(
            table.contains("| range | join (3 -> 4) | gregor | 3 | 200 | 100-300 | 4 / 8 | 120 | 150 | 60 | 75 | 30 | 220 | 3 |"),
            "{table}"
        );
        assert!(
            table.contains("| consumer/uniform | leave (4 -> 3) | gregor | 0 | skipped"),
            "{table}"
        );
        assert!(changes_table(&[change(5, None)]).contains("| 5 | 4 / 8 | - | - | 30 | 25 |"));
    }
}

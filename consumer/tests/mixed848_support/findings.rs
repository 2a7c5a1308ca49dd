//! What a mixed group's members' logs show, offset by offset: who delivered what and when, and
//! the invariants checked from it (exclusive ownership, no gap, duplicates by who had the
//! offset first).

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use gregor_testkit::kafka::group_peer::{Partition, PeerEvent};

/// Which client a member runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// gregor's group consumer (`gregor-group-member`).
    Gregor,
    /// Java's `KafkaConsumer` (kafka-clients 4.1.2).
    Java,
    /// librdkafka's consumer (Python's `confluent_kafka`).
    Librdkafka,
}

/// One member's whole log.
#[derive(Debug, Clone)]
pub struct MemberLog {
    /// Its label (`gregor member g1`, ...).
    pub label: String,
    /// Its client.
    pub kind: Kind,
    /// Every line it printed, parsed.
    pub events: Vec<PeerEvent>,
    /// Whether the test killed it (SIGKILL: what it delivered after its last commit is
    /// delivered again by the next owner, at least once).
    pub killed: bool,
}

/// Per partition, per offset, its deliveries: (the member's index, when, in ms since the
/// epoch).
type Seen = BTreeMap<Partition, BTreeMap<i64, Vec<(usize, i64)>>>;

/// One member's tenure of one partition, by the times of its deliveries.
#[derive(Debug, Clone, Copy)]
struct Tenure {
    member: usize,
    first_at: i64,
    last_at: i64,
}

/// What the logs show.
#[derive(Debug, Clone, Default)]
pub struct Findings {
    /// Records produced (the sum of the partitions' ends).
    pub produced: i64,
    /// Distinct produced offsets delivered.
    pub delivered: i64,
    /// Produced offsets nobody delivered (the first few, and how many in all).
    pub gaps: Vec<(Partition, i64)>,
    /// How many produced offsets nobody delivered.
    pub gap_count: usize,
    /// Partitions delivered by two members at once, in words.
    pub overlaps: Vec<String>,
    /// Deliveries of a partition the member did not own then (by its own listener), in words.
    pub outside: Vec<String>,
    /// Offsets delivered again by another member, by the client of the member that had
    /// delivered them before.
    pub duplicates_after: BTreeMap<Kind, usize>,
    /// Offsets delivered again by another member after a killed member had them.
    pub duplicates_after_killed: usize,
    /// Offsets a member delivered twice itself.
    pub self_duplicates: usize,
    /// A few duplicates, in words: the offset and its deliveries.
    pub duplicate_examples: Vec<String>,
    /// The longest time between two deliveries of one partition (by anyone), and which.
    pub longest_stall: Option<(Partition, Duration)>,
}

/// How many examples of each kind of finding are kept.
const EXAMPLES: usize = 12;

impl Findings {
    /// Checks `logs` against the partitions' ends `ends` (offsets `0..end` were produced).
    pub fn of(logs: &[MemberLog], ends: &BTreeMap<Partition, i64>) -> Findings {
        let mut findings = Findings {
            produced: ends.values().sum(),
            ..Findings::default()
        };
        let mut seen = Seen::new();
        let mut tenures: BTreeMap<Partition, Vec<Tenure>> = BTreeMap::new();
        for (member, log) in logs.iter().enumerate() {
            findings.read_log(member, log, &mut seen, &mut tenures);
        }
        for (p, list) in &tenures {
            findings.check_exclusive(logs, p, list);
        }
        for (p, end) in ends {
            let offsets = seen.get(p);
            for offset in 0..*end {
                match offsets.and_then(|o| o.get(&offset)) {
                    Some(_) => findings.delivered += 1,
                    None => {
                        findings.gap_count += 1;
                        if findings.gaps.len() < EXAMPLES {
                            findings.gaps.push((p.clone(), offset));
                        }
                    }
                }
            }
        }
        for (p, offsets) in &seen {
            for (offset, deliveries) in offsets {
                findings.count_duplicates(logs, p, *offset, deliveries);
            }
            let mut times: Vec<i64> = offsets.values().flatten().map(|(_, at)| *at).collect();
            times.sort_unstable();
            times.dedup();
            let longest = times.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0);
            let longest = Duration::from_millis(u64::try_from(longest).unwrap_or(0));
            if findings
                .longest_stall
                .as_ref()
                .is_none_or(|(_, d)| longest > *d)
            {
                findings.longest_stall = Some((p.clone(), longest));
            }
        }
        findings
    }

    /// Reads one member's log: its deliveries into `seen`, its tenures (from the first to the
    /// last delivery between an `assigned` and the `revoked`, `lost` or `closed` that ended
    /// it) into `tenures`, and deliveries outside any tenure into [`Findings::outside`].
    fn read_log(
        &mut self,
        member: usize,
        log: &MemberLog,
        seen: &mut Seen,
        tenures: &mut BTreeMap<Partition, Vec<Tenure>>,
    ) {
        // The open tenure of each owned partition: None until its first delivery.
        let mut open: BTreeMap<Partition, Option<Tenure>> = BTreeMap::new();
        let mut close = |open: &mut BTreeMap<Partition, Option<Tenure>>, p: &Partition| {
            if let Some(Some(tenure)) = open.remove(p) {
                tenures.entry(p.clone()).or_default().push(tenure);
            }
        };
        for event in &log.events {
            match event {
                PeerEvent::Assigned(ps) => {
                    for p in ps {
                        open.entry(p.clone()).or_insert(None);
                    }
                }
                PeerEvent::Revoked(ps) | PeerEvent::Lost(ps) => {
                    for p in ps {
                        close(&mut open, p);
                    }
                }
                PeerEvent::Closed => {
                    let owned: Vec<Partition> = open.keys().cloned().collect();
                    for p in &owned {
                        close(&mut open, p);
                    }
                }
                PeerEvent::Records {
                    topic,
                    partition,
                    first,
                    last,
                    at_ms,
                    offsets,
                    ..
                } => {
                    let p = (topic.clone(), *partition);
                    match open.get_mut(&p) {
                        Some(tenure) => {
                            let t = tenure.get_or_insert(Tenure {
                                member,
                                first_at: *at_ms,
                                last_at: *at_ms,
                            });
                            t.last_at = *at_ms;
                        }
                        None if self.outside.len() < EXAMPLES => self.outside.push(format!(
                            "{} delivered {topic}-{partition} {first}..={last} at {at_ms} \
                             without owning it",
                            log.label
                        )),
                        None => {}
                    }
                    let by_offset = seen.entry(p).or_default();
                    for offset in offsets {
                        by_offset.entry(*offset).or_default().push((member, *at_ms));
                    }
                }
                _ => {}
            }
        }
        let owned: Vec<Partition> = open.keys().cloned().collect();
        for p in &owned {
            close(&mut open, p);
        }
    }

    /// Exclusive ownership of `p`: no two members' tenures (first to last delivery) overlap.
    fn check_exclusive(&mut self, logs: &[MemberLog], p: &Partition, list: &[Tenure]) {
        let mut list = list.to_vec();
        list.sort_by_key(|t| (t.first_at, t.last_at));
        for (i, a) in list.iter().enumerate() {
            for b in &list[i + 1..] {
                if a.member != b.member && b.first_at < a.last_at {
                    self.overlaps.push(format!(
                        "{}-{} delivered by {} ({}..={}) and {} ({}..={}) at once",
                        p.0,
                        p.1,
                        logs[a.member].label,
                        a.first_at,
                        a.last_at,
                        logs[b.member].label,
                        b.first_at,
                        b.last_at
                    ));
                }
            }
        }
    }

    /// Counts the repeated deliveries of one offset: by another member, under the client of
    /// the member that delivered it just before; by the same member, as its own.
    fn count_duplicates(
        &mut self,
        logs: &[MemberLog],
        p: &Partition,
        offset: i64,
        deliveries: &[(usize, i64)],
    ) {
        if deliveries.len() < 2 {
            return;
        }
        let mut sorted = deliveries.to_vec();
        sorted.sort_by_key(|(_, at)| *at);
        for pair in sorted.windows(2) {
            let (before, after) = (pair[0].0, pair[1].0);
            if before == after {
                self.self_duplicates += 1;
            } else if logs[before].killed {
                self.duplicates_after_killed += 1;
            } else {
                *self.duplicates_after.entry(logs[before].kind).or_default() += 1;
            }
        }
        if self.duplicate_examples.len() < EXAMPLES {
            let who: Vec<String> = sorted
                .iter()
                .map(|(m, at)| format!("{} at {at}", logs[*m].label))
                .collect();
            self.duplicate_examples.push(format!(
                "{}-{} offset {offset}: {}",
                p.0,
                p.1,
                who.join(", ")
            ));
        }
    }

    /// Offsets delivered again by another member after a member of `kind` had them.
    pub fn after(&self, kind: Kind) -> usize {
        self.duplicates_after.get(&kind).copied().unwrap_or(0)
    }

    /// Every repeated delivery.
    pub fn duplicates(&self) -> usize {
        self.duplicates_after.values().sum::<usize>()
            + self.duplicates_after_killed
            + self.self_duplicates
    }
}

/// What each member's log says of partition `p` around `offset` (within `around` offsets of
/// it): its assignments, revocations and losses of `p`, the chunks of `p` it delivered there
/// and its commits of `p` there, in the member's order; for the message of a gap, which
/// tells who owned the partition when its records went missing and where each member began.
pub fn story(logs: &[MemberLog], p: &Partition, offset: i64, around: i64) -> String {
    let near = |o: i64| (o - offset).abs() <= around;
    let mut out = String::new();
    for log in logs {
        let mut lines = Vec::new();
        for event in &log.events {
            let line = match event {
                PeerEvent::Assigned(ps) if ps.contains(p) => Some("assigned".to_owned()),
                PeerEvent::Revoked(ps) if ps.contains(p) => Some("revoked".to_owned()),
                PeerEvent::Lost(ps) if ps.contains(p) => Some("lost".to_owned()),
                PeerEvent::Records {
                    topic,
                    partition,
                    first,
                    last,
                    generation,
                    at_ms,
                    ..
                } if (topic, partition) == (&p.0, &p.1) && (near(*first) || near(*last)) => Some(
                    format!("records {first}..={last} generation {generation} at {at_ms}"),
                ),
                PeerEvent::Committed(commits) => commits
                    .iter()
                    .find(|(t, q, o)| (t, q) == (&p.0, &p.1) && near(*o))
                    .map(|(_, _, o)| format!("committed {o}")),
                PeerEvent::CommitFailed(why) => Some(format!("commit-failed {why}")),
                PeerEvent::Closed => Some("closed".to_owned()),
                PeerEvent::Error(why) => Some(format!("error {why}")),
                _ => None,
            };
            lines.extend(line);
        }
        if !lines.is_empty() {
            out.push_str(&format!("\n  {}: {}", log.label, lines.join("; ")));
        }
    }
    out
}

/// The figures on one line, then the examples of what went wrong.
impl fmt::Display for Findings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let stall = match &self.longest_stall {
            Some(((t, p), d)) => format!("{:.2} s ({t}-{p})", d.as_secs_f64()),
            None => "none".to_owned(),
        };
        write!(
            f,
            "{} records produced, {} delivered, {} gaps, {} overlaps, {} deliveries outside an \
             assignment, {} duplicates (after gregor {}, after java {}, after librdkafka {}, \
             after a killed member {}, by the same member {}); longest pause of a partition \
             {stall}",
            self.produced,
            self.delivered,
            self.gap_count,
            self.overlaps.len(),
            self.outside.len(),
            self.duplicates(),
            self.after(Kind::Gregor),
            self.after(Kind::Java),
            self.after(Kind::Librdkafka),
            self.duplicates_after_killed,
            self.self_duplicates,
        )?;
        for line in self
            .overlaps
            .iter()
            .chain(&self.outside)
            .chain(&self.duplicate_examples)
        {
            write!(f, "\n  {line}")?;
        }
        if !self.gaps.is_empty() {
            write!(f, "\n  gaps: {:?}", self.gaps)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(label: &str, kind: Kind, lines: &[&str]) -> MemberLog {
        MemberLog {
            label: label.to_owned(),
            kind,
            events: lines.iter().map(|l| PeerEvent::parse(l)).collect(),
            killed: false,
        }
    }

    #[test]
    fn overlaps_gaps_and_duplicates_are_found() {
        let ends = BTreeMap::from([(("t".to_owned(), 0), 6), (("t".to_owned(), 1), 2)]);
        let clean = [
            log(
                "g",
                Kind::Gregor,
                &["assigned t 0", "records t 0 0 2 3 1 100", "revoked t 0"],
            ),
            log(
                "j",
                Kind::Java,
                &[
                    "assigned t 0 t 1",
                    "records t 0 3 5 3 1 200",
                    "records t 1 0 1 2 1 200",
                ],
            ),
        ];
        let found = Findings::of(&clean, &ends);
        assert_eq!(
            (found.gap_count, found.duplicates(), found.overlaps.len()),
            (0, 0, 0),
            "{found}"
        );
        assert_eq!(found.delivered, 8);
        let broken = [
            log(
                "g",
                Kind::Gregor,
                &[
                    "assigned t 0",
                    "records t 0 0 2 3 1 100",
                    "records t 0 3 3 1 1 300",
                ],
            ),
            log(
                "j",
                Kind::Java,
                &[
                    "assigned t 0",
                    "records t 0 2 4 3 1 200",
                    "records t 1 0 0 1 1 200",
                ],
            ),
        ];
        let found = Findings::of(&broken, &ends);
        assert_eq!(found.gap_count, 2, "{found}");
        assert_eq!(found.overlaps.len(), 1, "{found}");
        assert_eq!(found.outside.len(), 1, "{found}");
        assert_eq!(found.after(Kind::Gregor), 1, "{found}");
        assert_eq!(found.after(Kind::Java), 1, "{found}");
        // What a killed member had is counted apart from graceful handoffs.
        let mut killed = broken;
        killed[0].killed = true;
        let found = Findings::of(&killed, &ends);
        assert_eq!(found.after(Kind::Gregor), 0, "{found}");
        assert_eq!(found.duplicates_after_killed, 1, "{found}");
        assert_eq!(found.duplicates(), 2, "{found}");
    }
}

//! What one membership change did to a group, computed from the members' event logs alone
//! (the [`PeerEvent`] lines every member prints, each delivery stamped with the member's wall
//! clock) and the producer's record of when it produced each offset.
//!
//! - **Rebalance latency**: from the change (`t0`) until every partition is fetching again:
//!   for each partition, the first delivery by its owner after the assignment that gave it
//!   that owner last; the latest of those, less `t0` (a partition whose owner kept it without
//!   a new assignment, as cooperative rebalancing does, counts 0).
//! - **Longest gap of partitions that did not move** (same owner before and after): the
//!   longest time between two deliveries of such a partition, from the last delivery before
//!   `t0` to the first one after every partition was fetching again.
//! - **Group-wide window with no delivery**: the longest interval, over the same span (from
//!   the last delivery of any partition at or before `t0` to the first after every partition
//!   was fetching again), in which no member delivered any record: how long the group as a
//!   whole stopped.
//! - **Steady gap**: the longest time between two deliveries of any partition in the quiet
//!   window before `t0` (what a gap is without a rebalance: the producer's interval plus the
//!   client's batching).
//! - **Oldest record at delivery**: the longest time from producing a record to its delivery,
//!   over deliveries from `t0` until every partition was fetching again (plus a margin).

use std::collections::{BTreeMap, BTreeSet};

use gregor_testkit::kafka::group_peer::{Partition, PeerEvent};

/// When each offset of each partition was produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Produced {
    /// Per partition: (base offset, produced at ms since the epoch), in offset order.
    batches: BTreeMap<i32, Vec<(i64, i64)>>,
}

impl Produced {
    /// Notes that the batch at `base` of `partition` was produced at `at_ms`.
    pub fn record(&mut self, partition: i32, base: i64, at_ms: i64) {
        let v = self.batches.entry(partition).or_default();
        if v.last().is_none_or(|(b, _)| *b < base) {
            v.push((base, at_ms));
        }
    }

    /// When `offset` of `partition` was produced (the batch holding it).
    pub fn at(&self, partition: i32, offset: i64) -> Option<i64> {
        let v = self.batches.get(&partition)?;
        let i = v.partition_point(|(b, _)| *b <= offset);
        v.get(i.checked_sub(1)?).map(|(_, at)| *at)
    }
}

/// One delivery: when, and the first offset it held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Delivery {
    at_ms: i64,
    first: i64,
}

/// Every delivery in `logs`, by partition and by time, in one pass over the logs.
fn deliveries<'a>(logs: &[&'a [PeerEvent]]) -> BTreeMap<(&'a str, i32), Vec<Delivery>> {
    let mut out: BTreeMap<(&str, i32), Vec<Delivery>> = BTreeMap::new();
    for e in logs.iter().flat_map(|events| events.iter()) {
        if let PeerEvent::Records {
            topic,
            partition,
            first,
            at_ms,
            ..
        } = e
        {
            out.entry((topic.as_str(), *partition))
                .or_default()
                .push(Delivery {
                    at_ms: *at_ms,
                    first: *first,
                });
        }
    }
    for v in out.values_mut() {
        v.sort();
    }
    out
}

/// What one member owns according to its log, and for each partition when it first delivered
/// it after it was last assigned it (`None`: not yet). [`update`](Self::update) reads only the
/// events added since the last call, so that waiting on a large group costs the new events
/// alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ownership {
    /// Topic, then partition: the first delivery since the last assignment.
    owned: BTreeMap<String, BTreeMap<i32, Option<i64>>>,
    /// How many events of the log were read.
    seen: usize,
}

impl Ownership {
    /// The ownership `events` tell of.
    pub fn of(events: &[PeerEvent]) -> Ownership {
        let mut o = Ownership::default();
        o.update(events);
        o
    }

    /// Reads the events of the member's log (all of it, as it grows) not read yet.
    pub fn update(&mut self, events: &[PeerEvent]) {
        for e in events.get(self.seen..).unwrap_or(&[]) {
            match e {
                PeerEvent::Assigned(ps) => {
                    for (topic, p) in ps {
                        self.owned
                            .entry(topic.clone())
                            .or_default()
                            .insert(*p, None);
                    }
                }
                PeerEvent::Revoked(ps) | PeerEvent::Lost(ps) => {
                    for (topic, p) in ps {
                        if let Some(t) = self.owned.get_mut(topic.as_str()) {
                            t.remove(p);
                        }
                    }
                }
                PeerEvent::Closed => self.owned.clear(),
                PeerEvent::Records {
                    topic,
                    partition,
                    at_ms,
                    ..
                } => {
                    if let Some(resumed @ None) = self
                        .owned
                        .get_mut(topic.as_str())
                        .and_then(|t| t.get_mut(partition))
                    {
                        *resumed = Some(*at_ms);
                    }
                }
                _ => {}
            }
        }
        self.seen = events.len();
    }

    /// How many partitions it owns.
    pub fn len(&self) -> usize {
        self.owned.values().map(BTreeMap::len).sum()
    }

    /// Whether it owns none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Each partition it owns, with when it first delivered it since it was assigned it.
    pub fn partitions(&self) -> impl Iterator<Item = (Partition, Option<i64>)> + '_ {
        self.owned
            .iter()
            .flat_map(|(topic, ps)| ps.iter().map(|(p, at)| ((topic.clone(), *p), *at)))
    }
}

/// Who owns each partition according to the members' ownership (the last member listed wins
/// a partition owned twice).
pub fn owners(members: &[&Ownership]) -> BTreeMap<Partition, usize> {
    let mut out = BTreeMap::new();
    for (i, o) in members.iter().enumerate() {
        for (p, _) in o.partitions() {
            out.insert(p, i);
        }
    }
    out
}

/// Whether the group of `members` has settled on `partitions`: each owned exactly once, every
/// member owning some (when there are as many partitions as members), and every partition
/// delivered by its owner since its last assignment. Returns each partition's owner (an index
/// into `members`) and when it resumed.
pub fn settled(
    members: &[&Ownership],
    partitions: &BTreeSet<Partition>,
) -> Option<BTreeMap<Partition, (usize, i64)>> {
    let total: usize = members.iter().map(|o| o.len()).sum();
    if total != partitions.len()
        || (partitions.len() >= members.len() && members.iter().any(|o| o.is_empty()))
    {
        return None;
    }
    let mut out = BTreeMap::new();
    for (i, o) in members.iter().enumerate() {
        for (p, resumed) in o.partitions() {
            if !partitions.contains(&p) {
                return None;
            }
            if out.insert(p, (i, resumed?)).is_some() {
                return None;
            }
        }
    }
    Some(out)
}

/// What one membership change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventMetrics {
    /// From the change until every partition was fetching again, ms.
    pub latency_ms: i64,
    /// Partitions whose owner changed.
    pub moved: usize,
    /// Partitions whose owner stayed.
    pub unmoved: usize,
    /// The longest delivery gap of the partitions that stayed, ms (None: none stayed).
    pub unmoved_gap_ms: Option<i64>,
    /// The longest interval in which no member delivered any record, from the last delivery
    /// at or before the change to the first at or after every partition was fetching again,
    /// ms (None: no delivery at all).
    pub group_gap_ms: Option<i64>,
    /// The longest delivery gap of any partition in the window before the change, ms.
    pub steady_gap_ms: Option<i64>,
    /// The oldest record delivered from the change until every partition was fetching
    /// again, ms from produce to delivery.
    pub max_age_ms: Option<i64>,
}

/// The longest step between consecutive `times` (sorted).
fn longest_step(times: &[i64]) -> Option<i64> {
    times.windows(2).map(|w| w[1] - w[0]).max()
}

/// The longest step of `times` (sorted) from the last at or before `from` (or `from` itself
/// when none is) to the first at or after `to` (or the last of them when none is).
fn longest_gap_across(times: &[i64], from: i64, to: i64) -> Option<i64> {
    let start = times.iter().rev().find(|t| **t <= from).copied();
    let end = times.iter().find(|t| **t >= to).copied();
    let mut window: Vec<i64> = times
        .iter()
        .copied()
        .filter(|t| start.is_none_or(|s| *t >= s) && end.is_none_or(|e| *t <= e))
        .collect();
    if start.is_none() {
        window.insert(0, from);
    }
    longest_step(&window)
}

/// How far after `resumed_all` deliveries still count for the oldest-record figure: the
/// records a resumed fetch returns arrive within a few fetches.
const AGE_MARGIN_MS: i64 = 500;

/// Computes the metrics of the change at `t0_ms`. `before` is who owned each partition just
/// before it (indices into `logs`); `after` is [`settled`]'s answer for the group after it
/// (indices into the same `logs`); `steady_ms` is the quiet window before `t0_ms`.
pub fn analyze(
    logs: &[&[PeerEvent]],
    t0_ms: i64,
    before: &BTreeMap<Partition, usize>,
    after: &BTreeMap<Partition, (usize, i64)>,
    steady_ms: i64,
    produced: &Produced,
) -> EventMetrics {
    let latency_ms = after
        .values()
        .map(|(_, resumed)| (resumed - t0_ms).max(0))
        .max()
        .unwrap_or(0);
    let resumed_all = t0_ms + latency_ms;
    let by_partition = deliveries(logs);
    let mut moved = 0;
    let mut unmoved = 0;
    let mut unmoved_gap: Option<i64> = None;
    let mut steady_gap: Option<i64> = None;
    let mut max_age: Option<i64> = None;
    for (p, (owner, _)) in after {
        let all = by_partition
            .get(&(p.0.as_str(), p.1))
            .map_or(&[][..], Vec::as_slice);
        let times: Vec<i64> = all.iter().map(|d| d.at_ms).collect();
        let quiet: Vec<i64> = times
            .iter()
            .copied()
            .filter(|t| (t0_ms - steady_ms..=t0_ms).contains(t))
            .collect();
        steady_gap = steady_gap.max(longest_step(&quiet));
        for d in all {
            if (t0_ms..=resumed_all + AGE_MARGIN_MS).contains(&d.at_ms)
                && let Some(at) = produced.at(p.1, d.first)
            {
                max_age = max_age.max(Some(d.at_ms - at));
            }
        }
        if before.get(p) != Some(owner) {
            moved += 1;
            continue;
        }
        unmoved += 1;
        unmoved_gap = unmoved_gap.max(longest_gap_across(&times, t0_ms, resumed_all));
    }
    let mut every: Vec<i64> = by_partition
        .values()
        .flat_map(|ds| ds.iter().map(|d| d.at_ms))
        .collect();
    every.sort_unstable();
    EventMetrics {
        latency_ms,
        moved,
        unmoved,
        unmoved_gap_ms: unmoved_gap,
        group_gap_ms: longest_gap_across(&every, t0_ms, resumed_all),
        steady_gap_ms: steady_gap,
        max_age_ms: max_age,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(p: i32) -> Partition {
        ("t".to_owned(), p)
    }

    fn rec(p: i32, first: i64, at_ms: i64) -> PeerEvent {
        PeerEvent::Records {
            topic: "t".into(),
            partition: p,
            first,
            last: first,
            count: 1,
            generation: -1,
            at_ms,
            offsets: vec![first],
        }
    }

    fn assigned(ps: &[i32]) -> PeerEvent {
        PeerEvent::Assigned(ps.iter().map(|p| tp(*p)).collect())
    }

    fn revoked(ps: &[i32]) -> PeerEvent {
        PeerEvent::Revoked(ps.iter().map(|p| tp(*p)).collect())
    }

    fn settle_logs(
        logs: &[&[PeerEvent]],
        partitions: &BTreeSet<Partition>,
    ) -> Option<BTreeMap<Partition, (usize, i64)>> {
        let owned: Vec<Ownership> = logs.iter().map(|l| Ownership::of(l)).collect();
        settled(&owned.iter().collect::<Vec<_>>(), partitions)
    }

    #[test]
    fn produced_offsets_map_to_their_batch() {
        let mut p = Produced::default();
        p.record(0, 0, 100);
        p.record(0, 1, 120);
        p.record(0, 5, 140);
        assert_eq!(p.at(0, 0), Some(100));
        assert_eq!(p.at(0, 3), Some(120));
        assert_eq!(p.at(0, 9), Some(140));
        assert_eq!(p.at(1, 0), None);
    }

    #[test]
    fn an_eager_join_pauses_every_partition() {
        // Member 0 owned 0 and 1; at 1000 member 1 joins; eager: 0 revokes both, then keeps
        // 0 (resumes at 1600) and member 1 gets 1 (resumes at 1800).
        let m0 = vec![
            assigned(&[0, 1]),
            rec(0, 0, 900),
            rec(1, 0, 900),
            rec(0, 1, 1100),
            rec(1, 1, 1100),
            revoked(&[0, 1]),
            assigned(&[0]),
            rec(0, 2, 1600),
            rec(0, 3, 1700),
        ];
        let m1 = vec![assigned(&[1]), rec(1, 2, 1800), rec(1, 3, 1900)];
        let logs: Vec<&[PeerEvent]> = vec![&m0, &m1];
        let partitions: BTreeSet<Partition> = [tp(0), tp(1)].into();
        let before = owners(&[&Ownership::of(&m0[..4])]);
        let after = settle_logs(&logs, &partitions).unwrap();
        assert_eq!(after[&tp(0)], (0, 1600));
        assert_eq!(after[&tp(1)], (1, 1800));
        let mut produced = Produced::default();
        for (o, at) in [(0, 880), (1, 1080), (2, 1280), (3, 1480)] {
            produced.record(0, o, at);
            produced.record(1, o, at);
        }
        let m = analyze(&logs, 1000, &before, &after, 500, &produced);
        assert_eq!(m.latency_ms, 800);
        assert_eq!((m.moved, m.unmoved), (1, 1));
        // Partition 0: 900, 1100, 1600, 1700 from the last before t0 to the first after 1800?
        // None after 1800: the window ends at its last delivery; the gap is 1100 -> 1600.
        assert_eq!(m.unmoved_gap_ms, Some(500));
        assert_eq!(m.steady_gap_ms, None);
        // Offset 2 of partition 1, produced at 1280, delivered at 1800.
        assert_eq!(m.max_age_ms, Some(520));
        // No member delivered from 1100 to 1600.
        assert_eq!(m.group_gap_ms, Some(500));
    }

    #[test]
    fn a_cooperative_partition_that_stays_counts_no_latency() {
        let m0 = vec![
            assigned(&[0, 1]),
            rec(0, 0, 800),
            rec(0, 1, 900),
            rec(1, 0, 900),
            revoked(&[1]),
            rec(0, 2, 1100),
            rec(0, 3, 1200),
        ];
        let m1 = vec![assigned(&[]), assigned(&[1]), rec(1, 3, 1500)];
        let logs: Vec<&[PeerEvent]> = vec![&m0, &m1];
        let partitions: BTreeSet<Partition> = [tp(0), tp(1)].into();
        let before = owners(&[&Ownership::of(&m0[..4])]);
        let after = settle_logs(&logs, &partitions).unwrap();
        let m = analyze(&logs, 1000, &before, &after, 300, &Produced::default());
        assert_eq!(m.latency_ms, 500);
        assert_eq!((m.moved, m.unmoved), (1, 1));
        // Partition 0 from 900 to the first delivery at or after 1500: none, so 900..1200.
        assert_eq!(m.unmoved_gap_ms, Some(200));
        assert_eq!(m.steady_gap_ms, Some(100));
        assert_eq!(m.max_age_ms, None);
        // Deliveries at 900, 1100, 1200, 1500: the group stopped for 300 ms at most.
        assert_eq!(m.group_gap_ms, Some(300));
    }

    #[test]
    fn an_unsettled_group_is_none() {
        let m0 = vec![assigned(&[0]), rec(0, 0, 10)];
        let m1 = vec![assigned(&[1])];
        let logs: Vec<&[PeerEvent]> = vec![&m0, &m1];
        let partitions: BTreeSet<Partition> = [tp(0), tp(1)].into();
        // Partition 1 was assigned but has not delivered yet.
        assert!(settle_logs(&logs, &partitions).is_none());
        let m2 = vec![assigned(&[1]), rec(1, 0, 20)];
        let logs: Vec<&[PeerEvent]> = vec![&m0, &m1, &m2];
        // Owned twice.
        assert!(settle_logs(&logs, &partitions).is_none());
        // A member owning nothing while there are partitions enough (not while there are
        // fewer partitions than members).
        let m3 = vec![assigned(&[0, 1]), rec(0, 0, 10), rec(1, 0, 10)];
        let logs: Vec<&[PeerEvent]> = vec![&m3, &[]];
        assert!(settle_logs(&logs, &partitions).is_none());
        let logs: Vec<&[PeerEvent]> = vec![&m3, &[], &[]];
        assert!(settle_logs(&logs, &partitions).is_some());
        let logs: Vec<&[PeerEvent]> = vec![&m0, &m2];
        assert!(settle_logs(&logs, &partitions).is_some());
    }

    #[test]
    fn ownership_reads_a_growing_log_once() {
        let mut log = vec![assigned(&[0, 1]), rec(0, 0, 10)];
        let mut o = Ownership::of(&log);
        assert_eq!(
            o.partitions().collect::<Vec<_>>(),
            [(tp(0), Some(10)), (tp(1), None)]
        );
        // Reassigned: partition 0 waits for its next delivery again; 1 resumes; then 0 is
        // revoked.
        log.extend([rec(1, 0, 20), assigned(&[0]), rec(0, 1, 30), rec(0, 2, 40)]);
        o.update(&log);
        assert_eq!(
            o.partitions().collect::<Vec<_>>(),
            [(tp(0), Some(30)), (tp(1), Some(20))]
        );
        log.extend([revoked(&[0]), rec(0, 3, 50)]);
        o.update(&log);
        assert_eq!(o.partitions().collect::<Vec<_>>(), [(tp(1), Some(20))]);
        assert_eq!(o, Ownership::of(&log));
        log.push(PeerEvent::Closed);
        o.update(&log);
        assert!(o.is_empty());
    }

    #[test]
    fn the_group_gap_spans_the_change() {
        // Deliveries every 10 ms until 1000, none until 1400, then every 10 ms; the change at
        // 1005, every partition fetching at 1450.
        let times: Vec<i64> = (0..=100)
            .map(|i| i * 10)
            .chain((140..=160).map(|i| i * 10))
            .collect();
        assert_eq!(longest_gap_across(&times, 1005, 1450), Some(400));
        // Nothing before the change: counted from it.
        assert_eq!(longest_gap_across(&[1200, 1210], 1000, 1210), Some(200));
        assert_eq!(longest_gap_across(&[], 1000, 1200), None);
    }
}

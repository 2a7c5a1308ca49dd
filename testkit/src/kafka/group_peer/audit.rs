//! [`GroupAudit`]: the invariants of one consumer group, checked from its members' logs by
//! ranges of offsets.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use super::{Partition, PeerEvent};

/// How many violations [`AuditReport`]'s `Display` lists (it counts the rest).
const SHOWN: usize = 25;

/// One member's tenure of one partition.
#[derive(Debug, Clone)]
struct Tenure {
    member: usize,
    /// Ended by the member's death (SIGKILL by the test) rather than by a line.
    killed_final: bool,
    first_at: Option<i64>,
    last_at: Option<i64>,
    first_offset: Option<i64>,
    /// One past the highest offset delivered.
    delivered_end: Option<i64>,
    /// Its commits, in the order reported.
    commits: Vec<i64>,
}

/// Duplicates of one partition no kill explains, from one member to another.
#[derive(Debug, Clone, Copy)]
struct Unexplained {
    count: u64,
    /// The lowest and (one past) the highest of them.
    from: i64,
    to: i64,
    /// When the first of them was delivered before, and again.
    before_at: i64,
    after_at: i64,
    /// The kill's bound, when the member before was killed.
    bound: Option<i64>,
}

/// A contiguous run of offsets one member delivered in one `records` line.
#[derive(Debug, Clone, Copy)]
struct Run {
    start: i64,
    end: i64,
    at_ms: i64,
    /// The tenure it was delivered in (`None`: outside any).
    tenure: Option<usize>,
    member: usize,
}

/// The invariants of one consumer group, checked from its members' logs by
/// ranges of offsets (the [`Ledger`](super::Ledger) keeps one entry per offset, too many for a
/// soak of millions of records).
///
/// A member's log is cut into *tenures*: one per partition per assignment, from the
/// `assigned` line that gave it the partition to the `revoked` or `lost` line that took it
/// away, its `closed` line, or the end of its log. A member the test killed (SIGKILL) ends its
/// open tenures by dying: those are its *final* tenures. The checks, per partition:
///
/// - **delivered within an assignment**: every `records` and `committed` line falls in a
///   tenure of that partition;
/// - **exclusive ownership**: no two members' tenures deliver at once (the span from a
///   tenure's first delivery to its last, by the members' clocks, overlaps no other member's);
///   an overlap with a killed member's final tenure is counted, not failed;
/// - **no gap**: every produced offset was delivered, and nothing else;
/// - **commits**: each commits only what its tenure delivered, and the partition's commits
///   never go back, within a tenure and from one tenure to the next (in delivery order);
/// - **duplicates**: an offset delivered again (in delivery-time order) is explained only when
///   its previous delivery was in a killed member's final tenure, at or after that tenure's
///   last reported commit (or its first offset, when it reported none): the records the new
///   owner had to read again because the member died before committing them. Every other
///   duplicate is a violation.
///
/// It also measures the longest stall: the longest time between two deliveries of one
/// partition.
#[derive(Debug, Clone, Default)]
pub struct GroupAudit {
    produced: BTreeMap<Partition, i64>,
    members: Vec<String>,
    /// Per member, the messages of its `commit-failed` lines.
    failures: Vec<Vec<String>>,
    tenures: Vec<Tenure>,
    /// Per partition, its tenures in the order met.
    by_partition: BTreeMap<Partition, Vec<usize>>,
    runs: BTreeMap<Partition, Vec<Run>>,
    commits: usize,
    commit_failures: usize,
    lost: usize,
    violations: Vec<String>,
}

/// What [`GroupAudit::report`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditReport {
    /// Distinct produced offsets delivered.
    pub delivered: u64,
    /// Offsets delivered, counting each delivery.
    pub deliveries: u64,
    /// Deliveries of an offset delivered before.
    pub duplicates: u64,
    /// Of [`duplicates`](Self::duplicates), those explained by a killed member.
    pub duplicates_after_kill: u64,
    /// Produced offsets never delivered.
    pub gaps: u64,
    /// Partitions delivered by two members at once where one had been killed.
    pub overlaps_after_kill: usize,
    /// `committed` entries (partition and offset) reported.
    pub commits: usize,
    /// `commit-failed` lines.
    pub commit_failures: usize,
    /// Partitions reported `lost`.
    pub lost: usize,
    /// The longest time between two deliveries of one partition, and that partition.
    pub longest_stall: Option<(Partition, Duration)>,
    /// Every broken invariant, in words.
    pub violations: Vec<String>,
}

impl AuditReport {
    /// Whether no invariant was broken.
    pub fn is_clean(&self) -> bool {
        self.violations.is_empty()
    }
}

/// The figures on one line, then the violations (the first few, and how many more).
impl fmt::Display for AuditReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let stall = match &self.longest_stall {
            Some(((t, p), d)) => format!("{:.1} s ({t}-{p})", d.as_secs_f64()),
            None => "none".to_owned(),
        };
        write!(
            f,
            "delivered {} ({} deliveries), duplicates {} ({} after kills), gaps {}, \
             overlaps after kills {}, commits {}, commit failures {}, lost {}, longest stall {}",
            self.delivered,
            self.deliveries,
            self.duplicates,
            self.duplicates_after_kill,
            self.gaps,
            self.overlaps_after_kill,
            self.commits,
            self.commit_failures,
            self.lost,
            stall,
        )?;
        for v in self.violations.iter().take(SHOWN) {
            write!(f, "\n  violation: {v}")?;
        }
        if self.violations.len() > SHOWN {
            write!(f, "\n  ... and {} more", self.violations.len() - SHOWN)?;
        }
        Ok(())
    }
}

/// Splits offsets into contiguous runs `[start, end)`.
fn runs_of(offsets: &[i64]) -> Vec<(i64, i64)> {
    let mut runs: Vec<(i64, i64)> = Vec::new();
    for &o in offsets {
        match runs.last_mut() {
            Some((_, end)) if *end == o => *end = o + 1,
            _ => runs.push((o, o + 1)),
        }
    }
    runs
}

fn name(p: &Partition) -> String {
    format!("{}-{}", p.0, p.1)
}

impl GroupAudit {
    /// An audit of a group that was produced `produced[partition]` records per partition
    /// (offsets `0..end`).
    pub fn new(produced: BTreeMap<Partition, i64>) -> GroupAudit {
        GroupAudit {
            produced,
            ..GroupAudit::default()
        }
    }

    /// Adds one member's whole log under `label`; `killed` when the test killed it
    /// (SIGKILL), which makes its open tenures final.
    pub fn add_member(&mut self, label: &str, events: &[PeerEvent], killed: bool) {
        let member = self.members.len();
        self.members.push(label.to_owned());
        self.failures.push(Vec::new());
        let mut open: BTreeMap<Partition, usize> = BTreeMap::new();
        for event in events {
            match event {
                PeerEvent::Assigned(ps) => {
                    for p in ps {
                        if open.contains_key(p) {
                            continue;
                        }
                        let tenure = self.tenures.len();
                        self.tenures.push(Tenure {
                            member,
                            killed_final: false,
                            first_at: None,
                            last_at: None,
                            first_offset: None,
                            delivered_end: None,
                            commits: Vec::new(),
                        });
                        self.by_partition.entry(p.clone()).or_default().push(tenure);
                        open.insert(p.clone(), tenure);
                    }
                }
                PeerEvent::Revoked(ps) => ps.iter().for_each(|p| {
                    open.remove(p);
                }),
                PeerEvent::Lost(ps) => {
                    self.lost += ps.len();
                    ps.iter().for_each(|p| {
                        open.remove(p);
                    });
                }
                PeerEvent::Closed => open.clear(),
                PeerEvent::Records {
                    topic,
                    partition,
                    at_ms,
                    offsets,
                    ..
                } => {
                    let p = (topic.clone(), *partition);
                    self.delivery(label, member, &p, open.get(&p).copied(), *at_ms, offsets);
                }
                PeerEvent::Committed(cs) => {
                    for (topic, partition, offset) in cs {
                        let p = (topic.clone(), *partition);
                        self.commit(label, &p, open.get(&p).copied(), *offset);
                    }
                }
                PeerEvent::CommitFailed(message) => {
                    self.commit_failures += 1;
                    self.failures[member].push(message.clone());
                }
                PeerEvent::Error(message) => {
                    self.violations
                        .push(format!("{label} failed: error {message}"));
                }
                PeerEvent::Unknown(line) => {
                    self.violations
                        .push(format!("{label} printed an unknown line: {line}"));
                }
                PeerEvent::Ready => {}
            }
        }
        if killed {
            for tenure in open.into_values() {
                self.tenures[tenure].killed_final = true;
            }
        }
    }

    fn delivery(
        &mut self,
        label: &str,
        member: usize,
        p: &Partition,
        tenure: Option<usize>,
        at_ms: i64,
        offsets: &[i64],
    ) {
        let (Some(&first), Some(&last)) = (offsets.first(), offsets.last()) else {
            return;
        };
        match tenure {
            Some(t) => {
                let tenure = &mut self.tenures[t];
                tenure.first_at.get_or_insert(at_ms);
                tenure.last_at = Some(at_ms);
                tenure.first_offset.get_or_insert(first);
                tenure.delivered_end =
                    Some(tenure.delivered_end.map_or(last + 1, |e| e.max(last + 1)));
            }
            None => self.violations.push(format!(
                "{label} delivered {} offsets {first}..={last} without owning it",
                name(p)
            )),
        }
        let runs = self.runs.entry(p.clone()).or_default();
        for (start, end) in runs_of(offsets) {
            runs.push(Run {
                start,
                end,
                at_ms,
                tenure,
                member,
            });
        }
    }

    fn commit(&mut self, label: &str, p: &Partition, tenure: Option<usize>, offset: i64) {
        self.commits += 1;
        let Some(t) = tenure else {
            self.violations.push(format!(
                "{label} committed {} offset {offset} without owning it",
                name(p)
            ));
            return;
        };
        let tenure = &mut self.tenures[t];
        match (tenure.first_offset, tenure.delivered_end) {
            (Some(first), Some(end)) if first <= offset && offset <= end => {}
            (first, end) => self.violations.push(format!(
                "{label} committed {} offset {offset}, not within what it delivered \
                 ({first:?}..{end:?})",
                name(p)
            )),
        }
        if let Some(&previous) = tenure.commits.last() {
            if offset < previous {
                self.violations.push(format!(
                    "{label} committed {} offset {offset} after {previous}",
                    name(p)
                ));
            }
        }
        tenure.commits.push(offset);
    }

    /// Runs the checks over everything added.
    pub fn report(&self) -> AuditReport {
        let mut report = AuditReport {
            commits: self.commits,
            commit_failures: self.commit_failures,
            lost: self.lost,
            violations: self.violations.clone(),
            ..AuditReport::default()
        };
        for (p, tenures) in &self.by_partition {
            self.check_ownership(p, tenures, &mut report);
            self.check_commits(p, tenures, &mut report);
        }
        let mut partitions: Vec<&Partition> = self.produced.keys().collect();
        partitions.extend(self.runs.keys().filter(|p| !self.produced.contains_key(*p)));
        for p in partitions {
            self.check_deliveries(p, &mut report);
        }
        report
    }

    /// The tenures of `p` that delivered, by their first delivery.
    fn delivering(&self, tenures: &[usize]) -> Vec<usize> {
        let mut out: Vec<usize> = tenures
            .iter()
            .copied()
            .filter(|t| self.tenures[*t].first_at.is_some())
            .collect();
        out.sort_by_key(|t| (self.tenures[*t].first_at, self.tenures[*t].last_at));
        out
    }

    fn check_ownership(&self, p: &Partition, tenures: &[usize], report: &mut AuditReport) {
        let list = self.delivering(tenures);
        for (i, &a) in list.iter().enumerate() {
            for &b in &list[i + 1..] {
                let (ta, tb) = (&self.tenures[a], &self.tenures[b]);
                if ta.member == tb.member {
                    continue;
                }
                let (Some(a_last), Some(b_first)) = (ta.last_at, tb.first_at) else {
                    continue;
                };
                if b_first >= a_last {
                    continue;
                }
                if ta.killed_final || tb.killed_final {
                    report.overlaps_after_kill += 1;
                } else {
                    report.violations.push(format!(
                        "{} delivered by {} (until {a_last}) and {} (from {b_first}) at once",
                        name(p),
                        self.members[ta.member],
                        self.members[tb.member]
                    ));
                }
            }
        }
    }

    fn check_commits(&self, p: &Partition, tenures: &[usize], report: &mut AuditReport) {
        let mut highest: Option<(i64, usize)> = None;
        for t in self.delivering(tenures) {
            let tenure = &self.tenures[t];
            if let (Some(&first), Some((high, by))) = (tenure.commits.first(), highest) {
                if first < high {
                    report.violations.push(format!(
                        "{} commits went back: {} committed {first} after {} committed {high}",
                        name(p),
                        self.members[tenure.member],
                        self.members[self.tenures[by].member]
                    ));
                }
            }
            if let Some(&last) = tenure.commits.iter().max() {
                if highest.is_none_or(|(high, _)| last > high) {
                    highest = Some((last, t));
                }
            }
        }
    }

    /// Duplicates (explained or not) and gaps of `p`, painting its runs in delivery order
    /// over a map of who delivered each offset last.
    fn check_deliveries(&self, p: &Partition, report: &mut AuditReport) {
        let mut runs = self.runs.get(p).cloned().unwrap_or_default();
        // Stable: a member's runs of one millisecond stay in its log's order.
        runs.sort_by_key(|r| r.at_ms);
        // start -> (end, the run that delivered it last)
        let mut painted: BTreeMap<i64, (i64, Run)> = BTreeMap::new();
        // Per (member before, member after): the duplicates no kill explains.
        let mut unexplained: BTreeMap<(usize, usize), Unexplained> = BTreeMap::new();
        for run in runs {
            report.deliveries += u64::try_from(run.end - run.start).unwrap_or(0);
            let mut overlapping: Vec<(i64, i64, Run)> = Vec::new();
            if let Some((&s, &(e, r))) = painted.range(..run.start).next_back() {
                if e > run.start {
                    overlapping.push((s, e, r));
                }
            }
            overlapping.extend(
                painted
                    .range(run.start..run.end)
                    .map(|(&s, &(e, r))| (s, e, r)),
            );
            for (s, e, before) in overlapping {
                painted.remove(&s);
                if s < run.start {
                    painted.insert(s, (run.start, before));
                }
                if e > run.end {
                    painted.insert(run.end, (e, before));
                }
                let (from, to) = (s.max(run.start), e.min(run.end));
                let count = u64::try_from(to - from).unwrap_or(0);
                report.duplicates += count;
                let allowed_from = before
                    .tenure
                    .map(|t| &self.tenures[t])
                    .filter(|t| t.killed_final)
                    .map(|t| t.commits.last().copied().or(t.first_offset).unwrap_or(0));
                let explained = match allowed_from {
                    Some(bound) => u64::try_from(to - from.max(bound)).unwrap_or(0).min(count),
                    None => 0,
                };
                report.duplicates_after_kill += explained;
                if explained < count {
                    // What is not explained: below the bound, or all of it.
                    let to = allowed_from.map_or(to, |bound| bound.clamp(from, to));
                    let entry =
                        unexplained
                            .entry((before.member, run.member))
                            .or_insert(Unexplained {
                                count: 0,
                                from,
                                to,
                                before_at: before.at_ms,
                                after_at: run.at_ms,
                                bound: allowed_from,
                            });
                    entry.count += count - explained;
                    entry.from = entry.from.min(from);
                    entry.to = entry.to.max(to);
                }
            }
            painted.insert(run.start, (run.end, run));
        }
        for ((before, after), u) in unexplained {
            let why = match u.bound {
                Some(bound) => format!("killed, but below its last commit or first offset {bound}"),
                None => "not killed".to_owned(),
            };
            let failures = &self.failures[before];
            let why = match failures.last() {
                Some(last) => format!(
                    "{why}; its commit failed {} times, last: {last}",
                    failures.len()
                ),
                None => why,
            };
            report.violations.push(format!(
                "{} offsets {}..{} ({} of them) delivered by {} (from {}) again by {} (from {}) \
                 ({} {why})",
                name(p),
                u.from,
                u.to,
                u.count,
                self.members[before],
                u.before_at,
                self.members[after],
                u.after_at,
                self.members[before],
            ));
        }
        let end = self.produced.get(p).copied();
        let mut next = 0i64;
        let mut missing: Vec<(i64, i64)> = Vec::new();
        let mut extra: Vec<(i64, i64)> = Vec::new();
        for (&s, &(e, _)) in &painted {
            let produced_end = end.unwrap_or(0);
            if s > next && next < produced_end {
                missing.push((next, s.min(produced_end)));
            }
            if e > produced_end {
                extra.push((s.max(produced_end), e));
            }
            let within = e.min(produced_end) - s.min(produced_end);
            report.delivered += u64::try_from(within).unwrap_or(0);
            next = next.max(e);
        }
        if let Some(produced_end) = end {
            if next < produced_end {
                missing.push((next, produced_end));
            }
        }
        if !missing.is_empty() {
            let count: i64 = missing.iter().map(|(s, e)| e - s).sum();
            report.gaps += u64::try_from(count).unwrap_or(0);
            let shown: Vec<String> = missing
                .iter()
                .take(5)
                .map(|(s, e)| format!("{s}..{e}"))
                .collect();
            report.violations.push(format!(
                "{} never delivered {count} offsets: {}{}",
                name(p),
                shown.join(", "),
                if missing.len() > 5 { ", ..." } else { "" }
            ));
        }
        if !extra.is_empty() {
            report.violations.push(format!(
                "{} delivered offsets never produced: {extra:?}",
                name(p)
            ));
        }
        self.stall(p, report);
    }

    fn stall(&self, p: &Partition, report: &mut AuditReport) {
        let mut times: Vec<i64> = self
            .runs
            .get(p)
            .map(|rs| rs.iter().map(|r| r.at_ms).collect())
            .unwrap_or_default();
        times.sort_unstable();
        let longest = times.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0);
        let longest = Duration::from_millis(u64::try_from(longest).unwrap_or(0));
        if report
            .longest_stall
            .as_ref()
            .is_none_or(|(_, d)| longest > *d)
        {
            report.longest_stall = Some((p.clone(), longest));
        }
    }
}

#[cfg(test)]
#[path = "audit_tests.rs"]
mod tests;

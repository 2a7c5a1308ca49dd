//! [`DeliveryLedger`]: what was written and what was delivered, and a checker of the two.
//!
//! A test notes every acknowledged write ([`DeliveryLedger::written`]: partition, offset,
//! value) and every delivery, in the order the consumer delivered it
//! ([`DeliveryLedger::delivered`]). [`DeliveryLedger::check`] then counts, per partition and
//! in all, what a client must never do and what its semantics may allow:
//! - **lost**: written, never delivered;
//! - **duplicated**: delivered more than once;
//! - **skipped**: a delivery jumped past written offsets that were not delivered before it
//!   (a lost record the consumer moved past, not one it merely has not reached);
//! - **backwards**: a delivery at an offset below the one before it in the same partition
//!   (a non-monotonic poll: a rewind);
//! - **mismatched**: delivered with a value other than the one written there;
//! - **unwritten**: delivered at an offset no acknowledged write reported (records written
//!   but not acknowledged, or corrupt data delivered).
//!
//! [`Semantics`] says which of them a consumer kind allows: exactly-once (the direct stream
//! with its own store) allows none; at-least-once (a group consumer after a crash, a replay
//! from an older checkpoint) allows duplicates and the rewinds that bring them.
//!
//! Values are compared as bytes. Offsets are per (topic, partition).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// A partition: topic and index.
pub type PartitionKey = (String, i32);

/// What a consumer kind allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Semantics {
    /// Nothing lost, skipped, duplicated, rewound, mismatched or unwritten.
    ExactlyOnce,
    /// Nothing lost, skipped, mismatched or unwritten; duplicates and rewinds allowed.
    AtLeastOnce,
}

/// Every acknowledged write and every delivery of a test.
#[derive(Debug, Default, Clone)]
pub struct DeliveryLedger {
    written: BTreeMap<PartitionKey, BTreeMap<i64, Vec<u8>>>,
    delivered: BTreeMap<PartitionKey, Vec<(i64, Vec<u8>)>>,
    /// Written offsets the broker removed on purpose (compaction): not owed to the consumer.
    removed: BTreeMap<PartitionKey, BTreeSet<i64>>,
}

/// The counts of one partition, or of all (see the module doc for each).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Acknowledged writes.
    pub written: u64,
    /// Deliveries (duplicates included).
    pub delivered: u64,
    /// Written, never delivered.
    pub lost: u64,
    /// Deliveries beyond the first of an offset.
    pub duplicated: u64,
    /// Written offsets a delivery jumped past without delivering them before.
    pub skipped: u64,
    /// Deliveries below the offset delivered just before in the partition.
    pub backwards: u64,
    /// Deliveries whose value differs from the written one.
    pub mismatched: u64,
    /// Deliveries at offsets no acknowledged write reported.
    pub unwritten: u64,
}

impl Counts {
    fn add(&mut self, o: &Counts) {
        self.written += o.written;
        self.delivered += o.delivered;
        self.lost += o.lost;
        self.duplicated += o.duplicated;
        self.skipped += o.skipped;
        self.backwards += o.backwards;
        self.mismatched += o.mismatched;
        self.unwritten += o.unwritten;
    }

    /// Whether these counts hold under `semantics`.
    pub fn holds(&self, semantics: Semantics) -> bool {
        let never = self.lost + self.skipped + self.mismatched + self.unwritten;
        match semantics {
            Semantics::ExactlyOnce => never + self.duplicated + self.backwards == 0,
            Semantics::AtLeastOnce => never == 0,
        }
    }
}

impl fmt::Display for Counts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} written, {} delivered: {} lost, {} duplicated, {} skipped, {} backwards, \
             {} mismatched, {} unwritten",
            self.written,
            self.delivered,
            self.lost,
            self.duplicated,
            self.skipped,
            self.backwards,
            self.mismatched,
            self.unwritten
        )
    }
}

/// The checker's findings: counts per partition and in all, and the first offsets of each
/// violation (for the failure message).
#[derive(Debug, Default, Clone)]
pub struct Verdict {
    /// Counts per partition.
    pub partitions: BTreeMap<PartitionKey, Counts>,
    /// Counts over every partition.
    pub total: Counts,
    /// A few examples of violations, as text.
    pub examples: Vec<String>,
}

impl Verdict {
    /// Whether every partition holds under `semantics`.
    pub fn holds(&self, semantics: Semantics) -> bool {
        self.total.holds(semantics)
    }

    /// Panics with the findings unless they hold under `semantics`.
    pub fn assert_holds(&self, semantics: Semantics, what: &str) {
        assert!(
            self.holds(semantics),
            "{what}: {:?} does not hold: {}\n{}",
            semantics,
            self.total,
            self.examples.join("\n")
        );
    }
}

/// At most this many examples are kept.
const EXAMPLES: usize = 12;

impl DeliveryLedger {
    /// An empty ledger.
    pub fn new() -> DeliveryLedger {
        DeliveryLedger::default()
    }

    /// Notes an acknowledged write of `value` at `offset`.
    pub fn written(&mut self, topic: &str, partition: i32, offset: i64, value: impl AsRef<[u8]>) {
        self.written
            .entry((topic.to_owned(), partition))
            .or_default()
            .insert(offset, value.as_ref().to_vec());
    }

    /// Notes a delivery of `value` at `offset`, after every delivery noted before it.
    pub fn delivered(&mut self, topic: &str, partition: i32, offset: i64, value: impl AsRef<[u8]>) {
        self.delivered
            .entry((topic.to_owned(), partition))
            .or_default()
            .push((offset, value.as_ref().to_vec()));
    }

    /// Notes that the broker removed the written record at `offset` on purpose (compaction
    /// kept a later record of its key): a consumer that never delivers it lost nothing and
    /// skipped nothing. Delivered before it was removed, it is an ordinary delivery.
    pub fn removed(&mut self, topic: &str, partition: i32, offset: i64) {
        self.removed
            .entry((topic.to_owned(), partition))
            .or_default()
            .insert(offset);
    }

    /// How many deliveries were noted.
    pub fn delivered_count(&self) -> usize {
        self.delivered.values().map(Vec::len).sum()
    }

    /// Checks the deliveries against the writes.
    pub fn check(&self) -> Verdict {
        let mut verdict = Verdict::default();
        let keys: BTreeSet<&PartitionKey> =
            self.written.keys().chain(self.delivered.keys()).collect();
        let empty_w = BTreeMap::new();
        let empty_r = BTreeSet::new();
        for key in keys {
            let written = self.written.get(key).unwrap_or(&empty_w);
            let delivered = self.delivered.get(key).map_or(&[][..], Vec::as_slice);
            let removed = self.removed.get(key).unwrap_or(&empty_r);
            let counts = check_partition(key, written, removed, delivered, &mut verdict.examples);
            verdict.total.add(&counts);
            verdict.partitions.insert(key.clone(), counts);
        }
        verdict
    }
}

fn example(examples: &mut Vec<String>, line: impl FnOnce() -> String) {
    if examples.len() < EXAMPLES {
        examples.push(line());
    }
}

fn check_partition(
    key: &PartitionKey,
    written: &BTreeMap<i64, Vec<u8>>,
    removed: &BTreeSet<i64>,
    delivered: &[(i64, Vec<u8>)],
    examples: &mut Vec<String>,
) -> Counts {
    let (topic, partition) = key;
    let mut c = Counts {
        written: written.len() as u64,
        delivered: delivered.len() as u64,
        ..Counts::default()
    };
    let mut seen: BTreeSet<i64> = BTreeSet::new();
    let mut previous: Option<i64> = None;
    for (offset, value) in delivered {
        if !seen.insert(*offset) {
            c.duplicated += 1;
            example(examples, || {
                format!("{topic}-{partition}: offset {offset} delivered again")
            });
        }
        match written.get(offset) {
            Some(w) if w != value => {
                c.mismatched += 1;
                example(examples, || {
                    format!("{topic}-{partition}: offset {offset}: value differs")
                });
            }
            Some(_) => {}
            None => {
                c.unwritten += 1;
                example(examples, || {
                    format!("{topic}-{partition}: offset {offset} was never written")
                });
            }
        }
        if let Some(prev) = previous {
            if *offset < prev {
                c.backwards += 1;
                example(examples, || {
                    format!("{topic}-{partition}: {offset} delivered after {prev}")
                });
            } else {
                // Written offsets strictly between the two deliveries that were never
                // delivered before: the consumer moved past them.
                let jumped = written
                    .range(prev + 1..*offset)
                    .filter(|(o, _)| !seen.contains(o) && !removed.contains(o))
                    .count() as u64;
                if jumped > 0 {
                    c.skipped += jumped;
                    example(examples, || {
                        format!(
                            "{topic}-{partition}: {jumped} written offsets skipped between {prev} and {offset}"
                        )
                    });
                }
            }
        }
        previous = Some(*offset);
    }
    let lost: Vec<i64> = written
        .keys()
        .filter(|o| !seen.contains(o) && !removed.contains(o))
        .copied()
        .collect();
    c.lost = lost.len() as u64;
    if let (Some(first), Some(last)) = (lost.first(), lost.last()) {
        example(examples, || {
            format!(
                "{topic}-{partition}: {} written offsets never delivered ({first}..={last})",
                lost.len()
            )
        });
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ledger(written: &[i64], delivered: &[i64]) -> DeliveryLedger {
        let mut l = DeliveryLedger::new();
        for o in written {
            l.written("t", 0, *o, o.to_string());
        }
        for o in delivered {
            l.delivered("t", 0, *o, o.to_string());
        }
        l
    }

    #[test]
    fn every_offset_once_in_order_holds_exactly_once() {
        let v = ledger(&[0, 1, 2, 5], &[0, 1, 2, 5]).check();
        assert_eq!(v.total.delivered, 4);
        assert!(v.holds(Semantics::ExactlyOnce), "{}", v.total);
    }

    #[test]
    fn a_duplicate_after_a_rewind_is_only_at_least_once() {
        let v = ledger(&[0, 1, 2], &[0, 1, 2, 1, 2]).check();
        assert_eq!((v.total.duplicated, v.total.backwards), (2, 1));
        assert!(!v.holds(Semantics::ExactlyOnce));
        assert!(v.holds(Semantics::AtLeastOnce));
    }

    #[test]
    fn a_skip_is_counted_apart_from_what_was_not_reached() {
        let v = ledger(&[0, 1, 2, 3, 4], &[0, 3]).check();
        assert_eq!(v.total.skipped, 2, "1 and 2 jumped over");
        assert_eq!(v.total.lost, 3, "1, 2 and 4 never delivered");
        assert!(!v.holds(Semantics::AtLeastOnce));
    }

    #[test]
    fn a_changed_value_and_an_unwritten_offset_never_hold() {
        let mut l = ledger(&[0, 1], &[0]);
        l.delivered("t", 0, 1, "other");
        l.delivered("t", 0, 9, "9");
        let v = l.check();
        assert_eq!((v.total.mismatched, v.total.unwritten), (1, 1));
        assert!(!v.holds(Semantics::AtLeastOnce));
        assert!(v.examples.iter().any(|e| e.contains("never written")));
    }

    #[test]
    fn records_removed_by_compaction_are_not_owed() {
        let mut l = ledger(&[0, 1, 2, 3], &[0, 3]);
        l.removed("t", 0, 1);
        l.removed("t", 0, 2);
        let v = l.check();
        assert!(v.holds(Semantics::ExactlyOnce), "{}", v.total);
    }

    #[test]
    #[should_panic(expected = "does not hold")]
    fn assert_holds_fails_with_the_findings() {
        ledger(&[0, 1], &[0])
            .check()
            .assert_holds(Semantics::ExactlyOnce, "test");
    }
}

//! A [`Ledger`] of which offsets were delivered to which member, for checking that every
//! produced offset was delivered, and how often.

use std::collections::BTreeMap;
use std::ops::Range;

use super::{GroupPeer, Partition, PeerEvent, lock};

/// One delivery of one offset to one member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The member it was delivered to (a [`GroupPeer::label`] or a name the test chose).
    pub member: String,
    /// The member's group generation then (-1 when unknown).
    pub generation: i32,
    /// When the member had processed it (ms since the Unix epoch, its wall clock).
    pub at_ms: i64,
}

/// Which offsets were delivered to whom, across the members of a group (peers and gregor's
/// own consumers alike): for checking that every produced offset was delivered, and how often.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ledger {
    seen: BTreeMap<Partition, BTreeMap<i64, Vec<Delivery>>>,
}

impl Ledger {
    /// An empty ledger.
    pub fn new() -> Ledger {
        Ledger::default()
    }

    /// Records that `member` processed `offset` of `topic`'s `partition`.
    pub fn record(
        &mut self,
        member: &str,
        topic: &str,
        partition: i32,
        offset: i64,
        generation: i32,
        at_ms: i64,
    ) {
        self.seen
            .entry((topic.to_owned(), partition))
            .or_default()
            .entry(offset)
            .or_default()
            .push(Delivery {
                member: member.to_owned(),
                generation,
                at_ms,
            });
    }

    /// Records every offset of the [`PeerEvent::Records`] in `events` as delivered to `member`.
    pub fn add_events(&mut self, member: &str, events: &[PeerEvent]) {
        for event in events {
            if let PeerEvent::Records {
                topic,
                partition,
                generation,
                at_ms,
                offsets,
                ..
            } = event
            {
                for offset in offsets {
                    self.record(member, topic, *partition, *offset, *generation, *at_ms);
                }
            }
        }
    }

    /// Records what `peer` processed so far, under its label.
    pub fn add_peer(&mut self, peer: &GroupPeer) {
        self.add_events(peer.label(), &lock(&peer.log.state).events);
    }

    /// The deliveries of one offset, in the order recorded.
    pub fn deliveries(&self, topic: &str, partition: i32, offset: i64) -> &[Delivery] {
        self.seen
            .get(&(topic.to_owned(), partition))
            .and_then(|p| p.get(&offset))
            .map_or(&[], Vec::as_slice)
    }

    /// The offsets in `offsets` of `topic`'s `partition` that nobody was delivered.
    pub fn missing(&self, topic: &str, partition: i32, offsets: Range<i64>) -> Vec<i64> {
        let seen = self.seen.get(&(topic.to_owned(), partition));
        offsets
            .filter(|o| seen.is_none_or(|s| !s.contains_key(o)))
            .collect()
    }

    /// The offsets delivered more than once, with their deliveries.
    pub fn duplicates(&self) -> Vec<(Partition, i64, Vec<Delivery>)> {
        self.seen
            .iter()
            .flat_map(|(tp, offsets)| {
                offsets
                    .iter()
                    .filter(|(_, ds)| ds.len() > 1)
                    .map(|(o, ds)| (tp.clone(), *o, ds.clone()))
            })
            .collect()
    }

    /// How many distinct offsets were delivered.
    pub fn len(&self) -> usize {
        self.seen.values().map(BTreeMap::len).sum()
    }

    /// Whether nothing was delivered.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(t: &str, p: i32) -> Partition {
        (t.to_owned(), p)
    }

    #[test]
    fn the_ledger_finds_gaps_and_duplicates() {
        let mut ledger = Ledger::new();
        ledger.add_events("a", &[PeerEvent::parse("records t 0 0 4 5 1 100")]);
        ledger.add_events("b", &[PeerEvent::parse("records t 0 4 7 3 2 200 4 6 7")]);
        assert_eq!(ledger.missing("t", 0, 0..9), [5, 8]);
        assert_eq!(ledger.missing("t", 1, 0..2), [0, 1]);
        let dups = ledger.duplicates();
        assert_eq!(dups.len(), 1);
        assert_eq!((dups[0].0.clone(), dups[0].1), (tp("t", 0), 4));
        assert_eq!(ledger.deliveries("t", 0, 4).len(), 2);
        assert_eq!(ledger.len(), 7);
    }
}

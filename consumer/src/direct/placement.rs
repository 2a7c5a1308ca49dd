//! Placement of partitions on worker tasks.
//!
//! A direct-stream batch is processed by `N` workers; [`Placement::assign`]
//! decides which worker handles which [`TopicPartition`]. Everything here is
//! deterministic: the same inputs always give the same assignment, on every
//! machine and every run (hashing is FNV-1a 64 with a fixed finaliser, never
//! `std`'s randomly seeded hasher).

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

use std::collections::{BTreeMap, BTreeSet};

use gregor_protocol::TopicPartition;

/// The partitions of each worker: index `w` holds worker `w`'s partitions,
/// sorted.
pub type Assignment = Vec<Vec<TopicPartition>>;

/// How partitions are placed on workers.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Placement {
    /// Rendezvous (highest-random-weight) hashing with bounded loads.
    ///
    /// Guarantees, for any set of `P` distinct partitions and `N` workers:
    /// every worker gets `floor(P/N)` or `ceil(P/N)` partitions (balanced
    /// within one), and the result depends only on the set of partitions and
    /// `N`. Each partition goes to the highest-ranked worker in its own hash
    /// ranking that still has room, so when the partition set is unchanged
    /// and a worker is added, most partitions stay put: about `1/(N+1)` move
    /// to the new worker plus a small number displaced by the tighter load
    /// bound (measured: at most `1/(N+1) + 5%` of `P` for `N` in 2..=16 and
    /// `P` in 100..=1000; the tests check `+ 6%`).
    Consistent,
    /// Partitions with the same leader broker go to the same worker.
    ///
    /// The map gives each partition's leader broker id. Leader groups are
    /// placed largest first on the least-loaded worker (ties: lowest worker
    /// index), so with at most `N` leaders every leader has a worker of its
    /// own. Partitions whose leader is unknown are then placed one by one on
    /// the least-loaded worker.
    ByLeader(BTreeMap<TopicPartition, i32>),
    /// A user-given map from partition to worker index; partitions not in the
    /// map are placed by the fallback placement (which balances only the
    /// partitions it is given).
    Fixed(BTreeMap<TopicPartition, usize>, Box<Placement>),
}

/// Errors of [`Placement::assign`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PlacementError {
    /// There are no workers to place partitions on.
    #[error("cannot place partitions on zero workers")]
    NoWorkers,
    /// A [`Placement::Fixed`] map names a worker index that does not exist.
    #[error("{topic}/{partition} is mapped to worker {worker}, but there are only {workers}")]
    WorkerOutOfRange {
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// The mapped worker index.
        worker: usize,
        /// The number of workers.
        workers: usize,
    },
}

impl Placement {
    /// Places `partitions` (duplicates are ignored) on `workers` workers.
    ///
    /// Returns one sorted list per worker; every given partition appears in
    /// exactly one list. With no partitions every list is empty.
    pub fn assign(
        &self,
        partitions: &[TopicPartition],
        workers: usize,
    ) -> Result<Assignment, PlacementError> {
        if workers == 0 {
            return Err(PlacementError::NoWorkers);
        }
        let set: BTreeSet<TopicPartition> = partitions.iter().cloned().collect();
        let mut out = self.assign_set(set, workers)?;
        for list in &mut out {
            list.sort();
        }
        Ok(out)
    }

    fn assign_set(
        &self,
        partitions: BTreeSet<TopicPartition>,
        workers: usize,
    ) -> Result<Assignment, PlacementError> {
        match self {
            Placement::Consistent => Ok(consistent(partitions, workers)),
            Placement::ByLeader(leaders) => Ok(by_leader(partitions, leaders, workers)),
            Placement::Fixed(map, fallback) => {
                let mut out = vec![Vec::new(); workers];
                let mut rest = BTreeSet::new();
                for key in partitions {
                    match map.get(&key) {
                        Some(&w) if w < workers => out[w].push(key),
                        Some(&w) => {
                            return Err(PlacementError::WorkerOutOfRange {
                                topic: key.topic.to_string(),
                                partition: key.partition,
                                worker: w,
                                workers,
                            });
                        }
                        None => {
                            rest.insert(key);
                        }
                    }
                }
                let placed = fallback.assign_set(rest, workers)?;
                for (list, more) in out.iter_mut().zip(placed) {
                    list.extend(more);
                }
                Ok(out)
            }
        }
    }
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a 64 over `bytes`, continuing from `state`.
fn fnv1a(mut state: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        state ^= u64::from(b);
        state = state.wrapping_mul(FNV_PRIME);
    }
    state
}

/// SplitMix64 finaliser: FNV alone leaves inputs that differ only in the last
/// bytes (worker indices) with correlated high bits.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Stable hash of a partition key (topic length-prefixed, so keys cannot
/// collide by concatenation).
fn key_hash(key: &TopicPartition) -> u64 {
    let mut h = fnv1a(FNV_OFFSET, &(key.topic.len() as u64).to_le_bytes());
    h = fnv1a(h, key.topic.as_bytes());
    fnv1a(h, &key.partition.to_le_bytes())
}

/// The rendezvous weight of `worker` for a partition with hash `key_hash`.
fn weight(key_hash: u64, worker: usize) -> u64 {
    mix(fnv1a(key_hash, &(worker as u64).to_le_bytes()))
}

fn consistent(partitions: BTreeSet<TopicPartition>, workers: usize) -> Assignment {
    let total = partitions.len();
    let base = total / workers;
    let extra = total % workers;
    // Placement order: by key hash, so that which partitions get displaced by
    // the load bound does not depend on topic names or partition numbering.
    let mut keyed: Vec<(u64, TopicPartition)> = partitions
        .into_iter()
        .map(|k| (mix(key_hash(&k)), k))
        .collect();
    keyed.sort();
    let mut out: Assignment = vec![Vec::new(); workers];
    let mut full = 0usize; // workers that reached base + 1
    let mut ranking: Vec<(u64, usize)> = Vec::with_capacity(workers);
    for (_, key) in keyed {
        let h = key_hash(&key);
        ranking.clear();
        ranking.extend((0..workers).map(|w| (weight(h, w), w)));
        // Highest weight first; ties by lowest index.
        ranking.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        // Room always exists: remaining capacity >= remaining partitions.
        let chosen = ranking.iter().map(|&(_, w)| w).find(|&w| {
            let load = out[w].len();
            load < base || (load == base && full < extra)
        });
        if let Some(w) = chosen {
            if out[w].len() == base {
                full += 1;
            }
            out[w].push(key);
        }
    }
    out
}

/// Index of the least-loaded worker, lowest index on ties.
fn least_loaded(out: &Assignment) -> usize {
    let mut best = 0;
    for (w, list) in out.iter().enumerate() {
        if list.len() < out[best].len() {
            best = w;
        }
    }
    best
}

fn by_leader(
    partitions: BTreeSet<TopicPartition>,
    leaders: &BTreeMap<TopicPartition, i32>,
    workers: usize,
) -> Assignment {
    let mut groups: BTreeMap<i32, Vec<TopicPartition>> = BTreeMap::new();
    let mut unknown = Vec::new();
    for key in partitions {
        match leaders.get(&key) {
            Some(&leader) => groups.entry(leader).or_default().push(key),
            None => unknown.push(key),
        }
    }
    let mut groups: Vec<(i32, Vec<TopicPartition>)> = groups.into_iter().collect();
    // Largest group first, then by leader id (stable: ids are unique).
    groups.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(&b.0)));
    let mut out: Assignment = vec![Vec::new(); workers];
    for (_, group) in groups {
        let w = least_loaded(&out);
        out[w].extend(group);
    }
    for key in unknown {
        let w = least_loaded(&out);
        out[w].push(key);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_reference_vectors() {
        // Published FNV-1a 64 test vectors.
        assert_eq!(fnv1a(FNV_OFFSET, b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(FNV_OFFSET, b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(FNV_OFFSET, b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn zero_workers_refused() {
        assert_eq!(
            Placement::Consistent.assign(&[], 0),
            Err(PlacementError::NoWorkers)
        );
    }

    #[test]
    fn duplicates_ignored() {
        let k = TopicPartition::new("t", 1);
        let a = Placement::Consistent
            .assign(&[k.clone(), k.clone()], 3)
            .unwrap();
        assert_eq!(a.iter().map(Vec::len).sum::<usize>(), 1);
    }
}

//! Choosing a record's partition.
//!
//! - Keyed records: Kafka's Java client hashes the key with its 32-bit MurmurHash2 variant
//!   ([`murmur2`]), clears the sign bit ([`to_positive`]) and takes the remainder by the topic's
//!   partition count — over *all* partitions, available or not, so a key always maps to the same
//!   partition while the count is unchanged. librdkafka's `murmur2_random` partitioner does the
//!   same (its default, `consistent_random`, hashes with CRC32 instead and maps differently).
//! - Records without a key: the sticky partitioner of KIP-480. It keeps sending a topic's
//!   keyless records to one partition until a batch for that partition is complete, then picks
//!   another uniformly among the available partitions (those with a leader), avoiding the
//!   previous one when there is a choice. Fewer, larger batches come out than with round-robin.
//!   (KIP-794's adaptive variant, which switches after `batch.size` bytes and weighs brokers by
//!   queue length, is not implemented.)
//! - Anything else: implement [`Partitioner`].
//!
//! How the producer drives the sticky choice: it asks [`Partitioner::partition`]; if appending
//! the record there would start a new batch ([`Accumulator::starts_new_batch`]), it calls
//! [`Partitioner::on_new_batch`] with that partition and asks again, so the record that opens a
//! batch opens it on the newly chosen partition — KIP-480's "abort on new batch" step.
//!
//! [`Accumulator::starts_new_batch`]: super::Accumulator::starts_new_batch

use std::collections::HashMap;
use std::sync::Arc;

/// Kafka's 32-bit MurmurHash2 of `data` (seed `0x9747b28c`), as the Java client's
/// `Utils.murmur2` computes it: 4-byte little-endian blocks, then the 1 to 3 tail bytes, each
/// taken as an unsigned byte, then the final avalanche.
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;

    // Java works on a signed `int` length; the hash only ever uses its low 32 bits.
    let mut h = SEED ^ (data.len() as u32);
    let mut blocks = data.chunks_exact(4);
    for block in &mut blocks {
        let mut k = u32::from_le_bytes([block[0], block[1], block[2], block[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = blocks.remainder();
    if tail.len() == 3 {
        h ^= u32::from(tail[2]) << 16;
    }
    if tail.len() >= 2 {
        h ^= u32::from(tail[1]) << 8;
    }
    if let Some(&first) = tail.first() {
        h ^= u32::from(first);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// Clears the sign bit, as Kafka's `Utils.toPositive` does (`h & 0x7fffffff`; not `abs`).
pub fn to_positive(h: i32) -> i32 {
    h & 0x7fff_ffff
}

/// The partition Kafka's default partitioner gives a keyed record: `to_positive(murmur2(key)) %
/// partition_count`. `None` when the topic has no partitions.
pub fn partition_for_key(key: &[u8], partition_count: i32) -> Option<i32> {
    (partition_count > 0).then(|| to_positive(murmur2(key)) % partition_count)
}

/// What a partitioner knows about a topic's partitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopicPartitions<'a> {
    /// How many partitions the topic has (0 while unknown).
    pub count: i32,
    /// The partitions that currently have a leader, in any order.
    pub available: &'a [i32],
}

impl<'a> TopicPartitions<'a> {
    /// A topic of `count` partitions of which `available` have a leader.
    pub fn new(count: i32, available: &'a [i32]) -> Self {
        Self { count, available }
    }
}

/// Chooses a partition for each record.
///
/// The producer checks the answer against the topic's partition count and fails the record if it
/// is out of range.
pub trait Partitioner: Send {
    /// The partition for a record of `topic`, or `None` if the topic has no partitions.
    fn partition(
        &mut self,
        topic: &str,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        partitions: &TopicPartitions<'_>,
    ) -> Option<i32>;

    /// A record sent to `previous` is about to open a new batch there. Sticky partitioners move
    /// on; the default does nothing.
    fn on_new_batch(&mut self, topic: &str, partitions: &TopicPartitions<'_>, previous: i32) {
        let _ = (topic, partitions, previous);
    }
}

/// A small, fast, seedable generator (SplitMix64): partition choice needs spread, not secrecy.
#[derive(Debug, Clone)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`), by multiply-shift.
    fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }
}

/// KIP-480's sticky partitioner for records without a key (it ignores keys).
#[derive(Debug, Clone)]
pub struct StickyPartitioner {
    current: HashMap<Arc<str>, i32>,
    rng: SplitMix64,
}

impl Default for StickyPartitioner {
    fn default() -> Self {
        Self::new()
    }
}

impl StickyPartitioner {
    /// A sticky partitioner seeded from the operating system's randomness (or a fixed seed if
    /// that fails: the choice then repeats between runs, which harms nothing but spread).
    pub fn new() -> Self {
        let mut seed = [0u8; 8];
        if getrandom::fill(&mut seed).is_err() {
            tracing::debug!("no OS randomness for the sticky partitioner; using a fixed seed");
            seed = 0x5eed_0f9e_e90a_u64.to_le_bytes();
        }
        Self::with_seed(u64::from_le_bytes(seed))
    }

    /// A sticky partitioner whose choices are fixed by `seed` (for tests).
    pub fn with_seed(seed: u64) -> Self {
        Self {
            current: HashMap::new(),
            rng: SplitMix64(seed),
        }
    }

    /// The topic's sticky partition, chosen now if it has none (or its old one no longer
    /// exists). `None` if the topic has no partitions.
    pub fn sticky_partition(
        &mut self,
        topic: &str,
        partitions: &TopicPartitions<'_>,
    ) -> Option<i32> {
        if partitions.count <= 0 {
            return None;
        }
        match self.current.get(topic) {
            Some(&p) if p < partitions.count => Some(p),
            _ => {
                let p = self.choose(partitions, None);
                self.current.insert(Arc::from(topic), p);
                Some(p)
            }
        }
    }

    /// Moves the topic's sticky partition off `previous` (if it is still there): to a random
    /// available partition other than `previous` when there is one, else to the only available
    /// one, else to a random partition of the topic.
    pub fn next_batch(&mut self, topic: &str, partitions: &TopicPartitions<'_>, previous: i32) {
        if partitions.count <= 0 {
            return;
        }
        let current = self.current.get(topic).copied();
        if current.is_some_and(|p| p != previous && p < partitions.count) {
            return; // already moved on since `previous` was handed out
        }
        let p = self.choose(partitions, Some(previous));
        tracing::trace!(topic, previous, next = p, "sticky partition moves on");
        self.current.insert(Arc::from(topic), p);
    }

    fn choose(&mut self, partitions: &TopicPartitions<'_>, avoid: Option<i32>) -> i32 {
        let available: Vec<i32> = partitions
            .available
            .iter()
            .copied()
            .filter(|&p| (0..partitions.count).contains(&p))
            .collect();
        match available.len() {
            0 => {
                // No leader known anywhere: any partition, not necessarily a different one.
                let n = usize::try_from(partitions.count).unwrap_or(1).max(1);
                i32::try_from(self.rng.below(n)).unwrap_or(0)
            }
            1 => available[0],
            n => match avoid.and_then(|a| available.iter().position(|&p| p == a)) {
                // Uniform over the others: draw among n - 1 slots and skip the avoided one.
                Some(skip) => {
                    let i = self.rng.below(n - 1);
                    available[if i >= skip { i + 1 } else { i }]
                }
                None => available[self.rng.below(n)],
            },
        }
    }
}

impl Partitioner for StickyPartitioner {
    fn partition(
        &mut self,
        topic: &str,
        _key: Option<&[u8]>,
        _value: Option<&[u8]>,
        partitions: &TopicPartitions<'_>,
    ) -> Option<i32> {
        self.sticky_partition(topic, partitions)
    }

    fn on_new_batch(&mut self, topic: &str, partitions: &TopicPartitions<'_>, previous: i32) {
        self.next_batch(topic, partitions, previous);
    }
}

/// Kafka's default: murmur2 of the key over all partitions for keyed records, the sticky
/// partitioner for the rest.
#[derive(Debug, Clone, Default)]
pub struct DefaultPartitioner {
    sticky: StickyPartitioner,
}

impl DefaultPartitioner {
    /// The default partitioner, its sticky part seeded from the OS.
    pub fn new() -> Self {
        Self::default()
    }

    /// The default partitioner with a seeded sticky part (for tests).
    pub fn with_seed(seed: u64) -> Self {
        Self {
            sticky: StickyPartitioner::with_seed(seed),
        }
    }
}

impl Partitioner for DefaultPartitioner {
    fn partition(
        &mut self,
        topic: &str,
        key: Option<&[u8]>,
        _value: Option<&[u8]>,
        partitions: &TopicPartitions<'_>,
    ) -> Option<i32> {
        match key {
            Some(key) => partition_for_key(key, partitions.count),
            None => self.sticky.sticky_partition(topic, partitions),
        }
    }

    fn on_new_batch(&mut self, topic: &str, partitions: &TopicPartitions<'_>, previous: i32) {
        self.sticky.next_batch(topic, partitions, previous);
    }
}

/// Every record, keyed or not, to the next partition of its topic in turn: among the
/// partitions that have a leader when there are any, else among all (Java's
/// `RoundRobinPartitioner`, without its habit of skipping a partition when a batch fills).
#[derive(Debug, Clone, Default)]
pub struct RoundRobinPartitioner {
    next: HashMap<Arc<str>, u32>,
}

impl RoundRobinPartitioner {
    /// A round-robin partitioner; each topic starts at its first partition.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Partitioner for RoundRobinPartitioner {
    fn partition(
        &mut self,
        topic: &str,
        _key: Option<&[u8]>,
        _value: Option<&[u8]>,
        partitions: &TopicPartitions<'_>,
    ) -> Option<i32> {
        if partitions.count <= 0 {
            return None;
        }
        let counter = match self.next.get_mut(topic) {
            Some(c) => c,
            None => self.next.entry(Arc::from(topic)).or_insert(0),
        };
        let turn = *counter;
        *counter = counter.wrapping_add(1);
        let available: Vec<i32> = partitions
            .available
            .iter()
            .copied()
            .filter(|&p| (0..partitions.count).contains(&p))
            .collect();
        if available.is_empty() {
            let count = u32::try_from(partitions.count).unwrap_or(1);
            i32::try_from(turn % count).ok()
        } else {
            let len = u32::try_from(available.len()).unwrap_or(u32::MAX);
            available.get(usize::try_from(turn % len).ok()?).copied()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_utils_test_vectors() {
        // Kafka's own UtilsTest.testMurmur2 cases.
        assert_eq!(murmur2(b"21"), -973_932_308);
        assert_eq!(murmur2(b"foobar"), -790_332_482);
        assert_eq!(murmur2(b"a-little-bit-long-string"), -985_981_536);
        assert_eq!(murmur2(b"a-little-bit-longer-string"), -1_486_304_829);
        assert_eq!(
            murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"),
            -58_897_971
        );
        assert_eq!(murmur2(b"abc"), 479_470_107);
    }

    #[test]
    fn to_positive_masks_instead_of_negating() {
        assert_eq!(to_positive(-1), i32::MAX);
        assert_eq!(to_positive(i32::MIN), 0);
        assert_eq!(to_positive(5), 5);
    }

    #[test]
    fn avoid_draws_uniformly_among_the_others() {
        let mut rng = StickyPartitioner::with_seed(7);
        let parts = TopicPartitions::new(4, &[0, 1, 2, 3]);
        let mut seen = [0u32; 4];
        for _ in 0..4000 {
            seen[rng.choose(&parts, Some(2)) as usize] += 1;
        }
        assert_eq!(seen[2], 0);
        for (p, &n) in seen.iter().enumerate().filter(|&(p, _)| p != 2) {
            assert!((1000..1700).contains(&n), "partition {p} chosen {n} times");
        }
    }
}

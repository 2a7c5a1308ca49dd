//! The few behaviours of Java's collections that decide what Kafka's sticky assignors output.
//!
//! Java's `AbstractStickyAssignor` walks `java.util.HashMap`s and `HashSet`s where the order of
//! the walk changes the answer: which member is looked at first when two claim a partition,
//! which members keep one partition more than the others, which partition of a set of moved
//! ones is moved back. To answer as Java does, the assignors here walk the same collections in
//! the same order, and that order is a function of `hashCode()`, the table's capacity and the
//! order of insertion. This module reproduces those three:
//!
//! - [`string_hash`] and [`topic_partition_hash`] are `String.hashCode()` and
//!   `TopicPartition.hashCode()`;
//! - [`JavaHashTable`] is a `HashMap` created with `new HashMap<>()` reduced to its keys: the
//!   same bucket index (`(h ^ h >>> 16) & (capacity - 1)`), the same growth (16 buckets,
//!   doubled when the size passes three quarters of the capacity or when a bucket of a table
//!   smaller than 64 grows past 8 entries), entries of a bucket kept in insertion order, so its
//!   iteration order is Java's;
//! - [`string_cmp`] is `String.compareTo` (UTF-16 code units), the order of Java's sorted
//!   collections of strings.
//!
//! Not reproduced: a bucket of a table of 64 or more buckets that grows past 8 entries becomes a
//! red-black tree in Java, whose walk puts the tree's root first. Keys here spread well enough
//! that this takes adversarial ids.

use std::cmp::Ordering;

/// Buckets of a table created with `new HashMap<>()`, at its first insertion.
const DEFAULT_CAPACITY: usize = 16;
/// Entries a bucket holds before Java turns it into a tree (or, in a small table, grows it).
const TREEIFY_THRESHOLD: usize = 8;
/// The capacity under which a long bucket makes Java grow the table instead of a tree.
const MIN_TREEIFY_CAPACITY: usize = 64;

/// `String.hashCode()`: the UTF-16 code units folded with 31, wrapping.
pub(super) fn string_hash(s: &str) -> i32 {
    s.encode_utf16().fold(0i32, |h, unit| {
        h.wrapping_mul(31).wrapping_add(i32::from(unit))
    })
}

/// `String.compareTo`: the UTF-16 code units compared in order, a prefix first.
pub(super) fn string_cmp(a: &str, b: &str) -> Ordering {
    if a.is_ascii() && b.is_ascii() {
        a.as_bytes().cmp(b.as_bytes())
    } else {
        a.encode_utf16().cmp(b.encode_utf16())
    }
}

/// `TopicPartition.hashCode()` from the topic's `String.hashCode()`.
pub(super) fn topic_partition_hash(topic_hash: i32, partition: i32) -> i32 {
    31i32
        .wrapping_mul(31i32.wrapping_add(partition))
        .wrapping_add(topic_hash)
}

/// `HashMap.hash`: the high half of the hash folded into the low half.
fn spread(hash: i32) -> u32 {
    let h = hash as u32;
    h ^ (h >> 16)
}

/// The keys of a `java.util.HashMap` (or `HashSet`) created with its default constructor, in
/// the buckets Java puts them in, so that [`iter`](Self::iter) walks them in Java's order.
#[derive(Debug, Clone)]
pub(super) struct JavaHashTable<K> {
    /// One vector per bucket, entries in insertion order, each with its spread hash. Empty
    /// until the first insertion, as Java allocates its table lazily.
    buckets: Vec<Vec<(u32, K)>>,
    /// The number of keys.
    len: usize,
    /// The size past which the table doubles (three quarters of the capacity).
    threshold: usize,
}

impl<K: PartialEq> JavaHashTable<K> {
    /// An empty table, as `new HashMap<>()`.
    pub(super) fn new() -> Self {
        JavaHashTable {
            buckets: Vec::new(),
            len: 0,
            threshold: 0,
        }
    }

    /// Whether the table holds no key.
    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds `key` (whose Java `hashCode()` is `hash`) as `put` does; false if it was there.
    pub(super) fn insert(&mut self, hash: i32, key: K) -> bool {
        if self.buckets.is_empty() {
            self.buckets = (0..DEFAULT_CAPACITY).map(|_| Vec::new()).collect();
            self.threshold = DEFAULT_CAPACITY / 4 * 3;
        }
        let h = spread(hash);
        let index = h as usize & (self.buckets.len() - 1);
        let Some(bucket) = self.buckets.get_mut(index) else {
            return false;
        };
        if bucket.iter().any(|(eh, k)| *eh == h && *k == key) {
            return false;
        }
        bucket.push((h, key));
        // Java appends, then turns a bucket of more than 8 entries into a tree; a table too
        // small for trees is doubled instead.
        if bucket.len() > TREEIFY_THRESHOLD && self.buckets.len() < MIN_TREEIFY_CAPACITY {
            self.grow();
        }
        self.len += 1;
        if self.len > self.threshold {
            self.grow();
        }
        true
    }

    /// Removes `key` (whose Java `hashCode()` is `hash`); false if it was not there. Java never
    /// shrinks a table, and neither does this.
    pub(super) fn remove(&mut self, hash: i32, key: &K) -> bool {
        if self.buckets.is_empty() {
            return false;
        }
        let h = spread(hash);
        let index = h as usize & (self.buckets.len() - 1);
        let Some(bucket) = self.buckets.get_mut(index) else {
            return false;
        };
        match bucket.iter().position(|(eh, k)| *eh == h && k == key) {
            Some(at) => {
                bucket.remove(at);
                self.len -= 1;
                true
            }
            None => false,
        }
    }

    /// The key Java's iterator returns first.
    pub(super) fn first(&self) -> Option<&K> {
        self.iter().next()
    }

    /// The keys in Java's iteration order.
    pub(super) fn iter(&self) -> impl Iterator<Item = &K> {
        self.buckets.iter().flat_map(|b| b.iter().map(|(_, k)| k))
    }

    /// Doubles the capacity as `HashMap.resize` does: each bucket splits into the same index
    /// and the index plus the old capacity, keeping the order of its entries.
    fn grow(&mut self) {
        let capacity = self.buckets.len() * 2;
        let mut buckets: Vec<Vec<(u32, K)>> = (0..capacity).map(|_| Vec::new()).collect();
        for (h, key) in std::mem::take(&mut self.buckets).into_iter().flatten() {
            if let Some(bucket) = buckets.get_mut(h as usize & (capacity - 1)) {
                bucket.push((h, key));
            }
        }
        self.buckets = buckets;
        self.threshold *= 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_as_java_does() {
        // Values from a JVM: "".hashCode(), "a".hashCode(), "consumer-1".hashCode(), ...
        assert_eq!(string_hash(""), 0);
        assert_eq!(string_hash("a"), 97);
        assert_eq!(string_hash("abc"), 96354);
        assert_eq!(string_hash("hello world"), 1794106052);
        // Wraps like Java's int arithmetic.
        assert_eq!(string_hash("polygenelubricants"), i32::MIN);
        // Code units, not code points: U+1F600 is two units.
        assert_eq!(string_hash("\u{1F600}"), 0xD83D * 31 + 0xDE00);
        // new TopicPartition("a", 0).hashCode() == 31 * 31 + 97
        assert_eq!(topic_partition_hash(97, 0), 31 * 31 + 97);
        assert_eq!(topic_partition_hash(97, 2), 31 * 33 + 97);
    }

    #[test]
    fn compares_utf16_units() {
        assert_eq!(string_cmp("a", "b"), Ordering::Less);
        assert_eq!(string_cmp("ab", "a"), Ordering::Greater);
        // U+FF61 sorts after U+1F600 in UTF-8 order, before it in UTF-16 (0xFF61 > 0xD83D).
        assert_eq!(string_cmp("\u{FF61}", "\u{1F600}"), Ordering::Greater);
        assert_eq!("\u{FF61}".cmp("\u{1F600}"), Ordering::Less);
    }

    #[test]
    fn iterates_by_bucket_then_insertion() {
        // Hashes 1, 17, 2 in a 16-bucket table: buckets 1, 1, 2.
        let mut t = JavaHashTable::new();
        assert!(t.insert(17, "b"));
        assert!(t.insert(2, "c"));
        assert!(t.insert(1, "a"));
        assert!(!t.insert(1, "a"));
        assert_eq!(t.iter().copied().collect::<Vec<_>>(), ["b", "a", "c"]);
        assert_eq!(t.first(), Some(&"b"));
        assert!(t.remove(17, &"b"));
        assert!(!t.remove(17, &"b"));
        assert_eq!(t.iter().copied().collect::<Vec<_>>(), ["a", "c"]);
        assert_eq!(t.iter().count(), 2);
    }

    #[test]
    fn grows_past_three_quarters_and_on_long_buckets() {
        // 12 keys, then a 13th: it passes the threshold of 12 and the table doubles to 32, so the hash
        // 16 no longer shares bucket 0 with the hash 0.
        let mut t = JavaHashTable::new();
        for h in [16, 0].into_iter().chain(1..11) {
            t.insert(h, h);
        }
        assert_eq!(t.iter().copied().take(2).collect::<Vec<_>>(), [16, 0]);
        t.insert(11, 11);
        assert_eq!(t.iter().copied().take(2).collect::<Vec<_>>(), [0, 1]);
        // Nine keys in one bucket of a 16-bucket table make Java double it.
        let mut t = JavaHashTable::new();
        for i in 0..9 {
            t.insert(i * 16, i * 16);
        }
        assert_eq!(t.buckets.len(), 32);
        assert_eq!(t.first(), Some(&0));
        assert_eq!(t.iter().nth(5), Some(&16));
    }
}

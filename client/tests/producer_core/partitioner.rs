//! murmur2 vectors, the golden key -> partition mapping from librdkafka, and the sticky
//! partitioner.

use std::collections::{BTreeSet, HashMap};

use gregor_client::producer::partitioner::partition_for_key;
use gregor_client::producer::{
    Accumulator, BatchRecord, DefaultPartitioner, Partitioner, StickyPartitioner, TopicPartitions,
    murmur2, to_positive,
};

use super::{config, record, t0, tp};

fn fixture() -> serde_json::Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/partitions/partitions.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("json")
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

#[test]
fn murmur2_matches_kafka_utils_test() {
    // Kafka's UtilsTest.testMurmur2 cases.
    let cases: [(&[u8], i32); 6] = [
        (b"21", -973_932_308),
        (b"foobar", -790_332_482),
        (b"a-little-bit-long-string", -985_981_536),
        (b"a-little-bit-longer-string", -1_486_304_829),
        (
            b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
            -58_897_971,
        ),
        (b"abc", 479_470_107),
    ];
    for (key, hash) in cases {
        assert_eq!(murmur2(key), hash, "{:?}", String::from_utf8_lossy(key));
    }
}

#[test]
fn murmur2_matches_the_fixture_script() {
    // Values from generate.py's own murmur2 (checked there against every librdkafka mapping):
    // the empty key, every tail length 0-3, multi-byte and high-bit bytes.
    let doc = fixture();
    let vectors = doc["murmur2"].as_array().expect("murmur2 vectors");
    assert!(vectors.len() >= 16);
    let mut tails = BTreeSet::new();
    for v in vectors {
        let key = hex(v["key_hex"].as_str().expect("key_hex"));
        let want = i32::try_from(v["murmur2"].as_i64().expect("murmur2")).expect("i32");
        assert_eq!(murmur2(&key), want, "key {}", v["key_hex"]);
        tails.insert(key.len() % 4);
    }
    assert_eq!(tails.len(), 4, "every tail length is covered");
}

#[test]
fn keyed_partitions_match_librdkafka_murmur2_random() {
    let doc = fixture();
    assert_eq!(doc["partitioner"], "murmur2_random");
    let entries = doc["entries"].as_array().expect("entries");
    let mut counts = BTreeSet::new();
    let mut keys = BTreeSet::new();
    let mut partitioner = DefaultPartitioner::with_seed(1);
    let no_leaders: [i32; 0] = [];
    for e in entries {
        let n = i32::try_from(e["topic_partitions"].as_i64().expect("count")).expect("i32");
        let key = hex(e["key_hex"].as_str().expect("key_hex"));
        let want = i32::try_from(e["partition"].as_i64().expect("partition")).expect("i32");
        assert_eq!(
            partition_for_key(&key, n),
            Some(want),
            "{n} partitions, key {}",
            e["key_hex"]
        );
        // The default partitioner maps keys over all partitions, leaders known or not.
        let parts = TopicPartitions::new(n, &no_leaders);
        assert_eq!(
            partitioner.partition("t", Some(&key), None, &parts),
            Some(want)
        );
        counts.insert(n);
        keys.insert(key);
    }
    assert_eq!(
        counts.into_iter().collect::<Vec<_>>(),
        [1, 3, 7, 12, 32, 100]
    );
    assert!(keys.len() >= 180, "{} distinct keys", keys.len());
    assert!(
        keys.contains(&Vec::new()),
        "the empty key is hashed, not treated as null"
    );
    assert!((1..=100).all(|len| keys.iter().any(|k| k.len() == len)));
}

#[test]
fn no_partitions_no_answer() {
    assert_eq!(partition_for_key(b"k", 0), None);
    let mut sticky = StickyPartitioner::with_seed(3);
    assert_eq!(
        sticky.sticky_partition("t", &TopicPartitions::new(0, &[])),
        None
    );
    assert_eq!(to_positive(murmur2(b"21")), -973_932_308 & 0x7fff_ffff);
}

#[test]
fn sticky_partition_holds_until_a_new_batch() {
    let available = [0, 1, 2, 3, 4, 5];
    let parts = TopicPartitions::new(6, &available);
    let mut sticky = StickyPartitioner::with_seed(42);
    let first = sticky.sticky_partition("t", &parts).expect("partition");
    for _ in 0..50 {
        assert_eq!(sticky.sticky_partition("t", &parts), Some(first));
    }
    // Topics stick independently.
    let other = sticky.sticky_partition("u", &parts).expect("partition");
    sticky.next_batch("t", &parts, first);
    let second = sticky.sticky_partition("t", &parts).expect("partition");
    assert_ne!(
        second, first,
        "a new batch moves to another available partition"
    );
    assert_eq!(sticky.sticky_partition("u", &parts), Some(other));
    // A stale notice (for a partition it already left) does not move it again.
    sticky.next_batch("t", &parts, first);
    assert_eq!(sticky.sticky_partition("t", &parts), Some(second));
}

#[test]
fn sticky_choice_is_uniform_over_available_partitions() {
    let available = [1, 3, 4, 6];
    let parts = TopicPartitions::new(8, &available);
    let mut sticky = StickyPartitioner::with_seed(7);
    let mut seen: HashMap<i32, u32> = HashMap::new();
    let mut previous = sticky.sticky_partition("t", &parts).expect("partition");
    for _ in 0..4_000 {
        sticky.next_batch("t", &parts, previous);
        let next = sticky.sticky_partition("t", &parts).expect("partition");
        assert_ne!(next, previous);
        *seen.entry(next).or_default() += 1;
        previous = next;
    }
    assert_eq!(
        seen.keys().copied().collect::<BTreeSet<_>>(),
        BTreeSet::from(available)
    );
    for (p, n) in seen {
        assert!(
            (800..1_200).contains(&n),
            "partition {p} chosen {n} times of 4000"
        );
    }
}

#[test]
fn sticky_with_one_or_no_available_partition() {
    let mut sticky = StickyPartitioner::with_seed(9);
    let one = TopicPartitions::new(5, &[3]);
    assert_eq!(sticky.sticky_partition("t", &one), Some(3));
    sticky.next_batch("t", &one, 3);
    assert_eq!(
        sticky.sticky_partition("t", &one),
        Some(3),
        "the only available one"
    );
    let none = TopicPartitions::new(5, &[]);
    let mut seen = BTreeSet::new();
    for _ in 0..200 {
        let p = sticky.sticky_partition("t", &none).expect("partition");
        seen.insert(p);
        sticky.next_batch("t", &none, p);
    }
    assert!(seen.iter().all(|p| (0..5).contains(p)));
    assert!(seen.len() > 1, "still spreads when no leader is known");
    // A partition beyond a shrunk count is dropped.
    let small = TopicPartitions::new(2, &[0, 1]);
    let mut sticky = StickyPartitioner::with_seed(1);
    let _ = sticky.sticky_partition("t", &TopicPartitions::new(50, &[40]));
    assert!(matches!(sticky.sticky_partition("t", &small), Some(0 | 1)));
}

/// The producer's loop for keyless records: ask the partitioner; if the record would open a
/// new batch there, tell it and ask again (KIP-480).
fn place(
    partitioner: &mut dyn Partitioner,
    acc: &mut Accumulator<usize>,
    parts: &TopicPartitions<'_>,
    rec: BatchRecord,
    token: usize,
) -> i32 {
    let now = t0();
    let mut p = partitioner
        .partition("t", None, None, parts)
        .expect("partition");
    if acc.starts_new_batch(&tp("t", p), &rec) {
        partitioner.on_new_batch("t", parts, p);
        p = partitioner
            .partition("t", None, None, parts)
            .expect("partition");
    }
    acc.append(&tp("t", p), rec, token, now).expect("append");
    p
}

#[test]
fn keyless_records_fill_one_batch_before_moving() {
    let available = [0, 1, 2, 3];
    let parts = TopicPartitions::new(4, &available);
    let mut partitioner = DefaultPartitioner::with_seed(5);
    let mut acc = Accumulator::new(config()); // batch_size 1000
    let mut chosen = Vec::new();
    for i in 0..40 {
        let mut rec = record(i, 100);
        rec.key = None;
        chosen.push(place(&mut partitioner, &mut acc, &parts, rec, i));
    }
    // ~110 bytes a record, 61 of header: 8 records per 1000-byte batch, then a switch.
    let runs: Vec<(i32, usize)> = chosen
        .chunk_by(|a, b| a == b)
        .map(|r| (r[0], r.len()))
        .collect();
    assert!(runs.len() >= 4, "{runs:?}");
    for (i, w) in runs.windows(2).enumerate() {
        assert_ne!(w[0].0, w[1].0);
        if i + 2 < runs.len() {
            assert_eq!(w[1].1, 8, "each full run is one batch: {runs:?}");
        }
    }
    assert_eq!(runs[0].1, 8);
    // A keyed record on the same producer ignores stickiness.
    let p = partitioner.partition("t", Some(b"21"), None, &parts);
    assert_eq!(p, partition_for_key(b"21", 4));
}

/// A user-supplied partitioner: everything to the last partition.
struct LastPartition;

impl Partitioner for LastPartition {
    fn partition(
        &mut self,
        _topic: &str,
        _key: Option<&[u8]>,
        _value: Option<&[u8]>,
        partitions: &TopicPartitions<'_>,
    ) -> Option<i32> {
        (partitions.count > 0).then(|| partitions.count - 1)
    }
}

#[test]
fn user_partitioner_through_the_trait() {
    let mut boxed: Box<dyn Partitioner> = Box::new(LastPartition);
    let parts = TopicPartitions::new(9, &[0]);
    assert_eq!(
        boxed.partition("t", Some(b"k"), Some(b"v"), &parts),
        Some(8)
    );
    boxed.on_new_batch("t", &parts, 8); // the default hook does nothing
    assert_eq!(boxed.partition("t", None, None, &parts), Some(8));
}

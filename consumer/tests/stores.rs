//! Offset stores and placement: integration tests.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;

use gregor_consumer::TopicPartition;
use gregor_consumer::direct::placement::{Placement, PlacementError};
use gregor_consumer::store::{
    BatchStart, BatchStarts, CheckpointFile, MemoryOffsetStore, OffsetStore, PartitionOffsets,
    StoreError,
};
use proptest::prelude::*;

fn key(t: &str, p: i32) -> TopicPartition {
    TopicPartition::new(t, p)
}

fn starts(items: &[(&str, i32, BatchStart)]) -> BatchStarts {
    items.iter().map(|(t, p, s)| (key(t, *p), *s)).collect()
}

fn ends(items: &[(&str, i32, i64)]) -> PartitionOffsets {
    items.iter().map(|(t, p, o)| (key(t, *p), *o)).collect()
}

/// Runs the CAS scenarios against any store.
fn cas_scenarios(store: &dyn OffsetStore) {
    use BatchStart::{Continue, First};
    assert!(store.load().unwrap().is_none());

    // A continuing batch on an empty store is refused: a first batch must be explicit.
    let err = store
        .save(&starts(&[("a", 0, Continue(0))]), &ends(&[("a", 0, 10)]))
        .unwrap_err();
    assert!(matches!(
        err,
        StoreError::Conflict {
            stored: None,
            expected: 0,
            first: false,
            ..
        }
    ));
    assert!(store.load().unwrap().is_none());

    // First batch.
    store
        .save(
            &starts(&[("a", 0, First(0)), ("a", 1, First(5))]),
            &ends(&[("a", 0, 10), ("a", 1, 7)]),
        )
        .unwrap();
    // A second "first" batch for a partition with progress is refused.
    let err = store
        .save(&starts(&[("a", 0, First(0))]), &ends(&[("a", 0, 10)]))
        .unwrap_err();
    assert!(matches!(
        err,
        StoreError::Conflict {
            stored: Some(10),
            expected: 0,
            first: true,
            ..
        }
    ));

    // Next batch continues.
    store
        .save(&starts(&[("a", 0, Continue(10))]), &ends(&[("a", 0, 20)]))
        .unwrap();
    // Repeating it is refused.
    let err = store
        .save(&starts(&[("a", 0, Continue(10))]), &ends(&[("a", 0, 20)]))
        .unwrap_err();
    assert!(matches!(
        err,
        StoreError::Conflict { ref topic, partition: 0, stored: Some(20), expected: 10, .. }
            if topic == "a"
    ));
    // Skipping a range is refused.
    let err = store
        .save(&starts(&[("a", 0, Continue(25))]), &ends(&[("a", 0, 30)]))
        .unwrap_err();
    assert!(matches!(
        err,
        StoreError::Conflict {
            stored: Some(20),
            expected: 25,
            ..
        }
    ));
    // Backwards is refused.
    let err = store
        .save(&starts(&[("a", 0, Continue(20))]), &ends(&[("a", 0, 19)]))
        .unwrap_err();
    assert!(matches!(
        err,
        StoreError::Backwards {
            partition: 0,
            from: 20,
            to: 19,
            ..
        }
    ));
    // All or nothing: one conflicting partition refuses the whole batch.
    let err = store
        .save(
            &starts(&[("a", 0, Continue(20)), ("a", 1, Continue(6))]),
            &ends(&[("a", 0, 30), ("a", 1, 9)]),
        )
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { partition: 1, .. }));
    // Mixed first + continuing batch; untouched partitions are kept.
    store
        .save(
            &starts(&[("a", 0, Continue(20)), ("b", 0, First(100))]),
            &ends(&[("a", 0, 20), ("b", 0, 150)]),
        )
        .unwrap();
    let loaded = store.load().unwrap().unwrap().offsets;
    assert_eq!(loaded, ends(&[("a", 0, 20), ("a", 1, 7), ("b", 0, 150)]));
}

#[test]
fn memory_cas() {
    cas_scenarios(&MemoryOffsetStore::new());
}

#[test]
fn checkpoint_cas_and_reload() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("offsets.json");
    cas_scenarios(&CheckpointFile::new(&path));
    // A fresh handle on the same file sees the same offsets.
    let again = CheckpointFile::new(&path).load().unwrap().unwrap();
    assert_eq!(
        again.offsets,
        ends(&[("a", 0, 20), ("a", 1, 7), ("b", 0, 150)])
    );
    assert!(again.written_at_ms.is_some());
    // No temp files left behind by successful writes.
    let names: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("offsets.json")]);
}

#[test]
fn checkpoint_missing_file_is_none() {
    let dir = tempfile::tempdir().unwrap();
    let store = CheckpointFile::new(dir.path().join("nope.json"));
    assert!(store.load().unwrap().is_none());
}

#[test]
fn checkpoint_leftover_temp_file_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("offsets.json");
    let store = CheckpointFile::new(&path);
    store
        .save(
            &starts(&[("t", 0, BatchStart::First(0))]),
            &ends(&[("t", 0, 5)]),
        )
        .unwrap();
    // A crashed writer left a half-written temp file next to the target.
    fs::write(
        dir.path().join(".offsets.json.tmp.999.0"),
        b"{\"format\":\"gregor-check",
    )
    .unwrap();
    let loaded = store.load().unwrap().unwrap();
    assert_eq!(loaded.offsets, ends(&[("t", 0, 5)]));
    // And the next write still succeeds and replaces the target whole.
    store
        .save(
            &starts(&[("t", 0, BatchStart::Continue(5))]),
            &ends(&[("t", 0, 9)]),
        )
        .unwrap();
    assert_eq!(store.load().unwrap().unwrap().offsets, ends(&[("t", 0, 9)]));
    // The target is always a complete, parseable checkpoint.
    let text = fs::read_to_string(&path).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["format"], "gregor-checkpoint");
    assert_eq!(v["version"], 1);
    assert_eq!(v["offsets"][0]["offset"], 9);
}

#[test]
fn checkpoint_failed_write_keeps_old_content() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("offsets.json");
    let store = CheckpointFile::new(&path);
    store
        .save(
            &starts(&[("t", 0, BatchStart::First(0))]),
            &ends(&[("t", 0, 5)]),
        )
        .unwrap();
    let before = fs::read(&path).unwrap();
    // A refused save does not touch the file.
    store
        .save(
            &starts(&[("t", 0, BatchStart::Continue(0))]),
            &ends(&[("t", 0, 9)]),
        )
        .unwrap_err();
    assert_eq!(fs::read(&path).unwrap(), before);
}

#[test]
fn checkpoint_unknown_fields_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.json");
    fs::write(
        &path,
        r#"{"format":"gregor-checkpoint","version":1,"writer":"v9",
            "offsets":[{"topic":"t","partition":3,"offset":42,"leader_epoch":7}],
            "written_at_ms":1700000000000,"extra":{"nested":[1,2]}}"#,
    )
    .unwrap();
    let loaded = CheckpointFile::new(&path).load().unwrap().unwrap();
    assert_eq!(loaded.offsets, ends(&[("t", 3, 42)]));
    assert_eq!(loaded.written_at_ms, Some(1_700_000_000_000));
}

#[test]
fn checkpoint_future_version_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.json");
    // Version 2 may change the layout entirely: refused before reading offsets.
    fs::write(
        &path,
        r#"{"format":"gregor-checkpoint","version":2,"offsets":"elsewhere"}"#,
    )
    .unwrap();
    let store = CheckpointFile::new(&path);
    assert!(matches!(
        store.load(),
        Err(StoreError::UnsupportedVersion {
            found: 2,
            supported: 1,
            ..
        })
    ));
    // And a save does not overwrite it.
    assert!(matches!(
        store.save(
            &starts(&[("t", 0, BatchStart::First(0))]),
            &ends(&[("t", 0, 1)])
        ),
        Err(StoreError::UnsupportedVersion { .. })
    ));
}

#[test]
fn checkpoint_corrupt_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.json");
    let good = r#"{"format":"gregor-checkpoint","version":1,"offsets":[{"topic":"t","partition":0,"offset":1}]}"#;
    let cases: Vec<&[u8]> = vec![
        b"",
        b"   ",
        &good.as_bytes()[..good.len() - 3], // truncated
        b"\x00\x00\x00\x00",
        br#"{"format":"gregor-checkpoint","version":1}"#, // no offsets
        br#"{"format":"gregor-checkpoint","version":1,"offsets":[{"topic":"t","partition":0}]}"#,
        br#"{"version":1,"offsets":[]}"#,
        br#"[]"#,
    ];
    for bytes in cases {
        fs::write(&path, bytes).unwrap();
        let r = CheckpointFile::new(&path).load();
        assert!(
            matches!(r, Err(StoreError::Corrupt { .. })),
            "{:?}: {r:?}",
            String::from_utf8_lossy(bytes)
        );
    }
}

#[derive(Debug, Clone)]
enum Op {
    /// Arbitrary batch: (partition, first?, start, end).
    Save(Vec<(u8, bool, i64, i64)>),
    /// A batch that continues from the reference store's current state:
    /// (partition, end - start). Mostly succeeds, so the stored state evolves.
    Advance(Vec<(u8, i64)>),
    Load,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => Just(Op::Load),
        4 => prop::collection::vec((0u8..4, -1i64..6), 0..4).prop_map(Op::Advance),
        4 => prop::collection::vec((0u8..4, any::<bool>(), -1i64..12, -1i64..12), 0..4).prop_map(Op::Save),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// The checkpoint file behaves exactly like the in-memory reference.
    #[test]
    fn memory_and_checkpoint_agree(ops in prop::collection::vec(op(), 1..25)) {
        let dir = tempfile::tempdir().unwrap();
        let file = CheckpointFile::new(dir.path().join("c.json"));
        let mem = MemoryOffsetStore::new();
        for op in ops {
            match op {
                Op::Load => {
                    let a = mem.load().unwrap().map(|s| s.offsets);
                    let b = file.load().unwrap().map(|s| s.offsets);
                    prop_assert_eq!(a, b);
                }
                Op::Advance(items) => {
                    let current = mem.load().unwrap().map(|s| s.offsets).unwrap_or_default();
                    let mut st = BatchStarts::new();
                    let mut en = PartitionOffsets::new();
                    for (p, delta) in items {
                        let k = key(if p % 2 == 0 { "x" } else { "y" }, i32::from(p));
                        let start = match current.get(&k) {
                            Some(&o) => BatchStart::Continue(o),
                            None => BatchStart::First(3),
                        };
                        en.insert(k.clone(), start.offset() + delta);
                        st.insert(k, start);
                    }
                    let a = mem.save(&st, &en).map_err(|e| e.to_string());
                    let b = file.save(&st, &en).map_err(|e| e.to_string());
                    prop_assert_eq!(a, b);
                }
                Op::Save(items) => {
                    let mut st = BatchStarts::new();
                    let mut en = PartitionOffsets::new();
                    for (p, first, s, e) in items {
                        let k = key(if p % 2 == 0 { "x" } else { "y" }, i32::from(p));
                        st.insert(k.clone(), if first { BatchStart::First(s) } else { BatchStart::Continue(s) });
                        en.insert(k, e);
                    }
                    let a = mem.save(&st, &en).map_err(|e| e.to_string());
                    let b = file.save(&st, &en).map_err(|e| e.to_string());
                    prop_assert_eq!(a, b);
                }
            }
        }
        let a = mem.load().unwrap().map(|s| s.offsets);
        let b = file.load().unwrap().map(|s| s.offsets);
        prop_assert_eq!(a, b);
    }
}

// ---------------------------------------------------------------- placement

fn sequential(topics: &[&str], per_topic: i32) -> Vec<TopicPartition> {
    topics
        .iter()
        .flat_map(|t| (0..per_topic).map(move |p| key(t, p)))
        .collect()
}

fn owner_map(a: &[Vec<TopicPartition>]) -> BTreeMap<TopicPartition, usize> {
    a.iter()
        .enumerate()
        .flat_map(|(w, l)| l.iter().map(move |k| (k.clone(), w)))
        .collect()
}

fn check_complete(parts: &[TopicPartition], a: &[Vec<TopicPartition>]) {
    let placed: Vec<_> = a.iter().flatten().cloned().collect();
    let set: BTreeSet<_> = placed.iter().cloned().collect();
    assert_eq!(placed.len(), set.len(), "placed twice");
    assert_eq!(set, parts.iter().cloned().collect::<BTreeSet<_>>());
}

#[test]
fn consistent_is_deterministic_and_balanced() {
    for workers in 1..=9 {
        for n in [0, 1, 5, 12, 31, 64, 100] {
            let parts = sequential(&["orders", "payments"], n);
            let a = Placement::Consistent.assign(&parts, workers).unwrap();
            assert_eq!(a.len(), workers);
            check_complete(&parts, &a);
            // Order of input does not matter.
            let mut rev = parts.clone();
            rev.reverse();
            assert_eq!(Placement::Consistent.assign(&rev, workers).unwrap(), a);
            let min = a.iter().map(Vec::len).min().unwrap();
            let max = a.iter().map(Vec::len).max().unwrap();
            assert!(max - min <= 1, "workers {workers}, n {n}: {min}..{max}");
        }
    }
}

#[test]
fn consistent_known_assignment_is_stable() {
    // Pins the hash: a change here moves partitions between releases.
    let a = Placement::Consistent
        .assign(&sequential(&["t"], 6), 3)
        .unwrap();
    let expect: Vec<Vec<TopicPartition>> = vec![
        vec![key("t", 2), key("t", 4)],
        vec![key("t", 0), key("t", 1)],
        vec![key("t", 3), key("t", 5)],
    ];
    assert_eq!(a, expect);
}

#[test]
fn consistent_adding_a_worker_moves_few() {
    for (workers, n) in [
        (2, 100),
        (3, 120),
        (4, 200),
        (8, 256),
        (10, 1000),
        (16, 500),
    ] {
        let parts = sequential(&["a", "b", "c"], n / 3 + 1);
        let before = owner_map(&Placement::Consistent.assign(&parts, workers).unwrap());
        let after = owner_map(&Placement::Consistent.assign(&parts, workers + 1).unwrap());
        let moved = parts.iter().filter(|k| before[*k] != after[*k]).count();
        let frac = moved as f64 / parts.len() as f64;
        let ideal = 1.0 / (workers + 1) as f64;
        eprintln!(
            "workers {workers}->{}: moved {frac:.3}, ideal {ideal:.3}",
            workers + 1
        );
        assert!(
            frac <= ideal + 0.06,
            "workers {workers}: moved {frac:.3}, ideal {ideal:.3}"
        );
    }
}

#[test]
fn by_leader_groups_partitions() {
    let parts = sequential(&["a", "b"], 12);
    // Leader of partition p is broker p % 3 (ids 1..=3).
    let leaders: BTreeMap<_, _> = parts
        .iter()
        .map(|k| (k.clone(), k.partition % 3 + 1))
        .collect();
    let placement = Placement::ByLeader(leaders.clone());
    for workers in 1..=5 {
        let a = placement.assign(&parts, workers).unwrap();
        check_complete(&parts, &a);
        let owner = owner_map(&a);
        let mut leader_worker = BTreeMap::new();
        for k in &parts {
            let w = *leader_worker.entry(leaders[k]).or_insert(owner[k]);
            assert_eq!(w, owner[k], "leader {} split", leaders[k]);
        }
        // Spread: with at least as many workers as leaders, each leader has its own.
        let used: BTreeSet<_> = leader_worker.values().collect();
        assert_eq!(used.len(), workers.min(3));
    }
}

#[test]
fn by_leader_unknown_leader_still_placed() {
    let parts = sequential(&["a"], 6);
    let leaders = BTreeMap::from([(key("a", 0), 1), (key("a", 1), 1)]);
    let a = Placement::ByLeader(leaders).assign(&parts, 3).unwrap();
    check_complete(&parts, &a);
    let owner = owner_map(&a);
    assert_eq!(owner[&key("a", 0)], owner[&key("a", 1)]);
    assert!(a.iter().all(|l| l.len() == 2));
}

#[test]
fn fixed_honours_the_map() {
    let parts = sequential(&["a"], 10);
    let map = BTreeMap::from([(key("a", 0), 2), (key("a", 1), 2), (key("a", 7), 0)]);
    let a = Placement::Fixed(map.clone(), Box::new(Placement::Consistent))
        .assign(&parts, 3)
        .unwrap();
    check_complete(&parts, &a);
    let owner = owner_map(&a);
    for (k, w) in &map {
        assert_eq!(owner[k], *w);
    }
    // Out of range worker is a typed error.
    let bad = Placement::Fixed(
        BTreeMap::from([(key("a", 0), 3)]),
        Box::new(Placement::Consistent),
    );
    assert!(matches!(
        bad.assign(&parts, 3),
        Err(PlacementError::WorkerOutOfRange {
            worker: 3,
            workers: 3,
            ..
        })
    ));
}

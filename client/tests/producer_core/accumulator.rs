//! The accumulator: linger, batch size, memory limit, drain, retries, expiry — with fake time.

use std::time::Duration;

use bytes::Bytes;
use gregor_client::producer::{
    Accumulator, AccumulatorConfig, AppendError, AppendResult, BatchRecord,
};
use gregor_protocol::compression::Compression;
use gregor_protocol::records::Header;

use super::{append_n, config, decode_one, leaders, led_by_1, ms, record, t0, tp};

/// The size of a record batch header.
const HEADER: usize = 61;

#[test]
fn linger_makes_a_batch_ready() {
    let now = t0();
    let mut acc = Accumulator::new(config()); // linger 10 ms
    let a = tp("t", 0);
    let r = acc.append(&a, record(0, 10), 0, now).expect("append");
    assert_eq!(
        r,
        AppendResult {
            batch_full: false,
            new_batch: true
        }
    );
    let r = acc
        .append(&a, record(1, 10), 1, now + ms(3))
        .expect("append");
    assert_eq!(
        r,
        AppendResult {
            batch_full: false,
            new_batch: false
        }
    );
    assert!(acc.ready(now).is_empty());
    assert!(
        acc.ready(now + ms(9)).is_empty(),
        "linger counts from the batch's first record"
    );
    assert_eq!(acc.next_ready_at(now), Some(now + ms(10)));
    assert_eq!(acc.ready(now + ms(10)), vec![a.clone()]);
    assert_eq!(acc.next_ready_at(now + ms(10)), None, "nothing else waits");
    // Flushing ignores linger.
    let b = tp("t", 1);
    acc.append(&b, record(2, 10), 2, now + ms(10))
        .expect("append");
    assert_eq!(acc.ready(now + ms(10)), vec![a.clone()]);
    acc.set_flushing(true);
    assert_eq!(acc.ready(now + ms(10)), vec![a, b]);
}

#[test]
fn batch_size_closes_batches() {
    let now = t0();
    let mut acc = Accumulator::new(config()); // batch_size 1000
    let a = tp("t", 0);
    let size = record(0, 100).encoded_size(0, 0);
    let per_batch = (1_000 - HEADER) / size;
    for i in 0..per_batch {
        let r = acc.append(&a, record(i, 100), i, now).expect("append");
        assert_eq!(r.new_batch, i == 0, "record {i}");
        assert!(!r.batch_full || i + 1 == per_batch, "record {i}");
    }
    assert!(acc.ready(now).is_empty(), "not full, still lingering");
    assert_eq!(acc.buffered_bytes(), HEADER + per_batch * size);
    let r = acc
        .append(&a, record(per_batch, 100), per_batch, now)
        .expect("append");
    assert_eq!(
        r,
        AppendResult {
            batch_full: true,
            new_batch: true
        }
    );
    assert_eq!(acc.queued_batches(), 2);
    assert_eq!(
        acc.ready(now),
        vec![a.clone()],
        "a batch followed by another is ready"
    );
    assert!(
        acc.starts_new_batch(&tp("t", 9), &record(0, 1)),
        "no batch there yet"
    );
    assert!(
        !acc.starts_new_batch(&a, &record(0, 1)),
        "the second batch has room"
    );
}

#[test]
fn a_big_record_gets_a_batch_of_its_own() {
    let now = t0();
    let mut acc = Accumulator::new(config()); // batch_size 1000, max_request_size 10_000
    let a = tp("t", 0);
    let r = acc.append(&a, record(0, 5_000), 0, now).expect("append");
    assert_eq!(
        r,
        AppendResult {
            batch_full: true,
            new_batch: true
        }
    );
    let r = acc.append(&a, record(1, 10), 1, now).expect("append");
    assert!(r.new_batch, "nothing joins an over-full batch");
    let rejected = acc
        .append(&a, record(2, 10_000), 2, now)
        .expect_err("too large");
    assert!(matches!(
        rejected.error,
        AppendError::RecordTooLarge {
            limit: 10_000,
            limit_name: "max_request_size",
            ..
        }
    ));
    assert_eq!(
        (rejected.completion, rejected.record),
        (2, record(2, 10_000))
    );
}

#[test]
fn memory_limit_pushes_back_and_recovers() {
    let now = t0();
    let mut acc = Accumulator::new(AccumulatorConfig {
        buffer_memory: 700,
        ..config()
    });
    let a = tp("t", 0);
    let size = record(0, 100).encoded_size(0, 0);
    append_n(&mut acc, &a, 0, 5, 100, now); // 61 + 5 * 111 = 616 bytes
    assert_eq!(acc.buffered_bytes(), HEADER + 5 * size);
    assert!(acc.ready(now).is_empty(), "lingering");
    let rejected = acc
        .append(&a, record(5, 100), 5, now)
        .expect_err("buffer full");
    assert_eq!(
        rejected.error,
        AppendError::BufferFull {
            requested: size,
            available: 700 - HEADER - 5 * size
        }
    );
    assert_eq!(
        rejected.completion, 5,
        "the record comes back to be appended later"
    );
    assert_eq!(
        acc.ready(now),
        vec![a.clone()],
        "waiting for memory ends the linger"
    );

    // Completing the batch frees its bytes; the refused record then fits.
    let drained = acc.drain(&led_by_1(&a), 10_000, now, None);
    for batch in drained.batches.into_values().flatten() {
        assert_eq!(acc.release(batch), [0, 1, 2, 3, 4]);
    }
    assert_eq!(acc.buffered_bytes(), 0);
    acc.append(&a, rejected.record, rejected.completion, now)
        .expect("room again");
    assert!(
        acc.ready(now).is_empty(),
        "a successful append ends the pressure"
    );
    // `buffer_memory` also caps a single record.
    let err = acc
        .append(&a, record(999, 3_000), 999, now)
        .expect_err("larger than the buffer");
    assert!(matches!(
        err.error,
        AppendError::RecordTooLarge {
            limit: 700,
            limit_name: "buffer_memory",
            ..
        }
    ));
}

#[test]
fn drain_respects_request_size_and_rotates() {
    let now = t0();
    let mut acc = Accumulator::new(config());
    let parts = [tp("t", 0), tp("t", 1), tp("t", 2), tp("u", 0)];
    for (n, p) in parts.iter().enumerate() {
        append_n(&mut acc, p, n * 100, 5, 100, now); // ~600 bytes each
    }
    assert_eq!(acc.ready(now + ms(10)).len(), 4);
    // 1300 bytes: two of the ~600-byte batches per request.
    let map = leaders(&[(1, &parts[..3]), (2, &parts[3..])]);
    let first = acc.drain(&map, 1_300, now + ms(10), None);
    assert!(first.failed.is_empty());
    let got = |d: &gregor_client::producer::Drained<usize>, node| -> Vec<_> {
        d.batches.get(&node).map_or(vec![], |v| {
            v.iter().map(|b| b.topic_partition().clone()).collect()
        })
    };
    assert_eq!(got(&first, 1), [parts[0].clone(), parts[1].clone()]);
    assert_eq!(got(&first, 2), [parts[3].clone()]);
    // The next drain for broker 1 starts where the last one stopped.
    let second = acc.drain(&map, 1_300, now + ms(10), None);
    assert_eq!(got(&second, 1), [parts[2].clone()]);
    assert!(acc.is_empty());
    // Token order is record order; each batch keeps its own tokens.
    let tokens: Vec<Vec<usize>> = first.batches[&1]
        .iter()
        .map(|b| b.completions().to_vec())
        .collect();
    assert_eq!(tokens, [vec![0, 1, 2, 3, 4], vec![100, 101, 102, 103, 104]]);
}

#[test]
fn drain_takes_one_batch_per_partition_and_a_lone_oversized_one() {
    let now = t0();
    let mut acc = Accumulator::new(config());
    let a = tp("t", 0);
    append_n(&mut acc, &a, 0, 30, 100, now); // several batches
    let first = acc.drain(&led_by_1(&a), 100, now, None);
    let batches = &first.batches[&1];
    assert_eq!(
        batches.len(),
        1,
        "one batch per partition per request, even over the limit"
    );
    assert!(batches[0].estimated_size() > 100);
    assert!(acc.queued_batches() >= 2);
    // Unled partitions stay queued.
    let none = acc.drain(&leaders(&[(1, &[tp("t", 5)])]), 10_000, now, None);
    assert!(none.batches.is_empty());
}

#[test]
fn retried_batch_waits_backoff_and_goes_first() {
    let now = t0();
    let mut acc = Accumulator::new(config()); // retry_backoff 100 ms
    let a = tp("t", 0);
    let map = led_by_1(&a);
    append_n(&mut acc, &a, 0, 3, 10, now);
    let mut first = acc.drain(&map, 10_000, now, None);
    let batch = first.batches.remove(&1).expect("drained").remove(0);
    let encoded = batch.encoded().cloned();
    assert_eq!(batch.attempts(), 1);
    append_n(&mut acc, &a, 3, 2, 10, now + ms(1)); // a younger batch
    acc.reenqueue(batch, now + ms(20));
    assert_eq!(acc.ready(now + ms(50)), vec![]);
    assert_eq!(acc.next_ready_at(now + ms(50)), Some(now + ms(120)));
    assert!(
        acc.drain(&map, 10_000, now + ms(119), None)
            .batches
            .is_empty(),
        "backoff"
    );
    assert_eq!(acc.ready(now + ms(120)), vec![a.clone()]);
    let again = acc.drain(&map, 10_000, now + ms(120), None);
    let retried = &again.batches[&1][0];
    assert_eq!(
        retried.completions(),
        [0, 1, 2],
        "the retry goes before the younger batch"
    );
    assert_eq!(retried.attempts(), 2);
    assert_eq!(
        retried.encoded().cloned(),
        encoded,
        "sent again byte for byte"
    );
    let younger = acc.drain(&map, 10_000, now + ms(120), None);
    assert_eq!(younger.batches[&1][0].completions(), [3, 4]);
}

#[test]
fn drained_batch_decodes_to_the_appended_records() {
    for compression in [Compression::None, Compression::Gzip, Compression::Zstd] {
        let now = t0();
        let mut acc = Accumulator::new(AccumulatorConfig {
            compression,
            ..config()
        });
        let a = tp("t", 0);
        let records = vec![
            BatchRecord::new(
                Some(Bytes::from_static(b"key")),
                Some(Bytes::from_static(b"value")),
                1_000,
            )
            .with_header("h1", Some(Bytes::from_static(b"x")))
            .with_header("h1", None),
            BatchRecord::new(None, Some(Bytes::from(vec![7u8; 300])), 990),
            BatchRecord::new(Some(Bytes::new()), None, 2_000),
        ];
        for (i, r) in records.iter().enumerate() {
            acc.append(&a, r.clone(), i, now).expect("append");
        }
        let drained = acc.drain(&led_by_1(&a), 10_000, now, None);
        let batch = &drained.batches[&1][0];
        let (decoded, got) = decode_one(batch);
        assert_eq!(decoded.compression(), compression);
        assert_eq!(decoded.producer_id(), -1, "not idempotent");
        assert_eq!(got.len(), records.len());
        for (i, (g, want)) in got.iter().zip(&records).enumerate() {
            assert_eq!(g.offset, i as i64);
            assert_eq!(g.timestamp, want.timestamp_ms);
            assert_eq!(g.key, want.key);
            assert_eq!(g.value, want.value);
            let headers: Vec<Header> = g.headers.iter().collect::<Result<_, _>>().expect("headers");
            assert_eq!(headers, want.headers);
        }
        if compression == Compression::None {
            assert_eq!(
                batch.encoded().map(Bytes::len),
                Some(batch.estimated_size()),
                "exact estimate"
            );
        }
    }
}

#[test]
fn expire_close_and_abort() {
    let now = t0();
    let mut acc = Accumulator::new(config()); // delivery_timeout 5 s
    append_n(&mut acc, &tp("t", 0), 0, 2, 10, now);
    append_n(
        &mut acc,
        &tp("t", 1),
        2,
        2,
        10,
        now + Duration::from_secs(3),
    );
    assert!(acc.expire(now + ms(4_999)).is_empty());
    let expired = acc.expire(now + ms(5_000));
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].completions(), [0, 1]);
    for b in expired {
        acc.release(b);
    }
    acc.close();
    let closed = acc
        .append(&tp("t", 0), record(9, 1), 9, now)
        .expect_err("closed");
    assert_eq!(closed.error, AppendError::Closed);
    assert_eq!(
        acc.ready(now + Duration::from_secs(3)),
        vec![tp("t", 1)],
        "closing makes all ready"
    );
    let rest = acc.abort_all();
    assert_eq!(rest.len(), 1);
    let tokens: Vec<usize> = rest.into_iter().flat_map(|b| acc.release(b)).collect();
    assert_eq!(tokens, [2, 3]);
    assert_eq!(acc.buffered_bytes(), 0, "every byte comes back");
    assert!(acc.is_empty());
}

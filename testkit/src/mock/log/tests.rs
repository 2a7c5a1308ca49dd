//! Partition log state machine, without sockets.

use bytes::{Bytes, BytesMut};
use gregor_protocol::ErrorCode;
use gregor_protocol::records::{
    BatchSpec, DecodeOptions, NewRecord, RecordBatchHeader, batches, encode_batch,
};

use super::*;

const RULES: AppendRules = AppendRules {
    leader_epoch: 0,
    max_message_bytes: 1 << 20,
    allow_zstd: true,
};

fn batch(spec: BatchSpec, kvs: &[(&str, &str)], ts: i64) -> Bytes {
    let records: Vec<NewRecord<'_>> = kvs
        .iter()
        .map(|(k, v)| NewRecord::new(Some(k.as_bytes()), Some(v.as_bytes())).with_timestamp(ts))
        .collect();
    let mut buf = BytesMut::new();
    encode_batch(&spec, &records, &mut buf).unwrap();
    buf.freeze()
}

fn plain(kvs: &[(&str, &str)]) -> Bytes {
    batch(BatchSpec::default(), kvs, 1000)
}

fn idem(pid: i64, epoch: i16, seq: i32, n: usize) -> Bytes {
    let kvs: Vec<(&str, &str)> = (0..n).map(|_| ("k", "v")).collect();
    batch(
        BatchSpec {
            producer_id: pid,
            producer_epoch: epoch,
            base_sequence: seq,
            ..BatchSpec::default()
        },
        &kvs,
        1000,
    )
}

fn values(log: &PartitionLog, from: i64) -> Vec<(i64, Option<String>, Option<String>)> {
    let data = log.read(from, usize::MAX, true, log.high_watermark());
    let mut out = Vec::new();
    for b in batches(data, &DecodeOptions::default()) {
        for r in b.unwrap().records() {
            let r = r.unwrap();
            let s = |b: Option<Bytes>| b.map(|b| String::from_utf8(b.to_vec()).unwrap());
            out.push((r.offset, s(r.key), s(r.value)));
        }
    }
    out
}

#[test]
fn append_patches_offset_and_epoch_only() {
    let mut log = PartitionLog::new(3);
    log.append_client(&plain(&[("a", "1")]), &RULES).unwrap();
    let sent = plain(&[("b", "2"), ("c", "3")]);
    let rules = AppendRules {
        leader_epoch: 3,
        ..RULES
    };
    let info = log.append_client(&sent, &rules).unwrap();
    assert_eq!((info.base_offset, info.last_offset), (1, 2));
    let stored = &log.batches().nth(1).unwrap().bytes;
    assert_eq!(stored.len(), sent.len());
    assert_eq!(&stored[8..12], &sent[8..12]);
    assert_eq!(
        &stored[16..],
        &sent[16..],
        "everything from the magic on is untouched"
    );
    let h = RecordBatchHeader::parse(stored).unwrap();
    assert_eq!((h.base_offset, h.partition_leader_epoch), (1, 3));
    assert_eq!(log.high_watermark(), 3);
    assert_eq!(log.epochs().entries(), &[(0, 0), (3, 1)]);
    assert_eq!(values(&log, 1)[0], (1, Some("b".into()), Some("2".into())));
}

#[test]
fn invalid_batches_are_refused_with_kafka_codes() {
    let mut log = PartitionLog::new(0);
    let good = plain(&[("a", "1")]);
    let mut bad_crc = BytesMut::from(&good[..]);
    let last = bad_crc.len() - 1;
    bad_crc[last] ^= 0xff;
    let err = log.append_client(&bad_crc.freeze(), &RULES).unwrap_err();
    assert_eq!(err.code, ErrorCode::CorruptMessage);

    let offset = batch(
        BatchSpec {
            base_offset: 5,
            ..BatchSpec::default()
        },
        &[("a", "1")],
        0,
    );
    assert_eq!(
        log.append_client(&offset, &RULES).unwrap_err().code,
        ErrorCode::InvalidRecord
    );

    let mut two = BytesMut::from(&good[..]);
    two.extend_from_slice(&good);
    assert_eq!(
        log.append_client(&two.freeze(), &RULES).unwrap_err().code,
        ErrorCode::InvalidRecord
    );
    assert_eq!(
        log.append_client(&Bytes::new(), &RULES).unwrap_err().code,
        ErrorCode::InvalidRecord
    );

    let small = AppendRules {
        max_message_bytes: 10,
        ..RULES
    };
    assert_eq!(
        log.append_client(&good, &small).unwrap_err().code,
        ErrorCode::MessageTooLarge
    );
    assert_eq!(log.log_end_offset(), 0);
}

#[test]
fn idempotent_duplicates_answer_the_original_offsets() {
    let mut log = PartitionLog::new(0);
    log.append_client(&plain(&[("x", "y")]), &RULES).unwrap();
    let first = log.append_client(&idem(9, 0, 0, 2), &RULES).unwrap();
    assert_eq!((first.base_offset, first.duplicate), (1, false));
    let again = log.append_client(&idem(9, 0, 0, 2), &RULES).unwrap();
    assert_eq!(
        (again.base_offset, again.last_offset, again.duplicate),
        (1, 2, true)
    );
    assert_eq!(log.log_end_offset(), 3);
    let gap = log.append_client(&idem(9, 0, 5, 1), &RULES).unwrap_err();
    assert_eq!(gap.code, ErrorCode::OutOfOrderSequenceNumber);
    log.append_client(&idem(9, 0, 2, 1), &RULES).unwrap();
}

#[test]
fn reads_follow_kip_74() {
    let mut log = PartitionLog::new(0);
    for i in 0..3 {
        let v = "v".repeat(100 * (i + 1));
        log.append_client(&plain(&[("k", &v)]), &RULES).unwrap();
    }
    let sizes: Vec<usize> = log.batches().map(|b| b.bytes.len()).collect();
    // The first batch comes whole even past the limit when min_one is set...
    assert_eq!(log.read(0, 10, true, 3).len(), sizes[0]);
    // ...and not at all otherwise.
    assert!(log.read(0, 10, false, 3).is_empty());
    // A later batch that does not fit is cut at the limit.
    let limit = sizes[0] + 20;
    let data = log.read(0, limit, false, 3);
    assert_eq!(data.len(), limit);
    assert_eq!(log.read_upper_bound(0, data.len()), 1);
    // Reads start at the batch holding the offset and stop at the upper bound.
    assert_eq!(log.read(1, usize::MAX, true, 2).len(), sizes[1]);
    assert!(log.read(3, usize::MAX, true, 3).is_empty());
}

#[test]
fn transactions_move_the_lso_and_index_aborts() {
    let mut log = PartitionLog::new(0);
    log.append_client(&plain(&[("a", "1")]), &RULES).unwrap();
    let txn = batch(
        BatchSpec {
            producer_id: 4,
            producer_epoch: 0,
            base_sequence: 0,
            transactional: true,
            ..BatchSpec::default()
        },
        &[("t", "1"), ("t", "2")],
        0,
    );
    log.append_client(&txn, &RULES).unwrap();
    log.append_client(&plain(&[("b", "2")]), &RULES).unwrap();
    assert_eq!((log.last_stable_offset(), log.high_watermark()), (1, 4));
    let marker = log.append_marker(4, 0, false, 0, 0).unwrap();
    assert_eq!(marker, 4);
    assert_eq!(log.last_stable_offset(), 5);
    assert_eq!(log.aborted_between(0, 5), vec![(4, 1)]);
    assert!(log.aborted_between(5, 6).is_empty());
    assert_eq!(
        log.append_marker(4, 0, true, 0, 0).unwrap_err().code,
        ErrorCode::InvalidTxnState
    );
}

#[test]
fn compaction_keeps_the_latest_of_each_key_and_leaves_gaps() {
    let mut log = PartitionLog::new(0);
    log.append_client(&plain(&[("a", "1"), ("b", "1")]), &RULES)
        .unwrap();
    log.append_client(&plain(&[("a", "2")]), &RULES).unwrap();
    log.append_client(&plain(&[("c", "1"), ("b", "2")]), &RULES)
        .unwrap();
    assert_eq!(log.compact().unwrap(), 2);
    let got: Vec<i64> = values(&log, 0).iter().map(|r| r.0).collect();
    assert_eq!(got, vec![2, 3, 4]);
    assert_eq!(log.log_end_offset(), 5);
    assert_eq!(
        log.batches().count(),
        2,
        "the first batch lost every record"
    );
}

#[test]
fn truncation_and_delete_records() {
    let mut log = PartitionLog::new(0);
    for _ in 0..4 {
        log.append_client(&plain(&[("a", "1"), ("b", "2")]), &RULES)
            .unwrap();
    }
    assert_eq!(
        log.truncate(5).unwrap(),
        4,
        "the batch holding 5 goes whole"
    );
    log.become_leader(1);
    assert_eq!(log.epochs().end_offset_for(0, log.log_end_offset()), (0, 4));
    assert_eq!(log.delete_records(3).unwrap(), 3);
    assert_eq!(
        values(&log, 3).first().map(|r| r.0),
        Some(2),
        "the batch holding 3 stays"
    );
    assert!(log.delete_records(9).is_err());
}

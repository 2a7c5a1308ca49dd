use bytes::{Bytes, BytesMut};
use gregor_protocol::messages::fetch::AbortedTransaction;
use gregor_protocol::records::{
    BatchSpec, ControlRecord, DecodeOptions, NewRecord, encode_batch, encode_control_batch,
};

use super::*;

fn data_batch(out: &mut BytesMut, base: i64, n: usize, pid: i64, txn: bool) {
    let values: Vec<String> = (0..n).map(|i| format!("v{}", base + i as i64)).collect();
    let records: Vec<NewRecord<'_>> = values
        .iter()
        .map(|v| NewRecord::new(None, Some(v.as_bytes())).with_timestamp(1))
        .collect();
    let spec = BatchSpec {
        base_offset: base,
        producer_id: pid,
        producer_epoch: if pid >= 0 { 0 } else { -1 },
        base_sequence: if pid >= 0 { 0 } else { -1 },
        transactional: txn,
        ..BatchSpec::default()
    };
    encode_batch(&spec, &records, out).unwrap();
}

fn marker(out: &mut BytesMut, offset: i64, pid: i64, commit: bool) {
    let spec = BatchSpec {
        base_offset: offset,
        producer_id: pid,
        producer_epoch: 0,
        ..BatchSpec::default()
    };
    let m = if commit {
        ControlRecord::commit(0)
    } else {
        ControlRecord::abort(0)
    };
    encode_control_batch(&spec, &m, 1, out).unwrap();
}

fn offsets(d: &Decoded) -> Vec<i64> {
    d.records.iter().map(|r| r.offset).collect()
}

fn decode(
    data: &Bytes,
    aborted: &[AbortedTransaction],
    pos: i64,
    until: i64,
    iso: IsolationLevel,
) -> Decoded {
    decode_partition(
        data.clone(),
        aborted,
        pos,
        until,
        iso,
        &DecodeOptions::default(),
    )
    .unwrap()
}

#[test]
fn keeps_only_offsets_inside_position_and_until() {
    let mut buf = BytesMut::new();
    data_batch(&mut buf, 0, 5, -1, false);
    data_batch(&mut buf, 5, 5, -1, false);
    let data = buf.freeze();
    let d = decode(&data, &[], 3, 7, IsolationLevel::ReadUncommitted);
    assert_eq!(offsets(&d), vec![3, 4, 5, 6]);
    assert_eq!(d.next_offset, 7);
    let d = decode(&data, &[], 0, 100, IsolationLevel::ReadUncommitted);
    assert_eq!(d.records.len(), 10);
    assert_eq!(d.next_offset, 10);
}

#[test]
fn read_committed_drops_aborted_transactions_and_markers() {
    let mut buf = BytesMut::new();
    data_batch(&mut buf, 0, 2, 7, true); // committed
    data_batch(&mut buf, 2, 2, 8, true); // aborted
    marker(&mut buf, 4, 7, true);
    marker(&mut buf, 5, 8, false);
    data_batch(&mut buf, 6, 1, -1, false);
    let data = buf.freeze();
    let aborted = [AbortedTransaction {
        producer_id: 8,
        first_offset: 2,
        ..AbortedTransaction::default()
    }];
    let d = decode(&data, &aborted, 0, 7, IsolationLevel::ReadCommitted);
    assert_eq!(offsets(&d), vec![0, 1, 6]);
    assert_eq!(d.next_offset, 7);
    let d = decode(&data, &aborted, 0, 7, IsolationLevel::ReadUncommitted);
    assert_eq!(offsets(&d), vec![0, 1, 2, 3, 6]);
    // A range ending on the markers completes past them.
    let d = decode(&data, &aborted, 0, 6, IsolationLevel::ReadCommitted);
    assert_eq!(offsets(&d), vec![0, 1]);
    assert_eq!(d.next_offset, 6);
}

#[test]
fn records_are_slices_of_the_fetched_buffer() {
    let mut buf = BytesMut::new();
    data_batch(&mut buf, 0, 3, -1, false);
    let data = buf.freeze();
    let d = decode(&data, &[], 0, 3, IsolationLevel::ReadUncommitted);
    let range = data.as_ptr() as usize..data.as_ptr() as usize + data.len();
    for r in &d.records {
        let v = r.value.as_ref().unwrap();
        assert!(range.contains(&(v.as_ptr() as usize)));
    }
}

#[test]
fn a_partial_tail_batch_is_left_for_the_next_fetch() {
    let mut buf = BytesMut::new();
    data_batch(&mut buf, 0, 3, -1, false);
    data_batch(&mut buf, 3, 3, -1, false);
    let data = buf.freeze();
    let cut = data.slice(..data.len() - 5);
    let d = decode(&cut, &[], 0, 10, IsolationLevel::ReadUncommitted);
    assert_eq!(offsets(&d), vec![0, 1, 2]);
    assert_eq!(d.next_offset, 3);
}

//! Re-encoding librdkafka's batches with gregor's encoders, from what gregor decoded.
//!
//! Uncompressed batches must come out byte for byte as librdkafka wrote them. The one field a
//! producer may legitimately choose differently is `partition_leader_epoch` (librdkafka writes 0,
//! the Java producer -1; a broker overwrites it on append), so the spec takes it from the decoded
//! header rather than from `BatchSpec::default()`. Compressed payloads depend on the codec
//! implementation and its settings, which are free; for those the header fields other than
//! attributes, length and CRC, and the decompressed records section, must be equal.

use bytes::{Bytes, BytesMut};
use gregor_protocol::compression::Compression;
use gregor_protocol::records::{
    BatchSpec, DecodedBatch, Header, LegacySpec, NewHeader, NewRecord, Record, RecordBatch,
    RecordBatchHeader, TimestampType, encode_batch, encode_message_set,
};

use crate::manifest::fixture_bytes;
use crate::{FIXTURES, decode_all, records_of};

/// The first index where `got` and `want` differ, or `None` when they are equal.
fn first_difference(got: &[u8], want: &[u8]) -> Option<usize> {
    let common = got.iter().zip(want).position(|(a, b)| a != b);
    common.or_else(|| (got.len() != want.len()).then_some(got.len().min(want.len())))
}

fn assert_same_bytes(ctx: &str, got: &[u8], want: &[u8]) {
    let at = first_difference(got, want);
    assert_eq!(
        at,
        None,
        "{ctx}: lengths {} vs {}, first difference {:?} vs {:?}",
        got.len(),
        want.len(),
        at.map(|i| got.get(i)),
        at.map(|i| want.get(i)),
    );
}

/// The records' headers, decoded (they borrow into these for the encoder).
fn all_headers(ctx: &str, records: &[Record]) -> Vec<Vec<Header>> {
    records
        .iter()
        .map(|r| {
            r.headers
                .iter()
                .collect::<Result<_, _>>()
                .unwrap_or_else(|e| panic!("{ctx}: headers: {e}"))
        })
        .collect()
}

/// The records to encode, offsets as deltas from `base_offset`.
fn new_records<'a>(
    base_offset: i64,
    records: &'a [Record],
    new_headers: &'a [Vec<NewHeader<'a>>],
) -> Vec<NewRecord<'a>> {
    records
        .iter()
        .zip(new_headers)
        .map(|(r, headers)| NewRecord {
            offset_delta: Some(i32::try_from(r.offset - base_offset).expect("delta fits")),
            timestamp: r.timestamp,
            key: r.key.as_deref(),
            value: r.value.as_deref(),
            headers,
        })
        .collect()
}

/// Gregor's uncompressed encoding of the decoded batch: its header fields and its records.
fn reencode_uncompressed(ctx: &str, b: &RecordBatch) -> BytesMut {
    let h = b.header();
    // With log append time the records carry the batch's time, not what was written.
    assert_eq!(h.timestamp_type(), TimestampType::CreateTime, "{ctx}");
    let spec = BatchSpec {
        base_offset: h.base_offset,
        partition_leader_epoch: h.partition_leader_epoch,
        producer_id: h.producer_id,
        producer_epoch: h.producer_epoch,
        base_sequence: h.base_sequence,
        transactional: h.is_transactional(),
        control: h.is_control(),
        timestamp_type: h.timestamp_type(),
        compression: Compression::None,
        delete_horizon_ms: h.delete_horizon_ms(),
        last_offset_delta: None,
    };
    let records = records_of(ctx, &DecodedBatch::V2(b.clone()));
    let headers = all_headers(ctx, &records);
    let new_headers: Vec<Vec<NewHeader<'_>>> = headers
        .iter()
        .map(|hs| {
            hs.iter()
                .map(|h| NewHeader {
                    key: &h.key,
                    value: h.value.as_deref(),
                })
                .collect()
        })
        .collect();
    let new = new_records(h.base_offset, &records, &new_headers);
    let mut out = BytesMut::new();
    encode_batch(&spec, &new, &mut out).unwrap_or_else(|e| panic!("{ctx}: encode: {e}"));
    out
}

/// Each magic-2 batch of a fixture with its bytes in the file.
fn v2_batches_with_bytes(name: &str) -> Vec<(RecordBatch, Bytes)> {
    let data = fixture_bytes(name);
    let mut at = 0usize;
    decode_all(name)
        .into_iter()
        .map(|batch| {
            let DecodedBatch::V2(b) = batch else {
                panic!("{name}: not a magic-2 batch")
            };
            let len = usize::try_from(b.header().size_in_bytes()).expect("size");
            let bytes = data.slice(at..at + len);
            at += len;
            (b, bytes)
        })
        .collect()
}

fn v2_fixtures() -> impl Iterator<Item = &'static str> {
    FIXTURES.iter().copied().filter(|n| n.starts_with("v2_"))
}

#[test]
fn v2_none_reencodes_to_librdkafkas_exact_bytes() {
    let data = fixture_bytes("v2_none.bin");
    let batches = v2_batches_with_bytes("v2_none.bin");
    assert_eq!(batches.len(), 1);
    let (batch, _) = &batches[0];
    // The one free choice, stated: librdkafka writes partition leader epoch 0.
    assert_eq!(batch.header().partition_leader_epoch, 0);
    let out = reencode_uncompressed("v2_none.bin", batch);
    assert_same_bytes("v2_none.bin", &out, &data);
}

#[test]
fn every_uncompressed_v2_batch_reencodes_exactly() {
    let mut checked = 0;
    for name in v2_fixtures() {
        for (i, (b, bytes)) in v2_batches_with_bytes(name).iter().enumerate() {
            if b.compression() != Compression::None {
                continue;
            }
            let ctx = format!("{name} batch {i}");
            // Control batches included: their marker records go through the same encoder.
            assert_same_bytes(&ctx, &reencode_uncompressed(&ctx, b), bytes);
            checked += 1;
        }
    }
    // v2_none 1, multi_batch 2, idempotent 3, transactional 6 (3 data + 3 markers).
    assert_eq!(checked, 12);
}

#[test]
fn compressed_v2_batches_hold_the_records_section_gregor_writes() {
    let mut checked = 0;
    for name in v2_fixtures() {
        for (i, (b, _)) in v2_batches_with_bytes(name).iter().enumerate() {
            if b.compression() == Compression::None {
                continue;
            }
            let ctx = format!("{name} batch {i}");
            let out = reencode_uncompressed(&ctx, b);
            let theirs = *b.header();
            let ours = RecordBatchHeader::parse(&out).expect("header");
            // Equal but for what compression changes: codec bits, length, CRC.
            let ours = RecordBatchHeader {
                attributes: ours.attributes | i16::from(b.compression().code()),
                batch_length: theirs.batch_length,
                crc: theirs.crc,
                ..ours
            };
            assert_eq!(ours, theirs, "{ctx}: header");
            assert_same_bytes(&ctx, &out[RecordBatchHeader::SIZE..], b.records_data());
            checked += 1;
        }
    }
    // v2_gzip, v2_snappy, v2_lz4, v2_zstd, and 4 compressed batches of v2_multi_batch.
    assert_eq!(checked, 8);
}

#[test]
fn uncompressed_legacy_sets_reencode_exactly() {
    for (name, magic) in [("legacy_m0_none.bin", 0), ("legacy_m1_none.bin", 1)] {
        let data = fixture_bytes(name);
        let records: Vec<Record> = decode_all(name)
            .iter()
            .enumerate()
            .flat_map(|(i, b)| records_of(&format!("{name} message {i}"), b))
            .collect();
        let no_headers = vec![Vec::new(); records.len()];
        let base_offset = records[0].offset;
        let spec = LegacySpec {
            magic,
            base_offset,
            compression: Compression::None,
            timestamp_type: TimestampType::CreateTime,
        };
        let mut out = BytesMut::new();
        encode_message_set(
            &spec,
            &new_records(base_offset, &records, &no_headers),
            &mut out,
        )
        .unwrap_or_else(|e| panic!("{name}: encode: {e}"));
        assert_same_bytes(name, &out, &data);
    }
}

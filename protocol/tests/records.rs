//! Magic-2 record batches: known-answer bytes, round trips for every codec, control and
//! transactional batches, headers, record sets of several batches.

use bytes::{Bytes, BytesMut};
use gregor_protocol::compression::Compression;
use gregor_protocol::records::{
    BatchSpec, ControlRecord, ControlRecordKind, DecodeOptions, DecodedBatch, NewHeader, NewRecord,
    Record, RecordBatch, RecordBatchBuilder, RecordBatchHeader, TimestampType, batches,
    encode_batch, encode_control_batch,
};

fn decode_all(input: Bytes) -> Vec<DecodedBatch> {
    let mut set = batches(input, &DecodeOptions::default());
    let out: Vec<_> = set.by_ref().map(|b| b.expect("batch decodes")).collect();
    assert!(!set.truncated_tail());
    out
}

fn records_of(batch: &DecodedBatch) -> Vec<Record> {
    batch
        .records()
        .map(|r| r.expect("record decodes"))
        .collect()
}

/// One record, key "k", value "v", timestamp 1000, at offset 5, written out by hand from the
/// format description.
fn hand_written_batch() -> Vec<u8> {
    let mut b: Vec<u8> = Vec::new();
    b.extend_from_slice(&5i64.to_be_bytes()); // baseOffset
    b.extend_from_slice(&58i32.to_be_bytes()); // batchLength: 49 header bytes after it + 9
    b.extend_from_slice(&(-1i32).to_be_bytes()); // partitionLeaderEpoch
    b.push(2); // magic
    b.extend_from_slice(&[0, 0, 0, 0]); // crc, filled below
    b.extend_from_slice(&0i16.to_be_bytes()); // attributes
    b.extend_from_slice(&0i32.to_be_bytes()); // lastOffsetDelta
    b.extend_from_slice(&1000i64.to_be_bytes()); // baseTimestamp
    b.extend_from_slice(&1000i64.to_be_bytes()); // maxTimestamp
    b.extend_from_slice(&(-1i64).to_be_bytes()); // producerId
    b.extend_from_slice(&(-1i16).to_be_bytes()); // producerEpoch
    b.extend_from_slice(&(-1i32).to_be_bytes()); // baseSequence
    b.extend_from_slice(&1i32.to_be_bytes()); // records count
    // Record: length 8 (zig-zag 0x10), attributes 0, timestampDelta 0, offsetDelta 0,
    // key length 1 (zig-zag 0x02) "k", value length 1 "v", header count 0.
    b.extend_from_slice(&[0x10, 0x00, 0x00, 0x00, 0x02, b'k', 0x02, b'v', 0x00]);
    assert_eq!(b.len(), 70);
    let crc = crc32c::crc32c(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    b
}

#[test]
fn known_answer_encode_matches_hand_written_bytes() {
    let expected = hand_written_batch();
    let mut out = BytesMut::new();
    let spec = BatchSpec {
        base_offset: 5,
        ..BatchSpec::default()
    };
    encode_batch(
        &spec,
        &[NewRecord::new(Some(b"k"), Some(b"v")).with_timestamp(1000)],
        &mut out,
    )
    .unwrap();
    assert_eq!(&out[..], &expected[..]);
}

#[test]
fn known_answer_decode_of_hand_written_bytes() {
    let bytes = Bytes::from(hand_written_batch());
    let batch = RecordBatch::decode(bytes.clone(), &DecodeOptions::default()).unwrap();
    let h = batch.header();
    assert_eq!(h.base_offset, 5);
    assert_eq!(h.batch_length, 58);
    assert_eq!(h.partition_leader_epoch, -1);
    assert_eq!(h.magic, 2);
    assert_eq!(h.crc, crc32c::crc32c(&bytes[21..]));
    assert_eq!((h.last_offset(), h.next_offset()), (5, 6));
    assert_eq!((h.base_timestamp, h.max_timestamp), (1000, 1000));
    assert_eq!(
        (h.producer_id, h.producer_epoch, h.base_sequence),
        (-1, -1, -1)
    );
    assert_eq!(h.timestamp_type(), TimestampType::CreateTime);
    assert!(!h.is_control() && !h.is_transactional());
    assert_eq!(h.size_in_bytes(), 70);
    let records: Vec<_> = batch.records().collect::<Result<_, _>>().unwrap();
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!((r.offset, r.timestamp), (5, 1000));
    assert_eq!(r.key.as_deref(), Some(&b"k"[..]));
    assert_eq!(r.value.as_deref(), Some(&b"v"[..]));
    assert!(r.headers.is_empty());
    // Zero-copy: the value is a slice of the input buffer.
    let value = r.value.as_ref().unwrap();
    assert_eq!(value.as_ptr(), bytes[68..].as_ptr());
}

#[test]
fn header_round_trips_through_write_and_parse() {
    let header = RecordBatchHeader {
        base_offset: 1 << 40,
        batch_length: 1234,
        partition_leader_epoch: 7,
        magic: 2,
        crc: 0xDEAD_BEEF,
        attributes: 0x7b,
        last_offset_delta: 99,
        base_timestamp: -5,
        max_timestamp: 1 << 50,
        producer_id: 42,
        producer_epoch: 3,
        base_sequence: 1_000_000,
        record_count: 100,
    };
    let mut out = BytesMut::new();
    header.write(&mut out);
    assert_eq!(out.len(), RecordBatchHeader::SIZE);
    assert_eq!(RecordBatchHeader::parse(&out).unwrap(), header);
    assert_eq!(header.compression(), Ok(Compression::Lz4));
    assert_eq!(header.timestamp_type(), TimestampType::LogAppendTime);
    assert!(header.is_transactional() && header.is_control());
    assert_eq!(header.delete_horizon_ms(), Some(-5));
    assert_eq!(header.last_offset(), (1 << 40) + 99);
}

fn sample_headers() -> Vec<NewHeader<'static>> {
    vec![
        NewHeader::new("trace", Some(b"abc")),
        NewHeader::new("dup", Some(b"1")),
        NewHeader::new("nil", None),
        NewHeader::new("dup", Some(b"2")),
        NewHeader::new("", Some(b"")),
    ]
}

#[test]
fn round_trip_every_codec_with_keys_nulls_and_headers() {
    let headers = sample_headers();
    let big = vec![b'x'; 100_000];
    let records = [
        NewRecord::new(Some(b"key-1"), Some(b"value-1")).with_timestamp(1_000),
        NewRecord::new(None, Some(b"no key")).with_timestamp(999),
        NewRecord::new(Some(b"tombstone"), None)
            .with_timestamp(2_000)
            .with_headers(&headers),
        NewRecord::new(None, None).with_timestamp(-1),
        NewRecord::new(Some(b""), Some(&big)).with_timestamp(1_500),
    ];
    for codec in Compression::ALL {
        let spec = BatchSpec {
            base_offset: 1000,
            partition_leader_epoch: 4,
            producer_id: 77,
            producer_epoch: 2,
            base_sequence: 10,
            compression: codec,
            ..BatchSpec::default()
        };
        let mut out = BytesMut::new();
        encode_batch(&spec, &records, &mut out).unwrap();
        let decoded = decode_all(out.freeze());
        assert_eq!(decoded.len(), 1);
        let batch = &decoded[0];
        assert_eq!(batch.compression(), codec);
        assert_eq!(batch.magic(), 2);
        assert_eq!(
            (
                batch.base_offset(),
                batch.last_offset(),
                batch.next_offset()
            ),
            (1000, 1004, 1005)
        );
        assert_eq!((batch.producer_id(), batch.producer_epoch()), (77, 2));
        assert_eq!(batch.partition_leader_epoch(), 4);
        let h = batch.header().unwrap();
        assert_eq!(
            (h.base_timestamp, h.max_timestamp, h.base_sequence),
            (1_000, 2_000, 10)
        );
        let got = records_of(batch);
        assert_eq!(got.len(), records.len(), "{codec:?}");
        for (i, (r, want)) in got.iter().zip(&records).enumerate() {
            assert_eq!(r.offset, 1000 + i as i64);
            assert_eq!(r.timestamp, want.timestamp);
            assert_eq!(r.key.as_deref(), want.key);
            assert_eq!(r.value.as_deref(), want.value);
            assert_eq!(r.headers.len(), want.headers.len());
            let hs: Vec<_> = r.headers.iter().collect::<Result<_, _>>().unwrap();
            for (h, w) in hs.iter().zip(want.headers) {
                assert_eq!(&h.key[..], w.key);
                assert_eq!(h.value.as_deref(), w.value);
            }
        }
        // The borrowed iterator sees exactly the same records.
        let DecodedBatch::V2(v2) = batch else {
            panic!("magic 2")
        };
        let refs: Vec<_> = v2.record_refs().collect::<Result<_, _>>().unwrap();
        assert_eq!(refs.len(), got.len());
        for (r, owned) in refs.iter().zip(&got) {
            assert_eq!((r.offset, r.timestamp), (owned.offset, owned.timestamp));
            assert_eq!(r.key, owned.key.as_deref());
            assert_eq!(r.value, owned.value.as_deref());
            assert_eq!(r.headers.raw(), &owned.headers.raw()[..]);
            let borrowed: Vec<_> = r.headers.iter().collect::<Result<_, _>>().unwrap();
            let owned_hs: Vec<_> = owned.headers.iter().collect::<Result<_, _>>().unwrap();
            assert_eq!(borrowed.len(), owned_hs.len());
            for (b, o) in borrowed.iter().zip(&owned_hs) {
                assert_eq!((b.key, b.value), (&o.key[..], o.value.as_deref()));
                assert_eq!(b.key_str(), o.key_str());
            }
        }
        let hs = &got[2].headers;
        assert_eq!(hs.iter().next().unwrap().unwrap().key_str(), Ok("trace"));
        let dups: Vec<_> = hs.get_all(b"dup").collect();
        assert_eq!(
            dups,
            vec![
                Some(Bytes::from_static(b"1")),
                Some(Bytes::from_static(b"2"))
            ]
        );
        assert_eq!(hs.get_all(b"nil").collect::<Vec<_>>(), vec![None]);
        hs.validate().unwrap();
    }
}

#[test]
fn explicit_offset_deltas_and_builder() {
    let mut builder = RecordBatchBuilder::new(BatchSpec {
        base_offset: 10,
        ..BatchSpec::default()
    });
    builder
        .push(NewRecord::new(None, Some(b"a")).with_offset_delta(0))
        .push(NewRecord::new(None, Some(b"b")).with_offset_delta(3))
        .push(NewRecord::new(None, Some(b"c")).with_offset_delta(7));
    builder.spec_mut().last_offset_delta = Some(9);
    let batch = &decode_all(builder.build().unwrap())[0];
    let offsets: Vec<i64> = records_of(batch).iter().map(|r| r.offset).collect();
    assert_eq!(offsets, vec![10, 13, 17]);
    assert_eq!(batch.last_offset(), 19);

    let bad = [
        NewRecord::new(None, None).with_offset_delta(2),
        NewRecord::new(None, None).with_offset_delta(2),
    ];
    let mut out = BytesMut::from(&b"keep"[..]);
    assert!(encode_batch(&BatchSpec::default(), &bad, &mut out).is_err());
    assert_eq!(
        &out[..],
        b"keep",
        "a failed encode leaves the buffer as it was"
    );
}

#[test]
fn empty_batch_keeps_its_offset_range() {
    let spec = BatchSpec {
        base_offset: 50,
        last_offset_delta: Some(4),
        ..BatchSpec::default()
    };
    let mut out = BytesMut::new();
    encode_batch(&spec, &[], &mut out).unwrap();
    assert_eq!(out.len(), RecordBatchHeader::SIZE);
    let batch = &decode_all(out.freeze())[0];
    assert_eq!(batch.record_count(), 0);
    assert_eq!(batch.records().count(), 0);
    assert_eq!(batch.next_offset(), 55);
}

#[test]
fn control_batches_commit_and_abort() {
    let spec = BatchSpec {
        base_offset: 300,
        producer_id: 9,
        producer_epoch: 1,
        ..BatchSpec::default()
    };
    let mut out = BytesMut::new();
    encode_control_batch(&spec, &ControlRecord::commit(17), 5_000, &mut out).unwrap();
    encode_control_batch(
        &BatchSpec {
            base_offset: 301,
            ..spec
        },
        &ControlRecord::abort(18),
        5_001,
        &mut out,
    )
    .unwrap();
    let decoded = decode_all(out.freeze());
    assert_eq!(decoded.len(), 2);
    let expected = [
        (ControlRecordKind::Commit, 17, 300),
        (ControlRecordKind::Abort, 18, 301),
    ];
    for (batch, (kind, epoch, offset)) in decoded.iter().zip(expected) {
        assert!(batch.is_control() && batch.is_transactional());
        assert_eq!(batch.producer_id(), 9);
        let DecodedBatch::V2(v2) = batch else {
            panic!("magic 2")
        };
        let marker = v2.control_record().unwrap().unwrap();
        assert_eq!(
            marker,
            ControlRecord {
                kind,
                version: 0,
                coordinator_epoch: epoch
            }
        );
        let record = records_of(batch).remove(0);
        assert_eq!(record.offset, offset);
        assert_eq!(
            record.key.as_deref(),
            Some(&[0, 0, 0, kind.code() as u8][..])
        );
        assert_eq!(ControlRecord::from_record(&record).unwrap().kind, kind);
    }
}

#[test]
fn control_record_parsing_edge_cases() {
    assert_eq!(
        ControlRecordKind::from_code(5),
        ControlRecordKind::Unknown(5)
    );
    let unknown = ControlRecord::parse(&[0, 0, 0, 3], Some(b"whatever")).unwrap();
    assert_eq!(unknown.kind, ControlRecordKind::Unknown(3));
    assert_eq!(unknown.coordinator_epoch, -1);
    assert!(ControlRecord::parse(&[0, 0, 0], None).is_err());
    assert!(ControlRecord::parse(&[0xff, 0xff, 0, 1], Some(&[0; 6])).is_err());
    assert!(ControlRecord::parse(&[0, 0, 0, 1], None).is_err());
    assert!(ControlRecord::parse(&[0, 0, 0, 1], Some(&[0, 0, 0])).is_err());
    // Newer value versions may append fields.
    let later = ControlRecord::parse(&[0, 1, 0, 1], Some(&[0, 1, 0, 0, 0, 9, 0xaa])).unwrap();
    assert_eq!((later.version, later.coordinator_epoch), (1, 9));
    let data = RecordBatch::decode(
        {
            let mut out = BytesMut::new();
            encode_batch(
                &BatchSpec::default(),
                &[NewRecord::new(None, Some(b"x"))],
                &mut out,
            )
            .unwrap();
            out.freeze()
        },
        &DecodeOptions::default(),
    )
    .unwrap();
    assert!(data.control_record().is_none());
}

#[test]
fn transactional_data_batch_and_log_append_time() {
    let spec = BatchSpec {
        transactional: true,
        producer_id: 5,
        producer_epoch: 0,
        base_sequence: 0,
        timestamp_type: TimestampType::LogAppendTime,
        ..BatchSpec::default()
    };
    let records = [
        NewRecord::new(None, Some(b"a")).with_timestamp(10),
        NewRecord::new(None, Some(b"b")).with_timestamp(30),
        NewRecord::new(None, Some(b"c")).with_timestamp(20),
    ];
    let mut out = BytesMut::new();
    encode_batch(&spec, &records, &mut out).unwrap();
    let batch = &decode_all(out.freeze())[0];
    assert!(batch.is_transactional() && !batch.is_control());
    // With log append time every record carries the batch's max timestamp.
    assert!(records_of(batch).iter().all(|r| r.timestamp == 30));
}

#[test]
fn delete_horizon_is_the_timestamp_base() {
    let spec = BatchSpec {
        delete_horizon_ms: Some(500),
        ..BatchSpec::default()
    };
    let records = [NewRecord::new(None, Some(b"a")).with_timestamp(700)];
    let mut out = BytesMut::new();
    encode_batch(&spec, &records, &mut out).unwrap();
    let batch = &decode_all(out.freeze())[0];
    let h = batch.header().unwrap();
    assert_eq!((h.delete_horizon_ms(), h.base_timestamp), (Some(500), 500));
    assert_eq!(records_of(batch)[0].timestamp, 700);
}

#[test]
fn record_set_of_many_batches_in_every_codec() {
    let mut out = BytesMut::new();
    let mut offset = 0;
    for round in 0..3 {
        for codec in Compression::ALL {
            let values: Vec<Vec<u8>> = (0..10)
                .map(|i| format!("r{round}-{codec:?}-{i}").into_bytes())
                .collect();
            let records: Vec<_> = values
                .iter()
                .map(|v| NewRecord::new(None, Some(v)))
                .collect();
            let spec = BatchSpec {
                base_offset: offset,
                compression: codec,
                ..BatchSpec::default()
            };
            encode_batch(&spec, &records, &mut out).unwrap();
            offset += 10;
        }
    }
    let decoded = decode_all(out.freeze());
    assert_eq!(decoded.len(), 15);
    let all: Vec<Record> = decoded.iter().flat_map(records_of).collect();
    assert_eq!(all.len(), 150);
    assert!(all.iter().enumerate().all(|(i, r)| r.offset == i as i64));
}

#[test]
fn compressed_values_share_one_buffer_per_batch() {
    let records: Vec<_> = (0..50)
        .map(|_| NewRecord::new(Some(b"key"), Some(b"value-value")))
        .collect();
    let mut out = BytesMut::new();
    encode_batch(
        &BatchSpec {
            compression: Compression::Lz4,
            ..BatchSpec::default()
        },
        &records,
        &mut out,
    )
    .unwrap();
    let batch = &decode_all(out.freeze())[0];
    let DecodedBatch::V2(v2) = batch else {
        panic!("magic 2")
    };
    let data = v2.records_data();
    let range = data.as_ptr() as usize..data.as_ptr() as usize + data.len();
    for r in records_of(batch) {
        assert!(range.contains(&(r.value.unwrap().as_ptr() as usize)));
    }
}

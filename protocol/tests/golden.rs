//! Golden tests against a foreign producer: the record bytes in `tests/fixtures/` were written by
//! librdkafka 2.16.0 (see `tests/fixtures/README.md`), and `manifest.json` says what each file
//! holds, checked by a parser that shares no code with gregor. Every fixture must decode through
//! [`batches`] with CRC verification on, and every batch- and record-level field of the manifest
//! must equal what gregor decodes.
//!
//! The re-encoding tests are in `golden/reencode.rs`, the corruption tests in
//! `golden/corruption.rs`.

#[path = "golden/corruption.rs"]
mod corruption;
#[path = "golden/manifest.rs"]
mod manifest;
#[path = "golden/reencode.rs"]
mod reencode;

use gregor_protocol::compression::Compression;
use gregor_protocol::records::{
    ControlRecord, ControlRecordKind, DecodeOptions, DecodedBatch, LegacyBatch, Record,
    RecordBatch, RecordBatchHeader, TimestampType, batches,
};

use manifest::{Fixture, fixture_bytes, unhex_opt};

/// The codec a manifest name stands for (spelled out here, not through gregor's own names).
pub(crate) fn codec_named(name: &str) -> Compression {
    match name {
        "none" => Compression::None,
        "gzip" => Compression::Gzip,
        "snappy" => Compression::Snappy,
        "lz4" => Compression::Lz4,
        "zstd" => Compression::Zstd,
        other => panic!("unknown codec {other:?} in manifest"),
    }
}

/// The codec's wire code (Kafka protocol: attributes bits 0-2).
fn codec_code(name: &str) -> i16 {
    match name {
        "none" => 0,
        "gzip" => 1,
        "snappy" => 2,
        "lz4" => 3,
        "zstd" => 4,
        other => panic!("unknown codec {other:?} in manifest"),
    }
}

fn timestamp_type_named(name: &str) -> TimestampType {
    match name {
        "create" => TimestampType::CreateTime,
        "log_append" => TimestampType::LogAppendTime,
        other => panic!("unknown timestamp type {other:?} in manifest"),
    }
}

/// The attributes a magic-2 batch with the manifest's flags has: codec in bits 0-2, log append
/// time bit 3, transactional bit 4, control bit 5, nothing else.
fn v2_attributes(want: &manifest::Batch) -> i16 {
    let mut attributes = codec_code(&want.compression);
    if want.timestamp_type == "log_append" {
        attributes |= 0x08;
    }
    if want.transactional {
        attributes |= 0x10;
    }
    if want.control {
        attributes |= 0x20;
    }
    attributes
}

/// Decodes a whole fixture, asserting it is consumed exactly, with no truncated tail.
pub(crate) fn decode_all(name: &str) -> Vec<DecodedBatch> {
    let data = fixture_bytes(name);
    let mut set = batches(data.clone(), &DecodeOptions::default());
    let mut decoded = Vec::new();
    for item in set.by_ref() {
        match item {
            Ok(batch) => decoded.push(batch),
            Err(e) => panic!("{name}: batch {} failed to decode: {e}", decoded.len()),
        }
    }
    assert!(!set.truncated_tail(), "{name}: truncated tail");
    assert_eq!(set.position(), data.len(), "{name}: bytes consumed");
    assert!(set.remaining().is_empty(), "{name}: bytes left over");
    decoded
}

/// All records of a batch; the iterator must end without a trailing error.
pub(crate) fn records_of(ctx: &str, batch: &DecodedBatch) -> Vec<Record> {
    batch
        .records()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("{ctx}: records: {e}"))
}

fn check_fixture(name: &str) {
    let manifest = manifest::load();
    let fixture: &Fixture = manifest
        .fixtures
        .get(name)
        .unwrap_or_else(|| panic!("{name} is not in the manifest"));
    assert_eq!(fixture_bytes(name).len(), fixture.size, "{name}: file size");
    let decoded = decode_all(name);
    assert_eq!(decoded.len(), fixture.batches.len(), "{name}: batch count");
    let mut v2_bytes = 0i64;
    for (i, (got, want)) in decoded.iter().zip(&fixture.batches).enumerate() {
        let ctx = format!("{name} batch {i}");
        check_batch(&ctx, got, want);
        if let Some(h) = got.header() {
            v2_bytes += h.size_in_bytes();
        }
    }
    if name.starts_with("v2_") {
        assert_eq!(v2_bytes, fixture.size as i64, "{name}: sum of batch sizes");
    }
}

fn check_batch(ctx: &str, got: &DecodedBatch, want: &manifest::Batch) {
    assert_eq!(got.magic(), want.magic, "{ctx}: magic");
    assert_eq!(
        got.compression(),
        codec_named(&want.compression),
        "{ctx}: compression"
    );
    assert_eq!(
        got.is_transactional(),
        want.transactional,
        "{ctx}: transactional"
    );
    assert_eq!(got.is_control(), want.control, "{ctx}: control");
    assert_eq!(got.producer_id(), want.producer_id, "{ctx}: producer id");
    assert_eq!(
        got.producer_epoch(),
        want.producer_epoch,
        "{ctx}: producer epoch"
    );
    assert_eq!(got.record_count(), want.record_count, "{ctx}: record count");
    assert_eq!(
        want.records.len(),
        want.record_count,
        "{ctx}: manifest itself"
    );
    let records = records_of(ctx, got);
    assert_eq!(records.len(), want.record_count, "{ctx}: records yielded");
    match got {
        DecodedBatch::V2(b) => check_v2(ctx, got, b, want, &records),
        DecodedBatch::Legacy(b) => check_legacy(ctx, got, b, want, &records),
    }
}

fn check_v2(
    ctx: &str,
    got: &DecodedBatch,
    b: &RecordBatch,
    want: &manifest::Batch,
    records: &[Record],
) {
    let h: &RecordBatchHeader = b.header();
    assert_eq!(got.header(), Some(h), "{ctx}: header accessor");
    assert_eq!(h.magic, 2, "{ctx}: header magic");
    assert_eq!(h.base_offset, want.base_offset, "{ctx}: base offset");
    assert_eq!(got.base_offset(), want.base_offset, "{ctx}: base offset");
    assert_eq!(h.last_offset(), want.last_offset, "{ctx}: last offset");
    assert_eq!(got.last_offset(), want.last_offset, "{ctx}: last offset");
    assert_eq!(
        i64::from(h.last_offset_delta),
        want.last_offset - want.base_offset,
        "{ctx}: last offset delta"
    );
    assert_eq!(
        got.next_offset(),
        want.last_offset + 1,
        "{ctx}: next offset"
    );
    assert_eq!(
        Some(h.batch_length),
        want.batch_length,
        "{ctx}: batch length"
    );
    assert_eq!(
        Some(h.partition_leader_epoch),
        want.partition_leader_epoch,
        "{ctx}: partition leader epoch"
    );
    assert_eq!(
        Some(got.partition_leader_epoch()),
        want.partition_leader_epoch,
        "{ctx}: partition leader epoch"
    );
    assert_eq!(h.crc, want.crc, "{ctx}: crc");
    assert_eq!(h.attributes, v2_attributes(want), "{ctx}: attributes");
    let ts_type = timestamp_type_named(&want.timestamp_type);
    assert_eq!(h.timestamp_type(), ts_type, "{ctx}: timestamp type");
    assert_eq!(h.delete_horizon_ms(), None, "{ctx}: delete horizon");
    assert_eq!(
        Some(h.base_timestamp),
        want.base_timestamp,
        "{ctx}: base timestamp"
    );
    assert_eq!(
        Some(h.max_timestamp),
        want.max_timestamp,
        "{ctx}: max timestamp"
    );
    assert_eq!(h.producer_id, want.producer_id, "{ctx}: producer id");
    assert_eq!(h.producer_epoch, want.producer_epoch, "{ctx}: epoch");
    assert_eq!(h.base_sequence, want.base_sequence, "{ctx}: base sequence");
    assert_eq!(
        usize::try_from(h.record_count).ok(),
        Some(want.record_count),
        "{ctx}: header record count"
    );
    assert_eq!(want.wrapper_timestamp, None, "{ctx}: v2 has no wrapper");

    let mut first_marker = None;
    for (j, (r, w)) in records.iter().zip(&want.records).enumerate() {
        let ctx = format!("{ctx} record {j}");
        assert_eq!(r.offset, w.offset, "{ctx}: offset");
        let timestamp = match ts_type {
            TimestampType::LogAppendTime => want.max_timestamp,
            TimestampType::CreateTime => w.timestamp,
        };
        assert_eq!(Some(r.timestamp), timestamp, "{ctx}: timestamp");
        check_payload(&ctx, r, w);
        let marker = check_control(&ctx, want.control, r, w);
        first_marker = first_marker.or(marker);
    }
    // The batch-level accessor reads the first record's marker.
    assert_eq!(
        b.control_record(),
        first_marker.map(Ok),
        "{ctx}: control record"
    );

    // The borrowed iterator yields the same records.
    let refs: Vec<_> = b
        .record_refs()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("{ctx}: record refs: {e}"));
    assert_eq!(refs.len(), records.len(), "{ctx}: record refs count");
    for (j, (rr, r)) in refs.iter().zip(records).enumerate() {
        let ctx = format!("{ctx} record ref {j}");
        assert_eq!(rr.offset, r.offset, "{ctx}: offset");
        assert_eq!(rr.timestamp, r.timestamp, "{ctx}: timestamp");
        assert_eq!(rr.key, r.key.as_deref(), "{ctx}: key");
        assert_eq!(rr.value, r.value.as_deref(), "{ctx}: value");
        let ref_headers: Vec<_> = rr
            .headers
            .iter()
            .map(|h| h.map(|h| (h.key.to_vec(), h.value.map(<[u8]>::to_vec))))
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("{ctx}: headers: {e}"));
        assert_eq!(ref_headers, headers_of(&ctx, r), "{ctx}: headers");
    }
}

/// Checks a record's control marker against the manifest; returns it for control batches.
fn check_control(
    ctx: &str,
    control_batch: bool,
    r: &Record,
    w: &manifest::Record,
) -> Option<ControlRecord> {
    if !control_batch {
        assert_eq!(w.control_type, None, "{ctx}: manifest marker in data batch");
        assert_eq!(w.coordinator_epoch, None, "{ctx}: manifest marker epoch");
        return None;
    }
    let kind = match w.control_type.as_deref() {
        Some("commit") => ControlRecordKind::Commit,
        Some("abort") => ControlRecordKind::Abort,
        other => panic!("{ctx}: control record without a known control_type: {other:?}"),
    };
    let marker = ControlRecord::from_record(r).unwrap_or_else(|e| panic!("{ctx}: marker: {e}"));
    assert_eq!(marker.kind, kind, "{ctx}: control type");
    assert_eq!(
        Some(marker.coordinator_epoch),
        w.coordinator_epoch,
        "{ctx}: coordinator epoch"
    );
    // The manifest's key bytes are `version: int16, type: int16`; version 0 is all Kafka wrote.
    assert_eq!(marker.version, 0, "{ctx}: control key version");
    Some(marker)
}

fn check_legacy(
    ctx: &str,
    got: &DecodedBatch,
    b: &LegacyBatch,
    want: &manifest::Batch,
    records: &[Record],
) {
    assert_eq!(b.magic(), want.magic, "{ctx}: magic");
    assert!(matches!(want.magic, 0 | 1), "{ctx}: legacy magic");
    assert_eq!(got.header(), None, "{ctx}: no v2 header");
    assert_eq!(b.crc(), want.crc, "{ctx}: crc");
    let ts_type = timestamp_type_named(&want.timestamp_type);
    assert_eq!(b.timestamp_type(), ts_type, "{ctx}: timestamp type");
    let ts_flag = if ts_type == TimestampType::LogAppendTime {
        0x08
    } else {
        0
    };
    assert_eq!(
        i16::from(b.attributes()),
        codec_code(&want.compression) | ts_flag,
        "{ctx}: attributes"
    );
    // Fields magic 0/1 cannot carry: the manifest has the "none" values, gregor reports them.
    assert_eq!(want.base_sequence, -1, "{ctx}: base sequence");
    assert_eq!(got.partition_leader_epoch(), -1, "{ctx}: leader epoch");
    assert_eq!(want.base_timestamp, None, "{ctx}: base timestamp");
    assert_eq!(want.max_timestamp, None, "{ctx}: max timestamp");
    assert_eq!(want.partition_leader_epoch, None, "{ctx}: leader epoch");
    assert_eq!(want.batch_length, None, "{ctx}: batch length");

    // The top-level message's timestamp: absent in magic 0 (gregor: -1).
    let wrapper_ts = want
        .wrapper_timestamp
        .unwrap_or_else(|| panic!("{ctx}: manifest lacks wrapper_timestamp"));
    assert_eq!(wrapper_ts.is_none(), want.magic == 0, "{ctx}: wrapper ts");
    assert_eq!(b.timestamp(), wrapper_ts.unwrap_or(-1), "{ctx}: wrapper ts");

    // Offsets. The manifest has the top-level offset field as `base_offset = last_offset`, and
    // each record's offset field exactly as written.
    assert_eq!(want.base_offset, want.last_offset, "{ctx}: manifest itself");
    assert_eq!(b.wrapper_offset(), want.base_offset, "{ctx}: offset field");
    let raw: Vec<i64> = want.records.iter().map(|w| w.offset).collect();
    let expected: Vec<i64> = if want.compression == "none" {
        // A plain message is its own record, at its own offset field.
        assert_eq!(raw, [want.base_offset], "{ctx}: plain message offset");
        raw
    } else if want.magic == 1 {
        // Magic 1 wrappers: inner offsets are relative, the wrapper holds the absolute offset
        // of the last inner message, so absolute = wrapper - last relative + relative.
        let last_relative = *raw.last().expect("a wrapper holds records");
        raw.iter()
            .map(|rel| want.base_offset - last_relative + rel)
            .collect()
    } else {
        // Magic 0 wrappers: inner offsets are absolute as written.
        raw
    };
    let got_offsets: Vec<i64> = records.iter().map(|r| r.offset).collect();
    assert_eq!(got_offsets, expected, "{ctx}: record offsets");
    assert_eq!(got.base_offset(), expected[0], "{ctx}: base offset");
    assert_eq!(
        got.last_offset(),
        *expected.last().expect("non-empty"),
        "{ctx}: last offset"
    );
    if want.magic == 1 {
        // In every magic-1 message set the top-level offset is the last record's.
        assert_eq!(got.last_offset(), b.wrapper_offset(), "{ctx}: last offset");
    }

    for (j, (r, w)) in records.iter().zip(&want.records).enumerate() {
        let ctx = format!("{ctx} record {j}");
        assert_eq!(w.timestamp.is_none(), want.magic == 0, "{ctx}: manifest ts");
        let timestamp = match ts_type {
            TimestampType::LogAppendTime => wrapper_ts.unwrap_or(-1),
            TimestampType::CreateTime => w.timestamp.unwrap_or(-1),
        };
        assert_eq!(r.timestamp, timestamp, "{ctx}: timestamp");
        assert!(w.headers.is_empty(), "{ctx}: legacy record with headers");
        check_payload(&ctx, r, w);
        check_control(&ctx, false, r, w);
    }
}

/// A record's headers as (key, value) byte pairs, in wire order.
fn headers_of(ctx: &str, r: &Record) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
    r.headers
        .iter()
        .map(|h| h.map(|h| (h.key.to_vec(), h.value.map(|v| v.to_vec()))))
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("{ctx}: headers: {e}"))
}

/// Key, value (null and empty told apart) and headers (order, duplicates, null values).
fn check_payload(ctx: &str, r: &Record, w: &manifest::Record) {
    assert_eq!(r.key.as_deref(), unhex_opt(&w.key).as_deref(), "{ctx}: key");
    assert_eq!(
        r.value.as_deref(),
        unhex_opt(&w.value).as_deref(),
        "{ctx}: value"
    );
    assert_eq!(r.headers.len(), w.headers.len(), "{ctx}: header count");
    let want_headers: Vec<(Vec<u8>, Option<Vec<u8>>)> = w
        .headers
        .iter()
        .map(|(k, v)| (k.as_bytes().to_vec(), unhex_opt(v)))
        .collect();
    assert_eq!(headers_of(ctx, r), want_headers, "{ctx}: headers");
    for (h, (k, _)) in r.headers.iter().zip(&w.headers) {
        let h = h.unwrap_or_else(|e| panic!("{ctx}: header: {e}"));
        assert_eq!(h.key_str(), Ok(k.as_str()), "{ctx}: header key as text");
    }
}

#[test]
fn manifest_describes_exactly_the_fixture_files() {
    let manifest = manifest::load();
    assert_eq!(manifest.librdkafka_version, "2.16.0");
    let mut on_disk: Vec<String> = std::fs::read_dir(manifest::dir())
        .expect("list fixtures")
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .into_string()
                .expect("utf-8")
        })
        .filter(|n| n.ends_with(".bin"))
        .collect();
    on_disk.sort();
    let listed: Vec<String> = manifest.fixtures.keys().cloned().collect();
    assert_eq!(on_disk, listed, "fixture files vs manifest entries");
    let mut tested: Vec<String> = FIXTURES.iter().map(|s| s.to_string()).collect();
    tested.sort();
    assert_eq!(tested, listed, "fixtures with a test vs manifest entries");
}

/// One test per fixture, and [`FIXTURES`], the list of them.
macro_rules! golden {
    ($($test:ident => $file:literal,)*) => {
        /// Every fixture file, each with its own test.
        pub(crate) const FIXTURES: &[&str] = &[$($file),*];
        $(
            #[test]
            fn $test() {
                check_fixture($file);
            }
        )*
    };
}

golden! {
    v2_none_decodes_exactly => "v2_none.bin",
    v2_gzip_decodes_exactly => "v2_gzip.bin",
    v2_snappy_decodes_exactly => "v2_snappy.bin",
    v2_lz4_decodes_exactly => "v2_lz4.bin",
    v2_zstd_decodes_exactly => "v2_zstd.bin",
    v2_multi_batch_decodes_exactly => "v2_multi_batch.bin",
    v2_idempotent_decodes_exactly => "v2_idempotent.bin",
    v2_transactional_decodes_exactly => "v2_transactional.bin",
    legacy_m0_none_decodes_exactly => "legacy_m0_none.bin",
    legacy_m0_gzip_decodes_exactly => "legacy_m0_gzip.bin",
    legacy_m0_snappy_decodes_exactly => "legacy_m0_snappy.bin",
    legacy_m0_lz4_decodes_exactly => "legacy_m0_lz4.bin",
    legacy_m1_none_decodes_exactly => "legacy_m1_none.bin",
    legacy_m1_gzip_decodes_exactly => "legacy_m1_gzip.bin",
    legacy_m1_snappy_decodes_exactly => "legacy_m1_snappy.bin",
    legacy_m1_lz4_decodes_exactly => "legacy_m1_lz4.bin",
}

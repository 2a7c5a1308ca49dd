//! Property tests: the record decoders never panic, and encode → decode is the identity.

use bytes::{Bytes, BytesMut};
use gregor_protocol::compression::Compression;
use gregor_protocol::records::{
    BatchSpec, DecodeOptions, LegacySpec, NewHeader, NewRecord, batches, encode_batch,
    encode_message_set,
};
use proptest::prelude::*;

/// Decodes everything in `input`, touching every record and header, ignoring errors.
fn exercise(input: Vec<u8>, opts: &DecodeOptions) {
    let mut set = batches(Bytes::from(input), opts);
    for batch in set.by_ref() {
        let Ok(batch) = batch else { continue };
        let _ = (
            batch.base_offset(),
            batch.last_offset(),
            batch.record_count(),
            batch.is_control(),
        );
        for record in batch.records() {
            let Ok(record) = record else { continue };
            for header in record.headers.iter().flatten() {
                let _ = header.key_str();
            }
        }
        if let gregor_protocol::records::DecodedBatch::V2(v2) = &batch {
            let _ = v2.control_record();
            for record in v2.record_refs().flatten() {
                for header in record.headers.iter().flatten() {
                    let _ = header.key_str();
                }
            }
        }
    }
    let _ = set.truncated_tail();
}

#[derive(Debug, Clone)]
struct TestRecord {
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    timestamp: i64,
    headers: Vec<(Vec<u8>, Option<Vec<u8>>)>,
}

fn bytes_opt(max: usize) -> impl Strategy<Value = Option<Vec<u8>>> {
    proptest::option::of(proptest::collection::vec(any::<u8>(), 0..max))
}

fn test_record() -> impl Strategy<Value = TestRecord> {
    (
        bytes_opt(40),
        bytes_opt(300),
        // Spread around a realistic epoch-millis base, with negatives and extremes now and then.
        prop_oneof![
            1_600_000_000_000i64..1_800_000_000_000,
            -1i64..=0,
            any::<i64>().prop_map(|t| t / 4)
        ],
        proptest::collection::vec(
            (proptest::collection::vec(any::<u8>(), 0..12), bytes_opt(20)),
            0..4,
        ),
    )
        .prop_map(|(key, value, timestamp, headers)| TestRecord {
            key,
            value,
            timestamp,
            headers,
        })
}

fn mutated_batch() -> impl Strategy<Value = Vec<u8>> {
    (
        0usize..5,
        proptest::collection::vec(test_record(), 0..6),
        proptest::collection::vec((any::<usize>(), any::<u8>()), 0..8),
        any::<usize>(),
    )
        .prop_map(|(codec, records, flips, cut)| {
            let headers: Vec<Vec<NewHeader<'_>>> = records
                .iter()
                .map(|r| {
                    r.headers
                        .iter()
                        .map(|(k, v)| NewHeader {
                            key: k,
                            value: v.as_deref(),
                        })
                        .collect()
                })
                .collect();
            let new: Vec<NewRecord<'_>> = records
                .iter()
                .zip(&headers)
                .map(|(r, h)| NewRecord {
                    offset_delta: None,
                    timestamp: r.timestamp,
                    key: r.key.as_deref(),
                    value: r.value.as_deref(),
                    headers: h,
                })
                .collect();
            let spec = BatchSpec {
                compression: Compression::ALL[codec],
                ..BatchSpec::default()
            };
            let mut out = BytesMut::new();
            encode_batch(&spec, &new, &mut out).unwrap();
            let mut b = out.to_vec();
            for (at, x) in flips {
                let n = b.len();
                b[at % n] ^= x | 1;
            }
            let keep = b.len() - cut % (b.len() / 4 + 1);
            b.truncate(keep);
            b
        })
}

/// `default` cases, unless `PROPTEST_CASES` asks for more (or fewer) for a longer fuzzing run.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(512), ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..600)) {
        exercise(input.clone(), &DecodeOptions::default());
        exercise(input, &DecodeOptions { verify_crc: false, max_decompressed_bytes: 4096 });
    }

    #[test]
    fn plausible_headers_with_arbitrary_bodies_never_panic(
        magic in 0i8..=2,
        attributes in any::<u8>(),
        body in proptest::collection::vec(any::<u8>(), 0..400),
    ) {
        // A length that matches, the chosen magic, then random content; CRC checks off so the
        // decoders get past them.
        let mut b = 0i64.to_be_bytes().to_vec();
        b.extend_from_slice(&((body.len() + 5) as i32).to_be_bytes());
        b.extend_from_slice(&[0, 0, 0, 0, magic as u8]);
        let mut body = body;
        if let Some(first) = body.get_mut(if magic == 2 { 5 } else { 1 }) {
            *first = attributes;
        }
        b.extend_from_slice(&body);
        exercise(b, &DecodeOptions { verify_crc: false, max_decompressed_bytes: 1 << 16 });
    }

    #[test]
    fn mutated_legacy_sets_never_panic(
        codec in 0usize..5,
        magic in 0i8..=1,
        records in proptest::collection::vec((bytes_opt(20), bytes_opt(60)), 1..6),
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..6),
    ) {
        let new: Vec<NewRecord<'_>> =
            records.iter().map(|(k, v)| NewRecord::new(k.as_deref(), v.as_deref())).collect();
        let spec = LegacySpec { magic, compression: Compression::ALL[codec], ..LegacySpec::default() };
        let mut out = BytesMut::new();
        encode_message_set(&spec, &new, &mut out).unwrap();
        let mut b = out.to_vec();
        for (at, x) in flips {
            let n = b.len();
            b[at % n] ^= x | 1;
        }
        exercise(b.clone(), &DecodeOptions { verify_crc: false, max_decompressed_bytes: 1 << 16 });
        exercise(b, &DecodeOptions::default());
    }

    #[test]
    fn mutated_valid_batches_never_panic(batch in mutated_batch()) {
        exercise(batch.clone(), &DecodeOptions { verify_crc: false, max_decompressed_bytes: 1 << 16 });
        exercise(batch, &DecodeOptions::default());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(128), ..ProptestConfig::default() })]

    #[test]
    fn encode_decode_round_trip(
        codec in 0usize..5,
        base_offset in 0i64..(1 << 50),
        producer_id in -1i64..1000,
        records in proptest::collection::vec(test_record(), 0..20),
        transactional in any::<bool>(),
    ) {
        let codec = Compression::ALL[codec];
        let headers: Vec<Vec<NewHeader<'_>>> = records
            .iter()
            .map(|r| r.headers.iter().map(|(k, v)| NewHeader { key: k, value: v.as_deref() }).collect())
            .collect();
        let new: Vec<NewRecord<'_>> = records
            .iter()
            .zip(&headers)
            .map(|(r, h)| NewRecord { offset_delta: None, timestamp: r.timestamp, key: r.key.as_deref(), value: r.value.as_deref(), headers: h })
            .collect();
        let spec = BatchSpec { base_offset, producer_id, compression: codec, transactional, ..BatchSpec::default() };
        let mut out = BytesMut::new();
        let encoded = encode_batch(&spec, &new, &mut out);
        // Timestamps so far apart their delta overflows are refused, not mangled.
        let first = records.first().map(|r| r.timestamp).unwrap_or(0);
        if records.iter().any(|r| r.timestamp.checked_sub(first).is_none()) {
            prop_assert!(encoded.is_err());
            return Ok(());
        }
        encoded.unwrap();
        let decoded: Vec<_> = batches(out.freeze(), &DecodeOptions::default()).collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(decoded.len(), 1);
        let batch = &decoded[0];
        prop_assert_eq!(batch.compression(), codec);
        prop_assert_eq!(batch.is_transactional(), transactional);
        prop_assert_eq!(batch.producer_id(), producer_id);
        let got: Vec<_> = batch.records().collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(got.len(), records.len());
        for (i, (r, want)) in got.iter().zip(&records).enumerate() {
            prop_assert_eq!(r.offset, base_offset + i as i64);
            prop_assert_eq!(r.timestamp, want.timestamp);
            prop_assert_eq!(r.key.as_deref(), want.key.as_deref());
            prop_assert_eq!(r.value.as_deref(), want.value.as_deref());
            let hs: Vec<_> = r.headers.iter().collect::<Result<_, _>>().unwrap();
            prop_assert_eq!(hs.len(), want.headers.len());
            for (h, (k, v)) in hs.iter().zip(&want.headers) {
                prop_assert_eq!(&h.key[..], &k[..]);
                prop_assert_eq!(h.value.as_deref(), v.as_deref());
            }
        }
    }

    #[test]
    fn legacy_encode_decode_round_trip(
        codec in 0usize..5,
        magic in 0i8..=1,
        base_offset in 0i64..(1 << 50),
        records in proptest::collection::vec((bytes_opt(30), bytes_opt(200), 0i64..1 << 45), 1..12),
    ) {
        let codec = Compression::ALL[codec];
        let new: Vec<NewRecord<'_>> = records
            .iter()
            .map(|(k, v, t)| NewRecord::new(k.as_deref(), v.as_deref()).with_timestamp(*t))
            .collect();
        let spec = LegacySpec { magic, base_offset, compression: codec, ..LegacySpec::default() };
        let mut out = BytesMut::new();
        encode_message_set(&spec, &new, &mut out).unwrap();
        let decoded: Vec<_> = batches(out.freeze(), &DecodeOptions::default()).collect::<Result<_, _>>().unwrap();
        let got: Vec<_> = decoded.iter().flat_map(|b| b.records()).collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(got.len(), records.len());
        for (i, (r, (k, v, t))) in got.iter().zip(&records).enumerate() {
            prop_assert_eq!(r.offset, base_offset + i as i64);
            prop_assert_eq!(r.timestamp, if magic == 0 { -1 } else { *t });
            prop_assert_eq!(r.key.as_deref(), k.as_deref());
            prop_assert_eq!(r.value.as_deref(), v.as_deref());
        }
    }
}

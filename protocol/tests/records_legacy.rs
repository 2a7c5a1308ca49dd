//! Legacy message sets (magic 0 and 1): known answers, compressed wrappers and their offsets,
//! the KIP-57 LZ4 header, mixed record sets and errors.

use bytes::{BufMut, Bytes, BytesMut};
use gregor_protocol::compression::{self, Compression, CompressionError};
use gregor_protocol::records::{
    BatchSpec, DecodeOptions, DecodedBatch, LegacySpec, NewRecord, Record, RecordsEncodeError,
    RecordsError, TimestampType, batches, encode_batch, encode_message_set,
};

fn ieee(data: &[u8]) -> u32 {
    let mut crc = flate2::Crc::new();
    crc.update(data);
    crc.sum()
}

/// A message written by hand from the format description, CRC by an independent CRC-32.
fn message(
    offset: i64,
    magic: i8,
    attributes: i8,
    timestamp: i64,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
) -> Vec<u8> {
    let mut body = vec![magic as u8, attributes as u8];
    if magic == 1 {
        body.extend_from_slice(&timestamp.to_be_bytes());
    }
    for field in [key, value] {
        match field {
            None => body.extend_from_slice(&(-1i32).to_be_bytes()),
            Some(f) => {
                body.extend_from_slice(&(f.len() as i32).to_be_bytes());
                body.extend_from_slice(f);
            }
        }
    }
    let mut m = offset.to_be_bytes().to_vec();
    m.extend_from_slice(&(body.len() as i32 + 4).to_be_bytes());
    m.extend_from_slice(&ieee(&body).to_be_bytes());
    m.extend_from_slice(&body);
    m
}

fn decode_all(input: Bytes) -> Vec<DecodedBatch> {
    let mut set = batches(input, &DecodeOptions::default());
    let out: Vec<_> = set.by_ref().map(|b| b.expect("batch decodes")).collect();
    assert!(!set.truncated_tail());
    out
}

fn records(input: Bytes) -> Vec<Record> {
    decode_all(input)
        .iter()
        .flat_map(|b| b.records().map(|r| r.expect("record")).collect::<Vec<_>>())
        .collect()
}

fn first_error(input: Vec<u8>) -> Option<RecordsError> {
    for batch in batches(Bytes::from(input), &DecodeOptions::default()) {
        match batch {
            Err(e) => return Some(e),
            Ok(b) => {
                if let Some(Err(e)) = b.records().find(|r| r.is_err()) {
                    return Some(e);
                }
            }
        }
    }
    None
}

#[test]
fn known_answer_magic1_message() {
    let mut expected = vec![0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 24, 0, 0, 0, 0, 1, 0];
    expected.extend_from_slice(&1000i64.to_be_bytes());
    expected.extend_from_slice(&[0, 0, 0, 1, b'k', 0, 0, 0, 1, b'v']);
    let crc = ieee(&expected[16..]);
    expected[12..16].copy_from_slice(&crc.to_be_bytes());
    assert_eq!(expected, message(7, 1, 0, 1000, Some(b"k"), Some(b"v")));

    let spec = LegacySpec {
        magic: 1,
        base_offset: 7,
        ..LegacySpec::default()
    };
    let mut out = BytesMut::new();
    encode_message_set(
        &spec,
        &[NewRecord::new(Some(b"k"), Some(b"v")).with_timestamp(1000)],
        &mut out,
    )
    .unwrap();
    assert_eq!(&out[..], &expected[..]);

    let batch = &decode_all(Bytes::from(expected))[0];
    assert_eq!(
        (batch.magic(), batch.base_offset(), batch.last_offset()),
        (1, 7, 7)
    );
    assert!(!batch.is_control() && !batch.is_transactional());
    assert_eq!(batch.producer_id(), -1);
    let DecodedBatch::Legacy(legacy) = batch else {
        panic!("legacy")
    };
    assert_eq!(legacy.crc(), crc);
    let r = batch.records().next().unwrap().unwrap();
    assert_eq!((r.offset, r.timestamp), (7, 1000));
    assert_eq!(
        (r.key.as_deref(), r.value.as_deref()),
        (Some(&b"k"[..]), Some(&b"v"[..]))
    );
}

#[test]
fn known_answer_magic0_message() {
    let expected = message(3, 0, 0, -1, None, Some(b"hello"));
    assert_eq!(expected.len(), 12 + 14 + 5);
    let spec = LegacySpec {
        magic: 0,
        base_offset: 3,
        ..LegacySpec::default()
    };
    let mut out = BytesMut::new();
    encode_message_set(
        &spec,
        &[NewRecord::new(None, Some(b"hello")).with_timestamp(55)],
        &mut out,
    )
    .unwrap();
    assert_eq!(&out[..], &expected[..]);
    let r = &records(Bytes::from(expected))[0];
    assert_eq!((r.offset, r.timestamp, r.key.is_none()), (3, -1, true));
}

#[test]
fn round_trip_every_codec_and_magic() {
    let big = vec![b'z'; 70_000];
    let input = [
        NewRecord::new(Some(b"a"), Some(b"1")).with_timestamp(100),
        NewRecord::new(None, Some(b"2")).with_timestamp(300),
        NewRecord::new(Some(b"c"), None).with_timestamp(200),
        NewRecord::new(Some(b""), Some(&big)).with_timestamp(250),
    ];
    for magic in [0i8, 1] {
        for codec in Compression::ALL {
            let spec = LegacySpec {
                magic,
                base_offset: 1000,
                compression: codec,
                ..LegacySpec::default()
            };
            let mut out = BytesMut::new();
            encode_message_set(&spec, &input, &mut out).unwrap();
            let decoded = decode_all(out.freeze());
            let expected_batches = if codec == Compression::None {
                input.len()
            } else {
                1
            };
            assert_eq!(decoded.len(), expected_batches, "magic {magic} {codec:?}");
            assert!(
                decoded
                    .iter()
                    .all(|b| b.compression() == codec && b.magic() == magic)
            );
            assert_eq!(decoded[0].base_offset(), 1000);
            assert_eq!(decoded.last().unwrap().last_offset(), 1003);
            let got: Vec<Record> = decoded
                .iter()
                .flat_map(|b| b.records().map(Result::unwrap).collect::<Vec<_>>())
                .collect();
            assert_eq!(got.len(), 4);
            for (i, (r, want)) in got.iter().zip(&input).enumerate() {
                assert_eq!(r.offset, 1000 + i as i64, "magic {magic} {codec:?}");
                assert_eq!(r.timestamp, if magic == 0 { -1 } else { want.timestamp });
                assert_eq!(r.key.as_deref(), want.key);
                assert_eq!(r.value.as_deref(), want.value);
                assert!(r.headers.is_empty());
            }
        }
    }
}

#[test]
fn magic1_wrapper_offsets_are_relative_to_the_last_inner_message() {
    // By hand: inner relative offsets 0, 1, 2 and a wrapper at 52 give 50, 51, 52.
    let mut inner = Vec::new();
    for (i, v) in [b"x", b"y", b"z"].iter().enumerate() {
        inner.extend(message(i as i64, 1, 0, 10 + i as i64, None, Some(&v[..])));
    }
    let mut compressed = BytesMut::new();
    compression::compress(Compression::Gzip, &inner, &mut compressed).unwrap();
    let wrapper = message(52, 1, 1, 12, None, Some(&compressed));
    let batch = &decode_all(Bytes::from(wrapper.clone()))[0];
    assert_eq!(
        (
            batch.base_offset(),
            batch.last_offset(),
            batch.record_count()
        ),
        (50, 52, 3)
    );
    let offsets: Vec<i64> = batch.records().map(|r| r.unwrap().offset).collect();
    assert_eq!(offsets, vec![50, 51, 52]);
    let DecodedBatch::Legacy(legacy) = batch else {
        panic!("legacy")
    };
    assert_eq!((legacy.wrapper_offset(), legacy.timestamp()), (52, 12));

    // Compacted inner sets keep their gaps: deltas 0, 2, 5 from base 100.
    let input = [
        NewRecord::new(None, Some(b"a")).with_offset_delta(0),
        NewRecord::new(None, Some(b"b")).with_offset_delta(2),
        NewRecord::new(None, Some(b"c")).with_offset_delta(5),
    ];
    for magic in [0i8, 1] {
        let spec = LegacySpec {
            magic,
            base_offset: 100,
            compression: Compression::Snappy,
            ..LegacySpec::default()
        };
        let mut out = BytesMut::new();
        encode_message_set(&spec, &input, &mut out).unwrap();
        // The wrapper carries the last offset.
        assert_eq!(i64::from_be_bytes(out[..8].try_into().unwrap()), 105);
        let offsets: Vec<i64> = records(out.freeze()).iter().map(|r| r.offset).collect();
        assert_eq!(offsets, vec![100, 102, 105], "magic {magic}");
    }
}

#[test]
fn magic0_wrapper_offsets_are_absolute() {
    let mut inner = Vec::new();
    for o in [40i64, 41, 43] {
        inner.extend(message(o, 0, 0, -1, None, Some(b"v")));
    }
    let mut compressed = BytesMut::new();
    compression::compress(Compression::Snappy, &inner, &mut compressed).unwrap();
    let wrapper = message(43, 0, 2, -1, None, Some(&compressed));
    let offsets: Vec<i64> = records(Bytes::from(wrapper))
        .iter()
        .map(|r| r.offset)
        .collect();
    assert_eq!(offsets, vec![40, 41, 43]);
}

#[test]
fn log_append_time_wrapper_stamps_inner_records() {
    let input = [
        NewRecord::new(None, Some(b"a")).with_timestamp(5),
        NewRecord::new(None, Some(b"b")).with_timestamp(9),
    ];
    let spec = LegacySpec {
        compression: Compression::Gzip,
        timestamp_type: TimestampType::LogAppendTime,
        ..LegacySpec::default()
    };
    let mut out = BytesMut::new();
    encode_message_set(&spec, &input, &mut out).unwrap();
    let batch = &decode_all(out.freeze())[0];
    let DecodedBatch::Legacy(legacy) = batch else {
        panic!("legacy")
    };
    assert_eq!(legacy.timestamp_type(), TimestampType::LogAppendTime);
    assert!(batch.records().all(|r| r.unwrap().timestamp == 9));
}

#[test]
fn lz4_wrappers_use_the_historical_checksum_in_magic0_only() {
    let input = [NewRecord::new(None, Some(b"lz4 lz4 lz4 lz4")); 3];
    for magic in [0i8, 1] {
        let spec = LegacySpec {
            magic,
            compression: Compression::Lz4,
            ..LegacySpec::default()
        };
        let mut out = BytesMut::new();
        encode_message_set(&spec, &input, &mut out).unwrap();
        let value_at = 12 + 4 + 2 + if magic == 1 { 8 } else { 0 } + 4 + 4;
        let frame = &out[value_at..];
        let standard = compression::decompress(Compression::Lz4, frame, 1 << 20);
        if magic == 0 {
            assert!(matches!(
                standard,
                Err(CompressionError::Corrupt { codec: "lz4", .. })
            ));
        } else {
            assert!(standard.is_ok());
        }
        assert_eq!(records(out.freeze()).len(), 3);
    }
    // A magic-1 wrapper carrying the historical checksum is still accepted.
    let mut inner = Vec::new();
    inner.extend(message(0, 1, 0, 1, None, Some(b"v")));
    let mut frame = BytesMut::new();
    compression::compress_legacy_lz4(&inner, &mut frame).unwrap();
    assert_eq!(
        records(Bytes::from(message(0, 1, 3, 1, None, Some(&frame)))).len(),
        1
    );
    // Any checksum byte other than the standard and the historical one is corrupt.
    let historical = frame[6];
    let standard = {
        let mut ok = BytesMut::new();
        compression::compress(Compression::Lz4, &inner, &mut ok).unwrap();
        ok[6]
    };
    frame[6] = (0..=u8::MAX)
        .find(|b| *b != historical && *b != standard)
        .unwrap();
    assert!(matches!(
        first_error(message(0, 1, 3, 1, None, Some(&frame))),
        Some(RecordsError::Compression(CompressionError::Corrupt {
            codec: "lz4",
            ..
        }))
    ));
}

#[test]
fn mixed_record_set_of_all_three_formats() {
    let mut out = BytesMut::new();
    out.put_slice(&message(0, 0, 0, -1, None, Some(b"v0")));
    let spec = LegacySpec {
        magic: 1,
        base_offset: 1,
        compression: Compression::Gzip,
        ..LegacySpec::default()
    };
    encode_message_set(
        &spec,
        &[
            NewRecord::new(None, Some(b"v1a")),
            NewRecord::new(None, Some(b"v1b")),
        ],
        &mut out,
    )
    .unwrap();
    let batch = BatchSpec {
        base_offset: 3,
        compression: Compression::Zstd,
        ..BatchSpec::default()
    };
    encode_batch(&batch, &[NewRecord::new(None, Some(b"v2"))], &mut out).unwrap();
    let decoded = decode_all(out.freeze());
    assert_eq!(
        decoded.iter().map(DecodedBatch::magic).collect::<Vec<_>>(),
        vec![0, 1, 2]
    );
    let values: Vec<(i64, Bytes)> = decoded
        .iter()
        .flat_map(|b| {
            b.records()
                .map(|r| r.unwrap())
                .map(|r| (r.offset, r.value.unwrap()))
                .collect::<Vec<_>>()
        })
        .collect();
    let want: Vec<(i64, Bytes)> = [(0, "v0"), (1, "v1a"), (2, "v1b"), (3, "v2")]
        .iter()
        .map(|&(o, v)| (o, Bytes::from(v)))
        .collect();
    assert_eq!(values, want);
}

#[test]
fn nested_compression_is_rejected() {
    let spec = LegacySpec {
        compression: Compression::Gzip,
        ..LegacySpec::default()
    };
    let mut inner_wrapper = BytesMut::new();
    encode_message_set(
        &spec,
        &[NewRecord::new(None, Some(b"deep"))],
        &mut inner_wrapper,
    )
    .unwrap();
    let mut compressed = BytesMut::new();
    compression::compress(Compression::Gzip, &inner_wrapper, &mut compressed).unwrap();
    let outer = message(0, 1, 1, 0, None, Some(&compressed));
    assert_eq!(first_error(outer), Some(RecordsError::NestingTooDeep));
}

#[test]
fn legacy_errors() {
    // CRC mismatch.
    let mut m = message(0, 1, 0, 0, None, Some(b"value"));
    let last = m.len() - 1;
    m[last] ^= 1;
    assert!(matches!(
        first_error(m.clone()),
        Some(RecordsError::CrcMismatch { .. })
    ));
    let lax = DecodeOptions {
        verify_crc: false,
        ..DecodeOptions::default()
    };
    assert!(batches(Bytes::from(m), &lax).all(|b| b.is_ok()));

    // Size below the magic-1 minimum.
    let mut m = message(0, 1, 0, 0, None, None);
    m[8..12].copy_from_slice(&21i32.to_be_bytes());
    assert_eq!(
        first_error(m),
        Some(RecordsError::InvalidLength {
            context: "batch length",
            length: 21
        })
    );

    // Key length past the end of the message.
    let mut m = message(0, 0, 0, -1, Some(b"k"), None);
    m[18..22].copy_from_slice(&100i32.to_be_bytes());
    let crc = ieee(&m[16..]);
    m[12..16].copy_from_slice(&crc.to_be_bytes());
    assert_eq!(
        first_error(m),
        Some(RecordsError::InvalidLength {
            context: "message key",
            length: 100
        })
    );

    // Partial legacy tail.
    let mut set = message(0, 0, 0, -1, None, Some(b"a"));
    let second = message(1, 0, 0, -1, None, Some(b"b"));
    set.extend_from_slice(&second[..second.len() - 1]);
    let mut iter = batches(Bytes::from(set), &DecodeOptions::default());
    assert_eq!(iter.by_ref().count(), 1);
    assert!(iter.truncated_tail());

    // A compressed wrapper with a null value, with an empty inner set, and with a cut inner set.
    assert_eq!(
        first_error(message(0, 1, 1, 0, None, None)),
        Some(RecordsError::InvalidValue {
            context: "compressed message value"
        })
    );
    let mut empty = BytesMut::new();
    compression::compress(Compression::Gzip, &[], &mut empty).unwrap();
    assert_eq!(
        first_error(message(0, 1, 1, 0, None, Some(&empty))),
        Some(RecordsError::InvalidLength {
            context: "compressed message set",
            length: 0
        })
    );
    let inner = message(0, 1, 0, 0, None, Some(b"abc"));
    let mut cut = BytesMut::new();
    compression::compress(Compression::Gzip, &inner[..inner.len() - 1], &mut cut).unwrap();
    assert_eq!(
        first_error(message(0, 1, 1, 0, None, Some(&cut))),
        Some(RecordsError::Truncated { context: "message" })
    );
}

#[test]
fn legacy_encoder_rejections() {
    let headers = [gregor_protocol::records::NewHeader::new("h", None)];
    let with_headers = [NewRecord::new(None, None).with_headers(&headers)];
    let mut out = BytesMut::new();
    assert_eq!(
        encode_message_set(&LegacySpec::default(), &with_headers, &mut out),
        Err(RecordsEncodeError::HeadersNotSupported)
    );
    assert_eq!(
        encode_message_set(
            &LegacySpec {
                magic: 2,
                ..LegacySpec::default()
            },
            &[],
            &mut out
        ),
        Err(RecordsEncodeError::InvalidMagic(2))
    );
    assert_eq!(
        encode_message_set(
            &LegacySpec {
                compression: Compression::Lz4,
                ..LegacySpec::default()
            },
            &[],
            &mut out
        ),
        Err(RecordsEncodeError::EmptyWrapper)
    );
    assert!(out.is_empty());
}

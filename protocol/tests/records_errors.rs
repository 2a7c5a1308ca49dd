//! Typed errors and partial tails of record sets.

use bytes::{Bytes, BytesMut};
use gregor_protocol::compression::{Compression, CompressionError};
use gregor_protocol::records::{
    BatchSpec, DecodeOptions, NewHeader, NewRecord, RecordBatch, RecordsError, batches,
    encode_batch,
};

fn batch_bytes(spec: &BatchSpec, values: &[&[u8]]) -> Vec<u8> {
    let records: Vec<_> = values
        .iter()
        .map(|v| NewRecord::new(Some(b"k"), Some(v)))
        .collect();
    let mut out = BytesMut::new();
    encode_batch(spec, &records, &mut out).unwrap();
    out.to_vec()
}

fn simple_batch(base_offset: i64) -> Vec<u8> {
    batch_bytes(
        &BatchSpec {
            base_offset,
            ..BatchSpec::default()
        },
        &[b"one", b"two", b"three"],
    )
}

/// Recomputes the CRC-32C of the batch at the start of `b` (after tampering).
fn fix_crc(b: &mut [u8]) {
    let len = 12 + i32::from_be_bytes(b[8..12].try_into().unwrap()) as usize;
    let crc = crc32c::crc32c(&b[21..len]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
}

/// The first error (or the batch/record iteration finishing cleanly) of a record set.
fn first_error(input: Vec<u8>, opts: &DecodeOptions) -> Option<RecordsError> {
    for batch in batches(Bytes::from(input), opts) {
        let batch = match batch {
            Ok(b) => b,
            Err(e) => return Some(e),
        };
        let mut owned = None;
        for record in batch.records() {
            if let Err(e) = record {
                owned = Some(e);
                break;
            }
        }
        // The borrowed iterator reports the same first error.
        if let gregor_protocol::records::DecodedBatch::V2(v2) = &batch {
            let borrowed = v2.record_refs().find_map(Result::err);
            assert_eq!(borrowed, owned);
        }
        if owned.is_some() {
            return owned;
        }
    }
    None
}

#[test]
fn partial_last_batch_is_a_truncated_tail_at_every_cut() {
    let mut set = simple_batch(0);
    let first_len = set.len();
    set.extend(simple_batch(3));
    let whole = set.len();
    for cut in first_len + 1..whole {
        let mut iter = batches(
            Bytes::copy_from_slice(&set[..cut]),
            &DecodeOptions::default(),
        );
        let first = iter.next().unwrap().unwrap();
        assert_eq!(first.records().count(), 3);
        assert!(iter.next().is_none(), "cut at {cut}");
        assert!(iter.truncated_tail(), "cut at {cut}");
        assert_eq!(iter.position(), first_len);
        assert_eq!(iter.remaining().len(), cut - first_len);
        assert!(iter.next().is_none());
    }
    let mut iter = batches(Bytes::from(set), &DecodeOptions::default());
    assert_eq!(iter.by_ref().count(), 2);
    assert!(!iter.truncated_tail());
}

#[test]
fn a_set_that_is_only_a_partial_batch_yields_nothing() {
    let batch = simple_batch(0);
    let mut iter = batches(
        Bytes::copy_from_slice(&batch[..40]),
        &DecodeOptions::default(),
    );
    assert!(iter.next().is_none());
    assert!(iter.truncated_tail());
    let mut empty = batches(Bytes::new(), &DecodeOptions::default());
    assert!(empty.next().is_none());
    assert!(!empty.truncated_tail());
}

#[test]
fn crc_mismatch_and_opting_out() {
    let mut b = simple_batch(0);
    // A byte of the last value ("three"; the header count follows it).
    let at = b.len() - 2;
    b[at] ^= 0x01;
    let stored = u32::from_be_bytes(b[17..21].try_into().unwrap());
    let actual = crc32c::crc32c(&b[21..]);
    assert_eq!(
        first_error(b.clone(), &DecodeOptions::default()),
        Some(RecordsError::CrcMismatch {
            expected: stored,
            actual
        })
    );
    let lax = DecodeOptions {
        verify_crc: false,
        ..DecodeOptions::default()
    };
    assert_eq!(first_error(b, &lax), None);
}

#[test]
fn unknown_magic() {
    let mut b = simple_batch(0);
    b[16] = 3;
    assert_eq!(
        first_error(b.clone(), &DecodeOptions::default()),
        Some(RecordsError::UnknownMagic(3))
    );
    b[16] = -1i8 as u8;
    assert_eq!(
        first_error(b.clone(), &DecodeOptions::default()),
        Some(RecordsError::UnknownMagic(-1))
    );
    // Reported even when the batch is cut short, as soon as the magic byte is there.
    b.truncate(30);
    assert_eq!(
        first_error(b, &DecodeOptions::default()),
        Some(RecordsError::UnknownMagic(-1))
    );
}

#[test]
fn record_count_mismatch_both_ways() {
    for (count, _why) in [(4i32, "section ends early"), (2, "bytes left over")] {
        let mut b = simple_batch(0);
        b[57..61].copy_from_slice(&count.to_be_bytes());
        fix_crc(&mut b);
        assert_eq!(
            first_error(b, &DecodeOptions::default()),
            Some(RecordsError::RecordCountMismatch { declared: count })
        );
    }
    // A count the section could never hold is rejected when the batch is decoded.
    let mut b = simple_batch(0);
    b[57..61].copy_from_slice(&1_000_000i32.to_be_bytes());
    fix_crc(&mut b);
    assert_eq!(
        RecordBatch::decode(Bytes::from(b), &DecodeOptions::default()),
        Err(RecordsError::RecordCountMismatch {
            declared: 1_000_000
        })
    );
    let mut b = simple_batch(0);
    b[57..61].copy_from_slice(&(-1i32).to_be_bytes());
    fix_crc(&mut b);
    assert!(matches!(
        first_error(b, &DecodeOptions::default()),
        Some(RecordsError::InvalidLength {
            context: "record count",
            length: -1
        })
    ));
}

#[test]
fn batch_lengths_below_the_minimum() {
    for length in [-1i32, 0, 13, 14, 48] {
        let mut b = simple_batch(0);
        b[8..12].copy_from_slice(&length.to_be_bytes());
        assert_eq!(
            first_error(b, &DecodeOptions::default()),
            Some(RecordsError::InvalidLength {
                context: "batch length",
                length: i64::from(length)
            }),
            "length {length}"
        );
    }
    // RecordBatch::decode on its own checks the length against the buffer.
    let b = simple_batch(0);
    let short = Bytes::copy_from_slice(&b[..b.len() - 1]);
    assert!(matches!(
        RecordBatch::decode(short, &DecodeOptions::default()),
        Err(RecordsError::InvalidLength {
            context: "record batch length",
            ..
        })
    ));
    assert!(matches!(
        RecordBatch::decode(Bytes::copy_from_slice(&b[..20]), &DecodeOptions::default()),
        Err(RecordsError::Truncated { .. })
    ));
}

#[test]
fn bad_record_lengths() {
    // Records start at 61: length varint, attributes, ts delta, offset delta, key length...
    let base = simple_batch(0);
    let cases: [(usize, u8, RecordsError); 4] = [
        // Record length -1 (zig-zag 1).
        (
            61,
            0x01,
            RecordsError::InvalidLength {
                context: "record",
                length: -1,
            },
        ),
        // Record length 63 (zig-zag 126): past the end of the section.
        (
            61,
            0x7e,
            RecordsError::InvalidLength {
                context: "record",
                length: 63,
            },
        ),
        // Key length -2 (zig-zag 3).
        (
            65,
            0x03,
            RecordsError::InvalidLength {
                context: "record key",
                length: -2,
            },
        ),
        // Key length 60 (zig-zag 120): past the end of the record.
        (
            65,
            0x78,
            RecordsError::InvalidLength {
                context: "record key",
                length: 60,
            },
        ),
    ];
    for (at, byte, expected) in cases {
        let mut b = base.clone();
        b[at] = byte;
        fix_crc(&mut b);
        assert_eq!(
            first_error(b, &DecodeOptions::default()),
            Some(expected),
            "byte {at}"
        );
    }
}

#[test]
fn varint_overflow_in_a_record() {
    let mut b = simple_batch(0);
    // The record length becomes a run of continuation bytes.
    b[61..67].fill(0xff);
    fix_crc(&mut b);
    assert_eq!(
        first_error(b, &DecodeOptions::default()),
        Some(RecordsError::VarintOverflow {
            context: "record length"
        })
    );
}

#[test]
fn bytes_after_the_last_header_field() {
    // A record with zero headers whose length claims one more byte than its fields use.
    let mut b = batch_bytes(&BatchSpec::default(), &[b"v"]);
    // Record: len(8)=0x10 ... header count 0 at the end; append a byte and fix both lengths.
    b[61] = 0x12; // length 9
    b.push(0xaa);
    let batch_len = (b.len() - 12) as i32;
    b[8..12].copy_from_slice(&batch_len.to_be_bytes());
    fix_crc(&mut b);
    assert_eq!(
        first_error(b, &DecodeOptions::default()),
        Some(RecordsError::TrailingBytes {
            context: "record",
            remaining: 1
        })
    );
}

#[test]
fn malformed_headers_surface_when_iterated() {
    let headers = [NewHeader::new("a", Some(b"1"))];
    let records = [NewRecord::new(None, Some(b"v")).with_headers(&headers)];
    let mut out = BytesMut::new();
    encode_batch(&BatchSpec::default(), &records, &mut out).unwrap();
    let mut b = out.to_vec();
    // Last bytes: header key len (0x02) 'a', value len (0x02) '1'. Make the value length -2.
    let n = b.len();
    b[n - 2] = 0x03;
    fix_crc(&mut b);
    let batch = batches(Bytes::from(b), &DecodeOptions::default())
        .next()
        .unwrap()
        .unwrap();
    let record = batch.records().next().unwrap().unwrap();
    let got: Vec<_> = record.headers.iter().collect();
    assert_eq!(
        got,
        vec![Err(RecordsError::InvalidLength {
            context: "header value",
            length: -2
        })]
    );
    assert!(record.headers.validate().is_err());

    // A header key that is not UTF-8 decodes as bytes; key_str reports it.
    let bad = [gregor_protocol::records::NewHeader {
        key: &[0xff, 0xfe],
        value: None,
    }];
    let records = [NewRecord::new(None, None).with_headers(&bad)];
    let mut out = BytesMut::new();
    encode_batch(&BatchSpec::default(), &records, &mut out).unwrap();
    let batch = batches(out.freeze(), &DecodeOptions::default())
        .next()
        .unwrap()
        .unwrap();
    let header = batch
        .records()
        .next()
        .unwrap()
        .unwrap()
        .headers
        .iter()
        .next()
        .unwrap()
        .unwrap();
    assert_eq!(
        header.key_str(),
        Err(RecordsError::InvalidUtf8 {
            context: "header key"
        })
    );
}

#[test]
fn decompression_over_the_cap_is_too_large() {
    let value = vec![0u8; 200_000];
    for codec in [
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let b = batch_bytes(
            &BatchSpec {
                compression: codec,
                ..BatchSpec::default()
            },
            &[&value],
        );
        let opts = DecodeOptions {
            max_decompressed_bytes: 100_000,
            ..DecodeOptions::default()
        };
        assert_eq!(
            first_error(b.clone(), &opts),
            Some(RecordsError::Compression(CompressionError::TooLarge {
                limit: 100_000
            })),
            "{codec:?}"
        );
        assert_eq!(first_error(b, &DecodeOptions::default()), None);
    }
}

#[test]
fn unknown_codec_in_attributes() {
    let mut b = simple_batch(0);
    b[22] = 0x05;
    fix_crc(&mut b);
    assert_eq!(
        first_error(b, &DecodeOptions::default()),
        Some(RecordsError::Compression(CompressionError::UnknownCodec(5)))
    );
}

#[test]
fn corrupt_compressed_section() {
    let mut b = batch_bytes(
        &BatchSpec {
            compression: Compression::Gzip,
            ..BatchSpec::default()
        },
        &[b"abc"],
    );
    let n = b.len();
    b[n - 6] ^= 0xff; // inside the gzip trailer/data
    fix_crc(&mut b);
    assert!(matches!(
        first_error(b, &DecodeOptions::default()),
        Some(RecordsError::Compression(CompressionError::Corrupt {
            codec: "gzip",
            ..
        }))
    ));
}

#[test]
fn iteration_stops_after_an_error() {
    let mut set = simple_batch(0);
    set[16] = 9;
    set.extend(simple_batch(3));
    let mut iter = batches(Bytes::from(set), &DecodeOptions::default());
    assert!(iter.next().unwrap().is_err());
    assert!(iter.next().is_none());
    assert!(!iter.truncated_tail());
}

#[test]
fn raw_entries_defer_the_crc_and_decode_like_batches() {
    let mut input = simple_batch(0);
    input.extend(simple_batch(3));
    let mut tampered = input.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 0x01; // the second batch's last value byte
    let opts = DecodeOptions::default();

    // Locating entries reads lengths only: both are yielded, with their headers.
    let mut set = batches(Bytes::from(tampered), &opts);
    let first = set.next_raw().unwrap().unwrap();
    let second = set.next_raw().unwrap().unwrap();
    assert!(set.next_raw().is_none());
    assert_eq!(first.magic(), 2);
    assert_eq!(first.header().map(|h| h.base_offset), Some(0));
    assert_eq!(second.header().map(|h| h.next_offset()), Some(6));
    // The CRC is checked on demand, and by decode.
    assert_eq!(first.check_crc(), Ok(()));
    assert!(matches!(
        second.check_crc(),
        Err(RecordsError::CrcMismatch { .. })
    ));
    assert!(matches!(
        second.decode(&opts),
        Err(RecordsError::CrcMismatch { .. })
    ));

    // Untampered, raw then decode gives what the decoding iterator gives.
    let mut raw = batches(Bytes::from(input.clone()), &opts);
    let decoded: Vec<_> = batches(Bytes::from(input), &opts)
        .map(Result::unwrap)
        .collect();
    for want in decoded {
        assert_eq!(
            raw.next_raw().unwrap().unwrap().decode(&opts).unwrap(),
            want
        );
    }
    assert!(raw.next_raw().is_none());
}

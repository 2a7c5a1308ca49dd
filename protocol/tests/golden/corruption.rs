//! Damaging librdkafka's bytes. A flipped byte anywhere a checksum covers must be a typed
//! error at that batch, never a successful decode of different data; a record set cut anywhere
//! (as a fetch size limit cuts it) yields the whole batches before the cut and a truncated tail.
//!
//! Expected CRCs are computed here with the `crc32c` crate (CRC-32C, magic 2) and `flate2`'s
//! CRC-32 (IEEE, magic 0/1), not with gregor's.

use bytes::Bytes;
use gregor_protocol::records::{DecodeOptions, DecodedBatch, RecordsError, batches};

use crate::manifest::fixture_bytes;
use crate::{FIXTURES, decode_all};

/// Where the CRC sits in a magic-2 batch and in a legacy message.
const CRC_AT: usize = 17;
const LEGACY_CRC_AT: usize = 12;
/// Where the CRC-covered part starts: the attributes (magic 2), the magic byte (magic 0/1).
const V2_COVERED_FROM: usize = 21;
const LEGACY_COVERED_FROM: usize = 16;

fn be_u32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn crc32_ieee(b: &[u8]) -> u32 {
    let mut crc = flate2::Crc::new();
    crc.update(b);
    crc.sum()
}

/// The byte range of each top-level entry (batch or message) of a fixture.
fn entry_ranges(data: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut ranges = Vec::new();
    let mut at = 0;
    while at < data.len() {
        let len = 12 + usize::try_from(be_u32(data, at + 8)).expect("length");
        ranges.push(at..at + len);
        at += len;
    }
    ranges
}

/// What flipping one byte is checked against.
struct Original<'a> {
    name: &'a str,
    data: Bytes,
    /// The fixture's entries, decoded unharmed.
    good: Vec<DecodedBatch>,
}

impl<'a> Original<'a> {
    fn new(name: &'a str) -> Self {
        Self {
            name,
            data: fixture_bytes(name),
            good: decode_all(name),
        }
    }
}

/// Flips byte `i` with `mask` and checks the set decodes the entries before `entry` as before,
/// then fails with `expect` and ends.
fn check_flip(orig: &Original<'_>, i: usize, mask: u8, entry: usize, expect: RecordsError) {
    let Original { name, data, good } = orig;
    let ctx = format!("{name}: byte {i} ^ {mask:#04x}");
    let mut m = data.to_vec();
    m[i] ^= mask;
    let mut set = batches(Bytes::from(m), &DecodeOptions::default());
    for (k, want) in good.iter().take(entry).enumerate() {
        assert_eq!(
            set.next().as_ref(),
            Some(&Ok(want.clone())),
            "{ctx}: entry {k}"
        );
    }
    assert_eq!(set.next(), Some(Err(expect)), "{ctx}");
    assert_eq!(set.next(), None, "{ctx}: iteration ends after the error");
}

/// The error flipping `data[i]` (inside `range`, a magic-2 batch) must give.
fn v2_expected(m: &[u8], range: &std::ops::Range<usize>) -> RecordsError {
    let batch = &m[range.clone()];
    RecordsError::CrcMismatch {
        expected: be_u32(batch, CRC_AT),
        actual: crc32c::crc32c(&batch[V2_COVERED_FROM..]),
    }
}

#[test]
fn flipping_any_crc_covered_byte_of_v2_none_is_a_crc_mismatch() {
    let orig = Original::new("v2_none.bin");
    let data = &orig.data;
    let stored = be_u32(data, CRC_AT);
    let range = 0..data.len();
    // The CRC field itself and everything it covers (attributes to the end).
    for i in CRC_AT..data.len() {
        for mask in [0x01, 0x80, 0xff] {
            let mut m = data.to_vec();
            m[i] ^= mask;
            let expect = v2_expected(&m, &range);
            // A single flipped byte is a burst of at most 8 bits: CRC-32C always detects it.
            assert!(
                matches!(expect, RecordsError::CrcMismatch { expected, actual } if expected != actual),
                "byte {i}"
            );
            if i >= V2_COVERED_FROM {
                assert_eq!(be_u32(&m, CRC_AT), stored);
            }
            check_flip(&orig, i, mask, 0, expect);
        }
    }
}

#[test]
fn flipping_any_crc_covered_byte_of_any_v2_batch_is_a_crc_mismatch() {
    for name in FIXTURES.iter().filter(|n| n.starts_with("v2_")) {
        let orig = Original::new(name);
        let data = &orig.data;
        for (entry, range) in entry_ranges(data).into_iter().enumerate() {
            for i in range.start + CRC_AT..range.end {
                let mut m = data.to_vec();
                m[i] ^= 0xff;
                check_flip(&orig, i, 0xff, entry, v2_expected(&m, &range));
            }
        }
    }
}

#[test]
fn flipping_any_crc_covered_byte_of_a_legacy_message_is_an_error() {
    for name in FIXTURES.iter().filter(|n| n.starts_with("legacy_")) {
        let orig = Original::new(name);
        let data = &orig.data;
        for (entry, range) in entry_ranges(data).into_iter().enumerate() {
            for i in range.start + LEGACY_CRC_AT..range.end {
                let mut m = data.to_vec();
                m[i] ^= 0xff;
                let message = &m[range.clone()];
                let expect = if i == range.start + LEGACY_COVERED_FROM {
                    // The magic byte is read first, to know the layout: 0 or 1 become -1 or -2.
                    RecordsError::UnknownMagic(m[i] as i8)
                } else {
                    RecordsError::CrcMismatch {
                        expected: be_u32(message, LEGACY_CRC_AT),
                        actual: crc32_ieee(&message[LEGACY_COVERED_FROM..]),
                    }
                };
                check_flip(&orig, i, 0xff, entry, expect);
            }
        }
    }
}

#[test]
fn a_fixture_cut_anywhere_yields_the_whole_batches_before_the_cut() {
    for name in FIXTURES {
        let orig = Original::new(name);
        let ends: Vec<usize> = entry_ranges(&orig.data).iter().map(|r| r.end).collect();
        for cut in 0..orig.data.len() {
            let ctx = format!("{name} cut at {cut}");
            let mut set = batches(orig.data.slice(..cut), &DecodeOptions::default());
            let got: Vec<DecodedBatch> = set
                .by_ref()
                .collect::<Result<_, _>>()
                .unwrap_or_else(|e| panic!("{ctx}: {e}"));
            let whole = ends.iter().filter(|&&end| end <= cut).count();
            assert_eq!(got, orig.good[..whole], "{ctx}: batches");
            assert_eq!(
                set.truncated_tail(),
                !ends.contains(&cut) && cut > 0,
                "{ctx}"
            );
            let consumed = if whole == 0 { 0 } else { ends[whole - 1] };
            assert_eq!(set.position(), consumed, "{ctx}: position");
            assert_eq!(
                set.remaining(),
                orig.data.slice(consumed..cut),
                "{ctx}: rest"
            );
        }
    }
}

#[test]
fn all_fixtures_back_to_back_decode_as_one_mixed_record_set() {
    let mut joined = Vec::new();
    let mut want = Vec::new();
    for name in FIXTURES {
        joined.extend_from_slice(&fixture_bytes(name));
        want.extend(decode_all(name));
    }
    let mut set = batches(Bytes::from(joined), &DecodeOptions::default());
    let got: Vec<DecodedBatch> = set.by_ref().collect::<Result<_, _>>().expect("decode");
    assert_eq!(got, want);
    assert!(!set.truncated_tail());
    assert!(set.remaining().is_empty());
}

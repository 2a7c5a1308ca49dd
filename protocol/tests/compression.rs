//! Compression codecs: round trips, format variants, caps, and never panicking on bad input.

use bytes::BytesMut;
use gregor_protocol::compression::{
    self, Compression, CompressionError, compress_legacy_lz4, decompress_legacy_lz4,
};
use proptest::prelude::*;

const REAL_CODECS: [Compression; 4] = [
    Compression::Gzip,
    Compression::Snappy,
    Compression::Lz4,
    Compression::Zstd,
];

fn compressed(codec: Compression, data: &[u8]) -> Vec<u8> {
    let mut out = BytesMut::new();
    compression::compress(codec, data, &mut out).unwrap();
    out.to_vec()
}

fn sample(len: usize) -> Vec<u8> {
    // Compressible but not trivial.
    (0..len)
        .map(|i| ((i * 7) % 253) as u8 ^ ((i / 1000) as u8))
        .collect()
}

#[test]
fn codes_and_names() {
    for (code, codec) in Compression::ALL.iter().enumerate() {
        assert_eq!(Compression::from_code(code as u8), Ok(*codec));
        assert_eq!(codec.code(), code as u8);
        assert_eq!(Compression::from_attributes(0x30 | code as i16), Ok(*codec));
    }
    for code in 5..=7u8 {
        assert_eq!(
            Compression::from_code(code),
            Err(CompressionError::UnknownCodec(code))
        );
        assert_eq!(
            Compression::from_attributes(i16::from(code)),
            Err(CompressionError::UnknownCodec(code))
        );
    }
    assert_eq!(
        Compression::from_code(200),
        Err(CompressionError::UnknownCodec(200))
    );
    assert_eq!(Compression::Zstd.name(), "zstd");
    assert_eq!(Compression::default(), Compression::None);
}

#[test]
fn round_trips_at_many_sizes() {
    for codec in Compression::ALL {
        for len in [0usize, 1, 100, 65_536 + 7, 300_000] {
            let data = sample(len);
            let c = compressed(codec, &data);
            let d = compression::decompress(codec, &c, len).unwrap();
            assert_eq!(&d[..], &data[..], "{codec:?} {len}");
        }
    }
}

#[test]
fn the_cap_is_exact() {
    for codec in Compression::ALL {
        let data = sample(10_000);
        let c = compressed(codec, &data);
        assert!(
            compression::decompress(codec, &c, 10_000).is_ok(),
            "{codec:?}"
        );
        assert_eq!(
            compression::decompress(codec, &c, 9_999),
            Err(CompressionError::TooLarge { limit: 9_999 }),
            "{codec:?}"
        );
    }
}

#[test]
fn decompression_bombs_stop_at_the_cap() {
    let zeros = vec![0u8; 8 << 20];
    for codec in REAL_CODECS {
        let c = compressed(codec, &zeros);
        assert!(c.len() < zeros.len() / 20, "{codec:?} compresses zeros");
        assert_eq!(
            compression::decompress(codec, &c, 64 * 1024),
            Err(CompressionError::TooLarge { limit: 64 * 1024 }),
            "{codec:?}"
        );
    }
}

#[test]
fn empty_input_is_corrupt_for_real_codecs() {
    for codec in REAL_CODECS {
        assert!(matches!(
            compression::decompress(codec, &[], 100),
            Err(CompressionError::Corrupt { .. })
        ));
    }
    assert_eq!(
        compression::decompress(Compression::None, &[], 0)
            .unwrap()
            .len(),
        0
    );
    assert_eq!(
        compression::decompress(Compression::None, b"abc", 2),
        Err(CompressionError::TooLarge { limit: 2 })
    );
}

#[test]
fn gzip_accepts_concatenated_members() {
    let mut both = compressed(Compression::Gzip, b"hello ");
    both.extend(compressed(Compression::Gzip, b"world"));
    assert_eq!(
        &compression::decompress(Compression::Gzip, &both, 100).unwrap()[..],
        b"hello world"
    );
    let mut garbage = compressed(Compression::Gzip, b"x");
    garbage.extend_from_slice(b"not gzip");
    assert!(compression::decompress(Compression::Gzip, &garbage, 100).is_err());
}

#[test]
fn snappy_xerial_framing_as_the_java_client_writes_it() {
    let data = sample(100_000);
    let c = compressed(Compression::Snappy, &data);
    assert_eq!(&c[..16], b"\x82SNAPPY\x00\x00\x00\x00\x01\x00\x00\x00\x01");
    // Blocks of 32 KiB: four of them, each a big-endian length and a raw block.
    let mut at = 16;
    let mut blocks = 0;
    while at < c.len() {
        let len = i32::from_be_bytes(c[at..at + 4].try_into().unwrap()) as usize;
        let block = &c[at + 4..at + 4 + len];
        assert!(snap::raw::decompress_len(block).unwrap() <= 32 * 1024);
        at += 4 + len;
        blocks += 1;
    }
    assert_eq!((at, blocks), (c.len(), 4));
    // Concatenated streams, as a Java producer appending to the same output would make.
    let mut two = c.clone();
    two.extend(compressed(Compression::Snappy, b"tail"));
    let d = compression::decompress(Compression::Snappy, &two, 200_000).unwrap();
    assert_eq!(d.len(), data.len() + 4);
    assert_eq!(&d[data.len()..], b"tail");
}

#[test]
fn snappy_raw_blocks_and_declared_sizes() {
    let data = sample(5_000);
    let raw = snap::raw::Encoder::new().compress_vec(&data).unwrap();
    assert_eq!(
        &compression::decompress(Compression::Snappy, &raw, 5_000).unwrap()[..],
        &data[..]
    );
    // A raw block announcing 4 GiB is refused before anything is allocated.
    let bomb = [0xff, 0xff, 0xff, 0xff, 0x0f, 0x00, 0x00];
    assert_eq!(
        compression::decompress(Compression::Snappy, &bomb, 1 << 20),
        Err(CompressionError::TooLarge { limit: 1 << 20 })
    );
    // The same inside xerial framing.
    let mut framed = b"\x82SNAPPY\x00\x00\x00\x00\x01\x00\x00\x00\x01".to_vec();
    framed.extend_from_slice(&(bomb.len() as i32).to_be_bytes());
    framed.extend_from_slice(&bomb);
    assert_eq!(
        compression::decompress(Compression::Snappy, &framed, 1 << 20),
        Err(CompressionError::TooLarge { limit: 1 << 20 })
    );
    // A block length past the end, a negative one.
    let mut bad = framed.clone();
    bad[16..20].copy_from_slice(&1000i32.to_be_bytes());
    assert!(matches!(
        compression::decompress(Compression::Snappy, &bad, 1 << 20),
        Err(CompressionError::Corrupt { .. })
    ));
    bad[16..20].copy_from_slice(&(-5i32).to_be_bytes());
    assert!(matches!(
        compression::decompress(Compression::Snappy, &bad, 1 << 20),
        Err(CompressionError::Corrupt { .. })
    ));
}

#[test]
fn lz4_frames_from_other_writers() {
    use lz4_flex::frame::{BlockMode, BlockSize, FrameEncoder, FrameInfo};
    use std::io::Write;
    let data = sample(300_000);
    for (mode, size) in [
        (BlockMode::Linked, BlockSize::Max256KB),
        (BlockMode::Independent, BlockSize::Max4MB),
    ] {
        let info = FrameInfo::new()
            .block_mode(mode)
            .block_size(size)
            .block_checksums(true)
            .content_checksum(true)
            .content_size(Some(data.len() as u64));
        let mut enc = FrameEncoder::with_frame_info(info, Vec::new());
        enc.write_all(&data).unwrap();
        let frame = enc.finish().unwrap();
        assert_eq!(
            &compression::decompress(Compression::Lz4, &frame, data.len()).unwrap()[..],
            &data[..]
        );
        assert_eq!(
            compression::decompress(Compression::Lz4, &frame, 1000),
            Err(CompressionError::TooLarge { limit: 1000 })
        );
    }
}

#[test]
fn lz4_legacy_header_checksum() {
    let data = sample(50_000);
    let mut legacy = BytesMut::new();
    compress_legacy_lz4(&data, &mut legacy).unwrap();
    let standard = compressed(Compression::Lz4, &data);
    // Same frame but for the HC byte (offset 6: magic, FLG, BD).
    assert_eq!(legacy.len(), standard.len());
    assert_eq!(&legacy[..6], &standard[..6]);
    assert_ne!(legacy[6], standard[6]);
    assert_eq!(&legacy[7..], &standard[7..]);
    assert!(matches!(
        compression::decompress(Compression::Lz4, &legacy, 1 << 20),
        Err(CompressionError::Corrupt { codec: "lz4", .. })
    ));
    assert_eq!(
        &decompress_legacy_lz4(&legacy, 1 << 20).unwrap()[..],
        &data[..]
    );
    assert_eq!(
        &decompress_legacy_lz4(&standard, 1 << 20).unwrap()[..],
        &data[..]
    );
    assert_eq!(
        decompress_legacy_lz4(&legacy, 10),
        Err(CompressionError::TooLarge { limit: 10 })
    );
    assert!(decompress_legacy_lz4(&legacy[..5], 1 << 20).is_err());
    assert!(decompress_legacy_lz4(b"\x04\x22\x4d", 1 << 20).is_err());
}

#[test]
fn zstd_multiple_and_skippable_frames() {
    let mut input = compressed(Compression::Zstd, b"first ");
    // A skippable frame: magic 0x184D2A5? little-endian, 4-byte size, payload.
    input.extend_from_slice(&[0x52, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 9, 9, 9]);
    input.extend(compressed(Compression::Zstd, b"second"));
    assert_eq!(
        &compression::decompress(Compression::Zstd, &input, 100).unwrap()[..],
        b"first second"
    );
    assert_eq!(
        compression::decompress(Compression::Zstd, &input, 8),
        Err(CompressionError::TooLarge { limit: 8 })
    );
    input.push(0);
    assert!(compression::decompress(Compression::Zstd, &input, 100).is_err());
}

#[test]
fn zstd_declared_content_size_over_the_cap() {
    // Single-segment frame header declaring 2^40 bytes, then a bogus block.
    let mut frame = vec![0x28, 0xb5, 0x2f, 0xfd, 0xe0];
    frame.extend_from_slice(&(1u64 << 40).to_le_bytes());
    frame.extend_from_slice(&[1, 0, 0, 0xaa]);
    assert_eq!(
        compression::decompress(Compression::Zstd, &frame, 1 << 20),
        Err(CompressionError::TooLarge { limit: 1 << 20 })
    );
}

#[cfg(not(feature = "zstd-native"))]
#[test]
fn zstd_huge_declared_window_is_lowered_not_allocated() {
    let data = sample(5_000);
    let mut frame = compressed(Compression::Zstd, &data);
    // ruzstd writes a window descriptor (no single-segment flag): make it 2 TiB.
    assert_eq!(frame[4] & 0x20, 0);
    frame[5] = 0xf8;
    assert_eq!(
        &compression::decompress(Compression::Zstd, &frame, 5_000).unwrap()[..],
        &data[..]
    );
}

/// `default` cases, unless `PROPTEST_CASES` asks for more (or fewer) for a longer fuzzing run.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(256), ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..512)) {
        for codec in Compression::ALL {
            let _ = compression::decompress(codec, &input, 4096);
        }
        let _ = decompress_legacy_lz4(&input, 4096);
    }

    #[test]
    fn arbitrary_bytes_after_a_valid_header_never_panic(
        codec in 1usize..5,
        tail in proptest::collection::vec(any::<u8>(), 0..256),
    ) {
        let codec = REAL_CODECS[codec - 1];
        let mut input = compressed(codec, b"");
        let keep = match codec { Compression::Snappy => 16, Compression::Lz4 => 7, Compression::Zstd => 6, _ => 10 };
        input.truncate(keep);
        input.extend_from_slice(&tail);
        let _ = compression::decompress(codec, &input, 4096);
        if codec == Compression::Lz4 {
            let _ = decompress_legacy_lz4(&input, 4096);
        }
    }

    #[test]
    fn mutated_streams_never_panic(
        codec in 0usize..4,
        data in proptest::collection::vec(any::<u8>(), 1..2000),
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
        cut in any::<usize>(),
    ) {
        let codec = REAL_CODECS[codec];
        let mut c = compressed(codec, &data);
        for (at, x) in flips {
            let n = c.len();
            c[at % n] ^= x | 1;
        }
        c.truncate(cut % (c.len() + 1));
        let _ = compression::decompress(codec, &c, 8192);
        if codec == Compression::Lz4 {
            let _ = decompress_legacy_lz4(&c, 8192);
        }
    }

    #[test]
    fn round_trip_arbitrary_data(
        codec in 0usize..5,
        data in proptest::collection::vec(any::<u8>(), 0..5000),
    ) {
        let codec = Compression::ALL[codec];
        let c = compressed(codec, &data);
        prop_assert_eq!(&compression::decompress(codec, &c, data.len()).unwrap()[..], &data[..]);
    }
}

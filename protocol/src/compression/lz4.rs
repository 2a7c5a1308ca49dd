//! LZ4 frame format via `lz4_flex`, including Kafka's historical header-checksum variant.
//!
//! KIP-57: before message format v1 was fixed, Kafka computed the frame descriptor checksum
//! (the `HC` byte) over the 4 magic bytes as well as the descriptor. Messages in magic 0 still
//! carry that variant, so the legacy message-set decoder uses [`decompress_legacy_lz4`], which
//! accepts either checksum.

use std::io::{Read, Write};

use bytes::{BufMut, Bytes, BytesMut};
use lz4_flex::frame::{BlockMode, BlockSize, FrameDecoder, FrameEncoder, FrameInfo};

use super::CompressionError;
use super::capped::read_capped;
use super::xxh32::xxh32;

const CODEC: &str = "lz4";

/// The LZ4 frame magic number, little-endian on the wire.
const FRAME_MAGIC: u32 = 0x184D_2204;
/// The LZ4 "legacy format" magic (lz4 command line tool); never used by Kafka.
const LEGACY_FORMAT_MAGIC: u32 = 0x184C_2102;
/// FLG bit: an 8-byte content size follows BD.
const FLG_CONTENT_SIZE: u8 = 0x08;
/// FLG bit: a 4-byte dictionary id follows.
const FLG_DICT_ID: u8 = 0x01;
/// The largest frame header: magic, FLG, BD, content size, dictionary id, HC.
const MAX_HEADER: usize = 4 + 2 + 8 + 4 + 1;

fn corrupt(detail: &'static str) -> CompressionError {
    CompressionError::Corrupt {
        codec: CODEC,
        detail,
    }
}

fn magic(input: &[u8]) -> Option<u32> {
    input.first_chunk::<4>().map(|m| u32::from_le_bytes(*m))
}

/// Decompresses one or more LZ4 frames with standard header checksums.
pub(crate) fn decompress(input: &[u8], cap: usize) -> Result<Bytes, CompressionError> {
    if magic(input) == Some(LEGACY_FORMAT_MAGIC) {
        return Err(corrupt("lz4 legacy container format is not used by Kafka"));
    }
    let out = read_capped(
        FrameDecoder::new(input),
        cap,
        input.len().saturating_mul(4),
        CODEC,
    )?;
    Ok(Bytes::from(out))
}

/// The length of the frame header at the start of `input`, HC byte included.
fn header_len(input: &[u8]) -> Result<usize, CompressionError> {
    if magic(input) != Some(FRAME_MAGIC) {
        return Err(corrupt("bad frame magic"));
    }
    let flg = *input.get(4).ok_or(corrupt("truncated frame header"))?;
    let mut len = 7;
    if flg & FLG_CONTENT_SIZE != 0 {
        len += 8;
    }
    if flg & FLG_DICT_ID != 0 {
        len += 4;
    }
    if input.len() < len {
        return Err(corrupt("truncated frame header"));
    }
    Ok(len)
}

/// The HC byte: the second byte of the xxHash32 of the hashed range.
fn header_checksum(hashed: &[u8]) -> u8 {
    (xxh32(hashed, 0) >> 8) as u8
}

/// Decompresses an LZ4 frame written for a legacy (magic 0 or 1) message.
///
/// The first frame's header checksum may be either the standard one (over the frame descriptor)
/// or Kafka's historical one (over the magic and the descriptor, KIP-57); anything else is
/// corrupt. The data is otherwise decoded exactly like [`decompress`](super::decompress) with
/// [`Compression::Lz4`](super::Compression::Lz4), capped at `max_output`.
pub fn decompress_legacy_lz4(input: &[u8], max_output: usize) -> Result<Bytes, CompressionError> {
    let hc_at = header_len(input)? - 1;
    let (header, body) = input.split_at(hc_at);
    let (&hc, body) = body
        .split_first()
        .ok_or(corrupt("truncated frame header"))?;
    let descriptor = header.get(4..).unwrap_or_default();
    let standard = header_checksum(descriptor);
    if hc == standard {
        return decompress(input, max_output);
    }
    if hc != header_checksum(header) {
        return Err(corrupt("frame header checksum mismatch"));
    }
    let mut fixed = [0u8; MAX_HEADER];
    let fixed = fixed
        .get_mut(..=hc_at)
        .ok_or(corrupt("truncated frame header"))?;
    let (fixed_header, fixed_hc) = fixed.split_at_mut(hc_at);
    fixed_header.copy_from_slice(header);
    if let Some(b) = fixed_hc.first_mut() {
        *b = standard;
    }
    let reader = (&*fixed).chain(body);
    let out = read_capped(
        FrameDecoder::new(reader),
        max_output,
        input.len().saturating_mul(4),
        CODEC,
    )?;
    Ok(Bytes::from(out))
}

fn frame_info() -> FrameInfo {
    // What the Java client writes: independent 64 KiB blocks, no checksums beyond the header's.
    FrameInfo::new()
        .block_size(BlockSize::Max64KB)
        .block_mode(BlockMode::Independent)
        .block_checksums(false)
        .content_checksum(false)
}

/// Compresses `input` as one LZ4 frame.
pub(crate) fn compress(input: &[u8], out: &mut BytesMut) -> Result<(), CompressionError> {
    let failed = |_| CompressionError::EncodeFailed {
        codec: CODEC,
        detail: "write failed",
    };
    let mut encoder = FrameEncoder::with_frame_info(frame_info(), out.writer());
    encoder.write_all(input).map_err(failed)?;
    encoder
        .finish()
        .map_err(|_| CompressionError::EncodeFailed {
            codec: CODEC,
            detail: "finish",
        })?;
    Ok(())
}

/// Compresses `input` as one LZ4 frame carrying Kafka's historical header checksum (computed
/// over the magic bytes too), as magic-0 messages do. Appends to `out`.
pub fn compress_legacy_lz4(input: &[u8], out: &mut BytesMut) -> Result<(), CompressionError> {
    let start = out.len();
    compress(input, out)?;
    let frame = out.get_mut(start..).unwrap_or_default();
    let hc_at = header_len(frame).map_err(|_| CompressionError::EncodeFailed {
        codec: CODEC,
        detail: "frame header",
    })? - 1;
    let broken = header_checksum(frame.get(..hc_at).unwrap_or_default());
    if let Some(b) = frame.get_mut(hc_at) {
        *b = broken;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_header_checksum_matches_lz4_flex() {
        let mut out = BytesMut::new();
        compress(b"hello hello hello", &mut out).unwrap();
        let hc_at = header_len(&out).unwrap() - 1;
        assert_eq!(out[hc_at], header_checksum(&out[4..hc_at]));
    }

    #[test]
    fn legacy_variant_round_trips_and_is_rejected_by_the_standard_decoder() {
        let data = b"legacy legacy legacy legacy".repeat(10);
        let mut out = BytesMut::new();
        compress_legacy_lz4(&data, &mut out).unwrap();
        assert!(decompress(&out, 1 << 20).is_err());
        assert_eq!(decompress_legacy_lz4(&out, 1 << 20).unwrap(), data);
        let mut standard = BytesMut::new();
        compress(&data, &mut standard).unwrap();
        assert_eq!(decompress_legacy_lz4(&standard, 1 << 20).unwrap(), data);
    }
}

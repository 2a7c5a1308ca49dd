//! Snappy, framed the way the Java client writes it (xerial `SnappyOutputStream`) or raw.
//!
//! The xerial framing is a 16-byte header — the magic `\x82SNAPPY\0`, then a big-endian int32
//! version and an int32 minimum compatible version — followed by blocks, each a big-endian int32
//! compressed length and one raw snappy block. Concatenated streams repeat the header, which is
//! skipped wherever a block would start. Input without the magic is decoded as one raw snappy
//! block, as some non-Java clients write.

use bytes::{Bytes, BytesMut};

use super::CompressionError;

const CODEC: &str = "snappy";

/// The xerial stream magic.
const XERIAL_MAGIC: [u8; 8] = [0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0];
/// Magic, version and compatible version.
const XERIAL_HEADER_LEN: usize = 16;
/// The version numbers the Java client writes.
const XERIAL_VERSION: i32 = 1;
const XERIAL_COMPATIBLE_VERSION: i32 = 1;
/// Uncompressed bytes per block, the Java client's default.
const XERIAL_BLOCK: usize = 32 * 1024;

fn corrupt(detail: &'static str) -> CompressionError {
    CompressionError::Corrupt {
        codec: CODEC,
        detail,
    }
}

fn is_xerial(input: &[u8]) -> bool {
    input.len() >= XERIAL_HEADER_LEN && input.starts_with(&XERIAL_MAGIC)
}

/// Decompresses xerial-framed or raw snappy.
pub(crate) fn decompress(input: &[u8], cap: usize) -> Result<Bytes, CompressionError> {
    if is_xerial(input) {
        decompress_xerial(input, cap)
    } else {
        decompress_raw(input, cap)
    }
}

/// The uncompressed length a raw block declares, checked against the cap.
fn block_len(block: &[u8], cap: usize) -> Result<usize, CompressionError> {
    let len = snap::raw::decompress_len(block).map_err(|_| corrupt("invalid block header"))?;
    if len > cap {
        Err(CompressionError::TooLarge { limit: cap })
    } else {
        Ok(len)
    }
}

fn decompress_raw(input: &[u8], cap: usize) -> Result<Bytes, CompressionError> {
    let len = block_len(input, cap)?;
    let mut out = vec![0u8; len];
    let written = snap::raw::Decoder::new()
        .decompress(input, &mut out)
        .map_err(|_| corrupt("invalid block"))?;
    if written != len {
        return Err(corrupt("block length mismatch"));
    }
    Ok(Bytes::from(out))
}

/// Walks the blocks of a xerial stream, calling `f` with each raw block.
fn for_each_xerial_block(
    input: &[u8],
    mut f: impl FnMut(&[u8]) -> Result<(), CompressionError>,
) -> Result<(), CompressionError> {
    let mut rest = input;
    while !rest.is_empty() {
        if is_xerial(rest) {
            rest = rest.get(XERIAL_HEADER_LEN..).unwrap_or_default();
            continue;
        }
        let (len, tail) = rest
            .split_first_chunk::<4>()
            .ok_or(corrupt("truncated block length"))?;
        let len = usize::try_from(i32::from_be_bytes(*len))
            .map_err(|_| corrupt("negative block length"))?;
        if len > tail.len() {
            return Err(corrupt("block longer than input"));
        }
        let (block, tail) = tail.split_at(len);
        f(block)?;
        rest = tail;
    }
    Ok(())
}

fn decompress_xerial(input: &[u8], cap: usize) -> Result<Bytes, CompressionError> {
    // First pass: the total size from each block's declared length, checked against the cap
    // before anything is allocated.
    let mut total = 0usize;
    for_each_xerial_block(input, |block| {
        total = total.saturating_add(block_len(block, cap)?);
        if total > cap {
            Err(CompressionError::TooLarge { limit: cap })
        } else {
            Ok(())
        }
    })?;
    // Second pass: decompress every block into its place in one buffer.
    let mut out = vec![0u8; total];
    let mut decoder = snap::raw::Decoder::new();
    let mut at = 0usize;
    for_each_xerial_block(input, |block| {
        let space = out.get_mut(at..).ok_or(corrupt("block length mismatch"))?;
        let written = decoder
            .decompress(block, space)
            .map_err(|_| corrupt("invalid block"))?;
        at += written;
        Ok(())
    })?;
    if at != total {
        return Err(corrupt("block length mismatch"));
    }
    Ok(Bytes::from(out))
}

/// Compresses `input` in the xerial framing, 32 KiB of input per block.
pub(crate) fn compress(input: &[u8], out: &mut BytesMut) -> Result<(), CompressionError> {
    out.extend_from_slice(&XERIAL_MAGIC);
    out.extend_from_slice(&XERIAL_VERSION.to_be_bytes());
    out.extend_from_slice(&XERIAL_COMPATIBLE_VERSION.to_be_bytes());
    let mut encoder = snap::raw::Encoder::new();
    let mut scratch = vec![0u8; snap::raw::max_compress_len(XERIAL_BLOCK.min(input.len()))];
    for chunk in input.chunks(XERIAL_BLOCK) {
        let n =
            encoder
                .compress(chunk, &mut scratch)
                .map_err(|_| CompressionError::EncodeFailed {
                    codec: CODEC,
                    detail: "block",
                })?;
        let len = i32::try_from(n).map_err(|_| CompressionError::EncodeFailed {
            codec: CODEC,
            detail: "block size",
        })?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(scratch.get(..n).unwrap_or_default());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_and_framed_agree() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let mut framed = BytesMut::new();
        compress(&data, &mut framed).unwrap();
        assert!(framed.starts_with(&XERIAL_MAGIC));
        assert_eq!(decompress(&framed, data.len()).unwrap(), data);
        let raw = snap::raw::Encoder::new().compress_vec(&data).unwrap();
        assert_eq!(decompress(&raw, data.len()).unwrap(), data);
        assert_eq!(
            decompress(&raw, data.len() - 1),
            Err(CompressionError::TooLarge {
                limit: data.len() - 1
            })
        );
    }
}

//! gzip (RFC 1952) via `flate2`.

use std::io::Write;

use bytes::{BufMut, Bytes, BytesMut};
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;

use super::CompressionError;
use super::capped::read_capped;

const CODEC: &str = "gzip";

/// Deflate expands a byte to at most this many (RFC 1951 length/distance codes): no honest
/// member announces more than this multiple of its compressed size.
const MAX_DEFLATE_RATIO: usize = 1032;

/// Decompresses one or more concatenated gzip members.
pub(crate) fn decompress(input: &[u8], cap: usize) -> Result<Bytes, CompressionError> {
    let out = read_capped(MultiGzDecoder::new(input), cap, size_hint(input), CODEC)?;
    Ok(Bytes::from(out))
}

/// The output size to allocate up front: the ISIZE trailer (the uncompressed size of the last
/// member, which is the whole output for the single member Kafka producers write), plus one
/// byte to see the end, when it is plausible; else four times the input.
fn size_hint(input: &[u8]) -> usize {
    let fallback = input.len().saturating_mul(4);
    let Some(trailer) = input.last_chunk::<4>() else {
        return fallback;
    };
    let announced = u32::from_le_bytes(*trailer) as usize;
    if announced <= input.len().saturating_mul(MAX_DEFLATE_RATIO) {
        announced.saturating_add(1)
    } else {
        fallback
    }
}

/// Compresses `input` as a single gzip member at the default level.
pub(crate) fn compress(input: &[u8], out: &mut BytesMut) -> Result<(), CompressionError> {
    let failed = |_| CompressionError::EncodeFailed {
        codec: CODEC,
        detail: "write failed",
    };
    let mut encoder = GzEncoder::new(out.writer(), flate2::Compression::default());
    encoder.write_all(input).map_err(failed)?;
    encoder.finish().map_err(failed)?;
    Ok(())
}

//! gzip (RFC 1952) via `flate2`.

use std::io::Write;

use bytes::{BufMut, Bytes, BytesMut};
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;

use super::CompressionError;
use super::capped::read_capped;

const CODEC: &str = "gzip";

/// Decompresses one or more concatenated gzip members.
pub(crate) fn decompress(input: &[u8], cap: usize) -> Result<Bytes, CompressionError> {
    let out = read_capped(
        MultiGzDecoder::new(input),
        cap,
        input.len().saturating_mul(4),
        CODEC,
    )?;
    Ok(Bytes::from(out))
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

//! Compression codecs used inside record batches and legacy message sets.
//!
//! Kafka compresses the records section of a magic-2 batch (or the value of a legacy wrapper
//! message) with one of four codecs, chosen by bits 0-2 of the attributes. This module turns
//! those bytes back into one contiguous [`Bytes`] buffer, and compresses them for producers and
//! tests.
//!
//! Decompression is always *capped*: the caller passes the largest output it accepts and the
//! codecs are driven in bounded chunks, so a decompression bomb fails with
//! [`CompressionError::TooLarge`] without the output buffer ever growing past the cap. Size
//! fields found in compressed headers are never trusted to size an allocation above the cap.
//! Codec working memory is bounded separately by each format (gzip: a 32 KiB window; lz4: at
//! most two blocks of the frame's declared maximum block size, 4 MiB at worst; zstd: the window,
//! which is clamped to the cap; snappy: none beyond the output).

mod capped;
mod gzip;
mod lz4;
mod snappy;
mod xxh32;
mod zstandard;

use bytes::{Bytes, BytesMut};

pub use lz4::{compress_legacy_lz4, decompress_legacy_lz4};

/// A compression codec, as coded in bits 0-2 of a batch's (or legacy message's) attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Compression {
    /// No compression (code 0).
    #[default]
    None,
    /// gzip (code 1), RFC 1952; several concatenated members are accepted.
    Gzip,
    /// Snappy (code 2), either framed the way the Java client does (xerial) or a raw block.
    Snappy,
    /// LZ4 frame format (code 3).
    Lz4,
    /// Zstandard (code 4).
    Zstd,
}

impl Compression {
    /// The mask of the codec bits in an attributes field.
    pub const ATTRIBUTE_MASK: i16 = 0x07;

    /// Every codec, in wire-code order (`ALL[code]` has that code).
    pub const ALL: [Compression; 5] = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];

    /// The codec for a wire code (0..=4).
    pub fn from_code(code: u8) -> Result<Self, CompressionError> {
        match code {
            0 => Ok(Self::None),
            1 => Ok(Self::Gzip),
            2 => Ok(Self::Snappy),
            3 => Ok(Self::Lz4),
            4 => Ok(Self::Zstd),
            other => Err(CompressionError::UnknownCodec(other)),
        }
    }

    /// The codec named by bits 0-2 of a batch or message attributes field.
    pub fn from_attributes(attributes: i16) -> Result<Self, CompressionError> {
        // The mask keeps the value in 0..=7, so the narrowing cannot lose bits.
        Self::from_code((attributes & Self::ATTRIBUTE_MASK) as u8)
    }

    /// The wire code of this codec.
    pub fn code(self) -> u8 {
        match self {
            Self::None => 0,
            Self::Gzip => 1,
            Self::Snappy => 2,
            Self::Lz4 => 3,
            Self::Zstd => 4,
        }
    }

    /// A short lowercase name ("none", "gzip", "snappy", "lz4", "zstd").
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Gzip => "gzip",
            Self::Snappy => "snappy",
            Self::Lz4 => "lz4",
            Self::Zstd => "zstd",
        }
    }
}

/// A failure while compressing or decompressing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CompressionError {
    /// The attributes name a codec code this library does not know (5, 6 or 7).
    #[error("unknown compression codec {0}")]
    UnknownCodec(u8),
    /// The decompressed data would exceed the configured maximum.
    #[error("decompressed data exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The cap that was hit.
        limit: usize,
    },
    /// The compressed input is malformed.
    #[error("corrupt {codec} data: {detail}")]
    Corrupt {
        /// The codec.
        codec: &'static str,
        /// What was wrong.
        detail: &'static str,
    },
    /// The encoder failed (for example an input too large for a framing length field).
    #[error("{codec} compression failed: {detail}")]
    EncodeFailed {
        /// The codec.
        codec: &'static str,
        /// What went wrong.
        detail: &'static str,
    },
}

/// Decompresses `input` compressed with `codec` into one buffer of at most `max_output` bytes.
///
/// [`Compression::None`] copies the input (still subject to the cap). Empty input is corrupt for
/// every real codec (each format has a non-empty header or terminator). Output past `max_output`
/// is [`CompressionError::TooLarge`]; the output buffer never grows beyond `max_output + 1`
/// bytes.
pub fn decompress(
    codec: Compression,
    input: &[u8],
    max_output: usize,
) -> Result<Bytes, CompressionError> {
    match codec {
        Compression::None => {
            if input.len() > max_output {
                Err(CompressionError::TooLarge { limit: max_output })
            } else {
                Ok(Bytes::copy_from_slice(input))
            }
        }
        _ if input.is_empty() => Err(CompressionError::Corrupt {
            codec: codec.name(),
            detail: "empty input",
        }),
        Compression::Gzip => gzip::decompress(input, max_output),
        Compression::Snappy => snappy::decompress(input, max_output),
        Compression::Lz4 => lz4::decompress(input, max_output),
        Compression::Zstd => zstandard::decompress(input, max_output),
    }
}

/// Compresses `input` with `codec`, appending the compressed bytes to `out`.
///
/// Output formats are those the Java client writes: a single gzip member, xerial-framed snappy,
/// an LZ4 frame with independent 64 KiB blocks, and a single zstd frame.
pub fn compress(
    codec: Compression,
    input: &[u8],
    out: &mut BytesMut,
) -> Result<(), CompressionError> {
    match codec {
        Compression::None => {
            out.extend_from_slice(input);
            Ok(())
        }
        Compression::Gzip => gzip::compress(input, out),
        Compression::Snappy => snappy::compress(input, out),
        Compression::Lz4 => lz4::compress(input, out),
        Compression::Zstd => zstandard::compress(input, out),
    }
}

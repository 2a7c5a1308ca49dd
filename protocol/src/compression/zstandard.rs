//! Zstandard: pure-Rust `ruzstd` by default, the C library under feature `zstd-native`.
//!
//! Frames are walked here, whatever the backend: skippable frames are skipped, and each frame
//! header is inspected before the decoder sees it. A declared content size above the remaining
//! cap is [`CompressionError::TooLarge`] at once, and a window larger than the cap is lowered to
//! the cap. That is lossless — no match of a frame whose output fits the cap can reach further
//! back than the cap — and it keeps the decoder from reserving a window buffer sized by an
//! untrusted header.

use std::io::{Chain, Read};

use bytes::{Bytes, BytesMut};

use super::CompressionError;
use super::capped::read_capped;

const CODEC: &str = "zstd";
const FRAME_MAGIC: u32 = 0xFD2F_B528;
const SKIPPABLE_MASK: u32 = 0xFFFF_FFF0;
const SKIPPABLE_MAGIC: u32 = 0x184D_2A50;
/// The smallest window zstd defines (window log 10).
const MIN_WINDOW: u64 = 1024;

fn corrupt(detail: &'static str) -> CompressionError {
    CompressionError::Corrupt {
        codec: CODEC,
        detail,
    }
}

/// The reader a backend decodes one frame from: the (possibly patched) fixed header bytes, then
/// the rest of the input. Backends must not read past the frame's end.
type FrameReader<'h, 'a> = Chain<&'h [u8], &'a [u8]>;

/// What the decoder needs to know about a frame header before it reads it.
struct FrameHeader {
    /// The window descriptor byte (absent for single-segment frames).
    window_descriptor: Option<u8>,
    /// The declared decompressed size, if present.
    content_size: Option<u64>,
}

fn window_size(descriptor: u8) -> u64 {
    let log = 10 + u32::from(descriptor >> 3);
    let base = 1u64 << log;
    base + (base / 8) * u64::from(descriptor & 7)
}

/// The smallest window descriptor whose window holds at least `bytes` bytes.
fn descriptor_for(bytes: usize) -> u8 {
    let bytes = u64::try_from(bytes).unwrap_or(u64::MAX);
    (0..=u8::MAX)
        .find(|&d| window_size(d) >= bytes)
        .unwrap_or(u8::MAX)
}

fn parse_header(frame: &[u8]) -> Result<FrameHeader, CompressionError> {
    let truncated = corrupt("truncated frame header");
    let fhd = *frame.get(4).ok_or(truncated)?;
    if fhd & 0x08 != 0 {
        return Err(corrupt("reserved frame header bit set"));
    }
    let single_segment = fhd & 0x20 != 0;
    let mut at = 5;
    let window_descriptor = if single_segment {
        None
    } else {
        at += 1;
        Some(*frame.get(5).ok_or(truncated)?)
    };
    at += match fhd & 3 {
        0 => 0,
        1 => 1,
        2 => 2,
        _ => 4,
    };
    let fcs_len = match fhd >> 6 {
        0 if single_segment => 1,
        0 => 0,
        1 => 2,
        2 => 4,
        _ => 8,
    };
    let fcs = frame.get(at..at + fcs_len).ok_or(truncated)?;
    let content_size = (fcs_len > 0).then(|| {
        let mut le = [0u8; 8];
        le.iter_mut().zip(fcs).for_each(|(d, s)| *d = *s);
        let v = u64::from_le_bytes(le);
        if fcs_len == 2 { v + 256 } else { v }
    });
    Ok(FrameHeader {
        window_descriptor,
        content_size,
    })
}

/// Decompresses a sequence of zstd frames (skippable frames are skipped).
pub(crate) fn decompress(input: &[u8], cap: usize) -> Result<Bytes, CompressionError> {
    let mut out: Vec<u8> = Vec::new();
    let mut rest = input;
    let mut backend = backend::Decoder::new();
    while let Some(magic) = rest.first_chunk::<4>() {
        let magic = u32::from_le_bytes(*magic);
        if magic & SKIPPABLE_MASK == SKIPPABLE_MAGIC {
            let size = rest
                .get(4..)
                .and_then(|s| s.first_chunk::<4>())
                .ok_or(corrupt("truncated skippable frame"))?;
            let skip = usize::try_from(u32::from_le_bytes(*size))
                .map_or(usize::MAX, |s| s.saturating_add(8));
            rest = rest
                .get(skip..)
                .ok_or(corrupt("truncated skippable frame"))?;
            continue;
        }
        if magic != FRAME_MAGIC {
            return Err(corrupt("bad frame magic"));
        }
        let budget = cap.saturating_sub(out.len());
        let budget_u64 = u64::try_from(budget).unwrap_or(u64::MAX);
        let header = parse_header(rest)?;
        if header.content_size.is_some_and(|size| size > budget_u64) {
            return Err(CompressionError::TooLarge { limit: cap });
        }
        // Copy the magic, FHD and window descriptor so the window can be lowered.
        let fixed_len = if header.window_descriptor.is_some() {
            6
        } else {
            5
        };
        let mut fixed = [0u8; 6];
        let (head, tail) = rest
            .split_at_checked(fixed_len)
            .ok_or(corrupt("truncated frame header"))?;
        fixed.iter_mut().zip(head).for_each(|(d, s)| *d = *s);
        let window = match header.window_descriptor {
            Some(wd) if window_size(wd) > budget_u64.max(MIN_WINDOW) => {
                fixed[5] = descriptor_for(budget);
                window_size(fixed[5])
            }
            Some(wd) => window_size(wd),
            // Single segment: the window is the content size, checked above.
            None => header.content_size.unwrap_or(0),
        };
        // The first allocation: the declared size, else a guess from the compressed size.
        let hint = header
            .content_size
            .map_or(rest.len().saturating_mul(4), |size| {
                usize::try_from(size).unwrap_or(usize::MAX)
            });
        let mut reader = fixed.get(..fixed_len).unwrap_or_default().chain(tail);
        let frame = backend
            .decode_frame(&mut reader, budget, window.max(MIN_WINDOW), hint)
            .map_err(|e| match e {
                CompressionError::TooLarge { .. } => CompressionError::TooLarge { limit: cap },
                other => other,
            })?;
        if header
            .content_size
            .is_some_and(|size| size != frame.len() as u64)
        {
            return Err(corrupt("content size mismatch"));
        }
        if out.is_empty() {
            out = frame;
        } else {
            out.extend_from_slice(&frame);
        }
        rest = reader.into_inner().1;
    }
    if !rest.is_empty() {
        return Err(corrupt("trailing bytes after the last frame"));
    }
    Ok(Bytes::from(out))
}

#[cfg(not(feature = "zstd-native"))]
mod backend {
    use bytes::BufMut;
    use ruzstd::decoding::{FrameDecoder, StreamingDecoder};
    use ruzstd::encoding::CompressionLevel;

    use super::*;

    /// ruzstd's frame decoder, reused across the frames of one input.
    pub(super) struct Decoder(FrameDecoder);

    impl Decoder {
        pub(super) fn new() -> Self {
            Self(FrameDecoder::new())
        }

        /// Decodes one frame of at most `budget` bytes (the window is already bounded); `hint`
        /// sizes the first allocation (clamped to the budget).
        pub(super) fn decode_frame(
            &mut self,
            reader: &mut FrameReader<'_, '_>,
            budget: usize,
            _window: u64,
            hint: usize,
        ) -> Result<Vec<u8>, CompressionError> {
            let frame = {
                let stream = StreamingDecoder::new_with_decoder(&mut *reader, &mut self.0)
                    .map_err(|_| corrupt("invalid frame header"))?;
                read_capped(stream, budget, hint, CODEC)?
            };
            if let (Some(stored), Some(computed)) = (
                self.0.get_checksum_from_data(),
                self.0.get_calculated_checksum(),
            ) {
                if stored != computed {
                    return Err(corrupt("content checksum mismatch"));
                }
            }
            Ok(frame)
        }
    }

    /// Compresses `input` as one zstd frame (ruzstd's fastest level).
    pub(crate) fn compress(input: &[u8], out: &mut BytesMut) -> Result<(), CompressionError> {
        ruzstd::encoding::compress(input, out.writer(), CompressionLevel::Fastest);
        Ok(())
    }
}

#[cfg(feature = "zstd-native")]
mod backend {
    use super::*;

    /// Frames are decoded by the C library one at a time.
    pub(super) struct Decoder;

    impl Decoder {
        pub(super) fn new() -> Self {
            Self
        }

        /// Decodes one frame of at most `budget` bytes, the C decoder's window limited to
        /// `window` (already bounded by the cap); `hint` sizes the first allocation.
        pub(super) fn decode_frame(
            &mut self,
            reader: &mut FrameReader<'_, '_>,
            budget: usize,
            window: u64,
            hint: usize,
        ) -> Result<Vec<u8>, CompressionError> {
            let failed = |_| corrupt("decoder");
            let mut decoder = zstd::stream::read::Decoder::with_buffer(&mut *reader)
                .map_err(failed)?
                .single_frame();
            // The smallest window log covering `window`, within zstd's accepted range.
            let log = (u64::BITS - window.saturating_sub(1).leading_zeros()).clamp(10, 31);
            decoder.window_log_max(log).map_err(failed)?;
            read_capped(decoder, budget, hint, CODEC)
        }
    }

    /// Compresses `input` as one zstd frame at level 3.
    pub(crate) fn compress(input: &[u8], out: &mut BytesMut) -> Result<(), CompressionError> {
        let compressed =
            zstd::bulk::compress(input, 3).map_err(|_| CompressionError::EncodeFailed {
                codec: CODEC,
                detail: "compress",
            })?;
        out.extend_from_slice(&compressed);
        Ok(())
    }
}

pub(crate) use backend::compress;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_descriptors() {
        assert_eq!(window_size(0), 1024);
        assert_eq!(window_size(1), 1024 + 128);
        assert_eq!(descriptor_for(0), 0);
        assert_eq!(descriptor_for(1025), 1);
        assert_eq!(window_size(descriptor_for(3_000_000)), 3_145_728);
    }

    #[test]
    fn lowered_window_still_decodes() {
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 7) as u8).collect();
        let mut z = BytesMut::new();
        compress(&data, &mut z).unwrap();
        assert_eq!(decompress(&z, data.len()).unwrap(), data);
        assert_eq!(
            decompress(&z, data.len() - 1),
            Err(CompressionError::TooLarge {
                limit: data.len() - 1
            })
        );
    }
}

//! Draining a streaming decoder into a buffer that never grows past a cap.

use std::io::{ErrorKind, Read};

use super::CompressionError;

/// How much a single `read` call is offered at most.
const CHUNK: usize = 64 * 1024;

/// Reads `reader` to its end into a new vector of at most `cap` bytes.
///
/// The vector's capacity is grown explicitly and never beyond `cap + 1` (the extra byte detects
/// overflow), so a stream that would decompress past the cap costs at most `cap + 1` bytes of
/// output buffer before [`CompressionError::TooLarge`] is returned. `size_hint` (a size the
/// format announces, or a small multiple of the compressed size) only sizes the first
/// allocation, and is clamped too; the buffer grows (doubling) only once it is full.
pub(crate) fn read_capped(
    mut reader: impl Read,
    cap: usize,
    size_hint: usize,
    codec: &'static str,
) -> Result<Vec<u8>, CompressionError> {
    let hard_limit = cap.saturating_add(1);
    let mut out: Vec<u8> = Vec::with_capacity(size_hint.min(hard_limit));
    loop {
        let len = out.len();
        // `len <= cap` holds here, so `room >= 1`. Reads fill the spare capacity first, so an
        // exact `size_hint` (plus one byte to see the end) never grows the buffer.
        let room = hard_limit - len;
        if out.capacity() == len {
            let grown = len
                .saturating_mul(2)
                .max(len + room.min(CHUNK))
                .min(hard_limit);
            out.reserve_exact(grown - len);
        }
        let want = (out.capacity() - len).min(room).clamp(1, CHUNK);
        out.resize(len + want, 0);
        let read = match out.get_mut(len..) {
            Some(space) => reader.read(space),
            None => Ok(0),
        };
        match read {
            Ok(0) => {
                out.truncate(len);
                return Ok(out);
            }
            Ok(n) => {
                out.truncate(len + n.min(want));
                if out.len() > cap {
                    return Err(CompressionError::TooLarge { limit: cap });
                }
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => out.truncate(len),
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => {
                return Err(CompressionError::Corrupt {
                    codec,
                    detail: "input ends early",
                });
            }
            Err(_) => {
                return Err(CompressionError::Corrupt {
                    codec,
                    detail: "invalid compressed stream",
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_at_the_cap() {
        let data = vec![7u8; 1000];
        assert_eq!(
            read_capped(&data[..], 1000, 0, "t").map(|v| v.len()),
            Ok(1000)
        );
        assert_eq!(
            read_capped(&data[..], 999, 0, "t"),
            Err(CompressionError::TooLarge { limit: 999 })
        );
        assert_eq!(read_capped(&data[..0], 0, 10, "t"), Ok(Vec::new()));
    }

    #[test]
    fn an_exact_hint_is_the_only_allocation() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        for hint in [0, 1, 4096, 199_999, 200_000, 200_001, 1 << 20] {
            let out = read_capped(&data[..], 1 << 20, hint, "t").unwrap();
            assert_eq!(out, data, "hint {hint}");
            if hint == 200_001 {
                assert_eq!(out.capacity(), 200_001, "no growth past an exact hint");
            }
        }
    }
}

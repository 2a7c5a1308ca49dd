//! Variable-length integers: unsigned varints (KIP-482 lengths and tags) and zig-zag
//! varints/varlongs (record fields).
//!
//! Decoders work on a byte slice and return the value with the number of bytes it took, so
//! callers can use them on a `Bytes` cursor or on a borrowed record slice alike. A varint that
//! runs past its maximum width is [`DecodeError::VarintOverflow`]; one cut short is
//! [`DecodeError::Truncated`].

use bytes::BufMut;

use crate::error::DecodeError;

/// Reads an unsigned 32-bit varint; returns `(value, bytes_read)`.
#[inline]
pub fn read_uvarint(input: &[u8], context: &'static str) -> Result<(u32, usize), DecodeError> {
    let (v, n) = read_raw(input, 5, context)?;
    u32::try_from(v)
        .map(|v| (v, n))
        .map_err(|_| DecodeError::VarintOverflow { context })
}

/// Reads a zig-zag encoded signed 32-bit varint; returns `(value, bytes_read)`.
#[inline]
pub fn read_varint(input: &[u8], context: &'static str) -> Result<(i32, usize), DecodeError> {
    let (v, n) = read_uvarint(input, context)?;
    Ok((((v >> 1) as i32) ^ -((v & 1) as i32), n))
}

/// Reads a zig-zag encoded signed 64-bit varlong; returns `(value, bytes_read)`.
#[inline]
pub fn read_varlong(input: &[u8], context: &'static str) -> Result<(i64, usize), DecodeError> {
    let (v, n) = read_raw(input, 10, context)?;
    Ok((((v >> 1) as i64) ^ -((v & 1) as i64), n))
}

/// Reads up to `max_bytes` 7-bit groups, least significant first.
#[inline]
fn read_raw(
    input: &[u8],
    max_bytes: usize,
    context: &'static str,
) -> Result<(u64, usize), DecodeError> {
    // Fast path: one byte.
    match input.first() {
        None => return Err(DecodeError::Truncated { context }),
        Some(&b) if b < 0x80 => return Ok((u64::from(b), 1)),
        Some(_) => {}
    }
    let mut value: u64 = 0;
    for (i, &b) in input.iter().enumerate().take(max_bytes) {
        let group = u64::from(b & 0x7f);
        let shift = 7 * i as u32;
        // The last permitted byte may only carry the bits that still fit in 64 bits.
        if shift == 63 && group > 1 {
            return Err(DecodeError::VarintOverflow { context });
        }
        value |= group << shift;
        if b < 0x80 {
            return Ok((value, i + 1));
        }
    }
    if input.len() < max_bytes {
        Err(DecodeError::Truncated { context })
    } else {
        Err(DecodeError::VarintOverflow { context })
    }
}

/// Writes an unsigned 32-bit varint.
#[inline]
pub fn put_uvarint(buf: &mut impl BufMut, mut v: u32) {
    while v >= 0x80 {
        buf.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    buf.put_u8(v as u8);
}

/// Writes a zig-zag encoded signed 32-bit varint.
#[inline]
pub fn put_varint(buf: &mut impl BufMut, v: i32) {
    put_uvarint(buf, ((v << 1) ^ (v >> 31)) as u32);
}

/// Writes a zig-zag encoded signed 64-bit varlong.
#[inline]
pub fn put_varlong(buf: &mut impl BufMut, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        buf.put_u8((z as u8) | 0x80);
        z >>= 7;
    }
    buf.put_u8(z as u8);
}

/// The number of bytes [`put_uvarint`] writes for `v`.
#[inline]
pub fn uvarint_len(v: u32) -> usize {
    match v {
        0..=0x7f => 1,
        0x80..=0x3fff => 2,
        0x4000..=0x1f_ffff => 3,
        0x20_0000..=0xfff_ffff => 4,
        _ => 5,
    }
}

/// The number of bytes [`put_varint`] writes for `v`.
#[inline]
pub fn varint_len(v: i32) -> usize {
    uvarint_len(((v << 1) ^ (v >> 31)) as u32)
}

/// The number of bytes [`put_varlong`] writes for `v`.
#[inline]
pub fn varlong_len(v: i64) -> usize {
    let z = ((v << 1) ^ (v >> 63)) as u64;
    (64 - z.leading_zeros() as usize).div_ceil(7).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_edges() {
        for v in [
            0i64,
            1,
            -1,
            63,
            -64,
            64,
            i32::MAX as i64,
            i32::MIN as i64,
            i64::MAX,
            i64::MIN,
        ] {
            let mut b = Vec::new();
            put_varlong(&mut b, v);
            assert_eq!(b.len(), varlong_len(v));
            assert_eq!(read_varlong(&b, "t"), Ok((v, b.len())));
        }
        for v in [0i32, 1, -1, 300, -300, i32::MAX, i32::MIN] {
            let mut b = Vec::new();
            put_varint(&mut b, v);
            assert_eq!(b.len(), varint_len(v));
            assert_eq!(read_varint(&b, "t"), Ok((v, b.len())));
        }
        for v in [0u32, 127, 128, 16383, 16384, u32::MAX] {
            let mut b = Vec::new();
            put_uvarint(&mut b, v);
            assert_eq!(b.len(), uvarint_len(v));
            assert_eq!(read_uvarint(&b, "t"), Ok((v, b.len())));
        }
    }

    #[test]
    fn rejects_overflow_and_truncation() {
        assert_eq!(
            read_uvarint(&[0xff, 0xff, 0xff, 0xff, 0x7f], "t"),
            Err(DecodeError::VarintOverflow { context: "t" })
        );
        assert_eq!(
            read_uvarint(&[0xff; 6], "t"),
            Err(DecodeError::VarintOverflow { context: "t" })
        );
        assert_eq!(
            read_uvarint(&[0x80, 0x80], "t"),
            Err(DecodeError::Truncated { context: "t" })
        );
        assert_eq!(
            read_varlong(&[0xff; 10], "t"),
            Err(DecodeError::VarintOverflow { context: "t" })
        );
        assert_eq!(
            read_uvarint(&[], "t"),
            Err(DecodeError::Truncated { context: "t" })
        );
    }
}

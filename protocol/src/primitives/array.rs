//! Arrays: an int32 count (or compact uvarint count+1) followed by the elements.

use bytes::{Bytes, BytesMut};

use super::{Ctx, Nullable, WireField, read_len, write_len};
use crate::error::{DecodeError, EncodeError};

fn decode_elements<T: WireField>(
    buf: &mut Bytes,
    count: usize,
    ctx: Ctx,
) -> Result<Vec<T>, DecodeError> {
    // `read_len` bounded `count` by the bytes left (each element takes at least one byte), but
    // an element in memory may be far larger than its smallest encoding: the first allocation
    // is bounded by the bytes left, not by `count` elements, so a count the input cannot back
    // costs no more memory than the input. Elements that do decode grow it as they come.
    let element = std::mem::size_of::<T>().max(1);
    let mut out = Vec::with_capacity(count.min(buf.len() / element));
    for _ in 0..count {
        out.push(T::decode_field(buf, ctx)?);
    }
    Ok(out)
}

impl<T: WireField> WireField for Vec<T> {
    fn encode_field(&self, buf: &mut BytesMut, ctx: Ctx) -> Result<(), EncodeError> {
        write_len(buf, ctx, Some(self.len()))?;
        self.iter().try_for_each(|e| e.encode_field(buf, ctx))
    }
    fn decode_field(buf: &mut Bytes, ctx: Ctx) -> Result<Self, DecodeError> {
        match read_len(buf, ctx)? {
            Some(count) => decode_elements(buf, count, ctx),
            None => Err(DecodeError::UnexpectedNull { context: ctx.field }),
        }
    }
}

impl<T: WireField> Nullable for Vec<T> {
    fn encode_null(buf: &mut BytesMut, ctx: Ctx) {
        let _ = write_len(buf, ctx, None);
    }
    fn decode_nullable(buf: &mut Bytes, ctx: Ctx) -> Result<Option<Self>, DecodeError> {
        read_len(buf, ctx)?
            .map(|count| decode_elements(buf, count, ctx))
            .transpose()
    }
}

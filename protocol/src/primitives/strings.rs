//! Strings (int16 length, or compact uvarint length+1) and byte arrays (int32 length, or compact).

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::{Ctx, Nullable, WireField, read_len, varint, write_len};
use crate::error::{DecodeError, EncodeError};

/// Reads a string length prefix: `None` for null, else a length checked against what is left.
#[inline]
fn read_str_len(buf: &mut Bytes, ctx: Ctx) -> Result<Option<usize>, DecodeError> {
    if ctx.flexible {
        return read_len(buf, ctx);
    }
    if buf.len() < 2 {
        return Err(DecodeError::Truncated { context: ctx.field });
    }
    match buf.get_i16() {
        -1 => Ok(None),
        len if len < 0 || len as usize > buf.len() => Err(DecodeError::InvalidLength {
            context: ctx.field,
            length: i64::from(len),
        }),
        len => Ok(Some(len as usize)),
    }
}

#[inline]
fn write_str_len(buf: &mut BytesMut, ctx: Ctx, len: Option<usize>) -> Result<(), EncodeError> {
    if ctx.flexible {
        return write_len(buf, ctx, len);
    }
    match len {
        None => buf.put_i16(-1),
        Some(n) => {
            let v = i16::try_from(n).map_err(|_| EncodeError::TooLong {
                context: ctx.field,
                length: n,
            })?;
            buf.put_i16(v)
        }
    }
    Ok(())
}

fn take_string(buf: &mut Bytes, len: usize, ctx: Ctx) -> Result<String, DecodeError> {
    let raw = buf.split_to(len);
    String::from_utf8(raw.to_vec()).map_err(|_| DecodeError::InvalidUtf8 { context: ctx.field })
}

impl WireField for String {
    fn encode_field(&self, buf: &mut BytesMut, ctx: Ctx) -> Result<(), EncodeError> {
        write_str_len(buf, ctx, Some(self.len()))?;
        buf.put_slice(self.as_bytes());
        Ok(())
    }
    fn decode_field(buf: &mut Bytes, ctx: Ctx) -> Result<Self, DecodeError> {
        match read_str_len(buf, ctx)? {
            Some(len) => take_string(buf, len, ctx),
            None => Err(DecodeError::UnexpectedNull { context: ctx.field }),
        }
    }
}

impl Nullable for String {
    fn encode_null(buf: &mut BytesMut, ctx: Ctx) {
        if ctx.flexible {
            varint::put_uvarint(buf, 0);
        } else {
            buf.put_i16(-1);
        }
    }
    fn decode_nullable(buf: &mut Bytes, ctx: Ctx) -> Result<Option<Self>, DecodeError> {
        read_str_len(buf, ctx)?
            .map(|len| take_string(buf, len, ctx))
            .transpose()
    }
}

impl WireField for Bytes {
    fn encode_field(&self, buf: &mut BytesMut, ctx: Ctx) -> Result<(), EncodeError> {
        write_len(buf, ctx, Some(self.len()))?;
        buf.put_slice(self);
        Ok(())
    }
    fn decode_field(buf: &mut Bytes, ctx: Ctx) -> Result<Self, DecodeError> {
        match read_len(buf, ctx)? {
            Some(len) => Ok(buf.split_to(len)),
            None => Err(DecodeError::UnexpectedNull { context: ctx.field }),
        }
    }
}

impl Nullable for Bytes {
    fn encode_null(buf: &mut BytesMut, ctx: Ctx) {
        // Writing a null length cannot fail.
        let _ = write_len(buf, ctx, None);
    }
    fn decode_nullable(buf: &mut Bytes, ctx: Ctx) -> Result<Option<Self>, DecodeError> {
        Ok(read_len(buf, ctx)?.map(|len| buf.split_to(len)))
    }
}

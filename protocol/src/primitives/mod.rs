//! Wire primitives shared by every message: fixed-width integers, varints, strings, byte arrays,
//! arrays, UUIDs and tagged fields, in both their classic and flexible (KIP-482) forms.
//!
//! Every message field type implements [`WireField`]: it encodes into a `BytesMut` and decodes
//! from a `Bytes` cursor that it advances. A [`Ctx`] tells it the version being spoken, whether
//! that version is flexible (compact lengths, tagged fields) and the field's name for errors.
//! Types that may be null implement [`Nullable`], which gives `Option<T>` its wire form.

mod array;
mod fixed;
mod strings;
mod tagged;
mod uuid;
pub mod varint;

#[cfg(feature = "arbitrary")]
pub mod sample;

use bytes::{Bytes, BytesMut};

use crate::error::{DecodeError, EncodeError};

pub use tagged::{
    RawTaggedField, UnknownTaggedFields, read_tag_count, read_tag_header, write_tagged_section,
};
pub use uuid::Uuid;

/// What a field codec needs to know about where it is being read or written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ctx {
    /// The message version being encoded or decoded.
    pub version: i16,
    /// Whether this version uses the flexible (KIP-482) encoding.
    pub flexible: bool,
    /// The field's name, used as error context.
    pub field: &'static str,
}

impl Ctx {
    /// The same context naming another field.
    #[inline]
    pub fn with_field(self, field: &'static str) -> Self {
        Ctx { field, ..self }
    }
}

/// A value with a wire form that depends on the version context.
pub trait WireField: Sized {
    /// Appends the value's wire form to `buf`.
    fn encode_field(&self, buf: &mut BytesMut, ctx: Ctx) -> Result<(), EncodeError>;
    /// Reads a value from the front of `buf`, advancing it.
    fn decode_field(buf: &mut Bytes, ctx: Ctx) -> Result<Self, DecodeError>;
}

/// A type whose wire form has a null value (a -1 length or a -1 marker byte).
pub trait Nullable: WireField {
    /// Appends the null form of this type.
    fn encode_null(buf: &mut BytesMut, ctx: Ctx);
    /// Appends the non-null form of a value; for most types the same as its plain form.
    fn encode_some(&self, buf: &mut BytesMut, ctx: Ctx) -> Result<(), EncodeError> {
        self.encode_field(buf, ctx)
    }
    /// Reads either null (`None`) or a value.
    fn decode_nullable(buf: &mut Bytes, ctx: Ctx) -> Result<Option<Self>, DecodeError>;
}

impl<T: Nullable> WireField for Option<T> {
    #[inline]
    fn encode_field(&self, buf: &mut BytesMut, ctx: Ctx) -> Result<(), EncodeError> {
        match self {
            Some(v) => v.encode_some(buf, ctx),
            None => {
                T::encode_null(buf, ctx);
                Ok(())
            }
        }
    }

    #[inline]
    fn decode_field(buf: &mut Bytes, ctx: Ctx) -> Result<Self, DecodeError> {
        T::decode_nullable(buf, ctx)
    }
}

/// Reads a length or count prefix: `Ok(None)` for null, else a length checked against the bytes
/// left in `buf` (every element of a counted item takes at least one byte).
#[inline]
pub(crate) fn read_len(buf: &mut Bytes, ctx: Ctx) -> Result<Option<usize>, DecodeError> {
    let raw: i64 = if ctx.flexible {
        let (v, n) = varint::read_uvarint(buf, ctx.field)?;
        bytes::Buf::advance(buf, n);
        i64::from(v) - 1
    } else {
        i64::from(fixed::get_i32(buf, ctx.field)?)
    };
    match raw {
        -1 => Ok(None),
        len if len < 0 => Err(DecodeError::InvalidLength {
            context: ctx.field,
            length: len,
        }),
        len if len as u64 > buf.len() as u64 => Err(DecodeError::InvalidLength {
            context: ctx.field,
            length: len,
        }),
        len => Ok(Some(len as usize)),
    }
}

/// Writes a length or count prefix; `None` is null.
#[inline]
pub(crate) fn write_len(
    buf: &mut BytesMut,
    ctx: Ctx,
    len: Option<usize>,
) -> Result<(), EncodeError> {
    use bytes::BufMut;
    match len {
        None if ctx.flexible => varint::put_uvarint(buf, 0),
        None => buf.put_i32(-1),
        Some(n) if ctx.flexible => {
            let v = u32::try_from(n).ok().and_then(|n| n.checked_add(1)).ok_or(
                EncodeError::TooLong {
                    context: ctx.field,
                    length: n,
                },
            )?;
            varint::put_uvarint(buf, v)
        }
        Some(n) => {
            let v = i32::try_from(n).map_err(|_| EncodeError::TooLong {
                context: ctx.field,
                length: n,
            })?;
            buf.put_i32(v)
        }
    }
    Ok(())
}

/// Decodes a whole top-level structure and fails if any byte is left over.
pub fn ensure_consumed(buf: &Bytes, context: &'static str) -> Result<(), DecodeError> {
    if buf.is_empty() {
        Ok(())
    } else {
        Err(DecodeError::TrailingBytes {
            context,
            remaining: buf.len(),
        })
    }
}

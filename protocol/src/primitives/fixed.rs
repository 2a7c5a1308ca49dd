//! Fixed-width fields: integers, booleans, doubles.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use nom::number::complete as num;

use super::{Ctx, WireField};
use crate::error::{DecodeError, EncodeError};

/// Runs a nom number parser on the front of `buf` and advances past what it consumed.
macro_rules! parse {
    ($buf:expr, $context:expr, $parser:path) => {{
        let parsed: nom::IResult<&[u8], _> = $parser(&$buf[..]);
        match parsed {
            Ok((rest, v)) => {
                let used = $buf.len() - rest.len();
                $buf.advance(used);
                Ok(v)
            }
            Err(_) => Err(DecodeError::Truncated { context: $context }),
        }
    }};
}

#[inline]
pub(crate) fn get_i32(buf: &mut Bytes, context: &'static str) -> Result<i32, DecodeError> {
    parse!(buf, context, num::be_i32)
}

macro_rules! fixed_field {
    ($ty:ty, $nom:path, $put:ident) => {
        impl WireField for $ty {
            #[inline]
            fn encode_field(&self, buf: &mut BytesMut, _ctx: Ctx) -> Result<(), EncodeError> {
                buf.$put(*self);
                Ok(())
            }
            #[inline]
            fn decode_field(buf: &mut Bytes, ctx: Ctx) -> Result<Self, DecodeError> {
                parse!(buf, ctx.field, $nom)
            }
        }
    };
}

fixed_field!(i8, num::be_i8, put_i8);
fixed_field!(i16, num::be_i16, put_i16);
fixed_field!(i32, num::be_i32, put_i32);
fixed_field!(i64, num::be_i64, put_i64);
fixed_field!(u16, num::be_u16, put_u16);
fixed_field!(u32, num::be_u32, put_u32);
fixed_field!(f64, num::be_f64, put_f64);

impl WireField for bool {
    #[inline]
    fn encode_field(&self, buf: &mut BytesMut, _ctx: Ctx) -> Result<(), EncodeError> {
        buf.put_u8(u8::from(*self));
        Ok(())
    }
    #[inline]
    fn decode_field(buf: &mut Bytes, ctx: Ctx) -> Result<Self, DecodeError> {
        match parse!(buf, ctx.field, num::be_u8)? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(DecodeError::InvalidValue { context: ctx.field }),
        }
    }
}

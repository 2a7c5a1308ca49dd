//! Tagged fields (KIP-482): the section at the end of every flexible structure.
//!
//! The section is a uvarint count followed by `(tag uvarint, size uvarint, bytes)` entries in
//! ascending tag order. Known tags decode into their fields; unknown ones are kept verbatim in
//! [`UnknownTaggedFields`] and written back, so a message passes through unchanged.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::{Ctx, varint};
use crate::error::{DecodeError, EncodeError};

/// One tagged field this codec does not know, kept as raw bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawTaggedField {
    /// The field's tag.
    pub tag: u32,
    /// The field's encoded value.
    pub data: Bytes,
}

/// Tagged fields a structure carried that this codec does not know, in ascending tag order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UnknownTaggedFields(pub Vec<RawTaggedField>);

impl UnknownTaggedFields {
    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Reads the section's field count. Each entry takes at least two bytes, so the count is
/// checked against what is left.
pub fn read_tag_count(buf: &mut Bytes, ctx: Ctx) -> Result<u32, DecodeError> {
    let (count, n) = varint::read_uvarint(buf, ctx.field)?;
    buf.advance(n);
    if u64::from(count) * 2 > buf.len() as u64 {
        return Err(DecodeError::InvalidLength {
            context: ctx.field,
            length: i64::from(count),
        });
    }
    Ok(count)
}

/// Reads one entry's tag and size and splits its bytes off `buf`. `last` is the previous tag in
/// this section, which the new one must exceed.
pub fn read_tag_header(
    buf: &mut Bytes,
    ctx: Ctx,
    last: Option<u32>,
) -> Result<(u32, Bytes), DecodeError> {
    let (tag, n) = varint::read_uvarint(buf, ctx.field)?;
    buf.advance(n);
    if last.is_some_and(|l| tag <= l) {
        return Err(DecodeError::TagOutOfOrder {
            context: ctx.field,
            tag,
        });
    }
    let (size, n) = varint::read_uvarint(buf, ctx.field)?;
    buf.advance(n);
    let size = size as usize;
    if size > buf.len() {
        return Err(DecodeError::InvalidLength {
            context: ctx.field,
            length: size as i64,
        });
    }
    Ok((tag, buf.split_to(size)))
}

/// Writes a tagged-field section from the known fields (already encoded, ascending by tag) and
/// the unknown ones, merged in tag order.
pub fn write_tagged_section(
    buf: &mut BytesMut,
    known: &[(u32, BytesMut)],
    unknown: &UnknownTaggedFields,
) -> Result<(), EncodeError> {
    let total = known.len() + unknown.0.len();
    let count = u32::try_from(total).map_err(|_| EncodeError::TooLong {
        context: "tagged fields",
        length: total,
    })?;
    varint::put_uvarint(buf, count);
    let (mut k, mut u) = (known.iter().peekable(), unknown.0.iter().peekable());
    loop {
        let take_known = match (k.peek(), u.peek()) {
            (Some((kt, _)), Some(raw)) => *kt < raw.tag,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        let (tag, data): (u32, &[u8]) = if take_known {
            let Some((tag, data)) = k.next() else { break };
            (*tag, data)
        } else {
            let Some(raw) = u.next() else { break };
            (raw.tag, &raw.data)
        };
        let size = u32::try_from(data.len()).map_err(|_| EncodeError::TooLong {
            context: "tagged field",
            length: data.len(),
        })?;
        varint::put_uvarint(buf, tag);
        varint::put_uvarint(buf, size);
        buf.put_slice(data);
    }
    Ok(())
}

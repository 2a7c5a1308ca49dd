//! The 16-byte UUID type used for topic ids (KIP-516).

use bytes::{BufMut, Bytes, BytesMut};

use super::{Ctx, WireField};
use crate::error::{DecodeError, EncodeError};

/// A 128-bit UUID as Kafka puts it on the wire (big-endian, 16 bytes). The all-zero value is
/// Kafka's "no id".
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Uuid(pub [u8; 16]);

impl Uuid {
    /// The all-zero UUID, which Kafka uses for "unknown" or "not set".
    pub const ZERO: Uuid = Uuid([0; 16]);
}

impl std::fmt::Debug for Uuid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

impl std::fmt::Display for Uuid {
    /// Hyphenated lower-case hex, as RFC 4122 writes it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl WireField for Uuid {
    #[inline]
    fn encode_field(&self, buf: &mut BytesMut, _ctx: Ctx) -> Result<(), EncodeError> {
        buf.put_slice(&self.0);
        Ok(())
    }
    #[inline]
    fn decode_field(buf: &mut Bytes, ctx: Ctx) -> Result<Self, DecodeError> {
        if buf.len() < 16 {
            return Err(DecodeError::Truncated { context: ctx.field });
        }
        let mut raw = [0u8; 16];
        raw.copy_from_slice(&buf.split_to(16));
        Ok(Uuid(raw))
    }
}

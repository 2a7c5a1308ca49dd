//! Request and response headers.
//!
//! Request header v1 is `request_api_key, request_api_version, correlation_id, client_id`; v2 adds a tagged-field
//! section. The client id always uses the classic int16-length nullable string, even in v2, so
//! that any broker can read an ApiVersions request header. Response header v0 is the correlation
//! id; v1 adds tagged fields. ApiVersions responses always use v0.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::error::{DecodeError, EncodeError};
use crate::primitives::{
    Ctx, UnknownTaggedFields, WireField, read_tag_count, read_tag_header, write_tagged_section,
};

/// The header in front of every request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RequestHeader {
    /// The API key.
    pub request_api_key: i16,
    /// The API version of the body that follows.
    pub request_api_version: i16,
    /// Echoed by the response, to match it with this request.
    pub correlation_id: i32,
    /// The client's id, for broker logs and quotas.
    pub client_id: Option<String>,
    /// Tagged fields (header v2).
    pub unknown_tagged_fields: UnknownTaggedFields,
}

const CLASSIC: Ctx = Ctx {
    version: 1,
    flexible: false,
    field: "client_id",
};
const FLEX: Ctx = Ctx {
    version: 2,
    flexible: true,
    field: "RequestHeader",
};

impl RequestHeader {
    /// Appends the header in `header_version` (1 or 2).
    pub fn encode(&self, buf: &mut BytesMut, header_version: i16) -> Result<(), EncodeError> {
        if !(1..=2).contains(&header_version) {
            return Err(EncodeError::UnsupportedVersion {
                api: "RequestHeader",
                version: header_version,
            });
        }
        buf.put_i16(self.request_api_key);
        buf.put_i16(self.request_api_version);
        buf.put_i32(self.correlation_id);
        self.client_id.encode_field(buf, CLASSIC)?;
        if header_version >= 2 {
            write_tagged_section(buf, &[], &self.unknown_tagged_fields)?;
        } else if !self.unknown_tagged_fields.is_empty() {
            return Err(EncodeError::FieldNotInVersion {
                field: "unknown_tagged_fields",
                version: 1,
            });
        }
        Ok(())
    }

    /// Reads the fixed part (key, version, correlation id) without consuming it, so a broker
    /// can pick the header version for the rest.
    pub fn peek_key_version(buf: &[u8]) -> Result<(i16, i16, i32), DecodeError> {
        if buf.len() < 8 {
            return Err(DecodeError::Truncated {
                context: "RequestHeader",
            });
        }
        let mut b = buf;
        Ok((b.get_i16(), b.get_i16(), b.get_i32()))
    }

    /// Reads a header in `header_version` (1 or 2) from the front of `buf`.
    pub fn decode(buf: &mut Bytes, header_version: i16) -> Result<Self, DecodeError> {
        if !(1..=2).contains(&header_version) {
            return Err(DecodeError::UnsupportedVersion {
                api: "RequestHeader",
                version: header_version,
            });
        }
        let (request_api_key, request_api_version, correlation_id) = Self::peek_key_version(buf)?;
        buf.advance(8);
        let client_id = Option::<String>::decode_field(buf, CLASSIC)?;
        let unknown_tagged_fields = if header_version >= 2 {
            read_unknown_tags(buf, FLEX)?
        } else {
            UnknownTaggedFields::default()
        };
        Ok(RequestHeader {
            request_api_key,
            request_api_version,
            correlation_id,
            client_id,
            unknown_tagged_fields,
        })
    }
}

/// The header in front of every response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResponseHeader {
    /// The correlation id of the request this answers.
    pub correlation_id: i32,
    /// Tagged fields (header v1).
    pub unknown_tagged_fields: UnknownTaggedFields,
}

impl ResponseHeader {
    /// Appends the header in `header_version` (0 or 1).
    pub fn encode(&self, buf: &mut BytesMut, header_version: i16) -> Result<(), EncodeError> {
        buf.put_i32(self.correlation_id);
        match header_version {
            0 if self.unknown_tagged_fields.is_empty() => Ok(()),
            0 => Err(EncodeError::FieldNotInVersion {
                field: "unknown_tagged_fields",
                version: 0,
            }),
            1 => write_tagged_section(buf, &[], &self.unknown_tagged_fields),
            v => Err(EncodeError::UnsupportedVersion {
                api: "ResponseHeader",
                version: v,
            }),
        }
    }

    /// Reads a header in `header_version` (0 or 1) from the front of `buf`.
    pub fn decode(buf: &mut Bytes, header_version: i16) -> Result<Self, DecodeError> {
        if !(0..=1).contains(&header_version) {
            return Err(DecodeError::UnsupportedVersion {
                api: "ResponseHeader",
                version: header_version,
            });
        }
        if buf.len() < 4 {
            return Err(DecodeError::Truncated {
                context: "ResponseHeader",
            });
        }
        let correlation_id = buf.get_i32();
        let ctx = Ctx {
            version: 1,
            flexible: true,
            field: "ResponseHeader",
        };
        let unknown_tagged_fields = if header_version == 1 {
            read_unknown_tags(buf, ctx)?
        } else {
            UnknownTaggedFields::default()
        };
        Ok(ResponseHeader {
            correlation_id,
            unknown_tagged_fields,
        })
    }
}

fn read_unknown_tags(buf: &mut Bytes, ctx: Ctx) -> Result<UnknownTaggedFields, DecodeError> {
    let count = read_tag_count(buf, ctx)?;
    let mut out = UnknownTaggedFields::default();
    let mut last = None;
    for _ in 0..count {
        let (tag, data) = read_tag_header(buf, ctx, last)?;
        last = Some(tag);
        out.0.push(crate::primitives::RawTaggedField { tag, data });
    }
    Ok(out)
}

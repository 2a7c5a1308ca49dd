//! Record headers, kept as the raw bytes of the record and decoded only when iterated.

use bytes::Bytes;

use super::error::RecordsError;
use crate::primitives::varint::read_varint;

/// One record header. Keys may repeat within a record; order is preserved.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Header {
    /// The key bytes (UTF-8 on a well-formed record; see [`Header::key_str`]).
    pub key: Bytes,
    /// The value, `None` when the wire length is -1.
    pub value: Option<Bytes>,
}

impl Header {
    /// The key as UTF-8, checked now.
    pub fn key_str(&self) -> Result<&str, RecordsError> {
        std::str::from_utf8(&self.key).map_err(|_| RecordsError::InvalidUtf8 {
            context: "header key",
        })
    }
}

/// The headers of one record: the raw header section and the declared count.
///
/// Nothing is parsed until the headers are iterated, so records nobody asks the headers of
/// cost nothing extra. Malformed header bytes surface as an error from the iterator.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Headers {
    raw: Bytes,
    count: u32,
}

impl Headers {
    /// Headers over `raw`, the encoded headers (after the count) of a record, holding `count`
    /// entries.
    pub fn from_raw(raw: Bytes, count: u32) -> Self {
        Self { raw, count }
    }

    /// The declared number of headers.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// Whether the record has no headers.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The raw encoded headers (without the count).
    pub fn raw(&self) -> &Bytes {
        &self.raw
    }

    /// Iterates the headers in wire order.
    pub fn iter(&self) -> HeadersIter<'_> {
        HeadersIter {
            raw: &self.raw,
            pos: 0,
            remaining: self.count,
            done: false,
        }
    }

    /// Decodes every header once, reporting the first problem.
    pub fn validate(&self) -> Result<(), RecordsError> {
        self.iter().try_for_each(|h| h.map(drop))
    }

    /// The values of every header whose key equals `key`, in order.
    pub fn get_all<'a>(&'a self, key: &'a [u8]) -> impl Iterator<Item = Option<Bytes>> + 'a {
        self.iter()
            .filter_map(move |h| h.ok().filter(|h| h.key == key).map(|h| h.value))
    }
}

impl<'a> IntoIterator for &'a Headers {
    type Item = Result<Header, RecordsError>;
    type IntoIter = HeadersIter<'a>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Iterator over [`Headers`]; yields an error at most once, then ends.
#[derive(Debug, Clone)]
pub struct HeadersIter<'a> {
    raw: &'a Bytes,
    pos: usize,
    remaining: u32,
    done: bool,
}

impl HeadersIter<'_> {
    /// Reads a varint length at `self.pos` and the bytes it announces.
    fn read_field(&mut self, context: &'static str) -> Result<Option<Bytes>, RecordsError> {
        let rest = self.raw.get(self.pos..).unwrap_or_default();
        let (len, n) = read_varint(rest, context)?;
        let start = self.pos + n;
        if len == -1 {
            self.pos = start;
            return Ok(None);
        }
        let len_usize = usize::try_from(len).map_err(|_| RecordsError::InvalidLength {
            context,
            length: i64::from(len),
        })?;
        if len_usize > rest.len() - n {
            return Err(RecordsError::InvalidLength {
                context,
                length: i64::from(len),
            });
        }
        self.pos = start + len_usize;
        Ok(Some(self.raw.slice(start..self.pos)))
    }

    fn read_header(&mut self) -> Result<Header, RecordsError> {
        let key = self
            .read_field("header key")?
            .ok_or(RecordsError::InvalidLength {
                context: "header key",
                length: -1,
            })?;
        let value = self.read_field("header value")?;
        Ok(Header { key, value })
    }
}

impl Iterator for HeadersIter<'_> {
    type Item = Result<Header, RecordsError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if self.remaining == 0 {
            self.done = true;
            let left = self.raw.len().saturating_sub(self.pos);
            return (left > 0).then_some(Err(RecordsError::TrailingBytes {
                context: "record headers",
                remaining: left,
            }));
        }
        self.remaining -= 1;
        let header = self.read_header();
        if header.is_err() {
            self.done = true;
        }
        Some(header)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.done {
            (0, Some(0))
        } else {
            (0, Some(self.remaining as usize + 1))
        }
    }
}

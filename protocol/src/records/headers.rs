//! Record headers, kept as the raw bytes of the record and decoded only when iterated.

use std::ops::Range;

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
        key_str(&self.key)
    }
}

/// One record header borrowed from the records section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HeaderRef<'a> {
    /// The key bytes.
    pub key: &'a [u8],
    /// The value, `None` when null.
    pub value: Option<&'a [u8]>,
}

impl<'a> HeaderRef<'a> {
    /// The key as UTF-8, checked now.
    pub fn key_str(&self) -> Result<&'a str, RecordsError> {
        key_str(self.key)
    }
}

fn key_str(key: &[u8]) -> Result<&str, RecordsError> {
    std::str::from_utf8(key).map_err(|_| RecordsError::InvalidUtf8 {
        context: "header key",
    })
}

/// The headers of one record: the raw header section and the declared count.
///
/// Nothing is parsed until the headers are iterated, so records nobody asks the headers of
/// cost nothing extra. Malformed header bytes surface as an error from the iterator.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Headers {
    // `None` when empty: the common header-less record then costs no drop call at all.
    raw: Option<Bytes>,
    count: u32,
}

/// What [`Headers::raw`] returns for a record without header bytes.
static EMPTY: Bytes = Bytes::new();

impl Headers {
    /// Headers over `raw`, the encoded headers (after the count) of a record, holding `count`
    /// entries.
    pub fn from_raw(raw: Bytes, count: u32) -> Self {
        let raw = (!raw.is_empty()).then_some(raw);
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
        self.raw.as_ref().unwrap_or(&EMPTY)
    }

    /// Iterates the headers in wire order.
    pub fn iter(&self) -> HeadersIter<'_> {
        HeadersIter {
            raw: self.raw(),
            cursor: Cursor::new(self.count),
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

/// The headers of a [`RecordRef`](super::RecordRef): the borrowed raw section and the count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct HeadersRef<'a> {
    raw: &'a [u8],
    count: u32,
}

impl<'a> HeadersRef<'a> {
    /// Headers over `raw` (the encoded headers after the count) holding `count` entries.
    pub fn from_raw(raw: &'a [u8], count: u32) -> Self {
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
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// Iterates the headers in wire order.
    pub fn iter(&self) -> HeaderRefs<'a> {
        HeaderRefs {
            raw: self.raw,
            cursor: Cursor::new(self.count),
        }
    }
}

impl<'a> IntoIterator for HeadersRef<'a> {
    type Item = Result<HeaderRef<'a>, RecordsError>;
    type IntoIter = HeaderRefs<'a>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Parsing state over a header section: yields the ranges of each key and value.
#[derive(Debug, Clone)]
struct Cursor {
    pos: usize,
    remaining: u32,
    done: bool,
}

type RawHeader = (Range<usize>, Option<Range<usize>>);

impl Cursor {
    fn new(count: u32) -> Self {
        Self {
            pos: 0,
            remaining: count,
            done: false,
        }
    }

    /// Reads a varint length at `self.pos` and the range of the bytes it announces.
    fn field(
        &mut self,
        raw: &[u8],
        context: &'static str,
    ) -> Result<Option<Range<usize>>, RecordsError> {
        let rest = raw.get(self.pos..).unwrap_or_default();
        let (len, n) = read_varint(rest, context)?;
        let start = self.pos + n;
        if len == -1 {
            self.pos = start;
            return Ok(None);
        }
        let invalid = RecordsError::InvalidLength {
            context,
            length: i64::from(len),
        };
        let len = usize::try_from(len).map_err(|_| invalid)?;
        if len > rest.len() - n {
            return Err(invalid);
        }
        self.pos = start + len;
        Ok(Some(start..self.pos))
    }

    fn header(&mut self, raw: &[u8]) -> Result<RawHeader, RecordsError> {
        let key = self
            .field(raw, "header key")?
            .ok_or(RecordsError::InvalidLength {
                context: "header key",
                length: -1,
            })?;
        let value = self.field(raw, "header value")?;
        Ok((key, value))
    }

    fn next(&mut self, raw: &[u8]) -> Option<Result<RawHeader, RecordsError>> {
        if self.done {
            return None;
        }
        if self.remaining == 0 {
            self.done = true;
            let left = raw.len().saturating_sub(self.pos);
            return (left > 0).then_some(Err(RecordsError::TrailingBytes {
                context: "record headers",
                remaining: left,
            }));
        }
        self.remaining -= 1;
        let header = self.header(raw);
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

/// Iterator over [`Headers`]; yields an error at most once, then ends.
#[derive(Debug, Clone)]
pub struct HeadersIter<'a> {
    raw: &'a Bytes,
    cursor: Cursor,
}

impl Iterator for HeadersIter<'_> {
    type Item = Result<Header, RecordsError>;

    fn next(&mut self) -> Option<Self::Item> {
        let raw = self.raw;
        Some(self.cursor.next(raw)?.map(|(key, value)| Header {
            key: raw.slice(key),
            value: value.map(|v| raw.slice(v)),
        }))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.cursor.size_hint()
    }
}

/// Iterator over [`HeadersRef`]; yields an error at most once, then ends.
#[derive(Debug, Clone)]
pub struct HeaderRefs<'a> {
    raw: &'a [u8],
    cursor: Cursor,
}

impl<'a> Iterator for HeaderRefs<'a> {
    type Item = Result<HeaderRef<'a>, RecordsError>;

    fn next(&mut self) -> Option<Self::Item> {
        let raw: &'a [u8] = self.raw;
        let slice = |r: Range<usize>| raw.get(r).unwrap_or_default();
        Some(self.cursor.next(raw)?.map(|(key, value)| HeaderRef {
            key: slice(key),
            value: value.map(slice),
        }))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.cursor.size_hint()
    }
}

//! Size-prefixed frames.
//!
//! On the wire every Kafka request and response is an `int32` size followed by that many bytes
//! (header, then body). [`FrameReader`] cuts a byte stream into frames without doing I/O: the
//! caller feeds it whatever the socket produced and polls for complete frames. [`write_frame`]
//! does the reverse for one outgoing message.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::error::{DecodeError, EncodeError};
use crate::header::ResponseHeader;

/// Width of the size prefix.
const PREFIX: usize = 4;

/// Splits a byte stream into Kafka frames.
///
/// Feed bytes with [`extend`](Self::extend), or read straight into
/// [`buffer_mut`](Self::buffer_mut), then call [`poll_frame`](Self::poll_frame) until it
/// returns `Ok(None)`. Each frame comes back as a `Bytes` view of the buffer, not a copy.
///
/// A size prefix that is negative or above `max_frame` is rejected as soon as the four prefix
/// bytes are in, before anything is reserved for the frame. After such an error the stream
/// cannot be resynchronised: the prefix stays in the buffer, further polls return the same
/// error, and the connection should be closed.
#[derive(Debug, Clone)]
pub struct FrameReader {
    buf: BytesMut,
    max_frame: usize,
}

impl FrameReader {
    /// A reader that accepts frames of at most `max_frame` bytes (excluding the size prefix).
    pub fn new(max_frame: usize) -> Self {
        FrameReader {
            buf: BytesMut::new(),
            max_frame,
        }
    }

    /// The largest frame body this reader accepts.
    pub fn max_frame(&self) -> usize {
        self.max_frame
    }

    /// Appends bytes received from the peer.
    pub fn extend(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The internal buffer, for reading from a socket directly into it. Only append to it;
    /// bytes already buffered belong to frames not yet returned.
    pub fn buffer_mut(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// How many bytes are buffered and not yet returned as frames.
    pub fn buffered_len(&self) -> usize {
        self.buf.len()
    }

    /// How many more bytes [`poll_frame`](Self::poll_frame) needs before it can return the
    /// next frame: the rest of the size prefix, or the rest of a validated frame. Zero when a
    /// frame is ready or when the buffered prefix is invalid (polling reports the error).
    ///
    /// A socket shell can use this to reserve exactly once for a large frame.
    pub fn bytes_needed(&self) -> usize {
        match self.peek_size() {
            Ok(Some(size)) => (PREFIX + size).saturating_sub(self.buf.len()),
            Ok(None) => PREFIX - self.buf.len(),
            Err(_) => 0,
        }
    }

    /// Returns the next complete frame body (without its size prefix), `Ok(None)` if more
    /// bytes are needed, or an error if the size prefix is negative or too large.
    pub fn poll_frame(&mut self) -> Result<Option<Bytes>, DecodeError> {
        let Some(size) = self.peek_size()? else {
            return Ok(None);
        };
        if self.buf.len() - PREFIX < size {
            return Ok(None);
        }
        self.buf.advance(PREFIX);
        Ok(Some(self.buf.split_to(size).freeze()))
    }

    /// Reads and validates the size prefix, if all four bytes are buffered.
    fn peek_size(&self) -> Result<Option<usize>, DecodeError> {
        let Some(prefix) = self.buf.first_chunk::<PREFIX>() else {
            return Ok(None);
        };
        let raw = i32::from_be_bytes(*prefix);
        let Ok(size) = usize::try_from(raw) else {
            return Err(DecodeError::InvalidLength {
                context: "frame size",
                length: i64::from(raw),
            });
        };
        if size > self.max_frame {
            return Err(DecodeError::FrameTooLarge {
                size: i64::from(raw),
                max: self.max_frame,
            });
        }
        Ok(Some(size))
    }
}

/// Appends one frame to `buf`: reserves the size prefix, lets `body` append the header and
/// body, then writes the size.
///
/// If `body` fails, or the frame would exceed `i32::MAX` bytes, `buf` is truncated back to
/// its length on entry, so it never holds a partial frame.
pub fn write_frame(
    buf: &mut BytesMut,
    body: impl FnOnce(&mut BytesMut) -> Result<(), EncodeError>,
) -> Result<(), EncodeError> {
    let start = buf.len();
    buf.put_i32(0);
    if let Err(e) = body(buf) {
        buf.truncate(start);
        return Err(e);
    }
    let length = buf.len() - start - PREFIX;
    let Ok(size) = i32::try_from(length) else {
        buf.truncate(start);
        return Err(EncodeError::TooLong {
            context: "frame",
            length,
        });
    };
    buf[start..start + PREFIX].copy_from_slice(&size.to_be_bytes());
    Ok(())
}

/// Reads the correlation id at the front of a response frame without consuming it.
///
/// Both response header versions start with it, so a client can find the pending request (and
/// from it the header version) before decoding the header.
pub fn peek_correlation_id(frame: &[u8]) -> Result<i32, DecodeError> {
    match frame.first_chunk::<4>() {
        Some(id) => Ok(i32::from_be_bytes(*id)),
        None => Err(DecodeError::Truncated {
            context: "ResponseHeader",
        }),
    }
}

/// Decodes the response header (version 0 or 1) at the front of `frame` and returns it with
/// the rest of the frame, the response body, as a zero-copy slice.
pub fn split_response_header(
    frame: Bytes,
    header_version: i16,
) -> Result<(ResponseHeader, Bytes), DecodeError> {
    let mut rest = frame;
    let header = ResponseHeader::decode(&mut rest, header_version)?;
    Ok((header, rest))
}

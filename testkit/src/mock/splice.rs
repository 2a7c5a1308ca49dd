//! Serving stored batches without copying them into the response.
//!
//! A fetch read gives the stored batches (cheap `Bytes` clones of the log's buffers). Instead
//! of concatenating them into the response's `records` field, the fetch handler puts a 16-byte
//! marker there and leaves the batches in the [`Stash`]; the response is encoded as usual
//! (small: no record bytes in it) and [`Stash::splice`] cuts the encoded frame at each marker
//! into a list of chunks: encoded pieces, the real length prefix, and the stored batches
//! themselves. The connection writes the chunks with vectored writes, so a stored batch is
//! copied once, by the kernel, into the socket.
//!
//! A marker is a per-cluster random 8-byte tag and the read's index; the encoded frame holds
//! no record bytes, so a tag can only appear where a marker was put.

use bytes::{BufMut, Bytes, BytesMut};

/// Reads smaller than this are concatenated into the response like any field (one small copy
/// is cheaper than splitting the frame).
const SPLICE_FROM: usize = 4096;

/// The length of a marker: tag and index.
const MARKER: usize = 16;

/// Stored batches of the response being built, by marker index.
#[derive(Debug)]
pub(crate) struct Stash {
    tag: [u8; 8],
    reads: Vec<Vec<Bytes>>,
}

impl Default for Stash {
    fn default() -> Self {
        let mut tag = [0u8; 8];
        // Without OS entropy, a fixed tag still works: markers are only searched for in the
        // encoded response, which carries no record bytes.
        let _ = getrandom::fill(&mut tag);
        Stash {
            tag,
            reads: Vec::new(),
        }
    }
}

impl Stash {
    /// Forgets reads of a response that was not sent.
    pub(crate) fn clear(&mut self) {
        self.reads.clear();
    }

    /// The value for a partition's `records` field: the batches themselves when there is one
    /// or they are small, else a marker standing for them.
    pub(crate) fn records(&mut self, parts: Vec<Bytes>) -> Bytes {
        let total: usize = parts.iter().map(Bytes::len).sum();
        if total < SPLICE_FROM {
            return concat(parts, total);
        }
        let mut marker = BytesMut::with_capacity(MARKER);
        marker.put_slice(&self.tag);
        marker.put_u64(self.reads.len() as u64);
        self.reads.push(parts);
        marker.freeze()
    }

    /// Cuts `frame` (an encoded response holding markers) into the chunks to write: encoded
    /// pieces and stored batches, with each records length prefix and the frame's size prefix
    /// rewritten. Takes the stashed reads. A frame without markers comes back whole.
    pub(crate) fn splice(&mut self, frame: Bytes) -> Vec<Bytes> {
        if self.reads.is_empty() {
            return vec![frame];
        }
        let mut reads: Vec<Option<Vec<Bytes>>> = self.reads.drain(..).map(Some).collect();
        let mut chunks = Vec::new();
        let mut cursor = 0;
        let mut at = 0;
        while let Some(found) = find(&frame[at..], &self.tag) {
            let p = at + found;
            at = p + 1;
            let Some(index) = frame
                .get(p + 8..p + MARKER)
                .and_then(|i| <[u8; 8]>::try_from(i).ok())
                .map(u64::from_be_bytes)
                .and_then(|i| usize::try_from(i).ok())
            else {
                continue;
            };
            let Some(parts) = reads.get_mut(index).and_then(Option::take) else {
                continue;
            };
            let total: usize = parts.iter().map(Bytes::len).sum();
            // The marker's own length prefix: INT32 16 (classic) or UVARINT 17 (compact).
            let (prefix_at, prefix) = if p >= 4 && frame[p - 4..p] == 16i32.to_be_bytes() {
                let Ok(len) = i32::try_from(total) else {
                    return fallback(frame, reads, parts);
                };
                (p - 4, Bytes::copy_from_slice(&len.to_be_bytes()))
            } else if p >= 1 && frame[p - 1] == 17 {
                (p - 1, uvarint(total as u64 + 1))
            } else {
                return fallback(frame, reads, parts);
            };
            if prefix_at < cursor {
                return fallback(frame, reads, parts);
            }
            chunks.push(frame.slice(cursor..prefix_at));
            chunks.push(prefix);
            chunks.extend(parts);
            cursor = p + MARKER;
            at = cursor;
        }
        chunks.push(frame.slice(cursor..));
        // The frame's size prefix covers everything after it.
        let size: usize = chunks.iter().map(Bytes::len).sum::<usize>() - 4;
        let Ok(size) = i32::try_from(size) else {
            return chunks;
        };
        let mut head = BytesMut::with_capacity(chunks[0].len());
        head.put_i32(size);
        head.put_slice(&chunks[0][4..]);
        chunks[0] = head.freeze();
        chunks.retain(|c| !c.is_empty());
        chunks
    }
}

/// A marker that cannot be spliced (never expected): send the frame as encoded, which then
/// carries the marker bytes; the reads are dropped.
fn fallback(frame: Bytes, _reads: Vec<Option<Vec<Bytes>>>, _parts: Vec<Bytes>) -> Vec<Bytes> {
    tracing::warn!("mock broker: a fetch response could not be spliced");
    vec![frame]
}

fn concat(mut parts: Vec<Bytes>, total: usize) -> Bytes {
    match parts.len() {
        0 => Bytes::new(),
        1 => parts.swap_remove(0),
        _ => {
            let mut out = BytesMut::with_capacity(total);
            for p in &parts {
                out.extend_from_slice(p);
            }
            out.freeze()
        }
    }
}

fn uvarint(mut v: u64) -> Bytes {
    let mut out = BytesMut::with_capacity(10);
    while v >= 0x80 {
        out.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    out.put_u8(v as u8);
    out.freeze()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use gregor_protocol::Message;
    use gregor_protocol::messages::FetchResponse;
    use gregor_protocol::messages::fetch::{FetchableTopicResponse, PartitionData};

    use super::*;

    fn response(records: Vec<Bytes>, version: i16) -> FetchResponse {
        FetchResponse {
            responses: vec![FetchableTopicResponse {
                topic: if version < 13 {
                    "t".into()
                } else {
                    String::new()
                },
                partitions: records
                    .into_iter()
                    .enumerate()
                    .map(|(i, r)| PartitionData {
                        partition_index: i as i32,
                        records: Some(r),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    fn frame(resp: &FetchResponse, version: i16) -> Bytes {
        let mut buf = BytesMut::new();
        gregor_protocol::frame::write_frame(&mut buf, |b| resp.encode(b, version)).unwrap();
        buf.freeze()
    }

    /// The spliced chunks are byte for byte the frame that encoding the batches gives.
    #[test]
    fn spliced_frames_equal_encoded_ones() {
        let batch = |n: u8, len: usize| Bytes::from(vec![n; len]);
        for version in [4, 11, 12, 16] {
            let reads = vec![
                vec![batch(1, 5000), batch(2, 3000)],
                vec![batch(3, 10)],
                vec![batch(4, 200_000)],
            ];
            let expected = frame(
                &response(
                    reads.iter().map(|r| concat(r.clone(), 0)).collect(),
                    version,
                ),
                version,
            );
            let mut stash = Stash::default();
            let records = reads.into_iter().map(|r| stash.records(r)).collect();
            let chunks = stash.splice(frame(&response(records, version), version));
            assert!(chunks.len() > 3, "v{version}: spliced");
            assert_eq!(chunks.concat(), expected[..], "v{version}");
            assert!(stash.reads.is_empty());
        }
    }
}

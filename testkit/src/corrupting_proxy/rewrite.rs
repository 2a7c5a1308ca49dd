//! Fetch responses rewritten into well-formed answers no honest broker gives for the request:
//! a partition left out, a partition twice, a partition nobody asked for. A client must read
//! on: fetch the missing partition again, deliver a duplicated one once, ignore the stranger.

use bytes::{Bytes, BytesMut};
use gregor_protocol::Message;
use gregor_protocol::header::ResponseHeader;
use gregor_protocol::messages::FetchResponse;

use super::Rng;

/// How [`CorruptingProxy::rewrite_fetch`](super::CorruptingProxy::rewrite_fetch) rewrites a
/// Fetch response (the response stays well-formed; its contents lie).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FetchRewrite {
    /// One partition of the answer is left out (fewer partitions than asked).
    DropPartition,
    /// One partition of the answer appears twice.
    DuplicatePartition,
    /// A copy of one partition appears under an index nobody asked for (its index + 10,000).
    UnrequestedPartition,
}

/// Rewrites Fetch response `frame` (header and body, in `version`, its header in
/// `header_version`) as `how` says, on a partition the generator picks. `None` when the
/// response does not decode or names no partition.
pub(super) fn rewrite(
    rng: &mut Rng,
    how: FetchRewrite,
    frame: &Bytes,
    version: i16,
    header_version: i16,
) -> Option<(Bytes, i32)> {
    let mut body = frame.clone();
    let header = ResponseHeader::decode(&mut body, header_version).ok()?;
    let mut response = FetchResponse::decode_exact(body, version).ok()?;
    let topics: Vec<usize> = (0..response.responses.len())
        .filter(|t| !response.responses[*t].partitions.is_empty())
        .collect();
    let topic = *topics.get(rng.below(topics.len().max(1)))?;
    let partitions = &mut response.responses.get_mut(topic)?.partitions;
    let at = rng.below(partitions.len());
    let index = partitions.get(at)?.partition_index;
    match how {
        FetchRewrite::DropPartition => {
            partitions.remove(at);
            if partitions.is_empty() {
                response.responses.remove(topic);
            }
        }
        FetchRewrite::DuplicatePartition => {
            let copy = partitions.get(at)?.clone();
            partitions.push(copy);
        }
        FetchRewrite::UnrequestedPartition => {
            let mut copy = partitions.get(at)?.clone();
            copy.partition_index = index.saturating_add(10_000);
            partitions.push(copy);
        }
    }
    let mut out = BytesMut::new();
    header.encode(&mut out, header_version).ok()?;
    response.encode(&mut out, version).ok()?;
    Some((out.freeze(), index))
}

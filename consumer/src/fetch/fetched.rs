//! [`FetchedData`]: one partition's share of a Fetch response, on its way to the reader.
//!
//! The broker loop only plans the data ([`plan_partition`](super::partition::plan_partition)):
//! which batches the reader gets and where its position ends up. The reader turns the planned
//! batches into [`RecordChunk`]s when the application asks for records, a few batches at a
//! time: decompression runs on the reader's task, the decompressed buffers of one chunk are
//! in use while they are still in cache, and they are freed (and their memory reused) as the
//! application drops chunks. Each chunk takes the budget share of the fetched bytes it came
//! from, so the budget is released chunk by chunk.

use std::collections::VecDeque;

use bytes::Bytes;
use gregor_protocol::records::{DecodeOptions, RecordsError};

use super::budget::BudgetPermit;
use super::chunk::RecordChunk;
use super::partition::PlannedBatch;
use crate::range::TopicPartition;

/// A chunk is closed once its batches hold this many bytes of record data (decompressed):
/// large enough that the per-chunk costs (one `Vec`, one name clone) vanish per record, small
/// enough to stay in cache while the application reads it.
const CHUNK_BYTES: usize = 256 * 1024;

/// One partition's planned data from one Fetch response.
#[derive(Debug)]
pub(crate) struct FetchedData {
    pub(crate) partition: TopicPartition,
    pub(crate) batches: VecDeque<PlannedBatch>,
    /// The reader's position once all of it is read (past trailing control batches too).
    pub(crate) next_offset: i64,
    /// The partition's `records` bytes of the response.
    pub(crate) data: Bytes,
    /// Where the readable log ended when this was fetched: the high watermark, or the last
    /// stable offset under `read_committed`.
    pub(crate) log_end: i64,
    pub(crate) options: DecodeOptions,
    pub(crate) permit: Option<BudgetPermit>,
}

impl FetchedData {
    /// Decodes the next chunk: planned batches until [`CHUNK_BYTES`] of record data or the
    /// end. `None` once every batch is decoded; the reader's position is then
    /// [`FetchedData::next_offset`]. A chunk may be empty (every record of its batches outside
    /// the range, or removed by compaction).
    ///
    /// A batch that does not decode ends the chunk before it: the records of the batches
    /// before it come as a chunk of their own, and the next call fails with the batch's
    /// first offset and the error (after which this data yields nothing more).
    pub(crate) fn next_chunk(&mut self) -> Option<Result<RecordChunk, (i64, RecordsError)>> {
        if self.batches.is_empty() {
            return None;
        }
        let mut records = Vec::new();
        let mut decoded = 0usize;
        let mut wire = 0usize;
        let mut next_offset = self.next_offset;
        let mut leader_epoch = -1;
        while let Some(batch) = self.batches.pop_front() {
            let before = records.len();
            match batch.decode_into(&mut records, &self.options) {
                Ok(size) => decoded = decoded.saturating_add(size),
                Err(e) if before == 0 => {
                    self.batches.clear();
                    return Some(Err((batch.start(), e)));
                }
                Err(_) => {
                    // Deliver what decoded before it; the batch fails on the next call.
                    records.truncate(before);
                    self.batches.push_front(batch);
                    break;
                }
            }
            wire = wire.saturating_add(batch.wire_size());
            next_offset = batch.next_offset;
            leader_epoch = batch.leader_epoch;
            if decoded >= CHUNK_BYTES {
                break;
            }
        }
        let permit = if self.batches.is_empty() {
            // The last chunk: also past trailing control batches, and the rest of the share
            // (bytes of skipped batches and of a partial tail).
            next_offset = next_offset.max(self.next_offset);
            self.permit.take()
        } else {
            self.permit.as_mut().map(|p| p.split(wire.min(p.bytes())))
        };
        Some(Ok(RecordChunk {
            partition: self.partition.clone(),
            records,
            next_offset,
            leader_epoch,
            data: self.data.clone(),
            _permit: permit,
        }))
    }
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;
    use gregor_protocol::compression::Compression;
    use gregor_protocol::records::{BatchSpec, NewRecord, encode_batch};

    use super::*;
    use crate::fetch::budget::MemoryBudget;
    use crate::fetch::config::IsolationLevel;
    use crate::fetch::partition::plan_partition;

    /// `batches` batches of `per_batch` records of `size` bytes, from offset 0.
    fn blob(batches: i64, per_batch: i64, size: usize, compression: Compression) -> Bytes {
        let mut out = BytesMut::new();
        let value = vec![b'x'; size];
        for b in 0..batches {
            let records: Vec<NewRecord<'_>> = (0..per_batch)
                .map(|_| NewRecord::new(None, Some(&value[..])))
                .collect();
            let spec = BatchSpec {
                base_offset: b * per_batch,
                compression,
                ..BatchSpec::default()
            };
            encode_batch(&spec, &records, &mut out).unwrap();
        }
        out.freeze()
    }

    fn fetched(data: Bytes, position: i64, until: i64, budget: &MemoryBudget) -> FetchedData {
        let options = DecodeOptions::default();
        let planned = plan_partition(
            data.clone(),
            &[],
            position,
            until,
            IsolationLevel::ReadUncommitted,
            &options,
        )
        .unwrap();
        FetchedData {
            partition: TopicPartition::new("t", 0),
            batches: planned.batches.into(),
            next_offset: planned.next_offset,
            permit: Some(budget.force(data.len())),
            data,
            log_end: -1,
            options,
        }
    }

    #[test]
    fn chunks_cover_the_range_in_order_and_release_the_budget_share_by_share() {
        // 8 batches of 100 records of 1 KiB: about 100 KiB per batch, 3 batches per chunk;
        // batch 0 lies before the position, batch 7 ends past `until`.
        for compression in [Compression::None, Compression::Lz4] {
            let data = blob(8, 100, 1024, compression);
            let budget = MemoryBudget::new(1 << 30);
            let mut f = fetched(data.clone(), 150, 750, &budget);
            let mut offsets = Vec::new();
            let mut positions = Vec::new();
            let mut chunks = Vec::new();
            while let Some(chunk) = f.next_chunk() {
                let chunk = chunk.unwrap();
                offsets.extend(chunk.as_slice().iter().map(|r| r.offset));
                positions.push(chunk.next_offset());
                chunks.push(chunk);
            }
            assert_eq!(offsets, (150..750).collect::<Vec<_>>(), "{compression:?}");
            assert_eq!(positions, vec![400, 700, 750], "{compression:?}");
            // The shares add up to the whole response, and go back as chunks are dropped.
            let held: usize = chunks.iter().map(RecordChunk::budget_bytes).sum();
            assert_eq!(held, data.len());
            assert_eq!(budget.used(), data.len());
            chunks.remove(0);
            assert!(budget.used() < data.len());
            chunks.clear();
            assert_eq!(budget.used(), 0);
        }
    }

    #[test]
    fn a_corrupt_batch_is_an_error_when_its_chunk_is_decoded() {
        let data = blob(2, 10, 10, Compression::None);
        let mut bytes = data.to_vec();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff; // inside the second batch's records: its CRC no longer matches
        let budget = MemoryBudget::new(1 << 20);
        let mut f = fetched(Bytes::from(bytes), 0, 20, &budget);
        let good = f.next_chunk().unwrap().unwrap();
        let offsets: Vec<i64> = good.as_slice().iter().map(|r| r.offset).collect();
        assert_eq!(offsets, (0..10).collect::<Vec<_>>(), "the good batch first");
        assert_eq!(good.next_offset(), 10);
        assert!(matches!(
            f.next_chunk(),
            Some(Err((10, RecordsError::CrcMismatch { .. })))
        ));
        assert!(f.next_chunk().is_none());
    }
}

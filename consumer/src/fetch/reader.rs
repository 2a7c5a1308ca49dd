//! [`PartitionReader`]: the records of one cursor, in offset order.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use futures::Stream;

use super::chunk::RecordChunk;
use super::cursor::{CursorEnd, CursorId, StartAt};
use super::delivery::Delivery;
use super::error::FetchError;
use super::fetched::FetchedData;
use super::mailbox::Mailbox;
use super::refetch::CorruptRefetch;
use super::shared::Shared;
use crate::range::{ConsumedRange, OffsetRange, TopicPartition};

/// The records of one partition, in offset order, as [`RecordChunk`]s: of one range (a
/// bounded reader, from [`FetchEngine::read`](super::FetchEngine::read)), or as the log grows
/// (an open-ended reader, from [`FetchEngine::follow`](super::FetchEngine::follow)).
///
/// Read it with [`next_chunk`](Self::next_chunk) or as a [`Stream`] of chunks. Dropping it
/// cancels its fetching and frees its buffers.
#[derive(Debug)]
pub struct PartitionReader {
    shared: Arc<Shared>,
    id: CursorId,
    mailbox: Arc<Mailbox>,
    tp: TopicPartition,
    end: CursorEnd,
    /// The range of a bounded reader (`from..until`); an open-ended reader's runs from where
    /// it started to `i64::MAX`.
    range: OffsetRange,
    /// The cursor generation whose deliveries this reader takes.
    generation: u64,
    records_read: u64,
    /// The log end as of the last fetch (see `log_end`).
    log_end: i64,
    next_offset: i64,
    skipped: Option<(i64, i64)>,
    failed: bool,
    revoked: bool,
    /// Fetched data not decoded into chunks yet.
    current: Option<FetchedData>,
    /// Refetches of fetched data that did not decode.
    refetch: CorruptRefetch,
}

impl PartitionReader {
    pub(crate) fn new(
        shared: Arc<Shared>,
        id: CursorId,
        mailbox: Arc<Mailbox>,
        range: OffsetRange,
        from: i64,
        end: CursorEnd,
    ) -> Self {
        Self {
            tp: range.topic_partition(),
            shared,
            id,
            mailbox,
            end,
            range,
            generation: 0,
            records_read: 0,
            log_end: -1,
            next_offset: from,
            skipped: None,
            failed: false,
            revoked: false,
            current: None,
            refetch: CorruptRefetch::default(),
        }
    }

    /// The range this reader reads. An open-ended reader's starts where it started reading
    /// and ends at `i64::MAX`.
    pub fn range(&self) -> &OffsetRange {
        &self.range
    }

    /// The partition this reader reads.
    pub fn topic_partition(&self) -> &TopicPartition {
        &self.tp
    }

    /// Whether this reader follows the log with no end ([`FetchEngine::follow`]).
    ///
    /// [`FetchEngine::follow`]: super::FetchEngine::follow
    pub fn is_open_ended(&self) -> bool {
        self.end == CursorEnd::Open
    }

    /// The next chunk (records of one or more fetched batches, in offset order), or `None`:
    /// for a bounded reader once the next offset to read has reached `until` (a range ending
    /// in a compaction gap or on a transaction marker completes too); for any reader after an
    /// error (until a [`seek`](Self::seek)) or once revoked. An open-ended reader at the log
    /// end waits for records.
    pub async fn next_chunk(&mut self) -> Option<Result<RecordChunk, FetchError>> {
        std::future::poll_fn(|cx| self.poll_chunk(cx)).await
    }

    /// Polls for the next chunk (what [`next_chunk`](Self::next_chunk) awaits).
    pub fn poll_chunk(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<RecordChunk, FetchError>>> {
        loop {
            if self.mailbox.poll_unpaused(cx).is_pending() {
                return Poll::Pending;
            }
            if let Some(fetched) = self.current.as_mut() {
                match fetched.next_chunk() {
                    Some(Ok(chunk)) => {
                        self.next_offset = self.next_offset.max(chunk.next_offset);
                        if chunk.is_empty() {
                            continue;
                        }
                        self.records_read += chunk.len() as u64;
                        return Poll::Ready(Some(Ok(chunk)));
                    }
                    Some(Err((offset, source))) => {
                        self.current = None;
                        let from = self.next_offset;
                        if self.refetch.should_refetch(offset, source)
                            && self.seek(StartAt::Offset(from)).is_ok()
                        {
                            tracing::warn!(
                                partition = %self.tp,
                                offset,
                                error = %source,
                                "fetched records did not decode; fetching them again"
                            );
                            continue;
                        }
                        self.failed = true;
                        // Stop fetching for a cursor that cannot go on.
                        self.shared
                            .transition(|core, _| core.fail_decoded(self.id, self.generation));
                        return Poll::Ready(Some(Err(FetchError::Records {
                            topic: self.tp.topic.to_string(),
                            partition: self.tp.partition,
                            offset,
                            source,
                        })));
                    }
                    None => {
                        self.next_offset = self.next_offset.max(fetched.next_offset);
                        self.current = None;
                    }
                }
            }
            if self.is_complete() || self.failed || self.revoked {
                return Poll::Ready(None);
            }
            let (generation, delivery) = match self.mailbox.try_pop() {
                Some(next) => next,
                None => {
                    // Nothing buffered: tell the broker loops this partition is in demand.
                    if !self.mailbox.demand.swap(true, Ordering::AcqRel) {
                        self.shared.wake();
                    }
                    match self.mailbox.poll_pop(cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(Some(next)) => next,
                        Poll::Ready(None) => {
                            self.revoked = true;
                            self.mailbox.demand.store(false, Ordering::Release);
                            return Poll::Ready(None);
                        }
                    }
                }
            };
            self.mailbox.demand.store(false, Ordering::Release);
            if generation < self.generation {
                continue; // made before a seek
            }
            self.generation = generation;
            match delivery {
                Delivery::Failed(error) => {
                    self.failed = true;
                    return Poll::Ready(Some(Err(error)));
                }
                Delivery::Skipped(from, to) => {
                    // Never silent: these records are gone unread (Java's consumer only
                    // logs its reset at INFO).
                    tracing::warn!(
                        partition = %self.tp,
                        from,
                        to,
                        "records deleted before they were read (retention or DeleteRecords): \
                         offsets from..to skipped by the offset reset policy"
                    );
                    let start = self.skipped.map_or(from, |(s, _)| s);
                    self.skipped = Some((start, to));
                    self.next_offset = to.min(self.end.limit());
                }
                Delivery::Placed(offset) => {
                    if self.next_offset < 0 && self.end == CursorEnd::Open {
                        self.range = OffsetRange::open_from(&self.tp, offset);
                    }
                    self.next_offset = offset;
                }
                Delivery::Fetched(fetched) => {
                    self.log_end = self.log_end.max(fetched.log_end);
                    self.current = Some(fetched);
                }
            }
        }
    }

    /// Moves the reader: what was fetched or buffered for the old position is dropped, and
    /// reading goes on from `to` (an offset; or, for an open-ended reader, the log start or
    /// end, looked up). A failed reader reads again. A bounded reader may only move within its
    /// range.
    pub fn seek(&mut self, to: StartAt) -> Result<(), FetchError> {
        if let (StartAt::Offset(offset), CursorEnd::Until(_)) = (to, self.end) {
            if offset < self.range.from() {
                return Err(FetchError::InvalidSeek {
                    topic: self.tp.topic.to_string(),
                    partition: self.tp.partition,
                    to,
                });
            }
        }
        if self.is_revoked() {
            return Err(FetchError::InvalidSeek {
                topic: self.tp.topic.to_string(),
                partition: self.tp.partition,
                to,
            });
        }
        let mut out = Vec::new();
        let (generation, tasks, retired) = {
            let mut state = self.shared.state();
            let generation = state.core.seek(self.id, to, &mut out)?;
            // Under the lock: nothing of the old generation can be pushed after this.
            self.mailbox.clear();
            let (tasks, retired) = state.dispatch(out);
            (generation, tasks, retired)
        };
        self.shared.start(tasks, retired);
        self.generation = generation;
        self.current = None;
        self.failed = false;
        self.next_offset = match to {
            StartAt::Offset(offset) => offset,
            StartAt::Earliest | StartAt::Latest => -1,
        };
        self.shared.wake();
        Ok(())
    }

    /// Pauses this reader: nothing more is fetched for it and it hands out nothing (it
    /// waits) until [`resume`](Self::resume); its position and what it has buffered are kept.
    pub fn pause(&self) {
        self.set_paused(true);
    }

    /// Resumes the reader after [`pause`](Self::pause).
    pub fn resume(&self) {
        self.set_paused(false);
        self.shared.wake();
    }

    fn set_paused(&self, paused: bool) {
        let mut state = self.shared.state();
        state.core.set_cursor_paused(self.id, paused);
        self.mailbox.set_paused(paused);
    }

    /// Where the readable log ended at the last fetch (the high watermark, or the last stable
    /// offset under `read_committed`); -1 before the first fetch answered.
    pub fn log_end(&self) -> i64 {
        self.log_end
    }

    /// How many records the reader is behind the log end as of its last fetch (`None` before
    /// the first): the log end minus its position.
    pub fn lag(&self) -> Option<i64> {
        (self.log_end >= 0).then(|| (self.log_end - self.position()).max(0))
    }

    /// Records delivered so far.
    pub fn records_read(&self) -> u64 {
        self.records_read
    }

    /// Whether a bounded reader has read its whole range (never, for an open-ended one).
    pub fn is_complete(&self) -> bool {
        matches!(self.end, CursorEnd::Until(until) if self.next_offset >= until)
    }

    /// Whether the reader's partition was revoked ([`FetchEngine::revoke`]).
    ///
    /// [`FetchEngine::revoke`]: super::FetchEngine::revoke
    pub fn is_revoked(&self) -> bool {
        self.revoked || self.mailbox.is_closed()
    }

    /// The next offset to read (-1 while a start at the log start or end is looked up).
    pub fn position(&self) -> i64 {
        self.next_offset
    }

    /// The offsets skipped (`from..until`): deleted offsets passed over with
    /// [`OnDataLoss::SkipToLogStart`](super::OnDataLoss) or an
    /// [`OffsetReset`](super::OffsetReset) policy, or offsets a `Latest` reset jumped.
    pub fn skipped(&self) -> Option<(i64, i64)> {
        self.skipped
    }

    /// Once a bounded reader is complete: the range with the count of records actually read.
    pub fn consumed(&self) -> Option<ConsumedRange> {
        if !self.is_complete() {
            return None;
        }
        ConsumedRange::new(self.range.clone(), self.records_read).ok()
    }
}

impl Stream for PartitionReader {
    type Item = Result<RecordChunk, FetchError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_chunk(cx)
    }
}

impl Drop for PartitionReader {
    fn drop(&mut self) {
        {
            let mut state = self.shared.state();
            state.core.remove(self.id);
            state.mailboxes.remove(&self.id);
        }
        // A revoke may be waiting for this cursor's request in flight: it is gone now.
        self.shared.settled.notify_waiters();
    }
}

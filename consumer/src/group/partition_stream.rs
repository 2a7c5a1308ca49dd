//! [`PartitionStream`]: one assigned partition's records, in order, on a task of the
//! application's choosing, ending when the partition is revoked or lost.
//!
//! [`GroupConsumer::take_stream`](super::consumer::GroupConsumer::take_stream) detaches an
//! owned partition from [`GroupConsumer::next`](super::consumer::GroupConsumer::next): its
//! records then come only from its stream. Asking the stream for the next chunk acknowledges
//! the chunk before it (what commits store), as `next` does for the partitions it delivers;
//! dropping the stream acknowledges its last chunk too.
//!
//! The revoke barrier waits for streams: when the group takes the partition away, the stream
//! ends (`None`) once what it holds is delivered no further, and the revocation completes when
//! the application has asked past the end or dropped the stream (or when the rebalance timeout
//! runs out), so that what it finished is committed before the next owner starts.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use gregor_protocol::TopicPartition;
use tokio::sync::Notify;

use crate::fetch::{FetchError, PartitionReader, RecordChunk};

/// What a detached partition's stream and the consumer share.
#[derive(Debug, Default)]
pub(crate) struct StreamShared {
    /// The offset after the last chunk the application finished, with its leader epoch.
    finished: Mutex<Option<(i64, i32)>>,
    /// The application is done with the stream (dropped it, or asked past its end).
    released: AtomicBool,
    notify: Notify,
}

impl StreamShared {
    /// What the application finished.
    pub(crate) fn finished(&self) -> Option<(i64, i32)> {
        *self.finished.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn set_finished(&self, next: i64, epoch: i32) {
        *self.finished.lock().unwrap_or_else(PoisonError::into_inner) = Some((next, epoch));
    }

    fn release(&self) {
        self.released.store(true, Ordering::Release);
        self.notify.notify_waiters();
    }

    /// Waits until the application is done with the stream, at most `limit`; whether it was.
    pub(crate) async fn wait_released(&self, limit: Duration) -> bool {
        let wait = async {
            loop {
                let notified = self.notify.notified();
                if self.released.load(Ordering::Acquire) {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(limit, wait).await.is_ok()
    }
}

/// One partition's records, detached from the consumer; see the [module docs](self).
#[derive(Debug)]
pub struct PartitionStream {
    partition: TopicPartition,
    reader: PartitionReader,
    shared: Arc<StreamShared>,
    /// The chunk returned last: its next offset and leader epoch.
    held: Option<(i64, i32)>,
}

impl PartitionStream {
    pub(crate) fn new(
        partition: TopicPartition,
        reader: PartitionReader,
        shared: Arc<StreamShared>,
    ) -> PartitionStream {
        PartitionStream {
            partition,
            reader,
            shared,
            held: None,
        }
    }

    /// The partition.
    pub fn topic_partition(&self) -> &TopicPartition {
        &self.partition
    }

    /// The next chunk of records, or `None` once the partition was revoked or lost (what it
    /// holds is then no longer delivered). Acknowledges the chunk returned before.
    pub async fn next_chunk(&mut self) -> Option<Result<RecordChunk, FetchError>> {
        std::future::poll_fn(|cx| self.poll_chunk(cx)).await
    }

    /// Polls for the next chunk (what [`next_chunk`](Self::next_chunk) awaits).
    pub fn poll_chunk(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<RecordChunk, FetchError>>> {
        if let Some((next, epoch)) = self.held.take() {
            self.shared.set_finished(next, epoch);
        }
        match self.reader.poll_chunk(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                self.held = Some((chunk.next_offset(), chunk.leader_epoch()));
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(None) => {
                if self.reader.is_revoked() {
                    self.shared.release();
                }
                Poll::Ready(None)
            }
            other => other,
        }
    }

    /// The next offset to deliver.
    pub fn position(&self) -> i64 {
        self.reader.position()
    }

    /// How far the stream is behind the log end its last fetch saw.
    pub fn lag(&self) -> Option<i64> {
        self.reader.lag()
    }
}

impl Stream for PartitionStream {
    type Item = Result<RecordChunk, FetchError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_chunk(cx)
    }
}

impl Drop for PartitionStream {
    fn drop(&mut self) {
        // Dropping the stream finishes what it delivered.
        if let Some((next, epoch)) = self.held.take() {
            self.shared.set_finished(next, epoch);
        }
        self.shared.release();
    }
}

//! Per-partition batching: records accumulate into batches, batches become ready, ready
//! partitions are drained per broker.
//!
//! Sizes are the encoded size of the batch before compression: the 61-byte batch header plus
//! each record's exact encoded length (so with compression the estimate is an upper bound).
//! `batch_size`, `max_request_size` and `buffer_memory` are all measured in it. A batch takes
//! its first record whatever its size (up to `max_request_size`); later records go to a new
//! batch once they would push it past `batch_size`.
//!
//! A partition is *ready* when its first batch is full (or followed by another), has waited
//! `linger`, the accumulator is flushing or closed, or an append was just refused for lack of
//! memory; a batch waiting for a retry is ready once its backoff has passed. Draining takes, for
//! each broker, the first batch of each of its partitions (ready or not: the request goes out
//! anyway, so lingering batches ride along) until `max_request_size`, starting where the
//! previous drain for that broker stopped so no partition starves.
//!
//! Nothing reads a clock: every call that depends on time takes `now`.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use gregor_protocol::compression::Compression;
use gregor_protocol::records::{RecordBatchHeader, RecordsEncodeError};

use super::batch::{BatchRecord, ProducerBatch};
use super::idempotence::Idempotence;
use gregor_protocol::TopicPartition;

/// Batching settings (Kafka's producer defaults in parentheses).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccumulatorConfig {
    /// `batch.size`: a batch takes no more records once this many bytes are reached (16384).
    pub batch_size: usize,
    /// `linger.ms`: how long a batch that is not full waits for more records (5 ms).
    pub linger: Duration,
    /// `max.request.size`: the largest record batch and the most batch bytes per request
    /// (1 MiB).
    pub max_request_size: usize,
    /// `buffer.memory`: the most bytes of records held, queued or in flight (32 MiB).
    pub buffer_memory: usize,
    /// `compression.type` (none).
    pub compression: Compression,
    /// `retry.backoff.ms`: how long a batch put back for a retry waits (100 ms).
    pub retry_backoff: Duration,
    /// `delivery.timeout.ms`: the age after which [`Accumulator::expire`] gives a queued batch up
    /// (120 s).
    pub delivery_timeout: Duration,
}

impl Default for AccumulatorConfig {
    fn default() -> Self {
        Self {
            batch_size: 16_384,
            linger: Duration::from_millis(5),
            max_request_size: 1_048_576,
            buffer_memory: 33_554_432,
            compression: Compression::None,
            retry_backoff: Duration::from_millis(100),
            delivery_timeout: Duration::from_secs(120),
        }
    }
}

/// Why a record was not appended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AppendError {
    /// `buffer.memory` is used up: wait for batches to complete, then append again.
    #[error("producer buffer full: {requested} bytes needed, {available} available")]
    BufferFull {
        /// The bytes the record needs (its batch header too when it opens a batch).
        requested: usize,
        /// The bytes free now.
        available: usize,
    },
    /// The record can never be sent: alone in a batch it exceeds a limit.
    #[error("record of {size} bytes (in its own batch) exceeds {limit_name} of {limit} bytes")]
    RecordTooLarge {
        /// The batch's size with only this record.
        size: usize,
        /// The limit.
        limit: usize,
        /// Which setting the limit is.
        limit_name: &'static str,
    },
    /// The accumulator was closed.
    #[error("the producer is closed")]
    Closed,
}

/// A record refused by [`Accumulator::append`], handed back with its completion token.
#[derive(Debug)]
pub struct AppendRejected<C> {
    /// Why.
    pub error: AppendError,
    /// The record.
    pub record: BatchRecord,
    /// Its completion token.
    pub completion: C,
}

/// What an append did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendResult {
    /// The partition now has a batch that takes no more records: worth waking the sender.
    pub batch_full: bool,
    /// The record opened a new batch.
    pub new_batch: bool,
}

/// Batches drained for sending, per broker, and those that could not be encoded.
#[derive(Debug)]
pub struct Drained<C> {
    /// Per broker id: the batches to put in one Produce request, encoded.
    pub batches: BTreeMap<i32, Vec<ProducerBatch<C>>>,
    /// Batches whose encoding failed: fail their records and release them.
    pub failed: Vec<(ProducerBatch<C>, RecordsEncodeError)>,
}

/// The record accumulator (sans-io). `C` is the per-record completion token.
#[derive(Debug)]
pub struct Accumulator<C> {
    config: AccumulatorConfig,
    queues: HashMap<TopicPartition, VecDeque<ProducerBatch<C>>>,
    used_memory: usize,
    next_batch_id: u64,
    flushing: bool,
    closed: bool,
    /// An append was refused for memory since the last successful one.
    memory_pressure: bool,
    /// Per broker: where the next drain starts in its partition list.
    drain_cursor: HashMap<i32, usize>,
}

impl<C> Accumulator<C> {
    /// An empty accumulator.
    pub fn new(config: AccumulatorConfig) -> Self {
        Self {
            config,
            queues: HashMap::new(),
            used_memory: 0,
            next_batch_id: 0,
            flushing: false,
            closed: false,
            memory_pressure: false,
            drain_cursor: HashMap::new(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &AccumulatorConfig {
        &self.config
    }

    /// Bytes held by queued and in-flight batches.
    pub fn buffered_bytes(&self) -> usize {
        self.used_memory
    }

    /// Bytes still free under `buffer_memory`.
    pub fn available_memory(&self) -> usize {
        self.config.buffer_memory.saturating_sub(self.used_memory)
    }

    /// Queued batches (not drained, or put back for a retry).
    pub fn queued_batches(&self) -> usize {
        self.queues.values().map(VecDeque::len).sum()
    }

    /// True when no batch is queued.
    pub fn is_empty(&self) -> bool {
        self.queues.values().all(VecDeque::is_empty)
    }

    /// While flushing, every batch is ready regardless of `linger`.
    pub fn set_flushing(&mut self, flushing: bool) {
        self.flushing = flushing;
    }

    /// Refuses further appends; queued batches become ready.
    pub fn close(&mut self) {
        self.closed = true;
    }

    /// The batch a record for `tp` would join, if it fits there.
    fn open_batch_with_room(&self, tp: &TopicPartition, record: &BatchRecord) -> Option<usize> {
        let last = self.queues.get(tp)?.back()?;
        let size = last.size_of_next(record);
        let fits = !last.closed
            && (last.records.is_empty() || last.size + size <= self.config.batch_size)
            && last.records.len() < i32::MAX as usize;
        fits.then_some(size)
    }

    /// True if appending `record` to `tp` now would open a new batch (the sticky partitioner's
    /// cue to move on, see [`Partitioner::on_new_batch`](super::Partitioner::on_new_batch)).
    pub fn starts_new_batch(&self, tp: &TopicPartition, record: &BatchRecord) -> bool {
        self.open_batch_with_room(tp, record).is_none()
    }

    /// Appends `record` to `tp`'s open batch, or to a new one.
    ///
    /// Refused, with the record and token handed back (boxed: the refusal is the rare path),
    /// when closed, when the record alone
    /// exceeds `max_request_size` or `buffer_memory`, or when `buffer_memory` lacks room now
    /// ([`AppendError::BufferFull`]: retry after batches are released).
    pub fn append(
        &mut self,
        tp: &TopicPartition,
        record: BatchRecord,
        completion: C,
        now: Instant,
    ) -> Result<AppendResult, Box<AppendRejected<C>>> {
        let reject = |error, record, completion| {
            Err(Box::new(AppendRejected {
                error,
                record,
                completion,
            }))
        };
        if self.closed {
            return reject(AppendError::Closed, record, completion);
        }
        let alone = RecordBatchHeader::SIZE + record.encoded_size(0, 0);
        for (limit, limit_name) in [
            (self.config.max_request_size, "max_request_size"),
            (self.config.buffer_memory, "buffer_memory"),
        ] {
            if alone > limit {
                let error = AppendError::RecordTooLarge {
                    size: alone,
                    limit,
                    limit_name,
                };
                return reject(error, record, completion);
            }
        }
        let joining = self.open_batch_with_room(tp, &record);
        let requested = joining.unwrap_or(alone);
        if requested > self.available_memory() {
            self.memory_pressure = true;
            let error = AppendError::BufferFull {
                requested,
                available: self.available_memory(),
            };
            tracing::debug!(%tp, requested, available = self.available_memory(), "buffer full");
            return reject(error, record, completion);
        }
        self.memory_pressure = false;
        self.used_memory += requested;
        let queue = self.queues.entry(tp.clone()).or_default();
        let new_batch = joining.is_none();
        if new_batch {
            if let Some(last) = queue.back_mut() {
                last.closed = true;
            }
            let id = self.next_batch_id;
            self.next_batch_id += 1;
            queue.push_back(ProducerBatch::new(tp.clone(), id, now));
        }
        let queued = queue.len();
        let Some(batch) = queue.back_mut() else {
            return Ok(AppendResult {
                batch_full: false,
                new_batch,
            });
        };
        // A new batch's first record was sized against an empty batch: `alone` less the header.
        let record_size = joining.unwrap_or(alone - RecordBatchHeader::SIZE);
        batch.push(record, completion, record_size);
        let batch_full = queued > 1 || batch.size >= self.config.batch_size;
        Ok(AppendResult {
            batch_full,
            new_batch,
        })
    }

    fn front_is_ready(&self, batch: &ProducerBatch<C>, queue_len: usize, now: Instant) -> bool {
        if let Some(at) = batch.retry_at {
            return now >= at;
        }
        let full = queue_len > 1 || batch.closed || batch.size >= self.config.batch_size;
        full || self.flushing
            || self.closed
            || self.memory_pressure
            || now.saturating_duration_since(batch.created) >= self.config.linger
    }

    /// Partitions whose first batch should be sent now, sorted.
    pub fn ready(&self, now: Instant) -> Vec<TopicPartition> {
        let mut ready: Vec<TopicPartition> = self
            .queues
            .iter()
            .filter(|(_, q)| {
                q.front()
                    .is_some_and(|b| self.front_is_ready(b, q.len(), now))
            })
            .map(|(tp, _)| tp.clone())
            .collect();
        ready.sort();
        ready
    }

    /// When the earliest queued batch that is not ready yet becomes ready (linger or retry
    /// backoff ending), for the sender's timer. `None` if none is waiting.
    pub fn next_ready_at(&self, now: Instant) -> Option<Instant> {
        self.queues
            .values()
            .filter_map(|q| {
                let b = q.front()?;
                if self.front_is_ready(b, q.len(), now) {
                    return None;
                }
                Some(b.retry_at.unwrap_or(b.created + self.config.linger))
            })
            .min()
    }

    /// When the oldest queued batch reaches `delivery_timeout` (for [`expire`](Self::expire)'s
    /// timer). `None` if nothing is queued.
    pub fn next_expiry(&self) -> Option<Instant> {
        self.queues
            .values()
            .flat_map(|q| q.iter())
            .map(|b| b.created + self.config.delivery_timeout)
            .min()
    }

    /// Takes the batches to send to each broker: `leaders` maps a broker id to the partitions
    /// it leads. For each broker, the first batch of each partition not in retry backoff,
    /// until the batches would exceed `max_request_size` (the first always goes). Pass only
    /// brokers that lead a [`ready`](Self::ready) partition: every batch of a broker passed
    /// here may go, lingering or not. With `idempotence`, a batch goes only if
    /// [`Idempotence::prepare_send`] gives it a sequence (any pending epoch bump is applied
    /// first); it is encoded with it.
    pub fn drain(
        &mut self,
        leaders: &BTreeMap<i32, Vec<TopicPartition>>,
        max_request_size: usize,
        now: Instant,
        mut idempotence: Option<&mut Idempotence>,
    ) -> Drained<C> {
        if let Some(idem) = idempotence.as_deref_mut() {
            idem.maybe_bump();
        }
        let mut drained = Drained {
            batches: BTreeMap::new(),
            failed: Vec::new(),
        };
        for (&node, partitions) in leaders {
            if partitions.is_empty() {
                continue;
            }
            let start = self.drain_cursor.get(&node).copied().unwrap_or(0) % partitions.len();
            let mut taken: Vec<ProducerBatch<C>> = Vec::new();
            let mut request_size = 0usize;
            let mut stopped_at = None;
            for i in 0..partitions.len() {
                let tp = &partitions[(start + i) % partitions.len()];
                let Some(queue) = self.queues.get_mut(tp) else {
                    continue;
                };
                let Some(front) = queue.front() else {
                    continue;
                };
                if front.retry_at.is_some_and(|at| now < at) {
                    continue;
                }
                let size = front.encoded.as_ref().map_or(front.size, |e| e.len());
                if !taken.is_empty() && request_size + size > max_request_size {
                    stopped_at = Some((start + i) % partitions.len());
                    break;
                }
                let sequence = match idempotence.as_deref_mut() {
                    Some(idem) => {
                        match idem.prepare_send(tp, front.sequence, front.records.len()) {
                            Some(seq) => Some(seq),
                            None => continue,
                        }
                    }
                    None => None,
                };
                let Some(mut batch) = queue.pop_front() else {
                    continue;
                };
                if batch.encoded.is_none() || batch.sequence != sequence {
                    if let Err(e) = batch.encode(self.config.compression, sequence) {
                        tracing::warn!(%tp, error = %e, "could not encode a batch");
                        if let (Some(idem), Some(seq)) = (idempotence.as_deref_mut(), sequence) {
                            idem.on_abandoned(tp, &seq);
                        }
                        drained.failed.push((batch, e));
                        continue;
                    }
                }
                batch.closed = true;
                batch.retry_at = None;
                batch.attempts += 1;
                request_size += batch.encoded.as_ref().map_or(batch.size, |e| e.len());
                taken.push(batch);
            }
            let next = stopped_at.unwrap_or((start + 1) % partitions.len());
            self.drain_cursor.insert(node, next);
            if !taken.is_empty() {
                tracing::trace!(node, batches = taken.len(), bytes = request_size, "drained");
                drained.batches.insert(node, taken);
            }
        }
        self.queues.retain(|_, q| !q.is_empty());
        drained
    }

    /// Puts a drained batch back for a retry after `retry_backoff`, ahead of the partition's
    /// younger batches. Its encoding (and sequence) is kept.
    pub fn reenqueue(&mut self, mut batch: ProducerBatch<C>, now: Instant) {
        batch.retry_at = Some(now + self.config.retry_backoff);
        batch.closed = true;
        let queue = self.queues.entry(batch.tp.clone()).or_default();
        let at = queue
            .iter()
            .position(|b| b.id > batch.id)
            .unwrap_or(queue.len());
        queue.insert(at, batch);
    }

    /// Done with a batch (completed, failed or expired): frees its memory and returns its
    /// completion tokens in record order — the token at index `i` belongs to offset
    /// `base_offset + i`.
    pub fn release(&mut self, batch: ProducerBatch<C>) -> Vec<C> {
        self.used_memory = self.used_memory.saturating_sub(batch.size);
        batch.completions
    }

    /// Removes and returns queued batches older than `delivery_timeout` (fail them, then
    /// [`release`](Self::release) them; tell [`Idempotence::on_abandoned`] about sequenced
    /// ones).
    pub fn expire(&mut self, now: Instant) -> Vec<ProducerBatch<C>> {
        let timeout = self.config.delivery_timeout;
        let mut expired = Vec::new();
        for queue in self.queues.values_mut() {
            let (old, young): (VecDeque<_>, VecDeque<_>) = queue
                .drain(..)
                .partition(|b| now.saturating_duration_since(b.created) >= timeout);
            *queue = young;
            expired.extend(old);
        }
        self.queues.retain(|_, q| !q.is_empty());
        expired.sort_by_key(|b| b.id);
        expired
    }

    /// Removes and returns every queued batch (shutting down, or a fatal error): fail them, then
    /// [`release`](Self::release) them.
    pub fn abort_all(&mut self) -> Vec<ProducerBatch<C>> {
        let mut all: Vec<ProducerBatch<C>> = self.queues.drain().flat_map(|(_, q)| q).collect();
        all.sort_by_key(|b| b.id);
        all
    }
}

//! [`Producer`]: the async producer's handle.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

use super::batch::BatchRecord;
use super::error::ProducerError;
use super::partitioner::{
    DefaultPartitioner, Partitioner, RoundRobinPartitioner, StickyPartitioner,
};
use super::record::{DeliveryFuture, ProducerRecord};
use super::sender::{Append, SenderCore, SenderSettings};
use super::task::{Command, SenderTask};
use super::transport::ProducerTransport;
use crate::config::{Partitioner as PartitionerChoice, ProducerConfig};
use crate::error::ClientError;

/// How many commands may wait for the sender task. Each `send` waits for its answer, so this
/// only bounds bursts from many concurrent callers.
const COMMAND_QUEUE: usize = 1024;

/// An asynchronous Kafka producer.
///
/// [`send`](Self::send) hands a record to the producer's sender task and returns once the
/// record is in a batch, with a [`DeliveryFuture`] that resolves when the broker acknowledged
/// it (or it failed for good). Records are batched per partition (`batch.size`, `linger.ms`),
/// compressed (`compression.type`), sent with at most `max.in.flight.requests.per.connection`
/// requests per broker, and retried on retriable errors until `delivery.timeout.ms`. With
/// `enable.idempotence` (the default) the producer gets a producer id first and stamps every
/// batch with sequence numbers, so a retry of a batch the broker already wrote is recognised
/// as a duplicate instead of written twice.
///
/// The handle is cheap to clone; clones share the producer. The sender task ends after
/// [`close`](Self::close), or once every handle is dropped and what was sent is delivered.
///
/// Must be created inside a tokio runtime.
#[derive(Debug, Clone)]
pub struct Producer {
    commands: mpsc::Sender<Command>,
    closed: Arc<std::sync::atomic::AtomicBool>,
}

impl Producer {
    /// A producer sending through `transport` — usually a [`Client`](crate::Client), whose
    /// connection settings (request timeout, backoffs, metadata age) it then follows — with
    /// the producer settings of `config` and the partitioner it names
    /// ([`Murmur2`](PartitionerChoice::Murmur2) by default: Kafka's keyed placement, sticky
    /// batches for records without a key).
    ///
    /// # Errors
    /// [`ProducerError::Client`] with [`ClientError::Config`] when `delivery.timeout.ms` is
    /// shorter than `linger.ms` + the client's `request.timeout.ms`, with
    /// [`ClientError::InvalidState`] outside a tokio runtime.
    pub fn new<T: ProducerTransport>(
        transport: T,
        config: ProducerConfig,
    ) -> Result<Producer, ProducerError> {
        let partitioner: Box<dyn Partitioner> = match config.partitioner() {
            PartitionerChoice::RoundRobin => Box::new(RoundRobinPartitioner::new()),
            PartitionerChoice::UniformSticky => Box::new(StickyPartitioner::new()),
            _ => Box::new(DefaultPartitioner::new()),
        };
        Self::with_partitioner(transport, config, partitioner)
    }

    /// A producer choosing partitions with `partitioner` (records that name a partition keep
    /// it). Otherwise as [`new`](Self::new).
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn with_partitioner<T: ProducerTransport>(
        transport: T,
        config: ProducerConfig,
        partitioner: Box<dyn Partitioner>,
    ) -> Result<Producer, ProducerError> {
        let runtime =
            tokio::runtime::Handle::try_current().map_err(|_| ClientError::InvalidState {
                context: "Producer::new must be called inside a tokio runtime",
            })?;
        let settings = SenderSettings::new(transport.client_config(), &config)?;
        tracing::debug!(
            acks = settings.acks,
            idempotence = settings.idempotence,
            compression = ?settings.accumulator.compression,
            "starting a producer"
        );
        let core = SenderCore::new(settings, partitioner);
        let (commands, rx) = mpsc::channel(COMMAND_QUEUE);
        let task = SenderTask::new(core, Arc::new(transport), rx);
        runtime.spawn(task.run().instrument(tracing::debug_span!("producer")));
        Ok(Producer {
            commands,
            closed: Arc::default(),
        })
    }

    /// Hands `record` to the producer.
    ///
    /// Returns once the record is in a batch. That may wait for the topic's metadata or for
    /// room in `buffer.memory`, for at most `max.block.ms`; then it fails with
    /// [`ProducerError::MetadataUnavailable`] or [`ProducerError::BufferFull`]. A record that
    /// can never fit (`max.request.size`) fails at once with [`ProducerError::RecordTooLarge`],
    /// a partition the topic lacks with [`ProducerError::UnknownPartition`], and any record
    /// after [`close`](Self::close) with [`ProducerError::Closed`].
    ///
    /// Records of one topic keep the order of their `send` calls; records of one partition
    /// are written in that order, except that with idempotence off and more than one request
    /// in flight a retried batch can land behind a later one (as in Kafka).
    pub async fn send(&self, record: ProducerRecord) -> Result<DeliveryFuture, ProducerError> {
        if self.closed.load(std::sync::atomic::Ordering::Acquire) {
            return Err(ProducerError::Closed);
        }
        let timestamp_ms = record.timestamp.unwrap_or_else(now_ms);
        let (completion, delivered) = oneshot::channel();
        let (reply, appended) = oneshot::channel();
        let append = Append {
            topic: record.topic,
            partition: record.partition,
            record: BatchRecord {
                key: record.key,
                value: record.value,
                headers: record.headers,
                timestamp_ms,
            },
            completion,
            reply,
        };
        self.commands
            .send(Command::Append(append))
            .await
            .map_err(|_| ProducerError::Closed)?;
        match appended.await {
            Ok(Ok(())) => Ok(DeliveryFuture::new(delivered)),
            Ok(Err(error)) => Err(error),
            Err(_) => Err(ProducerError::Closed),
        }
    }

    /// Sends every buffered record without waiting for `linger.ms`, and returns once nothing
    /// is buffered or in flight — every record sent before the call is then resolved. Records
    /// other tasks send meanwhile are waited for too, so under a steady stream of sends from
    /// elsewhere `flush` returns only when that stream pauses.
    pub async fn flush(&self) -> Result<(), ProducerError> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(Command::Flush(tx))
            .await
            .map_err(|_| ProducerError::Closed)?;
        rx.await.map_err(|_| ProducerError::Closed)
    }

    /// Refuses further records, delivers (or fails, at `delivery.timeout.ms`) every record
    /// already sent, then stops the sender task. Closing a closed producer returns at once.
    pub async fn close(&self) -> Result<(), ProducerError> {
        self.closed
            .store(true, std::sync::atomic::Ordering::Release);
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Command::Close(tx)).await.is_err() {
            return Ok(()); // already stopped
        }
        // The task answers when it stops; a dropped answer also means it stopped.
        let _ = rx.await;
        Ok(())
    }
}

/// Milliseconds since the Unix epoch.
fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

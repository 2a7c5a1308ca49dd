//! The direct stream (Spark Streaming's direct approach to Kafka): no receivers, no group
//! membership; every batch is a set of offset ranges, one per partition, read from the
//! partition leaders, and the application stores the offsets (see [`crate::store`]).
//!
//! Modules: [`rate`] (rate limits, batch planning, the backpressure estimator), [`placement`]
//! (which worker task processes each partition), [`read`] ([`read::read_ranges`]: exactly
//! given ranges, Spark's `createRDD`), and the stream itself here.
//!
//! [`DirectStream::next_batch`]:
//! 1. waits until one batch interval has passed since the previous batch started (tokio time;
//!    the first batch starts at once, and a caller that comes late gets its batch at once,
//!    with the lateness as the batch's scheduling delay);
//! 2. refreshes the metadata and updates the partitions per the [`ConsumerStrategy`]:
//!    partitions that appeared join (starting per [`DirectStreamConfig::new_partitions`],
//!    [`StartingOffsets::Earliest`] by default), partitions that disappeared (deleted topics)
//!    leave;
//! 3. lists the latest offset of every partition in one admin call (the high watermark, or
//!    the last stable offset under `read_committed`), so no range reaches past records that
//!    may still be aborted;
//! 4. plans one range per partition with [`plan_batch`]: bounded by
//!    the per-partition max rate × interval, at least the min rate × interval, and under
//!    backpressure by the rate the [`PidRateEstimator`] derives from
//!    [`DirectStream::batch_completed`];
//! 5. starts one [`PartitionReader`](crate::fetch::PartitionReader) per range on the shared
//!    [`FetchEngine`] and advances each partition's position to its range's `until`.
//!
//! A reader delivers only records inside its range, and completes when its next offset
//! reaches `until`, also when the range ends in a compaction gap or on a transaction marker.
//!
//! Each partition starts at the strategy's explicit offset, else the stored offset handed to
//! [`DirectStream::new`], else per the [`StartingOffsets`] policy (the log start offset, the
//! end of the log, or [`StreamError::NoStartingOffset`]). An explicit or stored offset below the
//! partition's log start offset is a [`StreamError::DataLoss`], or, with
//! [`OnDataLoss::SkipToLogStart`](crate::fetch::OnDataLoss::SkipToLogStart) in
//! [`DirectStreamConfig::on_data_loss`], starts at the log start offset. Readers apply the same
//! setting when records of a range are deleted while the stream runs.
//!
//! When `next_batch` fails, the positions are unchanged: calling it again retries the batch.
//!
//! [`DirectStream::into_batches`] turns the stream into a [`futures::Stream`] of the same
//! batches ([`Batches`]).
//!
//! [`DirectStreamConfig`] can be built in code or from Kafka consumer properties
//! ([`DirectStreamConfig::from_properties`]); [`ConsumerProperties::parse`] splits one Java
//! consumer properties file between the client and the stream.

mod batch;
mod batches;
mod config;
mod error;
pub mod placement;
pub mod rate;
pub mod read;
mod starting;
mod strategy;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use gregor_client::admin::{IsolationLevel, OffsetSpec};
use gregor_client::cluster::MetadataCache;
use gregor_client::{Admin, Client};
use regex::Regex;
use tokio::time::Instant;
use tracing::{debug, info, warn};

pub use self::batch::{Batch, BatchInfo};
pub use self::batches::Batches;
pub use self::config::{
    ConsumerProperties, DirectStreamConfig, GROUP_ID_KEY, IGNORED_CONSUMER_KEYS, STREAM_KEYS,
};
pub use self::error::StreamError;
pub use self::starting::StartingOffsets;
use self::starting::{Origin, list, resolve};
pub use self::strategy::ConsumerStrategy;
use crate::direct::rate::{PidRateEstimator, RateError, plan_batch};
use crate::fetch::FetchEngine;
use crate::range::TopicPartition;
use crate::store::{BatchStart, BatchStarts, PartitionOffsets};

/// A direct stream over a [`Client`]: call [`next_batch`](Self::next_batch) in a loop, process
/// each batch's partitions, store its offsets, and report its processing time with
/// [`batch_completed`](Self::batch_completed) when backpressure is on.
pub struct DirectStream {
    client: Client,
    admin: Admin,
    engine: FetchEngine,
    config: DirectStreamConfig,
    /// The anchored pattern of a pattern subscription.
    pattern: Option<Regex>,
    /// The offsets handed to [`DirectStream::new`], for partitions that join later.
    stored: PartitionOffsets,
    /// The next offset to read of each partition in the stream.
    positions: PartitionOffsets,
    /// Partitions whose next batch continues a stored one ([`BatchStart::Continue`]).
    continuing: BTreeSet<TopicPartition>,
    estimator: Option<PidRateEstimator>,
    epoch: Instant,
    last_start: Option<Instant>,
    last_delay: Duration,
}

impl std::fmt::Debug for DirectStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirectStream")
            .field("config", &self.config)
            .field("positions", &self.positions)
            .finish_non_exhaustive()
    }
}

impl DirectStream {
    /// Starts a stream: finds the strategy's partitions and their starting offsets (the
    /// strategy's explicit offsets, else `stored` — from any
    /// [`OffsetStore::load`](crate::store::OffsetStore::load) or
    /// [`KafkaCommits::load`](crate::store::KafkaCommits::load) — else the
    /// [`StartingOffsets`] policy). No batch is planned yet.
    ///
    /// # Errors
    /// [`StreamError::Config`] for invalid rates, a zero batch interval or invalid PID gains;
    /// [`StreamError::Pattern`]; [`StreamError::UnknownPartitions`] for assigned partitions the
    /// cluster lacks; [`StreamError::NoStartingOffset`] under [`StartingOffsets::Fail`];
    /// [`StreamError::DataLoss`] for a starting offset below the log start offset;
    /// [`StreamError::ListOffsets`] and [`StreamError::Client`] for failed requests.
    pub async fn new(
        client: Client,
        config: DirectStreamConfig,
        stored: PartitionOffsets,
    ) -> Result<DirectStream, StreamError> {
        config.rates.validate()?;
        if config.batch_interval.is_zero() {
            return Err(RateError::ZeroBatchInterval.into());
        }
        let estimator = config
            .backpressure
            .map(|pid| PidRateEstimator::new(config.batch_interval, pid))
            .transpose()?;
        let pattern = match &config.strategy {
            ConsumerStrategy::SubscribePattern { pattern, .. } => {
                Some(strategy::anchored(pattern)?)
            }
            _ => None,
        };
        let engine = FetchEngine::new(client.clone(), config.fetch.clone());
        let mut stream = DirectStream {
            admin: Admin::new(client.clone()),
            client,
            engine,
            config,
            pattern,
            stored,
            positions: PartitionOffsets::new(),
            continuing: BTreeSet::new(),
            estimator,
            epoch: Instant::now(),
            last_start: None,
            last_delay: Duration::ZERO,
        };
        let metadata = stream.refresh_metadata().await?;
        let found = strategy::discover(&stream.config.strategy, stream.pattern.as_ref(), &metadata);
        if let ConsumerStrategy::Assign { partitions, .. } = &stream.config.strategy {
            let missing: Vec<TopicPartition> = partitions
                .iter()
                .filter(|tp| !found.contains(*tp))
                .cloned()
                .collect();
            if !missing.is_empty() {
                return Err(StreamError::UnknownPartitions {
                    partitions: missing,
                });
            }
        }
        let policy = stream.config.starting;
        stream.join(found, policy).await?;
        Ok(stream)
    }

    /// Plans the next batch (see the [module docs](self)). Ranges of partitions without new
    /// records are empty.
    ///
    /// # Errors
    /// [`StreamError::ListOffsets`] or [`StreamError::Client`] for failed requests,
    /// [`StreamError::Plan`] when a partition's latest offset is below its position (the log
    /// was truncated), and the errors of [`new`](Self::new) for partitions that join.
    pub async fn next_batch(&mut self) -> Result<Batch, StreamError> {
        let mut scheduling_delay = Duration::ZERO;
        if let Some(last) = self.last_start {
            let due = last + self.config.batch_interval;
            let now = Instant::now();
            if now < due {
                tokio::time::sleep_until(due).await;
            } else {
                scheduling_delay = now - due;
            }
        }
        let started_at = Instant::now();
        self.last_start = Some(started_at);
        self.last_delay = scheduling_delay;

        let metadata = match self.refresh_metadata().await {
            Ok(metadata) => metadata,
            Err(error) => {
                warn!(%error, "metadata refresh failed; planning with the last snapshot");
                self.client.metadata()
            }
        };
        self.update_partitions(&metadata).await?;

        let partitions: Vec<TopicPartition> = self.positions.keys().cloned().collect();
        let latest = list(
            &self.admin,
            &partitions,
            OffsetSpec::Latest,
            self.isolation(),
        )
        .await?;
        let current: BTreeMap<TopicPartition, i64> = self.positions.clone();
        let rate = self
            .estimator
            .as_ref()
            .and_then(PidRateEstimator::latest_rate);
        let ranges = plan_batch(
            &current,
            &latest,
            self.config.batch_interval,
            &self.config.rates,
            rate,
        )?;

        let mut starts = BatchStarts::new();
        let mut readers = Vec::with_capacity(ranges.len());
        for range in &ranges {
            let key = range.topic_partition();
            let start = if self.continuing.contains(&key) {
                BatchStart::Continue(range.from())
            } else {
                BatchStart::First(range.from())
            };
            starts.insert(key.clone(), start);
            readers.push(
                self.engine
                    .read_planned(range.clone(), self.config.on_data_loss),
            );
            self.positions.insert(key.clone(), range.until());
            self.continuing.insert(key);
        }
        debug!(
            ranges = ranges.len(),
            offsets = ranges.iter().map(|r| r.count()).sum::<u64>(),
            ?rate,
            "planned a batch"
        );
        Ok(Batch {
            leaders: strategy::leaders(&metadata, current.keys()),
            ranges,
            readers,
            starts,
            started_at,
            scheduling_delay,
        })
    }

    /// The batches as a [`futures::Stream`]: each item is what [`next_batch`](Self::next_batch)
    /// would return (see [`Batches`]).
    ///
    /// ```no_run
    /// use std::time::Instant;
    ///
    /// use futures::TryStreamExt;
    /// use gregor_consumer::direct::rate::PidConfig;
    /// use gregor_consumer::store::PartitionOffsets;
    /// use gregor_consumer::direct::{BatchInfo, ConsumerStrategy, DirectStream, DirectStreamConfig};
    ///
    /// # async fn run(client: gregor_client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// let config = DirectStreamConfig::new(ConsumerStrategy::subscribe(["orders"]))
    ///     .with_backpressure(PidConfig::default());
    /// let stream = DirectStream::new(client, config, PartitionOffsets::new()).await?;
    /// let mut batches = stream.into_batches();
    /// while let Some(batch) = batches.try_next().await? {
    ///     let started = Instant::now();
    ///     let mut records = 0;
    ///     for mut reader in batch.into_partitions() {
    ///         while let Some(chunk) = reader.next_chunk().await {
    ///             records += chunk?.len() as u64;
    ///         }
    ///     }
    ///     // Between items the stream is reachable, here to feed backpressure.
    ///     if let Some(stream) = batches.get_mut() {
    ///         stream.batch_completed(BatchInfo::new(records, started.elapsed()));
    ///     }
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn into_batches(self) -> Batches {
        Batches::new(self)
    }

    /// Reports how the last batch's processing went; with backpressure on, this updates the
    /// rate estimate that bounds the next batches. Without backpressure it does nothing.
    pub fn batch_completed(&mut self, info: BatchInfo) {
        let (Some(estimator), Some(start)) = (self.estimator.as_mut(), self.last_start) else {
            return;
        };
        let millis = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        let completed = start.saturating_duration_since(self.epoch) + info.processing_time;
        let rate = estimator.compute(
            millis(completed),
            info.records,
            millis(info.processing_time),
            millis(self.last_delay),
        );
        debug!(?rate, records = info.records, processing = ?info.processing_time, "batch completed");
    }

    /// The rate (records/s for the whole stream) backpressure currently allows, if it is on
    /// and has an estimate.
    pub fn estimated_rate(&self) -> Option<f64> {
        self.estimator
            .as_ref()
            .and_then(PidRateEstimator::latest_rate)
    }

    /// The next offset to read of each partition in the stream (the next batch's `from`).
    pub fn positions(&self) -> &PartitionOffsets {
        &self.positions
    }

    /// The fetch engine the batches' readers share.
    pub fn engine(&self) -> &FetchEngine {
        &self.engine
    }

    /// The settings.
    pub fn config(&self) -> &DirectStreamConfig {
        &self.config
    }

    /// The isolation level of offset listings, from the fetch settings.
    fn isolation(&self) -> IsolationLevel {
        self.config.fetch.isolation
    }

    /// Refreshes the metadata the strategy needs.
    async fn refresh_metadata(&self) -> Result<Arc<MetadataCache>, StreamError> {
        match self.config.strategy.metadata_topics() {
            Some(topics) if topics.is_empty() => Ok(self.client.metadata()),
            topics => Ok(self.client.refresh_metadata(topics.as_deref()).await?),
        }
    }

    /// Lets partitions that appeared join and those that disappeared leave.
    async fn update_partitions(&mut self, metadata: &MetadataCache) -> Result<(), StreamError> {
        let found = strategy::discover(&self.config.strategy, self.pattern.as_ref(), metadata);
        let gone: Vec<TopicPartition> = self
            .positions
            .keys()
            .filter(|tp| !found.contains(*tp))
            .cloned()
            .collect();
        for key in gone {
            info!(topic = %key.topic, partition = key.partition, "partition left the stream");
            self.positions.remove(&key);
            self.continuing.remove(&key);
        }
        let new: BTreeSet<TopicPartition> = found
            .into_iter()
            .filter(|tp| !self.positions.contains_key(tp))
            .collect();
        if !new.is_empty() {
            info!(partitions = new.len(), "partitions joined the stream");
            let policy = self.config.new_partitions;
            self.join(new, policy).await?;
        }
        Ok(())
    }

    /// Resolves the starting offsets of `partitions` and adds them to the stream.
    async fn join(
        &mut self,
        partitions: BTreeSet<TopicPartition>,
        policy: StartingOffsets,
    ) -> Result<(), StreamError> {
        let partitions: Vec<TopicPartition> = partitions.into_iter().collect();
        let starts = resolve(
            &self.admin,
            &partitions,
            &self.config.strategy,
            &self.stored,
            policy,
            self.config.on_data_loss,
            self.isolation(),
        )
        .await?;
        for (tp, (offset, origin)) in starts {
            if origin == Origin::Stored {
                self.continuing.insert(tp.clone());
            }
            self.positions.insert(tp, offset);
        }
        Ok(())
    }
}

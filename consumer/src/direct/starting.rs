//! Where each partition of a direct stream starts.
//!
//! For each partition, in this order:
//! 1. the strategy's explicit offset ([`ConsumerStrategy::with_offsets`]);
//! 2. the stored offset (from an [`OffsetStore`](crate::store::OffsetStore) or
//!    [`KafkaCommits::load`](crate::store::KafkaCommits::load)), handed to
//!    [`DirectStream::new`](super::DirectStream::new);
//! 3. the [`StartingOffsets`] policy: the log start offset ([`StartingOffsets::Earliest`]), the
//!    end of the log ([`StartingOffsets::Latest`]: the high watermark, or the last stable offset
//!    under `read_committed`), or a [`StreamError::NoStartingOffset`] naming the partitions
//!    ([`StartingOffsets::Fail`], Spark's `none`).
//!
//! An explicit or stored offset below the partition's log start offset is a
//! [`StreamError::DataLoss`] (the records in between were deleted before they were read), or,
//! under [`OnDataLoss::SkipToLogStart`], moves up to the log start offset.

use std::collections::BTreeMap;

use gregor_client::Admin;
use gregor_client::admin::{IsolationLevel, OffsetSpec};

use tracing::warn;

use super::error::StreamError;
use super::strategy::ConsumerStrategy;
use crate::fetch::OnDataLoss;
use crate::range::TopicPartition;
use crate::store::PartitionOffsets;

/// Where a partition without an explicit or stored offset starts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StartingOffsets {
    /// At the log start offset: every record the partition still has.
    Earliest,
    /// At the end of the log: only records written from now on (Kafka's default).
    #[default]
    Latest,
    /// Nowhere: starting fails with [`StreamError::NoStartingOffset`] (Spark's `none`).
    Fail,
}

/// Where a partition's starting offset came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// The strategy's explicit offsets.
    Explicit,
    /// The stored offsets.
    Stored,
    /// The starting policy.
    Policy,
}

/// The starting offset of each of `partitions` and where it came from.
///
/// # Errors
/// [`StreamError::NoStartingOffset`], [`StreamError::DataLoss`], [`StreamError::ListOffsets`]
/// or [`StreamError::Client`] (see the module docs).
pub(crate) async fn resolve(
    admin: &Admin,
    partitions: &[TopicPartition],
    strategy: &ConsumerStrategy,
    stored: &PartitionOffsets,
    policy: StartingOffsets,
    on_data_loss: OnDataLoss,
    isolation: IsolationLevel,
) -> Result<BTreeMap<TopicPartition, (i64, Origin)>, StreamError> {
    let mut found = BTreeMap::new();
    let mut unknown = Vec::new();
    for tp in partitions {
        if let Some(&offset) = strategy.offsets().get(tp) {
            found.insert(tp.clone(), (offset, Origin::Explicit));
        } else if let Some(&offset) = stored.get(tp) {
            found.insert(tp.clone(), (offset, Origin::Stored));
        } else {
            unknown.push(tp.clone());
        }
    }
    // Explicit and stored offsets must not be below the log start offset.
    let known: Vec<TopicPartition> = found.keys().cloned().collect();
    let earliest = list(admin, &known, OffsetSpec::Earliest, isolation).await?;
    for (tp, (offset, _)) in &mut found {
        let Some(&log_start_offset) = earliest.get(tp) else {
            continue;
        };
        if *offset >= log_start_offset {
            continue;
        }
        if on_data_loss == OnDataLoss::SkipToLogStart {
            warn!(partition = %tp, from = *offset, to = log_start_offset,
                "starting offset deleted; skipping to the log start offset");
            *offset = log_start_offset;
        } else {
            return Err(StreamError::DataLoss {
                partition: tp.clone(),
                offset: *offset,
                log_start_offset,
            });
        }
    }
    if unknown.is_empty() {
        return Ok(found);
    }
    let spec = match policy {
        StartingOffsets::Earliest => OffsetSpec::Earliest,
        StartingOffsets::Latest => OffsetSpec::Latest,
        StartingOffsets::Fail => {
            return Err(StreamError::NoStartingOffset {
                partitions: unknown,
            });
        }
    };
    let listed = list(admin, &unknown, spec, isolation).await?;
    for tp in unknown {
        let offset = listed
            .get(&tp)
            .copied()
            .ok_or_else(|| StreamError::ListOffsets {
                partition: tp.clone(),
                code: gregor_protocol::ErrorCode::UnknownServerError,
            })?;
        found.insert(tp, (offset, Origin::Policy));
    }
    Ok(found)
}

/// Lists `spec` offsets of `partitions` in one call.
///
/// # Errors
/// [`StreamError::ListOffsets`] for the first partition answered with an error,
/// [`StreamError::Client`] if the call failed.
pub(crate) async fn list(
    admin: &Admin,
    partitions: &[TopicPartition],
    spec: OffsetSpec,
    isolation: IsolationLevel,
) -> Result<BTreeMap<TopicPartition, i64>, StreamError> {
    if partitions.is_empty() {
        return Ok(BTreeMap::new());
    }
    let asked: Vec<_> = partitions.iter().map(|tp| (tp.clone(), spec)).collect();
    let answered = admin.list_offsets(&asked, isolation).await?;
    let mut offsets = BTreeMap::new();
    for (tp, result) in answered {
        match result {
            Ok(listed) => {
                offsets.insert(tp, listed.offset);
            }
            Err(code) => {
                return Err(StreamError::ListOffsets {
                    partition: tp,
                    code,
                });
            }
        }
    }
    Ok(offsets)
}

//! Position validation after a leader epoch change (KIP-320): OffsetForLeaderEpoch asks the
//! current leader where the epoch of the last fetched batch ends. If it ends below the
//! reader's position, the log was truncated (an unclean leader election) under records
//! already delivered, and the range fails with [`FetchError::Truncated`] rather than resetting
//! silently: a direct stream must neither re-read nor skip offsets without being told. Brokers
//! without OffsetForLeaderEpoch (or the needed version) skip the check.

use std::sync::Weak;

use gregor_client::cluster::BrokerId;
use gregor_client::{ClientError, Purpose};
use gregor_protocol::ErrorCode;
use gregor_protocol::messages::OffsetForLeaderEpochRequest;
use gregor_protocol::messages::offset_for_leader_epoch::{
    CONSUMER_REPLICA_ID, OffsetForLeaderPartition, OffsetForLeaderTopic,
};
use tokio::time::Instant;

use super::engine::{EngineInner, SlotState};
use super::error::FetchError;
use crate::range::TopicPartition;

/// What to validate.
#[derive(Debug, Clone)]
pub(crate) struct Check {
    pub(crate) id: u64,
    pub(crate) generation: u64,
    pub(crate) tp: TopicPartition,
    pub(crate) leader: BrokerId,
    pub(crate) current_epoch: i32,
    pub(crate) last_fetched_epoch: i32,
    pub(crate) position: i64,
}

/// The outcome of one OffsetForLeaderEpoch lookup.
enum Outcome {
    /// The position is valid under the current epoch.
    Valid,
    /// The epoch ends below the position.
    Truncated(i64),
    /// Ask again later (stale metadata, connection trouble).
    Retry,
}

/// Validates `check`'s position and moves its slot on (fetching again, or failed).
pub(crate) async fn validate(engine: Weak<EngineInner>, check: Check) {
    let Some(inner) = engine.upgrade() else {
        return;
    };
    let outcome = match lookup(&inner, &check).await {
        Ok(outcome) => outcome,
        Err(ClientError::UnsupportedApi { .. }) => Outcome::Valid,
        Err(error) => {
            tracing::debug!(%error, "OffsetForLeaderEpoch failed; retrying");
            Outcome::Retry
        }
    };
    let backoff = Instant::now() + inner.client.config().retry_backoff();
    let mut refresh = false;
    {
        let mut slots = inner.slots();
        let Some(slot) = slots.get_mut(&check.id) else {
            return;
        };
        if slot.generation != check.generation || slot.state != SlotState::Resolving {
            return;
        }
        match outcome {
            Outcome::Valid => {
                slot.fetch_epoch = Some(check.current_epoch);
                slot.state = SlotState::Fetching;
            }
            Outcome::Truncated(end_offset) => slot.fail(FetchError::Truncated {
                topic: check.tp.topic.to_string(),
                partition: check.tp.partition,
                position: check.position,
                end_offset,
            }),
            Outcome::Retry => {
                slot.state = SlotState::Fetching;
                slot.retry_at = Some(backoff);
                refresh = true;
            }
        }
    }
    if refresh {
        inner.refresh_metadata();
    }
    inner.wake();
}

async fn lookup(inner: &EngineInner, check: &Check) -> Result<Outcome, ClientError> {
    let conn = inner
        .client
        .connection(check.leader, Purpose::Control)
        .await?;
    let version = conn.version_for::<OffsetForLeaderEpochRequest>()?;
    let request = OffsetForLeaderEpochRequest {
        replica_id: CONSUMER_REPLICA_ID,
        topics: vec![OffsetForLeaderTopic {
            topic: check.tp.topic.to_string(),
            partitions: vec![OffsetForLeaderPartition {
                partition: check.tp.partition,
                current_leader_epoch: check.current_epoch,
                leader_epoch: check.last_fetched_epoch,
                ..OffsetForLeaderPartition::default()
            }],
            ..OffsetForLeaderTopic::default()
        }],
        ..OffsetForLeaderEpochRequest::default()
    };
    let response = conn.send_versioned(&request, version).await?;
    let Some(result) = response.partition(&check.tp.topic, check.tp.partition) else {
        return Ok(Outcome::Retry);
    };
    Ok(match ErrorCode::from_code(result.error_code) {
        ErrorCode::None if result.end_offset >= 0 && result.end_offset < check.position => {
            Outcome::Truncated(result.end_offset)
        }
        ErrorCode::None => Outcome::Valid,
        code if code.is_retriable() || code.is_stale_metadata() => Outcome::Retry,
        // The broker cannot answer for this epoch: nothing to compare with.
        _ => Outcome::Valid,
    })
}

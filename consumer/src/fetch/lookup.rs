//! The async shell of the core's lookups: log offsets (ListOffsets) and leader-epoch checks
//! (OffsetForLeaderEpoch, KIP-320). Each runs as its own task, does its I/O, and hands what
//! it found to the core in one transition.
//!
//! An epoch check asks the current leader where the epoch of the last fetched batch ends; if
//! it ends below the reader's position, the log was truncated (an unclean leader election)
//! under records already delivered, which the core turns into
//! [`FetchError::Truncated`](super::FetchError::Truncated) (or a reset, for an open cursor
//! with a reset policy) rather than moving on silently. Brokers without OffsetForLeaderEpoch
//! (or the needed version) skip the check.

use std::sync::Weak;

use gregor_client::admin::{IsolationLevel as AdminIsolation, OffsetSpec};
use gregor_client::{Admin, ClientError, Purpose};
use gregor_protocol::ErrorCode;
use gregor_protocol::messages::OffsetForLeaderEpochRequest;
use gregor_protocol::messages::offset_for_leader_epoch::{
    CONSUMER_REPLICA_ID, OffsetForLeaderPartition, OffsetForLeaderTopic,
};
use tokio::time::Instant;

use super::config::IsolationLevel;
use super::exchange::{
    EpochCheck, EpochOutcome, LogBounds, LookupFailure, LookupReason, OffsetLookup,
};
use super::shared::Shared;

/// Looks up the log start and end of `lookup`'s partition and applies them.
pub(crate) async fn look_up_offsets(engine: Weak<Shared>, lookup: OffsetLookup) {
    if let Some(delay) = lookup.delay {
        tokio::time::sleep(delay).await;
    }
    let Some(shared) = engine.upgrade() else {
        return;
    };
    // A starting cursor reads from the end a read_committed consumer may read to (the last
    // stable offset); an out-of-range check compares with the log's end.
    let isolation = match (lookup.reason, shared.config.isolation) {
        (LookupReason::Start(_), IsolationLevel::ReadCommitted) => AdminIsolation::ReadCommitted,
        _ => AdminIsolation::ReadUncommitted,
    };
    let result = log_bounds(&shared, &lookup, isolation).await;
    shared.transition(|core, out| core.apply_log_offsets(&lookup, result, Instant::now(), out));
    shared.wake();
}

async fn log_bounds(
    shared: &Shared,
    lookup: &OffsetLookup,
    isolation: AdminIsolation,
) -> Result<LogBounds, LookupFailure> {
    let admin = Admin::new(shared.client.clone());
    let key =
        gregor_client::admin::TopicPartition::new(lookup.tp.topic.to_string(), lookup.tp.partition);
    let one = |spec| {
        let admin = admin.clone();
        let key = key.clone();
        async move {
            let listed = admin
                .list_offsets(&[(key.clone(), spec)], isolation)
                .await
                .map_err(LookupFailure::Client)?;
            match listed.get(&key) {
                None => Err(LookupFailure::UnknownPartition),
                Some(Err(code)) => Err(LookupFailure::Broker(*code)),
                Some(Ok(found)) => Ok(found.offset),
            }
        }
    };
    let start = one(OffsetSpec::Earliest).await?;
    let end = one(OffsetSpec::Latest).await?;
    Ok(LogBounds { start, end })
}

/// Checks `check`'s position against the leader's epochs and applies the outcome.
pub(crate) async fn check_epoch(engine: Weak<Shared>, check: EpochCheck) {
    let Some(shared) = engine.upgrade() else {
        return;
    };
    let outcome = match epoch_end(&shared, &check).await {
        Ok(outcome) => outcome,
        Err(ClientError::UnsupportedApi { .. }) => EpochOutcome::Valid,
        Err(error) => {
            tracing::debug!(%error, "OffsetForLeaderEpoch failed; retrying");
            EpochOutcome::Retry
        }
    };
    shared.transition(|core, out| core.apply_epoch_check(&check, outcome, Instant::now(), out));
    shared.wake();
}

async fn epoch_end(shared: &Shared, check: &EpochCheck) -> Result<EpochOutcome, ClientError> {
    let conn = shared
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
        return Ok(EpochOutcome::Retry);
    };
    Ok(match ErrorCode::from_code(result.error_code) {
        ErrorCode::None if result.end_offset >= 0 && result.end_offset < check.position => {
            EpochOutcome::Truncated(result.end_offset)
        }
        ErrorCode::None => EpochOutcome::Valid,
        code if code.is_retriable() || code.is_stale_metadata() => EpochOutcome::Retry,
        // The broker cannot answer for this epoch: nothing to compare with.
        _ => EpochOutcome::Valid,
    })
}

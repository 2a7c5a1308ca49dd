//! Fetch (1), with long polling and fetch sessions.
//!
//! Kafka's semantics:
//! - The session fields are resolved once, when the request arrives (see
//!   [`crate::mock::session`]); a session error is answered at once with only the top-level
//!   error.
//! - Partitions are read in order (request order, or the session's order for an incremental
//!   fetch), each up to `min(partition_max_bytes, what is left of max_bytes)`; until some
//!   partition has returned records, the first batch is returned whole even if larger
//!   (KIP-74). A later batch that does not fit is cut at the limit.
//! - Per partition, in Kafka's order: unknown topic → `UNKNOWN_TOPIC_OR_PARTITION`
//!   (`UNKNOWN_TOPIC_ID` for an id, v13+); `current_leader_epoch` older than the leader's →
//!   `FENCED_LEADER_EPOCH`, newer → `UNKNOWN_LEADER_EPOCH`; not the leader →
//!   `NOT_LEADER_OR_FOLLOWER` (with the current leader, v12+, and its endpoint, v16+). With a
//!   `last_fetched_epoch` (v12+): an epoch the log cannot place (newer than any it knows), or
//!   an offset below the log start → `OFFSET_OUT_OF_RANGE`; if the log's end offset for that
//!   epoch is below `fetch_offset`, or its largest epoch up to that one is older, the answer is
//!   the `diverging_epoch` (that epoch and end offset) and no records. An offset below the log
//!   start or past the log end → `OFFSET_OUT_OF_RANGE`. Error answers carry -1 offsets, as Kafka's do; others carry the high
//!   watermark, the last stable offset and the log start offset.
//! - `read_committed` reads stop at the last stable offset and list the aborted transactions
//!   overlapping the returned range (`read_uncommitted`: a null list).
//! - The response is sent at once when the reads found at least `min_bytes`, when any
//!   partition has an error or a diverging epoch, when nothing is fetched, or when `max_wait_ms`
//!   is 0; otherwise the fetch waits, re-reading whenever data or leadership changes, until
//!   that holds or `max_wait_ms` runs out, and then answers with whatever there is.

use std::time::{Duration, Instant};

use bytes::Bytes;
use gregor_protocol::ErrorCode;
use gregor_protocol::messages::fetch::{
    AbortedTransaction, EpochEndOffset, FetchableTopicResponse, LeaderIdAndEpoch, NodeEndpoint,
    PartitionData, READ_COMMITTED,
};
use gregor_protocol::messages::{FetchRequest, FetchResponse};
use gregor_protocol::primitives::Uuid;

use super::{Ctx, Handle, Reply};
use crate::mock::log::{UNDEFINED_EPOCH, UNDEFINED_OFFSET};
use crate::mock::session::{FetchContext, FetchPartitionReq, Forgotten};
use crate::mock::state::ClusterState;

/// A fetch that is waiting for data.
#[derive(Debug)]
pub(crate) struct PendingFetch {
    version: i16,
    broker: i32,
    context: FetchContext,
    partitions: Vec<FetchPartitionReq>,
    min_bytes: usize,
    max_bytes: usize,
    read_committed: bool,
    deadline: Instant,
}

impl Handle for FetchRequest {
    fn handle(self, cx: &mut Ctx<'_>) -> Reply<FetchResponse> {
        let mut pending = PendingFetch::start(self, cx);
        match pending.poll(cx.state, cx.now) {
            Some(resp) => Reply::Respond(resp),
            None => Reply::Park(Box::new(pending)),
        }
    }
}

impl PendingFetch {
    /// Resolves the request's topics and session.
    fn start(req: FetchRequest, cx: &mut Ctx<'_>) -> PendingFetch {
        let v = cx.version;
        let mut partitions = Vec::new();
        for t in &req.topics {
            let name = if v >= 13 {
                cx.state
                    .topic_name(t.topic_id)
                    .unwrap_or_default()
                    .to_owned()
            } else {
                t.topic.clone()
            };
            for p in &t.partitions {
                partitions.push(FetchPartitionReq {
                    topic: name.clone(),
                    topic_id: t.topic_id,
                    partition: p.partition,
                    fetch_offset: p.fetch_offset,
                    max_bytes: p.partition_max_bytes,
                    current_leader_epoch: p.current_leader_epoch,
                    last_fetched_epoch: p.last_fetched_epoch,
                });
            }
        }
        let forgotten: Vec<Forgotten> = req
            .forgotten_topics_data
            .iter()
            .flat_map(|f| {
                f.partitions.iter().map(|p| Forgotten {
                    topic: f.topic.clone(),
                    topic_id: f.topic_id,
                    partition: *p,
                })
            })
            .collect();
        let (context, partitions) = match cx.state.sessions.get_mut(&cx.broker) {
            Some(cache) => cache.new_context(
                v,
                req.session_id,
                req.session_epoch,
                partitions,
                &forgotten,
                cx.now,
            ),
            None => (FetchContext::Sessionless, partitions),
        };
        let wait = Duration::from_millis(u64::try_from(req.max_wait_ms).unwrap_or(0));
        PendingFetch {
            version: v,
            broker: cx.broker,
            context,
            partitions,
            min_bytes: usize::try_from(req.min_bytes).unwrap_or(0),
            max_bytes: usize::try_from(req.max_bytes).unwrap_or(0),
            read_committed: req.isolation_level == READ_COMMITTED,
            deadline: cx.now + wait,
        }
    }

    /// When the fetch answers with whatever it has.
    pub(crate) fn deadline(&self) -> Instant {
        self.deadline
    }

    /// The version the response is encoded in.
    pub(crate) fn version(&self) -> i16 {
        self.version
    }

    /// Reads every partition; returns the response if the fetch is complete at `now`.
    pub(crate) fn poll(&mut self, state: &mut ClusterState, now: Instant) -> Option<FetchResponse> {
        // Reads of an earlier poll that did not complete are not sent.
        state.stash.clear();
        let mut results = Vec::with_capacity(self.partitions.len());
        let mut limit = self.max_bytes;
        let mut min_one = true;
        let mut bytes = 0usize;
        let mut urgent =
            matches!(self.context, FetchContext::Error(_)) || self.partitions.is_empty();
        for req in &self.partitions {
            let (data, size) = read_partition(
                state,
                self.broker,
                self.version,
                req,
                limit,
                min_one,
                self.read_committed,
            );
            if size > 0 {
                min_one = false;
            }
            limit = limit.saturating_sub(size);
            bytes += size;
            urgent |= data.error_code != 0 || data.diverging_epoch.epoch >= 0;
            results.push((req.clone(), data));
        }
        if !(urgent || bytes >= self.min_bytes || now >= self.deadline) {
            return None;
        }
        let (error, session_id, results) = match state.sessions.get_mut(&self.broker) {
            Some(cache) => cache.finish(&self.context, results, now),
            None => (ErrorCode::None, 0, results),
        };
        Some(self.respond(state, error, session_id, results))
    }

    fn respond(
        &self,
        state: &ClusterState,
        error: ErrorCode,
        session_id: i32,
        results: Vec<(FetchPartitionReq, PartitionData)>,
    ) -> FetchResponse {
        let v = self.version;
        let mut responses: Vec<FetchableTopicResponse> = Vec::new();
        let mut leaders: Vec<i32> = Vec::new();
        for (req, data) in results {
            if data.current_leader.leader_id >= 0 {
                leaders.push(data.current_leader.leader_id);
            }
            let same = responses.last().is_some_and(|t| {
                if v >= 13 {
                    t.topic_id == req.topic_id
                } else {
                    t.topic == req.topic
                }
            });
            if !same {
                responses.push(FetchableTopicResponse {
                    topic: if v >= 13 {
                        String::new()
                    } else {
                        req.topic.clone()
                    },
                    topic_id: if v >= 13 { req.topic_id } else { Uuid::ZERO },
                    ..FetchableTopicResponse::default()
                });
            }
            if let Some(t) = responses.last_mut() {
                t.partitions.push(data);
            }
        }
        leaders.sort_unstable();
        leaders.dedup();
        let node_endpoints = if v >= 16 {
            leaders
                .iter()
                .filter_map(|id| state.broker(*id))
                .map(|b| NodeEndpoint {
                    node_id: b.id,
                    host: b.host.clone(),
                    port: b.port,
                    rack: None,
                    ..NodeEndpoint::default()
                })
                .collect()
        } else {
            Vec::new()
        };
        FetchResponse {
            error_code: if v >= 7 { error.code() } else { 0 },
            session_id: if v >= 7 { session_id } else { 0 },
            responses,
            node_endpoints,
            ..FetchResponse::default()
        }
    }
}

fn error_data(
    state: &ClusterState,
    req: &FetchPartitionReq,
    v: i16,
    code: ErrorCode,
) -> PartitionData {
    let mut data = PartitionData {
        partition_index: req.partition,
        error_code: code.code(),
        high_watermark: -1,
        records: Some(Bytes::new()),
        ..PartitionData::default()
    };
    if v >= 12
        && matches!(
            code,
            ErrorCode::NotLeaderOrFollower | ErrorCode::FencedLeaderEpoch
        )
    {
        if let Some((leader_id, leader_epoch)) = state.leader_hint(&req.topic, req.partition) {
            data.current_leader = LeaderIdAndEpoch {
                leader_id,
                leader_epoch,
                ..LeaderIdAndEpoch::default()
            };
        }
    }
    data
}

fn read_partition(
    state: &mut ClusterState,
    broker: i32,
    v: i16,
    req: &FetchPartitionReq,
    limit: usize,
    min_one: bool,
    read_committed: bool,
) -> (PartitionData, usize) {
    if req.topic.is_empty() && v >= 13 {
        return (error_data(state, req, v, ErrorCode::UnknownTopicId), 0);
    }
    // From v11 a consumer's Fetch carries client metadata and a follower may serve it, up to
    // its high watermark (KIP-392); the mock's replicas share one log, so a follower is always
    // caught up.
    let from_follower_allowed = v >= 11;
    let p = match state.replica_partition(
        &req.topic,
        req.partition,
        broker,
        req.current_leader_epoch,
        !from_follower_allowed,
    ) {
        Ok(p) => p,
        Err(code) => return (error_data(state, req, v, code), 0),
    };
    let log = &p.log;
    let (hw, lso, log_start) = (
        log.high_watermark(),
        log.last_stable_offset(),
        log.log_start_offset(),
    );
    let mut data = PartitionData {
        partition_index: req.partition,
        high_watermark: hw,
        last_stable_offset: lso,
        log_start_offset: if v >= 5 { log_start } else { -1 },
        aborted_transactions: if read_committed {
            Some(Vec::new())
        } else {
            None
        },
        records: Some(Bytes::new()),
        ..PartitionData::default()
    };
    if v >= 12 && req.last_fetched_epoch >= 0 {
        let (epoch, end) = log
            .epochs()
            .end_offset_for(req.last_fetched_epoch, log.log_end_offset());
        // Kafka: an epoch the log cannot place, or an offset below the log start, is out of
        // range whatever the epochs say.
        if epoch == UNDEFINED_EPOCH || end == UNDEFINED_OFFSET || req.fetch_offset < log_start {
            return (error_data(state, req, v, ErrorCode::OffsetOutOfRange), 0);
        }
        if epoch < req.last_fetched_epoch || end < req.fetch_offset {
            data.diverging_epoch = EpochEndOffset {
                epoch,
                end_offset: end,
                ..EpochEndOffset::default()
            };
            return (data, 0);
        }
    }
    if req.fetch_offset < log_start || req.fetch_offset > log.log_end_offset() {
        return (error_data(state, req, v, ErrorCode::OffsetOutOfRange), 0);
    }
    let upper = if read_committed { lso } else { hw };
    let max = usize::try_from(req.max_bytes).unwrap_or(0).min(limit);
    let parts = log.read_parts(req.fetch_offset, max, min_one, upper);
    let size: usize = parts.iter().map(Bytes::len).sum();
    if read_committed && size > 0 {
        let end = log.read_upper_bound(req.fetch_offset, size);
        data.aborted_transactions = Some(
            log.aborted_between(req.fetch_offset, end)
                .into_iter()
                .map(|(producer_id, first_offset)| AbortedTransaction {
                    producer_id,
                    first_offset,
                    ..AbortedTransaction::default()
                })
                .collect(),
        );
    }
    data.records = Some(state.stash.records(parts));
    (data, size)
}

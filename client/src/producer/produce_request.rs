//! Building the Produce request for the batches drained for one broker, and matching its
//! response back to them.

use gregor_protocol::ErrorCode;
use gregor_protocol::messages::produce::{
    PartitionProduceData, ProduceRequest, ProduceResponse, TopicProduceData,
};
use gregor_protocol::primitives::Uuid;

use super::batch::ProducerBatch;
use gregor_protocol::TopicPartition;

/// The first Produce version that names topics by id (KIP-516).
const FIRST_TOPIC_ID_VERSION: i16 = 13;

/// Why a Produce request could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProduceRequestError {
    /// Version 13+ names topics by id and the lookup had none for this topic.
    #[error("no topic id known for topic {topic:?} (needed by Produce v13+)")]
    MissingTopicId {
        /// The topic.
        topic: String,
    },
    /// A batch was not encoded (only drained batches can be sent).
    #[error("batch for {tp} was not drained (no encoded records)")]
    NotEncoded {
        /// The batch's partition.
        tp: String,
    },
}

/// A record the broker rejected, making it reject the batch (v8+).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    /// The record's index in its batch.
    pub batch_index: i32,
    /// What was wrong with it.
    pub message: Option<String>,
}

/// The leader the broker pointed to in a NOT_LEADER_OR_FOLLOWER answer (v10+).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaderHint {
    /// The new leader's broker id.
    pub leader_id: i32,
    /// Its leader epoch.
    pub leader_epoch: i32,
}

/// The broker's result for one batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionOutcome {
    /// The error, [`ErrorCode::None`] on success.
    pub error: ErrorCode,
    /// The offset of the batch's first record (record `i` has `base_offset + i`); -1 when
    /// unknown.
    pub base_offset: i64,
    /// The broker's append time when the topic uses LogAppendTime, else -1.
    pub log_append_time_ms: i64,
    /// The partition's log start offset (v5+), else -1.
    pub log_start_offset: i64,
    /// The records that made the batch fail (v8+).
    pub record_errors: Vec<RecordError>,
    /// The broker's summary of the failure (v8+).
    pub error_message: Option<String>,
    /// Where the partition's leadership went (v10+), when the broker says.
    pub current_leader: Option<LeaderHint>,
}

impl PartitionOutcome {
    /// A success at `base_offset` (for acks=0, where no response comes, use -1).
    pub fn success(base_offset: i64) -> Self {
        Self::error(ErrorCode::None, base_offset)
    }

    /// An outcome with `error` and nothing else known.
    pub fn error(error: ErrorCode, base_offset: i64) -> Self {
        Self {
            error,
            base_offset,
            log_append_time_ms: -1,
            log_start_offset: -1,
            record_errors: Vec::new(),
            error_message: None,
            current_leader: None,
        }
    }
}

/// Builds the Produce request carrying `batches` (drained for one broker) in `version`:
/// `transactional_id` null, topics in the order their first batch appears. From v13 topics are
/// named by id, found with `topic_id`; before, by name.
pub fn build_produce_request<C>(
    version: i16,
    acks: i16,
    timeout_ms: i32,
    batches: &[ProducerBatch<C>],
    topic_id: impl Fn(&str) -> Option<Uuid>,
) -> Result<ProduceRequest, ProduceRequestError> {
    let by_id = version >= FIRST_TOPIC_ID_VERSION;
    let mut topics: Vec<(&str, TopicProduceData)> = Vec::new();
    for batch in batches {
        let tp = batch.topic_partition();
        let records = batch
            .encoded()
            .cloned()
            .ok_or_else(|| ProduceRequestError::NotEncoded { tp: tp.to_string() })?;
        let partition = PartitionProduceData {
            index: tp.partition,
            records: Some(records),
            unknown_tagged_fields: Default::default(),
        };
        if let Some((_, data)) = topics.iter_mut().find(|(t, _)| *t == &*tp.topic) {
            data.partition_data.push(partition);
            continue;
        }
        let (name, id) = if by_id {
            let id = topic_id(&tp.topic).ok_or_else(|| ProduceRequestError::MissingTopicId {
                topic: tp.topic.to_string(),
            })?;
            (String::new(), id)
        } else {
            (tp.topic.to_string(), Uuid::ZERO)
        };
        let data = TopicProduceData {
            name,
            topic_id: id,
            partition_data: vec![partition],
            unknown_tagged_fields: Default::default(),
        };
        topics.push((&tp.topic, data));
    }
    Ok(ProduceRequest {
        transactional_id: None,
        acks,
        timeout_ms,
        topic_data: topics.into_iter().map(|(_, d)| d).collect(),
        unknown_tagged_fields: Default::default(),
    })
}

/// Matches `response` (to a request built by [`build_produce_request`] in `version`) to
/// `batches`: one entry per batch, in order, `None` where the response has no result for its
/// partition (treat that as a retriable failure). From v13 topics in the response are matched
/// by the ids `topic_id` gives.
pub fn match_produce_response<C>(
    version: i16,
    batches: &[ProducerBatch<C>],
    response: &ProduceResponse,
    topic_id: impl Fn(&str) -> Option<Uuid>,
) -> Vec<Option<PartitionOutcome>> {
    let by_id = version >= FIRST_TOPIC_ID_VERSION;
    batches
        .iter()
        .map(|batch| {
            let tp: &TopicPartition = batch.topic_partition();
            let id = if by_id { topic_id(&tp.topic) } else { None };
            let found = response
                .responses
                .iter()
                .filter(|t| match id {
                    Some(id) => t.topic_id == id,
                    None => !by_id && t.name == *tp.topic,
                })
                .flat_map(|t| &t.partition_responses)
                .find(|p| p.index == tp.partition);
            if found.is_none() {
                tracing::warn!(%tp, "produce response has no result for the partition");
            }
            found.map(|p| PartitionOutcome {
                error: ErrorCode::from_code(p.error_code),
                base_offset: p.base_offset,
                log_append_time_ms: p.log_append_time_ms,
                log_start_offset: p.log_start_offset,
                record_errors: p
                    .record_errors
                    .iter()
                    .map(|e| RecordError {
                        batch_index: e.batch_index,
                        message: e.batch_index_error_message.clone(),
                    })
                    .collect(),
                error_message: p.error_message.clone(),
                current_leader: (p.current_leader.leader_id >= 0).then_some(LeaderHint {
                    leader_id: p.current_leader.leader_id,
                    leader_epoch: p.current_leader.leader_epoch,
                }),
            })
        })
        .collect()
}

//! CreateTopics (19).
//!
//! Per topic, Kafka's checks: a name given twice in one request → `INVALID_REQUEST`; both an
//! assignment and a partition count or replication factor → `INVALID_REQUEST`; an invalid name
//! → `INVALID_TOPIC_EXCEPTION`; an existing topic → `TOPIC_ALREADY_EXISTS`; a partition count
//! below 1 (other than -1, the default) → `INVALID_PARTITIONS`; a replication factor below 1
//! or above the broker count → `INVALID_REPLICATION_FACTOR`; a bad assignment →
//! `INVALID_REPLICA_ASSIGNMENT`. `validate_only` checks without creating. Topic configs are
//! accepted and ignored; v5+ answers report the partition count and replication factor, and an
//! empty config list.

use std::collections::HashMap;

use gregor_protocol::ErrorCode;
use gregor_protocol::messages::create_topics::CreatableTopicResult;
use gregor_protocol::messages::{CreateTopicsRequest, CreateTopicsResponse};
use gregor_protocol::primitives::Uuid;

use super::{Ctx, Handle, Reply, since};

impl Handle for CreateTopicsRequest {
    fn handle(self, cx: &mut Ctx<'_>) -> Reply<CreateTopicsResponse> {
        let v = cx.version;
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for t in &self.topics {
            *seen.entry(t.name.as_str()).or_insert(0) += 1;
        }
        let mut results = Vec::new();
        for t in &self.topics {
            let mut result = CreatableTopicResult {
                name: t.name.clone(),
                error_message: None,
                ..CreatableTopicResult::default()
            };
            let outcome = if seen.get(t.name.as_str()).copied().unwrap_or(0) > 1 {
                Err((
                    ErrorCode::InvalidRequest,
                    "topic named twice in one request".to_owned(),
                ))
            } else if !t.assignments.is_empty()
                && (t.num_partitions != -1 || t.replication_factor != -1)
            {
                Err((
                    ErrorCode::InvalidRequest,
                    "an assignment excludes a partition count and replication factor".to_owned(),
                ))
            } else {
                let mut assignments: Vec<(i32, Vec<i32>)> = t
                    .assignments
                    .iter()
                    .map(|a| (a.partition_index, a.broker_ids.clone()))
                    .collect();
                assignments.sort_by_key(|a| a.0);
                let ordered = assignments.iter().enumerate().all(|(i, a)| a.0 == i as i32);
                let replicas: Vec<Vec<i32>> = assignments.into_iter().map(|a| a.1).collect();
                let partitions = if t.num_partitions == -1 {
                    cx.state.config.default_partitions
                } else {
                    t.num_partitions
                };
                if !ordered {
                    Err((
                        ErrorCode::InvalidReplicaAssignment,
                        "assignments must cover partitions 0..n".to_owned(),
                    ))
                } else if self.validate_only {
                    cx.state
                        .check_new_topic(&t.name, partitions, t.replication_factor, &replicas)
                        .map(|r| {
                            (
                                Uuid::ZERO,
                                r.len() as i32,
                                r.first().map_or(0, |x| x.len()) as i16,
                            )
                        })
                } else {
                    cx.state
                        .create_topic(&t.name, partitions, t.replication_factor, &replicas)
                        .map(|topic| {
                            let rf = topic.partitions.first().map_or(0, |p| p.replicas.len());
                            (topic.id, topic.partitions.len() as i32, rf as i16)
                        })
                }
            };
            match outcome {
                Ok((id, partitions, rf)) => {
                    result.topic_id = since(v, 7, id);
                    if v >= 5 {
                        result.num_partitions = partitions;
                        result.replication_factor = rf;
                    }
                }
                Err((code, message)) => {
                    result.error_code = code.code();
                    result.error_message = Some(message);
                }
            }
            results.push(result);
        }
        Reply::Respond(CreateTopicsResponse {
            topics: results,
            ..CreateTopicsResponse::default()
        })
    }
}

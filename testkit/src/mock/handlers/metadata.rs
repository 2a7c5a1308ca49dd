//! Metadata (3).
//!
//! Brokers: those that are up. Topics: all of them for a null list (v1+) or an empty one (v0),
//! else those asked for, by name or (v12+) by id. A partition whose leader is down has leader
//! -1 and `LEADER_NOT_AVAILABLE`; its in-sync replicas are the replicas that are up, the others
//! are offline (v5+). Leader epochs from v7, topic ids from v10.
//!
//! An unknown topic asked for by name is `UNKNOWN_TOPIC_OR_PARTITION` (`INVALID_TOPIC_EXCEPTION`
//! for an invalid name), unless auto-creation is on in the cluster *and* allowed by the request
//! (always allowed before v4): then it is created and, as a KRaft broker answers while the
//! controller creates it, reported with `UNKNOWN_TOPIC_OR_PARTITION` and no partitions; the next
//! request sees it. An unknown
//! topic id is `UNKNOWN_TOPIC_ID` with a null name. Authorized operations, when asked for
//! (v8+), are all topic operations (no authorizer).

use gregor_protocol::ErrorCode;
use gregor_protocol::messages::metadata::{
    AUTHORIZED_OPERATIONS_OMITTED, MetadataResponseBroker, MetadataResponsePartition,
    MetadataResponseTopic,
};
use gregor_protocol::messages::{MetadataRequest, MetadataResponse};
use gregor_protocol::primitives::Uuid;

use super::{Ctx, Handle, Reply, since};
use crate::mock::state::{ClusterState, TopicState, valid_topic_name};

/// Kafka's topic operations (READ 3, WRITE 4, CREATE 5, DELETE 6, ALTER 7, DESCRIBE 8,
/// DESCRIBE_CONFIGS 10, ALTER_CONFIGS 11) as an authorized-operations bit field.
const ALL_TOPIC_OPERATIONS: i32 =
    (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 10) | (1 << 11);

fn describe(state: &ClusterState, t: &TopicState, v: i16, ops: bool) -> MetadataResponseTopic {
    let partitions = t
        .partitions
        .iter()
        .map(|p| {
            let leader_up = state.broker_is_up(p.leader);
            let (isr, offline): (Vec<i32>, Vec<i32>) =
                p.replicas.iter().partition(|r| state.broker_is_up(**r));
            MetadataResponsePartition {
                error_code: if leader_up {
                    0
                } else {
                    ErrorCode::LeaderNotAvailable.code()
                },
                partition_index: p.index,
                leader_id: if leader_up { p.leader } else { -1 },
                leader_epoch: if v >= 7 { p.leader_epoch } else { -1 },
                replica_nodes: p.replicas.clone(),
                isr_nodes: isr,
                offline_replicas: since(v, 5, offline),
                ..MetadataResponsePartition::default()
            }
        })
        .collect();
    MetadataResponseTopic {
        error_code: 0,
        name: Some(t.name.clone()),
        topic_id: since(v, 10, t.id),
        partitions,
        topic_authorized_operations: if v >= 8 && ops {
            ALL_TOPIC_OPERATIONS
        } else {
            AUTHORIZED_OPERATIONS_OMITTED
        },
        ..MetadataResponseTopic::default()
    }
}

fn missing(name: Option<String>, id: Uuid, error: ErrorCode, v: i16) -> MetadataResponseTopic {
    MetadataResponseTopic {
        error_code: error.code(),
        name: if v >= 12 {
            name
        } else {
            Some(name.unwrap_or_default())
        },
        topic_id: since(v, 10, id),
        ..MetadataResponseTopic::default()
    }
}

impl Handle for MetadataRequest {
    fn handle(self, cx: &mut Ctx<'_>) -> Reply<MetadataResponse> {
        let v = cx.version;
        let ops = self.include_topic_authorized_operations;
        let all = match &self.topics {
            None => true,
            Some(t) => t.is_empty() && v == 0,
        };
        let mut topics = Vec::new();
        if all {
            for t in cx.state.topics() {
                topics.push(describe(cx.state, t, v, ops));
            }
        } else {
            let auto =
                cx.state.config.auto_create_topics && (v < 4 || self.allow_auto_topic_creation);
            for rt in self.topics.iter().flatten() {
                match rt
                    .name
                    .as_deref()
                    .filter(|n| !n.is_empty() || rt.topic_id == Uuid::ZERO)
                {
                    Some(name) => {
                        if let Some(t) = cx.state.topic(name) {
                            topics.push(describe(cx.state, t, v, ops));
                        } else if !valid_topic_name(name) {
                            let e = ErrorCode::InvalidTopicException;
                            topics.push(missing(Some(name.into()), Uuid::ZERO, e, v));
                        } else if auto {
                            let partitions = cx.state.config.default_partitions;
                            let err = match cx.state.create_topic(name, partitions, -1, &[]) {
                                Ok(_) => ErrorCode::UnknownTopicOrPartition,
                                Err((code, _)) => code,
                            };
                            topics.push(missing(Some(name.into()), Uuid::ZERO, err, v));
                        } else {
                            let e = ErrorCode::UnknownTopicOrPartition;
                            topics.push(missing(Some(name.into()), Uuid::ZERO, e, v));
                        }
                    }
                    None => {
                        let found = cx
                            .state
                            .topic_name(rt.topic_id)
                            .and_then(|n| cx.state.topic(n));
                        match found {
                            Some(t) => topics.push(describe(cx.state, t, v, ops)),
                            None => topics.push(missing(
                                None,
                                rt.topic_id,
                                ErrorCode::UnknownTopicId,
                                v,
                            )),
                        }
                    }
                }
            }
        }
        let brokers = cx
            .state
            .brokers
            .iter()
            .filter(|b| b.up)
            .map(|b| MetadataResponseBroker {
                node_id: b.id,
                host: b.host.clone(),
                port: b.port,
                ..MetadataResponseBroker::default()
            })
            .collect();
        let controller = cx
            .state
            .brokers
            .iter()
            .filter(|b| b.up)
            .map(|b| b.id)
            .min()
            .unwrap_or(-1);
        Reply::Respond(MetadataResponse {
            brokers,
            cluster_id: since(v, 2, Some(cx.state.config.cluster_id.clone())),
            controller_id: if v >= 1 { controller } else { -1 },
            topics,
            ..MetadataResponse::default()
        })
    }
}

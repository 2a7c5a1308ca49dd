//! Produce (0).
//!
//! Kafka's semantics:
//! - `acks` must be -1, 0 or 1, else `INVALID_REQUIRED_ACKS` for every partition. Every
//!   replica is in sync, so -1 and 1 answer at once; with `acks=0` nothing is answered, and when
//!   any partition failed the connection is closed instead (so the producer notices and
//!   refreshes its metadata), as Kafka does.
//! - Per partition: unknown topic → `UNKNOWN_TOPIC_OR_PARTITION` (`UNKNOWN_TOPIC_ID` by id,
//!   v13+); not the leader → `NOT_LEADER_OR_FOLLOWER` with the current leader and its endpoint
//!   (KIP-951, v10+); then the record set checks of [`PartitionLog::append_client`]
//!   (`INVALID_RECORD`, `CORRUPT_MESSAGE`, `MESSAGE_TOO_LARGE`, `UNSUPPORTED_COMPRESSION_TYPE`
//!   for zstd before v7) and the idempotent producer checks (`INVALID_PRODUCER_EPOCH`,
//!   `OUT_OF_ORDER_SEQUENCE_NUMBER`). A duplicate batch is answered as Kafka answers it: no
//!   error and the base offset the original got.
//!
//! [`PartitionLog::append_client`]: crate::mock::log::PartitionLog::append_client

use gregor_protocol::ErrorCode;
use gregor_protocol::messages::produce::{
    LeaderIdAndEpoch, NodeEndpoint, PartitionProduceResponse, TopicProduceResponse,
};
use gregor_protocol::messages::{ProduceRequest, ProduceResponse};
use gregor_protocol::primitives::Uuid;

use super::{Ctx, Handle, Reply};
use crate::mock::log::AppendRules;

impl Handle for ProduceRequest {
    fn handle(self, cx: &mut Ctx<'_>) -> Reply<ProduceResponse> {
        let v = cx.version;
        let acks_valid = matches!(self.acks, -1..=1);
        let mut any_error = false;
        let mut appended = false;
        let mut leaders: Vec<i32> = Vec::new();
        let mut responses = Vec::new();
        for t in &self.topic_data {
            let name = if v >= 13 {
                cx.state.topic_name(t.topic_id).map(str::to_owned)
            } else {
                Some(t.name.clone())
            };
            let mut partition_responses = Vec::new();
            for p in &t.partition_data {
                let mut resp = PartitionProduceResponse {
                    index: p.index,
                    base_offset: -1,
                    ..PartitionProduceResponse::default()
                };
                let outcome = match &name {
                    _ if !acks_valid => Err((ErrorCode::InvalidRequiredAcks, None)),
                    None => Err((ErrorCode::UnknownTopicId, None)),
                    Some(name) => append(cx, name, p.index, p.records.as_ref()),
                };
                match outcome {
                    Ok((base, log_start)) => {
                        resp.base_offset = base;
                        if v >= 5 {
                            resp.log_start_offset = log_start;
                        }
                        appended = true;
                    }
                    Err((code, message)) => {
                        any_error = true;
                        resp.error_code = code.code();
                        if v >= 8 {
                            resp.error_message =
                                message.or_else(|| Some(code.description().into()));
                        }
                        let moved = matches!(
                            code,
                            ErrorCode::NotLeaderOrFollower | ErrorCode::FencedLeaderEpoch
                        );
                        if let (true, true, Some(name)) = (moved, v >= 10, &name) {
                            if let Some((leader_id, leader_epoch)) =
                                cx.state.leader_hint(name, p.index)
                            {
                                resp.current_leader = LeaderIdAndEpoch {
                                    leader_id,
                                    leader_epoch,
                                    ..LeaderIdAndEpoch::default()
                                };
                                leaders.push(leader_id);
                            }
                        }
                    }
                }
                partition_responses.push(resp);
            }
            responses.push(TopicProduceResponse {
                name: if v >= 13 {
                    String::new()
                } else {
                    t.name.clone()
                },
                topic_id: if v >= 13 { t.topic_id } else { Uuid::ZERO },
                partition_responses,
                ..TopicProduceResponse::default()
            });
        }
        if appended {
            cx.state.touch();
        }
        if self.acks == 0 {
            return if any_error {
                Reply::Close("acks=0 produce failed: closing the connection as Kafka does".into())
            } else {
                Reply::NoResponse
            };
        }
        leaders.sort_unstable();
        leaders.dedup();
        let node_endpoints = leaders
            .iter()
            .filter_map(|id| cx.state.broker(*id))
            .map(|b| NodeEndpoint {
                node_id: b.id,
                host: b.host.clone(),
                port: b.port,
                rack: None,
                ..NodeEndpoint::default()
            })
            .collect();
        Reply::Respond(ProduceResponse {
            responses,
            node_endpoints,
            ..ProduceResponse::default()
        })
    }
}

type AppendOutcome = Result<(i64, i64), (ErrorCode, Option<String>)>;

fn append(
    cx: &mut Ctx<'_>,
    topic: &str,
    partition: i32,
    records: Option<&bytes::Bytes>,
) -> AppendOutcome {
    let rules_base = AppendRules {
        leader_epoch: 0,
        max_message_bytes: cx.state.config.max_message_bytes,
        allow_zstd: cx.version >= 7,
    };
    let p = cx
        .state
        .leader_partition(topic, partition, cx.broker, -1)
        .map_err(|code| (code, None))?;
    let rules = AppendRules {
        leader_epoch: p.leader_epoch,
        ..rules_base
    };
    let empty = bytes::Bytes::new();
    let info = p
        .log
        .append_client(records.unwrap_or(&empty), &rules)
        .map_err(|e| (e.code, Some(e.message)))?;
    Ok((info.base_offset, p.log.log_start_offset()))
}

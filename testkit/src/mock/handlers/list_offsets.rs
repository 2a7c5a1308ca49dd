//! ListOffsets (2).
//!
//! Per partition, after the leader checks (unknown → `UNKNOWN_TOPIC_OR_PARTITION`;
//! `current_leader_epoch` older → `FENCED_LEADER_EPOCH`, newer → `UNKNOWN_LEADER_EPOCH`; not the
//! leader → `NOT_LEADER_OR_FOLLOWER`), Kafka's answers:
//! - earliest (-2) and earliest-local (-4): the log start offset, timestamp -1, the epoch of
//!   that offset;
//! - latest (-1): the high watermark, or the last stable offset for `read_committed`,
//!   timestamp -1, the current leader epoch;
//! - max timestamp (-3, KIP-734): the first record with the largest timestamp, with that
//!   timestamp and its batch's epoch;
//! - latest-tiered (-5): -1 (no tiered storage);
//! - a timestamp: the first record at or after the log start whose timestamp is at least the
//!   target, below the high watermark (last stable offset for `read_committed`), with its
//!   timestamp and epoch; none → offset and timestamp -1.
//!
//! The leader epoch is reported from v4.

use gregor_protocol::ErrorCode;
use gregor_protocol::messages::list_offsets::{
    EARLIEST_LOCAL_TIMESTAMP, EARLIEST_TIMESTAMP, LATEST_TIERED_TIMESTAMP, LATEST_TIMESTAMP,
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse, MAX_TIMESTAMP, READ_COMMITTED,
};
use gregor_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse};

use super::{Ctx, Handle, Reply};
use crate::mock::log::UNDEFINED_EPOCH;

/// `(timestamp, offset, leader epoch)` of an answer.
type Found = (i64, i64, i32);

const NOT_FOUND: Found = (-1, -1, UNDEFINED_EPOCH);

impl Handle for ListOffsetsRequest {
    fn handle(self, cx: &mut Ctx<'_>) -> Reply<ListOffsetsResponse> {
        let v = cx.version;
        let broker = cx.broker;
        let committed = self.isolation_level == READ_COMMITTED;
        let topics = self
            .topics
            .iter()
            .map(|t| ListOffsetsTopicResponse {
                name: t.name.clone(),
                partitions: t
                    .partitions
                    .iter()
                    .map(|p| {
                        let found = cx
                            .state
                            .leader_partition(
                                &t.name,
                                p.partition_index,
                                broker,
                                p.current_leader_epoch,
                            )
                            .and_then(|part| {
                                let log = &part.log;
                                let upper = if committed {
                                    log.last_stable_offset()
                                } else {
                                    log.high_watermark()
                                };
                                let unknown = |_| ErrorCode::UnknownServerError;
                                Ok(match p.timestamp {
                                    EARLIEST_TIMESTAMP | EARLIEST_LOCAL_TIMESTAMP => {
                                        let start = log.log_start_offset();
                                        let epoch = log.epochs().epoch_for_offset(start);
                                        (-1, start, epoch.unwrap_or(UNDEFINED_EPOCH))
                                    }
                                    LATEST_TIMESTAMP => (-1, upper, part.leader_epoch),
                                    MAX_TIMESTAMP => log
                                        .max_timestamp_offset()
                                        .map_err(unknown)?
                                        .map_or(NOT_FOUND, |f| {
                                            (f.timestamp, f.offset, f.leader_epoch)
                                        }),
                                    LATEST_TIERED_TIMESTAMP => NOT_FOUND,
                                    ts => log
                                        .offset_for_timestamp(ts, upper)
                                        .map_err(unknown)?
                                        .map_or(NOT_FOUND, |f| {
                                            (f.timestamp, f.offset, f.leader_epoch)
                                        }),
                                })
                            });
                        let (code, (timestamp, offset, epoch)) = match found {
                            Ok(f) => (ErrorCode::None, f),
                            Err(code) => (code, NOT_FOUND),
                        };
                        ListOffsetsPartitionResponse {
                            partition_index: p.partition_index,
                            error_code: code.code(),
                            timestamp,
                            offset,
                            leader_epoch: if v >= 4 { epoch } else { UNDEFINED_EPOCH },
                            ..ListOffsetsPartitionResponse::default()
                        }
                    })
                    .collect(),
                ..ListOffsetsTopicResponse::default()
            })
            .collect();
        Reply::Respond(ListOffsetsResponse {
            topics,
            ..ListOffsetsResponse::default()
        })
    }
}

//! DeleteRecords (21).
//!
//! Moves a partition's log start offset up to the requested offset (-1: the high watermark),
//! dropping the batches wholly below it; answers the new log start offset (`low_watermark`).
//! Kafka's checks: unknown → `UNKNOWN_TOPIC_OR_PARTITION`; not the leader →
//! `NOT_LEADER_OR_FOLLOWER`; an offset above the high watermark or below -1 →
//! `OFFSET_OUT_OF_RANGE`. An offset below the current log start changes nothing.

use gregor_protocol::ErrorCode;
use gregor_protocol::messages::delete_records::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use gregor_protocol::messages::{DeleteRecordsRequest, DeleteRecordsResponse};

use super::{Ctx, Handle, Reply};

/// `offset` of a DeleteRecords partition meaning "up to the high watermark".
const HIGH_WATERMARK: i64 = -1;

impl Handle for DeleteRecordsRequest {
    fn handle(self, cx: &mut Ctx<'_>) -> Reply<DeleteRecordsResponse> {
        let broker = cx.broker;
        let mut changed = false;
        let topics = self
            .topics
            .iter()
            .map(|t| DeleteRecordsTopicResult {
                name: t.name.clone(),
                partitions: t
                    .partitions
                    .iter()
                    .map(|p| {
                        let outcome = cx
                            .state
                            .leader_partition(&t.name, p.partition_index, broker, -1)
                            .and_then(|part| {
                                let log = &mut part.log;
                                let target = if p.offset == HIGH_WATERMARK {
                                    log.high_watermark()
                                } else {
                                    p.offset
                                };
                                let before = log.log_start_offset();
                                let after = log
                                    .delete_records(target)
                                    .map_err(|_| ErrorCode::OffsetOutOfRange)?;
                                changed |= after != before;
                                Ok(after)
                            });
                        let (low_watermark, code) = match outcome {
                            Ok(low) => (low, ErrorCode::None),
                            Err(code) => (-1, code),
                        };
                        DeleteRecordsPartitionResult {
                            partition_index: p.partition_index,
                            low_watermark,
                            error_code: code.code(),
                            ..DeleteRecordsPartitionResult::default()
                        }
                    })
                    .collect(),
                ..DeleteRecordsTopicResult::default()
            })
            .collect();
        if changed {
            cx.state.touch();
        }
        Reply::Respond(DeleteRecordsResponse {
            topics,
            ..DeleteRecordsResponse::default()
        })
    }
}

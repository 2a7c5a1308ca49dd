//! OffsetForLeaderEpoch (23).
//!
//! Per partition, after the leader checks (as for ListOffsets), the end offset of the requested
//! epoch from the partition's leader epoch cache, by Kafka's rule: the latest epoch ends at the
//! log end offset; an older epoch ends where the next known epoch starts, and is reported as
//! the largest known epoch not above it (or itself, when it is below every known epoch); an
//! unknown newer epoch, or -1, gives epoch and offset -1.

use gregor_protocol::messages::offset_for_leader_epoch::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use gregor_protocol::messages::{OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse};

use super::{Ctx, Handle, Reply};
use crate::mock::log::{UNDEFINED_EPOCH, UNDEFINED_OFFSET};

impl Handle for OffsetForLeaderEpochRequest {
    fn handle(self, cx: &mut Ctx<'_>) -> Reply<OffsetForLeaderEpochResponse> {
        let broker = cx.broker;
        let topics = self
            .topics
            .iter()
            .map(|t| OffsetForLeaderTopicResult {
                topic: t.topic.clone(),
                partitions: t
                    .partitions
                    .iter()
                    .map(|p| {
                        let found = cx
                            .state
                            .leader_partition(&t.topic, p.partition, broker, p.current_leader_epoch)
                            .map(|part| {
                                part.log
                                    .epochs()
                                    .end_offset_for(p.leader_epoch, part.log.log_end_offset())
                            });
                        let (error_code, (leader_epoch, end_offset)) = match found {
                            Ok(f) => (0, f),
                            Err(code) => (code.code(), (UNDEFINED_EPOCH, UNDEFINED_OFFSET)),
                        };
                        EpochEndOffset {
                            error_code,
                            partition: p.partition,
                            leader_epoch,
                            end_offset,
                            ..EpochEndOffset::default()
                        }
                    })
                    .collect(),
                ..OffsetForLeaderTopicResult::default()
            })
            .collect();
        Reply::Respond(OffsetForLeaderEpochResponse {
            topics,
            ..OffsetForLeaderEpochResponse::default()
        })
    }
}

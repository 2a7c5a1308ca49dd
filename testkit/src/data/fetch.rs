//! Fetch requests built by hand, for tests that look at what a broker answers.

use gregor_protocol::messages::FetchRequest;
use gregor_protocol::messages::fetch::{FetchPartition, FetchTopic};
use gregor_protocol::primitives::Uuid;

/// A Fetch request of `version` for one partition of `topic` from `offset`, as a consumer sends
/// it: the topic named below v13 and identified by `topic_id` from v13 (KIP-516), no session
/// (epoch -1), no current leader epoch, `max_bytes` for the response and the partition, no
/// waiting beyond `max_wait_ms`. Tests change the fields they measure.
pub fn partition_fetch(
    topic: &str,
    topic_id: Uuid,
    partition: i32,
    offset: i64,
    max_bytes: i32,
    max_wait_ms: i32,
    version: i16,
) -> FetchRequest {
    let by_id = version >= 13;
    FetchRequest {
        replica_id: -1,
        max_wait_ms,
        min_bytes: 1,
        max_bytes,
        session_epoch: -1,
        topics: vec![FetchTopic {
            topic: if by_id {
                String::new()
            } else {
                topic.to_owned()
            },
            topic_id: if by_id { topic_id } else { Uuid::ZERO },
            partitions: vec![FetchPartition {
                partition,
                current_leader_epoch: -1,
                fetch_offset: offset,
                last_fetched_epoch: -1,
                log_start_offset: -1,
                partition_max_bytes: max_bytes,
                ..FetchPartition::default()
            }],
            ..FetchTopic::default()
        }],
        ..FetchRequest::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_are_named_below_v13_and_identified_from_it() {
        let id = Uuid([7; 16]);
        let old = partition_fetch("t", id, 2, 5, 100, 0, 12);
        assert_eq!(
            (old.topics[0].topic.as_str(), old.topics[0].topic_id),
            ("t", Uuid::ZERO)
        );
        let new = partition_fetch("t", id, 2, 5, 100, 0, 13);
        assert_eq!(
            (new.topics[0].topic.as_str(), new.topics[0].topic_id),
            ("", id)
        );
        let p = &new.topics[0].partitions[0];
        assert_eq!(
            (p.partition, p.fetch_offset, p.partition_max_bytes),
            (2, 5, 100)
        );
        assert_eq!(
            (new.replica_id, new.session_epoch, p.current_leader_epoch),
            (-1, -1, -1)
        );
    }
}

//! OffsetCommit and OffsetFetch on a consumer-protocol group: fenced by member epoch.

use gregor_protocol::ErrorCode;
use gregor_protocol::messages::offset_commit::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use gregor_protocol::messages::offset_fetch::{OffsetFetchRequestGroup, OffsetFetchRequestTopics};
use gregor_protocol::messages::{OffsetCommitRequest, OffsetFetchRequest};

use super::support::{Broker, Member, brokers, name, retry_coordinator};

/// Commits offset `offset` of partition 0 in `version`; returns the partition's error.
async fn commit(
    b: &Broker,
    group: &str,
    topic: &str,
    who: (&str, i32),
    offset: i64,
    version: i16,
) -> ErrorCode {
    let req = OffsetCommitRequest {
        group_id: group.to_owned(),
        generation_id_or_member_epoch: who.1,
        member_id: who.0.to_owned(),
        topics: vec![OffsetCommitRequestTopic {
            name: topic.to_owned(),
            partitions: vec![OffsetCommitRequestPartition {
                partition_index: 0,
                committed_offset: offset,
                committed_leader_epoch: -1,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    retry_coordinator(b, group, |conn| {
        let req = req.clone();
        async move {
            let resp = conn
                .send_versioned(&req, version)
                .await
                .expect("OffsetCommit answered");
            let e = ErrorCode::from_code(resp.topics[0].partitions[0].error_code);
            (e, e)
        }
    })
    .await
}

/// Fetches partition 0 with OffsetFetch v9 as `who` (`None`: an admin); the group's error
/// and the committed offset.
async fn fetch(b: &Broker, group: &str, topic: &str, who: Option<(&str, i32)>) -> (ErrorCode, i64) {
    let req = OffsetFetchRequest {
        groups: vec![OffsetFetchRequestGroup {
            group_id: group.to_owned(),
            member_id: who.map(|w| w.0.to_owned()),
            member_epoch: who.map_or(-1, |w| w.1),
            topics: Some(vec![OffsetFetchRequestTopics {
                name: topic.to_owned(),
                partition_indexes: vec![0],
                ..Default::default()
            }]),
            ..Default::default()
        }],
        ..Default::default()
    };
    retry_coordinator(b, group, |conn| {
        let req = req.clone();
        async move {
            let resp = conn
                .send_versioned(&req, 9)
                .await
                .expect("OffsetFetch answered");
            let g = &resp.groups[0];
            let e = ErrorCode::from_code(g.error_code);
            let offset = g
                .topics
                .first()
                .and_then(|t| t.partitions.first())
                .map_or(-2, |p| p.committed_offset);
            (e, (e, offset))
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_are_fenced_by_member_epoch() {
    for b in brokers().await {
        let kind = b.kind;
        let topic = name("cg-offsets");
        b.topic(&topic, 1).await;
        let group = name("cg-offsets");
        let mut m = Member::new(&group);
        m.join(&b, &m.join_req(&[&topic])).await;
        let (id, epoch) = (m.id.as_str(), m.epoch);

        assert_eq!(
            commit(&b, &group, &topic, (id, epoch), 5, 9).await,
            ErrorCode::None,
            "{kind}"
        );
        assert_eq!(
            commit(&b, &group, &topic, (id, epoch + 1), 6, 9).await,
            ErrorCode::StaleMemberEpoch,
            "{kind}"
        );
        assert_eq!(
            commit(&b, &group, &topic, (id, epoch - 1), 6, 9).await,
            ErrorCode::StaleMemberEpoch,
            "{kind}"
        );
        assert_eq!(
            commit(&b, &group, &topic, ("stranger", epoch), 6, 9).await,
            ErrorCode::UnknownMemberId,
            "{kind}"
        );
        // Members of a consumer-protocol group must commit with v9+.
        assert_eq!(
            commit(&b, &group, &topic, (id, epoch), 6, 8).await,
            ErrorCode::UnsupportedVersion,
            "{kind}"
        );
        // An admin commit while the group has members: not a member.
        assert_eq!(
            commit(&b, &group, &topic, ("", -1), 6, 9).await,
            ErrorCode::UnknownMemberId,
            "{kind}"
        );

        assert_eq!(
            fetch(&b, &group, &topic, Some((id, epoch))).await,
            (ErrorCode::None, 5),
            "{kind}"
        );
        assert_eq!(
            fetch(&b, &group, &topic, Some((id, epoch + 1))).await.0,
            ErrorCode::StaleMemberEpoch,
            "{kind}"
        );
        assert_eq!(
            fetch(&b, &group, &topic, Some(("stranger", epoch))).await.0,
            ErrorCode::UnknownMemberId,
            "{kind}"
        );
        assert_eq!(
            fetch(&b, &group, &topic, None).await,
            (ErrorCode::None, 5),
            "{kind}"
        );

        // Once the group is empty, an admin commits.
        let mut leave = m.beat_req();
        leave.member_epoch = -1;
        b.beat(&leave).await;
        assert_eq!(
            commit(&b, &group, &topic, ("", -1), 7, 9).await,
            ErrorCode::None,
            "{kind}"
        );
        assert_eq!(
            fetch(&b, &group, &topic, None).await,
            (ErrorCode::None, 7),
            "{kind}"
        );
        let d = b.describe(&group).await;
        assert_eq!(
            (d.group_state.as_str(), d.members.len()),
            ("Empty", 0),
            "{kind}"
        );
    }
}

//! Requests Kafka refuses, and ConsumerGroupDescribe of groups that are not there.

use gregor_protocol::ErrorCode;
use gregor_protocol::messages::ConsumerGroupHeartbeatRequest;

use super::support::{Member, brokers, code, name};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_heartbeats_are_refused() {
    for b in brokers().await {
        let kind = b.kind;
        let topic = name("cg-invalid");
        b.topic(&topic, 1).await;
        let group = name("cg-invalid");
        let m = Member::new(&group);
        let join = m.join_req(&[&topic]);
        let invalid: Vec<(&str, i16, ConsumerGroupHeartbeatRequest)> = vec![
            (
                "empty member id (v1)",
                1,
                ConsumerGroupHeartbeatRequest {
                    member_id: String::new(),
                    ..join.clone()
                },
            ),
            (
                "no rebalance timeout",
                1,
                ConsumerGroupHeartbeatRequest {
                    rebalance_timeout_ms: -1,
                    ..join.clone()
                },
            ),
            (
                "null owned partitions",
                1,
                ConsumerGroupHeartbeatRequest {
                    topic_partitions: None,
                    ..join.clone()
                },
            ),
            (
                "owned partitions when joining",
                1,
                ConsumerGroupHeartbeatRequest {
                    topic_partitions: Some(super::support::owned(&super::support::parts(
                        gregor_protocol::primitives::Uuid([9; 16]),
                        [0],
                    ))),
                    ..join.clone()
                },
            ),
            (
                "no subscription",
                1,
                ConsumerGroupHeartbeatRequest {
                    subscribed_topic_names: None,
                    ..join.clone()
                },
            ),
            (
                "-2 without instance id",
                1,
                ConsumerGroupHeartbeatRequest {
                    member_epoch: -2,
                    ..join.clone()
                },
            ),
            (
                "epoch -3",
                1,
                ConsumerGroupHeartbeatRequest {
                    member_epoch: -3,
                    ..join.clone()
                },
            ),
            (
                "empty instance id",
                1,
                ConsumerGroupHeartbeatRequest {
                    instance_id: Some(String::new()),
                    ..join.clone()
                },
            ),
            (
                "empty member id at epoch 3 (v0)",
                0,
                ConsumerGroupHeartbeatRequest {
                    member_id: String::new(),
                    member_epoch: 3,
                    ..join.clone()
                },
            ),
        ];
        for (what, v, req) in invalid {
            let resp = b.beat_v(v, &req).await;
            assert_eq!(code(&resp), ErrorCode::InvalidRequest, "{kind}: {what}");
            assert!(resp.error_message.is_some(), "{kind}: {what}");
            assert_eq!(
                (resp.member_epoch, resp.heartbeat_interval_ms),
                (0, 0),
                "{kind}: {what}"
            );
        }
        // An empty group id: refused (Kafka's coordinator lookup for "" works like any other).
        let resp = b
            .beat(&ConsumerGroupHeartbeatRequest {
                group_id: String::new(),
                ..join.clone()
            })
            .await;
        assert_eq!(
            code(&resp),
            ErrorCode::InvalidRequest,
            "{kind}: empty group id"
        );

        let unknown_assignor = ConsumerGroupHeartbeatRequest {
            server_assignor: Some("sticky-ish".into()),
            ..join.clone()
        };
        assert_eq!(
            code(&b.beat(&unknown_assignor).await),
            ErrorCode::UnsupportedAssignor,
            "{kind}"
        );
        let bad_regex = ConsumerGroupHeartbeatRequest {
            subscribed_topic_names: None,
            subscribed_topic_regex: Some("[".into()),
            ..join.clone()
        };
        assert_eq!(
            code(&b.beat(&bad_regex).await),
            ErrorCode::InvalidRegularExpression,
            "{kind}"
        );

        // Not a member: a group that does not exist, then one that does.
        let mut stranger = Member::new(&group);
        stranger.epoch = 3;
        let resp = b.beat(&stranger.beat_req()).await;
        assert_eq!(
            code(&resp),
            ErrorCode::GroupIdNotFound,
            "{kind}: {:?}",
            resp.error_message
        );
        let mut member = Member::new(&group);
        member.join(&b, &member.join_req(&[&topic])).await;
        let resp = b.beat(&stranger.beat_req()).await;
        assert_eq!(code(&resp), ErrorCode::UnknownMemberId, "{kind}");
        let mut leave = stranger.beat_req();
        leave.member_epoch = -1;
        assert_eq!(
            code(&b.beat(&leave).await),
            ErrorCode::UnknownMemberId,
            "{kind}"
        );
        // A static member's heartbeat under an instance id nobody holds.
        let mut ghost = Member::with_instance(&group, "nobody");
        ghost.epoch = 1;
        assert_eq!(
            code(&b.beat(&ghost.beat_req()).await),
            ErrorCode::UnknownMemberId,
            "{kind}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describing_a_group_that_is_not_there() {
    for b in brokers().await {
        let kind = b.kind;
        let group = name("cg-none");
        let d = b.describe(&group).await;
        assert_eq!(
            ErrorCode::from_code(d.error_code),
            ErrorCode::GroupIdNotFound,
            "{kind}"
        );
        assert_eq!(d.group_id, group, "{kind}");
        assert!(d.members.is_empty(), "{kind}");
    }
}

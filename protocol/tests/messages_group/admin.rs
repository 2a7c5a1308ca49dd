//! DescribeGroups, ListGroups and ConsumerGroupHeartbeat.

use super::*;

// ---------------------------------------------------------------- DescribeGroups

#[test]
fn describe_groups_known_answers() {
    let req = DescribeGroupsRequest {
        groups: vec![s("a"), s("b")],
        ..Default::default()
    };
    known_answer(&req, 0, &W::new().arr(2).s("a").s("b").done());
    let req = DescribeGroupsRequest {
        groups: vec![s("a")],
        include_authorized_operations: true,
        ..Default::default()
    };
    known_answer(&req, 5, &W::new().carr(1).cs("a").i8(1).tags0().done());

    let resp = DescribeGroupsResponse {
        groups: vec![DescribedGroup {
            group_id: s("g"),
            group_state: s("Stable"),
            protocol_type: s("consumer"),
            protocol_data: s("range"),
            members: vec![DescribedGroupMember {
                member_id: s("m"),
                client_id: s("cid"),
                client_host: s("/10.0.0.1"),
                member_metadata: Bytes::from_static(&[1]),
                member_assignment: Bytes::from_static(&[2]),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let bytes = W::new()
        .arr(1)
        .i16(0)
        .s("g")
        .s("Stable")
        .s("consumer")
        .s("range");
    let bytes = bytes.arr(1).s("m").s("cid").s("/10.0.0.1").b(&[1]).b(&[2]);
    known_answer(&resp, 0, &bytes.done());

    let resp = DescribeGroupsResponse {
        throttle_time_ms: 1,
        groups: vec![DescribedGroup {
            error_code: 69,
            error_message: Some(s("no such group")),
            group_id: s("g"),
            group_state: s("Dead"),
            ..Default::default()
        }],
        ..Default::default()
    };
    let bytes = W::new()
        .i32(1)
        .carr(1)
        .i16(69)
        .cs("no such group")
        .cs("g")
        .cs("Dead");
    let bytes = bytes.cs("").cs("").carr(0).i32(i32::MIN).tags0().tags0();
    known_answer(&resp, 6, &bytes.done());
}

#[test]
fn describe_groups_fields_outside_their_versions() {
    let req = DescribeGroupsRequest {
        include_authorized_operations: true,
        ..Default::default()
    };
    assert_eq!(
        encode_err(&req, 2),
        not_in("include_authorized_operations", 2)
    );
    let with_message = DescribeGroupsResponse {
        groups: vec![DescribedGroup {
            error_message: Some(s("x")),
            ..Default::default()
        }],
        ..Default::default()
    };
    assert_eq!(encode_err(&with_message, 5), not_in("error_message", 5));
    let with_ops = DescribeGroupsResponse {
        groups: vec![DescribedGroup {
            authorized_operations: 0,
            ..Default::default()
        }],
        ..Default::default()
    };
    assert_eq!(encode_err(&with_ops, 2), not_in("authorized_operations", 2));
}

// ---------------------------------------------------------------- ListGroups

#[test]
fn list_groups_known_answers() {
    known_answer(&ListGroupsRequest::default(), 0, &[]);
    let req = ListGroupsRequest {
        states_filter: vec![s("Stable")],
        types_filter: vec![s("consumer")],
        ..Default::default()
    };
    let bytes = W::new().carr(1).cs("Stable").carr(1).cs("consumer").tags0();
    known_answer(&req, 5, &bytes.done());

    let resp = ListGroupsResponse {
        groups: vec![ListedGroup {
            group_id: s("g"),
            protocol_type: s("consumer"),
            ..Default::default()
        }],
        ..Default::default()
    };
    let bytes = W::new().i32(0).i16(0).arr(1).s("g").s("consumer");
    known_answer(&resp, 1, &bytes.done());
    let resp = ListGroupsResponse {
        groups: vec![ListedGroup {
            group_id: s("g"),
            protocol_type: s("consumer"),
            group_state: s("Stable"),
            group_type: s("classic"),
            ..Default::default()
        }],
        ..Default::default()
    };
    let bytes = W::new()
        .i32(0)
        .i16(0)
        .carr(1)
        .cs("g")
        .cs("consumer")
        .cs("Stable");
    known_answer(&resp, 5, &bytes.cs("classic").tags0().tags0().done());
}

#[test]
fn list_groups_fields_outside_their_versions() {
    let req = ListGroupsRequest {
        states_filter: vec![s("Empty")],
        ..Default::default()
    };
    assert_eq!(encode_err(&req, 3), not_in("states_filter", 3));
    let req = ListGroupsRequest {
        types_filter: vec![s("classic")],
        ..Default::default()
    };
    assert_eq!(encode_err(&req, 4), not_in("types_filter", 4));
    let resp = ListGroupsResponse {
        groups: vec![ListedGroup {
            group_type: s("consumer"),
            ..Default::default()
        }],
        ..Default::default()
    };
    assert_eq!(encode_err(&resp, 4), not_in("group_type", 4));
}

// ---------------------------------------------------------------- ConsumerGroupHeartbeat
// Every version is flexible, so there is no classic known answer.

#[test]
fn consumer_group_heartbeat_known_answers() {
    let join = ConsumerGroupHeartbeatRequest {
        group_id: s("g"),
        rack_id: Some(s("rack")),
        rebalance_timeout_ms: 300_000,
        subscribed_topic_names: Some(vec![s("t")]),
        server_assignor: Some(s("uniform")),
        topic_partitions: Some(vec![]),
        ..Default::default()
    };
    let bytes = W::new()
        .cs("g")
        .cs("")
        .i32(0)
        .null_cs()
        .cs("rack")
        .i32(300_000);
    let bytes = bytes.carr(1).cs("t").cs("uniform").carr(0).tags0();
    known_answer(&join, 0, &bytes.done());

    let beat = ConsumerGroupHeartbeatRequest {
        group_id: s("g"),
        member_id: s("m"),
        member_epoch: 5,
        subscribed_topic_regex: Some(s("^t.*")),
        topic_partitions: Some(vec![TopicPartitions {
            topic_id: TOPIC_ID,
            partitions: vec![0, 1],
            ..Default::default()
        }]),
        ..Default::default()
    };
    let bytes = W::new()
        .cs("g")
        .cs("m")
        .i32(5)
        .null_cs()
        .null_cs()
        .i32(-1)
        .null_carr();
    let bytes = bytes
        .cs("^t.*")
        .null_cs()
        .carr(1)
        .raw(&TOPIC_ID.0)
        .carr(2)
        .i32(0)
        .i32(1);
    known_answer(&beat, 1, &bytes.tags0().tags0().done());

    let resp = ConsumerGroupHeartbeatResponse {
        member_id: Some(s("m")),
        member_epoch: 1,
        heartbeat_interval_ms: 5000,
        assignment: Some(Assignment {
            topic_partitions: vec![TopicPartitions {
                topic_id: TOPIC_ID,
                partitions: vec![0],
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    };
    let bytes = W::new().i32(0).i16(0).null_cs().cs("m").i32(1).i32(5000);
    let bytes = bytes
        .i8(1)
        .carr(1)
        .raw(&TOPIC_ID.0)
        .carr(1)
        .i32(0)
        .tags0()
        .tags0();
    known_answer(&resp, 0, &bytes.tags0().done());
    let resp = ConsumerGroupHeartbeatResponse {
        member_id: None,
        assignment: None,
        ..resp
    };
    let bytes = W::new()
        .i32(0)
        .i16(0)
        .null_cs()
        .null_cs()
        .i32(1)
        .i32(5000)
        .i8(-1);
    known_answer(&resp, 1, &bytes.tags0().done());
}

#[test]
fn consumer_group_heartbeat_fields_outside_their_versions() {
    let req = ConsumerGroupHeartbeatRequest {
        subscribed_topic_regex: Some(s(".*")),
        ..Default::default()
    };
    assert_eq!(encode_err(&req, 0), not_in("subscribed_topic_regex", 0));
    // A nullable struct's marker must be -1 or 1.
    let bad = W::new()
        .i32(0)
        .i16(0)
        .null_cs()
        .null_cs()
        .i32(1)
        .i32(1)
        .i8(2)
        .tags0();
    assert!(matches!(
        decode_err::<ConsumerGroupHeartbeatResponse>(bad.done(), 0),
        DecodeError::InvalidValue { .. }
    ));
}

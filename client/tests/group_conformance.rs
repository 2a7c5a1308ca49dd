//! The classic consumer group protocol on every available broker kind (`GREGOR_TEST_BROKERS`,
//! else all that can start here), one member driven by hand on gregor's connections:
//! FindCoordinator, JoinGroup (with KIP-394's member id round trip where the version has it),
//! SyncGroup, Heartbeat, OffsetCommit with the generation (and a stale one refused), LeaveGroup.
//! These fill testkit's conformance table; a known deviation is skipped on that broker only.

mod cluster_support;

use bytes::{BufMut, Bytes, BytesMut};
use cluster_support::{at_coordinator, broker_and_client, deviates};
use gregor_client::{Client, Connection};
use gregor_protocol::ErrorCode;
use gregor_protocol::messages::join_group::JoinGroupRequestProtocol;
use gregor_protocol::messages::leave_group::MemberIdentity;
use gregor_protocol::messages::offset_commit::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use gregor_protocol::messages::sync_group::SyncGroupRequestAssignment;
use gregor_protocol::messages::{
    HeartbeatRequest, JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest, OffsetCommitRequest,
    SyncGroupRequest,
};
use gregor_testkit::data::{create_topic_by_protocol_on, unique_name, within};
use gregor_testkit::{BrokerKind, TestBroker};

/// ConsumerProtocolSubscription v0 for `topic`.
fn subscription(topic: &str) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i16(0);
    b.put_i32(1);
    b.put_i16(topic.len() as i16);
    b.put_slice(topic.as_bytes());
    b.put_i32(-1);
    b.freeze()
}

/// ConsumerProtocolAssignment v0 giving `topic`'s partition 0.
fn assignment(topic: &str) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i16(0);
    b.put_i32(1);
    b.put_i16(topic.len() as i16);
    b.put_slice(topic.as_bytes());
    b.put_i32(1);
    b.put_i32(0);
    b.put_i32(-1);
    b.freeze()
}

/// The first JoinGroup of a group, sent with `version` once the group's coordinator serves the
/// group (a cold Kafka answers COORDINATOR_NOT_AVAILABLE and NOT_COORDINATOR at first, which
/// clients retry): the coordinator's connection and the answer.
async fn first_join(
    client: &Client,
    group: &str,
    request: &JoinGroupRequest,
    version: i16,
) -> (Connection, JoinGroupResponse) {
    at_coordinator(client, group, "JoinGroup", |conn| async move {
        let joined = conn
            .send_versioned(request, version)
            .await
            .expect("JoinGroup answered");
        (code(joined.error_code), joined)
    })
    .await
}

/// The versions to use on `conn`: the highest both sides speak, below what librdkafka's mock
/// mis-parses.
fn group_versions(broker: &TestBroker, conn: &Connection) -> (i16, i16, i16) {
    let mut join = conn.version_for::<JoinGroupRequest>().unwrap();
    let mut sync = conn.version_for::<SyncGroupRequest>().unwrap();
    let mut leave = conn.version_for::<LeaveGroupRequest>().unwrap();
    if deviates(
        broker,
        BrokerKind::RdkafkaMock,
        "librdkafka's mock cluster (2.12.1) deviates: it lists JoinGroup v6, SyncGroup v4 and LeaveGroup v3-4 but reads JoinGroup v6 and SyncGroup v4 compact arrays as INT32 (closing the connection) and reads and answers LeaveGroup v3-4 in the v0 format; measured at JoinGroup v5, SyncGroup v3, LeaveGroup v2 (librdkafka's own versions)",
    ) {
        join = join.min(5);
        sync = sync.min(3);
        leave = leave.min(2);
    }
    (join, sync, leave)
}

fn code(raw: i16) -> ErrorCode {
    ErrorCode::from_code(raw)
}

async fn commit(
    conn: &Connection,
    group: &str,
    topic: &str,
    generation: i32,
    member: &str,
) -> ErrorCode {
    let response = within(
        "OffsetCommit",
        conn.send(OffsetCommitRequest {
            group_id: group.to_owned(),
            generation_id_or_member_epoch: generation,
            member_id: member.to_owned(),
            retention_time_ms: -1,
            topics: vec![OffsetCommitRequestTopic {
                name: topic.to_owned(),
                partitions: vec![OffsetCommitRequestPartition {
                    partition_index: 0,
                    committed_offset: 1,
                    committed_leader_epoch: -1,
                    committed_metadata: Some(String::new()),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }),
    )
    .await
    .expect("OffsetCommit answered");
    code(response.topics[0].partitions[0].error_code)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_member_joins_syncs_heartbeats_commits_and_leaves() {
    for kind in BrokerKind::from_env() {
        let (broker, client) = broker_and_client(kind).await;
        let topic = unique_name("grouped");
        create_topic_by_protocol_on(&broker, &client, &topic, 1).await;
        let group = unique_name("classic");
        let join = |member_id: String| JoinGroupRequest {
            group_id: group.clone(),
            session_timeout_ms: 10_000,
            rebalance_timeout_ms: 10_000,
            member_id,
            protocol_type: "consumer".into(),
            protocols: vec![JoinGroupRequestProtocol {
                name: "range".into(),
                metadata: subscription(&topic),
                ..Default::default()
            }],
            ..Default::default()
        };
        // Every broker of a test cluster runs the same software: any one's versions will do.
        let any = client.any_broker().await.expect("a broker");
        let (version, sync_version, leave_version) = group_versions(&broker, &any);
        let (conn, mut joined) = first_join(&client, &group, &join(String::new()), version).await;
        let joined_at_once = code(joined.error_code) == ErrorCode::None
            && deviates(
                &broker,
                BrokerKind::RdkafkaMock,
                "librdkafka's mock cluster (2.12.1) deviates: JoinGroup v4+ without a member id joins at once (Kafka: MEMBER_ID_REQUIRED, KIP-394)",
            );
        if version >= 4 && !joined_at_once {
            assert_eq!(
                code(joined.error_code),
                ErrorCode::MemberIdRequired,
                "{kind}: KIP-394"
            );
            assert!(!joined.member_id.is_empty(), "{kind}");
            joined = within(
                "JoinGroup",
                conn.send_versioned(&join(joined.member_id.clone()), version),
            )
            .await
            .expect("JoinGroup answered");
        }
        assert_eq!(code(joined.error_code), ErrorCode::None, "{kind}");
        let member = joined.member_id.clone();
        assert_eq!(joined.leader, member, "{kind}: the only member leads");
        assert_eq!(joined.members.len(), 1, "{kind}");
        assert_eq!(joined.protocol_name.as_deref(), Some("range"), "{kind}");
        let generation = joined.generation_id;

        let synced = within(
            "SyncGroup",
            conn.send_versioned(
                &SyncGroupRequest {
                    group_id: group.clone(),
                    generation_id: generation,
                    member_id: member.clone(),
                    protocol_type: (sync_version >= 5).then(|| "consumer".into()),
                    protocol_name: (sync_version >= 5).then(|| "range".into()),
                    assignments: vec![SyncGroupRequestAssignment {
                        member_id: member.clone(),
                        assignment: assignment(&topic),
                        ..Default::default()
                    }],
                    ..Default::default()
                },
                sync_version,
            ),
        )
        .await
        .expect("SyncGroup answered");
        assert_eq!(code(synced.error_code), ErrorCode::None, "{kind}");
        assert_eq!(synced.assignment, assignment(&topic), "{kind}");

        let beat = within(
            "Heartbeat",
            conn.send(HeartbeatRequest {
                group_id: group.clone(),
                generation_id: generation,
                member_id: member.clone(),
                ..Default::default()
            }),
        )
        .await
        .expect("Heartbeat answered");
        assert_eq!(code(beat.error_code), ErrorCode::None, "{kind}");

        assert_eq!(
            commit(&conn, &group, &topic, generation, &member).await,
            ErrorCode::None,
            "{kind}"
        );
        assert_eq!(
            commit(&conn, &group, &topic, generation + 1, &member).await,
            ErrorCode::IllegalGeneration,
            "{kind}: a commit of another generation"
        );

        let v = leave_version;
        let left = within(
            "LeaveGroup",
            conn.send_versioned(
                &LeaveGroupRequest {
                    group_id: group.clone(),
                    member_id: if v < 3 { member.clone() } else { String::new() },
                    members: if v >= 3 {
                        vec![MemberIdentity {
                            member_id: member.clone(),
                            ..Default::default()
                        }]
                    } else {
                        Vec::new()
                    },
                    ..Default::default()
                },
                v,
            ),
        )
        .await
        .expect("LeaveGroup answered");
        assert_eq!(code(left.error_code), ErrorCode::None, "{kind}");
        eprintln!("{kind}: classic group round passed (JoinGroup v{version})");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_static_member_fences_its_old_incarnation() {
    for kind in BrokerKind::from_env() {
        let (broker, client) = broker_and_client(kind).await;
        let topic = unique_name("static");
        create_topic_by_protocol_on(&broker, &client, &topic, 1).await;
        let group = unique_name("static-group");
        let any = client.any_broker().await.expect("a broker");
        let (version, _, _) = group_versions(&broker, &any);
        if version < 5 {
            eprintln!("{kind}: JoinGroup v{version} has no group instance id");
            continue;
        }
        let join = || JoinGroupRequest {
            group_id: group.clone(),
            session_timeout_ms: 10_000,
            // The old incarnation never rejoins: a short rebalance keeps the rejoin quick.
            rebalance_timeout_ms: 3_000,
            member_id: String::new(),
            group_instance_id: Some("instance-1".into()),
            protocol_type: "consumer".into(),
            protocols: vec![JoinGroupRequestProtocol {
                name: "range".into(),
                metadata: subscription(&topic),
                ..Default::default()
            }],
            ..Default::default()
        };
        let (conn, first) = first_join(&client, &group, &join(), version).await;
        assert_eq!(
            code(first.error_code),
            ErrorCode::None,
            "{kind}: static join"
        );
        let old_member = first.member_id.clone();
        assert!(!old_member.is_empty(), "{kind}");
        // The same instance joins again without a member id (a restart): it gets a new member
        // id and the old one is fenced.
        let again = within("JoinGroup", conn.send_versioned(&join(), version))
            .await
            .expect("JoinGroup answered");
        assert_eq!(code(again.error_code), ErrorCode::None, "{kind}: rejoin");
        if again.member_id == old_member
            && deviates(
                &broker,
                BrokerKind::Tansu,
                "tansu 0.6.0 deviates: a static member rejoining without a member id keeps its old one (Kafka: a new one, the old incarnation fenced)",
            )
        {
            continue;
        }
        assert_ne!(again.member_id, old_member, "{kind}: a new member id");
        let beat = within(
            "Heartbeat",
            conn.send(HeartbeatRequest {
                group_id: group.clone(),
                generation_id: first.generation_id,
                member_id: old_member.clone(),
                group_instance_id: Some("instance-1".into()),
                ..Default::default()
            }),
        )
        .await
        .expect("Heartbeat answered");
        if code(beat.error_code) == ErrorCode::IllegalGeneration
            && deviates(
                &broker,
                BrokerKind::RdkafkaMock,
                "librdkafka's mock cluster (2.12.1) deviates: the fenced incarnation of a static member gets ILLEGAL_GENERATION (Kafka: FENCED_INSTANCE_ID)",
            )
        {
            continue;
        }
        assert_eq!(
            code(beat.error_code),
            ErrorCode::FencedInstanceId,
            "{kind}: the old incarnation"
        );
        eprintln!("{kind}: static member round passed (JoinGroup v{version})");
    }
}

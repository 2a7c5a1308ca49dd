//! The group coordinator wired into MockCluster, driven over real sockets by the raw client:
//! deferred JoinGroup/SyncGroup responses reach their connections, in request order; timers run
//! on tokio time; coordinator moves are seen by clients.

mod mock_support;

use std::time::Duration;

use bytes::Bytes;
use gregor_protocol::ErrorCode;
use gregor_protocol::messages::join_group::JoinGroupRequestProtocol;
use gregor_protocol::messages::offset_commit::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use gregor_protocol::messages::offset_fetch::OffsetFetchRequestTopic;
use gregor_protocol::messages::sync_group::SyncGroupRequestAssignment;
use gregor_protocol::messages::*;
use gregor_testkit::mock::{GroupConfig, GroupState, MockCluster};
use mock_support::RawClient;

const G: &str = "g";
const JOIN_V: i16 = 5;
const SYNC_V: i16 = 3;
const HB_V: i16 = 3;

fn err(code: i16) -> ErrorCode {
    ErrorCode::from_code(code)
}

fn join_req(member_id: &str, session_ms: i32) -> JoinGroupRequest {
    JoinGroupRequest {
        group_id: G.into(),
        session_timeout_ms: session_ms,
        rebalance_timeout_ms: 30_000,
        member_id: member_id.into(),
        protocol_type: "consumer".into(),
        protocols: vec![JoinGroupRequestProtocol {
            name: "range".into(),
            metadata: Bytes::from_static(b"subscription"),
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn sync_req(generation: i32, member_id: &str, assignments: &[(&str, &[u8])]) -> SyncGroupRequest {
    SyncGroupRequest {
        group_id: G.into(),
        generation_id: generation,
        member_id: member_id.into(),
        assignments: assignments
            .iter()
            .map(|(m, a)| SyncGroupRequestAssignment {
                member_id: m.to_string(),
                assignment: Bytes::copy_from_slice(a),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

fn hb_req(generation: i32, member_id: &str) -> HeartbeatRequest {
    HeartbeatRequest {
        group_id: G.into(),
        generation_id: generation,
        member_id: member_id.into(),
        ..Default::default()
    }
}

/// One member's connection to the coordinator, with its id and generation.
struct Member {
    conn: RawClient,
    id: String,
    generation: i32,
}

impl Member {
    /// Connects to `broker` and gets a member id (JoinGroup v4+: `MEMBER_ID_REQUIRED`).
    async fn new(c: &MockCluster, broker: i32) -> Member {
        let mut conn = RawClient::to_broker(c, broker).await;
        let r = conn.call(&join_req("", 10_000), JOIN_V).await;
        assert_eq!(err(r.error_code), ErrorCode::MemberIdRequired);
        assert!(!r.member_id.is_empty());
        Member {
            conn,
            id: r.member_id,
            generation: -1,
        }
    }

    /// Sends JoinGroup with the member's id; returns the correlation id (the response may be
    /// parked).
    async fn send_join(&mut self) -> i32 {
        self.conn.send(&join_req(&self.id, 10_000), JOIN_V).await
    }

    async fn recv_join(&mut self, corr: i32) -> JoinGroupResponse {
        let r = self.conn.recv::<JoinGroupRequest>(corr, JOIN_V).await;
        assert_eq!(err(r.error_code), ErrorCode::None, "{r:?}");
        self.generation = r.generation_id;
        r
    }

    async fn heartbeat(&mut self) -> ErrorCode {
        let r = self
            .conn
            .call(&hb_req(self.generation, &self.id), HB_V)
            .await;
        err(r.error_code)
    }

    async fn commit(&mut self, partition: i32, offset: i64) -> ErrorCode {
        let req = OffsetCommitRequest {
            group_id: G.into(),
            generation_id_or_member_epoch: self.generation,
            member_id: self.id.clone(),
            topics: vec![OffsetCommitRequestTopic {
                name: "t".into(),
                partitions: vec![OffsetCommitRequestPartition {
                    partition_index: partition,
                    committed_offset: offset,
                    committed_leader_epoch: 0,
                    committed_metadata: Some("m".into()),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let r = self.conn.call(&req, 7).await;
        err(r.topics[0].partitions[0].error_code)
    }
}

/// The coordinator of `group` as FindCoordinator v4 (batched) reports it, asked of `broker`.
async fn find_coordinator(c: &MockCluster, broker: i32, group: &str) -> (i32, String, i32) {
    let mut conn = RawClient::to_broker(c, broker).await;
    let req = FindCoordinatorRequest {
        key_type: 0,
        coordinator_keys: vec![group.into()],
        ..Default::default()
    };
    let r = conn.call(&req, 4).await;
    let found = &r.coordinators[0];
    assert_eq!(err(found.error_code), ErrorCode::None);
    (found.node_id, found.host.clone(), found.port)
}

async fn cluster(brokers: usize) -> MockCluster {
    MockCluster::builder()
        .brokers(brokers)
        .topic("t", 3)
        .start()
        .await
        .unwrap()
}

/// A and B in a stable generation 2 (A leads, gets b"A"; B gets b"B"), each on its own
/// connection to the coordinator. Also checks that a request pipelined behind B's parked
/// JoinGroup is answered after it.
async fn stable_pair(c: &MockCluster, coord: i32) -> (Member, Member) {
    let mut a = Member::new(c, coord).await;
    let corr = a.send_join().await;
    let ra = a.recv_join(corr).await;
    assert_eq!((ra.generation_id, ra.leader.as_str()), (1, a.id.as_str()));
    let sa = a
        .conn
        .call(&sync_req(1, &a.id, &[(&a.id, b"A")]), SYNC_V)
        .await;
    assert_eq!(sa.assignment, Bytes::from_static(b"A"));

    let mut b = Member::new(c, coord).await;
    let b_join = b.send_join().await;
    // Pipelined on B's connection behind its parked JoinGroup: answered only after it.
    let describe = DescribeGroupsRequest {
        groups: vec![G.into()],
        ..Default::default()
    };
    let b_describe = b.conn.send(&describe, 4).await;
    assert_eq!(a.heartbeat().await, ErrorCode::RebalanceInProgress);
    let a_join = a.send_join().await;
    let ra = a.recv_join(a_join).await;
    assert_eq!((ra.generation_id, ra.members.len()), (2, 2));
    let rb = b.recv_join(b_join).await;
    assert_eq!((rb.generation_id, rb.leader.as_str()), (2, a.id.as_str()));
    assert!(
        rb.members.is_empty(),
        "only the leader gets the member list"
    );
    let d = b.conn.recv::<DescribeGroupsRequest>(b_describe, 4).await;
    assert_eq!(
        d.groups[0].group_state,
        GroupState::CompletingRebalance.as_str(),
        "described after the join phase completed"
    );

    let b_sync = b.conn.send(&sync_req(2, &b.id, &[]), SYNC_V).await;
    let sa = a
        .conn
        .call(&sync_req(2, &a.id, &[(&a.id, b"A"), (&b.id, b"B")]), SYNC_V)
        .await;
    assert_eq!(sa.assignment, Bytes::from_static(b"A"));
    let sb = b.conn.recv::<SyncGroupRequest>(b_sync, SYNC_V).await;
    assert_eq!(
        (err(sb.error_code), sb.assignment),
        (ErrorCode::None, Bytes::from_static(b"B"))
    );
    (a, b)
}

#[tokio::test]
async fn two_members_join_sync_heartbeat_commit_and_fetch_over_sockets() {
    let c = cluster(3).await;
    let coord = c.coordinator_of(G).await.unwrap();
    let (node, host, port) = find_coordinator(&c, 2, G).await;
    let addr = c.broker_addr(coord).unwrap();
    assert_eq!(
        (node, host, port),
        (coord, addr.ip().to_string(), i32::from(addr.port()))
    );

    let (mut a, mut b) = stable_pair(&c, coord).await;
    assert_eq!(a.heartbeat().await, ErrorCode::None);
    assert_eq!(b.heartbeat().await, ErrorCode::None);
    assert_eq!(a.commit(0, 5).await, ErrorCode::None);
    assert_eq!(b.commit(1, 7).await, ErrorCode::None);
    assert_eq!(
        a.commit(9, 1).await,
        ErrorCode::UnknownTopicOrPartition,
        "the cluster's topology answers for partitions"
    );

    // OffsetFetch from a fresh connection (v6: one group).
    let mut admin = RawClient::to_broker(&c, coord).await;
    let fetch = OffsetFetchRequest {
        group_id: G.into(),
        topics: Some(vec![OffsetFetchRequestTopic {
            name: "t".into(),
            partition_indexes: vec![0, 1, 2],
            ..Default::default()
        }]),
        ..Default::default()
    };
    let r = admin.call(&fetch, 6).await;
    let offsets: Vec<(i32, i64)> = r.topics[0]
        .partitions
        .iter()
        .map(|p| (p.partition_index, p.committed_offset))
        .collect();
    assert_eq!(offsets, vec![(0, 5), (1, 7), (2, -1)]);
    assert_eq!(c.committed_offset(G, "t", 1).await.unwrap().offset, 7);

    let d = admin
        .call(
            &DescribeGroupsRequest {
                groups: vec![G.into()],
                ..Default::default()
            },
            4,
        )
        .await;
    let g = &d.groups[0];
    assert_eq!(
        (g.group_state.as_str(), g.protocol_data.as_str()),
        ("Stable", "range")
    );
    let hosts: Vec<&str> = g.members.iter().map(|m| m.client_host.as_str()).collect();
    assert_eq!(hosts, vec!["/127.0.0.1", "/127.0.0.1"]);
    assert_eq!(c.group_members(G).await, vec![a.id.clone(), b.id.clone()]);

    // Another broker is not the coordinator.
    let other = if coord == 1 { 2 } else { 1 };
    let mut elsewhere = RawClient::to_broker(&c, other).await;
    let r = elsewhere.call(&hb_req(2, &a.id), HB_V).await;
    assert_eq!(err(r.error_code), ErrorCode::NotCoordinator);
}

#[tokio::test]
async fn a_third_member_triggers_a_rebalance() {
    let c = cluster(1).await;
    let (mut a, mut b) = stable_pair(&c, 1).await;
    let mut m3 = Member::new(&c, 1).await;
    let c_join = m3.send_join().await;
    assert_eq!(a.heartbeat().await, ErrorCode::RebalanceInProgress);
    assert_eq!(b.heartbeat().await, ErrorCode::RebalanceInProgress);
    let b_join = b.send_join().await;
    let a_join = a.send_join().await;
    let ra = a.recv_join(a_join).await;
    assert_eq!((ra.generation_id, ra.members.len()), (3, 3));
    let rb = b.recv_join(b_join).await;
    let rc = m3.recv_join(c_join).await;
    assert_eq!((rb.generation_id, rc.generation_id), (3, 3));
    assert_eq!(rc.leader, a.id);

    let b_sync = b.conn.send(&sync_req(3, &b.id, &[]), SYNC_V).await;
    let c_sync = m3.conn.send(&sync_req(3, &m3.id, &[]), SYNC_V).await;
    let plan: [(&str, &[u8]); 3] = [(&a.id, b"0"), (&b.id, b"1"), (&m3.id, b"2")];
    let sa = a.conn.call(&sync_req(3, &a.id, &plan), SYNC_V).await;
    assert_eq!(sa.assignment, Bytes::from_static(b"0"));
    let sb = b.conn.recv::<SyncGroupRequest>(b_sync, SYNC_V).await;
    let sc = m3.conn.recv::<SyncGroupRequest>(c_sync, SYNC_V).await;
    assert_eq!(sb.assignment, Bytes::from_static(b"1"));
    assert_eq!(sc.assignment, Bytes::from_static(b"2"));
    for m in [&mut a, &mut b, &mut m3] {
        assert_eq!(m.heartbeat().await, ErrorCode::None);
    }
    // A commit from the previous generation is fenced.
    a.generation = 2;
    assert_eq!(a.commit(0, 1).await, ErrorCode::IllegalGeneration);
    assert_eq!(c.group_generation(G).await, Some(3));
}

#[tokio::test]
async fn a_moved_coordinator_is_seen_by_clients() {
    let c = cluster(3).await;
    let old = c.coordinator_of(G).await.unwrap();
    let new = if old == 3 { 1 } else { 3 };
    let (mut a, _b) = stable_pair(&c, old).await;
    assert_eq!(a.commit(0, 4).await, ErrorCode::None);
    // A third member has a JoinGroup parked on the old coordinator when the group moves.
    let mut m3 = Member::new(&c, old).await;
    let c_join = m3.send_join().await;
    assert!(c.move_coordinator(G, new).await.unwrap());
    let r = m3.conn.recv::<JoinGroupRequest>(c_join, JOIN_V).await;
    assert_eq!(err(r.error_code), ErrorCode::NotCoordinator);

    assert_eq!(a.heartbeat().await, ErrorCode::NotCoordinator);
    assert_eq!(a.commit(0, 5).await, ErrorCode::NotCoordinator);
    let (node, _, port) = find_coordinator(&c, old, G).await;
    assert_eq!(node, new);
    assert_eq!(
        port,
        i32::from(c.broker_addr(new).unwrap().port()),
        "FindCoordinator names the new broker's listener"
    );

    // The new coordinator continues from the last completed generation, offsets kept.
    let mut a2 = Member {
        conn: RawClient::to_broker(&c, new).await,
        id: a.id.clone(),
        generation: 2,
    };
    assert_eq!(a2.heartbeat().await, ErrorCode::None);
    assert_eq!(c.committed_offset(G, "t", 0).await.unwrap().offset, 4);
    assert_eq!(a2.commit(0, 6).await, ErrorCode::None);

    // The coordinator going down moves the group to the next live broker.
    c.broker_down(new).await.unwrap();
    let survivor = c.coordinator_of(G).await.unwrap();
    assert_ne!(survivor, new);
    assert_eq!(find_coordinator(&c, survivor, G).await.0, survivor);
}

#[tokio::test(start_paused = true)]
async fn session_timeouts_expire_on_tokio_time() {
    let wall = std::time::Instant::now();
    let c = MockCluster::builder()
        .topic("t", 1)
        .group_config(GroupConfig {
            min_session_timeout: Duration::from_millis(100),
            ..GroupConfig::default()
        })
        .start()
        .await
        .unwrap();
    let (mut a, mut b) = stable_pair(&c, 1).await;
    // Sessions are 10 s; A keeps heartbeating, B goes silent.
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_secs(4)).await;
        let e = a.heartbeat().await;
        if e != ErrorCode::None {
            assert_eq!(e, ErrorCode::RebalanceInProgress);
            break;
        }
    }
    assert_eq!(c.group_state(G).await, Some(GroupState::PreparingRebalance));
    assert_eq!(c.group_members(G).await, vec![a.id.clone()]);
    let a_join = a.send_join().await;
    let ra = a.recv_join(a_join).await;
    assert_eq!((ra.generation_id, ra.members.len()), (3, 1));
    assert_eq!(b.heartbeat().await, ErrorCode::UnknownMemberId);

    // A stops too: its session expires and the group empties, with no request to wake it.
    tokio::time::sleep(Duration::from_secs(11)).await;
    assert_eq!(c.group_state(G).await, Some(GroupState::Empty));
    assert!(
        wall.elapsed() < Duration::from_secs(5),
        "paused time, not the wall clock, ran the timers"
    );
}

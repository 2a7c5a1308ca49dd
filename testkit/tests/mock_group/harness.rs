//! Drives the group coordinator directly: fake times (milliseconds after a fixed start), a
//! fake topology, request builders, and a check that every response encodes in its version.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use gregor_protocol::messages::join_group::JoinGroupRequestProtocol;
use gregor_protocol::messages::leave_group::MemberIdentity;
use gregor_protocol::messages::offset_commit::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use gregor_protocol::messages::sync_group::SyncGroupRequestAssignment;
use gregor_protocol::messages::*;
use gregor_protocol::{ErrorCode, Message};
use gregor_testkit::mock::group::{
    Completed, GroupConfig, GroupCoordinator, Reply, RequestCtx, Ticket, Topology,
};

pub const GROUP: &str = "g";
pub const SESSION_MS: i32 = 10_000;
pub const REBALANCE_MS: i32 = 30_000;

/// Broker 1 coordinates every group unless moved.
pub struct Topo {
    pub moved: BTreeMap<String, i32>,
}

impl Topology for Topo {
    fn group_coordinator(&self, group_id: &str) -> Option<i32> {
        Some(self.moved.get(group_id).copied().unwrap_or(1))
    }
    fn broker_address(&self, node_id: i32) -> Option<(String, i32)> {
        (1..=3)
            .contains(&node_id)
            .then(|| ("127.0.0.1".to_owned(), 9090 + node_id))
    }
    fn partition_exists(&self, topic: &str, partition: i32) -> bool {
        topic != "missing" && (0..3).contains(&partition)
    }
}

pub struct H {
    pub c: GroupCoordinator,
    pub topo: Topo,
    pub t0: Instant,
    /// The broker requests are sent to.
    pub broker: i32,
}

/// The version of `M` closest to `v`: tests name one version (JoinGroup's) for a whole
/// conversation, and each API speaks the nearest one it has.
pub fn clamp<M: Message>(v: i16) -> i16 {
    v.clamp(M::VERSIONS.min, M::VERSIONS.max)
}

/// Asserts the response encodes in `version` (fields the version lacks hold defaults).
pub fn encodes<M: Message + std::fmt::Debug>(resp: &M, version: i16) {
    let mut buf = BytesMut::new();
    if let Err(e) = resp.encode(&mut buf, version) {
        panic!("{} v{version} does not encode: {e}: {resp:?}", M::NAME);
    }
}

fn ctx(topo: &Topo, broker: i32, version: i16, now: Instant) -> RequestCtx<'_> {
    RequestCtx {
        broker_id: broker,
        api_version: version,
        client_id: "client",
        client_host: "/127.0.0.1",
        now,
        topology: topo,
    }
}

impl H {
    pub fn new() -> H {
        H::with(GroupConfig::default())
    }

    pub fn with(cfg: GroupConfig) -> H {
        H {
            c: GroupCoordinator::new(cfg),
            topo: Topo {
                moved: BTreeMap::new(),
            },
            t0: Instant::now(),
            broker: 1,
        }
    }

    pub fn at(&self, ms: u64) -> Instant {
        self.t0 + Duration::from_millis(ms)
    }

    pub fn join(&mut self, ms: u64, v: i16, req: &JoinGroupRequest) -> Reply<JoinGroupResponse> {
        let v = clamp::<JoinGroupRequest>(v);
        let ctx = ctx(&self.topo, self.broker, v, self.at(ms));
        let reply = self.c.handle_join_group(&ctx, req);
        if let Reply::Now(r) = &reply {
            encodes(r, v);
        }
        reply
    }

    pub fn sync(&mut self, ms: u64, v: i16, req: &SyncGroupRequest) -> Reply<SyncGroupResponse> {
        let v = clamp::<SyncGroupRequest>(v);
        let ctx = ctx(&self.topo, self.broker, v, self.at(ms));
        let reply = self.c.handle_sync_group(&ctx, req);
        if let Reply::Now(r) = &reply {
            encodes(r, v);
        }
        reply
    }

    pub fn heartbeat(&mut self, ms: u64, v: i16, req: &HeartbeatRequest) -> ErrorCode {
        let v = clamp::<HeartbeatRequest>(v);
        let ctx = ctx(&self.topo, self.broker, v, self.at(ms));
        let r = self.c.handle_heartbeat(&ctx, req);
        encodes(&r, v);
        ErrorCode::from_code(r.error_code)
    }

    pub fn leave(&mut self, ms: u64, v: i16, req: &LeaveGroupRequest) -> LeaveGroupResponse {
        let v = clamp::<LeaveGroupRequest>(v);
        let ctx = ctx(&self.topo, self.broker, v, self.at(ms));
        let r = self.c.handle_leave_group(&ctx, req);
        encodes(&r, v);
        r
    }

    pub fn commit(&mut self, ms: u64, v: i16, req: &OffsetCommitRequest) -> OffsetCommitResponse {
        let v = clamp::<OffsetCommitRequest>(v);
        let ctx = ctx(&self.topo, self.broker, v, self.at(ms));
        let r = self.c.handle_offset_commit(&ctx, req);
        encodes(&r, v);
        r
    }

    pub fn fetch(&mut self, ms: u64, v: i16, req: &OffsetFetchRequest) -> OffsetFetchResponse {
        let v = clamp::<OffsetFetchRequest>(v);
        let ctx = ctx(&self.topo, self.broker, v, self.at(ms));
        let r = self.c.handle_offset_fetch(&ctx, req);
        encodes(&r, v);
        r
    }

    pub fn describe(&mut self, ms: u64, v: i16, groups: &[&str]) -> DescribeGroupsResponse {
        let v = clamp::<DescribeGroupsRequest>(v);
        let req = DescribeGroupsRequest {
            groups: groups.iter().map(|g| g.to_string()).collect(),
            include_authorized_operations: v >= 3,
            ..Default::default()
        };
        let ctx = ctx(&self.topo, self.broker, v, self.at(ms));
        let r = self.c.handle_describe_groups(&ctx, &req);
        encodes(&r, v);
        r
    }

    pub fn list(&mut self, ms: u64, v: i16, req: &ListGroupsRequest) -> ListGroupsResponse {
        let v = clamp::<ListGroupsRequest>(v);
        let ctx = ctx(&self.topo, self.broker, v, self.at(ms));
        let r = self.c.handle_list_groups(&ctx, req);
        encodes(&r, v);
        r
    }

    pub fn find(&self, v: i16, req: &FindCoordinatorRequest) -> FindCoordinatorResponse {
        let v = clamp::<FindCoordinatorRequest>(v);
        let ctx = ctx(&self.topo, self.broker, v, self.t0);
        let r = self.c.handle_find_coordinator(&ctx, req);
        encodes(&r, v);
        r
    }

    /// Everything completed up to `ms`, checked to encode in `v`.
    pub fn poll(&mut self, ms: u64, v: i16) -> Vec<(Ticket, Completed)> {
        let done = self.c.poll(self.at(ms));
        for (_, c) in &done {
            match c {
                Completed::JoinGroup(r) => encodes(r, clamp::<JoinGroupRequest>(v)),
                Completed::SyncGroup(r) => encodes(r, clamp::<SyncGroupRequest>(v)),
            }
        }
        done
    }

    /// A dynamic member joins through `MEMBER_ID_REQUIRED` (v4+) and gets its id.
    pub fn member_id(&mut self, ms: u64, v: i16, protocols: &[(&str, &[u8])]) -> String {
        let r = self.join(ms, v, &join_req("", None, protocols));
        let r = now(r);
        assert_eq!(err(r.error_code), ErrorCode::MemberIdRequired);
        assert!(r.member_id.starts_with("client-"), "{}", r.member_id);
        r.member_id
    }

    /// Two members in a stable generation 1 (A leads); returns their ids.
    pub fn stable_pair(&mut self, v: i16) -> (String, String) {
        let a = self.member_id(0, v, RANGE);
        let ra = now(self.join(0, v, &join_req(&a, None, RANGE)));
        assert_eq!((ra.generation_id, ra.leader.as_str()), (1, a.as_str()));
        let sa = now(self.sync(0, v, &sync_req(1, &a, &[(&a, b"A")])));
        assert_eq!(sa.assignment, Bytes::from_static(b"A"));
        let b = self.member_id(10, v, RANGE);
        let tb = later(self.join(10, v, &join_req(&b, None, RANGE)));
        assert_eq!(
            self.heartbeat(20, v, &hb_req(1, &a)),
            ErrorCode::RebalanceInProgress
        );
        let ra = now(self.join(30, v, &join_req(&a, None, RANGE)));
        assert_eq!((ra.generation_id, ra.members.len()), (2, 2));
        let rb = join_done(&self.poll(30, v), tb);
        assert_eq!((rb.generation_id, rb.leader.as_str()), (2, a.as_str()));
        let tb = later(self.sync(40, v, &sync_req(2, &b, &[])));
        let sa = now(self.sync(50, v, &sync_req(2, &a, &[(&a, b"A"), (&b, b"B")])));
        assert_eq!(sa.assignment, Bytes::from_static(b"A"));
        assert_eq!(
            sync_done(&self.poll(50, v), tb).assignment,
            Bytes::from_static(b"B")
        );
        (a, b)
    }
}

pub const RANGE: &[(&str, &[u8])] = &[("range", b"sub")];

pub fn err(code: i16) -> ErrorCode {
    ErrorCode::from_code(code)
}

pub fn now<T: std::fmt::Debug>(r: Reply<T>) -> T {
    match r {
        Reply::Now(t) => t,
        Reply::Later(t) => panic!("expected an answer now, got {t:?}"),
    }
}

pub fn later<T: std::fmt::Debug>(r: Reply<T>) -> Ticket {
    match r {
        Reply::Later(t) => t,
        Reply::Now(r) => panic!("expected a parked request, got {r:?}"),
    }
}

pub fn join_done(done: &[(Ticket, Completed)], t: Ticket) -> JoinGroupResponse {
    match done.iter().find(|(d, _)| *d == t) {
        Some((_, Completed::JoinGroup(r))) => r.clone(),
        other => panic!("join {t:?} not completed: {other:?} in {done:?}"),
    }
}

pub fn sync_done(done: &[(Ticket, Completed)], t: Ticket) -> SyncGroupResponse {
    match done.iter().find(|(d, _)| *d == t) {
        Some((_, Completed::SyncGroup(r))) => r.clone(),
        other => panic!("sync {t:?} not completed: {other:?} in {done:?}"),
    }
}

pub fn join_req(
    member_id: &str,
    instance: Option<&str>,
    protocols: &[(&str, &[u8])],
) -> JoinGroupRequest {
    JoinGroupRequest {
        group_id: GROUP.to_owned(),
        session_timeout_ms: SESSION_MS,
        rebalance_timeout_ms: REBALANCE_MS,
        member_id: member_id.to_owned(),
        group_instance_id: instance.map(str::to_owned),
        protocol_type: "consumer".to_owned(),
        protocols: protocols
            .iter()
            .map(|(name, meta)| JoinGroupRequestProtocol {
                name: name.to_string(),
                metadata: Bytes::copy_from_slice(meta),
                ..Default::default()
            })
            .collect(),
        reason: Some("test".to_owned()),
        ..Default::default()
    }
}

pub fn sync_req(
    generation: i32,
    member_id: &str,
    assignments: &[(&str, &[u8])],
) -> SyncGroupRequest {
    SyncGroupRequest {
        group_id: GROUP.to_owned(),
        generation_id: generation,
        member_id: member_id.to_owned(),
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

pub fn hb_req(generation: i32, member_id: &str) -> HeartbeatRequest {
    HeartbeatRequest {
        group_id: GROUP.to_owned(),
        generation_id: generation,
        member_id: member_id.to_owned(),
        ..Default::default()
    }
}

pub fn leave_req(members: &[(&str, Option<&str>)]) -> LeaveGroupRequest {
    LeaveGroupRequest {
        group_id: GROUP.to_owned(),
        member_id: members.first().map(|m| m.0.to_owned()).unwrap_or_default(),
        members: members
            .iter()
            .map(|(m, i)| MemberIdentity {
                member_id: m.to_string(),
                group_instance_id: i.map(str::to_owned),
                reason: Some("bye".to_owned()),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

/// A commit of `(topic, partition, offset)`s, with leader epoch 7 and metadata "m".
pub fn commit_req(
    group: &str,
    generation: i32,
    member_id: &str,
    offsets: &[(&str, i32, i64)],
) -> OffsetCommitRequest {
    let mut topics: Vec<OffsetCommitRequestTopic> = Vec::new();
    for (topic, partition, offset) in offsets {
        let p = OffsetCommitRequestPartition {
            partition_index: *partition,
            committed_offset: *offset,
            committed_leader_epoch: 7,
            committed_metadata: Some("m".to_owned()),
            ..Default::default()
        };
        match topics.iter_mut().find(|t| t.name == *topic) {
            Some(t) => t.partitions.push(p),
            None => topics.push(OffsetCommitRequestTopic {
                name: topic.to_string(),
                partitions: vec![p],
                ..Default::default()
            }),
        }
    }
    OffsetCommitRequest {
        group_id: group.to_owned(),
        generation_id_or_member_epoch: generation,
        member_id: member_id.to_owned(),
        topics,
        ..Default::default()
    }
}

/// The error of every partition of a commit response, in order.
pub fn commit_errors(r: &OffsetCommitResponse) -> Vec<ErrorCode> {
    r.topics
        .iter()
        .flat_map(|t| t.partitions.iter().map(|p| err(p.error_code)))
        .collect()
}

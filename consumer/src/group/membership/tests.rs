use std::sync::Arc;

use gregor_protocol::messages::join_group::JoinGroupResponseMember;

use gregor_protocol::messages::consumer_protocol::ConsumerProtocolSubscription;

use super::requests::{common_protocol, encode_assignment};
use super::*;
use crate::group::assignor::{AssignmentInput, Assignor, MemberAssignment};

/// Gives every partition in `partitions` to the first member, in one go.
#[derive(Debug)]
struct FirstTakesAll {
    protocols: Vec<RebalanceProtocol>,
}

impl Assignor for FirstTakesAll {
    fn name(&self) -> &str {
        "first"
    }
    fn supported_protocols(&self) -> &[RebalanceProtocol] {
        &self.protocols
    }
    fn assign(&self, input: &AssignmentInput) -> Result<GroupAssignment, AssignError> {
        let mut out = GroupAssignment::new();
        for (i, m) in input.members.iter().enumerate() {
            let partitions = if i == 0 {
                input
                    .topics
                    .iter()
                    .flat_map(|(t, ps)| (0..ps.len()).map(move |p| tp(t, p as i32)))
                    .collect()
            } else {
                Vec::new()
            };
            out.insert(
                m.member_id.clone(),
                MemberAssignment {
                    partitions,
                    user_data: None,
                },
            );
        }
        Ok(out)
    }
}

fn tp(t: &str, p: i32) -> TopicPartition {
    TopicPartition::new(t, p)
}

fn settings(protocols: &[RebalanceProtocol], instance: Option<&str>) -> MembershipSettings {
    MembershipSettings {
        group_id: "g".to_owned(),
        instance_id: instance.map(str::to_owned),
        session_timeout: Duration::from_secs(10),
        rebalance_timeout: Duration::from_secs(30),
        heartbeat_interval: Duration::from_secs(3),
        retry_backoff: Duration::from_millis(100),
        rack: Some("r1".to_owned()),
        assignors: vec![Arc::new(FirstTakesAll {
            protocols: protocols.to_vec(),
        })],
    }
}

fn eager() -> Membership {
    Membership::new(
        settings(&[RebalanceProtocol::Eager], None),
        vec!["t".into()],
    )
}

fn cooperative() -> Membership {
    Membership::new(
        settings(
            &[RebalanceProtocol::Eager, RebalanceProtocol::Cooperative],
            None,
        ),
        vec!["t".into()],
    )
}

fn sent(step: Step) -> GroupRequest {
    match step {
        Step::Send(r) => r,
        other => panic!("expected a request, got {other:?}"),
    }
}

fn join_ok(member: &str, leader: &str, generation: i32, members: &[&str]) -> GroupResponse {
    GroupResponse::Join(JoinGroupResponse {
        generation_id: generation,
        protocol_name: Some("first".to_owned()),
        leader: leader.to_owned(),
        member_id: member.to_owned(),
        members: members
            .iter()
            .map(|m| JoinGroupResponseMember {
                member_id: (*m).to_owned(),
                metadata: ConsumerProtocolSubscription {
                    topics: vec!["t".to_owned()],
                    user_data: None,
                    owned_partitions: Vec::new(),
                    generation_id: -1,
                    rack_id: None,
                }
                .to_bytes(3)
                .unwrap(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    })
}

fn sync_ok(partitions: &[TopicPartition]) -> GroupResponse {
    GroupResponse::Sync(SyncGroupResponse {
        assignment: encode_assignment(partitions, None).unwrap(),
        ..Default::default()
    })
}

fn error(api: GroupApi, code: ErrorCode) -> GroupResponse {
    let error_code = code.code();
    match api {
        GroupApi::JoinGroup => GroupResponse::Join(JoinGroupResponse {
            error_code,
            ..Default::default()
        }),
        GroupApi::SyncGroup => GroupResponse::Sync(SyncGroupResponse {
            error_code,
            ..Default::default()
        }),
        GroupApi::Heartbeat => GroupResponse::Heartbeat(HeartbeatResponse {
            error_code,
            ..Default::default()
        }),
        _ => GroupResponse::Leave(LeaveGroupResponse {
            error_code,
            ..Default::default()
        }),
    }
}

/// Joins `m` as a follower that is given `partitions` in generation `generation`.
fn join_as_follower(
    m: &mut Membership,
    now: Instant,
    generation: i32,
    partitions: &[TopicPartition],
) {
    assert!(matches!(sent(m.next_step(now)), GroupRequest::Join(_)));
    m.on_response(now, join_ok("me", "other", generation, &[]));
    assert!(matches!(sent(m.next_step(now)), GroupRequest::Sync(_)));
    m.on_response(now, sync_ok(partitions));
}

#[test]
fn a_leader_joins_with_kip_394_assigns_and_heartbeats() {
    let mut m = eager();
    let t0 = Instant::now();
    let GroupRequest::Join(first) = sent(m.next_step(t0)) else {
        panic!()
    };
    assert_eq!(first.member_id, "");
    assert_eq!(first.protocol_type, "consumer");
    let (_, sub) =
        ConsumerProtocolSubscription::from_bytes(first.protocols[0].metadata.clone()).unwrap();
    assert_eq!(sub.topics, vec!["t".to_owned()]);
    assert_eq!(sub.rack_id.as_deref(), Some("r1"));
    // Nothing else while the JoinGroup is out.
    assert!(matches!(m.next_step(t0), Step::Wait(None)));
    m.on_response(
        t0,
        GroupResponse::Join(JoinGroupResponse {
            error_code: ErrorCode::MemberIdRequired.code(),
            member_id: "me".to_owned(),
            ..Default::default()
        }),
    );
    let GroupRequest::Join(second) = sent(m.next_step(t0)) else {
        panic!()
    };
    assert_eq!(second.member_id, "me");
    m.on_response(t0, join_ok("me", "me", 1, &["me", "you"]));
    assert!(m.is_leader());
    let Step::Assign(task) = m.next_step(t0) else {
        panic!()
    };
    assert_eq!(task.members.len(), 2);
    assert_eq!(task.members[0].topics, vec!["t".to_owned()]);
    let input = AssignmentInput {
        members: task.members.clone(),
        topics: [("t".to_owned(), vec![Default::default(); 2])].into(),
    };
    m.assignment_ready(task.generation, task.assignor.assign(&input));
    let GroupRequest::Sync(sync) = sent(m.next_step(t0)) else {
        panic!()
    };
    assert_eq!(sync.generation_id, 1);
    assert_eq!(sync.assignments.len(), 2);
    m.on_response(t0, sync_ok(&[tp("t", 0), tp("t", 1)]));
    assert_eq!(
        m.poll_event(),
        Some(MemberEvent::Assigned(vec![tp("t", 0), tp("t", 1)]))
    );
    assert!(m.is_stable());
    assert_eq!(m.commit_identity().unwrap().generation, 1);
    // The first heartbeat is due one interval after the sync.
    assert_eq!(
        m.next_step(t0).clone_wait(),
        Some(t0 + Duration::from_secs(3))
    );
    let t1 = t0 + Duration::from_secs(3);
    let GroupRequest::Heartbeat(hb) = sent(m.next_step(t1)) else {
        panic!()
    };
    assert_eq!((hb.generation_id, hb.member_id.as_str()), (1, "me"));
}

impl Step {
    fn clone_wait(&self) -> Option<Instant> {
        match self {
            Step::Wait(at) => *at,
            other => panic!("expected a wait, got {other:?}"),
        }
    }
}

#[test]
fn an_eager_member_revokes_everything_before_it_rejoins() {
    let mut m = eager();
    let t0 = Instant::now();
    join_as_follower(&mut m, t0, 1, &[tp("t", 0), tp("t", 1)]);
    m.poll_event();
    let t1 = t0 + Duration::from_secs(3);
    sent(m.next_step(t1));
    m.on_response(
        t1,
        error(GroupApi::Heartbeat, ErrorCode::RebalanceInProgress),
    );
    // The revocation comes first; no JoinGroup until the application is done, but the
    // member heartbeats meanwhile so that its session holds.
    assert_eq!(
        m.next_step(t1).clone_wait(),
        Some(t1 + Duration::from_secs(3))
    );
    assert_eq!(
        m.poll_event(),
        Some(MemberEvent::Revoke(vec![tp("t", 0), tp("t", 1)]))
    );
    let t2 = t1 + Duration::from_secs(3);
    assert!(matches!(sent(m.next_step(t2)), GroupRequest::Heartbeat(_)));
    m.on_response(
        t2,
        error(GroupApi::Heartbeat, ErrorCode::RebalanceInProgress),
    );
    assert!(matches!(m.next_step(t2), Step::Wait(Some(_))));
    m.revoke_done(&[tp("t", 0), tp("t", 1)]);
    let GroupRequest::Join(join) = sent(m.next_step(t1)) else {
        panic!()
    };
    assert_eq!(join.member_id, "me");
    let (_, sub) =
        ConsumerProtocolSubscription::from_bytes(join.protocols[0].metadata.clone()).unwrap();
    assert!(sub.owned_partitions.is_empty());
    assert!(m.owned().is_empty());
}

#[test]
fn a_cooperative_member_keeps_what_stays_and_rejoins_after_revoking_what_moves() {
    let mut m = cooperative();
    assert_eq!(m.protocol(), RebalanceProtocol::Cooperative);
    let t0 = Instant::now();
    join_as_follower(&mut m, t0, 1, &[tp("t", 0), tp("t", 1)]);
    m.poll_event();
    let t1 = t0 + Duration::from_secs(3);
    sent(m.next_step(t1));
    m.on_response(
        t1,
        error(GroupApi::Heartbeat, ErrorCode::RebalanceInProgress),
    );
    // No revocation: the member joins at once, saying what it owns.
    let GroupRequest::Join(join) = sent(m.next_step(t1)) else {
        panic!()
    };
    assert_eq!(m.poll_event(), None);
    let (_, sub) =
        ConsumerProtocolSubscription::from_bytes(join.protocols[0].metadata.clone()).unwrap();
    assert_eq!(sub.owned_partitions.len(), 1);
    assert_eq!(sub.owned_partitions[0].partitions, vec![0, 1]);
    assert_eq!(sub.generation_id, 1);
    m.on_response(t1, join_ok("me", "other", 2, &[]));
    sent(m.next_step(t1));
    // Generation 2 keeps t-1, moves t-0 away and adds t-2.
    m.on_response(t1, sync_ok(&[tp("t", 1), tp("t", 2)]));
    assert_eq!(m.poll_event(), Some(MemberEvent::Revoke(vec![tp("t", 0)])));
    assert_eq!(
        m.poll_event(),
        Some(MemberEvent::Assigned(vec![tp("t", 2)]))
    );
    // Until the revocation is done the member heartbeats in generation 2, no JoinGroup.
    let t2 = t1 + Duration::from_secs(3);
    assert!(matches!(sent(m.next_step(t2)), GroupRequest::Heartbeat(_)));
    m.on_response(t2, error(GroupApi::Heartbeat, ErrorCode::None));
    m.revoke_done(&[tp("t", 0)]);
    let GroupRequest::Join(second) = sent(m.next_step(t2)) else {
        panic!()
    };
    let (_, sub) =
        ConsumerProtocolSubscription::from_bytes(second.protocols[0].metadata.clone()).unwrap();
    assert_eq!(sub.owned_partitions[0].partitions, vec![1, 2]);
    assert_eq!(sub.generation_id, 2);
}

#[test]
fn a_member_without_a_good_heartbeat_for_the_session_timeout_fences_itself() {
    let mut m = eager();
    let t0 = Instant::now();
    join_as_follower(&mut m, t0, 1, &[tp("t", 0)]);
    m.poll_event();
    // Heartbeats fail (connection lost) and keep failing.
    let mut now = t0 + Duration::from_secs(3);
    while now < t0 + Duration::from_secs(10) {
        if let Step::Send(GroupRequest::Heartbeat(_)) = m.next_step(now) {
            m.request_failed(now, GroupApi::Heartbeat);
        }
        assert_eq!(
            m.poll_event(),
            None,
            "nothing lost before the session timeout"
        );
        now += Duration::from_millis(500);
    }
    // At the session timeout the partitions are lost (not revoked: no commit), and it rejoins.
    let step = m.next_step(t0 + Duration::from_secs(10));
    assert_eq!(m.poll_event(), Some(MemberEvent::Lost(vec![tp("t", 0)])));
    assert!(matches!(step, Step::Send(GroupRequest::Join(_))));
    assert!(m.owned().is_empty());
}

#[test]
fn a_heartbeat_left_unanswered_is_given_up_at_the_fence() {
    let mut m = eager();
    let t0 = Instant::now();
    join_as_follower(&mut m, t0, 1, &[tp("t", 0)]);
    m.poll_event();
    // The session (10 s in these settings) counts from the sync, the last sign of life.
    let fence = m.fence_at().expect("a member in a generation has a fence");
    assert!(fence > t0 && fence <= t0 + Duration::from_secs(10));
    // A heartbeat goes out and is never answered (a stalled connection): the shell gives it
    // up at the fence, and the member fences itself there, not at the request timeout.
    let hb = t0 + Duration::from_secs(3);
    assert!(matches!(
        m.next_step(hb),
        Step::Send(GroupRequest::Heartbeat(_))
    ));
    assert_eq!(
        m.fence_at(),
        Some(fence),
        "an unanswered heartbeat moves nothing"
    );
    m.request_failed(fence, GroupApi::Heartbeat);
    let step = m.next_step(fence);
    assert_eq!(m.poll_event(), Some(MemberEvent::Lost(vec![tp("t", 0)])));
    assert!(matches!(step, Step::Send(GroupRequest::Join(_))));
    assert_eq!(m.fence_at(), None, "outside a generation nothing is fenced");
}

#[test]
fn a_fenced_static_member_stops_with_a_fatal_event() {
    let mut m = Membership::new(
        settings(&[RebalanceProtocol::Eager], Some("pod-1")),
        vec!["t".into()],
    );
    let t0 = Instant::now();
    let GroupRequest::Join(join) = sent(m.next_step(t0)) else {
        panic!()
    };
    assert_eq!(join.group_instance_id.as_deref(), Some("pod-1"));
    m.on_response(t0, error(GroupApi::JoinGroup, ErrorCode::FencedInstanceId));
    assert_eq!(
        m.poll_event(),
        Some(MemberEvent::Fatal {
            api: GroupApi::JoinGroup,
            code: ErrorCode::FencedInstanceId,
            kind: FatalKind::FencedInstanceId,
        })
    );
    assert!(m.is_done());
    assert!(matches!(
        m.next_step(t0 + Duration::from_secs(60)),
        Step::Wait(None)
    ));
}

#[test]
fn unknown_member_id_loses_the_partitions_and_rejoins_as_a_new_member() {
    let mut m = eager();
    let t0 = Instant::now();
    join_as_follower(&mut m, t0, 1, &[tp("t", 0)]);
    m.poll_event();
    let t1 = t0 + Duration::from_secs(3);
    sent(m.next_step(t1));
    m.on_response(t1, error(GroupApi::Heartbeat, ErrorCode::UnknownMemberId));
    assert_eq!(m.poll_event(), Some(MemberEvent::Lost(vec![tp("t", 0)])));
    let GroupRequest::Join(join) = sent(m.next_step(t1)) else {
        panic!()
    };
    assert_eq!(join.member_id, "");
}

#[test]
fn the_coordinator_is_looked_up_again_at_once_then_with_backoff() {
    let mut m = eager();
    let t0 = Instant::now();
    sent(m.next_step(t0));
    assert_eq!(
        m.on_response(t0, error(GroupApi::JoinGroup, ErrorCode::NotCoordinator)),
        Reaction::Rediscover
    );
    // The first retry goes at once...
    assert!(matches!(sent(m.next_step(t0)), GroupRequest::Join(_)));
    m.on_response(t0, error(GroupApi::JoinGroup, ErrorCode::NotCoordinator));
    // ...a repeated failure waits.
    assert!(matches!(m.next_step(t0), Step::Wait(Some(_))));
}

#[test]
fn closing_revokes_then_leaves_and_a_static_member_does_not_leave() {
    let mut m = eager();
    let t0 = Instant::now();
    join_as_follower(&mut m, t0, 1, &[tp("t", 0)]);
    m.poll_event();
    m.close(true);
    assert_eq!(m.poll_event(), Some(MemberEvent::Revoke(vec![tp("t", 0)])));
    assert!(matches!(m.next_step(t0), Step::Wait(Some(_))));
    // Not finished while the revocation and the LeaveGroup are still to come.
    assert!(!m.is_finished());
    m.revoke_done(&[tp("t", 0)]);
    assert!(!m.is_finished());
    let GroupRequest::Leave(leave) = sent(m.next_step(t0)) else {
        panic!()
    };
    assert_eq!(leave.members[0].member_id, "me");
    assert!(!m.is_finished(), "the LeaveGroup is in flight");
    m.on_response(t0, error(GroupApi::LeaveGroup, ErrorCode::None));
    assert!(m.is_done());
    assert!(m.is_finished());

    let mut s = Membership::new(
        settings(&[RebalanceProtocol::Eager], Some("pod-1")),
        vec!["t".into()],
    );
    join_as_follower(&mut s, t0, 1, &[tp("t", 0)]);
    s.poll_event();
    s.close(false);
    s.poll_event();
    s.revoke_done(&[tp("t", 0)]);
    assert!(matches!(s.next_step(t0), Step::Wait(None)));
}

#[test]
fn the_protocol_is_the_highest_every_assignor_supports() {
    let both = [RebalanceProtocol::Eager, RebalanceProtocol::Cooperative];
    let mut s = settings(&both, None);
    assert_eq!(
        common_protocol(&s.assignors),
        RebalanceProtocol::Cooperative
    );
    s.assignors.push(Arc::new(FirstTakesAll {
        protocols: vec![RebalanceProtocol::Eager],
    }));
    assert_eq!(common_protocol(&s.assignors), RebalanceProtocol::Eager);
}

#[test]
fn a_member_that_missed_the_poll_interval_leaves_then_rejoins_when_asked() {
    let mut m = eager();
    let t0 = Instant::now();
    join_as_follower(&mut m, t0, 1, &[tp("t", 0)]);
    m.poll_event();
    assert_eq!(m.poll_interval_expired(), vec![tp("t", 0)]);
    assert_eq!(m.poll_event(), Some(MemberEvent::Lost(vec![tp("t", 0)])));
    assert!(!m.is_done(), "paused, not done");
    let GroupRequest::Leave(_) = sent(m.next_step(t0)) else {
        panic!()
    };
    m.on_response(t0, error(GroupApi::LeaveGroup, ErrorCode::None));
    // Nothing until the application polls again.
    assert!(matches!(
        m.next_step(t0 + Duration::from_secs(60)),
        Step::Wait(None)
    ));
    m.rejoin_after_poll_timeout();
    let GroupRequest::Join(join) = sent(m.next_step(t0 + Duration::from_secs(60))) else {
        panic!()
    };
    assert_eq!(join.member_id, "", "a new member");
}

#[test]
fn an_eager_sticky_member_claims_its_last_assignment_in_its_user_data() {
    use crate::group::assignor::sticky::StickyAssignor;
    use crate::group::assignor::sticky_user_data::decode_sticky;
    let mut s = settings(&[RebalanceProtocol::Eager], None);
    s.assignors = vec![Arc::new(StickyAssignor::new())];
    let mut m = Membership::new(s, vec!["t".into()]);
    let t0 = Instant::now();
    join_as_follower(&mut m, t0, 4, &[tp("t", 0), tp("t", 2)]);
    m.poll_event();
    m.request_rejoin();
    m.next_step(t0);
    m.revoke_done(&[tp("t", 0), tp("t", 2)]);
    let GroupRequest::Join(join) = sent(m.next_step(t0)) else {
        panic!()
    };
    let (_, sub) =
        ConsumerProtocolSubscription::from_bytes(join.protocols[0].metadata.clone()).unwrap();
    // Eager: nothing owned any more, but the user data remembers generation 4's assignment.
    assert!(sub.owned_partitions.is_empty());
    let data = decode_sticky(sub.user_data.as_deref().unwrap()).unwrap();
    assert_eq!(data.generation, Some(4));
    assert_eq!(data.partitions, vec![tp("t", 0), tp("t", 2)]);
}

#[test]
fn closing_while_a_heartbeat_is_out_still_leaves() {
    let mut m = eager();
    let t0 = Instant::now();
    join_as_follower(&mut m, t0, 1, &[tp("t", 0)]);
    m.poll_event();
    let t1 = t0 + Duration::from_secs(3);
    assert!(matches!(sent(m.next_step(t1)), GroupRequest::Heartbeat(_)));
    m.close(true);
    m.on_response(t1, error(GroupApi::Heartbeat, ErrorCode::None));
    assert_eq!(m.poll_event(), Some(MemberEvent::Revoke(vec![tp("t", 0)])));
    m.revoke_done(&[tp("t", 0)]);
    assert!(!m.is_finished());
    assert!(matches!(sent(m.next_step(t1)), GroupRequest::Leave(_)));
}

#[test]
fn closing_while_a_join_is_parked_leaves_instead_of_syncing() {
    let mut m = cooperative();
    let t0 = Instant::now();
    join_as_follower(&mut m, t0, 1, &[tp("t", 0), tp("t", 1)]);
    m.poll_event();
    m.request_rejoin();
    assert!(matches!(sent(m.next_step(t0)), GroupRequest::Join(_)));
    // The application closes while the coordinator holds the JoinGroup.
    m.close(true);
    assert_eq!(
        m.poll_event(),
        Some(MemberEvent::Revoke(vec![tp("t", 0), tp("t", 1)]))
    );
    m.on_response(t0, join_ok("me", "other", 2, &[]));
    m.revoke_done(&[tp("t", 0), tp("t", 1)]);
    let GroupRequest::Leave(leave) = sent(m.next_step(t0)) else {
        panic!("a closed member leaves rather than syncing")
    };
    assert_eq!(leave.members[0].member_id, "me");
    m.on_response(t0, error(GroupApi::LeaveGroup, ErrorCode::None));
    assert!(m.is_finished());
    assert_eq!(m.poll_event(), None, "no assignment after close");
}

#[test]
fn a_static_leader_told_to_skip_assignment_syncs_without_assigning() {
    // KIP-814: a static leader that rejoins is told to skip the assignment (the group keeps
    // the one it has); it syncs with no assignments and gets its own back.
    let mut m = Membership::new(
        settings(&[RebalanceProtocol::Eager], Some("pod-1")),
        vec!["t".into()],
    );
    let t0 = Instant::now();
    sent(m.next_step(t0));
    let GroupResponse::Join(mut join) = join_ok("me", "me", 3, &["me", "you"]) else {
        panic!()
    };
    join.skip_assignment = true;
    m.on_response(t0, GroupResponse::Join(join));
    let GroupRequest::Sync(sync) = sent(m.next_step(t0)) else {
        panic!("no assignment step for a leader told to skip it")
    };
    assert!(sync.assignments.is_empty());
    m.on_response(t0, sync_ok(&[tp("t", 1)]));
    assert_eq!(
        m.poll_event(),
        Some(MemberEvent::Assigned(vec![tp("t", 1)]))
    );
}

//! Static members (KIP-345): rejoining without a rebalance, fencing, and staying through a
//! rebalance they miss.

use bytes::Bytes;
use gregor_protocol::ErrorCode;
use gregor_protocol::messages::HeartbeatRequest;
use gregor_testkit::mock::group::GroupState;

use super::harness::*;

const ROUNDROBIN_FIRST: &[(&str, &[u8])] = &[("roundrobin", b"x"), ("range", b"y")];

fn static_hb(generation: i32, member_id: &str, instance: &str) -> HeartbeatRequest {
    HeartbeatRequest {
        group_instance_id: Some(instance.to_owned()),
        ..hb_req(generation, member_id)
    }
}

/// A static leader (instance "a-1") and a dynamic follower, stable in generation 2.
fn static_pair(h: &mut H, v: i16) -> (String, String) {
    // Static members skip MEMBER_ID_REQUIRED.
    let ra = now(h.join(0, v, &join_req("", Some("a-1"), RANGE)));
    let a = ra.member_id.clone();
    assert!(a.starts_with("a-1-"), "{a}");
    assert_eq!((ra.generation_id, ra.leader.as_str()), (1, a.as_str()));
    now(h.sync(0, v, &sync_req(1, &a, &[(&a, b"A")])));
    let b = h.member_id(10, v, RANGE);
    let tb = later(h.join(10, v, &join_req(&b, None, RANGE)));
    let ra = now(h.join(20, v, &join_req(&a, Some("a-1"), RANGE)));
    assert_eq!(ra.members[0].group_instance_id.as_deref(), Some("a-1"));
    join_done(&h.poll(20, v), tb);
    let tb = later(h.sync(30, v, &sync_req(2, &b, &[])));
    now(h.sync(30, v, &sync_req(2, &a, &[(&a, b"A2"), (&b, b"B2")])));
    sync_done(&h.poll(30, v), tb);
    (a, b)
}

#[test]
fn static_leader_rejoins_without_a_rebalance_and_its_old_id_is_fenced() {
    let mut h = H::new();
    let v = 9;
    let (old_a, b) = static_pair(&mut h, v);
    // The static member restarts: same instance id, no member id, same protocols.
    let r = now(h.join(1000, v, &join_req("", Some("a-1"), RANGE)));
    let a = r.member_id.clone();
    assert_ne!(a, old_a);
    assert_eq!((r.error_code, r.generation_id), (0, 2), "no new generation");
    // KIP-814: the leader learns it leads, with the members, but must not reassign.
    assert_eq!(
        (r.leader.as_str(), r.skip_assignment, r.members.len()),
        (a.as_str(), true, 2)
    );
    assert_eq!(h.c.group_state(GROUP), Some(GroupState::Stable));
    assert_eq!(h.heartbeat(1100, v, &hb_req(2, &b)), ErrorCode::None);
    assert_eq!(
        h.heartbeat(1100, v, &static_hb(2, &old_a, "a-1")),
        ErrorCode::FencedInstanceId
    );
    assert_eq!(
        h.heartbeat(1100, v, &hb_req(2, &old_a)),
        ErrorCode::UnknownMemberId
    );
    assert_eq!(
        h.heartbeat(1100, v, &static_hb(2, &a, "a-1")),
        ErrorCode::None
    );
    // It keeps its assignment.
    let mut sync = sync_req(2, &a, &[]);
    sync.group_instance_id = Some("a-1".into());
    assert_eq!(
        now(h.sync(1200, v, &sync)).assignment,
        Bytes::from_static(b"A2")
    );
    // The old member id cannot join either.
    let fenced = now(h.join(1300, v, &join_req(&old_a, Some("a-1"), RANGE)));
    assert_eq!(err(fenced.error_code), ErrorCode::FencedInstanceId);
}

#[test]
fn before_v9_a_static_leader_is_told_the_old_leader_id() {
    let mut h = H::new();
    let v = 5;
    let (old_a, _b) = static_pair(&mut h, v);
    let r = now(h.join(1000, v, &join_req("", Some("a-1"), RANGE)));
    assert_eq!((r.error_code, r.generation_id), (0, 2));
    assert_eq!(r.leader, old_a, "so it acts as a follower and just syncs");
    assert!(r.members.is_empty());
    assert_eq!(h.c.group_state(GROUP), Some(GroupState::Stable));
}

#[test]
fn static_member_changing_the_selected_protocol_triggers_a_rebalance() {
    let mut h = H::new();
    let v = 9;
    let a_prefs: &[(&str, &[u8])] = &[("range", b"a-r"), ("roundrobin", b"a-rr")];
    let b_prefs: &[(&str, &[u8])] = &[("roundrobin", b"b-rr"), ("range", b"b-r")];
    let a = now(h.join(0, v, &join_req("", Some("a-1"), a_prefs))).member_id;
    now(h.sync(0, v, &sync_req(1, &a, &[])));
    let b = h.member_id(10, v, b_prefs);
    let tb = later(h.join(10, v, &join_req(&b, None, b_prefs)));
    let ra = now(h.join(20, v, &join_req(&a, Some("a-1"), a_prefs)));
    // One vote each: the tie goes to the smallest name.
    assert_eq!(
        (ra.generation_id, ra.protocol_name.as_deref()),
        (2, Some("range"))
    );
    join_done(&h.poll(20, v), tb);
    let tb = later(h.sync(30, v, &sync_req(2, &b, &[])));
    now(h.sync(30, v, &sync_req(2, &a, &[])));
    sync_done(&h.poll(30, v), tb);

    // Restarted with the same preferences: no rebalance.
    let r = now(h.join(1000, v, &join_req("", Some("a-1"), a_prefs)));
    assert_eq!(r.generation_id, 2);
    // Restarted preferring roundrobin: both vote for it, so the protocol changes: rebalance.
    let ta = later(h.join(2000, v, &join_req("", Some("a-1"), ROUNDROBIN_FIRST)));
    assert_eq!(h.c.group_state(GROUP), Some(GroupState::PreparingRebalance));
    let rb = now(h.join(2100, v, &join_req(&b, None, b_prefs)));
    assert_eq!(
        (rb.generation_id, rb.protocol_name.as_deref()),
        (3, Some("roundrobin"))
    );
    let ra = join_done(&h.poll(2100, v), ta);
    assert_eq!(ra.generation_id, 3);
    // Protocols the others do not support are refused for a static member too.
    let r = now(h.join(2200, v, &join_req("", Some("a-1"), &[("sticky", b"")])));
    assert_eq!(err(r.error_code), ErrorCode::InconsistentGroupProtocol);
}

#[test]
fn static_member_missing_a_rebalance_stays_in_the_group() {
    let mut h = H::new();
    let v = 9;
    let (a, b) = static_pair(&mut h, v);
    // B rejoins with new metadata, which starts a rebalance; A stays alive but never rejoins.
    let tb = later(h.join(100, v, &join_req(&b, None, &[("range", b"new")])));
    for t in (3000..30_000).step_by(3000) {
        let hb = h.heartbeat(t, v, &static_hb(2, &a, "a-1"));
        assert_eq!(hb, ErrorCode::RebalanceInProgress);
    }
    let done = h.poll(100 + REBALANCE_MS as u64, v);
    let rb = join_done(&done, tb);
    // The static member did not rejoin but is kept; B, the only one that joined, leads.
    assert_eq!((rb.generation_id, rb.leader.as_str()), (3, b.as_str()));
    let members: Vec<_> = rb.members.iter().map(|m| m.member_id.clone()).collect();
    assert_eq!(members, [a.clone(), b.clone()]);
    // An admin can remove a static member by instance id alone.
    let r = h.leave(30_200, 4, &leave_req(&[("", Some("a-1"))]));
    assert_eq!(r.members[0].error_code, 0);
    assert_eq!(h.c.member_ids(GROUP), [b]);
}

//! Joining, syncing, heartbeats, leaving, timeouts and protocol selection.

use std::time::Duration;

use bytes::Bytes;
use gregor_protocol::ErrorCode;
use gregor_protocol::messages::SyncGroupRequest;
use gregor_testkit::mock::group::{GroupConfig, GroupState};

use super::harness::*;

fn delayed() -> H {
    H::with(GroupConfig {
        initial_rebalance_delay: Duration::from_secs(3),
        ..Default::default()
    })
}

#[test]
fn two_members_join_leader_elected_sync_distributes_assignments() {
    let mut h = delayed();
    let v = 9;
    let a = h.member_id(0, v, RANGE);
    let ta = later(h.join(0, v, &join_req(&a, None, RANGE)));
    let b = h.member_id(1000, v, RANGE);
    let tb = later(h.join(1000, v, &join_req(&b, None, RANGE)));
    // The first rebalance waits for the initial delay, extended once because B arrived.
    assert_eq!(h.c.next_deadline(), Some(h.at(3000)));
    assert!(h.poll(2999, v).is_empty());
    assert!(h.poll(3000, v).is_empty());
    assert_eq!(h.c.next_deadline(), Some(h.at(6000)));
    let done = h.poll(6000, v);
    let (ra, rb) = (join_done(&done, ta), join_done(&done, tb));
    assert_eq!(
        (ra.error_code, ra.generation_id, ra.leader.as_str()),
        (0, 1, a.as_str())
    );
    assert_eq!(ra.protocol_type.as_deref(), Some("consumer"));
    assert_eq!(ra.protocol_name.as_deref(), Some("range"));
    let listed: Vec<_> = ra
        .members
        .iter()
        .map(|m| (m.member_id.as_str(), &m.metadata[..]))
        .collect();
    assert_eq!(
        listed,
        [(a.as_str(), &b"sub"[..]), (b.as_str(), &b"sub"[..])]
    );
    assert_eq!(
        (rb.generation_id, rb.leader.as_str(), rb.member_id.as_str()),
        (1, a.as_str(), b.as_str())
    );
    assert!(rb.members.is_empty(), "only the leader gets the members");
    assert_eq!(
        h.c.group_state(GROUP),
        Some(GroupState::CompletingRebalance)
    );

    // The follower waits for the leader's assignment.
    let tb = later(h.sync(6100, v, &sync_req(1, &b, &[])));
    let sa = now(h.sync(6200, v, &sync_req(1, &a, &[(&a, b"pa"), (&b, b"pb")])));
    assert_eq!(
        (sa.error_code, sa.assignment.clone()),
        (0, Bytes::from_static(b"pa"))
    );
    assert_eq!(sa.protocol_name.as_deref(), Some("range"));
    let sb = sync_done(&h.poll(6200, v), tb);
    assert_eq!(sb.assignment, Bytes::from_static(b"pb"));
    assert_eq!(h.c.group_state(GROUP), Some(GroupState::Stable));
    assert_eq!(h.heartbeat(7000, v, &hb_req(1, &b)), ErrorCode::None);
    // A stable follower syncing again gets its assignment at once.
    assert_eq!(
        now(h.sync(7100, v, &sync_req(1, &b, &[]))).assignment,
        Bytes::from_static(b"pb")
    );
}

#[test]
fn third_member_triggers_a_rebalance_everyone_rejoins() {
    let mut h = H::new();
    let v = 7;
    let (a, b) = h.stable_pair(v);
    let c = h.member_id(100, v, RANGE);
    let tc = later(h.join(100, v, &join_req(&c, None, RANGE)));
    assert_eq!(h.c.group_state(GROUP), Some(GroupState::PreparingRebalance));
    assert_eq!(
        h.heartbeat(200, v, &hb_req(2, &a)),
        ErrorCode::RebalanceInProgress
    );
    assert_eq!(
        h.heartbeat(200, v, &hb_req(2, &b)),
        ErrorCode::RebalanceInProgress
    );
    // SyncGroup during the rebalance is refused.
    let rip = now(h.sync(250, v, &sync_req(2, &b, &[])));
    assert_eq!(err(rip.error_code), ErrorCode::RebalanceInProgress);
    let ta = later(h.join(300, v, &join_req(&a, None, RANGE)));
    assert!(h.poll(300, v).is_empty());
    // The last member to rejoin completes everybody's join.
    let rb = now(h.join(400, v, &join_req(&b, None, RANGE)));
    let done = h.poll(400, v);
    let (ra, rc) = (join_done(&done, ta), join_done(&done, tc));
    for r in [&ra, &rb, &rc] {
        assert_eq!(
            (r.error_code, r.generation_id, r.leader.as_str()),
            (0, 3, a.as_str())
        );
    }
    assert_eq!(ra.members.len(), 3);
    assert!(rb.members.is_empty() && rc.members.is_empty());
    let tb = later(h.sync(500, v, &sync_req(3, &b, &[])));
    let tc = later(h.sync(500, v, &sync_req(3, &c, &[])));
    now(h.sync(
        600,
        v,
        &sync_req(3, &a, &[(&a, b"1"), (&b, b"2"), (&c, b"3")]),
    ));
    let done = h.poll(600, v);
    assert_eq!(sync_done(&done, tb).assignment, Bytes::from_static(b"2"));
    assert_eq!(sync_done(&done, tc).assignment, Bytes::from_static(b"3"));
}

#[test]
fn member_silent_past_session_timeout_is_removed() {
    let mut h = H::new();
    let v = 9;
    let (a, b) = h.stable_pair(v);
    assert_eq!(h.c.next_deadline(), Some(h.at(50 + SESSION_MS as u64)));
    for t in [3000, 6000, 9000] {
        assert_eq!(h.heartbeat(t, v, &hb_req(2, &a)), ErrorCode::None);
    }
    // B never heartbeats: at 10.05 s it is gone and the group rebalances.
    assert!(h.poll(10_049, v).is_empty());
    h.poll(10_050, v);
    assert_eq!(h.c.member_ids(GROUP), std::slice::from_ref(&a));
    assert_eq!(
        h.heartbeat(10_100, v, &hb_req(2, &a)),
        ErrorCode::RebalanceInProgress
    );
    let ra = now(h.join(10_200, v, &join_req(&a, None, RANGE)));
    assert_eq!((ra.generation_id, ra.members.len()), (3, 1));
    assert_eq!(
        h.heartbeat(10_300, v, &hb_req(2, &b)),
        ErrorCode::UnknownMemberId
    );
}

#[test]
fn leave_triggers_a_rebalance() {
    let mut h = H::new();
    let (a, b) = h.stable_pair(5);
    let r = h.leave(100, 5, &leave_req(&[(&b, None), ("nobody", None)]));
    assert_eq!(r.error_code, 0);
    let errors: Vec<_> = r
        .members
        .iter()
        .map(|m| (m.member_id.as_str(), err(m.error_code)))
        .collect();
    assert_eq!(
        errors,
        [
            (b.as_str(), ErrorCode::None),
            ("nobody", ErrorCode::UnknownMemberId)
        ]
    );
    assert_eq!(h.c.group_state(GROUP), Some(GroupState::PreparingRebalance));
    assert_eq!(
        h.heartbeat(200, 4, &hb_req(2, &a)),
        ErrorCode::RebalanceInProgress
    );
    let ra = now(h.join(300, 5, &join_req(&a, None, RANGE)));
    assert_eq!((ra.generation_id, ra.members.len()), (3, 1));
    // Versions 0-2 leave one member; its error is the response's.
    assert_eq!(
        h.leave(400, 1, &leave_req(&[("nobody", None)])).error_code,
        25
    );
    assert_eq!(h.leave(500, 0, &leave_req(&[(&a, None)])).error_code, 0);
    assert_eq!(h.c.group_state(GROUP), Some(GroupState::Empty));
    assert_eq!(h.c.generation(GROUP), Some(4));
}

#[test]
fn member_id_required_then_join_with_the_given_id() {
    let mut h = H::new();
    let first = now(h.join(0, 4, &join_req("", None, RANGE)));
    assert_eq!(err(first.error_code), ErrorCode::MemberIdRequired);
    assert_eq!((first.generation_id, first.leader.as_str()), (-1, ""));
    assert_eq!(h.c.group_state(GROUP), Some(GroupState::Empty));
    let r = now(h.join(10, 4, &join_req(&first.member_id, None, RANGE)));
    assert_eq!((r.error_code, r.generation_id), (0, 1));
    assert_eq!(
        (r.member_id.as_str(), r.leader.as_str()),
        (first.member_id.as_str(), first.member_id.as_str())
    );
    // Before v4 there is no such round trip.
    let mut old = H::new();
    for v in 0..=3 {
        let mut req = join_req("", None, RANGE);
        req.group_id = format!("old-{v}");
        if v == 0 {
            req.rebalance_timeout_ms = -1;
        }
        let r = now(old.join(0, v, &req));
        assert_eq!((r.error_code, r.generation_id), (0, 1), "v{v}");
        assert!(r.member_id.starts_with("client-"));
    }
}

#[test]
fn pending_member_blocks_the_rebalance_until_its_id_expires() {
    let mut h = H::new();
    let v = 6;
    let a = h.member_id(0, v, RANGE);
    now(h.join(0, v, &join_req(&a, None, RANGE)));
    now(h.sync(0, v, &sync_req(1, &a, &[(&a, b"A")])));
    let x = h.member_id(100, v, RANGE);
    // The leader rejoining rebalances; the member that got MEMBER_ID_REQUIRED is waited for.
    let ta = later(h.join(200, v, &join_req(&a, None, RANGE)));
    assert!(h.poll(10_099, v).is_empty());
    let ra = join_done(&h.poll(10_100, v), ta);
    assert_eq!((ra.generation_id, ra.members.len()), (2, 1));
    let rx = now(h.join(10_200, v, &join_req(&x, None, RANGE)));
    assert_eq!(err(rx.error_code), ErrorCode::UnknownMemberId);
}

#[test]
fn protocol_selection_by_member_votes() {
    let mut h = delayed();
    let v = 9;
    let prefs: [&[(&str, &[u8])]; 3] = [
        &[("range", b"a-r"), ("roundrobin", b"a-rr")],
        &[("roundrobin", b"b-rr"), ("range", b"b-r")],
        &[
            ("sticky", b"c-s"),
            ("roundrobin", b"c-rr"),
            ("range", b"c-r"),
        ],
    ];
    let mut tickets = Vec::new();
    for (i, p) in prefs.iter().enumerate() {
        let id = h.member_id(i as u64 * 100, v, p);
        tickets.push(later(h.join(i as u64 * 100, v, &join_req(&id, None, p))));
    }
    let done = h.poll(6000, v);
    let leader = join_done(&done, tickets[0]);
    // sticky is not supported by all; range gets one vote, roundrobin two.
    assert_eq!(leader.protocol_name.as_deref(), Some("roundrobin"));
    let metadata: Vec<_> = leader.members.iter().map(|m| &m.metadata[..]).collect();
    assert_eq!(metadata, [&b"a-rr"[..], b"b-rr", b"c-rr"]);
    // A member with no protocol in common, or another protocol type, cannot join.
    let r = now(h.join(7000, v, &join_req("", None, &[("sticky", b"")])));
    assert_eq!(err(r.error_code), ErrorCode::InconsistentGroupProtocol);
    let mut other_type = join_req("", None, RANGE);
    other_type.protocol_type = "connect".into();
    assert_eq!(
        err(now(h.join(7000, v, &other_type)).error_code),
        ErrorCode::InconsistentGroupProtocol
    );

    // A tie goes to the smallest name.
    let mut h = delayed();
    let a = h.member_id(0, v, prefs[0]);
    let ta = later(h.join(0, v, &join_req(&a, None, prefs[0])));
    let b = h.member_id(0, v, prefs[1]);
    later(h.join(0, v, &join_req(&b, None, prefs[1])));
    let ra = join_done(&h.poll(6000, v), ta);
    assert_eq!(ra.protocol_name.as_deref(), Some("range"));
}

#[test]
fn member_not_rejoining_within_the_rebalance_timeout_is_removed() {
    let mut h = H::new();
    let v = 8;
    let (a, b) = h.stable_pair(v);
    let c = h.member_id(100, v, RANGE);
    let tc = later(h.join(100, v, &join_req(&c, None, RANGE)));
    let ta = later(h.join(200, v, &join_req(&a, None, RANGE)));
    // B keeps heartbeating but never rejoins.
    for t in (3000..30_000).step_by(3000) {
        assert_eq!(
            h.heartbeat(t, v, &hb_req(2, &b)),
            ErrorCode::RebalanceInProgress
        );
    }
    assert!(h.poll(30_099, v).is_empty());
    let done = h.poll(100 + REBALANCE_MS as u64, v);
    let ra = join_done(&done, ta);
    assert_eq!(join_done(&done, tc).generation_id, 3);
    let members: Vec<_> = ra.members.iter().map(|m| m.member_id.clone()).collect();
    assert_eq!(members, [a, c]);
    assert_eq!(
        h.heartbeat(30_200, v, &hb_req(2, &b)),
        ErrorCode::UnknownMemberId
    );
}

#[test]
fn leader_that_never_syncs_is_removed_after_the_rebalance_timeout() {
    let mut h = delayed();
    let v = 5;
    let a = h.member_id(0, v, RANGE);
    let ta = later(h.join(0, v, &join_req(&a, None, RANGE)));
    let b = h.member_id(0, v, RANGE);
    let tb = later(h.join(0, v, &join_req(&b, None, RANGE)));
    let done = h.poll(6000, v);
    assert_eq!(join_done(&done, ta).leader, a);
    join_done(&done, tb);
    let tb = later(h.sync(6100, v, &sync_req(1, &b, &[])));
    for t in [9000, 18_000, 27_000, 35_000] {
        assert_eq!(h.heartbeat(t, v, &hb_req(1, &a)), ErrorCode::None);
    }
    let done = h.poll(6000 + REBALANCE_MS as u64, v);
    assert_eq!(
        err(sync_done(&done, tb).error_code),
        ErrorCode::RebalanceInProgress
    );
    assert_eq!(h.c.member_ids(GROUP), std::slice::from_ref(&b));
    let rb = now(h.join(36_100, v, &join_req(&b, None, RANGE)));
    assert_eq!((rb.generation_id, rb.leader.as_str()), (2, b.as_str()));
}

#[test]
fn sync_and_heartbeat_errors() {
    let mut h = H::new();
    let v = 5;
    let (a, b) = h.stable_pair(v);
    let sync_err = |h: &mut H, req: &SyncGroupRequest| err(now(h.sync(100, v, req)).error_code);
    assert_eq!(
        sync_err(&mut h, &sync_req(1, &a, &[])),
        ErrorCode::IllegalGeneration
    );
    assert_eq!(
        sync_err(&mut h, &sync_req(2, "ghost", &[])),
        ErrorCode::UnknownMemberId
    );
    let mut wrong = sync_req(2, &b, &[]);
    wrong.protocol_name = Some("roundrobin".into());
    assert_eq!(
        sync_err(&mut h, &wrong),
        ErrorCode::InconsistentGroupProtocol
    );
    wrong.protocol_name = Some("range".into());
    wrong.protocol_type = Some("consumer".into());
    assert_eq!(sync_err(&mut h, &wrong), ErrorCode::None);
    let mut unknown_group = sync_req(2, &b, &[]);
    unknown_group.group_id = "nope".into();
    assert_eq!(sync_err(&mut h, &unknown_group), ErrorCode::UnknownMemberId);

    assert_eq!(
        h.heartbeat(100, v, &hb_req(1, &a)),
        ErrorCode::IllegalGeneration
    );
    assert_eq!(
        h.heartbeat(100, v, &hb_req(2, "ghost")),
        ErrorCode::UnknownMemberId
    );
    let mut hb = hb_req(2, &a);
    hb.group_id = "nope".into();
    assert_eq!(h.heartbeat(100, v, &hb), ErrorCode::UnknownMemberId);
    hb.group_id = String::new();
    assert_eq!(h.heartbeat(100, v, &hb), ErrorCode::InvalidGroupId);
}

#[test]
fn join_validation() {
    let mut h = H::with(GroupConfig {
        max_group_size: 1,
        ..Default::default()
    });
    let mut short = join_req("", None, RANGE);
    short.session_timeout_ms = 5999;
    assert_eq!(
        err(now(h.join(0, 9, &short)).error_code),
        ErrorCode::InvalidSessionTimeout
    );
    assert_eq!(
        err(now(h.join(0, 9, &join_req("ghost", None, RANGE))).error_code),
        ErrorCode::UnknownMemberId
    );
    assert_eq!(
        h.c.group_state(GROUP),
        None,
        "a join with a member id creates no group"
    );
    let a = h.member_id(0, 9, RANGE);
    now(h.join(0, 9, &join_req(&a, None, RANGE)));
    let r = now(h.join(10, 9, &join_req("", None, RANGE)));
    assert_eq!(
        (err(r.error_code), r.member_id.as_str()),
        (ErrorCode::GroupMaxSizeReached, "")
    );
    let mut empty = join_req("", None, RANGE);
    empty.group_id = String::new();
    assert_eq!(
        err(now(h.join(0, 9, &empty)).error_code),
        ErrorCode::InvalidGroupId
    );
}

#[test]
fn every_version_through_a_whole_membership() {
    // v4+: MEMBER_ID_REQUIRED, a second member, a rebalance, assignments, then both leave.
    for v in 4..=9 {
        let mut h = H::new();
        let (a, b) = h.stable_pair(v);
        assert_eq!(h.heartbeat(100, v, &hb_req(2, &b)), ErrorCode::None, "v{v}");
        let r = h.commit(100, v, &commit_req(GROUP, 2, &b, &[("t", 0, 1)]));
        assert_eq!(commit_errors(&r), [ErrorCode::None], "v{v}");
        h.leave(200, v, &leave_req(&[(&b, None)]));
        h.leave(300, v, &leave_req(&[(&a, None)]));
        assert_eq!(h.c.group_state(GROUP), Some(GroupState::Empty), "v{v}");
    }
    // v0-3: the member id comes with the first join.
    for v in 0..=3 {
        let mut h = H::new();
        let mut req = join_req("", None, RANGE);
        if v == 0 {
            // Version 0 has no rebalance timeout (the decoder leaves -1).
            req.rebalance_timeout_ms = -1;
        }
        let r = now(h.join(0, v, &req));
        let a = r.member_id;
        assert_eq!(
            (r.generation_id, r.leader.as_str()),
            (1, a.as_str()),
            "v{v}"
        );
        let s = now(h.sync(0, v, &sync_req(1, &a, &[(&a, b"A")])));
        assert_eq!(s.assignment, Bytes::from_static(b"A"), "v{v}");
        assert_eq!(h.heartbeat(100, v, &hb_req(1, &a)), ErrorCode::None, "v{v}");
        let r = h.commit(100, v, &commit_req(GROUP, 1, &a, &[("t", 0, 1)]));
        assert_eq!(commit_errors(&r), [ErrorCode::None], "v{v}");
        assert_eq!(
            h.leave(200, v, &leave_req(&[(&a, None)])).error_code,
            0,
            "v{v}"
        );
    }
}

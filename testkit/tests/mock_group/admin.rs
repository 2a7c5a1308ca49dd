//! FindCoordinator, DescribeGroups, ListGroups, deletion, and moving a group's coordinator.

use bytes::Bytes;
use gregor_protocol::ErrorCode;
use gregor_protocol::messages::{FindCoordinatorRequest, ListGroupsRequest};
use gregor_testkit::mock::group::{Completed, GroupState, offsets_partition_for};

use super::harness::*;

#[test]
fn describe_and_list_groups() {
    let mut h = H::new();
    let (a, b) = h.stable_pair(9);
    let d = h.describe(100, 5, &[GROUP, "nope"]);
    let g = &d.groups[0];
    assert_eq!((g.error_code, g.group_state.as_str()), (0, "Stable"));
    assert_eq!(
        (g.protocol_type.as_str(), g.protocol_data.as_str()),
        ("consumer", "range")
    );
    assert_ne!(g.authorized_operations, i32::MIN);
    let members: Vec<_> = g
        .members
        .iter()
        .map(|m| {
            (
                m.member_id.as_str(),
                &m.member_metadata[..],
                &m.member_assignment[..],
            )
        })
        .collect();
    assert_eq!(
        members,
        [
            (a.as_str(), &b"sub"[..], &b"A"[..]),
            (b.as_str(), b"sub", b"B")
        ]
    );
    assert_eq!(
        (
            g.members[0].client_id.as_str(),
            g.members[0].client_host.as_str()
        ),
        ("client", "/127.0.0.1")
    );
    // A group that does not exist is Dead; v6 adds an error.
    assert_eq!(
        (d.groups[1].error_code, d.groups[1].group_state.as_str()),
        (0, "Dead")
    );
    let d6 = h.describe(100, 6, &["nope"]);
    assert_eq!(err(d6.groups[0].error_code), ErrorCode::GroupIdNotFound);
    assert_eq!(d6.groups[0].group_state, "Dead");
    for v in 0..=6 {
        h.describe(100, v, &[GROUP, "nope", ""]);
    }

    // During a rebalance: no protocol, no metadata or assignments.
    let c = h.member_id(200, 9, RANGE);
    later(h.join(200, 9, &join_req(&c, None, RANGE)));
    let g = h.describe(300, 1, &[GROUP]).groups.remove(0);
    assert_eq!(
        (
            g.group_state.as_str(),
            g.protocol_data.as_str(),
            g.members.len()
        ),
        ("PreparingRebalance", "", 3)
    );
    assert!(
        g.members
            .iter()
            .all(|m| m.member_metadata.is_empty() && m.member_assignment.is_empty())
    );

    // A static member's instance id shows from v4.
    let mut s = join_req("", Some("s-1"), RANGE);
    s.group_id = "s".into();
    now(h.join(300, 9, &s));
    let shown = |h: &mut H, v| {
        h.describe(300, v, &["s"]).groups[0].members[0]
            .group_instance_id
            .clone()
    };
    assert_eq!(shown(&mut h, 4).as_deref(), Some("s-1"));
    assert_eq!(shown(&mut h, 3), None);

    let ids = |r: &gregor_protocol::messages::ListGroupsResponse| {
        r.groups
            .iter()
            .map(|g| g.group_id.clone())
            .collect::<Vec<_>>()
    };
    let all = h.list(400, 5, &ListGroupsRequest::default());
    assert_eq!(ids(&all), [GROUP, "s"]);
    assert_eq!(
        (
            all.groups[1].group_state.as_str(),
            all.groups[1].group_type.as_str()
        ),
        ("CompletingRebalance", "classic")
    );
    let by_state = ListGroupsRequest {
        states_filter: vec!["preparingrebalance".into(), "Stable".into()],
        ..Default::default()
    };
    assert_eq!(ids(&h.list(400, 4, &by_state)), [GROUP]);
    assert_eq!(
        ids(&h.list(400, 3, &by_state)),
        [GROUP, "s"],
        "no filter before v4"
    );
    let by_type = |t: &str| ListGroupsRequest {
        types_filter: vec![t.into()],
        ..Default::default()
    };
    assert_eq!(ids(&h.list(400, 5, &by_type("Classic"))).len(), 2);
    assert!(ids(&h.list(400, 5, &by_type("consumer"))).is_empty());
    // A broker lists only the groups it coordinates.
    h.topo.moved.insert("s".into(), 2);
    assert_eq!(ids(&h.list(400, 0, &ListGroupsRequest::default())), [GROUP]);
    h.broker = 2;
    assert_eq!(ids(&h.list(400, 2, &ListGroupsRequest::default())), ["s"]);

    // Deleting: only empty groups; afterwards the group is Dead.
    assert_eq!(h.c.delete_group(GROUP), ErrorCode::NonEmptyGroup);
    h.broker = 1;
    h.commit(500, 8, &commit_req("lonely", -1, "", &[("t", 0, 1)]));
    assert_eq!(h.c.delete_group("lonely"), ErrorCode::None);
    assert_eq!(h.c.delete_group("lonely"), ErrorCode::GroupIdNotFound);
    assert_eq!(
        h.describe(500, 5, &["lonely"]).groups[0].group_state,
        "Dead"
    );
    assert_eq!(h.c.committed_offset("lonely", "t", 0), None);
}

#[test]
fn not_coordinator_after_the_coordinator_moves() {
    let mut h = H::new();
    let v = 9;
    let (a, b) = h.stable_pair(v);
    let c = h.member_id(100, v, RANGE);
    let tc = later(h.join(100, v, &join_req(&c, None, RANGE)));
    h.topo.moved.insert(GROUP.into(), 2);

    // The old coordinator refuses everything about the group.
    let not = ErrorCode::NotCoordinator;
    assert_eq!(
        err(now(h.join(200, v, &join_req(&a, None, RANGE))).error_code),
        not
    );
    assert_eq!(
        err(now(h.sync(200, v, &sync_req(2, &a, &[]))).error_code),
        not
    );
    assert_eq!(h.heartbeat(200, v, &hb_req(2, &a)), not);
    assert_eq!(
        err(h.leave(200, v, &leave_req(&[(&a, None)])).error_code),
        not
    );
    assert_eq!(
        commit_errors(&h.commit(200, 8, &commit_req(GROUP, 2, &a, &[("t", 0, 1)]))),
        [not]
    );
    assert_eq!(err(h.describe(200, 5, &[GROUP]).groups[0].error_code), not);

    // FindCoordinator now points at broker 2.
    let find = FindCoordinatorRequest {
        key: GROUP.into(),
        ..Default::default()
    };
    let r = h.find(3, &find);
    assert_eq!(
        (r.error_code, r.node_id, r.host.as_str(), r.port),
        (0, 2, "127.0.0.1", 9092)
    );

    // Moving unloads the group: the parked join gets NOT_COORDINATOR...
    h.c.coordinator_changed(GROUP, h.at(300));
    let done = h.poll(300, v);
    assert_eq!(err(join_done(&done, tc).error_code), not);
    assert!(
        done.iter()
            .all(|(_, c)| matches!(c, Completed::JoinGroup(_)))
    );

    // ...and the new coordinator continues from the last completed generation.
    h.broker = 2;
    assert_eq!(h.c.group_state(GROUP), Some(GroupState::Stable));
    assert_eq!(h.heartbeat(400, v, &hb_req(2, &a)), ErrorCode::None);
    assert_eq!(
        now(h.sync(400, v, &sync_req(2, &b, &[]))).assignment,
        Bytes::from_static(b"B")
    );
    let rc = now(h.join(400, v, &join_req(&c, None, RANGE)));
    assert_eq!(
        err(rc.error_code),
        ErrorCode::UnknownMemberId,
        "the rebalance in flight is lost"
    );
    let r = h.commit(400, 8, &commit_req(GROUP, 2, &a, &[("t", 0, 1)]));
    assert_eq!(commit_errors(&r), [ErrorCode::None]);
}

#[test]
fn find_coordinator_in_every_version() {
    let mut h = H::new();
    for v in 0..=3 {
        let r = h.find(
            v,
            &FindCoordinatorRequest {
                key: "x".into(),
                ..Default::default()
            },
        );
        assert_eq!((r.error_code, r.node_id, r.port), (0, 1, 9091), "v{v}");
    }
    let batch = FindCoordinatorRequest {
        coordinator_keys: vec!["x".into(), "y".into()],
        ..Default::default()
    };
    h.topo.moved.insert("y".into(), 3);
    for v in 4..=6 {
        let r = h.find(v, &batch);
        let found: Vec<_> = r
            .coordinators
            .iter()
            .map(|c| (c.key.as_str(), c.node_id, c.port, c.error_code))
            .collect();
        assert_eq!(found, [("x", 1, 9091, 0), ("y", 3, 9093, 0)], "v{v}");
    }
    // A broker without an address, transactions (not served here), an unknown key type.
    h.topo.moved.insert("x".into(), 9);
    let r = h.find(
        2,
        &FindCoordinatorRequest {
            key: "x".into(),
            ..Default::default()
        },
    );
    assert_eq!(
        (err(r.error_code), r.node_id),
        (ErrorCode::CoordinatorNotAvailable, -1)
    );
    assert!(r.error_message.is_some());
    let txn = FindCoordinatorRequest {
        key_type: 1,
        coordinator_keys: vec!["t".into()],
        ..Default::default()
    };
    assert_eq!(
        err(h.find(4, &txn).coordinators[0].error_code),
        ErrorCode::CoordinatorNotAvailable
    );
    let share = FindCoordinatorRequest {
        key_type: 2,
        key: "s".into(),
        ..Default::default()
    };
    assert_eq!(err(h.find(3, &share).error_code), ErrorCode::InvalidRequest);
    h.find(
        0,
        &FindCoordinatorRequest {
            key: "x".into(),
            ..Default::default()
        },
    );
}

#[test]
fn offsets_partition_is_kafkas() {
    // abs(Java String.hashCode) % 50, checked against values computed independently.
    for (group, partition) in [
        ("g", 3),
        ("my-group", 36),
        ("console-consumer-12345", 6),
        ("groupé", 42),
    ] {
        assert_eq!(offsets_partition_for(group, 50), partition, "{group}");
    }
}

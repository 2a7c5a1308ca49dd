//! OffsetCommit and OffsetFetch: generation fencing, simple commits, single- and multi-group
//! fetches.

use gregor_protocol::ErrorCode;
use gregor_protocol::messages::offset_fetch::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use gregor_protocol::messages::{OffsetFetchRequest, OffsetFetchResponse};
use gregor_testkit::mock::group::GroupState;

use super::harness::*;

const NONE: ErrorCode = ErrorCode::None;

#[test]
fn commits_are_fenced_by_generation() {
    let mut h = H::new();
    let v = 8;
    let (a, b) = h.stable_pair(9);
    let r = h.commit(
        100,
        v,
        &commit_req(GROUP, 2, &a, &[("t", 0, 10), ("t", 1, 11)]),
    );
    assert_eq!(commit_errors(&r), [NONE, NONE]);
    let stored = h.c.committed_offset(GROUP, "t", 0).expect("committed");
    assert_eq!(
        (stored.offset, stored.leader_epoch, stored.metadata.as_str()),
        (10, 7, "m")
    );
    let one = |h: &mut H, generation: i32, member: &str| {
        commit_errors(&h.commit(
            200,
            v,
            &commit_req(GROUP, generation, member, &[("t", 0, 20)]),
        ))
    };
    assert_eq!(one(&mut h, 1, &a), [ErrorCode::IllegalGeneration]);
    assert_eq!(one(&mut h, 2, "ghost"), [ErrorCode::UnknownMemberId]);
    // Only members commit while the group has members.
    assert_eq!(one(&mut h, -1, ""), [ErrorCode::UnknownMemberId]);
    assert_eq!(
        h.c.committed_offset(GROUP, "t", 0).map(|o| o.offset),
        Some(10)
    );

    // Unknown partitions are refused one by one; so is metadata over 4096 bytes.
    let r = h.commit(
        300,
        v,
        &commit_req(
            GROUP,
            2,
            &a,
            &[("missing", 0, 1), ("t", 5, 1), ("t", 2, 30)],
        ),
    );
    assert_eq!(
        commit_errors(&r),
        [
            ErrorCode::UnknownTopicOrPartition,
            ErrorCode::UnknownTopicOrPartition,
            NONE
        ]
    );
    let mut long = commit_req(GROUP, 2, &a, &[("t", 0, 40)]);
    long.topics[0].partitions[0].committed_metadata = Some("x".repeat(4097));
    assert_eq!(
        commit_errors(&h.commit(300, v, &long)),
        [ErrorCode::OffsetMetadataTooLarge]
    );

    // During the join phase the current generation may still commit...
    let c = h.member_id(400, 9, RANGE);
    let tc = later(h.join(400, 9, &join_req(&c, None, RANGE)));
    assert_eq!(h.c.group_state(GROUP), Some(GroupState::PreparingRebalance));
    assert_eq!(one(&mut h, 2, &b), [NONE]);
    // ...but between JoinGroup and SyncGroup the new generation may not.
    let ta = later(h.join(500, 9, &join_req(&a, None, RANGE)));
    now(h.join(500, 9, &join_req(&b, None, RANGE)));
    let done = h.poll(500, 9);
    join_done(&done, ta);
    join_done(&done, tc);
    assert_eq!(one(&mut h, 3, &a), [ErrorCode::RebalanceInProgress]);
    assert_eq!(one(&mut h, 2, &a), [ErrorCode::IllegalGeneration]);
}

#[test]
fn simple_commits_without_joining() {
    let mut h = H::new();
    let r = h.commit(0, 8, &commit_req("standalone", -1, "", &[("t", 0, 5)]));
    assert_eq!(commit_errors(&r), [NONE]);
    // Kafka creates an empty "simple" group without a protocol type.
    assert_eq!(h.c.group_state("standalone"), Some(GroupState::Empty));
    let listed = h.list(0, 3, &Default::default());
    let found: Vec<_> = listed
        .groups
        .iter()
        .map(|g| (g.group_id.as_str(), g.protocol_type.as_str()))
        .collect();
    assert_eq!(found, [("standalone", "")]);
    let again = h.commit(10, 8, &commit_req("standalone", -1, "", &[("t", 0, 6)]));
    assert_eq!(commit_errors(&again), [NONE]);
    assert_eq!(
        h.c.committed_offset("standalone", "t", 0).map(|o| o.offset),
        Some(6)
    );

    // A generation for a group that does not exist: an old generation (v8) or no group (v9).
    let r = h.commit(20, 8, &commit_req("nogroup", 3, "m", &[("t", 0, 1)]));
    assert_eq!(commit_errors(&r), [ErrorCode::IllegalGeneration]);
    let r = h.commit(20, 9, &commit_req("nogroup", 3, "m", &[("t", 0, 1)]));
    assert_eq!(commit_errors(&r), [ErrorCode::GroupIdNotFound]);
    assert_eq!(h.c.group_state("nogroup"), None);

    // Before v6 the leader epoch is not on the wire: none is stored.
    h.commit(30, 5, &commit_req("old", -1, "", &[("t", 0, 1)]));
    assert_eq!(
        h.c.committed_offset("old", "t", 0).map(|o| o.leader_epoch),
        Some(-1)
    );
}

fn single(topics: Option<&[(&str, &[i32])]>) -> OffsetFetchRequest {
    OffsetFetchRequest {
        group_id: GROUP.to_owned(),
        topics: topics.map(|ts| {
            ts.iter()
                .map(|(name, parts)| OffsetFetchRequestTopic {
                    name: name.to_string(),
                    partition_indexes: parts.to_vec(),
                    ..Default::default()
                })
                .collect()
        }),
        ..Default::default()
    }
}

/// `(topic, partition, offset, epoch, metadata, error)` of a v1-7 response.
fn rows(r: &OffsetFetchResponse) -> Vec<(String, i32, i64, i32, String, ErrorCode)> {
    r.topics
        .iter()
        .flat_map(|t| {
            t.partitions.iter().map(|p| {
                let metadata = p.metadata.clone().unwrap_or_default();
                let row = (
                    p.partition_index,
                    p.committed_offset,
                    p.committed_leader_epoch,
                );
                (
                    t.name.clone(),
                    row.0,
                    row.1,
                    row.2,
                    metadata,
                    err(p.error_code),
                )
            })
        })
        .collect()
}

fn row(
    t: &str,
    p: i32,
    offset: i64,
    epoch: i32,
    meta: &str,
    e: ErrorCode,
) -> (String, i32, i64, i32, String, ErrorCode) {
    (t.to_owned(), p, offset, epoch, meta.to_owned(), e)
}

#[test]
fn offset_fetch_single_group() {
    let mut h = H::new();
    h.commit(
        0,
        8,
        &commit_req(GROUP, -1, "", &[("t", 0, 10), ("t", 1, 11), ("u", 0, 20)]),
    );
    let req = single(Some(&[("t", &[0, 1, 2])]));
    // v1: no leader epoch, no top-level error.
    assert_eq!(
        rows(&h.fetch(0, 1, &req)),
        [
            row("t", 0, 10, -1, "m", NONE),
            row("t", 1, 11, -1, "m", NONE),
            row("t", 2, -1, -1, "", NONE)
        ]
    );
    // v5+: the committed leader epoch.
    assert_eq!(rows(&h.fetch(0, 5, &req))[0], row("t", 0, 10, 7, "m", NONE));
    // Null topics (v2+): everything the group committed.
    let all = h.fetch(0, 2, &single(None));
    assert_eq!(
        rows(&all),
        [
            row("t", 0, 10, -1, "m", NONE),
            row("t", 1, 11, -1, "m", NONE),
            row("u", 0, 20, -1, "m", NONE)
        ]
    );
    // require_stable (v7) reports a pending transactional commit instead of the offset.
    h.c.set_pending_transactional_offset(GROUP, "t", 1, true);
    let mut stable = req.clone();
    stable.require_stable = true;
    let r = rows(&h.fetch(0, 7, &stable));
    assert_eq!(
        r[1],
        row("t", 1, -1, -1, "", ErrorCode::UnstableOffsetCommit)
    );
    assert_eq!(r[0], row("t", 0, 10, 7, "m", NONE));
    assert_eq!(rows(&h.fetch(0, 7, &req))[1], row("t", 1, 11, 7, "m", NONE));
    h.c.set_pending_transactional_offset(GROUP, "t", 1, false);
    assert_eq!(
        rows(&h.fetch(0, 7, &stable))[1],
        row("t", 1, 11, 7, "m", NONE)
    );
    // A group without commits.
    let mut unknown = req.clone();
    unknown.group_id = "unknown".into();
    assert!(
        rows(&h.fetch(0, 3, &unknown))
            .iter()
            .all(|r| r.2 == -1 && r.5 == NONE)
    );
    // Not the coordinator: per partition in v1, top-level from v2.
    h.topo.moved.insert(GROUP.into(), 2);
    assert!(
        rows(&h.fetch(0, 1, &req))
            .iter()
            .all(|r| r.5 == ErrorCode::NotCoordinator)
    );
    let r = h.fetch(0, 3, &req);
    assert_eq!(
        (err(r.error_code), r.topics.len()),
        (ErrorCode::NotCoordinator, 0)
    );
}

#[test]
fn offset_fetch_several_groups() {
    let mut h = H::new();
    h.commit(0, 8, &commit_req("g1", -1, "", &[("t", 0, 1), ("t", 1, 2)]));
    h.commit(0, 8, &commit_req("g2", -1, "", &[("u", 2, 3)]));
    h.commit(0, 8, &commit_req("g3", -1, "", &[("u", 0, 4)]));
    h.topo.moved.insert("g3".into(), 2);
    let group = |id: &str, topics: Option<&[(&str, &[i32])]>| OffsetFetchRequestGroup {
        group_id: id.to_owned(),
        member_id: None,
        member_epoch: -1,
        topics: topics.map(|ts| {
            ts.iter()
                .map(|(name, parts)| OffsetFetchRequestTopics {
                    name: name.to_string(),
                    partition_indexes: parts.to_vec(),
                    ..Default::default()
                })
                .collect()
        }),
        ..Default::default()
    };
    let req = OffsetFetchRequest {
        groups: vec![
            group("g1", Some(&[("t", &[1])])),
            group("g2", None),
            group("g3", Some(&[("u", &[0])])),
            group("nobody", Some(&[("t", &[0])])),
        ],
        require_stable: true,
        ..Default::default()
    };
    for v in [8, 9] {
        let r = h.fetch(0, v, &req);
        let summary: Vec<_> = r
            .groups
            .iter()
            .map(|g| {
                let offsets: Vec<_> = g
                    .topics
                    .iter()
                    .flat_map(|t| {
                        t.partitions
                            .iter()
                            .map(|p| (t.name.clone(), p.partition_index, p.committed_offset))
                    })
                    .collect();
                (g.group_id.as_str(), err(g.error_code), offsets)
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("g1", NONE, vec![("t".to_owned(), 1, 2)]),
                ("g2", NONE, vec![("u".to_owned(), 2, 3)]),
                ("g3", ErrorCode::NotCoordinator, vec![]),
                ("nobody", NONE, vec![("t".to_owned(), 0, -1)]),
            ],
            "v{v}"
        );
        assert_eq!(
            r.groups[0].topics[0].partitions[0].committed_leader_epoch,
            7
        );
    }
}

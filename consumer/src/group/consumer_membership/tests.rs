//! The consumer-protocol membership driven without sockets: requests it sends, answers fed
//! back, events it returns.

use std::time::{Duration, Instant};

use gregor_protocol::ErrorCode;
use gregor_protocol::TopicPartition;
use gregor_protocol::messages::consumer_group_heartbeat::{Assignment, TopicPartitions};
use gregor_protocol::messages::{ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse};
use gregor_protocol::primitives::Uuid;

use super::*;

const MEMBER: &str = "m-AAAAAAAAAAAAAAAAAAAAAA";
const TOPIC_A: Uuid = Uuid([1; 16]);
const TOPIC_B: Uuid = Uuid([2; 16]);

fn settings(instance: Option<&str>) -> ConsumerMembershipSettings {
    ConsumerMembershipSettings {
        group_id: "g".into(),
        instance_id: instance.map(str::to_owned),
        rack: Some("r1".into()),
        rebalance_timeout: Duration::from_secs(300),
        session_timeout: Duration::from_secs(10),
        retry_backoff: Duration::from_millis(100),
        server_assignor: Some("uniform".into()),
        leave_epoch_on_close: Some(if instance.is_some() {
            STATIC_LEAVE_EPOCH
        } else {
            LEAVE_EPOCH
        }),
        fallback_to_classic: false,
    }
}

fn member(instance: Option<&str>) -> ConsumerMembership {
    let mut m = ConsumerMembership::new(
        settings(instance),
        ConsumerSubscription::Topics(vec!["a".into(), "b".into()]),
        MEMBER.into(),
    );
    m.resolve_topics(names);
    m
}

fn names(id: Uuid) -> Option<String> {
    match id {
        TOPIC_A => Some("a".into()),
        TOPIC_B => Some("b".into()),
        _ => None,
    }
}

fn tp(topic: &str, p: i32) -> TopicPartition {
    TopicPartition::new(topic, p)
}

fn send(m: &mut ConsumerMembership, now: Instant) -> ConsumerGroupHeartbeatRequest {
    match m.next_step(now) {
        ConsumerStep::Send(r) => *r,
        other => panic!("expected a heartbeat, got {other:?}"),
    }
}

fn answer(epoch: i32, assignment: Option<&[(Uuid, &[i32])]>) -> ConsumerGroupHeartbeatResponse {
    ConsumerGroupHeartbeatResponse {
        throttle_time_ms: 0,
        error_code: 0,
        error_message: None,
        member_id: Some(MEMBER.into()),
        member_epoch: epoch,
        heartbeat_interval_ms: 500,
        assignment: assignment.map(|topics| Assignment {
            topic_partitions: topics
                .iter()
                .map(|(id, ps)| TopicPartitions {
                    topic_id: *id,
                    partitions: ps.to_vec(),
                    unknown_tagged_fields: Default::default(),
                })
                .collect(),
            unknown_tagged_fields: Default::default(),
        }),
        unknown_tagged_fields: Default::default(),
    }
}

fn error(code: ErrorCode) -> ConsumerGroupHeartbeatResponse {
    ConsumerGroupHeartbeatResponse {
        error_code: code.code(),
        member_id: None,
        member_epoch: -1,
        assignment: None,
        ..answer(0, None)
    }
}

/// Feeds an answer and names its topic ids, as the shell does.
fn respond(
    m: &mut ConsumerMembership,
    now: Instant,
    r: ConsumerGroupHeartbeatResponse,
) -> Reaction {
    let reaction = m.on_response(now, r);
    m.resolve_topics(names);
    reaction
}

fn events(m: &mut ConsumerMembership) -> Vec<MemberEvent> {
    std::iter::from_fn(|| m.poll_event()).collect()
}

fn owned_list(r: &ConsumerGroupHeartbeatRequest) -> Option<Vec<(Uuid, Vec<i32>)>> {
    r.topic_partitions.as_ref().map(|ts| {
        ts.iter()
            .map(|t| (t.topic_id, t.partitions.clone()))
            .collect()
    })
}

/// A member that joined and owns a0, a1 and b0 at epoch 1 (acknowledged).
fn joined(now: Instant) -> ConsumerMembership {
    let mut m = member(None);
    send(&mut m, now);
    respond(
        &mut m,
        now,
        answer(1, Some(&[(TOPIC_A, &[0, 1]), (TOPIC_B, &[0])])),
    );
    let ack = send(&mut m, now);
    respond(&mut m, now, answer(1, None));
    assert!(ack.topic_partitions.is_some());
    events(&mut m);
    m
}

#[test]
fn joins_with_every_field_then_sends_only_what_changed() {
    let now = Instant::now();
    let mut m = member(None);
    let join = send(&mut m, now);
    assert_eq!(join.member_id, MEMBER, "the client's own member id (v1)");
    assert_eq!(join.member_epoch, 0);
    assert_eq!(join.rebalance_timeout_ms, 300_000);
    assert_eq!(join.rack_id.as_deref(), Some("r1"));
    assert_eq!(join.server_assignor.as_deref(), Some("uniform"));
    assert_eq!(
        join.subscribed_topic_names,
        Some(vec!["a".to_owned(), "b".to_owned()])
    );
    assert_eq!(
        owned_list(&join),
        Some(vec![]),
        "joining: an empty list, not null"
    );
    assert!(
        matches!(m.next_step(now), ConsumerStep::Wait(None)),
        "one at a time"
    );

    respond(&mut m, now, answer(3, Some(&[(TOPIC_A, &[0, 1])])));
    assert_eq!(m.epoch(), 3);
    assert_eq!(
        events(&mut m),
        vec![MemberEvent::Assigned(vec![tp("a", 0), tp("a", 1)])]
    );
    // The new partitions are acknowledged at once, not one interval later.
    let ack = send(&mut m, now);
    assert_eq!(ack.member_epoch, 3);
    assert_eq!(owned_list(&ack), Some(vec![(TOPIC_A, vec![0, 1])]));
    assert_eq!(ack.subscribed_topic_names, None, "unchanged: null");
    assert_eq!(ack.rebalance_timeout_ms, -1);
    assert_eq!(ack.server_assignor, None);
    respond(&mut m, now, answer(3, None));

    // Next heartbeat after the interval the coordinator set (500 ms), carrying nothing new.
    assert!(
        matches!(m.next_step(now), ConsumerStep::Wait(Some(at)) if at == now + Duration::from_millis(500))
    );
    let later = send(&mut m, now + Duration::from_millis(500));
    assert_eq!(later.topic_partitions, None);
    assert_eq!(later.subscribed_topic_names, None);
    assert_eq!(later.instance_id, None);
    let identity = m.commit_identity().expect("in the group");
    assert_eq!(
        (identity.generation, identity.member_id.as_str()),
        (3, MEMBER)
    );
}

#[test]
fn a_topic_id_the_metadata_does_not_name_waits_until_it_does() {
    let now = Instant::now();
    let mut m = ConsumerMembership::new(
        settings(None),
        ConsumerSubscription::Regex("t-.*".into()),
        MEMBER.into(),
    );
    let join = send(&mut m, now);
    assert_eq!(join.subscribed_topic_regex.as_deref(), Some("t-.*"));
    assert_eq!(join.subscribed_topic_names, None);
    let created = Uuid([9; 16]);
    respond(&mut m, now, answer(1, Some(&[(created, &[0, 1])])));
    assert!(
        events(&mut m).is_empty(),
        "nothing assigned before the name is known"
    );
    assert!(m.needs_metadata());
    assert_eq!(m.unresolved(), vec![created]);
    m.resolve_topics(|_| None);
    assert!(m.needs_metadata(), "still pending");
    m.resolve_topics(|id| (id == created).then(|| "t-new".to_owned()));
    assert!(!m.needs_metadata());
    assert_eq!(
        events(&mut m),
        vec![MemberEvent::Assigned(vec![tp("t-new", 0), tp("t-new", 1)])]
    );
    let ack = send(&mut m, now);
    assert_eq!(owned_list(&ack), Some(vec![(created, vec![0, 1])]));
}

#[test]
fn revocation_completes_before_anything_is_assigned() {
    let now = Instant::now();
    let mut m = joined(now);
    let t = now + Duration::from_millis(500);
    send(&mut m, t);
    // The coordinator takes a0 and b0 away and adds a2 (in one answer, to check the order).
    respond(&mut m, t, answer(2, Some(&[(TOPIC_A, &[1, 2])])));
    assert_eq!(
        events(&mut m),
        vec![MemberEvent::Revoke(vec![tp("a", 0), tp("b", 0)])]
    );
    assert!(m.is_rebalancing());
    // While the application finishes, heartbeats go on and still report the revoked
    // partitions as owned (they are not released before they are committed).
    let t2 = t + Duration::from_millis(500);
    let hb = send(&mut m, t2);
    assert_eq!(
        hb.topic_partitions, None,
        "owned unchanged since acknowledged"
    );
    respond(&mut m, t2, answer(2, None));
    assert!(events(&mut m).is_empty());
    m.revoke_done(&[tp("a", 0), tp("b", 0)]);
    assert_eq!(
        events(&mut m),
        vec![MemberEvent::Assigned(vec![tp("a", 2)])]
    );
    // Acknowledged at once with the new set.
    let ack = send(&mut m, t2);
    assert_eq!(owned_list(&ack), Some(vec![(TOPIC_A, vec![1, 2])]));
    respond(&mut m, t2, answer(2, None));
    assert!(!m.is_rebalancing());
    assert_eq!(m.owned(), [tp("a", 1), tp("a", 2)].into_iter().collect());
}

#[test]
fn a_lost_answer_is_retried_with_the_same_epoch_and_every_field() {
    let now = Instant::now();
    let mut m = joined(now);
    let t = now + Duration::from_millis(500);
    let first = send(&mut m, t);
    assert_eq!(first.topic_partitions, None);
    m.request_failed(t);
    // After the backoff, the same epoch again, with everything (owned partitions included),
    // which Kafka accepts whether or not it had handled the lost one.
    assert!(matches!(m.next_step(t), ConsumerStep::Wait(Some(_))));
    let retry = send(&mut m, t + Duration::from_millis(100));
    assert_eq!(retry.member_epoch, first.member_epoch);
    assert_eq!(
        owned_list(&retry),
        Some(vec![(TOPIC_A, vec![0, 1]), (TOPIC_B, vec![0])])
    );
    assert!(retry.subscribed_topic_names.is_some());
    assert_eq!(retry.rebalance_timeout_ms, 300_000);
    assert!(events(&mut m).is_empty(), "nothing lost on a lost answer");
}

#[test]
fn fenced_or_unknown_loses_everything_and_rejoins_with_the_same_member_id() {
    for code in [ErrorCode::FencedMemberEpoch, ErrorCode::UnknownMemberId] {
        let now = Instant::now();
        let mut m = joined(now);
        let t = now + Duration::from_millis(500);
        send(&mut m, t);
        assert_eq!(respond(&mut m, t, error(code)), Reaction::ResetGeneration);
        assert_eq!(
            events(&mut m),
            vec![MemberEvent::Lost(vec![tp("a", 0), tp("a", 1), tp("b", 0)])],
            "{code}"
        );
        assert!(m.commit_identity().is_none());
        let rejoin = send(&mut m, t);
        assert_eq!(rejoin.member_epoch, 0, "{code}");
        assert_eq!(rejoin.member_id, MEMBER, "{code}: KIP-1082 keeps the id");
        assert_eq!(owned_list(&rejoin), Some(vec![]));
        assert!(rejoin.subscribed_topic_names.is_some());
    }
}

#[test]
fn coordinator_errors_rediscover_or_back_off() {
    let now = Instant::now();
    let mut m = joined(now);
    let t = now + Duration::from_millis(500);
    send(&mut m, t);
    assert_eq!(
        respond(&mut m, t, error(ErrorCode::NotCoordinator)),
        Reaction::Rediscover
    );
    // At once, to the coordinator the shell looks up again, with every field.
    let again = send(&mut m, t);
    assert!(again.topic_partitions.is_some());
    assert_eq!(
        respond(&mut m, t, error(ErrorCode::CoordinatorLoadInProgress)),
        Reaction::Backoff
    );
    assert!(matches!(m.next_step(t), ConsumerStep::Wait(Some(at)) if at > t));
    assert!(events(&mut m).is_empty());
}

#[test]
fn closing_revokes_everything_then_leaves_with_the_right_epoch() {
    for (instance, epoch) in [(None, LEAVE_EPOCH), (Some("pod-1"), STATIC_LEAVE_EPOCH)] {
        let now = Instant::now();
        let mut m = member(instance);
        send(&mut m, now);
        respond(&mut m, now, answer(1, Some(&[(TOPIC_A, &[0])])));
        events(&mut m);
        let ack = send(&mut m, now);
        assert_eq!(
            ack.instance_id.as_deref(),
            instance,
            "the instance id always travels"
        );
        respond(&mut m, now, answer(1, None));
        m.close(true);
        assert_eq!(events(&mut m), vec![MemberEvent::Revoke(vec![tp("a", 0)])]);
        // No leave before the revocation is over.
        let t = now + Duration::from_millis(500);
        let hb = send(&mut m, t);
        assert_eq!(hb.member_epoch, 1, "still a member while revoking");
        respond(&mut m, t, answer(1, None));
        assert!(!m.is_done());
        m.revoke_done(&[tp("a", 0)]);
        let leave = send(&mut m, t);
        assert_eq!(leave.member_epoch, epoch);
        assert_eq!(leave.member_id, MEMBER);
        respond(&mut m, t, answer(epoch, None));
        assert!(m.is_finished());
    }
    // Staying in the group: no leave heartbeat at all.
    let now = Instant::now();
    let mut s = settings(None);
    s.leave_epoch_on_close = None;
    let mut m = ConsumerMembership::new(
        s,
        ConsumerSubscription::Topics(vec!["a".into(), "b".into()]),
        MEMBER.into(),
    );
    m.resolve_topics(names);
    send(&mut m, now);
    respond(
        &mut m,
        now,
        answer(1, Some(&[(TOPIC_A, &[0, 1]), (TOPIC_B, &[0])])),
    );
    events(&mut m);
    send(&mut m, now);
    respond(&mut m, now, answer(1, None));
    m.close(true);
    let revoked = events(&mut m);
    assert_eq!(revoked.len(), 1);
    m.revoke_done(&[tp("a", 0), tp("a", 1), tp("b", 0)]);
    assert!(matches!(m.next_step(now), ConsumerStep::Wait(None)));
    assert!(m.is_finished());
}

#[test]
fn fatal_codes_stop_the_member_with_typed_kinds() {
    for (code, kind) in [
        (
            ErrorCode::UnreleasedInstanceId,
            FatalKind::UnreleasedInstanceId,
        ),
        (
            ErrorCode::GroupAuthorizationFailed,
            FatalKind::GroupAuthorization,
        ),
        (ErrorCode::UnsupportedVersion, FatalKind::UnsupportedVersion),
        (ErrorCode::InvalidRequest, FatalKind::InvalidRequest),
    ] {
        let now = Instant::now();
        let mut m = member(Some("pod-1"));
        send(&mut m, now);
        respond(&mut m, now, error(code));
        assert_eq!(
            events(&mut m),
            vec![MemberEvent::Fatal {
                api: GroupApi::ConsumerGroupHeartbeat,
                code,
                kind
            }]
        );
        assert!(m.is_finished());
        assert!(!m.wants_classic());
    }
}

#[test]
fn an_old_coordinator_hands_over_to_the_classic_protocol_when_allowed() {
    let now = Instant::now();
    let mut s = settings(None);
    s.fallback_to_classic = true;
    let mut m = ConsumerMembership::new(
        s.clone(),
        ConsumerSubscription::Topics(vec!["a".into()]),
        MEMBER.into(),
    );
    send(&mut m, now);
    respond(&mut m, now, error(ErrorCode::UnsupportedVersion));
    assert!(m.wants_classic());
    assert!(events(&mut m).is_empty(), "no error for the application");
    let mut m = ConsumerMembership::new(
        s,
        ConsumerSubscription::Topics(vec!["a".into()]),
        MEMBER.into(),
    );
    m.unsupported();
    assert!(m.wants_classic());
}

#[test]
fn no_answer_for_a_session_gives_the_partitions_up() {
    let now = Instant::now();
    let mut m = joined(now);
    assert_eq!(m.fence_at(), Some(now + Duration::from_secs(10)));
    let mut t = now + Duration::from_millis(500);
    while t < now + Duration::from_secs(10) {
        send(&mut m, t);
        m.request_failed(t);
        t += Duration::from_millis(1000);
    }
    assert!(
        events(&mut m).is_empty(),
        "within the session nothing is lost"
    );
    let rejoin = send(&mut m, now + Duration::from_secs(11));
    assert_eq!(
        events(&mut m),
        vec![MemberEvent::Lost(vec![tp("a", 0), tp("a", 1), tp("b", 0)])]
    );
    assert_eq!(rejoin.member_epoch, 0);
}

#[test]
fn a_missed_poll_interval_loses_the_partitions_leaves_and_rejoins_on_the_next_poll() {
    let now = Instant::now();
    let mut m = joined(now);
    let lost = m.poll_interval_expired();
    assert_eq!(lost.len(), 3);
    assert!(matches!(events(&mut m)[..], [MemberEvent::Lost(_)]));
    let leave = send(&mut m, now);
    assert_eq!(leave.member_epoch, LEAVE_EPOCH);
    respond(&mut m, now, answer(LEAVE_EPOCH, None));
    assert!(
        matches!(m.next_step(now), ConsumerStep::Wait(None)),
        "waits for the application"
    );
    m.rejoin_after_poll_timeout();
    let join = send(&mut m, now);
    assert_eq!(join.member_epoch, 0);
    assert_eq!(join.member_id, MEMBER);
}

#[test]
fn a_commit_refused_for_the_epoch_heartbeats_at_once() {
    let now = Instant::now();
    let mut m = joined(now);
    assert!(matches!(m.next_step(now), ConsumerStep::Wait(Some(_))));
    m.commit_refused(now, ErrorCode::UnknownMemberId, Reaction::ResetMember);
    send(&mut m, now);
}

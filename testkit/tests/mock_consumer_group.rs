//! KIP-848's consumer group protocol on our mock and on Apache Kafka 4.1 with the same test
//! bodies (`GREGOR_TEST_BROKERS=mock` or `=kafka` narrows them): raw ConsumerGroupHeartbeat
//! and ConsumerGroupDescribe through gregor-client connections to the group's coordinator.
//! Kafka is the reference; where the two differ, the mock is wrong.

#[path = "mock_consumer_group/support.rs"]
mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use gregor_protocol::ErrorCode;
use gregor_protocol::messages::ConsumerGroupHeartbeatRequest;
use support::{Member, brokers, code, count, name, parts, settle};

#[path = "mock_consumer_group/faults.rs"]
mod faults;
#[path = "mock_consumer_group/offsets.rs"]
mod offsets;
#[path = "mock_consumer_group/requests.rs"]
mod requests;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_joins_and_gets_every_partition() {
    for b in brokers().await {
        let kind = b.kind;
        let topic = name("cg-join");
        let tid = b.topic(&topic, 4).await;
        let group = name("cg-join");
        let mut m = Member::new(&group);
        let resp = m.join(&b, &m.join_req(&[&topic])).await;
        // A new group moves from epoch 0 to 1; the member takes it with every partition.
        assert_eq!(resp.member_epoch, 1, "{kind}");
        assert_eq!(resp.member_id.as_deref(), Some(m.id.as_str()), "{kind}");
        assert_eq!(resp.heartbeat_interval_ms, 500, "{kind}");
        assert_eq!(m.owned, parts(tid, 0..4), "{kind}");
        // Nothing changed: no assignment in the answer.
        let resp = m.beat(&b).await;
        assert_eq!(
            (resp.member_epoch, resp.assignment.is_none()),
            (1, true),
            "{kind}"
        );
        let d = b.describe(&group).await;
        assert_eq!(
            (d.group_state.as_str(), d.group_epoch, d.assignment_epoch),
            ("Stable", 1, 1),
            "{kind}"
        );
        assert_eq!(d.assignor_name, "uniform", "{kind}");
        let member = &d.members[0];
        assert_eq!(
            (member.member_id.as_str(), member.member_epoch),
            (m.id.as_str(), 1),
            "{kind}"
        );
        assert_eq!(member.subscribed_topic_names, vec![topic.clone()], "{kind}");
        let described: Vec<(String, Vec<i32>)> = member
            .assignment
            .topic_partitions
            .iter()
            .map(|tp| {
                let mut ps = tp.partitions.clone();
                ps.sort_unstable();
                (tp.topic_name.clone(), ps)
            })
            .collect();
        assert_eq!(described, vec![(topic.clone(), vec![0, 1, 2, 3])], "{kind}");

        // v0: the coordinator makes the member id.
        let mut v0 = m.join_req(&[&topic]);
        v0.member_id = String::new();
        let resp = b.beat_v(0, &v0).await;
        assert_eq!(
            code(&resp),
            ErrorCode::None,
            "{kind}: {:?}",
            resp.error_message
        );
        let id = resp.member_id.unwrap_or_default();
        assert!(!id.is_empty() && id != m.id, "{kind}: {id:?}");
        assert_eq!(
            resp.member_epoch, 2,
            "{kind}: a second member bumps the epoch"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_member_gets_partitions_only_once_released() {
    for b in brokers().await {
        let kind = b.kind;
        let topic = name("cg-two");
        let tid = b.topic(&topic, 4).await;
        let group = name("cg-two");
        let mut m1 = Member::new(&group);
        m1.join(&b, &m1.join_req(&[&topic])).await;
        assert_eq!((m1.epoch, count(&m1.owned)), (1, 4), "{kind}");

        // The second member joins: epoch 2, but its partitions are still m1's.
        let mut m2 = Member::new(&group);
        let resp = m2.join(&b, &m2.join_req(&[&topic])).await;
        assert_eq!(resp.member_epoch, 2, "{kind}");
        assert_eq!(count(&m2.owned), 0, "{kind}: {:?}", m2.owned);

        // m1 must first revoke: its assignment shrinks, its epoch stays.
        let all = m1.owned.clone();
        let resp = b.beat(&m1.beat_req()).await;
        assert_eq!(resp.member_epoch, 1, "{kind}");
        let kept = support::assigned(resp.assignment.as_ref().expect("the reduced assignment"));
        assert_eq!(count(&kept), 2, "{kind}: {kept:?}");
        // m2 still waits while m1 reports all four.
        let resp = m2.beat(&b).await;
        assert_eq!((resp.member_epoch, count(&m2.owned)), (2, 0), "{kind}");
        // Still reporting all four: nothing moves, and nothing new is sent.
        let resp = b.beat(&m1.beat_req()).await;
        assert_eq!(
            (code(&resp), resp.member_epoch),
            (ErrorCode::None, 1),
            "{kind}"
        );
        assert!(resp.assignment.is_none(), "{kind}: {resp:?}");
        // m1 reports the reduced set: it moves to epoch 2 (assignment unchanged: not sent).
        m1.owned = kept.clone();
        let resp = m1.beat(&b).await;
        assert_eq!(resp.member_epoch, 2, "{kind}");
        assert!(resp.assignment.is_none(), "{kind}: {resp:?}");
        // Released: m2 gets the other two.
        let resp = m2.beat(&b).await;
        assert_eq!(resp.member_epoch, 2, "{kind}");
        assert!(resp.assignment.is_some(), "{kind}");
        let union: BTreeSet<i32> = m1.owned[&tid].union(&m2.owned[&tid]).copied().collect();
        assert_eq!(union.len(), 4, "{kind}");
        assert!(m1.owned[&tid].is_disjoint(&m2.owned[&tid]), "{kind}");
        assert_eq!(all, parts(tid, 0..4), "{kind}");

        // A heartbeat whose answer was lost: the previous epoch with a subset is accepted.
        let mut retried = m1.beat_req();
        retried.member_epoch = 1;
        let resp = b.beat(&retried).await;
        assert_eq!(
            (code(&resp), resp.member_epoch),
            (ErrorCode::None, 2),
            "{kind}"
        );
        // The previous epoch with a partition the member does not have: fenced.
        let mut stale = m1.beat_req();
        stale.member_epoch = 1;
        stale.topic_partitions = Some(support::owned(&m2.owned));
        assert_eq!(
            code(&b.beat(&stale).await),
            ErrorCode::FencedMemberEpoch,
            "{kind}"
        );
        // A greater epoch: fenced. An older one that is not the previous: fenced.
        let mut ahead = m2.beat_req();
        ahead.member_epoch = 3;
        assert_eq!(
            code(&b.beat(&ahead).await),
            ErrorCode::FencedMemberEpoch,
            "{kind}"
        );
        let mut behind = m2.beat_req();
        behind.member_epoch = 1;
        behind.topic_partitions = Some(Vec::new());
        // m2 went from 0 to 2: its previous epoch is 0, so 1 is fenced.
        assert_eq!(
            code(&b.beat(&behind).await),
            ErrorCode::FencedMemberEpoch,
            "{kind}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaving_frees_the_partitions() {
    for b in brokers().await {
        let kind = b.kind;
        let topic = name("cg-leave");
        let tid = b.topic(&topic, 3).await;
        let group = name("cg-leave");
        let (mut m1, mut m2) = (Member::new(&group), Member::new(&group));
        m1.join(&b, &m1.join_req(&[&topic])).await;
        m2.join(&b, &m2.join_req(&[&topic])).await;
        settle(&b, &mut [&mut m1, &mut m2]).await;
        assert_eq!(count(&m1.owned) + count(&m2.owned), 3, "{kind}");
        let before = m1.epoch;

        let mut leave = m2.beat_req();
        leave.member_epoch = -1;
        let resp = b.beat(&leave).await;
        assert_eq!(code(&resp), ErrorCode::None, "{kind}");
        assert_eq!(
            (resp.member_epoch, resp.member_id.as_deref()),
            (-1, Some(m2.id.as_str())),
            "{kind}"
        );
        assert!(resp.assignment.is_none(), "{kind}");
        // The group moves on; m1 gets everything at once (nobody holds the rest).
        let resp = m1.beat(&b).await;
        assert_eq!(resp.member_epoch, before + 1, "{kind}");
        assert_eq!(m1.owned, parts(tid, 0..3), "{kind}");
        let d = b.describe(&group).await;
        assert_eq!(d.members.len(), 1, "{kind}");
        // The member that left is unknown now.
        assert_eq!(
            code(&b.beat(&m2.beat_req()).await),
            ErrorCode::UnknownMemberId,
            "{kind}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_static_member_comes_back_to_its_partitions() {
    for b in brokers().await {
        let kind = b.kind;
        let topic = name("cg-static");
        b.topic(&topic, 4).await;
        let group = name("cg-static");
        let instance = name("instance");
        let mut s = Member::with_instance(&group, &instance);
        let mut d = Member::new(&group);
        s.join(&b, &s.join_req(&[&topic])).await;
        d.join(&b, &d.join_req(&[&topic])).await;
        settle(&b, &mut [&mut s, &mut d]).await;
        let (epoch, mine) = (s.epoch, s.owned.clone());
        assert_eq!(count(&mine), 2, "{kind}");

        // Another member with the same instance id while it is in use.
        let intruder = Member::with_instance(&group, &instance);
        let resp = b.beat(&intruder.join_req(&[&topic])).await;
        assert_eq!(code(&resp), ErrorCode::UnreleasedInstanceId, "{kind}");

        // It leaves for a while (-2): it stays in the group with its partitions.
        let mut pause = s.beat_req();
        pause.member_epoch = -2;
        let resp = b.beat(&pause).await;
        assert_eq!(
            (code(&resp), resp.member_epoch),
            (ErrorCode::None, -2),
            "{kind}"
        );
        let described = b.describe(&group).await;
        let left = described
            .members
            .iter()
            .find(|m| m.member_id == s.id)
            .expect("still there");
        assert_eq!(left.member_epoch, -2, "{kind}");
        assert_eq!(described.group_epoch, epoch, "{kind}: no rebalance");

        // It comes back with a new member id and the same instance id: same epoch, same
        // partitions, no rebalance.
        let mut back = Member::with_instance(&group, &instance);
        let resp = back.join(&b, &back.join_req(&[&topic])).await;
        assert_eq!(resp.member_epoch, epoch, "{kind}");
        assert_eq!(back.owned, mine, "{kind}");
        let described = b.describe(&group).await;
        assert_eq!(described.group_epoch, epoch, "{kind}");
        let ids: BTreeSet<&str> = described
            .members
            .iter()
            .map(|m| m.member_id.as_str())
            .collect();
        assert_eq!(
            ids,
            BTreeSet::from([back.id.as_str(), d.id.as_str()]),
            "{kind}"
        );
        // The old member id is fenced by the new one.
        let resp = b.beat(&s.beat_req()).await;
        assert_eq!(code(&resp), ErrorCode::FencedInstanceId, "{kind}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_regex_subscription_follows_new_topics() {
    for b in brokers().await {
        let kind = b.kind;
        let prefix = name("cgre");
        let first = format!("{prefix}-a");
        let a = b.topic(&first, 2).await;
        // Contains the pattern but does not match it as a whole: never assigned.
        let decoy = format!("x{prefix}-z");
        b.topic(&decoy, 1).await;
        let group = name("cg-regex");
        let mut m = Member::new(&group);
        let mut join = m.join_req(&[]);
        join.subscribed_topic_names = None;
        join.subscribed_topic_regex = Some(format!("{prefix}-.*"));
        m.join(&b, &join).await;
        wait_for(&b, &mut m, |m| count(m) == 2).await;
        assert_eq!(m.owned, parts(a, 0..2), "{kind}");

        // A topic created after the join reaches the member (Kafka resolves regexes again at
        // most every 10 s).
        let second = format!("{prefix}-b");
        let bid = b.topic(&second, 1).await;
        wait_for(&b, &mut m, |m| count(m) == 3).await;
        assert_eq!(m.owned.get(&bid), Some(&BTreeSet::from([0])), "{kind}");
        let d = b.describe(&group).await;
        assert_eq!(
            d.members[0].subscribed_topic_regex.as_deref(),
            Some(format!("{prefix}-.*").as_str()),
            "{kind}"
        );
    }
}

/// Heartbeats every 200 ms until `done(owned)`.
async fn wait_for(b: &support::Broker, m: &mut Member, done: impl Fn(&support::Parts) -> bool) {
    gregor_testkit::data::within("the assignment", async {
        while !done(&m.owned) {
            m.beat(b).await;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_range_assignor_gives_contiguous_ranges() {
    for b in brokers().await {
        let kind = b.kind;
        let topic = name("cg-range");
        let tid = b.topic(&topic, 4).await;
        let group = name("cg-range");
        let (mut m1, mut m2) = (Member::new(&group), Member::new(&group));
        let range = |m: &Member| ConsumerGroupHeartbeatRequest {
            server_assignor: Some("range".into()),
            ..m.join_req(&[&topic])
        };
        m1.join(&b, &range(&m1)).await;
        assert_eq!(m1.owned, parts(tid, 0..4), "{kind}");
        m2.join(&b, &range(&m2)).await;
        settle(&b, &mut [&mut m1, &mut m2]).await;
        // m1 keeps the low end of what it had; m2 gets the rest.
        assert_eq!(m1.owned, parts(tid, 0..2), "{kind}");
        assert_eq!(m2.owned, parts(tid, 2..4), "{kind}");
        assert_eq!(b.describe(&group).await.assignor_name, "range", "{kind}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_member_is_removed_after_its_session() {
    for b in brokers().await {
        let kind = b.kind;
        let topic = name("cg-session");
        let tid = b.topic(&topic, 2).await;
        let group = name("cg-session");
        let (mut m1, mut m2) = (Member::new(&group), Member::new(&group));
        m1.join(&b, &m1.join_req(&[&topic])).await;
        m2.join(&b, &m2.join_req(&[&topic])).await;
        settle(&b, &mut [&mut m1, &mut m2]).await;
        // m2 goes silent; m1 keeps heartbeating past m2's session.
        let until = tokio::time::Instant::now() + b.session() + Duration::from_secs(2);
        while tokio::time::Instant::now() < until {
            m1.beat(&b).await;
            tokio::time::sleep(Duration::from_millis(400)).await;
        }
        wait_for(&b, &mut m1, |o| count(o) == 2).await;
        assert_eq!(m1.owned, parts(tid, 0..2), "{kind}");
        assert_eq!(b.describe(&group).await.members.len(), 1, "{kind}");
        assert_eq!(
            code(&b.beat(&m2.beat_req()).await),
            ErrorCode::UnknownMemberId,
            "{kind}"
        );
    }
}

//! The consumer group coordinator driven directly: requests and `now` in, responses out.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use gregor_protocol::ErrorCode;
use gregor_protocol::messages::consumer_group_heartbeat::TopicPartitions;
use gregor_protocol::messages::{ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse};
use gregor_protocol::primitives::Uuid;

use super::{ConsumerGroupConfig, ConsumerGroupState, ConsumerGroups, TopicMeta};

const T: Uuid = Uuid([3; 16]);

fn topics() -> BTreeMap<String, TopicMeta> {
    BTreeMap::from([(
        "t".to_owned(),
        TopicMeta {
            id: T,
            partitions: 4,
        },
    )])
}

fn join(member: &str) -> ConsumerGroupHeartbeatRequest {
    ConsumerGroupHeartbeatRequest {
        group_id: "g".into(),
        member_id: member.into(),
        rebalance_timeout_ms: 1000,
        subscribed_topic_names: Some(vec!["t".into()]),
        topic_partitions: Some(Vec::new()),
        ..Default::default()
    }
}

fn beat(member: &str, epoch: i32, owned: &[i32]) -> ConsumerGroupHeartbeatRequest {
    ConsumerGroupHeartbeatRequest {
        group_id: "g".into(),
        member_id: member.into(),
        member_epoch: epoch,
        topic_partitions: Some(vec![TopicPartitions {
            topic_id: T,
            partitions: owned.to_vec(),
            ..Default::default()
        }]),
        ..Default::default()
    }
}

fn partitions(resp: &ConsumerGroupHeartbeatResponse) -> Vec<i32> {
    let mut ps: Vec<i32> = resp
        .assignment
        .iter()
        .flat_map(|a| a.topic_partitions.iter())
        .flat_map(|tp| tp.partitions.iter().copied())
        .collect();
    ps.sort_unstable();
    ps
}

struct Fixture {
    c: ConsumerGroups,
    now: Instant,
    topics: BTreeMap<String, TopicMeta>,
}

impl Fixture {
    fn new() -> Fixture {
        let cfg = ConsumerGroupConfig {
            session_timeout: Duration::from_secs(3),
            ..ConsumerGroupConfig::default()
        };
        Fixture {
            c: ConsumerGroups::new(cfg, 1),
            now: Instant::now(),
            topics: topics(),
        }
    }

    fn send(&mut self, req: &ConsumerGroupHeartbeatRequest) -> ConsumerGroupHeartbeatResponse {
        let resp = self
            .c
            .heartbeat(self.now, ("c", "/127.0.0.1"), &self.topics, req);
        self.c.advance(self.now);
        resp
    }

    fn state(&self) -> ConsumerGroupState {
        self.c.groups.get("g").map(|g| g.state()).expect("group")
    }
}

#[test]
fn two_members_reconcile_through_revocation() {
    let mut f = Fixture::new();
    let a = f.send(&join("a"));
    assert_eq!((a.member_epoch, partitions(&a)), (1, vec![0, 1, 2, 3]));
    let b = f.send(&join("b"));
    assert_eq!((b.member_epoch, partitions(&b)), (2, vec![]));
    assert_eq!(f.state(), ConsumerGroupState::Reconciling);
    let a = f.send(&beat("a", 1, &[0, 1, 2, 3]));
    assert_eq!(a.member_epoch, 1);
    let kept = partitions(&a);
    assert_eq!(kept.len(), 2);
    let a = f.send(&beat("a", 1, &kept));
    assert_eq!((a.member_epoch, a.assignment.is_none()), (2, true));
    let b = f.send(&beat("b", 2, &[]));
    let got = partitions(&b);
    assert_eq!(got.len(), 2);
    assert!(got.iter().all(|p| !kept.contains(p)));
    assert_eq!(f.state(), ConsumerGroupState::Stable);
}

#[test]
fn sessions_and_rebalance_timeouts_remove_members() {
    let mut f = Fixture::new();
    f.send(&join("a"));
    f.send(&join("b"));
    // a must revoke but never reports it: after its rebalance timeout (1 s) it is gone.
    f.send(&beat("a", 1, &[0, 1, 2, 3]));
    f.now += Duration::from_millis(1001);
    f.c.advance(f.now);
    let members = &f.c.groups["g"].members;
    assert!(!members.contains_key("a"));
    assert_eq!(f.c.groups["g"].epoch, 3);
    // b stays silent past its session (3 s since its join).
    f.now += Duration::from_secs(2);
    f.c.advance(f.now);
    assert_eq!(f.state(), ConsumerGroupState::Empty);
    assert_eq!(f.c.next_deadline(), None);
    let resp = f.send(&beat("b", 2, &[]));
    assert_eq!(
        ErrorCode::from_code(resp.error_code),
        ErrorCode::UnknownMemberId
    );
}

#[test]
fn a_failed_heartbeat_changes_nothing() {
    let mut f = Fixture::new();
    let resp = f.send(&ConsumerGroupHeartbeatRequest {
        subscribed_topic_regex: Some("(".into()),
        subscribed_topic_names: None,
        ..join("a")
    });
    assert_eq!(
        ErrorCode::from_code(resp.error_code),
        ErrorCode::InvalidRegularExpression
    );
    assert!(f.c.groups.is_empty());
    let v0 = f.send(&ConsumerGroupHeartbeatRequest {
        member_id: String::new(),
        ..join("")
    });
    let id = v0.member_id.unwrap_or_default();
    assert_eq!(id.len(), 22);
}

#[test]
fn a_partition_count_change_moves_the_group_epoch() {
    let mut f = Fixture::new();
    f.send(&join("a"));
    f.topics.insert(
        "t".into(),
        TopicMeta {
            id: T,
            partitions: 6,
        },
    );
    let resp = f.send(&beat("a", 1, &[0, 1, 2, 3]));
    assert_eq!(
        (resp.member_epoch, partitions(&resp)),
        (2, vec![0, 1, 2, 3, 4, 5])
    );
}

//! The brokers the KIP-848 tests run on (our mock with short timeouts, Apache Kafka with the
//! testkit's configuration), and members speaking raw ConsumerGroupHeartbeat through
//! gregor-client connections to the group's coordinator.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::time::Duration;

use gregor_client::{Client, Connection, CoordinatorKind, Purpose};
use gregor_protocol::messages::consumer_group_describe::DescribedGroup;
use gregor_protocol::messages::consumer_group_heartbeat::{Assignment, TopicPartitions};
use gregor_protocol::messages::{
    ConsumerGroupDescribeRequest, ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse,
};
use gregor_protocol::primitives::Uuid;
use gregor_protocol::{ApiKey, ErrorCode};
use gregor_testkit::data::{create_topic, test_client, within};
use gregor_testkit::mock::{ConsumerGroupConfig, MockCluster};
use gregor_testkit::{BrokerKind, TestBroker};

/// Partitions by topic id.
pub type Parts = BTreeMap<Uuid, BTreeSet<i32>>;

/// The mock's session timeout in these tests (Kafka's is the testkit's 10 s).
pub const MOCK_SESSION: Duration = Duration::from_millis(1500);

/// A broker under test and a client of it.
pub struct Broker {
    pub kind: BrokerKind,
    pub client: Client,
    held: Held,
}

enum Held {
    Mock(MockCluster),
    Other(TestBroker),
}

impl Broker {
    /// Our mock, if this is it.
    pub fn mock(&self) -> Option<&MockCluster> {
        match &self.held {
            Held::Mock(m) => Some(m),
            Held::Other(_) => None,
        }
    }

    /// The session timeout members get here.
    pub fn session(&self) -> Duration {
        match self.held {
            Held::Mock(_) => MOCK_SESSION,
            Held::Other(_) => Duration::from_secs(10),
        }
    }

    /// Creates a topic with CreateTopics and waits until it is served.
    pub async fn topic(&self, name: &str, partitions: i32) -> Uuid {
        create_topic(&self.client, name, partitions).await;
        self.topic_id(name).await
    }

    /// A topic's id, from Metadata.
    pub async fn topic_id(&self, name: &str) -> Uuid {
        let md = self
            .client
            .refresh_metadata(Some(&[name.to_owned()]))
            .await
            .expect("metadata");
        md.topic(name).map(|t| t.id).expect("topic id")
    }

    /// A connection to `group`'s coordinator.
    pub async fn coordinator(&self, group: &str) -> Connection {
        let id = self
            .client
            .retry(ApiKey::FindCoordinator, || {
                self.client.coordinator(CoordinatorKind::Group, group)
            })
            .await
            .unwrap_or_else(|e| panic!("FindCoordinator for {group}: {e}"));
        self.client
            .connection(id, Purpose::Control)
            .await
            .expect("coordinator connection")
    }

    /// Sends `req` to the group's coordinator in `version`, again while it answers a
    /// coordinator error (Kafka's coordinator loading a new `__consumer_offsets` partition).
    pub async fn beat_v(
        &self,
        version: i16,
        req: &ConsumerGroupHeartbeatRequest,
    ) -> ConsumerGroupHeartbeatResponse {
        retry_coordinator(self, &req.group_id, |conn| {
            let req = req.clone();
            async move {
                let resp = conn
                    .send_versioned(&req, version)
                    .await
                    .expect("ConsumerGroupHeartbeat answered");
                (ErrorCode::from_code(resp.error_code), resp)
            }
        })
        .await
    }

    /// [`beat_v`](Self::beat_v) in version 1.
    pub async fn beat(
        &self,
        req: &ConsumerGroupHeartbeatRequest,
    ) -> ConsumerGroupHeartbeatResponse {
        self.beat_v(1, req).await
    }

    /// ConsumerGroupDescribe of one group.
    pub async fn describe(&self, group: &str) -> DescribedGroup {
        let req = ConsumerGroupDescribeRequest {
            group_ids: vec![group.to_owned()],
            ..Default::default()
        };
        retry_coordinator(self, group, |conn| {
            let req = req.clone();
            async move {
                let mut resp = conn
                    .send(req)
                    .await
                    .expect("ConsumerGroupDescribe answered");
                let g = resp.groups.pop().expect("one group");
                (ErrorCode::from_code(g.error_code), g)
            }
        })
        .await
    }
}

/// Runs `attempt` at the group's coordinator, looked up again while it answers a coordinator
/// error.
pub async fn retry_coordinator<T, F, Fut>(b: &Broker, group: &str, mut attempt: F) -> T
where
    F: FnMut(Connection) -> Fut,
    Fut: Future<Output = (ErrorCode, T)>,
{
    within("a coordinator answer", async {
        loop {
            let conn = b.coordinator(group).await;
            let (code, answer) = attempt(conn).await;
            if !code.is_coordinator_error() {
                return answer;
            }
            b.client.forget_coordinator(CoordinatorKind::Group, group);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
}

/// The brokers the tests run on: `GREGOR_TEST_BROKERS` (else every available kind), keeping
/// our mock and Apache Kafka (the others do not serve KIP-848 as Kafka does; see the README).
pub async fn brokers() -> Vec<Broker> {
    let mut out = Vec::new();
    for kind in BrokerKind::from_env() {
        let held = match kind {
            BrokerKind::Mock => {
                let cfg = ConsumerGroupConfig {
                    session_timeout: MOCK_SESSION,
                    regex_refresh_interval: Duration::from_millis(500),
                    ..ConsumerGroupConfig::default()
                };
                let cluster = MockCluster::builder()
                    .brokers(3)
                    .consumer_group_config(cfg)
                    .start()
                    .await
                    .expect("mock cluster");
                Held::Mock(cluster)
            }
            BrokerKind::Kafka => Held::Other(
                TestBroker::start_kind_async(kind)
                    .await
                    .unwrap_or_else(|e| panic!("a {kind} broker: {e}")),
            ),
            _ => continue,
        };
        let bootstrap = match &held {
            Held::Mock(m) => m.bootstrap(),
            Held::Other(b) => b.bootstrap(),
        };
        let client = test_client(&bootstrap, "gregor-kip848-test").await;
        out.push(Broker { kind, client, held });
    }
    out
}

/// A unique name.
pub fn name(prefix: &str) -> String {
    gregor_testkit::data::unique_name(prefix)
}

/// Partitions of one topic.
pub fn parts(topic: Uuid, ps: impl IntoIterator<Item = i32>) -> Parts {
    let set: BTreeSet<i32> = ps.into_iter().collect();
    if set.is_empty() {
        return Parts::new();
    }
    [(topic, set)].into_iter().collect()
}

/// The partitions of a heartbeat assignment.
pub fn assigned(a: &Assignment) -> Parts {
    let mut out = Parts::new();
    for tp in &a.topic_partitions {
        if !tp.partitions.is_empty() {
            out.entry(tp.topic_id)
                .or_default()
                .extend(tp.partitions.iter().copied());
        }
    }
    out
}

/// Partitions as a heartbeat reports them.
pub fn owned(p: &Parts) -> Vec<TopicPartitions> {
    p.iter()
        .map(|(t, ps)| TopicPartitions {
            topic_id: *t,
            partitions: ps.iter().copied().collect(),
            ..Default::default()
        })
        .collect()
}

/// How many partitions.
pub fn count(p: &Parts) -> usize {
    p.values().map(BTreeSet::len).sum()
}

/// A member as the tests drive it: its id, epoch and the partitions it owns.
#[derive(Debug, Clone)]
pub struct Member {
    pub group: String,
    pub id: String,
    pub instance: Option<String>,
    pub epoch: i32,
    pub owned: Parts,
}

impl Member {
    /// A member with a fresh id (v1: the member makes its id).
    pub fn new(group: &str) -> Member {
        Member {
            group: group.to_owned(),
            id: name("member"),
            instance: None,
            epoch: 0,
            owned: Parts::new(),
        }
    }

    /// A static member.
    pub fn with_instance(group: &str, instance: &str) -> Member {
        Member {
            instance: Some(instance.to_owned()),
            ..Member::new(group)
        }
    }

    /// The first heartbeat (epoch 0) subscribing to `topics`.
    pub fn join_req(&self, topics: &[&str]) -> ConsumerGroupHeartbeatRequest {
        ConsumerGroupHeartbeatRequest {
            group_id: self.group.clone(),
            member_id: self.id.clone(),
            member_epoch: 0,
            instance_id: self.instance.clone(),
            rebalance_timeout_ms: 30_000,
            subscribed_topic_names: Some(topics.iter().map(|t| t.to_string()).collect()),
            topic_partitions: Some(Vec::new()),
            ..Default::default()
        }
    }

    /// A regular heartbeat at the member's epoch reporting what it owns.
    pub fn beat_req(&self) -> ConsumerGroupHeartbeatRequest {
        ConsumerGroupHeartbeatRequest {
            group_id: self.group.clone(),
            member_id: self.id.clone(),
            member_epoch: self.epoch,
            instance_id: self.instance.clone(),
            topic_partitions: Some(owned(&self.owned)),
            ..Default::default()
        }
    }

    /// Takes a successful answer: the epoch, and the assignment as owned when there is one.
    pub fn apply(&mut self, kind: BrokerKind, resp: &ConsumerGroupHeartbeatResponse) {
        assert_eq!(
            ErrorCode::from_code(resp.error_code),
            ErrorCode::None,
            "{kind}: {:?}",
            resp.error_message
        );
        self.epoch = resp.member_epoch;
        if let Some(a) = &resp.assignment {
            self.owned = assigned(a);
        }
    }

    /// Joins with `req` and takes the answer.
    pub async fn join(
        &mut self,
        b: &Broker,
        req: &ConsumerGroupHeartbeatRequest,
    ) -> ConsumerGroupHeartbeatResponse {
        let resp = b.beat(req).await;
        self.apply(b.kind, &resp);
        resp
    }

    /// Heartbeats at its epoch with what it owns and takes the answer.
    pub async fn beat(&mut self, b: &Broker) -> ConsumerGroupHeartbeatResponse {
        let resp = b.beat(&self.beat_req()).await;
        self.apply(b.kind, &resp);
        resp
    }
}

/// Heartbeats `members` in turn until each is stable at the group's epoch with what it owns
/// (the group described as `Stable`), up to the test deadline.
pub async fn settle(b: &Broker, members: &mut [&mut Member]) {
    let group = members.first().map(|m| m.group.clone()).unwrap_or_default();
    within("the group settles", async {
        loop {
            for m in members.iter_mut() {
                m.beat(b).await;
            }
            let d = b.describe(&group).await;
            let stable =
                d.group_state == "Stable" && members.iter().all(|m| m.epoch == d.group_epoch);
            if stable {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
}

/// Error code of a heartbeat answer.
pub fn code(resp: &ConsumerGroupHeartbeatResponse) -> ErrorCode {
    ErrorCode::from_code(resp.error_code)
}

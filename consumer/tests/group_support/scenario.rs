//! What the group scenarios (`group_scenarios.rs`, `group_faults.rs`, `group_api.rs`) start
//! from and wait on: a [`Scenario`] (a topic and a group of its own, a setup client, the
//! ledger), members' clients, the range assignor's settings, and waits until the group has
//! split the partitions, until everything produced was delivered, or until a chunk comes.

use std::collections::BTreeMap;
use std::time::Duration;

use gregor_client::Client;
use gregor_consumer::group::assignor::builtin;
use gregor_consumer::group::config::GroupProtocol;
use gregor_consumer::group::consumer::GroupConsumerSettings;
use gregor_consumer::group::task::Subscription;
use gregor_consumer::{GroupConsumer, GroupEvent, RecordChunk, TopicPartition};
use gregor_testkit::TestBroker;
use gregor_testkit::data::{create_topic, create_topic_on, test_client_config, unique_name};
use gregor_testkit::mock::MockCluster;

use super::{Behaviour, Ledger, Member, Producer, eventually, settings};

/// How long a scenario waits for the group to get somewhere.
pub const SETTLE: Duration = Duration::from_secs(40);

/// A client of its own for a member (its client id names it), with metadata refreshed every
/// half second so that new topics and partitions show up quickly.
pub async fn member_client(bootstrap: &str, id: &str) -> Client {
    let config = test_client_config(bootstrap, id)
        .metadata_max_age(Duration::from_millis(500))
        .build()
        .expect("a client configuration");
    Client::connect(config).await.expect("the client connects")
}

/// The test settings ([`settings`]) of `group` with the range assignor.
pub fn range(group: &str) -> GroupConsumerSettings {
    settings(group, vec![builtin("range").expect("built in")])
}

/// The test settings ([`settings`]) of `group` for KIP-848's consumer protocol with the
/// coordinator's `assignor`. The session timeout is the test brokers'
/// `group.consumer.session.timeout.ms` (10 s): the member gives its partitions up when it has
/// not been heard for that long.
pub fn consumer_protocol(group: &str, assignor: &str) -> GroupConsumerSettings {
    let mut s = settings(group, Vec::new());
    s.group_protocol = GroupProtocol::Consumer;
    s.remote_assignor = Some(assignor.to_owned());
    s.membership.session_timeout = Duration::from_secs(10);
    s
}

/// Waits until the owners are exactly `split` (member, partition count).
pub async fn wait_split(ledger: &Ledger, what: &str, split: &[(&str, usize)]) {
    eventually(ledger, what, SETTLE, |l| {
        let owners = l.owners();
        let total: usize = split.iter().map(|(_, n)| n).sum();
        owners.len() == total
            && split
                .iter()
                .all(|(m, n)| owners.values().filter(|o| o == m).count() == *n)
    })
    .await;
}

/// Reads until `pred` holds for a chunk (skipping group events), returning that chunk's
/// partition and first offset.
pub async fn next_chunk_where(
    consumer: &mut GroupConsumer,
    mut pred: impl FnMut(&RecordChunk) -> bool,
) -> (TopicPartition, i64) {
    let deadline = std::time::Instant::now() + SETTLE;
    loop {
        assert!(std::time::Instant::now() < deadline, "no such chunk");
        let event = tokio::time::timeout(SETTLE, consumer.next())
            .await
            .expect("an event in time")
            .expect("no error");
        if let GroupEvent::Records(chunk) = event {
            if pred(&chunk) {
                let first = chunk.as_slice().first().map_or(-1, |r| r.offset);
                return (chunk.topic_partition().clone(), first);
            }
        }
    }
}

/// What a scenario runs on: a topic of its own, a group name of its own, a client for the
/// setup (creating topics, producing, admin calls) and the ledger its members write to.
///
/// The scenario's `name` names them all: the topic `group-NAME-…`, the group `NAME-…`, the
/// setup client `NAME-setup`, and member `M`'s client `NAME-M` (a test can cut a member off
/// by that client id).
pub struct Scenario {
    /// Names the topic, the group and the clients.
    pub name: String,
    /// The cluster's bootstrap address.
    pub bootstrap: String,
    /// The setup client (`NAME-setup`).
    pub client: Client,
    /// The topic, created with the scenario.
    pub topic: String,
    /// The group id.
    pub group: String,
    /// What the members deliver.
    pub ledger: Ledger,
    /// The group protocol its members speak ([`Scenario::range`]).
    pub protocol: GroupProtocol,
}

impl Scenario {
    /// A scenario on `broker`, its topic created with `partitions` partitions.
    pub async fn new(broker: &TestBroker, name: &str, partitions: i32) -> Scenario {
        let bootstrap = broker.bootstrap();
        let client = member_client(&bootstrap, &format!("{name}-setup")).await;
        let topic = unique_name(&format!("group-{name}"));
        create_topic_on(broker, &client, &topic, partitions).await;
        Scenario::with_topic(name, bootstrap, client, topic)
    }

    /// A scenario on a mock cluster of our own (several brokers, say), its topic created with
    /// `partitions` partitions through the mock.
    pub async fn on_mock(mock: &MockCluster, name: &str, partitions: i32) -> Scenario {
        let bootstrap = mock.bootstrap();
        let client = member_client(&bootstrap, &format!("{name}-setup")).await;
        let topic = unique_name(&format!("group-{name}"));
        mock.create_topic(&topic, partitions)
            .await
            .expect("the topic");
        Scenario::with_topic(name, bootstrap, client, topic)
    }

    /// A scenario on the cluster at `bootstrap` (one started by the test itself), its topic
    /// created with `partitions` partitions.
    pub async fn on_bootstrap(bootstrap: &str, name: &str, partitions: i32) -> Scenario {
        let client = member_client(bootstrap, &format!("{name}-setup")).await;
        let topic = unique_name(&format!("group-{name}"));
        create_topic(&client, &topic, partitions).await;
        Scenario::with_topic(name, bootstrap.to_owned(), client, topic)
    }

    fn with_topic(name: &str, bootstrap: String, client: Client, topic: String) -> Scenario {
        Scenario {
            name: name.to_owned(),
            bootstrap,
            client,
            topic,
            group: unique_name(name),
            ledger: Ledger::default(),
            protocol: GroupProtocol::Classic,
        }
    }

    /// The same scenario with members speaking `protocol`.
    pub fn with_protocol(mut self, protocol: GroupProtocol) -> Scenario {
        self.protocol = protocol;
        self
    }

    /// The test settings of the scenario's group with the range assignor: the classic
    /// protocol's ([`range`]) or the consumer protocol's with the coordinator's range assignor
    /// ([`consumer_protocol`]).
    pub fn range(&self) -> GroupConsumerSettings {
        match self.protocol {
            GroupProtocol::Consumer => consumer_protocol(&self.group, "range"),
            _ => range(&self.group),
        }
    }

    /// The scenario's topic, as a subscription.
    pub fn subscription(&self) -> Subscription {
        Subscription::Topics(vec![self.topic.clone()])
    }

    /// A client of its own for member `member` ([`member_client`], client id `NAME-MEMBER`).
    pub async fn client_for(&self, member: &str) -> Client {
        member_client(&self.bootstrap, &format!("{}-{member}", self.name)).await
    }

    /// Starts member `member` with `settings`, subscribed to the topic, on a client of its own.
    pub async fn member(&self, member: &str, settings: GroupConsumerSettings) -> Member {
        self.member_with(member, settings, Behaviour::default())
            .await
    }

    /// Like [`Scenario::member`], processing records as `behaviour` says.
    pub async fn member_with(
        &self,
        member: &str,
        settings: GroupConsumerSettings,
        behaviour: Behaviour,
    ) -> Member {
        Member::start_with(
            member,
            &self.client_for(member).await,
            settings,
            self.subscription(),
            &self.ledger,
            behaviour,
        )
    }

    /// Produces 3 records to each of the topic's first `partitions` partitions every 100 ms.
    pub fn produce(&self, partitions: i32) -> Producer {
        Producer::start(
            &self.client,
            &self.topic,
            partitions,
            3,
            Duration::from_millis(100),
        )
    }

    /// Stops `producer` and waits until every offset it produced was delivered; returns the
    /// log end of each partition.
    pub async fn all_delivered(&self, producer: Producer) -> BTreeMap<TopicPartition, i64> {
        let ends = producer.stop().await;
        eventually(&self.ledger, "every offset delivered", SETTLE, |l| {
            l.gaps(&ends).is_empty()
        })
        .await;
        ends
    }
}

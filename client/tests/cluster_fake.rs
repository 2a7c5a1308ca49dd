//! The cluster client and admin calls against a scripted two-broker cluster on loopback: for
//! what one tansu cannot show (partitions led by different brokers, a leader that moved,
//! requests counted per broker) or gets wrong (committed metadata, DeleteRecords).
//!
//! Topic `t` has two partitions: partition 0 is led by broker 1, partition 1 by broker 2. A
//! broker answers `NOT_LEADER_OR_FOLLOWER` for partitions it does not lead. The first
//! `stale` Metadata answers claim broker 1 leads both.

mod support;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gregor_client::admin::{
    FetchOffsetsOptions, IsolationLevel, OffsetAndMetadata, OffsetSpec, TopicPartition,
};
use gregor_client::config::ClientConfig;
use gregor_client::{Admin, Client};
use gregor_protocol::messages::delete_records::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use gregor_protocol::messages::list_offsets::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use gregor_protocol::messages::metadata::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use gregor_protocol::messages::offset_commit::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use gregor_protocol::messages::offset_fetch::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartitions, OffsetFetchResponseTopics,
};
use gregor_protocol::messages::{
    ApiVersionsRequest, DeleteRecordsRequest, DeleteRecordsResponse, FindCoordinatorRequest,
    FindCoordinatorResponse, ListOffsetsRequest, ListOffsetsResponse, MetadataRequest,
    MetadataResponse, OffsetCommitRequest, OffsetCommitResponse, OffsetFetchRequest,
    OffsetFetchResponse,
};
use gregor_protocol::primitives::Uuid;
use gregor_protocol::{ApiKey, ErrorCode, Request};
use support::{FakeBroker, Incoming};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

const TOPIC: &str = "t";

/// What the scripted brokers saw and hold.
#[derive(Debug, Default)]
struct State {
    /// Metadata answers given so far.
    metadata_answers: usize,
    /// The first this many Metadata answers say broker 1 leads both partitions.
    stale: usize,
    /// Hold the Metadata answer with this number until `release` is notified.
    hold: Option<usize>,
    /// `(broker, api, partitions)` of each partition request.
    partition_requests: Vec<(i32, ApiKey, Vec<i32>)>,
    /// Committed `(offset, leader epoch, metadata)` by group and partition.
    commits: HashMap<(String, i32), (i64, i32, Option<String>)>,
}

struct FakeCluster {
    addrs: Vec<SocketAddr>,
    state: Arc<Mutex<State>>,
    held: Arc<Notify>,
    release: Arc<Notify>,
}

fn ranges() -> Vec<(ApiKey, i16, i16)> {
    fn ours<R: Request>() -> (ApiKey, i16, i16) {
        (R::API_KEY, R::VERSIONS.min, R::VERSIONS.max)
    }
    vec![
        ours::<ApiVersionsRequest>(),
        ours::<MetadataRequest>(),
        ours::<ListOffsetsRequest>(),
        ours::<DeleteRecordsRequest>(),
        ours::<FindCoordinatorRequest>(),
        ours::<OffsetCommitRequest>(),
        ours::<OffsetFetchRequest>(),
    ]
}

impl FakeCluster {
    async fn start(stale: usize) -> FakeCluster {
        let state = Arc::new(Mutex::new(State {
            stale,
            ..State::default()
        }));
        let held = Arc::new(Notify::new());
        let release = Arc::new(Notify::new());
        let mut listeners = Vec::new();
        for _ in 0..2 {
            listeners.push(TcpListener::bind("127.0.0.1:0").await.unwrap());
        }
        let addrs: Vec<SocketAddr> = listeners.iter().map(|l| l.local_addr().unwrap()).collect();
        for (i, listener) in listeners.into_iter().enumerate() {
            let cluster = Served {
                me: i as i32 + 1,
                addrs: addrs.clone(),
                state: Arc::clone(&state),
                held: Arc::clone(&held),
                release: Arc::clone(&release),
            };
            tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    tokio::spawn(cluster.clone().serve(stream));
                }
            });
        }
        FakeCluster {
            addrs,
            state,
            held,
            release,
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    async fn client(&self) -> Client {
        let config = ClientConfig::builder()
            .bootstrap_servers([self.addrs[0].to_string()])
            .retry_backoff(Duration::from_millis(10))
            .build()
            .unwrap();
        Client::connect(config)
            .await
            .expect("connects to the fake cluster")
    }
}

/// One broker of the fake cluster.
#[derive(Clone)]
struct Served {
    me: i32,
    addrs: Vec<SocketAddr>,
    state: Arc<Mutex<State>>,
    held: Arc<Notify>,
    release: Arc<Notify>,
}

impl Served {
    fn leader(partition: i32) -> i32 {
        partition + 1
    }

    async fn serve(self, stream: TcpStream) {
        let mut broker = FakeBroker::new(stream);
        broker.accept_api_versions(&ranges()).await;
        while let Some(req) = broker.recv().await {
            match req.api() {
                ApiKey::Metadata => self.metadata(&mut broker, &req).await,
                ApiKey::ListOffsets => {
                    let (_, body) = req.decode::<ListOffsetsRequest>();
                    let t = &body.topics[0];
                    let parts: Vec<i32> = t.partitions.iter().map(|p| p.partition_index).collect();
                    self.log(ApiKey::ListOffsets, parts.clone());
                    let response = ListOffsetsResponse {
                        topics: vec![ListOffsetsTopicResponse {
                            name: t.name.clone(),
                            partitions: parts
                                .iter()
                                .map(|&p| ListOffsetsPartitionResponse {
                                    partition_index: p,
                                    error_code: self.error_for(p),
                                    offset: 100 + i64::from(p),
                                    leader_epoch: 5,
                                    ..Default::default()
                                })
                                .collect(),
                            ..Default::default()
                        }],
                        ..Default::default()
                    };
                    broker.respond::<ListOffsetsRequest>(&req, &response).await;
                }
                ApiKey::DeleteRecords => {
                    let (_, body) = req.decode::<DeleteRecordsRequest>();
                    let t = &body.topics[0];
                    self.log(
                        ApiKey::DeleteRecords,
                        t.partitions.iter().map(|p| p.partition_index).collect(),
                    );
                    let response = DeleteRecordsResponse {
                        topics: vec![DeleteRecordsTopicResult {
                            name: t.name.clone(),
                            partitions: t
                                .partitions
                                .iter()
                                .map(|p| DeleteRecordsPartitionResult {
                                    partition_index: p.partition_index,
                                    low_watermark: p.offset,
                                    error_code: self.error_for(p.partition_index),
                                    ..Default::default()
                                })
                                .collect(),
                            ..Default::default()
                        }],
                        ..Default::default()
                    };
                    broker
                        .respond::<DeleteRecordsRequest>(&req, &response)
                        .await;
                }
                ApiKey::FindCoordinator => {
                    let (_, body) = req.decode::<FindCoordinatorRequest>();
                    assert!(req.version >= 4, "tests speak the newest version");
                    let response = FindCoordinatorResponse {
                        coordinators: vec![
                            gregor_protocol::messages::find_coordinator::Coordinator {
                                key: body.coordinator_keys[0].clone(),
                                node_id: 1,
                                host: "127.0.0.1".into(),
                                port: i32::from(self.addrs[0].port()),
                                ..Default::default()
                            },
                        ],
                        ..Default::default()
                    };
                    broker
                        .respond::<FindCoordinatorRequest>(&req, &response)
                        .await;
                }
                ApiKey::OffsetCommit => {
                    let (_, body) = req.decode::<OffsetCommitRequest>();
                    assert_eq!(body.generation_id_or_member_epoch, -1);
                    assert_eq!(body.member_id, "");
                    let mut topics = Vec::new();
                    for t in &body.topics {
                        let mut partitions = Vec::new();
                        for p in &t.partitions {
                            self.state.lock().unwrap().commits.insert(
                                (body.group_id.clone(), p.partition_index),
                                (
                                    p.committed_offset,
                                    p.committed_leader_epoch,
                                    p.committed_metadata.clone(),
                                ),
                            );
                            partitions.push(OffsetCommitResponsePartition {
                                partition_index: p.partition_index,
                                ..Default::default()
                            });
                        }
                        topics.push(OffsetCommitResponseTopic {
                            name: t.name.clone(),
                            partitions,
                            ..Default::default()
                        });
                    }
                    let response = OffsetCommitResponse {
                        topics,
                        ..Default::default()
                    };
                    broker.respond::<OffsetCommitRequest>(&req, &response).await;
                }
                ApiKey::OffsetFetch => {
                    let (_, body) = req.decode::<OffsetFetchRequest>();
                    assert!(req.version >= 8, "tests speak the newest version");
                    let group = &body.groups[0];
                    let commits = self.state.lock().unwrap().commits.clone();
                    let asked = &group.topics.as_ref().unwrap()[0];
                    let response = OffsetFetchResponse {
                        groups: vec![OffsetFetchResponseGroup {
                            group_id: group.group_id.clone(),
                            topics: vec![OffsetFetchResponseTopics {
                                name: asked.name.clone(),
                                partitions: asked
                                    .partition_indexes
                                    .iter()
                                    .map(|&p| {
                                        let (offset, epoch, metadata) = commits
                                            .get(&(group.group_id.clone(), p))
                                            .cloned()
                                            .unwrap_or((-1, -1, Some(String::new())));
                                        OffsetFetchResponsePartitions {
                                            partition_index: p,
                                            committed_offset: offset,
                                            committed_leader_epoch: epoch,
                                            metadata,
                                            ..Default::default()
                                        }
                                    })
                                    .collect(),
                                ..Default::default()
                            }],
                            ..Default::default()
                        }],
                        ..Default::default()
                    };
                    broker.respond::<OffsetFetchRequest>(&req, &response).await;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    fn error_for(&self, partition: i32) -> i16 {
        if Self::leader(partition) == self.me {
            0
        } else {
            ErrorCode::NotLeaderOrFollower.code()
        }
    }

    fn log(&self, api: ApiKey, partitions: Vec<i32>) {
        self.state
            .lock()
            .unwrap()
            .partition_requests
            .push((self.me, api, partitions));
    }

    async fn metadata(&self, broker: &mut FakeBroker<TcpStream>, req: &Incoming) {
        let (stale, hold) = {
            let mut state = self.state.lock().unwrap();
            state.metadata_answers += 1;
            let n = state.metadata_answers;
            (n <= state.stale, state.hold == Some(n))
        };
        if hold {
            self.held.notify_one();
            self.release.notified().await;
        }
        let leader = |p: i32| if stale { 1 } else { Self::leader(p) };
        let response = MetadataResponse {
            brokers: self
                .addrs
                .iter()
                .enumerate()
                .map(|(i, a)| MetadataResponseBroker {
                    node_id: i as i32 + 1,
                    host: "127.0.0.1".into(),
                    port: i32::from(a.port()),
                    ..Default::default()
                })
                .collect(),
            cluster_id: Some("fake".into()),
            controller_id: 1,
            topics: vec![MetadataResponseTopic {
                name: Some(TOPIC.into()),
                topic_id: Uuid([9; 16]),
                partitions: (0..2)
                    .map(|p| MetadataResponsePartition {
                        partition_index: p,
                        leader_id: leader(p),
                        leader_epoch: 5,
                        replica_nodes: vec![leader(p)],
                        isr_nodes: vec![leader(p)],
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        };
        broker.respond::<MetadataRequest>(req, &response).await;
    }
}

fn tp(partition: i32) -> TopicPartition {
    TopicPartition::new(TOPIC, partition)
}

#[tokio::test]
async fn concurrent_refreshes_share_metadata_requests() {
    const CALLERS: usize = 20;
    let cluster = FakeCluster::start(0).await;
    let client = cluster.client().await;
    assert_eq!(cluster.state().metadata_answers, 1, "the bootstrap");
    cluster.state().hold = Some(2);
    let refreshes: Vec<_> = (0..CALLERS)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.refresh_metadata(None).await })
        })
        .collect();
    cluster.held.notified().await;
    cluster.release.notify_one();
    for refresh in refreshes {
        let snapshot = refresh.await.unwrap().expect("refreshed");
        assert_eq!(snapshot.partition_count(TOPIC), Some(2));
    }
    let requests = cluster.state().metadata_answers - 1;
    assert!(
        (1..=2).contains(&requests),
        "{CALLERS} refreshes took {requests} Metadata requests"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_offsets_sends_one_request_per_leader() {
    let cluster = FakeCluster::start(0).await;
    let admin = Admin::new(cluster.client().await);
    let offsets = admin
        .list_offsets(
            &[(tp(0), OffsetSpec::Earliest), (tp(1), OffsetSpec::Latest)],
            IsolationLevel::ReadCommitted,
        )
        .await
        .unwrap();
    let p0 = offsets[&tp(0)].unwrap();
    assert_eq!((p0.offset, p0.leader_epoch), (100, Some(5)));
    assert_eq!(offsets[&tp(1)].unwrap().offset, 101);
    let mut sent = cluster.state().partition_requests.clone();
    sent.sort();
    assert_eq!(
        sent,
        [
            (1, ApiKey::ListOffsets, vec![0]),
            (2, ApiKey::ListOffsets, vec![1])
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moved_leader_refreshes_metadata_and_retries_only_its_partition() {
    let cluster = FakeCluster::start(1).await;
    let client = cluster.client().await;
    assert_eq!(client.leader(TOPIC, 1).await.unwrap().0, 1, "stale view");
    let admin = Admin::new(client.clone());
    let offsets = admin
        .list_offsets(
            &[(tp(0), OffsetSpec::Earliest), (tp(1), OffsetSpec::Earliest)],
            IsolationLevel::ReadUncommitted,
        )
        .await
        .unwrap();
    assert_eq!(offsets[&tp(0)].unwrap().offset, 100);
    assert_eq!(offsets[&tp(1)].unwrap().offset, 101);
    assert_eq!(
        cluster.state().partition_requests,
        [
            (1, ApiKey::ListOffsets, vec![0, 1]),
            (2, ApiKey::ListOffsets, vec![1]),
        ],
        "NOT_LEADER_OR_FOLLOWER sent partition 1 to its new leader"
    );
    assert_eq!(client.metadata().leader(TOPIC, 1).unwrap().0.id, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_records_goes_to_each_leader() {
    let cluster = FakeCluster::start(0).await;
    let admin = Admin::new(cluster.client().await);
    let deleted = admin
        .delete_records(&[(tp(0), 7), (tp(1), 9)])
        .await
        .unwrap();
    assert_eq!(deleted[&tp(0)], Ok(7));
    assert_eq!(deleted[&tp(1)], Ok(9));
    let mut sent = cluster.state().partition_requests.clone();
    sent.sort();
    assert_eq!(
        sent,
        [
            (1, ApiKey::DeleteRecords, vec![0]),
            (2, ApiKey::DeleteRecords, vec![1])
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_metadata_and_leader_epoch_round_trip() {
    let cluster = FakeCluster::start(0).await;
    let admin = Admin::new(cluster.client().await);
    let committed = admin
        .commit_offsets(
            "g",
            &[
                (
                    tp(0),
                    OffsetAndMetadata::new(42)
                        .with_metadata("checkpoint")
                        .with_leader_epoch(5),
                ),
                (tp(1), OffsetAndMetadata::new(43)),
            ],
        )
        .await
        .unwrap();
    assert_eq!(committed[&tp(0)], Ok(()));
    assert_eq!(
        cluster.state().commits[&("g".to_owned(), 0)],
        (42, 5, Some("checkpoint".to_owned()))
    );
    let fetched = admin
        .fetch_offsets("g", Some(&[tp(0), tp(1)]), FetchOffsetsOptions::default())
        .await
        .unwrap();
    let p0 = fetched[&tp(0)].as_ref().unwrap().as_ref().unwrap();
    assert_eq!(
        (p0.offset, p0.leader_epoch, p0.metadata.as_str()),
        (42, Some(5), "checkpoint")
    );
    let p1 = fetched[&tp(1)].as_ref().unwrap().as_ref().unwrap();
    assert_eq!(
        (p1.offset, p1.leader_epoch, p1.metadata.as_str()),
        (43, None, "")
    );
}

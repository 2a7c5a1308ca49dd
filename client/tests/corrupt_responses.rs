//! A response that does not decode is a connection fault: the connection is closed (poisoned),
//! and the idempotent requests involved (ApiVersions at connect, Metadata, ListOffsets) are
//! asked again on a new connection. One corrupted answer costs a retry, not the client; a
//! broker whose answers never decode is still reported, typed.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gregor_client::admin::{IsolationLevel, OffsetSpec};
use gregor_client::config::ClientConfig;
use gregor_client::{Admin, Client, ClientError, PoisonCause, TopicPartition};
use gregor_protocol::messages::list_offsets::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use gregor_protocol::messages::metadata::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use gregor_protocol::messages::{
    ApiVersionsRequest, ListOffsetsRequest, ListOffsetsResponse, MetadataRequest, MetadataResponse,
};
use gregor_protocol::{ApiKey, Message, Request};
use support::{FakeBroker, api_versions, full_ranges, response_frame};
use tokio::net::TcpListener;

/// The offset every ListOffsets answer gives.
const LISTED: i64 = 42;

/// Which answers the broker corrupts: the `n`th (from 1) response of an API, counted over
/// every connection.
#[derive(Debug, Default)]
struct Script {
    corrupt: BTreeSet<(i16, usize)>,
    /// Corrupt every answer of these APIs.
    always: BTreeSet<i16>,
    answered: Mutex<BTreeMap<i16, usize>>,
    connections: AtomicUsize,
}

impl Script {
    fn corrupting(answers: &[(ApiKey, usize)]) -> Arc<Script> {
        Arc::new(Script {
            corrupt: answers.iter().map(|(a, n)| (a.code(), *n)).collect(),
            ..Script::default()
        })
    }

    /// Whether the next answer of `api` is to be corrupted (and counts it).
    fn next_is_corrupt(&self, api: ApiKey) -> bool {
        let mut answered = self.answered.lock().unwrap();
        let n = answered.entry(api.code()).or_default();
        *n += 1;
        self.always.contains(&api.code()) || self.corrupt.contains(&(api.code(), *n))
    }

    fn answered(&self, api: ApiKey) -> usize {
        self.answered
            .lock()
            .unwrap()
            .get(&api.code())
            .copied()
            .unwrap_or(0)
    }
}

/// A frame for `body`, or, when `corrupt`, the same frame with its body cut three bytes short
/// (the size prefix fixed, so framing and correlation id stay right).
fn frame<R: Request>(
    correlation_id: i32,
    version: i16,
    body: &R::Response,
    corrupt: bool,
) -> Vec<u8> {
    let mut frame = response_frame::<R>(correlation_id, version, body);
    if corrupt {
        frame.truncate(frame.len() - 3);
        let len = i32::try_from(frame.len() - 4).unwrap();
        frame[..4].copy_from_slice(&len.to_be_bytes());
    }
    frame
}

/// One broker (node 1) with topic `t` (2 partitions), answering ApiVersions, Metadata and
/// ListOffsets, corrupting the answers `script` names.
async fn serve(listener: TcpListener, script: Arc<Script>) {
    let port = i32::from(listener.local_addr().unwrap().port());
    while let Ok((stream, _)) = listener.accept().await {
        script.connections.fetch_add(1, Ordering::SeqCst);
        let script = Arc::clone(&script);
        tokio::spawn(async move {
            let mut broker = FakeBroker::new(stream);
            let mut ranges = full_ranges();
            ranges.push((ApiKey::ListOffsets, 1, ListOffsetsRequest::VERSIONS.max));
            while let Some(req) = broker.recv().await {
                let corrupt = script.next_is_corrupt(req.api());
                let bytes = match req.api() {
                    ApiKey::ApiVersions => frame::<ApiVersionsRequest>(
                        req.correlation_id,
                        req.version,
                        &api_versions(0, &ranges),
                        corrupt,
                    ),
                    ApiKey::Metadata => frame::<MetadataRequest>(
                        req.correlation_id,
                        req.version,
                        &metadata(port),
                        corrupt,
                    ),
                    ApiKey::ListOffsets => {
                        let (_, asked) = req.decode::<ListOffsetsRequest>();
                        frame::<ListOffsetsRequest>(
                            req.correlation_id,
                            req.version,
                            &listed(&asked),
                            corrupt,
                        )
                    }
                    other => panic!("not scripted: {other:?}"),
                };
                broker.send_raw(&bytes).await;
            }
        });
    }
}

fn metadata(port: i32) -> MetadataResponse {
    MetadataResponse {
        brokers: vec![MetadataResponseBroker {
            node_id: 1,
            host: "127.0.0.1".to_owned(),
            port,
            ..MetadataResponseBroker::default()
        }],
        controller_id: 1,
        topics: vec![MetadataResponseTopic {
            name: Some("t".to_owned()),
            partitions: (0..2)
                .map(|p| MetadataResponsePartition {
                    partition_index: p,
                    leader_id: 1,
                    replica_nodes: vec![1],
                    isr_nodes: vec![1],
                    ..MetadataResponsePartition::default()
                })
                .collect(),
            ..MetadataResponseTopic::default()
        }],
        ..MetadataResponse::default()
    }
}

fn listed(asked: &ListOffsetsRequest) -> ListOffsetsResponse {
    ListOffsetsResponse {
        topics: asked
            .topics
            .iter()
            .map(|t| ListOffsetsTopicResponse {
                name: t.name.clone(),
                partitions: t
                    .partitions
                    .iter()
                    .map(|p| ListOffsetsPartitionResponse {
                        partition_index: p.partition_index,
                        offset: LISTED,
                        timestamp: -1,
                        leader_epoch: -1,
                        ..ListOffsetsPartitionResponse::default()
                    })
                    .collect(),
                ..ListOffsetsTopicResponse::default()
            })
            .collect(),
        ..ListOffsetsResponse::default()
    }
}

async fn start(script: &Arc<Script>) -> ClientConfig {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve(listener, Arc::clone(script)));
    ClientConfig::builder()
        .bootstrap_servers([addr.to_string()])
        .retry_backoff(Duration::from_millis(10))
        .build()
        .unwrap()
}

fn partitions() -> Vec<(TopicPartition, OffsetSpec)> {
    (0..2)
        .map(|p| (TopicPartition::new("t", p), OffsetSpec::Latest))
        .collect()
}

#[tokio::test]
async fn one_corrupted_answer_of_each_idempotent_request_costs_a_retry() {
    // The first ApiVersions (bootstrap), the second Metadata (the first refresh after the
    // bootstrap) and the first ListOffsets are corrupted.
    let script = Script::corrupting(&[
        (ApiKey::ApiVersions, 1),
        (ApiKey::Metadata, 2),
        (ApiKey::ListOffsets, 1),
    ]);
    let config = start(&script).await;
    let client = Client::connect(config)
        .await
        .expect("the bootstrap survives a corrupted ApiVersions answer");
    let refreshed = client
        .refresh_metadata(Some(&["t".to_owned()]))
        .await
        .expect("the refresh survives a corrupted Metadata answer");
    assert_eq!(refreshed.leader("t", 1).map(|(b, _)| b.id), Some(1));
    let admin = Admin::new(client.clone());
    let offsets = admin
        .list_offsets(&partitions(), IsolationLevel::ReadUncommitted)
        .await
        .expect("ListOffsets survives a corrupted answer");
    for (tp, listed) in &offsets {
        let listed = listed.as_ref().unwrap_or_else(|e| panic!("{tp}: {e}"));
        assert_eq!(listed.offset, LISTED, "{tp}");
    }
    assert_eq!(offsets.len(), 2);
    // Each corrupted answer cost its connection: the bootstrap's first, the refresh's and
    // the lookup's, beside the ones that answered.
    assert!(
        script.answered(ApiKey::ListOffsets) >= 2,
        "ListOffsets asked again"
    );
    assert!(
        script.connections.load(Ordering::SeqCst) >= 4,
        "each corrupted answer closed its connection: {} connections",
        script.connections.load(Ordering::SeqCst)
    );
}

#[tokio::test]
async fn answers_that_never_decode_are_reported_typed() {
    let script = Arc::new(Script {
        always: [ApiKey::ListOffsets.code()].into(),
        ..Script::default()
    });
    let config = start(&script).await;
    let client = Client::connect(config).await.expect("connects");
    let error = Admin::new(client)
        .with_timeout(Duration::from_secs(2))
        .list_offsets(&partitions(), IsolationLevel::ReadUncommitted)
        .await
        .expect_err("a broker whose ListOffsets answers never decode");
    assert!(
        matches!(
            error,
            ClientError::Poisoned(PoisonCause::MalformedBody(ApiKey::ListOffsets, _))
        ),
        "{error:?}"
    );
    assert!(
        script.answered(ApiKey::ListOffsets) >= 2,
        "it was retried before being reported"
    );
}

#[tokio::test]
async fn a_bootstrap_whose_answers_never_decode_fails_typed() {
    let script = Arc::new(Script {
        always: [ApiKey::ApiVersions.code()].into(),
        ..Script::default()
    });
    let config = start(&script).await;
    let error = Client::connect(config)
        .await
        .expect_err("no ApiVersions answer decodes");
    assert!(
        matches!(
            error,
            ClientError::Poisoned(PoisonCause::MalformedBody(ApiKey::ApiVersions, _))
        ),
        "{error:?}"
    );
    assert_eq!(
        script.answered(ApiKey::ApiVersions),
        3,
        "three passes over the bootstrap addresses"
    );
}

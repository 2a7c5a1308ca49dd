//! A broker whose Metadata stops at v2, before `allow_auto_topic_creation` (v4): such a broker
//! would create the named topics that do not exist, and the older versions cannot ask it not
//! to. gregor asks it for every topic instead (which creates none) and answers for the named
//! topics from that, the missing ones `UNKNOWN_TOPIC_OR_PARTITION` as a newer broker says.
//! (Before: every refresh of named topics failed with "field allow_auto_topic_creation is
//! not in version 2".)

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use gregor_client::config::ClientConfig;
use gregor_client::{Client, ClientError, ConnectOptions, Connection};
use gregor_protocol::messages::metadata::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use gregor_protocol::messages::{MetadataRequest, MetadataResponse};
use gregor_protocol::{ApiKey, ErrorCode};
use support::FakeBroker;
use tokio::net::TcpListener;

/// The topics the old broker has.
const TOPICS: [&str; 2] = ["a", "b"];

/// Each Metadata request the broker saw: its version and the topics it named (`None`: all).
type Seen = Arc<Mutex<Vec<(i16, Option<Vec<String>>)>>>;

/// Serves one broker (node 1) on `listener` whose Metadata versions are 0-2.
async fn serve_old_broker(listener: TcpListener, seen: Seen) {
    let port = listener.local_addr().unwrap().port();
    while let Ok((stream, _)) = listener.accept().await {
        let seen = Arc::clone(&seen);
        tokio::spawn(async move {
            let mut broker = FakeBroker::new(stream);
            broker
                .accept_api_versions(&[(ApiKey::ApiVersions, 0, 3), (ApiKey::Metadata, 0, 2)])
                .await;
            while let Some(req) = broker.recv().await {
                assert_eq!(req.api(), ApiKey::Metadata, "only Metadata is asked here");
                let (_, body) = req.decode::<MetadataRequest>();
                let named = body
                    .topics
                    .filter(|t| !t.is_empty() || req.version >= 1)
                    .map(|ts| ts.into_iter().map(|t| t.name.unwrap_or_default()).collect());
                seen.lock().unwrap().push((req.version, named));
                let response = MetadataResponse {
                    brokers: vec![MetadataResponseBroker {
                        node_id: 1,
                        host: "127.0.0.1".to_owned(),
                        port: i32::from(port),
                        ..MetadataResponseBroker::default()
                    }],
                    controller_id: 1,
                    topics: TOPICS
                        .iter()
                        .map(|name| MetadataResponseTopic {
                            name: Some((*name).to_owned()),
                            partitions: vec![MetadataResponsePartition {
                                partition_index: 0,
                                leader_id: 1,
                                replica_nodes: vec![1],
                                isr_nodes: vec![1],
                                ..MetadataResponsePartition::default()
                            }],
                            ..MetadataResponseTopic::default()
                        })
                        .collect(),
                    ..MetadataResponse::default()
                };
                broker.respond::<MetadataRequest>(&req, &response).await;
            }
        });
    }
}

#[tokio::test]
async fn named_topics_are_asked_of_an_old_broker_as_every_topic() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Seen::default();
    tokio::spawn(serve_old_broker(listener, Arc::clone(&seen)));
    let config = ClientConfig::builder()
        .bootstrap_servers([addr.to_string()])
        .retry_backoff(Duration::from_millis(10))
        .build()
        .unwrap();
    let client = Client::connect(config).await.expect("connects");

    let named = ["a".to_owned(), "gone".to_owned()];
    let found = client
        .refresh_metadata(Some(&named))
        .await
        .expect("a refresh of named topics on a Metadata v2 broker");
    let a = found.topic("a").expect("topic a is answered");
    assert_eq!(a.error, ErrorCode::None);
    assert_eq!(found.leader("a", 0).map(|(b, _)| b.id), Some(1));
    let gone = found.topic("gone").expect("the missing topic is answered");
    assert_eq!(gone.error, ErrorCode::UnknownTopicOrPartition);
    assert!(gone.partitions.is_empty());

    let seen = seen.lock().unwrap().clone();
    assert!(seen.len() >= 2, "bootstrap and the refresh: {seen:?}");
    for (version, named) in &seen {
        assert_eq!(*version, 2, "the broker's newest Metadata: {seen:?}");
        assert_eq!(
            named, &None,
            "no topic is named to a broker that would create it: {seen:?}"
        );
    }
}

/// What an old version cannot carry, and gregor has no older way to say, is refused before
/// it is sent, naming the API, the version both sides speak and both sides' ranges.
#[tokio::test]
async fn what_an_old_version_cannot_carry_is_refused_naming_the_versions() {
    let (client, server) = tokio::io::duplex(64 * 1024);
    let mut broker = FakeBroker::new(server);
    let options = ConnectOptions::default();
    let (conn, _) = tokio::join!(
        Connection::handshake(client, &options),
        broker.accept_api_versions(&[(ApiKey::ApiVersions, 0, 3), (ApiKey::Metadata, 0, 2)])
    );
    let conn = conn.expect("handshake");
    let error = conn
        .send(MetadataRequest {
            allow_auto_topic_creation: false,
            ..MetadataRequest::for_topics(["a"])
        })
        .await
        .expect_err("v2 has no allow_auto_topic_creation");
    match &error {
        ClientError::NotInBrokerVersion {
            api: ApiKey::Metadata,
            version: 2,
            broker: Some(range),
            ..
        } if range.max == 2 => {}
        other => panic!("not the version error: {other:?}"),
    }
    let text = error.to_string();
    assert!(
        text.contains("Metadata v2")
            && text.contains("the broker speaks v0-2")
            && text.contains("allow_auto_topic_creation"),
        "{text}"
    );
}

//! The cluster client against a real broker: tansu started on loopback (install it with
//! `.ci/install-tansu.sh`), or the cluster in `KAFKA_BOOTSTRAP_SERVERS` for the tests that do
//! not need to break connections. Connection failures go through a `ChaosProxy` in front of
//! tansu; TLS through stunnel (`TlsBroker`).

mod cluster_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use cluster_support::{broker, client, config, proxied_tansu};
use gregor_client::config::SecurityProtocol;
use gregor_client::tls::{TlsConfig, TrustRoots};
use gregor_client::{Client, ClientError, CoordinatorKind, Purpose};
use gregor_protocol::messages::MetadataRequest;
use gregor_protocol::primitives::Uuid;
use gregor_protocol::{ApiKey, ErrorCode};
use gregor_testkit::certs::TestPki;
use gregor_testkit::data::{create_topic, unique_name, within};
use gregor_testkit::{TlsBroker, TlsBrokerOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstraps_and_reads_brokers_partitions_and_leaders() {
    let broker = broker().await;
    let client = client(&broker.bootstrap()).await;
    let snapshot = client.metadata();
    let brokers = snapshot.brokers();
    assert!(!brokers.is_empty(), "the cluster lists its brokers");
    if !broker.is_external() {
        assert_eq!(
            brokers[0].host_port(),
            broker.bootstrap(),
            "tansu advertises its own address"
        );
    }

    let topic = unique_name("meta");
    create_topic(&client, &topic, 3).await;
    let snapshot = client.refresh_metadata(None).await.expect("refresh");
    let meta = snapshot
        .topic(&topic)
        .expect("the new topic is in the metadata");
    assert!(meta.error.is_ok());
    assert_eq!(meta.partitions.len(), 3);
    for p in &meta.partitions {
        let leader = p.leader.expect("every partition has a leader");
        assert!(
            snapshot.broker(leader).is_some(),
            "the leader is a known broker"
        );
        let (id, epoch) = client.leader(&topic, p.partition).await.expect("leader");
        assert_eq!((id, epoch), (leader, p.leader_epoch));
    }
    let conn = client.any_broker().await.expect("a broker");
    if conn.version_for::<MetadataRequest>().unwrap() >= 10 {
        assert_ne!(meta.id, Uuid::ZERO, "Metadata v10+ carries topic ids");
        assert_eq!(snapshot.topic_name(meta.id), Some(topic.as_str()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_topics_and_partitions_are_typed_after_one_refresh() {
    let broker = broker().await;
    let client = client(&broker.bootstrap()).await;
    match client.leader(&unique_name("missing"), 0).await {
        Err(ClientError::Broker {
            api: ApiKey::Metadata,
            code: ErrorCode::UnknownTopicOrPartition,
        }) => {}
        other => panic!("expected UNKNOWN_TOPIC_OR_PARTITION, got {other:?}"),
    }
    let topic = unique_name("one-partition");
    create_topic(&client, &topic, 1).await;
    assert!(matches!(
        client.leader(&topic, 5).await,
        Err(ClientError::Broker {
            code: ErrorCode::UnknownTopicOrPartition,
            ..
        })
    ));
    assert!(matches!(
        client.connection(9_999, Purpose::Control).await,
        Err(ClientError::UnknownBroker { broker: 9_999 })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sees_a_topic_another_client_created_after_a_refresh() {
    let broker = broker().await;
    let observer = client(&broker.bootstrap()).await;
    let creator = client(&broker.bootstrap()).await;
    let topic = unique_name("created-elsewhere");
    create_topic(&creator, &topic, 2).await;
    assert!(
        observer.metadata().topic(&topic).is_none(),
        "the observer's snapshot predates the topic"
    );
    let (leader, _) = observer
        .leader(&topic, 1)
        .await
        .expect("an unknown topic triggers a refresh");
    assert!(observer.metadata().broker(leader).is_some());
    assert_eq!(observer.metadata().partition_count(&topic), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finds_and_caches_the_group_coordinator() {
    let broker = broker().await;
    let client = client(&broker.bootstrap()).await;
    let group = unique_name("group");
    let id = client
        .retry(ApiKey::FindCoordinator, || {
            client.coordinator(CoordinatorKind::Group, &group)
        })
        .await
        .expect("coordinator");
    assert!(client.metadata().broker(id).is_some());
    let conn = client
        .connection(id, Purpose::Control)
        .await
        .expect("coordinator connection");
    assert!(!conn.is_closed());
    assert_eq!(
        client
            .coordinator(CoordinatorKind::Group, &group)
            .await
            .unwrap(),
        id
    );
    client.forget_coordinator(CoordinatorKind::Group, &group);
    assert_eq!(
        client
            .coordinator(CoordinatorKind::Group, &group)
            .await
            .unwrap(),
        id,
        "asked again after forgetting"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_purpose_gets_its_own_connection_and_reuses_it() {
    let (proxy, _tansu) = proxied_tansu().await;
    let client = client(&proxy.bootstrap()).await;
    let broker = client.metadata().brokers()[0].id;
    let after_bootstrap = proxy.accepted();
    let control = client.connection(broker, Purpose::Control).await.unwrap();
    let fetch = client.connection(broker, Purpose::Fetch).await.unwrap();
    let produce = client.connection(broker, Purpose::Produce).await.unwrap();
    assert_eq!(proxy.accepted(), after_bootstrap + 3, "one per purpose");
    for _ in 0..3 {
        client.connection(broker, Purpose::Fetch).await.unwrap();
        client.connection(broker, Purpose::Control).await.unwrap();
    }
    assert_eq!(
        proxy.accepted(),
        after_bootstrap + 3,
        "reused, not reopened"
    );
    for conn in [control, fetch, produce] {
        conn.send_with(MetadataRequest::all_topics).await.unwrap();
    }
}

/// Waits until `counter` reaches `target`.
async fn reach(counter: &AtomicUsize, target: usize) {
    within("requests to be answered", async {
        while counter.load(Ordering::SeqCst) < target {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_fails_requests_in_flight_and_the_pool_reconnects() {
    const LOOPS: usize = 6;
    let (proxy, _tansu) = proxied_tansu().await;
    let client = client(&proxy.bootstrap()).await;
    let broker = client.metadata().brokers()[0].id;
    let conn = client.connection(broker, Purpose::Control).await.unwrap();
    let answered = Arc::new(AtomicUsize::new(0));
    // Every loop keeps requests in flight on the same connection until it fails.
    let loops: Vec<_> = (0..LOOPS)
        .map(|_| {
            let conn = conn.clone();
            let answered = Arc::clone(&answered);
            tokio::spawn(async move {
                loop {
                    if let Err(e) = conn.send_with(MetadataRequest::all_topics).await {
                        return e;
                    }
                    answered.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();
    reach(&answered, LOOPS * 5).await;
    let accepted = proxy.accepted();
    proxy.cut_all();
    for task in loops {
        let error = within("a loop to fail", task).await.unwrap();
        assert!(error.is_connection_error(), "a connection error: {error:?}");
    }
    assert!(conn.is_closed());
    let fresh = client.connection(broker, Purpose::Control).await.unwrap();
    fresh
        .send_with(MetadataRequest::all_topics)
        .await
        .expect("the next request works");
    assert_eq!(
        proxy.accepted(),
        accepted + 1,
        "the pool opened a new connection"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retried_requests_carry_on_across_cuts() {
    const LOOPS: usize = 4;
    let (proxy, _tansu) = proxied_tansu().await;
    let client = client(&proxy.bootstrap()).await;
    let broker = client.metadata().brokers()[0].id;
    let answered = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let loops: Vec<_> = (0..LOOPS)
        .map(|_| {
            let client = client.clone();
            let answered = Arc::clone(&answered);
            let stop = Arc::clone(&stop);
            tokio::spawn(async move {
                while !stop.load(Ordering::SeqCst) {
                    client
                        .retry(ApiKey::Metadata, || async {
                            let conn = client.connection(broker, Purpose::Control).await?;
                            conn.send_with(MetadataRequest::all_topics).await
                        })
                        .await?;
                    answered.fetch_add(1, Ordering::SeqCst);
                }
                Ok::<(), ClientError>(())
            })
        })
        .collect();
    let accepted = proxy.accepted();
    // Each cut waits for 20 answers counted from the previous cut: at most LOOPS of them
    // can come from the cut connection, so the rest came over a new one, and every cut
    // has a connection to cut. (Counting from the start raced: tansu answers fast enough
    // that the later cuts could fall before the client had reconnected.)
    for _ in 0..3 {
        reach(&answered, answered.load(Ordering::SeqCst) + 20).await;
        proxy.cut_all();
    }
    reach(&answered, answered.load(Ordering::SeqCst) + 20).await;
    stop.store(true, Ordering::SeqCst);
    for task in loops {
        within("a loop to stop", task)
            .await
            .unwrap()
            .expect("every request succeeds, retried across the cuts");
    }
    assert!(
        proxy.accepted() >= accepted + 3,
        "reconnected after each cut"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_broker_times_out_and_the_client_recovers() {
    let (proxy, _tansu) = proxied_tansu().await;
    let config = config(&proxy.bootstrap())
        .request_timeout(Duration::from_millis(800))
        .build()
        .unwrap();
    let client = Client::connect(config).await.unwrap();
    client.refresh_metadata(None).await.expect("healthy first");
    proxy.stall(true);
    match within("a stalled refresh", client.refresh_metadata(None)).await {
        Err(ClientError::Timeout { api }) => assert_eq!(api, ApiKey::Metadata),
        other => panic!("expected a timeout, got {other:?}"),
    }
    let broker = client.metadata().brokers()[0].id;
    let stalled = within("a stalled request", async {
        let conn = client.connection(broker, Purpose::Control).await?;
        conn.send_with(MetadataRequest::all_topics).await
    })
    .await;
    assert!(
        matches!(stalled, Err(ClientError::Timeout { .. })),
        "{stalled:?}"
    );
    proxy.stall(false);
    within("a refresh after the stall", client.refresh_metadata(None))
        .await
        .expect("the client recovers after the stall");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_closed_and_replaced() {
    let (proxy, _tansu) = proxied_tansu().await;
    let config = config(&proxy.bootstrap())
        .connections_max_idle(Some(Duration::from_millis(200)))
        .build()
        .unwrap();
    let client = Client::connect(config).await.unwrap();
    let broker = client.metadata().brokers()[0].id;
    let conn = client.connection(broker, Purpose::Fetch).await.unwrap();
    conn.send_with(MetadataRequest::all_topics).await.unwrap();
    drop(conn);
    let opened = proxy.accepted();
    within("the idle connection to close", async {
        while proxy.open() > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let conn = client.connection(broker, Purpose::Fetch).await.unwrap();
    conn.send_with(MetadataRequest::all_topics).await.unwrap();
    assert_eq!(
        proxy.accepted(),
        opened + 1,
        "a fresh connection replaced it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_tries_each_address_and_reports_the_last_failure() {
    let broker = broker().await;
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let both = gregor_client::config::ClientConfig::builder()
        .bootstrap_servers([dead.clone(), broker.bootstrap()])
        .build()
        .unwrap();
    let client = Client::connect(both)
        .await
        .expect("the second address works");
    assert!(!client.metadata().brokers().is_empty());
    let only_dead = gregor_client::config::ClientConfig::builder()
        .bootstrap_servers([dead])
        .build()
        .unwrap();
    match Client::connect(only_dead).await {
        Err(e) => assert!(e.is_connection_error(), "{e:?}"),
        Ok(_) => panic!("nothing listens there"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_stops_at_final_errors_and_at_the_deadline() {
    let broker = broker().await;
    let client = client(&broker.bootstrap()).await;
    let calls = AtomicUsize::new(0);
    let result: Result<(), _> = client
        .retry(ApiKey::CreateTopics, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(ClientError::Broker {
                api: ApiKey::CreateTopics,
                code: ErrorCode::TopicAlreadyExists,
            })
        })
        .await;
    assert!(matches!(
        result,
        Err(ClientError::Broker {
            code: ErrorCode::TopicAlreadyExists,
            ..
        })
    ));
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "a final error is not retried"
    );

    let calls = AtomicUsize::new(0);
    let value = client
        .retry(ApiKey::ListOffsets, || async {
            if calls.fetch_add(1, Ordering::SeqCst) < 2 {
                Err(ClientError::Broker {
                    api: ApiKey::ListOffsets,
                    code: ErrorCode::NotLeaderOrFollower,
                })
            } else {
                Ok(42)
            }
        })
        .await
        .expect("succeeds on the third attempt");
    assert_eq!((value, calls.load(Ordering::SeqCst)), (42, 3));

    let calls = AtomicUsize::new(0);
    let deadline = tokio::time::Instant::now() + Duration::from_millis(300);
    let result: Result<(), _> = within(
        "a retry with a deadline",
        client.retry_until(ApiKey::Fetch, deadline, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(ClientError::Broker {
                api: ApiKey::Fetch,
                code: ErrorCode::RequestTimedOut,
            })
        }),
    )
    .await;
    assert!(matches!(
        result,
        Err(ClientError::Broker {
            code: ErrorCode::RequestTimedOut,
            ..
        })
    ));
    assert!(
        calls.load(Ordering::SeqCst) > 1,
        "retried until the deadline"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_end_to_end_through_client_connect() {
    let pki = TestPki::generate().unwrap();
    let broker =
        tokio::task::spawn_blocking(move || TlsBroker::start(&pki, TlsBrokerOptions::default()))
            .await
            .unwrap()
            .expect("TLS broker (needs stunnel4)");
    let config = config(&broker.bootstrap())
        .security_protocol(SecurityProtocol::Ssl)
        .tls(TlsConfig::new().with_roots(TrustRoots::ca_file(broker.files().ca_cert())))
        .build()
        .unwrap();
    let client = Client::connect(config).await.expect("connects over TLS");
    let snapshot = client
        .refresh_metadata(None)
        .await
        .expect("Metadata over TLS");
    let brokers = snapshot.brokers();
    assert_eq!(brokers[0].host_port(), broker.bootstrap());
    let conn = client
        .connection(brokers[0].id, Purpose::Control)
        .await
        .expect("a pooled TLS connection");
    conn.send_with(MetadataRequest::all_topics).await.unwrap();

    let untrusted = cluster_support::config(&broker.bootstrap())
        .security_protocol(SecurityProtocol::Ssl)
        .tls(TlsConfig::new().with_roots(TrustRoots::ca_file(broker.files().other_ca_cert())))
        .build()
        .unwrap();
    assert!(matches!(
        Client::connect(untrusted).await,
        Err(ClientError::Tls { .. })
    ));
}

//! Connections against tansu, an independent Kafka-compatible broker (started on loopback by
//! gregor-testkit; install it with `.ci/install-tansu.sh`).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use gregor_client::{ClientError, ConnectOptions, Connection};
use gregor_protocol::Request;
use gregor_protocol::messages::{
    ApiVersionsRequest, FetchRequest, MetadataRequest, MetadataResponse, ProduceRequest,
};
use gregor_testkit::Tansu;
use tokio::sync::Notify;

async fn start_tansu() -> Tansu {
    tokio::task::spawn_blocking(Tansu::start)
        .await
        .unwrap()
        .expect("tansu starts (run .ci/install-tansu.sh first)")
}

async fn connect(broker: &Tansu) -> Connection {
    Connection::connect(&broker.bootstrap(), &ConnectOptions::default())
        .await
        .expect("connects to tansu")
}

fn describe<R: Request>(conn: &Connection) -> String {
    match conn.version_for::<R>() {
        Ok(v) => format!("v{v} (ours {:?})", R::VERSIONS),
        Err(e) => format!("none: {e}"),
    }
}

/// A Metadata request for topics that do not exist, without auto-creation: the answer names
/// them, so it can be matched to its request.
fn probe(topic: &str) -> impl FnOnce(i16) -> MetadataRequest + use<> {
    let topic = topic.to_owned();
    move |_version| MetadataRequest {
        allow_auto_topic_creation: false,
        ..MetadataRequest::for_topics([topic])
    }
}

fn names(response: &MetadataResponse) -> Vec<String> {
    response
        .topics
        .iter()
        .map(|t| t.name.clone().unwrap_or_default())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connects_negotiates_and_reads_metadata() {
    let broker = start_tansu().await;
    let conn = connect(&broker).await;
    println!(
        "tansu versions: Metadata {}, Produce {}, Fetch {}, ApiVersions {}",
        describe::<MetadataRequest>(&conn),
        describe::<ProduceRequest>(&conn),
        describe::<FetchRequest>(&conn),
        describe::<ApiVersionsRequest>(&conn),
    );
    for key in [0, 1, 3] {
        assert!(
            conn.versions().broker_range(key).is_some(),
            "API {key} listed"
        );
    }
    conn.version_for::<MetadataRequest>().unwrap();
    let metadata = conn
        .send_with(MetadataRequest::all_topics)
        .await
        .expect("Metadata answered");
    let port = i32::from(broker.addr().port());
    assert!(
        metadata.brokers.iter().any(|b| b.port == port),
        "the broker lists itself: {:?}",
        metadata.brokers
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelines_hundreds_of_requests_on_one_connection() {
    const N: usize = 400;
    let broker = start_tansu().await;
    let conn = connect(&broker).await;
    let mut tasks = Vec::with_capacity(N);
    for i in 0..N {
        let conn = conn.clone();
        tasks.push(tokio::spawn(async move {
            if i % 2 == 0 {
                let topic = format!("pipelined-{i}");
                let answer = conn.send_with(probe(&topic)).await.expect("Metadata");
                assert_eq!(names(&answer), [topic]);
            } else {
                let answer = conn
                    .send_with(|_| ApiVersionsRequest {
                        client_software_name: "gregor".into(),
                        client_software_version: "0.1.0".into(),
                        ..ApiVersionsRequest::default()
                    })
                    .await
                    .expect("ApiVersions");
                assert_eq!(answer.error_code, 0);
                assert!(answer.api_keys.iter().any(|k| k.api_key == 3));
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert!(!conn.is_closed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_broker_fails_requests_with_a_typed_error_and_a_new_one_works() {
    const LOOPS: usize = 8;
    let broker = start_tansu().await;
    let conn = connect(&broker).await;
    let answered = Arc::new(AtomicUsize::new(0));
    let started = Arc::new(Notify::new());
    // Several loops keep requests in flight until the connection fails.
    let loops: Vec<_> = (0..LOOPS)
        .map(|l| {
            let conn = conn.clone();
            let answered = Arc::clone(&answered);
            let started = Arc::clone(&started);
            tokio::spawn(async move {
                loop {
                    match conn.send_with(probe(&format!("loop-{l}"))).await {
                        Ok(answer) => {
                            assert_eq!(names(&answer), [format!("loop-{l}")]);
                            if answered.fetch_add(1, Ordering::SeqCst) + 1 == LOOPS * 4 {
                                started.notify_one();
                            }
                        }
                        Err(e) => return e,
                    }
                }
            })
        })
        .collect();
    started.notified().await;
    tokio::task::spawn_blocking(move || drop(broker))
        .await
        .unwrap();
    for task in loops {
        let err = task.await.unwrap();
        assert!(
            matches!(err, ClientError::Disconnected | ClientError::Io { .. }),
            "typed connection error: {err:?}"
        );
    }
    assert!(conn.is_closed());
    let err = conn.send_with(probe("after")).await.unwrap_err();
    assert!(err.is_connection_error(), "{err:?}");

    let fresh = start_tansu().await;
    let conn = connect(&fresh).await;
    let answer = conn.send_with(probe("fresh")).await.unwrap();
    assert_eq!(names(&answer), ["fresh"]);
}

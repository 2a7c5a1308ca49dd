//! The connection driver over an in-memory pipe against a scripted fake broker: pipelining,
//! matching by correlation id, cancellation, timeouts and failures.

mod support;

use std::time::Duration;

use gregor_client::{ClientError, ConnectOptions, Connection, PoisonCause};
use gregor_protocol::ApiKey;
use gregor_protocol::messages::{
    ApiVersionsRequest, MetadataRequest, MetadataResponse, ProduceRequest,
};
use support::{
    FakeBroker, connected, metadata_naming, requested_topics, response_frame, topic_names,
};
use tokio::task::JoinHandle;

fn opts() -> ConnectOptions {
    ConnectOptions::default()
}

/// Sends a Metadata request for one topic on a task of its own.
fn ask(conn: &Connection, topic: &str) -> JoinHandle<Result<MetadataResponse, ClientError>> {
    let conn = conn.clone();
    let req = MetadataRequest::for_topics([topic]);
    tokio::spawn(async move { conn.send(req).await })
}

async fn answered(task: JoinHandle<Result<MetadataResponse, ClientError>>) -> Vec<String> {
    topic_names(&task.await.unwrap().expect("answered"))
}

async fn failed(task: JoinHandle<Result<MetadataResponse, ClientError>>) -> ClientError {
    task.await.unwrap().expect_err("request fails")
}

#[tokio::test]
async fn out_of_order_answers_reach_their_callers() {
    let (conn, mut broker) = connected(&opts()).await;
    let tasks: Vec<_> = ["a", "b", "c"].iter().map(|t| ask(&conn, t)).collect();
    let mut received = Vec::new();
    for _ in 0..3 {
        received.push(broker.expect().await);
    }
    for req in received.iter().rev() {
        let topics = requested_topics(req);
        broker
            .respond::<MetadataRequest>(req, &metadata_naming(&topics))
            .await;
    }
    for (task, topic) in tasks.into_iter().zip(["a", "b", "c"]) {
        assert_eq!(answered(task).await, [topic]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_requests_in_flight_on_one_connection() {
    const N: usize = 500;
    let (conn, mut broker) = connected(&opts()).await;
    let tasks: Vec<_> = (0..N).map(|i| ask(&conn, &format!("topic-{i}"))).collect();
    // All N arrive before any is answered: they are all in flight at once.
    let mut received = Vec::with_capacity(N);
    for _ in 0..N {
        received.push(broker.expect().await);
    }
    let mut ids: Vec<i32> = received.iter().map(|r| r.correlation_id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), N, "correlation ids are distinct");
    // Answer in a scrambled order (7 is coprime with 500, so this visits every index once).
    for k in 0..N {
        let req = &received[(k * 7) % N];
        let topics = requested_topics(req);
        broker
            .respond::<MetadataRequest>(req, &metadata_naming(&topics))
            .await;
    }
    for (i, task) in tasks.into_iter().enumerate() {
        assert_eq!(answered(task).await, [format!("topic-{i}")]);
    }
}

#[tokio::test]
async fn a_dropped_request_does_not_desync_the_next() {
    let (conn, mut broker) = connected(&opts()).await;
    // Dropped after it reached the broker: its answer is read and thrown away.
    let first = ask(&conn, "dropped");
    let first_req = broker.expect().await;
    first.abort();
    assert!(first.await.unwrap_err().is_cancelled());
    let second = ask(&conn, "kept");
    let second_req = broker.expect().await;
    for req in [&first_req, &second_req] {
        let topics = requested_topics(req);
        broker
            .respond::<MetadataRequest>(req, &metadata_naming(&topics))
            .await;
    }
    assert_eq!(answered(second).await, ["kept"]);

    // Dropped right after it was queued: it may or may not be written; either way the next
    // request gets its own answer.
    {
        let dropped = conn.send(MetadataRequest::for_topics(["early"]));
        let _ = tokio::time::timeout(Duration::ZERO, dropped).await;
    }
    let third = ask(&conn, "third");
    loop {
        let req = broker.expect().await;
        let topics = requested_topics(&req);
        broker
            .respond::<MetadataRequest>(&req, &metadata_naming(&topics))
            .await;
        if topics == ["third"] {
            break;
        }
        assert_eq!(topics, ["early"]);
    }
    assert_eq!(answered(third).await, ["third"]);
}

#[tokio::test(start_paused = true)]
async fn a_timed_out_request_fails_and_closes_the_connection() {
    let opts = ConnectOptions {
        request_timeout: Duration::from_secs(5),
        ..ConnectOptions::default()
    };
    let (conn, mut broker) = connected(&opts).await;
    let first = ask(&conn, "first");
    broker.expect().await;
    let second = ask(&conn, "second");
    broker.expect().await;
    // The broker never answers; (paused) time runs on to the first deadline.
    assert!(matches!(
        failed(first).await,
        ClientError::Timeout {
            api: ApiKey::Metadata
        }
    ));
    let poisoned = |e: &ClientError| {
        matches!(
            e,
            ClientError::Poisoned(PoisonCause::RequestTimedOut(ApiKey::Metadata))
        )
    };
    let err = failed(second).await;
    assert!(poisoned(&err), "{err:?}");
    let err = conn.send(MetadataRequest::default()).await.unwrap_err();
    assert!(poisoned(&err), "{err:?}");
    assert!(conn.is_closed());
    assert!(broker.recv().await.is_none(), "the socket is closed");
}

#[tokio::test]
async fn a_broker_closing_mid_request_fails_everything_in_flight() {
    let (conn, mut broker) = connected(&opts()).await;
    let tasks: Vec<_> = ["x", "y", "z"].iter().map(|t| ask(&conn, t)).collect();
    for _ in 0..3 {
        broker.expect().await;
    }
    drop(broker);
    for task in tasks {
        assert!(matches!(failed(task).await, ClientError::Disconnected));
    }
    let err = conn.send(MetadataRequest::default()).await.unwrap_err();
    assert!(matches!(err, ClientError::Disconnected), "{err:?}");
    assert!(err.is_connection_error());
    assert!(conn.is_closed());
}

#[tokio::test]
async fn an_answer_to_no_request_poisons_every_request_in_flight() {
    let (conn, mut broker) = connected(&opts()).await;
    let tasks: Vec<_> = ["p", "q"].iter().map(|t| ask(&conn, t)).collect();
    let req = broker.expect().await;
    broker.expect().await;
    let stray =
        response_frame::<MetadataRequest>(987_654, req.version, &MetadataResponse::default());
    broker.send_raw(&stray).await;
    let poisoned = |e: &ClientError| {
        matches!(
            e,
            ClientError::Poisoned(PoisonCause::UnknownCorrelationId(987_654))
        )
    };
    for task in tasks {
        let err = failed(task).await;
        assert!(poisoned(&err), "{err:?}");
    }
    let err = conn.send(MetadataRequest::default()).await.unwrap_err();
    assert!(poisoned(&err), "{err:?}");
}

/// A well-framed answer whose body does not decode: the stream may have been corrupted on the
/// way, so the connection is closed (poisoned), failing its requests as a cut would; the
/// client's retries then go to a new connection.
#[tokio::test]
async fn a_body_that_does_not_decode_poisons_its_connection() {
    let (conn, mut broker) = connected(&opts()).await;
    let bad = ask(&conn, "bad");
    let bad_req = broker.expect().await;
    let waiting = ask(&conn, "waiting");
    let _waiting_req = broker.expect().await;
    let mut frame = response_frame::<MetadataRequest>(
        bad_req.correlation_id,
        bad_req.version,
        &metadata_naming(&["bad".to_owned()]),
    );
    frame.truncate(frame.len() - 3);
    let len = i32::try_from(frame.len() - 4).unwrap();
    frame[..4].copy_from_slice(&len.to_be_bytes());
    broker.send_raw(&frame).await;
    let malformed = |e: &ClientError| {
        matches!(
            e,
            ClientError::Poisoned(PoisonCause::MalformedBody(ApiKey::Metadata, _))
        )
    };
    let err = failed(bad).await;
    assert!(malformed(&err), "{err:?}");
    assert!(err.is_connection_error(), "retried as a connection failure");
    assert!(
        err.to_string().contains("malformed Metadata response"),
        "{err}"
    );
    let err = failed(waiting).await;
    assert!(
        malformed(&err),
        "the other request in flight fails with it: {err:?}"
    );
    assert!(conn.is_closed());
    let err = conn.send(MetadataRequest::default()).await.unwrap_err();
    assert!(malformed(&err), "and every later one: {err:?}");
}

#[tokio::test]
async fn versions_follow_the_brokers_ranges() {
    let (client, server) = tokio::io::duplex(64 * 1024);
    let mut broker = FakeBroker::new(server);
    let ranges = [(ApiKey::ApiVersions, 0, 4), (ApiKey::Metadata, 1, 7)];
    let opts = opts();
    let (conn, _) = tokio::join!(
        Connection::handshake(client, &opts),
        broker.accept_api_versions(&ranges)
    );
    let conn = conn.unwrap();
    assert_eq!(conn.version_for::<MetadataRequest>().unwrap(), 7);
    assert_eq!(conn.version_for::<ApiVersionsRequest>().unwrap(), 4);
    let sent = tokio::spawn({
        let conn = conn.clone();
        async move {
            conn.send_with(|version| {
                assert_eq!(version, 7);
                MetadataRequest::for_topics(["v"])
            })
            .await
        }
    });
    let req = broker.expect().await;
    assert_eq!(req.version, 7);
    broker
        .respond::<MetadataRequest>(&req, &metadata_naming(&requested_topics(&req)))
        .await;
    assert_eq!(topic_names(&sent.await.unwrap().unwrap()), ["v"]);
    // Produce is not listed: refused before anything is written.
    let err = conn.send(ProduceRequest::default()).await.unwrap_err();
    assert!(matches!(
        err,
        ClientError::UnsupportedApi {
            api: ApiKey::Produce,
            broker: None,
            ..
        }
    ));
}

#[tokio::test]
async fn requests_without_response_are_written_but_not_awaited() {
    let (conn, mut broker) = connected(&opts()).await;
    let produce = ProduceRequest {
        acks: 0,
        timeout_ms: 1000,
        ..ProduceRequest::default()
    };
    conn.send_no_response(produce).await.unwrap();
    let req = broker.expect().await;
    let (_, body) = req.decode::<ProduceRequest>();
    assert_eq!(body.acks, 0);
    let next = ask(&conn, "after");
    assert_eq!(broker.echo_metadata().await, ["after"]);
    assert_eq!(answered(next).await, ["after"]);
}

#[tokio::test]
async fn dropping_every_handle_closes_the_socket() {
    let (conn, mut broker) = connected(&opts()).await;
    let clone = conn.clone();
    drop(conn);
    let next = ask(&clone, "still-open");
    assert_eq!(broker.echo_metadata().await, ["still-open"]);
    answered(next).await;
    drop(clone);
    assert!(broker.recv().await.is_none());
}

#[tokio::test]
async fn oversized_answers_poison_the_connection() {
    let opts = ConnectOptions {
        max_response_frame: 1024,
        ..ConnectOptions::default()
    };
    let (conn, mut broker) = connected(&opts).await;
    let task = ask(&conn, "big");
    broker.expect().await;
    broker.send_raw(&2048i32.to_be_bytes()).await;
    let err = failed(task).await;
    assert!(
        matches!(err, ClientError::Poisoned(PoisonCause::Frame(_))),
        "{err:?}"
    );
}

#[tokio::test]
async fn bytes_after_a_complete_response_body_are_ignored() {
    // librdkafka's mock cluster writes bytes after Metadata v9+'s tagged fields; the client
    // reads the body it knows and ignores the rest, as Kafka's Java client does.
    let (conn, mut broker) = connected(&opts()).await;
    let task = ask(&conn, "trailing");
    let req = broker.expect().await;
    let mut frame = response_frame::<MetadataRequest>(
        req.correlation_id,
        req.version,
        &metadata_naming(&requested_topics(&req)),
    );
    frame.extend_from_slice(&[0, 0, 0, 0, 0, 0xff, 0x7f]);
    let size = i32::try_from(frame.len() - 4).unwrap();
    frame[..4].copy_from_slice(&size.to_be_bytes());
    broker.send_raw(&frame).await;
    assert_eq!(answered(task).await, ["trailing"]);
    // The frame was consumed whole: the next answer is read from the right place.
    let next = ask(&conn, "after");
    assert_eq!(broker.echo_metadata().await, ["after"]);
    assert_eq!(answered(next).await, ["after"]);
}

/// Requests racing the end of their connection: each one settles (answered or failed) and
/// none waits forever. A request whose sender got into the channel just as the connection
/// task closed it used to stay there, its reply neither sent nor dropped, and its caller
/// hung for as long as any handle of the connection lived (found as the intermittent
/// `Timeout { api: Metadata }` of `cluster_tansu::retried_requests_carry_on_across_cuts`).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn requests_racing_the_end_of_their_connection_all_settle() {
    for round in 0..300 {
        let (conn, mut broker) = connected(&opts()).await;
        let senders: Vec<_> = (0..8)
            .map(|_| {
                let conn = conn.clone();
                tokio::spawn(async move {
                    loop {
                        if conn.send(MetadataRequest::default()).await.is_err() {
                            return;
                        }
                    }
                })
            })
            .collect();
        // Answer a few, then end the connection under the senders' feet.
        for _ in 0..(round % 7) {
            let Some(req) = broker.recv().await else {
                break;
            };
            broker
                .respond::<MetadataRequest>(&req, &MetadataResponse::default())
                .await;
        }
        drop(broker);
        for sender in senders {
            tokio::time::timeout(Duration::from_secs(5), sender)
                .await
                .unwrap_or_else(|_| panic!("round {round}: a request neither answered nor failed"))
                .unwrap();
        }
    }
}

//! Fetch behaviours of every available broker kind (`GREGOR_TEST_BROKERS`, else all that can
//! start here: our MockCluster, librdkafka's mock cluster, tansu, Apache Kafka), measured with
//! raw requests on gregor's connections: OFFSET_OUT_OF_RANGE past the end, KIP-74's first
//! oversized batch, fetch sessions (KIP-227), and leader-epoch fencing. These fill testkit's
//! conformance table; a broker's known deviation is skipped on that broker only, with the
//! deviation printed.

mod cluster_support;

use cluster_support::{broker_and_client, deviates};
use gregor_client::{Client, Connection, Purpose};
use gregor_protocol::ErrorCode;
use gregor_protocol::messages::fetch::PartitionData;
use gregor_protocol::messages::{FetchRequest, FetchResponse};
use gregor_protocol::primitives::Uuid;
use gregor_testkit::data::{
    create_topic_by_protocol_on, partition_fetch, produce, unique_name, within,
};
use gregor_testkit::{BrokerKind, TestBroker};

/// A started broker of each kind to measure, with a client and a topic of one partition
/// holding three batches of two records (offsets 0..6).
struct Subject {
    broker: TestBroker,
    client: Client,
    topic: String,
    conn: Connection,
    leader_epoch: i32,
}

async fn subjects() -> Vec<Subject> {
    let mut out = Vec::new();
    for kind in BrokerKind::from_env() {
        let (broker, client) = broker_and_client(kind).await;
        let topic = unique_name("fetched");
        create_topic_by_protocol_on(&broker, &client, &topic, 1).await;
        for _ in 0..3 {
            produce(&client, &topic, 0, &["a-value-of-some-length", "b"], 2).await;
        }
        let (leader, leader_epoch) = client.leader(&topic, 0).await.expect("leader");
        let conn = client
            .connection(leader, Purpose::Fetch)
            .await
            .expect("fetch connection");
        out.push(Subject {
            broker,
            client,
            topic,
            conn,
            leader_epoch,
        });
    }
    out
}

/// How to fetch partition 0.
#[derive(Clone, Copy)]
struct Ask {
    offset: i64,
    max_wait_ms: i32,
    max_bytes: i32,
    leader_epoch: i32,
    session_id: i32,
    session_epoch: i32,
    with_partition: bool,
}

impl Ask {
    fn at(offset: i64) -> Ask {
        Ask {
            offset,
            // tansu 0.6.0 answers max_wait_ms 0 with no partitions at all, even with data
            // there (measured by a_fetch_that_does_not_wait_answers_its_partitions).
            max_wait_ms: 500,
            max_bytes: 1 << 20,
            leader_epoch: -1,
            session_id: 0,
            session_epoch: -1,
            with_partition: true,
        }
    }
}

async fn fetch(s: &Subject, ask: Ask) -> FetchResponse {
    let topic_id = s
        .client
        .metadata()
        .topic(&s.topic)
        .map(|t| t.id)
        .unwrap_or_default();
    let request = |version: i16| {
        let mut r = partition_fetch(
            &s.topic,
            topic_id,
            0,
            ask.offset,
            ask.max_bytes,
            ask.max_wait_ms,
            version,
        );
        r.session_id = ask.session_id;
        r.session_epoch = ask.session_epoch;
        r.topics[0].partitions[0].current_leader_epoch = ask.leader_epoch;
        if !ask.with_partition {
            r.topics.clear();
        }
        r
    };
    // Without a topic id (tansu's Metadata has none) the newest version naming topics (12).
    let mut version = s.conn.version_for::<FetchRequest>().expect("Fetch");
    if topic_id == Uuid::ZERO {
        version = version.min(12);
    }
    within("Fetch", s.conn.send_versioned(&request(version), version))
        .await
        .expect("Fetch answered")
}

fn partition(response: &FetchResponse) -> &PartitionData {
    response
        .responses
        .first()
        .and_then(|t| t.partitions.first())
        .unwrap_or_else(|| panic!("no partition in {response:?}"))
}

fn code(p: &PartitionData) -> ErrorCode {
    ErrorCode::from_code(p.error_code)
}

/// The length of the first record batch in `records`, if it is complete.
fn first_batch(records: &[u8]) -> Option<usize> {
    let length = i32::from_be_bytes(records.get(8..12)?.try_into().ok()?);
    let whole = 12 + usize::try_from(length).ok()?;
    (records.len() >= whole).then_some(whole)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetching_past_the_end_is_offset_out_of_range() {
    for s in subjects().await {
        let kind = s.broker.kind();
        let at_end = fetch(&s, Ask::at(6)).await;
        let p = partition(&at_end);
        assert_eq!(code(p), ErrorCode::None, "{kind}: fetching at the end");
        assert_eq!(p.high_watermark, 6, "{kind}");
        if deviates(
            &s.broker,
            BrokerKind::Tansu,
            "tansu 0.6.0 deviates: a fetch past the high watermark gets no error (Kafka: OFFSET_OUT_OF_RANGE)",
        ) {
            continue;
        }
        let past = fetch(&s, Ask::at(16)).await;
        assert_eq!(
            code(partition(&past)),
            ErrorCode::OffsetOutOfRange,
            "{kind}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetch_that_does_not_wait_answers_its_partitions() {
    for s in subjects().await {
        let kind = s.broker.kind();
        let at_once = Ask {
            max_wait_ms: 0,
            ..Ask::at(0)
        };
        let response = fetch(&s, at_once).await;
        let answered = response.responses.iter().any(|t| !t.partitions.is_empty());
        if !answered
            && deviates(
                &s.broker,
                BrokerKind::Tansu,
                "tansu 0.6.0 deviates: a Fetch with max_wait_ms 0 is answered with no partitions (Kafka: the partitions asked for, with their data)",
            )
        {
            continue;
        }
        let p = partition(&response);
        assert_eq!(code(p), ErrorCode::None, "{kind}");
        assert_eq!(p.high_watermark, 6, "{kind}");
        assert!(
            first_batch(p.records.as_deref().unwrap_or_default()).is_some(),
            "{kind}: the data there comes at once"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_batch_comes_whole_even_above_max_bytes() {
    for s in subjects().await {
        let kind = s.broker.kind();
        let small = Ask {
            max_bytes: 10,
            ..Ask::at(0)
        };
        let response = fetch(&s, small).await;
        let p = partition(&response);
        assert_eq!(code(p), ErrorCode::None, "{kind}");
        let records = p.records.as_deref().unwrap_or_default();
        let first = first_batch(records);
        assert!(
            first.is_some_and(|len| len > 10),
            "{kind}: KIP-74 returns the first batch whole ({} bytes came)",
            records.len()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_sessions_serve_incremental_fetches() {
    for s in subjects().await {
        let kind = s.broker.kind();
        if s.conn.version_for::<FetchRequest>().unwrap() < 7 {
            eprintln!("{kind}: Fetch below v7 has no sessions");
            continue;
        }
        let full = fetch(
            &s,
            Ask {
                session_epoch: 0,
                ..Ask::at(0)
            },
        )
        .await;
        assert_eq!(ErrorCode::from_code(full.error_code), ErrorCode::None);
        // A broker may serve sessionless fetches only (Kafka does when its session cache is
        // full): session id 0. Ours must create one.
        if kind != BrokerKind::Mock && full.session_id == 0 {
            eprintln!("not supported on {kind}: no fetch session created (session id 0)");
            continue;
        }
        assert_ne!(full.session_id, 0, "{kind}: a session was created");
        // Nothing changed since the full fetch's position: the incremental answer is empty.
        let incremental = fetch(
            &s,
            Ask {
                session_id: full.session_id,
                session_epoch: 1,
                with_partition: false,
                ..Ask::at(0)
            },
        )
        .await;
        assert_eq!(
            ErrorCode::from_code(incremental.error_code),
            ErrorCode::None,
            "{kind}"
        );
        assert_eq!(incremental.session_id, full.session_id, "{kind}");
        let wrong_epoch = fetch(
            &s,
            Ask {
                session_id: full.session_id,
                session_epoch: 7,
                with_partition: false,
                ..Ask::at(0)
            },
        )
        .await;
        assert_eq!(
            ErrorCode::from_code(wrong_epoch.error_code),
            ErrorCode::InvalidFetchSessionEpoch,
            "{kind}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_epochs_fence_fetches() {
    for mut s in subjects().await {
        // On our mock, move past epoch 0 so that an older epoch exists.
        if let Some(mock) = s.broker.mock() {
            s.leader_epoch = mock.bump_leader_epoch(&s.topic, 0).await.unwrap();
        }
        let kind = s.broker.kind();
        if s.leader_epoch < 0 {
            eprintln!("{kind}: Metadata reports no leader epoch");
            continue;
        }
        let current = fetch(
            &s,
            Ask {
                leader_epoch: s.leader_epoch,
                ..Ask::at(0)
            },
        )
        .await;
        assert_eq!(code(partition(&current)), ErrorCode::None, "{kind}");
        if deviates(
            &s.broker,
            BrokerKind::Tansu,
            "tansu 0.6.0 deviates: it ignores the fetch's current leader epoch",
        ) {
            continue;
        }
        let newer = fetch(
            &s,
            Ask {
                leader_epoch: s.leader_epoch + 1,
                ..Ask::at(0)
            },
        )
        .await;
        assert_eq!(
            code(partition(&newer)),
            ErrorCode::UnknownLeaderEpoch,
            "{kind}"
        );
        if s.leader_epoch == 0 {
            eprintln!("{kind}: leader epoch 0, FENCED_LEADER_EPOCH not measured");
        } else {
            let older = fetch(
                &s,
                Ask {
                    leader_epoch: s.leader_epoch - 1,
                    ..Ask::at(0)
                },
            )
            .await;
            assert_eq!(
                code(partition(&older)),
                ErrorCode::FencedLeaderEpoch,
                "{kind}"
            );
        }
    }
}

//! Fetch sessions (KIP-227) against the mock cluster.

mod mock_support;

use gregor_protocol::ErrorCode;
use gregor_protocol::messages::FetchRequest;
use gregor_protocol::messages::fetch::{FetchTopic, ForgottenTopic};
use gregor_testkit::mock::{MockCluster, MockRecord};
use mock_support::*;

async fn one_broker() -> MockCluster {
    MockCluster::builder().topic("t", 3).start().await.unwrap()
}

fn session_fetch(id: i32, epoch: i32, parts: Vec<(i32, i64)>) -> FetchRequest {
    let mut req = fetch_request(
        "t",
        parts
            .into_iter()
            .map(|(p, o)| fetch_partition(p, o, 1 << 20))
            .collect(),
        0,
        1,
    );
    req.session_id = id;
    req.session_epoch = epoch;
    if req.topics[0].partitions.is_empty() {
        req.topics.clear();
    }
    req
}

fn partitions_in(resp: &gregor_protocol::messages::FetchResponse) -> Vec<i32> {
    resp.responses
        .iter()
        .flat_map(|t| t.partitions.iter().map(|p| p.partition_index))
        .collect()
}

#[tokio::test]
async fn full_then_incremental_fetches() {
    let c = one_broker().await;
    let mut client = RawClient::to_broker(&c, 1).await;
    let resp = client
        .call(&session_fetch(0, 0, vec![(0, 0), (1, 0)]), 12)
        .await;
    assert_eq!(resp.error_code, 0);
    let id = resp.session_id;
    assert!(id > 0, "a full fetch with epoch 0 opens a session");
    assert_eq!(partitions_in(&resp), vec![0, 1]);

    // Nothing changed: the incremental response is empty.
    let resp = client.call(&session_fetch(id, 1, vec![]), 12).await;
    assert_eq!((resp.error_code, resp.session_id), (0, id));
    assert!(partitions_in(&resp).is_empty());

    // New data in partition 1 only: only it is sent.
    c.produce("t", 1, &[MockRecord::kv("k", "v")])
        .await
        .unwrap();
    let resp = client.call(&session_fetch(id, 2, vec![]), 12).await;
    assert_eq!(partitions_in(&resp), vec![1]);
    assert_eq!(records_of(&resp.responses[0].partitions[0]).len(), 1);

    // The client moves partition 1's offset and adds partition 2; the session keeps partition 0.
    let resp = client
        .call(&session_fetch(id, 3, vec![(1, 1), (2, 0)]), 12)
        .await;
    assert_eq!(
        partitions_in(&resp),
        vec![2],
        "new partition sent; partition 1 unchanged"
    );
    c.produce("t", 0, &[MockRecord::kv("k", "v")])
        .await
        .unwrap();
    let resp = client.call(&session_fetch(id, 4, vec![]), 12).await;
    assert_eq!(
        partitions_in(&resp),
        vec![0],
        "partition 0 is still in the session"
    );

    // Forget partition 0: its new data is no longer sent.
    c.produce("t", 0, &[MockRecord::kv("k", "v")])
        .await
        .unwrap();
    let mut req = session_fetch(id, 5, vec![]);
    req.forgotten_topics_data = vec![ForgottenTopic {
        topic: "t".into(),
        partitions: vec![0],
        ..Default::default()
    }];
    let resp = client.call(&req, 12).await;
    assert!(partitions_in(&resp).is_empty());
}

#[tokio::test]
async fn session_errors() {
    let c = one_broker().await;
    let mut client = RawClient::to_broker(&c, 1).await;
    let id = client
        .call(&session_fetch(0, 0, vec![(0, 0)]), 12)
        .await
        .session_id;
    let resp = client.call(&session_fetch(id, 1, vec![]), 12).await;
    assert_eq!(resp.error_code, 0);
    let resp = client.call(&session_fetch(id, 1, vec![]), 12).await;
    assert_eq!(
        resp.error_code,
        ErrorCode::InvalidFetchSessionEpoch.code(),
        "a replayed epoch"
    );
    assert_eq!(resp.session_id, 0);
    assert!(resp.responses.is_empty());
    let resp = client.call(&session_fetch(id + 1000, 1, vec![]), 12).await;
    assert_eq!(resp.error_code, ErrorCode::FetchSessionIdNotFound.code());

    // Epoch -1 closes the session and fetches without one.
    let resp = client.call(&session_fetch(id, -1, vec![(0, 0)]), 12).await;
    assert_eq!((resp.error_code, resp.session_id), (0, 0));
    let resp = client.call(&session_fetch(id, 2, vec![]), 12).await;
    assert_eq!(resp.error_code, ErrorCode::FetchSessionIdNotFound.code());

    // A session opened with names cannot continue with topic ids (v13+).
    let id = client
        .call(&session_fetch(0, 0, vec![(0, 0)]), 12)
        .await
        .session_id;
    let mut req = session_fetch(id, 1, vec![]);
    req.topics = Vec::<FetchTopic>::new();
    let resp = client.call(&req, 13).await;
    assert_eq!(resp.error_code, ErrorCode::FetchSessionTopicIdError.code());
}

#[tokio::test]
async fn the_session_cache_is_bounded() {
    let c = MockCluster::builder()
        .topic("t", 3)
        .fetch_session_slots(1)
        .start()
        .await
        .unwrap();
    let mut a = RawClient::to_broker(&c, 1).await;
    let mut b = RawClient::to_broker(&c, 1).await;
    let first = a
        .call(&session_fetch(0, 0, vec![(0, 0)]), 12)
        .await
        .session_id;
    assert!(first > 0);
    let resp = b.call(&session_fetch(0, 0, vec![(1, 0)]), 12).await;
    assert_eq!(
        (resp.error_code, resp.session_id),
        (0, 0),
        "no room: served without a session"
    );
    assert_eq!(partitions_in(&resp), vec![1]);
}

#[tokio::test]
async fn sessions_by_topic_id() {
    let c = one_broker().await;
    let mut client = RawClient::to_broker(&c, 1).await;
    let id = metadata(&mut client, &["t"])
        .await
        .topic("t")
        .unwrap()
        .topic_id;
    let mut req = session_fetch(0, 0, vec![(0, 0), (1, 0)]);
    req.topics[0].topic.clear();
    req.topics[0].topic_id = id;
    let resp = client.call(&req, 13).await;
    let session = resp.session_id;
    assert!(session > 0);
    assert_eq!(resp.responses[0].topic_id, id);
    c.produce("t", 1, &[MockRecord::kv("k", "v")])
        .await
        .unwrap();
    let mut req = session_fetch(session, 1, vec![]);
    req.forgotten_topics_data = vec![ForgottenTopic {
        topic_id: id,
        partitions: vec![0],
        ..Default::default()
    }];
    let resp = client.call(&req, 13).await;
    assert_eq!(partitions_in(&resp), vec![1]);
    assert_eq!(resp.responses[0].topic_id, id);
}

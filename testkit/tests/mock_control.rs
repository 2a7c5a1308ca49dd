//! The control API, observed by a raw client.

mod mock_support;

use std::time::Duration;

use gregor_protocol::messages::{FetchRequest, MetadataRequest};
use gregor_protocol::{ApiKey, ErrorCode};
use gregor_testkit::mock::{Action, Intercept, MockCluster, MockRecord};
use mock_support::*;

#[tokio::test]
async fn a_moved_leader_refuses_produce_its_follower_serves_new_fetches_and_metadata_shows_the_bumped_epoch()
 {
    let c = MockCluster::builder()
        .brokers(3)
        .topic("t", 1)
        .start()
        .await
        .unwrap();
    let old = c.partition_info("t", 0).await.unwrap().leader;
    let new = non_leader(&c, "t", 0).await;
    let mut client = RawClient::to_broker(&c, old).await;
    assert_eq!(c.move_leader("t", 0, new).await.unwrap(), 1);

    let resp = client
        .call(&produce_request("t", 0, batch(&[("a", "1")], 0), -1), 10)
        .await;
    let p = &resp.responses[0].partition_responses[0];
    assert_eq!(p.error_code, ErrorCode::NotLeaderOrFollower.code());
    assert_eq!(
        (p.current_leader.leader_id, p.current_leader.leader_epoch),
        (new, 1)
    );
    // The old leader is a follower now: as in Kafka, it serves a consumer's Fetch v11+
    // (KIP-392 client metadata) and refuses older versions.
    let resp = client
        .call(
            &fetch_request("t", vec![fetch_partition(0, 0, 1024)], 0, 1),
            10,
        )
        .await;
    assert_eq!(
        resp.responses[0].partitions[0].error_code,
        ErrorCode::NotLeaderOrFollower.code()
    );
    let resp = client
        .call(
            &fetch_request("t", vec![fetch_partition(0, 0, 1024)], 0, 1),
            12,
        )
        .await;
    assert_eq!(resp.responses[0].partitions[0].error_code, 0);

    let md = metadata(&mut client, &["t"]).await;
    let part = md.topic("t").unwrap().partition(0).unwrap();
    assert_eq!((part.leader_id, part.leader_epoch), (new, 1));
    let mut leader = RawClient::to_broker(&c, new).await;
    let resp = leader
        .call(&produce_request("t", 0, batch(&[("a", "1")], 0), -1), 10)
        .await;
    assert_eq!(resp.responses[0].partition_responses[0].error_code, 0);
}

#[tokio::test]
async fn broker_down_refuses_connections_until_it_is_up_again() {
    let c = MockCluster::builder()
        .brokers(2)
        .topic("t", 2)
        .start()
        .await
        .unwrap();
    let addr = c.broker_addr(2).unwrap();
    let mut connected = RawClient::to_broker(&c, 2).await;
    c.broker_down(2).await.unwrap();
    assert!(connected.closed().await, "its connections are dropped");
    let refused = RawClient::connect(addr).await;
    assert_eq!(
        refused.err().map(|e| e.kind()),
        Some(std::io::ErrorKind::ConnectionRefused)
    );

    let mut other = RawClient::to_broker(&c, 1).await;
    let md = metadata(&mut other, &["t"]).await;
    assert_eq!(
        md.brokers.iter().map(|b| b.node_id).collect::<Vec<_>>(),
        vec![1]
    );
    let offline = md
        .topic("t")
        .unwrap()
        .partitions
        .iter()
        .find(|p| p.leader_id == -1);
    let offline = offline.expect("a partition led by broker 2");
    assert_eq!(offline.error_code, ErrorCode::LeaderNotAvailable.code());

    c.broker_up(2).await.unwrap();
    let mut back = RawClient::connect(addr).await.expect("same port again");
    let md = metadata(&mut back, &["t"]).await;
    assert_eq!(md.brokers.len(), 2);
    assert!(
        md.topic("t")
            .unwrap()
            .partitions
            .iter()
            .all(|p| p.error_code == 0)
    );
}

#[tokio::test]
async fn compaction_leaves_offset_gaps() {
    let c = MockCluster::builder().topic("t", 1).start().await.unwrap();
    let kv = MockRecord::kv;
    c.produce("t", 0, &[kv("a", "1"), kv("b", "1")])
        .await
        .unwrap();
    c.produce("t", 0, &[kv("a", "2"), kv("c", "1")])
        .await
        .unwrap();
    c.produce("t", 0, &[kv("b", "2")]).await.unwrap();
    assert_eq!(c.compact("t", 0).await.unwrap(), 2);
    let mut client = RawClient::to_broker(&c, 1).await;
    let resp = client
        .call(
            &fetch_request("t", vec![fetch_partition(0, 0, 1 << 20)], 0, 1),
            12,
        )
        .await;
    let got = records_of(&resp.responses[0].partitions[0]);
    let offsets: Vec<i64> = got.iter().map(|r| r.0).collect();
    assert_eq!(offsets, vec![2, 3, 4]);
    assert_eq!(got[0], (2, "a".into(), "2".into()));
    assert_eq!(resp.responses[0].partitions[0].high_watermark, 5);
}

#[tokio::test]
async fn truncation_shows_a_diverging_epoch() {
    let c = MockCluster::builder().topic("t", 1).start().await.unwrap();
    for i in 0..3 {
        c.produce(
            "t",
            0,
            &[
                MockRecord::kv("k", &i.to_string()),
                MockRecord::kv("k", "x"),
            ],
        )
        .await
        .unwrap();
    }
    // The consumer read up to offset 6 in epoch 0; the log is cut back to 4, a new epoch writes.
    let t = c.truncate("t", 0, 4).await.unwrap();
    assert_eq!((t.end_offset, t.leader_epoch), (4, 1));
    assert_eq!(
        c.produce("t", 0, &[MockRecord::kv("n", "1")])
            .await
            .unwrap(),
        4..5
    );
    let mut client = RawClient::to_broker(&c, 1).await;
    let mut part = fetch_partition(0, 6, 1 << 20);
    part.last_fetched_epoch = 0;
    part.current_leader_epoch = 1;
    let resp = client.call(&fetch_request("t", vec![part], 0, 1), 12).await;
    let data = &resp.responses[0].partitions[0];
    assert_eq!(data.error_code, 0);
    assert_eq!(
        (data.diverging_epoch.epoch, data.diverging_epoch.end_offset),
        (0, 4)
    );
    assert!(records_of(data).is_empty());
    // From the divergence point the new epoch's record is served.
    let mut part = fetch_partition(0, 4, 1 << 20);
    part.last_fetched_epoch = 0;
    let resp = client.call(&fetch_request("t", vec![part], 0, 1), 12).await;
    let data = &resp.responses[0].partitions[0];
    assert_eq!(data.diverging_epoch.epoch, -1);
    assert_eq!(records_of(data), vec![(4, "n".into(), "1".into())]);
    // An epoch the log never had is out of range.
    let mut part = fetch_partition(0, 4, 1 << 20);
    part.last_fetched_epoch = 9;
    let resp = client.call(&fetch_request("t", vec![part], 0, 1), 12).await;
    let code = resp.responses[0].partitions[0].error_code;
    assert_eq!(code, ErrorCode::OffsetOutOfRange.code());
}

#[tokio::test]
async fn interceptions_error_observe_delay_and_drop() {
    let c = MockCluster::builder().topic("t", 1).start().await.unwrap();
    let mut client = RawClient::to_broker(&c, 1).await;
    let (rule, mut seen) = Intercept::observe();
    let observer = c.intercept(ApiKey::Fetch, rule).await;
    c.intercept(
        ApiKey::Fetch,
        Intercept::once(Action::Error(ErrorCode::NotLeaderOrFollower)),
    )
    .await;
    let req = fetch_request("t", vec![fetch_partition(0, 0, 1024)], 0, 1);
    let resp = client.call(&req, 12).await;
    assert_eq!(
        resp.responses[0].partitions[0].error_code,
        ErrorCode::NotLeaderOrFollower.code()
    );
    let resp = client.call(&req, 12).await;
    assert_eq!(
        resp.responses[0].partitions[0].error_code, 0,
        "once: gone after one use"
    );
    assert_eq!(c.intercept_hits(observer).await, 2);
    assert_eq!(c.request_count(ApiKey::Fetch).await, 2);
    let first = seen.next().await.unwrap();
    assert_eq!(
        (first.api_key, first.api_version, first.broker),
        (ApiKey::Fetch, 12, 1)
    );
    assert_eq!(first.client_id.as_deref(), Some("mock-test"));
    assert!(c.remove_intercept(observer).await);

    c.intercept(ApiKey::Metadata, Intercept::once(Action::DropConnection))
        .await;
    client.send(&MetadataRequest::all_topics(12), 12).await;
    assert!(client.closed().await);

    let mut client = RawClient::to_broker(&c, 1).await;
    let delay = Duration::from_millis(300);
    c.intercept(
        ApiKey::Metadata,
        Intercept::once(Action::Delay(delay)).on_broker(1),
    )
    .await;
    let start = std::time::Instant::now();
    metadata(&mut client, &[]).await;
    assert!(start.elapsed() >= delay);
}

#[tokio::test]
async fn responses_keep_request_order_behind_a_long_poll() {
    let c = MockCluster::builder().topic("t", 1).start().await.unwrap();
    let mut client = RawClient::to_broker(&c, 1).await;
    let fetch = client
        .send(
            &fetch_request("t", vec![fetch_partition(0, 0, 1024)], 200, 1),
            12,
        )
        .await;
    let md = client.send(&MetadataRequest::all_topics(12), 12).await;
    let resp = client.recv::<FetchRequest>(fetch, 12).await;
    assert!(records_of(&resp.responses[0].partitions[0]).is_empty());
    let md = client.recv::<MetadataRequest>(md, 12).await;
    assert_eq!(md.topics.len(), 1);
}

#[tokio::test]
async fn direct_produce_returns_offsets_and_delete_records_moves_the_start() {
    let c = MockCluster::builder().topic("t", 1).start().await.unwrap();
    let recs = [
        MockRecord::kv("a", "1"),
        MockRecord::value("2").header("h", Some(b"v")),
    ];
    assert_eq!(c.produce("t", 0, &recs).await.unwrap(), 0..2);
    assert_eq!(c.produce("t", 0, &recs).await.unwrap(), 2..4);
    assert_eq!(c.delete_records("t", 0, 3).await.unwrap(), 3);
    let info = c.partition_info("t", 0).await.unwrap();
    assert_eq!((info.log_start_offset, info.high_watermark), (3, 4));
    assert!(c.produce("nope", 0, &recs).await.is_err());
    c.shutdown().await;
}

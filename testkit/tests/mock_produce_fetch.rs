//! Produce and Fetch against the mock cluster, through a raw client.

mod mock_support;

use std::time::Duration;

use bytes::BytesMut;
use gregor_protocol::ErrorCode;
use gregor_protocol::messages::fetch::READ_COMMITTED;
use gregor_protocol::messages::{
    FetchRequest, InitProducerIdRequest, MetadataRequest, ProduceRequest,
};
use gregor_protocol::records::{BatchSpec, RecordBatchHeader};
use gregor_testkit::mock::{MockCluster, MockRecord};
use mock_support::*;

async fn cluster() -> MockCluster {
    MockCluster::builder()
        .brokers(3)
        .topic("t", 2)
        .start()
        .await
        .unwrap()
}

#[tokio::test]
async fn produce_then_fetch_returns_the_producers_bytes() {
    let c = cluster().await;
    let mut client = leader_client(&c, "t", 0).await;
    client
        .call(&produce_request("t", 0, batch(&[("a", "1")], 100), -1), 9)
        .await;
    let sent = batch(&[("b", "2"), ("c", "3")], 200);
    let resp = client
        .call(&produce_request("t", 0, sent.clone(), 1), 9)
        .await;
    let p = &resp.responses[0].partition_responses[0];
    assert_eq!((p.error_code, p.base_offset, p.log_start_offset), (0, 1, 0));

    let resp = client
        .call(
            &fetch_request("t", vec![fetch_partition(0, 1, 1 << 20)], 0, 1),
            12,
        )
        .await;
    let data = &resp.topic("t").unwrap().partitions[0];
    assert_eq!(
        (
            data.error_code,
            data.high_watermark,
            data.last_stable_offset
        ),
        (0, 3, 3)
    );
    assert_eq!(data.log_start_offset, 0);
    assert!(
        data.aborted_transactions.is_none(),
        "read_uncommitted: null list"
    );
    let got = data.records.clone().unwrap();
    assert_eq!(got.len(), sent.len());
    assert_eq!(&got[8..12], &sent[8..12], "batch length as sent");
    assert_eq!(
        &got[16..],
        &sent[16..],
        "magic, CRC, attributes and records untouched"
    );
    let h = RecordBatchHeader::parse(&got).unwrap();
    assert_eq!((h.base_offset, h.partition_leader_epoch), (1, 0));
    assert_eq!(
        records_of(data),
        vec![(1, "b".into(), "2".into()), (2, "c".into(), "3".into())]
    );
}

#[tokio::test]
async fn produce_errors_follow_kafka() {
    let c = cluster().await;
    let other = non_leader(&c, "t", 0).await;
    let mut wrong = RawClient::to_broker(&c, other).await;
    let resp = wrong
        .call(&produce_request("t", 0, batch(&[("a", "1")], 0), -1), 10)
        .await;
    let p = &resp.responses[0].partition_responses[0];
    assert_eq!(p.error_code, ErrorCode::NotLeaderOrFollower.code());
    let info = c.partition_info("t", 0).await.unwrap();
    assert_eq!(p.current_leader.leader_id, info.leader, "KIP-951 hint");
    assert_eq!(resp.node_endpoints[0].node_id, info.leader);

    let mut client = leader_client(&c, "t", 0).await;
    let mut corrupt = BytesMut::from(&batch(&[("a", "1")], 0)[..]);
    let last = corrupt.len() - 1;
    corrupt[last] ^= 1;
    let resp = client
        .call(&produce_request("t", 0, corrupt.freeze(), -1), 9)
        .await;
    let p = &resp.responses[0].partition_responses[0];
    assert_eq!(p.error_code, ErrorCode::CorruptMessage.code());
    assert!(p.error_message.is_some());

    let resp = client
        .call(&produce_request("t", 0, batch(&[("a", "1")], 0), 2), 9)
        .await;
    let code = resp.responses[0].partition_responses[0].error_code;
    assert_eq!(code, ErrorCode::InvalidRequiredAcks.code());
    let resp = client
        .call(&produce_request("nope", 0, batch(&[("a", "1")], 0), 1), 9)
        .await;
    let code = resp.responses[0].partition_responses[0].error_code;
    assert_eq!(code, ErrorCode::UnknownTopicOrPartition.code());
    assert_eq!(c.partition_info("t", 0).await.unwrap().high_watermark, 0);
}

#[tokio::test]
async fn acks_zero_gets_no_response_and_failures_close_the_connection() {
    let c = cluster().await;
    let mut client = leader_client(&c, "t", 0).await;
    client
        .send(&produce_request("t", 0, batch(&[("a", "1")], 0), 0), 9)
        .await;
    // The next response on the connection is the metadata's: nothing came for the produce.
    let id = client.send(&MetadataRequest::all_topics(12), 12).await;
    let md = client.recv::<MetadataRequest>(id, 12).await;
    assert_eq!(md.topics.len(), 1);
    assert_eq!(c.partition_info("t", 0).await.unwrap().high_watermark, 1);

    let other = non_leader(&c, "t", 0).await;
    let mut wrong = RawClient::to_broker(&c, other).await;
    wrong
        .send(&produce_request("t", 0, batch(&[("a", "1")], 0), 0), 9)
        .await;
    assert!(wrong.closed().await, "acks=0 failure closes the connection");
}

#[tokio::test]
async fn idempotent_producer_duplicates_and_gaps() {
    let c = cluster().await;
    let mut client = leader_client(&c, "t", 1).await;
    let init = client.call(&InitProducerIdRequest::default(), 4).await;
    assert_eq!(init.error_code, 0);
    let spec = |seq| BatchSpec {
        producer_id: init.producer_id,
        producer_epoch: init.producer_epoch,
        base_sequence: seq,
        ..BatchSpec::default()
    };
    let first = produce_request(
        "t",
        1,
        batch_with(spec(0), &[("a", "1"), ("b", "2")], 0),
        -1,
    );
    let r1 = client.call(&first, 9).await;
    let r2 = client.call(&first, 9).await;
    let (p1, p2) = (
        &r1.responses[0].partition_responses[0],
        &r2.responses[0].partition_responses[0],
    );
    assert_eq!((p1.error_code, p1.base_offset), (0, 0));
    assert_eq!(
        (p2.error_code, p2.base_offset),
        (0, 0),
        "a duplicate answers the original offset"
    );
    assert_eq!(c.partition_info("t", 1).await.unwrap().high_watermark, 2);

    let gap = produce_request("t", 1, batch_with(spec(5), &[("c", "3")], 0), -1);
    let r = client.call(&gap, 9).await;
    let code = r.responses[0].partition_responses[0].error_code;
    assert_eq!(code, ErrorCode::OutOfOrderSequenceNumber.code());
    let next = produce_request("t", 1, batch_with(spec(2), &[("c", "3")], 0), -1);
    let r = client.call(&next, 9).await;
    assert_eq!(r.responses[0].partition_responses[0].base_offset, 2);
}

#[tokio::test(start_paused = true)]
async fn long_poll_waits_and_wakes_on_produce() {
    let c = cluster().await;
    let mut client = leader_client(&c, "t", 0).await;
    // Nothing to read: the fetch waits its full max_wait_ms, then answers empty.
    let start = tokio::time::Instant::now();
    let resp = client
        .call(
            &fetch_request("t", vec![fetch_partition(0, 0, 1 << 20)], 5000, 1),
            12,
        )
        .await;
    assert!(start.elapsed() >= Duration::from_millis(5000));
    assert!(records_of(&resp.responses[0].partitions[0]).is_empty());

    let start = tokio::time::Instant::now();
    let id = client
        .send(
            &fetch_request("t", vec![fetch_partition(0, 0, 1 << 20)], 60_000, 1),
            12,
        )
        .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    c.produce("t", 0, &[MockRecord::kv("k", "v")])
        .await
        .unwrap();
    let resp = client.recv::<FetchRequest>(id, 12).await;
    assert!(
        start.elapsed() < Duration::from_secs(60),
        "woken by the produce"
    );
    assert_eq!(records_of(&resp.responses[0].partitions[0]).len(), 1);
}

#[tokio::test(start_paused = true)]
async fn min_bytes_is_honoured() {
    let c = cluster().await;
    let mut client = leader_client(&c, "t", 0).await;
    c.produce("t", 0, &[MockRecord::kv("k", "v")])
        .await
        .unwrap();
    // One small batch is below min_bytes: the fetch waits for more until its deadline.
    let id = client
        .send(
            &fetch_request("t", vec![fetch_partition(0, 0, 1 << 20)], 10_000, 100_000),
            12,
        )
        .await;
    let start = tokio::time::Instant::now();
    let resp = client.recv::<FetchRequest>(id, 12).await;
    assert!(start.elapsed() >= Duration::from_millis(9_000));
    assert_eq!(records_of(&resp.responses[0].partitions[0]).len(), 1);
}

#[tokio::test]
async fn kip_74_first_batch_comes_even_if_too_large() {
    let c = MockCluster::builder().topic("t", 2).start().await.unwrap();
    let big = "x".repeat(5000);
    for p in 0..2 {
        c.produce("t", p, &[MockRecord::kv("k", &big)])
            .await
            .unwrap();
        c.produce("t", p, &[MockRecord::kv("k", "small")])
            .await
            .unwrap();
    }
    let mut client = RawClient::to_broker(&c, 1).await;
    let mut req = fetch_request(
        "t",
        vec![fetch_partition(0, 0, 100), fetch_partition(1, 0, 100)],
        0,
        1,
    );
    req.max_bytes = 100;
    let resp = client.call(&req, 12).await;
    let t = resp.topic("t").unwrap();
    let first = t.partition(0).unwrap();
    assert_eq!(
        records_of(first).len(),
        1,
        "the first batch comes whole, though too large"
    );
    let first_size = first.records.as_ref().unwrap().len();
    assert!(first_size > 5000);
    assert!(
        records_of(t.partition(1).unwrap()).is_empty(),
        "later partitions respect the limits"
    );

    // Within the limits whole batches come; a batch cut by the limit comes partially.
    let limit = first_size as i32 + 10;
    let req = fetch_request("t", vec![fetch_partition(0, 0, limit)], 0, 1);
    let resp = client.call(&req, 12).await;
    let data = &resp.responses[0].partitions[0];
    assert_eq!(data.records.as_ref().unwrap().len(), limit as usize);
    assert_eq!(
        records_of(data).len(),
        1,
        "the partial tail is not a record"
    );

    // The request's max_bytes bounds the whole response: what partition 0 took is gone for
    // partition 1, whose first batch then no longer fits.
    let mut req = fetch_request(
        "t",
        vec![
            fetch_partition(0, 0, 1 << 20),
            fetch_partition(1, 0, 1 << 20),
        ],
        0,
        1,
    );
    req.max_bytes = limit;
    let resp = client.call(&req, 12).await;
    let t = resp.topic("t").unwrap();
    assert_eq!(records_of(t.partition(0).unwrap()).len(), 1);
    assert!(records_of(t.partition(1).unwrap()).is_empty());
    let total: usize = t
        .partitions
        .iter()
        .map(|p| p.records.as_ref().map_or(0, |r| r.len()))
        .sum();
    assert!(total <= limit as usize);
}

#[tokio::test]
async fn offset_out_of_range_past_the_end_and_below_the_start() {
    let c = cluster().await;
    c.produce(
        "t",
        0,
        &[MockRecord::kv("a", "1"), MockRecord::kv("b", "2")],
    )
    .await
    .unwrap();
    c.produce("t", 0, &[MockRecord::kv("c", "3")])
        .await
        .unwrap();
    assert_eq!(c.delete_records("t", 0, 2).await.unwrap(), 2);
    let mut client = leader_client(&c, "t", 0).await;
    for offset in [1, 4] {
        let resp = client
            .call(
                &fetch_request("t", vec![fetch_partition(0, offset, 1 << 20)], 0, 1),
                12,
            )
            .await;
        let data = &resp.responses[0].partitions[0];
        assert_eq!(
            data.error_code,
            ErrorCode::OffsetOutOfRange.code(),
            "offset {offset}"
        );
    }
    let resp = client
        .call(
            &fetch_request("t", vec![fetch_partition(0, 3, 1 << 20)], 0, 1),
            12,
        )
        .await;
    let data = &resp.responses[0].partitions[0];
    assert_eq!(
        (data.error_code, data.log_start_offset, data.high_watermark),
        (0, 2, 3)
    );
    assert!(
        records_of(data).is_empty(),
        "fetching at the end is not an error"
    );
}

#[tokio::test]
async fn read_committed_stops_at_the_lso_and_lists_aborted_transactions() {
    let c = cluster().await;
    c.produce("t", 0, &[MockRecord::kv("a", "1")])
        .await
        .unwrap();
    let aborted = c
        .produce_transaction("t", 0, &[MockRecord::kv("x", "1")], false)
        .await
        .unwrap();
    let committed = c
        .produce_transaction("t", 0, &[MockRecord::kv("y", "1")], true)
        .await
        .unwrap();
    let open = c
        .open_transaction("t", 0, &[MockRecord::kv("z", "1")])
        .await
        .unwrap();
    c.produce("t", 0, &[MockRecord::kv("b", "2")])
        .await
        .unwrap();
    let info = c.partition_info("t", 0).await.unwrap();
    assert_eq!(info.last_stable_offset, open.offsets.start);

    let mut client = leader_client(&c, "t", 0).await;
    let mut req = fetch_request("t", vec![fetch_partition(0, 0, 1 << 20)], 0, 1);
    req.isolation_level = READ_COMMITTED;
    let resp = client.call(&req, 12).await;
    let data = &resp.responses[0].partitions[0];
    assert_eq!(data.last_stable_offset, open.offsets.start);
    let offsets: Vec<i64> = records_of(data).iter().map(|r| r.0).collect();
    assert_eq!(
        offsets,
        vec![0, aborted.start, committed.start],
        "stops at the LSO"
    );
    let listed = data.aborted_transactions.as_ref().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].first_offset, aborted.start);

    c.end_transaction(&open, true).await.unwrap();
    let resp = client.call(&req, 12).await;
    let data = &resp.responses[0].partitions[0];
    assert_eq!(data.last_stable_offset, data.high_watermark);
    assert_eq!(
        records_of(data).last().map(|r| r.1.clone()),
        Some("b".into())
    );
}

#[tokio::test]
async fn produce_and_fetch_by_topic_id() {
    let c = cluster().await;
    let mut client = leader_client(&c, "t", 0).await;
    let md = metadata(&mut client, &["t"]).await;
    let id = md.topic("t").unwrap().topic_id;
    let mut req = produce_request("t", 0, batch(&[("a", "1")], 0), -1);
    req.topic_data[0].name.clear();
    req.topic_data[0].topic_id = id;
    let resp = client.call(&req, 13).await;
    assert_eq!(resp.responses[0].topic_id, id);
    assert_eq!(resp.responses[0].partition_responses[0].error_code, 0);

    let mut req = fetch_request("", vec![fetch_partition(0, 0, 1 << 20)], 0, 1);
    req.topics[0].topic_id = id;
    let resp = client.call(&req, 16).await;
    assert_eq!(
        resp.topic_by_id(id)
            .map(|t| records_of(&t.partitions[0]).len()),
        Some(1)
    );
    req.topics[0].topic_id = gregor_protocol::primitives::Uuid([7; 16]);
    let resp = client.call(&req, 16).await;
    assert_eq!(
        resp.responses[0].partitions[0].error_code,
        ErrorCode::UnknownTopicId.code()
    );
    let _ = ProduceRequest::default();
}

//! ListOffsets, OffsetForLeaderEpoch and leader epoch fencing against the mock cluster.

mod mock_support;

use gregor_protocol::ErrorCode;
use gregor_protocol::messages::list_offsets::{
    EARLIEST_TIMESTAMP, LATEST_TIMESTAMP, ListOffsetsPartition, ListOffsetsTopic, MAX_TIMESTAMP,
    READ_COMMITTED,
};
use gregor_protocol::messages::offset_for_leader_epoch::{
    OffsetForLeaderPartition, OffsetForLeaderTopic,
};
use gregor_protocol::messages::{ListOffsetsRequest, OffsetForLeaderEpochRequest};
use gregor_testkit::mock::{MockCluster, MockRecord};
use mock_support::*;

fn list(timestamp: i64, epoch: i32, isolation: i8) -> ListOffsetsRequest {
    ListOffsetsRequest {
        replica_id: -1,
        isolation_level: isolation,
        topics: vec![ListOffsetsTopic {
            name: "t".into(),
            partitions: vec![ListOffsetsPartition {
                partition_index: 0,
                current_leader_epoch: epoch,
                timestamp,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// `(error, timestamp, offset, leader epoch)`.
async fn ask(client: &mut RawClient, req: &ListOffsetsRequest) -> (i16, i64, i64, i32) {
    let resp = client.call(req, 8).await;
    let p = resp.partition("t", 0).unwrap();
    (p.error_code, p.timestamp, p.offset, p.leader_epoch)
}

#[tokio::test]
async fn list_offsets_variants() {
    let c = MockCluster::builder().topic("t", 1).start().await.unwrap();
    let rec = |k: &str, ts| MockRecord::kv(k, "v").at(ts);
    c.produce("t", 0, &[rec("a", 1000), rec("b", 3000)])
        .await
        .unwrap();
    c.move_leader("t", 0, 1).await.unwrap();
    c.produce("t", 0, &[rec("c", 2000), rec("d", 5000), rec("e", 5000)])
        .await
        .unwrap();
    let txn = c.open_transaction("t", 0, &[rec("f", 9000)]).await.unwrap();
    c.delete_records("t", 0, 1).await.unwrap();
    let mut client = RawClient::to_broker(&c, 1).await;

    assert_eq!(
        ask(&mut client, &list(EARLIEST_TIMESTAMP, -1, 0)).await,
        (0, -1, 1, 0)
    );
    assert_eq!(
        ask(&mut client, &list(LATEST_TIMESTAMP, -1, 0)).await,
        (0, -1, 6, 1)
    );
    assert_eq!(
        ask(&mut client, &list(LATEST_TIMESTAMP, -1, READ_COMMITTED)).await,
        (0, -1, txn.offsets.start, 1),
        "read_committed: the LSO"
    );
    assert_eq!(ask(&mut client, &list(2500, -1, 0)).await, (0, 3000, 1, 0));
    assert_eq!(ask(&mut client, &list(4000, -1, 0)).await, (0, 5000, 3, 1));
    assert_eq!(
        ask(&mut client, &list(500, -1, 0)).await,
        (0, 3000, 1, 0),
        "from the log start"
    );
    assert_eq!(ask(&mut client, &list(9000, -1, 0)).await, (0, 9000, 5, 1));
    assert_eq!(
        ask(&mut client, &list(9000, -1, READ_COMMITTED)).await,
        (0, -1, -1, -1),
        "not below the LSO"
    );
    assert_eq!(
        ask(&mut client, &list(MAX_TIMESTAMP, -1, 0)).await,
        (0, 9000, 5, 1)
    );

    let fenced = ask(&mut client, &list(LATEST_TIMESTAMP, 0, 0)).await;
    assert_eq!(fenced.0, ErrorCode::FencedLeaderEpoch.code());
    let unknown = ask(&mut client, &list(LATEST_TIMESTAMP, 7, 0)).await;
    assert_eq!(unknown.0, ErrorCode::UnknownLeaderEpoch.code());
}

fn epoch_request(leader_epoch: i32, current: i32) -> OffsetForLeaderEpochRequest {
    OffsetForLeaderEpochRequest {
        replica_id: -1,
        topics: vec![OffsetForLeaderTopic {
            topic: "t".into(),
            partitions: vec![OffsetForLeaderPartition {
                partition: 0,
                current_leader_epoch: current,
                leader_epoch,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

#[tokio::test]
async fn offset_for_leader_epoch_uses_the_epoch_cache() {
    let c = MockCluster::builder()
        .brokers(2)
        .topic("t", 1)
        .start()
        .await
        .unwrap();
    c.produce(
        "t",
        0,
        &[MockRecord::kv("a", "1"), MockRecord::kv("b", "2")],
    )
    .await
    .unwrap();
    c.move_leader("t", 0, 2).await.unwrap();
    c.move_leader("t", 0, 2).await.unwrap();
    c.produce("t", 0, &[MockRecord::kv("c", "3")])
        .await
        .unwrap();
    let mut client = RawClient::to_broker(&c, 2).await;
    let ask = |e, cur| epoch_request(e, cur);
    let resp = client.call(&ask(0, -1), 4).await;
    let p = resp.partition("t", 0).unwrap();
    assert_eq!((p.error_code, p.leader_epoch, p.end_offset), (0, 0, 2));
    let resp = client.call(&ask(1, 2), 4).await;
    let p = resp.partition("t", 0).unwrap();
    assert_eq!(
        (p.leader_epoch, p.end_offset),
        (0, 2),
        "epoch 1 wrote nothing: it is epoch 0's end"
    );
    let resp = client.call(&ask(2, 2), 4).await;
    let p = resp.partition("t", 0).unwrap();
    assert_eq!(
        (p.leader_epoch, p.end_offset),
        (2, 3),
        "the latest epoch ends at the log end"
    );
    let resp = client.call(&ask(5, -1), 4).await;
    let p = resp.partition("t", 0).unwrap();
    assert_eq!((p.leader_epoch, p.end_offset), (-1, -1));
    let resp = client.call(&ask(0, 1), 4).await;
    assert_eq!(
        resp.partition("t", 0).unwrap().error_code,
        ErrorCode::FencedLeaderEpoch.code()
    );
}

#[tokio::test]
async fn fetch_checks_the_current_leader_epoch() {
    let c = MockCluster::builder().topic("t", 1).start().await.unwrap();
    c.produce("t", 0, &[MockRecord::kv("a", "1")])
        .await
        .unwrap();
    c.bump_leader_epoch("t", 0).await.unwrap();
    let mut client = RawClient::to_broker(&c, 1).await;
    for (epoch, code) in [
        (0, ErrorCode::FencedLeaderEpoch),
        (2, ErrorCode::UnknownLeaderEpoch),
        (1, ErrorCode::None),
        (-1, ErrorCode::None),
    ] {
        let mut part = fetch_partition(0, 0, 1 << 20);
        part.current_leader_epoch = epoch;
        let resp = client.call(&fetch_request("t", vec![part], 0, 1), 12).await;
        let data = &resp.responses[0].partitions[0];
        assert_eq!(data.error_code, code.code(), "epoch {epoch}");
        if code == ErrorCode::FencedLeaderEpoch {
            assert_eq!(data.current_leader.leader_epoch, 1);
        }
    }
}

//! A tiny raw Kafka client for the mock cluster tests: frame + header + decode over a tokio
//! TcpStream, built on gregor-protocol.
#![allow(dead_code)]

use std::net::SocketAddr;

use bytes::{Bytes, BytesMut};
use gregor_protocol::frame::{FrameReader, split_response_header, write_frame};
use gregor_protocol::header::RequestHeader;
use gregor_protocol::messages::fetch::{FetchPartition, FetchTopic, PartitionData};
use gregor_protocol::messages::produce::{PartitionProduceData, TopicProduceData};
use gregor_protocol::messages::{FetchRequest, MetadataRequest, MetadataResponse, ProduceRequest};
use gregor_protocol::records::{BatchSpec, DecodeOptions, NewRecord, batches, encode_batch};
use gregor_protocol::{Message, Request};
use gregor_testkit::mock::MockCluster;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One connection to one broker.
pub struct RawClient {
    stream: TcpStream,
    frames: FrameReader,
    next_id: i32,
}

impl RawClient {
    pub async fn connect(addr: SocketAddr) -> std::io::Result<RawClient> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(RawClient {
            stream,
            frames: FrameReader::new(1 << 28),
            next_id: 1,
        })
    }

    /// Connects to broker `id` of `cluster`.
    pub async fn to_broker(cluster: &MockCluster, id: i32) -> RawClient {
        RawClient::connect(cluster.broker_addr(id).expect("broker"))
            .await
            .expect("connect")
    }

    /// Writes a request; returns its correlation id.
    pub async fn send<R: Request>(&mut self, req: &R, version: i16) -> i32 {
        let id = self.next_id;
        self.next_id += 1;
        let header = RequestHeader {
            request_api_key: R::API_KEY.code(),
            request_api_version: version,
            correlation_id: id,
            client_id: Some("mock-test".into()),
            ..RequestHeader::default()
        };
        let mut buf = BytesMut::new();
        write_frame(&mut buf, |b| {
            header.encode(b, R::request_header_version(version))?;
            req.encode(b, version)
        })
        .expect("encode request");
        self.stream.write_all(&buf).await.expect("write");
        id
    }

    /// Writes raw bytes.
    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write");
    }

    /// The next frame, or `None` when the broker closed the connection.
    pub async fn read_frame(&mut self) -> Option<Bytes> {
        loop {
            if let Some(f) = self.frames.poll_frame().expect("frame") {
                return Some(f);
            }
            self.frames.buffer_mut().reserve(65536);
            match self.stream.read_buf(self.frames.buffer_mut()).await {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    }

    /// Reads the response to request `id` (the next frame).
    pub async fn recv<R: Request>(&mut self, id: i32, version: i16) -> R::Response {
        let frame = self
            .read_frame()
            .await
            .expect("connection closed before the response");
        let (header, body) =
            split_response_header(frame, R::response_header_version(version)).expect("header");
        assert_eq!(header.correlation_id, id, "responses come in request order");
        R::Response::decode_exact(body, version).expect("decode response")
    }

    pub async fn call<R: Request>(&mut self, req: &R, version: i16) -> R::Response {
        let id = self.send(req, version).await;
        self.recv::<R>(id, version).await
    }

    /// True once the broker closed the connection (reads EOF).
    pub async fn closed(&mut self) -> bool {
        self.read_frame().await.is_none()
    }
}

/// One plain batch of `(key, value)` records with timestamps `ts`, `ts + 1`, ...
pub fn batch(kvs: &[(&str, &str)], ts: i64) -> Bytes {
    batch_with(BatchSpec::default(), kvs, ts)
}

pub fn batch_with(spec: BatchSpec, kvs: &[(&str, &str)], ts: i64) -> Bytes {
    let records: Vec<NewRecord<'_>> = kvs
        .iter()
        .enumerate()
        .map(|(i, (k, v))| {
            NewRecord::new(Some(k.as_bytes()), Some(v.as_bytes())).with_timestamp(ts + i as i64)
        })
        .collect();
    let mut buf = BytesMut::new();
    encode_batch(&spec, &records, &mut buf).expect("encode batch");
    buf.freeze()
}

pub fn produce_request(topic: &str, partition: i32, records: Bytes, acks: i16) -> ProduceRequest {
    ProduceRequest {
        acks,
        timeout_ms: 1000,
        topic_data: vec![TopicProduceData {
            name: topic.into(),
            partition_data: vec![PartitionProduceData {
                index: partition,
                records: Some(records),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

pub fn fetch_partition(partition: i32, offset: i64, max_bytes: i32) -> FetchPartition {
    FetchPartition {
        partition,
        fetch_offset: offset,
        partition_max_bytes: max_bytes,
        ..Default::default()
    }
}

/// A sessionless fetch of partitions of one topic (by name).
pub fn fetch_request(
    topic: &str,
    parts: Vec<FetchPartition>,
    max_wait_ms: i32,
    min_bytes: i32,
) -> FetchRequest {
    FetchRequest {
        max_wait_ms,
        min_bytes,
        max_bytes: 1 << 20,
        topics: vec![FetchTopic {
            topic: topic.into(),
            partitions: parts,
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// `(offset, key, value)` of every record in a fetched partition.
pub fn records_of(data: &PartitionData) -> Vec<(i64, String, String)> {
    let mut out = Vec::new();
    let Some(bytes) = data.records.clone() else {
        return out;
    };
    for b in batches(bytes, &DecodeOptions::default()) {
        let b = b.expect("batch");
        if b.is_control() {
            continue;
        }
        for r in b.records() {
            let r = r.expect("record");
            let s = |x: Option<Bytes>| String::from_utf8(x.unwrap_or_default().to_vec()).unwrap();
            out.push((r.offset, s(r.key), s(r.value)));
        }
    }
    out
}

pub async fn metadata(client: &mut RawClient, topics: &[&str]) -> MetadataResponse {
    let req = if topics.is_empty() {
        MetadataRequest::all_topics(12)
    } else {
        MetadataRequest::for_topics(topics.iter().copied())
    };
    client.call(&req, 12).await
}

/// A client connected to the leader of `topic`-`partition`.
pub async fn leader_client(cluster: &MockCluster, topic: &str, partition: i32) -> RawClient {
    let leader = cluster
        .partition_info(topic, partition)
        .await
        .expect("partition")
        .leader;
    RawClient::to_broker(cluster, leader).await
}

/// A broker that does not lead `topic`-`partition`.
pub async fn non_leader(cluster: &MockCluster, topic: &str, partition: i32) -> i32 {
    let leader = cluster
        .partition_info(topic, partition)
        .await
        .expect("partition")
        .leader;
    cluster
        .addresses()
        .into_iter()
        .map(|(id, _)| id)
        .find(|id| *id != leader)
        .expect("another broker")
}

//! How fast MockCluster serves stored batches: fills one partition with batches of 1 KiB
//! records, then fetches the partition over and over on one loopback connection and prints the
//! record bytes served per second.
//!
//! The mock runs on a tokio runtime with one worker thread (one core); the client is a plain
//! blocking socket on the main thread that frames Fetch v11 requests by hand and reads each
//! response's record bytes (it walks the batch headers for the next offset and decodes
//! nothing else), so the figure is the mock's serving rate, not a client's decoding rate.
//!
//! `cargo bench -p gregor-testkit --bench serve` (optional arguments: seconds to measure,
//! default 5; MiB to store, default 64).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use gregor_protocol::Message;
use gregor_protocol::frame::write_frame;
use gregor_protocol::header::RequestHeader;
use gregor_protocol::messages::fetch::{FetchPartition, FetchTopic};
use gregor_protocol::messages::{FetchRequest, FetchResponse};
use gregor_protocol::{ApiKey, Request};
use gregor_testkit::mock::{MockCluster, MockRecord};

const RECORD: usize = 1024;
const RECORDS_PER_BATCH: usize = 16;
const VERSION: i16 = 11;
const TOPIC: &str = "serve";
/// The most a response carries (Kafka's default `fetch.max.bytes` is 50 MiB; consumers
/// usually ask for 1 MiB per partition; 8 MiB keeps the per-request overhead small).
const PARTITION_MAX: i32 = 8 << 20;

fn fetch_frame(correlation_id: i32, offset: i64) -> BytesMut {
    let request = FetchRequest {
        replica_id: -1,
        max_wait_ms: 0,
        min_bytes: 1,
        max_bytes: PARTITION_MAX,
        session_epoch: -1,
        topics: vec![FetchTopic {
            topic: TOPIC.to_owned(),
            partitions: vec![FetchPartition {
                partition: 0,
                current_leader_epoch: -1,
                fetch_offset: offset,
                last_fetched_epoch: -1,
                log_start_offset: -1,
                partition_max_bytes: PARTITION_MAX,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let mut buf = BytesMut::new();
    write_frame(&mut buf, |b| {
        RequestHeader {
            request_api_key: ApiKey::Fetch.code(),
            request_api_version: VERSION,
            correlation_id,
            client_id: Some("serve-bench".to_owned()),
            ..Default::default()
        }
        .encode(b, FetchRequest::request_header_version(VERSION))?;
        request.encode(b, VERSION)
    })
    .expect("the request encodes");
    buf
}

/// The offset after the last complete batch in `records` (`from` when there is none).
fn next_offset(mut records: &[u8], from: i64) -> i64 {
    let mut next = from;
    // baseOffset (8), batchLength (4), then 11 bytes to lastOffsetDelta (4).
    while records.len() >= 27 {
        let base = i64::from_be_bytes(records[..8].try_into().unwrap());
        let length = i32::from_be_bytes(records[8..12].try_into().unwrap()) as usize;
        if records.len() < 12 + length {
            break;
        }
        let delta = i32::from_be_bytes(records[23..27].try_into().unwrap());
        next = base + i64::from(delta) + 1;
        records = &records[12 + length..];
    }
    next
}

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| !a.starts_with('-'));
    let seconds: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(5);
    let stored_mib: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(64);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let value = vec![b'x'; RECORD];
    let batches = stored_mib * 1024 * 1024 / (RECORD * RECORDS_PER_BATCH);
    let cluster = runtime.block_on(async {
        let cluster = MockCluster::builder()
            .topic(TOPIC, 1)
            .start()
            .await
            .expect("mock starts");
        let records: Vec<MockRecord> = (0..RECORDS_PER_BATCH)
            .map(|_| MockRecord::new(None, Some(&value)).at(1_700_000_000_000))
            .collect();
        for _ in 0..batches {
            cluster.produce(TOPIC, 0, &records).await.unwrap();
        }
        cluster
    });
    let end = (batches * RECORDS_PER_BATCH) as i64;
    let addr = cluster.addresses()[0].1;
    let mut socket = TcpStream::connect(addr).unwrap();
    socket.set_nodelay(true).unwrap();

    // One receive buffer, reused: each response is read into it without zeroing, frozen for
    // decoding (the record bytes are a slice of it), and taken back once the decoded response
    // is dropped.
    let mut buf: Vec<u8> = Vec::new();
    let mut offset = 0;
    let mut correlation_id = 0;
    let (mut record_bytes, mut frame_bytes, mut requests) = (0u64, 0u64, 0u64);
    let deadline = Duration::from_secs(seconds);
    let start = Instant::now();
    while start.elapsed() < deadline {
        correlation_id += 1;
        socket
            .write_all(&fetch_frame(correlation_id, offset))
            .unwrap();
        let mut size = [0u8; 4];
        socket.read_exact(&mut size).unwrap();
        let size = i32::from_be_bytes(size) as usize;
        buf.clear();
        (&mut socket)
            .take(size as u64)
            .read_to_end(&mut buf)
            .unwrap();
        assert_eq!(buf.len(), size, "the whole response");
        let frame = Bytes::from(std::mem::take(&mut buf));
        let mut body = frame.clone();
        assert_eq!(body.get_i32(), correlation_id);
        let response = FetchResponse::decode(&mut body, VERSION).expect("the response decodes");
        let partition = &response.responses[0].partitions[0];
        assert_eq!(partition.error_code, 0, "fetch at {offset}");
        let records = partition.records.as_deref().unwrap_or_default();
        record_bytes += records.len() as u64;
        frame_bytes += size as u64 + 4;
        requests += 1;
        offset = next_offset(records, offset);
        drop((response, body));
        buf = Vec::from(frame);
        if offset >= end {
            offset = 0;
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    println!(
        "serve: {stored_mib} MiB stored in {batches} batches of {RECORDS_PER_BATCH} x {RECORD} B records; \
         {requests} fetches of up to {} MiB in {elapsed:.2} s",
        PARTITION_MAX >> 20
    );
    println!(
        "serve: {:.2} GB/s of record bytes ({:.2} GB/s of response frames)",
        record_bytes as f64 / elapsed / 1e9,
        frame_bytes as f64 / elapsed / 1e9
    );
    drop(cluster);
}

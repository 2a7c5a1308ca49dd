//! The fetch-response-to-records path: a FetchResponse body (v12) of 16 partitions, each with
//! a few batches of 1 KiB JSON-like values, decoded (records stay `Bytes` slices of the body)
//! and every record iterated zero-copy with CRC checks — what the consumer does per response.
//!
//! `cargo bench -p gregor-benches --bench fetch_path`.

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_main};
use gregor_benches::payload::{Workload, batch_pool, codec_name};
use gregor_protocol::Message;
use gregor_protocol::compression::Compression;
use gregor_protocol::messages::FetchResponse;
use gregor_protocol::messages::fetch::{FetchableTopicResponse, PartitionData};
use gregor_protocol::records::{DecodeOptions, DecodedBatch, batches};

const VERSION: i16 = 12;
const PARTITIONS: i32 = 16;
const BATCHES_PER_PARTITION: usize = 4;

/// An encoded response body and the records it holds.
fn response_body(codec: Compression) -> (Bytes, u64) {
    let w = Workload {
        value_size: 1024,
        partitions: PARTITIONS,
        codec,
    };
    let pool = batch_pool(&w, 64 << 10).unwrap();
    let mut records = 0u64;
    let partitions = (0..PARTITIONS)
        .map(|p| {
            let mut data = BytesMut::new();
            for b in pool.iter().take(BATCHES_PER_PARTITION) {
                data.extend_from_slice(&b.bytes);
                records += b.records as u64;
            }
            PartitionData {
                partition_index: p,
                high_watermark: 1 << 20,
                last_stable_offset: 1 << 20,
                log_start_offset: 0,
                records: Some(data.freeze()),
                ..PartitionData::default()
            }
        })
        .collect();
    let resp = FetchResponse {
        responses: vec![FetchableTopicResponse {
            topic: "bench".into(),
            partitions,
            ..FetchableTopicResponse::default()
        }],
        ..FetchResponse::default()
    };
    let mut buf = BytesMut::new();
    resp.encode(&mut buf, VERSION).unwrap();
    (buf.freeze(), records)
}

fn consume(body: &Bytes) -> u64 {
    let resp = FetchResponse::decode_exact(body.clone(), VERSION).unwrap();
    let opts = DecodeOptions::default();
    let mut n = 0u64;
    for t in resp.responses {
        for p in t.partitions {
            let Some(data) = p.records else { continue };
            for batch in batches(data, &opts) {
                if let DecodedBatch::V2(b) = batch.unwrap() {
                    for r in b.record_refs() {
                        black_box(r.unwrap().value);
                        n += 1;
                    }
                }
            }
        }
    }
    n
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("fetch_response_to_records");
    for codec in [Compression::None, Compression::Lz4, Compression::Zstd] {
        let (body, records) = response_body(codec);
        assert_eq!(consume(&body), records);
        group.throughput(Throughput::Elements(records));
        group.bench_with_input(
            BenchmarkId::new("16 partitions 1KiB", codec_name(codec)),
            &body,
            |b, body| b.iter(|| black_box(consume(black_box(body)))),
        );
    }
    group.finish();
}

/// The criterion group (a module, so the macro's undocumented function needs no doc).
mod group {
    #![allow(missing_docs)]
    criterion::criterion_group!(benches, super::bench);
}
criterion_main!(group::benches);

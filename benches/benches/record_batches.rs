//! Record-batch decode per codec on JSON-like values (the pools the `consume` benchmark fills
//! topics with): every batch CRC checked and decompressed, every record iterated as a borrowed
//! `RecordRef`, value lengths summed. Throughput is in bytes of values.
//!
//! `cargo bench -p gregor-benches --bench record_batches` (add `-- --quick` for a short run).

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_main};
use gregor_benches::payload::{Workload, batch_pool, codec_name, size_label};
use gregor_protocol::compression::Compression;
use gregor_protocol::records::{DecodeOptions, DecodedBatch, batches};

/// The pool's batches back to back, and the bytes of values they hold.
fn record_set(value_size: usize, codec: Compression) -> (Bytes, u64) {
    let w = Workload {
        value_size,
        partitions: 1,
        codec,
    };
    let pool = batch_pool(&w, 64 << 10).unwrap();
    let mut out = BytesMut::new();
    let mut values = 0u64;
    for b in &pool {
        out.extend_from_slice(&b.bytes);
        values += b.value_bytes as u64;
    }
    (out.freeze(), values)
}

fn decode(set: &Bytes) -> u64 {
    let mut total = 0u64;
    for batch in batches(set.clone(), &DecodeOptions::default()) {
        match batch.unwrap() {
            DecodedBatch::V2(b) => {
                for r in b.record_refs() {
                    total += r.unwrap().value.map_or(0, |v| v.len() as u64);
                }
            }
            DecodedBatch::Legacy(_) => unreachable!("pools are magic 2"),
        }
    }
    total
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("record_batch_decode");
    for value_size in [100, 1024] {
        for codec in Compression::ALL {
            let (set, values) = record_set(value_size, codec);
            assert_eq!(decode(&set), values);
            group.throughput(Throughput::Bytes(values));
            group.bench_with_input(
                BenchmarkId::new(codec_name(codec), size_label(value_size)),
                &set,
                |b, set| b.iter(|| black_box(decode(black_box(set)))),
            );
        }
    }
    group.finish();
}

/// The criterion group (a module, so the macro's undocumented function needs no doc).
mod group {
    #![allow(missing_docs)]
    criterion::criterion_group!(benches, super::bench);
}
criterion_main!(group::benches);

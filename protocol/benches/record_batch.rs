//! Record set decoding throughput: every record iterated, key and value lengths touched, CRC
//! verified, for 100 B and 1 KiB values, uncompressed and with each codec.
//!
//! Group `decode_records` reports records/s; group `decode_bytes` reports bytes/s of the
//! *uncompressed* record set (the same figure for every codec, so they compare directly).
//!
//! Run briefly with `cargo bench -p gregor-protocol --bench record_batch -- --quick`.

use std::hint::black_box;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_main};
use gregor_protocol::compression::Compression;
use gregor_protocol::records::{
    BatchSpec, DecodeOptions, DecodedBatch, NewRecord, batches, encode_batch,
};

const RECORDS_PER_BATCH: usize = 200;
const BATCHES: usize = 25;

/// A record set of `BATCHES` batches of `RECORDS_PER_BATCH` records, 8-byte keys and
/// `value_size`-byte JSON-ish values (compressible like real payloads, not trivially).
fn record_set(value_size: usize, codec: Compression) -> Bytes {
    let mut out = BytesMut::new();
    let mut n = 0u64;
    for b in 0..BATCHES {
        let mut keys = Vec::with_capacity(RECORDS_PER_BATCH);
        let mut values = Vec::with_capacity(RECORDS_PER_BATCH);
        for _ in 0..RECORDS_PER_BATCH {
            keys.push(format!("k{:07}", n % 10_000_000).into_bytes());
            let mut v = format!(
                "{{\"id\":{n},\"user\":\"u{}\",\"event\":\"click\",\"data\":\"",
                n.wrapping_mul(2_654_435_761) % 100_000
            )
            .into_bytes();
            let mut x = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            while v.len() < value_size {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                v.push(b'a' + (x % 16) as u8);
            }
            v.truncate(value_size);
            values.push(v);
            n += 1;
        }
        let records: Vec<_> = keys
            .iter()
            .zip(&values)
            .enumerate()
            .map(|(i, (k, v))| {
                NewRecord::new(Some(k), Some(v)).with_timestamp(1_700_000_000_000 + i as i64)
            })
            .collect();
        let spec = BatchSpec {
            base_offset: (b * RECORDS_PER_BATCH) as i64,
            compression: codec,
            producer_id: 1,
            producer_epoch: 0,
            base_sequence: (b * RECORDS_PER_BATCH) as i32,
            ..BatchSpec::default()
        };
        encode_batch(&spec, &records, &mut out).expect("encode");
    }
    out.freeze()
}

/// Decodes the whole set, touching every record's key and value length.
fn decode(input: &Bytes, opts: &DecodeOptions) -> usize {
    let mut total = 0usize;
    for batch in batches(input.clone(), opts) {
        let batch = batch.expect("batch");
        for record in batch.records() {
            let record = record.expect("record");
            total += record.key.as_ref().map_or(0, Bytes::len)
                + record.value.as_ref().map_or(0, Bytes::len);
        }
    }
    total
}

/// Same as [`decode`] through the borrowed iterator (`RecordBatch::record_refs`).
fn decode_borrowed(input: &Bytes, opts: &DecodeOptions) -> usize {
    let mut total = 0usize;
    for batch in batches(input.clone(), opts) {
        let DecodedBatch::V2(batch) = batch.expect("batch") else {
            unreachable!("magic 2 only")
        };
        for record in batch.record_refs() {
            let record = record.expect("record");
            total += record.key.map_or(0, <[u8]>::len) + record.value.map_or(0, <[u8]>::len);
        }
    }
    total
}

fn configure(c: &mut Criterion) -> Criterion {
    std::mem::take(c)
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2))
}

fn bench(c: &mut Criterion) {
    let mut c = configure(c);
    let opts = DecodeOptions::default();
    let records = (RECORDS_PER_BATCH * BATCHES) as u64;
    let sets: Vec<(usize, Compression, Bytes)> = [100usize, 1024]
        .iter()
        .flat_map(|&size| {
            Compression::ALL
                .iter()
                .map(move |&codec| (size, codec, record_set(size, codec)))
        })
        .collect();

    let mut group = c.benchmark_group("decode_records");
    group.throughput(Throughput::Elements(records));
    for (size, codec, set) in &sets {
        let id = BenchmarkId::new(codec.name(), format!("{size}B"));
        group.bench_with_input(id, set, |b, set| b.iter(|| black_box(decode(set, &opts))));
    }
    for (size, codec, set) in sets
        .iter()
        .filter(|(_, codec, _)| *codec == Compression::None)
    {
        let id = BenchmarkId::new(format!("{}-borrowed", codec.name()), format!("{size}B"));
        group.bench_with_input(id, set, |b, set| {
            b.iter(|| black_box(decode_borrowed(set, &opts)))
        });
    }
    let no_crc = DecodeOptions {
        verify_crc: false,
        ..opts
    };
    for (size, codec, set) in sets
        .iter()
        .filter(|(_, codec, _)| *codec == Compression::None)
    {
        let id = BenchmarkId::new(format!("{}-no-crc", codec.name()), format!("{size}B"));
        group.bench_with_input(id, set, |b, set| b.iter(|| black_box(decode(set, &no_crc))));
    }
    group.finish();

    let mut group = c.benchmark_group("decode_bytes");
    for (size, codec, set) in &sets {
        let uncompressed = sets
            .iter()
            .find(|(s, c, _)| s == size && *c == Compression::None)
            .map_or(set.len(), |(_, _, s)| s.len());
        group.throughput(Throughput::Bytes(uncompressed as u64));
        let id = BenchmarkId::new(codec.name(), format!("{size}B"));
        group.bench_with_input(id, set, |b, set| b.iter(|| black_box(decode(set, &opts))));
    }
    group.finish();
}

mod group {
    // `criterion_group!` generates an undocumented public function.
    #![allow(missing_docs)]
    criterion::criterion_group!(benches, super::bench);
}
criterion_main!(group::benches);

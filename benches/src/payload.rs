//! JSON-like values, workloads and the pool of pre-encoded batches a topic is filled with.
//!
//! A topic is filled by repeating a small pool of distinct batches (each compressed on its
//! own), so the consumer does exactly the work of a topic of distinct batches while prefilling
//! costs only the pool's compression.

use bytes::{Bytes, BytesMut};
use gregor_protocol::compression::Compression;
use gregor_protocol::records::{BatchSpec, NewRecord, encode_batch};

use crate::Result;

/// Distinct batches in a pool.
pub const POOL_BATCHES: usize = 16;

/// One consume workload: what a topic holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Workload {
    /// Bytes per value.
    pub value_size: usize,
    /// Partitions of the topic.
    pub partitions: i32,
    /// The codec of every batch.
    pub codec: Compression,
}

impl Workload {
    /// A short label: `1KiB x16 lz4`.
    pub fn label(&self) -> String {
        format!(
            "{} x{} {}",
            size_label(self.value_size),
            self.partitions,
            codec_name(self.codec)
        )
    }
}

/// `100B`, `1KiB`, `64KiB`.
pub fn size_label(bytes: usize) -> String {
    if bytes >= 1024 && bytes % 1024 == 0 {
        format!("{}KiB", bytes / 1024)
    } else {
        format!("{bytes}B")
    }
}

/// The codec's Kafka name.
pub fn codec_name(codec: Compression) -> &'static str {
    match codec {
        Compression::None => "none",
        Compression::Gzip => "gzip",
        Compression::Snappy => "snappy",
        Compression::Lz4 => "lz4",
        Compression::Zstd => "zstd",
    }
}

/// Parses a codec name.
pub fn parse_codec(name: &str) -> Option<Compression> {
    Some(match name {
        "none" => Compression::None,
        "gzip" => Compression::Gzip,
        "snappy" => Compression::Snappy,
        "lz4" => Compression::Lz4,
        "zstd" => Compression::Zstd,
        _ => return None,
    })
}

/// A small deterministic generator (xorshift64*), so runs see the same data.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// Seeded (0 is replaced by a fixed non-zero seed).
    pub fn new(seed: u64) -> Rng {
        Rng(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A value below `n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

const WORDS: &[&str] = &[
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet",
    "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango",
    "uniform", "victor", "whiskey", "xray", "yankee", "zulu", "click", "view", "purchase", "login",
    "logout", "search", "cart", "checkout", "mobile", "desktop", "tablet", "europe", "america",
    "asia",
];
const EVENTS: &[&str] = &["click", "view", "purchase", "login", "search", "scroll"];

/// A JSON object of exactly `size` bytes that looks like an event record: fixed field names,
/// numbers and words from a small vocabulary (so it compresses like real JSON logs).
pub fn json_value(rng: &mut Rng, size: usize) -> Vec<u8> {
    let mut s = format!(
        "{{\"id\":{},\"user\":\"user_{}\",\"ts\":{},\"event\":\"{}\",\"score\":0.{:03},\"text\":\"",
        rng.below(1 << 40),
        rng.below(100_000),
        1_700_000_000_000u64 + rng.below(1 << 30),
        EVENTS[rng.below(EVENTS.len() as u64) as usize],
        rng.below(1000),
    );
    let tail = "\"}";
    while s.len() + tail.len() < size {
        let w = WORDS[rng.below(WORDS.len() as u64) as usize];
        s.push_str(w);
        s.push(' ');
    }
    let mut v = s.into_bytes();
    v.truncate(size.saturating_sub(tail.len()));
    v.extend_from_slice(tail.as_bytes());
    v.truncate(size);
    v
}

/// One pre-encoded batch of a pool.
#[derive(Debug, Clone)]
pub struct PoolBatch {
    /// The encoded batch (base offset 0, as a producer sends it).
    pub bytes: Bytes,
    /// Records in it.
    pub records: usize,
    /// Bytes of its values.
    pub value_bytes: usize,
    /// Bytes of its records section before compression (for the ratio).
    pub uncompressed_bytes: usize,
}

/// `POOL_BATCHES` distinct batches of `workload`, each holding about `batch_bytes` of values
/// (at least one record).
pub fn batch_pool(workload: &Workload, batch_bytes: usize) -> Result<Vec<PoolBatch>> {
    let per_batch = (batch_bytes / workload.value_size.max(1)).max(1);
    let mut rng = Rng::new(workload.value_size as u64 * 31 + workload.partitions as u64);
    let mut pool = Vec::with_capacity(POOL_BATCHES);
    for b in 0..POOL_BATCHES {
        let keys: Vec<String> = (0..per_batch)
            .map(|i| format!("key-{b:02}-{i:08}"))
            .collect();
        let values: Vec<Vec<u8>> = (0..per_batch)
            .map(|_| json_value(&mut rng, workload.value_size))
            .collect();
        let records: Vec<NewRecord<'_>> = keys
            .iter()
            .zip(&values)
            .map(|(k, v)| {
                NewRecord::new(Some(k.as_bytes()), Some(v)).with_timestamp(1_700_000_000_000)
            })
            .collect();
        let spec = BatchSpec {
            compression: workload.codec,
            ..BatchSpec::default()
        };
        let mut raw = BytesMut::new();
        encode_batch(&BatchSpec::default(), &records, &mut raw)?;
        let mut buf = BytesMut::new();
        encode_batch(&spec, &records, &mut buf)?;
        pool.push(PoolBatch {
            bytes: buf.freeze(),
            records: per_batch,
            value_bytes: per_batch * workload.value_size,
            uncompressed_bytes: raw.len(),
        });
    }
    Ok(pool)
}

#[cfg(test)]
mod tests {
    use super::*;
    use gregor_protocol::records::{DecodeOptions, batches};

    #[test]
    fn json_values_have_the_exact_size() {
        let mut rng = Rng::new(1);
        for size in [10, 100, 1024, 65536] {
            let v = json_value(&mut rng, size);
            assert_eq!(v.len(), size);
            assert_eq!(v.first(), Some(&b'{'));
        }
    }

    #[test]
    fn pool_batches_decode_to_their_records() {
        for codec in [Compression::None, Compression::Gzip, Compression::Zstd] {
            let w = Workload {
                value_size: 100,
                partitions: 1,
                codec,
            };
            let pool = batch_pool(&w, 4096).unwrap();
            assert_eq!(pool.len(), POOL_BATCHES);
            let b = &pool[0];
            let decoded = batches(b.bytes.clone(), &DecodeOptions::default())
                .next()
                .unwrap()
                .unwrap();
            let values: Vec<usize> = decoded
                .records()
                .map(|r| r.unwrap().value.unwrap().len())
                .collect();
            let n = values.len();
            assert!(values.iter().all(|&v| v == 100));
            assert_eq!(n, b.records);
            assert_eq!(b.records, 40);
            if codec != Compression::None {
                assert!(b.bytes.len() < b.uncompressed_bytes);
            }
        }
    }
}

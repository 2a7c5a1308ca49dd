//! gregor's client against a hostile broker that starts from valid responses and breaks them.
//!
//! Same broker, flows and checks as `hostile_broker` (shared/hostile.rs); only the bodies
//! differ. Each answer is built for the request it answers, in that request's API and version,
//! with gregor-protocol's encoders:
//! - a skeleton sampled from the input (`Message::sample`, valid in the version), patched to
//!   talk about what the client asked (topic `t` by name or id, partition 0, group `g`; error
//!   codes cleared unless the input keeps them), a partition or topic duplicated on request;
//! - for Fetch, each partition's records are real record batches (magic 2 in every codec,
//!   transactional data, commit and abort markers, legacy magic 0/1 message sets) placed
//!   around the offset the client asked for, with aborted-transaction entries pointing at
//!   them; then bytes of the records flipped (CRCs fixed again if the input says so) and the
//!   last batch cut short;
//! - then input-chosen mutations of the encoded body: flipped bytes, a 32- or 16-bit field or a
//!   varint overwritten with a large length, truncation, a duplicated, spliced or deleted range,
//!   inserted zeros (up to 1 MiB, so that a large length can still fit in the body).
//!
//! The version ranges the broker advertises are input-chosen too, so every version of every
//! API is reached. An empty input already runs every flow against valid answers.
#![no_main]

#[path = "shared/hostile.rs"]
mod hostile;

use std::collections::VecDeque;

use arbitrary::{Arbitrary, Unstructured};
use bytes::{Bytes, BytesMut};
use gregor_protocol::messages::fetch::{AbortedTransaction, PartitionData};
use gregor_protocol::messages::metadata::MetadataResponsePartition;
use gregor_protocol::messages::{
    FetchRequest, FetchResponse, FindCoordinatorResponse, ListOffsetsResponse, MetadataResponse,
    OffsetFetchResponse,
};
use gregor_protocol::records::{
    BatchSpec, ControlRecord, LegacySpec, NewHeader, NewRecord, TimestampType, encode_batch,
    encode_control_batch, encode_message_set,
};
use gregor_protocol::{ApiKey, Message, compression::Compression};
use hostile::{APIS, Action, GROUP, Incoming, Params, Script, TOPIC, TOPIC_ID};
use libfuzzer_sys::fuzz_target;

/// A base timestamp for records (2023-11-14).
const T0: i64 = 1_700_000_000_000;
const MAX_PARTITIONS: usize = 3;
const MAX_BATCHES: usize = 8;
const MAX_RECORDS: usize = 16;
const MAX_HEADERS: usize = 4;
const MAX_MUTATIONS: usize = 8;
const MAX_VALUE: usize = 4096;

#[derive(Arbitrary, Debug)]
struct Input {
    flags: u8,
    position: u16,
    until: u16,
    timestamp: u16,
    key_type: u8,
    /// Per API of `hostile::APIS`: 0 advertises our whole range, `x` our oldest version up to
    /// `x - 1` versions newer.
    versions: [u8; 6],
    /// Above 240, `api_versions_mutation` breaks the ApiVersions answer.
    api_versions_gate: u8,
    api_versions_mutation: Mutation,
    flows: Vec<u8>,
    answers: Vec<Answer>,
}

/// The answer to one request after the handshake (once they run out, default ones).
#[derive(Arbitrary, Debug, Default)]
struct Answer {
    action: u8,
    action_arg: u16,
    /// Above 200: keep the sampled error codes.
    keep_errors: u8,
    /// Bit 0: duplicate the first partition; bit 1: duplicate the first topic.
    duplicate: u8,
    /// What `Message::sample` builds the response from.
    skeleton: Vec<u8>,
    /// Fetch only: the records of the first partitions.
    partitions: Vec<PartitionRecords>,
    mutations: Vec<Mutation>,
}

#[derive(Arbitrary, Debug, Default)]
struct PartitionRecords {
    /// How far before the fetch offset the first batch starts.
    back: u8,
    batches: Vec<BatchInput>,
    /// (producer id, batch index): aborted-transaction entries.
    aborts: Vec<(u8, u8)>,
    /// (position, xor) flips in the records.
    flips: Vec<(u16, u8)>,
    /// Recompute the CRC-32C of every magic-2 batch after the flips.
    fix_crc: bool,
    /// Above 200, cut the records at `truncate_at`.
    truncate_gate: u8,
    truncate_at: u16,
}

#[derive(Arbitrary, Debug, Default)]
struct BatchInput {
    /// Offsets skipped before the batch.
    gap: u8,
    /// % 8: 0-2 data, 3 transactional data, 4 commit marker, 5 abort marker, 6 magic 0, 7 magic 1.
    kind: u8,
    codec: u8,
    producer: u8,
    producer_epoch: i8,
    leader_epoch: i8,
    log_append_time: bool,
    delete_horizon: Option<i16>,
    /// Above 127: a last offset delta this much past the last record (compaction).
    extra_last_delta: u8,
    records: Vec<RecordInput>,
}

#[derive(Arbitrary, Debug, Default)]
struct RecordInput {
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    /// The value is repeated this many times (compressible data).
    repeat: u8,
    headers: Vec<(u8, Option<Vec<u8>>)>,
    timestamp: i16,
    gap: u8,
}

#[derive(Arbitrary, Debug, Clone)]
enum Mutation {
    Flip {
        at: u32,
        xor: u8,
    },
    Int32 {
        at: u32,
        which: u8,
        raw: i32,
    },
    Int16 {
        at: u32,
        which: u8,
        raw: i16,
    },
    /// An unsigned varint (compact lengths); `which` as for `Int32`, else `value`.
    Varint {
        at: u32,
        which: u8,
        value: u32,
    },
    Truncate {
        at: u32,
    },
    Duplicate {
        at: u32,
        len: u16,
    },
    Splice {
        at: u32,
        bytes: Vec<u8>,
    },
    Delete {
        at: u32,
        len: u16,
    },
    /// Inserts zeros (at the end for an even `at`): room for a large count to stay in the
    /// body. `size` from 0xf000 up gives up to 1 MiB (`(size & 0x3ff)` KiB), below it up to
    /// 4 KiB (`size & 0xfff` bytes): large bodies are slow, so they are rare.
    Pad {
        at: u32,
        size: u16,
    },
}

/// A large length for a field ending at `end` of a body of `len` bytes, by `which`: the
/// largest count a decoder that checks the bytes left accepts (one byte per element), half of
/// it, one more than the body, or values far past it; `None` for an input-given value.
fn large(which: u8, len: usize, end: usize) -> Option<i32> {
    let left = i32::try_from(len.saturating_sub(end)).unwrap_or(i32::MAX);
    Some(match which % 8 {
        0 | 1 => left,
        2 => left / 2,
        3 => i32::try_from(len).unwrap_or(i32::MAX).saturating_add(1),
        4 => i32::MAX,
        5 => -1,
        6 => 0x00ff_ffff,
        _ => return None,
    })
}

/// Inserts `bytes` at `at` (with bulk copies: bodies reach 1 MiB, and a byte-by-byte splice
/// costs a coverage callback per byte).
fn insert(body: &mut Vec<u8>, at: usize, bytes: &[u8]) {
    let tail = body.split_off(at);
    body.extend_from_slice(bytes);
    body.extend_from_slice(&tail);
}

/// Applies `m` to `body`. Positions are taken modulo the length of the body as encoded
/// (`encoded`, or less if it shrank), so that they keep pointing into the encoded fields after
/// a `Pad` grew the body: a pad at the end then a large count at a field's offset make a count
/// that the bytes left can hold.
fn mutate(body: &mut Vec<u8>, m: &Mutation, encoded: usize) {
    let len = body.len();
    let span = encoded.min(len);
    let pos = |at: u32| (at as usize).checked_rem(span);
    let overwrite = |body: &mut Vec<u8>, at: usize, bytes: &[u8]| {
        for (i, b) in bytes.iter().enumerate() {
            if let Some(slot) = body.get_mut(at + i) {
                *slot = *b;
            }
        }
    };
    match m {
        Mutation::Flip { at, xor } => {
            if let Some(at) = pos(*at) {
                body[at] ^= if *xor == 0 { 0xff } else { *xor };
            }
        }
        Mutation::Int32 { at, which, raw } => {
            if let Some(at) = pos(*at) {
                let value = large(*which, len, at + 4).unwrap_or(*raw);
                overwrite(body, at, &value.to_be_bytes());
            }
        }
        Mutation::Int16 { at, which, raw } => {
            let value = match which % 4 {
                0 => i16::MAX,
                1 => -1,
                2 => 0x4000,
                _ => *raw,
            };
            if let Some(at) = pos(*at) {
                overwrite(body, at, &value.to_be_bytes());
            }
        }
        Mutation::Varint { at, which, value } => {
            if let Some(at) = pos(*at) {
                // A compact length n is written n + 1; a varint of a large value takes 3-5 bytes.
                let mut v = match large(*which, len, at + 3) {
                    Some(n) => (n as u32).wrapping_add(1),
                    None => *value,
                };
                let mut bytes = Vec::new();
                while v >= 0x80 {
                    bytes.push((v as u8) | 0x80);
                    v >>= 7;
                }
                bytes.push(v as u8);
                overwrite(body, at, &bytes);
            }
        }
        Mutation::Truncate { at } => body.truncate(*at as usize % (span + 1)),
        Mutation::Duplicate { at, len: n } => {
            if let Some(start) = pos(*at) {
                let end = (start + usize::from(*n)).min(len);
                let copy = body[start..end].to_vec();
                insert(body, end, &copy);
            }
        }
        Mutation::Splice { at, bytes } => {
            let at = *at as usize % (span + 1);
            insert(body, at, &bytes[..bytes.len().min(64)]);
        }
        Mutation::Delete { at, len: n } => {
            if let Some(start) = pos(*at) {
                let end = (start + usize::from(*n)).min(len);
                body.drain(start..end);
            }
        }
        Mutation::Pad { at, size } => {
            // Even: at the end; odd: inside the encoded part.
            let at = if at % 2 == 0 {
                len
            } else {
                (*at as usize / 2) % (span + 1)
            };
            let zeros = if *size >= 0xf000 {
                usize::from(size & 0x3ff) * 1024
            } else {
                usize::from(size & 0xfff)
            };
            // Zeroed memory from the allocator, copied in bulk (not a loop per byte).
            insert(body, at, &vec![0u8; zeros]);
        }
    }
}

fn codec(c: u8, legacy: bool) -> Compression {
    let all = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];
    // zstd needs magic 2.
    all[usize::from(c) % if legacy { 4 } else { 5 }]
}

/// Real record batches around `fetch_offset`, and the aborted transactions pointing at them.
fn build_records(spec: &PartitionRecords, fetch_offset: i64) -> (Bytes, Vec<AbortedTransaction>) {
    let mut out = BytesMut::new();
    let mut cursor = fetch_offset.saturating_sub(i64::from(spec.back));
    let mut bases = Vec::new();
    for b in spec.batches.iter().take(MAX_BATCHES) {
        cursor = cursor.saturating_add(i64::from(b.gap % 16));
        let kind = b.kind % 8;
        let legacy = kind >= 6;
        // The record values live here while the batch is encoded.
        let values: Vec<Option<Vec<u8>>> = b
            .records
            .iter()
            .take(MAX_RECORDS)
            .map(|r| {
                r.value.as_ref().map(|v| {
                    let times = usize::from(r.repeat).max(1);
                    let mut out = v.repeat(times);
                    out.truncate(MAX_VALUE);
                    out
                })
            })
            .collect();
        let headers: Vec<Vec<NewHeader<'_>>> = b
            .records
            .iter()
            .take(MAX_RECORDS)
            .map(|r| {
                if legacy {
                    return Vec::new();
                }
                r.headers
                    .iter()
                    .take(MAX_HEADERS)
                    .map(|(k, v)| NewHeader {
                        key: ["trace", "dup", "", "ключ"][usize::from(*k) % 4].as_bytes(),
                        value: v.as_deref(),
                    })
                    .collect()
            })
            .collect();
        let mut delta: i32 = -1;
        let records: Vec<NewRecord<'_>> = b
            .records
            .iter()
            .take(MAX_RECORDS)
            .enumerate()
            .map(|(i, r)| {
                delta += 1 + i32::from(r.gap % 8);
                NewRecord {
                    offset_delta: Some(delta),
                    timestamp: T0 + i64::from(r.timestamp),
                    key: r.key.as_deref(),
                    value: values[i].as_deref(),
                    headers: &headers[i],
                }
            })
            .collect();
        let timestamp_type = if b.log_append_time {
            TimestampType::LogAppendTime
        } else {
            TimestampType::CreateTime
        };
        let last_delta = if !records.is_empty() && b.extra_last_delta > 127 {
            Some(delta + i32::from(b.extra_last_delta - 127))
        } else if records.is_empty() {
            Some(i32::from(b.extra_last_delta % 4))
        } else {
            None
        };
        let transactional = kind == 3;
        let batch = BatchSpec {
            base_offset: cursor,
            partition_leader_epoch: i32::from(b.leader_epoch),
            producer_id: if transactional || kind == 4 || kind == 5 {
                i64::from(b.producer % 4)
            } else {
                -1
            },
            producer_epoch: i16::from(b.producer_epoch),
            base_sequence: if transactional { 0 } else { -1 },
            transactional,
            control: false,
            timestamp_type,
            compression: codec(b.codec, legacy),
            delete_horizon_ms: b.delete_horizon.map(|h| T0 + i64::from(h)),
            last_offset_delta: last_delta,
        };
        let start = out.len();
        let encoded = match kind {
            0..=3 => encode_batch(&batch, &records, &mut out),
            4 | 5 => {
                let marker = if kind == 4 {
                    ControlRecord::commit(0)
                } else {
                    ControlRecord::abort(0)
                };
                let ts = T0 + i64::from(b.gap);
                encode_control_batch(&batch, &marker, ts, &mut out)
            }
            _ => {
                let legacy = LegacySpec {
                    magic: if kind == 6 { 0 } else { 1 },
                    base_offset: cursor,
                    compression: batch.compression,
                    timestamp_type,
                };
                encode_message_set(&legacy, &records, &mut out)
            }
        };
        if encoded.is_err() {
            out.truncate(start);
            continue;
        }
        bases.push(cursor);
        let span = match kind {
            4 | 5 => 1,
            _ => i64::from(last_delta.unwrap_or(delta).max(0)) + 1,
        };
        cursor = cursor.saturating_add(span);
    }
    let aborted = spec
        .aborts
        .iter()
        .take(MAX_BATCHES)
        .filter(|_| !bases.is_empty())
        .map(|&(producer, index)| AbortedTransaction {
            producer_id: i64::from(producer % 4),
            first_offset: bases[usize::from(index) % bases.len()],
            ..AbortedTransaction::default()
        })
        .collect();

    let mut records = out.to_vec();
    let len = records.len();
    if len > 0 {
        for &(at, xor) in spec.flips.iter().take(MAX_MUTATIONS) {
            records[usize::from(at) % len] ^= if xor == 0 { 0xff } else { xor };
        }
        if spec.fix_crc && !spec.flips.is_empty() {
            fix_crcs(&mut records);
        }
    }
    if spec.truncate_gate > 200 {
        records.truncate(usize::from(spec.truncate_at) % (len + 1));
    }
    (Bytes::from(records), aborted)
}

/// Recomputes the CRC-32C of every whole magic-2 batch (after flips, so that they reach the
/// decoders past the CRC check).
fn fix_crcs(records: &mut [u8]) {
    let mut pos = 0usize;
    while let Some(header) = records.get(pos..pos + 21) {
        let length = i32::from_be_bytes([header[8], header[9], header[10], header[11]]);
        let magic = header[16];
        let Ok(length) = usize::try_from(length) else {
            return;
        };
        let end = pos + 12 + length;
        if end > records.len() || length < 9 {
            return;
        }
        if magic == 2 {
            let crc = crc32c::crc32c(&records[pos + 21..end]);
            records[pos + 17..pos + 21].copy_from_slice(&crc.to_be_bytes());
        }
        pos = end;
    }
}

fn encode<M: Message>(message: &M, version: i16) -> Option<Vec<u8>> {
    let mut buf = BytesMut::new();
    message.encode(&mut buf, version).ok()?;
    Some(buf.to_vec())
}

fn sample<M: Message + Default>(skeleton: &[u8], version: i16) -> M {
    M::sample(&mut Unstructured::new(skeleton), version).unwrap_or_default()
}

/// The patched response, or the sampled one if the patch does not encode in `version`.
fn patched<M: Message + Default + Clone>(
    answer: &Answer,
    version: i16,
    patch: impl FnOnce(&mut M, bool),
) -> Vec<u8> {
    let sampled: M = sample(&answer.skeleton, version);
    let mut response = sampled.clone();
    patch(&mut response, answer.keep_errors <= 200);
    encode(&response, version)
        .or_else(|| encode(&sampled, version))
        .unwrap_or_default()
}

struct StructuredScript {
    api_versions: Vec<(i16, i16, i16)>,
    api_versions_mutation: Option<Mutation>,
    answers: VecDeque<Answer>,
    last_fetch_offset: i64,
}

impl StructuredScript {
    fn body(&mut self, req: &Incoming, answer: &Answer) -> Vec<u8> {
        let v = req.version;
        let dup_partition = answer.duplicate & 1 != 0;
        let dup_topic = answer.duplicate & 2 != 0;
        match ApiKey::from_code(req.api_key) {
            Some(ApiKey::Metadata) => patched(answer, v, |r: &mut MetadataResponse, clear| {
                if clear {
                    r.error_code = 0;
                }
                let nodes: Vec<i32> = r.brokers.iter().map(|b| b.node_id).collect();
                if r.topics.is_empty() {
                    r.topics.push(Default::default());
                }
                let t = &mut r.topics[0];
                t.name = Some(TOPIC.to_owned());
                if v >= 10 {
                    t.topic_id = TOPIC_ID;
                }
                if clear {
                    t.error_code = 0;
                }
                if t.partitions.is_empty() {
                    t.partitions.push(MetadataResponsePartition::default());
                }
                for (i, p) in t.partitions.iter_mut().enumerate() {
                    p.partition_index = i as i32;
                    if clear {
                        p.error_code = 0;
                    }
                    if !nodes.is_empty() {
                        p.leader_id = nodes[i % nodes.len()];
                    }
                }
                if dup_partition {
                    t.partitions.push(t.partitions[0].clone());
                }
                if dup_topic {
                    r.topics.push(r.topics[0].clone());
                }
            }),
            Some(ApiKey::ListOffsets) => {
                patched(answer, v, |r: &mut ListOffsetsResponse, clear| {
                    if r.topics.is_empty() {
                        r.topics.push(Default::default());
                    }
                    let t = &mut r.topics[0];
                    t.name = TOPIC.to_owned();
                    if t.partitions.is_empty() {
                        t.partitions.push(Default::default());
                    }
                    t.partitions[0].partition_index = 0;
                    if clear {
                        t.partitions[0].error_code = 0;
                    }
                    if dup_partition {
                        t.partitions.push(t.partitions[0].clone());
                    }
                    if dup_topic {
                        r.topics.push(r.topics[0].clone());
                    }
                })
            }
            Some(ApiKey::Fetch) => {
                let fetch_offset = req
                    .decode::<FetchRequest>()
                    .and_then(|f| Some(f.topics.first()?.partitions.first()?.fetch_offset))
                    .unwrap_or(self.last_fetch_offset);
                self.last_fetch_offset = fetch_offset;
                patched(answer, v, |r: &mut FetchResponse, clear| {
                    if clear {
                        r.error_code = 0;
                    }
                    if r.responses.is_empty() {
                        r.responses.push(Default::default());
                    }
                    let t = &mut r.responses[0];
                    if v <= 12 {
                        t.topic = TOPIC.to_owned();
                    } else {
                        t.topic_id = TOPIC_ID;
                    }
                    if t.partitions.is_empty() {
                        t.partitions.push(PartitionData::default());
                    }
                    for (i, p) in t.partitions.iter_mut().enumerate() {
                        p.partition_index = i as i32;
                        if clear {
                            p.error_code = 0;
                        }
                        match answer.partitions.get(i).filter(|_| i < MAX_PARTITIONS) {
                            Some(spec) => {
                                let (records, aborted) = build_records(spec, fetch_offset);
                                p.records = Some(records);
                                p.aborted_transactions = Some(aborted);
                            }
                            None if i == 0 => p.records = Some(Bytes::new()),
                            None => {}
                        }
                    }
                    if dup_partition {
                        t.partitions.push(t.partitions[0].clone());
                    }
                    if dup_topic {
                        r.responses.push(r.responses[0].clone());
                    }
                })
            }
            Some(ApiKey::OffsetFetch) => {
                patched(answer, v, |r: &mut OffsetFetchResponse, clear| {
                    if clear {
                        r.error_code = 0;
                    }
                    if v < 8 {
                        if r.topics.is_empty() {
                            r.topics.push(Default::default());
                        }
                        let t = &mut r.topics[0];
                        t.name = TOPIC.to_owned();
                        if t.partitions.is_empty() {
                            t.partitions.push(Default::default());
                        }
                        t.partitions[0].partition_index = 0;
                        if clear {
                            t.partitions[0].error_code = 0;
                        }
                        if dup_partition {
                            t.partitions.push(t.partitions[0].clone());
                        }
                    } else {
                        if r.groups.is_empty() {
                            r.groups.push(Default::default());
                        }
                        let g = &mut r.groups[0];
                        g.group_id = GROUP.to_owned();
                        if clear {
                            g.error_code = 0;
                        }
                        if g.topics.is_empty() {
                            g.topics.push(Default::default());
                        }
                        let t = &mut g.topics[0];
                        if v <= 9 {
                            t.name = TOPIC.to_owned();
                        } else {
                            t.topic_id = TOPIC_ID;
                        }
                        if t.partitions.is_empty() {
                            t.partitions.push(Default::default());
                        }
                        t.partitions[0].partition_index = 0;
                        if clear {
                            t.partitions[0].error_code = 0;
                        }
                        if dup_partition {
                            t.partitions.push(t.partitions[0].clone());
                        }
                    }
                })
            }
            Some(ApiKey::FindCoordinator) => {
                patched(answer, v, |r: &mut FindCoordinatorResponse, clear| {
                    if clear {
                        r.error_code = 0;
                    }
                    if v >= 4 {
                        if r.coordinators.is_empty() {
                            r.coordinators.push(Default::default());
                        }
                        r.coordinators[0].key = GROUP.to_owned();
                        if clear {
                            r.coordinators[0].error_code = 0;
                        }
                        if dup_topic {
                            r.coordinators.push(r.coordinators[0].clone());
                        }
                    }
                })
            }
            // The flows send nothing else.
            _ => Vec::new(),
        }
    }
}

impl Script for StructuredScript {
    fn answer(&mut self, req: &Incoming) -> (Action, Vec<u8>) {
        if req.api_key == ApiKey::ApiVersions.code() {
            let mut body =
                hostile::api_versions_body(0, &self.api_versions, req.version).unwrap_or_default();
            if let Some(m) = &self.api_versions_mutation {
                let encoded = body.len();
                mutate(&mut body, m, encoded);
            }
            return (Action::Answer, body);
        }
        let answer = self.answers.pop_front().unwrap_or_default();
        let mut body = self.body(req, &answer);
        let encoded = body.len();
        for m in answer.mutations.iter().take(MAX_MUTATIONS) {
            mutate(&mut body, m, encoded);
        }
        (Action::from_bytes(answer.action, answer.action_arg), body)
    }
}

fuzz_target!(|input: Input| {
    let api_versions = APIS
        .iter()
        .zip(input.versions)
        .map(|(&(api, ours), pick)| {
            let max = match pick {
                0 => ours.max,
                x => ours.min + i16::from(x - 1) % (ours.max - ours.min + 1),
            };
            (api.code(), ours.min, max)
        })
        .collect();
    let params = Params::from_parts(
        input.flags,
        input.position,
        input.until,
        input.timestamp,
        input.key_type,
    );
    let flows = hostile::Flow::list(&input.flows);
    let script = StructuredScript {
        api_versions,
        api_versions_mutation: (input.api_versions_gate > 240)
            .then_some(input.api_versions_mutation),
        answers: input.answers.into(),
        last_fetch_offset: params.position,
    };
    hostile::run(script, &flows, params);
});

//! Writes the seed inputs of the hostile-broker targets (fuzz/seeds/hostile_broker*/), then
//! runs each once through the same harness as the targets (no fuzzing, no sanitizer).
//!
//! ```sh
//! cd fuzz && cargo run --example hostile_broker_seeds
//! HOSTILE_DEBUG=1 cargo run --example hostile_broker_seeds   # and show what each seed does
//! ```
//!
//! `hostile_broker` seeds are valid answers in the input format of
//! fuzz_targets/shared/hostile_input.rs: Metadata, ListOffsets, Fetch (record batches in every
//! codec, transactional data with markers, a legacy message set), OffsetFetch and
//! FindCoordinator bodies encoded in the versions the client will pick, at our newest versions
//! and at our oldest, one after another or pipelined, plus an ApiVersions refusal that makes the
//! client retry. `hostile_broker_structured` builds valid answers itself; its seeds are a few
//! zero-filled inputs with different flags and version picks (written here), and
//! `fuzzed_records_*.bin`, inputs a fuzzing run found that fetch batches the consumer decodes
//! (not written here).

#[path = "../fuzz_targets/shared/hostile.rs"]
mod hostile;
#[path = "../fuzz_targets/shared/hostile_input.rs"]
mod hostile_input;

use std::collections::VecDeque;
use std::path::Path;

use bytes::BytesMut;
use gregor_protocol::compression::Compression;
use gregor_protocol::messages::fetch::{AbortedTransaction, FetchableTopicResponse, PartitionData};
use gregor_protocol::messages::find_coordinator::Coordinator;
use gregor_protocol::messages::list_offsets::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use gregor_protocol::messages::metadata::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use gregor_protocol::messages::offset_fetch::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use gregor_protocol::messages::{
    FetchResponse, FindCoordinatorResponse, ListOffsetsResponse, MetadataResponse,
    OffsetFetchResponse,
};
use gregor_protocol::records::{
    BatchSpec, ControlRecord, LegacySpec, NewHeader, NewRecord, encode_batch, encode_control_batch,
    encode_message_set,
};
use gregor_protocol::{ApiKey, Message};
use hostile::{APIS, Action, Flow, GROUP, Incoming, Script, TOPIC, TOPIC_ID};
use hostile_input::{Input, Writer};

/// The version the client picks for API `index` of `APIS` given `sel`, `a` of the input.
fn picked(index: usize, sel: u8, a: u8) -> i16 {
    let ours = APIS[index].1;
    match sel {
        0 => ours.max,
        2 | 3 => ours.min + i16::from(a) % (ours.max - ours.min + 1),
        _ => unreachable!("seeds use ours, one, or up to one"),
    }
}

fn encode<M: Message>(m: &M, version: i16) -> Vec<u8> {
    let mut buf = BytesMut::new();
    m.encode(&mut buf, version)
        .unwrap_or_else(|e| panic!("{} v{version}: {e}", M::NAME));
    buf.to_vec()
}

fn metadata(v: i16) -> Vec<u8> {
    encode(
        &MetadataResponse {
            brokers: vec![
                MetadataResponseBroker {
                    node_id: 1,
                    host: "localhost".to_owned(),
                    port: 9092,
                    ..Default::default()
                },
                MetadataResponseBroker {
                    node_id: 2,
                    host: "127.0.0.1".to_owned(),
                    port: 9093,
                    rack: (v >= 1).then(|| "r1".to_owned()),
                    ..Default::default()
                },
            ],
            cluster_id: (v >= 2).then(|| "cluster".to_owned()),
            controller_id: if v >= 1 { 1 } else { -1 },
            topics: vec![MetadataResponseTopic {
                name: Some(TOPIC.to_owned()),
                topic_id: if v >= 10 {
                    TOPIC_ID
                } else {
                    Default::default()
                },
                partitions: (0..2)
                    .map(|i| MetadataResponsePartition {
                        partition_index: i,
                        leader_id: 1 + i,
                        leader_epoch: if v >= 7 { 3 } else { -1 },
                        replica_nodes: vec![1, 2],
                        isr_nodes: vec![1, 2],
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        },
        v,
    )
}

fn list_offsets(v: i16) -> Vec<u8> {
    encode(
        &ListOffsetsResponse {
            topics: vec![ListOffsetsTopicResponse {
                name: TOPIC.to_owned(),
                partitions: vec![ListOffsetsPartitionResponse {
                    partition_index: 0,
                    timestamp: -1,
                    offset: 42,
                    leader_epoch: if v >= 4 { 3 } else { -1 },
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        },
        v,
    )
}

/// Record data from offset `base`: batches in every codec, a transaction aborted and one
/// committed, a compacted batch, and (for old versions) a legacy message set.
fn records(base: i64, legacy: bool) -> (Vec<u8>, Vec<AbortedTransaction>, i64) {
    let mut out = BytesMut::new();
    let headers = [
        NewHeader::new("trace", Some(b"abc")),
        NewHeader::new("dup", None),
    ];
    let value = b"gregor-seed-".repeat(20);
    let mut offset = base;
    for codec in [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let recs = [
            NewRecord::new(Some(b"k0"), Some(&value)).with_timestamp(1_700_000_000_000),
            NewRecord::new(None, Some(b"v1"))
                .with_timestamp(1_700_000_000_001)
                .with_headers(&headers),
            NewRecord::new(Some(b"k2"), None).with_timestamp(1_700_000_000_002),
        ];
        let spec = BatchSpec {
            base_offset: offset,
            partition_leader_epoch: 3,
            compression: codec,
            ..BatchSpec::default()
        };
        encode_batch(&spec, &recs, &mut out).expect("a batch");
        offset += 3;
    }
    // Producer 7 aborts one record; producer 8 commits one.
    let aborted = vec![AbortedTransaction {
        producer_id: 7,
        first_offset: offset,
        ..Default::default()
    }];
    for (producer, marker) in [(7, ControlRecord::abort(0)), (8, ControlRecord::commit(0))] {
        let spec = BatchSpec {
            base_offset: offset,
            producer_id: producer,
            producer_epoch: 0,
            base_sequence: 0,
            transactional: true,
            ..BatchSpec::default()
        };
        let rec = [NewRecord::new(Some(b"tx"), Some(b"in a transaction"))];
        encode_batch(&spec, &rec, &mut out).expect("a transactional batch");
        let marker_spec = BatchSpec {
            base_offset: offset + 1,
            ..spec
        };
        encode_control_batch(&marker_spec, &marker, 1_700_000_000_003, &mut out).expect("a marker");
        offset += 2;
    }
    // Compaction left offsets offset..offset+4 with one record, at the end.
    let spec = BatchSpec {
        base_offset: offset,
        last_offset_delta: Some(4),
        ..BatchSpec::default()
    };
    let rec = [NewRecord::new(Some(b"kept"), Some(b"v")).with_offset_delta(2)];
    encode_batch(&spec, &rec, &mut out).expect("a compacted batch");
    offset += 5;
    if legacy {
        for (magic, codec) in [(0, Compression::None), (1, Compression::Gzip)] {
            let spec = LegacySpec {
                magic,
                base_offset: offset,
                compression: codec,
                ..LegacySpec::default()
            };
            let recs = [
                NewRecord::new(Some(b"old"), Some(b"message")),
                NewRecord::new(None, None),
            ];
            encode_message_set(&spec, &recs, &mut out).expect("a message set");
            offset += 2;
        }
    }
    (out.to_vec(), aborted, offset)
}

/// A Fetch body with records from `base`, and the offset after them.
fn fetch(v: i16, base: i64) -> (Vec<u8>, i64) {
    let (records, aborted, next) = records(base, v < 10);
    let body = encode(
        &FetchResponse {
            session_id: if v >= 7 { 77 } else { 0 },
            responses: vec![FetchableTopicResponse {
                topic: if v <= 12 {
                    TOPIC.to_owned()
                } else {
                    String::new()
                },
                topic_id: if v >= 13 {
                    TOPIC_ID
                } else {
                    Default::default()
                },
                partitions: vec![PartitionData {
                    partition_index: 0,
                    high_watermark: base + 100,
                    last_stable_offset: base + 100,
                    log_start_offset: if v >= 5 { 0 } else { -1 },
                    aborted_transactions: Some(aborted),
                    records: Some(records.into()),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        },
        v,
    );
    (body, next)
}

fn offset_fetch(v: i16) -> Vec<u8> {
    let response = if v >= 8 {
        OffsetFetchResponse {
            groups: vec![OffsetFetchResponseGroup {
                group_id: GROUP.to_owned(),
                topics: vec![OffsetFetchResponseTopics {
                    name: if v <= 9 {
                        TOPIC.to_owned()
                    } else {
                        String::new()
                    },
                    topic_id: if v >= 10 {
                        TOPIC_ID
                    } else {
                        Default::default()
                    },
                    partitions: vec![OffsetFetchResponsePartitions {
                        partition_index: 0,
                        committed_offset: 17,
                        committed_leader_epoch: 3,
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }
    } else {
        OffsetFetchResponse {
            topics: vec![OffsetFetchResponseTopic {
                name: TOPIC.to_owned(),
                partitions: vec![OffsetFetchResponsePartition {
                    partition_index: 0,
                    committed_offset: 17,
                    committed_leader_epoch: if (5..=7).contains(&v) { 3 } else { -1 },
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }
    };
    encode(&response, v)
}

fn find_coordinator(v: i16) -> Vec<u8> {
    let response = if v >= 4 {
        FindCoordinatorResponse {
            coordinators: vec![Coordinator {
                key: GROUP.to_owned(),
                node_id: 2,
                host: "127.0.0.1".to_owned(),
                port: 9093,
                ..Default::default()
            }],
            ..Default::default()
        }
    } else {
        FindCoordinatorResponse {
            node_id: 2,
            host: "127.0.0.1".to_owned(),
            port: 9093,
            ..Default::default()
        }
    };
    encode(&response, v)
}

/// A valid body for `flow` with the API versions `ranges` make the client pick; a Fetch body
/// holds records from `fetched` on, and moves it past them.
fn body(flow: Flow, ranges: &[(u8, u8, u8); 6], fetched: &mut i64) -> Vec<u8> {
    let v = |i: usize| picked(i, ranges[i].0, ranges[i].1);
    match flow {
        Flow::MetadataNamed | Flow::MetadataAll => metadata(v(0)),
        Flow::ListOffsets => list_offsets(v(1)),
        Flow::Fetch => {
            let (body, next) = fetch(v(2), *fetched);
            *fetched = next;
            body
        }
        Flow::OffsetFetch => offset_fetch(v(3)),
        Flow::FindCoordinator => find_coordinator(v(4)),
    }
}

struct Seed {
    name: &'static str,
    flags: u8,
    ranges: [(u8, u8, u8); 6],
    api_versions_error: u8,
    flows: Vec<Flow>,
    /// Per answer (in flow order): (action kind, arg).
    actions: Vec<(u8, u16)>,
}

fn write_seed(seed: &Seed) -> Vec<u8> {
    let mut w = Writer::default();
    // Position 0, read to the end, ListOffsets latest (-1), group coordinator.
    w.config(seed.flags, 0, 0, u16::MAX, 0);
    w.api_versions(seed.api_versions_error, seed.ranges);
    w.flows(&seed.flows);
    let mut fetched = 0i64;
    for (i, &flow) in seed.flows.iter().enumerate() {
        let (kind, arg) = seed.actions.get(i).copied().unwrap_or((0, 0));
        w.answer(kind, arg, &body(flow, &seed.ranges, &mut fetched));
    }
    w.out
}

/// Replays answers in order, as the `hostile_broker` target does.
struct Replay(Input, VecDeque<(Action, Vec<u8>)>);

impl Script for Replay {
    fn answer(&mut self, req: &Incoming) -> (Action, Vec<u8>) {
        if req.api_key == ApiKey::ApiVersions.code() {
            return (
                self.0.api_versions_action(),
                self.0.api_versions_body(req.version),
            );
        }
        self.1.pop_front().unwrap_or((Action::Close, Vec::new()))
    }
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds");
    let newest = [(0, 0, 0); 6];
    // sel 2, a 0: our oldest version of each API.
    let oldest = [(2, 0, 0); 6];
    // sel 2: versions in the middle (Fetch v12: the last by name; Metadata v9: first flexible).
    let middle = [
        (2, 9, 0),
        (2, 5, 0),
        (2, 8, 0),
        (2, 6, 0),
        (2, 3, 0),
        (0, 0, 0),
    ];
    let all = Flow::DEFAULT.to_vec();
    let seeds = [
        Seed {
            name: "newest_versions",
            flags: 0,
            ranges: newest,
            api_versions_error: 0,
            flows: all.clone(),
            actions: vec![],
        },
        Seed {
            name: "oldest_versions",
            flags: 0,
            ranges: oldest,
            api_versions_error: 0,
            flows: all.clone(),
            actions: vec![],
        },
        Seed {
            name: "middle_versions_sessions_read_committed",
            flags: 2 | 4,
            ranges: middle,
            api_versions_error: 0,
            flows: all.clone(),
            actions: vec![],
        },
        Seed {
            name: "pipelined_out_of_order",
            flags: 1,
            ranges: newest,
            api_versions_error: 0,
            flows: all.clone(),
            // Defer the first and fourth answers, write the second in pieces.
            actions: vec![(210, 0), (180, 3), (0, 0), (210, 0)],
        },
        Seed {
            name: "slow_then_silent",
            flags: 2,
            ranges: newest,
            api_versions_error: 0,
            flows: vec![Flow::Fetch, Flow::Fetch, Flow::Fetch, Flow::MetadataNamed],
            // In 4 pieces 100 ms apart; in 2 pieces 1.2 s apart (times out); never.
            actions: vec![(180, 3 | (100 << 3)), (180, 1 | (1200 << 3)), (225, 0)],
        },
        Seed {
            name: "api_versions_refused",
            flags: 0,
            // ApiVersions not listed: UNSUPPORTED_VERSION for every version; the client gives up.
            ranges: [
                (0, 0, 0),
                (0, 0, 0),
                (0, 0, 0),
                (0, 0, 0),
                (0, 0, 0),
                (1, 0, 0),
            ],
            api_versions_error: 200,
            flows: vec![Flow::MetadataNamed],
            actions: vec![],
        },
        Seed {
            name: "api_versions_retry",
            flags: 0,
            // The broker speaks ApiVersions v2 only: it refuses v4 (in v0), then answers v2.
            ranges: [
                (0, 0, 0),
                (0, 0, 0),
                (0, 0, 0),
                (0, 0, 0),
                (0, 0, 0),
                (2, 2, 0),
            ],
            api_versions_error: 200,
            flows: vec![Flow::MetadataNamed, Flow::Fetch],
            actions: vec![],
        },
    ];
    let dir = root.join("hostile_broker");
    std::fs::create_dir_all(&dir).expect("seed directory");
    for seed in &seeds {
        let bytes = write_seed(seed);
        let input = Input::parse(&bytes);
        assert_eq!(input.flows(), seed.flows, "{}: flows round-trip", seed.name);
        std::fs::write(dir.join(format!("{}.bin", seed.name)), &bytes).expect("write seed");
        eprintln!("hostile_broker/{}.bin: {} bytes", seed.name, bytes.len());
        let answers = input
            .answers
            .iter()
            .map(|&((kind, arg), ref body)| {
                (Action::from_bytes(kind, arg), input.padded(kind, arg, body))
            })
            .collect();
        let flows = input.flows();
        let params = input.params();
        hostile::run(Replay(input, answers), &flows, params);
    }

    // The structured target's input starts with flags, position, until, timestamp, key type
    // (8 bytes), then one version pick per API; zeros elsewhere mean valid default answers.
    let dir = root.join("hostile_broker_structured");
    std::fs::create_dir_all(&dir).expect("seed directory");
    let structured: [(&str, u8, [u8; 6]); 4] = [
        ("newest", 0, [0; 6]),
        ("oldest", 0, [1; 6]),
        ("pipelined_sessions", 1 | 2, [0; 6]),
        ("middle_read_committed", 4, [10, 6, 9, 7, 4, 0]),
    ];
    for (name, flags, versions) in structured {
        let mut bytes = vec![0u8; 256];
        bytes[0] = flags;
        bytes[8..14].copy_from_slice(&versions);
        std::fs::write(dir.join(format!("{name}.bin")), &bytes).expect("write seed");
        eprintln!(
            "hostile_broker_structured/{name}.bin: {} bytes",
            bytes.len()
        );
    }
}

//! The independent oracle: every gregor message is checked against the `kafka-protocol` crate
//! (generated from Kafka 4.1's JSON schemas), in every version, on many sampled values.
//!
//! Per (type, version, case): gregor encodes a sampled value; kafka-protocol must decode those
//! bytes exactly; both values' `{:?}` output is parsed into a tree ([`debug_tree`]) and compared
//! field by field (names and values, so two swapped same-typed fields are caught); kafka-protocol
//! re-encodes and must produce gregor's bytes; gregor decodes those and must get its value back.
//! The version ranges must also match. Headers get the same treatment.
//!
//! Run with `cargo test -p gregor-protocol --test oracle -- --nocapture` to see the counts.
//! To add a pair, uncomment (or add) its line in the `oracle!` invocation below. A field-name
//! difference that is only spelling goes in [`RENAMES`]; any other difference is a finding.

#[path = "oracle/debug_tree.rs"]
mod debug_tree;
#[path = "oracle/debug_tree_tests.rs"]
mod debug_tree_tests;

use std::fmt::Debug;
use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicUsize, Ordering};

use arbitrary::Unstructured;
use bytes::{Bytes, BytesMut};
use debug_tree::{Node, diff, parse};
use gregor_protocol::header::{RequestHeader, ResponseHeader};
use gregor_protocol::primitives::{RawTaggedField, UnknownTaggedFields, ensure_consumed};
use gregor_protocol::{DecodeError, EncodeError, Message};
use kafka_protocol::protocol::{Decodable, Encodable, Message as OracleMessage};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};

/// Accepted cases per test; every case is checked in every version.
const MIN_CASES: u32 = 64;

/// Field names that differ only in spelling: (gregor struct or any, gregor field, oracle field).
/// Anything not listed here must have the same name on both sides.
const RENAMES: &[(Option<&str>, &str, &str)] = &[
    // Rust keywords: gregor uses `r#type` (Debug prints `type`), kafka-protocol `_type`.
    (None, "type", "_type"),
    (None, "match", "_match"),
];

/// Fields kafka-protocol 0.18 generates from versions Kafka 4.1 still marks unstable (beyond the
/// `VERSIONS` both sides declare), so no version either side speaks carries them on the wire:
/// (oracle struct, field). They are dropped from the oracle's tree before comparing.
const ORACLE_ONLY_UNSTABLE: &[(&str, &str)] = &[
    // InitProducerId v6 (KIP-939, two-phase commit) is unstable in 4.1; the request stops at v5.
    ("InitProducerIdRequest", "enable_2_pc"),
    ("InitProducerIdRequest", "keep_prepared_txn"),
    // OffsetCommit / OffsetFetch request v10 (topic ids) is unstable in 4.1; requests stop at v9.
    ("OffsetCommitRequestTopic", "topic_id"),
    ("OffsetFetchRequestTopics", "topic_id"),
];

/// Drops [`ORACLE_ONLY_UNSTABLE`] fields from the oracle's tree.
fn normalize_oracle(node: Node) -> Node {
    match node {
        Node::Struct(name, fields) => {
            let fields = fields
                .into_iter()
                .filter(|(field, _)| {
                    !ORACLE_ONLY_UNSTABLE.contains(&(name.as_str(), field.as_str()))
                })
                .map(|(field, value)| (field, normalize_oracle(value)))
                .collect();
            Node::Struct(name, fields)
        }
        Node::List(items) => Node::List(items.into_iter().map(normalize_oracle).collect()),
        Node::Some(inner) => Node::Some(Box::new(normalize_oracle(*inner))),
        other => other,
    }
}

/// Maps gregor's tree onto the oracle's conventions: renames, and unknown tagged fields as a
/// `{tag: data}` map (gregor's `UnknownTaggedFields([RawTaggedField { tag, data }])`, a list once
/// the newtype is unwrapped). kafka-protocol 0.18 keeps every schema array a `Vec` (no keyed
/// maps), so no other shape change is needed.
fn normalize_gregor(node: Node) -> Node {
    match node {
        Node::Struct(name, fields) => {
            let fields = fields
                .into_iter()
                .map(|(field, value)| {
                    let mut value = normalize_gregor(value);
                    if field == "unknown_tagged_fields" {
                        value = tags_as_map(value);
                    }
                    let renamed = RENAMES
                        .iter()
                        .find(|(s, g, _)| *g == field && s.is_none_or(|s| s == name))
                        .map_or(field, |(_, _, k)| (*k).to_owned());
                    (renamed, value)
                })
                .collect();
            Node::Struct(name, fields)
        }
        Node::List(items) => Node::List(items.into_iter().map(normalize_gregor).collect()),
        Node::Map(pairs) => Node::Map(
            pairs
                .into_iter()
                .map(|(k, v)| (normalize_gregor(k), normalize_gregor(v)))
                .collect(),
        ),
        Node::Some(inner) => Node::Some(Box::new(normalize_gregor(*inner))),
        other => other,
    }
}

/// `[RawTaggedField { tag, data }, ..]` → `{tag: data, ..}`, keeping the order.
fn tags_as_map(node: Node) -> Node {
    let Node::List(items) = node else { return node };
    Node::Map(
        items
            .into_iter()
            .map(|item| match item {
                Node::Struct(_, f) if f.len() == 2 && f[0].0 == "tag" && f[1].0 == "data" => {
                    let mut f = f.into_iter().map(|(_, v)| v);
                    let tag = f.next().unwrap_or(Node::Atom(String::new()));
                    (tag, f.next().unwrap_or(Node::Atom(String::new())))
                }
                other => (other, Node::Atom("<not a RawTaggedField>".into())),
            })
            .collect(),
    )
}

/// How to encode and decode one gregor type (messages and headers have different APIs).
struct Gregor<G> {
    encode: fn(&G, &mut BytesMut, i16) -> Result<(), EncodeError>,
    decode_exact: fn(Bytes, i16) -> Result<G, DecodeError>,
}

/// One cross-check of `value` in `version` against oracle type `K`, both directions.
fn cross_check<G, K>(value: &G, version: i16, gregor: &Gregor<G>) -> Result<(), String>
where
    G: Debug + PartialEq,
    K: Encodable + Decodable + Debug,
{
    let mut ours = BytesMut::new();
    (gregor.encode)(value, &mut ours, version).map_err(|e| format!("gregor encode: {e}"))?;
    let ours = ours.freeze();
    let mut cursor = ours.clone();
    let theirs = K::decode(&mut cursor, version)
        .map_err(|e| format!("oracle cannot decode gregor's bytes: {e:#}\n  bytes: {ours:?}"))?;
    if !cursor.is_empty() {
        return Err(format!(
            "oracle left {} of {} bytes unread",
            cursor.len(),
            ours.len()
        ));
    }
    let (g_text, k_text) = (format!("{value:?}"), format!("{theirs:?}"));
    let g_tree = normalize_gregor(parse(&g_text)?);
    diff(&g_tree, &normalize_oracle(parse(&k_text)?), "")
        .map_err(|e| format!("fields differ at {e}\n  gregor: {g_text}\n  oracle: {k_text}"))?;
    let mut again = BytesMut::new();
    theirs
        .encode(&mut again, version)
        .map_err(|e| format!("oracle re-encode: {e:#}"))?;
    if again != ours {
        return Err(format!(
            "oracle bytes differ\n  gregor: {ours:?}\n  oracle: {again:?}"
        ));
    }
    let back = (gregor.decode_exact)(again.freeze(), version)
        .map_err(|e| format!("gregor cannot decode the oracle's bytes: {e}"))?;
    if &back != value {
        return Err(format!(
            "reverse decode differs\n  sent: {value:?}\n  back: {back:?}"
        ));
    }
    Ok(())
}

/// Runs `case` on at least [`MIN_CASES`] generated inputs; `case` checks every version of
/// `versions` and may reject an input with `TestCaseError::reject`. Panics with the first
/// failure (shrunk); on success reports the check count.
fn run_cases<S: Strategy>(
    test: &str,
    versions: RangeInclusive<i16>,
    strategy: S,
    case: impl Fn(&S::Value, i16) -> Result<(), TestCaseError>,
) where
    S::Value: Debug,
{
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .map_or(MIN_CASES, |c: u32| c.max(MIN_CASES));
    let accepted = AtomicUsize::new(0);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&strategy, |input| {
        versions.clone().try_for_each(|v| case(&input, v))?;
        accepted.fetch_add(1, Ordering::SeqCst);
        Ok(())
    });
    match result {
        Ok(()) => {}
        Err(TestError::Fail(why, input)) => {
            panic!("{test}: {why}\n  minimal input: {input:?}")
        }
        Err(TestError::Abort(why)) => panic!("{test}: aborted: {why}"),
    }
    let accepted = accepted.into_inner();
    assert!(
        accepted >= MIN_CASES as usize,
        "{test}: only {accepted} cases accepted"
    );
    let n = accepted * versions.clone().count();
    println!(
        "oracle {test}: {n} cross-checks (v{}..=v{} x {accepted} cases)",
        versions.start(),
        versions.end()
    );
    CHECKS.fetch_add(n, Ordering::SeqCst);
    if FINISHED.fetch_add(1, Ordering::SeqCst) + 1 == ORACLE_TESTS {
        let total = CHECKS.load(Ordering::SeqCst);
        println!(
            "oracle TOTAL: {total} (type, version, case) cross-checks in {ORACLE_TESTS} tests"
        );
    }
}

static CHECKS: AtomicUsize = AtomicUsize::new(0);
static FINISHED: AtomicUsize = AtomicUsize::new(0);
/// Oracle tests: the message pairs plus the two header tests.
const ORACLE_TESTS: usize = PAIR_TESTS + 2;

/// Cross-checks gregor message `M` against oracle message `K` in all versions.
fn run_pair<M, K>(test: &str)
where
    M: Message + Debug + PartialEq,
    K: OracleMessage + Encodable + Decodable + Debug,
{
    let ours = (M::VERSIONS.min, M::VERSIONS.max);
    let theirs = (K::VERSIONS.min, K::VERSIONS.max);
    assert_eq!(
        ours,
        theirs,
        "{}: gregor versions vs oracle versions",
        M::NAME
    );
    let gregor = Gregor {
        encode: |m: &M, buf, v| m.encode(buf, v),
        decode_exact: M::decode_exact,
    };
    let seeds = proptest::collection::vec(any::<u8>(), 32..1024);
    run_cases(test, M::VERSIONS.min..=M::VERSIONS.max, seeds, |seed, v| {
        let msg = M::sample(&mut Unstructured::new(seed), v)
            .map_err(|e| TestCaseError::reject(format!("seed too short: {e}")))?;
        cross_check::<M, K>(&msg, v, &gregor)
            .map_err(|e| TestCaseError::fail(format!("{} v{v}: {e}", M::NAME)))
    })
}

/// One `#[test]` per (test name => (gregor type, kafka-protocol type)) pair.
macro_rules! oracle {
    ($($test:ident => ($gregor:ty, $oracle:ty)),* $(,)?) => {
        /// How many message pairs are checked.
        const PAIR_TESTS: usize = 0 $(+ { let _ = stringify!($test); 1 })*;
        $(
            #[test]
            fn $test() {
                run_pair::<$gregor, $oracle>(stringify!($test));
            }
        )*
    };
}

// To add a pair: uncomment (or write) its line once the gregor type exists.
oracle! {
    api_versions_request => (gregor_protocol::messages::ApiVersionsRequest, kafka_protocol::messages::ApiVersionsRequest),
    api_versions_response => (gregor_protocol::messages::ApiVersionsResponse, kafka_protocol::messages::ApiVersionsResponse),
    metadata_request => (gregor_protocol::messages::MetadataRequest, kafka_protocol::messages::MetadataRequest),
    metadata_response => (gregor_protocol::messages::MetadataResponse, kafka_protocol::messages::MetadataResponse),
    fetch_request => (gregor_protocol::messages::FetchRequest, kafka_protocol::messages::FetchRequest),
    fetch_response => (gregor_protocol::messages::FetchResponse, kafka_protocol::messages::FetchResponse),
    list_offsets_request => (gregor_protocol::messages::ListOffsetsRequest, kafka_protocol::messages::ListOffsetsRequest),
    list_offsets_response => (gregor_protocol::messages::ListOffsetsResponse, kafka_protocol::messages::ListOffsetsResponse),
    offset_for_leader_epoch_request => (gregor_protocol::messages::OffsetForLeaderEpochRequest, kafka_protocol::messages::OffsetForLeaderEpochRequest),
    offset_for_leader_epoch_response => (gregor_protocol::messages::OffsetForLeaderEpochResponse, kafka_protocol::messages::OffsetForLeaderEpochResponse),
    find_coordinator_request => (gregor_protocol::messages::FindCoordinatorRequest, kafka_protocol::messages::FindCoordinatorRequest),
    find_coordinator_response => (gregor_protocol::messages::FindCoordinatorResponse, kafka_protocol::messages::FindCoordinatorResponse),
    join_group_request => (gregor_protocol::messages::JoinGroupRequest, kafka_protocol::messages::JoinGroupRequest),
    join_group_response => (gregor_protocol::messages::JoinGroupResponse, kafka_protocol::messages::JoinGroupResponse),
    sync_group_request => (gregor_protocol::messages::SyncGroupRequest, kafka_protocol::messages::SyncGroupRequest),
    sync_group_response => (gregor_protocol::messages::SyncGroupResponse, kafka_protocol::messages::SyncGroupResponse),
    heartbeat_request => (gregor_protocol::messages::HeartbeatRequest, kafka_protocol::messages::HeartbeatRequest),
    heartbeat_response => (gregor_protocol::messages::HeartbeatResponse, kafka_protocol::messages::HeartbeatResponse),
    leave_group_request => (gregor_protocol::messages::LeaveGroupRequest, kafka_protocol::messages::LeaveGroupRequest),
    leave_group_response => (gregor_protocol::messages::LeaveGroupResponse, kafka_protocol::messages::LeaveGroupResponse),
    offset_commit_request => (gregor_protocol::messages::OffsetCommitRequest, kafka_protocol::messages::OffsetCommitRequest),
    offset_commit_response => (gregor_protocol::messages::OffsetCommitResponse, kafka_protocol::messages::OffsetCommitResponse),
    offset_fetch_request => (gregor_protocol::messages::OffsetFetchRequest, kafka_protocol::messages::OffsetFetchRequest),
    offset_fetch_response => (gregor_protocol::messages::OffsetFetchResponse, kafka_protocol::messages::OffsetFetchResponse),
    describe_groups_request => (gregor_protocol::messages::DescribeGroupsRequest, kafka_protocol::messages::DescribeGroupsRequest),
    describe_groups_response => (gregor_protocol::messages::DescribeGroupsResponse, kafka_protocol::messages::DescribeGroupsResponse),
    list_groups_request => (gregor_protocol::messages::ListGroupsRequest, kafka_protocol::messages::ListGroupsRequest),
    list_groups_response => (gregor_protocol::messages::ListGroupsResponse, kafka_protocol::messages::ListGroupsResponse),
    consumer_group_heartbeat_request => (gregor_protocol::messages::ConsumerGroupHeartbeatRequest, kafka_protocol::messages::ConsumerGroupHeartbeatRequest),
    consumer_group_heartbeat_response => (gregor_protocol::messages::ConsumerGroupHeartbeatResponse, kafka_protocol::messages::ConsumerGroupHeartbeatResponse),
    consumer_group_describe_request => (gregor_protocol::messages::ConsumerGroupDescribeRequest, kafka_protocol::messages::ConsumerGroupDescribeRequest),
    consumer_group_describe_response => (gregor_protocol::messages::ConsumerGroupDescribeResponse, kafka_protocol::messages::ConsumerGroupDescribeResponse),
    produce_request => (gregor_protocol::messages::ProduceRequest, kafka_protocol::messages::ProduceRequest),
    produce_response => (gregor_protocol::messages::ProduceResponse, kafka_protocol::messages::ProduceResponse),
    init_producer_id_request => (gregor_protocol::messages::InitProducerIdRequest, kafka_protocol::messages::InitProducerIdRequest),
    init_producer_id_response => (gregor_protocol::messages::InitProducerIdResponse, kafka_protocol::messages::InitProducerIdResponse),
    create_topics_request => (gregor_protocol::messages::CreateTopicsRequest, kafka_protocol::messages::CreateTopicsRequest),
    create_topics_response => (gregor_protocol::messages::CreateTopicsResponse, kafka_protocol::messages::CreateTopicsResponse),
    delete_topics_request => (gregor_protocol::messages::DeleteTopicsRequest, kafka_protocol::messages::DeleteTopicsRequest),
    delete_topics_response => (gregor_protocol::messages::DeleteTopicsResponse, kafka_protocol::messages::DeleteTopicsResponse),
    create_partitions_request => (gregor_protocol::messages::CreatePartitionsRequest, kafka_protocol::messages::CreatePartitionsRequest),
    create_partitions_response => (gregor_protocol::messages::CreatePartitionsResponse, kafka_protocol::messages::CreatePartitionsResponse),
    delete_records_request => (gregor_protocol::messages::DeleteRecordsRequest, kafka_protocol::messages::DeleteRecordsRequest),
    delete_records_response => (gregor_protocol::messages::DeleteRecordsResponse, kafka_protocol::messages::DeleteRecordsResponse),
    sasl_handshake_request => (gregor_protocol::messages::SaslHandshakeRequest, kafka_protocol::messages::SaslHandshakeRequest),
    sasl_handshake_response => (gregor_protocol::messages::SaslHandshakeResponse, kafka_protocol::messages::SaslHandshakeResponse),
    sasl_authenticate_request => (gregor_protocol::messages::SaslAuthenticateRequest, kafka_protocol::messages::SaslAuthenticateRequest),
    sasl_authenticate_response => (gregor_protocol::messages::SaslAuthenticateResponse, kafka_protocol::messages::SaslAuthenticateResponse),
    consumer_protocol_subscription => (gregor_protocol::messages::ConsumerProtocolSubscription, kafka_protocol::messages::ConsumerProtocolSubscription),
    consumer_protocol_assignment => (gregor_protocol::messages::ConsumerProtocolAssignment, kafka_protocol::messages::ConsumerProtocolAssignment),
}

/// Zero to `max` unknown tagged fields with distinct ascending tags.
fn tagged(max: usize) -> impl Strategy<Value = UnknownTaggedFields> {
    let data = proptest::collection::vec(any::<u8>(), 0..8);
    proptest::collection::btree_map(0u32..100_000, data, 0..=max).prop_map(|m| {
        let raw = m.into_iter().map(|(tag, data)| RawTaggedField {
            tag,
            data: Bytes::from(data),
        });
        UnknownTaggedFields(raw.collect())
    })
}

/// Keeps tagged fields only in a flexible header version.
fn classic_without_tags(tags: &UnknownTaggedFields, flexible: bool) -> UnknownTaggedFields {
    if flexible {
        tags.clone()
    } else {
        UnknownTaggedFields::default()
    }
}

#[test]
fn request_header() {
    type K = kafka_protocol::messages::RequestHeader;
    assert_eq!(
        (K::VERSIONS.min, K::VERSIONS.max),
        (1, 2),
        "oracle RequestHeader versions"
    );
    let h = RequestHeader::default();
    for v in [0, 3] {
        assert!(
            h.encode(&mut BytesMut::new(), v).is_err(),
            "gregor RequestHeader v{v}"
        );
    }
    let gregor = Gregor {
        encode: RequestHeader::encode,
        decode_exact: |mut buf, v| {
            let h = RequestHeader::decode(&mut buf, v)?;
            ensure_consumed(&buf, "RequestHeader").map(|()| h)
        },
    };
    // Arbitrary Unicode client ids exercise the Debug parser's string escapes too.
    let fields = (
        any::<[i16; 2]>(),
        any::<i32>(),
        proptest::option::of(".{0,12}"),
        tagged(3),
    );
    run_cases(
        "request_header",
        1..=2,
        fields,
        |(key_ver, corr, client, tags), v| {
            let header = RequestHeader {
                request_api_key: key_ver[0],
                request_api_version: key_ver[1],
                correlation_id: *corr,
                client_id: client.clone(),
                unknown_tagged_fields: classic_without_tags(tags, v == 2),
            };
            cross_check::<_, K>(&header, v, &gregor)
                .map_err(|e| TestCaseError::fail(format!("v{v}: {e}")))
        },
    )
}

#[test]
fn response_header() {
    type K = kafka_protocol::messages::ResponseHeader;
    assert_eq!(
        (K::VERSIONS.min, K::VERSIONS.max),
        (0, 1),
        "oracle ResponseHeader versions"
    );
    let h = ResponseHeader::default();
    for v in [-1, 2] {
        assert!(
            h.encode(&mut BytesMut::new(), v).is_err(),
            "gregor ResponseHeader v{v}"
        );
    }
    let gregor = Gregor {
        encode: ResponseHeader::encode,
        decode_exact: |mut buf, v| {
            let h = ResponseHeader::decode(&mut buf, v)?;
            ensure_consumed(&buf, "ResponseHeader").map(|()| h)
        },
    };
    run_cases(
        "response_header",
        0..=1,
        (any::<i32>(), tagged(3)),
        |(corr, tags), v| {
            let header = ResponseHeader {
                correlation_id: *corr,
                unknown_tagged_fields: classic_without_tags(tags, v == 1),
            };
            cross_check::<_, K>(&header, v, &gregor)
                .map_err(|e| TestCaseError::fail(format!("v{v}: {e}")))
        },
    )
}

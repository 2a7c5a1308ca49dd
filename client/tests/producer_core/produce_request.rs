//! Building Produce requests from drained batches and matching responses back, end to end.

use bytes::{Bytes, BytesMut};
use gregor_client::producer::{
    Accumulator, BatchDecision, Idempotence, LeaderHint, PartitionOutcome, ProduceRequestError,
    ProducerBatch, ProducerIdentity, RecordError, build_produce_request, match_produce_response,
    non_idempotent_decision,
};
use gregor_protocol::messages::produce::{
    BatchIndexAndErrorMessage, LeaderIdAndEpoch, PartitionProduceResponse, ProduceRequest,
    ProduceResponse, TopicProduceResponse,
};
use gregor_protocol::primitives::Uuid;
use gregor_protocol::records::{DecodeOptions, batches};
use gregor_protocol::{ErrorCode, Message};

use super::{append_n, config, leaders, led_by_1, record, t0, tp};

fn topic_ids(topic: &str) -> Option<Uuid> {
    match topic {
        "t" => Some(Uuid([1; 16])),
        "u" => Some(Uuid([2; 16])),
        _ => None,
    }
}

/// Three partitions of "t" and "u" with 2, 3 and 1 records, drained for broker 1.
fn drained(idem: Option<&mut Idempotence>) -> Vec<ProducerBatch<usize>> {
    let now = t0();
    let mut acc = Accumulator::new(config());
    let parts = [tp("t", 0), tp("u", 4), tp("t", 2)];
    append_n(&mut acc, &parts[0], 0, 2, 20, now);
    append_n(&mut acc, &parts[1], 10, 3, 20, now);
    append_n(&mut acc, &parts[2], 20, 1, 20, now);
    let mut d = acc.drain(&leaders(&[(1, &parts)]), 1_000_000, now, idem);
    d.batches.remove(&1).expect("drained")
}

/// Encodes and decodes `req` in `version`, as it would cross the wire.
fn wire(req: &ProduceRequest, version: i16) -> ProduceRequest {
    let mut buf = BytesMut::new();
    req.encode(&mut buf, version).expect("encode");
    ProduceRequest::decode_exact(buf.freeze(), version).expect("decode")
}

fn partition(index: i32, error: ErrorCode, base_offset: i64) -> PartitionProduceResponse {
    PartitionProduceResponse {
        index,
        error_code: error.code(),
        base_offset,
        log_append_time_ms: -1,
        log_start_offset: 0,
        record_errors: vec![],
        error_message: None,
        current_leader: LeaderIdAndEpoch {
            leader_id: -1,
            leader_epoch: -1,
            unknown_tagged_fields: Default::default(),
        },
        unknown_tagged_fields: Default::default(),
    }
}

fn topic(name: &str, id: Uuid, partitions: Vec<PartitionProduceResponse>) -> TopicProduceResponse {
    TopicProduceResponse {
        name: name.into(),
        topic_id: id,
        partition_responses: partitions,
        unknown_tagged_fields: Default::default(),
    }
}

fn response(topics: Vec<TopicProduceResponse>) -> ProduceResponse {
    ProduceResponse {
        responses: topics,
        throttle_time_ms: 0,
        node_endpoints: vec![],
        unknown_tagged_fields: Default::default(),
    }
}

#[test]
fn request_groups_partitions_by_topic_and_carries_the_batches() {
    let sent = drained(None);
    for version in [3, 8, 9, 12] {
        let req = build_produce_request(version, -1, 30_000, &sent, |_| None).expect("build");
        let req = wire(&req, version);
        assert_eq!(
            (req.transactional_id.as_deref(), req.acks, req.timeout_ms),
            (None, -1, 30_000)
        );
        let names: Vec<&str> = req.topic_data.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["t", "u"], "v{version}: topics in first-seen order");
        let t: Vec<i32> = req.topic_data[0]
            .partition_data
            .iter()
            .map(|p| p.index)
            .collect();
        assert_eq!(t, [0, 2]);
        // The records bytes are the drained batches, and decode to what was appended.
        let data = &req.topic_data[1].partition_data[0];
        assert_eq!(data.index, 4);
        let records = data.records.clone().expect("records");
        assert_eq!(Some(&records), sent[1].encoded());
        let batch = batches(records, &DecodeOptions::default())
            .next()
            .expect("batch")
            .expect("valid");
        let got: Vec<_> = batch.records().collect::<Result<_, _>>().expect("records");
        assert_eq!(got.len(), 3);
        for (i, r) in got.iter().enumerate() {
            let want = record(10 + i, 20);
            assert_eq!((r.offset, r.timestamp), (i as i64, want.timestamp_ms));
            assert_eq!((&r.key, &r.value), (&want.key, &want.value));
        }
    }
}

#[test]
fn version_13_names_topics_by_id() {
    let sent = drained(None);
    let req = build_produce_request(13, 1, 5_000, &sent, topic_ids).expect("build");
    let req = wire(&req, 13);
    let ids: Vec<Uuid> = req.topic_data.iter().map(|t| t.topic_id).collect();
    assert_eq!(ids, [Uuid([1; 16]), Uuid([2; 16])]);
    let err = build_produce_request(13, 1, 5_000, &sent, |t| (t == "t").then_some(Uuid([1; 16])))
        .expect_err("no id for u");
    assert_eq!(
        err,
        ProduceRequestError::MissingTopicId { topic: "u".into() }
    );
    // Before v13 no id is needed.
    assert!(build_produce_request(12, 1, 5_000, &sent, |_| None).is_ok());
}

#[test]
fn undrained_batches_cannot_be_sent() {
    let mut acc = Accumulator::new(config());
    acc.append(&tp("t", 0), record(0, 1), 0, t0())
        .expect("append");
    let queued = acc.abort_all();
    let err = build_produce_request(9, 1, 5_000, &queued, |_| None).expect_err("not encoded");
    assert_eq!(err, ProduceRequestError::NotEncoded { tp: "t-0".into() });
}

#[test]
fn response_maps_back_to_each_batch() {
    let sent = drained(None);
    let mut t2 = partition(2, ErrorCode::NotLeaderOrFollower, -1);
    t2.current_leader.leader_id = 7;
    t2.current_leader.leader_epoch = 12;
    let mut u4 = partition(4, ErrorCode::InvalidRecord, -1);
    u4.record_errors = vec![BatchIndexAndErrorMessage {
        batch_index: 1,
        batch_index_error_message: Some("bad".into()),
        unknown_tagged_fields: Default::default(),
    }];
    u4.error_message = Some("one bad record".into());
    for version in [10, 13] {
        // Up to v12 topics are named; from v13 identified.
        let named = |name: &str, id: u8| match version {
            13 => (String::new(), Uuid([id; 16])),
            _ => (name.to_string(), Uuid::ZERO),
        };
        let (u_name, u_id) = named("u", 2);
        let (t_name, t_id) = named("t", 1);
        let resp = response(vec![
            topic(&u_name, u_id, vec![u4.clone()]),
            topic(
                &t_name,
                t_id,
                vec![t2.clone(), partition(0, ErrorCode::None, 500)],
            ),
        ]);
        let mut buf = BytesMut::new();
        resp.encode(&mut buf, version).expect("encode");
        let resp = ProduceResponse::decode_exact(buf.freeze(), version).expect("decode");
        let outcomes = match_produce_response(version, &sent, &resp, topic_ids);
        let [Some(t0), Some(u4), Some(t2)] = &outcomes[..] else {
            panic!("v{version}: every batch has an outcome: {outcomes:?}");
        };
        assert_eq!(
            (t0.error, t0.base_offset, t0.log_start_offset),
            (ErrorCode::None, 500, 0)
        );
        assert_eq!(t0.current_leader, None);
        assert_eq!(u4.error, ErrorCode::InvalidRecord);
        assert_eq!(
            u4.record_errors,
            [RecordError {
                batch_index: 1,
                message: Some("bad".into())
            }]
        );
        assert_eq!(u4.error_message.as_deref(), Some("one bad record"));
        assert_eq!(
            t2.current_leader,
            Some(LeaderHint {
                leader_id: 7,
                leader_epoch: 12
            })
        );
        assert_eq!(non_idempotent_decision(t2.error), BatchDecision::Retry);
    }
    // A partition the broker left out has no outcome.
    let partial = response(vec![topic(
        "t",
        Uuid::ZERO,
        vec![partition(0, ErrorCode::None, 1)],
    )]);
    let outcomes = match_produce_response(9, &sent, &partial, |_| None);
    assert!(outcomes[0].is_some());
    assert!(outcomes[1].is_none() && outcomes[2].is_none());
}

#[test]
fn idempotent_round_trip_resolves_offsets() {
    let now = t0();
    let mut idem = Idempotence::new(5);
    idem.set_identity(ProducerIdentity {
        producer_id: 9,
        epoch: 3,
    });
    let mut acc = Accumulator::new(config());
    let a = tp("t", 0);
    append_n(&mut acc, &a, 0, 4, 10, now);
    let mut d = acc.drain(&led_by_1(&a), 1_000_000, now, Some(&mut idem));
    let sent = d.batches.remove(&1).expect("drained");
    let req = wire(
        &build_produce_request(11, -1, 30_000, &sent, |_| None).expect("build"),
        11,
    );
    let records: Bytes = req.topic_data[0].partition_data[0]
        .records
        .clone()
        .expect("records");
    let batch = batches(records, &DecodeOptions::default())
        .next()
        .expect("batch")
        .expect("valid");
    assert_eq!((batch.producer_id(), batch.producer_epoch()), (9, 3));
    assert_eq!(batch.header().map(|h| h.base_sequence), Some(0));

    let resp = response(vec![topic(
        "t",
        Uuid::ZERO,
        vec![partition(0, ErrorCode::None, 1_000)],
    )]);
    let outcomes = match_produce_response(11, &sent, &resp, |_| None);
    let mut resolved = Vec::new();
    for (batch, outcome) in sent.into_iter().zip(outcomes) {
        let outcome: PartitionOutcome = outcome.expect("outcome");
        let seq = batch.sequence().expect("sequenced");
        assert_eq!(
            idem.on_response(&a, &seq, &outcome),
            BatchDecision::Complete { duplicate: false }
        );
        let p = batch.topic_partition().partition;
        for (i, token) in acc.release(batch).into_iter().enumerate() {
            resolved.push((token, p, outcome.base_offset + i as i64));
        }
    }
    assert_eq!(
        resolved,
        [(0, 0, 1_000), (1, 0, 1_001), (2, 0, 1_002), (3, 0, 1_003)]
    );
    assert_eq!(acc.buffered_bytes(), 0);
    assert_eq!(idem.next_sequence(&a), 4);
}

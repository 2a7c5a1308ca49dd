//! Idempotence: sequence numbers, in-flight limits, retries and resets, through the
//! accumulator's drain.

use std::collections::BTreeMap;
use std::time::Instant;

use gregor_client::TopicPartition;
use gregor_client::producer::idempotence::increment_sequence;
use gregor_client::producer::{
    Accumulator, AccumulatorConfig, BatchDecision, BatchSequence, Idempotence, IdentityChange,
    PartitionOutcome, ProducerBatch, ProducerIdentity, non_idempotent_decision,
};
use gregor_protocol::ErrorCode;
use gregor_protocol::messages::init_producer_id::InitProducerIdResponse;

use super::{append_n, config, decode_one, led_by_1, ms, t0, tp};

const PID: i64 = 4_000;

fn identity(epoch: i16) -> ProducerIdentity {
    ProducerIdentity {
        producer_id: PID,
        epoch,
    }
}

fn idempotent() -> Idempotence {
    let mut idem = Idempotence::new(5);
    idem.set_identity(identity(0));
    idem
}

/// Small batches: 3 records of 100 bytes fill one (61 + 3 * 111 < 400 < 61 + 4 * 111).
fn small_batches() -> Accumulator<usize> {
    Accumulator::new(AccumulatorConfig {
        batch_size: 400,
        ..config()
    })
}

/// Drains one batch for `tp` (led by broker 1), if it may go.
fn drain_one(
    acc: &mut Accumulator<usize>,
    idem: &mut Idempotence,
    tp: &TopicPartition,
    now: Instant,
) -> Option<ProducerBatch<usize>> {
    let map: BTreeMap<i32, Vec<TopicPartition>> = led_by_1(tp);
    let mut drained = acc.drain(&map, 1_000_000, now, Some(idem));
    assert!(drained.failed.is_empty());
    drained.batches.remove(&1).map(|mut v| {
        assert_eq!(v.len(), 1);
        v.remove(0)
    })
}

fn seq(batch: &ProducerBatch<usize>) -> BatchSequence {
    batch
        .sequence()
        .expect("idempotent batches carry a sequence")
}

/// The producer fields of the encoded batch: (producer id, epoch, base sequence).
fn wire_fields(batch: &ProducerBatch<usize>) -> (i64, i16, i32) {
    let (decoded, _) = decode_one(batch);
    let header = decoded.header().expect("magic 2");
    (
        header.producer_id,
        header.producer_epoch,
        header.base_sequence,
    )
}

fn respond(
    idem: &mut Idempotence,
    batch: &ProducerBatch<usize>,
    error: ErrorCode,
    base_offset: i64,
) -> BatchDecision {
    idem.on_response(
        batch.topic_partition(),
        &seq(batch),
        &PartitionOutcome::error(error, base_offset),
    )
}

#[test]
fn sequences_count_records_per_partition() {
    let now = t0();
    let (mut acc, mut idem) = (small_batches(), idempotent());
    let (a, b) = (tp("t", 0), tp("t", 1));
    append_n(&mut acc, &a, 0, 5, 100, now); // batches of 3 and 2
    append_n(&mut acc, &b, 10, 2, 100, now);
    let a1 = drain_one(&mut acc, &mut idem, &a, now).expect("a1");
    let b1 = drain_one(&mut acc, &mut idem, &b, now).expect("b1");
    assert_eq!(
        respond(&mut idem, &a1, ErrorCode::None, 0),
        BatchDecision::Complete { duplicate: false }
    );
    let a2 = drain_one(&mut acc, &mut idem, &a, now).expect("a2");
    assert_eq!(wire_fields(&a1), (PID, 0, 0));
    assert_eq!(
        wire_fields(&b1),
        (PID, 0, 0),
        "each partition counts on its own"
    );
    assert_eq!(wire_fields(&a2), (PID, 0, 3));
    assert_eq!(
        seq(&a2),
        BatchSequence {
            producer_id: PID,
            epoch: 0,
            base_sequence: 3,
            record_count: 2
        }
    );
    assert_eq!(idem.next_sequence(&a), 5);
    assert_eq!(idem.in_flight(), 2);
    assert_eq!(idem.in_flight_for(&a), 1);
}

#[test]
fn sequence_numbers_wrap_to_zero() {
    assert_eq!(increment_sequence(i32::MAX, 1), 0);
    assert_eq!(increment_sequence(i32::MAX - 2, 5), 2);
    assert_eq!(increment_sequence(7, 3), 10);
    let mut idem = idempotent();
    let a = tp("t", 0);
    let big = idem
        .prepare_send(&a, None, i32::MAX as usize)
        .expect("send");
    assert_eq!((big.base_sequence, big.next_sequence()), (0, i32::MAX));
    let outcome = PartitionOutcome::success(0);
    assert_eq!(
        idem.on_response(&a, &big, &outcome),
        BatchDecision::Complete { duplicate: false }
    );
    let last = idem.prepare_send(&a, None, 3).expect("send");
    assert_eq!(last.base_sequence, i32::MAX);
    assert_eq!(idem.next_sequence(&a), 2, "MAX, 0, 1 used; 2 is next");
    assert_eq!(
        idem.on_response(&a, &last, &outcome),
        BatchDecision::Complete { duplicate: false }
    );
    assert_eq!(
        idem.prepare_send(&a, None, 1).map(|s| s.base_sequence),
        Some(2)
    );
}

#[test]
fn nothing_goes_out_without_a_producer_id() {
    let now = t0();
    let mut acc = small_batches();
    let mut idem = Idempotence::new(5);
    let a = tp("t", 0);
    append_n(&mut acc, &a, 0, 2, 10, now);
    assert!(idem.needs_producer_id());
    assert!(drain_one(&mut acc, &mut idem, &a, now).is_none());
    let request = idem.init_producer_id_request(60_000);
    assert_eq!(
        (
            request.transactional_id,
            request.producer_id,
            request.producer_epoch
        ),
        (None, -1, -1)
    );
    let response = |error_code, producer_id| InitProducerIdResponse {
        throttle_time_ms: 0,
        error_code,
        producer_id,
        producer_epoch: 2,
        ongoing_txn_producer_id: -1,
        ongoing_txn_producer_epoch: -1,
        unknown_tagged_fields: Default::default(),
    };
    let busy = ErrorCode::CoordinatorLoadInProgress;
    assert_eq!(
        idem.on_init_producer_id(&response(busy.code(), -1)),
        Err(busy)
    );
    assert!(idem.identity().is_none());
    let got = idem.on_init_producer_id(&response(0, 77)).expect("granted");
    assert_eq!(
        got,
        ProducerIdentity {
            producer_id: 77,
            epoch: 2
        }
    );
    let batch = drain_one(&mut acc, &mut idem, &a, now).expect("sent");
    assert_eq!(wire_fields(&batch), (77, 2, 0));
}

#[test]
fn retriable_error_resends_the_same_sequence_and_bytes() {
    let now = t0();
    let (mut acc, mut idem) = (small_batches(), idempotent());
    let a = tp("t", 0);
    append_n(&mut acc, &a, 0, 5, 100, now);
    let first = drain_one(&mut acc, &mut idem, &a, now).expect("first");
    let bytes = first.encoded().cloned();
    for error in [
        ErrorCode::NotLeaderOrFollower,
        ErrorCode::RequestTimedOut,
        ErrorCode::NotEnoughReplicas,
    ] {
        assert_eq!(
            respond(&mut idem, &first, error, -1),
            BatchDecision::Retry,
            "{error:?}"
        );
        let again = idem.prepare_send(&a, first.sequence(), 3);
        assert_eq!(again, first.sequence(), "{error:?}");
    }
    assert_eq!(
        respond(&mut idem, &first, ErrorCode::NotLeaderOrFollower, -1),
        BatchDecision::Retry
    );
    acc.reenqueue(first, now);
    let retried = drain_one(&mut acc, &mut idem, &a, now + ms(100)).expect("retry");
    assert_eq!(
        retried.encoded().cloned(),
        bytes,
        "same batch, same sequence, same bytes"
    );
    assert_eq!(wire_fields(&retried), (PID, 0, 0));
    assert_eq!(
        respond(&mut idem, &retried, ErrorCode::None, 40),
        BatchDecision::Complete { duplicate: false }
    );
    let next = drain_one(&mut acc, &mut idem, &a, now + ms(100)).expect("next");
    assert_eq!(
        wire_fields(&next),
        (PID, 0, 3),
        "numbering goes on after the retried batch"
    );
}

#[test]
fn one_batch_in_flight_until_the_broker_acknowledges_one() {
    // A broker without state for the producer in a partition takes a first batch of any
    // sequence (Kafka up to 4.1, KAFKA-15591): a second batch in flight could be appended
    // ahead of a first one refused with NOT_LEADER_OR_FOLLOWER.
    let now = t0();
    let (mut acc, mut idem) = (small_batches(), idempotent());
    let (a, b) = (tp("t", 0), tp("t", 1));
    append_n(&mut acc, &a, 0, 9, 100, now); // 3 batches
    append_n(&mut acc, &b, 100, 1, 100, now);
    let first = drain_one(&mut acc, &mut idem, &a, now).expect("first");
    assert!(
        drain_one(&mut acc, &mut idem, &a, now).is_none(),
        "the second waits for the first's answer"
    );
    assert!(
        drain_one(&mut acc, &mut idem, &b, now).is_some(),
        "other partitions are not held"
    );
    assert_eq!(
        respond(&mut idem, &first, ErrorCode::NotLeaderOrFollower, -1),
        BatchDecision::Retry
    );
    acc.reenqueue(first, now);
    let again = drain_one(&mut acc, &mut idem, &a, now + ms(100)).expect("first again");
    assert_eq!(seq(&again).base_sequence, 0);
    assert!(drain_one(&mut acc, &mut idem, &a, now + ms(100)).is_none());
    respond(&mut idem, &again, ErrorCode::None, 0);
    let second = drain_one(&mut acc, &mut idem, &a, now + ms(100)).expect("second");
    let third = drain_one(&mut acc, &mut idem, &a, now + ms(100)).expect("pipelined now");
    assert_eq!(
        (seq(&second).base_sequence, seq(&third).base_sequence),
        (3, 6)
    );
    // A new epoch starts over: the broker checks it from sequence 0, but the partition may be
    // one it has no state for.
    idem.set_identity(identity(1));
    let fresh = idem.prepare_send(&a, None, 1).expect("first of epoch 1");
    assert_eq!(idem.prepare_send(&a, None, 1), None);
    let outcome = PartitionOutcome::error(ErrorCode::DuplicateSequenceNumber, -1);
    idem.on_response(&a, &fresh, &outcome);
    assert!(
        idem.prepare_send(&a, None, 1).is_some(),
        "a duplicate says the broker has the state"
    );
}

#[test]
fn at_most_five_batches_in_flight_per_partition() {
    let now = t0();
    let (mut acc, mut idem) = (small_batches(), idempotent());
    let a = tp("t", 0);
    append_n(&mut acc, &a, 0, 21, 100, now); // 7 batches
    let first = drain_one(&mut acc, &mut idem, &a, now).expect("first");
    respond(&mut idem, &first, ErrorCode::None, 0);
    let sent: Vec<_> = (0..5)
        .map(|_| drain_one(&mut acc, &mut idem, &a, now).expect("sent"))
        .collect();
    let bases: Vec<i32> = sent.iter().map(|b| seq(b).base_sequence).collect();
    assert_eq!(bases, [3, 6, 9, 12, 15]);
    assert!(
        drain_one(&mut acc, &mut idem, &a, now).is_none(),
        "a sixth waits"
    );
    respond(&mut idem, &sent[0], ErrorCode::None, 3);
    let sixth = drain_one(&mut acc, &mut idem, &a, now).expect("room again");
    assert_eq!(seq(&sixth).base_sequence, 18);
    // The limit is clamped to Kafka's 5.
    let mut wide = Idempotence::new(50);
    wide.set_identity(identity(0));
    let first = wide.prepare_send(&a, None, 1).expect("first");
    wide.on_response(&a, &first, &PartitionOutcome::success(0));
    assert_eq!(
        (0..8)
            .filter(|_| wide.prepare_send(&a, None, 1).is_some())
            .count(),
        5
    );
}

#[test]
fn duplicate_sequence_is_success() {
    let now = t0();
    let (mut acc, mut idem) = (small_batches(), idempotent());
    let a = tp("t", 0);
    append_n(&mut acc, &a, 0, 3, 100, now);
    let batch = drain_one(&mut acc, &mut idem, &a, now).expect("sent");
    // The connection drops: the outcome is unknown, so the batch goes again as it was...
    assert_eq!(idem.on_send_failed(&a, &seq(&batch)), BatchDecision::Retry);
    assert_eq!(idem.in_flight(), 0);
    acc.reenqueue(batch, now);
    let again = drain_one(&mut acc, &mut idem, &a, now + ms(100)).expect("resent");
    assert_eq!(wire_fields(&again), (PID, 0, 0));
    // ...and the broker, which had written it, says so.
    assert_eq!(
        respond(&mut idem, &again, ErrorCode::DuplicateSequenceNumber, -1),
        BatchDecision::Complete { duplicate: true }
    );
    assert_eq!(idem.in_flight(), 0);
    assert!(!idem.reset_pending(), "a duplicate is no gap");
}

#[test]
fn out_of_order_after_an_earlier_failure_retries_in_order() {
    let now = t0();
    let (mut acc, mut idem) = (small_batches(), idempotent());
    let a = tp("t", 0);
    append_n(&mut acc, &a, 0, 9, 100, now);
    let b0 = drain_one(&mut acc, &mut idem, &a, now).expect("b0");
    respond(&mut idem, &b0, ErrorCode::None, 0);
    let b1 = drain_one(&mut acc, &mut idem, &a, now).expect("b1");
    let b2 = drain_one(&mut acc, &mut idem, &a, now).expect("b2");
    assert_eq!(
        respond(&mut idem, &b1, ErrorCode::NotLeaderOrFollower, -1),
        BatchDecision::Retry
    );
    assert_eq!(
        respond(&mut idem, &b2, ErrorCode::OutOfOrderSequenceNumber, -1),
        BatchDecision::Retry
    );
    assert!(!idem.reset_pending(), "caused by b1's failure: no gap");
    acc.reenqueue(b2, now); // put back out of order: the queue restores it
    acc.reenqueue(b1, now);
    let r1 = drain_one(&mut acc, &mut idem, &a, now + ms(100)).expect("b1 again");
    assert_eq!(seq(&r1).base_sequence, 3);
    assert!(
        drain_one(&mut acc, &mut idem, &a, now + ms(100)).is_none(),
        "b2 waits for b1"
    );
    respond(&mut idem, &r1, ErrorCode::None, 3);
    let r2 = drain_one(&mut acc, &mut idem, &a, now + ms(100)).expect("b2 again");
    assert_eq!(wire_fields(&r2), (PID, 0, 6));
    assert_eq!(
        respond(&mut idem, &r2, ErrorCode::None, 6),
        BatchDecision::Complete { duplicate: false }
    );
}

/// The earliest unresolved batch is OUT_OF_ORDER_SEQUENCE_NUMBER: the broker did not take it
/// and expects other sequences (it lost this producer's state, or, as Kafka 4.5 does, refuses a
/// first sequence other than 0 on a partition never written). Java's producer would retry it
/// in the same epoch until its delivery timeout; gregor retries it under a bumped epoch, from 0.
#[test]
fn out_of_order_on_the_earliest_batch_retries_it_under_a_new_epoch() {
    let now = t0();
    let (mut acc, mut idem) = (small_batches(), idempotent());
    let a = tp("t", 0);
    append_n(&mut acc, &a, 0, 12, 100, now);
    let b0 = drain_one(&mut acc, &mut idem, &a, now).expect("b0");
    respond(&mut idem, &b0, ErrorCode::None, 0);
    let b1 = drain_one(&mut acc, &mut idem, &a, now).expect("b1");
    let b2 = drain_one(&mut acc, &mut idem, &a, now).expect("b2");
    let ooo = ErrorCode::OutOfOrderSequenceNumber;
    assert_eq!(respond(&mut idem, &b1, ooo, -1), BatchDecision::Retry);
    assert!(idem.reset_pending());
    assert!(
        drain_one(&mut acc, &mut idem, &a, now).is_none(),
        "held until b2 is back"
    );
    assert_eq!(
        respond(&mut idem, &b2, ooo, -1),
        BatchDecision::Retry,
        "rejected in the old epoch"
    );
    acc.reenqueue(b2, now);
    acc.reenqueue(b1, now);
    let r1 = drain_one(&mut acc, &mut idem, &a, now + ms(100)).expect("b1 under the new epoch");
    assert_eq!(idem.identity(), Some(identity(1)));
    assert_eq!(
        wire_fields(&r1),
        (PID, 1, 0),
        "re-sequenced from 0 in epoch 1, still first"
    );
    assert!(
        drain_one(&mut acc, &mut idem, &a, now + ms(100)).is_none(),
        "the new epoch's first batch goes alone"
    );
    respond(&mut idem, &r1, ErrorCode::None, 3);
    let r2 = drain_one(&mut acc, &mut idem, &a, now + ms(100)).expect("b2 under the new epoch");
    assert_eq!(wire_fields(&r2), (PID, 1, 3));
    let b3 = drain_one(&mut acc, &mut idem, &a, now + ms(100)).expect("b3");
    assert_eq!(wire_fields(&b3), (PID, 1, 6));
    assert_eq!(acc.release(r1), [3, 4, 5]);
}

#[test]
fn unknown_producer_id_after_retention_retries_under_a_new_epoch() {
    let now = t0();
    let (mut acc, mut idem) = (small_batches(), idempotent());
    let a = tp("t", 0);
    append_n(&mut acc, &a, 0, 6, 100, now);
    let b1 = drain_one(&mut acc, &mut idem, &a, now).expect("b1");
    respond(&mut idem, &b1, ErrorCode::None, 100); // offsets 100..=102 acked
    let b2 = drain_one(&mut acc, &mut idem, &a, now).expect("b2");
    let mut outcome = PartitionOutcome::error(ErrorCode::UnknownProducerId, -1);
    outcome.log_start_offset = 103; // everything acked was deleted
    assert_eq!(
        idem.on_response(&a, &seq(&b2), &outcome),
        BatchDecision::Retry
    );
    acc.reenqueue(b2, now);
    let r2 = drain_one(&mut acc, &mut idem, &a, now + ms(100)).expect("b2 again");
    assert_eq!(wire_fields(&r2), (PID, 1, 0));
}

#[test]
fn unknown_producer_id_with_data_still_there_fails() {
    let now = t0();
    let (mut acc, mut idem) = (small_batches(), idempotent());
    let a = tp("t", 0);
    append_n(&mut acc, &a, 0, 6, 100, now);
    let b1 = drain_one(&mut acc, &mut idem, &a, now).expect("b1");
    respond(&mut idem, &b1, ErrorCode::None, 100);
    let b2 = drain_one(&mut acc, &mut idem, &a, now).expect("b2");
    let mut outcome = PartitionOutcome::error(ErrorCode::UnknownProducerId, -1);
    outcome.log_start_offset = 50;
    let unknown = ErrorCode::UnknownProducerId;
    assert_eq!(
        idem.on_response(&a, &seq(&b2), &outcome),
        BatchDecision::Fail(unknown)
    );
    assert_eq!(
        idem.maybe_bump(),
        Some(IdentityChange::EpochBumped(identity(1)))
    );
    assert_eq!(idem.next_sequence(&a), 0);
}

#[test]
fn fenced_epoch_needs_a_new_producer_id() {
    let now = t0();
    let (mut acc, mut idem) = (small_batches(), idempotent());
    let (a, b) = (tp("t", 0), tp("t", 1));
    append_n(&mut acc, &a, 0, 3, 100, now);
    append_n(&mut acc, &b, 10, 3, 100, now);
    let ba = drain_one(&mut acc, &mut idem, &a, now).expect("a");
    let bb = drain_one(&mut acc, &mut idem, &b, now).expect("b");
    let epoch = ErrorCode::InvalidProducerEpoch;
    assert_eq!(
        respond(&mut idem, &ba, epoch, -1),
        BatchDecision::Fail(epoch)
    );
    assert_eq!(idem.maybe_bump(), None, "waits for b's batch");
    assert_eq!(respond(&mut idem, &bb, epoch, -1), BatchDecision::Retry);
    acc.reenqueue(bb, now);
    assert!(
        drain_one(&mut acc, &mut idem, &b, now + ms(100)).is_none(),
        "no id: nothing goes"
    );
    assert!(idem.needs_producer_id());
    idem.set_identity(ProducerIdentity {
        producer_id: PID + 1,
        epoch: 0,
    });
    let rb = drain_one(&mut acc, &mut idem, &b, now + ms(100)).expect("b under the new id");
    assert_eq!(wire_fields(&rb), (PID + 1, 0, 0));
}

#[test]
fn a_failed_batch_bumps_and_the_last_epoch_needs_a_new_id() {
    let mut idem = Idempotence::new(5);
    idem.set_identity(identity(i16::MAX - 1));
    let a = tp("t", 0);
    let fail = |idem: &mut Idempotence| {
        let s = idem.prepare_send(&a, None, 2).expect("send");
        let outcome = PartitionOutcome::error(ErrorCode::InvalidRecord, -1);
        assert_eq!(
            idem.on_response(&a, &s, &outcome),
            BatchDecision::Fail(ErrorCode::InvalidRecord)
        );
    };
    fail(&mut idem);
    assert_eq!(
        idem.maybe_bump(),
        Some(IdentityChange::EpochBumped(identity(i16::MAX)))
    );
    fail(&mut idem);
    assert_eq!(idem.maybe_bump(), Some(IdentityChange::NeedsProducerId));
    assert!(idem.needs_producer_id());
    // An abandoned batch (delivery timeout) leaves a gap too.
    idem.set_identity(identity(0));
    let s = idem.prepare_send(&a, None, 1).expect("send");
    idem.on_abandoned(&a, &s);
    assert_eq!(
        idem.maybe_bump(),
        Some(IdentityChange::EpochBumped(identity(1)))
    );
}

#[test]
fn non_idempotent_decisions() {
    assert_eq!(
        non_idempotent_decision(ErrorCode::None),
        BatchDecision::Complete { duplicate: false }
    );
    assert_eq!(
        non_idempotent_decision(ErrorCode::NotLeaderOrFollower),
        BatchDecision::Retry
    );
    assert_eq!(
        non_idempotent_decision(ErrorCode::MessageTooLarge),
        BatchDecision::Fail(ErrorCode::MessageTooLarge)
    );
}

//! The idempotent producer's bookkeeping: producer id and epoch, sequence numbers, in-flight
//! limits, and what each Produce outcome means (KIP-98, KIP-360).
//!
//! The broker keeps, per producer id and partition, the sequence numbers of the last five
//! batches it appended. A batch whose sequence it already holds is a duplicate
//! (DUPLICATE_SEQUENCE_NUMBER: the first send got in, so this is a success); one that skips
//! ahead is OUT_OF_ORDER_SEQUENCE_NUMBER. So a retried batch must go out again with the *same*
//! sequence, in order, and at most five batches per partition may be unacknowledged at once.
//!
//! Until the broker has acknowledged a batch of a partition under the current identity, only
//! one batch of that partition is in flight. A broker without state for the producer in a
//! partition takes a first batch of any sequence (Apache Kafka before 4.5, KAFKA-15591): with
//! two in flight, a first batch refused for a retriable reason (NOT_LEADER_OR_FOLLOWER on a
//! partition the broker has not opened yet) would let the second be appended first, and the
//! retried first one would then be OUT_OF_ORDER_SEQUENCE_NUMBER at every retry (Java's producer
//! retries it until its delivery timeout and loses it); retried under a new epoch it would
//! land after the second, out of order.
//!
//! Events in: [`Idempotence::prepare_send`] when a batch is drained, then exactly one of
//! [`Idempotence::on_response`], [`Idempotence::on_send_failed`] or
//! [`Idempotence::on_abandoned`] for it. Decisions out: a [`BatchDecision`] per response, and
//! identity changes from [`Idempotence::maybe_bump`].
//!
//! # Resets (what is implemented of KIP-360)
//! A sequence gap the producer cannot repair — a batch failed for good, or the broker lost the
//! producer's state — is closed by moving to a new epoch, in which every partition starts again
//! at sequence 0. For a non-transactional producer the bump is local, as KIP-360 allows: the
//! client increments the epoch itself and the broker accepts a higher epoch starting at
//! sequence 0. A bump waits until no batch is in flight (new sends are held meanwhile); batches
//! waiting for a retry are then re-sequenced under the new epoch, which is safe because the
//! broker rejected them. When the epoch would pass `i16::MAX`, or the broker reports
//! INVALID_PRODUCER_EPOCH or PRODUCER_FENCED (someone else holds a newer epoch of this id), the
//! producer needs a fresh id from InitProducerId instead ([`IdentityChange::NeedsProducerId`]).
//!
//! Outcomes, for a batch sent under the current identity:
//! - no error, or DUPLICATE_SEQUENCE_NUMBER: [`BatchDecision::Complete`].
//! - a retriable error (Kafka's classification): [`BatchDecision::Retry`], same sequence.
//! - OUT_OF_ORDER_SEQUENCE_NUMBER while an earlier batch of the partition is unresolved: that
//!   batch's failure caused it, so retry. When it is the earliest, the broker holds sequences
//!   this producer did not expect (it lost state, or appended a later batch first) and did not
//!   take the batch: bump the epoch and retry the batch under it, as Java's idempotent
//!   producer does.
//! - While a reset is pending, OUT_OF_ORDER_SEQUENCE_NUMBER, UNKNOWN_PRODUCER_ID and
//!   INVALID_PRODUCER_EPOCH only say the broker rejected the batch in a sequence space that is
//!   about to be replaced: retry it (it is re-sequenced under the new identity).
//! - UNKNOWN_PRODUCER_ID when the partition's log start offset is past the last offset acked to
//!   this producer: retention removed its state and nothing was lost, so bump the epoch and retry
//!   the batch under it. Otherwise fail it and bump.
//! - INVALID_PRODUCER_EPOCH, PRODUCER_FENCED: fail, get a new producer id.
//! - anything else: fail and bump (the failed batch leaves a gap).
//!
//! A batch sent under an older identity (a bump happened while it was out) is retried if the
//! error is retriable or about sequences or the producer id (the broker did not take it; it will
//! be re-sequenced), failed otherwise.

use std::collections::{HashMap, VecDeque};

use gregor_protocol::ErrorCode;
use gregor_protocol::messages::init_producer_id::{InitProducerIdRequest, InitProducerIdResponse};

use super::produce_request::PartitionOutcome;
use gregor_protocol::TopicPartition;

/// A producer id and epoch granted by InitProducerId (or bumped locally).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProducerIdentity {
    /// The producer id.
    pub producer_id: i64,
    /// The epoch.
    pub epoch: i16,
}

/// The idempotence fields a batch is encoded with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BatchSequence {
    /// The producer id.
    pub producer_id: i64,
    /// The producer epoch.
    pub epoch: i16,
    /// The sequence number of the batch's first record.
    pub base_sequence: i32,
    /// How many records (sequence numbers) the batch holds.
    pub record_count: i32,
}

impl BatchSequence {
    /// The identity the batch was stamped with.
    pub fn identity(&self) -> ProducerIdentity {
        ProducerIdentity {
            producer_id: self.producer_id,
            epoch: self.epoch,
        }
    }

    /// The sequence number after the batch's last record (wrapping like Kafka).
    pub fn next_sequence(&self) -> i32 {
        increment_sequence(self.base_sequence, self.record_count)
    }
}

/// `sequence + by`, wrapping from `i32::MAX` to 0 as Kafka's sequence numbers do.
pub fn increment_sequence(sequence: i32, by: i32) -> i32 {
    let modulus = i64::from(i32::MAX) + 1;
    let next = (i64::from(sequence) + i64::from(by)).rem_euclid(modulus);
    // In 0..=i32::MAX by construction.
    i32::try_from(next).unwrap_or(0)
}

/// What to do with a batch after its Produce outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchDecision {
    /// Written. `duplicate`: the broker already had it (DUPLICATE_SEQUENCE_NUMBER); its offsets
    /// are then whatever the response says (possibly -1).
    Complete {
        /// The broker reported the batch as a duplicate of one it holds.
        duplicate: bool,
    },
    /// Put the batch back ([`Accumulator::reenqueue`](super::Accumulator::reenqueue)); it goes
    /// out again with the same sequence unless the epoch changes first.
    Retry,
    /// Give up: fail every record of the batch with this error.
    Fail(ErrorCode),
}

/// A change of identity made by [`Idempotence::maybe_bump`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityChange {
    /// The epoch was bumped locally; every partition starts again at sequence 0.
    EpochBumped(ProducerIdentity),
    /// The old identity is dropped: send InitProducerId
    /// ([`Idempotence::init_producer_id_request`]) before producing again.
    NeedsProducerId,
}

/// The decision for a non-idempotent producer: success completes, retriable errors retry,
/// others fail.
pub fn non_idempotent_decision(error: ErrorCode) -> BatchDecision {
    if error.is_ok() {
        BatchDecision::Complete { duplicate: false }
    } else if error.is_retriable() {
        BatchDecision::Retry
    } else {
        BatchDecision::Fail(error)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reset {
    BumpEpoch,
    NewProducerId,
}

/// A batch given a sequence and not resolved yet.
#[derive(Debug, Clone, Copy)]
struct Unresolved {
    base_sequence: i32,
    /// In a request now (as opposed to waiting for a retry).
    sent: bool,
}

#[derive(Debug, Default)]
struct PartitionSequences {
    next_sequence: i32,
    /// In sequence order.
    unresolved: VecDeque<Unresolved>,
    /// The last offset the broker acknowledged in the current epoch.
    last_acked_offset: Option<i64>,
    /// The broker acknowledged a batch under the current identity, so it holds the producer's
    /// state for the partition and checks each batch's sequence against it. Until then one
    /// batch is in flight at a time (see the module docs).
    acked: bool,
}

impl PartitionSequences {
    fn position(&self, base_sequence: i32) -> Option<usize> {
        self.unresolved
            .iter()
            .position(|u| u.base_sequence == base_sequence)
    }

    fn in_flight(&self) -> usize {
        self.unresolved.iter().filter(|u| u.sent).count()
    }

    /// How many batches may be in flight: `max_in_flight` once the broker has acknowledged
    /// one, else one.
    fn in_flight_limit(&self, max_in_flight: usize) -> usize {
        if self.acked { max_in_flight } else { 1 }
    }
}

/// The idempotent producer's state (sans-io).
#[derive(Debug)]
pub struct Idempotence {
    identity: Option<ProducerIdentity>,
    max_in_flight: usize,
    partitions: HashMap<TopicPartition, PartitionSequences>,
    pending_reset: Option<Reset>,
}

impl Idempotence {
    /// Kafka's ceiling on unacknowledged batches per partition for an idempotent producer.
    pub const MAX_IN_FLIGHT_LIMIT: usize = 5;

    /// No identity yet; at most `max_in_flight` batches per partition in flight (clamped to
    /// 1..=5).
    pub fn new(max_in_flight: usize) -> Self {
        Self {
            identity: None,
            max_in_flight: max_in_flight.clamp(1, Self::MAX_IN_FLIGHT_LIMIT),
            partitions: HashMap::new(),
            pending_reset: None,
        }
    }

    /// The current producer id and epoch, if any.
    pub fn identity(&self) -> Option<ProducerIdentity> {
        self.identity
    }

    /// True when InitProducerId must be sent (no identity) and nothing is in flight.
    pub fn needs_producer_id(&self) -> bool {
        self.identity.is_none() && self.in_flight() == 0
    }

    /// True while a reset waits for in-flight batches to finish; nothing new is sent meanwhile.
    pub fn reset_pending(&self) -> bool {
        self.pending_reset.is_some()
    }

    /// The InitProducerId request of a non-transactional producer asking for a fresh id.
    pub fn init_producer_id_request(&self, transaction_timeout_ms: i32) -> InitProducerIdRequest {
        InitProducerIdRequest {
            transactional_id: None,
            transaction_timeout_ms,
            producer_id: -1,
            producer_epoch: -1,
            unknown_tagged_fields: Default::default(),
        }
    }

    /// Takes InitProducerId's answer: on success the new identity, every partition starting at
    /// sequence 0; otherwise the broker's error (the caller retries retriable ones).
    pub fn on_init_producer_id(
        &mut self,
        response: &InitProducerIdResponse,
    ) -> Result<ProducerIdentity, ErrorCode> {
        ErrorCode::from_code(response.error_code).into_result()?;
        let identity = ProducerIdentity {
            producer_id: response.producer_id,
            epoch: response.producer_epoch,
        };
        self.set_identity(identity);
        Ok(identity)
    }

    /// Adopts `identity`: all sequences restart at 0 and pending resets are dropped.
    pub fn set_identity(&mut self, identity: ProducerIdentity) {
        tracing::debug!(
            producer_id = identity.producer_id,
            epoch = identity.epoch,
            "idempotent producer identity"
        );
        self.identity = Some(identity);
        self.partitions.clear();
        self.pending_reset = None;
    }

    /// Batches in flight over all partitions.
    pub fn in_flight(&self) -> usize {
        self.partitions
            .values()
            .map(PartitionSequences::in_flight)
            .sum()
    }

    /// Batches in flight for `tp`.
    pub fn in_flight_for(&self, tp: &TopicPartition) -> usize {
        self.partitions
            .get(tp)
            .map_or(0, PartitionSequences::in_flight)
    }

    /// The sequence the next new batch of `tp` would get.
    pub fn next_sequence(&self, tp: &TopicPartition) -> i32 {
        self.partitions.get(tp).map_or(0, |p| p.next_sequence)
    }

    /// Applies a pending reset once nothing is in flight. Call before draining.
    pub fn maybe_bump(&mut self) -> Option<IdentityChange> {
        let reset = self.pending_reset?;
        if self.in_flight() > 0 {
            return None;
        }
        self.pending_reset = None;
        self.partitions.clear();
        let bumped = match (reset, self.identity) {
            (Reset::BumpEpoch, Some(id)) if id.epoch < i16::MAX => Some(ProducerIdentity {
                producer_id: id.producer_id,
                epoch: id.epoch + 1,
            }),
            _ => None,
        };
        self.identity = bumped;
        match bumped {
            Some(id) => {
                tracing::info!(
                    producer_id = id.producer_id,
                    epoch = id.epoch,
                    "bumped the producer epoch"
                );
                Some(IdentityChange::EpochBumped(id))
            }
            None => {
                tracing::info!("dropped the producer id; a new one is needed");
                Some(IdentityChange::NeedsProducerId)
            }
        }
    }

    /// Asks to send a batch of `record_count` records for `tp` that carries `existing` (its
    /// sequence from an earlier attempt, if any). Returns the sequence to encode it with, the
    /// batch then counting as in flight, or `None` if it must wait: no identity, a reset
    /// pending, the partition's in-flight limit reached (one until the broker has acknowledged
    /// a batch of the partition under this identity), or (for a retry) an earlier batch of the
    /// partition still in flight. A batch stamped under an older identity gets a new sequence.
    pub fn prepare_send(
        &mut self,
        tp: &TopicPartition,
        existing: Option<BatchSequence>,
        record_count: usize,
    ) -> Option<BatchSequence> {
        let identity = self.identity?;
        if self.pending_reset.is_some() {
            return None;
        }
        let max_in_flight = self.max_in_flight;
        let state = self.partitions.entry(tp.clone()).or_default();
        if state.in_flight() >= state.in_flight_limit(max_in_flight) {
            return None;
        }
        if let Some(seq) = existing.filter(|s| s.identity() == identity) {
            if let Some(i) = state.position(seq.base_sequence) {
                if state.unresolved.iter().take(i).any(|u| u.sent) {
                    return None; // a retry goes out only once everything before it is back
                }
                state.unresolved[i].sent = true;
                return Some(seq);
            }
            tracing::warn!(%tp, seq = seq.base_sequence, "retried batch unknown; new sequence");
        }
        if state.unresolved.iter().any(|u| !u.sent) {
            return None; // a retry of this partition goes first
        }
        let record_count = i32::try_from(record_count).unwrap_or(i32::MAX);
        let seq = BatchSequence {
            producer_id: identity.producer_id,
            epoch: identity.epoch,
            base_sequence: state.next_sequence,
            record_count,
        };
        state.next_sequence = seq.next_sequence();
        state.unresolved.push_back(Unresolved {
            base_sequence: seq.base_sequence,
            sent: true,
        });
        Some(seq)
    }

    /// The decision for a batch of `tp` sent with `seq` whose partition result is `outcome`.
    pub fn on_response(
        &mut self,
        tp: &TopicPartition,
        seq: &BatchSequence,
        outcome: &PartitionOutcome,
    ) -> BatchDecision {
        let error = outcome.error;
        let current = self.identity == Some(seq.identity());
        if !current {
            let seq = seq.base_sequence;
            tracing::debug!(%tp, seq, error = error.name(), "outcome for an older identity");
            return stale_error_decision(error);
        }
        let reset_pending = self.pending_reset.is_some();
        let Some(state) = self.partitions.get_mut(tp) else {
            return stale_error_decision(error);
        };
        let Some(pos) = state.position(seq.base_sequence) else {
            return stale_error_decision(error);
        };
        match error {
            ErrorCode::None | ErrorCode::DuplicateSequenceNumber => {
                state.unresolved.remove(pos);
                state.acked = true;
                if outcome.base_offset >= 0 {
                    let last = outcome.base_offset + i64::from(seq.record_count) - 1;
                    state.last_acked_offset =
                        Some(state.last_acked_offset.map_or(last, |o| o.max(last)));
                }
                let duplicate = error == ErrorCode::DuplicateSequenceNumber;
                if duplicate {
                    let seq = seq.base_sequence;
                    tracing::debug!(%tp, seq, "duplicate batch: already written");
                }
                BatchDecision::Complete { duplicate }
            }
            // Caused by an earlier batch of the partition that is unresolved, or rejected in a
            // sequence space about to be replaced: either way the broker did not take it.
            ErrorCode::OutOfOrderSequenceNumber if pos > 0 || reset_pending => {
                state.unresolved[pos].sent = false;
                BatchDecision::Retry
            }
            // The earliest unresolved batch: the broker did not take it, and holds sequences
            // this producer does not expect. A new epoch starts the partition's sequences over.
            ErrorCode::OutOfOrderSequenceNumber => {
                let seq = seq.base_sequence;
                tracing::warn!(%tp, seq, "sequence gap at the broker; bumping the epoch");
                state.unresolved[pos].sent = false;
                self.request_reset(Reset::BumpEpoch);
                BatchDecision::Retry
            }
            ErrorCode::UnknownProducerId | ErrorCode::InvalidProducerEpoch if reset_pending => {
                state.unresolved[pos].sent = false;
                BatchDecision::Retry
            }
            ErrorCode::UnknownProducerId
                if outcome.log_start_offset >= 0
                    && outcome.log_start_offset > state.last_acked_offset.unwrap_or(-1) =>
            {
                tracing::info!(%tp, "producer state removed by retention; bumping the epoch");
                state.unresolved[pos].sent = false;
                self.request_reset(Reset::BumpEpoch);
                BatchDecision::Retry
            }
            e if e.is_retriable() => {
                state.unresolved[pos].sent = false;
                BatchDecision::Retry
            }
            ErrorCode::InvalidProducerEpoch | ErrorCode::ProducerFenced => {
                state.unresolved.remove(pos);
                self.request_reset(Reset::NewProducerId);
                BatchDecision::Fail(error)
            }
            _ => {
                state.unresolved.remove(pos);
                let (seq, error_name) = (seq.base_sequence, error.name());
                tracing::warn!(%tp, seq, error = error_name, "batch failed; bumping the epoch");
                self.request_reset(Reset::BumpEpoch);
                BatchDecision::Fail(error)
            }
        }
    }

    /// A request holding the batch failed without an answer (connection lost, timeout): its
    /// fate is unknown, so it is retried with the same sequence (a duplicate is then detected
    /// by the broker).
    pub fn on_send_failed(&mut self, tp: &TopicPartition, seq: &BatchSequence) -> BatchDecision {
        if self.identity == Some(seq.identity()) {
            if let Some(state) = self.partitions.get_mut(tp) {
                if let Some(pos) = state.position(seq.base_sequence) {
                    state.unresolved[pos].sent = false;
                }
            }
        }
        BatchDecision::Retry
    }

    /// The batch is given up without a decision from the broker (delivery timeout, encoding
    /// failure): its sequence would leave a gap, so the epoch is bumped.
    pub fn on_abandoned(&mut self, tp: &TopicPartition, seq: &BatchSequence) {
        if self.identity != Some(seq.identity()) {
            return;
        }
        if let Some(state) = self.partitions.get_mut(tp) {
            if let Some(pos) = state.position(seq.base_sequence) {
                state.unresolved.remove(pos);
            }
        }
        self.request_reset(Reset::BumpEpoch);
    }

    fn request_reset(&mut self, reset: Reset) {
        // A new producer id also covers a bump.
        if self.pending_reset != Some(Reset::NewProducerId) {
            self.pending_reset = Some(reset);
        }
    }
}

/// For a batch whose sequence is no longer tracked (the identity changed while it was out).
fn stale_error_decision(error: ErrorCode) -> BatchDecision {
    match error {
        ErrorCode::None => BatchDecision::Complete { duplicate: false },
        ErrorCode::DuplicateSequenceNumber => BatchDecision::Complete { duplicate: true },
        ErrorCode::OutOfOrderSequenceNumber
        | ErrorCode::UnknownProducerId
        | ErrorCode::InvalidProducerEpoch => BatchDecision::Retry,
        e if e.is_retriable() => BatchDecision::Retry,
        e => BatchDecision::Fail(e),
    }
}

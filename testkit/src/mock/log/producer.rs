//! Idempotent-producer state of one partition: the epoch and the last batches' sequence ranges of
//! every producer id, as Kafka's producer state manager keeps them.
//!
//! Rules (Apache Kafka's, checked before a batch is appended):
//! - a batch whose epoch and sequence range equal one of the producer's last
//!   [`MAX_CACHED_BATCHES`] batches is a duplicate: it is not appended again, and the append
//!   answers success with the offsets the original was written at;
//! - an epoch older than the producer's current one is `INVALID_PRODUCER_EPOCH`;
//! - a newer epoch must start at sequence 0, otherwise `OUT_OF_ORDER_SEQUENCE_NUMBER`;
//! - within an epoch each batch must continue the last one's sequence (wrapping after
//!   `i32::MAX` to 0), otherwise `OUT_OF_ORDER_SEQUENCE_NUMBER`;
//! - a producer id the partition has no state for is accepted at any sequence (its records may
//!   have been deleted).

use std::collections::{HashMap, VecDeque};

use gregor_protocol::ErrorCode;

/// How many batches per producer are remembered for duplicate detection (Kafka: 5, the most
/// in-flight requests an idempotent producer may have).
pub const MAX_CACHED_BATCHES: usize = 5;

/// The sequence range and offsets of one appended batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchMeta {
    /// The batch's first sequence number.
    pub first_seq: i32,
    /// The batch's last sequence number.
    pub last_seq: i32,
    /// The offset the batch was written at.
    pub first_offset: i64,
    /// The offset of its last record.
    pub last_offset: i64,
}

/// What one producer id has written to the partition.
#[derive(Debug, Clone, Default)]
struct ProducerEntry {
    epoch: i16,
    batches: VecDeque<BatchMeta>,
}

/// The outcome of checking a batch against the producer state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SequenceCheck {
    /// Append it.
    Append,
    /// Already written: answer with the original batch's offsets.
    Duplicate(BatchMeta),
}

/// The last sequence of a batch starting at `first` with `delta` more records, wrapping as
/// Kafka's sequence numbers do.
pub fn last_sequence(first: i32, delta: i32) -> i32 {
    if first > i32::MAX - delta {
        // Wraps to 0 after i32::MAX.
        (i64::from(first) + i64::from(delta) - i64::from(i32::MAX) - 1) as i32
    } else {
        first + delta
    }
}

fn in_sequence(last: i32, next: i32) -> bool {
    next == last.wrapping_add(1) || (next == 0 && last == i32::MAX)
}

/// Producer state of one partition.
#[derive(Debug, Clone, Default)]
pub struct ProducerStates {
    entries: HashMap<i64, ProducerEntry>,
}

impl ProducerStates {
    /// Checks a data batch of producer `pid` (epoch, sequence range) before it is appended.
    pub fn check(
        &self,
        pid: i64,
        epoch: i16,
        first_seq: i32,
        last_seq: i32,
    ) -> Result<SequenceCheck, (ErrorCode, String)> {
        let Some(entry) = self.entries.get(&pid) else {
            return Ok(SequenceCheck::Append);
        };
        if epoch == entry.epoch {
            if let Some(dup) = entry
                .batches
                .iter()
                .find(|b| b.first_seq == first_seq && b.last_seq == last_seq)
            {
                return Ok(SequenceCheck::Duplicate(*dup));
            }
        }
        if epoch < entry.epoch {
            return Err((
                ErrorCode::InvalidProducerEpoch,
                format!(
                    "producer {pid} epoch {epoch} is older than the last seen {}",
                    entry.epoch
                ),
            ));
        }
        if epoch > entry.epoch {
            if first_seq != 0 {
                return Err((
                    ErrorCode::OutOfOrderSequenceNumber,
                    format!(
                        "producer {pid}: new epoch {epoch} must start at sequence 0, got {first_seq}"
                    ),
                ));
            }
            return Ok(SequenceCheck::Append);
        }
        match entry.batches.back() {
            Some(last) if !in_sequence(last.last_seq, first_seq) => Err((
                ErrorCode::OutOfOrderSequenceNumber,
                format!(
                    "producer {pid}: sequence {first_seq} does not follow {}",
                    last.last_seq
                ),
            )),
            _ => Ok(SequenceCheck::Append),
        }
    }

    /// Records an appended data batch.
    pub fn record(&mut self, pid: i64, epoch: i16, meta: BatchMeta) {
        let entry = self.entries.entry(pid).or_default();
        if entry.epoch != epoch {
            entry.batches.clear();
            entry.epoch = epoch;
        }
        entry.batches.push_back(meta);
        while entry.batches.len() > MAX_CACHED_BATCHES {
            entry.batches.pop_front();
        }
    }

    /// Records a control batch (a transaction marker): it moves the producer to its epoch but
    /// carries no sequence.
    pub fn record_marker(&mut self, pid: i64, epoch: i16) {
        let entry = self.entries.entry(pid).or_default();
        if entry.epoch != epoch {
            entry.batches.clear();
            entry.epoch = epoch;
        }
    }

    /// Forgets everything (before a rebuild from the log).
    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(first_seq: i32, last_seq: i32, first_offset: i64) -> BatchMeta {
        BatchMeta {
            first_seq,
            last_seq,
            first_offset,
            last_offset: first_offset + i64::from(last_seq - first_seq),
        }
    }

    #[test]
    fn sequences_duplicates_and_epochs() {
        let mut s = ProducerStates::default();
        assert_eq!(
            s.check(7, 0, 5, 9),
            Ok(SequenceCheck::Append),
            "unknown pid: any seq"
        );
        s.record(7, 0, meta(0, 4, 0));
        assert_eq!(s.check(7, 0, 5, 9), Ok(SequenceCheck::Append));
        s.record(7, 0, meta(5, 9, 5));
        assert_eq!(
            s.check(7, 0, 0, 4),
            Ok(SequenceCheck::Duplicate(meta(0, 4, 0)))
        );
        assert_eq!(
            s.check(7, 0, 11, 12).unwrap_err().0,
            ErrorCode::OutOfOrderSequenceNumber
        );
        assert_eq!(
            s.check(7, 1, 3, 3).unwrap_err().0,
            ErrorCode::OutOfOrderSequenceNumber
        );
        assert_eq!(s.check(7, 1, 0, 3), Ok(SequenceCheck::Append));
        s.record(7, 1, meta(0, 3, 10));
        assert_eq!(
            s.check(7, 0, 10, 10).unwrap_err().0,
            ErrorCode::InvalidProducerEpoch
        );
        assert_eq!(
            s.check(7, 1, 5, 9).unwrap_err().0,
            ErrorCode::OutOfOrderSequenceNumber
        );
    }

    #[test]
    fn only_five_batches_are_remembered() {
        let mut s = ProducerStates::default();
        for i in 0..6 {
            s.record(1, 0, meta(i, i, i64::from(i)));
        }
        assert_eq!(
            s.check(1, 0, 0, 0).unwrap_err().0,
            ErrorCode::OutOfOrderSequenceNumber
        );
        assert!(matches!(
            s.check(1, 0, 1, 1),
            Ok(SequenceCheck::Duplicate(_))
        ));
    }

    #[test]
    fn sequences_wrap() {
        assert_eq!(last_sequence(i32::MAX, 0), i32::MAX);
        assert_eq!(last_sequence(i32::MAX, 1), 0);
        assert_eq!(last_sequence(i32::MAX - 1, 3), 1);
        assert!(in_sequence(i32::MAX, 0));
    }
}

//! Offset ranges: the unit of work of a direct stream.
//!
//! A batch of a direct stream is a set of [`OffsetRange`]s, at most one per partition. A range
//! names the offsets `from..until` of one partition: `from` is inclusive, `until` exclusive,
//! so `until` is also the offset a commit stores once the range has been processed (see
//! [`merge_until`]).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// The partition type of the whole workspace, re-exported here where the ranges that name it
/// live (also at the crate root).
pub use gregor_protocol::TopicPartition;

/// Why an [`OffsetRange`] or [`ConsumedRange`] could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RangeError {
    /// The start offset is negative (Kafka offsets start at 0).
    #[error("offset range of {partition} starts at negative offset {from}")]
    NegativeFrom {
        /// The partition of the range.
        partition: TopicPartition,
        /// The start offset given.
        from: i64,
    },
    /// The end offset is before the start offset.
    #[error("offset range of {partition} ends at {until}, before its start {from}")]
    UntilBeforeFrom {
        /// The partition of the range.
        partition: TopicPartition,
        /// The start offset given (inclusive).
        from: i64,
        /// The end offset given (exclusive).
        until: i64,
    },
    /// More records were reported read than the range has offsets.
    #[error("{records_read} records read from {partition}, whose range has only {count} offsets")]
    TooManyRecords {
        /// The partition of the range.
        partition: TopicPartition,
        /// The number of offsets in the range.
        count: u64,
        /// The number of records reported read.
        records_read: u64,
    },
}

/// The offsets `from..until` of one partition: `from` inclusive, `until` exclusive.
///
/// Always valid: `0 <= from <= until` (checked by [`OffsetRange::new`] and when deserializing).
/// The serialized form is `{"topic": .., "partition": .., "from": .., "until": ..}`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "RawOffsetRange")]
pub struct OffsetRange {
    topic: Arc<str>,
    partition: i32,
    from: i64,
    until: i64,
}

/// The unchecked serialized form of an [`OffsetRange`].
#[derive(Deserialize)]
struct RawOffsetRange {
    topic: String,
    partition: i32,
    from: i64,
    until: i64,
}

impl TryFrom<RawOffsetRange> for OffsetRange {
    type Error = RangeError;

    fn try_from(raw: RawOffsetRange) -> Result<Self, RangeError> {
        Self::new(raw.topic, raw.partition, raw.from, raw.until)
    }
}

impl OffsetRange {
    /// The offsets `from..until` of `topic`'s `partition`.
    ///
    /// # Errors
    /// [`RangeError::NegativeFrom`] if `from < 0`, [`RangeError::UntilBeforeFrom`] if
    /// `until < from`.
    pub fn new(
        topic: impl Into<Arc<str>>,
        partition: i32,
        from: i64,
        until: i64,
    ) -> Result<Self, RangeError> {
        let topic = topic.into();
        if from < 0 {
            return Err(RangeError::NegativeFrom {
                partition: TopicPartition::new(topic, partition),
                from,
            });
        }
        if until < from {
            return Err(RangeError::UntilBeforeFrom {
                partition: TopicPartition::new(topic, partition),
                from,
                until,
            });
        }
        Ok(Self {
            topic,
            partition,
            from,
            until,
        })
    }

    /// [`OffsetRange::new`] for a [`TopicPartition`].
    ///
    /// # Errors
    /// As [`OffsetRange::new`].
    pub fn for_partition(tp: &TopicPartition, from: i64, until: i64) -> Result<Self, RangeError> {
        Self::new(tp.topic.clone(), tp.partition, from, until)
    }

    /// The open-ended range of an open-ended reader: from `from` (0 if negative) to
    /// `i64::MAX`.
    pub(crate) fn open_from(tp: &TopicPartition, from: i64) -> Self {
        Self {
            topic: tp.topic.clone(),
            partition: tp.partition,
            from: from.max(0),
            until: i64::MAX,
        }
    }

    /// The topic name.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The partition number.
    pub fn partition(&self) -> i32 {
        self.partition
    }

    /// The first offset of the range (inclusive).
    pub fn from(&self) -> i64 {
        self.from
    }

    /// The end of the range (exclusive): the next offset to read after this range.
    pub fn until(&self) -> i64 {
        self.until
    }

    /// The number of offsets in the range (`until - from`), 0 if it is empty.
    ///
    /// This is an upper bound on the records the range yields: compacted-away offsets and
    /// transaction markers occupy offsets without being records (see [`ConsumedRange`]).
    pub fn count(&self) -> u64 {
        u64::try_from(self.until.saturating_sub(self.from)).unwrap_or(0)
    }

    /// Whether the range holds no offsets (`from == until`).
    pub fn is_empty(&self) -> bool {
        self.until <= self.from
    }

    /// The partition of the range (cheap: the topic name is shared).
    pub fn topic_partition(&self) -> TopicPartition {
        TopicPartition::new(self.topic.clone(), self.partition)
    }
}

impl fmt::Display for OffsetRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}-{} [{}, {})",
            self.topic, self.partition, self.from, self.until
        )
    }
}

/// A processed [`OffsetRange`] with the number of records actually read from it.
///
/// `records_read` is at most [`OffsetRange::count`], and may be smaller: log compaction leaves
/// gaps in the offsets, and transaction control markers occupy offsets without being records.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "RawConsumedRange")]
pub struct ConsumedRange {
    range: OffsetRange,
    records_read: u64,
}

/// The unchecked serialized form of a [`ConsumedRange`].
#[derive(Deserialize)]
struct RawConsumedRange {
    range: OffsetRange,
    records_read: u64,
}

impl TryFrom<RawConsumedRange> for ConsumedRange {
    type Error = RangeError;

    fn try_from(raw: RawConsumedRange) -> Result<Self, RangeError> {
        Self::new(raw.range, raw.records_read)
    }
}

impl ConsumedRange {
    /// `range`, from which `records_read` records were read.
    ///
    /// # Errors
    /// [`RangeError::TooManyRecords`] if `records_read` exceeds `range.count()`.
    pub fn new(range: OffsetRange, records_read: u64) -> Result<Self, RangeError> {
        let count = range.count();
        if records_read > count {
            return Err(RangeError::TooManyRecords {
                partition: range.topic_partition(),
                count,
                records_read,
            });
        }
        Ok(Self {
            range,
            records_read,
        })
    }

    /// The range that was consumed.
    pub fn range(&self) -> &OffsetRange {
        &self.range
    }

    /// The number of records read from the range.
    pub fn records_read(&self) -> u64 {
        self.records_read
    }

    /// The offsets of the range that held no record (compaction gaps, control markers).
    pub fn skipped(&self) -> u64 {
        self.range.count().saturating_sub(self.records_read)
    }
}

/// The highest `until` of `ranges` for each partition: the offsets a commit of all of them
/// would store.
pub fn merge_until<'a>(
    ranges: impl IntoIterator<Item = &'a OffsetRange>,
) -> BTreeMap<TopicPartition, i64> {
    let mut merged: BTreeMap<TopicPartition, i64> = BTreeMap::new();
    for range in ranges {
        merged
            .entry(range.topic_partition())
            .and_modify(|until| *until = (*until).max(range.until))
            .or_insert(range.until);
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_validates() {
        assert!(matches!(
            OffsetRange::new("t", 0, -1, 3),
            Err(RangeError::NegativeFrom { from: -1, .. })
        ));
        assert!(matches!(
            OffsetRange::new("t", 0, 5, 4),
            Err(RangeError::UntilBeforeFrom {
                from: 5,
                until: 4,
                ..
            })
        ));
        let r = OffsetRange::new("t", 2, 5, 5).unwrap();
        assert!(r.is_empty());
        assert_eq!(r.count(), 0);
        assert_eq!(r.topic_partition(), TopicPartition::new("t", 2));
        let r = OffsetRange::new("t", 2, 5, 15).unwrap();
        assert_eq!((r.count(), r.is_empty()), (10, false));
        assert_eq!(r.to_string(), "t-2 [5, 15)");
    }

    #[test]
    fn deserialize_validates() {
        let bad = r#"{"topic":"t","partition":0,"from":9,"until":3}"#;
        assert!(serde_json::from_str::<OffsetRange>(bad).is_err());
        let bad = r#"{"range":{"topic":"t","partition":0,"from":0,"until":3},"records_read":4}"#;
        assert!(serde_json::from_str::<ConsumedRange>(bad).is_err());
    }

    #[test]
    fn consumed_range() {
        let r = OffsetRange::new("t", 0, 10, 20).unwrap();
        let c = ConsumedRange::new(r.clone(), 7).unwrap();
        assert_eq!((c.records_read(), c.skipped()), (7, 3));
        assert!(matches!(
            ConsumedRange::new(r, 11),
            Err(RangeError::TooManyRecords {
                count: 10,
                records_read: 11,
                ..
            })
        ));
    }
}

//! [`TopicPartition`]: the one name for "partition `p` of topic `t`" across gregor.
//!
//! The producer keys its batches by it, admin calls key their answers by it, the consumer keys
//! offsets, ranges and placements by it. The topic name is shared (`Arc<str>`), so the many
//! copies those maps and queues hold cost a reference count, not an allocation.
//!
//! With the `serde` feature it (de)serializes as `{"topic": .., "partition": ..}`.

use std::fmt;
use std::sync::Arc;

/// A partition of a topic: the topic's name and the partition's index.
///
/// Ordered by topic name, then partition index. Displayed as Kafka spells it, `topic-partition`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct TopicPartition {
    /// The topic's name.
    pub topic: Arc<str>,
    /// The partition's index within the topic.
    pub partition: i32,
}

impl TopicPartition {
    /// Partition `partition` of `topic`.
    pub fn new(topic: impl Into<Arc<str>>, partition: i32) -> Self {
        Self {
            topic: topic.into(),
            partition,
        }
    }

    /// The topic's name.
    pub fn topic(&self) -> &str {
        &self.topic
    }
}

impl fmt::Display for TopicPartition {
    /// Kafka's usual `topic-partition` spelling.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_by_topic_then_partition_and_displays_as_kafka_does() {
        let mut tps = vec![
            TopicPartition::new("b", 0),
            TopicPartition::new("a", 10),
            TopicPartition::new("a", 2),
        ];
        tps.sort();
        assert_eq!(
            tps,
            [
                TopicPartition::new("a", 2),
                TopicPartition::new("a", 10),
                TopicPartition::new("b", 0),
            ]
        );
        assert_eq!(TopicPartition::new("logs", 3).to_string(), "logs-3");
        assert_eq!(TopicPartition::new(String::from("t"), 1).topic(), "t");
    }

    #[cfg(feature = "serde")]
    #[test]
    fn serializes_as_topic_and_partition() {
        let tp = TopicPartition::new("events", 7);
        let json = serde_json::to_string(&tp).unwrap();
        assert_eq!(json, r#"{"topic":"events","partition":7}"#);
        assert_eq!(serde_json::from_str::<TopicPartition>(&json).unwrap(), tp);
    }
}

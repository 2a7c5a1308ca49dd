//! Consumer strategies (Spark's `ConsumerStrategies`): which partitions a direct stream reads.
//!
//! The partitions are found in metadata snapshots, refreshed before every batch:
//! - [`ConsumerStrategy::Subscribe`] reads every partition of the named topics. A topic that
//!   does not exist yet joins once it does; partitions added to a topic join at the next batch.
//! - [`ConsumerStrategy::SubscribePattern`] reads every partition of each non-internal topic
//!   whose whole name matches the pattern (as Kafka's `subscribe(Pattern)`), including topics
//!   created while the stream runs.
//! - [`ConsumerStrategy::Assign`] reads exactly the given partitions. They must exist when the
//!   stream starts.
//!
//! A topic or partition that disappears from the metadata (deleted) leaves the stream; if it
//! comes back, it joins again like a new one.

use std::collections::{BTreeMap, BTreeSet};

use gregor_client::cluster::MetadataCache;
use regex::Regex;

use crate::range::TopicPartition;

/// Which partitions a direct stream reads, with optional explicit starting offsets.
///
/// Explicit offsets (`offsets`) take precedence over stored offsets and over the
/// [`StartingOffsets`](super::StartingOffsets) policy, for the partitions they name.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ConsumerStrategy {
    /// Every partition of these topics.
    Subscribe {
        /// The topic names.
        topics: Vec<String>,
        /// Explicit starting offsets (the next offset to read) per partition.
        offsets: BTreeMap<TopicPartition, i64>,
    },
    /// Every partition of each non-internal topic whose whole name matches `pattern`.
    SubscribePattern {
        /// The pattern topic names must match in full.
        pattern: Regex,
        /// Explicit starting offsets (the next offset to read) per partition.
        offsets: BTreeMap<TopicPartition, i64>,
    },
    /// Exactly these partitions.
    Assign {
        /// The partitions.
        partitions: Vec<TopicPartition>,
        /// Explicit starting offsets (the next offset to read) per partition.
        offsets: BTreeMap<TopicPartition, i64>,
    },
}

impl ConsumerStrategy {
    /// Every partition of `topics`.
    pub fn subscribe<I, S>(topics: I) -> ConsumerStrategy
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        ConsumerStrategy::Subscribe {
            topics: topics.into_iter().map(Into::into).collect(),
            offsets: BTreeMap::new(),
        }
    }

    /// Every partition of the non-internal topics whose whole name matches `pattern`.
    pub fn pattern(pattern: Regex) -> ConsumerStrategy {
        ConsumerStrategy::SubscribePattern {
            pattern,
            offsets: BTreeMap::new(),
        }
    }

    /// Exactly `partitions`.
    pub fn assign(partitions: impl IntoIterator<Item = TopicPartition>) -> ConsumerStrategy {
        ConsumerStrategy::Assign {
            partitions: partitions.into_iter().collect(),
            offsets: BTreeMap::new(),
        }
    }

    /// Sets explicit starting offsets (the next offset to read) for some partitions.
    #[must_use]
    pub fn with_offsets(mut self, explicit: BTreeMap<TopicPartition, i64>) -> ConsumerStrategy {
        match &mut self {
            ConsumerStrategy::Subscribe { offsets, .. }
            | ConsumerStrategy::SubscribePattern { offsets, .. }
            | ConsumerStrategy::Assign { offsets, .. } => *offsets = explicit,
        }
        self
    }

    /// The explicit starting offsets.
    pub fn offsets(&self) -> &BTreeMap<TopicPartition, i64> {
        match self {
            ConsumerStrategy::Subscribe { offsets, .. }
            | ConsumerStrategy::SubscribePattern { offsets, .. }
            | ConsumerStrategy::Assign { offsets, .. } => offsets,
        }
    }

    /// The topics whose metadata the strategy needs: `None` for all (a pattern).
    pub(crate) fn metadata_topics(&self) -> Option<Vec<String>> {
        match self {
            ConsumerStrategy::Subscribe { topics, .. } => Some(dedup(topics.iter().cloned())),
            ConsumerStrategy::SubscribePattern { .. } => None,
            ConsumerStrategy::Assign { partitions, .. } => {
                Some(dedup(partitions.iter().map(|tp| tp.topic.to_string())))
            }
        }
    }
}

fn dedup(names: impl Iterator<Item = String>) -> Vec<String> {
    names.collect::<BTreeSet<_>>().into_iter().collect()
}

/// A pattern anchored at both ends, so that it matches whole topic names.
///
/// # Errors
/// The regex error if the anchored pattern does not compile (it exceeds the size limit).
pub(crate) fn anchored(pattern: &Regex) -> Result<Regex, regex::Error> {
    Regex::new(&format!("^(?:{})$", pattern.as_str()))
}

/// The partitions `strategy` reads in `metadata`; `pattern` is the anchored pattern of a
/// [`ConsumerStrategy::SubscribePattern`]. Topics the snapshot reports with an error (for
/// example unknown) contribute no partitions; assigned partitions the snapshot lacks are left
/// out.
pub(crate) fn discover(
    strategy: &ConsumerStrategy,
    pattern: Option<&Regex>,
    metadata: &MetadataCache,
) -> BTreeSet<TopicPartition> {
    let of_topic = |name: &str| -> Vec<TopicPartition> {
        metadata
            .topic(name)
            .filter(|t| t.error.is_ok())
            .map(|t| {
                t.partitions
                    .iter()
                    .map(|p| TopicPartition::new(name, p.partition))
                    .collect()
            })
            .unwrap_or_default()
    };
    match strategy {
        ConsumerStrategy::Subscribe { topics, .. } => {
            topics.iter().flat_map(|t| of_topic(t)).collect()
        }
        ConsumerStrategy::SubscribePattern { .. } => metadata
            .topic_names()
            .into_iter()
            .filter(|name| {
                metadata.topic(name).is_some_and(|t| !t.is_internal)
                    && pattern.is_some_and(|p| p.is_match(name))
            })
            .flat_map(of_topic)
            .collect(),
        ConsumerStrategy::Assign { partitions, .. } => partitions
            .iter()
            .filter(|tp| {
                metadata.topic(&tp.topic).is_some_and(|t| t.error.is_ok())
                    && metadata.partition(&tp.topic, tp.partition).is_some()
            })
            .cloned()
            .collect(),
    }
}

/// The leader broker id of each of `partitions` that has one in `metadata`.
pub(crate) fn leaders<'a>(
    metadata: &MetadataCache,
    partitions: impl IntoIterator<Item = &'a TopicPartition>,
) -> BTreeMap<TopicPartition, i32> {
    partitions
        .into_iter()
        .filter_map(|tp| {
            let leader = metadata.partition(&tp.topic, tp.partition)?.leader?;
            Some((tp.clone(), leader))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use gregor_protocol::messages::MetadataResponse;
    use gregor_protocol::messages::metadata::{
        MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
    };

    use super::*;

    fn topic(name: &str, partitions: i32, error: i16, internal: bool) -> MetadataResponseTopic {
        MetadataResponseTopic {
            error_code: error,
            name: Some(name.to_owned()),
            is_internal: internal,
            partitions: (0..partitions)
                .map(|p| MetadataResponsePartition {
                    partition_index: p,
                    leader_id: 1 + p % 2,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    fn cache() -> MetadataCache {
        let response = MetadataResponse {
            brokers: (1..=2)
                .map(|id| MetadataResponseBroker {
                    node_id: id,
                    host: "127.0.0.1".to_owned(),
                    port: 9000 + id,
                    ..Default::default()
                })
                .collect(),
            topics: vec![
                topic("events-a", 2, 0, false),
                topic("events-b", 1, 0, false),
                topic("events-gone", 0, 3, false),
                topic("events-internal", 1, 0, true),
                topic("logs", 3, 0, false),
            ],
            ..Default::default()
        };
        let mut cache = MetadataCache::new();
        cache.apply(&response, true, std::time::Instant::now());
        cache
    }

    fn names(found: &BTreeSet<TopicPartition>) -> Vec<String> {
        found.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn discovers_partitions_per_strategy() {
        let cache = cache();
        let s = ConsumerStrategy::subscribe(["events-a", "events-gone", "missing"]);
        assert_eq!(
            names(&discover(&s, None, &cache)),
            ["events-a-0", "events-a-1"]
        );

        let re = Regex::new("events-.*").unwrap();
        let s = ConsumerStrategy::pattern(re.clone());
        let p = anchored(&re).unwrap();
        assert_eq!(
            names(&discover(&s, Some(&p), &cache)),
            ["events-a-0", "events-a-1", "events-b-0"],
            "no internal topics, no topics with errors"
        );

        let s = ConsumerStrategy::assign([
            TopicPartition::new("logs", 2),
            TopicPartition::new("logs", 3),
            TopicPartition::new("missing", 0),
        ]);
        assert_eq!(names(&discover(&s, None, &cache)), ["logs-2"]);
    }

    #[test]
    fn leaders_come_from_the_snapshot() {
        let cache = cache();
        let tps = [
            TopicPartition::new("logs", 0),
            TopicPartition::new("logs", 1),
        ];
        let found = leaders(&cache, &tps);
        assert_eq!(
            found,
            BTreeMap::from([(tps[0].clone(), 1), (tps[1].clone(), 2)])
        );
    }

    #[test]
    fn anchored_patterns_match_whole_names() {
        let p = anchored(&Regex::new("events-.*|logs").unwrap()).unwrap();
        assert!(p.is_match("events-1"));
        assert!(p.is_match("logs"));
        assert!(!p.is_match("old-logs"));
        assert!(!p.is_match("logs2"));
    }

    #[test]
    fn offsets_replace() {
        let tp = TopicPartition::new("t", 0);
        let s = ConsumerStrategy::subscribe(["t", "t", "u"])
            .with_offsets(BTreeMap::from([(tp.clone(), 7)]));
        assert_eq!(s.offsets()[&tp], 7);
        assert_eq!(
            s.metadata_topics(),
            Some(vec!["t".to_owned(), "u".to_owned()])
        );
        assert_eq!(
            ConsumerStrategy::pattern(Regex::new("x").unwrap()).metadata_topics(),
            None
        );
    }
}

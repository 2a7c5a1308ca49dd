//! The sender's view of the topics it produces to: partition counts, leaders, topic ids, and
//! which topics need (re)loading.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gregor_protocol::primitives::Uuid;

use crate::cluster::BrokerId;
use crate::error::ClientError;
use crate::producer::transport::PartitionInfo;
use gregor_protocol::TopicPartition;

/// What a metadata load found for one topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicMetadata {
    /// The partitions and their leaders.
    pub partitions: Vec<PartitionInfo>,
    /// The topic id, when known (needed by Produce v13+).
    pub topic_id: Option<Uuid>,
}

/// One topic as last loaded.
#[derive(Debug)]
pub(super) struct TopicView {
    /// Leader by partition index; the topic has `leaders.len()` partitions.
    pub(super) leaders: Vec<Option<BrokerId>>,
    /// Partitions that have a leader, ascending.
    pub(super) available: Vec<i32>,
    pub(super) topic_id: Option<Uuid>,
    loaded_at: Instant,
}

impl TopicView {
    fn new(metadata: TopicMetadata, now: Instant) -> Option<Self> {
        let count = metadata
            .partitions
            .iter()
            .filter_map(|p| usize::try_from(p.partition).ok())
            .max()?
            .checked_add(1)?;
        i32::try_from(count).ok()?;
        let mut leaders = vec![None; count];
        for p in &metadata.partitions {
            if let Some(slot) = usize::try_from(p.partition)
                .ok()
                .and_then(|i| leaders.get_mut(i))
            {
                *slot = p.leader;
            }
        }
        let available = (0..count)
            .filter(|&i| leaders[i].is_some())
            .filter_map(|i| i32::try_from(i).ok())
            .collect();
        Some(Self {
            leaders,
            available,
            topic_id: metadata.topic_id,
            loaded_at: now,
        })
    }

    /// The partition count.
    pub(super) fn count(&self) -> i32 {
        i32::try_from(self.leaders.len()).unwrap_or(i32::MAX)
    }

    pub(super) fn leader(&self, partition: i32) -> Option<BrokerId> {
        let i = usize::try_from(partition).ok()?;
        self.leaders.get(i).copied().flatten()
    }
}

/// Every topic the producer knows, and the loads it needs.
#[derive(Debug, Default)]
pub(super) struct Topics {
    views: HashMap<Arc<str>, TopicView>,
    /// The last load error of topics that have no view.
    errors: HashMap<Arc<str>, ClientError>,
    /// Topics to load for the first time.
    wanted: BTreeSet<Arc<str>>,
    /// Known topics to refresh (a leader moved or is missing).
    stale: BTreeSet<Arc<str>>,
    /// A load is running.
    loading: bool,
    /// No load starts before this (after a failed load or a refresh).
    next_load_at: Option<Instant>,
}

impl Topics {
    /// The topic's interned name and view.
    pub(super) fn view(&self, topic: &str) -> Option<(&Arc<str>, &TopicView)> {
        self.views.get_key_value(topic)
    }

    /// The leader of `tp`, if known.
    pub(super) fn leader(&self, tp: &TopicPartition) -> Option<BrokerId> {
        self.views.get(&*tp.topic)?.leader(tp.partition)
    }

    pub(super) fn topic_id(&self, topic: &str) -> Option<Uuid> {
        self.views.get(topic)?.topic_id
    }

    /// Every partition of `topic` that has a leader, with the leader.
    pub(super) fn leaders_of(&self, topic: &str) -> impl Iterator<Item = (i32, BrokerId)> + '_ {
        let leaders = self.views.get(topic).map_or(&[][..], |v| &v.leaders[..]);
        leaders
            .iter()
            .enumerate()
            .filter_map(|(i, l)| Some((i32::try_from(i).ok()?, (*l)?)))
    }

    /// The last load error of a topic without a view.
    pub(super) fn error(&self, topic: &str) -> Option<&ClientError> {
        self.errors.get(topic)
    }

    /// Asks for a first load of `topic` (no-op when it is known or already asked for).
    pub(super) fn want(&mut self, topic: &str) {
        if !self.views.contains_key(topic) && !self.wanted.contains(topic) {
            self.wanted.insert(Arc::from(topic));
        }
    }

    /// Asks for a refresh of `topic`.
    pub(super) fn mark_stale(&mut self, topic: &Arc<str>) {
        if !self.stale.contains(topic) {
            tracing::debug!(topic = &**topic, "metadata refresh needed");
            self.stale.insert(topic.clone());
        }
    }

    /// Asks for a refresh of every known topic.
    pub(super) fn mark_all_stale(&mut self) {
        let known: Vec<Arc<str>> = self.views.keys().cloned().collect();
        self.stale.extend(known);
    }

    /// Marks topics loaded longer than `max_age` ago as stale.
    pub(super) fn age(&mut self, now: Instant, max_age: Duration) {
        let old: Vec<Arc<str>> = self
            .views
            .iter()
            .filter(|(_, v)| now.saturating_duration_since(v.loaded_at) >= max_age)
            .map(|(t, _)| t.clone())
            .collect();
        self.stale.extend(old);
    }

    /// The next load to start, if one is due: the topics, and whether to refresh first.
    pub(super) fn start_load(&mut self, now: Instant) -> Option<(Vec<Arc<str>>, bool)> {
        if self.loading || self.next_load_at.is_some_and(|at| now < at) {
            return None;
        }
        if self.wanted.is_empty() && self.stale.is_empty() {
            return None;
        }
        let refresh = !self.stale.is_empty();
        let mut topics: BTreeSet<Arc<str>> = std::mem::take(&mut self.wanted);
        topics.append(&mut self.stale);
        self.loading = true;
        Some((topics.into_iter().collect(), refresh))
    }

    /// Takes a load's results; `refresh` says it was a refresh. After a failure or a refresh,
    /// the next load waits `backoff`.
    pub(super) fn finish_load(
        &mut self,
        results: Vec<(Arc<str>, Result<TopicMetadata, ClientError>)>,
        refresh: bool,
        backoff: Duration,
        now: Instant,
    ) {
        self.loading = false;
        let mut failed = false;
        for (topic, result) in results {
            match result.map(|m| TopicView::new(m, now)) {
                Ok(Some(view)) => {
                    self.errors.remove(&topic);
                    self.wanted.remove(&topic);
                    self.views.insert(topic, view);
                }
                Ok(None) => {
                    tracing::debug!(topic = &*topic, "topic has no partitions yet");
                    failed = true;
                }
                Err(e) => {
                    tracing::debug!(topic = &*topic, error = %e, "topic metadata failed");
                    failed = true;
                    if !self.views.contains_key(&topic) {
                        self.errors.insert(topic, e);
                    }
                }
            }
        }
        self.next_load_at = (failed || refresh).then_some(now + backoff);
    }

    /// When a load waiting for its backoff may start (`None`: none waiting, or not in backoff).
    pub(super) fn next_load_at(&self) -> Option<Instant> {
        if self.loading || (self.wanted.is_empty() && self.stale.is_empty()) {
            return None;
        }
        self.next_load_at
    }

    /// When the oldest view reaches `max_age`.
    pub(super) fn next_aging(&self, max_age: Duration) -> Option<Instant> {
        self.views.values().map(|v| v.loaded_at + max_age).min()
    }
}

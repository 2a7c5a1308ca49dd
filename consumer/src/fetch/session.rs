//! Sans-io state of a KIP-227 incremental fetch session with one broker.
//!
//! The first request is a full fetch (`session_id` 0, `session_epoch` 0) naming every wanted
//! partition; a broker that creates a session answers with its id. Later requests are
//! incremental: they name only partitions that are new or whose fetch offset, leader epoch
//! or size limit changed, list partitions no longer wanted in `forgotten_topics_data`, and
//! carry the session id and the next epoch. An incremental response omits partitions with
//! nothing new. On `FETCH_SESSION_ID_NOT_FOUND` / `INVALID_FETCH_SESSION_EPOCH` (the broker
//! evicted the session, or a request was lost) and after a failed request, the session is
//! reset and the next request is full again.
//!
//! Sessions need Fetch v7; with sessions off (or older brokers) every request is a full,
//! sessionless fetch (`session_epoch` -1). From v13, topics are named by id.

use std::collections::{BTreeMap, HashMap};

use gregor_protocol::ErrorCode;
use gregor_protocol::messages::fetch::{
    CONSUMER_REPLICA_ID, FINAL_SESSION_EPOCH, FetchPartition, FetchRequest, FetchResponse,
    FetchTopic, ForgottenTopic, INITIAL_SESSION_EPOCH, INVALID_SESSION_ID, PartitionData,
};
use gregor_protocol::primitives::Uuid;

use crate::range::TopicPartition;

/// A partition the next request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WantedPartition {
    /// The partition.
    pub tp: TopicPartition,
    /// The topic's id (zero when unknown; then the request must be v12 or older).
    pub topic_id: Uuid,
    /// Where to fetch from.
    pub fetch_offset: i64,
    /// The leader epoch from the metadata, or -1.
    pub current_leader_epoch: i32,
    /// The most bytes for this partition.
    pub max_bytes: i32,
    /// The leader epoch of the last batch fetched, or -1 (v12+: lets the leader report a
    /// diverging epoch when its log was truncated below the fetch offset).
    pub last_fetched_epoch: i32,
}

/// Request-wide settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestLimits {
    /// `max_wait_ms`.
    pub max_wait_ms: i32,
    /// `min_bytes`.
    pub min_bytes: i32,
    /// `max_bytes` of the whole response.
    pub max_bytes: i32,
    /// 0 read_uncommitted, 1 read_committed.
    pub isolation_level: i8,
}

/// What the session made of a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionOutcome {
    /// The response applies; read its partitions.
    Ok,
    /// The broker refused the session or failed the request as a whole: the session was
    /// reset, ignore the response's partitions and fetch again (fully).
    Reset(ErrorCode),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Sent {
    fetch_offset: i64,
    last_fetched_epoch: i32,
    leader_epoch: i32,
    max_bytes: i32,
    topic_id: Uuid,
}

/// The fetch session with one broker.
#[derive(Debug, Default)]
pub struct FetchSession {
    enabled: bool,
    id: i32,
    epoch: i32,
    /// What the broker's session holds (after the last successful response).
    held: HashMap<TopicPartition, Sent>,
    /// What the request in flight would make it hold.
    pending: Option<HashMap<TopicPartition, Sent>>,
    /// Whether the request in flight is a full one.
    pending_full: bool,
}

impl FetchSession {
    /// A session; `enabled` false makes every request a sessionless full fetch.
    pub fn new(enabled: bool) -> Self {
        Self {
            enabled,
            ..Self::default()
        }
    }

    /// The session id (0 while there is none).
    pub fn id(&self) -> i32 {
        self.id
    }

    /// The epoch the next incremental request carries.
    pub fn epoch(&self) -> i32 {
        self.epoch
    }

    /// Forgets the session: the next request is full.
    pub fn reset(&mut self) {
        self.id = INVALID_SESSION_ID;
        self.epoch = INITIAL_SESSION_EPOCH;
        self.held.clear();
        self.pending = None;
    }

    /// Builds the next request for `wanted` in `version`, and remembers it until
    /// [`handle_response`](Self::handle_response) or [`reset`](Self::reset).
    pub fn build(
        &mut self,
        wanted: &[WantedPartition],
        version: i16,
        limits: RequestLimits,
    ) -> FetchRequest {
        let by_id = version >= 13;
        let sessions = self.enabled && version >= 7;
        let incremental = sessions && self.id != INVALID_SESSION_ID;
        let next: HashMap<TopicPartition, Sent> = wanted
            .iter()
            .map(|w| {
                let sent = Sent {
                    fetch_offset: w.fetch_offset,
                    last_fetched_epoch: w.last_fetched_epoch,
                    leader_epoch: w.current_leader_epoch,
                    max_bytes: w.max_bytes,
                    topic_id: w.topic_id,
                };
                (w.tp.clone(), sent)
            })
            .collect();
        // Topics in a stable order: by name, partitions as given.
        let mut topics: BTreeMap<&str, FetchTopic> = BTreeMap::new();
        for w in wanted {
            if incremental && self.held.get(&w.tp) == next.get(&w.tp) {
                continue;
            }
            let topic = topics
                .entry(w.tp.topic.as_ref())
                .or_insert_with(|| FetchTopic {
                    topic: if by_id {
                        String::new()
                    } else {
                        w.tp.topic.to_string()
                    },
                    topic_id: if by_id { w.topic_id } else { Uuid::ZERO },
                    ..FetchTopic::default()
                });
            topic.partitions.push(FetchPartition {
                partition: w.tp.partition,
                current_leader_epoch: w.current_leader_epoch,
                fetch_offset: w.fetch_offset,
                last_fetched_epoch: w.last_fetched_epoch,
                partition_max_bytes: w.max_bytes,
                ..FetchPartition::default()
            });
        }
        let mut forgotten: BTreeMap<&str, ForgottenTopic> = BTreeMap::new();
        if incremental {
            let mut gone: Vec<(&TopicPartition, &Sent)> = self
                .held
                .iter()
                .filter(|(tp, _)| !next.contains_key(*tp))
                .collect();
            gone.sort_by(|a, b| a.0.cmp(b.0));
            for (tp, sent) in gone {
                forgotten
                    .entry(tp.topic.as_ref())
                    .or_insert_with(|| ForgottenTopic {
                        topic: if by_id {
                            String::new()
                        } else {
                            tp.topic.to_string()
                        },
                        topic_id: if by_id { sent.topic_id } else { Uuid::ZERO },
                        ..ForgottenTopic::default()
                    })
                    .partitions
                    .push(tp.partition);
            }
        }
        let (session_id, session_epoch) = if !sessions {
            (INVALID_SESSION_ID, FINAL_SESSION_EPOCH)
        } else if incremental {
            (self.id, self.epoch)
        } else {
            (INVALID_SESSION_ID, INITIAL_SESSION_EPOCH)
        };
        let request = FetchRequest {
            replica_id: CONSUMER_REPLICA_ID,
            max_wait_ms: limits.max_wait_ms,
            min_bytes: limits.min_bytes,
            max_bytes: limits.max_bytes,
            isolation_level: limits.isolation_level,
            session_id,
            session_epoch,
            topics: topics.into_values().collect(),
            forgotten_topics_data: forgotten.into_values().collect(),
            ..FetchRequest::default()
        };
        self.pending = Some(next);
        self.pending_full = !incremental;
        request
    }

    /// Takes the response to the last built request.
    pub fn handle_response(&mut self, response: &FetchResponse) -> SessionOutcome {
        let code = ErrorCode::from_code(response.error_code);
        let Some(next) = self.pending.take() else {
            return SessionOutcome::Ok;
        };
        if code.is_err() {
            self.reset();
            return SessionOutcome::Reset(code);
        }
        if !self.enabled {
            return SessionOutcome::Ok;
        }
        if self.pending_full {
            self.id = response.session_id;
            self.epoch = if self.id == INVALID_SESSION_ID {
                INITIAL_SESSION_EPOCH
            } else {
                1
            };
        } else {
            self.epoch = if self.epoch == i32::MAX {
                1
            } else {
                self.epoch + 1
            };
        }
        self.held = if self.id == INVALID_SESSION_ID {
            HashMap::new()
        } else {
            next
        };
        SessionOutcome::Ok
    }
}

/// The partitions of a response, keyed by partition: by topic name up to v12, by topic id
/// (mapped to names through `names`) from v13. Topics the map does not know are left out.
pub fn response_partitions<'a>(
    response: &'a FetchResponse,
    version: i16,
    names: &HashMap<Uuid, String>,
) -> HashMap<TopicPartition, &'a PartitionData> {
    let mut out = HashMap::new();
    for topic in &response.responses {
        let name = if version >= 13 {
            match names.get(&topic.topic_id) {
                Some(name) => name.clone(),
                None => continue,
            }
        } else {
            topic.topic.clone()
        };
        for p in &topic.partitions {
            out.insert(TopicPartition::new(name.clone(), p.partition_index), p);
        }
    }
    out
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;

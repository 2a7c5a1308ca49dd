//! Incremental fetch sessions (KIP-227), one cache per broker, following Kafka's fetch session
//! manager:
//!
//! - `session_id` 0 with epoch -1: a sessionless full fetch;
//! - epoch 0 (any session id; a given one is closed first): a full fetch that creates a session
//!   when the response is sent (its id in the response, 0 when the cache had no room), next
//!   expected epoch 1;
//! - epoch -1 with a session id: closes it, then fetches sessionless;
//! - epoch > 0: an incremental fetch of session `session_id`: `FETCH_SESSION_ID_NOT_FOUND` if
//!   unknown, `INVALID_FETCH_SESSION_EPOCH` unless the epoch is the one expected,
//!   `FETCH_SESSION_TOPIC_ID_ERROR` if the request's use of topic ids (v13+) differs from the
//!   session's. The request's partitions are added or update the cached ones, forgotten ones
//!   are removed (a session left empty is closed), and every cached partition is fetched; the
//!   response carries only the partitions with records, a changed high watermark or log start
//!   offset, an error or a diverging epoch, and partitions that returned records move to the end
//!   of the session's order.
//!
//! The cache holds `slots` sessions. When full, a new session evicts the least recently used one
//! if it has been idle longer than the eviction time, else the smallest session older than the
//! eviction time if the new one has more partitions; otherwise no session is created.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use gregor_protocol::ErrorCode;
use gregor_protocol::messages::fetch::{FINAL_SESSION_EPOCH, INITIAL_SESSION_EPOCH, PartitionData};
use gregor_protocol::primitives::Uuid;

/// One partition of a fetch request, or cached in a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchPartitionReq {
    /// The topic name (empty if a v13+ request named an unknown topic id).
    pub topic: String,
    /// The topic id (zero before v13).
    pub topic_id: Uuid,
    /// The partition index.
    pub partition: i32,
    /// Where to read from.
    pub fetch_offset: i64,
    /// The partition's byte limit.
    pub max_bytes: i32,
    /// The leader epoch the fetcher knows, or -1.
    pub current_leader_epoch: i32,
    /// The epoch of the last record fetched, or -1.
    pub last_fetched_epoch: i32,
}

impl FetchPartitionReq {
    fn same_partition(&self, other: &FetchPartitionReq, ids: bool) -> bool {
        self.partition == other.partition
            && if ids {
                self.topic_id == other.topic_id
            } else {
                self.topic == other.topic
            }
    }
}

/// A partition to drop from a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forgotten {
    /// The topic name (before v13).
    pub topic: String,
    /// The topic id (v13+).
    pub topic_id: Uuid,
    /// The partition index.
    pub partition: i32,
}

#[derive(Debug, Clone)]
struct Cached {
    req: FetchPartitionReq,
    high_watermark: i64,
    log_start_offset: i64,
}

#[derive(Debug, Clone)]
struct Session {
    epoch: i32,
    uses_topic_ids: bool,
    partitions: Vec<Cached>,
    created: Instant,
    last_used: Instant,
}

/// How a fetch request is served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchContext {
    /// No session.
    Sessionless,
    /// A full fetch that opens a session when answered.
    Full {
        /// Whether the session names topics by id.
        uses_topic_ids: bool,
    },
    /// An incremental fetch of a session.
    Incremental {
        /// The session id.
        session_id: i32,
        /// The session epoch the response must still find (else a newer request overtook it).
        expected_epoch: i32,
    },
    /// A session error: the response carries only this top-level error.
    Error(ErrorCode),
}

/// The next session epoch after `epoch`, as Kafka counts (wrapping to 1).
fn next_epoch(epoch: i32) -> i32 {
    if epoch < 0 {
        FINAL_SESSION_EPOCH
    } else if epoch == i32::MAX {
        1
    } else {
        epoch + 1
    }
}

/// The fetch sessions of one broker.
#[derive(Debug, Clone)]
pub struct SessionCache {
    slots: usize,
    eviction: Duration,
    sessions: HashMap<i32, Session>,
    next_id: i32,
}

impl SessionCache {
    /// A cache of `slots` sessions; idle sessions become evictable after `eviction`.
    pub fn new(slots: usize, eviction: Duration) -> Self {
        SessionCache {
            slots,
            eviction,
            sessions: HashMap::new(),
            next_id: 1,
        }
    }

    /// How many sessions are cached.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// Drops every session (the broker went down).
    pub fn clear(&mut self) {
        self.sessions.clear();
    }

    /// Resolves a request's session fields into a context, updating the session of an
    /// incremental fetch. Returns the context and the partitions to fetch, in order.
    pub fn new_context(
        &mut self,
        version: i16,
        session_id: i32,
        epoch: i32,
        partitions: Vec<FetchPartitionReq>,
        forgotten: &[Forgotten],
        now: Instant,
    ) -> (FetchContext, Vec<FetchPartitionReq>) {
        let uses_ids = version >= 13;
        if version < 7 {
            return (FetchContext::Sessionless, partitions);
        }
        if epoch == INITIAL_SESSION_EPOCH || epoch == FINAL_SESSION_EPOCH {
            if session_id != 0 {
                self.sessions.remove(&session_id);
            }
            let ctx = if epoch == FINAL_SESSION_EPOCH {
                FetchContext::Sessionless
            } else {
                FetchContext::Full {
                    uses_topic_ids: uses_ids,
                }
            };
            return (ctx, partitions);
        }
        let Some(session) = self.sessions.get_mut(&session_id) else {
            return (
                FetchContext::Error(ErrorCode::FetchSessionIdNotFound),
                Vec::new(),
            );
        };
        if session.epoch != epoch {
            return (
                FetchContext::Error(ErrorCode::InvalidFetchSessionEpoch),
                Vec::new(),
            );
        }
        if session.uses_topic_ids != uses_ids {
            return (
                FetchContext::Error(ErrorCode::FetchSessionTopicIdError),
                Vec::new(),
            );
        }
        for req in partitions.iter() {
            match session
                .partitions
                .iter_mut()
                .find(|c| c.req.same_partition(req, uses_ids))
            {
                Some(c) => c.req = req.clone(),
                None => session.partitions.push(Cached {
                    req: req.clone(),
                    high_watermark: -1,
                    log_start_offset: -1,
                }),
            }
        }
        for f in forgotten {
            session.partitions.retain(|c| {
                let same_topic = if uses_ids {
                    c.req.topic_id == f.topic_id
                } else {
                    c.req.topic == f.topic
                };
                !(same_topic && c.req.partition == f.partition)
            });
        }
        if session.partitions.is_empty() {
            self.sessions.remove(&session_id);
            return (FetchContext::Sessionless, partitions);
        }
        session.last_used = now;
        session.epoch = next_epoch(session.epoch);
        let reqs = session.partitions.iter().map(|c| c.req.clone()).collect();
        (
            FetchContext::Incremental {
                session_id,
                expected_epoch: session.epoch,
            },
            reqs,
        )
    }

    /// Completes a fetch: creates the session of a full fetch, or filters an incremental
    /// fetch's partitions down to those that changed. Returns the top-level error, the session
    /// id for the response, and the partitions to send.
    pub fn finish(
        &mut self,
        ctx: &FetchContext,
        results: Vec<(FetchPartitionReq, PartitionData)>,
        now: Instant,
    ) -> (ErrorCode, i32, Vec<(FetchPartitionReq, PartitionData)>) {
        match ctx {
            FetchContext::Sessionless => (ErrorCode::None, 0, results),
            FetchContext::Error(code) => (*code, 0, Vec::new()),
            FetchContext::Full { uses_topic_ids } => {
                let cached = results
                    .iter()
                    .map(|(req, data)| Cached {
                        req: req.clone(),
                        high_watermark: data.high_watermark,
                        log_start_offset: data.log_start_offset,
                    })
                    .collect();
                let id = self.maybe_create(*uses_topic_ids, cached, now);
                (ErrorCode::None, id, results)
            }
            FetchContext::Incremental {
                session_id,
                expected_epoch,
            } => {
                let Some(session) = self.sessions.get_mut(session_id) else {
                    return (ErrorCode::FetchSessionIdNotFound, 0, Vec::new());
                };
                if session.epoch != *expected_epoch {
                    return (ErrorCode::InvalidFetchSessionEpoch, *session_id, Vec::new());
                }
                let ids = session.uses_topic_ids;
                let mut out = Vec::new();
                for (req, data) in results {
                    let Some(pos) = session
                        .partitions
                        .iter()
                        .position(|c| c.req.same_partition(&req, ids))
                    else {
                        continue;
                    };
                    let c = &mut session.partitions[pos];
                    let has_records = data.records.as_ref().is_some_and(|r| !r.is_empty());
                    let mut respond = has_records;
                    if c.high_watermark != data.high_watermark {
                        respond = true;
                        c.high_watermark = data.high_watermark;
                    }
                    if c.log_start_offset != data.log_start_offset {
                        respond = true;
                        c.log_start_offset = data.log_start_offset;
                    }
                    if data.error_code != 0 {
                        respond = true;
                        c.high_watermark = -1;
                    }
                    if data.diverging_epoch.epoch >= 0 {
                        respond = true;
                    }
                    if has_records {
                        let moved = session.partitions.remove(pos);
                        session.partitions.push(moved);
                    }
                    if respond {
                        out.push((req, data));
                    }
                }
                (ErrorCode::None, *session_id, out)
            }
        }
    }

    fn maybe_create(&mut self, uses_topic_ids: bool, partitions: Vec<Cached>, now: Instant) -> i32 {
        if self.sessions.len() >= self.slots && !self.try_evict(partitions.len(), now) {
            return 0;
        }
        let mut id = self.next_id;
        while id <= 0 || self.sessions.contains_key(&id) {
            id = id.checked_add(1).unwrap_or(1);
        }
        self.next_id = id.checked_add(1).unwrap_or(1);
        self.sessions.insert(
            id,
            Session {
                epoch: next_epoch(INITIAL_SESSION_EPOCH),
                uses_topic_ids,
                partitions,
                created: now,
                last_used: now,
            },
        );
        id
    }

    fn try_evict(&mut self, size: usize, now: Instant) -> bool {
        let idle = |s: &Session| now.saturating_duration_since(s.last_used) > self.eviction;
        let old = |s: &Session| now.saturating_duration_since(s.created) > self.eviction;
        let stale = self
            .sessions
            .iter()
            .min_by_key(|(id, s)| (s.last_used, **id))
            .filter(|(_, s)| idle(s))
            .map(|(id, _)| *id);
        let victim = stale.or_else(|| {
            self.sessions
                .iter()
                .filter(|(_, s)| old(s))
                .min_by_key(|(id, s)| (s.partitions.len(), **id))
                .filter(|(_, s)| size > s.partitions.len())
                .map(|(id, _)| *id)
        });
        victim.is_some_and(|id| self.sessions.remove(&id).is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(topic: &str, partition: i32, offset: i64) -> FetchPartitionReq {
        FetchPartitionReq {
            topic: topic.into(),
            topic_id: Uuid::ZERO,
            partition,
            fetch_offset: offset,
            max_bytes: 1024,
            current_leader_epoch: -1,
            last_fetched_epoch: -1,
        }
    }

    fn data(partition: i32, hw: i64, records: &'static [u8]) -> PartitionData {
        PartitionData {
            partition_index: partition,
            high_watermark: hw,
            log_start_offset: 0,
            records: Some(bytes::Bytes::from_static(records)),
            ..PartitionData::default()
        }
    }

    #[test]
    fn full_then_incremental() {
        let now = Instant::now();
        let mut c = SessionCache::new(10, Duration::from_secs(120));
        let (ctx, parts) = c.new_context(12, 0, 0, vec![req("t", 0, 0), req("t", 1, 0)], &[], now);
        assert_eq!(
            ctx,
            FetchContext::Full {
                uses_topic_ids: false
            }
        );
        let results = parts.into_iter().map(|r| {
            let p = r.partition;
            (r, data(p, 5, b""))
        });
        let (err, id, sent) = c.finish(&ctx, results.collect(), now);
        assert_eq!((err, sent.len()), (ErrorCode::None, 2));
        assert!(id > 0);

        // Epoch 1: nothing changed → nothing sent; the cached partitions are fetched.
        let (ctx, parts) = c.new_context(12, id, 1, vec![], &[], now);
        assert_eq!(parts.len(), 2);
        let results = parts.into_iter().map(|r| {
            let p = r.partition;
            (r, data(p, if p == 1 { 6 } else { 5 }, b""))
        });
        let (_, _, sent) = c.finish(&ctx, results.collect(), now);
        assert_eq!(
            sent.iter().map(|s| s.0.partition).collect::<Vec<_>>(),
            vec![1]
        );

        // A replayed epoch is refused; a forgotten partition leaves the session.
        assert_eq!(
            c.new_context(12, id, 1, vec![], &[], now).0,
            FetchContext::Error(ErrorCode::InvalidFetchSessionEpoch)
        );
        let forget = [Forgotten {
            topic: "t".into(),
            topic_id: Uuid::ZERO,
            partition: 0,
        }];
        let (_, parts) = c.new_context(12, id, 2, vec![], &forget, now);
        assert_eq!(parts.len(), 1);
        assert_eq!(
            c.new_context(12, 99, 1, vec![], &[], now).0,
            FetchContext::Error(ErrorCode::FetchSessionIdNotFound)
        );
        assert_eq!(
            c.new_context(13, id, 3, vec![], &[], now).0,
            FetchContext::Error(ErrorCode::FetchSessionTopicIdError)
        );
    }

    #[test]
    fn partitions_with_records_rotate_to_the_end() {
        let now = Instant::now();
        let mut c = SessionCache::new(10, Duration::from_secs(120));
        let (ctx, parts) = c.new_context(12, 0, 0, vec![req("t", 0, 0), req("t", 1, 0)], &[], now);
        let results = parts
            .into_iter()
            .map(|r| (r.clone(), data(r.partition, 1, b"")));
        let (_, id, _) = c.finish(&ctx, results.collect(), now);
        let (ctx, parts) = c.new_context(12, id, 1, vec![], &[], now);
        let results = parts.into_iter().map(|r| {
            let recs: &'static [u8] = if r.partition == 0 { b"x" } else { b"" };
            (r.clone(), data(r.partition, 1, recs))
        });
        c.finish(&ctx, results.collect(), now);
        let (_, parts) = c.new_context(12, id, 2, vec![], &[], now);
        assert_eq!(
            parts.iter().map(|p| p.partition).collect::<Vec<_>>(),
            vec![1, 0]
        );
    }

    #[test]
    fn the_cache_is_bounded_and_evicts_stale_sessions() {
        let t0 = Instant::now();
        let mut c = SessionCache::new(1, Duration::from_secs(120));
        let open = |c: &mut SessionCache, n: i32, now| {
            let reqs: Vec<_> = (0..n).map(|p| req("t", p, 0)).collect();
            let (ctx, parts) = c.new_context(12, 0, 0, reqs, &[], now);
            let results = parts
                .into_iter()
                .map(|r| (r.clone(), data(r.partition, 0, b"")));
            c.finish(&ctx, results.collect(), now).1
        };
        assert!(open(&mut c, 1, t0) > 0);
        assert_eq!(open(&mut c, 1, t0), 0, "full cache, nothing evictable");
        let later = t0 + Duration::from_secs(121);
        let id = open(&mut c, 1, later);
        assert!(id > 0, "the idle session is evicted");
        assert_eq!(c.len(), 1);
        // Used recently, created long ago: only a bigger session may evict it.
        let used = later + Duration::from_secs(100);
        let (ctx, parts) = c.new_context(12, id, 1, vec![], &[], used);
        let results = parts
            .into_iter()
            .map(|r| (r.clone(), data(r.partition, 0, b"")));
        c.finish(&ctx, results.collect(), used);
        let old_enough = later + Duration::from_secs(125);
        assert_eq!(open(&mut c, 1, old_enough), 0);
        assert!(
            open(&mut c, 2, old_enough) > 0,
            "a bigger session evicts an old smaller one"
        );
    }
}

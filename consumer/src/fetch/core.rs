//! [`FetchCore`]: the sans-io state of a fetch engine.
//!
//! The core owns every `Cursor` (position, end, leader epochs, state) and is the only code
//! that changes one. Each transition is a method that takes what happened (a request planned
//! for a broker, a partition's answer, looked-up log offsets, a leader-epoch check, a seek,
//! a pause, a revoke, a reader gone) and returns [`Effect`]s: deliveries for readers, and
//! I/O for the shell to start (offset lookups, epoch checks, metadata refreshes). It does no
//! I/O and never waits, so every transition is tested without sockets (`core_tests`).
//!
//! The engine keeps the core behind one mutex, next to the readers' mailboxes; broker loops
//! and lookup tasks lock it for a transition and apply its deliveries before unlocking, so a
//! reader sees deliveries in the order the core made them.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use gregor_client::cluster::BrokerId;
use gregor_protocol::ErrorCode;
use gregor_protocol::primitives::Uuid;
use tokio::time::Instant;

use super::budget::BudgetPermit;
use super::config::IsolationLevel;
use super::cursor::{Cursor, CursorEnd, CursorId, CursorSpec, CursorState, StartAt};
use super::delivery::Delivery;
use super::error::FetchError;
use super::exchange::{
    CoreSettings, Effect, EpochCheck, EpochOutcome, LeaderView, LogBounds, LookupFailure,
    LookupReason, OffsetLookup, PartitionAnswer, Plan, Taken,
};
use super::fetched::FetchedData;
use super::log_end::{LogEndVerdict, log_end_verdict};
use super::partition::Planned;
use super::refetch::CorruptRefetch;
use super::reset::{
    beyond_log_end, fail_cursor, out_of_range, place, truncated, unknown_partition,
};
use super::session::WantedPartition;
use crate::range::TopicPartition;

/// After this many `UNKNOWN_TOPIC_OR_PARTITION` answers in a row, a cursor fails.
pub(crate) const MAX_UNKNOWN_ROUNDS: u32 = 10;
/// After this many metadata refreshes in a row without its partition, a cursor fails.
pub(crate) const MISSING_REFRESHES: u32 = 5;

/// Every cursor of an engine, and the transitions between their states.
#[derive(Debug)]
pub(crate) struct FetchCore {
    cursors: HashMap<CursorId, Cursor>,
    next_id: CursorId,
    settings: CoreSettings,
    /// Per partition, where the last data fetched for it left a cursor: the position and
    /// the leader epochs it was fetched under. A new cursor starting exactly there (the
    /// direct stream's next batch, a partition assigned again) inherits the epochs, so a log
    /// truncated in between (an unclean election) is detected rather than read on.
    epochs: HashMap<TopicPartition, FetchedEpochs>,
}

/// Where a partition's last fetched data ended, under which leader epochs and topic id.
#[derive(Debug, Clone, Copy)]
struct FetchedEpochs {
    position: i64,
    last_fetched_epoch: i32,
    fetch_epoch: Option<i32>,
    topic_id: Option<Uuid>,
}

impl FetchCore {
    pub(crate) fn new(settings: CoreSettings) -> Self {
        Self {
            cursors: HashMap::new(),
            next_id: 0,
            settings,
            epochs: HashMap::new(),
        }
    }

    /// A cursor, for inspection.
    #[cfg(test)]
    pub(crate) fn cursor(&self, id: CursorId) -> Option<&Cursor> {
        self.cursors.get(&id)
    }

    /// Adds a cursor. An open cursor starting at the log start or end looks it up first.
    pub(crate) fn add(&mut self, spec: CursorSpec, out: &mut Vec<Effect>) -> CursorId {
        let id = self.next_id;
        self.next_id += 1;
        let (position, state) = match spec.start {
            StartAt::Offset(offset) => (offset, CursorState::Fetching),
            StartAt::Earliest | StartAt::Latest => (-1, CursorState::Resolving),
        };
        let mut cursor = Cursor {
            tp: spec.tp,
            end: spec.end,
            position,
            generation: 0,
            state,
            paused: false,
            in_flight: false,
            passed_over: 0,
            retry_at: None,
            unknown_rounds: 0,
            missing_rounds: 0,
            last_fetched_epoch: -1,
            fetch_epoch: None,
            reset: spec.reset,
            known_end: spec.known_end,
            lagging_since: None,
            demand: spec.demand,
            refetch: CorruptRefetch::default(),
            topic_id: None,
        };
        if let Some(known) = self.epochs.get(&cursor.tp) {
            if known.position == position && state == CursorState::Fetching {
                cursor.last_fetched_epoch = known.last_fetched_epoch;
                cursor.fetch_epoch = known.fetch_epoch;
                cursor.topic_id = known.topic_id;
            }
        }
        if cursor.reached_end() {
            cursor.state = CursorState::Done;
        }
        if state == CursorState::Resolving {
            out.push(start_lookup(id, &cursor, spec.start));
        }
        self.cursors.insert(id, cursor);
        id
    }

    /// Drops a cursor at once (its reader is gone); an answer in flight for it is ignored.
    pub(crate) fn remove(&mut self, id: CursorId) {
        self.cursors.remove(&id);
    }

    /// Moves a cursor to `start`: answers and deliveries of the old position are discarded
    /// (the new generation is returned), a failed or complete cursor reads again.
    pub(crate) fn seek(
        &mut self,
        id: CursorId,
        start: StartAt,
        out: &mut Vec<Effect>,
    ) -> Result<u64, FetchError> {
        let Some(c) = self.cursors.get_mut(&id) else {
            return Err(FetchError::EngineStopped);
        };
        let invalid = match start {
            StartAt::Offset(offset) => offset < 0 || offset > c.end.limit(),
            StartAt::Earliest | StartAt::Latest => c.end != CursorEnd::Open,
        };
        if invalid || c.state == CursorState::Revoked {
            return Err(FetchError::InvalidSeek {
                topic: c.tp.topic.to_string(),
                partition: c.tp.partition,
                to: start,
            });
        }
        c.generation += 1;
        c.retry_at = None;
        c.unknown_rounds = 0;
        c.last_fetched_epoch = -1;
        c.fetch_epoch = None;
        c.lagging_since = None;
        match start {
            StartAt::Offset(offset) => {
                c.position = offset;
                c.state = if c.reached_end() {
                    CursorState::Done
                } else {
                    CursorState::Fetching
                };
            }
            StartAt::Earliest | StartAt::Latest => {
                c.state = CursorState::Resolving;
                out.push(start_lookup(id, c, start));
            }
        }
        Ok(c.generation)
    }

    /// The reader found data of `generation` that does not decode: the cursor stops (a seek
    /// revives it).
    pub(crate) fn fail_decoded(&mut self, id: CursorId, generation: u64) {
        if let Some(c) = self.cursors.get_mut(&id) {
            if c.generation == generation && c.state != CursorState::Revoked {
                c.state = CursorState::Done;
            }
        }
    }

    /// Pauses or resumes the cursors of `partitions`; returns the cursors that changed.
    pub(crate) fn set_paused(
        &mut self,
        partitions: &[TopicPartition],
        paused: bool,
    ) -> Vec<CursorId> {
        let mut changed = Vec::new();
        for (&id, c) in &mut self.cursors {
            if c.paused != paused && partitions.contains(&c.tp) {
                c.paused = paused;
                changed.push(id);
            }
        }
        changed
    }

    /// Pauses or resumes one cursor.
    pub(crate) fn set_cursor_paused(&mut self, id: CursorId, paused: bool) {
        if let Some(c) = self.cursors.get_mut(&id) {
            c.paused = paused;
        }
    }

    /// Revokes the cursors of `partitions`: they fetch nothing more, and answers for them are
    /// ignored. Cursors without a request in flight are retired at once; the others when
    /// their request is over. Returns the ids of every revoked cursor.
    pub(crate) fn revoke(
        &mut self,
        partitions: &[TopicPartition],
        out: &mut Vec<Effect>,
    ) -> Vec<CursorId> {
        let ids: Vec<CursorId> = self
            .cursors
            .iter()
            .filter(|(_, c)| partitions.contains(&c.tp))
            .map(|(&id, _)| id)
            .collect();
        for id in &ids {
            let Some(c) = self.cursors.get_mut(id) else {
                continue;
            };
            if c.in_flight {
                c.state = CursorState::Revoked;
            } else {
                self.cursors.remove(id);
                out.push(Effect::Retired(*id));
            }
        }
        ids
    }

    /// Whether none of `ids` is left in the core.
    pub(crate) fn all_retired(&self, ids: &[CursorId]) -> bool {
        ids.iter().all(|id| !self.cursors.contains_key(id))
    }

    /// The leaders of the partitions of active cursors.
    pub(crate) fn leaders(&self, view: &impl LeaderView) -> Vec<BrokerId> {
        let mut leaders: Vec<BrokerId> = self
            .cursors
            .values()
            .filter(|c| matches!(c.state, CursorState::Fetching | CursorState::Resolving))
            .filter_map(|c| view.leadership(&c.tp)?.leader)
            .collect();
        leaders.sort_unstable();
        leaders.dedup();
        leaders
    }

    /// After a metadata refresh: whether an active cursor's partition is missing from
    /// `view` or has no leader (then the shell refreshes again). A cursor whose partition
    /// [`MISSING_REFRESHES`] refreshes in a row did not know fails with
    /// [`FetchError::UnknownPartition`].
    pub(crate) fn check_missing(&mut self, view: &impl LeaderView, out: &mut Vec<Effect>) -> bool {
        let mut waiting = false;
        for (&id, c) in &mut self.cursors {
            if matches!(c.state, CursorState::Done | CursorState::Revoked) {
                continue;
            }
            match view.leadership(&c.tp) {
                Some(l) => {
                    c.missing_rounds = 0;
                    waiting |= l.leader.is_none();
                }
                None => {
                    c.missing_rounds += 1;
                    if c.missing_rounds >= MISSING_REFRESHES {
                        let error = unknown_partition(&c.tp);
                        fail_cursor(id, c, error, out);
                    } else {
                        waiting = true;
                    }
                }
            }
        }
        waiting
    }

    /// Plans a request for `broker`: every cursor its broker leads that wants data, is not
    /// paused, backing off or in flight, one per partition (the lowest position first), each
    /// marked in flight. A cursor whose partition has a new leader epoch since it last
    /// fetched is validated first (an [`Effect::CheckEpoch`]) instead.
    pub(crate) fn plan(
        &mut self,
        broker: BrokerId,
        view: &impl LeaderView,
        now: Instant,
        out: &mut Vec<Effect>,
    ) -> Plan {
        let mut plan = Plan::default();
        for (&id, c) in &mut self.cursors {
            if c.state != CursorState::Fetching || c.in_flight || c.paused {
                continue;
            }
            let Some(lead) = view.leadership(&c.tp) else {
                continue;
            };
            if lead.leader != Some(broker) {
                continue;
            }
            if lead.topic_id != Uuid::ZERO {
                match c.topic_id {
                    Some(was) if was != lead.topic_id => {
                        // Deleted and created again under the same name: its offsets name
                        // other records now.
                        let error = FetchError::TopicRecreated {
                            topic: c.tp.topic.to_string(),
                            partition: c.tp.partition,
                            was,
                            now: lead.topic_id,
                        };
                        fail_cursor(id, c, error, out);
                        continue;
                    }
                    Some(_) => {}
                    None => c.topic_id = Some(lead.topic_id),
                }
            }
            if let Some(at) = c.retry_at {
                if at > now {
                    plan.next_retry = Some(plan.next_retry.map_or(at, |n| n.min(at)));
                    continue;
                }
                c.retry_at = None;
            }
            if let Some(prev) = c.fetch_epoch {
                if lead.epoch >= 0 && prev != lead.epoch {
                    if c.last_fetched_epoch >= 0 {
                        // A new leader epoch: check the log was not truncated below the position.
                        c.state = CursorState::Resolving;
                        out.push(Effect::CheckEpoch(EpochCheck {
                            cursor: id,
                            generation: c.generation,
                            tp: c.tp.clone(),
                            leader: broker,
                            current_epoch: lead.epoch,
                            last_fetched_epoch: c.last_fetched_epoch,
                            position: c.position,
                        }));
                        continue;
                    }
                    c.fetch_epoch = Some(lead.epoch);
                }
            }
            c.in_flight = true;
            plan.taken.push(Taken {
                id,
                generation: c.generation,
                demand: c.demand.load(Ordering::Acquire),
                passed_over: c.passed_over,
                end: c.end,
                wanted: WantedPartition {
                    tp: c.tp.clone(),
                    topic_id: lead.topic_id,
                    fetch_offset: c.position,
                    current_leader_epoch: lead.epoch,
                    max_bytes: 0,
                    last_fetched_epoch: c.last_fetched_epoch,
                },
            });
        }
        let later = one_per_partition(&mut plan.taken);
        for t in &plan.taken {
            if let Some(c) = self.cursors.get_mut(&t.id) {
                c.passed_over = 0;
            }
        }
        for t in &later {
            if let Some(c) = self.cursors.get_mut(&t.id) {
                c.passed_over = c.passed_over.saturating_add(1);
            }
        }
        self.release(&later, out);
        plan.demand = plan.taken.iter().any(|t| t.demand);
        plan
    }

    /// Keeps only the partitions whose readers wait (when the budget is spent, only they are
    /// fetched); the others are released.
    pub(crate) fn narrow_to_demand(&mut self, plan: &mut Plan, out: &mut Vec<Effect>) {
        let (kept, released): (Vec<Taken>, Vec<Taken>) =
            plan.taken.drain(..).partition(|t| t.demand);
        plan.taken = kept;
        self.release(&released, out);
    }

    /// Marks the cursors of a request not in flight (the request was not sent, or its answer
    /// did not name them). Revoked ones are retired.
    pub(crate) fn release(&mut self, taken: &[Taken], out: &mut Vec<Effect>) {
        self.unmark(taken, None, out);
    }

    /// Marks the cursors of a failed request not in flight, backing off until the retry
    /// backoff has passed.
    pub(crate) fn back_off(&mut self, taken: &[Taken], now: Instant, out: &mut Vec<Effect>) {
        let at = now + self.settings.retry_backoff;
        self.unmark(taken, Some(at), out);
    }

    fn unmark(&mut self, taken: &[Taken], retry_at: Option<Instant>, out: &mut Vec<Effect>) {
        for t in taken {
            let Some(c) = self.cursors.get_mut(&t.id) else {
                continue;
            };
            c.in_flight = false;
            if c.state == CursorState::Revoked {
                self.cursors.remove(&t.id);
                out.push(Effect::Retired(t.id));
            } else if retry_at.is_some() {
                c.retry_at = retry_at;
            }
        }
    }

    /// Applies one partition's answer to the cursor that asked. Data goes to the reader
    /// (the budget share of its bytes split off `reservation`) and moves the position; an
    /// error is handled as its class says (stale metadata: refresh and keep the position;
    /// out of range: look the log offsets up; retriable: back off; else the read fails).
    /// Answers for a cursor moved or revoked since the request was planned are ignored.
    pub(crate) fn apply_partition(
        &mut self,
        t: &Taken,
        answer: PartitionAnswer,
        now: Instant,
        reservation: &mut BudgetPermit,
        out: &mut Vec<Effect>,
    ) {
        let Some(c) = self.cursors.get_mut(&t.id) else {
            return;
        };
        c.in_flight = false;
        if c.state == CursorState::Revoked {
            self.cursors.remove(&t.id);
            out.push(Effect::Retired(t.id));
            return;
        }
        let position = t.wanted.fetch_offset;
        if c.generation != t.generation
            || c.position != position
            || c.state != CursorState::Fetching
        {
            return; // stale answer
        }
        if let Some(end_offset) = answer.diverging_end.filter(|&end| end < position) {
            truncated(t.id, c, position, end_offset, out);
            return;
        }
        let backoff = now + self.settings.retry_backoff;
        match (answer.code, answer.planned) {
            (_, Some(Ok(planned))) => {
                let data = Answered {
                    planned,
                    high_watermark: answer.high_watermark,
                    last_stable_offset: answer.last_stable_offset,
                    records: answer.records,
                };
                self.on_records(t, data, now, reservation, out);
            }
            (_, Some(Err(source))) if c.refetch.should_refetch(position, source) => {
                tracing::warn!(
                    partition = %c.tp,
                    offset = position,
                    error = %source,
                    "fetched data did not decode; fetching it again"
                );
                c.retry_at = Some(backoff);
            }
            (_, Some(Err(source))) => {
                let error = FetchError::Records {
                    topic: c.tp.topic.to_string(),
                    partition: c.tp.partition,
                    offset: position,
                    source,
                };
                fail_cursor(t.id, c, error, out);
            }
            (ErrorCode::OffsetOutOfRange, None) => {
                c.state = CursorState::Resolving;
                out.push(Effect::LookUpOffsets(OffsetLookup {
                    cursor: t.id,
                    generation: c.generation,
                    tp: c.tp.clone(),
                    position,
                    reason: LookupReason::OutOfRange,
                    delay: None,
                }));
            }
            (code, None) if code.is_stale_metadata() => {
                out.push(Effect::RefreshMetadata);
                c.retry_at = Some(backoff);
                if code == ErrorCode::UnknownTopicOrPartition {
                    c.unknown_rounds += 1;
                    if c.unknown_rounds >= MAX_UNKNOWN_ROUNDS {
                        let error = unknown_partition(&c.tp);
                        fail_cursor(t.id, c, error, out);
                    }
                }
            }
            (code, None) if code.is_retriable() => c.retry_at = Some(backoff),
            (code, None) => {
                let error = FetchError::Broker {
                    topic: c.tp.topic.to_string(),
                    partition: c.tp.partition,
                    code,
                };
                fail_cursor(t.id, c, error, out);
            }
        }
    }

    /// Planned data for a cursor that asked: moves the position, delivers the batches, and
    /// decides what the log end means for a bounded cursor (see `log_end`).
    fn on_records(
        &mut self,
        t: &Taken,
        data: Answered,
        now: Instant,
        reservation: &mut BudgetPermit,
        out: &mut Vec<Effect>,
    ) {
        let Some(c) = self.cursors.get_mut(&t.id) else {
            return;
        };
        let position = t.wanted.fetch_offset;
        let planned = data.planned;
        c.unknown_rounds = 0;
        c.fetch_epoch = Some(t.wanted.current_leader_epoch);
        if planned.last_epoch >= 0 {
            c.last_fetched_epoch = planned.last_epoch;
        }
        // The end of what can be read now; a bounded range reaching past it names records
        // that do not exist (yet).
        let end = if self.settings.isolation == IsolationLevel::ReadCommitted
            && data.last_stable_offset >= 0
        {
            data.last_stable_offset
        } else {
            data.high_watermark
        };
        let verdict = match c.end {
            CursorEnd::Until(until) if planned.next_offset >= end => {
                log_end_verdict(until, end, c.known_end, c.lagging_since, now)
            }
            _ => LogEndVerdict::Within,
        };
        c.known_end = c.known_end.max(end);
        c.lagging_since = match verdict {
            LogEndVerdict::Lagging { since } => Some(since),
            _ => None,
        };
        let beyond = verdict == LogEndVerdict::Beyond;
        if planned.batches.is_empty() && planned.next_offset == position {
            if beyond && data.records.is_empty() {
                let error = beyond_log_end(c, end);
                fail_cursor(t.id, c, error, out);
            } else if c.lagging_since.is_some() {
                c.retry_at = Some(now + self.settings.retry_backoff);
            }
            return;
        }
        let permit = (!planned.batches.is_empty()).then(|| reservation.split(data.records.len()));
        c.position = planned.next_offset;
        if c.last_fetched_epoch >= 0 {
            let known = FetchedEpochs {
                position: c.position,
                last_fetched_epoch: c.last_fetched_epoch,
                fetch_epoch: c.fetch_epoch,
                topic_id: c.topic_id,
            };
            match self.epochs.get_mut(&c.tp) {
                Some(slot) => *slot = known,
                None => {
                    self.epochs.insert(c.tp.clone(), known);
                }
            }
        }
        if c.reached_end() {
            c.state = CursorState::Done;
        }
        out.push(Effect::Deliver {
            cursor: t.id,
            generation: c.generation,
            delivery: Delivery::Fetched(FetchedData {
                partition: c.tp.clone(),
                batches: planned.batches.into(),
                next_offset: planned.next_offset,
                data: data.records,
                log_end: end,
                options: self.settings.decode,
                permit,
            }),
        });
        // Its reader has data now; it says again when it waits.
        c.demand.store(false, Ordering::Release);
        if beyond && c.state != CursorState::Done {
            let error = beyond_log_end(c, end);
            fail_cursor(t.id, c, error, out);
        }
    }

    /// Applies looked-up log offsets: places a starting cursor, or handles an out-of-range
    /// position by the cursor's reset policy.
    pub(crate) fn apply_log_offsets(
        &mut self,
        lookup: &OffsetLookup,
        result: Result<LogBounds, LookupFailure>,
        now: Instant,
        out: &mut Vec<Effect>,
    ) {
        let backoff = self.settings.retry_backoff;
        let Some(c) = self.cursors.get_mut(&lookup.cursor) else {
            return;
        };
        if c.generation != lookup.generation || c.state != CursorState::Resolving {
            return;
        }
        let id = lookup.cursor;
        let bounds = match result {
            Ok(bounds) => bounds,
            Err(LookupFailure::Client(error)) => {
                return fail_cursor(id, c, FetchError::Client(error), out);
            }
            Err(LookupFailure::UnknownPartition) => {
                let error = unknown_partition(&c.tp);
                return fail_cursor(id, c, error, out);
            }
            Err(LookupFailure::Broker(code)) if code.is_retriable() => {
                if lookup.reason == LookupReason::OutOfRange {
                    // Fetch again: the answer says anew whether the position is out of range.
                    c.state = CursorState::Fetching;
                    c.retry_at = Some(now + backoff);
                } else {
                    out.push(Effect::LookUpOffsets(OffsetLookup {
                        delay: Some(backoff),
                        ..lookup.clone()
                    }));
                }
                if code.is_stale_metadata() {
                    out.push(Effect::RefreshMetadata);
                }
                return;
            }
            Err(LookupFailure::Broker(code)) => {
                let error = FetchError::Broker {
                    topic: c.tp.topic.to_string(),
                    partition: c.tp.partition,
                    code,
                };
                return fail_cursor(id, c, error, out);
            }
        };
        match lookup.reason {
            LookupReason::Start(StartAt::Offset(offset)) => place(id, c, offset, out),
            LookupReason::Start(StartAt::Earliest) => place(id, c, bounds.start, out),
            LookupReason::Start(StartAt::Latest) => place(id, c, bounds.end, out),
            LookupReason::OutOfRange => {
                out_of_range(id, c, lookup.position, bounds, now + backoff, out);
            }
        }
    }

    /// Applies a leader-epoch check: the position is valid (fetch on), was truncated (fail, or
    /// for an open cursor with a reset policy, move to where the logs diverge), or the check
    /// must be asked again.
    pub(crate) fn apply_epoch_check(
        &mut self,
        check: &EpochCheck,
        outcome: EpochOutcome,
        now: Instant,
        out: &mut Vec<Effect>,
    ) {
        let backoff = self.settings.retry_backoff;
        let Some(c) = self.cursors.get_mut(&check.cursor) else {
            return;
        };
        if c.generation != check.generation || c.state != CursorState::Resolving {
            return;
        }
        match outcome {
            EpochOutcome::Valid => {
                c.fetch_epoch = Some(check.current_epoch);
                c.state = CursorState::Fetching;
            }
            EpochOutcome::Truncated(end_offset) => {
                truncated(check.cursor, c, check.position, end_offset, out);
            }
            EpochOutcome::Retry => {
                c.state = CursorState::Fetching;
                c.retry_at = Some(now + backoff);
                out.push(Effect::RefreshMetadata);
            }
        }
    }
}

/// The lookup that places a cursor starting (or sought) at the log start or end.
fn start_lookup(id: CursorId, c: &Cursor, start: StartAt) -> Effect {
    Effect::LookUpOffsets(OffsetLookup {
        cursor: id,
        generation: c.generation,
        tp: c.tp.clone(),
        position: c.position,
        reason: LookupReason::Start(start),
        delay: None,
    })
}

/// Planned data with the answer's log offsets.
struct Answered {
    planned: Planned,
    high_watermark: i64,
    last_stable_offset: i64,
    records: Bytes,
}

/// Keeps one of `taken` per partition, sorted by partition; returns the others (to be
/// released: they are fetched in a later round).
///
/// A request names a partition once and its answer holds data from that one fetch offset, so
/// a second cursor of the same partition (read_ranges of adjacent ranges, the readers of
/// consecutive stream batches, two readers following one partition) must not share it:
/// planned against its own position, data fetched for another one past its end would read as
/// a gap, and the range would complete without its records. The one taken is the one whose
/// reader waits with nothing buffered, then the one passed over most often (so an open cursor
/// waiting at the log end cannot hold the partition for ever), then the lowest position (as
/// readers of one partition are usually read in offset order).
pub(crate) fn one_per_partition(taken: &mut Vec<Taken>) -> Vec<Taken> {
    taken.sort_by(|a, b| {
        (
            &a.wanted.tp,
            !a.demand,
            std::cmp::Reverse(a.passed_over),
            a.wanted.fetch_offset,
        )
            .cmp(&(
                &b.wanted.tp,
                !b.demand,
                std::cmp::Reverse(b.passed_over),
                b.wanted.fetch_offset,
            ))
    });
    let mut later = Vec::new();
    let mut kept: Vec<Taken> = Vec::with_capacity(taken.len());
    for t in taken.drain(..) {
        if kept.last().is_some_and(|k| k.wanted.tp == t.wanted.tp) {
            later.push(t);
        } else {
            kept.push(t);
        }
    }
    *taken = kept;
    later
}

#[cfg(test)]
#[path = "core_tests.rs"]
mod tests;

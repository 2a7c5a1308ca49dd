//! The fetch core's transitions, driven without sockets or tasks.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use gregor_protocol::records::{BatchSpec, NewRecord, encode_batch};

use super::*;
use crate::fetch::budget::MemoryBudget;
use crate::fetch::cursor::OffsetReset;
use crate::fetch::exchange::Leadership;
use crate::fetch::partition::plan_partition;
use gregor_protocol::primitives::Uuid;
use gregor_protocol::records::DecodeOptions;

const BROKER: BrokerId = 1;

/// Leadership of a few partitions, all on [`BROKER`] at epoch 5 unless changed.
#[derive(Default)]
struct View(HashMap<TopicPartition, Leadership>);

impl View {
    fn with(partitions: &[&TopicPartition]) -> Self {
        let mut view = View::default();
        for tp in partitions {
            view.set(tp, Some(BROKER), 5);
        }
        view
    }

    fn set(&mut self, tp: &TopicPartition, leader: Option<BrokerId>, epoch: i32) {
        let leadership = Leadership {
            leader,
            epoch,
            topic_id: Uuid::ZERO,
        };
        self.0.insert(tp.clone(), leadership);
    }
}

impl LeaderView for View {
    fn leadership(&self, tp: &TopicPartition) -> Option<Leadership> {
        self.0.get(tp).copied()
    }
}

struct Harness {
    core: FetchCore,
    view: View,
    budget: MemoryBudget,
    now: Instant,
}

fn tp(partition: i32) -> TopicPartition {
    TopicPartition::new("t", partition)
}

impl Harness {
    fn new(partitions: &[&TopicPartition]) -> Self {
        Harness {
            core: FetchCore::new(CoreSettings {
                isolation: IsolationLevel::ReadUncommitted,
                retry_backoff: Duration::from_millis(100),
                decode: DecodeOptions::default(),
            }),
            view: View::with(partitions),
            budget: MemoryBudget::new(1 << 30),
            now: Instant::now(),
        }
    }

    fn add(
        &mut self,
        tp: &TopicPartition,
        start: StartAt,
        end: CursorEnd,
        reset: OffsetReset,
    ) -> CursorId {
        let spec = CursorSpec {
            tp: tp.clone(),
            start,
            end,
            reset,
            known_end: -1,
            demand: Arc::new(AtomicBool::new(false)),
        };
        self.core.add(spec, &mut Vec::new())
    }

    fn bounded(&mut self, tp: &TopicPartition, from: i64, until: i64) -> CursorId {
        self.add(
            tp,
            StartAt::Offset(from),
            CursorEnd::Until(until),
            OffsetReset::Fail,
        )
    }

    fn open(&mut self, tp: &TopicPartition, from: i64, reset: OffsetReset) -> CursorId {
        self.add(tp, StartAt::Offset(from), CursorEnd::Open, reset)
    }

    fn plan(&mut self) -> (Plan, Vec<Effect>) {
        let mut out = Vec::new();
        let plan = self.core.plan(BROKER, &self.view, self.now, &mut out);
        (plan, out)
    }

    /// Plans and returns the one partition taken for cursor `id`.
    fn take(&mut self, id: CursorId) -> Taken {
        let (plan, _) = self.plan();
        plan.taken
            .into_iter()
            .find(|t| t.id == id)
            .unwrap_or_else(|| panic!("cursor {id} not planned"))
    }

    fn apply(&mut self, t: &Taken, answer: PartitionAnswer) -> Vec<Effect> {
        let mut out = Vec::new();
        let mut reservation = self.budget.reserve(1 << 20, 1).unwrap();
        self.core
            .apply_partition(t, answer, self.now, &mut reservation, &mut out);
        out
    }

    fn position(&self, id: CursorId) -> i64 {
        self.core.cursor(id).unwrap().position
    }

    fn state(&self, id: CursorId) -> CursorState {
        self.core.cursor(id).unwrap().state
    }
}

/// `count` one-record batches from `from`, with leader epoch 5.
fn batches(from: i64, count: i64) -> Bytes {
    let mut out = BytesMut::new();
    for offset in from..from + count {
        let spec = BatchSpec {
            base_offset: offset,
            partition_leader_epoch: 5,
            ..BatchSpec::default()
        };
        encode_batch(&spec, &[NewRecord::new(None, Some(&b"v"[..]))], &mut out).unwrap();
    }
    out.freeze()
}

/// An answer for `t` carrying `records`, with the log ending at `high_watermark`.
fn data(t: &Taken, records: Bytes, high_watermark: i64) -> PartitionAnswer {
    let planned = plan_partition(
        records.clone(),
        &[],
        t.wanted.fetch_offset,
        t.end.limit(),
        IsolationLevel::ReadUncommitted,
        &DecodeOptions::default(),
    );
    PartitionAnswer {
        code: ErrorCode::None,
        high_watermark,
        last_stable_offset: -1,
        diverging_end: None,
        records,
        planned: Some(planned),
    }
}

fn error(code: ErrorCode) -> PartitionAnswer {
    PartitionAnswer {
        code,
        high_watermark: -1,
        last_stable_offset: -1,
        diverging_end: None,
        records: Bytes::new(),
        planned: None,
    }
}

/// The deliveries among `effects`: (cursor, what).
fn delivered(effects: &[Effect]) -> Vec<(CursorId, String)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Deliver {
                cursor, delivery, ..
            } => Some((*cursor, describe(delivery))),
            _ => None,
        })
        .collect()
}

fn describe(delivery: &Delivery) -> String {
    match delivery {
        Delivery::Fetched(f) => format!("fetched {} batches to {}", f.batches.len(), f.next_offset),
        Delivery::Skipped(from, to) => format!("skipped {from}..{to}"),
        Delivery::Placed(offset) => format!("placed at {offset}"),
        Delivery::Failed(error) => format!("failed: {error}"),
    }
}

fn lookup_of(effects: &[Effect]) -> OffsetLookup {
    effects
        .iter()
        .find_map(|e| match e {
            Effect::LookUpOffsets(lookup) => Some(lookup.clone()),
            _ => None,
        })
        .expect("a lookup")
}

#[test]
fn a_plan_takes_each_led_partition_once_the_lowest_position_first() {
    let (a, b, c) = (tp(0), tp(1), tp(2));
    let mut h = Harness::new(&[&a, &b, &c]);
    h.view.set(&c, Some(2), 5); // led by another broker
    let a_late = h.bounded(&a, 30, 40);
    let a_early = h.bounded(&a, 10, 20);
    let b_id = h.bounded(&b, 0, 5);
    let _c_id = h.bounded(&c, 0, 5);
    let (plan, _) = h.plan();
    let taken: Vec<(CursorId, i64)> = plan
        .taken
        .iter()
        .map(|t| (t.id, t.wanted.fetch_offset))
        .collect();
    assert_eq!(taken, [(a_early, 10), (b_id, 0)]);
    // Taken ones are in flight; the later range of `a` was released for the next round.
    let (again, _) = h.plan();
    let ids: Vec<CursorId> = again.taken.iter().map(|t| t.id).collect();
    assert_eq!(ids, [a_late]);
}

#[test]
fn cursors_of_one_partition_take_turns_and_a_waiting_reader_goes_first() {
    let a = tp(0);
    let mut h = Harness::new(&[&a]);
    let low = h.open(&a, 3, OffsetReset::Fail);
    let high = h.open(&a, 9, OffsetReset::Fail);
    let mut order = Vec::new();
    for _ in 0..4 {
        let (plan, _) = h.plan();
        assert_eq!(plan.taken.len(), 1);
        let t = plan.taken[0].clone();
        order.push(t.id);
        // At the log end: nothing new, the cursor is free again.
        let answer = data(&t, Bytes::new(), t.wanted.fetch_offset);
        assert!(h.apply(&t, answer).is_empty());
    }
    assert_eq!(order, [low, high, low, high], "neither holds the partition");
    h.core
        .cursors
        .get(&high)
        .unwrap()
        .demand
        .store(true, Ordering::Release);
    assert_eq!(h.plan().0.taken[0].id, high, "a waiting reader goes first");
}

#[test]
fn a_bounded_cursor_completes_at_its_end() {
    let a = tp(0);
    let mut h = Harness::new(&[&a]);
    let id = h.bounded(&a, 2, 5);
    let t = h.take(id);
    let out = h.apply(&t, data(&t, batches(0, 8), 8));
    assert_eq!(
        delivered(&out),
        [(id, "fetched 3 batches to 5".to_string())]
    );
    assert_eq!(h.state(id), CursorState::Done);
    assert!(h.plan().0.taken.is_empty());
}

#[test]
fn a_bounded_cursor_past_the_log_end_fails() {
    let a = tp(0);
    let mut h = Harness::new(&[&a]);
    let id = h.bounded(&a, 0, 10);
    let t = h.take(id);
    let out = h.apply(&t, data(&t, batches(0, 4), 4));
    let got = delivered(&out);
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0].1, "fetched 4 batches to 4");
    assert!(
        got[1].1.contains("beyond the end of the log at 4"),
        "{got:?}"
    );
    assert_eq!(h.state(id), CursorState::Done);
}

#[test]
fn an_open_cursor_waits_at_the_log_end_and_follows_the_log() {
    let a = tp(0);
    let mut h = Harness::new(&[&a]);
    let id = h.open(&a, 0, OffsetReset::Fail);
    let t = h.take(id);
    let out = h.apply(&t, data(&t, batches(0, 3), 3));
    assert_eq!(
        delivered(&out),
        [(id, "fetched 3 batches to 3".to_string())]
    );
    // At the log end: an empty answer changes nothing, and the cursor is asked for again at
    // once (the broker's long poll did the waiting), without a backoff.
    for _ in 0..3 {
        let t = h.take(id);
        assert_eq!(t.wanted.fetch_offset, 3);
        let out = h.apply(&t, data(&t, Bytes::new(), 3));
        assert!(out.is_empty(), "{out:?}");
        assert_eq!(h.state(id), CursorState::Fetching);
        assert!(h.core.cursor(id).unwrap().retry_at.is_none());
    }
    // The log grows.
    let t = h.take(id);
    let out = h.apply(&t, data(&t, batches(3, 2), 5));
    assert_eq!(
        delivered(&out),
        [(id, "fetched 2 batches to 5".to_string())]
    );
    assert_eq!(h.position(id), 5);
    assert_eq!(h.state(id), CursorState::Fetching);
}

#[test]
fn an_out_of_range_position_is_looked_up_and_reset_by_policy() {
    // (policy, log start, log end, position) -> what the reader is told, where it goes.
    let cases = [
        (OffsetReset::Fail, 10, 20, 4, "failed: data loss", None),
        (OffsetReset::Earliest, 10, 20, 4, "skipped 4..10", Some(10)),
        (OffsetReset::Latest, 10, 20, 4, "skipped 4..20", Some(20)),
        (OffsetReset::Fail, 0, 20, 25, "failed: position 25", None),
        (OffsetReset::Earliest, 0, 20, 25, "placed at 0", Some(0)),
        (OffsetReset::Latest, 0, 20, 25, "placed at 20", Some(20)),
    ];
    for (reset, start, end, position, told, moved) in cases {
        let a = tp(0);
        let mut h = Harness::new(&[&a]);
        let id = h.open(&a, position, reset);
        let t = h.take(id);
        let out = h.apply(&t, error(ErrorCode::OffsetOutOfRange));
        let lookup = lookup_of(&out);
        assert_eq!(lookup.reason, LookupReason::OutOfRange);
        assert_eq!(h.state(id), CursorState::Resolving);
        assert!(
            h.plan().0.taken.is_empty(),
            "nothing fetched while resolving"
        );
        let mut out = Vec::new();
        h.core
            .apply_log_offsets(&lookup, Ok(LogBounds { start, end }), h.now, &mut out);
        let got = delivered(&out);
        assert_eq!(got.len(), 1, "{reset:?} {position}: {got:?}");
        assert!(got[0].1.starts_with(told), "{reset:?} {position}: {got:?}");
        match moved {
            Some(to) => {
                assert_eq!(h.position(id), to);
                assert_eq!(h.take(id).wanted.fetch_offset, to);
            }
            None => assert_eq!(h.state(id), CursorState::Done),
        }
    }
}

#[test]
fn a_bounded_range_out_of_range_keeps_its_semantics() {
    let a = tp(0);
    for (on_loss, position, until, told) in [
        (OffsetReset::Fail, 2, 8, "failed: data loss"),
        (OffsetReset::Earliest, 2, 8, "skipped 2..5"),
        (OffsetReset::Fail, 30, 40, "failed: range of t-0 ends at 40"),
    ] {
        let mut h = Harness::new(&[&a]);
        let id = h.add(
            &a,
            StartAt::Offset(position),
            CursorEnd::Until(until),
            on_loss,
        );
        let t = h.take(id);
        let lookup = lookup_of(&h.apply(&t, error(ErrorCode::OffsetOutOfRange)));
        let mut out = Vec::new();
        let bounds = LogBounds { start: 5, end: 20 };
        h.core
            .apply_log_offsets(&lookup, Ok(bounds), h.now, &mut out);
        let got = delivered(&out);
        assert!(got[0].1.starts_with(told), "{got:?}");
    }
    // A position inside the log now (a leader change raced the answer): fetch again.
    let mut h = Harness::new(&[&a]);
    let id = h.bounded(&a, 7, 9);
    let t = h.take(id);
    let lookup = lookup_of(&h.apply(&t, error(ErrorCode::OffsetOutOfRange)));
    let mut out = Vec::new();
    let bounds = LogBounds { start: 5, end: 20 };
    h.core
        .apply_log_offsets(&lookup, Ok(bounds), h.now, &mut out);
    assert!(out.is_empty());
    assert_eq!(h.state(id), CursorState::Fetching);
}

#[test]
fn an_open_cursor_starting_at_the_log_start_or_end_looks_it_up() {
    let a = tp(0);
    for (start, expected) in [(StartAt::Earliest, 3), (StartAt::Latest, 9)] {
        let mut h = Harness::new(&[&a]);
        let mut out = Vec::new();
        let spec = CursorSpec {
            tp: a.clone(),
            start,
            end: CursorEnd::Open,
            reset: OffsetReset::Fail,
            known_end: -1,
            demand: Arc::default(),
        };
        let id = h.core.add(spec, &mut out);
        let lookup = lookup_of(&out);
        assert!(h.plan().0.taken.is_empty());
        let mut out = Vec::new();
        let bounds = LogBounds { start: 3, end: 9 };
        h.core
            .apply_log_offsets(&lookup, Ok(bounds), h.now, &mut out);
        assert_eq!(delivered(&out), [(id, format!("placed at {expected}"))]);
        assert_eq!(h.take(id).wanted.fetch_offset, expected);
    }
}

#[test]
fn a_retriable_lookup_failure_is_retried() {
    let a = tp(0);
    let mut h = Harness::new(&[&a]);
    let mut out = Vec::new();
    let spec = CursorSpec {
        tp: a.clone(),
        start: StartAt::Latest,
        end: CursorEnd::Open,
        reset: OffsetReset::Fail,
        known_end: -1,
        demand: Arc::default(),
    };
    h.core.add(spec, &mut out);
    let lookup = lookup_of(&out);
    let mut out = Vec::new();
    let failure = Err(LookupFailure::Broker(ErrorCode::NotLeaderOrFollower));
    h.core.apply_log_offsets(&lookup, failure, h.now, &mut out);
    let again = lookup_of(&out);
    assert_eq!(again.delay, Some(Duration::from_millis(100)));
    assert!(out.iter().any(|e| matches!(e, Effect::RefreshMetadata)));
}

#[test]
fn a_seek_discards_the_answer_in_flight_and_moves_the_cursor() {
    let (a, b) = (tp(0), tp(1));
    let mut h = Harness::new(&[&a, &b]);
    let id = h.open(&a, 0, OffsetReset::Fail);
    let t = h.take(id);
    let generation = h
        .core
        .seek(id, StartAt::Offset(2), &mut Vec::new())
        .unwrap();
    assert_eq!(generation, 1);
    // The answer to the request sent before the seek is stale.
    let out = h.apply(&t, data(&t, batches(0, 5), 5));
    assert!(delivered(&out).is_empty());
    assert_eq!(h.position(id), 2);
    let t = h.take(id);
    assert_eq!((t.wanted.fetch_offset, t.generation), (2, 1));
    let out = h.apply(&t, data(&t, batches(0, 5), 5));
    assert_eq!(
        delivered(&out),
        [(id, "fetched 3 batches to 5".to_string())]
    );
    // Where a reader cannot go.
    let bounded = h.bounded(&b, 0, 10);
    for to in [StartAt::Offset(-1), StartAt::Offset(11), StartAt::Earliest] {
        let error = h.core.seek(bounded, to, &mut Vec::new()).unwrap_err();
        assert!(matches!(error, FetchError::InvalidSeek { .. }), "{to:?}");
    }
    // A failed cursor reads again after a seek.
    let t = h.take(bounded);
    h.apply(&t, error(ErrorCode::TopicAuthorizationFailed));
    assert_eq!(h.state(bounded), CursorState::Done);
    h.core
        .seek(bounded, StartAt::Offset(4), &mut Vec::new())
        .unwrap();
    assert_eq!(h.take(bounded).wanted.fetch_offset, 4);
}

#[test]
fn a_paused_partition_is_not_fetched_until_resumed() {
    let (a, b) = (tp(0), tp(1));
    let mut h = Harness::new(&[&a, &b]);
    let a_id = h.open(&a, 0, OffsetReset::Fail);
    let b_id = h.open(&b, 0, OffsetReset::Fail);
    let (plan, _) = h.plan();
    assert_eq!(h.core.set_paused(std::slice::from_ref(&a), true), [a_id]);
    // Answers in flight still deliver; nothing more is asked for the paused partition.
    for t in &plan.taken {
        let out = h.apply(t, data(t, batches(0, 2), 2));
        assert_eq!(delivered(&out).len(), 1);
    }
    let (plan, _) = h.plan();
    let ids: Vec<CursorId> = plan.taken.iter().map(|t| t.id).collect();
    assert_eq!(ids, [b_id]);
    assert_eq!(h.position(a_id), 2, "the position is kept");
    assert_eq!(h.core.set_paused(std::slice::from_ref(&a), false), [a_id]);
    assert_eq!(h.take(a_id).wanted.fetch_offset, 2);
}

#[test]
fn a_revoke_racing_an_answer_in_flight_delivers_nothing_after_it() {
    let (a, b) = (tp(0), tp(1));
    let mut h = Harness::new(&[&a, &b]);
    let a_id = h.open(&a, 0, OffsetReset::Fail);
    let b_id = h.open(&b, 0, OffsetReset::Fail);
    let (plan, _) = h.plan();
    assert_eq!(plan.taken.len(), 2);
    let mut out = Vec::new();
    let revoked = h.core.revoke(std::slice::from_ref(&a), &mut out);
    assert_eq!(revoked, [a_id]);
    assert!(out.is_empty(), "in flight: not retired yet");
    assert!(!h.core.all_retired(&revoked));
    // The answer arrives: nothing for the revoked partition, which is retired now.
    let mut out = Vec::new();
    for t in &plan.taken {
        let mut reservation = h.budget.reserve(1 << 20, 1).unwrap();
        let answer = data(t, batches(0, 3), 3);
        h.core
            .apply_partition(t, answer, h.now, &mut reservation, &mut out);
    }
    assert_eq!(
        delivered(&out),
        [(b_id, "fetched 3 batches to 3".to_string())]
    );
    assert!(
        out.iter()
            .any(|e| matches!(e, Effect::Retired(id) if *id == a_id))
    );
    assert!(h.core.all_retired(&revoked));
    // An idle cursor is retired at once; a failed request retires one in flight.
    let t = h.take(b_id);
    let mut out = Vec::new();
    h.core.revoke(std::slice::from_ref(&b), &mut out);
    assert!(out.is_empty());
    h.core.back_off(&[t], h.now, &mut out);
    assert!(matches!(out[..], [Effect::Retired(id)] if id == b_id));
    let c_id = h.open(&a, 0, OffsetReset::Fail);
    let mut out = Vec::new();
    h.core.revoke(std::slice::from_ref(&a), &mut out);
    assert!(matches!(out[..], [Effect::Retired(id)] if id == c_id));
}

#[test]
fn a_new_leader_epoch_is_validated_before_fetching_on() {
    let a = tp(0);
    for (end, reset, outcome, told, state) in [
        (
            CursorEnd::Open,
            OffsetReset::Fail,
            EpochOutcome::Valid,
            None,
            CursorState::Fetching,
        ),
        (
            CursorEnd::Until(100),
            OffsetReset::Fail,
            EpochOutcome::Truncated(2),
            Some("failed: log of t-0 truncated to 2"),
            CursorState::Done,
        ),
        (
            CursorEnd::Open,
            OffsetReset::Earliest,
            EpochOutcome::Truncated(2),
            Some("placed at 2"),
            CursorState::Fetching,
        ),
    ] {
        let mut h = Harness::new(&[&a]);
        let id = h.add(&a, StartAt::Offset(0), end, reset);
        let t = h.take(id);
        h.apply(&t, data(&t, batches(0, 4), 10));
        h.view.set(&a, Some(BROKER), 6);
        let (plan, out) = h.plan();
        assert!(plan.taken.is_empty());
        let Some(Effect::CheckEpoch(check)) = out.first() else {
            panic!("no epoch check: {out:?}");
        };
        assert_eq!((check.last_fetched_epoch, check.current_epoch), (5, 6));
        let check = check.clone();
        let mut out = Vec::new();
        h.core.apply_epoch_check(&check, outcome, h.now, &mut out);
        let got = delivered(&out);
        match told {
            None => assert!(got.is_empty()),
            Some(told) => assert!(got[0].1.starts_with(told), "{got:?}"),
        }
        assert_eq!(h.state(id), state);
    }
}

#[test]
fn a_diverging_epoch_in_an_answer_is_a_truncation() {
    let a = tp(0);
    let mut h = Harness::new(&[&a]);
    let id = h.open(&a, 6, OffsetReset::Fail);
    let t = h.take(id);
    let mut answer = data(&t, Bytes::new(), 10);
    answer.diverging_end = Some(4);
    let got = delivered(&h.apply(&t, answer));
    assert!(
        got[0]
            .1
            .contains("truncated to 4, below the read position 6"),
        "{got:?}"
    );
}

#[test]
fn stale_metadata_refreshes_and_backs_off_and_a_lasting_unknown_partition_fails() {
    let a = tp(0);
    let mut h = Harness::new(&[&a]);
    let id = h.open(&a, 0, OffsetReset::Fail);
    let t = h.take(id);
    let out = h.apply(&t, error(ErrorCode::NotLeaderOrFollower));
    assert!(out.iter().any(|e| matches!(e, Effect::RefreshMetadata)));
    assert!(h.plan().0.taken.is_empty(), "backing off");
    assert_eq!(h.position(id), 0);
    for round in 1..=MAX_UNKNOWN_ROUNDS {
        h.now += Duration::from_secs(1);
        let t = h.take(id);
        let got = delivered(&h.apply(&t, error(ErrorCode::UnknownTopicOrPartition)));
        assert_eq!(
            got.is_empty(),
            round < MAX_UNKNOWN_ROUNDS,
            "{round}: {got:?}"
        );
    }
    assert_eq!(h.state(id), CursorState::Done);
    // A fatal error fails at once.
    let id = h.open(&a, 0, OffsetReset::Fail);
    let t = h.take(id);
    let got = delivered(&h.apply(&t, error(ErrorCode::TopicAuthorizationFailed)));
    assert!(got[0].1.contains("TOPIC_AUTHORIZATION_FAILED"), "{got:?}");
}

#[test]
fn a_partition_missing_from_the_metadata_fails_after_some_refreshes() {
    let (a, gone) = (tp(0), tp(7));
    let mut h = Harness::new(&[&a]);
    let id = h.open(&gone, 0, OffsetReset::Fail);
    for round in 1..=MISSING_REFRESHES {
        let mut out = Vec::new();
        let waiting = h.core.check_missing(&h.view, &mut out);
        assert_eq!(waiting, round < MISSING_REFRESHES);
        assert_eq!(delivered(&out).is_empty(), round < MISSING_REFRESHES);
    }
    assert_eq!(h.state(id), CursorState::Done);
}

#[test]
fn only_waiting_readers_are_fetched_when_narrowed_to_demand() {
    let (a, b) = (tp(0), tp(1));
    let mut h = Harness::new(&[&a, &b]);
    let a_id = h.open(&a, 0, OffsetReset::Fail);
    let b_id = h.open(&b, 0, OffsetReset::Fail);
    h.core
        .cursors
        .get(&b_id)
        .unwrap()
        .demand
        .store(true, Ordering::Release);
    let (mut plan, _) = h.plan();
    assert!(plan.demand);
    h.core.narrow_to_demand(&mut plan, &mut Vec::new());
    let ids: Vec<CursorId> = plan.taken.iter().map(|t| t.id).collect();
    assert_eq!(ids, [b_id]);
    assert_eq!(h.take(a_id).id, a_id, "the other one was released");
}

#[test]
fn a_removed_cursor_ignores_its_answer() {
    let a = tp(0);
    let mut h = Harness::new(&[&a]);
    let id = h.open(&a, 0, OffsetReset::Fail);
    let t = h.take(id);
    h.core.remove(id);
    assert!(h.apply(&t, data(&t, batches(0, 2), 2)).is_empty());
    assert!(h.core.cursor(id).is_none());
}

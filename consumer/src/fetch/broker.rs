//! The async shell: one fetch loop per broker.
//!
//! Each round a loop takes the active slots whose partition its broker leads (by the current
//! metadata snapshot) and that are not backing off, reserves memory budget for them (waiting
//! for a release while the budget is spent), builds the request with its [`FetchSession`],
//! sends it on the broker's `Purpose::Fetch` connection, and hands each partition's data to
//! its slot: the planned batches (see [`plan_partition`]; the reader decodes them) holding
//! their share of the budget, or the partition's error handled (stale metadata: refresh and keep the position; out of range:
//! look the log start up, see [`resolve`]; anything else: fail the range). A failed request
//! resets the session and backs the partitions off; they stay registered and are fetched
//! again (from the new leader, if the metadata names one). Locks are never held across
//! `.await`.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use gregor_client::admin::{IsolationLevel as AdminIsolation, OffsetSpec};
use gregor_client::cluster::BrokerId;
use gregor_client::{Admin, ClientError, Purpose};
use gregor_protocol::ErrorCode;
use gregor_protocol::messages::fetch::{
    FetchRequest, FetchResponse, READ_COMMITTED, READ_UNCOMMITTED,
};
use gregor_protocol::primitives::Uuid;
use gregor_protocol::records::DecodeOptions;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::debug;

use super::config::IsolationLevel;
use super::engine::{Delivery, EngineInner, SlotState};
use super::error::FetchError;
use super::fetched::FetchedData;
use super::log_end::{LogEndVerdict, log_end_verdict};
use super::partition::plan_partition;
use super::session::{
    FetchSession, RequestLimits, SessionOutcome, WantedPartition, response_partitions,
};
use crate::range::TopicPartition;
use crate::read::OnDataLoss;

/// How often an idle loop checks whether its engine is gone.
const IDLE_CHECK: Duration = Duration::from_secs(1);
/// After this many `UNKNOWN_TOPIC_OR_PARTITION` answers in a row, a range fails.
const MAX_UNKNOWN_ROUNDS: u32 = 10;

/// One partition of a request: its slot, the slot's generation and its range end.
struct Taken {
    id: u64,
    waiting: bool,
    generation: u64,
    until: i64,
    wanted: WantedPartition,
}

/// Starts the loop of `broker`.
pub(crate) fn spawn(engine: Weak<EngineInner>, broker: BrokerId) {
    tokio::spawn(run(engine, broker));
}

async fn run(engine: Weak<EngineInner>, broker: BrokerId) {
    let Some(inner) = engine.upgrade() else {
        return;
    };
    let work = Arc::clone(&inner.work);
    let budget = inner.budget.clone();
    let mut session = FetchSession::new(inner.config.use_sessions);
    drop(inner);
    let mut rotation = 0usize;
    let mut deliveries = Vec::new();
    loop {
        let notified = work.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let Some(inner) = engine.upgrade() else {
            return;
        };
        let Taking {
            mut taken,
            next_retry,
            demand,
        } = take_slots(&inner, broker);
        if taken.is_empty() {
            drop(inner);
            let wake_at = next_retry.unwrap_or_else(|| Instant::now() + IDLE_CHECK);
            tokio::select! {
                () = &mut notified => {}
                () = tokio::time::sleep_until(wake_at) => {}
            }
            continue;
        }
        let config = &inner.config;
        let per_partition = usize::try_from(config.partition_max_bytes.max(1)).unwrap_or(1);
        let want = usize::try_from(config.max_bytes.max(1))
            .unwrap_or(1)
            .min(per_partition.saturating_mul(taken.len()));
        let min = per_partition.min(budget.limit() / 4).max(1);
        let reservation = budget
            .reserve(want, min)
            .or_else(|| demand.then(|| budget.force(want)));
        let Some(mut reservation) = reservation else {
            release(&inner, &taken);
            drop(inner);
            tokio::select! {
                () = budget.released() => {}
                () = &mut notified => {}
                () = tokio::time::sleep(IDLE_CHECK) => {}
            }
            continue;
        };
        let reserved = i32::try_from(reservation.bytes()).unwrap_or(i32::MAX);
        for t in &mut taken {
            t.wanted.max_bytes = config.partition_max_bytes.min(reserved).max(1);
        }
        // Rotate so a partition whose first batch is too large gets to be first (KIP-74).
        let len = taken.len();
        taken.rotate_left(rotation % len);
        rotation = rotation.wrapping_add(1);
        let limits = RequestLimits {
            max_wait_ms: i32::try_from(config.max_wait.as_millis()).unwrap_or(i32::MAX),
            min_bytes: config.min_bytes,
            max_bytes: reserved,
            isolation_level: if config.isolation == IsolationLevel::ReadCommitted {
                READ_COMMITTED
            } else {
                READ_UNCOMMITTED
            },
        };
        match send(&inner, broker, &mut session, &taken, limits).await {
            Err(error) => {
                debug!(broker, %error, "fetch failed; partitions back off");
                session.reset();
                back_off(&inner, &taken);
                inner.refresh_metadata();
            }
            Ok((response, version)) => match session.handle_response(&response) {
                SessionOutcome::Reset(code) => {
                    debug!(broker, %code, "fetch session reset");
                    if matches!(
                        code,
                        ErrorCode::FetchSessionIdNotFound | ErrorCode::InvalidFetchSessionEpoch
                    ) {
                        release(&inner, &taken);
                    } else {
                        back_off(&inner, &taken);
                    }
                }
                SessionOutcome::Ok => {
                    apply(
                        &inner,
                        &engine,
                        &taken,
                        &response,
                        version,
                        &mut reservation,
                        &mut deliveries,
                    );
                }
            },
        }
        // Give back what the response did not use before the readers see their chunks.
        drop(reservation);
        for (tx, delivery) in deliveries.drain(..) {
            let _ = tx.send(delivery);
        }
    }
}

/// Takes the slots this broker should fetch now (marking them in flight), and the earliest
/// time a backing-off slot becomes ready.
/// When a reader of this broker's partitions waits with nothing buffered, only such
/// partitions are taken (`demand` true): they are fetched even when the budget is spent.
fn take_slots(inner: &Arc<EngineInner>, broker: BrokerId) -> Taking {
    // Leaders may have changed in a refresh someone else asked for.
    inner.ensure_tasks();
    let metadata = inner.client.metadata();
    let now = Instant::now();
    let mut next_retry: Option<Instant> = None;
    let mut taken = Vec::new();
    let mut slots = inner.slots();
    for (&id, slot) in slots.iter_mut() {
        if slot.state != SlotState::Fetching || slot.in_flight {
            continue;
        }
        let Some(meta) = metadata.partition(&slot.tp.topic, slot.tp.partition) else {
            continue;
        };
        if meta.leader != Some(broker) {
            continue;
        }
        if let Some(at) = slot.retry_at {
            if at > now {
                next_retry = Some(next_retry.map_or(at, |n| n.min(at)));
                continue;
            }
            slot.retry_at = None;
        }
        if let Some(prev) = slot.fetch_epoch {
            if meta.leader_epoch >= 0 && prev != meta.leader_epoch {
                if slot.last_fetched_epoch >= 0 {
                    // A new leader epoch: check the log was not truncated below the position.
                    slot.state = SlotState::Resolving;
                    tokio::spawn(super::validate::validate(
                        Arc::downgrade(inner),
                        super::validate::Check {
                            id,
                            generation: slot.generation,
                            tp: slot.tp.clone(),
                            leader: broker,
                            current_epoch: meta.leader_epoch,
                            last_fetched_epoch: slot.last_fetched_epoch,
                            position: slot.next_fetch,
                        },
                    ));
                    continue;
                }
                slot.fetch_epoch = Some(meta.leader_epoch);
            }
        }
        slot.in_flight = true;
        let topic_id = metadata.topic(&slot.tp.topic).map_or(Uuid::ZERO, |t| t.id);
        taken.push(Taken {
            id,
            waiting: slot.waiting.load(Ordering::Acquire),
            generation: slot.generation,
            until: slot.until,
            wanted: WantedPartition {
                tp: slot.tp.clone(),
                topic_id,
                fetch_offset: slot.next_fetch,
                current_leader_epoch: meta.leader_epoch,
                max_bytes: 0,
                last_fetched_epoch: slot.last_fetched_epoch,
            },
        });
    }
    let demand = taken.iter().any(|t| t.waiting);
    if demand {
        for t in taken.iter().filter(|t| !t.waiting) {
            if let Some(slot) = slots.get_mut(&t.id) {
                slot.in_flight = false;
            }
        }
        taken.retain(|t| t.waiting);
    }
    for id in one_per_partition(&mut taken) {
        if let Some(slot) = slots.get_mut(&id) {
            slot.in_flight = false;
        }
    }
    Taking {
        taken,
        next_retry,
        demand,
    }
}

/// Keeps one of `taken` per partition, the one with the lowest position, sorted by partition;
/// returns the ids of the others (to be released: they are fetched in a later round).
///
/// A request names a partition once and its answer holds data from that one fetch offset, so
/// a second range of the same partition (read_ranges of adjacent ranges, the readers of
/// consecutive stream batches) must not share it: planned against its own position, data
/// fetched for another one past its end would read as a gap, and the range would complete
/// without its records. The lowest position goes first, as readers of one partition are
/// usually read in offset order.
fn one_per_partition(taken: &mut Vec<Taken>) -> Vec<u64> {
    taken.sort_by(|a, b| {
        (&a.wanted.tp, a.wanted.fetch_offset).cmp(&(&b.wanted.tp, b.wanted.fetch_offset))
    });
    let mut later = Vec::new();
    let mut kept: Vec<Taken> = Vec::with_capacity(taken.len());
    for t in taken.drain(..) {
        if kept.last().is_some_and(|k| k.wanted.tp == t.wanted.tp) {
            later.push(t.id);
        } else {
            kept.push(t);
        }
    }
    *taken = kept;
    later
}

/// What [`take_slots`] took.
struct Taking {
    taken: Vec<Taken>,
    next_retry: Option<Instant>,
    demand: bool,
}

/// Marks the slots of a request not in flight any more.
fn release(inner: &EngineInner, taken: &[Taken]) {
    let mut slots = inner.slots();
    for t in taken {
        if let Some(slot) = slots.get_mut(&t.id) {
            slot.in_flight = false;
        }
    }
}

/// Marks the slots not in flight and backing off for the retry backoff.
fn back_off(inner: &EngineInner, taken: &[Taken]) {
    let at = Instant::now() + inner.client.config().retry_backoff();
    let mut slots = inner.slots();
    for t in taken {
        if let Some(slot) = slots.get_mut(&t.id) {
            slot.in_flight = false;
            slot.retry_at = Some(at);
        }
    }
}

async fn send(
    inner: &EngineInner,
    broker: BrokerId,
    session: &mut FetchSession,
    taken: &[Taken],
    limits: RequestLimits,
) -> Result<(FetchResponse, i16), ClientError> {
    let conn = inner.client.connection(broker, Purpose::Fetch).await?;
    let mut version = conn.version_for::<FetchRequest>()?;
    if taken.iter().any(|t| t.wanted.topic_id == Uuid::ZERO) {
        version = version.min(12);
    }
    let wanted: Vec<WantedPartition> = taken.iter().map(|t| t.wanted.clone()).collect();
    let request = session.build(&wanted, version, limits);
    let response = match conn.send_versioned(&request, version).await {
        Ok(response) => response,
        Err(error) => {
            session.reset();
            return Err(error);
        }
    };
    Ok((response, version))
}

/// Hands each partition's answer to its slot.
fn apply(
    inner: &Arc<EngineInner>,
    engine: &Weak<EngineInner>,
    taken: &[Taken],
    response: &FetchResponse,
    version: i16,
    reservation: &mut super::budget::BudgetPermit,
    deliveries: &mut Vec<(mpsc::UnboundedSender<Delivery>, Delivery)>,
) {
    let names: HashMap<Uuid, String> = taken
        .iter()
        .map(|t| (t.wanted.topic_id, t.wanted.tp.topic.to_string()))
        .collect();
    let parts = response_partitions(response, version, &names);
    let config = &inner.config;
    let options = DecodeOptions {
        verify_crc: config.check_crcs,
        ..DecodeOptions::default()
    };
    let backoff = Instant::now() + inner.client.config().retry_backoff();
    let mut refresh = false;
    for t in taken {
        let Some(data) = parts.get(&t.wanted.tp) else {
            release(inner, std::slice::from_ref(t));
            continue;
        };
        let code = ErrorCode::from_code(data.error_code);
        let position = t.wanted.fetch_offset;
        // Plan before taking the lock (headers only; the reader decodes).
        let decoded = code.is_ok().then(|| {
            let aborted = data.aborted_transactions.as_deref().unwrap_or_default();
            plan_partition(
                data.records.clone().unwrap_or_default(),
                aborted,
                position,
                t.until,
                config.isolation,
                &options,
            )
        });
        let blob = data.records.as_ref().map_or(0, bytes::Bytes::len);
        let mut slots = inner.slots();
        let Some(slot) = slots.get_mut(&t.id) else {
            continue;
        };
        slot.in_flight = false;
        if slot.generation != t.generation
            || slot.next_fetch != position
            || slot.state != SlotState::Fetching
        {
            continue; // stale answer
        }
        let tp = &t.wanted.tp;
        let diverging = &data.diverging_epoch;
        if diverging.epoch >= 0 && diverging.end_offset >= 0 && diverging.end_offset < position {
            slot.fail(FetchError::Truncated {
                topic: tp.topic.to_string(),
                partition: tp.partition,
                position,
                end_offset: diverging.end_offset,
            });
            continue;
        }
        match (code, decoded) {
            (_, Some(Ok(decoded))) => {
                slot.unknown_rounds = 0;
                slot.fetch_epoch = Some(t.wanted.current_leader_epoch);
                if decoded.last_epoch >= 0 {
                    slot.last_fetched_epoch = decoded.last_epoch;
                }
                // The end of what can be read now; a range reaching past it names records
                // that do not exist (yet).
                let end = if config.isolation == IsolationLevel::ReadCommitted
                    && data.last_stable_offset >= 0
                {
                    data.last_stable_offset
                } else {
                    data.high_watermark
                };
                let verdict = if decoded.next_offset >= end {
                    log_end_verdict(
                        slot.until,
                        end,
                        slot.known_end,
                        slot.lagging_since,
                        Instant::now(),
                    )
                } else {
                    LogEndVerdict::Within
                };
                slot.known_end = slot.known_end.max(end);
                slot.lagging_since = match verdict {
                    LogEndVerdict::Lagging { since } => Some(since),
                    _ => None,
                };
                let beyond = verdict == LogEndVerdict::Beyond;
                let beyond_error = FetchError::BeyondLogEnd {
                    topic: tp.topic.to_string(),
                    partition: tp.partition,
                    until: slot.until,
                    log_end: end,
                };
                if decoded.batches.is_empty() && decoded.next_offset == position {
                    if beyond && blob == 0 {
                        slot.fail(beyond_error);
                    } else if slot.lagging_since.is_some() {
                        slot.retry_at = Some(backoff);
                    }
                    continue;
                }
                let permit = (!decoded.batches.is_empty()).then(|| reservation.split(blob));
                slot.next_fetch = decoded.next_offset;
                if slot.next_fetch >= slot.until {
                    slot.state = SlotState::Done;
                }
                let chunk = Delivery::Fetched(FetchedData {
                    partition: tp.clone(),
                    batches: decoded.batches.into(),
                    next_offset: decoded.next_offset,
                    data: data.records.clone().unwrap_or_default(),
                    options,
                    permit,
                });
                deliveries.push((slot.tx.clone(), chunk));
                // Its reader has data now; it says again when it waits.
                slot.waiting.store(false, Ordering::Release);
                if beyond && slot.state != SlotState::Done {
                    slot.state = SlotState::Done;
                    deliveries.push((slot.tx.clone(), Delivery::Failed(beyond_error)));
                }
            }
            (_, Some(Err(source))) => slot.fail(FetchError::Records {
                topic: tp.topic.to_string(),
                partition: tp.partition,
                source,
            }),
            (ErrorCode::OffsetOutOfRange, None) => {
                slot.state = SlotState::Resolving;
                tokio::spawn(resolve(
                    engine.clone(),
                    t.id,
                    t.generation,
                    tp.clone(),
                    position,
                ));
            }
            // Stale metadata (leader, epoch, topic id): refresh, keep the position, fetch from
            // the leader the new metadata names.
            (code, None) if code.is_stale_metadata() => {
                refresh = true;
                slot.retry_at = Some(backoff);
                if code == ErrorCode::UnknownTopicOrPartition {
                    slot.unknown_rounds += 1;
                    if slot.unknown_rounds >= MAX_UNKNOWN_ROUNDS {
                        slot.fail(FetchError::UnknownPartition {
                            topic: tp.topic.to_string(),
                            partition: tp.partition,
                        });
                    }
                }
            }
            (code, None) if code.is_retriable() => slot.retry_at = Some(backoff),
            (code, None) => slot.fail(FetchError::Broker {
                topic: tp.topic.to_string(),
                partition: tp.partition,
                code,
            }),
        }
    }
    if refresh {
        inner.refresh_metadata();
    }
}

/// Handles `OFFSET_OUT_OF_RANGE` for slot `id` at `position`: looks up the log start
/// (ListOffsets earliest). Below it, the data was deleted: [`FetchError::DataLoss`], or with
/// [`OnDataLoss::SkipToLogStart`] the slot continues from the log start and the reader is told
/// the skipped span. At or above it, the position is past the log end: if ListOffsets latest
/// says the position exists now (a leader change raced), fetching resumes, else the range
/// fails with [`FetchError::BeyondLogEnd`].
async fn resolve(
    engine: Weak<EngineInner>,
    id: u64,
    generation: u64,
    tp: TopicPartition,
    position: i64,
) {
    let Some(inner) = engine.upgrade() else {
        return;
    };
    let admin = Admin::new(inner.client.clone());
    let key = tp.clone();
    let lookup = |spec| {
        let admin = admin.clone();
        let key = key.clone();
        async move {
            let listed = admin
                .list_offsets(&[(key.clone(), spec)], AdminIsolation::ReadUncommitted)
                .await?;
            Ok::<_, ClientError>(listed.get(&key).cloned())
        }
    };
    let earliest = lookup(OffsetSpec::Earliest).await;
    let latest = match &earliest {
        Ok(Some(Ok(start))) if start.offset <= position => Some(lookup(OffsetSpec::Latest).await),
        _ => None,
    };
    let backoff = Instant::now() + inner.client.config().retry_backoff();
    {
        let mut slots = inner.slots();
        let Some(slot) = slots.get_mut(&id) else {
            return;
        };
        if slot.generation != generation || slot.state != SlotState::Resolving {
            return;
        }
        let retry = |slot: &mut super::engine::Slot| {
            slot.state = SlotState::Fetching;
            slot.retry_at = Some(backoff);
        };
        match (earliest, latest) {
            (Err(error), _) => slot.fail(FetchError::Client(error)),
            (Ok(None), _) => slot.fail(FetchError::UnknownPartition {
                topic: tp.topic.to_string(),
                partition: tp.partition,
            }),
            (Ok(Some(Err(code))), _) | (_, Some(Ok(Some(Err(code))))) => {
                if code.is_retriable() {
                    retry(slot);
                } else {
                    slot.fail(FetchError::Broker {
                        topic: tp.topic.to_string(),
                        partition: tp.partition,
                        code,
                    });
                }
            }
            (Ok(Some(Ok(start))), None) => match slot.on_data_loss {
                OnDataLoss::Fail => slot.fail(FetchError::DataLoss {
                    topic: tp.topic.to_string(),
                    partition: tp.partition,
                    requested: position,
                    log_start_offset: start.offset,
                }),
                OnDataLoss::SkipToLogStart => {
                    slot.deliver(Delivery::Skipped(position, start.offset));
                    slot.generation += 1;
                    slot.next_fetch = start.offset;
                    slot.state = if start.offset >= slot.until {
                        SlotState::Done
                    } else {
                        SlotState::Fetching
                    };
                }
            },
            (Ok(Some(Ok(_))), Some(Err(error))) => slot.fail(FetchError::Client(error)),
            (Ok(Some(Ok(_))), Some(Ok(None))) => slot.fail(FetchError::UnknownPartition {
                topic: tp.topic.to_string(),
                partition: tp.partition,
            }),
            (Ok(Some(Ok(_))), Some(Ok(Some(Ok(end))))) => {
                if position < end.offset {
                    retry(slot);
                } else {
                    slot.fail(FetchError::BeyondLogEnd {
                        topic: tp.topic.to_string(),
                        partition: tp.partition,
                        until: slot.until,
                        log_end: end.offset,
                    });
                }
            }
        }
    }
    inner.wake();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taken(id: u64, topic: &str, partition: i32, fetch_offset: i64) -> Taken {
        Taken {
            id,
            waiting: false,
            generation: 0,
            until: fetch_offset + 1,
            wanted: WantedPartition {
                tp: TopicPartition::new(topic, partition),
                topic_id: Uuid::ZERO,
                fetch_offset,
                current_leader_epoch: -1,
                max_bytes: 0,
                last_fetched_epoch: -1,
            },
        }
    }

    #[test]
    fn a_request_takes_one_range_per_partition_the_lowest_first() {
        let mut list = vec![
            taken(1, "b", 0, 7),
            taken(2, "a", 1, 30),
            taken(3, "a", 1, 10),
            taken(4, "a", 0, 5),
            taken(5, "a", 1, 20),
            taken(6, "b", 0, 3),
        ];
        let mut later = one_per_partition(&mut list);
        let kept: Vec<u64> = list.iter().map(|t| t.id).collect();
        assert_eq!(
            kept,
            [4, 3, 6],
            "a-0, a-1 at 10, b-0 at 3, in partition order"
        );
        later.sort_unstable();
        assert_eq!(later, [1, 2, 5]);
        let mut none: Vec<Taken> = Vec::new();
        assert!(one_per_partition(&mut none).is_empty());
    }
}

//! How a cursor moves or fails when its position turns out wrong: out of range (deleted by
//! retention, past the log end), on a truncated log, or for good. Each function changes one
//! cursor and says what its reader is told, for the core's transitions.

use super::cursor::{Cursor, CursorEnd, CursorId, CursorState, OffsetReset};
use super::delivery::Delivery;
use super::error::FetchError;
use super::exchange::{Effect, LogBounds};
use crate::range::TopicPartition;
use tokio::time::Instant;

/// Fails a cursor: it fetches nothing more and its reader gets the error.
pub(crate) fn fail_cursor(id: CursorId, c: &mut Cursor, error: FetchError, out: &mut Vec<Effect>) {
    c.state = CursorState::Done;
    out.push(Effect::Deliver {
        cursor: id,
        generation: c.generation,
        delivery: Delivery::Failed(error),
    });
}

/// Moves a cursor to `offset` under a new generation, telling its reader with `delivery`.
pub(crate) fn move_to(
    id: CursorId,
    c: &mut Cursor,
    offset: i64,
    delivery: Delivery,
    out: &mut Vec<Effect>,
) {
    c.generation += 1;
    c.position = offset;
    c.retry_at = None;
    c.lagging_since = None;
    c.last_fetched_epoch = -1;
    c.fetch_epoch = None;
    c.state = if c.reached_end() {
        CursorState::Done
    } else {
        CursorState::Fetching
    };
    out.push(Effect::Deliver {
        cursor: id,
        generation: c.generation,
        delivery,
    });
}

/// Places a cursor at `offset` without skipping records.
pub(crate) fn place(id: CursorId, c: &mut Cursor, offset: i64, out: &mut Vec<Effect>) {
    move_to(id, c, offset, Delivery::Placed(offset), out);
}

/// Moves a cursor forward over `from..to`, telling its reader what was skipped.
pub(crate) fn skip(id: CursorId, c: &mut Cursor, from: i64, to: i64, out: &mut Vec<Effect>) {
    move_to(id, c, to, Delivery::Skipped(from, to), out);
}

/// The log was truncated below `position` (to `end_offset`): fail, or move an open cursor
/// with a reset policy to where the logs diverge (what Kafka's consumer does).
pub(crate) fn truncated(
    id: CursorId,
    c: &mut Cursor,
    position: i64,
    end_offset: i64,
    out: &mut Vec<Effect>,
) {
    match (c.end, c.reset) {
        (CursorEnd::Open, OffsetReset::Earliest | OffsetReset::Latest) => {
            place(id, c, end_offset, out);
        }
        _ => {
            let error = FetchError::Truncated {
                topic: c.tp.topic.to_string(),
                partition: c.tp.partition,
                position,
                end_offset,
            };
            fail_cursor(id, c, error, out);
        }
    }
}

/// Handles a position the broker said is out of range, given the partition's log offsets.
pub(crate) fn out_of_range(
    id: CursorId,
    c: &mut Cursor,
    position: i64,
    bounds: LogBounds,
    retry_at: Instant,
    out: &mut Vec<Effect>,
) {
    let open = c.end == CursorEnd::Open;
    if position < bounds.start {
        return match c.reset {
            OffsetReset::Fail => {
                let error = FetchError::DataLoss {
                    topic: c.tp.topic.to_string(),
                    partition: c.tp.partition,
                    requested: position,
                    log_start_offset: bounds.start,
                };
                fail_cursor(id, c, error, out);
            }
            OffsetReset::Latest if open => skip(id, c, position, bounds.end, out),
            OffsetReset::Earliest | OffsetReset::Latest => skip(id, c, position, bounds.start, out),
        };
    }
    if position < bounds.end || (open && position == bounds.end) {
        // The position exists now (a leader change raced the answer): fetch again.
        c.state = CursorState::Fetching;
        c.retry_at = Some(retry_at);
        return;
    }
    match (c.end, c.reset) {
        (CursorEnd::Until(_), _) => {
            let error = beyond_log_end(c, bounds.end);
            fail_cursor(id, c, error, out);
        }
        (CursorEnd::Open, OffsetReset::Fail) => {
            let error = FetchError::PastLogEnd {
                topic: c.tp.topic.to_string(),
                partition: c.tp.partition,
                position,
                log_end: bounds.end,
            };
            fail_cursor(id, c, error, out);
        }
        (CursorEnd::Open, OffsetReset::Earliest) => place(id, c, bounds.start, out),
        (CursorEnd::Open, OffsetReset::Latest) => place(id, c, bounds.end, out),
    }
}

pub(crate) fn beyond_log_end(c: &Cursor, log_end: i64) -> FetchError {
    FetchError::BeyondLogEnd {
        topic: c.tp.topic.to_string(),
        partition: c.tp.partition,
        until: c.end.limit(),
        log_end,
    }
}

pub(crate) fn unknown_partition(tp: &TopicPartition) -> FetchError {
    FetchError::UnknownPartition {
        topic: tp.topic.to_string(),
        partition: tp.partition,
    }
}

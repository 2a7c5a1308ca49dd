//! Whether a range that reaches past the partition's current log end fails, or waits.
//!
//! A Fetch answer gives the partition's log end (the high watermark, or the last stable offset
//! under read_committed). A range whose `until` lies past it names offsets that do not exist,
//! and fails with [`FetchError::BeyondLogEnd`](super::FetchError::BeyondLogEnd), unless those
//! offsets were seen to exist: the direct stream plans ranges from the log end, and an earlier
//! answer may have shown a higher one. Then the log end went backwards, which is what a newly
//! elected Kafka leader shows until its followers have fetched from it again (a follower learns
//! the high watermark one fetch late, so the new leader starts from a lower one, while the
//! records themselves, acknowledged by every in-sync replica, are there). The range waits for
//! the log end to come back, for at most [`LOG_END_LAG_GRACE`]. A log truly cut back (an unclean
//! election) is caught by the leader-epoch checks as `Truncated`, not here.

use std::time::Duration;

use tokio::time::Instant;

/// How long a range whose offsets were seen to exist waits for a log end that went backwards.
pub(crate) const LOG_END_LAG_GRACE: Duration = Duration::from_secs(30);

/// What to do with a range after an answer's log end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LogEndVerdict {
    /// The range's end is within the log: read on.
    Within,
    /// The log end is below the range's end but was seen above it: read what there is and
    /// ask again; `since` is when the lag was first seen.
    Lagging { since: Instant },
    /// The range reaches past the log end: fail it.
    Beyond,
}

/// The verdict for a range ending at `until` when an answer says the log ends at `end`
/// (negative: not given), given the highest log end `known_end` seen for the range before and
/// when a lag was first seen (`lagging_since`).
pub(crate) fn log_end_verdict(
    until: i64,
    end: i64,
    known_end: i64,
    lagging_since: Option<Instant>,
    now: Instant,
) -> LogEndVerdict {
    if end < 0 || until <= end {
        return LogEndVerdict::Within;
    }
    if known_end < until {
        return LogEndVerdict::Beyond;
    }
    let since = lagging_since.unwrap_or(now);
    if now.duration_since(since) < LOG_END_LAG_GRACE {
        LogEndVerdict::Lagging { since }
    } else {
        LogEndVerdict::Beyond
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_within_the_log_reads_on() {
        let now = Instant::now();
        assert_eq!(
            log_end_verdict(10, 10, -1, None, now),
            LogEndVerdict::Within
        );
        assert_eq!(
            log_end_verdict(10, 25, -1, None, now),
            LogEndVerdict::Within
        );
        assert_eq!(
            log_end_verdict(10, -1, -1, None, now),
            LogEndVerdict::Within
        );
    }

    #[test]
    fn a_range_past_a_log_end_never_seen_beyond_it_fails_at_once() {
        let now = Instant::now();
        assert_eq!(log_end_verdict(10, 7, -1, None, now), LogEndVerdict::Beyond);
        assert_eq!(log_end_verdict(10, 7, 9, None, now), LogEndVerdict::Beyond);
    }

    #[test]
    fn a_log_end_that_went_backwards_is_waited_for_within_the_grace() {
        let start = Instant::now();
        let first = log_end_verdict(10, 7, 10, None, start);
        assert_eq!(first, LogEndVerdict::Lagging { since: start });
        let later = start + Duration::from_secs(5);
        assert_eq!(
            log_end_verdict(10, 8, 10, Some(start), later),
            LogEndVerdict::Lagging { since: start },
            "the lag keeps its first sighting"
        );
        let too_late = start + LOG_END_LAG_GRACE;
        assert_eq!(
            log_end_verdict(10, 8, 12, Some(start), too_late),
            LogEndVerdict::Beyond
        );
    }
}

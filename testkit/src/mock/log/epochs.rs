//! The leader epoch cache of one partition: the start offset of every leader epoch that wrote
//! to the log, the way Kafka's `leader-epoch-checkpoint` keeps it.
//!
//! An epoch is added when a replica becomes leader (starting at the log end offset). Adding an
//! epoch removes entries that would make the cache non-monotonic (an epoch not below the new one,
//! or a start offset not below the new start). Truncating the log's end removes the entries that
//! start at or past the new end; moving the log start clamps the first surviving entry to it.

/// "No epoch" in Kafka's answers.
pub const UNDEFINED_EPOCH: i32 = -1;
/// "No offset" in Kafka's answers.
pub const UNDEFINED_OFFSET: i64 = -1;

/// `(epoch, start offset)` entries, ascending in both.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EpochCache {
    entries: Vec<(i32, i64)>,
}

impl EpochCache {
    /// Records that `epoch` starts at `start_offset`.
    pub fn assign(&mut self, epoch: i32, start_offset: i64) {
        if self.entries.last() == Some(&(epoch, start_offset)) {
            return;
        }
        if matches!(self.entries.last(), Some(&(e, _)) if e == epoch) {
            // The epoch is already known and still being written to: keep its first start.
            return;
        }
        self.entries.retain(|&(e, s)| e < epoch && s < start_offset);
        self.entries.push((epoch, start_offset));
    }

    /// The latest epoch, if any.
    pub fn latest(&self) -> Option<i32> {
        self.entries.last().map(|&(e, _)| e)
    }

    /// The entries, oldest first.
    #[cfg(test)]
    pub fn entries(&self) -> &[(i32, i64)] {
        &self.entries
    }

    /// The epoch the record at `offset` was written in: the last epoch starting at or before it.
    pub fn epoch_for_offset(&self, offset: i64) -> Option<i32> {
        self.entries
            .iter()
            .rev()
            .find(|&&(_, s)| s <= offset)
            .map(|&(e, _)| e)
    }

    /// Kafka's `endOffsetFor`: the end offset of `requested` (the start of the next known epoch,
    /// or `log_end` for the latest epoch), with the epoch it belongs to.
    ///
    /// - an undefined requested epoch, or one above every known epoch: `(-1, -1)`;
    /// - the latest epoch: `(requested, log_end)`;
    /// - an epoch below every known epoch: `(requested, start of the first epoch)`;
    /// - otherwise: `(the largest known epoch <= requested, start of the next known epoch)`.
    pub fn end_offset_for(&self, requested: i32, log_end: i64) -> (i32, i64) {
        if requested == UNDEFINED_EPOCH {
            return (UNDEFINED_EPOCH, UNDEFINED_OFFSET);
        }
        if self.latest() == Some(requested) {
            return (requested, log_end);
        }
        let Some(&(_, higher_start)) = self.entries.iter().find(|&&(e, _)| e > requested) else {
            return (UNDEFINED_EPOCH, UNDEFINED_OFFSET);
        };
        match self.entries.iter().rev().find(|&&(e, _)| e <= requested) {
            Some(&(floor, _)) => (floor, higher_start),
            None => (requested, higher_start),
        }
    }

    /// Drops the entries starting at or after `end` (the log was truncated to `end`).
    pub fn truncate_from_end(&mut self, end: i64) {
        self.entries.retain(|&(_, s)| s < end);
    }

    /// Moves the cache's start to `start` (records below it were deleted): entries wholly
    /// below it go, and the last of those is kept, starting at `start`, when no entry starts
    /// exactly there.
    pub fn truncate_from_start(&mut self, start: i64) {
        let below: Vec<(i32, i64)> = self
            .entries
            .iter()
            .copied()
            .filter(|&(_, s)| s < start)
            .collect();
        let Some(&(last_epoch, _)) = below.last() else {
            return;
        };
        self.entries.retain(|&(_, s)| s >= start);
        if self.entries.first().map(|&(_, s)| s) != Some(start) {
            self.entries.insert(0, (last_epoch, start));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_offsets_follow_kafka() {
        let mut c = EpochCache::default();
        c.assign(0, 0);
        c.assign(2, 10);
        c.assign(5, 20);
        assert_eq!(c.end_offset_for(5, 30), (5, 30));
        assert_eq!(c.end_offset_for(0, 30), (0, 10));
        assert_eq!(c.end_offset_for(1, 30), (0, 10));
        assert_eq!(c.end_offset_for(3, 30), (2, 20));
        assert_eq!(c.end_offset_for(9, 30), (-1, -1));
        assert_eq!(c.end_offset_for(-1, 30), (-1, -1));
        assert_eq!(c.epoch_for_offset(15), Some(2));
        c.truncate_from_start(12);
        assert_eq!(c.entries(), &[(2, 12), (5, 20)]);
        assert_eq!(c.end_offset_for(1, 30), (1, 12));
        c.truncate_from_end(20);
        assert_eq!(c.entries(), &[(2, 12)]);
    }

    #[test]
    fn assign_keeps_the_cache_monotonic() {
        let mut c = EpochCache::default();
        c.assign(0, 0);
        c.assign(1, 0);
        assert_eq!(c.entries(), &[(1, 0)]);
        c.assign(1, 5);
        assert_eq!(c.entries(), &[(1, 0)]);
        c.assign(2, 5);
        c.assign(3, 3);
        assert_eq!(c.entries(), &[(1, 0), (3, 3)]);
    }
}

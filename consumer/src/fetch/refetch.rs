//! [`CorruptRefetch`]: fetched data that does not decode (a CRC mismatch, a corrupt batch) is
//! fetched again from its offset before the read fails.
//!
//! Bytes corrupted on the way differ from one fetch to the next; bytes corrupted in the
//! broker's log fail the same way every time. So the first failure at an offset is fetched
//! again; a failure at the same offset that repeats the one before is reported (persistent
//! corruption costs exactly one refetch); a different failure there is fetched again too, at
//! most [`MAX_REFETCHES`] times in a row. Corrupt data is never delivered either way.

use gregor_protocol::records::RecordsError;

/// The most refetches in a row from one offset.
pub(crate) const MAX_REFETCHES: u8 = 3;

/// The refetches made from one offset: where, the last failure there, and how many.
#[derive(Debug, Default, Clone)]
pub(crate) struct CorruptRefetch {
    last: Option<(i64, RecordsError, u8)>,
}

impl CorruptRefetch {
    /// Whether data starting at `offset` that failed with `error` is to be fetched again
    /// (and counts the refetch); `false`: report the error.
    pub(crate) fn should_refetch(&mut self, offset: i64, error: RecordsError) -> bool {
        match &mut self.last {
            Some((at, last, count)) if *at == offset => {
                if *last == error || *count >= MAX_REFETCHES {
                    return false;
                }
                *last = error;
                *count += 1;
                true
            }
            _ => {
                self.last = Some((offset, error, 1));
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crc(actual: u32) -> RecordsError {
        RecordsError::CrcMismatch {
            expected: 7,
            actual,
        }
    }

    #[test]
    fn a_failure_repeated_at_the_same_offset_costs_one_refetch() {
        let mut r = CorruptRefetch::default();
        assert!(r.should_refetch(10, crc(1)));
        assert!(!r.should_refetch(10, crc(1)), "the log itself is corrupt");
    }

    #[test]
    fn changing_failures_are_refetched_a_bounded_number_of_times() {
        let mut r = CorruptRefetch::default();
        for actual in 1..=u32::from(MAX_REFETCHES) {
            assert!(r.should_refetch(10, crc(actual)), "refetch {actual}");
        }
        assert!(!r.should_refetch(10, crc(99)), "bounded");
    }

    #[test]
    fn each_offset_gets_its_own_refetch() {
        let mut r = CorruptRefetch::default();
        assert!(r.should_refetch(10, crc(1)));
        assert!(
            r.should_refetch(20, crc(1)),
            "a later offset, corrupted anew"
        );
        assert!(r.should_refetch(30, crc(1)));
        assert!(!r.should_refetch(30, crc(1)));
    }
}

//! [`Delivery`]: what the fetch core hands a reader.

use super::error::FetchError;
use super::fetched::FetchedData;

/// What a reader receives, in order.
#[derive(Debug)]
pub(crate) enum Delivery {
    /// Planned batches (possibly none) and the position after them.
    Fetched(FetchedData),
    /// Offsets `from..to` were skipped: deleted ([`OnDataLoss::SkipToLogStart`], an
    /// `Earliest` reset), or passed over by a `Latest` reset.
    ///
    /// [`OnDataLoss::SkipToLogStart`]: super::OnDataLoss::SkipToLogStart
    Skipped(i64, i64),
    /// The cursor was placed at this offset without skipping records: a start looked up, or a
    /// reset that moved it back (past the log end, or to where a truncated log diverges).
    Placed(i64),
    /// The read failed.
    Failed(FetchError),
}

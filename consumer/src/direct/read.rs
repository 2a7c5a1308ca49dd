//! [`read_ranges`]: read exactly the records of given offset ranges (Spark's `createRDD`):
//! no consumer group, no stored state.

use gregor_client::Client;
use gregor_protocol::records::Record;

use crate::fetch::{FetchConfig, FetchEngine, FetchError};
use crate::range::{ConsumedRange, OffsetRange};

pub use crate::fetch::OnDataLoss;

/// Options of [`read_ranges`].
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ReadOptions {
    /// How records are fetched.
    pub fetch: FetchConfig,
    /// What happens when offsets were deleted.
    pub on_data_loss: OnDataLoss,
}

impl ReadOptions {
    /// Sets [`fetch`](Self::fetch).
    pub fn with_fetch(mut self, fetch: FetchConfig) -> Self {
        self.fetch = fetch;
        self
    }

    /// Sets [`on_data_loss`](Self::on_data_loss).
    pub fn with_on_data_loss(mut self, on_data_loss: OnDataLoss) -> Self {
        self.on_data_loss = on_data_loss;
        self
    }
}

/// What [`read_ranges`] read: one [`RangeRead`] per range, in the order the ranges were given.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct RangeRecords {
    /// One entry per range, in the order given.
    pub ranges: Vec<RangeRead>,
}

impl RangeRecords {
    /// The number of ranges.
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    /// Whether no range was read.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The ranges read, in the order given.
    pub fn iter(&self) -> std::slice::Iter<'_, RangeRead> {
        self.ranges.iter()
    }

    /// All records of all ranges, range by range.
    pub fn records(&self) -> impl Iterator<Item = &Record> + '_ {
        self.ranges.iter().flat_map(|r| r.records.iter())
    }
}

/// The records read from one range.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RangeRead {
    /// The range with the count of records read.
    pub consumed: ConsumedRange,
    /// The records, in offset order.
    pub records: Vec<Record>,
    /// Offsets skipped because they were deleted (`from..until`), with
    /// [`OnDataLoss::SkipToLogStart`].
    pub skipped: Option<(i64, i64)>,
}

/// Reads exactly the records of `ranges` (no group, no stored state), all ranges at once.
/// The result has one entry per range, in the order given; the first error ends the read.
pub async fn read_ranges(
    client: &Client,
    ranges: &[OffsetRange],
    options: ReadOptions,
) -> Result<RangeRecords, FetchError> {
    let engine = FetchEngine::new(client.clone(), options.fetch);
    let mut readers: Vec<_> = ranges
        .iter()
        .map(|r| engine.read_with(r.clone(), options.on_data_loss))
        .collect();
    let mut out = Vec::with_capacity(readers.len());
    for reader in &mut readers {
        let mut records = Vec::new();
        while let Some(chunk) = reader.next_chunk().await {
            records.extend(chunk?.into_records());
        }
        let consumed = reader.consumed().ok_or(FetchError::EngineStopped)?;
        out.push(RangeRead {
            consumed,
            records,
            skipped: reader.skipped(),
        });
    }
    Ok(RangeRecords { ranges: out })
}

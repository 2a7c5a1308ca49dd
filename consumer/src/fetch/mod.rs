//! The fetch engine: reads offset ranges of partitions from their leaders.
//!
//! [`FetchEngine::read`] starts reading one [`OffsetRange`]; the returned [`PartitionReader`]
//! yields the range's records in offset order as [`RecordChunk`]s. Fetching is shared: one
//! task per broker (spawned lazily) sends Fetch requests for every partition it leads whose
//! reader wants data, so partitions prefetch while their readers process earlier chunks,
//! bounded by one [`MemoryBudget`](budget::MemoryBudget) for the whole engine.
//!
//! A broker loop only plans each partition's data ([`partition`]: which batches, the position
//! after them); the reader decodes the planned batches (CRC, decompression) into chunks when
//! the application asks (`fetched`), so decompression runs on the readers' tasks, in parallel
//! and while the data is in cache.
//!
//! Modules: [`config`] (settings), [`error`] ([`FetchError`]), [`budget`] (the shared memory
//! budget), [`partition`] (planning), `fetched` (planned data to chunks), `chunk`
//! ([`RecordChunk`]), `engine` and `reader` (the handles), `refetch` (data that did not decode
//! is fetched again before a read fails).

mod broker;
pub mod budget;
mod chunk;
pub mod config;
mod core;
mod cursor;
mod delivery;
mod engine;
pub mod error;
mod exchange;
mod fetched;
mod log_end;
mod lookup;
mod mailbox;
pub mod partition;
mod reader;
mod refetch;
mod reset;
pub mod session;
mod shared;

pub use chunk::RecordChunk;
pub use config::{FetchConfig, IsolationLevel};
pub use cursor::{OffsetReset, OnDataLoss, StartAt};
pub use engine::FetchEngine;
pub use error::FetchError;
pub use reader::PartitionReader;

#[cfg(doc)]
use crate::range::OffsetRange;

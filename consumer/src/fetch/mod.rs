//! The fetch engine: reads offset ranges of partitions from their leaders.
//!
//! [`FetchEngine::read`] starts reading one [`OffsetRange`]; the returned [`PartitionReader`]
//! yields the range's records in offset order as [`RecordChunk`]s. Fetching is shared: one
//! task per broker (spawned lazily) sends Fetch requests for every partition it leads whose
//! reader wants data, so partitions prefetch while their readers process earlier chunks,
//! bounded by one [`MemoryBudget`](budget::MemoryBudget) for the whole engine.
//!
//! Modules: [`config`] (settings), [`error`] ([`FetchError`]), [`budget`] (the shared memory
//! budget), `chunk` ([`RecordChunk`]), `engine` and `reader` (the handles).

mod broker;
pub mod budget;
mod chunk;
pub mod config;
mod engine;
pub mod error;
pub mod partition;
mod reader;
pub mod session;
mod validate;

pub use chunk::RecordChunk;
pub use config::{FetchConfig, IsolationLevel};
pub use engine::FetchEngine;
pub use error::FetchError;
pub use reader::PartitionReader;

#[cfg(doc)]
use crate::range::OffsetRange;

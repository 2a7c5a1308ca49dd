//! One module per Kafka API: the request and response bodies, transcribed from Kafka's message
//! schemas with `#[derive(Message)]` (see `gregor-protocol-derive` for the attributes).
//!
//! Top-level request and response types are re-exported here; nested structures keep their
//! schema names inside their API's module (`messages::fetch::FetchTopic`).

pub mod api_versions;
pub mod fetch;
pub mod list_offsets;
pub mod metadata;
pub mod offset_for_leader_epoch;

pub use api_versions::{ApiVersionsRequest, ApiVersionsResponse};
pub use fetch::{FetchRequest, FetchResponse};
pub use list_offsets::{ListOffsetsRequest, ListOffsetsResponse};
pub use metadata::{MetadataRequest, MetadataResponse};
pub use offset_for_leader_epoch::{OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse};

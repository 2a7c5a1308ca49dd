//! One module per Kafka API: the request and response bodies, transcribed from Kafka's message
//! schemas with `#[derive(Message)]` (see `gregor-protocol-derive` for the attributes).
//!
//! Top-level request and response types are re-exported here; nested structures keep their
//! schema names inside their API's module (`messages::fetch::FetchTopic`).

pub mod api_versions;

pub use api_versions::{ApiVersionsRequest, ApiVersionsResponse};

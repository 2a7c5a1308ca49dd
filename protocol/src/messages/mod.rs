//! One module per Kafka API: the request and response bodies, transcribed from Kafka's message
//! schemas with `#[derive(Message)]` (see `gregor-protocol-derive` for the attributes).

pub mod api_versions;

pub use api_versions::*;

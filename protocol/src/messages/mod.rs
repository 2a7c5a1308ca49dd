//! One module per Kafka API: the request and response bodies, transcribed from Kafka's message
//! schemas with `#[derive(Message)]` (see `gregor-protocol-derive` for the attributes).
//!
//! Top-level request and response types are re-exported here; nested structures keep their
//! schema names inside their API's module (`messages::fetch::FetchTopic`).

pub mod api_versions;
pub mod create_partitions;
pub mod create_topics;
pub mod delete_records;
pub mod delete_topics;
pub mod init_producer_id;
pub mod produce;
pub mod sasl_authenticate;
pub mod sasl_handshake;

pub use api_versions::{ApiVersionsRequest, ApiVersionsResponse};
pub use create_partitions::{CreatePartitionsRequest, CreatePartitionsResponse};
pub use create_topics::{CreateTopicsRequest, CreateTopicsResponse};
pub use delete_records::{DeleteRecordsRequest, DeleteRecordsResponse};
pub use delete_topics::{DeleteTopicsRequest, DeleteTopicsResponse};
pub use init_producer_id::{InitProducerIdRequest, InitProducerIdResponse};
pub use produce::{ProduceRequest, ProduceResponse};
pub use sasl_authenticate::{SaslAuthenticateRequest, SaslAuthenticateResponse};
pub use sasl_handshake::{SaslHandshakeRequest, SaslHandshakeResponse};

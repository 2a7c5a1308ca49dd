//! Data and clients for tests that run against a broker (feature `client`): unique names,
//! record values, gregor clients with short backoffs, topics created and led, and records
//! produced with Produce requests built by hand (so a test of gregor's consumer or admin does
//! not depend on gregor's producer).
//!
//! These are test helpers: every function here **panics** when the broker or the client fails
//! (a failed setup is a failed test), and otherwise returns plain values.
//!
//! # Layout
//! - [`names`]: [`unique_name`] and [`values`].
//! - [`client`]: [`test_client_config`], [`test_client`] and the [`within`] deadline.
//! - [`topics`]: [`create_topic`] (CreateTopics), [`create_topic_on`] (a test broker's control
//!   API where it has one) and [`create_topic_by_protocol_on`] (CreateTopics where served);
//!   [`wait_until_served`] (every partition's leader serves it, which Kafka's does a moment
//!   after naming it in Metadata).
//! - [`fetch`](mod@fetch): [`partition_fetch`], a consumer's Fetch for one partition.
//! - [`produce`](mod@produce): [`produce_batch`], [`produce_keyed`] and [`produce()`] send
//!   hand-built Produce requests (acks = all); [`produce_request`] and [`encode_values`] build
//!   them for tests that send their own.

pub mod client;
pub mod fetch;
pub mod names;
pub mod produce;
pub mod topics;

pub use client::{test_client, test_client_config, within};
pub use fetch::partition_fetch;
pub use names::{unique_name, values};
pub use produce::{
    BatchShape, NOT_READY_FOR, RECORD_TIMESTAMP, encode_values, produce, produce_batch,
    produce_keyed, produce_request,
};
pub use topics::{create_topic, create_topic_by_protocol_on, create_topic_on, wait_until_served};

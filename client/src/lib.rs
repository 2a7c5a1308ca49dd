//! gregor-client: connections, authentication, metadata and the producer for the gregor Kafka
//! client.
//!
//! This crate is being built. What exists so far:
//! - [`sasl`]: sans-io SASL mechanisms (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER) as
//!   state machines that take the broker's bytes and return the client's next message; the
//!   network layer that carries them in SaslHandshake/SaslAuthenticate requests comes later.
//! - [`producer`]: the producer's sans-io core — partitioners (Kafka's murmur2 mapping, KIP-480
//!   sticky), the record accumulator, idempotent sequence bookkeeping, Produce request building.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod cluster;
pub mod producer;
pub mod sasl;

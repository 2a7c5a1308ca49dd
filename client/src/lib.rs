//! gregor-client: connections, authentication, metadata and the producer for the gregor Kafka
//! client.
//!
//! This crate is being built. What exists so far: broker connections with version negotiation,
//! TLS and SASL authentication, configuration, the cluster client (metadata, connection pool,
//! routing, retries), admin calls, and the producer.
//!
//! # Layout
//! - [`error`]: [`ClientError`], the error of everything in this crate (the producer's
//!   [`ProducerError`](producer::ProducerError) wraps it).
//! - [`TopicPartition`]: gregor-protocol's partition name, re-exported here (and in [`admin`]);
//!   the producer's batches and the admin calls' answers are keyed by it.
//! - [`connection`]: one broker connection. Its sans-io [`connection::core`] frames requests,
//!   assigns correlation ids and matches responses; [`connection::versions`] picks the API
//!   version of each request; [`connection::handshake`] is the sans-io ApiVersions + SASL
//!   handshake ([`connection::sasl_exchange`] the SASL part); [`connection::reauth`] schedules
//!   and runs KIP-368 re-authentication before the broker's SASL session ends; a private tokio
//!   driver task owns the socket and moves bytes.
//! - [`sasl`]: sans-io SASL mechanisms (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER) as
//!   state machines that take the broker's bytes and return the client's next message.
//! - [`tls`]: TLS settings (trust roots, client certificate, host name verification) turned
//!   into a rustls connector.
//! - [`config`]: typed client and producer configuration, also built from the standard Kafka
//!   client property names.
//! - [`cluster`]: the sans-io cluster view: the metadata cache ([`cluster::metadata_cache`]:
//!   brokers, leaders, leader epochs, topic ids) and the backoff/retry budget.
//! - [`cluster_client`]: [`Client`], the cluster client that runs over that view: bootstrap,
//!   the metadata task (`metadata_task.rs`, the one owner of the [`cluster::MetadataCache`]),
//!   the connection pool (one connection per broker and [`Purpose`], reconnect backoff, idle
//!   reaping), routing (leader, coordinator, any broker) and the retry helper with its policy
//!   ([`cluster_client::retry`]). [`Client`], [`Purpose`] and [`CoordinatorKind`] are
//!   re-exported here.
//! - [`admin`]: [`Admin`], administrative calls over a [`Client`] (topics, partitions,
//!   offsets, groups), each built for the version negotiated with the broker it goes to.
//! - [`producer`]: the async [`Producer`](producer::Producer) (one sender task per producer) on
//!   a sans-io core — partitioners (Kafka's murmur2 mapping, KIP-480 sticky), the record
//!   accumulator, idempotent sequence bookkeeping, Produce request building, and the sender's
//!   decisions (retries, metadata refreshes, in-flight limits).
//!
//! # Data flow
//! [`Connection::connect`] opens TCP (then TLS), spawns the connection task, and runs the
//! handshake through it: ApiVersions fills the version table, then SaslHandshake and
//! SaslAuthenticate carry the messages of a [`sasl::SaslSession`]. If the broker limits the
//! SASL session, the connection task re-authenticates on the same socket before it ends,
//! holding new requests until the exchange is done.
//!
//! A request then goes: caller → [`Connection::send`] picks the version from the table and
//! encodes header and body into a frame in the caller's task → mpsc channel → the connection
//! task gives it a correlation id, records it in flight and writes it → the broker. The answer
//! goes: socket → the task's frame reader → matched by correlation id → the caller's oneshot as
//! the raw body → decoded by the caller with the version it sent. The task never decodes a
//! body, so it only moves bytes; a caller that gives up leaves its answer to be read and
//! dropped, keeping the stream in step.
//!
//! [`Client::connect`] builds [`ConnectOptions`] from the [`config::ClientConfig`], loads the
//! metadata of all topics from the first bootstrap address that answers, and starts the
//! metadata task. A call through the client then goes: route (the partition's leader from the
//! current metadata snapshot, the group's coordinator from FindCoordinator, or any broker) →
//! [`Client::connection`] takes the pooled connection of that broker and purpose (opening one
//! after the reconnect backoff if needed) → [`Connection::send`] as above. Failures come back
//! to [`Client::retry_until`] (or an admin call's retry rounds), which retries retriable broker
//! errors and connection failures until the deadline, asking the metadata task for a refresh
//! first when the error says the metadata is stale; the metadata task publishes the new
//! snapshot, and the next attempt routes with it.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod admin;
pub mod cluster;
pub mod cluster_client;
pub mod config;
pub mod connection;
pub mod error;
pub mod producer;
pub mod sasl;
pub mod tls;

pub use admin::Admin;
pub use cluster_client::{Client, CoordinatorKind, Purpose};
pub use connection::{ConnectOptions, Connection};
pub use error::{ClientError, PoisonCause};
pub use gregor_protocol::TopicPartition;

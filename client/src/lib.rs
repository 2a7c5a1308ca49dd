//! gregor-client: connections, authentication, metadata and the producer for the gregor Kafka
//! client.
//!
//! This crate is being built. What exists so far:
//! - [`sasl`]: sans-io SASL mechanisms (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER) as
//!   state machines that take the broker's bytes and return the client's next message; the
//!   network layer that carries them in SaslHandshake/SaslAuthenticate requests comes later.
//! - [`tls`]: TLS settings (trust roots, client certificate, host name verification) turned
//!   into a rustls connector.
//! - [`config`]: typed client and producer configuration, also built from the standard Kafka
//!   client property names.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod config;
pub mod sasl;
pub mod tls;

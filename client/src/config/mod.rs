//! Client and producer configuration.
//!
//! [`ClientConfig`] holds what every connection needs (bootstrap servers, security protocol,
//! TLS and SASL settings, timeouts, backoffs); [`ProducerConfig`] holds only the producer's
//! own settings (acks, batching, compression, idempotence, ...): a producer takes its
//! connection settings from the [`Client`](crate::Client) it runs over. Both are built with
//! typed builders, which check the combination when [`build`](ClientConfigBuilder::build) is
//! called:
//!
//! ```
//! use std::time::Duration;
//! use gregor_client::config::{Acks, ClientConfig, ProducerConfig, SecurityProtocol};
//!
//! let client = ClientConfig::builder()
//!     .bootstrap_servers(["broker-1:9093", "broker-2:9093"])
//!     .client_id("orders-service")
//!     .security_protocol(SecurityProtocol::Ssl)
//!     .request_timeout(Duration::from_secs(10))
//!     .build()?;
//! let producer = ProducerConfig::builder().acks(Acks::All).build()?;
//! assert!(producer.idempotence());
//! # Ok::<(), gregor_client::config::ConfigError>(())
//! ```
//!
//! Both can also be read from the standard Kafka client properties (Java client and librdkafka
//! names), for example from an existing `producer.properties`: the connection keys go to the
//! client's configuration, the producer keys to the producer's.
//!
//! ```
//! use gregor_client::config::ProducerConfig;
//!
//! let (client, producer) = ProducerConfig::from_properties([
//!     ("bootstrap.servers", "localhost:9092"),
//!     ("acks", "1"),
//!     ("compression.type", "zstd"),
//! ])?;
//! assert_eq!(client.bootstrap_servers().len(), 1);
//! assert!(!producer.idempotence()); // acks=1 turns the default idempotence off
//! # Ok::<(), gregor_client::config::ConfigError>(())
//! ```
//!
//! An unknown key or a malformed value is a [`ConfigError`] naming the key; values are never
//! copied into errors (they may be passwords). Supported keys: see [`CLIENT_KEYS`] and
//! [`PRODUCER_KEYS`].

mod address;
mod client;
mod jaas;
mod producer;
mod properties;
#[cfg(test)]
mod tests;

use std::fmt;

pub use address::BrokerAddress;
pub use client::{ClientConfig, ClientConfigBuilder};
pub use jaas::{JaasCredentials, parse_jaas_config};
pub use producer::{Acks, Partitioner, ProducerConfig, ProducerConfigBuilder};
pub use properties::{CLIENT_KEYS, PRODUCER_KEYS};

/// Parsers of property values, for settings built on this client's (the consumer's): each
/// checks the value's form and range and names the key, never the value, in its error.
pub mod value {
    pub use super::properties::{INT_MAX, LONG_MAX, boolean, millis, whole};
}

/// A configuration that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A property name this client does not know.
    #[error("unknown configuration key {0:?}")]
    UnknownKey(String),
    /// A value that does not parse, is out of range, or conflicts with another setting. `key`
    /// is the property the value belongs to (also for values set through a builder method).
    #[error("invalid value for {key}: {reason}")]
    InvalidValue {
        /// The property.
        key: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A required setting is absent.
    #[error("missing {key}: {reason}")]
    Missing {
        /// The property (or, for settings only code can provide, what is missing).
        key: &'static str,
        /// Why it is needed.
        reason: &'static str,
    },
}

impl ConfigError {
    /// An [`InvalidValue`](ConfigError::InvalidValue) of `key`.
    pub fn invalid(key: &str, reason: &'static str) -> ConfigError {
        ConfigError::InvalidValue {
            key: key.to_owned(),
            reason,
        }
    }

    /// The property the error is about.
    pub fn key(&self) -> &str {
        match self {
            ConfigError::UnknownKey(k) | ConfigError::InvalidValue { key: k, .. } => k,
            ConfigError::Missing { key, .. } => key,
        }
    }
}

/// How connections to brokers are secured (`security.protocol`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SecurityProtocol {
    /// Plain TCP, no authentication.
    #[default]
    Plaintext,
    /// TLS.
    Ssl,
    /// SASL authentication over plain TCP (credentials of PLAIN travel in clear).
    SaslPlaintext,
    /// SASL authentication over TLS.
    SaslSsl,
}

impl SecurityProtocol {
    /// Every protocol.
    pub const ALL: [SecurityProtocol; 4] = [
        SecurityProtocol::Plaintext,
        SecurityProtocol::Ssl,
        SecurityProtocol::SaslPlaintext,
        SecurityProtocol::SaslSsl,
    ];

    /// The property value: `PLAINTEXT`, `SSL`, `SASL_PLAINTEXT` or `SASL_SSL`.
    pub const fn name(self) -> &'static str {
        match self {
            SecurityProtocol::Plaintext => "PLAINTEXT",
            SecurityProtocol::Ssl => "SSL",
            SecurityProtocol::SaslPlaintext => "SASL_PLAINTEXT",
            SecurityProtocol::SaslSsl => "SASL_SSL",
        }
    }

    /// The protocol with this name, in any case (librdkafka uses lower case).
    pub fn from_name(name: &str) -> Option<SecurityProtocol> {
        SecurityProtocol::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(name))
    }

    /// Whether connections use TLS.
    pub const fn uses_tls(self) -> bool {
        matches!(self, SecurityProtocol::Ssl | SecurityProtocol::SaslSsl)
    }

    /// Whether connections authenticate with SASL.
    pub const fn uses_sasl(self) -> bool {
        matches!(
            self,
            SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl
        )
    }
}

impl fmt::Display for SecurityProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

//! Kafka client property names (Java client and librdkafka spellings) onto the builders.

use std::path::PathBuf;
use std::time::Duration;

use gregor_protocol::compression::Compression;

use super::{
    Acks, BrokerAddress, ClientConfigBuilder, ConfigError, Partitioner, ProducerConfigBuilder,
    SecurityProtocol, parse_jaas_config,
};
use crate::sasl::SaslMechanism;
use crate::tls::TrustRoots;

/// Every property [`ClientConfigBuilder::set`] accepts.
pub const CLIENT_KEYS: &[&str] = &[
    "bootstrap.servers",
    "client.id",
    "security.protocol",
    "ssl.ca.location",
    "ssl.truststore.location",
    "ssl.truststore.type",
    "ssl.certificate.location",
    "ssl.key.location",
    "ssl.key.password",
    "ssl.endpoint.identification.algorithm",
    "sasl.mechanism",
    "sasl.mechanisms",
    "sasl.username",
    "sasl.password",
    "sasl.jaas.config",
    "request.timeout.ms",
    "metadata.max.age.ms",
    "reconnect.backoff.ms",
    "reconnect.backoff.max.ms",
    "retry.backoff.ms",
    "socket.connection.setup.timeout.ms",
    "connections.max.idle.ms",
];

/// Every property [`ProducerConfigBuilder::set`] accepts (the producer's own settings; a
/// producer properties map may hold [`CLIENT_KEYS`] too, see
/// [`ProducerConfigBuilder::from_properties`]).
pub const PRODUCER_KEYS: &[&str] = &[
    "acks",
    "linger.ms",
    "batch.size",
    "compression.type",
    "enable.idempotence",
    "max.in.flight.requests.per.connection",
    "delivery.timeout.ms",
    "retries",
    "partitioner.class",
    "partitioner",
    "buffer.memory",
    "max.request.size",
    "max.block.ms",
];

/// The largest value of a Kafka `INT` setting.
pub const INT_MAX: u64 = i32::MAX as u64;
/// The largest value of a Kafka `LONG` setting.
pub const LONG_MAX: u64 = i64::MAX as u64;

/// A non-negative whole number no larger than `max` ([`INT_MAX`] or [`LONG_MAX`] for Kafka's
/// `INT` and `LONG` settings); an error names `key`.
pub fn whole(key: &str, value: &str, max: u64) -> Result<u64, ConfigError> {
    let n: i64 = value
        .parse()
        .map_err(|_| ConfigError::invalid(key, "expected a whole number"))?;
    let n = u64::try_from(n).map_err(|_| ConfigError::invalid(key, "must not be negative"))?;
    if n > max {
        return Err(ConfigError::invalid(key, "too large"));
    }
    Ok(n)
}

/// A duration in milliseconds: a whole number of them, no more than `max`.
pub fn millis(key: &str, value: &str, max: u64) -> Result<Duration, ConfigError> {
    whole(key, value, max).map(Duration::from_millis)
}

fn int_usize(key: &str, value: &str) -> Result<usize, ConfigError> {
    usize::try_from(whole(key, value, INT_MAX)?).map_err(|_| ConfigError::invalid(key, "too large"))
}

/// `true` or `false`, in any case.
pub fn boolean(key: &str, value: &str) -> Result<bool, ConfigError> {
    if value.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if value.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(ConfigError::invalid(key, "expected true or false"))
    }
}

fn path(key: &str, value: &str) -> Result<PathBuf, ConfigError> {
    if value.is_empty() {
        return Err(ConfigError::invalid(key, "expected a file path"));
    }
    Ok(PathBuf::from(value))
}

impl ClientConfigBuilder {
    /// A builder with these properties applied in order (a later value for the same key
    /// wins).
    pub fn from_properties<I, K, V>(properties: I) -> Result<ClientConfigBuilder, ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut builder = ClientConfigBuilder::default();
        for (k, v) in properties {
            builder.set(k.as_ref(), v.as_ref())?;
        }
        Ok(builder)
    }

    /// Applies one property (see [`CLIENT_KEYS`]). Values are trimmed; an unknown key or a
    /// malformed value is an error naming the key.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), ConfigError> {
        if self.apply(key, value.trim())? {
            Ok(())
        } else {
            Err(ConfigError::UnknownKey(key.to_owned()))
        }
    }

    /// Applies `key` if it is a client property; `Ok(false)` if it is not one.
    pub(super) fn apply(&mut self, key: &str, value: &str) -> Result<bool, ConfigError> {
        match key {
            "bootstrap.servers" => {
                let entries: Vec<String> = value
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect();
                for e in &entries {
                    BrokerAddress::parse(e).map_err(|r| ConfigError::invalid(key, r))?;
                }
                if entries.is_empty() {
                    return Err(ConfigError::invalid(
                        key,
                        "expected host:port[,host:port...]",
                    ));
                }
                self.bootstrap = entries;
            }
            "client.id" => self.client_id = Some(value.to_owned()),
            "security.protocol" => {
                self.security_protocol = SecurityProtocol::from_name(value).ok_or_else(|| {
                    ConfigError::invalid(key, "expected PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL")
                })?;
            }
            "ssl.ca.location" => {
                self.tls_props.ca_location = Some(if value == "probe" {
                    TrustRoots::System
                } else {
                    TrustRoots::ca_file(path(key, value)?)
                });
            }
            "ssl.truststore.location" => {
                self.tls_props.truststore_location = Some(path(key, value)?);
            }
            "ssl.truststore.type" => {
                if !["PEM", "JKS", "PKCS12"]
                    .iter()
                    .any(|t| t.eq_ignore_ascii_case(value))
                {
                    return Err(ConfigError::invalid(key, "expected PEM, JKS or PKCS12"));
                }
                self.tls_props.truststore_type = Some(value.to_owned());
            }
            "ssl.certificate.location" => {
                self.tls_props.certificate_location = Some(path(key, value)?);
            }
            "ssl.key.location" => self.tls_props.key_location = Some(path(key, value)?),
            "ssl.key.password" => {
                if !value.is_empty() {
                    return Err(ConfigError::invalid(
                        key,
                        "encrypted private keys are not supported; decrypt the key file",
                    ));
                }
            }
            "ssl.endpoint.identification.algorithm" => {
                self.tls_props.verify_hostname = Some(if value.eq_ignore_ascii_case("https") {
                    true
                } else if value.is_empty() || value.eq_ignore_ascii_case("none") {
                    false
                } else {
                    return Err(ConfigError::invalid(
                        key,
                        "expected https, or empty to turn host name verification off",
                    ));
                });
            }
            "sasl.mechanism" | "sasl.mechanisms" => {
                let upper = value.to_ascii_uppercase();
                let mechanism = SaslMechanism::from_name(&upper).ok_or_else(|| {
                    if upper == "GSSAPI" {
                        ConfigError::invalid(key, "GSSAPI (Kerberos) is not supported")
                    } else {
                        ConfigError::invalid(
                            key,
                            "expected PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER",
                        )
                    }
                })?;
                self.sasl_props.mechanism = Some(mechanism);
            }
            "sasl.username" => self.sasl_props.username = Some(value.to_owned()),
            "sasl.password" => self.sasl_props.password = Some(value.to_owned()),
            "sasl.jaas.config" => {
                let creds = parse_jaas_config(value).map_err(|r| ConfigError::invalid(key, r))?;
                self.sasl_props.jaas = Some(creds);
            }
            "request.timeout.ms" => self.request_timeout = millis(key, value, INT_MAX)?,
            "metadata.max.age.ms" => self.metadata_max_age = millis(key, value, LONG_MAX)?,
            "reconnect.backoff.ms" => self.reconnect_backoff = millis(key, value, LONG_MAX)?,
            "reconnect.backoff.max.ms" => {
                self.reconnect_backoff_max = millis(key, value, LONG_MAX)?;
            }
            "retry.backoff.ms" => self.retry_backoff = millis(key, value, LONG_MAX)?,
            "socket.connection.setup.timeout.ms" => {
                self.connect_timeout = millis(key, value, LONG_MAX)?;
            }
            "connections.max.idle.ms" => {
                self.connections_max_idle = if value == "-1" {
                    None
                } else {
                    Some(millis(key, value, LONG_MAX)?)
                };
            }
            _ => return Ok(false),
        }
        Ok(true)
    }
}

impl ProducerConfigBuilder {
    /// Builders with the properties of a Java producer properties map applied in order (a
    /// later value for the same key wins): connection keys ([`CLIENT_KEYS`]) to the client's
    /// builder, producer keys ([`PRODUCER_KEYS`]) to the producer's. Any other key is an
    /// error.
    pub fn from_properties<I, K, V>(
        properties: I,
    ) -> Result<(ClientConfigBuilder, ProducerConfigBuilder), ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut client = ClientConfigBuilder::default();
        let mut producer = ProducerConfigBuilder::new();
        for (k, v) in properties {
            let (key, value) = (k.as_ref(), v.as_ref().trim());
            if !producer.apply(key, value)? && !client.apply(key, value)? {
                return Err(ConfigError::UnknownKey(key.to_owned()));
            }
        }
        Ok((client, producer))
    }

    /// Applies one producer property (see [`PRODUCER_KEYS`]). Values are trimmed; an unknown
    /// key (connection keys included: they belong to [`ClientConfigBuilder::set`]) or a
    /// malformed value is an error naming the key.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), ConfigError> {
        if self.apply(key, value.trim())? {
            Ok(())
        } else {
            Err(ConfigError::UnknownKey(key.to_owned()))
        }
    }

    fn apply(&mut self, key: &str, value: &str) -> Result<bool, ConfigError> {
        match key {
            "acks" => {
                self.acks = Some(
                    Acks::from_property(value)
                        .ok_or_else(|| ConfigError::invalid(key, "expected 0, 1, all or -1"))?,
                );
            }
            "linger.ms" => self.linger = millis(key, value, LONG_MAX)?,
            "batch.size" => self.batch_size = int_usize(key, value)?,
            "compression.type" => {
                self.compression = match value.to_ascii_lowercase().as_str() {
                    "none" => Compression::None,
                    "gzip" => Compression::Gzip,
                    "snappy" => Compression::Snappy,
                    "lz4" => Compression::Lz4,
                    "zstd" => Compression::Zstd,
                    _ => {
                        return Err(ConfigError::invalid(
                            key,
                            "expected none, gzip, snappy, lz4 or zstd",
                        ));
                    }
                };
            }
            "enable.idempotence" => self.idempotence = Some(boolean(key, value)?),
            "max.in.flight.requests.per.connection" => {
                let n = whole(key, value, INT_MAX)?;
                self.max_in_flight =
                    u32::try_from(n).map_err(|_| ConfigError::invalid(key, "too large"))?;
            }
            "delivery.timeout.ms" => self.delivery_timeout = Some(millis(key, value, INT_MAX)?),
            "retries" => {
                let n = whole(key, value, INT_MAX)?;
                self.retries =
                    u32::try_from(n).map_err(|_| ConfigError::invalid(key, "too large"))?;
            }
            "partitioner.class" => {
                self.partitioner = Partitioner::from_java_class(value).ok_or_else(|| {
                    ConfigError::invalid(
                        key,
                        "expected DefaultPartitioner, RoundRobinPartitioner or \
                         UniformStickyPartitioner (custom classes are not supported)",
                    )
                })?;
            }
            "partitioner" => {
                self.partitioner = Partitioner::from_librdkafka_name(value).ok_or_else(|| {
                    ConfigError::invalid(
                        key,
                        "expected murmur2 or murmur2_random (CRC32 and FNV-1a partitioners are \
                         not supported)",
                    )
                })?;
            }
            "buffer.memory" => self.buffer_memory = whole(key, value, LONG_MAX)?,
            "max.request.size" => self.max_request_size = int_usize(key, value)?,
            "max.block.ms" => self.max_block = millis(key, value, LONG_MAX)?,
            _ => return Ok(false),
        }
        Ok(true)
    }
}

//! [`ClientConfig`]: what every broker connection needs.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::{BrokerAddress, ConfigError, JaasCredentials, SecurityProtocol};
use crate::sasl::{
    OAuthBearerConfig, PlainConfig, SaslConfig, SaslMechanism, ScramConfig, ScramHash,
    TokenProvider,
};
use crate::tls::{ClientCertificate, TlsConfig, TrustRoots};

const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_millis(30_000);
const DEFAULT_METADATA_MAX_AGE: Duration = Duration::from_millis(300_000);
const DEFAULT_RECONNECT_BACKOFF: Duration = Duration::from_millis(50);
const DEFAULT_RECONNECT_BACKOFF_MAX: Duration = Duration::from_millis(1_000);
const DEFAULT_RETRY_BACKOFF: Duration = Duration::from_millis(100);
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_millis(10_000);
const DEFAULT_CONNECTIONS_MAX_IDLE: Duration = Duration::from_millis(540_000);
const DEFAULT_MAX_RESPONSE_FRAME: usize = 100 * 1024 * 1024;

/// A checked client configuration. Make one with [`ClientConfig::builder`] or
/// [`ClientConfig::from_properties`].
#[derive(Debug, Clone)]
pub struct ClientConfig {
    bootstrap_servers: Vec<BrokerAddress>,
    client_id: Option<String>,
    security_protocol: SecurityProtocol,
    tls: Option<TlsConfig>,
    sasl: Option<SaslConfig>,
    request_timeout: Duration,
    metadata_max_age: Duration,
    reconnect_backoff: Duration,
    reconnect_backoff_max: Duration,
    retry_backoff: Duration,
    connect_timeout: Duration,
    connections_max_idle: Option<Duration>,
    max_response_frame: usize,
}

impl ClientConfig {
    /// A builder with every default.
    pub fn builder() -> ClientConfigBuilder {
        ClientConfigBuilder::default()
    }

    /// A configuration from Kafka client properties (see [`super::CLIENT_KEYS`]).
    pub fn from_properties<I, K, V>(properties: I) -> Result<ClientConfig, ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        ClientConfigBuilder::from_properties(properties)?.build()
    }

    /// The brokers to bootstrap from (`bootstrap.servers`).
    pub fn bootstrap_servers(&self) -> &[BrokerAddress] {
        &self.bootstrap_servers
    }

    /// The client id sent in every request header (`client.id`), if any.
    pub fn client_id(&self) -> Option<&str> {
        self.client_id.as_deref()
    }

    /// How connections are secured (`security.protocol`).
    pub fn security_protocol(&self) -> SecurityProtocol {
        self.security_protocol
    }

    /// The TLS settings: `Some` exactly when the security protocol uses TLS.
    pub fn tls(&self) -> Option<&TlsConfig> {
        self.tls.as_ref()
    }

    /// The SASL mechanism and credentials: `Some` exactly when the security protocol uses
    /// SASL.
    pub fn sasl(&self) -> Option<&SaslConfig> {
        self.sasl.as_ref()
    }

    /// How long a request may wait for its response (`request.timeout.ms`).
    pub fn request_timeout(&self) -> Duration {
        self.request_timeout
    }

    /// How old cached metadata may get before it is refreshed (`metadata.max.age.ms`).
    pub fn metadata_max_age(&self) -> Duration {
        self.metadata_max_age
    }

    /// The first wait before reconnecting to a broker (`reconnect.backoff.ms`), never more
    /// than [`reconnect_backoff_max`](Self::reconnect_backoff_max).
    pub fn reconnect_backoff(&self) -> Duration {
        self.reconnect_backoff
    }

    /// The longest wait between reconnection attempts; the wait grows exponentially up to it
    /// (`reconnect.backoff.max.ms`).
    pub fn reconnect_backoff_max(&self) -> Duration {
        self.reconnect_backoff_max
    }

    /// The wait before retrying a failed request (`retry.backoff.ms`).
    pub fn retry_backoff(&self) -> Duration {
        self.retry_backoff
    }

    /// How long establishing a connection (TCP, TLS) may take
    /// (`socket.connection.setup.timeout.ms`).
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// How long a connection may stay idle before it is closed; `None` never closes idle
    /// connections (`connections.max.idle.ms`, `-1` for never).
    pub fn connections_max_idle(&self) -> Option<Duration> {
        self.connections_max_idle
    }

    /// The largest response frame accepted from a broker, in bytes; a larger length prefix
    /// closes the connection.
    pub fn max_response_frame(&self) -> usize {
        self.max_response_frame
    }
}

/// TLS properties, applied over the builder's [`TlsConfig`] when it is built (they come in
/// any order and some only make sense together).
#[derive(Debug, Clone, Default)]
pub(super) struct TlsProperties {
    pub(super) ca_location: Option<TrustRoots>,
    pub(super) truststore_location: Option<PathBuf>,
    pub(super) truststore_type: Option<String>,
    pub(super) certificate_location: Option<PathBuf>,
    pub(super) key_location: Option<PathBuf>,
    pub(super) verify_hostname: Option<bool>,
}

/// SASL settings given piece by piece (properties, or builder methods).
#[derive(Clone, Default)]
pub(super) struct SaslProperties {
    pub(super) mechanism: Option<SaslMechanism>,
    pub(super) username: Option<String>,
    pub(super) password: Option<String>,
    pub(super) jaas: Option<JaasCredentials>,
    pub(super) token_provider: Option<Arc<dyn TokenProvider>>,
}

impl fmt::Debug for SaslProperties {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SaslProperties")
            .field("mechanism", &self.mechanism)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("jaas", &self.jaas)
            .field(
                "token_provider",
                &self.token_provider.as_ref().map(|_| ".."),
            )
            .finish()
    }
}

/// Builds a [`ClientConfig`]. Setters take and return the builder; [`set`](Self::set) applies
/// one Kafka property; [`build`](Self::build) checks everything.
#[derive(Debug, Clone)]
pub struct ClientConfigBuilder {
    pub(super) bootstrap: Vec<String>,
    pub(super) client_id: Option<String>,
    pub(super) security_protocol: SecurityProtocol,
    pub(super) tls: TlsConfig,
    pub(super) tls_props: TlsProperties,
    pub(super) sasl: Option<SaslConfig>,
    pub(super) sasl_props: SaslProperties,
    pub(super) request_timeout: Duration,
    pub(super) metadata_max_age: Duration,
    pub(super) reconnect_backoff: Duration,
    pub(super) reconnect_backoff_max: Duration,
    pub(super) retry_backoff: Duration,
    pub(super) connect_timeout: Duration,
    pub(super) connections_max_idle: Option<Duration>,
    pub(super) max_response_frame: usize,
}

impl Default for ClientConfigBuilder {
    fn default() -> Self {
        ClientConfigBuilder {
            bootstrap: Vec::new(),
            client_id: None,
            security_protocol: SecurityProtocol::default(),
            tls: TlsConfig::default(),
            tls_props: TlsProperties::default(),
            sasl: None,
            sasl_props: SaslProperties::default(),
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            metadata_max_age: DEFAULT_METADATA_MAX_AGE,
            reconnect_backoff: DEFAULT_RECONNECT_BACKOFF,
            reconnect_backoff_max: DEFAULT_RECONNECT_BACKOFF_MAX,
            retry_backoff: DEFAULT_RETRY_BACKOFF,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            connections_max_idle: Some(DEFAULT_CONNECTIONS_MAX_IDLE),
            max_response_frame: DEFAULT_MAX_RESPONSE_FRAME,
        }
    }
}

impl ClientConfigBuilder {
    /// The brokers to bootstrap from, each `host:port` (replaces any set before; required).
    pub fn bootstrap_servers<I, S>(mut self, servers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.bootstrap = servers.into_iter().map(Into::into).collect();
        self
    }

    /// The client id sent in request headers (brokers use it in logs and quotas).
    pub fn client_id(mut self, id: impl Into<String>) -> Self {
        self.client_id = Some(id.into());
        self
    }

    /// How connections are secured (default `PLAINTEXT`).
    pub fn security_protocol(mut self, protocol: SecurityProtocol) -> Self {
        self.security_protocol = protocol;
        self
    }

    /// The TLS settings used when the security protocol is `SSL` or `SASL_SSL` (default:
    /// [`TlsConfig::default`]). `ssl.*` properties are applied on top of it.
    pub fn tls(mut self, tls: TlsConfig) -> Self {
        self.tls = tls;
        self
    }

    /// A complete SASL configuration, used when the security protocol is `SASL_*`; it takes
    /// precedence over the piecewise settings below.
    pub fn sasl(mut self, sasl: impl Into<SaslConfig>) -> Self {
        self.sasl = Some(sasl.into());
        self
    }

    /// The SASL mechanism (`sasl.mechanism`).
    pub fn sasl_mechanism(mut self, mechanism: SaslMechanism) -> Self {
        self.sasl_props.mechanism = Some(mechanism);
        self
    }

    /// The PLAIN or SCRAM user name (`sasl.username`).
    pub fn sasl_username(mut self, username: impl Into<String>) -> Self {
        self.sasl_props.username = Some(username.into());
        self
    }

    /// The PLAIN or SCRAM password (`sasl.password`).
    pub fn sasl_password(mut self, password: impl Into<String>) -> Self {
        self.sasl_props.password = Some(password.into());
        self
    }

    /// The token provider for `OAUTHBEARER` (only settable in code).
    pub fn oauthbearer_token_provider(mut self, provider: Arc<dyn TokenProvider>) -> Self {
        self.sasl_props.token_provider = Some(provider);
        self
    }

    /// How long a request may wait for its response (default 30 s; must be positive).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// How old cached metadata may get (default 5 min).
    pub fn metadata_max_age(mut self, age: Duration) -> Self {
        self.metadata_max_age = age;
        self
    }

    /// The first reconnection wait (default 50 ms).
    pub fn reconnect_backoff(mut self, backoff: Duration) -> Self {
        self.reconnect_backoff = backoff;
        self
    }

    /// The longest reconnection wait (default 1 s). A smaller value than
    /// [`reconnect_backoff`](Self::reconnect_backoff) caps it, as in the Java client.
    pub fn reconnect_backoff_max(mut self, backoff: Duration) -> Self {
        self.reconnect_backoff_max = backoff;
        self
    }

    /// The wait before retrying a failed request (default 100 ms).
    pub fn retry_backoff(mut self, backoff: Duration) -> Self {
        self.retry_backoff = backoff;
        self
    }

    /// How long establishing a connection may take (default 10 s; must be positive).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long an idle connection is kept (default 9 min); `None` keeps it forever.
    pub fn connections_max_idle(mut self, idle: Option<Duration>) -> Self {
        self.connections_max_idle = idle;
        self
    }

    /// The largest response frame accepted, in bytes (default 100 MiB; must be positive).
    pub fn max_response_frame(mut self, bytes: usize) -> Self {
        self.max_response_frame = bytes;
        self
    }

    /// Checks the settings and makes the configuration.
    pub fn build(&self) -> Result<ClientConfig, ConfigError> {
        let bootstrap_servers = self
            .bootstrap
            .iter()
            .flat_map(|s| s.split(','))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                BrokerAddress::parse(s).map_err(|r| ConfigError::invalid("bootstrap.servers", r))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if bootstrap_servers.is_empty() {
            return Err(ConfigError::Missing {
                key: "bootstrap.servers",
                reason: "at least one host:port is needed to reach the cluster",
            });
        }
        positive("request.timeout.ms", self.request_timeout)?;
        positive("socket.connection.setup.timeout.ms", self.connect_timeout)?;
        if self.max_response_frame == 0 {
            return Err(ConfigError::invalid(
                "max_response_frame",
                "must be positive",
            ));
        }
        let tls = self.tls_settings()?;
        let protocol = self.security_protocol;
        let sasl = if protocol.uses_sasl() {
            Some(self.sasl_settings()?)
        } else {
            if self.sasl.is_some() || self.sasl_props.mechanism.is_some() {
                tracing::warn!(
                    %protocol,
                    "SASL settings are ignored: the security protocol does not use SASL"
                );
            }
            None
        };
        Ok(ClientConfig {
            bootstrap_servers,
            client_id: self.client_id.clone().filter(|id| !id.is_empty()),
            security_protocol: protocol,
            tls: protocol.uses_tls().then_some(tls),
            sasl,
            request_timeout: self.request_timeout,
            metadata_max_age: self.metadata_max_age,
            reconnect_backoff: self.reconnect_backoff.min(self.reconnect_backoff_max),
            reconnect_backoff_max: self.reconnect_backoff_max,
            retry_backoff: self.retry_backoff,
            connect_timeout: self.connect_timeout,
            connections_max_idle: self.connections_max_idle,
            max_response_frame: self.max_response_frame,
        })
    }

    /// The TLS configuration with the `ssl.*` properties applied.
    fn tls_settings(&self) -> Result<TlsConfig, ConfigError> {
        let p = &self.tls_props;
        let mut tls = self.tls.clone();
        if let Some(path) = &p.truststore_location {
            let is_pem = p
                .truststore_type
                .as_deref()
                .is_some_and(|t| t.eq_ignore_ascii_case("PEM"));
            if !is_pem {
                return Err(ConfigError::invalid(
                    "ssl.truststore.location",
                    "only PEM trust stores are supported (set ssl.truststore.type=PEM)",
                ));
            }
            if p.ca_location.is_some() {
                return Err(ConfigError::invalid(
                    "ssl.truststore.location",
                    "conflicts with ssl.ca.location (set one of them)",
                ));
            }
            tls.roots = TrustRoots::ca_file(path.clone());
        }
        if let Some(roots) = &p.ca_location {
            tls.roots = roots.clone();
        }
        match (&p.certificate_location, &p.key_location) {
            (Some(cert), Some(key)) => {
                tls.client_certificate = Some(ClientCertificate::from_files(cert, key));
            }
            (Some(_), None) => {
                return Err(ConfigError::Missing {
                    key: "ssl.key.location",
                    reason: "ssl.certificate.location needs its private key",
                });
            }
            (None, Some(_)) => {
                return Err(ConfigError::Missing {
                    key: "ssl.certificate.location",
                    reason: "ssl.key.location needs its certificate",
                });
            }
            (None, None) => {}
        }
        if let Some(verify) = p.verify_hostname {
            tls.verify_hostname = verify;
        }
        Ok(tls)
    }

    /// The SASL configuration for a `SASL_*` protocol.
    fn sasl_settings(&self) -> Result<SaslConfig, ConfigError> {
        let p = &self.sasl_props;
        if let Some(sasl) = &self.sasl {
            return Ok(sasl.clone());
        }
        let mechanism = p.mechanism.ok_or(ConfigError::Missing {
            key: "sasl.mechanism",
            reason: "SASL_PLAINTEXT and SASL_SSL need a mechanism (PLAIN, SCRAM-SHA-256, \
                     SCRAM-SHA-512 or OAUTHBEARER)",
        })?;
        let scram_hash = match mechanism {
            SaslMechanism::OAuthBearer => {
                let provider = p.token_provider.clone().ok_or(ConfigError::Missing {
                    key: "OAUTHBEARER token provider",
                    reason: "set one with ClientConfigBuilder::oauthbearer_token_provider",
                })?;
                return Ok(OAuthBearerConfig::new(provider).into());
            }
            SaslMechanism::Plain => None,
            SaslMechanism::ScramSha256 => Some(ScramHash::Sha256),
            SaslMechanism::ScramSha512 => Some(ScramHash::Sha512),
        };
        // Explicit sasl.username / sasl.password win over sasl.jaas.config.
        let username = p
            .username
            .clone()
            .or_else(|| p.jaas.as_ref().map(|j| j.username.clone()))
            .ok_or(ConfigError::Missing {
                key: "sasl.username",
                reason: "PLAIN and SCRAM need a user name (sasl.username or sasl.jaas.config)",
            })?;
        let password = p
            .password
            .clone()
            .or_else(|| p.jaas.as_ref().map(|j| j.password.clone()))
            .ok_or(ConfigError::Missing {
                key: "sasl.password",
                reason: "PLAIN and SCRAM need a password (sasl.password or sasl.jaas.config)",
            })?;
        Ok(match scram_hash {
            None => PlainConfig::new(username, password).into(),
            Some(hash) => ScramConfig::new(hash, username, password)
                .with_token_auth(p.jaas.as_ref().is_some_and(|j| j.token_auth))
                .into(),
        })
    }
}

fn positive(key: &str, d: Duration) -> Result<(), ConfigError> {
    if d.is_zero() {
        return Err(ConfigError::invalid(key, "must be positive"));
    }
    Ok(())
}

//! Broker connections.
//!
//! A [`Connection`] is one connection to one broker, driven by one tokio task that owns the
//! socket. The handle is cheap to clone; clones share the connection, and any number of
//! requests may be in flight on it at once.
//!
//! Setting up a connection ([`Connection::connect`] or, over a stream you opened,
//! [`Connection::handshake`]) negotiates API versions with ApiVersions and authenticates with
//! SASL if configured. Afterwards [`Connection::send`] encodes a request in the highest version
//! both sides speak, and decodes the answer in the same version.
//!
//! A broker that limits SASL sessions (`connections.max.reauth.ms`, KIP-368) states the
//! session's lifetime in SaslAuthenticate; the connection then re-authenticates on the same
//! socket before each session ends, holding new requests meanwhile (see [`reauth`]). Callers
//! see no difference, beyond a request's answer being later by the exchange's round trips; a
//! re-authentication the broker refuses ends the connection with the same SASL error a first
//! authentication would get ([`ClientError::SaslAuthentication`] and its siblings), failing the
//! requests it held, and the next request goes to a new connection.
//!
//! Modules:
//! - [`core`]: the sans-io connection state (framing, correlation ids, the in-flight table,
//!   poisoning, request deadlines, writes held during a re-authentication);
//! - [`versions`]: the broker's version table and the choice of versions;
//! - [`handshake`]: the sans-io handshake (ApiVersions, then SASL);
//! - [`sasl_exchange`]: the sans-io SASL exchange (SaslHandshake, SaslAuthenticate rounds), for
//!   the handshake and for re-authentication;
//! - [`reauth`]: the sans-io re-authentication schedule and exchange (KIP-368);
//! - `driver` (private): the tokio task that moves bytes between a socket and the core;
//! - `connect` (private): TCP, then TLS, then the handshake, with the ApiVersions v0 retry;
//! - `decode` (private): response bodies, ignoring bytes after a complete body as Kafka's Java
//!   client does (some brokers write them).

pub mod core;
pub mod handshake;
pub mod reauth;
pub mod sasl_exchange;
pub mod versions;

mod connect;
mod decode;
mod driver;

use std::sync::Arc;
use std::time::Duration;

use gregor_protocol::messages::ApiVersionsRequest;
use gregor_protocol::{EncodeError, Message, Request};
use tokio::io::{AsyncRead, AsyncWrite};
use tracing::{debug, warn};

use self::core::{CoreConfig, DEFAULT_MAX_RESPONSE_FRAME, RequestFrame};
use self::driver::DriverHandle;
use self::reauth::Reauthenticator;
use self::sasl_exchange::SaslVersions;
use self::versions::ApiVersionTable;
use crate::config::ConfigError;
use crate::error::{ClientError, PoisonCause};
use crate::sasl::SaslConfig;
use crate::tls::TlsConfig;

/// How to open and run a connection.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// The client id sent in every request header (broker logs, quotas).
    pub client_id: Option<String>,
    /// TLS settings; `None` for plaintext.
    pub tls: Option<TlsConfig>,
    /// SASL settings; `None` for no authentication.
    pub sasl: Option<SaslConfig>,
    /// How long a request may wait for its answer. A request that waits longer fails with
    /// [`ClientError::Timeout`] and closes the connection.
    pub request_timeout: Duration,
    /// How long the TCP connect plus the TLS handshake may take.
    pub connect_timeout: Duration,
    /// The largest response frame accepted; a larger one closes the connection.
    pub max_response_frame: usize,
}

impl Default for ConnectOptions {
    /// Client id `gregor`, plaintext, no SASL, 30 s request timeout, 10 s connect timeout,
    /// 100 MiB response frames.
    fn default() -> Self {
        ConnectOptions {
            client_id: Some("gregor".to_owned()),
            tls: None,
            sasl: None,
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_response_frame: DEFAULT_MAX_RESPONSE_FRAME,
        }
    }
}

/// One broker connection: a cheap, cloneable handle to the task that owns the socket.
#[derive(Debug, Clone)]
pub struct Connection {
    driver: DriverHandle,
    versions: Arc<ApiVersionTable>,
}

impl Connection {
    /// Connects to `host_port` (`host:port`, `[v6]:port`): TCP, then TLS if `opts.tls` is set,
    /// then [`handshake`](Self::handshake). A broker that closes the connection on our
    /// ApiVersions version gets one more try with ApiVersions v0 on a new connection.
    pub async fn connect(
        host_port: &str,
        opts: &ConnectOptions,
    ) -> Result<Connection, ClientError> {
        connect::connect(host_port, opts).await
    }

    /// Starts a connection over `stream` (already connected, and already TLS if wanted):
    /// ApiVersions negotiation at our newest version, then SASL if `opts.sasl` is set.
    pub async fn handshake<S>(stream: S, opts: &ConnectOptions) -> Result<Connection, ClientError>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        Self::handshake_with_api_versions(stream, opts, ApiVersionsRequest::VERSIONS.max).await
    }

    /// [`handshake`](Self::handshake) starting with ApiVersions at `api_versions_version`
    /// (0 after [`ClientError::ApiVersionsRejected`]).
    pub async fn handshake_with_api_versions<S>(
        stream: S,
        opts: &ConnectOptions,
        api_versions_version: i16,
    ) -> Result<Connection, ClientError>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        if !ApiVersionsRequest::VERSIONS.contains(api_versions_version) {
            return Err(ClientError::Config(ConfigError::invalid(
                "api_versions_version",
                "outside the ApiVersions versions this client speaks",
            )));
        }
        let config = CoreConfig {
            client_id: opts.client_id.clone(),
            max_response_frame: opts.max_response_frame,
            request_timeout: Some(opts.request_timeout),
        };
        let driver = DriverHandle::spawn(stream, config)?;
        let (negotiated, authenticated_at) =
            handshake::run(&driver, opts.sasl.as_ref(), api_versions_version).await?;
        if let (Some(sasl), Some(lifetime)) = (&opts.sasl, negotiated.sasl_session_lifetime) {
            let versions = SaslVersions::choose(&negotiated.versions)?;
            let mut reauth = Reauthenticator::new(sasl.clone(), versions);
            reauth.schedule(
                Some(lifetime),
                authenticated_at.into_std(),
                driver::jitter(),
            );
            debug!(?lifetime, due = ?reauth.due(), "SASL session limited; re-authentication scheduled");
            driver.start_reauth(reauth, lifetime).await?;
        }
        debug!(apis = negotiated.versions.len(), "connection ready");
        Ok(Connection {
            driver,
            versions: Arc::new(negotiated.versions),
        })
    }

    /// The API versions the broker advertised.
    pub fn versions(&self) -> &ApiVersionTable {
        &self.versions
    }

    /// The version of `R` this connection uses: the highest both sides speak.
    pub fn version_for<R: Request>(&self) -> Result<i16, ClientError> {
        self.versions.choose::<R>()
    }

    /// How long the broker keeps the SASL session (KIP-368), if it set a limit: the lifetime
    /// stated at the handshake, or at the latest re-authentication. The connection
    /// re-authenticates before each session ends.
    pub fn sasl_session_lifetime(&self) -> Option<Duration> {
        self.driver.session_lifetime()
    }

    /// How many times the connection re-authenticated (KIP-368) since the handshake.
    pub fn reauthentications(&self) -> u64 {
        self.driver.reauthentications()
    }

    /// Sends `req` in the negotiated version and returns the decoded answer.
    pub async fn send<R: Request>(&self, req: R) -> Result<R::Response, ClientError> {
        let version = self.version_for::<R>()?;
        self.send_versioned(&req, version).await
    }

    /// Builds the request for the negotiated version (`build` gets the version), sends it and
    /// returns the decoded answer.
    pub async fn send_with<R: Request>(
        &self,
        build: impl FnOnce(i16) -> R,
    ) -> Result<R::Response, ClientError> {
        let version = self.version_for::<R>()?;
        let req = build(version);
        self.send_versioned(&req, version).await
    }

    /// Sends `req` in `version` (which the caller chose, for example from
    /// [`versions`](Self::versions)) and returns the answer decoded in the same version.
    pub async fn send_versioned<R: Request>(
        &self,
        req: &R,
        version: i16,
    ) -> Result<R::Response, ClientError> {
        let frame =
            RequestFrame::encode(self.driver.header(), req, version).map_err(|e| match e {
                ClientError::Encode(source @ EncodeError::FieldNotInVersion { .. }) => {
                    ClientError::NotInBrokerVersion {
                        api: R::API_KEY,
                        version,
                        broker: self.versions.broker_range(R::API_KEY.code()),
                        ours: R::VERSIONS,
                        source,
                    }
                }
                other => other,
            })?;
        let body = self.driver.request(frame).await?;
        self.decode::<R>(body, version)
    }

    /// Like [`send_versioned`](Self::send_versioned), for a request the broker may hold for up
    /// to `hold` before it answers (JoinGroup and SyncGroup wait for the group): the request
    /// times out after the request timeout plus `hold`.
    pub async fn send_held<R: Request>(
        &self,
        req: &R,
        version: i16,
        hold: Duration,
    ) -> Result<R::Response, ClientError> {
        let frame =
            RequestFrame::encode(self.driver.header(), req, version)?.with_broker_hold(hold);
        let body = self.driver.request(frame).await?;
        self.decode::<R>(body, version)
    }

    /// Decodes the answer to a request of `R`. A body that does not decode poisons the
    /// connection: the request fails with [`PoisonCause::MalformedBody`], as do the others on
    /// this connection, and the next request goes to a new connection (a corrupted response
    /// costs a retry, as a cut connection does).
    fn decode<R: Request>(
        &self,
        body: bytes::Bytes,
        version: i16,
    ) -> Result<R::Response, ClientError> {
        decode::decode_response::<R::Response>(body, version).map_err(|e| {
            warn!(api = ?R::API_KEY, version, error = %e, "response did not decode; closing the connection");
            let error = ClientError::Poisoned(PoisonCause::MalformedBody(R::API_KEY, e));
            self.driver.poison(error.clone());
            error
        })
    }

    /// Sends a request the broker does not answer (Produce with `acks = 0`) in the negotiated
    /// version. Returns once the connection task has taken the request; a failure of the
    /// connection after that shows up on later requests only.
    pub async fn send_no_response<R: Request>(&self, req: R) -> Result<(), ClientError> {
        let version = self.version_for::<R>()?;
        let frame = RequestFrame::encode_no_response(self.driver.header(), &req, version)?;
        self.driver.send_no_response(frame).await
    }

    /// Whether the connection has ended (failed, or closed by the broker). A closed connection
    /// fails every request at once; connect again.
    pub fn is_closed(&self) -> bool {
        self.driver.is_closed()
    }
}

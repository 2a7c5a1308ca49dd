//! One SASL exchange on a connection, sans-io: SaslHandshake v1 naming the mechanism (KIP-152),
//! then SaslAuthenticate round trips carrying the messages of a [`SaslSession`] until it is
//! done.
//!
//! The same exchange authenticates a new connection (inside the [`Handshake`], after
//! ApiVersions) and re-authenticates an established one (KIP-368, driven by
//! [`Reauthenticator`]): each run makes a fresh session from the [`SaslConfig`], so SCRAM picks
//! a new nonce and OAUTHBEARER asks its token provider for the current token.
//!
//! [`Handshake`]: super::handshake::Handshake
//! [`Reauthenticator`]: super::reauth::Reauthenticator

use std::time::Duration;

use bytes::Bytes;
use gregor_protocol::messages::{
    SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest, SaslHandshakeResponse,
};
use gregor_protocol::{ApiKey, ErrorCode, VersionRange};
use tracing::{debug, warn};

use super::decode::decode_response;
use super::handshake::{HandshakeRequest, malformed, out_of_order};
use super::versions::ApiVersionTable;
use crate::error::ClientError;
use crate::sasl::{SaslConfig, SaslError, SaslMechanism, SaslSession, SaslStep};

/// The SaslHandshake versions this client uses: v1, where tokens travel in SaslAuthenticate
/// requests (v0's raw tokens are not supported).
pub const SASL_HANDSHAKE_VERSIONS: VersionRange = VersionRange::new(1, 1);

/// The versions a SASL exchange speaks with one broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SaslVersions {
    /// The SaslHandshake version (always 1).
    pub handshake: i16,
    /// The SaslAuthenticate version: the highest both sides speak (v1+ carries the session
    /// lifetime).
    pub authenticate: i16,
}

impl SaslVersions {
    /// The versions to use with a broker that advertised `table`; fails with
    /// [`ClientError::UnsupportedApi`] if it lacks SaslHandshake v1 or SaslAuthenticate.
    pub fn choose(table: &ApiVersionTable) -> Result<SaslVersions, ClientError> {
        let handshake = table.choose_within(ApiKey::SaslHandshake, SASL_HANDSHAKE_VERSIONS)?;
        let authenticate = table.choose::<SaslAuthenticateRequest>()?;
        Ok(SaslVersions {
            handshake,
            authenticate,
        })
    }
}

/// What the exchange does next.
#[derive(Debug)]
#[non_exhaustive]
pub enum SaslExchangeStep {
    /// Send this request and feed its answer to [`SaslExchange::on_response`].
    Send(HandshakeRequest),
    /// The broker accepted the client, and the client the broker.
    Authenticated {
        /// How long the broker keeps this session before the client must re-authenticate
        /// (KIP-368); `None` when it sets no limit (or SaslAuthenticate is v0).
        session_lifetime: Option<Duration>,
    },
}

#[derive(Debug)]
enum State {
    NotStarted,
    Handshake,
    Authenticate,
    /// The mechanism failed and sent its last message; its error is returned whatever the
    /// broker answers.
    Failing(SaslError),
    Finished,
}

/// One SASL exchange: SaslHandshake, then SaslAuthenticate rounds.
#[derive(Debug)]
pub struct SaslExchange {
    session: SaslSession,
    versions: SaslVersions,
    state: State,
    session_lifetime: Option<Duration>,
}

impl SaslExchange {
    /// An exchange with a new session of `config`, in `versions`.
    pub fn new(config: &SaslConfig, versions: SaslVersions) -> SaslExchange {
        SaslExchange {
            session: config.session(),
            versions,
            state: State::NotStarted,
            session_lifetime: None,
        }
    }

    /// The mechanism this exchange authenticates with.
    pub fn mechanism(&self) -> SaslMechanism {
        self.session.mechanism()
    }

    /// The first request: SaslHandshake naming the mechanism.
    pub fn start(&mut self) -> Result<HandshakeRequest, ClientError> {
        if !matches!(self.state, State::NotStarted) {
            return Err(out_of_order("SASL exchange started twice"));
        }
        self.state = State::Handshake;
        let request = SaslHandshakeRequest {
            mechanism: self.mechanism().name().to_owned(),
        };
        Ok(HandshakeRequest::SaslHandshake(
            request,
            self.versions.handshake,
        ))
    }

    /// Takes the body of the answer to the last request.
    pub fn on_response(&mut self, body: Bytes) -> Result<SaslExchangeStep, ClientError> {
        match std::mem::replace(&mut self.state, State::Finished) {
            State::Handshake => self.on_handshake(body),
            State::Authenticate => self.on_authenticate(body),
            State::Failing(error) => Err(ClientError::Sasl(error)),
            State::NotStarted | State::Finished => {
                Err(out_of_order("response outside the SASL exchange"))
            }
        }
    }

    fn on_handshake(&mut self, body: Bytes) -> Result<SaslExchangeStep, ClientError> {
        let response = decode_response::<SaslHandshakeResponse>(body, self.versions.handshake)
            .map_err(|e| malformed(ApiKey::SaslHandshake, e))?;
        let mechanism = self.mechanism();
        let code = ErrorCode::from_code(response.error_code);
        if code.is_err() {
            return Err(ClientError::SaslMechanismRejected {
                mechanism,
                code,
                enabled: response.mechanisms,
            });
        }
        let initial = self.session.initial_response()?;
        debug!(%mechanism, version = self.versions.authenticate, "SASL mechanism accepted");
        self.state = State::Authenticate;
        Ok(SaslExchangeStep::Send(self.authenticate(initial)))
    }

    fn on_authenticate(&mut self, body: Bytes) -> Result<SaslExchangeStep, ClientError> {
        let response =
            decode_response::<SaslAuthenticateResponse>(body, self.versions.authenticate)
                .map_err(|e| malformed(ApiKey::SaslAuthenticate, e))?;
        let code = ErrorCode::from_code(response.error_code);
        if code.is_err() {
            return Err(ClientError::SaslAuthentication {
                code,
                message: response.error_message,
            });
        }
        self.session_lifetime = u64::try_from(response.session_lifetime_ms)
            .ok()
            .filter(|&ms| ms > 0)
            .map(Duration::from_millis);
        match self.session.on_challenge(&response.auth_bytes)? {
            SaslStep::Respond(message) => {
                self.state = State::Authenticate;
                Ok(SaslExchangeStep::Send(self.authenticate(message)))
            }
            SaslStep::Done => {
                debug!("SASL authentication complete");
                Ok(SaslExchangeStep::Authenticated {
                    session_lifetime: self.session_lifetime,
                })
            }
            SaslStep::Fail { response, error } => {
                warn!(%error, "SASL mechanism failed; sending its closing message");
                self.state = State::Failing(error);
                Ok(SaslExchangeStep::Send(self.authenticate(response)))
            }
        }
    }

    fn authenticate(&self, auth_bytes: Bytes) -> HandshakeRequest {
        let request = SaslAuthenticateRequest {
            auth_bytes,
            ..SaslAuthenticateRequest::default()
        };
        HandshakeRequest::SaslAuthenticate(request, self.versions.authenticate)
    }
}

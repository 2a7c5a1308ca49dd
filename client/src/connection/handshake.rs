//! The connection handshake: ApiVersions negotiation, then SASL authentication if configured.
//!
//! [`Handshake`] is a sans-io state machine: [`Handshake::start`] gives the first request,
//! [`Handshake::on_response`] takes the body of each answer and gives the next request or the
//! outcome. A private `run` function is the thin async shell that carries those requests over a driver.
//!
//! Steps:
//! 1. ApiVersions at our newest version (with `client_software_name` and
//!    `client_software_version`, KIP-511). A broker that does not know that version answers
//!    `UNSUPPORTED_VERSION` in the v0 format and lists the ApiVersions versions it does speak;
//!    the handshake retries once with the highest common one. A broker that closes the
//!    connection instead produces [`ClientError::ApiVersionsRejected`]: the caller retries with
//!    v0 on a new connection.
//! 2. If SASL is configured: the [`SaslExchange`]: SaslHandshake v1 naming the mechanism
//!    (KIP-152), then SaslAuthenticate round trips carrying the messages of a
//!    [`SaslSession`](crate::sasl::SaslSession) until it is done. The broker's session lifetime
//!    (KIP-368) comes back in [`Negotiated`]; the connection re-authenticates before it ends
//!    (see [`reauth`](super::reauth)).

use std::time::Duration;

use bytes::Bytes;
use gregor_protocol::messages::{
    ApiVersionsRequest, ApiVersionsResponse, SaslAuthenticateRequest, SaslHandshakeRequest,
};
use gregor_protocol::{ApiKey, DecodeError, ErrorCode, Message};
use tokio::time::Instant;
use tracing::debug;

use super::core::{HeaderTemplate, RequestFrame};
use super::decode::decode_response;
use super::driver::DriverHandle;
use super::sasl_exchange::{SaslExchange, SaslExchangeStep, SaslVersions};
use super::versions::ApiVersionTable;
use crate::error::{ClientError, PoisonCause};
use crate::sasl::SaslConfig;

/// The name sent as `client_software_name` in ApiVersions v3+.
pub const CLIENT_SOFTWARE_NAME: &str = "gregor";
/// The version sent as `client_software_version` in ApiVersions v3+ (this crate's version).
pub const CLIENT_SOFTWARE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// A request of the handshake, with the version to send it in.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum HandshakeRequest {
    /// ApiVersions.
    ApiVersions(ApiVersionsRequest, i16),
    /// SaslHandshake.
    SaslHandshake(SaslHandshakeRequest, i16),
    /// SaslAuthenticate.
    SaslAuthenticate(SaslAuthenticateRequest, i16),
}

impl HandshakeRequest {
    /// The request's API.
    pub fn api(&self) -> ApiKey {
        match self {
            HandshakeRequest::ApiVersions(..) => ApiKey::ApiVersions,
            HandshakeRequest::SaslHandshake(..) => ApiKey::SaslHandshake,
            HandshakeRequest::SaslAuthenticate(..) => ApiKey::SaslAuthenticate,
        }
    }

    /// The version to send it in.
    pub fn version(&self) -> i16 {
        match self {
            HandshakeRequest::ApiVersions(_, v)
            | HandshakeRequest::SaslHandshake(_, v)
            | HandshakeRequest::SaslAuthenticate(_, v) => *v,
        }
    }

    /// The request framed for sending.
    pub fn frame(&self, header: &HeaderTemplate) -> Result<RequestFrame, ClientError> {
        match self {
            HandshakeRequest::ApiVersions(r, v) => RequestFrame::encode(header, r, *v),
            HandshakeRequest::SaslHandshake(r, v) => RequestFrame::encode(header, r, *v),
            HandshakeRequest::SaslAuthenticate(r, v) => RequestFrame::encode(header, r, *v),
        }
    }
}

/// What the handshake does next.
#[derive(Debug)]
#[non_exhaustive]
pub enum HandshakeStep {
    /// Send this request and feed its answer to [`Handshake::on_response`].
    Send(HandshakeRequest),
    /// The handshake is complete.
    Done(Negotiated),
}

/// The outcome of a successful handshake.
#[derive(Debug, Clone)]
pub struct Negotiated {
    /// The broker's API versions.
    pub versions: ApiVersionTable,
    /// How long the broker keeps the SASL session before the client must re-authenticate
    /// (KIP-368); `None` without SASL or when the broker sets no limit.
    pub sasl_session_lifetime: Option<Duration>,
}

#[derive(Debug)]
enum State {
    NotStarted { api_versions_version: i16 },
    ApiVersions { version: i16, retried: bool },
    Sasl(SaslExchange),
    Finished,
}

/// The handshake state machine.
#[derive(Debug)]
pub struct Handshake {
    state: State,
    sasl: Option<SaslConfig>,
    versions: Option<ApiVersionTable>,
}

impl Handshake {
    /// A handshake that starts with ApiVersions at `api_versions_version` and then
    /// authenticates with `sasl`, if given.
    pub fn new(sasl: Option<&SaslConfig>, api_versions_version: i16) -> Handshake {
        Handshake {
            state: State::NotStarted {
                api_versions_version,
            },
            sasl: sasl.cloned(),
            versions: None,
        }
    }

    /// The first request: ApiVersions.
    pub fn start(&mut self) -> Result<HandshakeRequest, ClientError> {
        let State::NotStarted {
            api_versions_version: version,
        } = self.state
        else {
            return Err(out_of_order("handshake started twice"));
        };
        self.state = State::ApiVersions {
            version,
            retried: false,
        };
        Ok(api_versions_request(version))
    }

    /// Takes the body of the answer to the last request.
    pub fn on_response(&mut self, body: Bytes) -> Result<HandshakeStep, ClientError> {
        let state = std::mem::replace(&mut self.state, State::Finished);
        match state {
            State::ApiVersions { version, retried } => self.on_api_versions(body, version, retried),
            State::Sasl(mut exchange) => match exchange.on_response(body)? {
                SaslExchangeStep::Send(request) => {
                    self.state = State::Sasl(exchange);
                    Ok(HandshakeStep::Send(request))
                }
                SaslExchangeStep::Authenticated { session_lifetime } => {
                    self.finish(session_lifetime)
                }
            },
            State::NotStarted { .. } | State::Finished => {
                Err(out_of_order("response outside the handshake"))
            }
        }
    }

    /// Maps a failure of the connection during the handshake: the broker closing the
    /// connection in answer to ApiVersions above v0 becomes [`ClientError::ApiVersionsRejected`].
    pub fn on_connection_error(&mut self, error: ClientError) -> ClientError {
        let state = std::mem::replace(&mut self.state, State::Finished);
        match (state, &error) {
            (
                State::ApiVersions { version, .. },
                ClientError::Disconnected | ClientError::Io { .. },
            ) if version > 0 => ClientError::ApiVersionsRejected { version },
            _ => error,
        }
    }

    fn on_api_versions(
        &mut self,
        body: Bytes,
        version: i16,
        retried: bool,
    ) -> Result<HandshakeStep, ClientError> {
        // Every version starts with the error code; a broker that does not know `version`
        // answers UNSUPPORTED_VERSION in the v0 format.
        let Some(raw) = body.first_chunk::<2>() else {
            return Err(malformed(
                ApiKey::ApiVersions,
                DecodeError::Truncated {
                    context: ApiVersionsResponse::NAME,
                },
            ));
        };
        let code = ErrorCode::from_code(i16::from_be_bytes(*raw));
        if code == ErrorCode::UnsupportedVersion {
            let ours = ApiVersionsRequest::VERSIONS;
            // Strict here: a refusal in another format must not pass for a v0 one.
            let fallback = match ApiVersionsResponse::decode_exact(body, 0) {
                Ok(refusal) => ApiVersionTable::from_response(&refusal)
                    .choose_within(ApiKey::ApiVersions, ours)
                    // A broker that lists nothing for ApiVersions speaks at least v0.
                    .unwrap_or(0),
                // The refusal should be in the v0 format; some brokers (librdkafka's mock
                // cluster) write it otherwise. v0 is the version every broker speaks.
                Err(e) => {
                    debug!(error = %e, "undecodable ApiVersions refusal; falling back to v0");
                    0
                }
            };
            if retried || fallback >= version {
                return Err(ClientError::Broker {
                    api: ApiKey::ApiVersions,
                    code,
                });
            }
            debug!(
                refused = version,
                retry = fallback,
                "broker refused ApiVersions version"
            );
            self.state = State::ApiVersions {
                version: fallback,
                retried: true,
            };
            return Ok(HandshakeStep::Send(api_versions_request(fallback)));
        }
        let response = decode_response::<ApiVersionsResponse>(body, version)
            .map_err(|e| malformed(ApiKey::ApiVersions, e))?;
        let code = ErrorCode::from_code(response.error_code);
        if code.is_err() {
            return Err(ClientError::Broker {
                api: ApiKey::ApiVersions,
                code,
            });
        }
        let table = ApiVersionTable::from_response(&response);
        debug!(version, apis = table.len(), "negotiated API versions");
        let exchange = match &self.sasl {
            None => None,
            Some(config) => Some(SaslExchange::new(config, SaslVersions::choose(&table)?)),
        };
        self.versions = Some(table);
        match exchange {
            Some(mut exchange) => {
                let request = exchange.start()?;
                self.state = State::Sasl(exchange);
                Ok(HandshakeStep::Send(request))
            }
            None => self.finish(None),
        }
    }

    fn finish(
        &mut self,
        sasl_session_lifetime: Option<Duration>,
    ) -> Result<HandshakeStep, ClientError> {
        self.state = State::Finished;
        let versions = self
            .versions
            .take()
            .ok_or_else(|| out_of_order("handshake finished before ApiVersions"))?;
        Ok(HandshakeStep::Done(Negotiated {
            versions,
            sasl_session_lifetime,
        }))
    }
}

pub(super) fn out_of_order(context: &'static str) -> ClientError {
    ClientError::InvalidState { context }
}

fn api_versions_request(version: i16) -> HandshakeRequest {
    let request = if version >= 3 {
        ApiVersionsRequest {
            client_software_name: CLIENT_SOFTWARE_NAME.to_owned(),
            client_software_version: CLIENT_SOFTWARE_VERSION.to_owned(),
            ..ApiVersionsRequest::default()
        }
    } else {
        ApiVersionsRequest::default()
    };
    HandshakeRequest::ApiVersions(request, version)
}

/// Runs the handshake over a freshly spawned driver. Returns the outcome and when the last
/// request was sent (from which a SASL session lifetime counts).
pub(super) async fn run(
    driver: &DriverHandle,
    sasl: Option<&SaslConfig>,
    api_versions_version: i16,
) -> Result<(Negotiated, Instant), ClientError> {
    let mut handshake = Handshake::new(sasl, api_versions_version);
    let mut request = handshake.start()?;
    loop {
        let frame = request.frame(driver.header())?;
        let sent_at = Instant::now();
        let body = match driver.request(frame).await {
            Ok(body) => body,
            Err(error) => return Err(handshake.on_connection_error(error)),
        };
        match handshake.on_response(body)? {
            HandshakeStep::Send(next) => request = next,
            HandshakeStep::Done(negotiated) => return Ok((negotiated, sent_at)),
        }
    }
}

/// A handshake answer that did not decode: the connection is given up as poisoned (a
/// connection failure, so connecting again is worth it), naming the API.
pub(super) fn malformed(api: ApiKey, error: DecodeError) -> ClientError {
    ClientError::Poisoned(PoisonCause::MalformedBody(api, error))
}

#[cfg(test)]
#[path = "handshake_tests.rs"]
mod tests;

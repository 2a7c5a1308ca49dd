//! SASL authentication, sans-io.
//!
//! A [`SaslSession`] is a state machine for one authentication exchange. It does no I/O: the
//! network layer sends the mechanism's name ([`SaslMechanism::name`]) in a SaslHandshake
//! request, then wraps each message the session produces in a SaslAuthenticate request and feeds
//! each response's bytes back in:
//!
//! 1. [`SaslSession::initial_response`] gives the client's first message;
//! 2. [`SaslSession::on_challenge`] takes each server message and returns a [`SaslStep`]:
//!    [`Respond`](SaslStep::Respond) with the next client message, [`Done`](SaslStep::Done)
//!    when the client is satisfied, or [`Fail`](SaslStep::Fail) when the server rejected the
//!    exchange and expects one last message before it reports the failure.
//!
//! Mechanisms:
//! - `PLAIN` (RFC 4616): [`PlainConfig`]; one message, the password in clear (use TLS).
//! - `SCRAM-SHA-256`, `SCRAM-SHA-512` (RFC 5802, RFC 7677, KIP-84; delegation tokens KIP-48):
//!   [`ScramConfig`]; the password never crosses the wire and the server proves it knows it.
//! - `OAUTHBEARER` (RFC 7628, KIP-255, extensions KIP-342): [`OAuthBearerConfig`] with a
//!   [`TokenProvider`].
//!
//! A [`SaslConfig`] holds one of these; it is cheap to clone and makes a fresh session per
//! exchange: each new connection, and each re-authentication (KIP-368) of a connection whose
//! broker limits SASL sessions.

mod error;
pub mod oauthbearer;
pub mod plain;
pub mod scram;

use std::fmt;

use bytes::Bytes;

pub use error::{OAuthErrorStatus, SaslError, ScramServerError};
pub use oauthbearer::{OAuthBearerConfig, OAuthToken, SaslExtensions, TokenError, TokenProvider};
pub use plain::PlainConfig;
pub use scram::{NonceGenerator, RandomNonce, ScramConfig, ScramHash};

/// A SASL mechanism this client implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SaslMechanism {
    /// `PLAIN` (RFC 4616).
    Plain,
    /// `SCRAM-SHA-256` (RFC 7677).
    ScramSha256,
    /// `SCRAM-SHA-512` (the same exchange with SHA-512).
    ScramSha512,
    /// `OAUTHBEARER` (RFC 7628).
    OAuthBearer,
}

impl SaslMechanism {
    /// Every mechanism, in the order above.
    pub const ALL: [SaslMechanism; 4] = [
        SaslMechanism::Plain,
        SaslMechanism::ScramSha256,
        SaslMechanism::ScramSha512,
        SaslMechanism::OAuthBearer,
    ];

    /// The name sent in SaslHandshake and listed in the broker's `enabled_mechanisms`.
    pub const fn name(self) -> &'static str {
        match self {
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::ScramSha256 => "SCRAM-SHA-256",
            SaslMechanism::ScramSha512 => "SCRAM-SHA-512",
            SaslMechanism::OAuthBearer => "OAUTHBEARER",
        }
    }

    /// The mechanism with this name (SASL names are upper case and compared exactly).
    pub fn from_name(name: &str) -> Option<SaslMechanism> {
        SaslMechanism::ALL.into_iter().find(|m| m.name() == name)
    }
}

impl fmt::Display for SaslMechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What the client does after a server message.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum SaslStep {
    /// Send these bytes in the next SaslAuthenticate request.
    Respond(Bytes),
    /// The exchange is complete on the client's side: the server is authenticated as far as the
    /// mechanism allows (SCRAM verified the server signature).
    Done,
    /// The server rejected the exchange (an OAUTHBEARER error). Send `response`, which the
    /// mechanism requires to close the exchange, then fail with `error` whatever the server
    /// answers. The session is finished.
    Fail {
        /// The last client message.
        response: Bytes,
        /// Why the exchange failed.
        error: SaslError,
    },
}

/// A configured mechanism: credentials and options, from which each connection makes its
/// [`SaslSession`]. Cloning is cheap (strings and `Arc`s).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum SaslConfig {
    /// `PLAIN`.
    Plain(PlainConfig),
    /// `SCRAM-SHA-256` or `SCRAM-SHA-512`.
    Scram(ScramConfig),
    /// `OAUTHBEARER`.
    OAuthBearer(OAuthBearerConfig),
}

impl SaslConfig {
    /// The mechanism this configuration uses.
    pub fn mechanism(&self) -> SaslMechanism {
        match self {
            SaslConfig::Plain(_) => SaslMechanism::Plain,
            SaslConfig::Scram(c) => c.hash().mechanism(),
            SaslConfig::OAuthBearer(_) => SaslMechanism::OAuthBearer,
        }
    }

    /// A new session for one authentication exchange (a first authentication or a
    /// re-authentication).
    pub fn session(&self) -> SaslSession {
        SaslSession::new(self.clone())
    }
}

impl From<PlainConfig> for SaslConfig {
    fn from(c: PlainConfig) -> Self {
        SaslConfig::Plain(c)
    }
}

impl From<ScramConfig> for SaslConfig {
    fn from(c: ScramConfig) -> Self {
        SaslConfig::Scram(c)
    }
}

impl From<OAuthBearerConfig> for SaslConfig {
    fn from(c: OAuthBearerConfig) -> Self {
        SaslConfig::OAuthBearer(c)
    }
}

/// The client side of one SASL exchange.
///
/// Call [`initial_response`](SaslSession::initial_response) once, then
/// [`on_challenge`](SaslSession::on_challenge) with each server message until it returns
/// [`SaslStep::Done`] (or [`SaslStep::Fail`], or an error). Any error ends the session.
#[derive(Debug)]
pub struct SaslSession {
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    Plain(plain::PlainClient),
    Scram(scram::ScramClient),
    OAuthBearer(oauthbearer::OAuthBearerClient),
}

impl SaslSession {
    /// A session for `config` (anything convertible into a [`SaslConfig`]).
    pub fn new(config: impl Into<SaslConfig>) -> SaslSession {
        let inner = match config.into() {
            SaslConfig::Plain(c) => Inner::Plain(plain::PlainClient::new(c)),
            SaslConfig::Scram(c) => Inner::Scram(scram::ScramClient::new(c)),
            SaslConfig::OAuthBearer(c) => {
                Inner::OAuthBearer(oauthbearer::OAuthBearerClient::new(c))
            }
        };
        SaslSession { inner }
    }

    /// The mechanism of this session.
    pub fn mechanism(&self) -> SaslMechanism {
        match &self.inner {
            Inner::Plain(_) => SaslMechanism::Plain,
            Inner::Scram(c) => c.mechanism(),
            Inner::OAuthBearer(_) => SaslMechanism::OAuthBearer,
        }
    }

    /// The client's first message (sent in the first SaslAuthenticate request).
    pub fn initial_response(&mut self) -> Result<Bytes, SaslError> {
        match &mut self.inner {
            Inner::Plain(c) => c.initial_response(),
            Inner::Scram(c) => c.initial_response(),
            Inner::OAuthBearer(c) => c.initial_response(),
        }
    }

    /// Takes a server message (the `auth_bytes` of a successful SaslAuthenticate response) and
    /// says what to do next.
    pub fn on_challenge(&mut self, server: &[u8]) -> Result<SaslStep, SaslError> {
        match &mut self.inner {
            Inner::Plain(c) => c.on_challenge(server),
            Inner::Scram(c) => c.on_challenge(server),
            Inner::OAuthBearer(c) => c.on_challenge(server),
        }
    }

    /// Whether the exchange completed successfully ([`SaslStep::Done`] was returned).
    pub fn is_done(&self) -> bool {
        match &self.inner {
            Inner::Plain(c) => c.is_done(),
            Inner::Scram(c) => c.is_done(),
            Inner::OAuthBearer(c) => c.is_done(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mechanism_names_round_trip() {
        for m in SaslMechanism::ALL {
            assert_eq!(SaslMechanism::from_name(m.name()), Some(m));
            assert_eq!(m.to_string(), m.name());
        }
        assert_eq!(SaslMechanism::from_name("plain"), None);
        assert_eq!(SaslMechanism::from_name("GSSAPI"), None);
    }
}

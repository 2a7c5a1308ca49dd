//! SASL on the mock's listeners: PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512, server side.
//!
//! With [`MockClusterBuilder::sasl`](super::MockClusterBuilder::sasl) every listener
//! authenticates its connections the way Kafka's `SaslServerAuthenticator` does, before any
//! request reaches the request handlers (and the interception rules):
//! - ApiVersions is answered at any time;
//! - SaslHandshake (v0 or v1) picks the mechanism; an unknown or disabled one is answered with
//!   `UNSUPPORTED_SASL_MECHANISM` and the enabled list, then the connection is closed;
//! - SaslAuthenticate (v0-2) carries the mechanism's messages; a wrong password or user is
//!   answered with `SASL_AUTHENTICATION_FAILED` and Kafka's message for the mechanism
//!   ([`failure_message`]), then the connection is closed;
//! - any other request before authentication closes the connection without an answer.
//!
//! After authentication the connection is served like a plaintext one (a further SaslHandshake
//! gets `ILLEGAL_SASL_STATE` from the handlers, as from Kafka's request handler). The raw token
//! framing of SaslHandshake v0 is not supported: tokens must come in SaslAuthenticate requests
//! (every client since Kafka 1.0 sends them so when the broker lists SaslAuthenticate).
//! Sessions never expire (`session_lifetime_ms` 0, no re-authentication).

mod scram;

use std::collections::HashMap;

use gregor_protocol::ErrorCode;
use gregor_protocol::messages::{
    SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest, SaslHandshakeResponse,
};

use self::scram::{ScramHash, ScramServer};

/// A SASL mechanism the mock can serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SaslMechanism {
    /// `PLAIN` (RFC 4616).
    Plain,
    /// `SCRAM-SHA-256` (RFC 7677).
    ScramSha256,
    /// `SCRAM-SHA-512`.
    ScramSha512,
}

impl SaslMechanism {
    /// Every mechanism the mock serves.
    pub const ALL: [SaslMechanism; 3] = [
        SaslMechanism::Plain,
        SaslMechanism::ScramSha256,
        SaslMechanism::ScramSha512,
    ];

    /// The mechanism's name on the wire.
    pub const fn name(self) -> &'static str {
        match self {
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::ScramSha256 => "SCRAM-SHA-256",
            SaslMechanism::ScramSha512 => "SCRAM-SHA-512",
        }
    }

    fn from_name(name: &str) -> Option<SaslMechanism> {
        Self::ALL.into_iter().find(|m| m.name() == name)
    }
}

/// The SASL settings of a mock cluster's listeners: the enabled mechanisms and the users.
#[derive(Debug, Clone, Default)]
pub struct MockSasl {
    mechanisms: Vec<SaslMechanism>,
    users: HashMap<String, String>,
}

impl MockSasl {
    /// SASL with `mechanisms` enabled and no users yet.
    pub fn new(mechanisms: impl IntoIterator<Item = SaslMechanism>) -> MockSasl {
        MockSasl {
            mechanisms: mechanisms.into_iter().collect(),
            users: HashMap::new(),
        }
    }

    /// Adds (or replaces) a user; the password serves every enabled mechanism.
    pub fn user(mut self, name: impl Into<String>, password: impl Into<String>) -> MockSasl {
        self.users.insert(name.into(), password.into());
        self
    }

    /// The enabled mechanisms.
    pub fn mechanisms(&self) -> &[SaslMechanism] {
        &self.mechanisms
    }

    fn enabled_names(&self) -> Vec<String> {
        self.mechanisms
            .iter()
            .map(|m| m.name().to_owned())
            .collect()
    }
}

/// Where a connection's authentication stands.
#[derive(Debug)]
enum Stage {
    /// Waiting for SaslHandshake.
    Handshake,
    /// The mechanism is chosen; waiting for its first message.
    Authenticate(SaslMechanism),
    /// SCRAM: the server-first message went out; waiting for the client-final one.
    ScramFinal(Box<ScramServer>),
    /// Authenticated.
    Done,
}

/// What to do after answering a SASL request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Then {
    /// Keep the connection.
    Continue,
    /// Close it once the answer is written.
    Close,
}

/// A connection's authentication, sans-io: requests in, responses out.
#[derive(Debug)]
pub(crate) struct Authenticator {
    config: std::sync::Arc<MockSasl>,
    stage: Stage,
}

impl Authenticator {
    /// A connection that has not authenticated yet.
    pub(crate) fn new(config: std::sync::Arc<MockSasl>) -> Authenticator {
        Authenticator {
            config,
            stage: Stage::Handshake,
        }
    }

    /// Whether the connection has authenticated.
    pub(crate) fn is_done(&self) -> bool {
        matches!(self.stage, Stage::Done)
    }

    /// Whether a SaslAuthenticate request is expected next.
    pub(crate) fn expects_authenticate(&self) -> bool {
        matches!(self.stage, Stage::Authenticate(_) | Stage::ScramFinal(_))
    }

    /// Answers a SaslHandshake.
    pub(crate) fn handshake(
        &mut self,
        req: &SaslHandshakeRequest,
    ) -> (SaslHandshakeResponse, Then) {
        let enabled = self.config.enabled_names();
        let chosen =
            SaslMechanism::from_name(&req.mechanism).filter(|m| self.config.mechanisms.contains(m));
        let (code, then) = match (&self.stage, chosen) {
            (Stage::Handshake, Some(m)) => {
                self.stage = Stage::Authenticate(m);
                (ErrorCode::None, Then::Continue)
            }
            (Stage::Handshake, None) => (ErrorCode::UnsupportedSaslMechanism, Then::Close),
            _ => (ErrorCode::IllegalSaslState, Then::Close),
        };
        let response = SaslHandshakeResponse {
            error_code: code.code(),
            mechanisms: enabled,
        };
        (response, then)
    }

    /// Answers a SaslAuthenticate.
    pub(crate) fn authenticate(
        &mut self,
        req: &SaslAuthenticateRequest,
    ) -> (SaslAuthenticateResponse, Then) {
        let stage = std::mem::replace(&mut self.stage, Stage::Handshake);
        let mechanism = match &stage {
            Stage::Authenticate(m) => Some(*m),
            Stage::ScramFinal(server) => Some(match server.hash() {
                ScramHash::Sha256 => SaslMechanism::ScramSha256,
                ScramHash::Sha512 => SaslMechanism::ScramSha512,
            }),
            Stage::Handshake | Stage::Done => None,
        };
        let users = &self.config.users;
        let password = |user: &str| users.get(user).map(String::as_str);
        let result = match stage {
            Stage::Authenticate(SaslMechanism::Plain) => {
                plain(&req.auth_bytes, password).map(|_user| {
                    self.stage = Stage::Done;
                    Vec::new()
                })
            }
            Stage::Authenticate(m) => {
                let hash = if m == SaslMechanism::ScramSha512 {
                    ScramHash::Sha512
                } else {
                    ScramHash::Sha256
                };
                let mut server = Box::new(ScramServer::new(hash, random(16), nonce()));
                server
                    .first(&req.auth_bytes, password)
                    .map(|(_, first)| {
                        self.stage = Stage::ScramFinal(server);
                        first
                    })
                    .map_err(|e| e.to_string())
            }
            Stage::ScramFinal(mut server) => match server.last(&req.auth_bytes) {
                Ok(last) => {
                    self.stage = Stage::Done;
                    Ok(last)
                }
                Err(e) => Err(e.to_string()),
            },
            Stage::Handshake | Stage::Done => {
                let response = SaslAuthenticateResponse {
                    error_code: ErrorCode::IllegalSaslState.code(),
                    error_message: Some("SaslAuthenticate before SaslHandshake".into()),
                    ..SaslAuthenticateResponse::default()
                };
                return (response, Then::Close);
            }
        };
        match result {
            Ok(auth_bytes) => (
                SaslAuthenticateResponse {
                    auth_bytes: auth_bytes.into(),
                    ..SaslAuthenticateResponse::default()
                },
                Then::Continue,
            ),
            Err(why) => {
                tracing::debug!(%why, "mock broker: SASL authentication failed");
                let response = SaslAuthenticateResponse {
                    error_code: ErrorCode::SaslAuthenticationFailed.code(),
                    error_message: mechanism.map(failure_message),
                    ..SaslAuthenticateResponse::default()
                };
                (response, Then::Close)
            }
        }
    }
}

/// The message Kafka's `SaslServerAuthenticator` sends with `SASL_AUTHENTICATION_FAILED`:
/// PLAIN's own ("Invalid username or password"), and for SCRAM, whose server fails with a
/// plain `SaslException` (a wrong password or an unknown user alike), the authenticator's
/// generic one naming the mechanism.
fn failure_message(mechanism: SaslMechanism) -> String {
    match mechanism {
        SaslMechanism::Plain => "Authentication failed: Invalid username or password".into(),
        scram => format!(
            "Authentication failed during authentication due to invalid credentials with SASL \
             mechanism {}",
            scram.name()
        ),
    }
}

/// Checks a PLAIN message (`authzid NUL user NUL password`); returns the user.
fn plain<'p>(
    message: &[u8],
    password: impl FnOnce(&str) -> Option<&'p str>,
) -> Result<String, String> {
    let text = std::str::from_utf8(message).map_err(|_| "PLAIN message is not UTF-8".to_owned())?;
    let mut parts = text.split('\0');
    let (Some(authzid), Some(user), Some(given), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("PLAIN message is not authzid NUL user NUL password".into());
    };
    if !authzid.is_empty() && authzid != user {
        return Err("authorization id is not the user".into());
    }
    match password(user) {
        Some(p) if p == given && !user.is_empty() => Ok(user.to_owned()),
        _ => Err("invalid username or password".into()),
    }
}

/// `n` random bytes (a fixed pattern if the OS has no entropy: a test mock, not a real server).
fn random(n: usize) -> Vec<u8> {
    let mut out = vec![0; n];
    if getrandom::fill(&mut out).is_err() {
        out.iter_mut().enumerate().for_each(|(i, b)| *b = i as u8);
    }
    out
}

/// The server's part of a SCRAM nonce: base64 (printable, no comma).
fn nonce() -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(random(18))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn authenticator(mechanisms: &[SaslMechanism]) -> Authenticator {
        let config = MockSasl::new(mechanisms.iter().copied()).user("alice", "secret");
        Authenticator::new(std::sync::Arc::new(config))
    }

    fn handshake(a: &mut Authenticator, mechanism: &str) -> (i16, Vec<String>, Then) {
        let (r, then) = a.handshake(&SaslHandshakeRequest {
            mechanism: mechanism.into(),
        });
        (r.error_code, r.mechanisms, then)
    }

    fn authenticate(a: &mut Authenticator, bytes: &[u8]) -> (i16, Then) {
        let (r, then) = a.authenticate(&SaslAuthenticateRequest {
            auth_bytes: bytes.to_vec().into(),
            ..SaslAuthenticateRequest::default()
        });
        (r.error_code, then)
    }

    #[test]
    fn plain_accepts_the_password_and_refuses_others() {
        let mut a = authenticator(&[SaslMechanism::Plain]);
        assert_eq!(
            handshake(&mut a, "PLAIN"),
            (0, vec!["PLAIN".to_owned()], Then::Continue)
        );
        assert_eq!(
            authenticate(&mut a, b"\0alice\0secret"),
            (0, Then::Continue)
        );
        assert!(a.is_done());

        let mut a = authenticator(&[SaslMechanism::Plain]);
        handshake(&mut a, "PLAIN");
        assert_eq!(
            authenticate(&mut a, b"\0alice\0wrong"),
            (ErrorCode::SaslAuthenticationFailed.code(), Then::Close)
        );
        assert!(!a.is_done());
    }

    #[test]
    fn a_disabled_mechanism_is_refused_with_the_enabled_list() {
        let mut a = authenticator(&[SaslMechanism::ScramSha512]);
        assert_eq!(
            handshake(&mut a, "PLAIN"),
            (
                ErrorCode::UnsupportedSaslMechanism.code(),
                vec!["SCRAM-SHA-512".to_owned()],
                Then::Close
            )
        );
    }

    #[test]
    fn authenticate_before_handshake_is_an_illegal_state() {
        let mut a = authenticator(&[SaslMechanism::Plain]);
        assert_eq!(
            authenticate(&mut a, b"\0alice\0secret"),
            (ErrorCode::IllegalSaslState.code(), Then::Close)
        );
    }

    #[test]
    fn plain_messages_are_checked() {
        let alice = |u: &str| (u == "alice").then_some("secret");
        assert_eq!(plain(b"alice\0alice\0secret", alice).unwrap(), "alice");
        assert!(plain(b"bob\0alice\0secret", alice).is_err());
        assert!(plain(b"\0alice", alice).is_err());
        assert!(plain(b"\0bob\0secret", alice).is_err());
    }
}

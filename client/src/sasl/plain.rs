//! `PLAIN` (RFC 4616): one client message, `[authzid] NUL authcid NUL passwd`.
//!
//! The password crosses the wire in clear; use it only over TLS.

use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};

use super::{SaslError, SaslStep};

/// Credentials for `PLAIN`.
#[derive(Clone)]
pub struct PlainConfig {
    authzid: Option<String>,
    username: String,
    password: String,
}

impl PlainConfig {
    /// The authentication identity (`authcid`) and its password.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> PlainConfig {
        PlainConfig {
            authzid: None,
            username: username.into(),
            password: password.into(),
        }
    }

    /// Asks to act as another identity (`authzid`); an empty string means none.
    pub fn with_authzid(mut self, authzid: impl Into<String>) -> PlainConfig {
        let authzid = authzid.into();
        self.authzid = (!authzid.is_empty()).then_some(authzid);
        self
    }

    /// The authentication identity.
    pub fn username(&self) -> &str {
        &self.username
    }

    /// The authorization identity, if any.
    pub fn authzid(&self) -> Option<&str> {
        self.authzid.as_deref()
    }

    /// The client message: `[authzid] NUL authcid NUL passwd`. Fails if the user name or
    /// password is empty or any part contains NUL (RFC 4616 §2: each is `1*SAFE`).
    pub fn message(&self) -> Result<Bytes, SaslError> {
        let authzid = self.authzid.as_deref().unwrap_or("");
        if authzid.contains('\0') {
            return Err(SaslError::InvalidInput {
                context: "PLAIN authzid contains NUL",
            });
        }
        if self.username.is_empty() || self.username.contains('\0') {
            return Err(SaslError::InvalidInput {
                context: "PLAIN username is empty or contains NUL",
            });
        }
        if self.password.is_empty() || self.password.contains('\0') {
            return Err(SaslError::InvalidInput {
                context: "PLAIN password is empty or contains NUL",
            });
        }
        let mut out =
            BytesMut::with_capacity(authzid.len() + self.username.len() + self.password.len() + 2);
        out.put_slice(authzid.as_bytes());
        out.put_u8(0);
        out.put_slice(self.username.as_bytes());
        out.put_u8(0);
        out.put_slice(self.password.as_bytes());
        Ok(out.freeze())
    }
}

impl fmt::Debug for PlainConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlainConfig")
            .field("authzid", &self.authzid)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Initial,
    AwaitingOutcome,
    Done,
    Finished,
}

/// The `PLAIN` state machine behind [`SaslSession`](super::SaslSession).
#[derive(Debug)]
pub(crate) struct PlainClient {
    config: PlainConfig,
    state: State,
}

impl PlainClient {
    pub(crate) fn new(config: PlainConfig) -> PlainClient {
        PlainClient {
            config,
            state: State::Initial,
        }
    }

    pub(crate) fn initial_response(&mut self) -> Result<Bytes, SaslError> {
        if self.state != State::Initial {
            return Err(SaslError::InvalidState {
                context: "initial response already produced",
            });
        }
        self.state = State::Finished;
        let message = self.config.message()?;
        self.state = State::AwaitingOutcome;
        Ok(message)
    }

    /// The broker answers a good PLAIN message with empty bytes (a bad one with an error code,
    /// which the network layer sees before calling this).
    pub(crate) fn on_challenge(&mut self, server: &[u8]) -> Result<SaslStep, SaslError> {
        if self.state != State::AwaitingOutcome {
            return Err(SaslError::InvalidState {
                context: "PLAIN challenge outside the exchange",
            });
        }
        self.state = State::Finished;
        if !server.is_empty() {
            return Err(SaslError::UnexpectedServerData {
                context: "PLAIN server response must be empty",
            });
        }
        self.state = State::Done;
        Ok(SaslStep::Done)
    }

    pub(crate) fn is_done(&self) -> bool {
        self.state == State::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_layout() {
        let c = PlainConfig::new("alice", "secret");
        assert_eq!(&c.message().unwrap()[..], b"\0alice\0secret");
        let c = c.with_authzid("bob");
        assert_eq!(&c.message().unwrap()[..], b"bob\0alice\0secret");
    }

    #[test]
    fn debug_redacts_password() {
        let s = format!("{:?}", PlainConfig::new("alice", "hunter2"));
        assert!(!s.contains("hunter2"), "{s}");
    }

    #[test]
    fn rejects_nul_and_empty() {
        for c in [
            PlainConfig::new("", "p"),
            PlainConfig::new("u", ""),
            PlainConfig::new("u\0x", "p"),
            PlainConfig::new("u", "p\0"),
            PlainConfig::new("u", "p").with_authzid("a\0"),
        ] {
            assert!(matches!(c.message(), Err(SaslError::InvalidInput { .. })));
        }
    }
}

//! Typed errors of the SASL mechanisms.
//!
//! Context is carried as `&'static str` (what was being read or checked), never as a formatted
//! string; values the server sends are mapped onto enums ([`ScramServerError`],
//! [`OAuthErrorStatus`]) rather than copied into the error.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

/// A failure of a SASL exchange: a bad message from the server, a failed check, an unusable
/// value from the user, or a call out of order.
///
/// Once a [`SaslSession`](super::SaslSession) has returned an error it is finished: every later
/// call returns [`SaslError::InvalidState`].
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum SaslError {
    /// A method was called in a state where it makes no sense (a second initial response, a
    /// challenge before the initial response, anything after the exchange ended).
    #[error("SASL session used out of order: {context}")]
    InvalidState {
        /// What was attempted.
        context: &'static str,
    },
    /// A value supplied by the user (user name, password, token, extension, nonce) cannot be
    /// put into a SASL message.
    #[error("invalid SASL input: {context}")]
    InvalidInput {
        /// Which value, and why.
        context: &'static str,
    },
    /// A message from the server does not follow the mechanism's grammar.
    #[error("malformed SASL server message: {context}")]
    Malformed {
        /// What was wrong.
        context: &'static str,
    },
    /// A base64 field of a server message does not decode.
    #[error("invalid base64 in SASL server message: {context}")]
    InvalidBase64 {
        /// The field.
        context: &'static str,
    },
    /// The server sent data where the mechanism expects none.
    #[error("unexpected SASL server data: {context}")]
    UnexpectedServerData {
        /// Where.
        context: &'static str,
    },
    /// SCRAM: the server-first-message starts with the reserved mandatory-extension attribute
    /// `m=`, which no client understands (RFC 5802 §5.1).
    #[error("SCRAM server requires an unsupported mandatory extension (m=)")]
    MandatoryExtension,
    /// SCRAM: the server nonce does not start with the client nonce, or adds nothing to it.
    #[error("SCRAM server nonce does not extend the client nonce")]
    NonceMismatch,
    /// SCRAM: the iteration count is below the minimum Kafka accepts (4096).
    #[error("SCRAM iteration count {iterations} is below the minimum {min}")]
    IterationCountTooLow {
        /// The count the server sent.
        iterations: u64,
        /// The minimum.
        min: u32,
    },
    /// SCRAM: the iteration count is above the configured maximum (a guard against a server
    /// making the client burn CPU).
    #[error("SCRAM iteration count {iterations} is above the maximum {max}")]
    IterationCountTooHigh {
        /// The count the server sent (saturated at `u64::MAX`).
        iterations: u64,
        /// The configured maximum.
        max: u32,
    },
    /// SCRAM: the server signature in the server-final-message is wrong; the server does not
    /// know the password and must not be trusted.
    #[error("SCRAM server signature does not verify")]
    ServerSignatureMismatch,
    /// SCRAM: the server ended the exchange with `e=<error>`.
    #[error("SCRAM server error: {0}")]
    ScramServer(ScramServerError),
    /// OAUTHBEARER: the server rejected the token (RFC 7628 §3.2.2).
    #[error("OAUTHBEARER server error: {status}")]
    OAuthServer {
        /// The `status` of the server's JSON error.
        status: OAuthErrorStatus,
    },
    /// OAUTHBEARER: the token provider failed.
    #[error("OAUTHBEARER token provider failed")]
    TokenProvider(#[source] Arc<dyn StdError + Send + Sync>),
    /// The operating system's random source failed while making a nonce.
    #[error("random source failed while generating a nonce")]
    Entropy(#[source] getrandom::Error),
    /// A cryptographic primitive refused its input (not expected to happen: HMAC takes keys of
    /// any length).
    #[error("cryptographic failure: {context}")]
    Crypto {
        /// The primitive.
        context: &'static str,
    },
}

/// The `server-error-value` of a SCRAM `e=` attribute (RFC 5802 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ScramServerError {
    /// `invalid-encoding`
    InvalidEncoding,
    /// `extensions-not-supported`
    ExtensionsNotSupported,
    /// `invalid-proof`: wrong password.
    InvalidProof,
    /// `channel-bindings-dont-match`
    ChannelBindingsDontMatch,
    /// `server-does-support-channel-binding`
    ServerDoesSupportChannelBinding,
    /// `channel-binding-not-supported`
    ChannelBindingNotSupported,
    /// `unsupported-channel-binding-type`
    UnsupportedChannelBindingType,
    /// `unknown-user`
    UnknownUser,
    /// `invalid-username-encoding`
    InvalidUsernameEncoding,
    /// `no-resources`
    NoResources,
    /// `other-error`
    OtherError,
    /// A value the RFC does not list (`server-error-value-ext`).
    Unrecognized,
}

impl ScramServerError {
    /// Maps the text of an `e=` attribute; values the RFC does not list become
    /// [`ScramServerError::Unrecognized`].
    pub fn from_value(value: &[u8]) -> Self {
        match value {
            b"invalid-encoding" => Self::InvalidEncoding,
            b"extensions-not-supported" => Self::ExtensionsNotSupported,
            b"invalid-proof" => Self::InvalidProof,
            b"channel-bindings-dont-match" => Self::ChannelBindingsDontMatch,
            b"server-does-support-channel-binding" => Self::ServerDoesSupportChannelBinding,
            b"channel-binding-not-supported" => Self::ChannelBindingNotSupported,
            b"unsupported-channel-binding-type" => Self::UnsupportedChannelBindingType,
            b"unknown-user" => Self::UnknownUser,
            b"invalid-username-encoding" => Self::InvalidUsernameEncoding,
            b"no-resources" => Self::NoResources,
            b"other-error" => Self::OtherError,
            _ => Self::Unrecognized,
        }
    }

    /// The RFC's text for this value (`"unrecognized"` for [`ScramServerError::Unrecognized`]).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InvalidEncoding => "invalid-encoding",
            Self::ExtensionsNotSupported => "extensions-not-supported",
            Self::InvalidProof => "invalid-proof",
            Self::ChannelBindingsDontMatch => "channel-bindings-dont-match",
            Self::ServerDoesSupportChannelBinding => "server-does-support-channel-binding",
            Self::ChannelBindingNotSupported => "channel-binding-not-supported",
            Self::UnsupportedChannelBindingType => "unsupported-channel-binding-type",
            Self::UnknownUser => "unknown-user",
            Self::InvalidUsernameEncoding => "invalid-username-encoding",
            Self::NoResources => "no-resources",
            Self::OtherError => "other-error",
            Self::Unrecognized => "unrecognized",
        }
    }
}

impl fmt::Display for ScramServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `status` of an OAUTHBEARER server error (RFC 7628 §3.2.2, with the error codes of
/// RFC 6749 §5.2 and RFC 6750 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OAuthErrorStatus {
    /// `invalid_token`: expired, revoked, malformed or otherwise invalid.
    InvalidToken,
    /// `invalid_request`: the request (for example an extension) is not acceptable.
    InvalidRequest,
    /// `insufficient_scope`: the token lacks a scope the server requires.
    InsufficientScope,
    /// A status this client does not know.
    Unrecognized,
    /// The server's message was not a JSON object with a string `status`.
    Missing,
}

impl OAuthErrorStatus {
    /// Maps the text of a `status` value.
    pub fn from_value(value: &[u8]) -> Self {
        match value {
            b"invalid_token" => Self::InvalidToken,
            b"invalid_request" => Self::InvalidRequest,
            b"insufficient_scope" => Self::InsufficientScope,
            _ => Self::Unrecognized,
        }
    }

    /// The text of this status (`"unrecognized"` / `"missing"` for the catch-alls).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InvalidToken => "invalid_token",
            Self::InvalidRequest => "invalid_request",
            Self::InsufficientScope => "insufficient_scope",
            Self::Unrecognized => "unrecognized",
            Self::Missing => "missing",
        }
    }
}

impl fmt::Display for OAuthErrorStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

//! The client's error type.
//!
//! Every failure of the connection layer is a [`ClientError`]. It is `Clone`: when a connection
//! fails, every request that was waiting on it receives a copy of the same error. Context is a
//! `&'static str` wherever it can be; values that come from the broker are kept typed
//! ([`ErrorCode`], [`ApiKey`]) rather than formatted into strings.

use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::sync::Arc;

use gregor_protocol::{ApiKey, DecodeError, EncodeError, ErrorCode, VersionRange};

use crate::sasl::{SaslError, SaslMechanism};

/// A failure of the client.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// An I/O operation failed. The connection it happened on is closed.
    #[error("I/O error while {context}: {message}")]
    Io {
        /// The kind of the operating system's error.
        kind: io::ErrorKind,
        /// What was being done.
        context: &'static str,
        /// The operating system's message (with the broker's address where it is known,
        /// as when connecting).
        message: Arc<str>,
    },
    /// TLS setup or the TLS handshake failed.
    #[error("TLS error: {context}")]
    Tls {
        /// What was being done.
        context: &'static str,
        /// The underlying error (from rustls, a PEM file, the socket), when there is one.
        #[source]
        source: Option<Arc<dyn StdError + Send + Sync>>,
    },
    /// The client-side SASL mechanism failed (a bad server message, a failed server
    /// signature, a server-side error carried inside the mechanism's messages).
    #[error("SASL authentication failed")]
    Sasl(#[from] SaslError),
    /// The broker refused the SASL mechanism in SaslHandshake.
    #[error("broker refused SASL mechanism {mechanism} ({code}); it enables {enabled:?}")]
    SaslMechanismRejected {
        /// The mechanism the client proposed.
        mechanism: SaslMechanism,
        /// The broker's error code (usually `UNSUPPORTED_SASL_MECHANISM`).
        code: ErrorCode,
        /// The mechanisms the broker enables, as it listed them.
        enabled: Vec<String>,
    },
    /// The broker answered a SaslAuthenticate request with an error (usually
    /// `SASL_AUTHENTICATION_FAILED`: wrong credentials).
    #[error("broker rejected SASL authentication ({code}): {message:?}")]
    SaslAuthentication {
        /// The broker's error code.
        code: ErrorCode,
        /// The broker's error message, if it sent one.
        message: Option<String>,
    },
    /// A response from the broker did not decode.
    #[error("malformed response from the broker: {0}")]
    Decode(#[from] DecodeError),
    /// A request could not be encoded (a field set that its version lacks, a string too long).
    #[error("request cannot be encoded: {0}")]
    Encode(#[from] EncodeError),
    /// A request asks for something its version cannot carry (a field newer than the
    /// version the broker speaks), and gregor has no older way to say it.
    #[error(
        "{api:?} v{version} cannot carry the request (the broker speaks {}, this client {ours}): {source}",
        speaks(*broker)
    )]
    NotInBrokerVersion {
        /// The API of the request.
        api: ApiKey,
        /// The version chosen: the highest both sides speak.
        version: i16,
        /// The versions the broker speaks.
        broker: Option<VersionRange>,
        /// The versions this client speaks.
        ours: VersionRange,
        /// What could not be encoded.
        source: EncodeError,
    },
    /// The broker answered with an error code for the request as a whole.
    #[error("{api:?} failed on the broker: {code}")]
    Broker {
        /// The API of the request.
        api: ApiKey,
        /// The broker's error code.
        code: ErrorCode,
    },
    /// The client and the broker share no version of an API (or the broker lacks it).
    #[error("no common version of {api:?}: client speaks {ours}, broker {}", speaks(*broker))]
    UnsupportedApi {
        /// The API.
        api: ApiKey,
        /// The versions this client speaks.
        ours: VersionRange,
        /// The versions the broker speaks, `None` when it does not list the API.
        broker: Option<VersionRange>,
    },
    /// The broker closed the connection in answer to an ApiVersions request of `version`
    /// instead of answering `UNSUPPORTED_VERSION` (some brokers do that with versions they do not
    /// know). Retry on a new connection with ApiVersions v0, which every broker answers;
    /// [`Connection::connect`](crate::connection::Connection::connect) does that once by itself.
    #[error(
        "broker closed the connection on ApiVersions v{version}; retry with v0 on a new connection"
    )]
    ApiVersionsRejected {
        /// The ApiVersions version that was refused.
        version: i16,
    },
    /// A request got no answer within the request timeout. The connection it was sent on is
    /// closed, since its late answer could not be matched any more.
    #[error("{api:?} request timed out")]
    Timeout {
        /// The API of the request.
        api: ApiKey,
    },
    /// Connecting (TCP connect, then TLS) took longer than the connect timeout.
    #[error("connecting to the broker timed out")]
    ConnectTimeout,
    /// The broker closed the connection (end of stream), or the connection was closed on this
    /// side.
    #[error("connection closed")]
    Disconnected,
    /// The connection stopped because the byte stream from the broker can no longer be trusted
    /// (see [`PoisonCause`]). Every request in flight fails, and so does every later one.
    #[error("connection poisoned: {0}")]
    Poisoned(PoisonCause),
    /// A state machine of this crate was driven out of order (a bug in its caller).
    #[error("used out of order: {context}")]
    InvalidState {
        /// What was attempted.
        context: &'static str,
    },
    /// A configuration value is unusable (the error names the setting).
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// A broker id that the cluster metadata does not list (not even after a refresh).
    #[error("broker {broker} is not in the cluster metadata")]
    UnknownBroker {
        /// The broker id asked for.
        broker: i32,
    },
    /// There is no broker to send a request to: the cluster metadata lists none.
    #[error("no broker available: the cluster metadata lists none")]
    NoBrokerAvailable,
    /// A call asked for something (`feature`) that needs a newer version of `api` than the
    /// one negotiated with the broker; nothing was sent.
    #[error("{feature} needs {api:?} v{needs} or newer; the broker speaks up to v{negotiated}")]
    FeatureNotSupported {
        /// The API.
        api: ApiKey,
        /// What needs the newer version.
        feature: &'static str,
        /// The oldest version that has it.
        needs: i16,
        /// The version negotiated with the broker.
        negotiated: i16,
    },
}

impl From<crate::tls::TlsError> for ClientError {
    fn from(e: crate::tls::TlsError) -> Self {
        ClientError::Tls {
            context: "TLS setup",
            source: Some(Arc::new(e)),
        }
    }
}

impl ClientError {
    /// The error for an I/O failure while doing `context`. End of stream becomes
    /// [`ClientError::Disconnected`]; a TLS failure on an established TLS stream (an alert
    /// from the broker, such as TLS 1.3's `certificate_required` after the client's side of
    /// the handshake, or a corrupt record) becomes [`ClientError::Tls`] with the rustls error.
    pub fn io(err: &io::Error, context: &'static str) -> ClientError {
        if let Some(tls) = crate::tls::TlsError::from_io(err) {
            return ClientError::Tls {
                context,
                source: Some(Arc::new(tls)),
            };
        }
        match err.kind() {
            io::ErrorKind::UnexpectedEof => ClientError::Disconnected,
            kind => ClientError::Io {
                kind,
                context,
                message: err.to_string().into(),
            },
        }
    }

    /// [`ClientError::io`] for an operation on the broker at `peer` (`host:port`), which the
    /// message names.
    pub fn io_at(err: &io::Error, context: &'static str, peer: &str) -> ClientError {
        match ClientError::io(err, context) {
            ClientError::Io { kind, context, .. } => ClientError::Io {
                kind,
                context,
                message: format!("{peer}: {err}").into(),
            },
            other => other,
        }
    }

    /// An I/O failure of `kind` that has no operating system error behind it.
    pub fn io_kind(kind: io::ErrorKind, context: &'static str) -> ClientError {
        ClientError::Io {
            kind,
            context,
            message: kind.to_string().into(),
        }
    }

    /// Whether this error means the connection it came from is unusable: the caller should
    /// drop it and connect again. A request that failed this way may or may not have reached
    /// the broker.
    pub fn is_connection_error(&self) -> bool {
        matches!(
            self,
            ClientError::Io { .. }
                | ClientError::Tls { .. }
                | ClientError::Timeout { .. }
                | ClientError::ConnectTimeout
                | ClientError::Disconnected
                | ClientError::Poisoned(_)
                | ClientError::ApiVersionsRejected { .. }
        )
    }
}

/// Why a connection was poisoned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PoisonCause {
    /// A response carried a correlation id that matches no request in flight.
    UnknownCorrelationId(i32),
    /// A response frame was too short for its header, or the header did not decode.
    MalformedHeader(DecodeError),
    /// The size prefix of a response frame was negative or above the maximum frame size.
    Frame(DecodeError),
    /// A request of this API timed out; the connection was closed with it.
    RequestTimedOut(ApiKey),
    /// The body of a response to a request of this API did not decode (a length beyond the
    /// body, a value no version allows): the bytes were corrupted on the way or the broker
    /// is broken. Every response on the connection is suspect after it, so the connection is
    /// closed, and the request counts as failed with its connection (an idempotent one is
    /// retried on a new connection).
    MalformedBody(ApiKey, DecodeError),
}

impl fmt::Display for PoisonCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PoisonCause::UnknownCorrelationId(id) => {
                write!(f, "response with unknown correlation id {id}")
            }
            PoisonCause::MalformedHeader(e) => write!(f, "malformed response header: {e}"),
            PoisonCause::Frame(e) => write!(f, "bad response frame: {e}"),
            PoisonCause::RequestTimedOut(api) => write!(f, "{api:?} request timed out"),
            PoisonCause::MalformedBody(api, e) => {
                write!(f, "malformed {api:?} response from the broker: {e}")
            }
        }
    }
}

/// A broker's versions of an API, in words.
fn speaks(range: Option<VersionRange>) -> String {
    range.map_or_else(|| "none".to_owned(), |r| r.to_string())
}

//! Retries: which failures are worth another attempt, and what to do before it.
//!
//! [`classify`] is the policy (sans-io), on top of the one classifier of error codes,
//! [`ErrorCode::class`]: a broker error is retried unless its class is [`ErrorClass::Fatal`];
//! a connection failure (I/O, TLS, a request timeout, a closed or poisoned connection) is
//! retried on a new connection; everything else (an unsupported API, a bad request,
//! authentication, configuration) fails at once. Codes of [`ErrorClass::StaleMetadata`], and
//! connection failures (the broker may have lost its leadership with its connection), refresh
//! the metadata before the retry. Coordinator errors ([`ErrorCode::is_coordinator_error`]) are
//! retried as they are; forgetting a moved coordinator
//! ([`ErrorCode::is_stale_coordinator`]) is up to the caller, which knows the group.
//!
//! [`ErrorCode::class`]: gregor_protocol::ErrorCode::class
//! [`ErrorCode::is_coordinator_error`]: gregor_protocol::ErrorCode::is_coordinator_error
//! [`ErrorCode::is_stale_coordinator`]: gregor_protocol::ErrorCode::is_stale_coordinator
//!
//! [`Client::retry_until`](super::Client::retry_until) drives it: attempts run until one
//! succeeds, one fails for good, or the deadline passes (an attempt still running then is cut
//! short with [`ClientError::Timeout`]); between attempts it waits `retry.backoff.ms`, doubling
//! up to [`RETRY_BACKOFF_MAX`], ±20% jitter.

use std::time::Duration;

use gregor_protocol::ErrorClass;

use crate::error::ClientError;

/// The longest wait between two attempts (Kafka's `retry.backoff.max.ms` default).
pub const RETRY_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RetryAction {
    /// The failure is final.
    Fail,
    /// Try again after the backoff.
    Retry,
    /// Refresh the metadata, then try again after the backoff.
    RefreshMetadataThenRetry,
}

/// The retry policy for `error`.
pub fn classify(error: &ClientError) -> RetryAction {
    match error {
        ClientError::Broker { code, .. } => match code.class() {
            ErrorClass::StaleMetadata => RetryAction::RefreshMetadataThenRetry,
            ErrorClass::StaleCoordinator
            | ErrorClass::CoordinatorLoading
            | ErrorClass::Retriable => RetryAction::Retry,
            _ => RetryAction::Fail,
        },
        ClientError::UnknownBroker { .. } => RetryAction::RefreshMetadataThenRetry,
        e if e.is_connection_error() => RetryAction::RefreshMetadataThenRetry,
        _ => RetryAction::Fail,
    }
}

#[cfg(test)]
mod tests {
    use gregor_protocol::{ApiKey, ErrorCode, VersionRange};

    use super::*;

    fn broker(code: ErrorCode) -> ClientError {
        ClientError::Broker {
            api: ApiKey::ListOffsets,
            code,
        }
    }

    #[test]
    fn staleness_errors_refresh_metadata() {
        for code in [
            ErrorCode::NotLeaderOrFollower,
            ErrorCode::UnknownTopicOrPartition,
            ErrorCode::LeaderNotAvailable,
            ErrorCode::FencedLeaderEpoch,
            ErrorCode::ReplicaNotAvailable,
            ErrorCode::KafkaStorageError,
            ErrorCode::UnknownTopicId,
            ErrorCode::NotController,
        ] {
            assert!(code.is_retriable(), "{code}");
            assert_eq!(
                classify(&broker(code)),
                RetryAction::RefreshMetadataThenRetry,
                "{code}"
            );
        }
    }

    #[test]
    fn other_retriable_codes_retry_without_refresh() {
        for code in [
            ErrorCode::RequestTimedOut,
            ErrorCode::UnknownLeaderEpoch,
            ErrorCode::NotEnoughReplicas,
            ErrorCode::NotCoordinator,
            ErrorCode::CoordinatorNotAvailable,
            ErrorCode::CoordinatorLoadInProgress,
        ] {
            assert_eq!(classify(&broker(code)), RetryAction::Retry, "{code}");
        }
    }

    #[test]
    fn non_retriable_codes_and_errors_fail() {
        for code in ErrorCode::KNOWN.iter().filter(|c| !c.is_retriable()) {
            assert_eq!(classify(&broker(*code)), RetryAction::Fail, "{code}");
        }
        assert_eq!(
            classify(&broker(ErrorCode::Unknown(-77))),
            RetryAction::Fail
        );
        let unsupported = ClientError::UnsupportedApi {
            api: ApiKey::Fetch,
            ours: VersionRange::new(4, 17),
            broker: None,
        };
        for e in [
            unsupported,
            ClientError::Config(crate::config::ConfigError::Missing {
                key: "k",
                reason: "r",
            }),
            ClientError::SaslAuthentication {
                code: ErrorCode::SaslAuthenticationFailed,
                message: None,
            },
            ClientError::NoBrokerAvailable,
        ] {
            assert_eq!(classify(&e), RetryAction::Fail, "{e}");
        }
    }

    #[test]
    fn connection_failures_reconnect_after_a_refresh() {
        for e in [
            ClientError::Disconnected,
            ClientError::Timeout {
                api: ApiKey::Metadata,
            },
            ClientError::ConnectTimeout,
            ClientError::io_kind(std::io::ErrorKind::ConnectionRefused, "connecting"),
            ClientError::UnknownBroker { broker: 3 },
        ] {
            assert_eq!(classify(&e), RetryAction::RefreshMetadataThenRetry, "{e}");
        }
    }
}

//! Retries: which failures are worth another attempt, and what to do before it.
//!
//! [`classify`] is the policy (sans-io): a broker error is retried when Kafka classes its code
//! as retriable ([`ErrorCode::is_retriable`]); a connection failure (I/O, TLS, a request
//! timeout, a closed or poisoned connection) is retried on a new connection; everything else
//! (an unsupported API, a bad request, authentication, configuration, a non-retriable code)
//! fails at once. Errors that mean the metadata is stale, and connection failures (the broker
//! may have lost its leadership with its connection), refresh the metadata before the retry.
//!
//! [`Client::retry_until`](super::Client::retry_until) drives it: attempts run until one
//! succeeds, one fails for good, or the deadline passes (an attempt still running then is cut
//! short with [`ClientError::Timeout`]); between attempts it waits `retry.backoff.ms`, doubling
//! up to [`RETRY_BACKOFF_MAX`], ±20% jitter.

use std::time::Duration;

use gregor_protocol::ErrorCode;

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

/// Whether `code` means the client's view of partition leadership (or of the controller) is
/// out of date, so the metadata should be refreshed before retrying.
pub fn is_stale_metadata(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::NotLeaderOrFollower
            | ErrorCode::UnknownTopicOrPartition
            | ErrorCode::LeaderNotAvailable
            | ErrorCode::FencedLeaderEpoch
            | ErrorCode::UnknownLeaderEpoch
            | ErrorCode::KafkaStorageError
            | ErrorCode::UnknownTopicId
            | ErrorCode::InconsistentTopicId
            | ErrorCode::NotController
    )
}

/// Whether `code` means the request went to a broker that is not (or not yet) the
/// coordinator: forget the cached coordinator and look it up again.
pub fn is_coordinator_error(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::NotCoordinator
            | ErrorCode::CoordinatorNotAvailable
            | ErrorCode::CoordinatorLoadInProgress
    )
}

/// The retry policy for `error`.
pub fn classify(error: &ClientError) -> RetryAction {
    match error {
        ClientError::Broker { code, .. } if code.is_retriable() => {
            if is_stale_metadata(*code) {
                RetryAction::RefreshMetadataThenRetry
            } else {
                RetryAction::Retry
            }
        }
        ClientError::UnknownBroker { .. } => RetryAction::RefreshMetadataThenRetry,
        e if e.is_connection_error() => RetryAction::RefreshMetadataThenRetry,
        _ => RetryAction::Fail,
    }
}

#[cfg(test)]
mod tests {
    use gregor_protocol::{ApiKey, VersionRange};

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
            ErrorCode::UnknownLeaderEpoch,
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
            ErrorCode::NotCoordinator,
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
            ClientError::Config {
                key: "k",
                reason: "r",
            },
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
            ClientError::Io(std::io::ErrorKind::ConnectionRefused, "connecting"),
            ClientError::UnknownBroker { broker: 3 },
        ] {
            assert_eq!(classify(&e), RetryAction::RefreshMetadataThenRetry, "{e}");
        }
    }

    #[test]
    fn coordinator_errors_are_recognised() {
        assert!(is_coordinator_error(ErrorCode::NotCoordinator));
        assert!(is_coordinator_error(ErrorCode::CoordinatorNotAvailable));
        assert!(is_coordinator_error(ErrorCode::CoordinatorLoadInProgress));
        assert!(!is_coordinator_error(ErrorCode::NotLeaderOrFollower));
    }
}

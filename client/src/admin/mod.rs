//! Cluster administration over a [`Client`]: topics, partitions, offsets, groups.
//!
//! Every call:
//! - picks the request version from the version table negotiated with the broker it sends to,
//!   and builds the request for that version (fields the version lacks stay at their
//!   defaults). When the call asks for something the negotiated version cannot express (for
//!   example `read_committed` offsets from ListOffsets v1), it fails with
//!   [`ClientError::FeatureNotSupported`] before sending anything;
//! - routes its requests: partition requests to each partition's leader, one request per
//!   broker; group requests to the group's coordinator; topic requests to the controller
//!   (any broker forwards them in KRaft clusters);
//! - reports per-topic, per-partition and per-group errors typed ([`ErrorCode`], with the
//!   broker's message where it sends one), and retries the retriable ones (with a metadata
//!   refresh after staleness errors, a new coordinator lookup after coordinator errors) until
//!   the call's deadline ([`Admin::with_timeout`], default [`DEFAULT_API_TIMEOUT`]); an item
//!   still failing then reports its last error. A whole request failing (a connection error,
//!   a timeout) is retried the same way; if it still fails at the deadline the call returns
//!   that [`ClientError`].
//!
//! Modules: `topics` (create and delete topics, create partitions), `offsets` (list offsets,
//! delete records), `groups` (describe and list groups), `group_offsets` (commit and fetch a
//! group's offsets), `rounds` (the retry rounds and leader routing they share).

mod group_offsets;
mod groups;
mod offsets;
mod rounds;
mod topics;

use std::time::Duration;

use gregor_protocol::{ApiKey, ErrorCode};

pub use group_offsets::{CommitFencing, CommittedOffset, FetchOffsetsOptions, OffsetAndMetadata};
pub use groups::{
    GroupDescription, GroupListing, ListGroupsOptions, ListedGroups, MemberDescription,
};
pub use offsets::{IsolationLevel, ListedOffset, OffsetSpec};
pub use topics::{CreateTopicsOptions, CreatedTopic, NewTopic};

use crate::cluster_client::{Client, DEFAULT_API_TIMEOUT};
use crate::config::ClientConfig;
use crate::error::ClientError;
// The workspace's one partition type (also `gregor_client::TopicPartition`), named here too
// because the admin calls are keyed by it.
pub use gregor_protocol::TopicPartition;

/// An error a broker reported for one topic (or group), with its message if it sent one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}{}", message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
pub struct TopicError {
    /// The error code.
    pub code: ErrorCode,
    /// The broker's message.
    pub message: Option<String>,
}

impl TopicError {
    /// An error with a code and no message.
    pub fn new(code: ErrorCode) -> TopicError {
        TopicError {
            code,
            message: None,
        }
    }

    fn from_wire(code: i16, message: Option<&String>) -> TopicError {
        TopicError {
            code: ErrorCode::from_code(code),
            message: message.filter(|m| !m.is_empty()).cloned(),
        }
    }
}

impl From<ErrorCode> for TopicError {
    fn from(code: ErrorCode) -> TopicError {
        TopicError::new(code)
    }
}

/// Administrative operations on a cluster. Cheap to clone (it holds a [`Client`]).
#[derive(Debug, Clone)]
pub struct Admin {
    client: Client,
    timeout: Duration,
}

impl Admin {
    /// Admin operations over `client`, each bounded by [`DEFAULT_API_TIMEOUT`].
    pub fn new(client: Client) -> Admin {
        Admin {
            client,
            timeout: DEFAULT_API_TIMEOUT,
        }
    }

    /// Connects a new [`Client`] with `config` and wraps it.
    pub async fn connect(config: ClientConfig) -> Result<Admin, ClientError> {
        Ok(Admin::new(Client::connect(config).await?))
    }

    /// Bounds each call (its retries included) by `timeout`.
    pub fn with_timeout(mut self, timeout: Duration) -> Admin {
        self.timeout = timeout;
        self
    }

    /// The client underneath.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The deadline of a call starting now.
    fn deadline(&self) -> tokio::time::Instant {
        tokio::time::Instant::now() + self.timeout
    }
}

/// Fails with [`ClientError::FeatureNotSupported`] unless `version` is at least `needs`.
fn require_version(
    api: ApiKey,
    version: i16,
    needs: i16,
    feature: &'static str,
) -> Result<(), ClientError> {
    if version >= needs {
        Ok(())
    } else {
        Err(ClientError::FeatureNotSupported {
            api,
            feature,
            needs,
            negotiated: version,
        })
    }
}

/// The milliseconds left until `deadline`, for the `timeout_ms` fields of requests (at least
/// 1, at most `i32::MAX`).
fn remaining_ms(deadline: tokio::time::Instant) -> i32 {
    let left = deadline.saturating_duration_since(tokio::time::Instant::now());
    i32::try_from(left.as_millis()).unwrap_or(i32::MAX).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_requirements_name_the_feature() {
        assert!(require_version(ApiKey::ListOffsets, 7, 7, "max timestamp").is_ok());
        match require_version(ApiKey::ListOffsets, 1, 2, "read_committed") {
            Err(ClientError::FeatureNotSupported {
                api,
                feature,
                needs,
                negotiated,
            }) => {
                assert_eq!(api, ApiKey::ListOffsets);
                assert_eq!((feature, needs, negotiated), ("read_committed", 2, 1));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn topic_errors_show_the_broker_message() {
        let e = TopicError::from_wire(36, Some(&"exists".to_owned()));
        assert_eq!(e.code, ErrorCode::TopicAlreadyExists);
        assert!(e.to_string().ends_with(": exists"), "{e}");
        assert_eq!(
            TopicError::from_wire(36, Some(&String::new())).message,
            None
        );
        assert_eq!(TopicError::new(ErrorCode::InvalidPartitions).message, None);
    }
}

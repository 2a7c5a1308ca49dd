//! OffsetFetch as Java handles it: `CC` `OffsetFetchResponseHandler.handle` (the sources are
//! listed in [the parent module](super)).

use super::table::{ANY, Row, row};
use super::{E, ErrorCode, Fetch, K, Reaction::*};

/// Java's handling of an OffsetFetch answer, case by case.
pub(super) fn rows() -> Vec<Row> {
    vec![
        row(Fetch, E::None, ANY, Done, "CC OffsetFetch: NONE -> offsets"),
        row(
            Fetch,
            E::CoordinatorNotAvailable,
            ANY,
            Rediscover,
            "CC OffsetFetch: 're-discover the coordinator and retry': markCoordinatorUnknown",
        ),
        row(
            Fetch,
            E::NotCoordinator,
            ANY,
            Rediscover,
            "CC OffsetFetch: markCoordinatorUnknown",
        ),
        row(
            Fetch,
            E::CoordinatorLoadInProgress,
            ANY,
            Backoff,
            "CC OffsetFetch: 'just retry' (retriable group error)",
        ),
        row(
            Fetch,
            E::GroupAuthorizationFailed,
            ANY,
            Fatal(K::GroupAuthorization),
            "CC OffsetFetch: raise GroupAuthorizationException",
        ),
        row(
            Fetch,
            E::UnknownTopicOrPartition,
            ANY,
            PartitionError,
            "CC OffsetFetch: KafkaException('Topic or Partition ... does not exist')",
        ),
        row(
            Fetch,
            E::TopicAuthorizationFailed,
            ANY,
            PartitionError,
            "CC OffsetFetch: collected in unauthorizedTopics; TopicAuthorizationException",
        ),
        row(
            Fetch,
            E::UnstableOffsetCommit,
            ANY,
            Backoff,
            "CC OffsetFetch: 'just retry': UnstableOffsetCommitException (retriable)",
        ),
        row(
            Fetch,
            E::UnknownServerError,
            ANY,
            PartitionError,
            "CC OffsetFetch: else -> KafkaException('Unexpected error in fetch offset \
             response'): the call fails",
        ),
    ]
}

/// The codes `OffsetFetchResponseHandler.handle` names, `NONE` included
/// (`COORDINATOR_LOAD_IN_PROGRESS` named until 3.x, since then through "RetriableException:
/// retry").
pub(super) const JAVA_NAMED: &[ErrorCode] = &[
    E::None,
    E::CoordinatorLoadInProgress,
    E::CoordinatorNotAvailable,
    E::NotCoordinator,
    E::GroupAuthorizationFailed,
    E::UnknownTopicOrPartition,
    E::TopicAuthorizationFailed,
    E::UnstableOffsetCommit,
];

/// The "Possible error codes" of `OffsetFetchResponse`: partition errors, then group or
/// coordinator errors.
pub(super) const DOCUMENTED: &[ErrorCode] = &[
    E::UnknownTopicOrPartition,
    E::TopicAuthorizationFailed,
    E::UnstableOffsetCommit,
    E::CoordinatorLoadInProgress,
    E::CoordinatorNotAvailable,
    E::NotCoordinator,
    E::GroupAuthorizationFailed,
];

//! OffsetCommit as Java handles it: `CC` `OffsetCommitResponseHandler.handle`, with
//! `commitOffsetsSync` (the sources are listed in [the parent module](super)).

use super::table::{
    ANY, CURRENT, CURRENT_IDLE, CURRENT_REBALANCING, LOOKUP_AT_ONCE, Row, STALE_IDLE,
    STALE_REBALANCING, row,
};
use super::{Commit, E, ErrorCode, K, Reaction::*};

/// Java's handling of an OffsetCommit answer, case by case.
pub(super) fn rows() -> Vec<Row> {
    vec![
        row(
            Commit,
            E::None,
            ANY,
            Done,
            "CC OffsetCommit: NONE -> committed",
        ),
        row(
            Commit,
            E::GroupAuthorizationFailed,
            ANY,
            Fatal(K::GroupAuthorization),
            "CC OffsetCommit: raise GroupAuthorizationException",
        ),
        row(
            Commit,
            E::TopicAuthorizationFailed,
            ANY,
            PartitionError,
            "CC OffsetCommit: topic collected in unauthorizedTopics, other partitions go on; \
             TopicAuthorizationException at the end",
        ),
        row(
            Commit,
            E::OffsetMetadataTooLarge,
            ANY,
            PartitionError,
            "CC OffsetCommit: 'raise the error to the user'",
        )
        .differs("reported for its partition; Java fails the call on the first one"),
        row(
            Commit,
            E::InvalidCommitOffsetSize,
            ANY,
            PartitionError,
            "CC OffsetCommit: 'raise the error to the user'",
        )
        .differs("reported for its partition; Java fails the call on the first one"),
        row(
            Commit,
            E::CoordinatorLoadInProgress,
            ANY,
            Backoff,
            "CC OffsetCommit: 'just retry'",
        ),
        row(
            Commit,
            E::UnknownTopicOrPartition,
            ANY,
            Backoff,
            "CC OffsetCommit: 'just retry' (until the commit's timer ends)",
        ),
        row(
            Commit,
            E::CoordinatorNotAvailable,
            ANY,
            Rediscover,
            "CC OffsetCommit: markCoordinatorUnknown; commitOffsetsSync sleeps, looks up",
        )
        .differs(LOOKUP_AT_ONCE),
        row(
            Commit,
            E::NotCoordinator,
            ANY,
            Rediscover,
            "CC OffsetCommit: markCoordinatorUnknown",
        )
        .differs(LOOKUP_AT_ONCE),
        row(
            Commit,
            E::RequestTimedOut,
            ANY,
            Rediscover,
            "CC OffsetCommit: markCoordinatorUnknown",
        )
        .differs(LOOKUP_AT_ONCE),
        row(
            Commit,
            E::FencedInstanceId,
            CURRENT,
            Fatal(K::FencedInstanceId),
            "CC OffsetCommit: generationUnchanged -> raise(FENCED_INSTANCE_ID)",
        ),
        row(
            Commit,
            E::FencedInstanceId,
            STALE_REBALANCING,
            CommitRebalancing,
            "CC OffsetCommit: generation changed, PREPARING_REBALANCE -> \
             RebalanceInProgressException",
        ),
        row(
            Commit,
            E::FencedInstanceId,
            STALE_IDLE,
            CommitFailed,
            "CC OffsetCommit: generation changed, not rebalancing -> CommitFailedException",
        ),
        row(
            Commit,
            E::RebalanceInProgress,
            ANY,
            CommitRebalancing,
            "CC OffsetCommit: requestRejoin, RebalanceInProgressException, 'do not reset \
             generations'",
        ),
        row(
            Commit,
            E::UnknownMemberId,
            CURRENT,
            ResetMember,
            "CC OffsetCommit: resetStateOnResponseError(OFFSET_COMMIT, true); \
             CommitFailedException",
        ),
        row(
            Commit,
            E::UnknownMemberId,
            STALE_REBALANCING,
            CommitRebalancing,
            "CC OffsetCommit: generation changed and PREPARING_REBALANCE -> \
             RebalanceInProgressException, no reset",
        ),
        row(
            Commit,
            E::UnknownMemberId,
            STALE_IDLE,
            CommitFailed,
            "CC OffsetCommit: resetStateOnResponseError(OFFSET_COMMIT, true); \
             CommitFailedException",
        )
        .differs(
            "the answer is about a generation the member has left: the commit fails, the \
             current generation is kept",
        ),
        row(
            Commit,
            E::IllegalGeneration,
            CURRENT_IDLE,
            ResetGeneration,
            "CC OffsetCommit: resetStateOnResponseError(OFFSET_COMMIT, false): 'don't reset \
             generation member ID'; CommitFailedException",
        ),
        row(
            Commit,
            E::IllegalGeneration,
            CURRENT_REBALANCING,
            CommitRebalancing,
            "CC OffsetCommit: generation unchanged -> resetStateOnResponseError(false), \
             CommitFailedException: the assignment is lost",
        )
        .differs(
            "librdkafka#4059 / PR #4908: a commit racing a (cooperative) rebalance must not \
             drop the assignment; the round in progress decides what moves",
        ),
        row(
            Commit,
            E::IllegalGeneration,
            STALE_REBALANCING,
            CommitRebalancing,
            "CC OffsetCommit: generation changed and PREPARING_REBALANCE -> \
             RebalanceInProgressException, no reset",
        ),
        row(
            Commit,
            E::IllegalGeneration,
            STALE_IDLE,
            CommitFailed,
            "CC OffsetCommit: resetStateOnResponseError(OFFSET_COMMIT, false); \
             CommitFailedException",
        )
        .differs(
            "the answer is about a generation the member has left: the commit fails, the \
             current generation is kept",
        ),
        row(
            Commit,
            E::UnknownServerError,
            ANY,
            PartitionError,
            "CC OffsetCommit: else -> KafkaException('Unexpected error in commit'): the call \
             fails",
        ),
        row(
            Commit,
            E::NotEnoughReplicas,
            ANY,
            Backoff,
            "CC OffsetCommit: else -> KafkaException (unexpected, not retriable): the call fails",
        )
        .differs("a code Kafka classes retriable is retried after the backoff"),
    ]
}

/// The codes `OffsetCommitResponseHandler.handle` names, `NONE` included.
pub(super) const JAVA_NAMED: &[ErrorCode] = &[
    E::None,
    E::GroupAuthorizationFailed,
    E::TopicAuthorizationFailed,
    E::OffsetMetadataTooLarge,
    E::InvalidCommitOffsetSize,
    E::CoordinatorLoadInProgress,
    E::UnknownTopicOrPartition,
    E::CoordinatorNotAvailable,
    E::NotCoordinator,
    E::RequestTimedOut,
    E::FencedInstanceId,
    E::RebalanceInProgress,
    E::UnknownMemberId,
    E::IllegalGeneration,
];

/// The "Possible error codes" of `OffsetCommitResponse`.
pub(super) const DOCUMENTED: &[ErrorCode] = &[
    E::UnknownTopicOrPartition,
    E::OffsetMetadataTooLarge,
    E::CoordinatorLoadInProgress,
    E::CoordinatorNotAvailable,
    E::NotCoordinator,
    E::IllegalGeneration,
    E::UnknownMemberId,
    E::RebalanceInProgress,
    E::InvalidCommitOffsetSize,
    E::TopicAuthorizationFailed,
    E::GroupAuthorizationFailed,
];

//! JoinGroup as Java handles it: `AC` `JoinGroupResponseHandler.handle`, with
//! `joinGroupIfNeeded` (the sources are listed in [the parent module](super)).

use super::table::{ANY, CURRENT, LOOKUP_AT_ONCE, Row, STALE, row};
use super::{E, ErrorCode, Join, K, Reaction::*};

/// Java's handling of a JoinGroup answer, case by case.
pub(super) fn rows() -> Vec<Row> {
    vec![
        row(
            Join,
            E::None,
            ANY,
            Done,
            "AC JoinGroup: NONE -> COMPLETING_REBALANCE, sync",
        ),
        row(
            Join,
            E::CoordinatorLoadInProgress,
            ANY,
            Backoff,
            "AC JoinGroup: 'backoff and retry': raise(error); joinGroupIfNeeded sleeps \
             retryBackoffMs",
        ),
        row(
            Join,
            E::UnknownMemberId,
            CURRENT,
            ResetMember,
            "AC JoinGroup: generationUnchanged -> resetStateOnResponseError(JOIN_GROUP, true): \
             member id reset; joinGroupIfNeeded continues at once",
        ),
        row(
            Join,
            E::UnknownMemberId,
            STALE,
            Rejoin,
            "AC JoinGroup: generation changed -> no reset; joinGroupIfNeeded continues at once",
        ),
        row(
            Join,
            E::CoordinatorNotAvailable,
            ANY,
            Rediscover,
            "AC JoinGroup: markCoordinatorUnknown, raise; joinGroupIfNeeded sleeps \
             retryBackoffMs, then ensureCoordinatorReady",
        )
        .differs(LOOKUP_AT_ONCE),
        row(
            Join,
            E::NotCoordinator,
            ANY,
            Rediscover,
            "AC JoinGroup: markCoordinatorUnknown, raise; sleep, then look up",
        )
        .differs(LOOKUP_AT_ONCE),
        row(
            Join,
            E::FencedInstanceId,
            ANY,
            Fatal(K::FencedInstanceId),
            "AC JoinGroup: 'always treat this as a fatal error'",
        ),
        row(
            Join,
            E::InconsistentGroupProtocol,
            ANY,
            Fatal(K::InconsistentProtocol),
            "AC JoinGroup: fatal error, re-thrown",
        ),
        row(
            Join,
            E::InvalidSessionTimeout,
            ANY,
            Fatal(K::InvalidSessionTimeout),
            "AC JoinGroup: fatal error, re-thrown",
        ),
        row(
            Join,
            E::InvalidGroupId,
            ANY,
            Fatal(K::InvalidGroupId),
            "AC JoinGroup: fatal error, re-thrown",
        ),
        row(
            Join,
            E::GroupAuthorizationFailed,
            ANY,
            Fatal(K::GroupAuthorization),
            "AC JoinGroup: fatal, GroupAuthorizationException.forGroupId",
        ),
        row(
            Join,
            E::GroupMaxSizeReached,
            ANY,
            Fatal(K::GroupMaxSizeReached),
            "AC JoinGroup: fatal, GroupMaxSizeReachedException",
        ),
        row(
            Join,
            E::UnsupportedVersion,
            ANY,
            Fatal(K::UnsupportedVersion),
            "AC JoinGroup: raise ('Please unset field group.instance.id'); not retriable",
        ),
        row(
            Join,
            E::MemberIdRequired,
            ANY,
            RetryJoinWithMemberId,
            "AC JoinGroup: generation = (DEFAULT_GENERATION_ID, memberId of the answer); \
             requestRejoin; joinGroupIfNeeded continues at once",
        ),
        row(
            Join,
            E::RebalanceInProgress,
            ANY,
            Rejoin,
            "AC JoinGroup: 'could indicate a replication timeout on the broker. Will retry.'; \
             joinGroupIfNeeded continues at once",
        ),
        row(
            Join,
            E::IllegalGeneration,
            ANY,
            Fatal(K::Other),
            "AC JoinGroup: else -> KafkaException('Unexpected error in join group response'), \
             not retriable: thrown",
        ),
        row(
            Join,
            E::RequestTimedOut,
            ANY,
            Backoff,
            "AC JoinGroup: else -> KafkaException (unexpected), thrown from poll",
        )
        .differs("a code Kafka classes retriable is retried after the backoff"),
    ]
}

/// The codes `JoinGroupResponseHandler.handle` names, `NONE` included.
pub(super) const JAVA_NAMED: &[ErrorCode] = &[
    E::None,
    E::CoordinatorLoadInProgress,
    E::UnknownMemberId,
    E::CoordinatorNotAvailable,
    E::NotCoordinator,
    E::FencedInstanceId,
    E::InconsistentGroupProtocol,
    E::InvalidSessionTimeout,
    E::InvalidGroupId,
    E::GroupAuthorizationFailed,
    E::GroupMaxSizeReached,
    E::UnsupportedVersion,
    E::MemberIdRequired,
    E::RebalanceInProgress,
];

/// The "Possible error codes" of `JoinGroupResponse`.
pub(super) const DOCUMENTED: &[ErrorCode] = &[
    E::CoordinatorLoadInProgress,
    E::CoordinatorNotAvailable,
    E::NotCoordinator,
    E::InconsistentGroupProtocol,
    E::UnknownMemberId,
    E::InvalidSessionTimeout,
    E::GroupAuthorizationFailed,
];

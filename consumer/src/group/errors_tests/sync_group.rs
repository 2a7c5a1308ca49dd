//! SyncGroup as Java handles it: `AC` `SyncGroupResponseHandler.handle`, with
//! `joinGroupIfNeeded` (the sources are listed in [the parent module](super)).

use super::table::{ANY, CURRENT, LOOKUP_AT_ONCE, Row, STALE, row};
use super::{E, ErrorCode, K, Reaction::*, Sync};

/// Java's handling of a SyncGroup answer, case by case.
pub(super) fn rows() -> Vec<Row> {
    vec![
        row(
            Sync,
            E::None,
            ANY,
            Done,
            "AC SyncGroup: NONE -> STABLE, assignment",
        ),
        row(
            Sync,
            E::GroupAuthorizationFailed,
            ANY,
            Fatal(K::GroupAuthorization),
            "AC SyncGroup: raise GroupAuthorizationException",
        ),
        row(
            Sync,
            E::RebalanceInProgress,
            ANY,
            Rejoin,
            "AC SyncGroup: 'The group began another rebalance. Need to re-join'; \
             joinGroupIfNeeded continues at once",
        ),
        row(
            Sync,
            E::FencedInstanceId,
            ANY,
            Fatal(K::FencedInstanceId),
            "AC SyncGroup: 'always treat this as a fatal error'",
        ),
        row(
            Sync,
            E::UnknownMemberId,
            CURRENT,
            ResetMember,
            "AC SyncGroup: generationUnchanged -> resetStateOnResponseError(SYNC_GROUP, true)",
        ),
        row(
            Sync,
            E::IllegalGeneration,
            CURRENT,
            ResetGeneration,
            "AC SyncGroup: generationUnchanged -> resetStateOnResponseError(SYNC_GROUP, false): \
             'don't reset generation member ID when ILLEGAL_GENERATION'",
        ),
        row(
            Sync,
            E::UnknownMemberId,
            STALE,
            Rejoin,
            "AC SyncGroup: generation changed -> no reset; continue at once",
        ),
        row(
            Sync,
            E::IllegalGeneration,
            STALE,
            Rejoin,
            "AC SyncGroup: generation changed -> no reset; continue at once",
        ),
        row(
            Sync,
            E::CoordinatorNotAvailable,
            ANY,
            Rediscover,
            "AC SyncGroup: markCoordinatorUnknown, raise; sleep, then rejoin",
        )
        .differs(LOOKUP_AT_ONCE),
        row(
            Sync,
            E::NotCoordinator,
            ANY,
            Rediscover,
            "AC SyncGroup: markCoordinatorUnknown, raise; sleep, then rejoin",
        )
        .differs(LOOKUP_AT_ONCE),
        row(
            Sync,
            E::InconsistentGroupProtocol,
            ANY,
            Fatal(K::InconsistentProtocol),
            "AC SyncGroup: raise(INCONSISTENT_GROUP_PROTOCOL) on a NONE answer with another \
             protocol type or name; not retriable: thrown",
        ),
        row(
            Sync,
            E::CoordinatorLoadInProgress,
            ANY,
            Backoff,
            "AC SyncGroup: else -> KafkaException('Unexpected error from SyncGroup'), thrown \
             from poll",
        )
        .differs("the coordinator is loading: retried (as a new JoinGroup) after the backoff"),
        row(
            Sync,
            E::UnknownServerError,
            ANY,
            Fatal(K::Other),
            "AC SyncGroup: else -> KafkaException('Unexpected error from SyncGroup')",
        ),
    ]
}

/// The codes `SyncGroupResponseHandler.handle` names, `NONE` included
/// (`INCONSISTENT_GROUP_PROTOCOL`: raised by it).
pub(super) const JAVA_NAMED: &[ErrorCode] = &[
    E::None,
    E::InconsistentGroupProtocol,
    E::GroupAuthorizationFailed,
    E::RebalanceInProgress,
    E::FencedInstanceId,
    E::UnknownMemberId,
    E::IllegalGeneration,
    E::CoordinatorNotAvailable,
    E::NotCoordinator,
];

/// The "Possible error codes" of `SyncGroupResponse`.
pub(super) const DOCUMENTED: &[ErrorCode] = &[
    E::CoordinatorNotAvailable,
    E::NotCoordinator,
    E::IllegalGeneration,
    E::UnknownMemberId,
    E::RebalanceInProgress,
    E::GroupAuthorizationFailed,
];

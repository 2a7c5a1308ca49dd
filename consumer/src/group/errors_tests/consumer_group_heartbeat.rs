//! ConsumerGroupHeartbeat as Java's consumer-protocol consumer handles it: `AHRM`
//! `AbstractHeartbeatRequestManager.onErrorResponse` and `CHRM`
//! `ConsumerHeartbeatRequestManager.handleSpecificError` (Kafka 4.x clients).

use super::table::{ANY, Row, row};
use super::{Cghb, E, ErrorCode, K, Reaction::*};

/// Java's handling of a ConsumerGroupHeartbeat answer, case by case.
pub(super) fn rows() -> Vec<Row> {
    vec![
        row(Cghb, E::None, ANY, Done, "AHRM: NONE -> onHeartbeatSuccess"),
        row(
            Cghb,
            E::NotCoordinator,
            ANY,
            Rediscover,
            "AHRM: markCoordinatorUnknown, heartbeatRequestState.reset() (no backoff)",
        ),
        row(
            Cghb,
            E::CoordinatorNotAvailable,
            ANY,
            Rediscover,
            "AHRM: markCoordinatorUnknown, heartbeatRequestState.reset() (no backoff)",
        ),
        row(
            Cghb,
            E::CoordinatorLoadInProgress,
            ANY,
            Backoff,
            "AHRM: 'still loading. Will retry' after the backoff",
        ),
        row(
            Cghb,
            E::GroupAuthorizationFailed,
            ANY,
            Fatal(K::GroupAuthorization),
            "AHRM: handleFatalFailure(GroupAuthorizationException)",
        ),
        row(
            Cghb,
            E::InvalidRequest,
            ANY,
            Fatal(K::InvalidRequest),
            "AHRM: INVALID_REQUEST -> handleFatalFailure",
        ),
        row(
            Cghb,
            E::GroupMaxSizeReached,
            ANY,
            Fatal(K::GroupMaxSizeReached),
            "AHRM: GROUP_MAX_SIZE_REACHED -> handleFatalFailure",
        ),
        row(
            Cghb,
            E::UnsupportedAssignor,
            ANY,
            Fatal(K::Other),
            "AHRM: UNSUPPORTED_ASSIGNOR -> handleFatalFailure",
        ),
        row(
            Cghb,
            E::FencedMemberEpoch,
            ANY,
            ResetGeneration,
            "AHRM: transitionToFenced (partitions lost, member id kept, epoch 0), no backoff",
        ),
        row(
            Cghb,
            E::UnknownMemberId,
            ANY,
            ResetGeneration,
            "AHRM: transitionToFenced (partitions lost, member id kept, epoch 0), no backoff",
        ),
        row(
            Cghb,
            E::InvalidRegularExpression,
            ANY,
            Fatal(K::Other),
            "AHRM: INVALID_REGULAR_EXPRESSION -> handleFatalFailure",
        ),
        row(
            Cghb,
            E::UnreleasedInstanceId,
            ANY,
            Fatal(K::UnreleasedInstanceId),
            "CHRM: UNRELEASED_INSTANCE_ID -> handleFatalFailure",
        ),
        row(
            Cghb,
            E::FencedInstanceId,
            ANY,
            Fatal(K::FencedInstanceId),
            "CHRM: FENCED_INSTANCE_ID -> handleFatalFailure",
        ),
    ]
}

/// The codes the two handlers name, `NONE` included. Any other code is fatal in Java
/// (`default: handleFatalFailure`); gregor retries the retriable ones (the module docs'
/// default).
pub(super) const JAVA_NAMED: &[ErrorCode] = &[
    E::None,
    E::NotCoordinator,
    E::CoordinatorNotAvailable,
    E::CoordinatorLoadInProgress,
    E::GroupAuthorizationFailed,
    E::InvalidRequest,
    E::GroupMaxSizeReached,
    E::UnsupportedAssignor,
    E::FencedMemberEpoch,
    E::UnknownMemberId,
    E::InvalidRegularExpression,
    E::UnreleasedInstanceId,
    E::FencedInstanceId,
];

/// The "Possible error codes" of `ConsumerGroupHeartbeatResponse`.
pub(super) const DOCUMENTED: &[ErrorCode] = &[
    E::GroupAuthorizationFailed,
    E::NotCoordinator,
    E::CoordinatorNotAvailable,
    E::CoordinatorLoadInProgress,
    E::InvalidRequest,
    E::UnknownMemberId,
    E::FencedMemberEpoch,
    E::UnsupportedAssignor,
    E::UnreleasedInstanceId,
    E::GroupMaxSizeReached,
    E::InvalidRegularExpression,
];

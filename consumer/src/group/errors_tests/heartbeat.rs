//! Heartbeat as Java handles it: `AC` `HeartbeatResponseHandler.handle`, with
//! `HeartbeatThread` (the sources are listed in [the parent module](super)).

use super::table::{ANY, CURRENT, IDLE, REBALANCING, Row, STALE, row};
use super::{E, ErrorCode, Hb, K, Reaction::*};

/// Java's handling of a Heartbeat answer, case by case.
pub(super) fn rows() -> Vec<Row> {
    vec![
        row(Hb, E::None, ANY, Done, "AC Heartbeat: NONE -> complete"),
        row(
            Hb,
            E::CoordinatorNotAvailable,
            ANY,
            Rediscover,
            "AC Heartbeat: markCoordinatorUnknown; the heartbeat thread looks it up next loop",
        ),
        row(
            Hb,
            E::NotCoordinator,
            ANY,
            Rediscover,
            "AC Heartbeat: markCoordinatorUnknown",
        ),
        row(
            Hb,
            E::RebalanceInProgress,
            IDLE,
            Rejoin,
            "AC Heartbeat: state == STABLE -> requestRejoin('group is already rebalancing')",
        ),
        row(
            Hb,
            E::RebalanceInProgress,
            REBALANCING,
            Done,
            "AC Heartbeat: not STABLE -> 'Ignoring heartbeat response', complete(null)",
        ),
        row(
            Hb,
            E::IllegalGeneration,
            CURRENT,
            ResetGeneration,
            "AC Heartbeat: generationUnchanged -> resetStateOnResponseError(HEARTBEAT, false): \
             'the member ID is still valid'",
        ),
        row(
            Hb,
            E::UnknownMemberId,
            CURRENT,
            ResetMember,
            "AC Heartbeat: generationUnchanged -> resetStateOnResponseError(HEARTBEAT, true)",
        ),
        row(
            Hb,
            E::FencedInstanceId,
            CURRENT,
            Fatal(K::FencedInstanceId),
            "AC Heartbeat: reset and raise; HeartbeatThread: FencedInstanceIdException fails \
             the thread, thrown from poll",
        ),
        row(
            Hb,
            E::IllegalGeneration,
            STALE,
            Done,
            "AC Heartbeat: generation changed -> 'ignoring the error', complete(null)",
        ),
        row(
            Hb,
            E::UnknownMemberId,
            STALE,
            Done,
            "AC Heartbeat: generation changed -> ignored",
        ),
        row(
            Hb,
            E::FencedInstanceId,
            STALE,
            Done,
            "AC Heartbeat: generation changed -> ignored",
        ),
        row(
            Hb,
            E::GroupAuthorizationFailed,
            ANY,
            Fatal(K::GroupAuthorization),
            "AC Heartbeat: raise GroupAuthorizationException",
        ),
        row(
            Hb,
            E::CoordinatorLoadInProgress,
            ANY,
            Backoff,
            "AC Heartbeat: else -> KafkaException; HeartbeatThread: failHeartbeat, retried \
             after the backoff",
        ),
        row(
            Hb,
            E::UnknownServerError,
            ANY,
            Backoff,
            "AC Heartbeat: else -> KafkaException; failHeartbeat",
        ),
        row(
            Hb,
            E::InvalidRequest,
            ANY,
            Backoff,
            "AC Heartbeat: else -> KafkaException; failHeartbeat",
        ),
    ]
}

/// The codes `HeartbeatResponseHandler.handle` names, `NONE` included.
pub(super) const JAVA_NAMED: &[ErrorCode] = &[
    E::None,
    E::CoordinatorNotAvailable,
    E::NotCoordinator,
    E::RebalanceInProgress,
    E::IllegalGeneration,
    E::UnknownMemberId,
    E::FencedInstanceId,
    E::GroupAuthorizationFailed,
];

/// The "Possible error codes" of `HeartbeatResponse`.
pub(super) const DOCUMENTED: &[ErrorCode] = &[
    E::CoordinatorNotAvailable,
    E::NotCoordinator,
    E::IllegalGeneration,
    E::UnknownMemberId,
    E::RebalanceInProgress,
    E::GroupAuthorizationFailed,
];

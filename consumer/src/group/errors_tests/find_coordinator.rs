//! FindCoordinator as Java handles it: `AC` `FindCoordinatorResponseHandler.onSuccess`, with
//! `ensureCoordinatorReady` (the sources are listed in [the parent module](super)).

use super::table::{ANY, Row, row};
use super::{E, ErrorCode, Find, K, Reaction::*};

/// Java's handling of a FindCoordinator answer, case by case.
pub(super) fn rows() -> Vec<Row> {
    vec![
        row(
            Find,
            E::None,
            ANY,
            Done,
            "AC FindCoordinator: NONE -> coordinator set, complete",
        ),
        row(
            Find,
            E::GroupAuthorizationFailed,
            ANY,
            Fatal(K::GroupAuthorization),
            "AC FindCoordinator: raise GroupAuthorizationException; ensureCoordinatorReady \
             throws it (not retriable)",
        ),
        row(
            Find,
            E::CoordinatorNotAvailable,
            ANY,
            Backoff,
            "AC FindCoordinator: else raise(error); retriable -> ensureCoordinatorReady sleeps \
             the backoff, awaits metadata, looks up again",
        ),
        row(
            Find,
            E::NotCoordinator,
            ANY,
            Backoff,
            "AC FindCoordinator: else raise(error); retriable -> backoff, look up again",
        ),
        row(
            Find,
            E::CoordinatorLoadInProgress,
            ANY,
            Backoff,
            "AC FindCoordinator: else raise(error); retriable -> backoff, look up again",
        ),
        row(
            Find,
            E::InvalidRequest,
            ANY,
            Fatal(K::InvalidRequest),
            "AC FindCoordinator: else raise(error); not retriable -> ensureCoordinatorReady \
             throws it",
        ),
        row(
            Find,
            E::UnknownServerError,
            ANY,
            Fatal(K::Other),
            "AC FindCoordinator: else raise(error); not retriable -> thrown",
        ),
        row(
            Find,
            E::RequestTimedOut,
            ANY,
            Backoff,
            "AC FindCoordinator: else raise(error); retriable -> backoff, look up again",
        ),
    ]
}

/// The codes `FindCoordinatorResponseHandler.onSuccess` names, `NONE` included.
pub(super) const JAVA_NAMED: &[ErrorCode] = &[E::None, E::GroupAuthorizationFailed];

/// The "Possible error codes" of `FindCoordinatorResponse`, without
/// `TRANSACTIONAL_ID_AUTHORIZATION_FAILED`: it answers transactional-id lookups only.
pub(super) const DOCUMENTED: &[ErrorCode] = &[
    E::CoordinatorLoadInProgress,
    E::CoordinatorNotAvailable,
    E::NotCoordinator,
    E::GroupAuthorizationFailed,
    E::InvalidRequest,
];

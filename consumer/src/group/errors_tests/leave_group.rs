//! LeaveGroup as Java handles it: `AC` `LeaveGroupResponseHandler.handle`, with
//! `maybeLeaveGroup` (the sources are listed in [the parent module](super)).

use super::table::{ANY, Row, row};
use super::{E, ErrorCode, Leave, Reaction::*};

/// Java's handling of a LeaveGroup answer, case by case.
pub(super) fn rows() -> Vec<Row> {
    vec![
        row(Leave, E::None, ANY, Done, "AC LeaveGroup: NONE -> complete"),
        row(
            Leave,
            E::CoordinatorLoadInProgress,
            ANY,
            Done,
            "AC LeaveGroup: error logged and raised; maybeLeaveGroup never resends",
        ),
        row(
            Leave,
            E::CoordinatorNotAvailable,
            ANY,
            Done,
            "AC LeaveGroup: logged; not resent",
        ),
        row(
            Leave,
            E::NotCoordinator,
            ANY,
            Done,
            "AC LeaveGroup: logged; not resent",
        ),
        row(
            Leave,
            E::GroupAuthorizationFailed,
            ANY,
            Done,
            "AC LeaveGroup: logged; the member has left locally already",
        ),
        row(
            Leave,
            E::UnknownMemberId,
            ANY,
            Done,
            "AC LeaveGroup: logged (the coordinator no longer has the member)",
        ),
        row(
            Leave,
            E::FencedInstanceId,
            ANY,
            Done,
            "AC LeaveGroup: logged",
        ),
        row(
            Leave,
            E::UnknownServerError,
            ANY,
            Done,
            "AC LeaveGroup: logged",
        ),
    ]
}

/// The codes `LeaveGroupResponseHandler.handle` names: `NONE`, or any error (logged).
pub(super) const JAVA_NAMED: &[ErrorCode] = &[E::None];

/// The "Possible error codes" of `LeaveGroupResponse`: top level, then member level.
pub(super) const DOCUMENTED: &[ErrorCode] = &[
    E::CoordinatorLoadInProgress,
    E::CoordinatorNotAvailable,
    E::NotCoordinator,
    E::GroupAuthorizationFailed,
    E::UnknownMemberId,
    E::FencedInstanceId,
];

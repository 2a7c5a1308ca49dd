//! The group coordinator hook.
//!
//! **Integration point.** The sans-io group coordinator (`mock::group`) is written separately;
//! until it is wired in, every group API — FindCoordinator, JoinGroup, SyncGroup, Heartbeat,
//! LeaveGroup, OffsetCommit, OffsetFetch, DescribeGroups, ListGroups and ConsumerGroupHeartbeat
//! — is answered here with `COORDINATOR_NOT_AVAILABLE` at every level of its response.
//! The integration replaces the [`Handle`] impls below (and nothing else in the dispatch).

use gregor_protocol::ErrorCode;
use gregor_protocol::messages::*;

use super::{Ctx, Handle, Reply};
use crate::mock::error_response::ErrorResponse;

/// The answer of every group API until the coordinator is wired in.
pub(crate) const GROUP_STUB_ERROR: ErrorCode = ErrorCode::CoordinatorNotAvailable;

macro_rules! stub {
    ($($req:ty => $resp:ty),* $(,)?) => {$(
        impl Handle for $req {
            fn handle(self, cx: &mut Ctx<'_>) -> Reply<$resp> {
                Reply::Respond(self.error_response(cx.version, GROUP_STUB_ERROR))
            }
        }
    )*};
}

stub! {
    FindCoordinatorRequest => FindCoordinatorResponse,
    JoinGroupRequest => JoinGroupResponse,
    SyncGroupRequest => SyncGroupResponse,
    HeartbeatRequest => HeartbeatResponse,
    LeaveGroupRequest => LeaveGroupResponse,
    OffsetCommitRequest => OffsetCommitResponse,
    OffsetFetchRequest => OffsetFetchResponse,
    DescribeGroupsRequest => DescribeGroupsResponse,
    ListGroupsRequest => ListGroupsResponse,
    ConsumerGroupHeartbeatRequest => ConsumerGroupHeartbeatResponse,
}

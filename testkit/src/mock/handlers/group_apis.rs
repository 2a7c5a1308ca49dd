//! The group APIs, answered by the cluster's [`GroupCoordinator`](crate::mock::group) (one
//! module per API lives there: `mock::group::join_group`, ...). This module only adapts them to
//! the dispatch: it builds the coordinator's [`RequestCtx`] from the handler's [`Ctx`] and the
//! cluster's topology, and turns a parked JoinGroup or SyncGroup ([`group::Reply::Later`]) into
//! [`Reply::Group`], whose response the connection task receives when the coordinator
//! completes the ticket (see `mock::conn`).
//!
//! ConsumerGroupHeartbeat and ConsumerGroupDescribe (KIP-848) go to the same coordinator, which
//! hands them to its consumer group part (`mock::consumer_group`).

use gregor_protocol::messages::*;

use super::{Ctx, Handle, Reply};
use crate::mock::group::{self, GroupCoordinator, RequestCtx};

/// Runs `f` with the group coordinator and a [`RequestCtx`] for this request.
fn with_coordinator<T>(
    cx: &mut Ctx<'_>,
    f: impl FnOnce(&mut GroupCoordinator, &RequestCtx<'_>) -> T,
) -> T {
    let (broker, version, now) = (cx.broker, cx.version, cx.now);
    let (client_id, client_host) = (cx.client_id, cx.client_host);
    let (groups, topology) = cx.state.groups_and_topology();
    let ctx = RequestCtx {
        broker_id: broker,
        api_version: version,
        client_id,
        client_host,
        now,
        topology: &topology,
    };
    f(groups, &ctx)
}

fn deferred<R>(reply: group::Reply<R>) -> Reply<R> {
    match reply {
        group::Reply::Now(resp) => Reply::Respond(resp),
        group::Reply::Later(ticket) => Reply::Group(ticket),
    }
}

impl Handle for FindCoordinatorRequest {
    fn handle(self, cx: &mut Ctx<'_>) -> Reply<FindCoordinatorResponse> {
        Reply::Respond(with_coordinator(cx, |c, ctx| {
            c.handle_find_coordinator(ctx, &self)
        }))
    }
}

impl Handle for JoinGroupRequest {
    fn handle(self, cx: &mut Ctx<'_>) -> Reply<JoinGroupResponse> {
        deferred(with_coordinator(cx, |c, ctx| {
            c.handle_join_group(ctx, &self)
        }))
    }
}

impl Handle for SyncGroupRequest {
    fn handle(self, cx: &mut Ctx<'_>) -> Reply<SyncGroupResponse> {
        deferred(with_coordinator(cx, |c, ctx| {
            c.handle_sync_group(ctx, &self)
        }))
    }
}

impl Handle for HeartbeatRequest {
    fn handle(self, cx: &mut Ctx<'_>) -> Reply<HeartbeatResponse> {
        Reply::Respond(with_coordinator(cx, |c, ctx| {
            c.handle_heartbeat(ctx, &self)
        }))
    }
}

impl Handle for LeaveGroupRequest {
    fn handle(self, cx: &mut Ctx<'_>) -> Reply<LeaveGroupResponse> {
        Reply::Respond(with_coordinator(cx, |c, ctx| {
            c.handle_leave_group(ctx, &self)
        }))
    }
}

impl Handle for OffsetCommitRequest {
    fn handle(self, cx: &mut Ctx<'_>) -> Reply<OffsetCommitResponse> {
        Reply::Respond(with_coordinator(cx, |c, ctx| {
            c.handle_offset_commit(ctx, &self)
        }))
    }
}

impl Handle for OffsetFetchRequest {
    fn handle(self, cx: &mut Ctx<'_>) -> Reply<OffsetFetchResponse> {
        Reply::Respond(with_coordinator(cx, |c, ctx| {
            c.handle_offset_fetch(ctx, &self)
        }))
    }
}

impl Handle for DescribeGroupsRequest {
    fn handle(self, cx: &mut Ctx<'_>) -> Reply<DescribeGroupsResponse> {
        Reply::Respond(with_coordinator(cx, |c, ctx| {
            c.handle_describe_groups(ctx, &self)
        }))
    }
}

impl Handle for ListGroupsRequest {
    fn handle(self, cx: &mut Ctx<'_>) -> Reply<ListGroupsResponse> {
        Reply::Respond(with_coordinator(cx, |c, ctx| {
            c.handle_list_groups(ctx, &self)
        }))
    }
}

impl Handle for ConsumerGroupHeartbeatRequest {
    fn handle(self, cx: &mut Ctx<'_>) -> Reply<ConsumerGroupHeartbeatResponse> {
        Reply::Respond(with_coordinator(cx, |c, ctx| {
            c.handle_consumer_group_heartbeat(ctx, &self)
        }))
    }
}

impl Handle for ConsumerGroupDescribeRequest {
    fn handle(self, cx: &mut Ctx<'_>) -> Reply<ConsumerGroupDescribeResponse> {
        Reply::Respond(with_coordinator(cx, |c, ctx| {
            c.handle_consumer_group_describe(ctx, &self)
        }))
    }
}

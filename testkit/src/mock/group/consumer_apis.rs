//! The KIP-848 APIs (ConsumerGroupHeartbeat, ConsumerGroupDescribe) on the coordinator, and
//! where a group id names a group of the other protocol: an empty group of one type becomes a
//! group of the other (offsets kept), as Kafka converts empty groups; a non-empty one is
//! answered as Kafka answers when it cannot convert it.

use std::collections::BTreeMap;

use gregor_protocol::ErrorCode;
use gregor_protocol::messages::{
    ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse, ConsumerGroupHeartbeatRequest,
    ConsumerGroupHeartbeatResponse,
};

use super::state::Group;
use super::{GroupCoordinator, GroupState, RequestCtx};
use crate::mock::consumer_group::{ConsumerGroup, ConsumerGroups};

impl GroupCoordinator {
    /// ConsumerGroupHeartbeat (key 68, v0-1, KIP-848).
    pub fn handle_consumer_group_heartbeat(
        &mut self,
        ctx: &RequestCtx<'_>,
        req: &ConsumerGroupHeartbeatRequest,
    ) -> ConsumerGroupHeartbeatResponse {
        self.advance(ctx.now);
        let failed = |code: ErrorCode, message: String| ConsumerGroupHeartbeatResponse {
            error_code: code.code(),
            error_message: Some(message),
            ..Default::default()
        };
        if !ctx.coordinates(&req.group_id) {
            return failed(
                ErrorCode::NotCoordinator,
                "This is not the correct coordinator.".into(),
            );
        }
        if let Err((code, message)) = ConsumerGroups::validate(req, ctx.api_version) {
            return failed(code, message);
        }
        if let Some(classic) = self.groups.get(&req.group_id) {
            let empty = classic.state == GroupState::Empty;
            if !empty || req.member_epoch != 0 {
                // Kafka converts a classic group with members (online upgrade); not here.
                return failed(
                    ErrorCode::GroupIdNotFound,
                    format!("Group {} is not a consumer group.", req.group_id),
                );
            }
            // An empty classic group becomes a consumer group; its offsets stay.
            if let Some(classic) = self.groups.remove(&req.group_id) {
                let mut g = ConsumerGroup::new(&req.group_id);
                g.offsets = classic.offsets;
                self.consumer.groups.insert(req.group_id.clone(), g);
            }
        }
        let topics = ctx.topology.topics();
        let client = (ctx.client_id, ctx.client_host);
        let resp = self.consumer.heartbeat(ctx.now, client, &topics, req);
        self.advance(ctx.now);
        resp
    }

    /// ConsumerGroupDescribe (key 69, v0-1, KIP-848).
    pub fn handle_consumer_group_describe(
        &mut self,
        ctx: &RequestCtx<'_>,
        req: &ConsumerGroupDescribeRequest,
    ) -> ConsumerGroupDescribeResponse {
        self.advance(ctx.now);
        let topics = ctx.topology.topics();
        let groups = req
            .group_ids
            .iter()
            .map(|id| {
                let error = |code: ErrorCode| {
                    gregor_protocol::messages::consumer_group_describe::DescribedGroup {
                        error_code: code.code(),
                        group_id: id.clone(),
                        ..Default::default()
                    }
                };
                if !ctx.coordinates(id) {
                    return error(ErrorCode::NotCoordinator);
                }
                if id.is_empty() {
                    return error(ErrorCode::InvalidGroupId);
                }
                if self.groups.contains_key(id) {
                    return ConsumerGroups::describe_not_consumer(id);
                }
                self.consumer.describe(
                    id,
                    ctx.api_version,
                    req.include_authorized_operations,
                    &topics,
                )
            })
            .collect();
        ConsumerGroupDescribeResponse {
            groups,
            ..Default::default()
        }
    }

    /// Before a classic JoinGroup: an empty consumer group becomes a classic group (offsets
    /// kept); `Err` answers a join to a consumer group with members, which Kafka would take
    /// into the consumer group (a classic member of a consumer group; not here):
    /// `INCONSISTENT_GROUP_PROTOCOL`, as Kafka answers for a group it cannot join.
    pub(super) fn classic_join_allowed(&mut self, group_id: &str) -> Result<(), ErrorCode> {
        let Some(g) = self.consumer.groups.get(group_id) else {
            return Ok(());
        };
        if !g.members.is_empty() {
            return Err(ErrorCode::InconsistentGroupProtocol);
        }
        if let Some(g) = self.consumer.groups.remove(group_id) {
            let mut classic = Group::new(group_id);
            classic.offsets = g.offsets;
            self.groups.insert(group_id.to_owned(), classic);
        }
        Ok(())
    }

    /// The consumer group `group_id`, if it is one.
    pub(super) fn consumer_group(&self, group_id: &str) -> Option<&ConsumerGroup> {
        self.consumer.groups.get(group_id)
    }

    /// The consumer group `group_id`, mutably, if it is one.
    pub(super) fn consumer_group_mut(&mut self, group_id: &str) -> Option<&mut ConsumerGroup> {
        self.consumer.groups.get_mut(group_id)
    }

    /// The consumer groups this broker coordinates, as ListGroups lists them:
    /// `(id, state name)`.
    pub(super) fn listed_consumer_groups(&self, ctx: &RequestCtx<'_>) -> BTreeMap<String, String> {
        self.consumer
            .groups
            .values()
            .filter(|g| ctx.coordinates(&g.id))
            .map(|g| (g.id.clone(), g.state().as_str().to_owned()))
            .collect()
    }
}

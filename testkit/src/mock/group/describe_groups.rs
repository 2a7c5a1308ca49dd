//! DescribeGroups (key 15): state, protocol and members of groups.

use gregor_protocol::ErrorCode;
use gregor_protocol::messages::describe_groups::{DescribedGroup, DescribedGroupMember};
use gregor_protocol::messages::{DescribeGroupsRequest, DescribeGroupsResponse};

use super::state::Group;
use super::{GroupCoordinator, GroupState, RequestCtx};

/// The operations a group's ACLs can grant (READ, DELETE, DESCRIBE, as bits of Kafka's
/// `AclOperation` codes); everything is allowed in the mock cluster.
const GROUP_OPERATIONS: i32 = (1 << 3) | (1 << 6) | (1 << 8);

pub(super) fn handle(
    c: &GroupCoordinator,
    ctx: &RequestCtx<'_>,
    req: &DescribeGroupsRequest,
) -> DescribeGroupsResponse {
    let v = ctx.api_version;
    let operations = if v >= 3 && req.include_authorized_operations {
        GROUP_OPERATIONS
    } else {
        i32::MIN
    };
    let groups = req
        .groups
        .iter()
        .map(|id| {
            let failed = |e: ErrorCode| DescribedGroup {
                error_code: e.code(),
                group_id: id.clone(),
                ..Default::default()
            };
            if !ctx.coordinates(id) {
                return failed(ErrorCode::NotCoordinator);
            }
            if id.is_empty() {
                return failed(ErrorCode::InvalidGroupId);
            }
            match c.groups.get(id) {
                Some(g) => DescribedGroup {
                    authorized_operations: operations,
                    ..describe(g, v)
                },
                // A group that does not exist is Dead; v6 also says so with an error.
                None => DescribedGroup {
                    error_code: if v >= 6 {
                        ErrorCode::GroupIdNotFound.code()
                    } else {
                        0
                    },
                    error_message: (v >= 6).then(|| format!("Group {id} not found.")),
                    group_id: id.clone(),
                    group_state: GroupState::Dead.as_str().to_owned(),
                    ..Default::default()
                },
            }
        })
        .collect();
    DescribeGroupsResponse {
        groups,
        ..Default::default()
    }
}

/// A group as DescribeGroups shows it: member metadata and assignments only when `Stable`.
fn describe(g: &Group, v: i16) -> DescribedGroup {
    let stable = g.state == GroupState::Stable;
    let protocol = g.protocol_name.as_deref().filter(|_| stable);
    DescribedGroup {
        group_id: g.id.clone(),
        group_state: g.state.as_str().to_owned(),
        protocol_type: g.protocol_type.clone().unwrap_or_default(),
        protocol_data: protocol.unwrap_or_default().to_owned(),
        members: g
            .members
            .iter()
            .map(|m| DescribedGroupMember {
                member_id: m.id.clone(),
                group_instance_id: m.instance_id.clone().filter(|_| v >= 4),
                client_id: m.client_id.clone(),
                client_host: m.client_host.clone(),
                member_metadata: if stable {
                    m.metadata(protocol)
                } else {
                    Default::default()
                },
                member_assignment: if stable {
                    m.assignment.clone()
                } else {
                    Default::default()
                },
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

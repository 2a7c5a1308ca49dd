//! ListGroups (key 16): the groups the receiving broker coordinates, filtered by state (v4+)
//! and type (v5+).

use gregor_protocol::messages::list_groups::ListedGroup;
use gregor_protocol::messages::{ListGroupsRequest, ListGroupsResponse};

use super::{GroupCoordinator, GroupState, RequestCtx};

/// The type of classic groups.
const CLASSIC: &str = "classic";
/// The type (and protocol type) of KIP-848 groups.
const CONSUMER: &str = "consumer";

pub(super) fn handle(
    c: &GroupCoordinator,
    ctx: &RequestCtx<'_>,
    req: &ListGroupsRequest,
) -> ListGroupsResponse {
    let v = ctx.api_version;
    let lower = |filter: &[String]| -> Vec<String> {
        filter.iter().map(|s| s.to_ascii_lowercase()).collect()
    };
    let states = if v >= 4 {
        lower(&req.states_filter)
    } else {
        Vec::new()
    };
    let types = if v >= 5 {
        lower(&req.types_filter)
    } else {
        Vec::new()
    };
    let consumer = c
        .listed_consumer_groups(ctx)
        .into_iter()
        .filter(|(_, state)| states.is_empty() || states.contains(&state.to_ascii_lowercase()))
        .filter(|_| types.is_empty() || types.iter().any(|t| t == CONSUMER))
        .map(|(id, state)| ListedGroup {
            group_id: id,
            protocol_type: CONSUMER.to_owned(),
            group_state: if v >= 4 { state } else { String::new() },
            group_type: if v >= 5 {
                CONSUMER.to_owned()
            } else {
                String::new()
            },
            ..Default::default()
        });
    let mut groups: Vec<ListedGroup> = c
        .groups
        .values()
        .filter(|g| g.state != GroupState::Dead && ctx.coordinates(&g.id))
        .filter(|g| states.is_empty() || states.contains(&g.state.as_str().to_ascii_lowercase()))
        .filter(|_| types.is_empty() || types.iter().any(|t| t == CLASSIC))
        .map(|g| ListedGroup {
            group_id: g.id.clone(),
            protocol_type: g.protocol_type.clone().unwrap_or_default(),
            group_state: if v >= 4 {
                g.state.as_str().to_owned()
            } else {
                String::new()
            },
            group_type: if v >= 5 {
                CLASSIC.to_owned()
            } else {
                String::new()
            },
            ..Default::default()
        })
        .chain(consumer)
        .collect();
    groups.sort_by(|a, b| a.group_id.cmp(&b.group_id));
    ListGroupsResponse {
        groups,
        ..Default::default()
    }
}

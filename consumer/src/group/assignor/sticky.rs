//! Kafka's `sticky` assignor: balanced, and moving as few partitions as it can.
//!
//! [`StickyAssignor`] gives the same assignment as Java's
//! `org.apache.kafka.clients.consumer.StickyAssignor` (kafka-clients 4.1) for the same group:
//! the numbers of partitions of two members differ by at most one where their subscriptions
//! allow it, and members keep as many of their previous partitions as that leaves them.
//! Assignment is rack-aware (KIP-881) when members and partitions have racks.
//!
//! It is an eager assignor: members give up everything before they rejoin, so what a member
//! owned comes back to the leader in its user data ([`super::sticky_user_data`]), written by
//! [`Assignor::user_data`]: its last assignment and that assignment's generation.
//!
//! When all members subscribe to the same topics the assignment is Java's "constrained" one
//! (quotas filled round robin), otherwise its "general" one (partitions moved one at a time
//! until balanced). Both walk Java's hash maps and sets in Java's iteration order, which is what
//! makes the outputs equal: Java puts the members in a `HashMap` in the order the coordinator
//! lists them, and here that order is the order of [`AssignmentInput::members`] (a Java caller
//! filling a `new HashMap<>()` in that order gets the same result). A Java assignor instance
//! also remembers the highest generation it ever saw across calls; this one is stateless, as a
//! fresh Java instance.

use std::collections::HashMap;

use bytes::Bytes;

use super::sticky_common::{Flavor, Group, Member, Tp, ownership};
use super::sticky_user_data::encode_sticky;
use super::{AssignError, AssignmentInput, Assignor, GroupAssignment, SubscriptionContext};
use super::{sticky_balance, sticky_constrained};

/// The `sticky` assignor (eager rebalancing). See the [module](self) documentation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StickyAssignor;

impl StickyAssignor {
    /// The assignor.
    pub fn new() -> Self {
        StickyAssignor
    }
}

impl Assignor for StickyAssignor {
    fn name(&self) -> &str {
        Flavor::Sticky.name()
    }

    /// The member's last assignment (`owned_partitions`) and its generation, as Java's
    /// `StickyAssignor` writes them (version 1). A member that was never assigned (generation
    /// -1, nothing owned) sends none, as Java's does before its first assignment.
    fn user_data(&self, context: &SubscriptionContext<'_>) -> Option<Bytes> {
        if context.generation < 0 && context.owned_partitions.is_empty() {
            return None;
        }
        encode_sticky(context.owned_partitions, context.generation).ok()
    }

    fn assign(&self, input: &AssignmentInput) -> Result<GroupAssignment, AssignError> {
        match run(input, Flavor::Sticky)? {
            Some(run) => Ok(run.group.output(&run.lists)),
            None => Ok(GroupAssignment::new()),
        }
    }
}

/// One run of the shared algorithm.
#[derive(Debug)]
pub(super) struct Run<'a> {
    /// The group.
    pub(super) group: Group<'a>,
    /// Each member's partitions, in the order assigned.
    pub(super) lists: Vec<Vec<Tp>>,
    /// For the constrained algorithm, the partitions given to a member other than their
    /// previous owner (with that member); `None` after the general algorithm.
    pub(super) transferring: Option<HashMap<Tp, Member>>,
}

/// Runs Java's `AbstractStickyAssignor.assignPartitions` for `flavor`; `None` for a group with
/// no member.
pub(super) fn run(input: &AssignmentInput, flavor: Flavor) -> Result<Option<Run<'_>>, AssignError> {
    let Some(group) = Group::new(input, flavor) else {
        return Ok(None);
    };
    let ownership = ownership(&group);
    let (lists, transferring) = if ownership.all_equal {
        let out = sticky_constrained::assign(&group, &ownership).map_err(|e| flavor.error(e))?;
        (out.lists, Some(out.transferring))
    } else {
        let lists = sticky_balance::assign(&group, &ownership).map_err(|e| flavor.error(e))?;
        (lists, None)
    };
    Ok(Some(Run {
        group,
        lists,
        transferring,
    }))
}

//! Kafka's `cooperative-sticky` assignor: the sticky assignment, for cooperative rebalancing.
//!
//! [`CooperativeStickyAssignor`] gives the same assignment as Java's
//! `org.apache.kafka.clients.consumer.CooperativeStickyAssignor` (kafka-clients 4.1). It runs
//! the algorithm of [`super::sticky`], with one difference in the input and one in the output:
//!
//! - a member's previous partitions are the owned partitions of its subscription, and their
//!   generation the subscription's (or, for a subscription older than version 2, the generation
//!   in the member's user data, which [`Assignor::user_data`] writes);
//! - a partition that moves from one member to another is left out of the new owner's
//!   assignment: its old owner revokes it this round, and the next round (which its revocation
//!   triggers) assigns it. So no partition is ever owned by two members.

use std::collections::{HashMap, HashSet};

use bytes::Bytes;

use super::sticky::run;
use super::sticky_common::{Flavor, Member, Tp};
use super::sticky_user_data::encode_cooperative;
use super::{
    AssignError, AssignmentInput, Assignor, GroupAssignment, RebalanceProtocol, SubscriptionContext,
};

/// The `cooperative-sticky` assignor. See the [module](self) documentation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CooperativeStickyAssignor;

impl CooperativeStickyAssignor {
    /// The assignor.
    pub fn new() -> Self {
        CooperativeStickyAssignor
    }
}

impl Assignor for CooperativeStickyAssignor {
    fn name(&self) -> &str {
        Flavor::Cooperative.name()
    }

    /// Eager and cooperative, cooperative preferred.
    fn supported_protocols(&self) -> &[RebalanceProtocol] {
        &[RebalanceProtocol::Eager, RebalanceProtocol::Cooperative]
    }

    /// The member's generation, as Java's `CooperativeStickyAssignor` writes it.
    fn user_data(&self, context: &SubscriptionContext<'_>) -> Option<Bytes> {
        Some(encode_cooperative(context.generation))
    }

    fn assign(&self, input: &AssignmentInput) -> Result<GroupAssignment, AssignError> {
        let Some(run) = run(input, Flavor::Cooperative)? else {
            return Ok(GroupAssignment::new());
        };
        let mut lists = run.lists;
        let transferring = match run.transferring {
            Some(t) => t,
            None => transferring(&run.group, &lists),
        };
        for (tp, m) in transferring {
            if let Some(list) = lists.get_mut(m) {
                if let Some(at) = list.iter().position(|&x| x == tp) {
                    list.remove(at);
                }
            }
        }
        Ok(run.group.output(&lists))
    }
}

/// Java's `computePartitionsTransferringOwnership`: the partitions assigned to a member that
/// did not own them and that another member owned and is not assigned.
fn transferring(group: &super::sticky_common::Group<'_>, lists: &[Vec<Tp>]) -> HashMap<Tp, Member> {
    let mut added: HashMap<Tp, Member> = HashMap::new();
    let mut revoked: HashSet<Tp> = HashSet::new();
    for &m in &group.owned_order {
        let (Some(sub), Some(list)) = (group.members.get(m), lists.get(m)) else {
            continue;
        };
        let owned: Vec<Tp> = sub
            .owned_partitions
            .iter()
            .filter_map(|tp| group.topics.claim(tp))
            .collect();
        let owned_set: HashSet<Tp> = owned.iter().copied().collect();
        for &tp in list {
            if !owned_set.contains(&tp) {
                added.insert(tp, m);
            }
        }
        let assigned: HashSet<Tp> = list.iter().copied().collect();
        revoked.extend(owned.into_iter().filter(|tp| !assigned.contains(tp)));
    }
    added.retain(|tp, _| revoked.contains(tp));
    added
}

//! Assignors: the group leader's choice of which member reads which partition.
//!
//! The leader of a classic group receives every member's subscription (what the member put in
//! its JoinGroup metadata, a `ConsumerProtocolSubscription`) and hands each member a list of
//! partitions in SyncGroup. An [`Assignor`] is that choice as a pure function of an
//! [`AssignmentInput`]: the members ([`MemberSubscription`], in the coordinator's order) and the
//! partitions of every subscribed topic with the racks of their replicas
//! ([`AssignmentInput::topics`]). It returns a [`GroupAssignment`].
//!
//! An assignor is stateless: what a sticky assignor needs from the previous round comes back
//! to it in each member's subscription (owned partitions, generation, user data), and the
//! member writes its user data with [`Assignor::user_data`] from what it owns.
//!
//! Built-in assignors are named as Kafka names them (`range`, `roundrobin`, `sticky`,
//! `cooperative-sticky`), so they share groups with Java's and librdkafka's members.

pub mod cooperative_sticky;
mod java_order;
pub mod sticky;
mod sticky_balance;
mod sticky_common;
mod sticky_constrained;
#[cfg(test)]
mod sticky_tests;
pub mod sticky_user_data;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use gregor_protocol::TopicPartition;

pub mod range;
pub mod round_robin;

/// How a group moves partitions between members during a rebalance (KIP-429).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RebalanceProtocol {
    /// Every member gives up all its partitions before the group rejoins.
    Eager,
    /// Members keep what they own; only partitions that move are revoked, and a second round
    /// assigns them to their new owners.
    Cooperative,
}

/// One member's subscription as the leader sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberSubscription {
    /// The member id the coordinator gave the member.
    pub member_id: String,
    /// The member's `group.instance.id`, for static members (KIP-345).
    pub instance_id: Option<String>,
    /// The topics the member subscribes to.
    pub topics: Vec<String>,
    /// The partitions the member owns now (subscription v1+; empty for eager members).
    pub owned_partitions: Vec<TopicPartition>,
    /// The generation in which the member was assigned `owned_partitions` (v2+), -1 if unknown.
    pub generation: i32,
    /// The member's rack (`client.rack`, v3+).
    pub rack: Option<String>,
    /// The assignor-specific user data the member sent.
    pub user_data: Option<Bytes>,
}

impl MemberSubscription {
    /// A subscription to `topics` that owns nothing, with no rack or user data.
    pub fn new<I, S>(member_id: impl Into<String>, topics: I) -> MemberSubscription
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        MemberSubscription {
            member_id: member_id.into(),
            instance_id: None,
            topics: topics.into_iter().map(Into::into).collect(),
            owned_partitions: Vec::new(),
            generation: -1,
            rack: None,
            user_data: None,
        }
    }
}

/// One partition as an assignor sees it: the racks of its replicas (empty when the brokers
/// have no rack), for rack-aware assignment (KIP-881).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartitionRacks {
    /// The distinct racks of the partition's replicas, in any order.
    pub racks: Vec<String>,
}

/// What the leader knows when it assigns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AssignmentInput {
    /// Every member of the group, in the order the coordinator listed them in JoinGroup's
    /// response (Java's leader keeps that order too; an assignor that needs another sorts).
    pub members: Vec<MemberSubscription>,
    /// Every topic some member subscribes to that exists in the metadata, with one entry per
    /// partition (index = partition id). A subscribed topic missing here is not assigned.
    pub topics: BTreeMap<String, Vec<PartitionRacks>>,
}

impl AssignmentInput {
    /// Whether any partition has rack information and any member has a rack: rack-aware
    /// assignors only then take racks into account.
    pub fn racks_known(&self) -> bool {
        self.members.iter().any(|m| m.rack.is_some())
            && self
                .topics
                .values()
                .any(|parts| parts.iter().any(|p| !p.racks.is_empty()))
    }
}

/// What one member is given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberAssignment {
    /// The partitions, in the order the assignor chose.
    pub partitions: Vec<TopicPartition>,
    /// Assignor-specific user data for the member.
    pub user_data: Option<Bytes>,
}

/// The leader's answer: every member id of the input with its assignment (possibly empty).
pub type GroupAssignment = BTreeMap<String, MemberAssignment>;

/// Why an assignor could not assign.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AssignError {
    /// A member's user data did not decode as this assignor's schema.
    #[error("member {member_id}: user data of assignor {assignor} does not decode")]
    BadUserData {
        /// The assignor's name.
        assignor: String,
        /// The member that sent it.
        member_id: String,
    },
    /// An assignor written by the application failed.
    #[error("assignor {assignor}: {reason}")]
    Custom {
        /// The assignor's name.
        assignor: String,
        /// What went wrong.
        reason: String,
    },
}

/// What a member knows about itself when it writes its subscription's user data.
#[derive(Debug, Clone, Copy)]
pub struct SubscriptionContext<'a> {
    /// The topics it subscribes to.
    pub topics: &'a [String],
    /// The partitions it owns now.
    pub owned_partitions: &'a [TopicPartition],
    /// The generation those were assigned in, -1 if none.
    pub generation: i32,
}

/// A partition assignment strategy. Implement it for a custom assignor; the built-in ones are
/// [`builtin`] by name.
pub trait Assignor: fmt::Debug + Send + Sync {
    /// The protocol name members vote on in JoinGroup (Java's `name()`).
    fn name(&self) -> &str;

    /// The rebalance protocols this assignor supports, most preferred last (as Java's
    /// `supportedProtocols`). The group uses the highest protocol every member's chosen
    /// assignor supports.
    fn supported_protocols(&self) -> &[RebalanceProtocol] {
        &[RebalanceProtocol::Eager]
    }

    /// The user data a member sends with its subscription. The default sends none.
    fn user_data(&self, _context: &SubscriptionContext<'_>) -> Option<Bytes> {
        None
    }

    /// Assigns every partition of `input.topics` to members subscribed to its topic.
    fn assign(&self, input: &AssignmentInput) -> Result<GroupAssignment, AssignError>;
}

/// A shareable assignor.
pub type SharedAssignor = Arc<dyn Assignor>;

/// The built-in assignor Kafka calls `name` (`range`, `roundrobin`, `sticky`,
/// `cooperative-sticky`), if gregor has it.
pub fn builtin(name: &str) -> Option<SharedAssignor> {
    match name {
        range::RangeAssignor::NAME => Some(Arc::new(range::RangeAssignor)),
        round_robin::RoundRobinAssignor::NAME => Some(Arc::new(round_robin::RoundRobinAssignor)),
        "sticky" => Some(Arc::new(sticky::StickyAssignor::new())),
        "cooperative-sticky" => Some(Arc::new(
            cooperative_sticky::CooperativeStickyAssignor::new(),
        )),
        _ => None,
    }
}

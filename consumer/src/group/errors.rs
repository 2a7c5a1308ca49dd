//! The group consumer's one error table: what a member does about each error code of the
//! group APIs ([`reaction`]), and the errors an application sees ([`GroupError`]).
//!
//! Every error code a coordinator returns to FindCoordinator, JoinGroup, SyncGroup, Heartbeat,
//! LeaveGroup, OffsetCommit or OffsetFetch goes through [`reaction`], which returns a
//! [`Reaction`]: done, find the coordinator again, back off and retry, rejoin (keeping or
//! resetting the member id and generation), fail a commit in a typed way, report a partition,
//! or stop ([`Reaction::Fatal`]). No other code in the group consumer keeps a list of codes.
//!
//! The table follows Java's consumer (`AbstractCoordinator`'s `FindCoordinatorResponseHandler`,
//! `JoinGroupResponseHandler`, `SyncGroupResponseHandler`, `HeartbeatResponseHandler`,
//! `LeaveGroupResponseHandler`; `ConsumerCoordinator`'s `OffsetCommitResponseHandler` and
//! `OffsetFetchResponseHandler`) code by code; `errors_tests/` holds Java's handling
//! transcribed as data and checks the table against it. Where gregor differs, on purpose:
//!
//! - a commit that meets `ILLEGAL_GENERATION` while the member is rebalancing keeps the
//!   assignment and fails with [`GroupError::RebalanceInProgress`] (librdkafka#4059, fixed by
//!   librdkafka PR #4908: dropping the assignment there broke cooperative rebalances);
//! - a stale commit answer (see [`ReactionContext::generation_changed`]) never resets the
//!   member's current generation;
//! - a code Java's JoinGroup, SyncGroup or OffsetCommit handler does not expect but Kafka
//!   classes retriable is retried after the backoff instead of being thrown to the
//!   application (`COORDINATOR_LOAD_IN_PROGRESS` on SyncGroup, `REQUEST_TIMED_OUT` on
//!   JoinGroup, ...);
//! - [`Reaction::Rediscover`] looks the coordinator up at once; Java's join and commit loops
//!   first sleep `retry.backoff.ms` (its heartbeat thread does not);
//! - OffsetCommit and OffsetFetch failures of single partitions are reported per partition
//!   ([`Reaction::PartitionError`]) instead of failing the whole call.
//!
//! # Codes no handler names
//! A code that the API's row does not name gets that API's default:
//!
//! | API | retriable code ([`ErrorCode::is_retriable`]) | any other code |
//! |---|---|---|
//! | FindCoordinator, JoinGroup, SyncGroup | [`Reaction::Backoff`] | [`Reaction::Fatal`] ([`FatalKind::Other`]) |
//! | Heartbeat | [`Reaction::Backoff`] | [`Reaction::Backoff`] (Java's heartbeat thread retries every failure it does not name) |
//! | LeaveGroup | [`Reaction::Done`] | [`Reaction::Done`] (leaving is best effort, never resent) |
//! | OffsetCommit, OffsetFetch | [`Reaction::Backoff`] | [`Reaction::PartitionError`] (the call fails for those partitions; the membership is untouched) |
//!
//! # Not error codes
//! A lost connection to the coordinator is [`Reaction::Rediscover`] for every API (Java's
//! `CoordinatorResponseHandler.onFailure` marks the coordinator unknown on a disconnect); a
//! request that timed out without an answer is retried like [`Reaction::Backoff`].

use std::fmt;
use std::time::Duration;

use gregor_client::ClientError;
use gregor_protocol::{ApiKey, ErrorCode, TopicPartition};

use super::assignor::AssignError;

/// A group API whose error codes the table covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GroupApi {
    /// FindCoordinator (key type group): which broker coordinates the group.
    FindCoordinator,
    /// JoinGroup: (re)joining a round of the group.
    JoinGroup,
    /// SyncGroup: receiving the assignment of the round (the leader also sends it).
    SyncGroup,
    /// Heartbeat: staying in the group between rounds.
    Heartbeat,
    /// LeaveGroup: leaving the group on close or when polling stopped.
    LeaveGroup,
    /// OffsetCommit with the member's generation.
    OffsetCommit,
    /// OffsetFetch: the group's committed offsets.
    OffsetFetch,
    /// ConsumerGroupHeartbeat (KIP-848): joining, staying in and leaving a group of the
    /// consumer protocol, where the coordinator assigns.
    ConsumerGroupHeartbeat,
}

impl GroupApi {
    /// Every group API, in the order above.
    pub const ALL: [GroupApi; 8] = [
        GroupApi::FindCoordinator,
        GroupApi::JoinGroup,
        GroupApi::SyncGroup,
        GroupApi::Heartbeat,
        GroupApi::LeaveGroup,
        GroupApi::OffsetCommit,
        GroupApi::OffsetFetch,
        GroupApi::ConsumerGroupHeartbeat,
    ];

    /// The API's key on the wire.
    pub const fn api_key(self) -> ApiKey {
        match self {
            GroupApi::FindCoordinator => ApiKey::FindCoordinator,
            GroupApi::JoinGroup => ApiKey::JoinGroup,
            GroupApi::SyncGroup => ApiKey::SyncGroup,
            GroupApi::Heartbeat => ApiKey::Heartbeat,
            GroupApi::LeaveGroup => ApiKey::LeaveGroup,
            GroupApi::OffsetCommit => ApiKey::OffsetCommit,
            GroupApi::OffsetFetch => ApiKey::OffsetFetch,
            GroupApi::ConsumerGroupHeartbeat => ApiKey::ConsumerGroupHeartbeat,
        }
    }

    /// Kafka's name of the API (`"JoinGroup"`).
    pub const fn name(self) -> &'static str {
        match self {
            GroupApi::FindCoordinator => "FindCoordinator",
            GroupApi::JoinGroup => "JoinGroup",
            GroupApi::SyncGroup => "SyncGroup",
            GroupApi::Heartbeat => "Heartbeat",
            GroupApi::LeaveGroup => "LeaveGroup",
            GroupApi::OffsetCommit => "OffsetCommit",
            GroupApi::OffsetFetch => "OffsetFetch",
            GroupApi::ConsumerGroupHeartbeat => "ConsumerGroupHeartbeat",
        }
    }
}

impl fmt::Display for GroupApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What the member knows when an answer arrives that changes the reaction to its code.
///
/// The default (all false) is a dynamic member that is not rebalancing, answered for the
/// generation it is in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ReactionContext {
    /// The member has started (re)joining and has not yet received its assignment: it sent
    /// JoinGroup, or is waiting for SyncGroup (Java's `PREPARING_REBALANCE` and
    /// `COMPLETING_REBALANCE`). A heartbeat's `REBALANCE_IN_PROGRESS` is then expected, and a
    /// commit's `ILLEGAL_GENERATION` means the round moved on, not that the partitions went
    /// elsewhere.
    pub rebalancing: bool,
    /// The member has a `group.instance.id` (KIP-345). No Java handler reacts to a code
    /// differently for a static member (what differs is that a static member does not send
    /// LeaveGroup by default, see
    /// [`GroupConfig::leaves_group_on_close`](super::config::GroupConfig::leaves_group_on_close));
    /// the table keeps it so that a row could, and its test checks that none does.
    pub static_member: bool,
    /// The answer is to a request sent under a generation or member id the member has left
    /// since (it rejoined, or was reset, while the request was in flight; Java's
    /// `!generationUnchanged()`). Member errors in such an answer are about the old
    /// generation: a heartbeat ignores them, JoinGroup and SyncGroup rejoin without a reset,
    /// a commit fails without touching the current generation. FindCoordinator and
    /// OffsetFetch carry no generation and ignore it.
    pub generation_changed: bool,
}

/// Why a member cannot go on ([`Reaction::Fatal`]). [`FatalKind::error`] makes the
/// [`GroupError`] the application sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FatalKind {
    /// `FENCED_INSTANCE_ID`: another consumer joined with the same `group.instance.id`.
    FencedInstanceId,
    /// `GROUP_AUTHORIZATION_FAILED`: the principal may not use the group.
    GroupAuthorization,
    /// `INVALID_GROUP_ID`: the coordinator refuses the group id (empty, for one).
    InvalidGroupId,
    /// `INVALID_SESSION_TIMEOUT`: `session.timeout.ms` is outside the broker's
    /// `group.min.session.timeout.ms`..`group.max.session.timeout.ms`.
    InvalidSessionTimeout,
    /// `GROUP_MAX_SIZE_REACHED`: the group has the broker's `group.max.size` members.
    GroupMaxSizeReached,
    /// `INCONSISTENT_GROUP_PROTOCOL`: the group's members use another protocol type, or
    /// share no assignor with this member; also a SyncGroup answer naming another protocol
    /// than the member joined with.
    InconsistentProtocol,
    /// `UNSUPPORTED_VERSION`: the coordinator cannot serve the request at the version sent
    /// (static membership needs JoinGroup v5, Kafka 2.3).
    UnsupportedVersion,
    /// `INVALID_REQUEST`: the coordinator refuses the request as malformed.
    InvalidRequest,
    /// `UNRELEASED_INSTANCE_ID` (consumer protocol): another member with this
    /// `group.instance.id` is still in the group.
    UnreleasedInstanceId,
    /// A code the API's handler does not expect and that retrying cannot fix.
    Other,
}

impl FatalKind {
    /// The error the application sees for this kind, given the request's API and code and
    /// the member's group id and `group.instance.id`.
    pub fn error(
        self,
        api: GroupApi,
        code: ErrorCode,
        group_id: &str,
        instance_id: Option<&str>,
    ) -> GroupError {
        match self {
            FatalKind::FencedInstanceId => GroupError::FencedInstanceId {
                instance_id: instance_id.unwrap_or_default().to_owned(),
            },
            FatalKind::GroupAuthorization => GroupError::GroupAuthorization {
                group: group_id.to_owned(),
            },
            FatalKind::InvalidGroupId => GroupError::InvalidGroupId {
                group: group_id.to_owned(),
            },
            FatalKind::InvalidSessionTimeout => GroupError::InvalidSessionTimeout,
            FatalKind::GroupMaxSizeReached => GroupError::GroupMaxSizeReached {
                group: group_id.to_owned(),
            },
            FatalKind::InconsistentProtocol => GroupError::InconsistentProtocol {
                group: group_id.to_owned(),
            },
            FatalKind::UnsupportedVersion => GroupError::UnsupportedVersion {
                api,
                static_member: instance_id.is_some(),
            },
            FatalKind::UnreleasedInstanceId => GroupError::UnreleasedInstanceId {
                instance_id: instance_id.unwrap_or_default().to_owned(),
            },
            FatalKind::InvalidRequest | FatalKind::Other => GroupError::Broker { api, code },
        }
    }
}

/// What a member does about an answer's error code ([`reaction`]).
///
/// "Rejoin" always means sending JoinGroup again at once, without a backoff; the member id it
/// sends is the one it keeps (or none after a reset). Which partitions the member loses is
/// said per variant; a cooperative member keeps (and reports in its subscription) the
/// partitions it does not lose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reaction {
    /// Success, or an error that needs nothing (a stale heartbeat error, any answer to
    /// LeaveGroup, `REBALANCE_IN_PROGRESS` on a heartbeat while already rebalancing: keep
    /// heartbeating so the session does not expire during the round).
    Done,
    /// The coordinator moved, is unavailable or was lost: forget it, look it up again at once
    /// (FindCoordinator to any broker; that lookup backs off if it fails), then retry. A
    /// SyncGroup is retried as a new JoinGroup (Java restarts the round), keeping the member
    /// id.
    Rediscover,
    /// Transient: retry the same request after the retry backoff (doubling up to
    /// `retry.backoff.max.ms`), keeping the coordinator. A SyncGroup is retried as a new
    /// JoinGroup; a commit or fetch retries the failed partitions, within its deadline.
    Backoff,
    /// The group is rebalancing (heartbeat; or the round a SyncGroup belonged to was
    /// replaced), or the coordinator asks to join again (JoinGroup `REBALANCE_IN_PROGRESS`),
    /// or the answer is stale: rejoin at once, keeping the member id, the generation and the
    /// owned partitions.
    Rejoin,
    /// `MEMBER_ID_REQUIRED` (KIP-394): take the member id the answer carries and send
    /// JoinGroup again at once with it (generation -1).
    RetryJoinWithMemberId,
    /// The coordinator no longer knows the member (`UNKNOWN_MEMBER_ID`): every owned
    /// partition is lost (the application is told they are lost, not revoked: another member
    /// may own them already), the member id and generation are reset, and the member rejoins
    /// at once without a member id. A commit that met it fails with
    /// [`GroupError::CommitFailed`].
    ResetMember,
    /// The member's generation is over but its member id is still valid
    /// (`ILLEGAL_GENERATION` outside a rebalance): every owned partition is lost (as Java's
    /// `onJoinPrepare` does when the generation was reset), the generation is reset to -1,
    /// and the member rejoins at once with its member id. A commit that met it fails with
    /// [`GroupError::CommitFailed`].
    ResetGeneration,
    /// A commit refused because the group is rebalancing: the commit fails with
    /// [`GroupError::RebalanceInProgress`] (an application may commit again after the
    /// rebalance; an auto commit is retried then), and the assignment, member id and
    /// generation are kept. A member that believed itself stable rejoins (Java requests a
    /// rejoin on a commit's `REBALANCE_IN_PROGRESS`).
    CommitRebalancing,
    /// A commit refused with `STALE_MEMBER_EPOCH` (consumer protocol): a heartbeat answer
    /// moved the member to a newer epoch while the commit was under way. The commit is sent
    /// again with the member's newest epoch (within its deadline); the membership is
    /// untouched.
    RetryWithNewEpoch,
    /// A commit that can never succeed: it was sent for a generation the member has left, so
    /// its partitions may be someone else's now. The commit fails with
    /// [`GroupError::CommitFailed`]; the member's current state is not changed.
    CommitFailed,
    /// A partition of a commit or fetch failed with a final error: reported to the caller
    /// per partition ([`GroupError::PartitionsRejected`]); other partitions of the request
    /// succeeded; the membership is untouched.
    PartitionError,
    /// The member cannot go on: it stops (no LeaveGroup if the coordinator already dropped
    /// it) and the application gets the [`GroupError`] of [`FatalKind::error`]. Nothing is
    /// retried.
    Fatal(FatalKind),
}

/// What a member does about `code` in an answer to `api`, given `context`.
///
/// Total: every code (also [`ErrorCode::Unknown`]) gets a reaction; codes the API's row does
/// not name get the API's default (see the [module docs](self)).
pub fn reaction(api: GroupApi, code: ErrorCode, context: ReactionContext) -> Reaction {
    named(api, code, context).unwrap_or_else(|| unnamed(api, code))
}

/// The table's explicit rows: `None` for a code the API's row does not name.
pub(crate) fn named(api: GroupApi, code: ErrorCode, cx: ReactionContext) -> Option<Reaction> {
    if code.is_ok() {
        return Some(Reaction::Done);
    }
    match api {
        GroupApi::FindCoordinator => find_coordinator(code),
        GroupApi::JoinGroup => join_group(code, cx),
        GroupApi::SyncGroup => sync_group(code, cx),
        GroupApi::Heartbeat => heartbeat(code, cx),
        GroupApi::LeaveGroup => leave_group(code),
        GroupApi::OffsetCommit => offset_commit(code, cx),
        GroupApi::OffsetFetch => offset_fetch(code),
        GroupApi::ConsumerGroupHeartbeat => consumer_group_heartbeat(code),
    }
}

/// The default of an API for codes its row does not name.
fn unnamed(api: GroupApi, code: ErrorCode) -> Reaction {
    match api {
        GroupApi::Heartbeat => Reaction::Backoff,
        GroupApi::LeaveGroup => Reaction::Done,
        _ if code.is_retriable() => Reaction::Backoff,
        GroupApi::OffsetCommit | GroupApi::OffsetFetch => Reaction::PartitionError,
        GroupApi::FindCoordinator
        | GroupApi::JoinGroup
        | GroupApi::SyncGroup
        | GroupApi::ConsumerGroupHeartbeat => Reaction::Fatal(FatalKind::Other),
    }
}

/// FindCoordinator: a failed lookup is retried after the backoff (it is the lookup that
/// rediscovers), unless the group is forbidden or the request refused.
fn find_coordinator(code: ErrorCode) -> Option<Reaction> {
    use ErrorCode as E;
    Some(match code {
        E::CoordinatorNotAvailable | E::NotCoordinator | E::CoordinatorLoadInProgress => {
            Reaction::Backoff
        }
        E::GroupAuthorizationFailed => Reaction::Fatal(FatalKind::GroupAuthorization),
        E::InvalidRequest => Reaction::Fatal(FatalKind::InvalidRequest),
        _ => return None,
    })
}

/// JoinGroup.
fn join_group(code: ErrorCode, cx: ReactionContext) -> Option<Reaction> {
    use ErrorCode as E;
    Some(match code {
        E::CoordinatorLoadInProgress => Reaction::Backoff,
        E::CoordinatorNotAvailable | E::NotCoordinator => Reaction::Rediscover,
        E::UnknownMemberId if cx.generation_changed => Reaction::Rejoin,
        E::UnknownMemberId => Reaction::ResetMember,
        E::MemberIdRequired => Reaction::RetryJoinWithMemberId,
        E::RebalanceInProgress => Reaction::Rejoin,
        E::FencedInstanceId => Reaction::Fatal(FatalKind::FencedInstanceId),
        E::InconsistentGroupProtocol => Reaction::Fatal(FatalKind::InconsistentProtocol),
        E::InvalidSessionTimeout => Reaction::Fatal(FatalKind::InvalidSessionTimeout),
        E::InvalidGroupId => Reaction::Fatal(FatalKind::InvalidGroupId),
        E::GroupAuthorizationFailed => Reaction::Fatal(FatalKind::GroupAuthorization),
        E::GroupMaxSizeReached => Reaction::Fatal(FatalKind::GroupMaxSizeReached),
        E::UnsupportedVersion => Reaction::Fatal(FatalKind::UnsupportedVersion),
        _ => return None,
    })
}

/// SyncGroup.
fn sync_group(code: ErrorCode, cx: ReactionContext) -> Option<Reaction> {
    use ErrorCode as E;
    Some(match code {
        E::CoordinatorNotAvailable | E::NotCoordinator => Reaction::Rediscover,
        E::CoordinatorLoadInProgress => Reaction::Backoff,
        E::RebalanceInProgress => Reaction::Rejoin,
        E::UnknownMemberId | E::IllegalGeneration if cx.generation_changed => Reaction::Rejoin,
        E::UnknownMemberId => Reaction::ResetMember,
        E::IllegalGeneration => Reaction::ResetGeneration,
        E::FencedInstanceId => Reaction::Fatal(FatalKind::FencedInstanceId),
        E::GroupAuthorizationFailed => Reaction::Fatal(FatalKind::GroupAuthorization),
        E::InconsistentGroupProtocol => Reaction::Fatal(FatalKind::InconsistentProtocol),
        _ => return None,
    })
}

/// Heartbeat.
fn heartbeat(code: ErrorCode, cx: ReactionContext) -> Option<Reaction> {
    use ErrorCode as E;
    Some(match code {
        E::CoordinatorNotAvailable | E::NotCoordinator => Reaction::Rediscover,
        E::CoordinatorLoadInProgress => Reaction::Backoff,
        E::RebalanceInProgress if cx.rebalancing => Reaction::Done,
        E::RebalanceInProgress => Reaction::Rejoin,
        E::IllegalGeneration | E::UnknownMemberId | E::FencedInstanceId
            if cx.generation_changed =>
        {
            Reaction::Done
        }
        E::IllegalGeneration => Reaction::ResetGeneration,
        E::UnknownMemberId => Reaction::ResetMember,
        E::FencedInstanceId => Reaction::Fatal(FatalKind::FencedInstanceId),
        E::GroupAuthorizationFailed => Reaction::Fatal(FatalKind::GroupAuthorization),
        _ => return None,
    })
}

/// LeaveGroup: best effort. The member has left locally whatever the answer; it is never
/// resent (a coordinator that did not get it expires the member after the session timeout).
fn leave_group(code: ErrorCode) -> Option<Reaction> {
    use ErrorCode as E;
    match code {
        E::CoordinatorLoadInProgress
        | E::CoordinatorNotAvailable
        | E::NotCoordinator
        | E::GroupAuthorizationFailed
        | E::UnknownMemberId
        | E::FencedInstanceId => Some(Reaction::Done),
        _ => None,
    }
}

/// OffsetCommit (a partition's code; the codes of coordinator and membership problems apply
/// to the whole request).
fn offset_commit(code: ErrorCode, cx: ReactionContext) -> Option<Reaction> {
    use ErrorCode as E;
    // An answer about a generation the member has left: the commit is over, the current
    // generation is not concerned.
    let stale = if cx.rebalancing {
        Reaction::CommitRebalancing
    } else {
        Reaction::CommitFailed
    };
    Some(match code {
        E::CoordinatorLoadInProgress | E::UnknownTopicOrPartition => Reaction::Backoff,
        E::CoordinatorNotAvailable | E::NotCoordinator | E::RequestTimedOut => Reaction::Rediscover,
        E::TopicAuthorizationFailed | E::OffsetMetadataTooLarge | E::InvalidCommitOffsetSize => {
            Reaction::PartitionError
        }
        E::RebalanceInProgress => Reaction::CommitRebalancing,
        E::StaleMemberEpoch => Reaction::RetryWithNewEpoch,
        E::FencedInstanceId | E::UnknownMemberId | E::IllegalGeneration
            if cx.generation_changed =>
        {
            stale
        }
        E::IllegalGeneration if cx.rebalancing => Reaction::CommitRebalancing,
        E::IllegalGeneration => Reaction::ResetGeneration,
        E::UnknownMemberId => Reaction::ResetMember,
        E::FencedInstanceId => Reaction::Fatal(FatalKind::FencedInstanceId),
        E::GroupAuthorizationFailed => Reaction::Fatal(FatalKind::GroupAuthorization),
        _ => return None,
    })
}

/// ConsumerGroupHeartbeat (KIP-848). The member keeps its member id in every case
/// (KIP-1082: the client generates it once): fenced or unknown, it loses its partitions and
/// joins again at epoch 0 ([`Reaction::ResetGeneration`]).
fn consumer_group_heartbeat(code: ErrorCode) -> Option<Reaction> {
    use ErrorCode as E;
    Some(match code {
        E::CoordinatorNotAvailable | E::NotCoordinator => Reaction::Rediscover,
        E::CoordinatorLoadInProgress => Reaction::Backoff,
        E::FencedMemberEpoch | E::UnknownMemberId => Reaction::ResetGeneration,
        E::GroupAuthorizationFailed => Reaction::Fatal(FatalKind::GroupAuthorization),
        E::GroupMaxSizeReached => Reaction::Fatal(FatalKind::GroupMaxSizeReached),
        E::InvalidRequest => Reaction::Fatal(FatalKind::InvalidRequest),
        E::UnreleasedInstanceId => Reaction::Fatal(FatalKind::UnreleasedInstanceId),
        E::FencedInstanceId => Reaction::Fatal(FatalKind::FencedInstanceId),
        E::UnsupportedVersion => Reaction::Fatal(FatalKind::UnsupportedVersion),
        E::UnsupportedAssignor | E::InvalidRegularExpression => Reaction::Fatal(FatalKind::Other),
        _ => return None,
    })
}

/// OffsetFetch (the group-level code, or a partition's).
fn offset_fetch(code: ErrorCode) -> Option<Reaction> {
    use ErrorCode as E;
    Some(match code {
        E::CoordinatorNotAvailable | E::NotCoordinator => Reaction::Rediscover,
        E::CoordinatorLoadInProgress | E::UnstableOffsetCommit => Reaction::Backoff,
        E::UnknownTopicOrPartition | E::TopicAuthorizationFailed => Reaction::PartitionError,
        E::GroupAuthorizationFailed => Reaction::Fatal(FatalKind::GroupAuthorization),
        _ => return None,
    })
}

/// Why a group consumer call failed, or why the group consumer stopped.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum GroupError {
    /// Another consumer joined the group with this member's `group.instance.id`
    /// (`FENCED_INSTANCE_ID`). Two processes share an instance id (often a restarted pod
    /// whose predecessor still runs); this one stops and does not retry.
    #[error(
        "group.instance.id {instance_id:?} is fenced: another consumer joined the group with \
         the same instance id"
    )]
    FencedInstanceId {
        /// The fenced `group.instance.id`.
        instance_id: String,
    },
    /// Another member of the group still holds this member's `group.instance.id`
    /// (`UNRELEASED_INSTANCE_ID`, consumer protocol): it has not left (or left only
    /// temporarily and is still within its session). This one stops and does not retry.
    #[error("group.instance.id {instance_id:?} is still in use by another member of the group")]
    UnreleasedInstanceId {
        /// The `group.instance.id`.
        instance_id: String,
    },
    /// The principal may not use the group (`GROUP_AUTHORIZATION_FAILED`).
    #[error("not authorized to use group {group:?}")]
    GroupAuthorization {
        /// The group id.
        group: String,
    },
    /// The coordinator refuses the group id (`INVALID_GROUP_ID`).
    #[error("the coordinator refuses group id {group:?}")]
    InvalidGroupId {
        /// The group id.
        group: String,
    },
    /// `session.timeout.ms` is outside what the broker allows (`INVALID_SESSION_TIMEOUT`:
    /// its `group.min.session.timeout.ms` and `group.max.session.timeout.ms`).
    #[error(
        "the coordinator refuses session.timeout.ms: it must lie between the broker's \
         group.min.session.timeout.ms and group.max.session.timeout.ms"
    )]
    InvalidSessionTimeout,
    /// The group has as many members as the broker allows (`GROUP_MAX_SIZE_REACHED`).
    #[error("group {group:?} already has the broker's maximum number of members")]
    GroupMaxSizeReached {
        /// The group id.
        group: String,
    },
    /// The group's members use another protocol type or share no assignor with this member
    /// (`INCONSISTENT_GROUP_PROTOCOL`).
    #[error(
        "group {group:?} uses another protocol type, or its members share no assignor with \
         this consumer's partition.assignment.strategy"
    )]
    InconsistentProtocol {
        /// The group id.
        group: String,
    },
    /// The coordinator cannot serve the request at the version sent (`UNSUPPORTED_VERSION`).
    #[error(
        "the coordinator does not support {api} as needed{}",
        if *static_member { " (static membership needs Kafka 2.3 or later)" } else { "" }
    )]
    UnsupportedVersion {
        /// The request.
        api: GroupApi,
        /// Whether the member is static, which needs JoinGroup v5.
        static_member: bool,
    },
    /// A commit was refused because the group is rebalancing. The partitions are still the
    /// member's; commit again once the rebalance is over (the next poll completes it).
    #[error("the group is rebalancing; commit again once the rebalance is over")]
    RebalanceInProgress,
    /// A commit can never succeed: the member left the generation it committed for (it was
    /// removed from the group, or the group moved on without it), so its partitions may
    /// belong to other members now. Processing since the last successful commit may be
    /// repeated by their new owners.
    #[error(
        "commit failed: the consumer is no longer in the generation it committed for, and its \
         partitions may have been given to other members"
    )]
    CommitFailed,
    /// Some partitions of a commit or fetch failed with a final error; the others succeeded.
    #[error("{api}: {}", describe(.partitions))]
    PartitionsRejected {
        /// The request.
        api: GroupApi,
        /// Each failed partition with its error code.
        partitions: Vec<(TopicPartition, ErrorCode)>,
    },
    /// The application did not poll within `max.poll.interval.ms`: the member left the group
    /// and lost its partitions; the next poll rejoins.
    #[error(
        "no poll within max.poll.interval.ms ({interval:?}): the consumer left the group and \
         rejoins on the next poll"
    )]
    MaxPollIntervalExceeded {
        /// `max.poll.interval.ms`.
        interval: Duration,
    },
    /// A call did not complete within its timeout (its retries included).
    #[error("{api} did not complete within {timeout:?}")]
    Timeout {
        /// The request that was still being retried.
        api: GroupApi,
        /// The timeout.
        timeout: Duration,
    },
    /// The coordinator answered with a code that retrying cannot fix and no other variant
    /// describes.
    #[error("{api} failed on the coordinator: {code}")]
    Broker {
        /// The request.
        api: GroupApi,
        /// The coordinator's error code.
        code: ErrorCode,
    },
    /// This member led the round and its assignor failed.
    #[error("assignment failed: {0}")]
    Assign(#[from] AssignError),
    /// A client failure that retrying did not fix.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The group consumer is closed.
    #[error("the group consumer is closed")]
    Closed,
    /// A partition has no committed offset and `auto.offset.reset` is `none`.
    #[error("{partition}: no committed offset and auto.offset.reset is none")]
    NoOffset {
        /// The partition.
        partition: TopicPartition,
    },
    /// Reading a partition failed.
    #[error(transparent)]
    Fetch(#[from] crate::fetch::FetchError),
    /// The partition is not assigned to this member.
    #[error("{partition} is not assigned to this member")]
    NotAssigned {
        /// The partition.
        partition: TopicPartition,
    },
    /// The configuration is not valid.
    #[error(transparent)]
    Config(#[from] gregor_client::config::ConfigError),
    /// `partition.assignment.strategy` names an assignor that is neither built in nor given.
    #[error("no assignor named {name:?} (built in: range, roundrobin, sticky, cooperative-sticky)")]
    UnknownAssignor {
        /// The name.
        name: String,
    },
}

/// The list of a [`GroupError::PartitionsRejected`].
fn describe(partitions: &[(TopicPartition, ErrorCode)]) -> String {
    let list: Vec<String> = partitions
        .iter()
        .map(|(tp, code)| format!("{tp}: {code}"))
        .collect();
    format!("partitions failed ({})", list.join(", "))
}

#[cfg(test)]
#[path = "errors_tests/mod.rs"]
mod tests;

//! PLACEHOLDER (replaced by the error table of the errcfg branch at merge).
#![allow(missing_docs)]
use gregor_protocol::ErrorCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupApi {
    FindCoordinator,
    JoinGroup,
    SyncGroup,
    Heartbeat,
    LeaveGroup,
    OffsetCommit,
    OffsetFetch,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReactionContext {
    pub rebalancing: bool,
    pub static_member: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FatalKind {
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reaction {
    Done,
    Rediscover,
    Backoff,
    Rejoin,
    RetryJoinWithMemberId,
    ResetMember,
    ResetGeneration,
    CommitRebalancing,
    CommitFailed,
    PartitionError,
    Fatal(FatalKind),
}

pub fn reaction(api: GroupApi, code: ErrorCode, context: ReactionContext) -> Reaction {
    use ErrorCode as E;
    match code {
        E::None => Reaction::Done,
        E::NotCoordinator | E::CoordinatorNotAvailable => Reaction::Rediscover,
        E::CoordinatorLoadInProgress => Reaction::Backoff,
        E::MemberIdRequired => Reaction::RetryJoinWithMemberId,
        E::RebalanceInProgress if matches!(api, GroupApi::OffsetCommit) => {
            Reaction::CommitRebalancing
        }
        E::RebalanceInProgress => Reaction::Rejoin,
        E::IllegalGeneration if matches!(api, GroupApi::OffsetCommit) && context.rebalancing => {
            Reaction::CommitRebalancing
        }
        E::UnknownMemberId | E::IllegalGeneration if matches!(api, GroupApi::OffsetCommit) => {
            Reaction::CommitFailed
        }
        E::UnknownMemberId => Reaction::ResetMember,
        E::IllegalGeneration => Reaction::ResetGeneration,
        c if c.is_retriable() => Reaction::Backoff,
        _ => Reaction::Fatal(FatalKind::Other),
    }
}

//! [`GroupConsumerSettings`]: how a group consumer runs, drawn from a [`GroupConfig`], and
//! the member id a consumer-protocol member generates for itself.

use std::time::Duration;

use super::super::assignor::{self, SharedAssignor};
use super::super::config::{GroupConfig, GroupProtocol, MembershipOnClose};
use super::super::consumer_membership::{
    ConsumerMembershipSettings, LEAVE_EPOCH, STATIC_LEAVE_EPOCH,
};
use super::super::errors::GroupError;
use super::super::membership::MembershipSettings;
use crate::fetch::{FetchConfig, OffsetReset};

/// How the shell runs, besides the membership's own settings.
#[derive(Debug, Clone)]
pub struct GroupConsumerSettings {
    /// The membership (group id, timeouts, assignors, rack, instance id).
    pub membership: MembershipSettings,
    /// `max.poll.interval.ms`.
    pub max_poll_interval: Duration,
    /// `auto.commit.interval.ms` when `enable.auto.commit` is on.
    pub auto_commit: Option<Duration>,
    /// `auto.offset.reset`: where a partition without a committed offset starts, and what
    /// happens when a position is out of range.
    pub offset_reset: OffsetReset,
    /// Send LeaveGroup on close (Java 4.1's default: dynamic members leave, static ones stay).
    pub leave_on_close: bool,
    /// The fetch engine's settings.
    pub fetch: FetchConfig,
    /// The group protocol (`group.protocol`).
    pub group_protocol: GroupProtocol,
    /// `group.remote.assignor`, for the consumer protocol.
    pub remote_assignor: Option<String>,
    /// Fall back to the classic protocol when the coordinator lacks the consumer protocol.
    pub protocol_fallback: bool,
    /// What the member does about its membership on close (the consumer protocol leaves
    /// temporarily, epoch -2, for a static member by default).
    pub on_close: MembershipOnClose,
}

impl GroupConsumerSettings {
    /// The consumer protocol's settings drawn from these.
    pub fn consumer_membership(&self) -> ConsumerMembershipSettings {
        let m = &self.membership;
        let leave_epoch_on_close = match self.on_close {
            MembershipOnClose::RemainInGroup => None,
            MembershipOnClose::LeaveGroup => Some(LEAVE_EPOCH),
            _ if m.instance_id.is_some() => Some(STATIC_LEAVE_EPOCH),
            _ => Some(LEAVE_EPOCH),
        };
        ConsumerMembershipSettings {
            group_id: m.group_id.clone(),
            instance_id: m.instance_id.clone(),
            rack: m.rack.clone(),
            rebalance_timeout: m.rebalance_timeout,
            session_timeout: m.session_timeout,
            retry_backoff: m.retry_backoff,
            server_assignor: self.remote_assignor.clone(),
            leave_epoch_on_close,
            fallback_to_classic: self.protocol_fallback,
        }
    }
}

impl GroupConsumerSettings {
    /// The settings `config` describes. Assignors are looked up by name among `custom` first,
    /// then the built-in ones.
    pub fn from_config(
        config: &GroupConfig,
        custom: &[SharedAssignor],
    ) -> Result<GroupConsumerSettings, GroupError> {
        config.validate()?;
        let assignors = config
            .assignors
            .iter()
            .map(|name| {
                custom
                    .iter()
                    .find(|a| a.name() == name)
                    .cloned()
                    .or_else(|| assignor::builtin(name))
                    .ok_or_else(|| GroupError::UnknownAssignor { name: name.clone() })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(GroupConsumerSettings {
            membership: MembershipSettings {
                group_id: config.group_id.clone(),
                instance_id: config.instance_id.clone(),
                session_timeout: config.session_timeout,
                rebalance_timeout: config.effective_rebalance_timeout(),
                heartbeat_interval: config.heartbeat_interval,
                retry_backoff: config.retry_backoff,
                rack: config.client_rack.clone(),
                assignors,
            },
            max_poll_interval: config.max_poll_interval,
            auto_commit: config.auto_commit.then_some(config.auto_commit_interval),
            offset_reset: config.auto_offset_reset,
            leave_on_close: config.leaves_group_on_close(),
            fetch: config.fetch.clone(),
            group_protocol: config.group_protocol,
            remote_assignor: config.remote_assignor.clone(),
            protocol_fallback: config.protocol_fallback,
            on_close: config.on_close,
        })
    }
}

/// A member id for the consumer protocol: 16 random bytes in unpadded base64url (22
/// characters), as Java's `Uuid.toString`. Without the operating system's randomness, the
/// time and the process id stand in (the coordinator only needs it unique in the group).
pub(super) fn new_member_id() -> String {
    use base64::Engine as _;
    let mut raw = [0u8; 16];
    if getrandom::fill(&mut raw).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        raw[..12].copy_from_slice(&nanos.to_le_bytes()[..12]);
        raw[12..].copy_from_slice(&std::process::id().to_le_bytes());
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

//! The KIP-848 consumer group coordinator of the mock cluster, as a sans-io state machine.
//!
//! [`ConsumerGroups`] holds every consumer-protocol group: members, the group epoch, the
//! target assignment and its epoch, each member's current assignment and reconciliation
//! state, resolved regular expressions and committed offsets. It never touches a socket or a
//! clock: requests come in decoded with an `Env` (`now`, the request version, the client, the
//! cluster's topics) and go out as responses; session and rebalance timeouts fire from
//! [`ConsumerGroups::advance`], driven by the classic coordinator's `poll` and
//! `next_deadline` (the group shell's timer task), which this one lives inside.
//!
//! # Layout
//! - `heartbeat`: ConsumerGroupHeartbeat (validation, join, epochs, leave, static members);
//! - `reconcile`: a member's way from its current assignment to its target (Kafka's
//!   `CurrentAssignmentBuilder`);
//! - `assignor`: the `uniform` and `range` server assignors;
//! - `regex`: resolving subscribed regular expressions;
//! - `describe`: ConsumerGroupDescribe;
//! - `group`: a group and its members.
//!
//! Offsets (OffsetCommit and OffsetFetch fenced by member epoch), the classic APIs on a
//! consumer group and the shared group-id namespace are handled by the classic coordinator
//! (`mock::group`), which asks [`ConsumerGroups`] for the checks.
//!
//! # Semantics
//! Apache Kafka 4.1's `GroupMetadataManager` for groups of type `consumer`. Deviations: member
//! ids generated for v0 joins come from a seeded counter (22 characters, like Kafka's random
//! UUIDs); assignor ties and the `uniform` assignor with different subscriptions place
//! partitions deterministically, not always where Kafka would (see `assignor`); a classic
//! group cannot be converted into a consumer group while it has members, nor the reverse
//! (Kafka's online migration).

mod assignor;
mod describe;
mod group;
mod heartbeat;
mod reconcile;
mod regex;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use gregor_protocol::ErrorCode;
use gregor_protocol::messages::consumer_group_describe::DescribedGroup;
use gregor_protocol::messages::{ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse};
use gregor_protocol::primitives::Uuid;

pub(crate) use group::ConsumerGroup;
pub use group::ConsumerGroupState;

pub(crate) use super::group::TopicMeta;

/// Partitions by topic id.
pub(crate) type Parts = BTreeMap<Uuid, BTreeSet<i32>>;

/// An error answer: the code and its message.
pub(crate) type Fail = (ErrorCode, String);

pub(crate) fn fail(code: ErrorCode, message: String) -> Fail {
    (code, message)
}

/// Broker-side settings of the consumer group coordinator (Kafka's `group.consumer.*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerGroupConfig {
    /// `group.consumer.heartbeat.interval.ms`, sent to members in every heartbeat response.
    /// 500 ms here, as in the testkit's Kafka (Kafka's default: 5 s).
    pub heartbeat_interval: Duration,
    /// `group.consumer.session.timeout.ms`: a member without a heartbeat for this long is
    /// removed. 10 s here, as in the testkit's Kafka (Kafka's default: 45 s).
    pub session_timeout: Duration,
    /// The least time between two resolutions of a group's regular expressions (Kafka's
    /// `REGEX_BATCH_REFRESH_INTERVAL_MS`, 10 s); a topic created after a resolution reaches
    /// the members after it.
    pub regex_refresh_interval: Duration,
}

impl Default for ConsumerGroupConfig {
    fn default() -> Self {
        ConsumerGroupConfig {
            heartbeat_interval: Duration::from_millis(500),
            session_timeout: Duration::from_secs(10),
            regex_refresh_interval: Duration::from_secs(10),
        }
    }
}

/// What a request brings besides its body.
pub(crate) struct Env<'a> {
    pub cfg: &'a ConsumerGroupConfig,
    pub now: Instant,
    pub client_id: &'a str,
    pub client_host: &'a str,
    /// The cluster's topics, by name.
    pub topics: &'a BTreeMap<String, TopicMeta>,
}

/// Every consumer-protocol group of the cluster. See the [module docs](self).
#[derive(Debug)]
pub(crate) struct ConsumerGroups {
    pub cfg: ConsumerGroupConfig,
    pub groups: BTreeMap<String, ConsumerGroup>,
    id_seed: u64,
    id_counter: u64,
}

/// A timer of a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Due {
    Session,
    Rebalance(i32),
}

impl ConsumerGroups {
    pub fn new(cfg: ConsumerGroupConfig, id_seed: u64) -> ConsumerGroups {
        ConsumerGroups {
            cfg,
            groups: BTreeMap::new(),
            id_seed,
            id_counter: 0,
        }
    }

    /// Kafka's request checks, before anything else happens.
    pub fn validate(req: &ConsumerGroupHeartbeatRequest, version: i16) -> Result<(), Fail> {
        heartbeat::validate(req, version)
    }

    /// A validated heartbeat for a group that is not a classic group.
    pub fn heartbeat(
        &mut self,
        now: Instant,
        client: (&str, &str),
        topics: &BTreeMap<String, TopicMeta>,
        req: &ConsumerGroupHeartbeatRequest,
    ) -> ConsumerGroupHeartbeatResponse {
        let env = Env {
            cfg: &self.cfg,
            now,
            client_id: client.0,
            client_host: client.1,
            topics,
        };
        let (seed, counter) = (self.id_seed, &mut self.id_counter);
        let mut new_id = || {
            *counter += 1;
            member_id(seed, *counter)
        };
        match heartbeat::handle(&mut self.groups, &env, req, &mut new_id) {
            Ok(resp) => resp,
            Err((code, message)) => error_response(code, message),
        }
    }

    /// ConsumerGroupDescribe for one group id of this coordinator.
    pub fn describe(
        &self,
        group_id: &str,
        version: i16,
        include_operations: bool,
        topics: &BTreeMap<String, TopicMeta>,
    ) -> DescribedGroup {
        match self.groups.get(group_id) {
            Some(g) => {
                let names = topics.iter().map(|(n, t)| (t.id, n.clone())).collect();
                describe::describe(g, version, include_operations, &names)
            }
            None => describe::failed(
                group_id,
                ErrorCode::GroupIdNotFound,
                Some(format!("Group {group_id} not found.")),
            ),
        }
    }

    /// The answer for a group id that names a group of another type.
    pub fn describe_not_consumer(group_id: &str) -> DescribedGroup {
        describe::failed(
            group_id,
            ErrorCode::GroupIdNotFound,
            Some(format!("Group {group_id} is not a consumer group.")),
        )
    }

    /// Kafka's OffsetCommit checks for a consumer group (`ConsumerGroup.validateOffsetCommit`).
    pub fn validate_offset_commit(
        g: &ConsumerGroup,
        member_id: &str,
        member_epoch: i32,
        version: i16,
    ) -> Result<(), ErrorCode> {
        if member_epoch < 0 && g.members.is_empty() {
            return Ok(());
        }
        let m = g.members.get(member_id).ok_or(ErrorCode::UnknownMemberId)?;
        if version < 9 {
            return Err(ErrorCode::UnsupportedVersion);
        }
        if member_epoch != m.epoch() {
            return Err(ErrorCode::StaleMemberEpoch);
        }
        Ok(())
    }

    /// Kafka's OffsetFetch checks for a consumer group (`ConsumerGroup.validateOffsetFetch`).
    pub fn validate_offset_fetch(
        g: &ConsumerGroup,
        member_id: Option<&str>,
        member_epoch: i32,
    ) -> Result<(), ErrorCode> {
        let Some(member_id) = member_id else {
            if member_epoch < 0 {
                return Ok(());
            }
            return Err(ErrorCode::UnknownMemberId);
        };
        let m = g.members.get(member_id).ok_or(ErrorCode::UnknownMemberId)?;
        if member_epoch != m.epoch() {
            return Err(ErrorCode::StaleMemberEpoch);
        }
        Ok(())
    }

    /// The earliest session or rebalance deadline.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.earliest().map(|(at, _, _, _)| at)
    }

    fn earliest(&self) -> Option<(Instant, String, String, Due)> {
        let mut best: Option<(Instant, String, String, Due)> = None;
        for g in self.groups.values() {
            for m in g.members.values() {
                let timers = [
                    m.session_deadline.map(|at| (at, Due::Session)),
                    m.rebalance_deadline.map(|(at, e)| (at, Due::Rebalance(e))),
                ];
                for (at, due) in timers.into_iter().flatten() {
                    if best.as_ref().is_none_or(|(b, ..)| at < *b) {
                        best = Some((at, g.id.clone(), m.id.clone(), due));
                    }
                }
            }
        }
        best
    }

    /// Fires every timer due by `now`, earliest first: an expired session removes the member;
    /// a member still revoking when its rebalance timeout passes is removed.
    pub fn advance(&mut self, now: Instant) {
        while let Some((at, group_id, member_id, due)) = self.earliest() {
            if at > now {
                break;
            }
            let Some(g) = self.groups.get_mut(&group_id) else {
                break;
            };
            let Some(m) = g.members.get_mut(&member_id) else {
                break;
            };
            match due {
                Due::Session => {
                    tracing::debug!(group_id, member_id, "consumer group member session expired");
                    g.remove_member(&member_id, None);
                }
                Due::Rebalance(epoch) => {
                    m.rebalance_deadline = None;
                    let revoking = m.progress.state == reconcile::MemberState::UnrevokedPartitions;
                    if revoking && m.epoch() == epoch {
                        tracing::debug!(
                            group_id,
                            member_id,
                            "consumer group member did not revoke in time"
                        );
                        g.remove_member(&member_id, None);
                    }
                }
            }
        }
    }

    /// The group moved to another coordinator: as when Kafka reloads a group from its log,
    /// the members stay with fresh session timeouts.
    pub fn coordinator_changed(&mut self, group_id: &str, now: Instant) {
        let timeout = self.cfg.session_timeout;
        if let Some(g) = self.groups.get_mut(group_id) {
            for m in g.members.values_mut() {
                m.session_deadline = Some(now + timeout);
            }
        }
    }
}

/// A heartbeat error answer.
fn error_response(code: ErrorCode, message: String) -> ConsumerGroupHeartbeatResponse {
    ConsumerGroupHeartbeatResponse {
        error_code: code.code(),
        error_message: Some(message),
        ..Default::default()
    }
}

/// A member id shaped like Kafka's `Uuid.randomUuid().toString()`: 22 URL-safe base64
/// characters of 16 bytes, from a seeded counter.
fn member_id(seed: u64, counter: u64) -> String {
    let mix = |mut z: u64| {
        z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let hi = mix(seed ^ counter.wrapping_mul(0x2545_f491_4f6c_dd1d));
    let lo = mix(hi ^ counter);
    let bytes: Vec<u8> = hi
        .to_be_bytes()
        .into_iter()
        .chain(lo.to_be_bytes())
        .collect();
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(22);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            let idx = ((n >> (18 - 6 * i)) & 63) as usize;
            out.push(char::from(ALPHABET[idx]));
        }
    }
    out
}

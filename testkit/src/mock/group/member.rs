//! A group member, its parked requests, the responses they get, and member ids.

use std::time::{Duration, Instant};

use bytes::Bytes;
use gregor_protocol::ErrorCode;
use gregor_protocol::messages::join_group::{JoinGroupRequestProtocol, JoinGroupResponseMember};
use gregor_protocol::messages::{JoinGroupResponse, SyncGroupResponse};

use super::Ticket;

/// A parked request: its ticket and the version its response is encoded in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Waiter {
    pub ticket: Ticket,
    pub version: i16,
}

/// A member of a classic group.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    pub id: String,
    /// The static member id (`group.instance.id`), if any.
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub rebalance_timeout: Duration,
    pub session_timeout: Duration,
    pub protocol_type: String,
    /// The supported protocols with their metadata, in the member's order of preference.
    pub protocols: Vec<(String, Bytes)>,
    pub assignment: Bytes,
    /// The member's parked JoinGroup.
    pub join_waiter: Option<Waiter>,
    /// The member's parked SyncGroup.
    pub sync_waiter: Option<Waiter>,
    /// Joined but not yet through a completed join phase.
    pub is_new: bool,
    /// When the session expires without a heartbeat; `None` while spared (see
    /// [`Member::has_satisfied_heartbeat`]).
    pub hb_deadline: Option<Instant>,
}

/// What a JoinGroup request brings to a member.
#[derive(Debug, Clone)]
pub(crate) struct JoinSpec {
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub rebalance_timeout: Duration,
    pub session_timeout: Duration,
    pub protocol_type: String,
    pub protocols: Vec<(String, Bytes)>,
    pub version: i16,
}

impl Member {
    /// A new member from its first accepted JoinGroup.
    pub fn new(id: String, spec: &JoinSpec) -> Member {
        Member {
            id,
            instance_id: spec.instance_id.clone(),
            client_id: spec.client_id.clone(),
            client_host: spec.client_host.clone(),
            rebalance_timeout: spec.rebalance_timeout,
            session_timeout: spec.session_timeout,
            protocol_type: spec.protocol_type.clone(),
            protocols: spec.protocols.clone(),
            assignment: Bytes::new(),
            join_waiter: None,
            sync_waiter: None,
            is_new: true,
            hb_deadline: None,
        }
    }

    /// Whether the member rejoins with exactly the protocols (names, metadata, order) it has.
    pub fn matches(&self, protocols: &[(String, Bytes)]) -> bool {
        self.protocols == protocols
    }

    /// The member's metadata for `protocol` (empty if it does not support it).
    pub fn metadata(&self, protocol: Option<&str>) -> Bytes {
        protocol
            .and_then(|p| self.protocols.iter().find(|(n, _)| n == p))
            .map(|(_, m)| m.clone())
            .unwrap_or_default()
    }

    /// The member's most preferred protocol among `candidates`.
    pub fn vote<'a>(&'a self, candidates: &[&str]) -> Option<&'a str> {
        self.protocols
            .iter()
            .map(|(n, _)| n.as_str())
            .find(|n| candidates.contains(n))
    }

    /// Kafka's rule when a session deadline passes: members waiting in a rebalance are spared,
    /// unless they are new (their first join has not completed).
    pub fn has_satisfied_heartbeat(&self) -> bool {
        !self.is_new && (self.join_waiter.is_some() || self.sync_waiter.is_some())
    }

    /// Starts a new session timeout.
    pub fn reschedule_heartbeat(&mut self, now: Instant) {
        self.hb_deadline = Some(now + self.session_timeout);
    }
}

/// The protocols of a JoinGroup request, as a member stores them.
pub(crate) fn protocols_of(protocols: &[JoinGroupRequestProtocol]) -> Vec<(String, Bytes)> {
    protocols
        .iter()
        .map(|p| (p.name.clone(), p.metadata.clone()))
        .collect()
}

/// A millisecond count from the wire as a duration (negative counts as zero).
pub(crate) fn millis(ms: i32) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

/// A JoinGroup outcome before it is shaped for a request version.
#[derive(Debug, Clone)]
pub(crate) struct JoinOutcome {
    pub error: ErrorCode,
    pub generation: i32,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub leader: String,
    pub skip_assignment: bool,
    pub member_id: String,
    /// Only for the leader: `(member id, instance id, metadata)`.
    pub members: Vec<(String, Option<String>, Bytes)>,
}

impl JoinOutcome {
    /// An error answer, with Kafka's defaults for everything else.
    pub fn error(error: ErrorCode, member_id: &str) -> JoinOutcome {
        JoinOutcome {
            error,
            generation: -1,
            protocol_type: None,
            protocol_name: Some(String::new()),
            leader: String::new(),
            skip_assignment: false,
            member_id: member_id.to_owned(),
            members: Vec::new(),
        }
    }

    /// The response in `version`: fields the version lacks keep their defaults, and the
    /// protocol name is `""` instead of null before v7.
    pub fn response(self, version: i16) -> JoinGroupResponse {
        let members = self
            .members
            .into_iter()
            .map(
                |(member_id, instance_id, metadata)| JoinGroupResponseMember {
                    member_id,
                    group_instance_id: if version >= 5 { instance_id } else { None },
                    metadata,
                    ..Default::default()
                },
            )
            .collect();
        JoinGroupResponse {
            error_code: self.error.code(),
            generation_id: self.generation,
            protocol_type: if version >= 7 {
                self.protocol_type
            } else {
                None
            },
            protocol_name: if version >= 7 {
                self.protocol_name
            } else {
                Some(self.protocol_name.unwrap_or_default())
            },
            leader: self.leader,
            skip_assignment: version >= 9 && self.skip_assignment,
            member_id: self.member_id,
            members,
            ..Default::default()
        }
    }
}

/// A SyncGroup outcome before it is shaped for a request version.
#[derive(Debug, Clone)]
pub(crate) struct SyncOutcome {
    pub error: ErrorCode,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub assignment: Bytes,
}

impl SyncOutcome {
    /// An error answer.
    pub fn error(error: ErrorCode) -> SyncOutcome {
        SyncOutcome {
            error,
            protocol_type: None,
            protocol_name: None,
            assignment: Bytes::new(),
        }
    }

    /// The response in `version` (the protocol fields exist from v5).
    pub fn response(self, version: i16) -> SyncGroupResponse {
        let v5 = version >= 5;
        SyncGroupResponse {
            error_code: self.error.code(),
            protocol_type: self.protocol_type.filter(|_| v5),
            protocol_name: self.protocol_name.filter(|_| v5),
            assignment: self.assignment,
            ..Default::default()
        }
    }
}

/// Member ids like Kafka's (`<client id or instance id>-<uuid>`), from a seeded counter so
/// that runs repeat.
#[derive(Debug, Clone)]
pub(crate) struct IdGen {
    seed: u64,
    counter: u64,
}

impl IdGen {
    pub fn new(seed: u64) -> IdGen {
        IdGen { seed, counter: 0 }
    }

    /// The next id with `prefix`.
    pub fn member_id(&mut self, prefix: &str) -> String {
        self.counter += 1;
        let hi = splitmix64(self.seed ^ self.counter.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let lo = splitmix64(hi ^ self.counter);
        // Shaped like a version-4 UUID.
        format!(
            "{prefix}-{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            hi >> 32,
            (hi >> 16) & 0xffff,
            hi & 0x0fff,
            0x8000 | ((lo >> 48) & 0x3fff),
            lo & 0xffff_ffff_ffff
        )
    }
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

//! Our own in-process mock Kafka cluster.
//!
//! # Layout
//! - [`group`]: the classic group coordinator (FindCoordinator, JoinGroup, SyncGroup, Heartbeat,
//!   LeaveGroup, OffsetCommit, OffsetFetch, DescribeGroups, ListGroups) as a sans-io state
//!   machine: requests and `now` in, responses (some deferred) out.

pub mod group;

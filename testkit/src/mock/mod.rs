//! `MockCluster`: an in-process Kafka cluster for tests, written for gregor.
//!
//! N brokers, each a real TCP listener on 127.0.0.1, speak the Kafka protocol with Apache
//! Kafka's semantics, built on gregor-protocol's codecs in both directions. A test drives it
//! through its clients and, at the same time, through the control API: interceptions, brokers
//! down and up, leadership moves, compaction, record deletion, truncation, transactions and
//! direct produces.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use gregor_protocol::{ApiKey, ErrorCode};
//! use gregor_testkit::mock::{Action, Intercept, MockCluster, MockRecord};
//!
//! let cluster = MockCluster::builder().brokers(3).topic("t", 4).start().await?;
//! let bootstrap = cluster.bootstrap(); // "127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3"
//! cluster.produce("t", 0, &[MockRecord::kv("k", "v")]).await?;
//! cluster
//!     .intercept(ApiKey::Fetch, Intercept::once(Action::Error(ErrorCode::NotLeaderOrFollower)))
//!     .await;
//! cluster.move_leader("t", 0, 2).await?;
//! # let _ = bootstrap; Ok(()) }
//! ```
//!
//! # Layout
//! - [`cluster`](MockCluster): the builder, start, brokers down and up, shutdown (drop stops it);
//!   `control` and `control_groups`: the rest of the control API ([`MockCluster::produce`],
//!   [`MockCluster::move_coordinator`], ...).
//! - `conn`: the async shell: listeners and connection tasks (frames in, responses out);
//!   `group_shell`: delivery of parked group responses and the group coordinator's timer task.
//! - [`group`]: the classic group coordinator as a sans-io state machine (requests and `now`
//!   in, responses, some deferred, out); [`consumer_group`]: the KIP-848 consumer group
//!   coordinator (ConsumerGroupHeartbeat, ConsumerGroupDescribe), sans-io too, held by the
//!   classic one (one group-id namespace, shared offsets and timers); `coordinators`: which
//!   broker coordinates which group (Kafka's `__consumer_offsets` partition hash over the
//!   brokers, fail-over, moves).
//! - `handlers`: one module per API, sans-io, and the dispatch table generated with
//!   `gregor_protocol::for_each_api!`; `handlers::group_apis` hands the group APIs (KIP-848's
//!   included) to the group coordinator.
//! - `state`: the cluster state (brokers, topics, partitions, producer ids, sessions, groups,
//!   rules); `log`: a partition's log (batches as received, offsets, leader epoch cache,
//!   producer and transaction state, compaction); `session`: fetch sessions (KIP-227);
//!   `intercept`: rules.
//! - `splice`: fetch responses written as chunks, the stored batches among them uncopied.
//! - `error_response`: an error answer for every API (for [`Action::Error`]).
//! - `sasl`: SASL PLAIN and SCRAM-SHA-256/512 on the listeners ([`MockSasl`]), before requests
//!   reach the handlers; TLS ([`MockClusterBuilder::tls`]) wraps the connections in `conn`.
//!
//! # Consumer groups
//! The classic protocol (JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit,
//! OffsetFetch, DescribeGroups, ListGroups, FindCoordinator) is served by one
//! [`group::GroupCoordinator`] in the cluster state; KIP-848's consumer protocol
//! (ConsumerGroupHeartbeat v0-1, ConsumerGroupDescribe v0-1, offsets fenced by member epoch)
//! by its [`consumer_group`] part, configured with
//! [`MockClusterBuilder::consumer_group_config`] (heartbeat interval 500 ms and session
//! timeout 10 s by default, as the testkit's Kafka). A parked JoinGroup or SyncGroup holds its
//! connection's later responses back until it is answered (Kafka mutes a connection while a
//! request is in flight, so it behaves the same). Session, rebalance and initial-delay timers
//! run on tokio time. [`MockClusterBuilder::group_config`] sets the `group.*` configs; its
//! default initial rebalance delay is 0 (Kafka: 3 s) and its minimum session timeout Kafka's
//! 6 s.

//! # Concurrency rule
//! The whole cluster state is one plain struct (sans-io: no I/O, no clock; handlers get
//! `now` passed in) behind **one** `tokio::sync::Mutex`. Every request is handled with the lock
//! held from decoding to the encoded response, and every control call holds it for its whole
//! change, so each is atomic with respect to all others; the lock is never held across any other
//! `.await`. After a change the data-change counter is published on a `watch` channel; a fetch
//! waiting for data (long poll) holds no lock, and re-reads under the lock when the counter
//! moves or its `max_wait_ms` deadline (tokio time, so `tokio::time::pause` applies) passes.
//! Each connection handles its requests one at a time, so responses go out in request order.
//! The group coordinator lives in the same state; completions of parked group requests are
//! routed to their connections in the critical section that produced them.
//!
//! # Deviations from Kafka
//! Every replica is always in sync (the high watermark is the log end offset, `acks` -1 and 1
//! behave alike); consumers fetch from leaders only (no KIP-392 follower fetching); there is no
//! transaction coordinator (transactional batches are accepted; markers come from the control
//! API), no quotas, no authorizer (Metadata reports every topic operation as allowed), no
//! log-append-time topics, and topic configs are accepted and ignored. Compaction runs only
//! when asked for, over the whole log. Broker ids are 1..=n.

mod cluster;
mod conn;
pub mod consumer_group;
mod control;
mod control_groups;
mod coordinators;
mod error_response;
pub mod group;
mod group_shell;
pub(crate) mod handlers;
mod intercept;
pub(crate) mod log;
mod record;
mod sasl;
pub(crate) mod session;
mod splice;
pub(crate) mod state;

pub use cluster::{MockCluster, MockClusterBuilder, StartError};
pub use consumer_group::{ConsumerGroupConfig, ConsumerGroupState};
pub use control::{ControlError, OpenTransaction, PartitionInfo, Truncated};
pub use group::{CommittedOffset, GroupConfig, GroupState};
pub use intercept::{Action, Intercept, InterceptId, Observer, SeenRequest};
pub use log::MaintainError;
pub use record::MockRecord;
pub use sasl::{MockSasl, SaslMechanism};

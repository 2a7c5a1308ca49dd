//! The rebalancing group consumer: membership (the classic protocol and KIP-848's consumer
//! protocol), assignors, offsets.
//!
//! ```no_run
//! use gregor_consumer::{Client, ClientConfig, GroupConfig, GroupConsumer, GroupEvent};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let client = Client::connect(
//!     ClientConfig::builder()
//!         .bootstrap_servers(["127.0.0.1:9092"])
//!         .build()?,
//! )
//! .await?;
//! // Kafka's property names work too: GroupConfig::from_properties([("group.id", "app"), ...]).
//! let config = GroupConfig::new("app").with_assignors(["cooperative-sticky"]);
//! let mut consumer = GroupConsumer::subscribe(client, &config, ["events"])?;
//! loop {
//!     match consumer.next().await? {
//!         GroupEvent::Records(chunk) => {
//!             for record in chunk.as_slice() {
//!                 println!("{} {:?}", record.offset, record.value);
//!             }
//!         }
//!         GroupEvent::Revoked(partitions) => println!("revoked {partitions:?}"),
//!         other => println!("{other:?}"),
//!     }
//!     // Asking for the next event acknowledges this one: auto-commit stores it.
//! }
//! # }
//! ```
//!
//! # Layout and data flow
//! - [`membership`]: one member's side of the classic protocol as a sans-io state machine
//!   ([`Membership`](membership::Membership)): JoinGroup (KIP-394), SyncGroup, heartbeats,
//!   eager and cooperative (KIP-429) rounds, static membership (KIP-345, KIP-814), self-fencing,
//!   LeaveGroup. It returns the next request and events for the application.
//! - [`consumer_membership`]: the same for KIP-848's consumer protocol
//!   ([`ConsumerMembership`](consumer_membership::ConsumerMembership), `group.protocol=consumer`):
//!   ConsumerGroupHeartbeat with the client's own member id, epochs, reconciliation (revoke
//!   before assign, topic ids held until the metadata names them), fencing, leaving with
//!   epoch -1 or -2. Same events, same revoke barrier.
//! - [`errors`]: the one table from (API, error code, context) to what the member does,
//!   checked against Java's handlers in its tests, and [`GroupError`](errors::GroupError).
//! - [`assignor`]: who gets which partition: the [`Assignor`](assignor::Assignor) trait and
//!   the built-in range, roundrobin, sticky and cooperative-sticky assignors (rack-aware where
//!   Java's are), equal to Java's on randomized inputs. Pure functions.
//! - [`task`]: the thin async shell: one task per member owns the membership, talks to the
//!   coordinator on the member's own connection, runs the leader's assignor, and watches the
//!   poll interval. It never waits for the application.
//! - `consumer_task`: the same shell for the consumer protocol (heartbeats, topic-id
//!   resolution); it hands over to [`task`] when the coordinator lacks the protocol and the
//!   member may fall back.
//! - [`consumer`]: [`GroupConsumer`](consumer::GroupConsumer), what the application holds: the
//!   partitions' readers in the shared fetch engine, the offsets the application finished,
//!   commits fenced by the generation (auto-commit in the background), and the revoke
//!   barrier.
//! - [`partition_stream`]: [`PartitionStream`](partition_stream::PartitionStream), one
//!   assigned partition's records on a task of the application's choosing, ending when the
//!   partition is revoked (the revocation waits until the application is done with it).
//! - [`config`]: [`GroupConfig`](config::GroupConfig), by Kafka property names or typed.
//!
//! Responses flow into the membership (task) → events to the consumer over a channel → the
//! consumer starts or revokes readers in the engine and returns the event to the application
//! → the application's next call completes a revocation → the task rejoins.
pub mod assignor;
pub mod config;
pub mod consumer;
pub mod consumer_membership;
mod consumer_task;
pub mod errors;
pub mod membership;
pub mod partition_stream;
pub mod task;

//! [`ProducerTransport`]: what the async producer needs from the cluster — partition leaders,
//! metadata refreshes, connections, and the connection settings they follow — so it does not
//! depend on how they are obtained.
//!
//! The cluster client implements it (`client_transport.rs`); tests implement it over plain
//! [`Connection`]s. Every method may be called from several tasks at once; each call returns a
//! boxed future, so the trait can be used as `dyn ProducerTransport`.

use std::future::Future;
use std::pin::Pin;

use gregor_protocol::ApiKey;
use gregor_protocol::primitives::Uuid;

use crate::cluster::{BrokerId, MetadataCache};
use crate::config::ClientConfig;
use crate::connection::Connection;
use crate::error::ClientError;

/// The future a [`ProducerTransport`] method returns.
pub type TransportFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, ClientError>> + Send + 'a>>;

/// One partition of a topic and its current leader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionInfo {
    /// The partition index.
    pub partition: i32,
    /// The leader's broker id, `None` while the partition has no leader.
    pub leader: Option<BrokerId>,
}

/// The cluster as the producer sees it.
pub trait ProducerTransport: Send + Sync + 'static {
    /// The partitions of `topic` with their leaders, as currently known, sorted by partition;
    /// loads the topic's metadata first when it is not known yet. A topic the cluster does not
    /// have is `Err(ClientError::Broker { api: Metadata, code: UNKNOWN_TOPIC_OR_PARTITION })`.
    fn partitions<'a>(&'a self, topic: &'a str) -> TransportFuture<'a, Vec<PartitionInfo>>;

    /// Asks the cluster for fresh metadata of `topics` (leaders moved, a partition lost its
    /// leader), so later [`partitions`](Self::partitions) calls see it.
    fn refresh<'a>(&'a self, topics: &'a [String]) -> TransportFuture<'a, ()>;

    /// A connection to `broker` for Produce requests (kept apart from fetch and control
    /// traffic). Called again after the previous one failed.
    fn connection(&self, broker: BrokerId) -> TransportFuture<'_, Connection>;

    /// A connection to any reachable broker, for requests any broker answers (InitProducerId
    /// of a producer without a transactional id).
    fn any_connection(&self) -> TransportFuture<'_, Connection>;

    /// The topic's id (KIP-516), needed by Produce v13+; `None` when not known or the cluster
    /// predates topic ids.
    fn topic_id(&self, topic: &str) -> Option<Uuid>;

    /// The connection settings the transport's connections follow. The producer takes its
    /// request timeout (`request.timeout.ms`), retry and reconnect backoffs and metadata age
    /// from them; a [`Client`](crate::Client) answers its own configuration.
    fn client_config(&self) -> &ClientConfig;
}

/// The partitions of `topic` in `cache`, for transports that keep a [`MetadataCache`]: the
/// topic-level error if the broker reported one, `None` if the cache does not have the topic.
pub fn partitions_from_cache(
    cache: &MetadataCache,
    topic: &str,
) -> Option<Result<Vec<PartitionInfo>, ClientError>> {
    let meta = cache.topic(topic)?;
    if meta.error.is_err() {
        return Some(Err(ClientError::Broker {
            api: ApiKey::Metadata,
            code: meta.error,
        }));
    }
    Some(Ok(meta
        .partitions
        .iter()
        .map(|p| PartitionInfo {
            partition: p.partition,
            leader: p.leader,
        })
        .collect()))
}

/// The topic's id in `cache`, `None` when unknown or zero.
pub fn topic_id_from_cache(cache: &MetadataCache, topic: &str) -> Option<Uuid> {
    cache
        .topic(topic)
        .map(|t| t.id)
        .filter(|id| *id != Uuid::ZERO)
}

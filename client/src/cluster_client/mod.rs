//! The cluster client: bootstrapping, the connection pool, metadata, routing and retries.
//!
//! A [`Client`] is a cheap, cloneable handle; clones share everything below. Make one with
//! [`Client::connect`], which tries each bootstrap address until one answers a Metadata
//! request for all topics.
//!
//! # Concurrency
//! - **Metadata** has one owner: a metadata task holds the [`MetadataCache`] and is the only
//!   code that changes it. It publishes an `Arc<MetadataCache>` snapshot through a
//!   `tokio::sync::watch` channel after each refresh; [`Client::metadata`] clones the current
//!   `Arc` and never waits. [`Client::refresh_metadata`] sends the task a request and waits
//!   for its answer; requests that arrive while a Metadata request is in flight are merged
//!   into the next one (a full refresh if any asked for all topics, else the union of the
//!   topics), so concurrent refreshes cost one request. The task also refreshes when the
//!   cache reaches `metadata.max.age.ms`.
//! - **Connections** live in the pool: one per `(broker, Purpose)`, so a long-poll Fetch
//!   never queues behind (or ahead of) a commit or a heartbeat. Each slot's state sits behind
//!   a short `std::sync::Mutex` (never held across `.await`); opening a connection is
//!   serialized per slot by an async mutex, so concurrent callers share one attempt. Each
//!   connection is itself driven by its own task (see [`crate::connection`]).
//! - **Coordinators** found with FindCoordinator are cached in a map behind a short mutex;
//!   callers [`forget_coordinator`](Client::forget_coordinator) after `NOT_COORDINATOR`.
//!
//! # When metadata is refreshed
//! At `metadata.max.age.ms`; when a partition's leader is unknown ([`Client::leader`]); and
//! from [`Client::retry_until`] before retrying after a staleness error
//! (`NOT_LEADER_OR_FOLLOWER`, `UNKNOWN_TOPIC_OR_PARTITION`, `LEADER_NOT_AVAILABLE`,
//! `FENCED_LEADER_EPOCH`, ...; see [`gregor_protocol::ErrorCode::is_stale_metadata`]) or after
//! a connection failure. Code that handles errors itself calls
//! [`Client::request_metadata_refresh`] (no wait) or [`Client::refresh_metadata`].
//!
//! Modules: `bootstrap` (connection options, the first metadata), `pool` (connections,
//! reconnect backoff, idle reaping), `metadata_task` (the metadata task and its request
//! coalescing), `routing` (leader, coordinator, any broker) and [`retry`] (the retry policy).

mod bootstrap;
mod metadata_task;
mod pool;
pub mod retry;
mod routing;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use gregor_protocol::ApiKey;
use gregor_protocol::messages::FindCoordinatorRequest;
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::{debug, warn};

use self::metadata_task::{MetadataFetcher, MetadataHandle};
use self::pool::Pool;
pub(crate) use self::pool::jitter;
use self::retry::{RETRY_BACKOFF_MAX, RetryAction, classify};
pub(crate) use self::routing::leader_of;
use self::routing::{CoordinatorCache, connect_any};
use crate::cluster::{Backoff, BrokerAddr, BrokerId, MetadataCache, RetryBudget};
use crate::config::ClientConfig;
use crate::connection::{ConnectOptions, Connection};
use crate::error::ClientError;

/// How long [`Client::retry`] keeps trying (Kafka's `default.api.timeout.ms` default).
pub const DEFAULT_API_TIMEOUT: Duration = Duration::from_secs(60);

/// What a connection is for. Each broker gets a separate connection per purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Purpose {
    /// Metadata, coordinator lookups, commits, admin requests.
    Control,
    /// One group member's JoinGroup, SyncGroup, Heartbeat and LeaveGroup. The coordinator
    /// holds a JoinGroup until the whole group has rejoined, and a broker answers one
    /// connection's requests in order, so each member gets its own connection (as Java's
    /// consumer does), keyed by an id unique among the client's members
    /// ([`Purpose::new_group_member`]): a parked JoinGroup never delays commits, metadata or
    /// another member of the same client.
    Group(u64),
    /// Fetch requests (long polls).
    Fetch,
    /// Produce requests.
    Produce,
}

impl Purpose {
    /// A [`Purpose::Group`] no other member of this process uses.
    pub fn new_group_member() -> Purpose {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        Purpose::Group(NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
    }
}

/// Which kind of coordinator FindCoordinator looks up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CoordinatorKind {
    /// The group coordinator of a consumer group id.
    Group,
    /// The transaction coordinator of a transactional id.
    Transaction,
}

impl CoordinatorKind {
    /// FindCoordinator's `key_type`.
    pub const fn key_type(self) -> i8 {
        match self {
            CoordinatorKind::Group => 0,
            CoordinatorKind::Transaction => 1,
        }
    }
}

#[derive(Debug)]
struct Inner {
    config: ClientConfig,
    pool: Arc<Pool>,
    metadata: MetadataHandle,
    coordinators: CoordinatorCache,
}

/// A connection to a Kafka cluster: metadata, pooled broker connections, routing, retries.
/// Cheap to clone; clones share state. Background tasks stop when the last clone is dropped.
#[derive(Debug, Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl Client {
    /// Bootstraps from `config`'s bootstrap servers (each in turn until one answers), loads
    /// metadata for all topics and starts the metadata task. Must run inside a tokio runtime.
    pub async fn connect(config: ClientConfig) -> Result<Client, ClientError> {
        let options = ConnectOptions::from(&config);
        let cache = bootstrap::bootstrap(&config, &options).await?;
        let pool = Arc::new(Pool::new(
            options,
            Backoff::new(config.reconnect_backoff(), config.reconnect_backoff_max()),
            config.connections_max_idle(),
        ));
        Pool::spawn_reaper(&pool);
        let metadata = MetadataHandle::spawn(
            cache,
            MetadataFetcher {
                pool: Arc::clone(&pool),
                bootstrap: config.bootstrap_servers().to_vec(),
                max_age: config.metadata_max_age(),
                retry: retry_backoff(&config),
            },
        );
        Ok(Client {
            inner: Arc::new(Inner {
                config,
                pool,
                metadata,
                coordinators: CoordinatorCache::default(),
            }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// The current metadata snapshot. Never waits.
    pub fn metadata(&self) -> Arc<MetadataCache> {
        self.inner.metadata.current()
    }

    /// A receiver that sees each new metadata snapshot (for tasks that react to leader or
    /// partition changes).
    pub fn metadata_updates(&self) -> watch::Receiver<Arc<MetadataCache>> {
        self.inner.metadata.subscribe()
    }

    /// Refreshes the metadata of `topics` (`None`: all topics, which also forgets deleted
    /// ones) and returns the new snapshot. Concurrent refreshes are merged into one request.
    pub async fn refresh_metadata(
        &self,
        topics: Option<&[String]>,
    ) -> Result<Arc<MetadataCache>, ClientError> {
        self.inner
            .metadata
            .refresh(topics.map(<[String]>::to_vec))
            .await
    }

    /// Asks for a full metadata refresh soon, without waiting for it.
    pub fn request_metadata_refresh(&self) {
        self.inner.metadata.request();
    }

    /// The connection of `purpose` to `broker`, opened if needed (after the reconnect
    /// backoff if earlier attempts failed). Ask for it per request rather than keeping it:
    /// that is cheap, and lets the pool replace dead and idle connections.
    ///
    /// A broker id missing from the metadata triggers one refresh; still missing, it is
    /// [`ClientError::UnknownBroker`].
    pub async fn connection(
        &self,
        broker: BrokerId,
        purpose: Purpose,
    ) -> Result<Connection, ClientError> {
        let addr = match self.broker_addr(broker) {
            Some(addr) => addr,
            None => {
                debug!(broker, "broker unknown; refreshing metadata");
                self.refresh_metadata(None).await?;
                self.broker_addr(broker)
                    .ok_or(ClientError::UnknownBroker { broker })?
            }
        };
        self.inner
            .pool
            .get(broker, &addr.host_port(), purpose)
            .await
    }

    fn broker_addr(&self, broker: BrokerId) -> Option<BrokerAddr> {
        self.metadata()
            .broker(broker)
            .cloned()
            .or_else(|| self.inner.coordinators.address(broker))
    }

    /// The leader of `topic`'s `partition` and its leader epoch. When the snapshot has no
    /// usable leader, refreshes the topic's metadata once; if there is still none, the error
    /// is [`ClientError::Broker`] for `Metadata` with the reason
    /// (`UNKNOWN_TOPIC_OR_PARTITION`, `LEADER_NOT_AVAILABLE`, or the partition's own error).
    pub async fn leader(
        &self,
        topic: &str,
        partition: i32,
    ) -> Result<(BrokerId, i32), ClientError> {
        if let Ok(found) = leader_of(&self.metadata(), topic, partition) {
            return Ok(found);
        }
        let fresh = self.refresh_metadata(Some(&[topic.to_owned()])).await?;
        leader_of(&fresh, topic, partition).map_err(|code| ClientError::Broker {
            api: ApiKey::Metadata,
            code,
        })
    }

    /// The broker coordinating `key` (a group id or transactional id), from the cache or a
    /// FindCoordinator request. A coordinator error (for example
    /// `COORDINATOR_NOT_AVAILABLE` while the coordinator loads) is returned as
    /// [`ClientError::Broker`]; it is retriable.
    pub async fn coordinator(
        &self,
        kind: CoordinatorKind,
        key: &str,
    ) -> Result<BrokerId, ClientError> {
        if let Some(id) = self.inner.coordinators.get(kind, key) {
            return Ok(id);
        }
        let conn = self.any_broker().await?;
        let version = conn.version_for::<FindCoordinatorRequest>()?;
        let request = routing::find_coordinator_request(kind, key, version)?;
        let response = conn.send_versioned(&request, version).await?;
        let addr = routing::coordinator_from_response(&response, key, version)?;
        debug!(?kind, key, coordinator = addr.id, "found coordinator");
        let id = addr.id;
        self.inner.coordinators.insert(kind, key, addr);
        Ok(id)
    }

    /// Forgets the cached coordinator of `key`, so the next
    /// [`coordinator`](Self::coordinator) call asks again.
    pub fn forget_coordinator(&self, kind: CoordinatorKind, key: &str) {
        self.inner.coordinators.forget(kind, key);
    }

    /// A control connection to any reachable broker: one already connected if possible, else
    /// one that is not backing off from failed attempts.
    pub async fn any_broker(&self) -> Result<Connection, ClientError> {
        connect_any(&self.inner.pool, &self.metadata())
            .await
            .map(|(_, conn)| conn)
    }

    /// Runs `op` until it succeeds, fails with an error [`retry::classify`] calls final, or
    /// [`DEFAULT_API_TIMEOUT`] passes. See [`retry_until`](Self::retry_until).
    pub async fn retry<T, F, Fut>(&self, api: ApiKey, op: F) -> Result<T, ClientError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, ClientError>>,
    {
        self.retry_until(api, Instant::now() + DEFAULT_API_TIMEOUT, op)
            .await
    }

    /// Runs `op` until it succeeds, fails with a final error, or `deadline` passes.
    ///
    /// Retriable broker errors and connection failures are retried after a backoff
    /// (`retry.backoff.ms`, doubling up to one second, ±20% jitter); staleness errors and
    /// connection failures refresh the metadata first. When the deadline passes between
    /// attempts the last error is returned; an attempt still running at the deadline is cut
    /// short with [`ClientError::Timeout`] for `api`.
    pub async fn retry_until<T, F, Fut>(
        &self,
        api: ApiKey,
        deadline: Instant,
        mut op: F,
    ) -> Result<T, ClientError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, ClientError>>,
    {
        let mut budget = RetryBudget::new(retry_backoff(self.config()), deadline.into_std());
        loop {
            let error = match tokio::time::timeout_at(deadline, op()).await {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(error)) => error,
                Err(_) => return Err(ClientError::Timeout { api }),
            };
            let action = classify(&error);
            if action == RetryAction::Fail {
                return Err(error);
            }
            let Some(delay) = budget.next_delay(std::time::Instant::now(), jitter()) else {
                debug!(?api, %error, attempts = budget.attempts(), "retry deadline reached");
                return Err(error);
            };
            debug!(?api, %error, ?delay, ?action, "retrying");
            if action == RetryAction::RefreshMetadataThenRetry {
                match tokio::time::timeout_at(deadline, self.refresh_metadata(None)).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(refresh)) => warn!(%refresh, "metadata refresh before retry failed"),
                    Err(_) => return Err(error),
                }
            }
            if Instant::now() + delay >= deadline {
                return Err(error);
            }
            tokio::time::sleep(delay).await;
        }
    }
}

/// The retry backoff of `config`: `retry.backoff.ms` doubling up to [`RETRY_BACKOFF_MAX`].
fn retry_backoff(config: &ClientConfig) -> Backoff {
    Backoff::new(
        config.retry_backoff(),
        RETRY_BACKOFF_MAX.max(config.retry_backoff()),
    )
}

//! The metadata task: the one owner of the [`MetadataCache`].
//!
//! Concurrency rule: only this task mutates the cache. After every successful Metadata
//! response it publishes a new `Arc<MetadataCache>` snapshot through a `tokio::sync::watch`
//! channel; readers ([`Client::metadata`](super::Client::metadata)) clone the current `Arc`
//! and never wait for the task. Everyone else asks for refreshes through an mpsc channel.
//!
//! Coalescing: the task collects every refresh request that arrived since its last Metadata
//! request into one [`RefreshQueue`] round (a full refresh if any request wants all topics,
//! else the union of the named topics) and answers all of their callers with the one result.
//! Requests that arrive while a Metadata request is in flight go into the next round.
//!
//! The task refreshes all topics by itself when the cache is older than `metadata.max.age.ms`,
//! and retries a failed refresh after `retry.backoff.ms` (growing up to
//! `reconnect.backoff.max.ms`). It ends when every [`Client`](super::Client) handle is gone.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gregor_protocol::messages::metadata::MetadataResponseTopic;
use gregor_protocol::messages::{MetadataRequest, MetadataResponse};
use gregor_protocol::{ApiKey, ErrorCode};
use tokio::sync::{mpsc, oneshot, watch};
use tracing::{Instrument, debug, info_span, warn};

use super::pool::{Pool, jitter};
use super::routing::connect_any;
use crate::cluster::{Backoff, MetadataCache};
use crate::config::BrokerAddress;
use crate::connection::Connection;
use crate::error::{ClientError, PoisonCause};

/// How many refresh requests may queue before senders wait.
const REQUEST_QUEUE: usize = 256;

/// The answer to an awaited refresh.
pub(crate) type RefreshReply = oneshot::Sender<Result<Arc<MetadataCache>, ClientError>>;

/// What one Metadata request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RefreshScope {
    /// Every topic (replaces the cached topic set).
    All,
    /// These topics only.
    Topics(BTreeSet<String>),
}

/// Refresh requests waiting for the next Metadata request (sans-io): merges scopes and
/// collects the callers to answer.
#[derive(Debug)]
pub(crate) struct RefreshQueue<W> {
    scope: Option<RefreshScope>,
    waiters: Vec<W>,
}

impl<W> Default for RefreshQueue<W> {
    fn default() -> Self {
        RefreshQueue {
            scope: None,
            waiters: Vec::new(),
        }
    }
}

impl<W> RefreshQueue<W> {
    /// Adds a request for `topics` (`None`: all topics), answered through `waiter` if given.
    pub(crate) fn push(&mut self, topics: Option<Vec<String>>, waiter: Option<W>) {
        self.scope = Some(match (self.scope.take(), topics) {
            (Some(RefreshScope::All), _) | (_, None) => RefreshScope::All,
            (Some(RefreshScope::Topics(mut set)), Some(topics)) => {
                set.extend(topics);
                RefreshScope::Topics(set)
            }
            (None, Some(topics)) => RefreshScope::Topics(topics.into_iter().collect()),
        });
        self.waiters.extend(waiter);
    }

    /// Takes the merged request and its callers, leaving the queue empty.
    pub(crate) fn take(&mut self) -> Option<(RefreshScope, Vec<W>)> {
        let scope = self.scope.take()?;
        Some((scope, std::mem::take(&mut self.waiters)))
    }
}

/// A request to the metadata task.
#[derive(Debug)]
pub(crate) struct Refresh {
    topics: Option<Vec<String>>,
    reply: Option<RefreshReply>,
}

/// The handle of the metadata task: the snapshot receiver and the request sender.
#[derive(Debug, Clone)]
pub(crate) struct MetadataHandle {
    snapshot: watch::Receiver<Arc<MetadataCache>>,
    requests: mpsc::Sender<Refresh>,
}

impl MetadataHandle {
    /// Spawns the task with `cache` (already loaded by the bootstrap).
    pub(crate) fn spawn(cache: MetadataCache, fetcher: MetadataFetcher) -> MetadataHandle {
        let (snapshot_tx, snapshot) = watch::channel(Arc::new(cache.clone()));
        let (requests, rx) = mpsc::channel(REQUEST_QUEUE);
        tokio::spawn(run(cache, rx, snapshot_tx, fetcher).instrument(info_span!("metadata")));
        MetadataHandle { snapshot, requests }
    }

    /// The current snapshot.
    pub(crate) fn current(&self) -> Arc<MetadataCache> {
        Arc::clone(&self.snapshot.borrow())
    }

    /// A receiver that sees every new snapshot.
    pub(crate) fn subscribe(&self) -> watch::Receiver<Arc<MetadataCache>> {
        self.snapshot.clone()
    }

    /// Asks for a refresh of `topics` (`None`: all) and waits for the result.
    pub(crate) async fn refresh(
        &self,
        topics: Option<Vec<String>>,
    ) -> Result<Arc<MetadataCache>, ClientError> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(Refresh {
                topics,
                reply: Some(reply),
            })
            .await
            .map_err(|_| ClientError::Disconnected)?;
        answer.await.map_err(|_| ClientError::Disconnected)?
    }

    /// Asks for a full refresh without waiting. A full queue means refreshes are pending
    /// already, so the request is dropped then.
    pub(crate) fn request(&self) {
        let _ = self.requests.try_send(Refresh {
            topics: None,
            reply: None,
        });
    }
}

/// What the task needs to send Metadata requests.
#[derive(Debug)]
pub(crate) struct MetadataFetcher {
    pub(crate) pool: Arc<Pool>,
    pub(crate) bootstrap: Vec<BrokerAddress>,
    pub(crate) max_age: Duration,
    pub(crate) retry: Backoff,
}

impl MetadataFetcher {
    /// Sends one Metadata request for `scope` to a reachable broker (known brokers first,
    /// then bootstrap addresses that are not among them). An answer that did not decode
    /// (its connection is closed for it) is asked again once, on a new connection: a
    /// response corrupted on the way costs a retry, not the refresh.
    async fn fetch(
        &self,
        cache: &MetadataCache,
        scope: &RefreshScope,
    ) -> Result<MetadataResponse, ClientError> {
        match self.fetch_once(cache, scope).await {
            Err(error @ ClientError::Poisoned(PoisonCause::MalformedBody(..))) => {
                warn!(%error, "metadata answer did not decode; asking again on a new connection");
                self.fetch_once(cache, scope).await
            }
            other => other,
        }
    }

    async fn fetch_once(
        &self,
        cache: &MetadataCache,
        scope: &RefreshScope,
    ) -> Result<MetadataResponse, ClientError> {
        let conn = match connect_any(&self.pool, cache).await {
            Ok((_, conn)) => conn,
            Err(error) => {
                let known: Vec<String> = cache.brokers().iter().map(|b| b.host_port()).collect();
                let mut last = error;
                let mut found = None;
                for addr in self.bootstrap.iter().map(ToString::to_string) {
                    if known.contains(&addr) {
                        continue;
                    }
                    match Connection::connect(&addr, self.pool.options()).await {
                        Ok(conn) => {
                            found = Some(conn);
                            break;
                        }
                        Err(e) => last = e,
                    }
                }
                found.ok_or(last)?
            }
        };
        request_metadata(&conn, scope).await
    }
}

/// The first Metadata version that can ask a broker not to auto-create the topics it names
/// (`allow_auto_topic_creation`).
const NO_AUTO_CREATE_VERSION: i16 = 4;

/// Sends a Metadata request for `scope` on `conn` (topics are never auto-created).
///
/// A broker whose Metadata stops below v4 would create the named topics that do not exist
/// (when its `auto.create.topics.enable` is on: the older versions cannot say otherwise), so
/// named topics are asked of it as every topic, which creates none; the answer is then cut to
/// the named topics, and those it lacks are answered `UNKNOWN_TOPIC_OR_PARTITION`, as a newer
/// broker would.
pub(crate) async fn request_metadata(
    conn: &Connection,
    scope: &RefreshScope,
) -> Result<MetadataResponse, ClientError> {
    let mut listed_all = false;
    let mut response = conn
        .send_with(|version| match scope {
            RefreshScope::All => MetadataRequest::all_topics(version),
            RefreshScope::Topics(_) if version < NO_AUTO_CREATE_VERSION => {
                listed_all = true;
                MetadataRequest::all_topics(version)
            }
            RefreshScope::Topics(topics) => MetadataRequest {
                allow_auto_topic_creation: false,
                ..MetadataRequest::for_topics(topics.iter().cloned())
            },
        })
        .await?;
    let code = ErrorCode::from_code(response.error_code);
    if code.is_err() {
        return Err(ClientError::Broker {
            api: ApiKey::Metadata,
            code,
        });
    }
    if let (true, RefreshScope::Topics(topics)) = (listed_all, scope) {
        answer_named(&mut response, topics);
    }
    Ok(response)
}

/// Cuts an answer listing every topic to `named`, adding `UNKNOWN_TOPIC_OR_PARTITION` for
/// the named topics it lacks.
fn answer_named(response: &mut MetadataResponse, named: &BTreeSet<String>) {
    response
        .topics
        .retain(|t| t.name.as_ref().is_some_and(|n| named.contains(n)));
    for name in named {
        if !response
            .topics
            .iter()
            .any(|t| t.name.as_ref() == Some(name))
        {
            response.topics.push(MetadataResponseTopic {
                error_code: ErrorCode::UnknownTopicOrPartition.code(),
                name: Some(name.clone()),
                ..MetadataResponseTopic::default()
            });
        }
    }
}

async fn run(
    mut cache: MetadataCache,
    mut rx: mpsc::Receiver<Refresh>,
    snapshot: watch::Sender<Arc<MetadataCache>>,
    fetcher: MetadataFetcher,
) {
    let mut queue: RefreshQueue<RefreshReply> = RefreshQueue::default();
    let mut failures: u32 = 0;
    let mut next_periodic = tokio::time::Instant::now() + fetcher.max_age;
    loop {
        tokio::select! {
            request = rx.recv() => match request {
                Some(r) => queue.push(r.topics, r.reply),
                None => break,
            },
            () = tokio::time::sleep_until(next_periodic) => {
                debug!("metadata reached its max age");
                queue.push(None, None);
            }
        }
        while let Ok(r) = rx.try_recv() {
            queue.push(r.topics, r.reply);
        }
        let Some((scope, waiters)) = queue.take() else {
            continue;
        };
        debug!(?scope, waiters = waiters.len(), "refreshing metadata");
        let result = fetcher.fetch(&cache, &scope).await;
        let answer = match result {
            Ok(response) => {
                cache.apply(&response, scope == RefreshScope::All, Instant::now());
                let published = Arc::new(cache.clone());
                snapshot.send_replace(Arc::clone(&published));
                failures = 0;
                if scope == RefreshScope::All {
                    next_periodic = tokio::time::Instant::now() + fetcher.max_age;
                }
                Ok(published)
            }
            Err(error) => {
                let delay = fetcher.retry.delay(failures, jitter());
                failures = failures.saturating_add(1);
                warn!(%error, retry_in = ?delay, "metadata refresh failed");
                // Retry with a full refresh after the backoff (also when the periodic one
                // was due already, so a broker that stays unreachable is not polled in a loop).
                next_periodic = tokio::time::Instant::now() + delay;
                Err(error)
            }
        };
        for waiter in waiters {
            let _ = waiter.send(answer.clone());
        }
    }
    debug!("metadata task stopped: no client left");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topics(names: &[&str]) -> Option<Vec<String>> {
        Some(names.iter().map(|s| (*s).to_owned()).collect())
    }

    fn set(names: &[&str]) -> RefreshScope {
        RefreshScope::Topics(names.iter().map(|s| (*s).to_owned()).collect())
    }

    #[test]
    fn empty_queue_has_nothing_to_do() {
        let mut q: RefreshQueue<u8> = RefreshQueue::default();
        assert!(q.take().is_none());
    }

    #[test]
    fn named_topics_merge_into_one_request() {
        let mut q = RefreshQueue::default();
        q.push(topics(&["b", "a"]), Some(1));
        q.push(topics(&["c", "a"]), Some(2));
        q.push(topics(&[]), None);
        assert_eq!(q.take(), Some((set(&["a", "b", "c"]), vec![1, 2])));
        assert!(q.take().is_none(), "taking empties the queue");
    }

    #[test]
    fn any_full_request_makes_the_round_full() {
        let mut q = RefreshQueue::default();
        q.push(topics(&["a"]), Some(1));
        q.push(None, None);
        q.push(topics(&["b"]), Some(3));
        assert_eq!(q.take(), Some((RefreshScope::All, vec![1, 3])));
        q.push(None, Some(4));
        q.push(topics(&["z"]), Some(5));
        assert_eq!(q.take(), Some((RefreshScope::All, vec![4, 5])));
    }
}

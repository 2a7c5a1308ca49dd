//! Retry rounds shared by the admin calls, and routing of partitions to their leaders.
//!
//! A call works on a set of items (topics, partitions, groups). Each round sends requests for
//! the items still pending and sorts their outcomes: done (success, or a final error code),
//! or to retry with the error that stopped them. Before the next round the metadata is
//! refreshed if an error asked for it ([`classify`]), then the round waits the retry backoff.
//! At the deadline the items still pending report their last error.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;

use gregor_protocol::{ApiKey, ErrorCode};
use tokio::time::Instant;
use tracing::debug;

use crate::cluster::{Backoff, BrokerId, RetryBudget};
use crate::cluster_client::Client;
use crate::cluster_client::retry::{RETRY_BACKOFF_MAX, RetryAction, classify};
use crate::error::ClientError;
use gregor_protocol::TopicPartition;

/// How one item of a round ended.
#[derive(Debug, Clone)]
pub(crate) enum Outcome<V, E = ErrorCode> {
    /// Finished: a value, or a final error.
    Done(Result<V, E>),
    /// Try again in the next round; `error` is reported if the deadline comes first.
    Retry(ClientError),
}

impl<V, E: From<ErrorCode>> Outcome<V, E> {
    /// The outcome of an item the broker answered with `code`: `ok()` on success, a retry
    /// if `retry(code)`, else the final error.
    pub(crate) fn from_code(
        api: ApiKey,
        code: ErrorCode,
        retry: impl Fn(ErrorCode) -> bool,
        ok: impl FnOnce() -> V,
    ) -> Outcome<V, E> {
        if code.is_ok() {
            Outcome::Done(Ok(ok()))
        } else if retry(code) {
            Outcome::Retry(ClientError::Broker { api, code })
        } else {
            Outcome::Done(Err(code.into()))
        }
    }
}

/// What the items of a call are.
pub(crate) type Results<K, V, E = ErrorCode> = BTreeMap<K, Result<V, E>>;

/// Runs `round` over the pending items until none is left or `deadline` passes.
///
/// A round that fails as a whole retries all its items if [`classify`] allows, else the call
/// fails with that error. At the deadline, pending items whose last error was a broker code
/// report it; if one's last error was something else (a lost connection), the call fails
/// with it. A round still running at the deadline fails the call with
/// [`ClientError::Timeout`].
pub(crate) async fn run_rounds<K, V, E, F, Fut>(
    client: &Client,
    api: ApiKey,
    deadline: Instant,
    items: Vec<K>,
    mut round: F,
) -> Result<Results<K, V, E>, ClientError>
where
    K: Ord + Clone,
    E: From<ErrorCode>,
    F: FnMut(Vec<K>) -> Fut,
    Fut: Future<Output = Result<Vec<(K, Outcome<V, E>)>, ClientError>>,
{
    let config = client.config();
    let backoff = Backoff::new(
        config.retry_backoff(),
        RETRY_BACKOFF_MAX.max(config.retry_backoff()),
    );
    let mut budget = RetryBudget::new(backoff, deadline.into_std());
    let mut results = BTreeMap::new();
    let mut pending = items;
    while !pending.is_empty() {
        let outcomes = match tokio::time::timeout_at(deadline, round(pending.clone())).await {
            Err(_) => return Err(ClientError::Timeout { api }),
            Ok(Err(error)) if classify(&error) == RetryAction::Fail => return Err(error),
            Ok(Err(error)) => pending
                .iter()
                .map(|k| (k.clone(), Outcome::Retry(error.clone())))
                .collect(),
            Ok(Ok(outcomes)) => outcomes,
        };
        let mut retry: Vec<(K, ClientError)> = Vec::new();
        for (key, outcome) in outcomes {
            match outcome {
                Outcome::Done(result) => {
                    results.insert(key, result);
                }
                Outcome::Retry(error) => retry.push((key, error)),
            }
        }
        if retry.is_empty() {
            break;
        }
        let now = Instant::now();
        let delay = budget
            .next_delay(now.into_std(), crate::cluster_client::jitter())
            .filter(|d| now + *d < deadline);
        let Some(delay) = delay else {
            for (key, error) in retry {
                match error {
                    ClientError::Broker { code, .. } => {
                        results.insert(key, Err(code.into()));
                    }
                    other => return Err(other),
                }
            }
            break;
        };
        let refresh = retry
            .iter()
            .any(|(_, e)| classify(e) == RetryAction::RefreshMetadataThenRetry);
        debug!(?api, items = retry.len(), ?delay, refresh, "retrying items");
        if refresh {
            // A failed refresh shows up again in the next round's routing.
            let _ = tokio::time::timeout_at(deadline, client.refresh_metadata(None)).await;
        }
        tokio::time::sleep_until((now + delay).min(deadline)).await;
        pending = retry.into_iter().map(|(k, _)| k).collect();
    }
    Ok(results)
}

/// Partitions grouped by leader, each with the leader epoch the metadata knows.
pub(crate) type ByLeader = HashMap<BrokerId, Vec<(TopicPartition, i32)>>;

/// Routes `partitions` to their leaders. Topics the snapshot lacks, or whose partitions lack
/// a leader, get one metadata refresh first. Partitions of topics the (fresh) metadata does
/// not know, or beyond their partition count, are done with `UNKNOWN_TOPIC_OR_PARTITION`;
/// partitions without a leader are retried.
pub(crate) async fn route_to_leaders<V>(
    client: &Client,
    partitions: Vec<TopicPartition>,
) -> Result<(ByLeader, Vec<(TopicPartition, Outcome<V>)>), ClientError> {
    let mut snapshot = client.metadata();
    let mut missing: Vec<String> = partitions
        .iter()
        .filter(|tp| crate::cluster_client::leader_of(&snapshot, &tp.topic, tp.partition).is_err())
        .map(|tp| tp.topic.to_string())
        .collect();
    missing.sort_unstable();
    missing.dedup();
    if !missing.is_empty() {
        snapshot = client.refresh_metadata(Some(&missing)).await?;
    }
    let mut by_leader = ByLeader::new();
    let mut unrouted = Vec::new();
    for tp in partitions {
        match crate::cluster_client::leader_of(&snapshot, &tp.topic, tp.partition) {
            Ok((leader, epoch)) => by_leader.entry(leader).or_default().push((tp, epoch)),
            Err(ErrorCode::UnknownTopicOrPartition) => {
                unrouted.push((tp, Outcome::Done(Err(ErrorCode::UnknownTopicOrPartition))));
            }
            Err(code) => unrouted.push((
                tp,
                Outcome::Retry(ClientError::Broker {
                    api: ApiKey::Metadata,
                    code,
                }),
            )),
        }
    }
    Ok((by_leader, unrouted))
}

/// Groups `(topic, partition, value)` entries by topic name, keeping first-seen order.
pub(crate) fn by_topic<T>(entries: Vec<(TopicPartition, T)>) -> Vec<(String, Vec<(i32, T)>)> {
    let mut topics: Vec<(String, Vec<(i32, T)>)> = Vec::new();
    for (tp, value) in entries {
        match topics.iter_mut().find(|(name, _)| **name == *tp.topic) {
            Some((_, parts)) => parts.push((tp.partition, value)),
            None => topics.push((tp.topic.to_string(), vec![(tp.partition, value)])),
        }
    }
    topics
}

/// Outcomes for the partitions of a request the broker did not answer for: retry them.
pub(crate) fn missing_from_response<V>(
    api: ApiKey,
    sent: impl IntoIterator<Item = TopicPartition>,
    answered: &[(TopicPartition, Outcome<V>)],
) -> Vec<(TopicPartition, Outcome<V>)> {
    sent.into_iter()
        .filter(|tp| !answered.iter().any(|(a, _)| a == tp))
        .map(|tp| {
            (
                tp,
                Outcome::Retry(ClientError::Broker {
                    api,
                    code: ErrorCode::UnknownServerError,
                }),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_from_codes() {
        let retry = |c: ErrorCode| c == ErrorCode::NotLeaderOrFollower;
        assert!(matches!(
            Outcome::<i32>::from_code(ApiKey::ListOffsets, ErrorCode::None, retry, || 5),
            Outcome::Done(Ok(5))
        ));
        assert!(matches!(
            Outcome::<i32>::from_code(
                ApiKey::ListOffsets,
                ErrorCode::NotLeaderOrFollower,
                retry,
                || 5
            ),
            Outcome::Retry(ClientError::Broker {
                code: ErrorCode::NotLeaderOrFollower,
                ..
            })
        ));
        assert!(matches!(
            Outcome::<i32>::from_code(
                ApiKey::ListOffsets,
                ErrorCode::OffsetOutOfRange,
                retry,
                || 5
            ),
            Outcome::Done(Err(ErrorCode::OffsetOutOfRange))
        ));
    }

    #[test]
    fn groups_partitions_by_topic_in_order() {
        let tp = |t: &str, p| TopicPartition::new(t, p);
        let grouped = by_topic(vec![
            (tp("b", 1), 'x'),
            (tp("a", 0), 'y'),
            (tp("b", 0), 'z'),
        ]);
        assert_eq!(
            grouped,
            vec![
                ("b".to_owned(), vec![(1, 'x'), (0, 'z')]),
                ("a".to_owned(), vec![(0, 'y')]),
            ]
        );
    }

    #[test]
    fn unanswered_partitions_are_retried() {
        let tp = |p| TopicPartition::new("t", p);
        let answered = vec![(tp(0), Outcome::Done(Ok(())))];
        let missing = missing_from_response(ApiKey::DeleteRecords, [tp(0), tp(1)], &answered);
        assert_eq!(missing.len(), 1);
        assert_eq!(missing[0].0, tp(1));
        assert!(matches!(missing[0].1, Outcome::Retry(_)));
    }
}

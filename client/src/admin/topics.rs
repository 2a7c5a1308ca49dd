//! Creating and deleting topics, adding partitions.
//!
//! These requests go to the controller the metadata names (any broker in KRaft clusters,
//! which forwards them), or any broker when none is named. `NOT_CONTROLLER` refreshes the
//! metadata and retries. Per-topic `REQUEST_TIMED_OUT` is final here, not retried: the
//! controller may still complete the change, and a retry would then report a misleading
//! `TOPIC_ALREADY_EXISTS` (or `UNKNOWN_TOPIC_OR_PARTITION`).

use std::collections::BTreeMap;

use gregor_protocol::messages::create_partitions::CreatePartitionsTopic;
use gregor_protocol::messages::create_topics::{CreatableTopic, CreatableTopicConfig};
use gregor_protocol::messages::delete_topics::DeleteTopicState;
use gregor_protocol::messages::{
    CreatePartitionsRequest, CreatePartitionsResponse, CreateTopicsRequest, CreateTopicsResponse,
    DeleteTopicsRequest, DeleteTopicsResponse,
};
use gregor_protocol::primitives::Uuid;
use gregor_protocol::{ApiKey, ErrorCode, Request};
use tokio::time::Instant;
use tracing::debug;

use super::rounds::{Outcome, run_rounds};
use super::{Admin, TopicError, remaining_ms, require_version};
use crate::cluster_client::{Client, Purpose};
use crate::connection::Connection;
use crate::error::ClientError;

/// A topic to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTopic {
    /// The topic's name.
    pub name: String,
    /// The partition count; `None` takes the broker's default (`num.partitions`; needs
    /// CreateTopics v4, Kafka 2.4).
    pub num_partitions: Option<i32>,
    /// The replication factor; `None` takes the broker's default
    /// (`default.replication.factor`; needs CreateTopics v4).
    pub replication_factor: Option<i16>,
    /// Topic configurations (`cleanup.policy`, `retention.ms`, ...).
    pub configs: Vec<(String, String)>,
}

impl NewTopic {
    /// A topic with this many partitions and replicas.
    pub fn new(name: impl Into<String>, num_partitions: i32, replication_factor: i16) -> Self {
        NewTopic {
            name: name.into(),
            num_partitions: Some(num_partitions),
            replication_factor: Some(replication_factor),
            configs: Vec::new(),
        }
    }

    /// A topic with the broker's default partition count and replication factor.
    pub fn with_broker_defaults(name: impl Into<String>) -> Self {
        NewTopic {
            name: name.into(),
            num_partitions: None,
            replication_factor: None,
            configs: Vec::new(),
        }
    }

    /// Adds a topic configuration.
    pub fn config(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.configs.push((key.into(), value.into()));
        self
    }
}

/// Options of [`Admin::create_topics`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CreateTopicsOptions {
    /// Only check that the topics could be created.
    pub validate_only: bool,
    /// After creating, wait until the metadata shows every created topic with a leader for
    /// each partition (a topic is usable right away then).
    pub wait_for_leaders: bool,
}

impl CreateTopicsOptions {
    /// Waits (or not) for the created topics' leaders.
    pub fn wait_for_leaders(mut self, wait: bool) -> Self {
        self.wait_for_leaders = wait;
        self
    }

    /// Only validates (or really creates).
    pub fn validate_only(mut self, validate_only: bool) -> Self {
        self.validate_only = validate_only;
        self
    }
}

/// A topic the broker created (or would create, when validating only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedTopic {
    /// The topic id (CreateTopics v7+).
    pub topic_id: Option<Uuid>,
    /// The partition count (v5+).
    pub num_partitions: Option<i32>,
    /// The replication factor (v5+).
    pub replication_factor: Option<i16>,
}

/// Whether a per-topic error of a topic-changing request is worth retrying.
fn retry_topic_error(code: ErrorCode) -> bool {
    code.is_retriable()
        && !matches!(
            code,
            ErrorCode::RequestTimedOut | ErrorCode::UnknownTopicOrPartition
        )
}

/// The CreateTopics request for `topics` in `version`.
pub(crate) fn create_topics_request(
    topics: &[NewTopic],
    validate_only: bool,
    version: i16,
    timeout_ms: i32,
) -> Result<CreateTopicsRequest, ClientError> {
    let mut creatable = Vec::with_capacity(topics.len());
    for t in topics {
        if t.num_partitions.is_none() || t.replication_factor.is_none() {
            require_version(
                ApiKey::CreateTopics,
                version,
                4,
                "broker-default partitions or replication factor",
            )?;
        }
        creatable.push(CreatableTopic {
            name: t.name.clone(),
            num_partitions: t.num_partitions.unwrap_or(-1),
            replication_factor: t.replication_factor.unwrap_or(-1),
            configs: t
                .configs
                .iter()
                .map(|(k, v)| CreatableTopicConfig {
                    name: k.clone(),
                    value: Some(v.clone()),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        });
    }
    Ok(CreateTopicsRequest {
        topics: creatable,
        timeout_ms,
        validate_only,
        ..Default::default()
    })
}

/// The per-topic outcomes of a CreateTopics response in `version`.
pub(crate) fn create_topics_outcomes(
    response: &CreateTopicsResponse,
    version: i16,
) -> Vec<(String, Outcome<CreatedTopic, TopicError>)> {
    response
        .topics
        .iter()
        .map(|t| {
            let code = ErrorCode::from_code(t.error_code);
            let outcome = if code.is_ok() {
                Outcome::Done(Ok(CreatedTopic {
                    topic_id: (version >= 7 && t.topic_id != Uuid::ZERO).then_some(t.topic_id),
                    num_partitions: (version >= 5 && t.num_partitions >= 0)
                        .then_some(t.num_partitions),
                    replication_factor: (version >= 5 && t.replication_factor >= 0)
                        .then_some(t.replication_factor),
                }))
            } else if retry_topic_error(code) {
                Outcome::Retry(ClientError::Broker {
                    api: ApiKey::CreateTopics,
                    code,
                })
            } else {
                Outcome::Done(Err(TopicError::from_wire(
                    t.error_code,
                    t.error_message.as_ref(),
                )))
            };
            (t.name.clone(), outcome)
        })
        .collect()
}

/// The per-topic outcomes of a DeleteTopics response.
pub(crate) fn delete_topics_outcomes(
    response: &DeleteTopicsResponse,
) -> Vec<(String, Outcome<(), TopicError>)> {
    response
        .responses
        .iter()
        .filter_map(|t| {
            let name = t.name.clone()?;
            let code = ErrorCode::from_code(t.error_code);
            let outcome = if code.is_ok() {
                Outcome::Done(Ok(()))
            } else if retry_topic_error(code) {
                Outcome::Retry(ClientError::Broker {
                    api: ApiKey::DeleteTopics,
                    code,
                })
            } else {
                Outcome::Done(Err(TopicError::from_wire(
                    t.error_code,
                    t.error_message.as_ref(),
                )))
            };
            Some((name, outcome))
        })
        .collect()
}

/// The per-topic outcomes of a CreatePartitions response.
pub(crate) fn create_partitions_outcomes(
    response: &CreatePartitionsResponse,
) -> Vec<(String, Outcome<(), TopicError>)> {
    response
        .results
        .iter()
        .map(|t| {
            let code = ErrorCode::from_code(t.error_code);
            let outcome = if code.is_ok() {
                Outcome::Done(Ok(()))
            } else if retry_topic_error(code) {
                Outcome::Retry(ClientError::Broker {
                    api: ApiKey::CreatePartitions,
                    code,
                })
            } else {
                Outcome::Done(Err(TopicError::from_wire(
                    t.error_code,
                    t.error_message.as_ref(),
                )))
            };
            (t.name.clone(), outcome)
        })
        .collect()
}

/// Adds a retry outcome for every name sent but missing from the answer.
fn add_unanswered<V>(
    api: ApiKey,
    sent: &[String],
    outcomes: &mut Vec<(String, Outcome<V, TopicError>)>,
) {
    for name in sent {
        if !outcomes.iter().any(|(n, _)| n == name) {
            outcomes.push((
                name.clone(),
                Outcome::Retry(ClientError::Broker {
                    api,
                    code: ErrorCode::UnknownServerError,
                }),
            ));
        }
    }
}

/// A control connection to the controller, or to any broker.
async fn controller(client: &Client) -> Result<Connection, ClientError> {
    match client.metadata().controller() {
        Some(id) => client.connection(id, Purpose::Control).await,
        None => client.any_broker().await,
    }
}

impl Admin {
    /// Creates `topics`. Each topic's result is the created topic or its error
    /// (`TOPIC_ALREADY_EXISTS`, `INVALID_REPLICATION_FACTOR`, a policy violation, ...).
    ///
    /// With [`CreateTopicsOptions::wait_for_leaders`], the call then waits until the metadata
    /// lists each created topic with a leader for every partition, and fails with
    /// [`ClientError::Timeout`] (for `Metadata`) if that does not happen by the deadline.
    #[tracing::instrument(level = "debug", skip_all, fields(topics = topics.len()))]
    pub async fn create_topics(
        &self,
        topics: Vec<NewTopic>,
        options: CreateTopicsOptions,
    ) -> Result<BTreeMap<String, Result<CreatedTopic, TopicError>>, ClientError> {
        let deadline = self.deadline();
        let names: Vec<String> = topics.iter().map(|t| t.name.clone()).collect();
        let results = run_rounds(
            &self.client,
            ApiKey::CreateTopics,
            deadline,
            names,
            |pending: Vec<String>| {
                let batch: Vec<NewTopic> = topics
                    .iter()
                    .filter(|t| pending.contains(&t.name))
                    .cloned()
                    .collect();
                async move {
                    let conn = controller(&self.client).await?;
                    let version = conn.version_for::<CreateTopicsRequest>()?;
                    let request = create_topics_request(
                        &batch,
                        options.validate_only,
                        version,
                        remaining_ms(deadline),
                    )?;
                    let response = conn.send_versioned(&request, version).await?;
                    let mut outcomes = create_topics_outcomes(&response, version);
                    add_unanswered(CreateTopicsRequest::API_KEY, &pending, &mut outcomes);
                    Ok(outcomes)
                }
            },
        )
        .await?;
        if options.wait_for_leaders && !options.validate_only {
            let created: Vec<(String, Option<i32>)> = results
                .iter()
                .filter_map(|(name, r)| {
                    let created = r.as_ref().ok()?;
                    let requested = topics.iter().find(|t| t.name == *name)?.num_partitions;
                    Some((name.clone(), created.num_partitions.or(requested)))
                })
                .collect();
            self.wait_for_leaders(&created, deadline).await?;
        } else {
            self.client.request_metadata_refresh();
        }
        Ok(results)
    }

    /// Waits until every `(topic, expected partition count)` has a leader for each partition.
    async fn wait_for_leaders(
        &self,
        topics: &[(String, Option<i32>)],
        deadline: Instant,
    ) -> Result<(), ClientError> {
        if topics.is_empty() {
            return Ok(());
        }
        let names: Vec<String> = topics.iter().map(|(n, _)| n.clone()).collect();
        let backoff = self.client.config().retry_backoff();
        loop {
            let snapshot =
                tokio::time::timeout_at(deadline, self.client.refresh_metadata(Some(&names)))
                    .await
                    .map_err(|_| ClientError::Timeout {
                        api: ApiKey::Metadata,
                    })?;
            if let Ok(snapshot) = snapshot {
                let ready = topics.iter().all(|(name, expected)| {
                    snapshot.topic(name).is_some_and(|t| {
                        t.error.is_ok()
                            && !t.partitions.is_empty()
                            && expected.is_none_or(|n| t.partitions.len() == n as usize)
                            && t.partitions.iter().all(|p| p.leader.is_some())
                    })
                });
                if ready {
                    debug!(topics = names.len(), "created topics have leaders");
                    return Ok(());
                }
            }
            if Instant::now() + backoff >= deadline {
                return Err(ClientError::Timeout {
                    api: ApiKey::Metadata,
                });
            }
            tokio::time::sleep(backoff).await;
        }
    }

    /// Deletes the topics named. Each topic's result is `Ok(())` or its error
    /// (`UNKNOWN_TOPIC_OR_PARTITION` for a topic that does not exist, ...).
    #[tracing::instrument(level = "debug", skip_all, fields(topics = names.len()))]
    pub async fn delete_topics(
        &self,
        names: &[String],
    ) -> Result<BTreeMap<String, Result<(), TopicError>>, ClientError> {
        let deadline = self.deadline();
        let results = run_rounds(
            &self.client,
            ApiKey::DeleteTopics,
            deadline,
            names.to_vec(),
            |pending: Vec<String>| async move {
                let conn = controller(&self.client).await?;
                let version = conn.version_for::<DeleteTopicsRequest>()?;
                let mut request = DeleteTopicsRequest {
                    timeout_ms: remaining_ms(deadline),
                    ..Default::default()
                };
                if version >= 6 {
                    request.topics = pending
                        .iter()
                        .map(|n| DeleteTopicState {
                            name: Some(n.clone()),
                            ..Default::default()
                        })
                        .collect();
                } else {
                    request.topic_names.clone_from(&pending);
                }
                let response = conn.send_versioned(&request, version).await?;
                let mut outcomes = delete_topics_outcomes(&response);
                add_unanswered(DeleteTopicsRequest::API_KEY, &pending, &mut outcomes);
                Ok(outcomes)
            },
        )
        .await?;
        self.client.request_metadata_refresh();
        Ok(results)
    }

    /// Raises the partition counts of topics to the totals given (`(topic, new total)`).
    /// Each topic's result is `Ok(())` or its error (`INVALID_PARTITIONS` for a count that
    /// does not grow, ...). Brokers without CreatePartitions (API 37) fail the call with
    /// [`ClientError::UnsupportedApi`].
    #[tracing::instrument(level = "debug", skip_all, fields(topics = totals.len()))]
    pub async fn create_partitions(
        &self,
        totals: &[(String, i32)],
        validate_only: bool,
    ) -> Result<BTreeMap<String, Result<(), TopicError>>, ClientError> {
        let deadline = self.deadline();
        let names: Vec<String> = totals.iter().map(|(n, _)| n.clone()).collect();
        let results = run_rounds(
            &self.client,
            ApiKey::CreatePartitions,
            deadline,
            names,
            |pending: Vec<String>| async move {
                let conn = controller(&self.client).await?;
                let version = conn.version_for::<CreatePartitionsRequest>()?;
                let request = CreatePartitionsRequest {
                    topics: totals
                        .iter()
                        .filter(|(n, _)| pending.contains(n))
                        .map(|(name, count)| CreatePartitionsTopic {
                            name: name.clone(),
                            count: *count,
                            assignments: None,
                            ..Default::default()
                        })
                        .collect(),
                    timeout_ms: remaining_ms(deadline),
                    validate_only,
                    ..Default::default()
                };
                let response = conn.send_versioned(&request, version).await?;
                let mut outcomes = create_partitions_outcomes(&response);
                add_unanswered(CreatePartitionsRequest::API_KEY, &pending, &mut outcomes);
                Ok(outcomes)
            },
        )
        .await?;
        self.client.request_metadata_refresh();
        Ok(results)
    }
}

#[cfg(test)]
#[path = "topics_tests.rs"]
mod tests;

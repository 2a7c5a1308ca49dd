//! Describing and listing consumer groups.
//!
//! DescribeGroups goes to each group's coordinator (one request per coordinator); a
//! coordinator error (`NOT_COORDINATOR`, `COORDINATOR_NOT_AVAILABLE`,
//! `COORDINATOR_LOAD_IN_PROGRESS`) forgets the cached coordinator and retries. ListGroups goes
//! to every broker, since each lists only the groups it coordinates.

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use gregor_protocol::messages::{
    DescribeGroupsRequest, DescribeGroupsResponse, ListGroupsRequest, ListGroupsResponse,
};
use gregor_protocol::{ApiKey, ErrorCode};
use tokio::task::JoinSet;

use super::rounds::{Outcome, run_rounds};
use super::{Admin, require_version};
use crate::cluster::BrokerId;
use crate::cluster_client::retry::{RetryAction, classify};
use crate::cluster_client::{Client, CoordinatorKind, Purpose};
use crate::error::ClientError;

/// A member of a described group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberDescription {
    /// The member id the coordinator assigned.
    pub member_id: String,
    /// The static member id (`group.instance.id`), if any (v4+).
    pub group_instance_id: Option<String>,
    /// The member's client id.
    pub client_id: String,
    /// The member's host, as the coordinator saw it.
    pub client_host: String,
    /// The member's protocol metadata (for consumers, its encoded subscription).
    pub metadata: Bytes,
    /// The member's assignment (for consumers, its encoded assignment).
    pub assignment: Bytes,
}

/// A group as its coordinator describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDescription {
    /// The group id.
    pub group_id: String,
    /// The group's state (`Stable`, `PreparingRebalance`, `Empty`, `Dead`, ...).
    pub state: String,
    /// The protocol type (`consumer` for consumer groups), empty if none.
    pub protocol_type: String,
    /// The chosen protocol (for consumer groups, the assignor), empty if none.
    pub protocol: String,
    /// The members.
    pub members: Vec<MemberDescription>,
    /// The coordinator that answered.
    pub coordinator: BrokerId,
}

/// A group [`Admin::list_groups`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupListing {
    /// The group id.
    pub group_id: String,
    /// The protocol type (`consumer` for consumer groups), empty for groups that only store
    /// offsets.
    pub protocol_type: String,
    /// The group's state (ListGroups v4+).
    pub state: Option<String>,
    /// The group's type, `classic` or `consumer` (ListGroups v5+).
    pub group_type: Option<String>,
    /// The coordinator that listed it.
    pub coordinator: BrokerId,
}

/// Filters of [`Admin::list_groups`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListGroupsOptions {
    /// Only groups in these states (needs ListGroups v4); empty: all.
    pub states: Vec<String>,
    /// Only groups of these types (needs ListGroups v5); empty: all.
    pub types: Vec<String>,
}

impl ListGroupsOptions {
    /// Only groups in `states`.
    pub fn states<I: IntoIterator<Item = S>, S: Into<String>>(mut self, states: I) -> Self {
        self.states = states.into_iter().map(Into::into).collect();
        self
    }

    /// Only groups of `types`.
    pub fn types<I: IntoIterator<Item = S>, S: Into<String>>(mut self, types: I) -> Self {
        self.types = types.into_iter().map(Into::into).collect();
        self
    }
}

/// What [`Admin::list_groups`] found: the groups of every broker that answered, and the
/// error of each broker that did not.
#[derive(Debug, Clone, Default)]
pub struct ListedGroups {
    /// The groups, sorted by id.
    pub groups: Vec<GroupListing>,
    /// Brokers whose listing failed, with why.
    pub errors: Vec<(BrokerId, ClientError)>,
}

/// The ListGroups request with `options` in `version`.
pub(crate) fn list_groups_request(
    options: &ListGroupsOptions,
    version: i16,
) -> Result<ListGroupsRequest, ClientError> {
    if !options.states.is_empty() {
        require_version(ApiKey::ListGroups, version, 4, "the group state filter")?;
    }
    if !options.types.is_empty() {
        require_version(ApiKey::ListGroups, version, 5, "the group type filter")?;
    }
    Ok(ListGroupsRequest {
        states_filter: options.states.clone(),
        types_filter: options.types.clone(),
        ..Default::default()
    })
}

/// The groups of a ListGroups response in `version`, or its error.
pub(crate) fn listed_groups(
    response: &ListGroupsResponse,
    version: i16,
    coordinator: BrokerId,
) -> Result<Vec<GroupListing>, ClientError> {
    let code = ErrorCode::from_code(response.error_code);
    if code.is_err() {
        return Err(ClientError::Broker {
            api: ApiKey::ListGroups,
            code,
        });
    }
    Ok(response
        .groups
        .iter()
        .map(|g| GroupListing {
            group_id: g.group_id.clone(),
            protocol_type: g.protocol_type.clone(),
            state: (version >= 4).then(|| g.group_state.clone()),
            group_type: (version >= 5).then(|| g.group_type.clone()),
            coordinator,
        })
        .collect())
}

/// The per-group outcomes of a DescribeGroups response from `coordinator`. Coordinator errors
/// forget the coordinator through `forget` and retry.
pub(crate) fn describe_groups_outcomes(
    response: &DescribeGroupsResponse,
    coordinator: BrokerId,
    mut forget: impl FnMut(&str),
) -> Vec<(String, Outcome<GroupDescription>)> {
    response
        .groups
        .iter()
        .map(|g| {
            let code = ErrorCode::from_code(g.error_code);
            if code.is_stale_coordinator() {
                forget(&g.group_id);
            }
            let outcome = Outcome::from_code(
                ApiKey::DescribeGroups,
                code,
                ErrorCode::is_retriable,
                || GroupDescription {
                    group_id: g.group_id.clone(),
                    state: g.group_state.clone(),
                    protocol_type: g.protocol_type.clone(),
                    protocol: g.protocol_data.clone(),
                    members: g
                        .members
                        .iter()
                        .map(|m| MemberDescription {
                            member_id: m.member_id.clone(),
                            group_instance_id: m.group_instance_id.clone(),
                            client_id: m.client_id.clone(),
                            client_host: m.client_host.clone(),
                            metadata: m.member_metadata.clone(),
                            assignment: m.member_assignment.clone(),
                        })
                        .collect(),
                    coordinator,
                },
            );
            (g.group_id.clone(), outcome)
        })
        .collect()
}

/// Looks up the coordinators of `groups`: grouped by coordinator, plus outcomes for groups
/// whose lookup failed. A failure that is not retriable and not a broker code fails all.
async fn coordinators_of(
    client: &Client,
    groups: Vec<String>,
) -> Result<
    (
        HashMap<BrokerId, Vec<String>>,
        Vec<(String, Outcome<GroupDescription>)>,
    ),
    ClientError,
> {
    let mut by_coordinator: HashMap<BrokerId, Vec<String>> = HashMap::new();
    let mut failed = Vec::new();
    for group in groups {
        match client.coordinator(CoordinatorKind::Group, &group).await {
            Ok(id) => by_coordinator.entry(id).or_default().push(group),
            Err(ClientError::Broker { code, .. }) if !code.is_retriable() => {
                failed.push((group, Outcome::Done(Err(code))));
            }
            Err(error) if classify(&error) == RetryAction::Fail => return Err(error),
            Err(error) => failed.push((group, Outcome::Retry(error))),
        }
    }
    Ok((by_coordinator, failed))
}

impl Admin {
    /// Describes groups: state, protocol, members. A group's result is its description or
    /// its error (`GROUP_AUTHORIZATION_FAILED`, `GROUP_ID_NOT_FOUND` from brokers that report
    /// unknown groups that way; older brokers describe an unknown group as `Dead`).
    #[tracing::instrument(level = "debug", skip_all, fields(groups = group_ids.len()))]
    pub async fn describe_groups(
        &self,
        group_ids: &[String],
    ) -> Result<BTreeMap<String, Result<GroupDescription, ErrorCode>>, ClientError> {
        let client = &self.client;
        run_rounds(
            client,
            ApiKey::DescribeGroups,
            self.deadline(),
            group_ids.to_vec(),
            |pending| async move {
                let (by_coordinator, mut outcomes) = coordinators_of(client, pending).await?;
                for (coordinator, groups) in by_coordinator {
                    let forget = |g: &str| client.forget_coordinator(CoordinatorKind::Group, g);
                    let answer = async {
                        let conn = client.connection(coordinator, Purpose::Control).await?;
                        conn.send(DescribeGroupsRequest {
                            groups: groups.clone(),
                            ..Default::default()
                        })
                        .await
                    }
                    .await;
                    match answer {
                        Ok(response) => {
                            let answered = describe_groups_outcomes(&response, coordinator, forget);
                            for g in &groups {
                                if !answered.iter().any(|(a, _)| a == g) {
                                    outcomes.push((
                                        g.clone(),
                                        Outcome::Retry(ClientError::Broker {
                                            api: ApiKey::DescribeGroups,
                                            code: ErrorCode::CoordinatorNotAvailable,
                                        }),
                                    ));
                                }
                            }
                            outcomes.extend(answered);
                        }
                        Err(error) if classify(&error) == RetryAction::Fail => return Err(error),
                        Err(error) => {
                            for g in groups {
                                forget(&g);
                                outcomes.push((g, Outcome::Retry(error.clone())));
                            }
                        }
                    }
                }
                Ok(outcomes)
            },
        )
        .await
    }

    /// Lists the groups of every broker in the metadata (each broker lists the groups it
    /// coordinates), asking all of them concurrently, each with retries until the deadline.
    /// An empty list is a valid answer. Fails as a whole only when `options` needs a newer
    /// ListGroups than a broker has, or the broker lacks ListGroups.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn list_groups(
        &self,
        options: &ListGroupsOptions,
    ) -> Result<ListedGroups, ClientError> {
        let deadline = self.deadline();
        let brokers: Vec<BrokerId> = self
            .client
            .metadata()
            .brokers()
            .iter()
            .map(|b| b.id)
            .collect();
        let mut tasks = JoinSet::new();
        for broker in brokers {
            let client = self.client.clone();
            let options = options.clone();
            tasks.spawn(async move {
                let result = client
                    .retry_until(ApiKey::ListGroups, deadline, || async {
                        let conn = client.connection(broker, Purpose::Control).await?;
                        let version = conn.version_for::<ListGroupsRequest>()?;
                        let request = list_groups_request(&options, version)?;
                        let response = conn.send_versioned(&request, version).await?;
                        listed_groups(&response, version, broker)
                    })
                    .await;
                (broker, result)
            });
        }
        let mut listed = ListedGroups::default();
        while let Some(joined) = tasks.join_next().await {
            let (broker, result) = match joined {
                Ok(done) => done,
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(_) => return Err(ClientError::Disconnected),
            };
            match result {
                Ok(groups) => listed.groups.extend(groups),
                Err(
                    error @ (ClientError::FeatureNotSupported { .. }
                    | ClientError::UnsupportedApi { .. }),
                ) => return Err(error),
                Err(error) => listed.errors.push((broker, error)),
            }
        }
        listed.groups.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        listed.errors.sort_by_key(|(b, _)| *b);
        Ok(listed)
    }
}

#[cfg(test)]
#[path = "groups_tests.rs"]
mod tests;

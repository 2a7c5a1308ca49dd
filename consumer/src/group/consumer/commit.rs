//! The consumer's commits: fenced by the member's generation, applied in the order they were
//! started, through the error table. Auto-commits, `commit_async` and the commit of a
//! revocation run on tasks of their own ([`Committer`]), so that the application never waits
//! for them (and a dropped `next` call never loses one).

use std::collections::BTreeMap;

use gregor_client::Admin;
use gregor_client::admin::{CommitFencing, OffsetAndMetadata};
use gregor_protocol::TopicPartition;
use tokio::sync::{mpsc, watch};
use tracing::debug;

use super::GroupConsumer;
use crate::group::errors::{GroupApi, GroupError, Reaction, ReactionContext, reaction};
use crate::group::task::{Command, MemberState};

/// What a step of applying a group event found, on its own task.
#[derive(Debug)]
pub(super) enum Background {
    /// The committed offsets of newly assigned partitions.
    Offsets(Result<CommittedOffsets, gregor_client::ClientError>),
    /// A commit of revoked partitions.
    Commit(CommitOutcome),
}

/// What an offset lookup returns per partition.
pub(super) type CommittedOffsets = BTreeMap<
    TopicPartition,
    Result<Option<gregor_client::admin::CommittedOffset>, gregor_protocol::ErrorCode>,
>;

/// What a commit did: the offsets the coordinator accepted, and the outcome.
#[derive(Debug)]
pub(super) struct CommitOutcome {
    pub(super) committed: Vec<(TopicPartition, i64)>,
    pub(super) result: Result<(), GroupError>,
}

/// What a commit needs, detached from the consumer so that auto-commits run on their own task.
struct Committer {
    admin: Admin,
    group_id: String,
    instance_id: Option<String>,
    state: watch::Receiver<MemberState>,
    commands: mpsc::UnboundedSender<Command>,
}

impl Committer {
    /// Commits `offsets` fenced by the member's generation; refusals go through the error
    /// table (a refusal that says the member is out of its generation makes it rejoin).
    async fn commit(self, offsets: Vec<(TopicPartition, OffsetAndMetadata)>) -> CommitOutcome {
        let mut committed = Vec::new();
        let mut pending = offsets;
        let mut retries = 0;
        loop {
            let round = self.commit_once(&pending).await;
            committed.extend(round.committed);
            if round.stale.is_empty() {
                return CommitOutcome {
                    committed,
                    result: round.result,
                };
            }
            // STALE_MEMBER_EPOCH (consumer protocol): a heartbeat answer moved the member to a
            // newer epoch while the commit was on its way. Wait for the task to publish it,
            // then commit those partitions again with it; never fail the commit on it while
            // the member is in the group.
            let used = round.epoch;
            // Ask the membership for a heartbeat now, whose answer carries the epoch.
            let _ = self.commands.send(Command::CommitRefused(
                gregor_protocol::ErrorCode::StaleMemberEpoch,
                Reaction::RetryWithNewEpoch,
            ));
            let mut state = self.state.clone();
            let newer = tokio::time::timeout(
                STALE_EPOCH_WAIT,
                state.wait_for(|s| s.identity.as_ref().is_none_or(|i| i.generation != used)),
            )
            .await;
            // Timed out or not, a member still in the group tries again (the epoch it has may
            // have been the newest after all); one out of the group cannot commit.
            let in_group = match newer {
                Ok(Ok(s)) => s.identity.is_some(),
                Ok(Err(_)) => false,
                Err(_) => self.state.borrow().identity.is_some(),
            };
            retries += 1;
            if !in_group || retries > STALE_EPOCH_RETRIES {
                let result = round.result.and(Err(GroupError::PartitionsRejected {
                    api: GroupApi::OffsetCommit,
                    partitions: round
                        .stale
                        .iter()
                        .map(|(tp, _)| (tp.clone(), gregor_protocol::ErrorCode::StaleMemberEpoch))
                        .collect(),
                }));
                return CommitOutcome { committed, result };
            }
            debug!(group = %self.group_id, epoch = used, "commit met a stale member epoch; retrying with the new one");
            pending = round.stale;
        }
    }

    /// One OffsetCommit with the member's current identity.
    async fn commit_once(&self, offsets: &[(TopicPartition, OffsetAndMetadata)]) -> CommitRound {
        let mut committed = Vec::new();
        let mut stale = Vec::new();
        if offsets.is_empty() {
            return CommitRound {
                committed,
                stale,
                epoch: -1,
                result: Ok(()),
            };
        }
        let state = self.state.borrow().clone();
        let Some(identity) = state.identity else {
            return CommitRound {
                committed,
                stale,
                epoch: -1,
                result: Err(GroupError::RebalanceInProgress),
            };
        };
        let fencing = CommitFencing {
            generation_or_epoch: identity.generation,
            member_id: identity.member_id,
            instance_id: identity.instance_id,
        };
        let epoch = fencing.generation_or_epoch;
        let results = match self
            .admin
            .commit_offsets_fenced(&self.group_id, &fencing, offsets)
            .await
        {
            Ok(results) => results,
            Err(error) => {
                return CommitRound {
                    committed,
                    stale,
                    epoch,
                    result: Err(GroupError::Client(error)),
                };
            }
        };
        let now = self.state.borrow().clone();
        let context = ReactionContext {
            rebalancing: state.rebalancing || now.rebalancing,
            static_member: self.instance_id.is_some(),
            generation_changed: now
                .identity
                .as_ref()
                .is_none_or(|i| i.generation != fencing.generation_or_epoch),
        };
        let mut refused = Vec::new();
        let mut worst: Option<GroupError> = None;
        for (tp, result) in results {
            match result {
                Ok(()) => {
                    if let Some((_, o)) = offsets.iter().find(|(t, _)| *t == tp) {
                        committed.push((tp, o.offset));
                    }
                }
                Err(code) => {
                    let action = reaction(GroupApi::OffsetCommit, code, context);
                    match action {
                        Reaction::RetryWithNewEpoch => {
                            if let Some(entry) = offsets.iter().find(|(t, _)| *t == tp) {
                                stale.push(entry.clone());
                            }
                            continue;
                        }
                        Reaction::CommitRebalancing => {
                            worst = Some(GroupError::RebalanceInProgress)
                        }
                        Reaction::CommitFailed => worst = Some(GroupError::CommitFailed),
                        Reaction::ResetMember | Reaction::ResetGeneration => {
                            // Out of its generation: the member loses its partitions and
                            // rejoins; this commit can never succeed.
                            let _ = self.commands.send(Command::CommitRefused(code, action));
                            worst = Some(GroupError::CommitFailed);
                        }
                        Reaction::Fatal(kind) => {
                            worst = Some(kind.error(
                                GroupApi::OffsetCommit,
                                code,
                                &self.group_id,
                                self.instance_id.as_deref(),
                            ));
                        }
                        _ => {}
                    }
                    refused.push((tp, code));
                }
            }
        }
        let result = match worst {
            Some(error) => Err(error),
            None if refused.is_empty() => Ok(()),
            None => Err(GroupError::PartitionsRejected {
                api: GroupApi::OffsetCommit,
                partitions: refused,
            }),
        };
        CommitRound {
            committed,
            stale,
            epoch,
            result,
        }
    }
}

/// What one OffsetCommit did.
struct CommitRound {
    committed: Vec<(TopicPartition, i64)>,
    /// Partitions refused with `STALE_MEMBER_EPOCH`, to commit again with a newer epoch.
    stale: Vec<(TopicPartition, OffsetAndMetadata)>,
    /// The epoch (or generation) the commit was fenced with.
    epoch: i32,
    result: Result<(), GroupError>,
}

/// How long a commit refused for a stale member epoch waits for the newer epoch.
const STALE_EPOCH_WAIT: std::time::Duration = std::time::Duration::from_secs(2);
/// How often such a commit is sent again.
const STALE_EPOCH_RETRIES: u32 = 10;

impl GroupConsumer {
    /// Commits what was finished of `partitions` on a task of its own (a call dropped while
    /// it runs waits for the same commit when it comes back).
    pub(super) async fn commit_resumable(
        &mut self,
        partitions: &[TopicPartition],
        finished: bool,
        chosen: &[(TopicPartition, i64)],
    ) -> Result<(), GroupError> {
        if self.background.is_none() {
            self.collect_auto_commit(true).await;
            let mut offsets = if finished {
                self.finished_offsets(partitions)
            } else {
                Vec::new()
            };
            // What the application chose wins over what it finished.
            for (tp, offset) in chosen {
                offsets.retain(|(t, _)| t != tp);
                offsets.push((tp.clone(), OffsetAndMetadata::new(*offset)));
            }
            let committer = self.committer();
            self.background = Some(tokio::spawn(async move {
                Background::Commit(committer.commit(offsets).await)
            }));
        }
        match self.background_outcome().await {
            Some(Background::Commit(outcome)) => {
                self.apply(&outcome.committed);
                outcome.result
            }
            _ => Err(GroupError::Closed),
        }
    }

    /// Waits for the background step and takes its outcome (`None`: there was none, or its
    /// task failed). Cancel-safe: the step stays until it has finished.
    pub(super) async fn background_outcome(&mut self) -> Option<Background> {
        let task = self.background.as_mut()?;
        let outcome = task.await;
        self.background = None;
        outcome.ok()
    }

    /// Commits what the application finished of every owned partition (with the member's
    /// generation: a member that is no longer in it cannot commit).
    pub async fn commit(&mut self) -> Result<(), GroupError> {
        self.acknowledge();
        let partitions: Vec<TopicPartition> = self.owned.keys().cloned().collect();
        self.commit_partitions(&partitions).await
    }

    /// Starts a commit of what the application finished of every owned partition, in the
    /// background (the application goes on at once); the returned future says how it went and
    /// may be dropped. Commits from this consumer apply in the order they were started.
    pub fn commit_async(
        &mut self,
    ) -> impl std::future::Future<Output = Result<(), GroupError>> + Send + 'static {
        self.acknowledge();
        let offsets = self.finished_offsets(&self.owned.keys().cloned().collect::<Vec<_>>());
        let committer = self.committer();
        // Chained after the commit in flight, if any, to keep the order.
        let previous = self.auto_commit.take();
        let task = tokio::spawn(async move {
            let mut committed = Vec::new();
            if let Some(previous) = previous {
                if let Ok(outcome) = previous.await {
                    committed = outcome.committed;
                }
            }
            let mut outcome = committer.commit(offsets).await;
            committed.append(&mut outcome.committed);
            CommitOutcome {
                committed,
                result: outcome.result,
            }
        });
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.auto_commit = Some(tokio::spawn(async move {
            let outcome = task.await.unwrap_or_else(|_| CommitOutcome {
                committed: Vec::new(),
                result: Err(GroupError::Closed),
            });
            let _ = tx.send(outcome.result.clone());
            outcome
        }));
        async move { rx.await.unwrap_or(Err(GroupError::Closed)) }
    }

    /// Commits explicit offsets (the next offset to read, with the leader epoch of the last
    /// record read if known) for partitions this member owns.
    pub async fn commit_offsets(
        &mut self,
        offsets: &[(TopicPartition, i64, Option<i32>)],
    ) -> Result<(), GroupError> {
        let list: Vec<(TopicPartition, OffsetAndMetadata)> = offsets
            .iter()
            .map(|(tp, offset, epoch)| {
                let mut o = OffsetAndMetadata::new(*offset);
                if let Some(epoch) = epoch {
                    o = o.with_leader_epoch(*epoch);
                }
                (tp.clone(), o)
            })
            .collect();
        self.send_commit(list).await
    }

    pub(super) async fn commit_partitions(
        &mut self,
        partitions: &[TopicPartition],
    ) -> Result<(), GroupError> {
        let offsets = self.finished_offsets(partitions);
        self.send_commit(offsets).await
    }

    /// What the application finished of `partitions` and has not committed yet.
    pub(super) fn finished_offsets(
        &self,
        partitions: &[TopicPartition],
    ) -> Vec<(TopicPartition, OffsetAndMetadata)> {
        partitions
            .iter()
            .filter_map(|tp| {
                let owned = self.owned.get(tp)?;
                let finished = match &owned.stream {
                    Some(stream) => stream.finished().or(owned.finished),
                    None => owned.finished,
                };
                let (offset, epoch) = finished?;
                if owned.committed == Some(offset) {
                    return None;
                }
                let mut o = OffsetAndMetadata::new(offset);
                if epoch >= 0 {
                    o = o.with_leader_epoch(epoch);
                }
                Some((tp.clone(), o))
            })
            .collect()
    }

    pub(super) async fn send_commit(
        &mut self,
        offsets: Vec<(TopicPartition, OffsetAndMetadata)>,
    ) -> Result<(), GroupError> {
        // Commits apply in order: a background auto-commit finishes first.
        self.collect_auto_commit(true).await;
        let outcome = self.committer().commit(offsets).await;
        self.apply(&outcome.committed);
        outcome.result
    }

    fn committer(&self) -> Committer {
        Committer {
            admin: self.admin.clone(),
            group_id: self.group_id.clone(),
            instance_id: self.instance_id.clone(),
            state: self.state.clone(),
            commands: self.commands.clone(),
        }
    }

    pub(super) fn apply(&mut self, committed: &[(TopicPartition, i64)]) {
        for (tp, offset) in committed {
            if let Some(owned) = self.owned.get_mut(tp) {
                owned.committed = Some(*offset);
            }
        }
    }

    /// Starts an auto-commit of what was finished, in the background (the application is
    /// never held up by it); skipped while the previous one still runs.
    pub(super) fn start_auto_commit(&mut self) {
        if self.auto_commit.as_ref().is_some_and(|t| !t.is_finished()) {
            return;
        }
        let offsets = self.finished_offsets(&self.owned.keys().cloned().collect::<Vec<_>>());
        if offsets.is_empty() {
            return;
        }
        let committer = self.committer();
        self.auto_commit = Some(tokio::spawn(async move { committer.commit(offsets).await }));
    }

    /// Takes the result of a finished background auto-commit (waiting for it if `wait`).
    pub(super) async fn collect_auto_commit(&mut self, wait: bool) {
        let Some(task) = self.auto_commit.as_mut() else {
            return;
        };
        if !wait && !task.is_finished() {
            return;
        }
        // Awaited in place: a call dropped here leaves the commit to the next one.
        let result = task.await;
        self.auto_commit = None;
        match result {
            Ok(outcome) => {
                self.apply(&outcome.committed);
                if let Err(error) = outcome.result {
                    debug!(group = %self.group_id, %error, "auto-commit failed");
                }
            }
            Err(error) => debug!(group = %self.group_id, %error, "the auto-commit task failed"),
        }
    }
}

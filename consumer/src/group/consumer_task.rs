//! The consumer-protocol membership task: the thin async shell around
//! [`ConsumerMembership`], the KIP-848 twin of [`task`](super::task).
//!
//! One tokio task per group consumer owns the membership. It sends the heartbeats the
//! membership asks for on the member's own `Group` connection to the coordinator, feeds the
//! answers back, names the assigned topic ids from the metadata (refreshing it while an id is
//! unknown), and sleeps until the next heartbeat. Events go to the consumer over the same
//! channel, commands come back the same way, and the commit identity (member id, member epoch)
//! is published in the same `watch` as the classic task's: the consumer does not know which
//! protocol runs. The same self-fence (a heartbeat unanswered when the session would run out
//! is given up) and poll-interval watchdog apply.
//!
//! If the coordinator does not serve the consumer protocol and the member may fall back, the
//! task returns its context and command channel so that the classic task takes over.

use std::time::{Duration, Instant};

use gregor_client::ClientError;
use gregor_client::cluster_client::CoordinatorKind;
use gregor_protocol::messages::{ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse};
use tokio::sync::mpsc;
use tracing::{debug, warn};

use super::consumer_membership::{ConsumerMembership, ConsumerStep, ConsumerSubscription};
use super::errors::Reaction;
use super::task::{Command, Listening, MemberMachine, TaskContext, Woken, deliver, publish};

/// The shortest time between two metadata refreshes asked for unknown topic ids.
const METADATA_RETRY: Duration = Duration::from_millis(200);

impl MemberMachine for ConsumerMembership {
    fn poll_event(&mut self) -> Option<super::membership::MemberEvent> {
        ConsumerMembership::poll_event(self)
    }
    fn revoke_done(&mut self, partitions: &[gregor_protocol::TopicPartition]) {
        ConsumerMembership::revoke_done(self, partitions);
    }
    fn close(&mut self, leave: bool) {
        ConsumerMembership::close(self, leave);
    }
    fn commit_refused(&mut self, now: Instant, code: gregor_protocol::ErrorCode, action: Reaction) {
        ConsumerMembership::commit_refused(self, now, code, action);
    }
    fn rejoin_after_poll_timeout(&mut self) {
        ConsumerMembership::rejoin_after_poll_timeout(self);
    }
    fn is_done(&self) -> bool {
        ConsumerMembership::is_done(self)
    }
    fn owned_partitions(&self) -> Vec<gregor_protocol::TopicPartition> {
        self.owned().into_iter().collect()
    }
    fn commit_identity(&self) -> Option<super::membership::CommitIdentity> {
        ConsumerMembership::commit_identity(self)
    }
    fn is_rebalancing(&self) -> bool {
        ConsumerMembership::is_rebalancing(self)
    }
    fn poll_interval_expired(&mut self) {
        ConsumerMembership::poll_interval_expired(self);
    }
}

/// What ends the task.
pub(crate) enum Ended {
    /// The member left, failed, or the consumer is gone.
    Done,
    /// The coordinator does not serve the consumer protocol: run the classic task with these.
    FallBack(TaskContext, mpsc::UnboundedReceiver<Command>),
}

/// Runs the membership until it has left the group (or failed), or the consumer is gone.
pub(crate) async fn run(
    mut membership: ConsumerMembership,
    cx: TaskContext,
    commands: mpsc::UnboundedReceiver<Command>,
) -> Ended {
    let mut listening = Listening::new(commands, &cx);
    let mut last_refresh: Option<Instant> = None;
    loop {
        name_topics(&mut membership, &cx);
        if membership.needs_metadata()
            && last_refresh.is_none_or(|at| at.elapsed() >= METADATA_RETRY)
        {
            // An assigned topic the metadata does not name yet (created after the member
            // joined): ask for every topic, since a regex subscription names none.
            cx.client.request_metadata_refresh();
            last_refresh = Some(Instant::now());
        }
        let now = Instant::now();
        let step = membership.next_step(now);
        publish(&membership, &cx);
        if !deliver(&mut membership, &cx) {
            return Ended::Done;
        }
        if membership.wants_classic() {
            debug!(group = %cx.group_id, "the coordinator does not serve the consumer protocol; falling back to classic");
            return Ended::FallBack(cx, listening.into_commands());
        }
        if membership.is_finished() && matches!(step, ConsumerStep::Wait(_)) {
            break;
        }
        match step {
            ConsumerStep::Send(request) => {
                let fence = membership.fence_at();
                let answer = listening
                    .answer_within_fence(send(&cx, *request), fence, &mut membership, &cx)
                    .await;
                let Some(answer) = answer else {
                    warn!(group = %cx.group_id, "no heartbeat answer within the session timeout; fencing");
                    cx.client
                        .forget_coordinator(CoordinatorKind::Group, &cx.group_id);
                    membership.request_failed(Instant::now());
                    continue;
                };
                match answer {
                    Ok(response) => {
                        let reaction = membership.on_response(Instant::now(), response);
                        debug!(
                            group = %cx.group_id,
                            member = membership.member_id(),
                            epoch = membership.epoch(),
                            ?reaction,
                            "heartbeat answered"
                        );
                        if reaction == Reaction::Rediscover {
                            cx.client
                                .forget_coordinator(CoordinatorKind::Group, &cx.group_id);
                        }
                    }
                    Err(ClientError::UnsupportedApi { .. }) => membership.unsupported(),
                    Err(error) => {
                        debug!(group = %cx.group_id, %error, "heartbeat failed");
                        if error.is_connection_error()
                            || matches!(&error, ClientError::Broker { code, .. } if code.is_coordinator_error())
                            || matches!(error, ClientError::Timeout { .. })
                        {
                            cx.client
                                .forget_coordinator(CoordinatorKind::Group, &cx.group_id);
                        }
                        membership.request_failed(Instant::now());
                    }
                }
            }
            ConsumerStep::Wait(at) => {
                // Also wake to refresh the metadata while an assigned topic id is unknown.
                let refresh = membership
                    .needs_metadata()
                    .then(|| last_refresh.map_or(now, |r| r + METADATA_RETRY));
                let wake = [at, refresh].into_iter().flatten().min();
                let woken = listening.wait_until(wake, &mut membership, &cx).await;
                if woken == Woken::Metadata {
                    if let ConsumerSubscription::Topics(_) = membership.subscription() {
                        membership.set_topics(cx.subscription.resolve(&cx.client));
                    }
                }
            }
        }
    }
    publish(&membership, &cx);
    Ended::Done
}

/// Names the target's topic ids from the metadata snapshot.
fn name_topics(membership: &mut ConsumerMembership, cx: &TaskContext) {
    if !membership.needs_metadata() {
        return;
    }
    let metadata = cx.client.metadata();
    membership.resolve_topics(|id| metadata.topic_name(id).map(str::to_owned));
}

/// Sends `request` to the group's coordinator on the member's `Group` connection.
async fn send(
    cx: &TaskContext,
    mut request: ConsumerGroupHeartbeatRequest,
) -> Result<ConsumerGroupHeartbeatResponse, ClientError> {
    let client = &cx.client;
    let coordinator = client
        .coordinator(CoordinatorKind::Group, &cx.group_id)
        .await?;
    let conn = client.connection(coordinator, cx.purpose).await?;
    let version = conn.version_for::<ConsumerGroupHeartbeatRequest>()?;
    if version == 0 {
        // Version 0: the coordinator chooses the member id when the member joins, and a
        // regex subscription cannot be sent.
        if request.member_epoch == 0 {
            request.member_id.clear();
        }
        request.subscribed_topic_regex = None;
    }
    conn.send_versioned(&request, version).await
}

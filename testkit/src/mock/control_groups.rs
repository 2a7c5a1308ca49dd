//! The control API for consumer groups: moving a group's coordinator, and looking at groups as
//! the coordinator holds them.

use super::cluster::MockCluster;
use super::consumer_group::ConsumerGroupState;
use super::control::ControlError;
use super::group::{CommittedOffset, GroupState};

impl MockCluster {
    /// Moves `group`'s coordinator to `broker` (as when Kafka moves the group's
    /// `__consumer_offsets` partition). From then on the old coordinator answers the group's
    /// requests with `NOT_COORDINATOR`, FindCoordinator names `broker`, parked JoinGroup and
    /// SyncGroup requests get `NOT_COORDINATOR`, and the group continues on `broker` from its
    /// last completed generation (members keep their ids and assignments; offsets are kept).
    /// While `broker` is down, the next live broker serves the group. Returns whether the
    /// coordinator changed.
    pub async fn move_coordinator(&self, group: &str, broker: i32) -> Result<bool, ControlError> {
        self.with_state(|st, now| {
            if st.broker(broker).is_none() {
                return Err(ControlError::UnknownBroker(broker));
            }
            Ok(st.move_coordinator(group, broker, now))
        })
        .await
    }

    /// The broker coordinating `group` (`None` when every broker is down).
    pub async fn coordinator_of(&self, group: &str) -> Option<i32> {
        self.inner.state.lock().await.coordinator_of(group)
    }

    /// `group`'s state, `None` if it does not exist.
    pub async fn group_state(&self, group: &str) -> Option<GroupState> {
        self.inner.state.lock().await.groups.group_state(group)
    }

    /// `group`'s generation, `None` if it does not exist.
    pub async fn group_generation(&self, group: &str) -> Option<i32> {
        self.inner.state.lock().await.groups.generation(group)
    }

    /// The member ids of `group`, in join order (empty if it does not exist).
    pub async fn group_members(&self, group: &str) -> Vec<String> {
        self.inner.state.lock().await.groups.member_ids(group)
    }

    /// The offset `group` committed for a partition.
    pub async fn committed_offset(
        &self,
        group: &str,
        topic: &str,
        partition: i32,
    ) -> Option<CommittedOffset> {
        let st = self.inner.state.lock().await;
        st.groups.committed_offset(group, topic, partition).cloned()
    }

    /// A KIP-848 consumer group's state and group epoch, `None` if there is no such group.
    pub async fn consumer_group_state(&self, group: &str) -> Option<(ConsumerGroupState, i32)> {
        self.inner
            .state
            .lock()
            .await
            .groups
            .consumer_group_state(group)
    }

    /// A KIP-848 consumer group's member ids with their member epochs, in id order.
    pub async fn consumer_group_members(&self, group: &str) -> Vec<(String, i32)> {
        self.inner
            .state
            .lock()
            .await
            .groups
            .consumer_group_members(group)
    }
}

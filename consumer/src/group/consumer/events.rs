//! What the application sees of the group: [`GroupEvent`]s from `next`, or callbacks
//! ([`RebalanceListener`]).

use gregor_protocol::TopicPartition;

#[cfg(doc)]
use super::GroupConsumer;
use crate::fetch::RecordChunk;

/// Rebalance callbacks ([`GroupConsumer::set_listener`]), called on the application's task
/// from within [`GroupConsumer::next`] (or `close`), once per decision.
pub trait RebalanceListener: Send {
    /// `partitions` were assigned; their records follow.
    fn on_assigned(&mut self, _partitions: &[TopicPartition]) {}

    /// `partitions` are being taken away: no more of their records come (streams taken with
    /// [`GroupConsumer::take_stream`] have ended). Return the offsets to commit for them (the
    /// next offset to read, per partition): they are committed, fenced by the member's
    /// generation, before the revocation completes; with auto-commit on, what the application
    /// finished is committed too (a returned offset wins).
    fn on_revoked(&mut self, _partitions: &[TopicPartition]) -> Vec<(TopicPartition, i64)> {
        Vec::new()
    }

    /// `partitions` were lost (not committed: another member may own them already).
    fn on_lost(&mut self, _partitions: &[TopicPartition]) {}
}

/// The listener behind a `Debug` the consumer can derive.
pub(super) struct Listener(pub(super) std::sync::Mutex<Box<dyn RebalanceListener>>);

impl Listener {
    /// The listener (it is only ever used from the consumer's `&mut self` methods).
    pub(super) fn get(&mut self) -> &mut dyn RebalanceListener {
        match self.0.get_mut() {
            Ok(listener) => listener.as_mut(),
            Err(poisoned) => poisoned.into_inner().as_mut(),
        }
    }
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RebalanceListener")
    }
}

/// What [`GroupConsumer::next`] returns.
#[derive(Debug)]
#[non_exhaustive]
pub enum GroupEvent {
    /// Records of one partition, in offset order.
    Records(RecordChunk),
    /// These partitions were assigned to this member; their records follow.
    Assigned(Vec<TopicPartition>),
    /// These partitions were taken away. No more of their records come; what was finished of
    /// them is committed when auto-commit is on. The revocation completes at the next call
    /// to [`GroupConsumer::next`] (commit your own offsets of them before).
    Revoked(Vec<TopicPartition>),
    /// These partitions were lost: the member's session expired, it was fenced, or it did not
    /// poll within `max.poll.interval.ms` ([`GroupEvent::PollIntervalExceeded`] follows). They
    /// were not committed, and another member may own them already.
    Lost(Vec<TopicPartition>),
    /// The application did not ask for records within `max.poll.interval.ms`: the member left
    /// the group and lost its partitions. It joins again from this call on.
    PollIntervalExceeded,
}

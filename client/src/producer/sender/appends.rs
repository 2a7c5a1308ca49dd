//! Appending records: choosing the partition, waiting for metadata or buffer memory (at most
//! `max_block`), keeping each topic's records in order.

use std::collections::HashMap;
use std::time::Instant;

use super::{Action, Append, SenderCore};
use crate::producer::accumulator::AppendError;
use crate::producer::error::ProducerError;
use crate::producer::partitioner::TopicPartitions;
use gregor_protocol::TopicPartition;

/// Why an append waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Waiting {
    /// The topic's partitions are not known yet.
    Metadata,
    /// The buffer had no room (sizes as when last refused).
    Memory { requested: usize, available: usize },
    /// Behind an earlier waiting record of the same topic (which waits for `.0`).
    Order(Cause),
}

/// What the first waiting record of a topic waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cause {
    Metadata,
    Memory { requested: usize, available: usize },
}

impl Waiting {
    fn cause(self) -> Cause {
        match self {
            Waiting::Metadata => Cause::Metadata,
            Waiting::Memory {
                requested,
                available,
            } => Cause::Memory {
                requested,
                available,
            },
            Waiting::Order(cause) => cause,
        }
    }
}

/// An append that could not be done at once.
#[derive(Debug)]
pub(super) struct PendingAppend<C, R> {
    append: Append<C, R>,
    /// When the append gives up (`max_block` after it came).
    pub(super) deadline: Instant,
    waiting: Waiting,
}

impl<C, R> SenderCore<C, R> {
    /// A record to append. It is answered with [`Action::Appended`] at once, or after waiting
    /// for the topic's metadata or for buffer memory (at most `max_block`).
    pub fn append(&mut self, append: Append<C, R>, now: Instant) {
        if self.closing {
            self.refuse(append.reply, ProducerError::Closed);
            return;
        }
        let ahead = self
            .pending
            .iter()
            .rev()
            .find(|p| p.append.topic == append.topic)
            .map(|p| p.waiting.cause());
        let pending = PendingAppend {
            append,
            deadline: now + self.settings.max_block,
            waiting: Waiting::Order(ahead.unwrap_or(Cause::Metadata)),
        };
        if ahead.is_some() {
            self.pending.push_back(pending);
            return;
        }
        if let Some(waiting) = self.try_append(pending, now) {
            self.pending.push_back(waiting);
        }
    }

    /// Refuses a waiting append with `error`.
    pub(super) fn refuse_pending(&mut self, p: PendingAppend<C, R>, error: ProducerError) {
        self.refuse(p.append.reply, error);
    }

    fn refuse(&mut self, reply: R, error: ProducerError) {
        self.actions.push_back(Action::Appended {
            reply,
            result: Err(error),
        });
    }

    /// Appends waiting records that can go now, in order; gives up those past their deadline.
    pub(super) fn retry_pending(&mut self, now: Instant) {
        if self.pending.is_empty() {
            return;
        }
        let mut blocked: HashMap<String, Cause> = HashMap::new();
        for _ in 0..self.pending.len() {
            let Some(mut p) = self.pending.pop_front() else {
                break;
            };
            if now >= p.deadline {
                let error = self.wait_error(&p);
                tracing::debug!(topic = p.append.topic, error = %error, "append gave up");
                self.refuse(p.append.reply, error);
                continue;
            }
            if let Some(&cause) = blocked.get(&p.append.topic) {
                p.waiting = Waiting::Order(cause);
                self.pending.push_back(p);
                continue;
            }
            if let Some(p) = self.try_append(p, now) {
                blocked.insert(p.append.topic.clone(), p.waiting.cause());
                self.pending.push_back(p);
            }
        }
    }

    fn wait_error(&self, p: &PendingAppend<C, R>) -> ProducerError {
        if let Some(fatal) = &self.fatal {
            return ProducerError::Fatal(Box::new(fatal.clone()));
        }
        match p.waiting.cause() {
            Cause::Memory {
                requested,
                available,
            } => ProducerError::BufferFull {
                requested,
                available,
            },
            Cause::Metadata => ProducerError::MetadataUnavailable {
                topic: p.append.topic.clone(),
                last_error: self.topics.error(&p.append.topic).cloned().map(Box::new),
            },
        }
    }

    /// Appends `p` if its topic is known and memory allows; otherwise hands it back to wait.
    /// Refusals for good are answered here.
    fn try_append(
        &mut self,
        mut p: PendingAppend<C, R>,
        now: Instant,
    ) -> Option<PendingAppend<C, R>> {
        if let Some(fatal) = &self.fatal {
            let error = ProducerError::Fatal(Box::new(fatal.clone()));
            self.refuse(p.append.reply, error);
            return None;
        }
        let Some((topic, view)) = self.topics.view(&p.append.topic) else {
            self.topics.want(&p.append.topic);
            p.waiting = Waiting::Metadata;
            return Some(p);
        };
        let topic = topic.clone();
        let count = view.count();
        let parts = TopicPartitions::new(count, &view.available);
        let record = &p.append.record;
        let (key, value) = (record.key.as_deref(), record.value.as_deref());
        let partition = match p.append.partition {
            Some(partition) => Some(partition),
            None => {
                let first = self.partitioner.partition(&topic, key, value, &parts);
                match first {
                    // KIP-480: a record that would open a batch lets the partitioner move on.
                    Some(chosen)
                        if self.accumulator.starts_new_batch(
                            &TopicPartition::new(topic.clone(), chosen),
                            record,
                        ) =>
                    {
                        self.partitioner.on_new_batch(&topic, &parts, chosen);
                        self.partitioner.partition(&topic, key, value, &parts)
                    }
                    other => other,
                }
            }
        };
        let partition = match partition {
            Some(partition) if (0..count).contains(&partition) => partition,
            other => {
                let error = ProducerError::UnknownPartition {
                    topic: p.append.topic,
                    partition: other.unwrap_or(-1),
                    count,
                };
                self.refuse(p.append.reply, error);
                return None;
            }
        };
        let tp = TopicPartition::new(topic, partition);
        let PendingAppend {
            append,
            deadline,
            waiting: _,
        } = p;
        let rejected = match self
            .accumulator
            .append(&tp, append.record, append.completion, now)
        {
            Ok(_) => {
                self.actions.push_back(Action::Appended {
                    reply: append.reply,
                    result: Ok(()),
                });
                // Connect while the batch lingers, not after.
                if let Some(leader) = self.topics.leader(&tp) {
                    self.link_usable(leader, now);
                }
                return None;
            }
            Err(rejected) => *rejected,
        };
        let error = match rejected.error {
            AppendError::BufferFull {
                requested,
                available,
            } => {
                return Some(PendingAppend {
                    append: Append {
                        topic: append.topic,
                        partition: append.partition,
                        record: rejected.record,
                        completion: rejected.completion,
                        reply: append.reply,
                    },
                    deadline,
                    waiting: Waiting::Memory {
                        requested,
                        available,
                    },
                });
            }
            AppendError::RecordTooLarge {
                size,
                limit,
                limit_name,
            } => ProducerError::RecordTooLarge {
                size,
                limit,
                limit_name,
            },
            _ => ProducerError::Closed,
        };
        self.refuse(append.reply, error);
        None
    }
}

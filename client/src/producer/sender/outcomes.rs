//! What happens to a batch after its request: complete its records, retry it, or fail it; and
//! giving up batches past `delivery_timeout`.

use std::time::Instant;

use gregor_protocol::messages::ProduceResponse;
use gregor_protocol::{ApiKey, ErrorCode};

use super::{Action, SenderCore};
use crate::error::ClientError;
use crate::producer::batch::ProducerBatch;
use crate::producer::error::ProducerError;
use crate::producer::idempotence::{BatchDecision, non_idempotent_decision};
use crate::producer::produce_request::{PartitionOutcome, match_produce_response};
use crate::producer::record::RecordMetadata;

/// Whether a request that got no usable answer is worth sending again.
fn unanswered_is_retriable(error: &ProducerError) -> bool {
    match error {
        ProducerError::Client(ClientError::Decode(_)) => true,
        ProducerError::Client(ClientError::Broker { code, .. }) => code.is_retriable(),
        ProducerError::Client(e) => e.is_connection_error(),
        ProducerError::MetadataUnavailable { .. } => true,
        _ => false,
    }
}

/// The broker's explanation of a failed batch: its message and the records it blamed.
fn rejection_message(outcome: &PartitionOutcome) -> Option<String> {
    let records: Vec<String> = outcome
        .record_errors
        .iter()
        .map(|e| match &e.message {
            Some(m) => format!("record {}: {m}", e.batch_index),
            None => format!("record {}", e.batch_index),
        })
        .collect();
    match (&outcome.error_message, records.is_empty()) {
        (None, true) => None,
        (Some(m), true) => Some(m.clone()),
        (m, false) => Some(format!(
            "{}{}",
            m.as_deref().map(|m| format!("{m}; ")).unwrap_or_default(),
            records.join("; ")
        )),
    }
}

impl<C, R> SenderCore<C, R> {
    /// A Produce request finished: `Ok(Some(answer))`, `Ok(None)` for an `acks=0` request
    /// the connection took, or the failure.
    pub fn on_produced(
        &mut self,
        request: u64,
        result: Result<Option<ProduceResponse>, ClientError>,
        now: Instant,
    ) {
        let Some(req) = self.in_flight.remove(&request) else {
            tracing::warn!(request, "answer for an unknown produce request");
            return;
        };
        self.request_done(req.broker);
        match result {
            Ok(None) => {
                for batch in req.batches {
                    self.complete_batch(batch, -1, -1);
                }
            }
            Ok(Some(response)) => {
                let topics = &self.topics;
                let outcomes = match_produce_response(req.version, &req.batches, &response, |t| {
                    topics.topic_id(t)
                });
                for (batch, outcome) in req.batches.into_iter().zip(outcomes) {
                    match outcome {
                        Some(outcome) => self.on_outcome(batch, &outcome, now),
                        None => {
                            let topic = batch.topic_partition().topic.clone();
                            self.topics.mark_stale(&topic);
                            let error = ClientError::Broker {
                                api: ApiKey::Produce,
                                code: ErrorCode::UnknownTopicOrPartition,
                            };
                            self.on_unanswered(batch, error.into(), now);
                        }
                    }
                }
            }
            Err(error) => {
                tracing::debug!(broker = req.broker, request, error = %error, "produce failed");
                if error.is_connection_error() {
                    self.link_failed(req.broker, req.link);
                    for batch in &req.batches {
                        let topic = batch.topic_partition().topic.clone();
                        self.topics.mark_stale(&topic);
                    }
                }
                for batch in req.batches {
                    self.on_unanswered(batch, error.clone().into(), now);
                }
                if error.is_connection_error() && !self.accumulator.is_empty() {
                    // Reconnect during the retry backoff.
                    self.link_usable(req.broker, now);
                }
            }
        }
    }

    /// The broker's result for one batch.
    fn on_outcome(&mut self, batch: ProducerBatch<C>, outcome: &PartitionOutcome, now: Instant) {
        let tp = batch.topic_partition().clone();
        let decision = match (self.idempotence.as_mut(), batch.sequence()) {
            (Some(idem), Some(seq)) => idem.on_response(&tp, &seq, outcome),
            _ => non_idempotent_decision(outcome.error),
        };
        match decision {
            BatchDecision::Complete { .. } => {
                self.complete_batch(batch, outcome.base_offset, outcome.log_append_time_ms);
            }
            BatchDecision::Retry => {
                tracing::debug!(%tp, error = outcome.error.name(), "batch will be retried");
                // The cached leader is wrong: reload the topic before the retry.
                if outcome.error.is_stale_metadata() {
                    self.topics.mark_stale(&tp.topic);
                }
                let error = ClientError::Broker {
                    api: ApiKey::Produce,
                    code: outcome.error,
                };
                self.retry_or_give_up(batch, error.into(), now);
            }
            BatchDecision::Fail(code) => {
                tracing::warn!(%tp, error = code.name(), "batch rejected");
                let message = rejection_message(outcome);
                self.fail_batch(batch, ProducerError::Rejected { code, message });
            }
        }
    }

    /// A batch whose request got no usable answer (connection lost, timeout, not sent): its
    /// fate is unknown, so it is retried — with the same sequence when idempotent, so a copy
    /// the broker did write is recognised as a duplicate.
    pub(super) fn on_unanswered(
        &mut self,
        batch: ProducerBatch<C>,
        error: ProducerError,
        now: Instant,
    ) {
        if !unanswered_is_retriable(&error) {
            self.abandon(&batch);
            self.fail_batch(batch, error);
            return;
        }
        if let (Some(idem), Some(seq)) = (self.idempotence.as_mut(), batch.sequence()) {
            idem.on_send_failed(batch.topic_partition(), &seq);
        }
        self.retry_or_give_up(batch, error, now);
    }

    /// Requeues a batch for a retry, unless it is past `delivery_timeout` or out of retries.
    fn retry_or_give_up(
        &mut self,
        batch: ProducerBatch<C>,
        last_error: ProducerError,
        now: Instant,
    ) {
        let attempts = batch.attempts();
        let timeout = self.settings.accumulator.delivery_timeout;
        let error = if now >= batch.created_at() + timeout {
            ProducerError::DeliveryTimeout { attempts }
        } else if attempts > self.settings.retries {
            ProducerError::RetriesExhausted {
                attempts,
                last_error: Box::new(last_error),
            }
        } else if let Some(fatal) = &self.fatal {
            ProducerError::Fatal(Box::new(fatal.clone()))
        } else {
            self.accumulator.reenqueue(batch, now);
            return;
        };
        tracing::warn!(tp = %batch.topic_partition(), error = %error, "giving up a batch");
        self.abandon(&batch);
        self.fail_batch(batch, error);
    }

    /// Tells the idempotence state that `batch` (if sequenced) will not be resolved by the
    /// broker.
    fn abandon(&mut self, batch: &ProducerBatch<C>) {
        if let (Some(idem), Some(seq)) = (self.idempotence.as_mut(), batch.sequence()) {
            idem.on_abandoned(batch.topic_partition(), &seq);
        }
    }

    /// Gives up queued batches older than `delivery_timeout`.
    pub(super) fn expire(&mut self, now: Instant) {
        for batch in self.accumulator.expire(now) {
            let error = ProducerError::DeliveryTimeout {
                attempts: batch.attempts(),
            };
            tracing::warn!(tp = %batch.topic_partition(), "batch expired before delivery");
            self.abandon(&batch);
            self.fail_batch(batch, error);
        }
    }

    /// Resolves a written batch's records: record `i` has offset `base_offset + i` (-1 when
    /// the base is unknown), and the log append time as timestamp when the broker set one.
    pub(super) fn complete_batch(
        &mut self,
        batch: ProducerBatch<C>,
        base_offset: i64,
        log_append_time: i64,
    ) {
        let tp = batch.topic_partition().clone();
        let timestamps: Vec<i64> = batch.records().iter().map(|r| r.timestamp_ms).collect();
        let completions = self.accumulator.release(batch);
        for (i, (completion, timestamp)) in completions.into_iter().zip(timestamps).enumerate() {
            let offset = match i64::try_from(i) {
                Ok(i) if base_offset >= 0 => base_offset + i,
                _ => -1,
            };
            let metadata = RecordMetadata {
                topic: tp.topic.clone(),
                partition: tp.partition,
                offset,
                timestamp: if log_append_time >= 0 {
                    log_append_time
                } else {
                    timestamp
                },
            };
            self.actions.push_back(Action::Delivered {
                completion,
                result: Ok(metadata),
            });
        }
    }

    /// Fails every record of `batch` with `error` and frees its memory.
    pub(super) fn fail_batch(&mut self, batch: ProducerBatch<C>, error: ProducerError) {
        for completion in self.accumulator.release(batch) {
            self.actions.push_back(Action::Delivered {
                completion,
                result: Err(error.clone()),
            });
        }
    }
}

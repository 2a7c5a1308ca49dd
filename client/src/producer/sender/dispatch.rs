//! Turning ready batches into Produce requests: leaders, broker connections and their
//! in-flight limits, and the idempotent producer's id.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;

use gregor_protocol::ApiKey;
use gregor_protocol::messages::InitProducerIdResponse;

use super::{Action, SenderCore, TRANSACTION_TIMEOUT_MS};
use crate::cluster::BrokerId;
use crate::error::ClientError;
use crate::producer::batch::ProducerBatch;
use crate::producer::error::ProducerError;
use crate::producer::produce_request::build_produce_request;
use gregor_protocol::TopicPartition;

/// The state of the producer's connection to one broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LinkState {
    /// No connection; connect when a batch needs one.
    Idle,
    /// A connect is running.
    Connecting,
    /// Connected; Produce goes in `version`.
    Ready { version: i16 },
    /// The last connect failed; the next waits until then.
    Backoff { until: Instant },
}

/// One broker's connection as the core tracks it.
#[derive(Debug)]
pub(super) struct BrokerLink {
    state: LinkState,
    /// The current connection attempt (requests carry it, so a late failure from an older
    /// connection does not tear down a newer one).
    link: u64,
    /// Connect failures in a row.
    failures: u32,
    /// Produce requests in flight.
    in_flight: usize,
}

impl BrokerLink {
    pub(super) fn backoff_until(&self) -> Option<Instant> {
        match self.state {
            LinkState::Backoff { until } => Some(until),
            _ => None,
        }
    }
}

/// A Produce request in flight and the batches it carries.
#[derive(Debug)]
pub(super) struct InFlight<C> {
    pub(super) broker: BrokerId,
    pub(super) link: u64,
    pub(super) version: i16,
    pub(super) batches: Vec<ProducerBatch<C>>,
}

/// The InitProducerId exchange.
#[derive(Debug, Default)]
pub(super) struct ProducerIdState {
    in_flight: bool,
    retry_at: Option<Instant>,
    failures: u32,
}

impl ProducerIdState {
    pub(super) fn retry_at(&self) -> Option<Instant> {
        self.retry_at.filter(|_| !self.in_flight)
    }
}

impl<C, R> SenderCore<C, R> {
    /// Most drain rounds in one poll (each round sends at most one request per broker).
    const MAX_DRAIN_ROUNDS: usize = 64;

    /// Drains ready batches into requests until every broker with ready data is at its
    /// in-flight limit or nothing more can go.
    pub(super) fn dispatch(&mut self, now: Instant) {
        for _ in 0..Self::MAX_DRAIN_ROUNDS {
            if !self.dispatch_round(now) {
                break;
            }
        }
    }

    /// One round: drains the batches of ready partitions whose leader has a usable connection
    /// into one request per broker; asks for connections and metadata where they are missing.
    /// True if a request was made.
    fn dispatch_round(&mut self, now: Instant) -> bool {
        let ready = self.accumulator.ready(now);
        if ready.is_empty() {
            return false;
        }
        let mut brokers = BTreeSet::new();
        let mut topics: BTreeSet<Arc<str>> = BTreeSet::new();
        for tp in &ready {
            match self.topics.leader(tp) {
                Some(broker) => {
                    brokers.insert(broker);
                    topics.insert(tp.topic.clone());
                }
                None => self.topics.mark_stale(&tp.topic),
            }
        }
        let sendable: BTreeSet<BrokerId> = brokers
            .into_iter()
            .filter(|&b| self.link_usable(b, now))
            .collect();
        if sendable.is_empty() {
            return false;
        }
        // Every partition these brokers lead in the topics at hand: batches still lingering
        // ride along in the request that goes anyway.
        let mut leaders: BTreeMap<BrokerId, Vec<TopicPartition>> = BTreeMap::new();
        for topic in &topics {
            for (partition, broker) in self.topics.leaders_of(topic) {
                if sendable.contains(&broker) {
                    let tp = TopicPartition::new(topic.clone(), partition);
                    leaders.entry(broker).or_default().push(tp);
                }
            }
        }
        let max_request_size = self.settings.accumulator.max_request_size;
        let drained =
            self.accumulator
                .drain(&leaders, max_request_size, now, self.idempotence.as_mut());
        let progress = !drained.batches.is_empty() || !drained.failed.is_empty();
        for (batch, error) in drained.failed {
            self.fail_batch(batch, ProducerError::Encode(error));
        }
        for (broker, batches) in drained.batches {
            self.send_request(broker, batches, now);
        }
        progress
    }

    /// True if a request can go to `broker` now; starts a connection if it has none.
    pub(super) fn link_usable(&mut self, broker: BrokerId, now: Instant) -> bool {
        let max_in_flight = self.settings.max_in_flight;
        let link = self.links.entry(broker).or_insert(BrokerLink {
            state: LinkState::Idle,
            link: 0,
            failures: 0,
            in_flight: 0,
        });
        match link.state {
            LinkState::Ready { .. } => link.in_flight < max_in_flight,
            LinkState::Connecting => false,
            LinkState::Backoff { until } if now < until => false,
            LinkState::Idle | LinkState::Backoff { .. } => {
                self.next_link += 1;
                link.link = self.next_link;
                link.state = LinkState::Connecting;
                tracing::debug!(broker, link = link.link, "connecting");
                self.actions.push_back(Action::Connect {
                    broker,
                    link: link.link,
                });
                false
            }
        }
    }

    /// A connection attempt finished: `Ok` with the Produce version the connection speaks.
    pub fn on_connected(
        &mut self,
        broker: BrokerId,
        link: u64,
        result: Result<i16, ClientError>,
        now: Instant,
    ) {
        let jitter = self.jitter();
        let backoff = self.settings.reconnect_backoff;
        let Some(state) = self.links.get_mut(&broker).filter(|l| l.link == link) else {
            return;
        };
        match result {
            Ok(version) => {
                state.state = LinkState::Ready { version };
                state.failures = 0;
            }
            Err(error) => {
                let delay = backoff.delay(state.failures, jitter);
                state.failures = state.failures.saturating_add(1);
                state.state = LinkState::Backoff { until: now + delay };
                tracing::warn!(broker, error = %error, ?delay, "connecting to the broker failed");
                // Its partitions may have moved to another broker.
                self.topics.mark_all_stale();
            }
        }
    }

    /// A request on `link` to `broker` failed with a connection error: connect again.
    pub(super) fn link_failed(&mut self, broker: BrokerId, link: u64) {
        if let Some(state) = self.links.get_mut(&broker) {
            if state.link == link && matches!(state.state, LinkState::Ready { .. }) {
                tracing::debug!(broker, link, "connection lost");
                state.state = LinkState::Idle;
            }
        }
    }

    /// Builds and queues the Produce request for `batches` (drained for `broker`).
    fn send_request(&mut self, broker: BrokerId, batches: Vec<ProducerBatch<C>>, now: Instant) {
        let Some((link, version)) = self.links.get(&broker).and_then(|l| match l.state {
            LinkState::Ready { version } => Some((l.link, version)),
            _ => None,
        }) else {
            // Not reachable: `dispatch` drains only brokers with a ready link.
            for batch in batches {
                self.on_unanswered(batch, ClientError::Disconnected.into(), now);
            }
            return;
        };
        let timeout_ms =
            i32::try_from(self.settings.request_timeout.as_millis()).unwrap_or(i32::MAX);
        let topics = &self.topics;
        let body = build_produce_request(version, self.settings.acks, timeout_ms, &batches, |t| {
            topics.topic_id(t)
        });
        let body = match body {
            Ok(body) => body,
            Err(error) => {
                tracing::warn!(broker, error = %error, "cannot build the Produce request");
                for batch in batches {
                    let topic = batch.topic_partition().topic.clone();
                    self.topics.mark_stale(&topic);
                    let error = ProducerError::MetadataUnavailable {
                        topic: topic.to_string(),
                        last_error: None,
                    };
                    self.on_unanswered(batch, error, now);
                }
                return;
            }
        };
        self.next_request += 1;
        let request = self.next_request;
        if let Some(state) = self.links.get_mut(&broker) {
            state.in_flight += 1;
        }
        tracing::trace!(broker, request, batches = batches.len(), "produce request");
        self.in_flight.insert(
            request,
            InFlight {
                broker,
                link,
                version,
                batches,
            },
        );
        self.actions.push_back(Action::Produce {
            request,
            broker,
            link,
            version,
            body,
            expect_response: self.settings.acks != 0,
        });
    }

    /// Counts a finished request against its broker's in-flight limit.
    pub(super) fn request_done(&mut self, broker: BrokerId) {
        if let Some(state) = self.links.get_mut(&broker) {
            state.in_flight = state.in_flight.saturating_sub(1);
        }
    }

    /// Sends InitProducerId when the idempotent producer has no identity.
    pub(super) fn request_producer_id(&mut self, now: Instant) {
        let Some(idem) = &self.idempotence else {
            return;
        };
        let state = &mut self.producer_id;
        if self.fatal.is_some()
            || state.in_flight
            || state.retry_at.is_some_and(|at| now < at)
            || !idem.needs_producer_id()
        {
            return;
        }
        state.in_flight = true;
        state.retry_at = None;
        tracing::debug!("requesting a producer id");
        let request = idem.init_producer_id_request(TRANSACTION_TIMEOUT_MS);
        self.actions.push_back(Action::InitProducerId(request));
    }

    /// InitProducerId's answer (or failure).
    pub fn on_producer_id(
        &mut self,
        result: Result<InitProducerIdResponse, ClientError>,
        now: Instant,
    ) {
        self.producer_id.in_flight = false;
        let Some(idem) = &mut self.idempotence else {
            return;
        };
        let error = match result {
            Ok(response) => match idem.on_init_producer_id(&response) {
                Ok(_) => {
                    self.producer_id.failures = 0;
                    return;
                }
                Err(code) => ClientError::Broker {
                    api: ApiKey::InitProducerId,
                    code,
                },
            },
            Err(error) => error,
        };
        let retriable = match &error {
            ClientError::Broker { code, .. } => code.is_retriable(),
            ClientError::UnsupportedApi { .. } | ClientError::Config(_) => false,
            _ => true,
        };
        if retriable {
            let jitter = self.jitter();
            let delay = self
                .settings
                .reconnect_backoff
                .delay(self.producer_id.failures, jitter);
            self.producer_id.failures = self.producer_id.failures.saturating_add(1);
            self.producer_id.retry_at = Some(now + delay);
            tracing::warn!(error = %error, ?delay, "InitProducerId failed; retrying");
        } else {
            self.enter_fatal(error);
        }
    }

    /// Nothing more can be produced: fail everything queued and waiting, and every later
    /// append. Requests in flight still finish.
    fn enter_fatal(&mut self, error: ClientError) {
        tracing::error!(error = %error, "producer failed");
        let failure = ProducerError::Fatal(Box::new(error.clone()));
        self.fatal = Some(error);
        for batch in self.accumulator.abort_all() {
            self.fail_batch(batch, failure.clone());
        }
        for p in std::mem::take(&mut self.pending) {
            self.refuse_pending(p, failure.clone());
        }
    }
}

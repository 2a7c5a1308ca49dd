//! The sender's sans-io core: everything the producer decides, with no I/O and no clock.
//!
//! [`SenderCore`] owns the [`Accumulator`], the [`Idempotence`] state, the partitioner, the
//! topic view, the per-broker connection states and the table of Produce requests in flight.
//! It takes events — a record to append, a metadata load's result, a connection that is ready
//! or failed, a Produce answer or failure, an InitProducerId answer — each with `now`, and
//! queues [`Action`]s for the shell: load metadata, connect to a broker, send a Produce
//! request, send InitProducerId, answer an append, resolve a record. [`SenderCore::poll`] runs
//! the scheduling step (expire, append waiting records, drain ready batches into requests) and
//! [`SenderCore::next_wakeup`] says when the shell must call it again if no event comes.
//!
//! `C` is the per-record completion token and `R` the per-append reply token; the core only
//! moves them into actions, so tests use plain values and the async producer uses channels.
//!
//! Rules the core keeps:
//! - Records of one topic are appended in the order they came: while one waits (for metadata
//!   or for buffer memory), later ones of the same topic wait behind it.
//! - At most `max_in_flight` requests per broker; with idempotence also at most that many
//!   batches per partition (at most 5; one until the broker has acknowledged a batch of the
//!   partition), and retries go out in sequence order (see [`Idempotence`]).
//! - A batch is retried with the same encoded bytes (the same sequence) unless the producer's
//!   epoch changed; it is given up after `delivery_timeout` from its first record or after
//!   `retries` retries.
//! - Errors that mean the leader moved, and connection failures, mark the topic for a
//!   metadata refresh.

mod appends;
mod dispatch;
mod outcomes;
mod topics;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gregor_protocol::messages::{InitProducerIdRequest, ProduceRequest};

use self::appends::PendingAppend;
use self::dispatch::{BrokerLink, InFlight, ProducerIdState};
pub use self::topics::TopicMetadata;
use self::topics::Topics;
use super::accumulator::{Accumulator, AccumulatorConfig};
use super::batch::BatchRecord;
use super::idempotence::Idempotence;
use super::partitioner::Partitioner;
use super::record::RecordMetadata;
use crate::cluster::{Backoff, BrokerId};
use crate::config::{ClientConfig, ConfigError, ProducerConfig};
use crate::error::ClientError;
use crate::producer::error::ProducerError;

/// `transaction.timeout.ms`'s default, sent in InitProducerId (a producer without a
/// transactional id starts no transaction, so the broker does not use it).
const TRANSACTION_TIMEOUT_MS: i32 = 60_000;

/// The settings the sender works with, taken from a [`ProducerConfig`] and the connection
/// settings ([`ClientConfig`]) of the client the producer runs over.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SenderSettings {
    /// The `acks` field of Produce requests: 0, 1 or -1.
    pub acks: i16,
    /// The Produce request's `timeout_ms` (`request.timeout.ms`).
    pub request_timeout: Duration,
    /// Requests in flight per broker (`max.in.flight.requests.per.connection`).
    pub max_in_flight: usize,
    /// Retries of a failed batch (`retries`).
    pub retries: u32,
    /// How long an append may wait for metadata or memory (`max.block.ms`).
    pub max_block: Duration,
    /// Topics are refreshed when their metadata gets this old (`metadata.max.age.ms`).
    pub metadata_max_age: Duration,
    /// The wait between metadata loads after a failure or refresh (`retry.backoff.ms`).
    pub metadata_backoff: Duration,
    /// Reconnection delays after failed connects (`reconnect.backoff.ms`, `.max.ms`).
    pub reconnect_backoff: Backoff,
    /// Whether the producer is idempotent (`enable.idempotence`).
    pub idempotence: bool,
    /// Batching (sizes, linger, compression, retry backoff, delivery timeout).
    pub accumulator: AccumulatorConfig,
}

impl SenderSettings {
    /// The settings of a producer configured with `config` over a client configured with
    /// `client`.
    ///
    /// # Errors
    /// A `delivery.timeout.ms` shorter than `linger.ms + request.timeout.ms`
    /// ([`ProducerConfig::delivery_timeout_for`]).
    pub fn new(client: &ClientConfig, config: &ProducerConfig) -> Result<Self, ConfigError> {
        let delivery_timeout = config.delivery_timeout_for(client.request_timeout())?;
        Ok(Self {
            acks: config.acks().wire_value(),
            request_timeout: client.request_timeout(),
            max_in_flight: usize::try_from(config.max_in_flight())
                .unwrap_or(usize::MAX)
                .max(1),
            retries: config.retries(),
            max_block: config.max_block(),
            metadata_max_age: client.metadata_max_age(),
            metadata_backoff: client.retry_backoff(),
            reconnect_backoff: Backoff::new(
                client.reconnect_backoff(),
                client.reconnect_backoff_max(),
            ),
            idempotence: config.idempotence(),
            accumulator: AccumulatorConfig {
                batch_size: config.batch_size(),
                linger: config.linger(),
                max_request_size: config.max_request_size(),
                buffer_memory: usize::try_from(config.buffer_memory()).unwrap_or(usize::MAX),
                compression: config.compression(),
                retry_backoff: client.retry_backoff(),
                delivery_timeout,
            },
        })
    }
}

/// A record to append, with its tokens.
#[derive(Debug)]
pub struct Append<C, R> {
    /// The topic.
    pub topic: String,
    /// The partition the caller chose, if any.
    pub partition: Option<i32>,
    /// The record (its timestamp already set).
    pub record: BatchRecord,
    /// Resolved (through [`Action::Delivered`]) when the record is written or has failed.
    pub completion: C,
    /// Answered (through [`Action::Appended`]) when the record is in a batch, or refused.
    pub reply: R,
}

/// What the shell must do.
#[derive(Debug)]
#[non_exhaustive]
pub enum Action<C, R> {
    /// Load the metadata of `topics` (ask the cluster first when `refresh`), then call
    /// [`SenderCore::on_metadata`] with one result per topic.
    LoadMetadata {
        /// The topics.
        topics: Vec<Arc<str>>,
        /// Whether cached metadata is known to be stale.
        refresh: bool,
    },
    /// Open a Produce connection to `broker`, then call [`SenderCore::on_connected`] with its
    /// Produce version (or the failure) and `link`.
    Connect {
        /// The broker.
        broker: BrokerId,
        /// Which connection attempt this is (echoed back).
        link: u64,
    },
    /// Send `body` in `version` on the connection of `broker` opened for `link`, then call
    /// [`SenderCore::on_produced`] with `request` and the answer (`None` when
    /// `expect_response` is false and the request was handed to the connection).
    Produce {
        /// The request's id in the core.
        request: u64,
        /// The broker.
        broker: BrokerId,
        /// The connection it must go on.
        link: u64,
        /// The Produce version.
        version: i16,
        /// The request.
        body: ProduceRequest,
        /// False for `acks=0`: the broker sends no answer.
        expect_response: bool,
    },
    /// Send InitProducerId to any broker, then call [`SenderCore::on_producer_id`].
    InitProducerId(InitProducerIdRequest),
    /// Answer an append.
    Appended {
        /// The append's reply token.
        reply: R,
        /// `Ok` once the record is in a batch, or why it was refused.
        result: Result<(), ProducerError>,
    },
    /// Resolve a record.
    Delivered {
        /// The record's completion token.
        completion: C,
        /// Where it was written, or why it failed.
        result: Result<RecordMetadata, ProducerError>,
    },
}

/// The sender's state (sans-io). See the module documentation.
pub struct SenderCore<C, R> {
    settings: SenderSettings,
    accumulator: Accumulator<C>,
    idempotence: Option<Idempotence>,
    partitioner: Box<dyn Partitioner>,
    topics: Topics,
    /// Whether the running metadata load is a refresh.
    refreshing: bool,
    pending: VecDeque<PendingAppend<C, R>>,
    links: HashMap<BrokerId, BrokerLink>,
    next_link: u64,
    in_flight: HashMap<u64, InFlight<C>>,
    next_request: u64,
    producer_id: ProducerIdState,
    fatal: Option<ClientError>,
    closing: bool,
    jitter: u64,
    actions: VecDeque<Action<C, R>>,
}

impl<C, R> std::fmt::Debug for SenderCore<C, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SenderCore")
            .field("buffered_bytes", &self.accumulator.buffered_bytes())
            .field("queued_batches", &self.accumulator.queued_batches())
            .field("pending_appends", &self.pending.len())
            .field("requests_in_flight", &self.in_flight.len())
            .field("closing", &self.closing)
            .finish_non_exhaustive()
    }
}

impl<C, R> SenderCore<C, R> {
    /// A sender with `settings`, choosing partitions with `partitioner`.
    pub fn new(settings: SenderSettings, partitioner: Box<dyn Partitioner>) -> Self {
        let idempotence = settings
            .idempotence
            .then(|| Idempotence::new(settings.max_in_flight));
        let mut seed = [0u8; 8];
        if getrandom::fill(&mut seed).is_err() {
            seed = 0x6a09_e667_f3bc_c908_u64.to_le_bytes();
        }
        Self {
            accumulator: Accumulator::new(settings.accumulator.clone()),
            settings,
            idempotence,
            partitioner,
            topics: Topics::default(),
            refreshing: false,
            pending: VecDeque::new(),
            links: HashMap::new(),
            next_link: 0,
            in_flight: HashMap::new(),
            next_request: 0,
            producer_id: ProducerIdState::default(),
            fatal: None,
            closing: false,
            jitter: u64::from_le_bytes(seed),
            actions: VecDeque::new(),
        }
    }

    /// The settings.
    pub fn settings(&self) -> &SenderSettings {
        &self.settings
    }

    /// The idempotence state, when the producer is idempotent.
    pub fn idempotence(&self) -> Option<&Idempotence> {
        self.idempotence.as_ref()
    }

    /// Bytes of records held (queued or in flight).
    pub fn buffered_bytes(&self) -> usize {
        self.accumulator.buffered_bytes()
    }

    /// Produce requests in flight.
    pub fn requests_in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// While flushing, batches are sent without waiting for `linger`.
    pub fn set_flushing(&mut self, flushing: bool) {
        self.accumulator.set_flushing(flushing);
    }

    /// Refuses new appends; records already given (waiting ones included) are still sent.
    pub fn close(&mut self) {
        if !self.closing {
            tracing::debug!("producer closing");
        }
        self.closing = true;
    }

    /// True when nothing is waiting, queued or in flight.
    pub fn is_idle(&self) -> bool {
        self.pending.is_empty() && self.accumulator.is_empty() && self.in_flight.is_empty()
    }

    /// The next action for the shell.
    pub fn next_action(&mut self) -> Option<Action<C, R>> {
        self.actions.pop_front()
    }

    /// The scheduling step: gives up expired batches and appends, appends waiting records,
    /// drains ready batches into Produce requests, and starts the metadata loads, connections
    /// and InitProducerId requests needed. Call after every event and at
    /// [`next_wakeup`](Self::next_wakeup).
    pub fn poll(&mut self, now: Instant) {
        self.expire(now);
        self.retry_pending(now);
        if self.closing && self.pending.is_empty() {
            self.accumulator.close();
        }
        self.topics.age(now, self.settings.metadata_max_age);
        self.dispatch(now);
        self.request_producer_id(now);
        if let Some((topics, refresh)) = self.topics.start_load(now) {
            self.refreshing = refresh;
            self.actions
                .push_back(Action::LoadMetadata { topics, refresh });
        }
    }

    /// When [`poll`](Self::poll) has work that is waiting for time to pass (linger, retry
    /// backoff, a timeout, a metadata or reconnect backoff), if any. Work waiting for an event
    /// is not counted: the event will come.
    pub fn next_wakeup(&self, now: Instant) -> Option<Instant> {
        let pending = self.pending.iter().map(|p| p.deadline).min();
        let links = self.links.values().filter_map(BrokerLink::backoff_until);
        [
            self.accumulator.next_ready_at(now),
            self.accumulator.next_expiry(),
            pending,
            self.topics.next_load_at(),
            self.topics.next_aging(self.settings.metadata_max_age),
            self.producer_id.retry_at(),
        ]
        .into_iter()
        .flatten()
        .chain(links)
        .filter(|&t| t > now)
        .min()
    }

    /// A metadata load finished: one result per topic it was asked for.
    pub fn on_metadata(
        &mut self,
        results: Vec<(Arc<str>, Result<TopicMetadata, ClientError>)>,
        now: Instant,
    ) {
        let refresh = std::mem::take(&mut self.refreshing);
        self.topics
            .finish_load(results, refresh, self.settings.metadata_backoff, now);
    }

    /// A uniform draw in `[0, 1)` for backoff jitter (SplitMix64).
    fn jitter(&mut self) -> f64 {
        self.jitter = self.jitter.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.jitter;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

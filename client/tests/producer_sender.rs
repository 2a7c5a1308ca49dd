//! The sender's sans-io core driven by hand: appends, metadata, connections and Produce
//! answers are events with explicit instants; the actions it asks for are checked. No sockets,
//! no sleeps.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use gregor_client::ClientError;
use gregor_client::config::{Acks, ClientConfig, ProducerConfig};
use gregor_client::producer::sender::{Action, Append, SenderCore, SenderSettings, TopicMetadata};
use gregor_client::producer::{
    BatchRecord, DefaultPartitioner, PartitionInfo, ProducerError, RecordMetadata,
};
use gregor_protocol::messages::produce::{PartitionProduceResponse, TopicProduceResponse};
use gregor_protocol::messages::{InitProducerIdResponse, ProduceRequest, ProduceResponse};
use gregor_protocol::{ApiKey, ErrorCode, VersionRange};

const TOPIC: &str = "t";
const PRODUCE_VERSION: i16 = 11;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Settings: linger 10 ms, retry backoff 100 ms, delivery timeout 5 s, max block 1 s.
fn settings(acks: Acks, idempotence: bool) -> SenderSettings {
    let client = ClientConfig::builder()
        .bootstrap_servers(["127.0.0.1:9092"])
        .request_timeout(ms(1_000))
        .retry_backoff(ms(100))
        .reconnect_backoff(ms(50))
        .reconnect_backoff_max(ms(50))
        .build()
        .unwrap();
    let config = ProducerConfig::builder()
        .acks(acks)
        .idempotence(idempotence)
        .linger(ms(10))
        .delivery_timeout(ms(5_000))
        .max_block(ms(1_000))
        .build()
        .unwrap();
    SenderSettings::new(&client, &config).unwrap()
}

/// A produce request the core asked for.
#[derive(Debug)]
struct Sent {
    request: u64,
    broker: i32,
    expect_response: bool,
    body: ProduceRequest,
}

impl Sent {
    /// The encoded record batch of the request's only partition.
    fn records(&self) -> Bytes {
        self.body.topic_data[0].partition_data[0]
            .records
            .clone()
            .unwrap()
    }

    fn partition(&self) -> i32 {
        self.body.topic_data[0].partition_data[0].index
    }
}

/// The core with its answered appends and resolved records collected.
struct Harness {
    core: SenderCore<u32, u32>,
    now: Instant,
    appended: Vec<(u32, Result<(), ProducerError>)>,
    delivered: BTreeMap<u32, Result<RecordMetadata, ProducerError>>,
    metadata_loads: Vec<(Vec<Arc<str>>, bool)>,
    connects: Vec<(i32, u64)>,
    producer_id_requests: usize,
    produced: Vec<Sent>,
}

impl Harness {
    fn new(settings: SenderSettings) -> Self {
        Self {
            core: SenderCore::new(settings, Box::new(DefaultPartitioner::with_seed(1))),
            now: Instant::now(),
            appended: Vec::new(),
            delivered: BTreeMap::new(),
            metadata_loads: Vec::new(),
            connects: Vec::new(),
            producer_id_requests: 0,
            produced: Vec::new(),
        }
    }

    fn advance(&mut self, by: Duration) {
        self.now += by;
    }

    /// Polls and sorts the actions into the collections.
    fn poll(&mut self) {
        self.core.poll(self.now);
        while let Some(action) = self.core.next_action() {
            match action {
                Action::Appended { reply, result } => self.appended.push((reply, result)),
                Action::Delivered { completion, result } => {
                    let previous = self.delivered.insert(completion, result);
                    assert!(previous.is_none(), "record {completion} resolved twice");
                }
                Action::LoadMetadata { topics, refresh } => {
                    self.metadata_loads.push((topics, refresh))
                }
                Action::Connect { broker, link } => self.connects.push((broker, link)),
                Action::InitProducerId(_) => self.producer_id_requests += 1,
                Action::Produce {
                    request,
                    broker,
                    version,
                    body,
                    expect_response,
                    ..
                } => {
                    assert_eq!(version, PRODUCE_VERSION);
                    self.produced.push(Sent {
                        request,
                        broker,
                        expect_response,
                        body,
                    });
                }
                other => panic!("unexpected action {other:?}"),
            }
        }
    }

    fn append(&mut self, id: u32, key: Option<&str>, partition: Option<i32>) {
        let record = BatchRecord::new(
            key.map(|k| Bytes::from(k.to_owned())),
            Some(Bytes::from(format!("value-{id}"))),
            1_700_000_000_000 + i64::from(id),
        );
        self.core.append(
            Append {
                topic: TOPIC.into(),
                partition,
                record,
                completion: id,
                reply: id,
            },
            self.now,
        );
        self.poll();
    }

    /// Answers the pending metadata load: `leaders[p]` leads partition `p`.
    fn metadata(&mut self, leaders: &[Option<i32>]) {
        let partitions = leaders
            .iter()
            .enumerate()
            .map(|(p, &leader)| PartitionInfo {
                partition: p as i32,
                leader,
            })
            .collect();
        let meta = TopicMetadata {
            partitions,
            topic_id: None,
        };
        self.core
            .on_metadata(vec![(Arc::from(TOPIC), Ok(meta))], self.now);
        self.poll();
    }

    /// Completes the last connect to `broker`.
    fn connected(&mut self, broker: i32) {
        let link = self
            .connects
            .iter()
            .rev()
            .find(|(b, _)| *b == broker)
            .expect("a connect to the broker")
            .1;
        self.core
            .on_connected(broker, link, Ok(PRODUCE_VERSION), self.now);
        self.poll();
    }

    fn producer_id(&mut self, id: i64, epoch: i16) {
        let response = InitProducerIdResponse {
            producer_id: id,
            producer_epoch: epoch,
            ..InitProducerIdResponse::default()
        };
        self.core.on_producer_id(Ok(response), self.now);
        self.poll();
    }

    fn answer(&mut self, sent: &Sent, error: ErrorCode, base_offset: i64) {
        let response = ProduceResponse {
            responses: vec![TopicProduceResponse {
                name: TOPIC.into(),
                partition_responses: vec![PartitionProduceResponse {
                    index: sent.partition(),
                    error_code: error.code(),
                    base_offset,
                    ..PartitionProduceResponse::default()
                }],
                ..TopicProduceResponse::default()
            }],
            ..ProduceResponse::default()
        };
        self.core
            .on_produced(sent.request, Ok(Some(response)), self.now);
        self.poll();
    }

    fn fail(&mut self, sent: &Sent, error: ClientError) {
        self.core.on_produced(sent.request, Err(error), self.now);
        self.poll();
    }

    fn take_produced(&mut self) -> Vec<Sent> {
        std::mem::take(&mut self.produced)
    }

    fn offsets(&self) -> Vec<i64> {
        self.delivered
            .values()
            .map(|r| r.as_ref().expect("delivered").offset)
            .collect()
    }
}

/// A harness for one partition led by broker 1, connected, `n` records appended and lingered.
fn one_partition(settings: SenderSettings, n: u32) -> Harness {
    let mut h = Harness::new(settings);
    for id in 0..n {
        h.append(id, None, Some(0));
    }
    h.metadata(&[Some(1)]);
    h.connected(1);
    h.advance(ms(10));
    h.poll();
    h
}

#[test]
fn idempotent_producer_gets_an_id_before_it_sends() {
    let mut h = Harness::new(settings(Acks::All, true));
    h.poll();
    assert_eq!(h.producer_id_requests, 1, "InitProducerId at start");
    h.append(0, None, Some(0));
    assert_eq!(h.metadata_loads.len(), 1, "the topic's metadata is loaded");
    assert!(h.appended.is_empty(), "the append waits for metadata");
    h.metadata(&[Some(1)]);
    assert_eq!(h.appended.len(), 1);
    h.connected(1);
    h.advance(ms(10));
    h.poll();
    assert!(
        h.produced.is_empty(),
        "nothing goes out without a producer id"
    );
    h.producer_id(7, 3);
    let sent = h.take_produced();
    assert_eq!(sent.len(), 1);
    let header = gregor_protocol::records::RecordBatchHeader::parse(&sent[0].records()).unwrap();
    assert_eq!(
        (
            header.producer_id,
            header.producer_epoch,
            header.base_sequence
        ),
        (7, 3, 0)
    );
}

#[test]
fn a_lost_connection_resends_the_same_bytes_and_resolves_each_record_once() {
    let mut h = Harness::new(settings(Acks::All, true));
    h.producer_id(7, 0);
    for id in 0..5 {
        h.append(id, Some("k"), Some(0));
    }
    h.metadata(&[Some(1)]);
    h.connected(1);
    h.advance(ms(10));
    h.poll();
    let first = h.take_produced();
    assert_eq!(first.len(), 1);
    h.fail(&first[0], ClientError::Disconnected);
    assert!(h.delivered.is_empty(), "a lost answer is not a failure");
    assert_eq!(h.connects.len(), 2, "reconnects");
    h.connected(1);
    assert!(h.take_produced().is_empty(), "waits for the retry backoff");
    h.advance(ms(100));
    h.poll();
    let second = h.take_produced();
    assert_eq!(second.len(), 1);
    assert_eq!(
        second[0].records(),
        first[0].records(),
        "same bytes, same sequence"
    );
    // The first copy had been written: the broker says duplicate, with the original offset.
    h.answer(&second[0], ErrorCode::DuplicateSequenceNumber, 40);
    assert_eq!(h.offsets(), vec![40, 41, 42, 43, 44]);
}

#[test]
fn not_leader_refreshes_metadata_and_retries_on_the_new_leader() {
    let mut h = one_partition(settings(Acks::Leader, false), 3);
    let first = h.take_produced();
    assert_eq!(first[0].broker, 1);
    let loads = h.metadata_loads.len();
    h.answer(&first[0], ErrorCode::NotLeaderOrFollower, -1);
    assert!(h.delivered.is_empty());
    assert_eq!(h.metadata_loads.len(), loads + 1, "a refresh is asked for");
    assert_eq!(
        h.metadata_loads.last().unwrap(),
        &(vec![Arc::from(TOPIC)], true)
    );
    h.metadata(&[Some(2)]);
    h.advance(ms(100));
    h.poll();
    assert_eq!(
        h.connects.last().unwrap().0,
        2,
        "connects to the new leader"
    );
    h.connected(2);
    let second = h.take_produced();
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].broker, 2);
    assert_eq!(second[0].records(), first[0].records());
    h.answer(&second[0], ErrorCode::None, 10);
    assert_eq!(h.offsets(), vec![10, 11, 12]);
}

#[test]
fn acks_0_resolves_records_with_unknown_offsets() {
    let mut h = one_partition(settings(Acks::None, false), 2);
    let sent = h.take_produced();
    assert_eq!(sent.len(), 1);
    assert!(!sent[0].expect_response);
    assert_eq!(sent[0].body.acks, 0);
    h.core.on_produced(sent[0].request, Ok(None), h.now);
    h.poll();
    assert_eq!(h.offsets(), vec![-1, -1]);
    let first = h.delivered[&0].as_ref().unwrap();
    assert_eq!(first.timestamp, 1_700_000_000_000);
    assert!(h.core.is_idle());
}

#[test]
fn requests_in_flight_per_broker_are_bounded() {
    let mut s = settings(Acks::Leader, false);
    s.max_in_flight = 2;
    let mut h = Harness::new(s);
    for id in 0..6 {
        h.append(id, None, Some(id as i32));
    }
    h.metadata(&[Some(1); 6]);
    h.connected(1);
    // Six ready partitions of one broker travel in one request.
    h.core.set_flushing(true);
    h.poll();
    assert_eq!(
        h.core.requests_in_flight(),
        1,
        "one request carries every partition"
    );
    let sent = h.take_produced();
    assert_eq!(sent[0].body.topic_data[0].partition_data.len(), 6);

    let mut s = settings(Acks::Leader, false);
    s.max_in_flight = 2;
    s.accumulator.max_request_size = 100;
    s.accumulator.batch_size = 10;
    let mut h = Harness::new(s);
    for id in 0..6 {
        h.append(id, None, Some(0));
    }
    h.metadata(&[Some(1)]);
    h.connected(1);
    // One batch per record; a request holds one batch of the partition at a time.
    h.core.set_flushing(true);
    h.poll();
    h.poll();
    let first = h.take_produced();
    assert_eq!(first.len(), 2, "two requests in flight at most");
    h.answer(&first[0], ErrorCode::None, 0);
    let next = h.take_produced();
    assert_eq!(next.len(), 1, "a finished request makes room for one more");
}

#[test]
fn batches_that_cannot_be_sent_fail_at_the_delivery_timeout() {
    let mut h = Harness::new(settings(Acks::Leader, false));
    h.append(0, None, Some(0));
    h.metadata(&[None]); // no leader
    h.advance(ms(4_999));
    h.poll();
    assert!(h.delivered.is_empty());
    let wake = h.core.next_wakeup(h.now).expect("a timer");
    assert!(wake <= h.now + ms(1));
    h.advance(ms(1));
    h.poll();
    match &h.delivered[&0] {
        Err(ProducerError::DeliveryTimeout { attempts: 0 }) => {}
        other => panic!("expected a delivery timeout, got {other:?}"),
    }
}

#[test]
fn a_full_buffer_holds_appends_until_memory_frees_or_max_block() {
    let mut s = settings(Acks::Leader, false);
    // A batch with one record takes 75 bytes; a second record needs 14 more.
    s.accumulator.buffer_memory = 80;
    let mut h = Harness::new(s);
    h.append(0, None, Some(0));
    h.metadata(&[Some(1)]);
    h.connected(1);
    assert_eq!(h.appended.len(), 1);
    h.append(1, None, Some(0));
    h.append(2, None, Some(0));
    assert_eq!(h.appended.len(), 1, "no room: the appends wait");
    h.advance(ms(10));
    h.poll();
    let sent = h.take_produced();
    h.answer(&sent[0], ErrorCode::None, 0);
    assert_eq!(h.appended.len(), 2, "memory freed: the next append goes in");
    assert!(h.appended.iter().all(|(_, r)| r.is_ok()));
    // Record 3 queues behind record 2 (same topic), whatever memory it would need.
    h.append(3, None, Some(0));
    assert_eq!(h.appended.len(), 2);
    // Nothing completes the batch holding record 1: records 2 and 3 give up at max.block.
    h.advance(ms(1_000));
    h.poll();
    let ids: Vec<u32> = h.appended.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, vec![0, 1, 2, 3]);
    for (_, result) in &h.appended[2..] {
        assert!(matches!(result, Err(ProducerError::BufferFull { .. })));
    }
}

#[test]
fn records_of_a_topic_keep_their_order_while_metadata_loads() {
    let mut h = Harness::new(settings(Acks::Leader, false));
    for id in 0..20 {
        h.append(id, Some(&format!("key-{id}")), None);
    }
    assert!(h.appended.is_empty());
    h.metadata(&[Some(1), Some(1), Some(1)]);
    let order: Vec<u32> = h.appended.iter().map(|(id, _)| *id).collect();
    assert_eq!(order, (0..20).collect::<Vec<_>>());
}

#[test]
fn a_producer_id_the_broker_cannot_give_fails_every_record() {
    let mut h = Harness::new(settings(Acks::All, true));
    h.append(0, None, Some(0));
    h.metadata(&[Some(1)]);
    let unsupported = ClientError::UnsupportedApi {
        api: ApiKey::InitProducerId,
        ours: VersionRange { min: 0, max: 5 },
        broker: None,
    };
    h.core.on_producer_id(Err(unsupported), h.now);
    h.poll();
    assert!(matches!(h.delivered[&0], Err(ProducerError::Fatal(_))));
    h.append(1, None, Some(0));
    assert!(matches!(
        h.appended.last().unwrap(),
        (1, Err(ProducerError::Fatal(_)))
    ));
}

#[test]
fn retriable_errors_stop_after_the_configured_retries() {
    let mut s = settings(Acks::Leader, false);
    s.retries = 1;
    let mut h = one_partition(s, 1);
    let first = h.take_produced();
    h.answer(&first[0], ErrorCode::NotEnoughReplicas, -1);
    h.metadata(&[Some(1)]);
    h.advance(ms(100));
    h.poll();
    let second = h.take_produced();
    assert_eq!(second.len(), 1, "one retry");
    h.answer(&second[0], ErrorCode::NotEnoughReplicas, -1);
    match &h.delivered[&0] {
        Err(ProducerError::RetriesExhausted { attempts: 2, .. }) => {}
        other => panic!("expected RetriesExhausted, got {other:?}"),
    }
}

#[test]
fn a_rejected_batch_fails_with_the_broker_error() {
    let mut h = one_partition(settings(Acks::Leader, false), 2);
    let sent = h.take_produced();
    h.answer(&sent[0], ErrorCode::InvalidRecord, -1);
    for id in 0..2 {
        match &h.delivered[&id] {
            Err(ProducerError::Rejected { code, .. }) => {
                assert_eq!(*code, ErrorCode::InvalidRecord)
            }
            other => panic!("expected Rejected, got {other:?}"),
        }
    }
}

#[test]
fn close_refuses_new_records_and_sends_the_rest_without_linger() {
    let mut h = Harness::new(settings(Acks::Leader, false));
    h.append(0, None, Some(0));
    h.metadata(&[Some(1)]);
    h.connected(1);
    assert!(h.produced.is_empty(), "lingering");
    h.core.close();
    h.poll();
    assert_eq!(h.take_produced().len(), 1, "close sends at once");
    h.append(1, None, Some(0));
    assert!(matches!(
        h.appended.last().unwrap(),
        (1, Err(ProducerError::Closed))
    ));
    assert!(!h.core.is_idle(), "a request is still in flight");
}

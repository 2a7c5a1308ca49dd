//! What both hostile-broker targets share: an in-process scripted broker, the client flows run
//! against it, and the checks.
//!
//! Per input, a current-thread tokio runtime with a paused clock (timers fire as soon as every
//! task is idle, so a request timeout costs nothing unless the client hangs) runs the client's
//! [`Connection`] over a `tokio::io::duplex` pipe. The broker's side reads gregor's request
//! frames, checks each one decodes as a request of its API and version, and answers it with
//! whatever the [`Script`] gives: a well-framed response (size prefix, the request's
//! correlation id, the response header version of its API and version) around a body the
//! script chose, or one of the hostile [`Action`]s.
//!
//! Checks, besides "no panic" (libfuzzer-sys aborts on a panic in any task or thread):
//! - every `send` finishes within the request timeout (the handshake within two), in virtual
//!   time; the whole input within [`WHOLE_INPUT`];
//! - a request fails with a timeout only if the broker stalled (did not answer, wrote slowly,
//!   lied about a frame size): an answered request must never time out;
//! - every request gregor writes decodes as a request of the API and version in its header;
//! - the consumer's planning of fetched records keeps its promises (the position never moves
//!   back nor past `until`; records come from `position..until`), and `decode_partition`
//!   agrees with `plan_partition` + `PlannedBatch::decode_into` batch by batch.
//!
//! Bounded memory is checked from outside: CI runs these targets with libFuzzer's
//! `-malloc_limit_mb=64` (any single allocation above it is a crash) and `-rss_limit_mb=1024`,
//! while the client is configured with a 1 MiB response frame cap ([`MAX_RESPONSE_FRAME`]) and
//! records decompress to at most 1 MiB per batch ([`MAX_DECOMPRESSED`]).
#![allow(dead_code)]

use std::collections::HashMap;
use std::future::Future;
use std::hint::black_box;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use gregor_client::cluster::MetadataCache;
use gregor_client::cluster_client::retry::classify;
use gregor_client::{ClientError, ConnectOptions, Connection, PoisonCause};
use gregor_consumer::fetch::IsolationLevel;
use gregor_consumer::fetch::partition::{decode_partition, plan_partition};
use gregor_consumer::fetch::session::{
    FetchSession, RequestLimits, SessionOutcome, WantedPartition, response_partitions,
};
use gregor_protocol::frame::{FrameReader, write_frame};
use gregor_protocol::header::{RequestHeader, ResponseHeader};
use gregor_protocol::messages::api_versions::ApiVersion;
use gregor_protocol::messages::fetch::{FetchRequest, PartitionData};
use gregor_protocol::messages::find_coordinator::FindCoordinatorRequest;
use gregor_protocol::messages::list_offsets::{
    ListOffsetsPartition, ListOffsetsRequest, ListOffsetsTopic,
};
use gregor_protocol::messages::metadata::MetadataRequest;
use gregor_protocol::messages::offset_fetch::{
    OffsetFetchRequest, OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use gregor_protocol::messages::{ApiVersionsRequest, ApiVersionsResponse};
use gregor_protocol::primitives::Uuid;
use gregor_protocol::records::{DecodeOptions, Record};
use gregor_protocol::{ApiKey, ErrorCode, Message, Request, TopicPartition, VersionRange};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::task::JoinSet;

/// Whether to print what happens (`HOSTILE_DEBUG=1`, when replaying an input by hand).
fn debug() -> bool {
    static DEBUG: OnceLock<bool> = OnceLock::new();
    *DEBUG.get_or_init(|| std::env::var_os("HOSTILE_DEBUG").is_some())
}

macro_rules! trace {
    ($($arg:tt)*) => {
        if debug() {
            eprintln!($($arg)*);
        }
    };
}

/// The topic every flow asks about.
pub const TOPIC: &str = "t";
/// Its id (Fetch v13+ names topics by id).
pub const TOPIC_ID: Uuid = Uuid(*b"gregor-fuzz-tid!");
/// The group of OffsetFetch and FindCoordinator.
pub const GROUP: &str = "g";
/// The client's request timeout.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(1);
/// The client's response frame cap.
pub const MAX_RESPONSE_FRAME: usize = 1 << 20;
/// The cap on one batch's decompressed records.
pub const MAX_DECOMPRESSED: usize = 1 << 20;
/// How long a whole input may take, in virtual time.
pub const WHOLE_INPUT: Duration = Duration::from_secs(60);
/// Past a request timeout, how late a call may still return (timer granularity: 1 ms).
const SLACK: Duration = Duration::from_millis(50);
/// The most flows one input runs.
pub const MAX_FLOWS: usize = 12;

/// The APIs the flows use (and ApiVersions), in the order inputs list their version ranges.
pub const APIS: [(ApiKey, VersionRange); 6] = [
    (ApiKey::Metadata, MetadataRequest::VERSIONS),
    (ApiKey::ListOffsets, ListOffsetsRequest::VERSIONS),
    (ApiKey::Fetch, FetchRequest::VERSIONS),
    (ApiKey::OffsetFetch, OffsetFetchRequest::VERSIONS),
    (ApiKey::FindCoordinator, FindCoordinatorRequest::VERSIONS),
    (ApiKey::ApiVersions, ApiVersionsRequest::VERSIONS),
];

/// What the broker does with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Writes the response at once.
    Answer,
    /// Writes the response in `pieces` parts, sleeping `delay_ms` after each.
    Chunked { pieces: u8, delay_ms: u16 },
    /// Holds the response back and writes it after the next one answered (out of order).
    Defer,
    /// Never answers (keeps reading).
    Silent,
    /// Closes the connection instead of answering.
    Close,
    /// Writes the response with this size prefix instead of the true one.
    LyingSize(LieKind),
}

/// The size prefix a [`Action::LyingSize`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LieKind {
    /// Negative.
    Negative,
    /// More than what follows (the client waits for the rest).
    Longer(u16),
    /// Less than what follows (the rest is read as the next frame).
    Shorter(u16),
    /// Just over the client's frame cap.
    OverCap,
    /// `i32::MAX`.
    Max,
}

impl Action {
    /// Most bytes pick `Answer`; the hostile actions take the rest, the ones that end the
    /// connection least often.
    pub fn from_bytes(kind: u8, arg: u16) -> Action {
        match kind {
            0..=179 => Action::Answer,
            180..=209 => Action::Chunked {
                pieces: (arg % 8) as u8 + 1,
                // Up to 1.5 s: some slow writes outlast the request timeout.
                delay_ms: (arg >> 3) % 1500,
            },
            210..=224 => Action::Defer,
            225..=234 => Action::Silent,
            235..=244 => Action::Close,
            _ => Action::LyingSize(match arg % 5 {
                0 => LieKind::Negative,
                1 => LieKind::Longer(arg >> 3),
                2 => LieKind::Shorter(arg >> 3),
                3 => LieKind::OverCap,
                _ => LieKind::Max,
            }),
        }
    }

    /// Whether the client may time out waiting on this answer.
    fn stalls(self) -> bool {
        match self {
            Action::Answer | Action::Close => false,
            Action::Chunked { delay_ms, .. } => delay_ms > 0,
            Action::Defer | Action::Silent => true,
            Action::LyingSize(lie) => matches!(lie, LieKind::Longer(_) | LieKind::Shorter(_)),
        }
    }
}

/// One request as the broker received it.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub api_key: i16,
    pub version: i16,
    pub correlation_id: i32,
    /// The request header and body.
    pub frame: Bytes,
}

impl Incoming {
    /// The request decoded as `R` (the broker checked that it decodes).
    pub fn decode<R: Request>(&self) -> Option<R> {
        let mut frame = self.frame.clone();
        RequestHeader::decode(&mut frame, R::request_header_version(self.version)).ok()?;
        R::decode_exact(frame, self.version).ok()
    }
}

/// Chooses the broker's answers.
pub trait Script: Send + 'static {
    /// The action for `req` and the response body (without header) it writes.
    fn answer(&mut self, req: &Incoming) -> (Action, Vec<u8>);
}

/// The script and what the broker observed, shared by every connection of one input.
struct BrokerState {
    script: Box<dyn Script>,
    /// Whether some answer was withheld or slow, so that a client timeout is legitimate.
    stalled: bool,
    /// Requests received, all connections.
    requests: usize,
}

type Shared = Arc<Mutex<BrokerState>>;

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, BrokerState> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

macro_rules! request_check {
    ($(($key:ident, $req:ty, $resp:ty)),* $(,)?) => {
        /// Checks a request gregor wrote: a known API, a version it speaks, a header and body
        /// that decode exactly. Returns the response header version for the answer.
        fn check_request(api_key: i16, version: i16, frame: &Bytes) -> i16 {
            $(
                if api_key == ApiKey::$key.code() {
                    assert!(
                        <$req as Message>::VERSIONS.contains(version),
                        "the client sent {} v{version}, outside its versions",
                        stringify!($key),
                    );
                    let mut frame = frame.clone();
                    let header_version = <$req as Request>::request_header_version(version);
                    if let Err(e) = RequestHeader::decode(&mut frame, header_version) {
                        panic!("the client's {} v{version} header does not decode: {e}", stringify!($key));
                    }
                    if let Err(e) = <$req as Message>::decode_exact(frame, version) {
                        panic!("the client's {} v{version} request does not decode: {e}", stringify!($key));
                    }
                    return <$req as Request>::response_header_version(version);
                }
            )*
            panic!("the client sent a request of unknown API key {api_key}");
        }
    };
}
gregor_protocol::for_each_api!(request_check);

/// A response frame: size prefix (the true one), header, body.
fn response_frame(req: &Incoming, header_version: i16, body: &[u8]) -> Vec<u8> {
    let mut buf = BytesMut::new();
    write_frame(&mut buf, |b| {
        ResponseHeader {
            correlation_id: req.correlation_id,
            ..ResponseHeader::default()
        }
        .encode(b, header_version)?;
        b.extend_from_slice(body);
        Ok(())
    })
    .expect("a response frame under 2 GiB encodes");
    buf.to_vec()
}

/// The broker side of one connection.
async fn broker(mut stream: DuplexStream, shared: Shared) {
    // gregor's requests are small; a frame this large would be a client bug.
    let mut frames = FrameReader::new(16 << 20);
    let mut deferred: Vec<Vec<u8>> = Vec::new();
    loop {
        let frame = loop {
            match frames.poll_frame() {
                Ok(Some(frame)) => break frame,
                Ok(None) => {}
                Err(e) => panic!("the client wrote a bad request frame: {e}"),
            }
            match stream.read_buf(frames.buffer_mut()).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        };
        let (api_key, version, correlation_id) = RequestHeader::peek_key_version(&frame)
            .unwrap_or_else(|e| panic!("the client wrote a request without a header: {e}"));
        let header_version = check_request(api_key, version, &frame);
        let req = Incoming {
            api_key,
            version,
            correlation_id,
            frame,
        };
        let (action, body) = {
            let mut state = lock(&shared);
            state.requests += 1;
            let (action, body) = state.script.answer(&req);
            state.stalled |= action.stalls();
            trace!(
                "broker: api {api_key} v{version} -> {action:?}, {} body bytes",
                body.len()
            );
            (action, body)
        };
        let mut out = response_frame(&req, header_version, &body);
        let written = match action {
            Action::Answer => stream.write_all(&out).await.is_ok(),
            Action::Chunked { pieces, delay_ms } => {
                let step = out.len().div_ceil(usize::from(pieces)).max(1);
                let mut ok = true;
                for chunk in out.chunks(step) {
                    if stream.write_all(chunk).await.is_err() {
                        ok = false;
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(u64::from(delay_ms))).await;
                }
                ok
            }
            Action::Defer => {
                deferred.push(out);
                continue;
            }
            Action::Silent => continue,
            Action::Close => return,
            Action::LyingSize(lie) => {
                let true_size = out.len() - 4;
                let size: i64 = match lie {
                    LieKind::Negative => -1,
                    LieKind::Longer(by) => true_size as i64 + 1 + i64::from(by),
                    LieKind::Shorter(by) => true_size as i64 - 1 - i64::from(by) % 64,
                    LieKind::OverCap => MAX_RESPONSE_FRAME as i64 + 1,
                    LieKind::Max => i64::from(i32::MAX),
                };
                let size = i32::try_from(size.max(-1)).unwrap_or(i32::MAX);
                out[..4].copy_from_slice(&size.to_be_bytes());
                stream.write_all(&out).await.is_ok()
            }
        };
        if !written {
            return;
        }
        for held in deferred.drain(..) {
            if stream.write_all(&held).await.is_err() {
                return;
            }
        }
    }
}

/// How the flows behave, from the input.
#[derive(Debug, Clone, Copy)]
pub struct Params {
    /// Run every flow at once on one connection (pipelined) instead of one after another
    /// (reconnecting when the connection died).
    pub concurrent: bool,
    /// Use KIP-227 fetch sessions.
    pub sessions: bool,
    /// Fetch with `read_committed`.
    pub read_committed: bool,
    /// Check record CRCs.
    pub verify_crc: bool,
    /// The first fetch position.
    pub position: i64,
    /// The end of the range read (exclusive).
    pub until: i64,
    /// The ListOffsets timestamp.
    pub list_timestamp: i64,
    /// The FindCoordinator key type.
    pub key_type: i8,
    /// OffsetFetch's `require_stable`.
    pub require_stable: bool,
}

impl Params {
    /// The parameters from an input's values. `flags`: bit 0 concurrent, bit 1 sessions, bit 2
    /// read_committed, bit 3 no CRC checks, bit 4 require_stable. `position` is read as an
    /// `i16`; `until` 0 reads to the end, `n` reads `n - 1` offsets from `position`; the
    /// ListOffsets timestamp is `timestamp` as an `i16`; the key type is `key_type % 3`.
    pub fn from_parts(flags: u8, position: u16, until: u16, timestamp: u16, key_type: u8) -> Self {
        Params {
            concurrent: flags & 1 != 0,
            sessions: flags & 2 != 0,
            read_committed: flags & 4 != 0,
            verify_crc: flags & 8 == 0,
            require_stable: flags & 16 != 0,
            // Negative positions too (as the special ListOffsets values -1, -2).
            position: i64::from(position as i16),
            // 0: no end.
            until: match until {
                0 => i64::MAX,
                n => i64::from(position as i16) + i64::from(n) - 1,
            },
            list_timestamp: i64::from(timestamp as i16),
            key_type: key_type as i8 % 3,
        }
    }
}

/// One thing the client does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Metadata for [`TOPIC`], applied to a metadata cache.
    MetadataNamed,
    /// Metadata for every topic (a full refresh of the cache).
    MetadataAll,
    /// ListOffsets for partition 0.
    ListOffsets,
    /// A fetch session round for partition 0, then planning and decoding of every partition
    /// answered.
    Fetch,
    /// OffsetFetch of [`GROUP`] for partition 0.
    OffsetFetch,
    /// FindCoordinator for [`GROUP`].
    FindCoordinator,
}

impl Flow {
    pub const ALL: [Flow; 6] = [
        Flow::MetadataNamed,
        Flow::MetadataAll,
        Flow::ListOffsets,
        Flow::Fetch,
        Flow::OffsetFetch,
        Flow::FindCoordinator,
    ];

    /// What an input with no flows runs: everything, fetching twice.
    pub const DEFAULT: [Flow; 7] = [
        Flow::MetadataNamed,
        Flow::ListOffsets,
        Flow::Fetch,
        Flow::Fetch,
        Flow::OffsetFetch,
        Flow::FindCoordinator,
        Flow::MetadataAll,
    ];

    pub fn from_byte(b: u8) -> Flow {
        Flow::ALL[usize::from(b) % Flow::ALL.len()]
    }

    /// The flows an input's bytes name (the default list when none).
    pub fn list(bytes: &[u8]) -> Vec<Flow> {
        if bytes.is_empty() {
            Flow::DEFAULT.to_vec()
        } else {
            bytes
                .iter()
                .take(MAX_FLOWS)
                .map(|&b| Flow::from_byte(b))
                .collect()
        }
    }
}

/// Runs one input: `flows` against a broker answering with `script`.
pub fn run(script: impl Script, flows: &[Flow], params: Params) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("a current-thread runtime");
    let shared: Shared = Arc::new(Mutex::new(BrokerState {
        script: Box::new(script),
        stalled: false,
        requests: 0,
    }));
    runtime.block_on(async {
        let start = tokio::time::Instant::now();
        if tokio::time::timeout(WHOLE_INPUT, drive(&shared, flows, params))
            .await
            .is_err()
        {
            panic!(
                "the input did not finish within {WHOLE_INPUT:?} of virtual time ({:?} elapsed)",
                start.elapsed()
            );
        }
    });
}

async fn drive(shared: &Shared, flows: &[Flow], params: Params) {
    let opts = ConnectOptions {
        request_timeout: REQUEST_TIMEOUT,
        max_response_frame: MAX_RESPONSE_FRAME,
        ..ConnectOptions::default()
    };
    if params.concurrent {
        let Some(conn) = connect(shared, &opts).await else {
            return;
        };
        let mut tasks = JoinSet::new();
        for &flow in flows {
            let conn = conn.clone();
            let shared = Arc::clone(shared);
            tasks.spawn(async move {
                let mut state = FlowState::new(params);
                run_flow(&conn, flow, &mut state, &params, &shared).await;
            });
        }
        while let Some(joined) = tasks.join_next().await {
            if let Err(e) = joined
                && e.is_panic()
            {
                std::panic::resume_unwind(e.into_panic());
            }
        }
    } else {
        let mut conn: Option<Connection> = None;
        let mut state = FlowState::new(params);
        for &flow in flows {
            if conn.as_ref().is_none_or(Connection::is_closed) {
                conn = connect(shared, &opts).await;
            }
            if let Some(conn) = &conn {
                run_flow(conn, flow, &mut state, &params, shared).await;
            }
        }
    }
}

/// Awaits `fut`, which must finish within `limit` (plus timer slack) of virtual time.
async fn bounded<T>(what: &str, limit: Duration, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(limit + SLACK, fut).await {
        Ok(out) => out,
        Err(_) => panic!("{what} did not finish within {limit:?} of virtual time"),
    }
}

/// A new connection to a new broker task: the handshake must end within two request
/// timeouts (ApiVersions, and one retry at a lower version).
async fn connect(shared: &Shared, opts: &ConnectOptions) -> Option<Connection> {
    let (client, server) = tokio::io::duplex(64 * 1024);
    tokio::spawn(broker(server, Arc::clone(shared)));
    let handshake = Connection::handshake(client, opts);
    match bounded("the handshake", 2 * REQUEST_TIMEOUT, handshake).await {
        Ok(conn) => {
            for (key, range) in conn.versions().iter() {
                black_box((key, range, conn.versions().broker_range(key)));
            }
            Some(conn)
        }
        Err(e) => {
            trace!("handshake: {e}");
            check_error(&e, shared);
            None
        }
    }
}

/// A request's error: it must display, classify, and be a timeout only if the broker stalled.
fn check_error(e: &ClientError, shared: &Shared) {
    black_box(e.to_string());
    black_box(format!("{e:?}"));
    black_box(classify(e));
    black_box(e.is_connection_error());
    let timed_out = matches!(
        e,
        ClientError::Timeout { .. } | ClientError::Poisoned(PoisonCause::RequestTimedOut(_))
    );
    if timed_out {
        assert!(
            lock(shared).stalled,
            "a request timed out ({e}) though the broker answered every request at once"
        );
    }
}

/// What the flows of one task carry from one to the next.
struct FlowState {
    session: FetchSession,
    position: i64,
    cache: MetadataCache,
}

impl FlowState {
    fn new(params: Params) -> Self {
        FlowState {
            session: FetchSession::new(params.sessions),
            position: params.position,
            cache: MetadataCache::new(),
        }
    }
}

/// One flow: one request, and what the client and consumer do with its answer.
async fn run_flow(
    conn: &Connection,
    flow: Flow,
    state: &mut FlowState,
    params: &Params,
    shared: &Shared,
) {
    let result = match flow {
        Flow::MetadataNamed | Flow::MetadataAll => {
            let all = flow == Flow::MetadataAll;
            let send = conn.send_with(|v| {
                if all {
                    MetadataRequest::all_topics(v)
                } else {
                    MetadataRequest::for_topics([TOPIC])
                }
            });
            bounded("Metadata", REQUEST_TIMEOUT, send)
                .await
                .map(|resp| {
                    state.cache.apply(&resp, all, std::time::Instant::now());
                    query_cache(&state.cache);
                })
        }
        Flow::ListOffsets => {
            let send = conn.send_with(|v| ListOffsetsRequest {
                replica_id: -1,
                isolation_level: if v >= 2 {
                    i8::from(params.read_committed)
                } else {
                    0
                },
                topics: vec![ListOffsetsTopic {
                    name: TOPIC.to_owned(),
                    partitions: vec![ListOffsetsPartition {
                        partition_index: 0,
                        current_leader_epoch: -1,
                        timestamp: params.list_timestamp,
                        ..ListOffsetsPartition::default()
                    }],
                    ..ListOffsetsTopic::default()
                }],
                timeout_ms: if v >= 10 { 1000 } else { 0 },
                ..ListOffsetsRequest::default()
            });
            bounded("ListOffsets", REQUEST_TIMEOUT, send)
                .await
                .map(|resp| {
                    for t in &resp.topics {
                        for p in &t.partitions {
                            black_box((
                                &t.name,
                                p.partition_index,
                                ErrorCode::from_code(p.error_code).is_err(),
                                p.offset,
                                p.timestamp,
                                p.leader_epoch,
                            ));
                        }
                    }
                })
        }
        Flow::Fetch => fetch(conn, state, params).await,
        Flow::OffsetFetch => {
            let send = conn.send_with(|v| {
                if v >= 8 {
                    OffsetFetchRequest {
                        groups: vec![OffsetFetchRequestGroup {
                            group_id: GROUP.to_owned(),
                            topics: Some(vec![OffsetFetchRequestTopics {
                                name: TOPIC.to_owned(),
                                partition_indexes: vec![0],
                                ..OffsetFetchRequestTopics::default()
                            }]),
                            ..OffsetFetchRequestGroup::default()
                        }],
                        require_stable: params.require_stable,
                        ..OffsetFetchRequest::default()
                    }
                } else {
                    OffsetFetchRequest {
                        group_id: GROUP.to_owned(),
                        topics: Some(vec![OffsetFetchRequestTopic {
                            name: TOPIC.to_owned(),
                            partition_indexes: vec![0],
                            ..OffsetFetchRequestTopic::default()
                        }]),
                        require_stable: v >= 7 && params.require_stable,
                        ..OffsetFetchRequest::default()
                    }
                }
            });
            bounded("OffsetFetch", REQUEST_TIMEOUT, send)
                .await
                .map(|resp| {
                    black_box(ErrorCode::from_code(resp.error_code).is_err());
                    for t in &resp.topics {
                        for p in &t.partitions {
                            black_box((&t.name, p.partition_index, p.committed_offset));
                            black_box((&p.metadata, p.committed_leader_epoch, p.error_code));
                        }
                    }
                    for g in &resp.groups {
                        black_box((&g.group_id, ErrorCode::from_code(g.error_code).is_err()));
                        for t in &g.topics {
                            for p in &t.partitions {
                                black_box((&t.name, t.topic_id, p.partition_index));
                                black_box((p.committed_offset, p.committed_leader_epoch));
                            }
                        }
                    }
                })
        }
        Flow::FindCoordinator => {
            let send = conn.send_with(|v| {
                if v >= 4 {
                    FindCoordinatorRequest {
                        key_type: params.key_type,
                        coordinator_keys: vec![GROUP.to_owned()],
                        ..FindCoordinatorRequest::default()
                    }
                } else {
                    FindCoordinatorRequest {
                        key: GROUP.to_owned(),
                        key_type: if v >= 1 { params.key_type } else { 0 },
                        ..FindCoordinatorRequest::default()
                    }
                }
            });
            bounded("FindCoordinator", REQUEST_TIMEOUT, send)
                .await
                .map(|resp| {
                    black_box((resp.node_id, &resp.host, resp.port, &resp.error_message));
                    black_box(ErrorCode::from_code(resp.error_code).is_err());
                    for c in &resp.coordinators {
                        black_box((&c.key, c.node_id, &c.host, c.port, &c.error_message));
                        black_box(ErrorCode::from_code(c.error_code).is_err());
                    }
                })
        }
    };
    match result {
        Ok(()) => trace!("{flow:?}: ok"),
        Err(e) => {
            trace!("{flow:?}: {e}");
            check_error(&e, shared);
        }
    }
}

/// Asks the metadata cache what the client's routing asks it.
fn query_cache(cache: &MetadataCache) {
    black_box(
        cache
            .leader(TOPIC, 0)
            .map(|(addr, epoch)| (addr.host_port(), epoch)),
    );
    black_box(cache.partition_count(TOPIC));
    black_box(cache.partition(TOPIC, 0));
    black_box(cache.topic(TOPIC));
    black_box(cache.topic_name(TOPIC_ID));
    black_box(cache.topic_names());
    black_box(cache.controller());
    black_box(cache.cluster_id());
    for b in cache.brokers() {
        black_box(b.host_port());
    }
    if let Some(c) = cache.controller() {
        black_box(cache.broker(c));
    }
}

/// One fetch session round for partition 0 of [`TOPIC`], then the consumer's planning and
/// decoding of every partition the response carries.
async fn fetch(
    conn: &Connection,
    state: &mut FlowState,
    params: &Params,
) -> Result<(), ClientError> {
    let version = conn.version_for::<FetchRequest>()?;
    let wanted = [WantedPartition {
        tp: TopicPartition::new(TOPIC, 0),
        topic_id: TOPIC_ID,
        fetch_offset: state.position,
        current_leader_epoch: -1,
        max_bytes: MAX_RESPONSE_FRAME as i32,
        last_fetched_epoch: -1,
    }];
    let limits = RequestLimits {
        max_wait_ms: 500,
        min_bytes: 1,
        max_bytes: MAX_RESPONSE_FRAME as i32,
        isolation_level: i8::from(params.read_committed),
    };
    let request = state.session.build(&wanted, version, limits);
    let send = conn.send_versioned(&request, version);
    let response = match bounded("Fetch", REQUEST_TIMEOUT, send).await {
        Ok(response) => response,
        Err(e) => {
            state.session.reset();
            return Err(e);
        }
    };
    black_box((state.session.id(), state.session.epoch()));
    if let SessionOutcome::Reset(code) = state.session.handle_response(&response) {
        black_box(code);
        return Ok(());
    }
    let names = HashMap::from([(TOPIC_ID, TOPIC.to_owned())]);
    let partitions = response_partitions(&response, version, &names);
    // In a stable order (the map's is random per process), so runs repeat.
    let mut partitions: Vec<_> = partitions.into_iter().collect();
    partitions.sort_by(|a, b| a.0.cmp(&b.0));
    for (tp, data) in partitions {
        let ours = tp.topic.as_ref() == TOPIC && tp.partition == 0;
        let position = if ours { state.position } else { 0 };
        if let Some(next) = consume_partition(data, position, params)
            && ours
        {
            state.position = next;
        }
    }
    Ok(())
}

/// Plans and decodes one partition's records as the consumer does; returns the next position.
pub fn consume_partition(data: &PartitionData, position: i64, params: &Params) -> Option<i64> {
    black_box((data.partition_index, data.error_code, data.high_watermark));
    black_box((data.last_stable_offset, data.log_start_offset));
    black_box((data.preferred_read_replica, &data.diverging_epoch));
    let records = data.records.clone().unwrap_or_default();
    let aborted = data.aborted_transactions.as_deref().unwrap_or_default();
    let until = params.until;
    let isolation = if params.read_committed {
        IsolationLevel::ReadCommitted
    } else {
        IsolationLevel::ReadUncommitted
    };
    let options = DecodeOptions {
        verify_crc: params.verify_crc,
        max_decompressed_bytes: MAX_DECOMPRESSED,
    };

    // Batch by batch, as a reader does.
    let plan = plan_partition(
        records.clone(),
        aborted,
        position,
        until,
        isolation,
        &options,
    );
    let mut decoded: Vec<Record> = Vec::new();
    let mut all_decoded = plan.is_ok();
    if let Ok(plan) = &plan {
        assert!(
            plan.next_offset >= position,
            "planning moved the position back: {position} -> {}",
            plan.next_offset
        );
        assert!(
            plan.next_offset <= position.max(until),
            "planning moved the position past until: {position} -> {} (until {until})",
            plan.next_offset
        );
        let mut previous = position;
        for batch in &plan.batches {
            black_box((batch.wire_size(), batch.leader_epoch));
            assert!(
                batch.next_offset >= previous && batch.next_offset <= plan.next_offset,
                "planned batches out of order: {previous} then {} (plan ends at {})",
                batch.next_offset,
                plan.next_offset
            );
            previous = batch.next_offset;
            match batch.decode_into(&mut decoded, &options) {
                Ok(size) => {
                    black_box(size);
                }
                Err(e) => {
                    black_box(e.to_string());
                    all_decoded = false;
                    break;
                }
            }
        }
    }
    trace!(
        "partition {}: {} record bytes at {position}..{until}: plan {:?}, {} records",
        data.partition_index,
        records.len(),
        plan.as_ref().map(|p| (p.batches.len(), p.next_offset)),
        decoded.len()
    );
    for record in &decoded {
        assert!(
            record.offset >= position && record.offset < until,
            "record at offset {} delivered outside {position}..{until}",
            record.offset
        );
        touch(record);
    }

    // At once, as `decode_partition` does: the same outcome.
    match decode_partition(records, aborted, position, until, isolation, &options) {
        Ok(at_once) => {
            assert!(
                all_decoded,
                "decode_partition succeeded where planning and decoding batch by batch failed"
            );
            let plan = plan.as_ref().expect("planned");
            assert_eq!(at_once.next_offset, plan.next_offset);
            assert_eq!(at_once.last_epoch, plan.last_epoch);
            assert_eq!(at_once.records, decoded);
        }
        Err(e) => {
            black_box(e.to_string());
            assert!(
                !all_decoded,
                "decode_partition failed ({e}) where planning and decoding batch by batch succeeded"
            );
        }
    }
    plan.ok().map(|p| p.next_offset)
}

/// Reads every part of a record an application would.
fn touch(record: &Record) {
    black_box((record.offset, record.timestamp));
    black_box(record.key.as_ref().map(|k| k.len()));
    black_box(record.value.as_ref().map(|v| v.len()));
    black_box(record.headers.len());
    for header in record.headers.iter() {
        match header {
            Ok(h) => {
                black_box(h.key_str().is_ok());
                black_box(h.value.as_ref().map(|v| v.len()));
            }
            Err(e) => {
                black_box(e.to_string());
                break;
            }
        }
    }
    black_box(record.headers.validate().is_ok());
}

/// An ApiVersions response body listing `ranges`, encoded in `version`.
pub fn api_versions_body(
    error_code: i16,
    ranges: &[(i16, i16, i16)],
    version: i16,
) -> Option<Vec<u8>> {
    let response = ApiVersionsResponse {
        error_code,
        api_keys: ranges
            .iter()
            .map(|&(api_key, min_version, max_version)| ApiVersion {
                api_key,
                min_version,
                max_version,
                ..ApiVersion::default()
            })
            .collect(),
        ..ApiVersionsResponse::default()
    };
    let mut buf = BytesMut::new();
    response.encode(&mut buf, version).ok()?;
    Some(buf.to_vec())
}

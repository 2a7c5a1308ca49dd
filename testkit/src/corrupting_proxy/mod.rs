//! A Kafka-aware TCP proxy on loopback that corrupts broker responses on their way to the
//! client, to test that a client survives transient corruption.
//!
//! [`CorruptingProxy`] listens on `127.0.0.1:<port>` and forwards each accepted connection to a
//! target (a broker), like [`ChaosProxy`](crate::ChaosProxy), but it reads Kafka frames (an
//! `int32` size, then the frame) in both directions:
//! - client to broker, it reads each request header's fixed prefix (API key, version,
//!   correlation id; the same in every header version) and remembers, per connection, which API
//!   and version each correlation id asked for, then forwards the request unchanged;
//! - broker to client, it reads each whole response, finds its request by the correlation id,
//!   and, when the test asked for it ([`corrupt`](CorruptingProxy::corrupt)), corrupts it at
//!   random (see [`Corruption`]) before forwarding it behind a correct size prefix.
//!
//! A size prefix that is negative or above 200 MiB closes the connection. Randomness comes from
//! a small PRNG seeded by the test ([`CorruptingProxy::bind`], [`CorruptingProxy::seed`]), so
//! the same exchange is corrupted the same way on every run.
//!
//! Threads, not async: the proxy works under any test runtime. One thread accepts; each
//! connection gets one thread per direction. Everything stops when the proxy is dropped.

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use gregor_protocol::frame::{FrameReader, peek_correlation_id};
use gregor_protocol::header::{RequestHeader, ResponseHeader};
use gregor_protocol::messages::FetchResponse;
use gregor_protocol::records::{DecodeOptions, RecordSetIter};
use gregor_protocol::{ApiKey, Message, Request};

/// How often idle threads look at the controls.
const POLL: Duration = Duration::from_millis(10);
/// The largest frame either side may send; a larger (or negative) size closes the link.
const MAX_FRAME: usize = 200 * 1024 * 1024;
/// The first byte of a magic-2 batch that its CRC-32C covers (the attributes).
const CRC_START: usize = 21;

/// What the proxy did to one response.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Corruption {
    /// Fetch responses only: one byte of a whole magic-2 record batch, inside the part its
    /// CRC-32C covers, was xored with a non-zero value. The response still decodes; the batch
    /// fails its CRC check.
    RecordBatch {
        /// The topic's position in the response's `responses`.
        topic_index: usize,
        /// The topic's name (empty from Fetch v13, which names topics by id).
        topic: String,
        /// The partition index.
        partition: i32,
        /// The base offset of the corrupted batch.
        base_offset: i64,
    },
    /// The response body was cut short: the correlation id and the rest of the response header
    /// were kept, with only the first `kept` bytes of the body (at least one byte fewer than it
    /// had), behind a size prefix that matches. Framing and correlation stay right; decoding
    /// the body fails.
    Truncated {
        /// How many bytes of the body were kept.
        kept: usize,
    },
    /// Fetch responses only, asked for with [`CorruptingProxy::corrupt_log`]: the last byte
    /// of the batch at `base_offset` of `partition` was inverted, the same way in every
    /// response that holds the whole batch, as if the broker's log were corrupt there.
    StoredBatch {
        /// The partition index (of any topic).
        partition: i32,
        /// The base offset of the corrupted batch.
        base_offset: i64,
    },
    /// Fetch responses only, asked for with [`CorruptingProxy::rewrite_fetch`]: the response
    /// was rewritten as `how` says, on `partition`.
    Rewritten {
        /// The rewrite.
        how: FetchRewrite,
        /// The partition it touched (before the rewrite).
        partition: i32,
    },
}

/// splitmix64: small, fast, and enough for picking what to corrupt.
#[derive(Debug, Default)]
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % (n as u64).max(1)) as usize
    }
}

/// Locks `m`, ignoring poisoning (a panicking test thread must not wedge the proxy).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One proxied connection: the client side and the broker side.
#[derive(Debug)]
struct Link {
    id: usize,
    client: TcpStream,
    upstream: TcpStream,
}

impl Link {
    fn close(&self) {
        let _ = self.client.shutdown(Shutdown::Both);
        let _ = self.upstream.shutdown(Shutdown::Both);
    }
}

/// The requests of one connection awaiting their response: correlation id to API and version.
type Pending = Mutex<HashMap<i32, (ApiKey, i16)>>;

#[derive(Debug, Default)]
struct Shared {
    target: Mutex<Option<SocketAddr>>,
    links: Mutex<Vec<Link>>,
    stopped: AtomicBool,
    accepted: AtomicUsize,
    /// Per API, corrupt one response in this many (absent: never).
    odds: Mutex<HashMap<ApiKey, u32>>,
    rng: Mutex<Rng>,
    responses: Mutex<HashMap<ApiKey, usize>>,
    corrupted: Mutex<Vec<(ApiKey, Corruption)>>,
    /// Batches (partition, base offset) corrupted in every Fetch response that holds them.
    stored: Mutex<Vec<(i32, i64)>>,
    /// How Fetch responses are rewritten, and one in how many.
    rewrites: Mutex<Option<(FetchRewrite, u32)>>,
}

impl Shared {
    /// What to forward for `frame`: a request as it is (its API and version noted in
    /// `pending`), a response counted and, if the dice say so, corrupted.
    fn pass(&self, pending: &Pending, is_request: bool, frame: Bytes) -> Bytes {
        if is_request {
            if let Ok((key, version, id)) = RequestHeader::peek_key_version(&frame) {
                if let Some(api) = ApiKey::from_code(key) {
                    lock(pending).insert(id, (api, version));
                }
            }
            return frame;
        }
        let request = peek_correlation_id(&frame)
            .ok()
            .and_then(|id| lock(pending).remove(&id));
        let Some((api, version)) = request else {
            return frame;
        };
        *lock(&self.responses).entry(api).or_default() += 1;
        let stored = lock(&self.stored).clone();
        if api == ApiKey::Fetch && !stored.is_empty() {
            if let Some((out, hits)) = corrupt_stored(&frame, version, &stored) {
                lock(&self.corrupted).extend(hits.into_iter().map(|h| (api, h)));
                return out;
            }
        }
        let rewrite_odds = *lock(&self.rewrites);
        if let (ApiKey::Fetch, Some((how, one_in))) = (api, rewrite_odds) {
            let mut rng = lock(&self.rng);
            if one_in > 0 && rng.below(one_in as usize) == 0 {
                let header_version = response_header_version(api, version);
                if let Some((out, partition)) =
                    rewrite::rewrite(&mut rng, how, &frame, version, header_version)
                {
                    drop(rng);
                    let what = Corruption::Rewritten { how, partition };
                    lock(&self.corrupted).push((api, what));
                    return out;
                }
            }
        }
        let one_in = lock(&self.odds).get(&api).copied().unwrap_or(0);
        let mut rng = lock(&self.rng);
        if one_in == 0 || rng.below(one_in as usize) != 0 {
            return frame;
        }
        let Some((out, what)) = corrupt(&mut rng, api, version, &frame) else {
            return frame;
        };
        drop(rng);
        lock(&self.corrupted).push((api, what));
        out
    }
}

/// A Kafka-frame-aware TCP proxy that corrupts responses on request. Stops (closing every
/// connection) on drop.
#[derive(Debug)]
pub struct CorruptingProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<thread::JoinHandle<()>>,
}

impl CorruptingProxy {
    /// Listens on a free loopback port, its random choices seeded with `seed`. Nothing is
    /// corrupted until [`corrupt`](Self::corrupt) says so. Connections accepted before
    /// [`set_target`](Self::set_target) are closed at once.
    pub fn bind(seed: u64) -> std::io::Result<CorruptingProxy> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            rng: Mutex::new(Rng(seed)),
            ..Shared::default()
        });
        let acceptor = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name("corrupting-proxy-accept".into())
                .spawn(move || accept_loop(&listener, &shared))?
        };
        Ok(CorruptingProxy {
            addr,
            shared,
            acceptor: Some(acceptor),
        })
    }

    /// Forwards new connections to `target`.
    pub fn set_target(&self, target: SocketAddr) {
        *lock(&self.shared.target) = Some(target);
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The port clients connect to.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The bootstrap string for clients (`127.0.0.1:port`).
    pub fn bootstrap(&self) -> String {
        self.addr.to_string()
    }

    /// From now on, corrupts each response to a request of `api` with probability
    /// `1 / one_in`; `0` stops corrupting that API. Each API has its own setting.
    pub fn corrupt(&self, api: ApiKey, one_in: u32) {
        let mut odds = lock(&self.shared.odds);
        if one_in == 0 {
            odds.remove(&api);
        } else {
            odds.insert(api, one_in);
        }
    }

    /// From now on, corrupts the record batch at `base_offset` of `partition` (any topic)
    /// in every Fetch response that holds it whole, always the same way
    /// ([`Corruption::StoredBatch`]): persistent corruption, as of a broker's log, which a
    /// client must report rather than retry forever. Such responses are not corrupted at
    /// random besides.
    pub fn corrupt_log(&self, partition: i32, base_offset: i64) {
        lock(&self.shared.stored).push((partition, base_offset));
    }

    /// From now on, rewrites one Fetch response in `one_in` as `how` says (0 turns it off):
    /// well-formed answers whose contents no honest broker gives ([`Corruption::Rewritten`]).
    /// A rewritten response is not corrupted besides.
    pub fn rewrite_fetch(&self, how: FetchRewrite, one_in: u32) {
        *lock(&self.shared.rewrites) = (one_in > 0).then_some((how, one_in));
    }

    /// Restarts the random choices from `seed`.
    pub fn seed(&self, seed: u64) {
        *lock(&self.shared.rng) = Rng(seed);
    }

    /// Every corruption done so far, in order, with the API of the response.
    pub fn corrupted(&self) -> Vec<(ApiKey, Corruption)> {
        lock(&self.shared.corrupted).clone()
    }

    /// How many responses to requests of `api` the proxy has forwarded (corrupted or not).
    pub fn responses(&self, api: ApiKey) -> usize {
        lock(&self.shared.responses).get(&api).copied().unwrap_or(0)
    }

    /// Closes every proxied connection now (both the client's and the broker's side). New
    /// connections are accepted as before.
    pub fn cut_all(&self) {
        let links = std::mem::take(&mut *lock(&self.shared.links));
        for link in &links {
            link.close();
        }
    }

    /// How many connections the proxy has accepted.
    pub fn accepted(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    /// How many proxied connections are open.
    pub fn open(&self) -> usize {
        lock(&self.shared.links).len()
    }
}

impl Drop for CorruptingProxy {
    fn drop(&mut self) {
        self.shared.stopped.store(true, Ordering::SeqCst);
        self.cut_all();
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    let mut next_id = 0usize;
    while !shared.stopped.load(Ordering::SeqCst) {
        let Ok((client, _)) = listener.accept() else {
            thread::sleep(POLL);
            continue;
        };
        shared.accepted.fetch_add(1, Ordering::SeqCst);
        next_id += 1;
        // On failure (no target, broker down) the client's socket is dropped: it sees its
        // connection closed, as when a broker is down.
        let _ = start_link(next_id, client, shared);
    }
}

/// Connects upstream and starts the two forwarding threads of one connection.
fn start_link(id: usize, client: TcpStream, shared: &Arc<Shared>) -> std::io::Result<()> {
    let target = lock(&shared.target)
        .ok_or_else(|| std::io::Error::new(ErrorKind::NotConnected, "no target yet"))?;
    client.set_nonblocking(false)?;
    let upstream = TcpStream::connect_timeout(&target, Duration::from_secs(5))?;
    for s in [&client, &upstream] {
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(POLL))?;
    }
    lock(&shared.links).push(Link {
        id,
        client: client.try_clone()?,
        upstream: upstream.try_clone()?,
    });
    let pending: Arc<Pending> = Arc::default();
    let pairs = [
        (client.try_clone()?, upstream.try_clone()?, true),
        (upstream, client, false),
    ];
    for (from, mut to, is_request) in pairs {
        let shared = Arc::clone(shared);
        let pending = Arc::clone(&pending);
        thread::Builder::new()
            .name(format!("corrupting-proxy-{id}"))
            .spawn(move || {
                for_each_frame(from, &shared, |frame| {
                    write_frame(&mut to, &shared.pass(&pending, is_request, frame))
                });
                // Either side ending ends the link.
                let mut links = lock(&shared.links);
                if let Some(at) = links.iter().position(|l| l.id == id) {
                    links.swap_remove(at).close();
                }
            })?;
    }
    Ok(())
}

/// Reads frames from `from` and hands each to `each`, until either side closes, a size prefix
/// is invalid, `each` fails or the proxy stops.
fn for_each_frame(
    mut from: TcpStream,
    shared: &Shared,
    mut each: impl FnMut(Bytes) -> std::io::Result<()>,
) {
    let mut reader = FrameReader::new(MAX_FRAME);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        loop {
            match reader.poll_frame() {
                Ok(Some(frame)) => {
                    if each(frame).is_err() {
                        return;
                    }
                }
                Ok(None) => break,
                // A negative or oversized frame: the stream cannot be followed any more.
                Err(_) => return,
            }
        }
        if shared.stopped.load(Ordering::SeqCst) {
            return;
        }
        match from.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => reader.extend(buf.get(..n).unwrap_or_default()),
            Err(e) if is_timeout(e.kind()) => {}
            Err(_) => return,
        }
    }
}

/// A read that only timed out (or was interrupted): try again.
fn is_timeout(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
    )
}

/// Writes `frame` behind its size prefix, in one write.
fn write_frame(to: &mut TcpStream, frame: &[u8]) -> std::io::Result<()> {
    let size = i32::try_from(frame.len())
        .map_err(|_| std::io::Error::new(ErrorKind::InvalidData, "frame too large"))?;
    let mut out = Vec::with_capacity(4 + frame.len());
    out.extend_from_slice(&size.to_be_bytes());
    out.extend_from_slice(frame);
    to.write_all(&out)
}

/// The response header version of `api` in `version`.
fn response_header_version(api: ApiKey, version: i16) -> i16 {
    macro_rules! pick {
        ($(($key:ident, $req:ty, $resp:ty)),* $(,)?) => {
            match api {
                $(ApiKey::$key => <$req as Request>::response_header_version(version),)*
                _ => 0,
            }
        };
    }
    gregor_protocol::for_each_api!(pick)
}

/// Corrupts one response `frame` (without its size prefix) to `api` in `version`, or `None`
/// when nothing can be done to it (an unreadable header, an empty body).
fn corrupt(rng: &mut Rng, api: ApiKey, version: i16, frame: &Bytes) -> Option<(Bytes, Corruption)> {
    let mut body = frame.clone();
    ResponseHeader::decode(&mut body, response_header_version(api, version)).ok()?;
    let header_len = frame.len() - body.len();
    if api == ApiKey::Fetch {
        let targets = batch_targets(&body, version);
        if !targets.is_empty() && rng.below(2) == 0 {
            return flip_batch_byte(rng, frame, header_len, &targets);
        }
    }
    if body.is_empty() {
        return None;
    }
    let kept = rng.below(body.len());
    Some((
        frame.slice(..header_len + kept),
        Corruption::Truncated { kept },
    ))
}

/// A Fetch response partition with whole magic-2 batches.
#[derive(Debug)]
struct Target {
    topic_index: usize,
    topic: String,
    partition: i32,
    /// Per batch: start and end in the body, base offset.
    batches: Vec<(usize, usize, i64)>,
}

/// The partitions of Fetch response `body` that hold at least one whole magic-2 batch.
fn batch_targets(body: &Bytes, version: i16) -> Vec<Target> {
    let Ok(response) = FetchResponse::decode_exact(body.clone(), version) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (topic_index, topic) in response.responses.iter().enumerate() {
        for partition in &topic.partitions {
            let Some(records) = partition.records.as_ref().filter(|r| !r.is_empty()) else {
                continue;
            };
            // `records` is a slice of `body`: where it starts there.
            let at = (records.as_ptr() as usize).checked_sub(body.as_ptr() as usize);
            let Some(at) = at.filter(|at| at.saturating_add(records.len()) <= body.len()) else {
                continue;
            };
            // The whole magic-2 batches; a partial tail or an unreadable entry ends the walk.
            let mut set = RecordSetIter::new(records.clone(), &DecodeOptions::default());
            let mut batches = Vec::new();
            while let Some(Ok(raw)) = set.next_raw() {
                if let Some(header) = raw.header() {
                    let end = at + set.position();
                    batches.push((end - raw.bytes().len(), end, header.base_offset));
                }
            }
            if !batches.is_empty() {
                out.push(Target {
                    topic_index,
                    topic: topic.topic.clone(),
                    partition: partition.partition_index,
                    batches,
                });
            }
        }
    }
    out
}

/// Inverts the last byte of each batch of `stored` in Fetch response `frame`; `None` when
/// the response holds none of them whole.
fn corrupt_stored(
    frame: &Bytes,
    version: i16,
    stored: &[(i32, i64)],
) -> Option<(Bytes, Vec<Corruption>)> {
    let mut body = frame.clone();
    ResponseHeader::decode(&mut body, response_header_version(ApiKey::Fetch, version)).ok()?;
    let header_len = frame.len() - body.len();
    let mut out = BytesMut::from(&frame[..]);
    let mut hits = Vec::new();
    for target in batch_targets(&body, version) {
        for &(_, end, base_offset) in &target.batches {
            if stored.contains(&(target.partition, base_offset)) {
                *out.get_mut(header_len + end - 1)? ^= 0xff;
                hits.push(Corruption::StoredBatch {
                    partition: target.partition,
                    base_offset,
                });
            }
        }
    }
    (!hits.is_empty()).then(|| (out.freeze(), hits))
}

/// Xors one byte of a random batch of a random target with a non-zero value, inside the part
/// the batch's CRC covers.
fn flip_batch_byte(
    rng: &mut Rng,
    frame: &Bytes,
    header_len: usize,
    targets: &[Target],
) -> Option<(Bytes, Corruption)> {
    let target = targets.get(rng.below(targets.len()))?;
    let &(start, end, base_offset) = target.batches.get(rng.below(target.batches.len()))?;
    let at = header_len + start + CRC_START + rng.below(end - start - CRC_START);
    let mask = 1 + rng.below(255) as u8;
    let mut out = BytesMut::from(&frame[..]);
    *out.get_mut(at)? ^= mask;
    let what = Corruption::RecordBatch {
        topic_index: target.topic_index,
        topic: target.topic.clone(),
        partition: target.partition,
        base_offset,
    };
    Some((out.freeze(), what))
}

mod rewrite;

pub use rewrite::FetchRewrite;

#[cfg(test)]
mod tests;

//! The sans-io state of one broker connection.
//!
//! [`ConnectionCore`] does no I/O and reads no clock. It takes requests (typed, or already
//! framed as a [`RequestFrame`]) and bytes read from the socket, and gives back bytes to write
//! and response bodies matched to the requests they answer. The tokio driver
//! (`connection::driver`, private) only moves bytes between it and a socket, and tells it the time.
//!
//! Each request that expects an answer is recorded in the in-flight table under its
//! correlation id, with a caller-chosen *waiter* `W` (the driver stores the oneshot that
//! delivers the answer). Kafka answers in request order on one connection, but nothing here
//! relies on that: answers are matched by correlation id.
//!
//! Writes can be *held* ([`ConnectionCore::hold`]): while the connection re-authenticates
//! (KIP-368), requests are still taken, given correlation ids and deadlines, but their bytes
//! wait until [`ConnectionCore::release`]; only the exchange's own requests
//! ([`ConnectionCore::push_request_ahead`]) go out meanwhile.
//!
//! Anything that makes the inbound byte stream untrustworthy *poisons* the core: a frame with
//! a bad size prefix, a response too short for its header or with an undecodable header, a
//! correlation id that matches no request in flight, or a request that outlived its timeout
//! (its late answer would arrive unmatched). Once poisoned, every call fails with the same
//! [`ClientError`], and [`ConnectionCore::take_in_flight`] hands back every waiter so the
//! driver can fail it with that error.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use gregor_protocol::frame::{
    FrameReader, peek_correlation_id, split_response_header, write_frame,
};
use gregor_protocol::header::RequestHeader;
use gregor_protocol::{ApiKey, EncodeError, Request};

use crate::error::{ClientError, PoisonCause};

/// The correlation id of a request, echoed by its response.
pub type CorrelationId = i32;

/// The default largest response frame accepted: 100 MiB (Kafka's `fetch.max.bytes` default is
/// 50 MiB; the margin leaves room for headers and a broker that overshoots).
pub const DEFAULT_MAX_RESPONSE_FRAME: usize = 100 * 1024 * 1024;

/// Byte offsets inside a framed request: size prefix (4), api key (2), api version (2),
/// correlation id (4).
const API_KEY_AT: usize = 4;
const CORRELATION_ID_AT: usize = 8;
const FIXED_PREFIX: usize = 12;

/// Smallest read the driver asks the socket for.
const MIN_READ: usize = 8 * 1024;

/// What the connection remembers about a request in flight, enough to decode its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InFlightInfo {
    /// The request's API.
    pub api: ApiKey,
    /// The version the request was encoded in; the response uses the same one.
    pub version: i16,
    /// The response header version to expect (0, or 1 for flexible versions).
    pub response_header_version: i16,
}

impl InFlightInfo {
    /// The facts for a request of type `R` in `version`.
    pub fn of<R: Request>(version: i16) -> InFlightInfo {
        InFlightInfo {
            api: R::API_KEY,
            version,
            response_header_version: R::response_header_version(version),
        }
    }
}

/// The request header fields that are the same for every request on a connection (the client
/// id), encoded once in both header versions. Framing a request copies the template and patches
/// the API key, version and correlation id in place, so it allocates nothing per request.
#[derive(Debug, Clone)]
pub struct HeaderTemplate {
    v1: Bytes,
    v2: Bytes,
}

impl HeaderTemplate {
    /// The template for `client_id`.
    pub fn new(client_id: Option<&str>) -> Result<HeaderTemplate, ClientError> {
        let header = RequestHeader {
            client_id: client_id.map(str::to_owned),
            ..RequestHeader::default()
        };
        let mut v1 = BytesMut::new();
        header.encode(&mut v1, 1)?;
        let mut v2 = BytesMut::new();
        header.encode(&mut v2, 2)?;
        Ok(HeaderTemplate {
            v1: v1.freeze(),
            v2: v2.freeze(),
        })
    }

    fn bytes(&self, header_version: i16) -> Result<&[u8], EncodeError> {
        match header_version {
            1 => Ok(&self.v1),
            2 => Ok(&self.v2),
            version => Err(EncodeError::UnsupportedVersion {
                api: "RequestHeader",
                version,
            }),
        }
    }
}

/// One request, framed (size prefix, header, body) with a placeholder correlation id that the
/// connection fills in when it sends the frame.
///
/// Encoding happens wherever the frame is built (in the caller's task), so the connection task
/// only copies bytes.
#[derive(Debug)]
pub struct RequestFrame {
    bytes: BytesMut,
    info: InFlightInfo,
    expects_response: bool,
    /// How long the broker may legitimately hold the request before answering, on top of
    /// the request timeout (a JoinGroup waits for the whole group, up to its rebalance
    /// timeout).
    broker_hold: Duration,
}

impl RequestFrame {
    /// Frames `req` in `version`, expecting a response.
    pub fn encode<R: Request>(
        header: &HeaderTemplate,
        req: &R,
        version: i16,
    ) -> Result<RequestFrame, ClientError> {
        Self::build(header, req, version, true)
    }

    /// Frames `req` in `version` for a request the broker does not answer (Produce with
    /// `acks = 0`). The connection sends it without recording it in flight.
    pub fn encode_no_response<R: Request>(
        header: &HeaderTemplate,
        req: &R,
        version: i16,
    ) -> Result<RequestFrame, ClientError> {
        Self::build(header, req, version, false)
    }

    fn build<R: Request>(
        header: &HeaderTemplate,
        req: &R,
        version: i16,
        expects_response: bool,
    ) -> Result<RequestFrame, ClientError> {
        let template = header.bytes(R::request_header_version(version))?;
        let mut bytes = BytesMut::new();
        write_frame(&mut bytes, |buf| {
            buf.extend_from_slice(template);
            req.encode(buf, version)
        })?;
        // The template holds key 0, version 0, correlation id 0: patch the first two. The
        // template alone is longer than the fixed prefix, so the slice is always there.
        if let Some(fixed) = bytes.get_mut(API_KEY_AT..CORRELATION_ID_AT) {
            fixed[..2].copy_from_slice(&R::API_KEY.code().to_be_bytes());
            fixed[2..].copy_from_slice(&version.to_be_bytes());
        }
        Ok(RequestFrame {
            bytes,
            info: InFlightInfo::of::<R>(version),
            expects_response,
            broker_hold: Duration::ZERO,
        })
    }

    /// Lets the broker hold this request for up to `hold` before answering: its deadline is
    /// the request timeout plus `hold`. For requests the broker parks on purpose (JoinGroup
    /// and SyncGroup wait for the rest of the group).
    pub fn with_broker_hold(mut self, hold: Duration) -> RequestFrame {
        self.broker_hold = hold;
        self
    }

    /// The request's API, version and response header version.
    pub fn info(&self) -> InFlightInfo {
        self.info
    }

    /// Whether the broker answers this request.
    pub fn expects_response(&self) -> bool {
        self.expects_response
    }

    /// The frame's length on the wire, size prefix included.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Always false: a frame holds at least its size prefix and header.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

/// Settings of a [`ConnectionCore`].
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// The client id sent in every request header.
    pub client_id: Option<String>,
    /// The largest response frame accepted; a larger size prefix poisons the connection.
    pub max_response_frame: usize,
    /// How long a request may wait for its answer; `None` for no limit.
    pub request_timeout: Option<Duration>,
}

impl Default for CoreConfig {
    fn default() -> Self {
        CoreConfig {
            client_id: None,
            max_response_frame: DEFAULT_MAX_RESPONSE_FRAME,
            request_timeout: None,
        }
    }
}

/// A response matched to the request it answers.
#[derive(Debug)]
pub struct ReceivedResponse<W> {
    /// The request's correlation id.
    pub correlation_id: CorrelationId,
    /// What was recorded when the request was sent.
    pub info: InFlightInfo,
    /// The waiter given with the request.
    pub waiter: W,
    /// The response body (after the header), a slice of the received frame.
    pub body: Bytes,
}

/// A request the core refused, with its waiter so the caller can fail it.
#[derive(Debug)]
pub struct Rejected<W> {
    /// Why.
    pub error: ClientError,
    /// The waiter that came with the request.
    pub waiter: W,
}

/// A request that outlived its timeout.
#[derive(Debug)]
pub struct Expired<W> {
    /// The request's correlation id.
    pub correlation_id: CorrelationId,
    /// What was recorded when it was sent.
    pub info: InFlightInfo,
    /// Its waiter.
    pub waiter: W,
}

#[derive(Debug)]
struct Pending<W> {
    info: InFlightInfo,
    deadline: Option<Instant>,
    waiter: W,
    /// Whether its bytes are held back (not written yet).
    held: bool,
}

/// The sans-io state of one connection: outbound bytes, the inbound frame reader, correlation
/// ids and the in-flight table. `W` is whatever the caller needs to deliver an answer.
#[derive(Debug)]
pub struct ConnectionCore<W = ()> {
    header: HeaderTemplate,
    outbound: BytesMut,
    reader: FrameReader,
    next_correlation_id: CorrelationId,
    in_flight: HashMap<CorrelationId, Pending<W>>,
    /// Deadlines, earliest first (a request the broker may hold gets a later one than the
    /// requests sent after it); entries of answered requests are skipped when they come first.
    deadlines: BTreeSet<(Instant, CorrelationId)>,
    request_timeout: Option<Duration>,
    poison: Option<ClientError>,
    /// Whether new requests are held back ([`hold`](Self::hold)).
    holding: bool,
    /// The bytes of the requests held back, in order.
    held: BytesMut,
    /// How many requests in flight are held back.
    held_in_flight: usize,
}

impl<W> ConnectionCore<W> {
    /// A fresh connection state.
    pub fn new(config: CoreConfig) -> Result<ConnectionCore<W>, ClientError> {
        Ok(ConnectionCore {
            header: HeaderTemplate::new(config.client_id.as_deref())?,
            outbound: BytesMut::new(),
            reader: FrameReader::new(config.max_response_frame),
            next_correlation_id: 0,
            in_flight: HashMap::new(),
            deadlines: BTreeSet::new(),
            request_timeout: config.request_timeout,
            poison: None,
            holding: false,
            held: BytesMut::new(),
            held_in_flight: 0,
        })
    }

    /// The header template, for building [`RequestFrame`]s outside the core.
    pub fn header_template(&self) -> &HeaderTemplate {
        &self.header
    }

    /// Frames `req` in `version` and queues it, recording it in flight with `waiter`.
    /// `now` starts its timeout.
    pub fn encode_request<R: Request>(
        &mut self,
        req: &R,
        version: i16,
        waiter: W,
        now: Instant,
    ) -> Result<CorrelationId, Rejected<W>> {
        match RequestFrame::encode(&self.header, req, version) {
            Ok(frame) => self.push_request(frame, waiter, now),
            Err(error) => Err(Rejected { error, waiter }),
        }
    }

    /// Frames and queues a request the broker does not answer (Produce with `acks = 0`). It is
    /// not recorded in flight.
    pub fn encode_no_response<R: Request>(
        &mut self,
        req: &R,
        version: i16,
    ) -> Result<(), ClientError> {
        let frame = RequestFrame::encode_no_response(&self.header, req, version)?;
        self.push_no_response(frame)
    }

    /// Queues a framed request that expects a response: gives it the next correlation id and
    /// records it in flight with `waiter` and a deadline counted from `now`.
    /// While writes are [held](Self::hold), its bytes wait for [`release`](Self::release)
    /// (its deadline runs all the same).
    pub fn push_request(
        &mut self,
        frame: RequestFrame,
        waiter: W,
        now: Instant,
    ) -> Result<CorrelationId, Rejected<W>> {
        let held = self.holding;
        self.push_request_to(frame, waiter, now, held)
    }

    /// Like [`push_request`](Self::push_request), but written at once even while writes are
    /// held: for the requests of a re-authentication, which the held ones wait for.
    pub fn push_request_ahead(
        &mut self,
        frame: RequestFrame,
        waiter: W,
        now: Instant,
    ) -> Result<CorrelationId, Rejected<W>> {
        self.push_request_to(frame, waiter, now, false)
    }

    fn push_request_to(
        &mut self,
        frame: RequestFrame,
        waiter: W,
        now: Instant,
        held: bool,
    ) -> Result<CorrelationId, Rejected<W>> {
        if let Err(error) = self.check_push(&frame, true) {
            return Err(Rejected { error, waiter });
        }
        let id = self.allocate_correlation_id();
        let deadline = self
            .request_timeout
            .and_then(|t| now.checked_add(t.saturating_add(frame.broker_hold)));
        if let Some(deadline) = deadline {
            self.deadlines.insert((deadline, id));
        }
        let info = frame.info;
        self.queue(frame, id, held);
        self.held_in_flight += usize::from(held);
        self.in_flight.insert(
            id,
            Pending {
                info,
                deadline,
                waiter,
                held,
            },
        );
        Ok(id)
    }

    /// Queues a framed request the broker does not answer. It takes a correlation id but is
    /// not recorded in flight, so an answer to it would poison the connection. Held like any
    /// other while writes are held.
    pub fn push_no_response(&mut self, frame: RequestFrame) -> Result<(), ClientError> {
        self.check_push(&frame, false)?;
        let id = self.allocate_correlation_id();
        self.queue(frame, id, self.holding);
        Ok(())
    }

    fn check_push(&self, frame: &RequestFrame, expects_response: bool) -> Result<(), ClientError> {
        if let Some(error) = &self.poison {
            return Err(error.clone());
        }
        if frame.expects_response != expects_response {
            return Err(ClientError::InvalidState {
                context: "request frame pushed with the wrong response expectation",
            });
        }
        Ok(())
    }

    /// Writes the correlation id into the frame and appends it to the outbound bytes (or to
    /// the held ones).
    fn queue(&mut self, mut frame: RequestFrame, id: CorrelationId, held: bool) {
        // Every frame is longer than the fixed prefix (see `RequestFrame::build`).
        if let Some(slot) = frame.bytes.get_mut(CORRELATION_ID_AT..FIXED_PREFIX) {
            slot.copy_from_slice(&id.to_be_bytes());
        }
        let target = if held {
            &mut self.held
        } else {
            &mut self.outbound
        };
        if target.is_empty() {
            *target = frame.bytes;
        } else {
            target.extend_from_slice(&frame.bytes);
        }
    }

    /// Holds back the requests pushed from now on: they are recorded in flight (their
    /// deadlines run) but not written until [`release`](Self::release).
    pub fn hold(&mut self) {
        self.holding = true;
    }

    /// Ends a [`hold`](Self::hold): the held requests go out, in the order they came, after
    /// whatever is already queued.
    pub fn release(&mut self) {
        self.holding = false;
        if self.held.is_empty() && self.held_in_flight == 0 {
            return;
        }
        let held = self.held.split();
        if self.outbound.is_empty() {
            self.outbound = held;
        } else {
            self.outbound.extend_from_slice(&held);
        }
        for pending in self.in_flight.values_mut() {
            pending.held = false;
        }
        self.held_in_flight = 0;
    }

    /// Whether writes are held.
    pub fn is_holding(&self) -> bool {
        self.holding
    }

    /// How many requests await an answer that were written (or queued to be), not held.
    pub fn sent_in_flight_len(&self) -> usize {
        self.in_flight.len().saturating_sub(self.held_in_flight)
    }

    /// Takes a request out of the in-flight table, keeping the held count.
    fn remove_in_flight(&mut self, id: CorrelationId) -> Option<Pending<W>> {
        let pending = self.in_flight.remove(&id)?;
        if pending.held {
            self.held_in_flight = self.held_in_flight.saturating_sub(1);
        }
        Some(pending)
    }

    fn allocate_correlation_id(&mut self) -> CorrelationId {
        loop {
            let id = self.next_correlation_id;
            self.next_correlation_id = id.checked_add(1).unwrap_or(0);
            if !self.in_flight.contains_key(&id) {
                return id;
            }
        }
    }

    /// Whether bytes are waiting to be written.
    pub fn has_outbound(&self) -> bool {
        !self.outbound.is_empty()
    }

    /// Takes the bytes to write to the socket (all queued frames, in order).
    pub fn take_outbound(&mut self) -> BytesMut {
        self.outbound.split()
    }

    /// Feeds bytes read from the socket. Ignored once poisoned.
    pub fn receive(&mut self, bytes: &[u8]) {
        if self.poison.is_none() {
            self.reader.extend(bytes);
        }
    }

    /// The inbound buffer, with room reserved for the next read: for a socket shell that reads
    /// straight into it (append only). Then call [`poll_response`](Self::poll_response).
    pub fn read_buffer(&mut self) -> &mut BytesMut {
        let want = self.reader.bytes_needed().max(MIN_READ);
        let buf = self.reader.buffer_mut();
        buf.reserve(want);
        buf
    }

    /// The next complete response, `Ok(None)` when more bytes are needed, or the error that
    /// poisoned the connection.
    pub fn poll_response(&mut self) -> Result<Option<ReceivedResponse<W>>, ClientError> {
        if let Some(error) = &self.poison {
            return Err(error.clone());
        }
        let frame = match self.reader.poll_frame() {
            Ok(Some(frame)) => frame,
            Ok(None) => return Ok(None),
            Err(e) => return Err(self.poison(ClientError::Poisoned(PoisonCause::Frame(e)))),
        };
        let correlation_id = match peek_correlation_id(&frame) {
            Ok(id) => id,
            Err(e) => {
                let cause = PoisonCause::MalformedHeader(e);
                return Err(self.poison(ClientError::Poisoned(cause)));
            }
        };
        let Some(pending) = self.in_flight.get(&correlation_id) else {
            let cause = PoisonCause::UnknownCorrelationId(correlation_id);
            return Err(self.poison(ClientError::Poisoned(cause)));
        };
        let header_version = pending.info.response_header_version;
        match split_response_header(frame, header_version) {
            Ok((_, body)) => {
                let Some(pending) = self.remove_in_flight(correlation_id) else {
                    return Err(ClientError::InvalidState {
                        context: "a matched request left the in-flight table",
                    });
                };
                Ok(Some(ReceivedResponse {
                    correlation_id,
                    info: pending.info,
                    waiter: pending.waiter,
                    body,
                }))
            }
            Err(e) => {
                let cause = PoisonCause::MalformedHeader(e);
                Err(self.poison(ClientError::Poisoned(cause)))
            }
        }
    }

    /// The earliest deadline of a request still in flight.
    pub fn next_deadline(&mut self) -> Option<Instant> {
        while let Some(&(deadline, id)) = self.deadlines.first() {
            if self.is_live(id, deadline) {
                return Some(deadline);
            }
            self.deadlines.pop_first();
        }
        None
    }

    fn is_live(&self, id: CorrelationId, deadline: Instant) -> bool {
        self.in_flight
            .get(&id)
            .is_some_and(|p| p.deadline == Some(deadline))
    }

    /// If the earliest in-flight request's deadline is at or before `now`, removes it and
    /// poisons the connection (its answer can no longer be expected to arrive in order with
    /// the others, or at all); the expired request should fail with
    /// [`ClientError::Timeout`], the rest with the poison error.
    pub fn expire(&mut self, now: Instant) -> Option<Expired<W>> {
        let deadline = self.next_deadline()?;
        if deadline > now {
            return None;
        }
        let (_, id) = self.deadlines.pop_first()?;
        let pending = self.remove_in_flight(id)?;
        let api = pending.info.api;
        self.poison(ClientError::Poisoned(PoisonCause::RequestTimedOut(api)));
        Some(Expired {
            correlation_id: id,
            info: pending.info,
            waiter: pending.waiter,
        })
    }

    /// Poisons the connection with `error` (for failures the core cannot see, such as I/O
    /// errors or end of stream) unless it already is, and returns the error in force.
    pub fn poison(&mut self, error: ClientError) -> ClientError {
        let error = self.poison.get_or_insert(error).clone();
        self.deadlines.clear();
        self.outbound.clear();
        self.held.clear();
        error
    }

    /// The error that poisoned the connection, if any.
    pub fn poisoned(&self) -> Option<&ClientError> {
        self.poison.as_ref()
    }

    /// How many requests await an answer.
    pub fn in_flight_len(&self) -> usize {
        self.in_flight.len()
    }

    /// Removes every request in flight, to fail them once the connection is poisoned.
    pub fn take_in_flight(&mut self) -> Vec<(CorrelationId, InFlightInfo, W)> {
        self.deadlines.clear();
        self.held.clear();
        self.held_in_flight = 0;
        self.in_flight
            .drain()
            .map(|(id, p)| (id, p.info, p.waiter))
            .collect()
    }
}

#[cfg(test)]
#[path = "core_tests.rs"]
mod tests;

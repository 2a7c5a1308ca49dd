//! The tokio shell around [`ConnectionCore`]: one task per connection owns the socket.
//!
//! Callers hold a [`DriverHandle`] (an mpsc sender plus shared state). They encode their
//! request into a [`RequestFrame`] in their own task and send it with a oneshot for the answer.
//! The connection task gives it a correlation id, writes it, reads responses, and hands each
//! response body to the oneshot of the request it answers; decoding the body is the caller's
//! job. Per request, the only allocations are the frame and the oneshot.
//!
//! The task reads, writes, accepts new requests and watches the earliest request deadline at
//! the same time, so any number of requests can be in flight (pipelining).
//!
//! Cancellation: a caller that drops its future drops its oneshot receiver. If the request was
//! not written yet it is skipped; if it was, its answer is still read (keeping the stream in
//! step) and discarded.
//!
//! Re-authentication (KIP-368): when the handshake reports a SASL session lifetime, the task
//! gets a [`Reauthenticator`] and wakes when it is due. From then on it holds new requests in
//! the core (taken, deadlines running, not written), waits for the answers to the requests
//! already written, carries the exchange's requests ahead of the held ones, and releases them
//! when the broker accepts. A failed re-authentication ends the connection with its error.
//!
//! Failure: end of stream, an I/O error, a poisoned core (bad frame, unknown correlation id),
//! an expired request, or a caller's [`DriverHandle::poison`] (a response body that did not
//! decode: the bytes from the broker cannot be trusted any more) ends the task. Every request in flight or queued fails with the same
//! error (the expired request itself with [`ClientError::Timeout`]), and every later request
//! fails at once with it.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::futures::Notified;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::time::Instant;
use tracing::{Instrument, debug, trace, warn};

use super::core::{ConnectionCore, CoreConfig, HeaderTemplate, RequestFrame};
use super::reauth::{ReauthStep, Reauthenticator};
use crate::error::ClientError;

/// How many requests may wait in the channel to the connection task before senders wait.
const QUEUE_DEPTH: usize = 1024;
/// How many queued requests the task takes in one go before it writes.
const ACCEPT_BATCH: usize = 64;

/// Numbers connections in logs.
static NEXT_CONNECTION_ID: AtomicU64 = AtomicU64::new(1);

type Reply = oneshot::Sender<Result<Bytes, ClientError>>;

/// Who waits for an answer: a caller, or the task's own re-authentication.
#[derive(Debug)]
enum Waiter {
    Caller(Reply),
    Reauth,
}

enum Command {
    /// A request that expects an answer.
    Request { frame: RequestFrame, reply: Reply },
    /// A request the broker does not answer.
    NoResponse { frame: RequestFrame },
    /// Re-authenticate on this schedule from now on.
    Reauthenticate(Box<Reauthenticator>),
}

#[derive(Debug)]
struct Shared {
    header: HeaderTemplate,
    /// The error that ended the connection, set by the task before it stops taking requests
    /// (or by [`DriverHandle::poison`], which then wakes the task through `poisoned`).
    fatal: OnceLock<ClientError>,
    poisoned: Notify,
    /// The SASL session lifetime the broker stated last, in ms (0 for none).
    session_lifetime_ms: AtomicU64,
    /// How many re-authentications completed.
    reauthentications: AtomicU64,
    /// Set (then `ended_notify` notified) once the task has failed everything it took and
    /// dropped its receiver: a request that reached the channel after that is never answered.
    ended: AtomicBool,
    ended_notify: Notify,
}

/// A handle to a connection task. Cheap to clone; the task ends when the connection fails or
/// every handle is dropped.
#[derive(Debug, Clone)]
pub(crate) struct DriverHandle {
    tx: mpsc::Sender<Command>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (kind, frame) = match self {
            Command::Request { frame, .. } => ("Request", frame),
            Command::NoResponse { frame } => ("NoResponse", frame),
            Command::Reauthenticate(reauth) => {
                return f.debug_tuple("Reauthenticate").field(reauth).finish();
            }
        };
        f.debug_struct(kind).field("info", &frame.info()).finish()
    }
}

impl DriverHandle {
    /// Spawns the task that drives `stream` (on the current tokio runtime).
    pub(crate) fn spawn<S>(stream: S, config: CoreConfig) -> Result<DriverHandle, ClientError>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let core = ConnectionCore::<Waiter>::new(config)?;
        let shared = Arc::new(Shared {
            header: core.header_template().clone(),
            fatal: OnceLock::new(),
            poisoned: Notify::new(),
            session_lifetime_ms: AtomicU64::new(0),
            reauthentications: AtomicU64::new(0),
            ended: AtomicBool::new(false),
            ended_notify: Notify::new(),
        });
        let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
        let id = NEXT_CONNECTION_ID.fetch_add(1, Ordering::Relaxed);
        let span = tracing::debug_span!("connection", id);
        tokio::spawn(run(stream, core, rx, Arc::clone(&shared)).instrument(span));
        Ok(DriverHandle { tx, shared })
    }

    /// The request header template of this connection, for framing requests.
    pub(crate) fn header(&self) -> &HeaderTemplate {
        &self.shared.header
    }

    /// Sends a framed request and waits for the body of its answer.
    pub(crate) async fn request(&self, frame: RequestFrame) -> Result<Bytes, ClientError> {
        if let Some(error) = self.shared.fatal.get() {
            return Err(error.clone());
        }
        let api = frame.info().api;
        let (reply, answer) = oneshot::channel();
        // Registered before sending: the task's end cannot slip by unseen.
        let ended = self.shared.ended_notify.notified();
        tokio::pin!(ended);
        ended.as_mut().enable();
        self.tx
            .send(Command::Request { frame, reply })
            .await
            .map_err(|_| self.closed_error())?;
        self.answer(api, answer, ended).await
    }

    /// Waits for the answer to a request sent to the task, or for the task's end.
    async fn answer(
        &self,
        api: gregor_protocol::ApiKey,
        mut answer: oneshot::Receiver<Result<Bytes, ClientError>>,
        mut ended: Pin<&mut Notified<'_>>,
    ) -> Result<Bytes, ClientError> {
        if !self.shared.ended.load(Ordering::SeqCst) {
            tokio::select! {
                biased;
                result = &mut answer => {
                    return result.unwrap_or_else(|_| {
                        // The task ended without answering (it cannot, short of a panic).
                        warn!(?api, "connection task dropped a request");
                        Err(self.closed_error())
                    });
                }
                () = ended.as_mut() => {}
            }
        }
        // The task is gone. A request that got into the channel as it closed (a sender holding
        // a permit from before the close) stays there, its reply never sent nor dropped while
        // any handle lives: waiting for it would hang. An answer sent before the end is kept.
        answer
            .try_recv()
            .unwrap_or_else(|_| Err(self.closed_error()))
    }

    /// Queues a request the broker does not answer. Succeeds once the connection task has the
    /// frame; a connection failure after that is not reported to this caller.
    pub(crate) async fn send_no_response(&self, frame: RequestFrame) -> Result<(), ClientError> {
        self.tx
            .send(Command::NoResponse { frame })
            .await
            .map_err(|_| self.closed_error())
    }

    /// Hands the task its re-authentication schedule (after the handshake, before any other
    /// request), and records the session lifetime the handshake got.
    pub(crate) async fn start_reauth(
        &self,
        reauth: Reauthenticator,
        session_lifetime: Duration,
    ) -> Result<(), ClientError> {
        self.shared
            .session_lifetime_ms
            .store(lifetime_ms(Some(session_lifetime)), Ordering::Relaxed);
        self.tx
            .send(Command::Reauthenticate(Box::new(reauth)))
            .await
            .map_err(|_| self.closed_error())
    }

    /// The SASL session lifetime the broker stated last (at the handshake or the latest
    /// re-authentication), if any.
    pub(crate) fn session_lifetime(&self) -> Option<Duration> {
        match self.shared.session_lifetime_ms.load(Ordering::Relaxed) {
            0 => None,
            ms => Some(Duration::from_millis(ms)),
        }
    }

    /// How many times the connection re-authenticated.
    pub(crate) fn reauthentications(&self) -> u64 {
        self.shared.reauthentications.load(Ordering::Relaxed)
    }

    /// Whether the connection has ended (or was poisoned and is ending).
    pub(crate) fn is_closed(&self) -> bool {
        self.tx.is_closed() || self.shared.fatal.get().is_some()
    }

    /// Ends the connection with `error`, as if its byte stream had failed: every request in
    /// flight or queued fails with it, and so does every later one, at once. For a caller
    /// whose answer did not decode: the stream may have been corrupted on the way, so nothing
    /// more read from it is trusted. A connection that already ended keeps its first error.
    pub(crate) fn poison(&self, error: ClientError) {
        if self.shared.fatal.set(error).is_ok() {
            self.shared.poisoned.notify_one();
        }
    }

    /// The error that ended the connection.
    fn closed_error(&self) -> ClientError {
        self.shared
            .fatal
            .get()
            .cloned()
            .unwrap_or(ClientError::Disconnected)
    }
}

/// The connection task.
async fn run<S>(
    stream: S,
    mut core: ConnectionCore<Waiter>,
    mut rx: mpsc::Receiver<Command>,
    shared: Arc<Shared>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut reader, mut writer) = tokio::io::split(stream);
    let mut writing = BytesMut::new();
    let mut accepting = true;
    let mut reauth: Option<Box<Reauthenticator>> = None;
    let timer = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(timer);
    let reauth_timer = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(reauth_timer);
    debug!("connection task started");

    let error = loop {
        if let Some(reauth) = reauth.as_deref_mut() {
            if let Err(e) = step_reauth(reauth, &mut core) {
                break e;
            }
        }
        if writing.is_empty() && core.has_outbound() {
            writing = core.take_outbound();
        }
        if !accepting && writing.is_empty() && !core.is_holding() {
            // Every handle is gone, so nobody waits for an answer: stop once written.
            let _ = writer.shutdown().await;
            break ClientError::Disconnected;
        }
        let deadline = core.next_deadline();
        if let Some(deadline) = deadline {
            let deadline = Instant::from_std(deadline);
            if timer.deadline() != deadline {
                timer.as_mut().reset(deadline);
            }
        }
        let reauth_due = reauth.as_deref().and_then(Reauthenticator::due);
        if let Some(due) = reauth_due {
            let due = Instant::from_std(due);
            if reauth_timer.deadline() != due {
                reauth_timer.as_mut().reset(due);
            }
        }
        tokio::select! {
            read = reader.read_buf(core.read_buffer()) => match read {
                Ok(0) => break ClientError::Disconnected,
                Ok(n) => {
                    trace!(bytes = n, "read");
                    if let Err(e) = deliver_responses(&mut core, &mut reauth, &shared) {
                        break e;
                    }
                }
                Err(e) => break ClientError::io(&e, "reading from the broker"),
            },
            written = writer.write(&writing), if !writing.is_empty() => match written {
                Ok(0) => break ClientError::io_kind(std::io::ErrorKind::WriteZero, "writing to the broker"),
                Ok(n) => {
                    trace!(bytes = n, "wrote");
                    writing.advance(n);
                }
                Err(e) => break ClientError::io(&e, "writing to the broker"),
            },
            command = rx.recv(), if accepting => match command {
                Some(command) => {
                    let now = Instant::now().into_std();
                    accept(&mut core, &mut reauth, command, now);
                    for _ in 1..ACCEPT_BATCH {
                        match rx.try_recv() {
                            Ok(command) => accept(&mut core, &mut reauth, command, now),
                            Err(_) => break,
                        }
                    }
                }
                None => accepting = false,
            },
            () = shared.poisoned.notified() => {
                break shared.fatal.get().cloned().unwrap_or(ClientError::Disconnected);
            }
            () = &mut timer, if deadline.is_some() => {
                if let Some(expired) = core.expire(Instant::now().into_std()) {
                    let api = expired.info.api;
                    warn!(?api, correlation_id = expired.correlation_id, "request timed out; closing the connection");
                    if let Waiter::Caller(reply) = expired.waiter {
                        let _ = reply.send(Err(ClientError::Timeout { api }));
                    }
                    break core.poisoned().cloned().unwrap_or(ClientError::Timeout { api });
                }
            }
            // Only wakes the loop: `step_reauth` at its top sees the time.
            () = &mut reauth_timer, if reauth_due.is_some() => {}
        }
    };

    // Publish the error before refusing new requests, so a sender that finds the channel
    // closed reads it; then fail everything queued or in flight with it.
    let _ = shared.fatal.set(error.clone());
    let error = core.poison(error);
    rx.close();
    let mut failed = 0usize;
    while let Ok(command) = rx.try_recv() {
        if let Command::Request { reply, .. } = command {
            failed += usize::from(reply.send(Err(error.clone())).is_ok());
        }
    }
    for (_, _, waiter) in core.take_in_flight() {
        if let Waiter::Caller(reply) = waiter {
            failed += usize::from(reply.send(Err(error.clone())).is_ok());
        }
    }
    if matches!(error, ClientError::Disconnected) && failed == 0 {
        debug!("connection closed");
    } else {
        warn!(%error, failed, "connection failed");
    }
    drop(rx);
    shared.ended.store(true, Ordering::SeqCst);
    shared.ended_notify.notify_waiters();
}

/// Takes one command into the core, unless its caller has already given up.
fn accept(
    core: &mut ConnectionCore<Waiter>,
    reauth: &mut Option<Box<Reauthenticator>>,
    command: Command,
    now: std::time::Instant,
) {
    match command {
        Command::Request { frame, reply } => {
            if reply.is_closed() {
                trace!(info = ?frame.info(), "caller gone before the request was sent; skipped");
                return;
            }
            if let Err(rejected) = core.push_request(frame, Waiter::Caller(reply), now) {
                if let Waiter::Caller(reply) = rejected.waiter {
                    let _ = reply.send(Err(rejected.error));
                }
            }
        }
        Command::NoResponse { frame } => {
            if let Err(error) = core.push_no_response(frame) {
                debug!(%error, "request without response not sent");
            }
        }
        Command::Reauthenticate(schedule) => *reauth = Some(schedule),
    }
}

/// Moves the re-authentication on: holds requests once it is due, and sends its first request
/// once the requests written before are answered.
fn step_reauth(
    reauth: &mut Reauthenticator,
    core: &mut ConnectionCore<Waiter>,
) -> Result<(), ClientError> {
    if reauth.due().is_none() && !reauth.holds_requests() {
        return Ok(());
    }
    let now = Instant::now().into_std();
    let first = reauth.poll(now, core.sent_in_flight_len())?;
    if reauth.holds_requests() && !core.is_holding() {
        core.hold();
    }
    if let Some(request) = first {
        send_ahead(core, request.frame(core.header_template())?, now)?;
    }
    Ok(())
}

/// Queues a request of the re-authentication ahead of the held ones.
fn send_ahead(
    core: &mut ConnectionCore<Waiter>,
    frame: RequestFrame,
    now: std::time::Instant,
) -> Result<(), ClientError> {
    core.push_request_ahead(frame, Waiter::Reauth, now)
        .map(drop)
        .map_err(|rejected| rejected.error)
}

/// Hands every complete response to its caller, or to the re-authentication; an error means
/// the core is poisoned or the re-authentication failed.
fn deliver_responses(
    core: &mut ConnectionCore<Waiter>,
    reauth: &mut Option<Box<Reauthenticator>>,
    shared: &Shared,
) -> Result<(), ClientError> {
    while let Some(response) = core.poll_response()? {
        trace!(
            correlation_id = response.correlation_id,
            api = ?response.info.api,
            bytes = response.body.len(),
            "response"
        );
        match response.waiter {
            Waiter::Caller(reply) => {
                if reply.send(Ok(response.body)).is_err() {
                    trace!(
                        correlation_id = response.correlation_id,
                        "caller gone; answer discarded"
                    );
                }
            }
            Waiter::Reauth => {
                let Some(reauth) = reauth.as_deref_mut() else {
                    return Err(ClientError::InvalidState {
                        context: "re-authentication answer without a re-authentication",
                    });
                };
                let now = Instant::now().into_std();
                match reauth.on_response(response.body, now, jitter())? {
                    ReauthStep::Send(request) => {
                        send_ahead(core, request.frame(core.header_template())?, now)?;
                    }
                    ReauthStep::Reauthenticated { session_lifetime } => {
                        shared
                            .session_lifetime_ms
                            .store(lifetime_ms(session_lifetime), Ordering::Relaxed);
                        shared
                            .reauthentications
                            .store(reauth.completed(), Ordering::Relaxed);
                        core.release();
                    }
                }
            }
        }
    }
    Ok(())
}

/// A session lifetime as stored in [`Shared`]: ms, 0 for none (at least 1 for a lifetime).
fn lifetime_ms(lifetime: Option<Duration>) -> u64 {
    lifetime.map_or(0, |l| {
        u64::try_from(l.as_millis()).unwrap_or(u64::MAX).max(1)
    })
}

/// A number in `[0, 1)` that spreads re-authentications (0.5 if entropy fails).
pub(super) fn jitter() -> f64 {
    let mut raw = [0u8; 8];
    if getrandom::fill(&mut raw).is_err() {
        return 0.5;
    }
    (u64::from_le_bytes(raw) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use gregor_protocol::messages::MetadataRequest;

    use super::*;

    /// A request that reaches the channel after the task has drained and dropped it (its
    /// sender held a permit from before the close) is never answered nor dropped while a
    /// handle lives: its caller must learn of the task's end instead of waiting forever.
    #[tokio::test]
    async fn a_request_left_in_the_channel_by_the_task_s_end_fails() {
        let (client, server) = tokio::io::duplex(1024);
        let handle = DriverHandle::spawn(client, CoreConfig::default()).unwrap();
        // A permit taken before the end, used after it: the race of a sender preempted
        // between reserving its place and writing its command.
        let permit = handle.tx.reserve().await.unwrap();
        let ended = handle.shared.ended_notify.notified();
        tokio::pin!(ended);
        ended.as_mut().enable();
        drop(server); // end of stream: the task fails what it has and ends
        tokio::time::timeout(Duration::from_secs(5), async {
            while !handle.shared.ended.load(Ordering::SeqCst) {
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("the task ends");
        let frame = RequestFrame::encode(handle.header(), &MetadataRequest::default(), 12).unwrap();
        let (reply, answer) = oneshot::channel();
        permit.send(Command::Request { frame, reply });
        let api = gregor_protocol::ApiKey::Metadata;
        let result = tokio::time::timeout(
            Duration::from_secs(5),
            handle.answer(api, answer, ended.as_mut()),
        )
        .await
        .expect("the request settles");
        assert!(
            matches!(result, Err(ClientError::Disconnected)),
            "{result:?}"
        );
    }
}

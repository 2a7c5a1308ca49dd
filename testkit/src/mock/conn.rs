//! The async shell: listeners and connection tasks. They only move bytes and wait on timers;
//! every decision is made by the sans-io handlers under the state lock.
//!
//! A connection task reads frames with [`FrameReader`], peeks the API key and version, decodes
//! the header in the version that API uses, applies the interception rules, dispatches under the
//! lock, and writes the response. Requests are handled one at a time, so a connection's
//! responses leave in request order (Kafka mutes a connection while a request is in flight;
//! this is the same). A parked fetch waits, without the lock, for a change notification, its
//! deadline, or the broker stopping.
//!
//! A JoinGroup or SyncGroup the group coordinator parks waits, without the lock, for its
//! ticket's completion (see [`super::group_shell`]); meanwhile the connection reads no further
//! request, so nothing overtakes it. A client that sends a Heartbeat or an OffsetCommit on the
//! same connection behind a parked JoinGroup gets it answered only after the JoinGroup: that is
//! Kafka's behaviour too (the channel stays muted until the response is sent), and clients send
//! group requests one at a time per coordinator connection in practice.
//!
//! Kafka's rules for what cannot be served, followed here: an unknown API key, a request header
//! or body that does not decode, or an unsupported version of any API but ApiVersions closes
//! the connection (Kafka's network layer throws while parsing the request and closes the
//! channel, without a response). An unsupported ApiVersions version is answered (see
//! [`unsupported_version_response`]). Oversized frames (above 100 MiB, Kafka's
//! `socket.request.max.bytes`) close the connection too. Bytes after a body's last field are
//! ignored, as Kafka's parser ignores them. A request for a disabled API (none at present)
//! closes the connection, as Kafka does.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use gregor_protocol::frame::FrameReader;
use gregor_protocol::header::RequestHeader;
use gregor_protocol::messages::{
    ApiVersionsRequest, FetchRequest, SaslAuthenticateRequest, SaslHandshakeRequest,
};
use gregor_protocol::{ApiKey, DecodeError, Message};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::oneshot;
use tokio::sync::{Mutex, watch};
use tokio::task::JoinSet;

use super::group::{Completed, Ticket};
use super::group_shell::GroupShell;
use super::handlers::{
    self, Ctx, DISABLED, DispatchError, Outcome, encode_completed, encode_response,
    unsupported_version_response,
};
use super::intercept::{Action, SeenRequest};
use super::sasl::{Authenticator, MockSasl, Then};
use super::state::ClusterState;

/// The largest request frame accepted (Kafka's `socket.request.max.bytes`, 100 MiB).
pub(crate) const MAX_FRAME: usize = 104_857_600;

/// What every task shares: the state behind its one lock, and the change notifier.
#[derive(Debug)]
pub(crate) struct Inner {
    /// The cluster state. Never held across an `.await` other than its own acquisition.
    pub state: Mutex<ClusterState>,
    /// Carries `change_seq` whenever data or leadership changed; parked fetches wait on it.
    pub changes: watch::Sender<u64>,
    /// Parked group requests and the group coordinator's timer.
    pub groups: GroupShell,
    /// TLS and SASL on the listeners.
    pub security: Security,
}

/// What the listeners wrap their connections in.
#[derive(Default)]
pub(crate) struct Security {
    /// TLS, when set.
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    /// SASL authentication, when set.
    pub sasl: Option<Arc<MockSasl>>,
}

impl Inner {
    /// Publishes the state's change counter if it moved past `before`.
    pub(crate) fn publish(&self, state: &ClusterState, before: u64) {
        if state.change_seq != before {
            self.changes.send_replace(state.change_seq);
        }
    }
}

/// The current time as the sans-io core sees it: tokio's clock (pausable in tests).
pub(crate) fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// Binds a listener with `SO_REUSEADDR`, so a broker taken down can listen on its port again.
pub(crate) fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// Resolves when the broker is told to stop (or the cluster is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    // An error means the sender is gone: stop as well.
    let _ = stop.wait_for(|s| *s).await;
}

/// Accepts connections until told to stop; then closes the listener and every connection, and
/// waits for their tasks to end.
pub(crate) async fn accept_loop(
    inner: Arc<Inner>,
    broker: i32,
    listener: TcpListener,
    stop: watch::Receiver<bool>,
) {
    let mut conns = JoinSet::new();
    let mut stop_rx = stop.clone();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    conns.spawn(serve(inner.clone(), broker, stream, peer, stop.clone()));
                }
                Err(e) => {
                    tracing::warn!(broker, error = %e, "mock broker: accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            () = stopped(&mut stop_rx) => break,
        }
    }
    drop(listener);
    conns.shutdown().await;
}

/// Why a connection was closed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConnError {
    /// The socket failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// A frame's size prefix was invalid.
    #[error("invalid frame: {0}")]
    Frame(DecodeError),
    /// The request header did not decode.
    #[error("invalid request header: {0}")]
    Header(DecodeError),
    /// The API key is not one the mock serves.
    #[error("unknown API key {0}")]
    UnknownApi(i16),
    /// The API is known but disabled here (Kafka: "Received request for disabled api key").
    #[error("request for disabled API {0:?}")]
    DisabledApi(ApiKey),
    /// The version is outside the API's served range.
    #[error("unsupported version {version} of {api:?}")]
    UnsupportedVersion {
        /// The API.
        api: ApiKey,
        /// The version asked for.
        version: i16,
    },
    /// Decoding the body or encoding the response failed.
    #[error(transparent)]
    Dispatch(#[from] DispatchError),
    /// A handler or an interception closed the connection.
    #[error("closed: {0}")]
    Closed(String),
    /// The broker stopped.
    #[error("broker stopped")]
    Stopped,
    /// The TLS handshake failed.
    #[error("TLS handshake: {0}")]
    Tls(std::io::Error),
    /// A request other than ApiVersions and SASL's before authentication.
    #[error("unauthenticated {0:?} request")]
    Unauthenticated(ApiKey),
}

impl std::fmt::Debug for Security {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Security")
            .field("tls", &self.tls.is_some())
            .field("sasl", &self.sasl)
            .finish()
    }
}

/// A frame on a connection that has not authenticated: SaslHandshake and SaslAuthenticate are
/// answered here (with what to do next), ApiVersions goes on to the handlers (`None`), and
/// anything else closes the connection, as Kafka's `SaslServerAuthenticator` does.
fn authenticate_frame(
    auth: &mut Authenticator,
    frame: &Bytes,
) -> Result<Option<(Bytes, Then)>, ConnError> {
    let (code, version, correlation_id) =
        RequestHeader::peek_key_version(frame).map_err(ConnError::Header)?;
    let key = ApiKey::from_code(code).ok_or(ConnError::UnknownApi(code))?;
    let expected = if auth.expects_authenticate() {
        ApiKey::SaslAuthenticate
    } else {
        ApiKey::SaslHandshake
    };
    if key == ApiKey::ApiVersions {
        return Ok(None);
    }
    if key != expected {
        return Err(ConnError::Unauthenticated(key));
    }
    let range = handlers::versions(key).ok_or(ConnError::UnknownApi(code))?;
    if !range.contains(version) {
        return Err(ConnError::UnsupportedVersion { api: key, version });
    }
    let header_version =
        handlers::request_header_version(key, version).ok_or(ConnError::UnknownApi(code))?;
    let mut body = frame.clone();
    RequestHeader::decode(&mut body, header_version).map_err(ConnError::Header)?;
    let malformed = |source| DispatchError::Decode {
        api: key,
        version,
        source,
    };
    let answer = if key == ApiKey::SaslHandshake {
        let req = SaslHandshakeRequest::decode(&mut body, version).map_err(malformed)?;
        let (resp, then) = auth.handshake(&req);
        let out = encode_response::<SaslHandshakeRequest>(&resp, version, correlation_id)?;
        (out, then)
    } else {
        let req = SaslAuthenticateRequest::decode(&mut body, version).map_err(malformed)?;
        let (resp, then) = auth.authenticate(&req);
        let out = encode_response::<SaslAuthenticateRequest>(&resp, version, correlation_id)?;
        (out, then)
    };
    Ok(Some(answer))
}

async fn serve(
    inner: Arc<Inner>,
    broker: i32,
    stream: TcpStream,
    peer: SocketAddr,
    mut stop: watch::Receiver<bool>,
) {
    // Kafka reports a client's host as `InetAddress.toString` of an unresolved address.
    let client_host = format!("/{}", peer.ip());
    let served = match inner.security.tls.clone() {
        None => serve_conn(&inner, broker, &client_host, stream, &mut stop).await,
        Some(acceptor) => {
            let accepted = tokio::select! {
                accepted = acceptor.accept(stream) => accepted,
                () = stopped(&mut stop) => return,
            };
            match accepted {
                Ok(tls) => serve_conn(&inner, broker, &client_host, tls, &mut stop).await,
                Err(e) => Err(ConnError::Tls(e)),
            }
        }
    };
    match served {
        Ok(()) | Err(ConnError::Stopped) => {}
        Err(e) => tracing::info!(broker, %peer, error = %e, "mock broker: closing connection"),
    }
}

async fn serve_conn<S: AsyncRead + AsyncWrite>(
    inner: &Inner,
    broker: i32,
    client_host: &str,
    stream: S,
    stop: &mut watch::Receiver<bool>,
) -> Result<(), ConnError> {
    let (mut rd, mut wr) = tokio::io::split(stream);
    let mut frames = FrameReader::new(MAX_FRAME);
    let mut auth = inner.security.sasl.clone().map(Authenticator::new);
    loop {
        let frame = loop {
            if let Some(f) = frames.poll_frame().map_err(ConnError::Frame)? {
                break f;
            }
            let need = frames.bytes_needed().max(8192);
            frames.buffer_mut().reserve(need);
            tokio::select! {
                n = rd.read_buf(frames.buffer_mut()) => {
                    if n? == 0 {
                        return Ok(());
                    }
                }
                () = stopped(stop) => return Err(ConnError::Stopped),
            }
        };
        if let Some(auth) = auth.as_mut().filter(|a| !a.is_done()) {
            if let Some((out, then)) = authenticate_frame(auth, &frame)? {
                wr.write_all(&out).await?;
                if then == Then::Close {
                    wr.shutdown().await?;
                    return Err(ConnError::Closed("SASL authentication failed".into()));
                }
                continue;
            }
        }
        if let Some(chunks) = handle_frame(inner, broker, client_host, frame, stop).await? {
            write_chunks(&mut wr, chunks).await?;
        }
    }
}

async fn handle_frame(
    inner: &Inner,
    broker: i32,
    client_host: &str,
    frame: Bytes,
    stop: &mut watch::Receiver<bool>,
) -> Result<Option<Vec<Bytes>>, ConnError> {
    let (code, version, correlation_id) =
        RequestHeader::peek_key_version(&frame).map_err(ConnError::Header)?;
    let key = ApiKey::from_code(code).ok_or(ConnError::UnknownApi(code))?;
    let range = handlers::versions(key).ok_or(ConnError::UnknownApi(code))?;
    if DISABLED.contains(&key) {
        return Err(ConnError::DisabledApi(key));
    }
    if !range.contains(version) {
        if key == ApiKey::ApiVersions {
            let resp = unsupported_version_response();
            let out = encode_response::<ApiVersionsRequest>(&resp, 0, correlation_id)?;
            return Ok(Some(vec![out]));
        }
        return Err(ConnError::UnsupportedVersion { api: key, version });
    }
    let header_version =
        handlers::request_header_version(key, version).ok_or(ConnError::UnknownApi(code))?;
    let mut body = frame;
    let header = RequestHeader::decode(&mut body, header_version).map_err(ConnError::Header)?;
    let seen = SeenRequest {
        broker,
        api_key: key,
        api_version: version,
        correlation_id,
        client_id: header.client_id,
        body: body.clone(),
    };
    let action = inner.state.lock().await.intercepts.on_request(&seen);
    let mut error = None;
    let mut drop_response = false;
    match action {
        Action::DropResponse => drop_response = true,
        Action::DropConnection => {
            return Err(ConnError::Closed(
                "an interception dropped the connection".into(),
            ));
        }
        Action::Delay(d) => tokio::select! {
            () = tokio::time::sleep(d) => {}
            () = stopped(stop) => return Err(ConnError::Stopped),
        },
        Action::Error(code) => error = Some(code),
        Action::PassThrough => {}
    }
    // Subscribe before reading, so a change made after the read is never missed.
    let mut changes = inner.changes.subscribe();
    let outcome = {
        let mut st = inner.state.lock().await;
        let before = st.change_seq;
        let now = now();
        let mut cx = Ctx {
            state: &mut st,
            broker,
            version,
            client_id: seen.client_id.as_deref().unwrap_or_default(),
            client_host,
            now,
        };
        cx.state.stash.clear();
        let outcome = handlers::dispatch(&mut cx, key, correlation_id, body, error)?;
        // Register before pumping, in this critical section: the ticket cannot complete unseen.
        let outcome = match outcome {
            Outcome::Group(ticket) => Parked::Group(ticket, inner.groups.register(ticket)),
            Outcome::Respond(out) => Parked::Send(st.stash.splice(out)),
            other => Parked::No(other),
        };
        inner.groups.pump(&mut st, now);
        inner.publish(&st, before);
        outcome
    };
    if drop_response {
        return Err(ConnError::Closed(
            "an interception dropped the response".into(),
        ));
    }
    let outcome = match outcome {
        Parked::Group(ticket, rx) => {
            let out = wait_for_group(inner, ticket, rx, version, correlation_id, stop).await?;
            return Ok(out.map(|out| vec![out]));
        }
        Parked::Send(chunks) => return Ok(Some(chunks)),
        Parked::No(outcome) => outcome,
    };
    match outcome {
        Outcome::Respond(out) => Ok(Some(vec![out])),
        Outcome::NoResponse => Ok(None),
        Outcome::Close(why) => Err(ConnError::Closed(why)),
        Outcome::Group(_) => Err(ConnError::Closed("unregistered group ticket".into())),
        Outcome::Park(mut pending) => loop {
            let deadline = tokio::time::Instant::from_std(pending.deadline());
            tokio::select! {
                changed = changes.changed() => {
                    if changed.is_err() {
                        return Err(ConnError::Stopped);
                    }
                }
                () = tokio::time::sleep_until(deadline) => {}
                () = stopped(stop) => return Err(ConnError::Stopped),
            }
            let mut st = inner.state.lock().await;
            if let Some(resp) = pending.poll(&mut st, now()) {
                let out =
                    encode_response::<FetchRequest>(&resp, pending.version(), correlation_id)?;
                return Ok(Some(st.stash.splice(out)));
            }
        },
    }
}

/// A dispatch outcome, with the channel of a parked group request registered, or a response
/// cut into chunks.
enum Parked {
    Group(Ticket, oneshot::Receiver<Completed>),
    Send(Vec<Bytes>),
    No(Outcome),
}

/// Writes a response's chunks (see [`super::splice`]) with vectored writes.
async fn write_chunks<W: AsyncWrite + Unpin>(
    wr: &mut W,
    mut chunks: Vec<Bytes>,
) -> std::io::Result<()> {
    if let [one] = chunks.as_slice() {
        return wr.write_all(one).await;
    }
    let mut first = 0;
    while first < chunks.len() {
        let slices: Vec<std::io::IoSlice<'_>> = chunks[first..]
            .iter()
            .take(256)
            .map(|c| std::io::IoSlice::new(c))
            .collect();
        let mut written = wr.write_vectored(&slices).await?;
        if written == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        while written > 0 {
            let chunk = &mut chunks[first];
            let n = written.min(chunk.len());
            bytes::Buf::advance(chunk, n);
            written -= n;
            if chunk.is_empty() {
                first += 1;
            }
        }
    }
    Ok(())
}

/// Waits, without the lock, for a parked JoinGroup or SyncGroup's response.
async fn wait_for_group(
    inner: &Inner,
    ticket: Ticket,
    rx: oneshot::Receiver<Completed>,
    version: i16,
    correlation_id: i32,
    stop: &mut watch::Receiver<bool>,
) -> Result<Option<Bytes>, ConnError> {
    tokio::select! {
        completed = rx => match completed {
            Ok(c) => Ok(Some(encode_completed(&c, version, correlation_id)?)),
            // The cluster is gone.
            Err(_) => Err(ConnError::Stopped),
        },
        () = stopped(stop) => {
            inner.groups.forget(ticket);
            Err(ConnError::Stopped)
        }
    }
}

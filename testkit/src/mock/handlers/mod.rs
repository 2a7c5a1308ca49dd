//! Request handlers, one module per API, like a broker's request handlers, and the dispatch
//! table generated from `gregor_protocol::for_each_api!`.
//!
//! A handler is sans-io: it gets the decoded request and a [`Ctx`] (the cluster state, the
//! broker it arrived at, the version, the client, `now`) and returns a [`Reply`]. The
//! connection task encodes the response behind the right response header. The group APIs are
//! adapted to the group coordinator in `group_apis`.
//!
//! APIs in [`DISABLED`] are compiled into the table but not served: ApiVersions leaves them out
//! and a request for one closes the connection, as Kafka does for a disabled API key.

mod api_versions;
mod create_partitions;
mod create_topics;
mod delete_records;
mod delete_topics;
pub(crate) mod fetch;
mod group_apis;
mod init_producer_id;
mod list_offsets;
mod metadata;
mod offset_for_leader_epoch;
mod produce;
mod sasl;

use std::time::Instant;

use bytes::{Bytes, BytesMut};
use gregor_protocol::frame::write_frame;
use gregor_protocol::header::ResponseHeader;
use gregor_protocol::messages::api_versions::ApiVersion;
use gregor_protocol::{
    ApiKey, DecodeError, EncodeError, ErrorCode, Message, Request, VersionRange,
};

use gregor_protocol::messages::{JoinGroupRequest, SyncGroupRequest};

use super::error_response::ErrorResponse;
use super::group::{Completed, Ticket};
use super::state::ClusterState;

pub(crate) use api_versions::unsupported_version_response;
pub(crate) use fetch::PendingFetch;

/// What a handler sees of the world.
pub(crate) struct Ctx<'a> {
    /// The cluster.
    pub state: &'a mut ClusterState,
    /// The broker the request arrived at.
    pub broker: i32,
    /// The request's version.
    pub version: i16,
    /// The client id of the request header (empty when null).
    pub client_id: &'a str,
    /// The client's address as Kafka reports it (`/127.0.0.1`).
    pub client_host: &'a str,
    /// The current time (tokio time in the shell).
    pub now: Instant,
}

/// APIs the mock does not serve although gregor-protocol has them (none at present; the
/// mechanism stays for APIs added to the protocol crate before the mock serves them).
pub(crate) const DISABLED: &[ApiKey] = &[];

/// A handler's answer.
pub(crate) enum Reply<R> {
    /// Send this response.
    Respond(R),
    /// Send nothing (Produce with acks=0).
    NoResponse,
    /// Close the connection (Produce with acks=0 that failed, as Kafka does).
    Close(String),
    /// Wait for data (a Fetch long poll).
    Park(Box<PendingFetch>),
    /// A JoinGroup or SyncGroup parked in the group coordinator: its response comes with the
    /// ticket's completion.
    Group(Ticket),
}

/// A request the mock broker serves.
pub(crate) trait Handle: Request + ErrorResponse + Sized {
    /// Handles the request.
    fn handle(self, cx: &mut Ctx<'_>) -> Reply<Self::Response>;
}

/// What the connection task does next.
pub(crate) enum Outcome {
    /// Write this frame.
    Respond(Bytes),
    /// Write nothing.
    NoResponse,
    /// Close the connection, for this reason.
    Close(String),
    /// Park a fetch; its response is encoded later with [`encode_response`].
    Park(Box<PendingFetch>),
    /// Wait for the group coordinator to complete this ticket; see [`encode_completed`].
    Group(Ticket),
}

/// Why a request could not be served: the connection is closed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DispatchError {
    /// The body did not decode.
    #[error("malformed {api:?} v{version} request: {source}")]
    Decode {
        /// The API.
        api: ApiKey,
        /// The version.
        version: i16,
        /// The decoder's error.
        source: DecodeError,
    },
    /// The response did not encode (a bug in a handler).
    #[error("encoding the {api:?} response: {source}")]
    Encode {
        /// The API.
        api: ApiKey,
        /// The encoder's error.
        source: EncodeError,
    },
}

/// Frames `resp` behind the response header `R` uses in `version`.
pub(crate) fn encode_response<R: Request>(
    resp: &R::Response,
    version: i16,
    correlation_id: i32,
) -> Result<Bytes, DispatchError> {
    let mut buf = BytesMut::new();
    write_frame(&mut buf, |b| {
        ResponseHeader {
            correlation_id,
            ..ResponseHeader::default()
        }
        .encode(b, R::response_header_version(version))?;
        resp.encode(b, version)
    })
    .map_err(|source| DispatchError::Encode {
        api: R::API_KEY,
        source,
    })?;
    Ok(buf.freeze())
}

fn finish<R: Request>(
    reply: Reply<R::Response>,
    version: i16,
    correlation_id: i32,
) -> Result<Outcome, DispatchError> {
    Ok(match reply {
        Reply::Respond(resp) => {
            Outcome::Respond(encode_response::<R>(&resp, version, correlation_id)?)
        }
        Reply::NoResponse => Outcome::NoResponse,
        Reply::Close(why) => Outcome::Close(why),
        Reply::Park(p) => Outcome::Park(p),
        Reply::Group(t) => Outcome::Group(t),
    })
}

/// Frames a parked group request's response.
pub(crate) fn encode_completed(
    completed: &Completed,
    version: i16,
    correlation_id: i32,
) -> Result<Bytes, DispatchError> {
    match completed {
        Completed::JoinGroup(r) => encode_response::<JoinGroupRequest>(r, version, correlation_id),
        Completed::SyncGroup(r) => encode_response::<SyncGroupRequest>(r, version, correlation_id),
    }
}

macro_rules! dispatch_table {
    ($(($key:ident, $req:ty, $resp:ty)),* $(,)?) => {
        /// The versions the mock serves for `key`: exactly those gregor-protocol decodes.
        pub(crate) fn versions(key: ApiKey) -> Option<VersionRange> {
            match key {
                $(ApiKey::$key => Some(<$req as Message>::VERSIONS),)*
                _ => None,
            }
        }

        /// The request header version of `key` in `version`.
        pub(crate) fn request_header_version(key: ApiKey, version: i16) -> Option<i16> {
            match key {
                $(ApiKey::$key => Some(<$req as Request>::request_header_version(version)),)*
                _ => None,
            }
        }

        /// Every served API (all but [`DISABLED`]) with its versions, for ApiVersions.
        pub(crate) fn supported_apis() -> Vec<ApiVersion> {
            let all = [$(ApiVersion {
                api_key: ApiKey::$key.code(),
                min_version: <$req as Message>::VERSIONS.min,
                max_version: <$req as Message>::VERSIONS.max,
                ..ApiVersion::default()
            },)*];
            all.into_iter()
                .filter(|a| !DISABLED.iter().any(|d| d.code() == a.api_key))
                .collect()
        }

        /// Decodes a request body and answers it: with `error` if an interception says so,
        /// else through its handler. Bytes after the body's last field are ignored, as Kafka
        /// ignores them (librdkafka 2.12 sends three stray bytes in an all-topics Metadata
        /// v9+ request: the 4-byte array-count placeholder it leaves in place for a null
        /// compact array).
        pub(crate) fn dispatch(
            cx: &mut Ctx<'_>,
            key: ApiKey,
            correlation_id: i32,
            body: Bytes,
            error: Option<ErrorCode>,
        ) -> Result<Outcome, DispatchError> {
            let version = cx.version;
            match key {
                $(ApiKey::$key => {
                    let mut body = body;
                    let req = <$req as Message>::decode(&mut body, version)
                        .map_err(|source| DispatchError::Decode { api: key, version, source })?;
                    if !body.is_empty() {
                        // Kafka reads a request's fields and ignores what follows them.
                        tracing::debug!(
                            api = ?key, version, trailing = body.len(),
                            "mock broker: ignoring bytes after the request body"
                        );
                    }
                    let reply = match error {
                        Some(code) => Reply::Respond(req.error_response(version, code)),
                        None => <$req as Handle>::handle(req, cx),
                    };
                    finish::<$req>(reply, version, correlation_id)
                })*
                _ => Ok(Outcome::Close(format!("unknown API key {key:?}"))),
            }
        }
    };
}

gregor_protocol::for_each_api!(dispatch_table);

/// `value` when `version >= since`, else the field's default (fields absent from a version
/// must keep their default to encode).
pub(crate) fn since<T: Default>(version: i16, since: i16, value: T) -> T {
    if version >= since {
        value
    } else {
        T::default()
    }
}

//! Request handlers, one module per API, like a broker's request handlers, and the dispatch
//! table generated from `gregor_protocol::for_each_api!`.
//!
//! A handler is sans-io: it gets the decoded request and a [`Ctx`] (the cluster state, the
//! broker it arrived at, the version, `now`) and returns a [`Reply`]. The connection task
//! encodes the response behind the right response header.

mod api_versions;
mod create_partitions;
mod create_topics;
mod delete_records;
mod delete_topics;
pub(crate) mod fetch;
pub(crate) mod group_stub;
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

use super::error_response::ErrorResponse;
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
    /// The current time (tokio time in the shell).
    pub now: Instant,
}

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
    })
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

        /// Every API with its served versions, for ApiVersions.
        pub(crate) fn supported_apis() -> Vec<ApiVersion> {
            vec![$(ApiVersion {
                api_key: ApiKey::$key.code(),
                min_version: <$req as Message>::VERSIONS.min,
                max_version: <$req as Message>::VERSIONS.max,
                ..ApiVersion::default()
            },)*]
        }

        /// Decodes a request body and answers it: with `error` if an interception says so,
        /// else through its handler.
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
                    let req = <$req as Message>::decode_exact(body, version)
                        .map_err(|source| DispatchError::Decode { api: key, version, source })?;
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

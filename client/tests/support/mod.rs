//! A scripted fake broker for connection tests: it reads requests with gregor-protocol's
//! request decoders and writes whatever responses the test chooses, in any order.
#![allow(dead_code)]

use bytes::{Bytes, BytesMut};
use gregor_client::{ConnectOptions, Connection};
use gregor_protocol::frame::{FrameReader, write_frame};
use gregor_protocol::header::{RequestHeader, ResponseHeader};
use gregor_protocol::messages::api_versions::ApiVersion;
use gregor_protocol::messages::metadata::MetadataResponseTopic;
use gregor_protocol::messages::{
    ApiVersionsRequest, ApiVersionsResponse, FetchRequest, MetadataRequest, MetadataResponse,
    ProduceRequest, SaslAuthenticateRequest, SaslHandshakeRequest,
};
use gregor_protocol::{ApiKey, Message, Request};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream};

/// One request as the broker received it.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub api_key: i16,
    pub version: i16,
    pub correlation_id: i32,
    frame: Bytes,
}

impl Incoming {
    /// The request's API.
    pub fn api(&self) -> ApiKey {
        ApiKey::from_code(self.api_key).expect("a known API key")
    }

    /// Decodes the header and body as a request of type `R`.
    pub fn decode<R: Request>(&self) -> (RequestHeader, R) {
        assert_eq!(self.api_key, R::API_KEY.code(), "unexpected API");
        let mut frame = self.frame.clone();
        let header = RequestHeader::decode(&mut frame, R::request_header_version(self.version))
            .expect("request header decodes");
        let body = R::decode_exact(frame, self.version).expect("request body decodes");
        (header, body)
    }
}

/// The broker side of a connection.
pub struct FakeBroker<S = DuplexStream> {
    stream: S,
    frames: FrameReader,
}

impl<S: AsyncRead + AsyncWrite + Unpin> FakeBroker<S> {
    pub fn new(stream: S) -> Self {
        FakeBroker {
            stream,
            frames: FrameReader::new(16 << 20),
        }
    }

    /// The next request, or `None` when the client closed the connection.
    pub async fn recv(&mut self) -> Option<Incoming> {
        loop {
            if let Some(frame) = self.frames.poll_frame().expect("valid request frame") {
                let (api_key, version, correlation_id) =
                    RequestHeader::peek_key_version(&frame).expect("request header");
                return Some(Incoming {
                    api_key,
                    version,
                    correlation_id,
                    frame,
                });
            }
            let n = self.stream.read_buf(self.frames.buffer_mut()).await.ok()?;
            if n == 0 {
                return None;
            }
        }
    }

    /// The next request, which must exist.
    pub async fn expect(&mut self) -> Incoming {
        self.recv().await.expect("a request")
    }

    /// Answers `to` with `response`, encoded in the request's version.
    pub async fn respond<R: Request>(&mut self, to: &Incoming, response: &R::Response) {
        let frame = response_frame::<R>(to.correlation_id, to.version, response);
        self.send_raw(&frame).await;
    }

    /// Answers `to` with a body encoded in `version` (for UNSUPPORTED_VERSION answers in v0).
    pub async fn respond_in<M: Message>(&mut self, to: &Incoming, body: &M, version: i16) {
        let mut buf = BytesMut::new();
        write_frame(&mut buf, |b| {
            ResponseHeader {
                correlation_id: to.correlation_id,
                ..ResponseHeader::default()
            }
            .encode(b, 0)?;
            body.encode(b, version)
        })
        .unwrap();
        self.send_raw(&buf).await;
    }

    /// Writes bytes as they are.
    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write to client");
    }

    /// Receives the ApiVersions request and answers it with `ranges`.
    pub async fn accept_api_versions(&mut self, ranges: &[(ApiKey, i16, i16)]) -> Incoming {
        let req = self.expect().await;
        let (_, body) = req.decode::<ApiVersionsRequest>();
        if req.version >= 3 {
            assert_eq!(body.client_software_name, "gregor");
        }
        self.respond::<ApiVersionsRequest>(&req, &api_versions(0, ranges))
            .await;
        req
    }

    /// Receives a Metadata request for named topics and answers it naming the same topics.
    pub async fn echo_metadata(&mut self) -> Vec<String> {
        let req = self.expect().await;
        let topics = requested_topics(&req);
        self.respond::<MetadataRequest>(&req, &metadata_naming(&topics))
            .await;
        topics
    }
}

/// A framed response to a request of type `R` in `version`.
pub fn response_frame<R: Request>(
    correlation_id: i32,
    version: i16,
    body: &R::Response,
) -> Vec<u8> {
    let mut buf = BytesMut::new();
    write_frame(&mut buf, |b| {
        ResponseHeader {
            correlation_id,
            ..ResponseHeader::default()
        }
        .encode(b, R::response_header_version(version))?;
        body.encode(b, version)
    })
    .unwrap();
    buf.to_vec()
}

/// The topic names of a Metadata request.
pub fn requested_topics(req: &Incoming) -> Vec<String> {
    let (_, body) = req.decode::<MetadataRequest>();
    body.topics
        .unwrap_or_default()
        .into_iter()
        .map(|t| t.name.unwrap_or_default())
        .collect()
}

/// A Metadata response naming `topics` (so answers can be told apart).
pub fn metadata_naming(topics: &[String]) -> MetadataResponse {
    MetadataResponse {
        topics: topics
            .iter()
            .map(|name| MetadataResponseTopic {
                name: Some(name.clone()),
                ..MetadataResponseTopic::default()
            })
            .collect(),
        ..MetadataResponse::default()
    }
}

/// The topic names in a Metadata response.
pub fn topic_names(response: &MetadataResponse) -> Vec<String> {
    response
        .topics
        .iter()
        .map(|t| t.name.clone().unwrap_or_default())
        .collect()
}

/// An ApiVersions response listing `ranges`.
pub fn api_versions(error_code: i16, ranges: &[(ApiKey, i16, i16)]) -> ApiVersionsResponse {
    ApiVersionsResponse {
        error_code,
        api_keys: ranges
            .iter()
            .map(|&(key, min_version, max_version)| ApiVersion {
                api_key: key.code(),
                min_version,
                max_version,
                ..ApiVersion::default()
            })
            .collect(),
        ..ApiVersionsResponse::default()
    }
}

fn ours<R: Request>() -> (ApiKey, i16, i16) {
    (R::API_KEY, R::VERSIONS.min, R::VERSIONS.max)
}

/// A broker that speaks every version this client speaks of the APIs the tests use.
pub fn full_ranges() -> Vec<(ApiKey, i16, i16)> {
    vec![
        ours::<ProduceRequest>(),
        ours::<FetchRequest>(),
        ours::<MetadataRequest>(),
        ours::<SaslHandshakeRequest>(),
        ours::<ApiVersionsRequest>(),
        ours::<SaslAuthenticateRequest>(),
    ]
}

/// A connected client over an in-memory pipe, past a handshake with `full_ranges`.
pub async fn connected(opts: &ConnectOptions) -> (Connection, FakeBroker) {
    let (client, server) = tokio::io::duplex(64 * 1024);
    let mut broker = FakeBroker::new(server);
    let ranges = full_ranges();
    let (conn, _) = tokio::join!(
        Connection::handshake(client, opts),
        broker.accept_api_versions(&ranges)
    );
    (conn.expect("handshake"), broker)
}

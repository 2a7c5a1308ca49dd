//! Decoding response bodies, tolerating bytes after a complete body.
//!
//! Some brokers write bytes after the end of a response body (librdkafka's mock cluster does
//! after the tagged-field section of Metadata v9+). Kafka's Java client reads the fields it
//! knows and ignores whatever follows; gregor's client does the same. The protocol crate's
//! decoders stay strict ([`Message::decode_exact`]): leniency is the client's choice, made here
//! only, for bodies whose every field decoded.

use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use gregor_protocol::{DecodeError, Message};
use tracing::debug;

/// Whether trailing bytes were logged already (they are logged once per process).
static TRAILING_LOGGED: AtomicBool = AtomicBool::new(false);

/// Decodes a response body of type `M` in `version` from the front of `body`. Bytes left after
/// the complete body are ignored (logged once at debug level); a body that is truncated or
/// malformed is still an error.
pub(crate) fn decode_response<M: Message>(mut body: Bytes, version: i16) -> Result<M, DecodeError> {
    let message = M::decode(&mut body, version)?;
    if !body.is_empty() && !TRAILING_LOGGED.swap(true, Ordering::Relaxed) {
        debug!(
            response = M::NAME,
            version,
            trailing = body.len(),
            "ignoring bytes after a complete response body (logged once)"
        );
    }
    Ok(message)
}

#[cfg(test)]
mod tests {
    use bytes::{BufMut, BytesMut};
    use gregor_protocol::messages::MetadataResponse;
    use gregor_protocol::messages::metadata::MetadataResponseBroker;

    use super::*;

    fn metadata() -> MetadataResponse {
        MetadataResponse {
            brokers: vec![MetadataResponseBroker {
                node_id: 7,
                host: "localhost".to_owned(),
                port: 9092,
                ..Default::default()
            }],
            cluster_id: Some("c".to_owned()),
            ..Default::default()
        }
    }

    fn encoded(version: i16) -> BytesMut {
        let mut buf = BytesMut::new();
        metadata().encode(&mut buf, version).unwrap();
        buf
    }

    #[test]
    fn trailing_bytes_after_a_complete_body_are_ignored() {
        for version in [2, 9, 12] {
            let mut buf = encoded(version);
            buf.put_slice(&[0, 0, 0, 0, 0xff]);
            let body = buf.freeze();
            assert!(MetadataResponse::decode_exact(body.clone(), version).is_err());
            let decoded: MetadataResponse = decode_response(body, version).unwrap();
            assert_eq!(decoded, metadata(), "version {version}");
        }
    }

    #[test]
    fn a_body_without_trailing_bytes_decodes_as_before() {
        let decoded: MetadataResponse = decode_response(encoded(12).freeze(), 12).unwrap();
        assert_eq!(decoded, metadata());
    }

    #[test]
    fn a_truncated_body_is_still_an_error() {
        let buf = encoded(12);
        let truncated = buf.freeze().slice(..10);
        assert!(decode_response::<MetadataResponse>(truncated, 12).is_err());
    }
}

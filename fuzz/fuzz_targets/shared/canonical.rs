//! The check both decoder targets share: arbitrary input need not be canonical (a varint with
//! redundant bytes, a tagged field sent with its default value), so a decoded message must
//! re-encode, the re-encoding must decode to the same value, and it must be a fixed point.

use bytes::{Bytes, BytesMut};
use gregor_protocol::Message;

pub fn check<M: Message + PartialEq + std::fmt::Debug>(version: i16, body: &[u8]) {
    if let Ok(msg) = M::decode_exact(Bytes::copy_from_slice(body), version) {
        let mut out = BytesMut::new();
        msg.encode(&mut out, version)
            .expect("a decoded message re-encodes");
        let again = M::decode_exact(out.clone().freeze(), version).expect("re-encoding decodes");
        assert_eq!(again, msg, "re-encoding decodes to the same value");
        let mut out2 = BytesMut::new();
        again.encode(&mut out2, version).expect("re-encodes again");
        assert_eq!(out, out2, "canonical encoding is a fixed point");
    }
}

/// Splits fuzz input into (api key, version, body).
pub fn split(input: &[u8]) -> Option<(i16, i16, &[u8])> {
    let (&[k, v], body) = input.split_first_chunk::<2>()?;
    Some((i16::from(k % 70), i16::from(v % 20), body))
}

//! Every request decoder, in every version, on arbitrary bytes: a typed error or a value that
//! re-encodes, never a panic. Arbitrary input need not be canonical (a varint with redundant
//! bytes, a tagged field sent with its default value), so the check is that the re-encoding
//! decodes to the same value and is itself a fixed point.
#![no_main]

use bytes::{Bytes, BytesMut};
use gregor_protocol::{ApiKey, Message};
use libfuzzer_sys::fuzz_target;

fn check<M: Message + PartialEq + std::fmt::Debug>(version: i16, body: &[u8]) {
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

macro_rules! dispatch {
    ($(($key:ident, $req:ty, $resp:ty)),* $(,)?) => {
        fn run(key: i16, version: i16, body: &[u8]) {
            $(
                if key == ApiKey::$key.code() {
                    check::<$req>(version, body);
                }
            )*
        }
    };
}
gregor_protocol::for_each_api!(dispatch);

fuzz_target!(|input: &[u8]| {
    if input.len() < 2 {
        return;
    }
    let key = i16::from(input[0] % 70);
    let version = i16::from(input[1] % 20);
    run(key, version, &input[2..]);
});

//! Structure-aware: sample a valid message of any API and version, encode, decode, compare.
#![no_main]

use arbitrary::Unstructured;
use bytes::BytesMut;
use gregor_protocol::{ApiKey, Message};
use libfuzzer_sys::fuzz_target;

fn check<M: Message + PartialEq + std::fmt::Debug>(u: &mut Unstructured<'_>) {
    let Ok(version) = u.int_in_range(M::VERSIONS.min..=M::VERSIONS.max) else {
        return;
    };
    let Ok(msg) = M::sample(u, version) else {
        return;
    };
    let mut buf = BytesMut::new();
    msg.encode(&mut buf, version)
        .expect("sampled messages encode");
    let back = M::decode_exact(buf.freeze(), version).expect("encoded messages decode");
    assert_eq!(back, msg);
}

macro_rules! dispatch {
    ($(($key:ident, $req:ty, $resp:ty)),* $(,)?) => {
        fn run(key: i16, u: &mut Unstructured<'_>) {
            $(
                if key == ApiKey::$key.code() {
                    check::<$req>(u);
                    check::<$resp>(u);
                }
            )*
        }
    };
}
gregor_protocol::for_each_api!(dispatch);

fuzz_target!(|input: &[u8]| {
    let mut u = Unstructured::new(input);
    let Ok(key) = u.int_in_range(0..=69i16) else {
        return;
    };
    run(key, &mut u);
});

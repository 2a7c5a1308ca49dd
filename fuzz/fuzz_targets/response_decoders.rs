//! Every response decoder, in every version, on arbitrary bytes: a typed error or a value whose
//! canonical re-encoding round-trips (see shared/canonical.rs), never a panic.
#![no_main]

#[path = "shared/canonical.rs"]
mod canonical;

use gregor_protocol::ApiKey;
use libfuzzer_sys::fuzz_target;

macro_rules! dispatch {
    ($(($key:ident, $req:ty, $resp:ty)),* $(,)?) => {
        fn run(key: i16, version: i16, body: &[u8]) {
            $(
                if key == ApiKey::$key.code() {
                    canonical::check::<$resp>(version, body);
                }
            )*
        }
    };
}
gregor_protocol::for_each_api!(dispatch);

fuzz_target!(|input: &[u8]| {
    if let Some((key, version, body)) = canonical::split(input) {
        run(key, version, body);
    }
});

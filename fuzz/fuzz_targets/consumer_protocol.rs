//! The consumer-protocol schemas embedded in JoinGroup/SyncGroup, with their version prefix.
#![no_main]

use bytes::Bytes;
use gregor_protocol::messages::{ConsumerProtocolAssignment, ConsumerProtocolSubscription};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let _ = ConsumerProtocolSubscription::from_bytes(Bytes::copy_from_slice(input));
    let _ = ConsumerProtocolAssignment::from_bytes(Bytes::copy_from_slice(input));
});

//! Record-set decoding with decompression: magic 0/1/2, every codec, CRC checked. Any input must
//! give records or a typed error; decompression stays under its cap.
#![no_main]

use bytes::Bytes;
use gregor_protocol::records::{DecodeOptions, batches};
use libfuzzer_sys::fuzz_target;

const CAP: usize = 1 << 20;

fuzz_target!(|input: &[u8]| {
    for verify_crc in [true, false] {
        let opts = DecodeOptions {
            verify_crc,
            max_decompressed_bytes: CAP,
        };
        for batch in batches(Bytes::copy_from_slice(input), &opts) {
            let Ok(batch) = batch else { break };
            let mut total = 0usize;
            for record in batch.records() {
                let Ok(record) = record else { break };
                total += record.key.map_or(0, |k| k.len()) + record.value.map_or(0, |v| v.len());
                for header in record.headers.iter() {
                    let Ok(header) = header else { break };
                    total += header.key.len() + header.value.map_or(0, |v| v.len());
                }
            }
            assert!(
                total <= input.len().max(CAP) * 2,
                "records cannot hold more than their input"
            );
        }
    }
});

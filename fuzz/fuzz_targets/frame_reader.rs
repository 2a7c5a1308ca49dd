//! The frame reader on arbitrary byte streams cut into arbitrary chunks.
#![no_main]

use gregor_protocol::frame::FrameReader;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (u16, Vec<Vec<u8>>)| {
    let (max, chunks) = input;
    let mut reader = FrameReader::new(usize::from(max));
    for chunk in chunks {
        reader.extend(&chunk);
        while let Ok(Some(frame)) = reader.poll_frame() {
            assert!(frame.len() <= usize::from(max));
        }
    }
});

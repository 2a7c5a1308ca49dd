//! Frame reading and writing: reassembly across arbitrary splits, many frames per read,
//! size checks before any allocation, and response-header splitting.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::{BufMut, Bytes, BytesMut};
use gregor_protocol::frame::{
    FrameReader, peek_correlation_id, split_response_header, write_frame,
};
use gregor_protocol::header::ResponseHeader;
use gregor_protocol::primitives::{RawTaggedField, UnknownTaggedFields};
use gregor_protocol::{DecodeError, EncodeError};
use proptest::prelude::*;

const MIB: usize = 1024 * 1024;

/// Hand-built wire bytes: size prefix + body.
fn framed(body: &[u8]) -> Vec<u8> {
    let mut out = (body.len() as i32).to_be_bytes().to_vec();
    out.extend_from_slice(body);
    out
}

fn drain(reader: &mut FrameReader) -> Vec<Bytes> {
    let mut out = Vec::new();
    while let Some(frame) = reader.poll_frame().expect("valid stream") {
        out.push(frame);
    }
    out
}

#[test]
fn empty_and_short_input_is_incomplete() {
    let mut r = FrameReader::new(MIB);
    assert_eq!(r.poll_frame(), Ok(None));
    assert_eq!(r.bytes_needed(), 4);
    r.extend(&[0, 0]);
    assert_eq!(r.poll_frame(), Ok(None));
    assert_eq!(r.bytes_needed(), 2);
    r.extend(&[0, 3, b'a']);
    assert_eq!(r.poll_frame(), Ok(None));
    assert_eq!(r.bytes_needed(), 2);
    r.extend(b"bc");
    assert_eq!(r.bytes_needed(), 0);
    assert_eq!(r.poll_frame(), Ok(Some(Bytes::from_static(b"abc"))));
    assert_eq!(r.poll_frame(), Ok(None));
    assert_eq!(r.buffered_len(), 0);
}

#[test]
fn zero_length_frame() {
    let mut r = FrameReader::new(16);
    r.extend(&[0, 0, 0, 0]);
    assert_eq!(r.poll_frame(), Ok(Some(Bytes::new())));
}

#[test]
fn split_at_every_byte_boundary_reassembles() {
    let bodies: [&[u8]; 3] = [
        b"first frame",
        b"",
        b"the third, somewhat longer, frame body",
    ];
    let stream: Vec<u8> = bodies.iter().flat_map(|b| framed(b)).collect();
    for cut in 0..=stream.len() {
        let mut r = FrameReader::new(MIB);
        r.extend(&stream[..cut]);
        let mut got = drain(&mut r);
        r.extend(&stream[cut..]);
        got.extend(drain(&mut r));
        let got: Vec<&[u8]> = got.iter().map(|b| b.as_ref()).collect();
        assert_eq!(got, bodies, "cut at {cut}");
        assert_eq!(r.buffered_len(), 0);
    }
}

#[test]
fn byte_at_a_time() {
    let stream: Vec<u8> = [framed(b"one"), framed(b"two")].concat();
    let mut r = FrameReader::new(MIB);
    let mut got = Vec::new();
    for b in &stream {
        r.extend(std::slice::from_ref(b));
        got.extend(drain(&mut r));
    }
    assert_eq!(
        got,
        vec![Bytes::from_static(b"one"), Bytes::from_static(b"two")]
    );
}

#[test]
fn many_frames_in_one_read() {
    let bodies: Vec<Vec<u8>> = (0..200u32)
        .map(|i| vec![i as u8; (i % 17) as usize])
        .collect();
    let stream: Vec<u8> = bodies.iter().flat_map(|b| framed(b)).collect();
    let mut r = FrameReader::new(MIB);
    r.extend(&stream);
    // Plus a partial frame at the end, which must wait.
    r.extend(&[0, 0, 0, 9, 1, 2]);
    let got = drain(&mut r);
    assert_eq!(got.len(), bodies.len());
    for (g, b) in got.iter().zip(&bodies) {
        assert_eq!(g.as_ref(), b.as_slice());
    }
    assert_eq!(r.buffered_len(), 6);
    assert_eq!(r.bytes_needed(), 7);
}

#[test]
fn frames_do_not_copy() {
    let mut r = FrameReader::new(MIB);
    r.extend(&framed(&[7u8; 64]));
    let before = r.buffer_mut().as_ptr() as usize;
    let frame = r.poll_frame().unwrap().unwrap();
    // The frame body starts right after the 4-byte prefix in the same allocation.
    assert_eq!(frame.as_ptr() as usize, before + 4);
}

#[test]
fn oversize_rejected_before_allocation() {
    // ~2 GiB declared, 100 MiB allowed.
    let mut r = FrameReader::new(100 * MIB);
    r.extend(&0x7fff_ffffu32.to_be_bytes());
    let cap = r.buffer_mut().capacity();
    assert_eq!(
        r.poll_frame(),
        Err(DecodeError::FrameTooLarge {
            size: i64::from(i32::MAX),
            max: 100 * MIB,
        })
    );
    assert_eq!(r.buffer_mut().capacity(), cap);
    assert!(cap < 1024, "capacity {cap}");
    assert_eq!(r.bytes_needed(), 0);
    // The error sticks: the stream cannot be resynchronised.
    assert!(r.poll_frame().is_err());
}

#[test]
fn just_over_the_limit_is_rejected_and_at_the_limit_is_accepted() {
    let mut r = FrameReader::new(8);
    r.extend(&framed(&[1; 9]));
    assert_eq!(
        r.poll_frame(),
        Err(DecodeError::FrameTooLarge { size: 9, max: 8 })
    );
    let mut r = FrameReader::new(8);
    r.extend(&framed(&[1; 8]));
    assert_eq!(r.poll_frame(), Ok(Some(Bytes::from_static(&[1; 8]))));
}

#[test]
fn negative_sizes_rejected() {
    for raw in [-1i32, i32::MIN] {
        let mut r = FrameReader::new(100 * MIB);
        // 0x8000_0000 is "2 GiB" unsigned, negative as Kafka's int32.
        r.extend(&raw.to_be_bytes());
        let cap = r.buffer_mut().capacity();
        assert_eq!(
            r.poll_frame(),
            Err(DecodeError::InvalidLength {
                context: "frame size",
                length: i64::from(raw),
            })
        );
        assert_eq!(r.buffer_mut().capacity(), cap);
    }
}

#[test]
fn reading_into_buffer_mut() {
    let mut r = FrameReader::new(MIB);
    r.buffer_mut().put_slice(&framed(b"direct"));
    assert_eq!(r.poll_frame(), Ok(Some(Bytes::from_static(b"direct"))));
}

#[test]
fn write_frame_patches_size() {
    let mut buf = BytesMut::from(&b"xy"[..]);
    write_frame(&mut buf, |b| {
        b.put_slice(b"hello");
        Ok(())
    })
    .unwrap();
    assert_eq!(&buf[..], b"xy\x00\x00\x00\x05hello");
    write_frame(&mut buf, |_| Ok(())).unwrap();
    assert_eq!(&buf[..], b"xy\x00\x00\x00\x05hello\x00\x00\x00\x00");
}

#[test]
fn write_frame_error_leaves_buffer_untouched() {
    let mut buf = BytesMut::from(&b"keep"[..]);
    let err = EncodeError::UnsupportedVersion {
        api: "Test",
        version: 99,
    };
    let res = write_frame(&mut buf, |b| {
        b.put_slice(b"partial");
        Err(err)
    });
    assert_eq!(res, Err(err));
    assert_eq!(&buf[..], b"keep");
}

#[test]
fn written_frames_read_back() {
    let mut buf = BytesMut::new();
    for body in [&b"a"[..], b"", b"ccc"] {
        write_frame(&mut buf, |b| {
            b.put_slice(body);
            Ok(())
        })
        .unwrap();
    }
    let mut r = FrameReader::new(16);
    r.extend(&buf);
    let got = drain(&mut r);
    assert_eq!(
        got,
        vec![
            Bytes::from_static(b"a"),
            Bytes::new(),
            Bytes::from_static(b"ccc")
        ]
    );
}

#[test]
fn response_header_v0_split() {
    let frame = Bytes::from_static(b"\x00\x00\x01\x02body");
    assert_eq!(peek_correlation_id(&frame), Ok(0x102));
    let (header, body) = split_response_header(frame, 0).unwrap();
    assert_eq!(header.correlation_id, 0x102);
    assert!(header.unknown_tagged_fields.is_empty());
    assert_eq!(body, Bytes::from_static(b"body"));
}

#[test]
fn response_header_v1_split() {
    // Correlation id -1, empty tagged-field section (varint 0), then the body.
    let frame = Bytes::from_static(b"\xff\xff\xff\xff\x00rest");
    let (header, body) = split_response_header(frame.clone(), 1).unwrap();
    assert_eq!(header.correlation_id, -1);
    assert_eq!(body, Bytes::from_static(b"rest"));
    // The body is a view of the frame, not a copy.
    assert_eq!(body.as_ptr() as usize, frame.as_ptr() as usize + 5);

    // One tagged field: tag 3, 2 bytes.
    let frame = Bytes::from_static(b"\x00\x00\x00\x07\x01\x03\x02hi!");
    let (header, body) = split_response_header(frame, 1).unwrap();
    assert_eq!(header.correlation_id, 7);
    let expected = UnknownTaggedFields(vec![RawTaggedField {
        tag: 3,
        data: Bytes::from_static(b"hi"),
    }]);
    assert_eq!(header.unknown_tagged_fields, expected);
    assert_eq!(body, Bytes::from_static(b"!"));
}

#[test]
fn response_header_round_trips_through_frame() {
    let header = ResponseHeader {
        correlation_id: 42,
        ..Default::default()
    };
    let mut buf = BytesMut::new();
    write_frame(&mut buf, |b| {
        header.encode(b, 1)?;
        b.put_slice(b"payload");
        Ok(())
    })
    .unwrap();
    let mut r = FrameReader::new(MIB);
    r.extend(&buf);
    let frame = r.poll_frame().unwrap().unwrap();
    let (back, body) = split_response_header(frame, 1).unwrap();
    assert_eq!(back, header);
    assert_eq!(body, Bytes::from_static(b"payload"));
}

#[test]
fn response_header_errors() {
    assert_eq!(
        peek_correlation_id(b"\x00\x01"),
        Err(DecodeError::Truncated {
            context: "ResponseHeader"
        })
    );
    assert!(matches!(
        split_response_header(Bytes::from_static(b"\x00\x01"), 0),
        Err(DecodeError::Truncated { .. })
    ));
    assert!(matches!(
        split_response_header(Bytes::from_static(b"\x00\x00\x00\x01"), 2),
        Err(DecodeError::UnsupportedVersion { .. })
    ));
    // v1 with the tagged-field section missing.
    assert!(split_response_header(Bytes::from_static(b"\x00\x00\x00\x01"), 1).is_err());
}

proptest! {
    /// Arbitrary bytes in arbitrary chunks: never a panic, and never a frame above the limit.
    #[test]
    fn arbitrary_chunks_never_panic(
        chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 0..32),
        max in 0usize..256,
    ) {
        let mut r = FrameReader::new(max);
        'outer: for chunk in &chunks {
            r.extend(chunk);
            loop {
                let _ = r.bytes_needed();
                match r.poll_frame() {
                    Ok(Some(frame)) => prop_assert!(frame.len() <= max),
                    Ok(None) => break,
                    Err(_) => break 'outer,
                }
            }
        }
    }

    /// Valid frames split at arbitrary points come back intact and in order.
    #[test]
    fn valid_frames_survive_any_chunking(
        bodies in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..100), 0..20),
        cuts in prop::collection::vec(0usize..2000, 0..40),
    ) {
        let stream: Vec<u8> = bodies.iter().flat_map(|b| framed(b)).collect();
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (stream.len() + 1)).collect();
        cuts.push(0);
        cuts.push(stream.len());
        cuts.sort_unstable();
        let mut r = FrameReader::new(100);
        let mut got = Vec::new();
        for pair in cuts.windows(2) {
            r.extend(&stream[pair[0]..pair[1]]);
            loop {
                match r.poll_frame() {
                    Ok(Some(frame)) => got.push(frame.to_vec()),
                    Ok(None) => break,
                    Err(e) => return Err(TestCaseError::fail(e.to_string())),
                }
            }
        }
        prop_assert_eq!(got, bodies);
        prop_assert_eq!(r.buffered_len(), 0);
    }

    /// Arbitrary frames never panic the response-header split.
    #[test]
    fn arbitrary_frames_never_panic_header_split(
        data in prop::collection::vec(any::<u8>(), 0..64),
        version in -1i16..3,
    ) {
        let _ = peek_correlation_id(&data);
        let _ = split_response_header(Bytes::from(data), version);
    }
}

//! Unit tests of the sans-io connection core: bytes in, bytes out, no sockets, no clock.

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use gregor_protocol::frame::FrameReader;
use gregor_protocol::header::{RequestHeader, ResponseHeader};
use gregor_protocol::messages::metadata::MetadataResponseTopic;
use gregor_protocol::messages::{
    ApiVersionsRequest, ApiVersionsResponse, MetadataRequest, MetadataResponse,
};
use gregor_protocol::{ApiKey, DecodeError, Message, Request};

use super::*;

type Core = ConnectionCore<u32>;

fn core() -> Core {
    ConnectionCore::new(CoreConfig {
        client_id: Some("core-test".into()),
        ..CoreConfig::default()
    })
    .unwrap()
}

/// A response frame (size prefix included) for `correlation_id`.
fn response_frame<M: Message>(
    correlation_id: i32,
    header_version: i16,
    body: &M,
    v: i16,
) -> Vec<u8> {
    let mut buf = BytesMut::new();
    gregor_protocol::frame::write_frame(&mut buf, |b| {
        ResponseHeader {
            correlation_id,
            ..ResponseHeader::default()
        }
        .encode(b, header_version)?;
        body.encode(b, v)
    })
    .unwrap();
    buf.to_vec()
}

/// A Metadata response naming one topic, so answers can be told apart.
fn metadata_answer(topic: &str) -> MetadataResponse {
    MetadataResponse {
        topics: vec![MetadataResponseTopic {
            name: Some(topic.into()),
            ..MetadataResponseTopic::default()
        }],
        ..MetadataResponse::default()
    }
}

fn topic_of(body: Bytes, version: i16) -> String {
    let r = MetadataResponse::decode_exact(body, version).unwrap();
    r.topics[0].name.clone().unwrap()
}

/// The requests in `outbound`, decoded as a broker would: header, then body.
fn decode_outbound(outbound: BytesMut) -> Vec<(RequestHeader, Bytes)> {
    let mut reader = FrameReader::new(1 << 20);
    reader.extend(&outbound);
    let mut out = Vec::new();
    while let Some(mut frame) = reader.poll_frame().unwrap() {
        let (key, version, _) = RequestHeader::peek_key_version(&frame).unwrap();
        let header_version = match ApiKey::from_code(key).unwrap() {
            ApiKey::ApiVersions => ApiVersionsRequest::request_header_version(version),
            ApiKey::Metadata => MetadataRequest::request_header_version(version),
            other => panic!("unexpected {other:?}"),
        };
        let header = RequestHeader::decode(&mut frame, header_version).unwrap();
        out.push((header, frame));
    }
    assert_eq!(reader.buffered_len(), 0);
    out
}

fn poll_one(core: &mut Core) -> ReceivedResponse<u32> {
    core.poll_response().unwrap().expect("a complete response")
}

#[test]
fn frames_requests_with_header_version_client_id_and_fresh_correlation_ids() {
    let mut core = core();
    let now = Instant::now();
    let a = core
        .encode_request(&MetadataRequest::for_topics(["a"]), 12, 1, now)
        .unwrap();
    let b = core
        .encode_request(&MetadataRequest::for_topics(["b"]), 4, 2, now)
        .unwrap();
    let c = core
        .encode_request(&ApiVersionsRequest::default(), 3, 3, now)
        .unwrap();
    assert_ne!(a, b);
    assert_ne!(b, c);
    assert_eq!(core.in_flight_len(), 3);
    let sent = decode_outbound(core.take_outbound());
    assert!(!core.has_outbound());
    let expect = [(a, 3, 12, "a"), (b, 3, 4, "b")];
    for ((header, body), (id, key, version, topic)) in sent.iter().zip(expect) {
        assert_eq!(header.correlation_id, id);
        assert_eq!(header.request_api_key, key);
        assert_eq!(header.request_api_version, version);
        assert_eq!(header.client_id.as_deref(), Some("core-test"));
        let req = MetadataRequest::decode_exact(body.clone(), version).unwrap();
        assert_eq!(req, MetadataRequest::for_topics([topic]));
    }
    let (header, body) = &sent[2];
    assert_eq!((header.correlation_id, header.request_api_key), (c, 18));
    ApiVersionsRequest::decode_exact(body.clone(), 3).unwrap();
}

#[test]
fn matches_out_of_order_responses_by_correlation_id() {
    let mut core = core();
    let now = Instant::now();
    let ids: Vec<i32> = (0..3)
        .map(|i| {
            let req = MetadataRequest::for_topics([format!("t{i}")]);
            core.encode_request(&req, 9, i, now).unwrap()
        })
        .collect();
    // Answer 2, 0, 1; the flexible v9 uses response header v1.
    for i in [2usize, 0, 1] {
        core.receive(&response_frame(
            ids[i],
            1,
            &metadata_answer(&format!("t{i}")),
            9,
        ));
    }
    for i in [2u32, 0, 1] {
        let r = poll_one(&mut core);
        assert_eq!(r.waiter, i);
        assert_eq!(r.correlation_id, ids[i as usize]);
        assert_eq!(r.info, InFlightInfo::of::<MetadataRequest>(9));
        assert_eq!(topic_of(r.body, 9), format!("t{i}"));
    }
    assert!(core.poll_response().unwrap().is_none());
    assert_eq!(core.in_flight_len(), 0);
}

/// Checks that `core` is (or, on the next poll, becomes) poisoned with `expected`: every call
/// fails with it, and every request that was in flight comes back from `take_in_flight` to be
/// failed with it.
fn assert_poisoned(core: &mut Core, expected: PoisonCause, in_flight: &[u32]) {
    let is_expected = |e: &ClientError| matches!(e, ClientError::Poisoned(c) if *c == expected);
    let err = core.poll_response().unwrap_err();
    assert!(is_expected(&err), "{err:?}");
    assert!(
        core.poisoned().is_some_and(is_expected),
        "{:?}",
        core.poisoned()
    );
    let rejected = core
        .encode_request(&MetadataRequest::default(), 1, 99, Instant::now())
        .unwrap_err();
    assert!(is_expected(&rejected.error), "{:?}", rejected.error);
    assert_eq!(rejected.waiter, 99);
    assert!(
        core.encode_no_response(&MetadataRequest::default(), 1)
            .is_err_and(|e| is_expected(&e))
    );
    core.receive(&response_frame(0, 0, &metadata_answer("late"), 1));
    assert!(core.poll_response().is_err_and(|e| is_expected(&e)));
    let mut failed: Vec<u32> = core
        .take_in_flight()
        .into_iter()
        .map(|(_, _, w)| w)
        .collect();
    failed.sort_unstable();
    assert_eq!(failed, in_flight);
    assert!(!core.has_outbound());
}

#[test]
fn unknown_correlation_id_poisons() {
    let mut core = core();
    let now = Instant::now();
    let a = core
        .encode_request(&MetadataRequest::default(), 1, 10, now)
        .unwrap();
    core.encode_request(&MetadataRequest::default(), 1, 11, now)
        .unwrap();
    core.receive(&response_frame(a + 1000, 0, &metadata_answer("x"), 1));
    assert_poisoned(
        &mut core,
        PoisonCause::UnknownCorrelationId(a + 1000),
        &[10, 11],
    );
}

#[test]
fn a_second_answer_to_the_same_request_poisons() {
    let mut core = core();
    let a = core
        .encode_request(&MetadataRequest::default(), 1, 1, Instant::now())
        .unwrap();
    core.encode_request(&MetadataRequest::default(), 1, 2, Instant::now())
        .unwrap();
    let frame = response_frame(a, 0, &metadata_answer("x"), 1);
    core.receive(&frame);
    core.receive(&frame);
    assert_eq!(poll_one(&mut core).waiter, 1);
    assert_poisoned(&mut core, PoisonCause::UnknownCorrelationId(a), &[2]);
}

#[test]
fn frames_too_short_for_a_header_poison() {
    let mut core = core();
    core.encode_request(&MetadataRequest::default(), 1, 1, Instant::now())
        .unwrap();
    core.receive(&[0, 0, 0, 2, 0, 0]);
    let cause = PoisonCause::MalformedHeader(DecodeError::Truncated {
        context: "ResponseHeader",
    });
    assert_poisoned(&mut core, cause, &[1]);
}

#[test]
fn a_flexible_header_with_a_broken_tag_section_poisons() {
    let mut core = core();
    let id = core
        .encode_request(&MetadataRequest::default(), 12, 1, Instant::now())
        .unwrap();
    // Correlation id, then a tag section announcing one tagged field and ending there.
    let mut frame = vec![0, 0, 0, 5];
    frame.extend_from_slice(&id.to_be_bytes());
    frame.push(1);
    core.receive(&frame);
    assert!(matches!(
        core.poll_response(),
        Err(ClientError::Poisoned(PoisonCause::MalformedHeader(_)))
    ));
    assert_eq!(core.take_in_flight().len(), 1);
}

#[test]
fn negative_or_oversized_frames_poison() {
    let mut core = core();
    core.encode_request(&MetadataRequest::default(), 1, 7, Instant::now())
        .unwrap();
    core.receive(&(-2i32).to_be_bytes());
    let cause = PoisonCause::Frame(DecodeError::InvalidLength {
        context: "frame size",
        length: -2,
    });
    assert_poisoned(&mut core, cause, &[7]);

    let mut small: Core = ConnectionCore::new(CoreConfig {
        max_response_frame: 64,
        ..CoreConfig::default()
    })
    .unwrap();
    small
        .encode_request(&MetadataRequest::default(), 1, 8, Instant::now())
        .unwrap();
    small.receive(&65i32.to_be_bytes());
    let cause = PoisonCause::Frame(DecodeError::FrameTooLarge { size: 65, max: 64 });
    assert_poisoned(&mut small, cause, &[8]);
}

#[test]
fn garbage_after_a_good_frame_poisons_after_delivering_it() {
    let mut core = core();
    let a = core
        .encode_request(&MetadataRequest::default(), 1, 1, Instant::now())
        .unwrap();
    core.encode_request(&MetadataRequest::default(), 1, 2, Instant::now())
        .unwrap();
    let mut bytes = response_frame(a, 0, &metadata_answer("good"), 1);
    bytes.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x12]);
    core.receive(&bytes);
    let r = poll_one(&mut core);
    assert_eq!((r.waiter, topic_of(r.body, 1)), (1, "good".to_owned()));
    let cause = PoisonCause::Frame(DecodeError::InvalidLength {
        context: "frame size",
        length: -1,
    });
    assert_poisoned(&mut core, cause, &[2]);
}

#[test]
fn a_partial_trailing_frame_waits_for_the_rest() {
    let mut core = core();
    let a = core
        .encode_request(&MetadataRequest::default(), 1, 1, Instant::now())
        .unwrap();
    let b = core
        .encode_request(&MetadataRequest::default(), 1, 2, Instant::now())
        .unwrap();
    let first = response_frame(a, 0, &metadata_answer("a"), 1);
    let second = response_frame(b, 0, &metadata_answer("b"), 1);
    let mut bytes = first.clone();
    bytes.extend_from_slice(&second[..second.len() - 1]);
    core.receive(&bytes);
    assert_eq!(poll_one(&mut core).waiter, 1);
    assert!(core.poll_response().unwrap().is_none());
    assert!(core.poisoned().is_none());
    core.receive(&second[second.len() - 1..]);
    assert_eq!(poll_one(&mut core).waiter, 2);
}

#[test]
fn every_split_point_yields_the_same_responses() {
    let answers = [("first", 9, 1), ("second", 1, 0)];
    let mut reference = core();
    let mut stream = Vec::new();
    for (i, &(topic, version, header_version)) in answers.iter().enumerate() {
        let id = reference
            .encode_request(
                &MetadataRequest::default(),
                version,
                i as u32,
                Instant::now(),
            )
            .unwrap();
        stream.extend(response_frame(
            id,
            header_version,
            &metadata_answer(topic),
            version,
        ));
    }
    for split in 0..=stream.len() {
        let mut core = core();
        for (i, &(_, version, _)) in answers.iter().enumerate() {
            core.encode_request(
                &MetadataRequest::default(),
                version,
                i as u32,
                Instant::now(),
            )
            .unwrap();
        }
        let mut got = Vec::new();
        for part in [&stream[..split], &stream[split..]] {
            core.receive(part);
            while let Some(r) = core.poll_response().unwrap() {
                got.push((r.waiter, topic_of(r.body, r.info.version)));
            }
        }
        let want: Vec<_> = [(0, "first"), (1, "second")]
            .map(|(w, t)| (w, t.to_owned()))
            .into();
        assert_eq!(got, want, "split at {split}");
    }
    // And one byte at a time.
    let mut core = core();
    for (i, &(_, version, _)) in answers.iter().enumerate() {
        core.encode_request(
            &MetadataRequest::default(),
            version,
            i as u32,
            Instant::now(),
        )
        .unwrap();
    }
    let mut got = 0;
    for byte in &stream {
        core.receive(std::slice::from_ref(byte));
        while core.poll_response().unwrap().is_some() {
            got += 1;
        }
    }
    assert_eq!(got, 2);
}

#[test]
fn requests_without_response_are_not_in_flight() {
    let mut core = core();
    core.encode_no_response(&MetadataRequest::default(), 1)
        .unwrap();
    assert_eq!(core.in_flight_len(), 0);
    assert_eq!(core.next_deadline(), None);
    let b = core
        .encode_request(&MetadataRequest::default(), 1, 5, Instant::now())
        .unwrap();
    let sent = decode_outbound(core.take_outbound());
    assert_eq!(sent.len(), 2);
    let silent = sent[0].0.correlation_id;
    assert_ne!(silent, b);
    // An answer to the silent request is not expected: it poisons.
    core.receive(&response_frame(silent, 0, &metadata_answer("x"), 1));
    assert_poisoned(&mut core, PoisonCause::UnknownCorrelationId(silent), &[5]);
}

#[test]
fn the_earliest_unanswered_request_expires_and_poisons() {
    let mut core: Core = ConnectionCore::new(CoreConfig {
        request_timeout: Some(Duration::from_secs(10)),
        ..CoreConfig::default()
    })
    .unwrap();
    let t0 = Instant::now();
    let a = core
        .encode_request(&MetadataRequest::default(), 1, 1, t0)
        .unwrap();
    let t1 = t0 + Duration::from_secs(3);
    core.encode_request(&MetadataRequest::default(), 1, 2, t1)
        .unwrap();
    core.encode_request(&MetadataRequest::default(), 1, 3, t1)
        .unwrap();
    assert_eq!(core.next_deadline(), Some(t0 + Duration::from_secs(10)));
    assert!(core.expire(t0 + Duration::from_secs(9)).is_none());
    // Answering the first moves the next deadline to the second.
    core.receive(&response_frame(a, 0, &metadata_answer("a"), 1));
    assert_eq!(poll_one(&mut core).waiter, 1);
    let second = t1 + Duration::from_secs(10);
    assert_eq!(core.next_deadline(), Some(second));
    assert!(core.expire(t0 + Duration::from_secs(12)).is_none());
    let expired = core.expire(second).unwrap();
    assert_eq!((expired.waiter, expired.info.api), (2, ApiKey::Metadata));
    assert_eq!(core.next_deadline(), None);
    assert_poisoned(
        &mut core,
        PoisonCause::RequestTimedOut(ApiKey::Metadata),
        &[3],
    );
}

#[test]
fn a_request_the_broker_may_hold_expires_after_later_requests() {
    let mut core: Core = ConnectionCore::new(CoreConfig {
        request_timeout: Some(Duration::from_secs(10)),
        ..CoreConfig::default()
    })
    .unwrap();
    let t0 = Instant::now();
    let held = RequestFrame::encode(core.header_template(), &MetadataRequest::default(), 1)
        .unwrap()
        .with_broker_hold(Duration::from_secs(60));
    core.push_request(held, 1, t0).unwrap();
    core.encode_request(
        &MetadataRequest::default(),
        1,
        2,
        t0 + Duration::from_secs(1),
    )
    .unwrap();
    // The plain request sent later expires first; the held one only after timeout + hold.
    assert_eq!(core.next_deadline(), Some(t0 + Duration::from_secs(11)));
    let expired = core.expire(t0 + Duration::from_secs(11)).unwrap();
    assert_eq!(expired.waiter, 2);
    let mut core: Core = ConnectionCore::new(CoreConfig {
        request_timeout: Some(Duration::from_secs(10)),
        ..CoreConfig::default()
    })
    .unwrap();
    let held = RequestFrame::encode(core.header_template(), &MetadataRequest::default(), 1)
        .unwrap()
        .with_broker_hold(Duration::from_secs(60));
    core.push_request(held, 1, t0).unwrap();
    assert_eq!(core.next_deadline(), Some(t0 + Duration::from_secs(70)));
    assert!(core.expire(t0 + Duration::from_secs(69)).is_none());
    assert_eq!(core.expire(t0 + Duration::from_secs(70)).unwrap().waiter, 1);
}

#[test]
fn correlation_ids_wrap_and_skip_ids_in_flight() {
    let mut core = core();
    let now = Instant::now();
    core.next_correlation_id = 0;
    let zero = core
        .encode_request(&MetadataRequest::default(), 1, 0, now)
        .unwrap();
    core.next_correlation_id = i32::MAX;
    let max = core
        .encode_request(&MetadataRequest::default(), 1, 1, now)
        .unwrap();
    let after = core
        .encode_request(&MetadataRequest::default(), 1, 2, now)
        .unwrap();
    assert_eq!((zero, max, after), (0, i32::MAX, 1));
}

#[test]
fn encode_failures_hand_the_waiter_back() {
    let mut core = core();
    let too_new = MetadataRequest::VERSIONS.max + 1;
    let rejected = core
        .encode_request(&MetadataRequest::default(), too_new, 42, Instant::now())
        .unwrap_err();
    assert_eq!(rejected.waiter, 42);
    assert!(matches!(rejected.error, ClientError::Encode(_)));
    assert!(core.poisoned().is_none());
    assert!(!core.has_outbound());
}

#[test]
fn api_versions_answers_use_header_v0_even_when_flexible() {
    let mut core = core();
    let id = core
        .encode_request(&ApiVersionsRequest::default(), 3, 1, Instant::now())
        .unwrap();
    core.receive(&response_frame(id, 0, &ApiVersionsResponse::default(), 3));
    let r = poll_one(&mut core);
    assert_eq!(r.info.response_header_version, 0);
    ApiVersionsResponse::decode_exact(r.body, 3).unwrap();
}

#[test]
fn frames_must_be_pushed_the_way_they_were_encoded() {
    let mut core = core();
    let header = core.header_template().clone();
    let silent = RequestFrame::encode_no_response(&header, &MetadataRequest::default(), 1).unwrap();
    let rejected = core.push_request(silent, 3, Instant::now()).unwrap_err();
    assert!(matches!(rejected.error, ClientError::InvalidState { .. }));
    assert_eq!(rejected.waiter, 3);
    let answered = RequestFrame::encode(&header, &MetadataRequest::default(), 1).unwrap();
    assert!(matches!(
        core.push_no_response(answered),
        Err(ClientError::InvalidState { .. })
    ));
    assert!(!core.has_outbound());
    assert!(core.poisoned().is_none());
}

/// The correlation ids of the requests in `outbound`, in order.
fn ids_of(outbound: BytesMut) -> Vec<i32> {
    decode_outbound(outbound)
        .into_iter()
        .map(|(header, _)| header.correlation_id)
        .collect()
}

fn timed_core(timeout: Duration) -> Core {
    ConnectionCore::new(CoreConfig {
        request_timeout: Some(timeout),
        ..CoreConfig::default()
    })
    .unwrap()
}

#[test]
fn held_requests_wait_for_release_while_requests_ahead_go_out() {
    let mut core = timed_core(Duration::from_secs(1));
    let t0 = Instant::now();
    let ms = Duration::from_millis;
    let a = core
        .encode_request(&MetadataRequest::for_topics(["a"]), 9, 1, t0)
        .unwrap();
    core.hold();
    assert!(core.is_holding());
    let b = core
        .encode_request(&MetadataRequest::for_topics(["b"]), 9, 2, t0 + ms(100))
        .unwrap();
    core.encode_no_response(&MetadataRequest::for_topics(["n"]), 9)
        .unwrap();
    assert_eq!(core.in_flight_len(), 2);
    assert_eq!(core.sent_in_flight_len(), 1);
    // Only the request from before the hold goes out.
    assert_eq!(ids_of(core.take_outbound()), [a]);
    assert!(!core.has_outbound());
    // A request pushed ahead goes out at once.
    let frame =
        RequestFrame::encode(core.header_template(), &ApiVersionsRequest::default(), 3).unwrap();
    let r = core.push_request_ahead(frame, 3, t0 + ms(200)).unwrap();
    assert_eq!(ids_of(core.take_outbound()), [r]);
    assert_eq!(core.sent_in_flight_len(), 2);
    // The first answer comes; the held request's deadline runs all along.
    core.receive(&response_frame(a, 1, &metadata_answer("a"), 9));
    assert_eq!(poll_one(&mut core).waiter, 1);
    assert_eq!(core.sent_in_flight_len(), 1);
    assert_eq!(core.next_deadline(), Some(t0 + ms(1100)));
    // Released: the held requests follow, in the order they came.
    core.release();
    assert!(!core.is_holding());
    let sent = decode_outbound(core.take_outbound());
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].0.correlation_id, b);
    let n = MetadataRequest::decode_exact(sent[1].1.clone(), 9).unwrap();
    assert_eq!(n, MetadataRequest::for_topics(["n"]));
    assert_eq!(core.sent_in_flight_len(), 2);
    core.receive(&response_frame(b, 1, &metadata_answer("b"), 9));
    assert_eq!(poll_one(&mut core).waiter, 2);
    // A release without a hold changes nothing.
    core.release();
    assert!(!core.has_outbound());
    assert_eq!(core.sent_in_flight_len(), 1);
}

#[test]
fn a_held_request_expires_and_poisons_like_any_other() {
    let mut core = timed_core(Duration::from_secs(1));
    let t0 = Instant::now();
    core.hold();
    core.encode_request(&MetadataRequest::for_topics(["b"]), 9, 2, t0)
        .unwrap();
    assert_eq!(core.sent_in_flight_len(), 0);
    assert!(core.expire(t0 + Duration::from_millis(999)).is_none());
    let expired = core.expire(t0 + Duration::from_secs(1)).unwrap();
    assert_eq!(expired.waiter, 2);
    assert!(core.poisoned().is_some());
    // Nothing held is written after that.
    core.release();
    assert!(!core.has_outbound());
    assert_eq!(core.in_flight_len(), 0);
    assert_eq!(core.sent_in_flight_len(), 0);
}

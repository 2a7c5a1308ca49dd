//! Tests of the corrupting proxy, against a fake broker on loopback.

use bytes::BufMut;
use gregor_protocol::frame::split_response_header;
use gregor_protocol::messages::MetadataResponse;
use gregor_protocol::messages::fetch::{FetchableTopicResponse, PartitionData};
use gregor_protocol::records::{BatchSpec, NewRecord, RecordsError, encode_batch};

use super::*;

/// Batches at offsets 0, 3 and 6, the last one cut short (as brokers do at the fetch size
/// limit), and where that partial batch starts.
fn records() -> (Bytes, usize) {
    let (mut buf, mut partial) = (BytesMut::new(), 0);
    for base_offset in [0, 3, 6] {
        partial = buf.len();
        let records = [NewRecord::new(Some(b"k"), Some(b"v")).with_timestamp(1); 3];
        let spec = BatchSpec {
            base_offset,
            ..BatchSpec::default()
        };
        encode_batch(&spec, &records, &mut buf).unwrap();
    }
    let cut = buf.len() - 10;
    (buf.freeze().slice(..cut), partial)
}

/// The fake broker's answer (no size prefix) to `api` in `version`: a Fetch response whose
/// topic `t` partition 2 holds [`records`], or a Metadata response.
fn response(api: ApiKey, version: i16, correlation_id: i32) -> Bytes {
    let mut frame = BytesMut::new();
    frame.put_i32(correlation_id);
    if response_header_version(api, version) == 1 {
        frame.put_u8(0);
    }
    let partition = PartitionData {
        partition_index: 2,
        records: Some(records().0),
        ..PartitionData::default()
    };
    let topic = FetchableTopicResponse {
        // Named up to v12, by id from v13.
        topic: if version <= 12 {
            "t".into()
        } else {
            String::new()
        },
        partitions: vec![partition],
        ..FetchableTopicResponse::default()
    };
    let fetch = FetchResponse {
        responses: vec![topic],
        ..FetchResponse::default()
    };
    match api {
        ApiKey::Fetch => fetch.encode(&mut frame, version).unwrap(),
        _ => MetadataResponse::default()
            .encode(&mut frame, version)
            .unwrap(),
    }
    frame.freeze()
}

/// A fake broker on loopback: answers each request (body unread) with [`response`].
fn proxy(seed: u64) -> CorruptingProxy {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy = CorruptingProxy::bind(seed).unwrap();
    proxy.set_target(listener.local_addr().unwrap());
    thread::spawn(move || {
        for mut stream in listener.incoming().map_while(Result::ok) {
            thread::spawn(move || {
                while let Some(request) = read_frame(&mut stream) {
                    let (key, version, id) = RequestHeader::peek_key_version(&request).unwrap();
                    let api = ApiKey::from_code(key).unwrap();
                    if write_frame(&mut stream, &response(api, version, id)).is_err() {
                        return;
                    }
                }
            });
        }
    });
    proxy
}

fn read_frame(s: &mut TcpStream) -> Option<Bytes> {
    let mut size = [0u8; 4];
    s.read_exact(&mut size).ok()?;
    let mut frame = vec![0u8; usize::try_from(i32::from_be_bytes(size)).ok()?];
    s.read_exact(&mut frame).ok()?;
    Some(frame.into())
}

fn connect(proxy: &CorruptingProxy) -> TcpStream {
    let s = TcpStream::connect(proxy.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Sends a request header (header v1, no body) and returns the response frame.
fn call(s: &mut TcpStream, api: ApiKey, version: i16, correlation_id: i32) -> Bytes {
    let mut request = BytesMut::new();
    request.put_i16(api.code());
    request.put_i16(version);
    request.put_i32(correlation_id);
    request.put_i16(-1);
    write_frame(s, &request).unwrap();
    read_frame(s).unwrap()
}

fn closed(s: &mut TcpStream) -> bool {
    matches!(s.read(&mut [0u8; 1]), Ok(0) | Err(_))
}

/// Checks a corrupted Fetch v12 response (header: 5 bytes) against the original.
fn check_fetch(got: &Bytes, original: &Bytes, what: &Corruption) {
    let decoded = FetchResponse::decode_exact(got.slice(5..), 12);
    match what {
        Corruption::RecordBatch {
            topic_index: 0,
            topic,
            partition: 2,
            base_offset,
        } if topic == "t" => {
            let differ = got
                .iter()
                .zip(original.iter())
                .filter(|(a, b)| a != b)
                .count();
            assert_eq!((got.len(), differ), (original.len(), 1), "one byte flipped");
            let fetched = decoded.unwrap().responses[0].partitions[0].records.clone();
            let mut set = RecordSetIter::new(fetched.unwrap(), &DecodeOptions::default());
            let mut failed = Vec::new();
            while let Some(raw) = set.next_raw() {
                let raw = raw.unwrap();
                if let Err(e) = raw.decode(&DecodeOptions::default()) {
                    assert!(matches!(e, RecordsError::CrcMismatch { .. }), "{e}");
                    failed.push(raw.header().unwrap().base_offset);
                }
            }
            assert_eq!(failed, [*base_offset], "exactly that batch fails its CRC");
            let (sent, partial) = records();
            assert_eq!(
                set.remaining(),
                sent.slice(partial..),
                "partial batch untouched"
            );
        }
        Corruption::Truncated { kept } => {
            assert!(5 + kept < original.len());
            assert_eq!(got[..], original[..5 + kept]);
            assert!(decoded.is_err(), "a cut body does not decode");
        }
        other => panic!("unexpected: {other:?}"),
    }
}

#[test]
fn without_corruption_frames_pass_unchanged() {
    let proxy = proxy(1);
    let mut s = connect(&proxy);
    for (id, version) in [(1, 4), (2, 12), (3, 18)] {
        let got = call(&mut s, ApiKey::Fetch, version, id);
        assert_eq!(got, response(ApiKey::Fetch, version, id));
    }
    let got = call(&mut s, ApiKey::Metadata, 12, 4);
    assert_eq!(got, response(ApiKey::Metadata, 12, 4));
    // Turned on, then off again.
    proxy.corrupt(ApiKey::Fetch, 1);
    proxy.corrupt(ApiKey::Fetch, 0);
    assert_eq!(
        call(&mut s, ApiKey::Fetch, 4, 5),
        response(ApiKey::Fetch, 4, 5)
    );
    let counts = (
        proxy.responses(ApiKey::Fetch),
        proxy.responses(ApiKey::Metadata),
    );
    assert_eq!(counts, (4, 1));
    assert!(proxy.corrupted().is_empty());
    assert_eq!(proxy.accepted(), 1);
}

#[test]
fn every_fetch_response_is_corrupted_when_asked() {
    let proxy = proxy(7);
    proxy.corrupt(ApiKey::Fetch, 1);
    let mut s = connect(&proxy);
    let got: Vec<_> = (0..40)
        .map(|id| call(&mut s, ApiKey::Fetch, 12, id))
        .collect();
    let done = proxy.corrupted();
    assert_eq!(done.len(), 40);
    for (id, (frame, (api, what))) in (0..).zip(got.iter().zip(&done)) {
        assert_eq!(
            peek_correlation_id(frame).unwrap(),
            id,
            "correlation id kept"
        );
        assert_eq!(*api, ApiKey::Fetch);
        check_fetch(frame, &response(ApiKey::Fetch, 12, id), what);
    }
    let offsets: Vec<_> = done
        .iter()
        .filter_map(|(_, c)| match c {
            Corruption::RecordBatch { base_offset, .. } => Some(*base_offset),
            _ => None,
        })
        .collect();
    assert!((5..35).contains(&offsets.len()), "both kinds: {done:?}");
    assert!(offsets.contains(&0) && offsets.contains(&3), "{offsets:?}");
}

#[test]
fn other_apis_pass_unchanged_unless_asked() {
    let proxy = proxy(3);
    proxy.corrupt(ApiKey::Fetch, 1);
    let mut s = connect(&proxy);
    for id in 0..10 {
        let got = call(&mut s, ApiKey::Metadata, 12, id);
        assert_eq!(got, response(ApiKey::Metadata, 12, id));
        assert_ne!(
            call(&mut s, ApiKey::Fetch, 12, id),
            response(ApiKey::Fetch, 12, id)
        );
    }
    assert_eq!(proxy.corrupted().len(), 10);
    // Any API can be cut short: the Metadata body no longer decodes, its header does.
    proxy.corrupt(ApiKey::Metadata, 1);
    let got = call(&mut s, ApiKey::Metadata, 12, 50);
    let (header, body) = split_response_header(got, 1).unwrap();
    assert_eq!(header.correlation_id, 50);
    assert!(MetadataResponse::decode_exact(body, 12).is_err());
    let last = proxy.corrupted().pop();
    assert!(matches!(
        last,
        Some((ApiKey::Metadata, Corruption::Truncated { .. }))
    ));
}

/// What a proxy does to 20 Fetch responses when it corrupts one in two.
fn twenty_fetches(proxy: &CorruptingProxy) -> (Vec<Bytes>, Vec<(ApiKey, Corruption)>) {
    proxy.corrupt(ApiKey::Fetch, 2);
    let mut s = connect(proxy);
    let frames = (0..20)
        .map(|id| call(&mut s, ApiKey::Fetch, 12, id))
        .collect();
    (frames, proxy.corrupted())
}

#[test]
fn the_same_seed_corrupts_the_same_way() {
    let first = twenty_fetches(&proxy(42));
    assert!((1..20).contains(&first.1.len()), "{:?}", first.1);
    assert_eq!(twenty_fetches(&proxy(42)), first);
    assert_ne!(twenty_fetches(&proxy(43)).0, first.0);
    let reseeded = proxy(5);
    reseeded.seed(42);
    assert_eq!(twenty_fetches(&reseeded), first);
}

#[test]
fn impossible_sizes_close_the_link_and_cut_all_closes_all() {
    let proxy = proxy(1);
    for size in [-5, i32::MAX] {
        let mut s = connect(&proxy);
        s.write_all(&i32::to_be_bytes(size)).unwrap();
        assert!(closed(&mut s), "size {size}");
    }
    let mut s = connect(&proxy);
    assert_eq!(
        call(&mut s, ApiKey::Fetch, 4, 1),
        response(ApiKey::Fetch, 4, 1)
    );
    proxy.cut_all();
    assert!(closed(&mut s));
    assert_eq!(proxy.accepted(), 3);
}

#[test]
fn a_corrupt_log_corrupts_the_same_batch_the_same_way_every_time() {
    let proxy = proxy(3);
    proxy.corrupt_log(2, 3);
    proxy.corrupt(ApiKey::Fetch, 1); // no random corruption on top of it
    let mut s = connect(&proxy);
    let first = call(&mut s, ApiKey::Fetch, 12, 1);
    let second = call(&mut s, ApiKey::Fetch, 12, 1);
    assert_eq!(first, second, "the same bytes every time");
    let original = response(ApiKey::Fetch, 12, 1);
    let differ = first
        .iter()
        .zip(original.iter())
        .filter(|(a, b)| a != b)
        .count();
    assert_eq!((first.len(), differ), (original.len(), 1));
    let fetched = FetchResponse::decode_exact(first.slice(5..), 12)
        .unwrap()
        .responses[0]
        .partitions[0]
        .records
        .clone()
        .unwrap();
    let mut set = RecordSetIter::new(fetched, &DecodeOptions::default());
    let mut failed = Vec::new();
    while let Some(raw) = set.next_raw() {
        let raw = raw.unwrap();
        if raw.decode(&DecodeOptions::default()).is_err() {
            failed.push(raw.header().unwrap().base_offset);
        }
    }
    assert_eq!(failed, [3], "only the batch at 3 fails");
    let expected = Corruption::StoredBatch {
        partition: 2,
        base_offset: 3,
    };
    assert_eq!(
        proxy.corrupted(),
        vec![(ApiKey::Fetch, expected.clone()), (ApiKey::Fetch, expected)]
    );
}

#[test]
fn fetch_responses_are_rewritten_well_formed_when_asked() {
    for how in [
        FetchRewrite::DropPartition,
        FetchRewrite::DuplicatePartition,
        FetchRewrite::UnrequestedPartition,
    ] {
        let proxy = proxy(5);
        proxy.rewrite_fetch(how, 1);
        let mut s = connect(&proxy);
        let got = call(&mut s, ApiKey::Fetch, 12, 9);
        assert_eq!(peek_correlation_id(&got).unwrap(), 9, "correlation id kept");
        let rewritten = FetchResponse::decode_exact(got.slice(5..), 12).expect("well-formed");
        let indexes: Vec<i32> = rewritten
            .responses
            .iter()
            .flat_map(|t| t.partitions.iter().map(|p| p.partition_index))
            .collect();
        let expected: &[i32] = match how {
            FetchRewrite::DropPartition => &[],
            FetchRewrite::DuplicatePartition => &[2, 2],
            _ => &[2, 10_002],
        };
        assert_eq!(indexes, expected, "{how:?}");
        assert_eq!(
            proxy.corrupted(),
            vec![(ApiKey::Fetch, Corruption::Rewritten { how, partition: 2 })]
        );
        proxy.rewrite_fetch(how, 0);
        let unchanged = call(&mut s, ApiKey::Fetch, 12, 10);
        assert_eq!(unchanged, response(ApiKey::Fetch, 12, 10), "turned off");
    }
}

//! Differential check against an independent implementation (the `kafka-protocol` crate, used
//! only as a test oracle): batches it writes decode here, and batches written here decode there.
//! Only uncompressed magic-2 batches (its codecs are not enabled in this workspace).

use bytes::{Bytes, BytesMut};
use gregor_protocol::records::{
    BatchSpec, DecodeOptions, NewHeader, NewRecord, batches, encode_batch,
};
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression as KpCompression, Record as KpRecord, RecordBatchDecoder, RecordBatchEncoder,
    RecordEncodeOptions, TimestampType as KpTimestampType,
};

fn kp_record(
    offset: i64,
    timestamp: i64,
    key: Option<&'static [u8]>,
    value: Option<&'static [u8]>,
) -> KpRecord {
    let mut headers = IndexMap::new();
    if offset % 2 == 0 {
        headers.insert(
            StrBytes::from_static_str("h1"),
            Some(Bytes::from_static(b"v1")),
        );
        headers.insert(StrBytes::from_static_str("h2"), None);
    }
    KpRecord {
        transactional: true,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: 3,
        producer_id: 1234,
        producer_epoch: 5,
        timestamp_type: KpTimestampType::Creation,
        offset,
        sequence: 40 + offset as i32 - 100,
        timestamp,
        key: key.map(Bytes::from_static),
        value: value.map(Bytes::from_static),
        headers,
    }
}

#[test]
fn batches_written_by_the_oracle_decode_here() {
    let records = vec![
        kp_record(100, 1_700_000_000_500, Some(b"a"), Some(b"one")),
        kp_record(101, 1_700_000_000_000, None, Some(b"two")),
        kp_record(102, 1_700_000_000_900, Some(b"c"), None),
        kp_record(103, 1_700_000_000_100, Some(b""), Some(b"")),
    ];
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        &records,
        &RecordEncodeOptions {
            version: 2,
            compression: KpCompression::None,
        },
    )
    .unwrap();
    let decoded: Vec<_> = batches(buf.freeze(), &DecodeOptions::default())
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(decoded.len(), 1);
    let batch = &decoded[0];
    assert!(batch.is_transactional());
    assert_eq!(
        (
            batch.producer_id(),
            batch.producer_epoch(),
            batch.partition_leader_epoch()
        ),
        (1234, 5, 3)
    );
    assert_eq!(batch.header().unwrap().base_sequence, 40);
    assert_eq!((batch.base_offset(), batch.last_offset()), (100, 103));
    let got: Vec<_> = batch.records().collect::<Result<_, _>>().unwrap();
    assert_eq!(got.len(), records.len());
    for (r, want) in got.iter().zip(&records) {
        assert_eq!(r.offset, want.offset);
        assert_eq!(r.timestamp, want.timestamp);
        assert_eq!(r.key, want.key);
        assert_eq!(r.value, want.value);
        let hs: Vec<_> = r.headers.iter().collect::<Result<_, _>>().unwrap();
        let want_hs: Vec<_> = want.headers.iter().collect();
        assert_eq!(hs.len(), want_hs.len());
        for (h, (k, v)) in hs.iter().zip(want_hs) {
            assert_eq!(h.key_str().unwrap(), &**k);
            assert_eq!(&h.value, v);
        }
    }
}

#[test]
fn batches_written_here_decode_in_the_oracle() {
    let headers = [NewHeader::new("x", Some(b"y")), NewHeader::new("z", None)];
    let records = [
        NewRecord::new(Some(b"k1"), Some(b"v1"))
            .with_timestamp(1_000)
            .with_headers(&headers),
        NewRecord::new(None, Some(b"v2")).with_timestamp(900),
        NewRecord::new(Some(b"k3"), None).with_timestamp(1_100),
    ];
    let spec = BatchSpec {
        base_offset: 77,
        partition_leader_epoch: 2,
        producer_id: 9,
        producer_epoch: 1,
        base_sequence: 100,
        transactional: true,
        ..BatchSpec::default()
    };
    let mut out = BytesMut::new();
    encode_batch(&spec, &records, &mut out).unwrap();
    let mut buf = out.freeze();
    let set = RecordBatchDecoder::decode(&mut buf).unwrap();
    assert_eq!(set.version, 2);
    assert_eq!(set.records.len(), 3);
    for (i, (r, want)) in set.records.iter().zip(&records).enumerate() {
        assert_eq!(r.offset, 77 + i as i64);
        assert_eq!(r.sequence, 100 + i as i32);
        assert_eq!(
            (r.producer_id, r.producer_epoch, r.partition_leader_epoch),
            (9, 1, 2)
        );
        assert!(r.transactional && !r.control);
        assert_eq!(r.timestamp, want.timestamp);
        assert_eq!(r.key.as_deref(), want.key);
        assert_eq!(r.value.as_deref(), want.value);
        assert_eq!(r.headers.len(), want.headers.len());
        for ((k, v), h) in r.headers.iter().zip(want.headers) {
            assert_eq!(k.as_bytes(), h.key);
            assert_eq!(v.as_deref(), h.value);
        }
    }
}

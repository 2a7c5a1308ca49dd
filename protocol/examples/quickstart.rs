//! The protocol layer's job end to end, with no broker: a broker-side Fetch response carrying
//! record batches in every codec is encoded and framed; the client side then splits the frame,
//! decodes the response and walks every record zero-copy, printing what it read.
//!
//! Run: `cargo run -p gregor-protocol --example quickstart`

use bytes::{Bytes, BytesMut};
use gregor_protocol::compression::Compression;
use gregor_protocol::frame::{FrameReader, split_response_header, write_frame};
use gregor_protocol::header::ResponseHeader;
use gregor_protocol::messages::FetchResponse;
use gregor_protocol::messages::fetch::{FetchableTopicResponse, PartitionData};
use gregor_protocol::records::{
    BatchSpec, DecodeOptions, NewHeader, NewRecord, batches, encode_batch,
};
use gregor_protocol::{Message, Request, messages::FetchRequest};

/// One partition per codec, each with two batches of 500 JSON-ish records.
fn broker_side_response(version: i16) -> Result<Bytes, Box<dyn std::error::Error>> {
    let mut partitions = Vec::new();
    for (index, codec) in Compression::ALL.into_iter().enumerate() {
        let mut records_bytes = BytesMut::new();
        for batch in 0..2i64 {
            let values: Vec<String> = (0..500)
                .map(|i| {
                    format!(
                        r#"{{"order":{},"codec":"{}","amount":{}}}"#,
                        batch * 500 + i,
                        codec.name(),
                        i * 7
                    )
                })
                .collect();
            let keys: Vec<String> = (0..500).map(|i| format!("customer-{}", i % 17)).collect();
            let headers = [NewHeader::new("source", Some(b"quickstart"))];
            let records: Vec<NewRecord<'_>> = values
                .iter()
                .zip(&keys)
                .map(|(v, k)| {
                    NewRecord::new(Some(k.as_bytes()), Some(v.as_bytes()))
                        .with_timestamp(1_700_000_000_000 + batch)
                        .with_headers(&headers)
                })
                .collect();
            let spec = BatchSpec {
                base_offset: batch * 500,
                compression: codec,
                ..BatchSpec::default()
            };
            encode_batch(&spec, &records, &mut records_bytes)?;
        }
        partitions.push(PartitionData {
            partition_index: index as i32,
            high_watermark: 1000,
            last_stable_offset: 1000,
            log_start_offset: 0,
            records: Some(records_bytes.freeze()),
            ..PartitionData::default()
        });
    }
    let response = FetchResponse {
        responses: vec![FetchableTopicResponse {
            topic: "orders".into(),
            partitions,
            ..FetchableTopicResponse::default()
        }],
        ..FetchResponse::default()
    };
    let header = ResponseHeader {
        correlation_id: 7,
        ..ResponseHeader::default()
    };
    let mut wire = BytesMut::new();
    write_frame(&mut wire, |buf| {
        header.encode(buf, FetchRequest::response_header_version(version))?;
        response.encode(buf, version)
    })?;
    Ok(wire.freeze())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let version = 12; // flexible, topics by name
    let wire = broker_side_response(version)?;
    println!(
        "broker: framed Fetch v{version} response of {} bytes",
        wire.len()
    );

    // Client side: the bytes arrive in arbitrary chunks.
    let mut reader = FrameReader::new(100 << 20);
    let mut frame = None;
    for chunk in wire.chunks(1500) {
        reader.extend(chunk);
        if let Some(f) = reader.poll_frame()? {
            frame = Some(f);
        }
    }
    let frame = frame.ok_or("no complete frame")?;
    let (header, body) =
        split_response_header(frame, FetchRequest::response_header_version(version))?;
    let response = FetchResponse::decode_exact(body, version)?;
    println!(
        "client: correlation id {}, {} topic(s)",
        header.correlation_id,
        response.responses.len()
    );

    let opts = DecodeOptions::default();
    let mut grand_total = 0;
    for topic in &response.responses {
        for partition in &topic.partitions {
            let data = partition.records.clone().unwrap_or_default();
            let (mut count, mut bytes, mut first, mut last) = (0u64, 0usize, None, None);
            let mut codec = Compression::None;
            for batch in batches(data.clone(), &opts) {
                let batch = batch?;
                codec = batch.compression();
                for record in batch.records() {
                    let record = record?;
                    first.get_or_insert(record.offset);
                    last = Some(record.offset);
                    bytes += record.value.as_ref().map_or(0, Bytes::len);
                    count += 1;
                }
            }
            grand_total += count;
            println!(
                "  {}-{} [{:>6}] {:>5} wire bytes -> {count} records, offsets {}..={}, {bytes} value bytes",
                topic.topic,
                partition.partition_index,
                codec.name(),
                data.len(),
                first.unwrap_or(-1),
                last.unwrap_or(-1),
            );
        }
    }
    println!(
        "decoded {grand_total} records across {} codecs, CRC-checked, zero-copy",
        Compression::ALL.len()
    );
    Ok(())
}

//! Interoperability with librdkafka (through the `confluent-kafka` Python package, installed
//! by `.ci/run`): what gregor produces to tansu with each codec, librdkafka reads back
//! identically; and librdkafka's `murmur2_random` partitioner puts each key on the partition
//! gregor's default partitioner chose.
//!
//! The Python side is in `tests/interop/`: `consume.py` prints every record it reads as JSON,
//! `produce_keys.py` prints the partition of each key from its delivery reports.

mod producer_support;

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};

use bytes::Bytes;
use gregor_client::Connection;
use gregor_client::producer::{Producer, ProducerRecord, RecordMetadata, partition_for_key};
use gregor_protocol::compression::Compression;
use gregor_protocol::records::Header;
use producer_support::{
    TestTransport, connect_options, create_topic, producer_config, start_tansu,
};
use serde_json::Value;

/// Runs `tests/interop/<script>` with `args`, feeding `stdin`; returns its stdout lines parsed
/// as JSON. Panics with the script's stderr if it fails.
async fn python(script: &str, args: Vec<String>, stdin: String) -> Vec<Value> {
    let path = format!("{}/tests/interop/{script}", env!("CARGO_MANIFEST_DIR"));
    let output = tokio::task::spawn_blocking(move || {
        let mut child = Command::new("python3")
            .arg(&path)
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 runs");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("stdin written");
        child.wait_with_output().expect("script finishes")
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{script} failed ({}): {stderr} (needs: python3 -m pip install confluent-kafka==2.16.1)",
        output.status
    );
    String::from_utf8(output.stdout)
        .expect("utf-8 output")
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hex_or_null(bytes: Option<&Bytes>) -> Value {
    bytes.map_or(Value::Null, |b| Value::String(hex(b)))
}

/// A record as `consume.py` prints it, built from what gregor sent and where it went.
fn expected_json(record: &ProducerRecord, meta: &RecordMetadata) -> Value {
    let headers: Vec<Value> = record
        .headers
        .iter()
        .map(|h| {
            Value::Array(vec![
                Value::String(hex(&h.key)),
                hex_or_null(h.value.as_ref()),
            ])
        })
        .collect();
    serde_json::json!({
        "partition": meta.partition,
        "offset": meta.offset,
        "timestamp": meta.timestamp,
        "key": hex_or_null(record.key.as_ref()),
        "value": hex_or_null(record.value.as_ref()),
        "headers": headers,
    })
}

fn interop_records(topic: &str) -> Vec<ProducerRecord> {
    (0..300)
        .map(|i| {
            let mut headers = vec![Header {
                key: Bytes::from(format!("seq-{}", i % 4)),
                value: Some(Bytes::from(format!("{i}"))),
            }];
            if i % 7 == 0 {
                headers.push(Header {
                    key: Bytes::from_static(b"empty"),
                    value: None,
                });
            }
            ProducerRecord {
                topic: topic.to_owned(),
                partition: None,
                key: (i % 4 != 0).then(|| Bytes::from(format!("key-{}", i % 23))),
                value: (i % 13 != 5).then(|| Bytes::from(vec![(i % 251) as u8; i % 300])),
                headers,
                timestamp: Some(1_710_000_000_000 + i as i64 * 3),
            }
        })
        .collect()
}

async fn produce(
    bootstrap: &str,
    records: &[ProducerRecord],
    codec: Compression,
) -> Vec<RecordMetadata> {
    let config = producer_config()
        .compression(codec)
        .batch_size(8_192)
        .build()
        .unwrap();
    let producer = Producer::new(TestTransport::new(bootstrap), config).unwrap();
    let mut pending = Vec::new();
    for record in records {
        pending.push(producer.send(record.clone()).await.expect("accepted"));
    }
    producer.close().await.unwrap();
    let mut delivered = Vec::new();
    for delivery in pending {
        delivered.push(delivery.await.expect("delivered"));
    }
    delivered
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn librdkafka_reads_what_gregor_produced_with_every_codec() {
    let broker = start_tansu().await;
    let conn = Connection::connect(&broker.bootstrap(), &connect_options())
        .await
        .unwrap();
    for codec in [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let topic = format!("interop-{}", codec.name());
        create_topic(&conn, &topic, 3).await;
        let sent = interop_records(&topic);
        let delivered = produce(&broker.bootstrap(), &sent, codec).await;
        let mut expected: Vec<Value> = sent
            .iter()
            .zip(&delivered)
            .map(|(r, m)| expected_json(r, m))
            .collect();
        let args = vec![
            "--bootstrap".into(),
            broker.bootstrap(),
            "--topic".into(),
            topic.clone(),
            "--partitions".into(),
            "3".into(),
            "--expected".into(),
            sent.len().to_string(),
        ];
        let mut read = python("consume.py", args, String::new()).await;
        let order = |v: &Value| (v["partition"].as_i64(), v["offset"].as_i64());
        expected.sort_by_key(order);
        read.sort_by_key(order);
        assert_eq!(read.len(), expected.len(), "{topic}: record count");
        for (got, want) in read.iter().zip(&expected) {
            assert_eq!(got, want, "{topic}: librdkafka read a different record");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn librdkafka_murmur2_random_places_keys_like_gregor() {
    const PARTITIONS: i32 = 6;
    let broker = start_tansu().await;
    let conn = Connection::connect(&broker.bootstrap(), &connect_options())
        .await
        .unwrap();
    create_topic(&conn, "keys-gregor", PARTITIONS).await;
    create_topic(&conn, "keys-librdkafka", PARTITIONS).await;
    // Short and long keys, every tail length of murmur2's 4-byte blocks, binary bytes.
    let keys: Vec<Bytes> = (0..400u32)
        .map(|i| match i % 4 {
            0 => Bytes::from(format!("user-{i}")),
            1 => Bytes::from(i.to_le_bytes().to_vec()),
            2 => Bytes::from(vec![(i % 256) as u8; (i % 9) as usize + 1]),
            _ => Bytes::from(format!(
                "a-longer-key-{i}-{}",
                "z".repeat((i % 17) as usize)
            )),
        })
        .collect();
    let records: Vec<ProducerRecord> = keys
        .iter()
        .map(|k| ProducerRecord::new("keys-gregor", "v").with_key(k.clone()))
        .collect();
    let delivered = produce(&broker.bootstrap(), &records, Compression::None).await;
    let gregor: BTreeMap<String, i32> = keys
        .iter()
        .zip(&delivered)
        .map(|(k, m)| (hex(k), m.partition))
        .collect();

    let stdin: String = keys.iter().map(|k| format!("{}\n", hex(k))).collect();
    let args = vec![
        "--bootstrap".into(),
        broker.bootstrap(),
        "--topic".into(),
        "keys-librdkafka".into(),
    ];
    let reports = python("produce_keys.py", args, stdin).await;
    assert_eq!(reports.len(), keys.len(), "one delivery report per key");
    let librdkafka: BTreeMap<String, i32> = reports
        .iter()
        .map(|r| {
            let key = r["key"].as_str().expect("key").to_owned();
            let partition = i32::try_from(r["partition"].as_i64().expect("partition")).unwrap();
            (key, partition)
        })
        .collect();
    assert_eq!(librdkafka, gregor, "same key, same partition");
    for (key, meta) in keys.iter().zip(&delivered) {
        assert_eq!(partition_for_key(key, PARTITIONS), Some(meta.partition));
    }
    let used: std::collections::BTreeSet<i32> = gregor.values().copied().collect();
    assert_eq!(
        used.len(),
        PARTITIONS as usize,
        "keys spread over every partition"
    );
}

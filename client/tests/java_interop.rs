//! gregor's producer writes, Java's own consumer (kafka-clients 4.1.2) reads, on Apache Kafka
//! 4.1.2: in every codec, with acks=1 and acks=all (idempotent), Java reads every record
//! exactly at the partition and offset gregor's delivery reported (key, value, headers,
//! timestamp), under read_uncommitted and read_committed alike; keyed records land on the
//! partitions Java's own partitioner picks for their keys. A raw Fetch checks the premise:
//! batches of several records in the round's codec, with a producer id exactly when idempotent.
//!
//! Skipped (with a message) when Kafka's jars or Java are not installed.

mod producer_support;

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use gregor_client::config::{Acks, ProducerConfig};
use gregor_client::producer::{Producer, ProducerRecord, RecordMetadata};
use gregor_client::{Client, Connection};
use gregor_protocol::compression::Compression;
use gregor_protocol::records::Header;
use gregor_testkit::data::{create_topic, test_client, unique_name, within};
use gregor_testkit::kafka::peer::{JavaPeer, PeerOutput, PeerRecord, PeerScript};
use gregor_testkit::kafka::{KafkaCluster, KafkaInstall};
use producer_support::{connect_options, fetch_all};

const CLIENT_ID: &str = "gregor-java-interop-test";
const PARTITIONS: i32 = 5;
/// Records per producer (one producer per codec and acks level).
const PER_ROUND: usize = 60;
/// Distinct keys per round.
const KEYS: usize = 23;

/// The key of the `i`-th keyed record of `round` (some empty: Java hashes an empty key too).
fn key(round: usize, i: usize) -> Bytes {
    match i % KEYS {
        5 => Bytes::new(),
        k => Bytes::from(format!("key-{round}-{k}")),
    }
}

/// Round `round`'s records: keyed ones left to the partitioner, ones without a key on an
/// explicit partition or left to the sticky partitioner, a keyed one on an explicit partition;
/// values text, null, empty, compressible and binary; headers none, one, a repeated key with
/// null and empty values, a non-ASCII key; most with a timestamp, some stamped by the producer.
fn records(topic: &str, round: usize) -> Vec<ProducerRecord> {
    (0..PER_ROUND)
        .map(|i| {
            let (partition, key) = match i % 4 {
                0 | 1 => (None, Some(key(round, i))),
                2 => (Some((i % PARTITIONS as usize) as i32), None),
                _ if i % 8 == 3 => (None, None),
                _ => (Some(1), Some(key(round, i))),
            };
            let value = match i % 5 {
                0 => Some(Bytes::from(format!("value-{round}-{i}"))),
                1 => None,
                2 => Some(Bytes::new()),
                3 => Some(Bytes::from(format!("{}{i}", "compressible ".repeat(50)))),
                _ => Some(Bytes::from(
                    (0..64u32)
                        .map(|b| (b * i as u32 + 1) as u8)
                        .collect::<Vec<_>>(),
                )),
            };
            let header = |k: &str, v: Option<&[u8]>| Header {
                key: Bytes::copy_from_slice(k.as_bytes()),
                value: v.map(Bytes::copy_from_slice),
            };
            let headers = match i % 4 {
                0 => Vec::new(),
                1 => vec![header("h", Some(format!("hv-{i}").as_bytes()))],
                2 => vec![
                    header("dup", Some(b"first")),
                    header("dup", None),
                    header("dup", Some(b"")),
                ],
                _ => vec![header("ключ-ü", Some(&[0xff, 0]))],
            };
            ProducerRecord {
                topic: topic.to_owned(),
                partition,
                key,
                value,
                headers,
                timestamp: (i % 9 != 0).then_some(1_700_000_000_000 + (round * 1000 + i) as i64),
            }
        })
        .collect()
}

/// One producer's round: its settings, what it sent and what was delivered.
struct Round {
    codec: Compression,
    acks: Acks,
    sent: Vec<ProducerRecord>,
    delivered: Vec<RecordMetadata>,
}

/// Produces round `index`'s records with `codec` and `acks` (idempotent with acks=all) through
/// a producer of its own, and waits for every delivery.
async fn produce_round(
    client: &Client,
    topic: &str,
    index: usize,
    codec: Compression,
    acks: Acks,
) -> Round {
    let config = ProducerConfig::builder()
        .acks(acks)
        .idempotence(acks == Acks::All)
        .compression(codec)
        .build()
        .unwrap();
    assert_eq!(config.idempotence(), acks == Acks::All);
    let producer = Producer::new(client.clone(), config).unwrap();
    let sent = records(topic, index);
    let mut pending = Vec::new();
    for record in &sent {
        pending.push(producer.send(record.clone()).await.expect("send accepted"));
    }
    within("flush", producer.flush()).await.unwrap();
    let mut delivered = Vec::new();
    for delivery in pending {
        delivered.push(within("delivery", delivery).await.expect("delivered"));
    }
    producer.close().await.unwrap();
    Round {
        codec,
        acks,
        sent,
        delivered,
    }
}

/// What Java must read for a record gregor sent and was told was written at `meta`.
fn expected(sent: &ProducerRecord, meta: &RecordMetadata) -> PeerRecord {
    PeerRecord {
        partition: meta.partition,
        offset: meta.offset,
        timestamp: sent.timestamp.unwrap_or(meta.timestamp),
        key: sent.key.as_ref().map(|k| k.to_vec()),
        value: sent.value.as_ref().map(|v| v.to_vec()),
        headers: sent
            .headers
            .iter()
            .map(|h| {
                (
                    String::from_utf8(h.key.to_vec()).unwrap(),
                    h.value.as_ref().map(|v| v.to_vec()),
                )
            })
            .collect(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn java_reads_what_gregor_produces_in_every_codec_and_acks() {
    if !KafkaInstall::is_available() {
        eprintln!("skipped: Apache Kafka is not installed (run .ci/install-kafka.sh)");
        return;
    }
    let (kafka, peer) = tokio::task::spawn_blocking(|| {
        let kafka = KafkaCluster::shared().unwrap();
        (kafka, JavaPeer::new(kafka.install()).unwrap())
    })
    .await
    .unwrap();
    let bootstrap = kafka.bootstrap();
    let client = test_client(&bootstrap, CLIENT_ID).await;
    let topic = unique_name("gregor-to-java");
    create_topic(&client, &topic, PARTITIONS).await;

    let mut rounds = Vec::new();
    for (c, codec) in Compression::ALL.into_iter().enumerate() {
        for (a, acks) in [Acks::Leader, Acks::All].into_iter().enumerate() {
            let index = c * 2 + a;
            rounds.push(produce_round(&client, &topic, index, codec, acks).await);
        }
    }

    // Java: its partitioner's choice for every key, and the topic read at both levels.
    let keys: BTreeSet<Bytes> = rounds
        .iter()
        .flat_map(|r| r.sent.iter().filter_map(|s| s.key.clone()))
        .collect();
    let keys: Vec<Bytes> = keys.into_iter().collect();
    let key_refs: Vec<&[u8]> = keys.iter().map(|k| &k[..]).collect();
    let mut script = PeerScript::new();
    script
        .partition_for_keys(PARTITIONS, &key_refs)
        .consume(&topic, &[])
        .consume(&topic, &[("isolation.level", "read_committed")]);
    let out: PeerOutput = within("the java peer", peer.run_async(&bootstrap, &script))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let java_partition: BTreeMap<&Bytes, i32> =
        keys.iter().zip(out.partitions.iter().copied()).collect();
    assert_eq!(out.partitions.len(), keys.len());
    assert!(java_partition.contains_key(&Bytes::new()), "the empty key");

    let mut want: Vec<PeerRecord> = Vec::new();
    let mut keyed_placed = 0;
    for round in &rounds {
        for (sent, meta) in round.sent.iter().zip(&round.delivered) {
            assert_eq!(&*meta.topic, topic);
            if let (None, Some(key)) = (sent.partition, &sent.key) {
                assert_eq!(
                    meta.partition, java_partition[key],
                    "the partition of {key:?}"
                );
                keyed_placed += 1;
            }
            if let Some(p) = sent.partition {
                assert_eq!(meta.partition, p);
            }
            want.push(expected(sent, meta));
        }
    }
    want.sort_by_key(|r| (r.partition, r.offset));
    assert_eq!(want.len(), 10 * PER_ROUND);
    assert_eq!(keyed_placed, 10 * PER_ROUND / 2);
    // Every offset of every partition is a record gregor sent, once.
    for p in 0..PARTITIONS {
        let offsets: Vec<i64> = want
            .iter()
            .filter(|r| r.partition == p)
            .map(|r| r.offset)
            .collect();
        assert_eq!(
            offsets,
            (0..offsets.len() as i64).collect::<Vec<_>>(),
            "partition {p}"
        );
    }
    assert_eq!(out.reads[0].len(), want.len());
    assert_eq!(out.reads[0], want, "read_uncommitted");
    assert_eq!(out.reads[1], want, "read_committed");

    // The premise: every round wrote batches in its codec, several records to a batch, with a
    // producer id exactly when idempotent.
    let conn = Connection::connect(&bootstrap, &connect_options())
        .await
        .unwrap();
    let round_of: BTreeMap<(i32, i64), usize> = rounds
        .iter()
        .enumerate()
        .flat_map(|(i, r)| {
            r.delivered
                .iter()
                .map(move |m| ((m.partition, m.offset), i))
        })
        .collect();
    let mut multi = vec![0; rounds.len()];
    for p in 0..PARTITIONS {
        for batch in within("fetch", fetch_all(&conn, &topic, p)).await {
            let first = batch.records[0].offset;
            let i = round_of[&(p, first)];
            let round = &rounds[i];
            assert!(
                batch.records.iter().all(|r| round_of[&(p, r.offset)] == i),
                "one round per batch"
            );
            assert_eq!(batch.compression, round.codec, "round {i}");
            assert_eq!(batch.producer_id >= 0, round.acks == Acks::All, "round {i}");
            if batch.records.len() >= 2 {
                multi[i] += 1;
            }
        }
    }
    assert!(
        multi.iter().all(|&n| n >= 1),
        "batches of several records per round: {multi:?}"
    );
}

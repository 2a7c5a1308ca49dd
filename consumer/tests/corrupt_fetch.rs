//! Corruption on the way from the broker (Apache Kafka, the reference) costs a retry, not the
//! read. A frame-aware proxy between gregor and Kafka corrupts one in five Fetch responses
//! (and one in five Metadata and ApiVersions answers) at random: a byte inside a record batch
//! (the batch fails its CRC: the reader fetches it again from its offset), or the body cut
//! short (the answer does not decode: its connection is closed as poisoned and the fetch goes
//! to a new one). The whole topic is read exactly: every offset once, in order, every value
//! as written (the testkit's delivery ledger checks it). A batch corrupt in the broker's log
//! (corrupted the same way in every answer) fails the read after one refetch, with a typed
//! error naming the partition and the batch's offset, and nothing corrupt is delivered. Fetch
//! answers rewritten into lies no honest broker tells (a partition left out, a partition twice,
//! a partition nobody asked for) are read through exactly too.

mod ledger_support;

use std::collections::BTreeMap;
use std::time::Duration;

use gregor_consumer::fetch::{FetchConfig, FetchEngine, FetchError};
use gregor_consumer::range::OffsetRange;
use gregor_protocol::ApiKey;
use gregor_protocol::compression::Compression;
use gregor_testkit::corrupting_proxy::{CorruptingProxy, Corruption, FetchRewrite};
use gregor_testkit::data::{
    BatchShape, create_topic, produce_batch, test_client, unique_name, values,
};
use gregor_testkit::kafka::{KafkaCluster, KafkaInstall, KafkaOptions};
use gregor_testkit::ledger::{DeliveryLedger, Semantics};
use ledger_support::deliver_reader;

const PARTITIONS: i32 = 4;
const BATCHES: usize = 100;
const PER_BATCH: usize = 50;
const DEADLINE: Duration = Duration::from_secs(180);

/// Kafka with a listener advertised at the proxy's port, the proxy in front of it, and a
/// topic of `PARTITIONS` partitions filled (directly, not through the proxy) with `BATCHES`
/// batches of `PER_BATCH` records each, in every codec. Returns the values per partition.
async fn kafka_behind_a_proxy(
    seed: u64,
) -> Option<(
    KafkaCluster,
    CorruptingProxy,
    String,
    BTreeMap<i32, Vec<String>>,
)> {
    if !KafkaInstall::is_available() {
        eprintln!("skipped: Apache Kafka is not installed (run .ci/install-kafka.sh)");
        return None;
    }
    let proxy = CorruptingProxy::bind(seed).expect("a proxy");
    let kafka = KafkaCluster::start(
        KafkaOptions::single()
            .with_security(false)
            .with_proxied_listener(proxy.port()),
    )
    .expect("kafka starts");
    proxy.set_target(kafka.proxied_addr().expect("the proxied listener"));
    let direct = test_client(&kafka.bootstrap(), "corrupt-fetch-writer").await;
    let topic = unique_name("corrupt");
    create_topic(&direct, &topic, PARTITIONS).await;
    let mut written = BTreeMap::new();
    for p in 0..PARTITIONS {
        let mut all = Vec::new();
        for b in 0..BATCHES {
            let codec = Compression::ALL[b % Compression::ALL.len()];
            let batch = values(&format!("p{p}b{b}"), PER_BATCH);
            let shape = BatchShape::default().compressed(codec).keyed(b"k");
            produce_batch(&direct, &topic, p, &batch, &shape).await;
            all.extend(batch);
        }
        written.insert(p, all);
    }
    Some((kafka, proxy, topic, written))
}

/// Small fetches, so that the topic takes many Fetch responses.
fn small_fetches() -> FetchConfig {
    FetchConfig::default()
        .with_max_wait(Duration::from_millis(100))
        .with_partition_max_bytes(1024)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by .ci/test's fault step, which prints its figures"]
async fn a_topic_is_read_exactly_through_a_proxy_corrupting_one_in_five_responses() {
    let seed = std::env::var("GREGOR_CORRUPT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| u64::from(std::process::id()) * 7919);
    eprintln!("seed {seed} (GREGOR_CORRUPT_SEED repeats it)");
    let Some((_kafka, proxy, topic, written)) = kafka_behind_a_proxy(seed).await else {
        return;
    };
    let client = test_client(&proxy.bootstrap(), "corrupt-fetch-reader").await;
    // From here on, one in five answers of each of these APIs is corrupted.
    for api in [ApiKey::Fetch, ApiKey::Metadata, ApiKey::ApiVersions] {
        proxy.corrupt(api, 5);
    }
    let engine = FetchEngine::new(client, small_fetches());
    let mut readers: Vec<_> = written
        .iter()
        .map(|(&p, vals)| {
            let until = i64::try_from(vals.len()).unwrap();
            engine.read(OffsetRange::new(topic.as_str(), p, 0, until).unwrap())
        })
        .collect();
    let mut ledger = DeliveryLedger::new();
    for (p, vals) in &written {
        for (offset, value) in (0..).zip(vals) {
            ledger.written(&topic, *p, offset, value);
        }
    }
    tokio::time::timeout(DEADLINE, async {
        for reader in &mut readers {
            let p = reader.topic_partition().partition;
            deliver_reader(reader, &mut ledger)
                .await
                .unwrap_or_else(|e| panic!("partition {p}: {e}"));
        }
    })
    .await
    .expect("the topic is read before the deadline");
    let verdict = ledger.check();
    eprintln!("ledger: {}", verdict.total);
    verdict.assert_holds(Semantics::ExactlyOnce, "a read through corruption");
    let done = proxy.corrupted();
    let batches = done
        .iter()
        .filter(|(_, c)| matches!(c, Corruption::RecordBatch { .. }))
        .count();
    let cut = done
        .iter()
        .filter(|(_, c)| matches!(c, Corruption::Truncated { .. }))
        .count();
    let fetches = proxy.responses(ApiKey::Fetch);
    eprintln!(
        "{} records read exactly through {fetches} Fetch responses; corrupted: {batches} record \
         batches, {cut} bodies cut short ({} answers in all); {} connections",
        written.values().map(Vec::len).sum::<usize>(),
        done.len(),
        proxy.accepted()
    );
    assert!(batches >= 3, "record batches were corrupted: {done:?}");
    assert!(cut >= 3, "bodies were cut short: {done:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by .ci/test's fault step, which prints its figures"]
async fn a_batch_corrupt_in_the_log_fails_the_read_typed_after_one_refetch() {
    let Some((_kafka, proxy, topic, written)) = kafka_behind_a_proxy(42).await else {
        return;
    };
    let client = test_client(&proxy.bootstrap(), "corrupt-fetch-reader").await;
    // The third batch of partition 1 (offsets 100..150) is corrupt in every answer.
    let corrupt_at = i64::try_from(2 * PER_BATCH).unwrap();
    proxy.corrupt_log(1, corrupt_at);
    let engine = FetchEngine::new(client, small_fetches());
    let until = i64::try_from(written[&1].len()).unwrap();
    let mut reader = engine.read(OffsetRange::new(topic.as_str(), 1, 0, until).unwrap());
    let mut delivered = Vec::new();
    let error = tokio::time::timeout(DEADLINE, async {
        loop {
            match reader.next_chunk().await {
                Some(Ok(chunk)) => delivered.extend(chunk.as_slice().iter().map(|r| {
                    (
                        r.offset,
                        String::from_utf8_lossy(r.value.as_deref().unwrap_or_default())
                            .into_owned(),
                    )
                })),
                Some(Err(e)) => break e,
                None => panic!("the read ended without reporting the corrupt batch"),
            }
        }
    })
    .await
    .expect("the read ends before the deadline");
    match &error {
        FetchError::Records {
            topic: named,
            partition: 1,
            offset,
            ..
        } if *named == topic && *offset == corrupt_at => {}
        other => panic!("not the typed corruption error at {corrupt_at}: {other:?}"),
    }
    assert!(
        error
            .to_string()
            .contains(&format!("from offset {corrupt_at}")),
        "{error}"
    );
    // Everything before the corrupt batch, as written; nothing of it or after it.
    let expected: Vec<(i64, String)> = (0..)
        .zip(written[&1].iter().cloned())
        .take(2 * PER_BATCH)
        .collect();
    assert_eq!(
        delivered, expected,
        "the records before the corrupt batch, and only those"
    );
    assert!(
        reader.next_chunk().await.is_none(),
        "nothing after the error"
    );
    let seen = proxy
        .corrupted()
        .iter()
        .filter(|(_, c)| matches!(c, Corruption::StoredBatch { partition: 1, .. }))
        .count();
    assert_eq!(
        seen, 2,
        "the corrupt batch was fetched twice: once, and once again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by .ci/test's fault step, which prints its figures"]
async fn a_topic_is_read_exactly_through_fetch_answers_that_lie_about_partitions() {
    let Some((_kafka, proxy, topic, written)) = kafka_behind_a_proxy(7).await else {
        return;
    };
    for how in [
        FetchRewrite::DropPartition,
        FetchRewrite::DuplicatePartition,
        FetchRewrite::UnrequestedPartition,
    ] {
        let before = proxy.corrupted().len();
        proxy.rewrite_fetch(how, 3);
        let client = test_client(&proxy.bootstrap(), "rewrite-reader").await;
        let engine = FetchEngine::new(client, small_fetches());
        let mut ledger = DeliveryLedger::new();
        for (p, vals) in &written {
            for (offset, value) in (0..).zip(vals) {
                ledger.written(&topic, *p, offset, value);
            }
        }
        tokio::time::timeout(DEADLINE, async {
            for (&p, vals) in &written {
                let until = i64::try_from(vals.len()).unwrap();
                let mut reader =
                    engine.read(OffsetRange::new(topic.as_str(), p, 0, until).unwrap());
                deliver_reader(&mut reader, &mut ledger)
                    .await
                    .unwrap_or_else(|e| panic!("{how:?}, partition {p}: {e}"));
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{how:?}: the topic is read before the deadline"));
        proxy.rewrite_fetch(how, 0);
        let rewritten = proxy.corrupted().len() - before;
        let verdict = ledger.check();
        eprintln!(
            "{how:?}: {rewritten} Fetch answers rewritten; {}",
            verdict.total
        );
        verdict.assert_holds(Semantics::ExactlyOnce, &format!("{how:?}"));
        assert!(
            rewritten >= 3,
            "{how:?}: answers were rewritten ({rewritten})"
        );
    }
}

//! The group consumer on our mock and on Apache Kafka: members join and leave while a producer
//! appends; the delivery ledger checks exclusive ownership, no gap and no duplicate.

mod group_support;
mod stream_support;

use std::time::Duration;

use gregor_consumer::group::assignor::{SharedAssignor, builtin};
use gregor_consumer::group::task::Subscription;
use gregor_testkit::BrokerKind;
use gregor_testkit::data::{create_topic_on, unique_name};
use group_support::{Ledger, Member, Producer, eventually, partitions, settings};
use stream_support::{broker, client, per_kind};

fn assignors(name: &str) -> Vec<SharedAssignor> {
    vec![builtin(name).expect("a built-in assignor")]
}

/// The members that join after the first.
const OTHERS: [&str; 4] = ["b", "c", "d", "e"];

/// 1 -> 5 -> 1 members with auto-commit and graceful leaves while a producer appends: every
/// offset is delivered, none twice, no partition has two owners at once, and five members
/// split ten partitions two each (balance).
async fn members_come_and_go(kind: BrokerKind, assignor: &str) {
    let broker = broker(kind).await;
    let client = client(&broker).await;
    let topic = unique_name("group-come-go");
    create_topic_on(&broker, &client, &topic, 10).await;
    let group = unique_name("g");
    let ledger = Ledger::default();
    let producer = Producer::start(&client, &topic, 10, 3, Duration::from_millis(100));
    let subscription = Subscription::Topics(vec![topic.clone()]);
    let all = partitions(&topic, 10);
    let start = |name: &str| {
        Member::start(
            name,
            &client,
            settings(&group, assignors(assignor)),
            subscription.clone(),
            &ledger,
        )
    };

    let a = start("a");
    eventually(&ledger, "a owns all", Duration::from_secs(30), |l| {
        l.owners().len() == 10
    })
    .await;
    let joined = std::time::Instant::now();
    let others: Vec<Member> = OTHERS.iter().map(|name| start(name)).collect();
    eventually(
        &ledger,
        "five owners, two each",
        Duration::from_secs(45),
        |l| {
            let owners = l.owners();
            owners.len() == 10
                && std::iter::once("a")
                    .chain(OTHERS)
                    .all(|m| owners.values().filter(|o| *o == m).count() == 2)
        },
    )
    .await;
    let settled = std::time::Instant::now();
    let kept_gap = ledger.longest_gap_of_kept("a", joined, settled);
    tokio::time::sleep(Duration::from_millis(500)).await;
    for member in others {
        member.stop().await;
    }
    eventually(&ledger, "a owns all again", Duration::from_secs(30), |l| {
        let owners = l.owners();
        owners.len() == 10 && owners.values().all(|o| o == "a")
    })
    .await;
    let ends = producer.stop().await;
    eventually(
        &ledger,
        "every offset delivered",
        Duration::from_secs(30),
        |l| l.gaps(&ends).is_empty(),
    )
    .await;
    a.stop().await;

    assert_eq!(
        ends.keys()
            .cloned()
            .collect::<std::collections::BTreeSet<_>>(),
        all
    );
    let produced: i64 = ends.values().sum();
    assert_eq!(
        ledger.overlaps(),
        vec![],
        "a partition had two owners at once"
    );
    assert_eq!(
        ledger.duplicates(),
        0,
        "duplicates among {produced} records"
    );
    eprintln!(
        "{kind} {assignor}: {produced} records, 0 gaps, 0 duplicates, 0 overlaps; \
         partitions a kept while four members joined: longest delivery gap {kept_gap:?}"
    );
    if assignor == "cooperative-sticky" {
        // I5: what does not move keeps flowing (heartbeat interval 300 ms).
        assert!(
            kept_gap < Duration::from_millis(600),
            "a partition that did not move waited {kept_gap:?}"
        );
    }
}

async fn eager_range(kind: BrokerKind) {
    members_come_and_go(kind, "range").await;
}

per_kind!(eager_range: mock => Mock, kafka => Kafka);

async fn cooperative_sticky(kind: BrokerKind) {
    members_come_and_go(kind, "cooperative-sticky").await;
}

per_kind!(cooperative_sticky: mock => Mock, kafka => Kafka);

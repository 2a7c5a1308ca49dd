//! The group consumer's main scenario, shared by the classic (`group.rs`) and KIP-848
//! (`group_848.rs`) suites: 1 -> 5 -> 1 members with auto-commit and graceful leaves while a
//! producer appends.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use gregor_client::Client;
use gregor_consumer::group::consumer::GroupConsumerSettings;
use gregor_consumer::group::task::Subscription;
use gregor_testkit::TestBroker;
use gregor_testkit::data::{create_topic_on, unique_name};

use super::{Ledger, Member, Producer, eventually, partitions};

/// The members that join after the first.
const OTHERS: [&str; 4] = ["b", "c", "d", "e"];

/// 1 -> 5 -> 1 members, each with the settings `make` gives for the group id, while a
/// producer appends to ten partitions: every offset is delivered, none twice, no partition has
/// two owners at once, and five members split the ten partitions two each (balance). With
/// `kept_gap_limit`, partitions the first member keeps while the others join must not wait
/// longer than that between deliveries (no group-wide barrier). `label` names the run in
/// the line it prints; `client` is a client of `broker`.
pub async fn members_come_and_go(
    broker: &TestBroker,
    client: &Client,
    label: &str,
    make: impl Fn(&str) -> GroupConsumerSettings,
    kept_gap_limit: Option<Duration>,
) {
    let topic = unique_name("group-come-go");
    create_topic_on(broker, client, &topic, 10).await;
    let group = unique_name("g");
    let ledger = Ledger::default();
    let producer = Producer::start(client, &topic, 10, 3, Duration::from_millis(100));
    let subscription = Subscription::Topics(vec![topic.clone()]);
    let start =
        |name: &str| Member::start(name, client, make(&group), subscription.clone(), &ledger);

    let a = start("a");
    eventually(&ledger, "a owns all", Duration::from_secs(30), |l| {
        l.owners().len() == 10
    })
    .await;
    let joined = Instant::now();
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
    let settled = Instant::now();
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
        ends.keys().cloned().collect::<BTreeSet<_>>(),
        partitions(&topic, 10)
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
        "{label}: {produced} records, 0 gaps, 0 duplicates, 0 overlaps; partitions a \
         kept while four members joined: longest delivery gap {kept_gap:?}; 1 -> 5 members \
         settled in {:?}",
        settled - joined
    );
    if let Some(limit) = kept_gap_limit {
        // I5: what does not move keeps flowing.
        assert!(
            kept_gap < limit,
            "a partition that did not move waited {kept_gap:?}"
        );
    }
}

//! The group chaos soak, on Apache Kafka: gregor's rebalancing group consumer as member
//! processes of their own (`gregor-group-member`, driven through the testkit's `GroupPeer`),
//! in two groups reading one 32-partition topic while gregor's producer writes it at a fixed
//! rate, and a seeded chaos schedule acts every few seconds: a member joins, a member leaves
//! gracefully (`stop`), a member is killed (SIGKILL), or every connection of the members is cut
//! (they reach Kafka only through a `ChaosProxy` in front of a listener of its own; the
//! producer does not).
//!
//! - Group A: the classic protocol, cooperative-sticky, auto-commit on.
//! - Group B: `group.protocol=consumer` (KIP-848: the coordinator assigns, uniform), auto-commit
//!   on; `GREGOR_SOAK_GROUP_B_PROTOCOL=classic` runs it with the classic protocol and the eager
//!   range assignor instead.
//!
//! Each group keeps at least one member running and has at most four. When the producer is
//! done, the members read to the end, stop gracefully, and each group's members' logs are
//! audited (`GroupAudit`): every produced offset delivered, no partition delivered by two
//! members at once, commits only of what the committing member delivered and never going
//! back, and no offset delivered twice, except after a kill, and then only what the killed
//! member delivered after its last commit. The group's committed offsets must then be the ends
//! of the partitions. One summary line gives the figures.
//!
//! Defaults (what `.ci/test` runs): 1,000,000 records at 7,500 per second (about 135 s of
//! chaos). The environment changes them: `GREGOR_SOAK_SECS` (produce for that long at the
//! rate: `GREGOR_SOAK_SECS=1800` is a half-hour soak), `GREGOR_SOAK_RATE`,
//! `GREGOR_SOAK_RECORDS`, `GREGOR_SOAK_SEED` (the seed is printed: the same seed gives the same
//! schedule of actions, not the same timing), `GREGOR_SOAK_GROUP_B_PROTOCOL`,
//! `GREGOR_SOAK_LOG_DIR` (where every member's log is written; a failed audit writes them to
//! the temporary directory anyway). Ignored by a
//! plain `cargo test` (it takes minutes): run it with
//! `cargo test -p gregor-consumer --test group_soak -- --ignored --nocapture`. Needs
//! `.ci/install-kafka.sh`.
//!
//! Known failure: a member stopped while its group's rebalance waits for a killed member's
//! session loses its last commit, and the next owner reads those records again
//! (`group_close_in_rebalance.rs` reproduces it; about one run in three hits it,
//! `GREGOR_SOAK_SEED=1796658721923115006` did twice).

mod soak_support;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use gregor_client::Admin;
use gregor_client::admin::FetchOffsetsOptions;
use gregor_testkit::ChaosProxy;
use gregor_testkit::data::{create_topic, test_client, unique_name};
use gregor_testkit::kafka::group_peer::AuditReport;
use gregor_testkit::kafka::{KafkaCluster, KafkaInstall, KafkaOptions};
use soak_support::chaos::{Action, PAUSE, Rng, choose};
use soak_support::members::{GroupSetup, SoakGroup};
use soak_support::{PARTITIONS, Produced, RateProducer, SoakSettings};

/// How long the members may take to read the rest once the producer is done.
const DRAIN: Duration = Duration::from_secs(120);

/// How often the soak looks at its members while it waits.
const LOOK: Duration = Duration::from_millis(250);

/// The consumer properties of group A: classic, cooperative-sticky, auto-commit on.
fn group_a(group: &str) -> (String, Vec<(String, String)>) {
    let props = [
        ("group.id", group),
        ("group.protocol", "classic"),
        ("partition.assignment.strategy", "cooperative-sticky"),
        ("enable.auto.commit", "true"),
        ("auto.commit.interval.ms", "1000"),
        ("auto.offset.reset", "earliest"),
        ("session.timeout.ms", "6000"),
        ("heartbeat.interval.ms", "500"),
        ("max.poll.interval.ms", "60000"),
    ];
    ("classic, cooperative-sticky".to_owned(), owned(&props))
}

/// The consumer properties of group B: KIP-848 (the broker assigns, with its own session and
/// heartbeat settings; `session.timeout.ms` only tells gregor's member the broker's session,
/// 10 s, after which it gives its partitions up unheard), or classic with the eager range
/// assignor.
fn group_b(group: &str, protocol: &str) -> (String, Vec<(String, String)>) {
    if protocol == "consumer" {
        let props = [
            ("group.id", group),
            ("group.protocol", "consumer"),
            ("session.timeout.ms", "10000"),
            ("enable.auto.commit", "true"),
            ("auto.commit.interval.ms", "1000"),
            ("auto.offset.reset", "earliest"),
        ];
        return ("consumer (KIP-848)".to_owned(), owned(&props));
    }
    let props = [
        ("group.id", group),
        ("group.protocol", "classic"),
        ("partition.assignment.strategy", "range"),
        ("enable.auto.commit", "true"),
        ("auto.commit.interval.ms", "1000"),
        ("auto.offset.reset", "earliest"),
        ("session.timeout.ms", "6000"),
        ("heartbeat.interval.ms", "500"),
        ("max.poll.interval.ms", "60000"),
    ];
    ("classic, range (eager)".to_owned(), owned(&props))
}

fn owned(props: &[(&str, &str)]) -> Vec<(String, String)> {
    props
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Sleeps `pause`, looking every [`LOOK`] that no member exited by itself.
async fn pause_watching(pause: Duration, groups: &[SoakGroup]) {
    let until = Instant::now() + pause;
    while Instant::now() < until {
        groups.iter().for_each(SoakGroup::check_running);
        tokio::time::sleep(LOOK.min(until.saturating_duration_since(Instant::now()))).await;
    }
}

/// Waits until every group has delivered the last offset of every partition.
async fn drain(groups: &mut [SoakGroup], produced: &Produced) {
    let started = Instant::now();
    loop {
        groups.iter().for_each(SoakGroup::check_running);
        let behind: Vec<u64> = groups
            .iter_mut()
            .map(|g| g.behind(&produced.ends))
            .collect();
        if behind.iter().all(|b| *b == 0) {
            return;
        }
        if started.elapsed() > DRAIN {
            let state: Vec<String> = groups.iter().map(SoakGroup::describe).collect();
            panic!(
                "the groups did not reach the ends within {DRAIN:?} of the producer's end: \
                 behind by {behind:?} records\n{}",
                state.join("\n")
            );
        }
        tokio::time::sleep(LOOK).await;
    }
}

/// Checks that `group`'s committed offsets are the ends of the partitions.
async fn committed_at_ends(admin: &Admin, group: &SoakGroup, produced: &Produced) {
    let group_id = group
        .setup
        .properties
        .iter()
        .find(|(k, _)| k == "group.id")
        .map(|(_, v)| v.clone())
        .expect("a group id");
    let committed = admin
        .fetch_offsets(&group_id, None, FetchOffsetsOptions::default())
        .await
        .expect("the group's offsets");
    let found: BTreeMap<i32, i64> = committed
        .into_iter()
        .filter_map(|(tp, c)| Some((tp.partition, c.ok()??.offset)))
        .collect();
    assert_eq!(
        found, produced.ends,
        "group {}: committed offsets after every member stopped (left) vs the partitions' ends \
         (right)",
        group.setup.name
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the group chaos soak takes minutes: .ci/test runs it (-- --ignored)"]
async fn two_groups_survive_joins_leaves_kills_and_cuts() {
    if !KafkaInstall::is_available() {
        eprintln!("skipped: Apache Kafka is not installed (run .ci/install-kafka.sh)");
        return;
    }
    let settings = SoakSettings::from_env();
    eprintln!(
        "soak: seed {} (GREGOR_SOAK_SEED repeats the schedule), {} records at {}/s, group B \
         protocol {}",
        settings.seed, settings.records, settings.rate, settings.group_b_protocol
    );
    let begun = Instant::now();
    let proxy = ChaosProxy::bind().expect("a proxy");
    let port = proxy.port();
    let kafka = tokio::task::spawn_blocking(move || {
        KafkaCluster::start(
            KafkaOptions::single()
                .with_security(false)
                .with_proxied_listener(port),
        )
    })
    .await
    .expect("the start")
    .expect("kafka starts");
    proxy.set_target(kafka.proxied_addr().expect("the proxied listener"));
    let client = test_client(&kafka.bootstrap(), "gregor-soak").await;
    let topic = unique_name("soak");
    create_topic(&client, &topic, PARTITIONS).await;

    let program = PathBuf::from(env!("CARGO_BIN_EXE_gregor-group-member"));
    let lifetime = settings.production() + DRAIN + Duration::from_secs(600);
    let setup = |name: &str, (kind, properties): (String, Vec<(String, String)>)| GroupSetup {
        name: name.to_owned(),
        kind,
        properties,
        topic: topic.clone(),
        bootstrap: proxy.bootstrap(),
        program: program.clone(),
        lifetime,
    };
    let mut groups = [
        SoakGroup::new(setup("A", group_a(&unique_name("soak-a")))),
        SoakGroup::new(setup(
            "B",
            group_b(&unique_name("soak-b"), &settings.group_b_protocol),
        )),
    ];
    for group in &mut groups {
        group.join();
        group.join();
    }
    let producer = RateProducer::start(client.clone(), &topic, settings.records, settings.rate);
    let chaos_started = Instant::now();
    let mut rng = Rng::new(settings.seed);
    let mut cuts = 0usize;
    let mut cut_connections = 0usize;
    while !producer.is_finished() {
        pause_watching(rng.between(PAUSE.0, PAUSE.1), &groups).await;
        if producer.is_finished() {
            break;
        }
        let running: Vec<usize> = groups.iter().map(SoakGroup::running).collect();
        let action = choose(&mut rng, &running);
        let what = match action {
            Action::Join(g) => format!("{} joins group {}", groups[g].join(), groups[g].setup.name),
            Action::Stop(g) => format!(
                "{} left group {}",
                groups[g].stop_one(&mut rng).await,
                groups[g].setup.name
            ),
            Action::Kill(g) => format!(
                "{} killed in group {}",
                groups[g].kill_one(&mut rng),
                groups[g].setup.name
            ),
            Action::Cut => {
                let open = proxy.open();
                proxy.cut_all();
                cuts += 1;
                cut_connections += open;
                format!("{open} connections cut")
            }
        };
        eprintln!(
            "soak {:>6.1} s ({} records sent): {what}",
            chaos_started.elapsed().as_secs_f64(),
            producer.sent()
        );
    }
    let produced = producer.finish().await;
    let drain_started = Instant::now();
    drain(&mut groups, &produced).await;
    let drained = drain_started.elapsed();
    for group in &mut groups {
        group.stop_all().await;
    }
    let admin = Admin::new(client.clone());
    for group in &groups {
        committed_at_ends(&admin, group, &produced).await;
    }
    let reports: Vec<AuditReport> = groups.iter().map(|g| g.audit(&produced.ends)).collect();
    let mut summary = format!(
        "soak summary: seed {}, {} records produced in {:.1} s ({:.0}/s), all read {:.1} s \
         later, {:.1} s in all; {cuts} cuts ({cut_connections} connections)",
        settings.seed,
        produced.records,
        produced.took.as_secs_f64(),
        produced.records as f64 / produced.took.as_secs_f64(),
        drained.as_secs_f64(),
        begun.elapsed().as_secs_f64(),
    );
    for (group, report) in groups.iter().zip(&reports) {
        summary.push_str(&format!(
            "\n  group {} ({}): members joined {}, left {}, killed {}; {report}",
            group.setup.name, group.setup.kind, group.joined, group.left, group.killed
        ));
    }
    eprintln!("{summary}");
    let clean = reports.iter().all(AuditReport::is_clean);
    let logs = match std::env::var_os("GREGOR_SOAK_LOG_DIR") {
        Some(dir) => Some(PathBuf::from(dir)),
        None if !clean => Some(std::env::temp_dir().join(format!("gregor-soak-{}", settings.seed))),
        None => None,
    };
    if let Some(dir) = logs {
        for group in &groups {
            group.write_logs(&dir).expect("the members' logs written");
        }
        eprintln!("soak: the members' logs are in {}", dir.display());
    }
    for (group, report) in groups.iter().zip(&reports) {
        assert!(
            report.is_clean(),
            "group {} broke an invariant:\n{summary}",
            group.setup.name
        );
        assert_eq!(
            report.delivered, produced.records,
            "group {}: every record delivered",
            group.setup.name
        );
    }
}

//! A bug the group chaos soak (`group_soak.rs`) found, reproduced on Apache Kafka with gregor
//! members as processes (`gregor-group-member`). Fixed: the close commits what the
//! application finished first, while the generation holds (as Java does); the rest of this
//! note says what used to happen.
//!
//! A member that closes while its JoinGroup is parked (the group waits for a member that was
//! killed and has not timed out yet) starts its close at once: it revokes everything and
//! commits what it read. The commit waits for the engine to stop the partitions (a fetch in
//! flight, up to `fetch.max.wait.ms`); when the parked join completes meanwhile, the closing
//! member takes the new generation from the JoinGroup answer (to leave as) and commits with it
//! while the group is completing the rebalance; Kafka refuses the commit
//! (REBALANCE_IN_PROGRESS), and as a leader the closing member does not even sync, so the
//! group stays there until its LeaveGroup. `close` returns the error (it did leave), and the
//! next owner reads again everything the member had read since its last commit: duplicates
//! after a graceful close.

use std::path::PathBuf;
use std::time::Duration;

use gregor_testkit::data::{BatchShape, create_topic, produce_batch, test_client, unique_name};
use gregor_testkit::kafka::group_peer::{GroupAudit, GroupPeer, MemberConfig, PeerEvent};
use gregor_testkit::kafka::{KafkaCluster, KafkaInstall};

const PARTITIONS: i32 = 4;
const WAIT: Duration = Duration::from_secs(45);

fn records(events: &[PeerEvent]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, PeerEvent::Records { .. }))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_closing_while_its_rejoin_is_parked_commits_what_it_read() {
    if !KafkaInstall::is_available() {
        eprintln!("skipped: Apache Kafka is not installed (run .ci/install-kafka.sh)");
        return;
    }
    let kafka = KafkaCluster::shared().expect("kafka starts");
    let client = test_client(&kafka.bootstrap(), "gregor-close-in-rebalance").await;
    let topic = unique_name("close-in-rebalance");
    create_topic(&client, &topic, PARTITIONS).await;
    let group = unique_name("close-in-rebalance");
    let program = PathBuf::from(env!("CARGO_BIN_EXE_gregor-group-member"));
    let start = |id: &str| {
        let props = [
            ("group.id", group.as_str()),
            ("client.id", id),
            ("partition.assignment.strategy", "cooperative-sticky"),
            ("enable.auto.commit", "true"),
            // No automatic commit before the close: the close's commit is the one that counts.
            ("auto.commit.interval.ms", "600000"),
            ("auto.offset.reset", "earliest"),
            ("session.timeout.ms", "6000"),
            ("heartbeat.interval.ms", "500"),
            // An idle fetch stays in flight this long: the close waits for it.
            ("fetch.max.wait.ms", "5000"),
        ];
        GroupPeer::gregor(
            &program,
            &kafka.bootstrap(),
            &MemberConfig::new(&props, &[&topic]),
        )
        .expect("a member starts")
    };
    let produce = || async {
        for p in 0..PARTITIONS {
            produce_batch(&client, &topic, p, &["x"; 10], &BatchShape::default()).await;
        }
    };
    produce().await;
    let mut a = start("a");
    a.until(|es| records(es) == PARTITIONS as usize, WAIT)
        .await
        .expect("a reads every partition");
    let mut c = start("c");
    c.until(
        |es| {
            es.iter()
                .any(|e| matches!(e, PeerEvent::Assigned(ps) if !ps.is_empty()))
        },
        WAIT,
    )
    .await
    .expect("c gets its share");
    tokio::time::sleep(Duration::from_secs(2)).await;
    // c dies: it stays in the group until its session (6 s) times out, and d's join parks
    // every member's rejoin until then.
    c.kill();
    let mut d = start("d");
    tokio::time::sleep(Duration::from_millis(4_500)).await;
    a.stop_async().await.expect("a closes");
    produce().await;
    d.until(
        |es| {
            let mut ends = [0i64; PARTITIONS as usize];
            for e in es {
                if let PeerEvent::Records {
                    partition, last, ..
                } = e
                {
                    ends[*partition as usize] = ends[*partition as usize].max(last + 1);
                }
            }
            ends.iter().all(|e| *e == 20)
        },
        WAIT,
    )
    .await
    .expect("d reads to the end");
    d.stop_async().await.expect("d closes");
    let produced = (0..PARTITIONS).map(|p| ((topic.clone(), p), 20)).collect();
    let mut audit = GroupAudit::new(produced);
    audit.add_member("a", &a.events(), false);
    audit.add_member("c", &c.events(), true);
    audit.add_member("d", &d.events(), false);
    let report = audit.report();
    assert!(
        report.is_clean() && report.commit_failures == 0,
        "a's close lost its commit: {report}"
    );
}

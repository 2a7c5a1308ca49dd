//! What a three-node Apache Kafka cluster answers when a partition leader or a group
//! coordinator moves, measured with raw requests on gregor's connections (the rows "leader
//! epochs" and "moved coordinator" of testkit's conformance table; our MockCluster's answers
//! to the same moves are checked in `fetch_conformance.rs` and testkit's `mock_group_wire.rs`).
//!
//! The moves are real: the node leading the partition (or the group's `__consumer_offsets`
//! partition) is killed with SIGKILL, the controller fences it and elects another leader, and
//! the node is then restarted as a follower. Both tests share one cluster and take turns.
//!
//! Needs `.ci/install-kafka.sh` and Java; skipped (with a message) without them.

use std::sync::OnceLock;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use gregor_client::admin::{CreateTopicsOptions, NewTopic};
use gregor_client::{Admin, Client, Connection, Purpose};
use gregor_protocol::ErrorCode;
use gregor_protocol::messages::find_coordinator::FindCoordinatorRequest;
use gregor_protocol::messages::join_group::JoinGroupRequestProtocol;
use gregor_protocol::messages::offset_commit::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use gregor_protocol::messages::offset_fetch::{OffsetFetchRequestGroup, OffsetFetchRequestTopics};
use gregor_protocol::messages::sync_group::SyncGroupRequestAssignment;
use gregor_protocol::messages::{
    FetchRequest, HeartbeatRequest, JoinGroupRequest, OffsetCommitRequest, OffsetFetchRequest,
    SyncGroupRequest,
};
use gregor_testkit::data::{partition_fetch, produce, test_client, unique_name, within};
use gregor_testkit::kafka::{KafkaCluster, KafkaInstall, KafkaOptions};

/// The cluster both tests use, started by the first; `None` when Kafka is not installed.
fn cluster() -> Option<&'static KafkaCluster> {
    static CLUSTER: OnceLock<Option<KafkaCluster>> = OnceLock::new();
    CLUSTER
        .get_or_init(|| {
            if !KafkaInstall::is_available() {
                eprintln!("skipped: Apache Kafka is not installed (run .ci/install-kafka.sh)");
                return None;
            }
            let cluster =
                KafkaCluster::start(KafkaOptions::cluster(3)).expect("a three-node Kafka cluster");
            eprintln!("three nodes answered in {:?}", cluster.started_in());
            Some(cluster)
        })
        .as_ref()
}

/// Kills take turns: one test's move must not land in the other's measurement.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn code(raw: i16) -> ErrorCode {
    ErrorCode::from_code(raw)
}

fn node(id: i32) -> usize {
    usize::try_from(id).expect("node ids are positive")
}

/// A node killed by a test. Dropped without [`Killed::restart`] (the test failed on the way),
/// it restarts the node anyway, so the other test finds three nodes.
struct Killed {
    kafka: &'static KafkaCluster,
    id: i32,
    restarted: bool,
}

async fn kill(kafka: &'static KafkaCluster, id: i32) -> Killed {
    tokio::task::spawn_blocking(move || kafka.kill(node(id)))
        .await
        .unwrap()
        .expect("kill");
    Killed {
        kafka,
        id,
        restarted: false,
    }
}

impl Killed {
    async fn restart(mut self) {
        let (kafka, id) = (self.kafka, self.id);
        self.restarted = true;
        tokio::task::spawn_blocking(move || kafka.restart(node(id)))
            .await
            .unwrap()
            .expect("restart");
    }
}

impl Drop for Killed {
    fn drop(&mut self) {
        if !self.restarted {
            let _ = self.kafka.restart(node(self.id));
        }
    }
}

/// Polls `f` every 100 ms until it returns `Some`, failing the test after the deadline.
async fn eventually<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    within(what, async {
        loop {
            if let Some(v) = f().await {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
}

async fn create_replicated_topic(client: &Client, topic: &str) {
    let created = Admin::new(client.clone())
        .create_topics(
            vec![NewTopic::new(topic, 1, 3).config("min.insync.replicas", "2")],
            CreateTopicsOptions::default().wait_for_leaders(true),
        )
        .await
        .expect("CreateTopics answered");
    assert!(matches!(created.get(topic), Some(Ok(_))), "{created:?}");
}

/// Fetches partition 0 of `topic` at offset 0 from `conn` with `current_leader_epoch`;
/// returns the partition's error.
async fn fetch_with_epoch(
    client: &Client,
    conn: &Connection,
    topic: &str,
    epoch: i32,
) -> ErrorCode {
    let version = conn.version_for::<FetchRequest>().expect("Fetch");
    fetch_at_version(client, conn, topic, epoch, version).await
}

/// [`fetch_with_epoch`] at Fetch `version`.
async fn fetch_at_version(
    client: &Client,
    conn: &Connection,
    topic: &str,
    epoch: i32,
    version: i16,
) -> ErrorCode {
    let topic_id = client
        .metadata()
        .topic(topic)
        .map(|t| t.id)
        .unwrap_or_default();
    let mut request = partition_fetch(topic, topic_id, 0, 0, 1 << 20, 0, version);
    request.topics[0].partitions[0].current_leader_epoch = epoch;
    let response = within("Fetch", conn.send_versioned(&request, version))
        .await
        .expect("Fetch answered");
    let p = response
        .responses
        .first()
        .and_then(|t| t.partitions.first())
        .unwrap_or_else(|| panic!("no partition in {response:?}"));
    code(p.error_code)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moved_leader_fences_older_epochs_and_its_old_node_serves_as_a_follower() {
    let Some(kafka) = cluster() else { return };
    let _turn = TURN.lock().await;
    let client = test_client(&kafka.bootstrap(), "gregor-leader-moves").await;
    let topic = unique_name("moved-leader");
    create_replicated_topic(&client, &topic).await;
    produce(&client, &topic, 0, &["a", "b", "c"], 3).await;
    let (old_leader, old_epoch) = client.leader(&topic, 0).await.expect("leader");

    let killed = kill(kafka, old_leader).await;
    let (new_leader, new_epoch) = eventually("a new leader", || async {
        let fresh = client
            .refresh_metadata(Some(std::slice::from_ref(&topic)))
            .await
            .ok()?;
        let (addr, epoch) = fresh.leader(&topic, 0)?;
        (addr.id != old_leader).then_some((addr.id, epoch))
    })
    .await;
    assert!(new_epoch > old_epoch, "the election bumped the epoch");
    let conn = client
        .connection(new_leader, Purpose::Control)
        .await
        .expect("a connection to the new leader");
    // The metadata may name the new epoch before the new leader has applied it: until then
    // it answers UNKNOWN_LEADER_EPOCH, which clients retry.
    let served = eventually("the new leader serves its epoch", || async {
        let code = fetch_with_epoch(&client, &conn, &topic, new_epoch).await;
        (code != ErrorCode::UnknownLeaderEpoch).then_some(code)
    })
    .await;
    assert_eq!(served, ErrorCode::None);
    assert_eq!(
        fetch_with_epoch(&client, &conn, &topic, old_epoch).await,
        ErrorCode::FencedLeaderEpoch,
        "a fetch naming the epoch before the election"
    );
    assert_eq!(
        fetch_with_epoch(&client, &conn, &topic, new_epoch + 1).await,
        ErrorCode::UnknownLeaderEpoch,
        "a fetch naming an epoch the leader does not know yet"
    );

    // The old leader comes back as a follower. Consumers' fetches from Fetch v11 on carry
    // client metadata (KIP-392), and a follower serves them (up to its high watermark);
    // older versions must go to the leader.
    killed.restart().await;
    let old = client
        .connection(old_leader, Purpose::Control)
        .await
        .expect("a connection to the restarted node");
    let answer = eventually("the restarted node knows the new epoch", || async {
        let code = fetch_with_epoch(&client, &old, &topic, new_epoch).await;
        // Until it has replayed the metadata log it may not know the partition yet.
        (code != ErrorCode::UnknownTopicOrPartition && code != ErrorCode::UnknownLeaderEpoch)
            .then_some(code)
    })
    .await;
    assert_eq!(
        answer,
        ErrorCode::None,
        "a follower serves a v11+ consumer fetch"
    );
    assert_eq!(
        fetch_at_version(&client, &old, &topic, new_epoch, 10).await,
        ErrorCode::NotLeaderOrFollower,
        "a follower refuses a v10 consumer fetch"
    );
    assert_eq!(
        fetch_at_version(&client, &old, &topic, old_epoch, 12).await,
        ErrorCode::FencedLeaderEpoch,
        "a follower fences the old epoch too"
    );
}

/// ConsumerProtocolSubscription v0 for `topic`.
fn subscription(topic: &str) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i16(0);
    b.put_i32(1);
    b.put_i16(i16::try_from(topic.len()).unwrap());
    b.put_slice(topic.as_bytes());
    b.put_i32(-1);
    b.freeze()
}

/// The node FindCoordinator (asked of `conn`) names for `group`, or its error.
async fn find_coordinator(conn: &Connection, group: &str) -> Result<i32, ErrorCode> {
    let version = conn
        .version_for::<FindCoordinatorRequest>()
        .expect("FindCoordinator");
    let request = FindCoordinatorRequest {
        key: if version < 4 {
            group.to_owned()
        } else {
            String::new()
        },
        key_type: 0,
        coordinator_keys: if version >= 4 {
            vec![group.to_owned()]
        } else {
            Vec::new()
        },
        ..Default::default()
    };
    let response = within("FindCoordinator", conn.send_versioned(&request, version))
        .await
        .expect("FindCoordinator answered");
    let (error, node) = match response.coordinators.first() {
        Some(c) => (c.error_code, c.node_id),
        None => (response.error_code, response.node_id),
    };
    match code(error) {
        ErrorCode::None => Ok(node),
        other => Err(other),
    }
}

/// A member of a classic group, driven by hand.
struct Member {
    group: String,
    id: String,
    generation: i32,
}

impl Member {
    /// Joins (with KIP-394's member id round trip) and syncs as the only member, at
    /// `coordinator`; `None` when the coordinator answered a coordinator error (not loaded yet).
    async fn join(conn: &Connection, group: &str, topic: &str) -> Result<Member, ErrorCode> {
        let join = |member_id: String| JoinGroupRequest {
            group_id: group.to_owned(),
            session_timeout_ms: 30_000,
            rebalance_timeout_ms: 10_000,
            member_id,
            protocol_type: "consumer".into(),
            protocols: vec![JoinGroupRequestProtocol {
                name: "range".into(),
                metadata: subscription(topic),
                ..Default::default()
            }],
            ..Default::default()
        };
        let mut joined = within("JoinGroup", conn.send(join(String::new())))
            .await
            .expect("JoinGroup answered");
        if code(joined.error_code) == ErrorCode::MemberIdRequired {
            joined = within("JoinGroup", conn.send(join(joined.member_id.clone())))
                .await
                .expect("JoinGroup answered");
        }
        if code(joined.error_code) != ErrorCode::None {
            return Err(code(joined.error_code));
        }
        let member = Member {
            group: group.to_owned(),
            id: joined.member_id.clone(),
            generation: joined.generation_id,
        };
        let synced = within(
            "SyncGroup",
            conn.send(SyncGroupRequest {
                group_id: group.to_owned(),
                generation_id: member.generation,
                member_id: member.id.clone(),
                protocol_type: Some("consumer".into()),
                protocol_name: Some("range".into()),
                assignments: vec![SyncGroupRequestAssignment {
                    member_id: member.id.clone(),
                    assignment: Bytes::new(),
                    ..Default::default()
                }],
                ..Default::default()
            }),
        )
        .await
        .expect("SyncGroup answered");
        match code(synced.error_code) {
            ErrorCode::None => Ok(member),
            other => Err(other),
        }
    }

    async fn heartbeat(&self, conn: &Connection) -> ErrorCode {
        let r = within(
            "Heartbeat",
            conn.send(HeartbeatRequest {
                group_id: self.group.clone(),
                generation_id: self.generation,
                member_id: self.id.clone(),
                ..Default::default()
            }),
        )
        .await
        .expect("Heartbeat answered");
        code(r.error_code)
    }

    async fn commit(&self, conn: &Connection, topic: &str, offset: i64) -> ErrorCode {
        let r = within(
            "OffsetCommit",
            conn.send(OffsetCommitRequest {
                group_id: self.group.clone(),
                generation_id_or_member_epoch: self.generation,
                member_id: self.id.clone(),
                retention_time_ms: -1,
                topics: vec![OffsetCommitRequestTopic {
                    name: topic.to_owned(),
                    partitions: vec![OffsetCommitRequestPartition {
                        partition_index: 0,
                        committed_offset: offset,
                        committed_leader_epoch: -1,
                        committed_metadata: Some("moved".into()),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }),
        )
        .await
        .expect("OffsetCommit answered");
        code(r.topics[0].partitions[0].error_code)
    }
}

/// The committed offset of `topic`'s partition 0 for `group`, asked of `conn`.
async fn committed(conn: &Connection, group: &str, topic: &str) -> Result<i64, ErrorCode> {
    let version = conn
        .version_for::<OffsetFetchRequest>()
        .expect("OffsetFetch");
    let request = if version >= 8 {
        OffsetFetchRequest {
            groups: vec![OffsetFetchRequestGroup {
                group_id: group.to_owned(),
                topics: Some(vec![OffsetFetchRequestTopics {
                    name: topic.to_owned(),
                    partition_indexes: vec![0],
                    ..Default::default()
                }]),
                ..Default::default()
            }],
            ..Default::default()
        }
    } else {
        panic!("OffsetFetch v{version}: the test speaks v8+ (Kafka 4.1 serves up to v9)")
    };
    let r = within("OffsetFetch", conn.send_versioned(&request, version))
        .await
        .expect("OffsetFetch answered");
    let g = &r.groups[0];
    if code(g.error_code) != ErrorCode::None {
        return Err(code(g.error_code));
    }
    let p = &g.topics[0].partitions[0];
    match code(p.error_code) {
        ErrorCode::None => Ok(p.committed_offset),
        other => Err(other),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moved_coordinator_keeps_the_group_and_its_old_node_answers_not_coordinator() {
    let Some(kafka) = cluster() else { return };
    let _turn = TURN.lock().await;
    let client = test_client(&kafka.bootstrap(), "gregor-coordinator-moves").await;
    let topic = unique_name("moved-coordinator");
    create_replicated_topic(&client, &topic).await;
    let group = unique_name("moved-group");
    let any = client.any_broker().await.expect("a broker");

    // Join and commit at the coordinator (a cold one first answers coordinator errors).
    let (old, member) = eventually("a stable member at the coordinator", || async {
        let id = find_coordinator(&any, &group).await.ok()?;
        let conn = client.connection(id, Purpose::Control).await.ok()?;
        let member = Member::join(&conn, &group, &topic).await.ok()?;
        Some((id, member))
    })
    .await;
    let old_conn = client.connection(old, Purpose::Control).await.unwrap();
    assert_eq!(member.commit(&old_conn, &topic, 4).await, ErrorCode::None);
    assert_eq!(committed(&old_conn, &group, &topic).await, Ok(4));

    let killed = kill(kafka, old).await;
    // Another node takes over the group's __consumer_offsets partition.
    let survivor = client
        .metadata()
        .brokers()
        .iter()
        .map(|b| b.id)
        .find(|id| *id != old)
        .expect("another broker");
    let survivor = client.connection(survivor, Purpose::Control).await.unwrap();
    let new = eventually("a new coordinator", || async {
        find_coordinator(&survivor, &group)
            .await
            .ok()
            .filter(|id| *id != old)
    })
    .await;
    let new_conn = client.connection(new, Purpose::Control).await.unwrap();
    // The new coordinator loaded the group from the log: same member, same generation, and
    // the offset committed at the old one.
    let beat = eventually("the new coordinator loaded the group", || async {
        // Until the new leader of the offsets partition has loaded it, it answers
        // NOT_COORDINATOR or COORDINATOR_LOAD_IN_PROGRESS.
        let code = member.heartbeat(&new_conn).await;
        (!matches!(
            code,
            ErrorCode::CoordinatorLoadInProgress | ErrorCode::NotCoordinator
        ))
        .then_some(code)
    })
    .await;
    assert_eq!(
        beat,
        ErrorCode::None,
        "the member's generation survives the move"
    );
    // For a moment the new coordinator may answer no offset (-1, no error): it serves reads
    // from what its log holds up to its high watermark, which starts below the old leader's
    // (measured: 1 run in 8). The offset then shows.
    let mut no_offset_answers = 0;
    let offset = within("the committed offset at the new coordinator", async {
        loop {
            match committed(&new_conn, &group, &topic).await {
                Err(ErrorCode::CoordinatorLoadInProgress) => {}
                Ok(-1) => no_offset_answers += 1,
                other => return other,
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    if no_offset_answers > 0 {
        eprintln!("the new coordinator answered no offset {no_offset_answers} times first");
    }
    assert_eq!(offset, Ok(4), "the offset committed at the old coordinator");
    assert_eq!(member.commit(&new_conn, &topic, 5).await, ErrorCode::None);

    // The old node comes back as a follower of that partition: NOT_COORDINATOR.
    killed.restart().await;
    let old_conn = client.connection(old, Purpose::Control).await.unwrap();
    assert_eq!(member.heartbeat(&old_conn).await, ErrorCode::NotCoordinator);
    assert_eq!(
        member.commit(&old_conn, &topic, 6).await,
        ErrorCode::NotCoordinator
    );
    assert_eq!(find_coordinator(&old_conn, &group).await, Ok(new));
    assert_eq!(committed(&new_conn, &group, &topic).await, Ok(5));
}

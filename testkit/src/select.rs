//! Which broker a test runs against.
//!
//! [`TestBroker::start`] keeps the simple rule: `KAFKA_BOOTSTRAP_SERVERS`, when set, points
//! every broker-backed test at the user's own cluster (for example Apache Kafka from the
//! testkit's `gregor-kafka` binary); otherwise a test gets a tansu broker started here.
//!
//! [`TestBroker::start_kind`] picks a [`BrokerKind`] explicitly, so one test can run against
//! several brokers in turn:
//!
//! ```no_run
//! use gregor_testkit::{BrokerKind, TestBroker};
//!
//! for kind in BrokerKind::from_env() {
//!     let broker = TestBroker::start_kind(kind).expect("broker");
//!     let bootstrap = broker.bootstrap();
//!     // ... run the same checks against every kind ...
//!     # let _ = bootstrap;
//! }
//! ```
//!
//! # Sync and async
//! Our [`MockCluster`] is async (its listeners are tokio tasks) while tansu is a process and
//! librdkafka's mock runs threads of its own. [`TestBroker::start_kind`] is a plain function
//! usable from sync and async tests alike: it starts a [`BrokerKind::Mock`] on a runtime of its
//! own (one worker thread, owned by the [`MockBroker`], shut down with it), so the broker keeps
//! serving whatever the test's runtime does. [`TestBroker::start_kind_async`] instead starts the
//! mock on the caller's runtime, where `tokio::time::pause` drives its timers too; the other
//! kinds start on a blocking thread there.

use std::str::FromStr;

use crate::kafka::{KafkaCluster, KafkaError, KafkaInstall};
use crate::mock::{ControlError, MockCluster};
use crate::tansu::{StartError, Tansu};

#[cfg(feature = "rdkafka-mock")]
use crate::rdkafka_mock::{RdkafkaMock, RdkafkaMockError};

/// The brokers a mock started by [`TestBroker::start_kind`] has (ours and librdkafka's).
pub const MOCK_BROKERS: usize = 3;

/// A kind of broker to test against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BrokerKind {
    /// Our [`MockCluster`], [`MOCK_BROKERS`] brokers, topics auto-created on Metadata like
    /// Kafka's default `auto.create.topics.enable`.
    Mock,
    /// librdkafka's mock cluster (module `rdkafka_mock`), [`MOCK_BROKERS`] brokers; needs
    /// the `rdkafka-mock` feature of gregor-testkit.
    RdkafkaMock,
    /// A tansu broker process ([`Tansu`]); needs tansu installed.
    Tansu,
    /// Apache Kafka itself: this process's shared single-node cluster
    /// ([`KafkaCluster::shared`]); needs `.ci/install-kafka.sh` and Java.
    Kafka,
    /// The cluster named by `KAFKA_BOOTSTRAP_SERVERS`.
    External,
}

impl BrokerKind {
    /// Every kind, in a fixed order.
    pub const ALL: [BrokerKind; 5] = [
        BrokerKind::Mock,
        BrokerKind::RdkafkaMock,
        BrokerKind::Tansu,
        BrokerKind::Kafka,
        BrokerKind::External,
    ];

    /// The kind's name, as [`FromStr`] and `GREGOR_TEST_BROKERS` spell it.
    pub fn name(self) -> &'static str {
        match self {
            BrokerKind::Mock => "mock",
            BrokerKind::RdkafkaMock => "rdkafka-mock",
            BrokerKind::Tansu => "tansu",
            BrokerKind::Kafka => "kafka",
            BrokerKind::External => "external",
        }
    }

    /// Whether this kind can start here: the mock always; librdkafka's mock with the feature;
    /// tansu when installed; Kafka when its jars and Java are there; external when
    /// `KAFKA_BOOTSTRAP_SERVERS` is set.
    pub fn is_available(self) -> bool {
        match self {
            BrokerKind::Mock => true,
            BrokerKind::RdkafkaMock => cfg!(feature = "rdkafka-mock"),
            BrokerKind::Tansu => Tansu::binary().is_file(),
            BrokerKind::Kafka => KafkaInstall::is_available(),
            BrokerKind::External => external_servers().is_some(),
        }
    }

    /// Every kind that can start here.
    pub fn available() -> Vec<BrokerKind> {
        BrokerKind::ALL
            .into_iter()
            .filter(|k| k.is_available())
            .collect()
    }

    /// The kinds named by `GREGOR_TEST_BROKERS` (comma separated names, e.g.
    /// `mock,rdkafka-mock`; unknown names are skipped with a warning on stderr), or else every
    /// [available](Self::available) kind.
    pub fn from_env() -> Vec<BrokerKind> {
        match std::env::var("GREGOR_TEST_BROKERS") {
            Ok(list) if !list.trim().is_empty() => list
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .filter_map(|s| match s.parse() {
                    Ok(k) => Some(k),
                    Err(e) => {
                        eprintln!("GREGOR_TEST_BROKERS: {e}");
                        None
                    }
                })
                .collect(),
            _ => BrokerKind::available(),
        }
    }
}

impl FromStr for BrokerKind {
    type Err = SelectError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        BrokerKind::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| SelectError::UnknownKind(s.to_owned()))
    }
}

impl std::fmt::Display for BrokerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a broker of some kind could not be had.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SelectError {
    /// No kind has this name.
    #[error("unknown broker kind {0:?} (mock, rdkafka-mock, tansu, kafka, external)")]
    UnknownKind(String),
    /// The kind cannot start here.
    #[error("broker kind {kind} is not available: {why}")]
    Unavailable {
        /// The kind.
        kind: BrokerKind,
        /// Why not.
        why: &'static str,
    },
    /// tansu did not start.
    #[error(transparent)]
    Tansu(#[from] StartError),
    /// Apache Kafka did not start.
    #[error(transparent)]
    Kafka(#[from] KafkaError),
    /// Our mock cluster did not start.
    #[error("starting the mock cluster: {0}")]
    Mock(#[from] crate::mock::StartError),
    /// librdkafka's mock cluster did not start or refused a command.
    #[cfg(feature = "rdkafka-mock")]
    #[error(transparent)]
    RdkafkaMock(#[from] RdkafkaMockError),
    /// Our mock cluster refused a control call.
    #[error(transparent)]
    Control(#[from] ControlError),
    /// The runtime or thread for a broker could not be made.
    #[error("starting a broker's runtime: {0}")]
    Io(#[from] std::io::Error),
}

fn external_servers() -> Option<String> {
    std::env::var("KAFKA_BOOTSTRAP_SERVERS")
        .ok()
        .filter(|s| !s.trim().is_empty())
}

/// Our [`MockCluster`] for a test, with the runtime it runs on when it has one of its own.
#[derive(Debug)]
pub struct MockBroker {
    cluster: MockCluster,
    /// The cluster's own runtime (from [`TestBroker::start_kind`]); `None` when it runs on the
    /// test's runtime.
    runtime: Option<tokio::runtime::Runtime>,
}

impl MockBroker {
    fn builder() -> crate::mock::MockClusterBuilder {
        MockCluster::builder()
            .brokers(MOCK_BROKERS)
            .auto_create_topics(true)
    }

    /// Starts a mock on a runtime of its own (from any context, sync or async).
    fn start_detached() -> Result<MockBroker, SelectError> {
        // Built and entered on a fresh thread, since `block_on` is refused inside a runtime.
        let started = std::thread::scope(|s| {
            s.spawn(|| -> Result<_, SelectError> {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .thread_name("gregor-mock-broker")
                    .enable_all()
                    .build()?;
                let cluster = runtime.block_on(Self::builder().start())?;
                Ok((runtime, cluster))
            })
            .join()
        });
        let (runtime, cluster) = started.map_err(|_| {
            SelectError::Io(std::io::Error::other("the mock's start thread panicked"))
        })??;
        Ok(MockBroker {
            cluster,
            runtime: Some(runtime),
        })
    }

    /// The cluster, for its control API. Its async calls may be awaited on any runtime.
    pub fn cluster(&self) -> &MockCluster {
        &self.cluster
    }
}

impl Drop for MockBroker {
    fn drop(&mut self) {
        // Drops the runtime's tasks (listeners and connections) without blocking, which is
        // allowed inside an async context too; the cluster itself is dropped after.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// A test's handle on this process's shared Apache Kafka cluster
/// ([`KafkaCluster::shared`]). The cluster outlives the handle; a handle dropped while its
/// test panics keeps the cluster's directory and prints the end of the broker's log.
#[derive(Debug)]
pub struct SharedKafka(&'static KafkaCluster);

impl SharedKafka {
    /// The cluster.
    pub fn cluster(&self) -> &'static KafkaCluster {
        self.0
    }
}

impl Drop for SharedKafka {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.keep_for_inspection();
        }
    }
}

/// A broker for one test: either an external cluster or one this process started (and stops on
/// drop).
#[derive(Debug)]
#[non_exhaustive]
pub enum TestBroker {
    /// The cluster named by `KAFKA_BOOTSTRAP_SERVERS`.
    External(String),
    /// A tansu broker started for this test.
    Tansu(Tansu),
    /// This process's shared Apache Kafka cluster.
    Kafka(SharedKafka),
    /// Our mock cluster.
    Mock(MockBroker),
    /// librdkafka's mock cluster.
    #[cfg(feature = "rdkafka-mock")]
    RdkafkaMock(RdkafkaMock),
}

impl TestBroker {
    /// `KAFKA_BOOTSTRAP_SERVERS` if set, else a fresh tansu broker.
    pub fn start() -> Result<TestBroker, StartError> {
        match external_servers() {
            Some(servers) => Ok(TestBroker::External(servers)),
            None => Tansu::start().map(TestBroker::Tansu),
        }
    }

    /// A broker of `kind`; see the [module docs](self) for sync and async use.
    pub fn start_kind(kind: BrokerKind) -> Result<TestBroker, SelectError> {
        match kind {
            BrokerKind::Mock => MockBroker::start_detached().map(TestBroker::Mock),
            other => Self::start_blocking(other),
        }
    }

    /// A broker of `kind`, with our mock started on the caller's tokio runtime (so that
    /// `tokio::time::pause` applies to it); other kinds start on a blocking thread.
    pub async fn start_kind_async(kind: BrokerKind) -> Result<TestBroker, SelectError> {
        match kind {
            BrokerKind::Mock => {
                let cluster = MockBroker::builder().start().await?;
                Ok(TestBroker::Mock(MockBroker {
                    cluster,
                    runtime: None,
                }))
            }
            other => tokio::task::spawn_blocking(move || Self::start_blocking(other))
                .await
                .map_err(|e| SelectError::Io(std::io::Error::other(e.to_string())))?,
        }
    }

    /// Every kind but our mock: none needs a runtime.
    fn start_blocking(kind: BrokerKind) -> Result<TestBroker, SelectError> {
        match kind {
            BrokerKind::External => {
                external_servers()
                    .map(TestBroker::External)
                    .ok_or(SelectError::Unavailable {
                        kind,
                        why: "KAFKA_BOOTSTRAP_SERVERS is not set",
                    })
            }
            BrokerKind::Tansu => Ok(TestBroker::Tansu(Tansu::start()?)),
            BrokerKind::Kafka => Ok(TestBroker::Kafka(SharedKafka(KafkaCluster::shared()?))),
            #[cfg(feature = "rdkafka-mock")]
            BrokerKind::RdkafkaMock => Ok(TestBroker::RdkafkaMock(RdkafkaMock::start(
                MOCK_BROKERS as i32,
            )?)),
            #[cfg(not(feature = "rdkafka-mock"))]
            BrokerKind::RdkafkaMock => Err(SelectError::Unavailable {
                kind,
                why: "gregor-testkit was built without its rdkafka-mock feature",
            }),
            BrokerKind::Mock => MockBroker::start_detached().map(TestBroker::Mock),
        }
    }

    /// Which kind this is.
    pub fn kind(&self) -> BrokerKind {
        match self {
            TestBroker::External(_) => BrokerKind::External,
            TestBroker::Tansu(_) => BrokerKind::Tansu,
            TestBroker::Kafka(_) => BrokerKind::Kafka,
            TestBroker::Mock(_) => BrokerKind::Mock,
            #[cfg(feature = "rdkafka-mock")]
            TestBroker::RdkafkaMock(_) => BrokerKind::RdkafkaMock,
        }
    }

    /// The bootstrap servers, comma separated.
    pub fn bootstrap(&self) -> String {
        match self {
            TestBroker::External(s) => s.clone(),
            TestBroker::Tansu(t) => t.bootstrap(),
            TestBroker::Kafka(k) => k.cluster().bootstrap(),
            TestBroker::Mock(m) => m.cluster().bootstrap(),
            #[cfg(feature = "rdkafka-mock")]
            TestBroker::RdkafkaMock(r) => r.bootstrap(),
        }
    }

    /// Whether this is an external cluster (tests that need a specific broker may skip).
    pub fn is_external(&self) -> bool {
        matches!(self, TestBroker::External(_))
    }

    /// Apache Kafka, for its listeners, certificates and Java peer, if this is it.
    pub fn kafka(&self) -> Option<&'static KafkaCluster> {
        match self {
            TestBroker::Kafka(k) => Some(k.cluster()),
            _ => None,
        }
    }

    /// Our mock cluster, for its control API, if this is one.
    pub fn mock(&self) -> Option<&MockCluster> {
        match self {
            TestBroker::Mock(m) => Some(m.cluster()),
            _ => None,
        }
    }

    /// Creates a topic on a mock (ours or librdkafka's) from outside the protocol; on tansu and
    /// external clusters use CreateTopics (or auto-creation) instead:
    /// [`SelectError::Unavailable`].
    pub async fn create_topic(&self, name: &str, partitions: i32) -> Result<(), SelectError> {
        match self {
            TestBroker::Mock(m) => Ok(m.cluster().create_topic(name, partitions).await?),
            #[cfg(feature = "rdkafka-mock")]
            TestBroker::RdkafkaMock(r) => Ok(r.create_topic(name, partitions, 3)?),
            other => Err(SelectError::Unavailable {
                kind: other.kind(),
                why: "topics are created through the protocol on this kind",
            }),
        }
    }
}

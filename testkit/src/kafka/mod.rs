//! Apache Kafka itself as a test broker: real Kafka 4.1 nodes in KRaft combined mode
//! (broker and controller in one JVM) on loopback, started from the jars that
//! `.ci/install-kafka.sh` resolves from Maven Central ([`install`]).
//!
//! Apache Kafka is the reference the other test brokers are measured against (the conformance
//! table in testkit's README).
//!
//! - [`KafkaCluster::start`] formats the storage of each node (one cluster id, SCRAM users
//!   created at format time), starts the JVMs, and waits until every node answers ApiVersions
//!   on its PLAINTEXT listener. Nodes are killed when the cluster is dropped and when the test
//!   process dies (a shell watchdog per JVM). A cluster dropped while its thread panics keeps
//!   its directory and prints the tail of every node's log, so a failing test shows why.
//! - [`KafkaCluster::shared`] is one single-node cluster per test process, with every listener
//!   ([`Listener`]): PLAINTEXT, SSL (a [`TestPki`] generated for it), SASL_PLAINTEXT and
//!   SASL_SSL with PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 for [`SASL_USER`]. Tests share it
//!   with unique topic and group names; `BrokerKind::Kafka` hands it out.
//! - [`KafkaOptions::cluster`] makes a multi-node cluster (three voters) for failover tests:
//!   [`KafkaCluster::kill`] (SIGKILL), [`KafkaCluster::stop`] (controlled shutdown) and
//!   [`KafkaCluster::restart`].
//! - [`peer`]: Java's own client of the same version (`kafka-clients`), driven by a script,
//!   the reference peer for interoperability tests.
//! - [`assignor_peer`]: Java's built-in consumer assignors run on a batch of group assignment
//!   cases, the reference for gregor's assignors.
//! - [`group_peer`]: Java's `KafkaConsumer` and librdkafka's consumer (Python's
//!   `confluent_kafka`) as long-running members of a consumer group, their rebalances and
//!   deliveries parsed into an event log, for tests that put gregor's group consumer among them.

pub mod assignor_peer;
mod config;
pub mod group_peer;
pub mod install;
mod node;
pub mod peer;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

pub use self::config::{
    KafkaOptions, Listener, RETENTION_CHECK_INTERVAL, SASL_MECHANISMS, SASL_PASSWORD, SASL_USER,
};
use self::config::{NodeLayout, node_properties, scram_format_args};
pub use self::install::{KAFKA_VERSION, KafkaInstall};
use self::node::{NodeProcess, READY_TIMEOUT};
use crate::certs::TestPki;

/// The logging configuration of the broker and the Java peer (warnings, and "Kafka Server
/// started").
const LOG4J2_PROPERTIES: &str = include_str!("../../kafka/log4j2.properties");

/// Why a Kafka cluster could not be had or changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KafkaError {
    /// The jars are not where [`KafkaInstall::libs_dir`] says.
    #[error("Apache Kafka's jars are not installed in {0} (run .ci/install-kafka.sh)")]
    NotInstalled(PathBuf),
    /// No Java runtime was found.
    #[error("no java found (set GREGOR_JAVA or JAVA_HOME, or put java on the PATH)")]
    NoJava,
    /// A file or process operation failed.
    #[error("kafka test cluster: {0}")]
    Io(#[from] std::io::Error),
    /// The test certificates could not be made.
    #[error("kafka test cluster: certificates: {0}")]
    Pki(#[from] rcgen::Error),
    /// `kafka-storage format` failed.
    #[error("formatting node {node}'s storage failed:\n{output}")]
    Format {
        /// The node id.
        node: usize,
        /// What the formatter printed.
        output: String,
    },
    /// A node's JVM exited.
    #[error("kafka node {node} exited ({status}); the end of its log:\n{log_tail}")]
    Exited {
        /// The node id.
        node: usize,
        /// Its exit status.
        status: String,
        /// The end of its log.
        log_tail: String,
    },
    /// A node did not answer ApiVersions in time.
    #[error(
        "kafka node {node} did not answer within {READY_TIMEOUT:?}; the end of its log:\n{log_tail}"
    )]
    NotReady {
        /// The node id.
        node: usize,
        /// The end of its log.
        log_tail: String,
    },
    /// No node has this id.
    #[error("the cluster has no node {0}")]
    NoSuchNode(usize),
    /// The process's shared cluster failed to start earlier.
    #[error("the shared kafka cluster did not start: {0}")]
    Shared(String),
}

/// A running Apache Kafka cluster of one or more combined nodes on loopback.
#[derive(Debug)]
pub struct KafkaCluster {
    install: KafkaInstall,
    options: KafkaOptions,
    dir: RunDir,
    pki: Option<TestPki>,
    nodes: Vec<Mutex<NodeProcess>>,
    started_in: Duration,
}

impl KafkaCluster {
    /// Formats and starts a cluster, and waits until every node answers.
    pub fn start(options: KafkaOptions) -> Result<KafkaCluster, KafkaError> {
        let begun = Instant::now();
        let install = KafkaInstall::find()?;
        let dir = RunDir::new()?;
        let log4j = dir.path().join("log4j2.properties");
        std::fs::write(&log4j, LOG4J2_PROPERTIES)?;

        let pki = if options.security {
            let pki = TestPki::generate()?;
            let pki_dir = dir.path().join("pki");
            std::fs::create_dir_all(&pki_dir)?;
            // Kafka's PEM key store: the private key (unencrypted PKCS#8) and its certificate.
            std::fs::write(
                pki_dir.join("server-keystore.pem"),
                format!("{}{}", pki.server_key_pem, pki.server_cert_pem),
            )?;
            std::fs::write(pki_dir.join("ca.pem"), &pki.ca_cert_pem)?;
            Some(pki)
        } else {
            None
        };

        let layouts = allocate_layouts(&options, dir.path())?;
        let mut nodes = Vec::with_capacity(layouts.len());
        for layout in &layouts {
            let node_dir = dir.path().join(format!("node-{}", layout.id));
            std::fs::create_dir_all(&node_dir)?;
            let node = NodeProcess::new(layout.clone(), node_dir);
            std::fs::write(
                node.properties_path(),
                node_properties(&options, layout, &layouts),
            )?;
            nodes.push(node);
        }

        // Format every node at once (each is a JVM start), with one cluster id.
        let cluster_id = random_cluster_id();
        let scram = if options.security {
            scram_format_args()
        } else {
            Vec::new()
        };
        std::thread::scope(|s| {
            let handles: Vec<_> = nodes
                .iter()
                .map(|n| s.spawn(|| n.format(&install, &log4j, &cluster_id, &scram)))
                .collect();
            handles
                .into_iter()
                .try_for_each(|h| h.join().unwrap_or_else(|_| Err(panicked())))
        })?;

        let mut cluster = KafkaCluster {
            install,
            options,
            dir,
            pki,
            nodes: nodes.into_iter().map(Mutex::new).collect(),
            started_in: Duration::ZERO,
        };
        for id in cluster.node_ids() {
            let mut node = cluster.node(id)?;
            node.spawn(&cluster.install, cluster.options.heap_mb, &log4j)?;
        }
        let deadline = Instant::now() + READY_TIMEOUT;
        for id in cluster.node_ids() {
            cluster.node(id)?.wait_ready(deadline)?;
        }
        cluster.started_in = begun.elapsed();
        Ok(cluster)
    }

    /// This process's single-node cluster with every listener, started on first use and
    /// killed when the process exits. Tests share it: use unique topic and group names.
    pub fn shared() -> Result<&'static KafkaCluster, KafkaError> {
        static SHARED: OnceLock<Result<KafkaCluster, String>> = OnceLock::new();
        SHARED
            .get_or_init(|| KafkaCluster::start(KafkaOptions::single()).map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|e| KafkaError::Shared(e.clone()))
    }

    /// The node ids, from 1.
    pub fn node_ids(&self) -> impl Iterator<Item = usize> + use<> {
        1..=self.nodes.len()
    }

    fn node(&self, id: usize) -> Result<MutexGuard<'_, NodeProcess>, KafkaError> {
        let node = id
            .checked_sub(1)
            .and_then(|i| self.nodes.get(i))
            .ok_or(KafkaError::NoSuchNode(id))?;
        // A poisoned lock only means a test panicked holding it; the process state is intact.
        Ok(node.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// The bootstrap servers of the PLAINTEXT listeners, comma separated.
    pub fn bootstrap(&self) -> String {
        self.bootstrap_for(Listener::Plaintext).unwrap_or_default()
    }

    /// The bootstrap servers of `listener`, if the nodes open it.
    pub fn bootstrap_for(&self, listener: Listener) -> Option<String> {
        let addrs: Option<Vec<String>> = self
            .node_ids()
            .map(|id| self.addr(id, listener).map(|a| a.to_string()))
            .collect();
        addrs.map(|a| a.join(","))
    }

    /// Where node 1's `PROXIED` listener really listens (what a proxy in front of it forwards
    /// to), when [`KafkaOptions::with_proxied_listener`] opened it.
    pub fn proxied_addr(&self) -> Option<SocketAddr> {
        let port = self.node(1).ok()?.layout.proxied_port?;
        Some(SocketAddr::from(([127, 0, 0, 1], port)))
    }

    /// The address of node `id`'s `listener`, if there is one.
    pub fn addr(&self, id: usize, listener: Listener) -> Option<SocketAddr> {
        self.node(id).ok()?.addr(listener)
    }

    /// The test certificates the TLS listeners present (`localhost` and `127.0.0.1`, signed by
    /// the test CA), when the cluster has TLS listeners.
    pub fn pki(&self) -> Option<&TestPki> {
        self.pki.as_ref()
    }

    /// How the cluster was set up.
    pub fn options(&self) -> &KafkaOptions {
        &self.options
    }

    /// The installation it runs from (also the Java peer's classpath).
    pub fn install(&self) -> &KafkaInstall {
        &self.install
    }

    /// How long [`start`](Self::start) took: formatting, JVM start, first answer.
    pub fn started_in(&self) -> Duration {
        self.started_in
    }

    /// The RSS of node `id`'s JVM in KiB, while it runs.
    pub fn rss_kib(&self, id: usize) -> Option<u64> {
        self.node(id).ok()?.rss_kib()
    }

    /// Whether node `id`'s JVM runs.
    pub fn is_running(&self, id: usize) -> bool {
        self.node(id).is_ok_and(|mut n| n.is_running())
    }

    /// Kills node `id` with SIGKILL: no controlled shutdown, unflushed data is lost from that
    /// node, its partitions move once the controller fences it.
    pub fn kill(&self, id: usize) -> Result<(), KafkaError> {
        self.node(id)?.kill();
        Ok(())
    }

    /// Stops node `id` with SIGTERM (Kafka's controlled shutdown) and waits for the JVM to exit.
    pub fn stop(&self, id: usize) -> Result<(), KafkaError> {
        self.node(id)?.stop();
        Ok(())
    }

    /// Starts a killed or stopped node `id` again on its storage and ports, and waits until it
    /// answers.
    pub fn restart(&self, id: usize) -> Result<(), KafkaError> {
        let log4j = self.dir.path().join("log4j2.properties");
        let mut node = self.node(id)?;
        node.spawn(&self.install, self.options.heap_mb, &log4j)?;
        node.wait_ready(Instant::now() + READY_TIMEOUT)
    }

    /// The last `lines` lines of node `id`'s log.
    pub fn log_tail(&self, id: usize, lines: usize) -> String {
        self.node(id)
            .map(|n| n.log_tail(lines))
            .unwrap_or_else(|e| e.to_string())
    }

    /// The cluster's directory (configurations, data, logs).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Keeps the cluster's directory after the process ends and prints where it is and the
    /// end of every node's log to stderr: for a failed test.
    pub fn keep_for_inspection(&self) {
        self.dir.keep();
        eprintln!("kafka test cluster kept in {}", self.dir.path().display());
        for id in self.node_ids() {
            eprintln!(
                "--- node {id}: the end of its log ---\n{}",
                self.log_tail(id, 40)
            );
        }
    }
}

impl Drop for KafkaCluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.keep_for_inspection();
        }
        for node in &self.nodes {
            node.lock().unwrap_or_else(|p| p.into_inner()).kill();
        }
    }
}

fn panicked() -> KafkaError {
    KafkaError::Io(std::io::Error::other("a formatting thread panicked"))
}

/// Ports for every node's listeners, all bound at once before any is released so that no two
/// are the same.
fn allocate_layouts(options: &KafkaOptions, dir: &Path) -> Result<Vec<NodeLayout>, KafkaError> {
    let listeners = options.listeners();
    let mut held = Vec::new();
    let mut next_port = || -> std::io::Result<u16> {
        let l = std::net::TcpListener::bind("127.0.0.1:0")?;
        let port = l.local_addr()?.port();
        held.push(l);
        Ok(port)
    };
    let mut layouts = Vec::with_capacity(options.nodes);
    for id in 1..=options.nodes {
        let mut ports = Vec::with_capacity(listeners.len());
        for listener in &listeners {
            ports.push((*listener, next_port()?));
        }
        let controller_port = next_port()?;
        let proxied_port = match options.proxied {
            Some(_) => Some(next_port()?),
            None => None,
        };
        let pki = dir.join("pki");
        layouts.push(NodeLayout {
            id,
            ports,
            controller_port,
            proxied_port,
            data_dir: dir.join(format!("node-{id}")).join("data"),
            keystore: options.security.then(|| pki.join("server-keystore.pem")),
            truststore: options.security.then(|| pki.join("ca.pem")),
        });
    }
    drop(held);
    Ok(layouts)
}

/// A cluster id as `kafka-storage random-uuid` makes them: 16 random bytes in unpadded URL-safe
/// base64, never starting with '-' (Kafka avoids ids that look like command-line flags).
fn random_cluster_id() -> String {
    use base64::Engine as _;
    loop {
        let mut bytes = [0u8; 16];
        if getrandom::fill(&mut bytes).is_err() {
            // No OS randomness: the time and pid make an id unique enough for a test.
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            bytes = (nanos ^ (u128::from(std::process::id()) << 96)).to_be_bytes();
        }
        let id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        if !id.starts_with('-') {
            return id;
        }
    }
}

/// The cluster's directory under the system temporary directory. A shell started with it
/// removes it once the test process has exited, unless [`keep`](Self::keep) was called; a
/// [`KafkaCluster`] dropped normally removes it at once.
#[derive(Debug)]
struct RunDir {
    path: PathBuf,
}

const KEEP_MARKER: &str = "KEEP";

impl RunDir {
    fn new() -> std::io::Result<RunDir> {
        let dir = crate::certs::TempDir::new("kafka")?;
        let path = dir.path().to_owned();
        // Ownership passes to RunDir (and its cleaner): TempDir must not delete it.
        std::mem::forget(dir);
        let cleaner = r#"parent=$1; dir=$2
while kill -0 "$parent" 2>/dev/null; do sleep 1; done
sleep 1; [ -e "$dir/KEEP" ] || rm -rf "$dir""#;
        Command::new("sh")
            .arg("-c")
            .arg(cleaner)
            .arg("gregor-kafka-cleaner")
            .arg(std::process::id().to_string())
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        Ok(RunDir { path })
    }

    fn path(&self) -> &Path {
        &self.path
    }

    fn keep(&self) {
        let _ = std::fs::write(self.path.join(KEEP_MARKER), b"kept for a failed test\n");
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        if !self.path.join(KEEP_MARKER).exists() {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_ids_are_22_url_safe_characters_of_16_bytes() {
        use base64::Engine as _;
        for _ in 0..100 {
            let id = random_cluster_id();
            assert_eq!(id.len(), 22);
            assert!(!id.starts_with('-'));
            let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(&id)
                .unwrap();
            assert_eq!(bytes.len(), 16);
        }
    }

    #[test]
    fn every_port_differs() {
        let options = KafkaOptions::cluster(3).with_security(true);
        let layouts = allocate_layouts(&options, Path::new("/tmp/x")).unwrap();
        let mut ports: Vec<u16> = layouts
            .iter()
            .flat_map(|l| l.ports.iter().map(|(_, p)| *p).chain([l.controller_port]))
            .collect();
        assert_eq!(ports.len(), 15);
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), 15);
    }
}

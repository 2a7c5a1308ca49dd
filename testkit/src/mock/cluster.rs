//! [`MockCluster`]: building, starting, taking brokers down and up, stopping.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use gregor_protocol::ErrorCode;
use tokio::sync::{Mutex, watch};
use tokio::task::JoinHandle;

use super::conn::{Inner, Security, accept_loop, bind};
use super::consumer_group::ConsumerGroupConfig;
use super::control::ControlError;
use super::group::GroupConfig;
use super::group_shell::{GroupShell, group_timer};
use super::sasl::MockSasl;
use super::state::{BrokerInfo, ClusterConfig, ClusterState};

/// Why a cluster did not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// A listener could not be bound.
    #[error("binding 127.0.0.1:{port}: {source}")]
    Bind {
        /// The port asked for (0: any).
        port: u16,
        /// The socket error.
        source: std::io::Error,
    },
    /// The broker count is 0 or the ports do not fit.
    #[error("invalid cluster settings: {0}")]
    Invalid(String),
    /// A configured topic could not be created.
    #[error("creating topic {name}: {code} ({message})")]
    Topic {
        /// The topic.
        name: String,
        /// Kafka's error code for it.
        code: ErrorCode,
        /// Why.
        message: String,
    },
}

/// Settings for a [`MockCluster`]; see [`MockCluster::builder`].
#[derive(Debug, Clone)]
pub struct MockClusterBuilder {
    brokers: usize,
    base_port: Option<u16>,
    topics: Vec<(String, i32, i16)>,
    config: ClusterConfig,
    tls: Option<Arc<rustls::ServerConfig>>,
    sasl: Option<MockSasl>,
}

impl MockClusterBuilder {
    /// The number of brokers (ids 1..=n); 1 by default.
    pub fn brokers(mut self, n: usize) -> Self {
        self.brokers = n;
        self
    }

    /// Listen on `port`, `port + 1`, ... instead of ports the OS picks.
    pub fn base_port(mut self, port: u16) -> Self {
        self.base_port = Some(port);
        self
    }

    /// A topic to create at start, with the default replication factor.
    pub fn topic(mut self, name: &str, partitions: i32) -> Self {
        self.topics.push((name.to_owned(), partitions, -1));
        self
    }

    /// A topic to create at start with `replication_factor` replicas per partition.
    pub fn topic_with_replicas(
        mut self,
        name: &str,
        partitions: i32,
        replication_factor: i16,
    ) -> Self {
        self.topics
            .push((name.to_owned(), partitions, replication_factor));
        self
    }

    /// Whether Metadata requests may create unknown topics (off by default).
    pub fn auto_create_topics(mut self, on: bool) -> Self {
        self.config.auto_create_topics = on;
        self
    }

    /// Partitions of auto-created topics and of CreateTopics asking for the default (1).
    pub fn default_partitions(mut self, n: i32) -> Self {
        self.config.default_partitions = n;
        self
    }

    /// The default replication factor, capped by the broker count (3).
    pub fn default_replication_factor(mut self, n: i16) -> Self {
        self.config.default_replication_factor = n;
        self
    }

    /// The largest batch a produce may write (1048588).
    pub fn max_message_bytes(mut self, n: usize) -> Self {
        self.config.max_message_bytes = n;
        self
    }

    /// Fetch sessions cached per broker (1000).
    pub fn fetch_session_slots(mut self, n: usize) -> Self {
        self.config.fetch_session_slots = n;
        self
    }

    /// How long a fetch session must be idle to be evictable (120 s).
    pub fn fetch_session_eviction(mut self, d: Duration) -> Self {
        self.config.fetch_session_eviction = d;
        self
    }

    /// The cluster id Metadata reports.
    pub fn cluster_id(mut self, id: &str) -> Self {
        self.config.cluster_id = id.to_owned();
        self
    }

    /// The group coordinator's settings (Kafka's `group.*` broker configs). Tests with short
    /// consumer session timeouts lower [`GroupConfig::min_session_timeout`] (6 s by default).
    pub fn group_config(mut self, config: GroupConfig) -> Self {
        // The consumer group settings have their own setters; keep them.
        let consumer = std::mem::take(&mut self.config.group.consumer);
        self.config.group = GroupConfig { consumer, ..config };
        self
    }

    /// The KIP-848 consumer group coordinator's settings (`group.consumer.*`); see
    /// [`ConsumerGroupConfig`] for the defaults (those of the testkit's Kafka).
    pub fn consumer_group_config(mut self, config: ConsumerGroupConfig) -> Self {
        self.config.group.consumer = config;
        self
    }

    /// `group.consumer.heartbeat.interval.ms` (500 ms).
    pub fn consumer_heartbeat_interval(mut self, d: Duration) -> Self {
        self.config.group.consumer.heartbeat_interval = d;
        self
    }

    /// `group.consumer.session.timeout.ms` (10 s).
    pub fn consumer_session_timeout(mut self, d: Duration) -> Self {
        self.config.group.consumer.session_timeout = d;
        self
    }

    /// Serve TLS on every listener with `config` (for example
    /// [`TestPki::server_config`](crate::certs::TestPki::server_config)); with
    /// [`sasl`](Self::sasl) too, the listeners are SASL_SSL.
    pub fn tls(mut self, config: Arc<rustls::ServerConfig>) -> Self {
        self.tls = Some(config);
        self
    }

    /// Authenticate every connection with SASL (see [`MockSasl`]); without [`tls`](Self::tls)
    /// the listeners are SASL_PLAINTEXT.
    pub fn sasl(mut self, sasl: MockSasl) -> Self {
        self.sasl = Some(sasl);
        self
    }

    /// Binds every broker's listener, creates the topics and starts serving on the current
    /// tokio runtime (its tasks, including those started later by
    /// [`MockCluster::broker_up`], run there, whichever runtime later control calls come from).
    pub async fn start(self) -> Result<MockCluster, StartError> {
        let runtime = tokio::runtime::Handle::current();
        if self.brokers == 0 || self.brokers > 1000 {
            return Err(StartError::Invalid(format!("{} brokers", self.brokers)));
        }
        let mut listeners = Vec::with_capacity(self.brokers);
        let mut infos = Vec::with_capacity(self.brokers);
        for i in 0..self.brokers {
            let port = match self.base_port {
                None => 0,
                Some(p) => u16::try_from(usize::from(p) + i)
                    .map_err(|_| StartError::Invalid(format!("port {p} + {i}")))?,
            };
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            let listener = bind(addr).map_err(|source| StartError::Bind { port, source })?;
            let local = listener
                .local_addr()
                .map_err(|source| StartError::Bind { port, source })?;
            let id = i as i32 + 1;
            infos.push(BrokerInfo {
                id,
                host: local.ip().to_string(),
                port: i32::from(local.port()),
                up: true,
            });
            listeners.push((id, local, listener));
        }
        let mut state = ClusterState::new(self.config, infos);
        for (name, partitions, rf) in &self.topics {
            state
                .create_topic(name, *partitions, *rf, &[])
                .map_err(|(code, message)| StartError::Topic {
                    name: name.clone(),
                    code,
                    message,
                })?;
        }
        let (changes, _) = watch::channel(state.change_seq);
        let inner = Arc::new(Inner {
            state: Mutex::new(state),
            changes,
            groups: GroupShell::default(),
            security: Security {
                tls: self.tls.map(tokio_rustls::TlsAcceptor::from),
                sasl: self.sasl.map(Arc::new),
            },
        });
        let timer = runtime.spawn(group_timer(inner.clone()));
        let addrs = listeners.iter().map(|(id, addr, _)| (*id, *addr)).collect();
        let runtimes = listeners
            .into_iter()
            .map(|(id, addr, listener)| {
                let (stop, stop_rx) = watch::channel(false);
                let task = runtime.spawn(accept_loop(inner.clone(), id, listener, stop_rx));
                BrokerRuntime {
                    id,
                    addr,
                    stop,
                    task: Some(task),
                }
            })
            .collect();
        Ok(MockCluster {
            inner,
            runtimes: Mutex::new(runtimes),
            addrs,
            runtime,
            timer,
        })
    }
}

/// One broker's listener task.
#[derive(Debug)]
pub(crate) struct BrokerRuntime {
    pub id: i32,
    pub addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl BrokerRuntime {
    /// Stops the listener and every connection, and waits until they are closed.
    async fn halt(&mut self) {
        self.stop.send_replace(true);
        if let Some(task) = self.task.take() {
            // The task ends by itself once told to stop; a panic in it is not ours to rethrow.
            let _ = task.await;
        }
    }
}

/// An in-process Kafka cluster of N brokers on 127.0.0.1; see the [module docs](super).
///
/// Dropping it stops every broker (listeners and connections close as their tasks are
/// cancelled); [`MockCluster::shutdown`] does the same and waits for it.
#[derive(Debug)]
pub struct MockCluster {
    pub(crate) inner: Arc<Inner>,
    pub(crate) runtimes: Mutex<Vec<BrokerRuntime>>,
    addrs: Vec<(i32, SocketAddr)>,
    /// The runtime the cluster was started on; every task of the cluster runs there.
    runtime: tokio::runtime::Handle,
    /// The group coordinator's timer task.
    timer: JoinHandle<()>,
}

impl MockCluster {
    /// The cluster's time: its runtime's tokio clock (paused with it), whichever runtime the
    /// caller runs on.
    pub(crate) fn now(&self) -> std::time::Instant {
        let _in_cluster_runtime = self.runtime.enter();
        super::conn::now()
    }

    /// Settings for a new cluster: one broker, no topics.
    pub fn builder() -> MockClusterBuilder {
        MockClusterBuilder {
            brokers: 1,
            base_port: None,
            topics: Vec::new(),
            config: ClusterConfig::default(),
            tls: None,
            sasl: None,
        }
    }

    /// The brokers' addresses, `host:port` comma separated, in broker id order.
    pub fn bootstrap(&self) -> String {
        self.addresses()
            .iter()
            .map(|(_, a)| a.to_string())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Every broker id with its listener address.
    pub fn addresses(&self) -> Vec<(i32, SocketAddr)> {
        self.addrs.clone()
    }

    /// The address of broker `id`.
    pub fn broker_addr(&self, id: i32) -> Option<SocketAddr> {
        self.addresses()
            .into_iter()
            .find(|(b, _)| *b == id)
            .map(|(_, a)| a)
    }

    /// Takes broker `id` down: its listener closes (connecting is refused) and its connections
    /// are dropped; Metadata stops listing it, and partitions it leads report no leader
    /// (leadership does not move by itself; see [`MockCluster::move_leader`]). Its fetch
    /// sessions are lost. The groups it coordinated move to the next live broker (see
    /// [`MockCluster::coordinator_of`]). Returns once the port is closed.
    pub async fn broker_down(&self, id: i32) -> Result<(), ControlError> {
        let mut runtimes = self.runtimes.lock().await;
        let rt = runtimes
            .iter_mut()
            .find(|b| b.id == id)
            .ok_or(ControlError::UnknownBroker(id))?;
        rt.halt().await;
        let mut st = self.inner.state.lock().await;
        let before = st.change_seq;
        let now = self.now();
        st.set_broker_up_at(id, false, now);
        self.inner.groups.pump(&mut st, now);
        self.inner.publish(&st, before);
        Ok(())
    }

    /// Brings broker `id` back up on the same port.
    pub async fn broker_up(&self, id: i32) -> Result<(), ControlError> {
        let mut runtimes = self.runtimes.lock().await;
        let rt = runtimes
            .iter_mut()
            .find(|b| b.id == id)
            .ok_or(ControlError::UnknownBroker(id))?;
        if rt.task.is_some() {
            return Ok(());
        }
        let listener = bind(rt.addr).map_err(ControlError::Io)?;
        let (stop, stop_rx) = watch::channel(false);
        rt.stop = stop;
        rt.task = Some(
            self.runtime
                .spawn(accept_loop(self.inner.clone(), id, listener, stop_rx)),
        );
        let mut st = self.inner.state.lock().await;
        let before = st.change_seq;
        let now = self.now();
        st.set_broker_up_at(id, true, now);
        self.inner.groups.pump(&mut st, now);
        self.inner.publish(&st, before);
        Ok(())
    }

    /// Stops every broker and waits until all listeners and connections are closed.
    pub async fn shutdown(self) {
        self.timer.abort();
        let mut runtimes = self.runtimes.lock().await;
        for rt in runtimes.iter_mut() {
            rt.halt().await;
        }
    }
}

impl Drop for MockCluster {
    fn drop(&mut self) {
        self.timer.abort();
        for rt in self.runtimes.get_mut().iter_mut() {
            rt.stop.send_replace(true);
            if let Some(task) = rt.task.take() {
                task.abort();
            }
        }
    }
}

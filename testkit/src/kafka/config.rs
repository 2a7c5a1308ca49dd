//! What a test Kafka cluster looks like ([`KafkaOptions`]) and the `server.properties` of each
//! of its nodes ([`node_properties`]): plain data and a pure function, tested without a JVM.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

/// The user every SASL mechanism of a test cluster knows (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512).
pub const SASL_USER: &str = "gregor";
/// [`SASL_USER`]'s password.
pub const SASL_PASSWORD: &str = "gregor-secret";

/// The SASL mechanisms a test cluster's SASL listeners enable.
pub const SASL_MECHANISMS: [&str; 3] = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"];

/// How often the brokers look for log segments to delete by retention
/// (`log.retention.check.interval.ms`). Time-based retention is off on the brokers
/// (`log.retention.ms=-1`: the test data is stamped in 2023); a topic's own `retention.ms`
/// takes effect within this.
pub const RETENTION_CHECK_INTERVAL: Duration = Duration::from_secs(2);

/// A client-facing listener of a test cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Listener {
    /// `PLAINTEXT`: always there; the brokers also talk to each other on it.
    Plaintext,
    /// `SSL`, with the cluster's [`TestPki`](crate::certs::TestPki) server certificate.
    Ssl,
    /// `SASL_PLAINTEXT` with [`SASL_MECHANISMS`].
    SaslPlaintext,
    /// `SASL_SSL` with [`SASL_MECHANISMS`] and the server certificate.
    SaslSsl,
}

impl Listener {
    /// Every listener, in the order their ports are allocated.
    pub const ALL: [Listener; 4] = [
        Listener::Plaintext,
        Listener::Ssl,
        Listener::SaslPlaintext,
        Listener::SaslSsl,
    ];

    /// The listener's (and its security protocol's) name in Kafka's configuration.
    pub const fn name(self) -> &'static str {
        match self {
            Listener::Plaintext => "PLAINTEXT",
            Listener::Ssl => "SSL",
            Listener::SaslPlaintext => "SASL_PLAINTEXT",
            Listener::SaslSsl => "SASL_SSL",
        }
    }

    fn is_tls(self) -> bool {
        matches!(self, Listener::Ssl | Listener::SaslSsl)
    }

    fn is_sasl(self) -> bool {
        matches!(self, Listener::SaslPlaintext | Listener::SaslSsl)
    }
}

/// How a test Kafka cluster is set up. [`KafkaOptions::default`] is one combined
/// broker+controller node with every [`Listener`].
#[derive(Debug, Clone)]
pub struct KafkaOptions {
    pub(crate) nodes: usize,
    pub(crate) security: bool,
    pub(crate) require_client_cert: bool,
    pub(crate) heap_mb: u32,
    pub(crate) overrides: Vec<(String, String)>,
    /// The port the `PROXIED` listener is advertised at (a proxy's), if it is opened.
    pub(crate) proxied: Option<u16>,
}

impl Default for KafkaOptions {
    fn default() -> Self {
        KafkaOptions {
            nodes: 1,
            security: true,
            require_client_cert: false,
            heap_mb: 512,
            overrides: Vec::new(),
            proxied: None,
        }
    }
}

impl KafkaOptions {
    /// One node with every listener (the default).
    pub fn single() -> KafkaOptions {
        KafkaOptions::default()
    }

    /// `nodes` combined broker+controller nodes (three voters for three nodes), internal topics
    /// replicated `min(nodes, 3)` times with `min.insync.replicas` 2, and a short broker
    /// session so that a killed broker is fenced (and its partitions' leaders moved) within
    /// about three seconds. Only the PLAINTEXT listener unless
    /// [`with_security`](Self::with_security) says otherwise.
    pub fn cluster(nodes: usize) -> KafkaOptions {
        KafkaOptions {
            nodes: nodes.max(1),
            security: false,
            heap_mb: 384,
            ..KafkaOptions::default()
        }
    }

    /// Whether the SSL, SASL_PLAINTEXT and SASL_SSL listeners are opened too.
    pub fn with_security(mut self, on: bool) -> KafkaOptions {
        self.security = on;
        self
    }

    /// Whether the TLS listeners require a client certificate signed by the test CA (mutual
    /// TLS); by default they ask for none.
    pub fn require_client_cert(mut self, on: bool) -> KafkaOptions {
        self.require_client_cert = on;
        self
    }

    /// The JVM heap of each node, in MiB (512 for one node, 384 each in a cluster).
    pub fn heap_mb(mut self, mb: u32) -> KafkaOptions {
        self.heap_mb = mb.max(128);
        self
    }

    /// Opens one more plaintext listener, `PROXIED`, on a port of its own
    /// ([`KafkaCluster::proxied_addr`](super::KafkaCluster::proxied_addr)) but advertised at
    /// `advertised_port`: a client that bootstraps through a proxy listening there (a
    /// [`ChaosProxy`](crate::proxy::ChaosProxy) forwarding to the listener) is sent back to the
    /// proxy by Metadata and FindCoordinator, so the test can cut that client off while clients
    /// on `PLAINTEXT` go on. One node only (every node would advertise the same port).
    pub fn with_proxied_listener(mut self, advertised_port: u16) -> KafkaOptions {
        self.proxied = Some(advertised_port);
        self
    }

    /// Sets a broker property on every node, after (so over) the testkit's own.
    pub fn set(mut self, key: impl Into<String>, value: impl ToString) -> KafkaOptions {
        self.overrides.push((key.into(), value.to_string()));
        self
    }

    /// The number of nodes.
    pub fn nodes(&self) -> usize {
        self.nodes
    }

    /// The listeners each node opens.
    pub fn listeners(&self) -> Vec<Listener> {
        if self.security {
            Listener::ALL.to_vec()
        } else {
            vec![Listener::Plaintext]
        }
    }
}

/// The ports and files one node's configuration names.
#[derive(Debug, Clone)]
pub(crate) struct NodeLayout {
    /// The node id, from 1.
    pub id: usize,
    /// `(listener, port)` for each client-facing listener.
    pub ports: Vec<(Listener, u16)>,
    /// The controller listener's port.
    pub controller_port: u16,
    /// The `PROXIED` listener's own port, when it is opened.
    pub proxied_port: Option<u16>,
    /// The log (data) directory.
    pub data_dir: PathBuf,
    /// The PEM key store (private key and certificate) and trust store, for TLS listeners.
    pub keystore: Option<PathBuf>,
    pub truststore: Option<PathBuf>,
}

/// `server.properties` for `node` of a cluster of `all` nodes.
pub(crate) fn node_properties(
    options: &KafkaOptions,
    node: &NodeLayout,
    all: &[NodeLayout],
) -> String {
    let mut p = String::new();
    let mut set = |k: &str, v: &str| {
        let _ = writeln!(p, "{k}={v}");
    };
    let voters: Vec<String> = all
        .iter()
        .map(|n| format!("{}@127.0.0.1:{}", n.id, n.controller_port))
        .collect();
    let mut listeners = vec![];
    let mut advertised = vec![];
    let mut protocol_map = vec!["CONTROLLER:PLAINTEXT".to_owned()];
    for (listener, port) in &node.ports {
        let name = listener.name();
        listeners.push(format!("{name}://127.0.0.1:{port}"));
        advertised.push(format!("{name}://127.0.0.1:{port}"));
        protocol_map.push(format!("{name}:{name}"));
    }
    if let (Some(own), Some(advertised_port)) = (node.proxied_port, options.proxied) {
        listeners.push(format!("PROXIED://127.0.0.1:{own}"));
        advertised.push(format!("PROXIED://127.0.0.1:{advertised_port}"));
        protocol_map.push("PROXIED:PLAINTEXT".to_owned());
    }
    listeners.push(format!("CONTROLLER://127.0.0.1:{}", node.controller_port));

    set("process.roles", "broker,controller");
    set("node.id", &node.id.to_string());
    set("controller.quorum.voters", &voters.join(","));
    set("controller.listener.names", "CONTROLLER");
    set("listeners", &listeners.join(","));
    set("advertised.listeners", &advertised.join(","));
    set("inter.broker.listener.name", "PLAINTEXT");
    set("listener.security.protocol.map", &protocol_map.join(","));
    set("log.dirs", &node.data_dir.display().to_string());

    // Internal topics: one partition, replicated over the nodes there are (at most three).
    let replicas = all.len().min(3).to_string();
    let min_isr = if all.len() > 1 { "2" } else { "1" };
    set("offsets.topic.num.partitions", "1");
    set("offsets.topic.replication.factor", &replicas);
    set("transaction.state.log.num.partitions", "1");
    set("transaction.state.log.replication.factor", &replicas);
    set("transaction.state.log.min.isr", min_isr);
    set("share.coordinator.state.topic.num.partitions", "1");
    set(
        "share.coordinator.state.topic.replication.factor",
        &replicas,
    );
    set("share.coordinator.state.topic.min.isr", min_isr);

    // Groups: no join delay; short KIP-848 heartbeats and sessions; short classic sessions
    // allowed. Both rebalance protocols are on by default in Kafka 4.1; named here anyway.
    set("group.coordinator.rebalance.protocols", "classic,consumer");
    set("group.initial.rebalance.delay.ms", "0");
    set("group.min.session.timeout.ms", "1000");
    set("group.consumer.min.heartbeat.interval.ms", "500");
    set("group.consumer.heartbeat.interval.ms", "500");
    set("group.consumer.min.session.timeout.ms", "3000");
    set("group.consumer.session.timeout.ms", "10000");

    // A killed broker is fenced, and leaders move off it, within about three seconds.
    set("broker.heartbeat.interval.ms", "500");
    set("broker.session.timeout.ms", "3000");

    // No time-based retention. The test data is stamped `RECORD_TIMESTAMP` (2023), long past
    // the default seven days: with it, each retention check (30 s after the start, then
    // every 5 minutes) deleted every test topic's records up to its end, and a consumer
    // behind the end at that moment was moved past records nobody had read (OFFSET_OUT_OF_RANGE,
    // then auto.offset.reset), a gap a test reported as lost. The check runs often (from
    // the start, not 30 s after it), so that a topic's own `retention.ms` takes effect within
    // seconds, and a test sees the broker's kept.
    set("log.retention.ms", "-1");
    let check = RETENTION_CHECK_INTERVAL.as_millis().to_string();
    set("log.retention.check.interval.ms", &check);
    set("log.initial.task.delay.ms", &check);

    // Small machines: fewer threads than the defaults.
    set("num.network.threads", "2");
    set("num.io.threads", "2");
    set("background.threads", "4");
    set("num.recovery.threads.per.data.dir", "1");

    if node.ports.iter().any(|(l, _)| l.is_tls()) {
        if let (Some(keystore), Some(truststore)) = (&node.keystore, &node.truststore) {
            set("ssl.keystore.type", "PEM");
            set("ssl.keystore.location", &keystore.display().to_string());
            set("ssl.truststore.type", "PEM");
            set("ssl.truststore.location", &truststore.display().to_string());
        }
        let auth = if options.require_client_cert {
            "required"
        } else {
            "none"
        };
        set("ssl.client.auth", auth);
    }
    if node.ports.iter().any(|(l, _)| l.is_sasl()) {
        set("sasl.enabled.mechanisms", &SASL_MECHANISMS.join(","));
        for (listener, _) in node.ports.iter().filter(|(l, _)| l.is_sasl()) {
            let prefix = format!("listener.name.{}", listener.name().to_ascii_lowercase());
            set(
                &format!("{prefix}.plain.sasl.jaas.config"),
                &format!(
                    "org.apache.kafka.common.security.plain.PlainLoginModule required \
                     user_{SASL_USER}=\"{SASL_PASSWORD}\";"
                ),
            );
            for scram in ["scram-sha-256", "scram-sha-512"] {
                set(
                    &format!("{prefix}.{scram}.sasl.jaas.config"),
                    "org.apache.kafka.common.security.scram.ScramLoginModule required;",
                );
            }
        }
    }
    for (k, v) in &options.overrides {
        set(k, v);
    }
    p
}

/// The `--add-scram` arguments of `kafka-storage format` that create [`SASL_USER`] for both
/// SCRAM mechanisms.
pub(crate) fn scram_format_args() -> Vec<String> {
    ["SCRAM-SHA-256", "SCRAM-SHA-512"]
        .iter()
        .flat_map(|m| {
            [
                "--add-scram".to_owned(),
                format!("{m}=[name={SASL_USER},password={SASL_PASSWORD}]"),
            ]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(id: usize, base: u16, listeners: &[Listener]) -> NodeLayout {
        NodeLayout {
            id,
            ports: listeners
                .iter()
                .enumerate()
                .map(|(i, l)| (*l, base + i as u16))
                .collect(),
            controller_port: base + 9,
            proxied_port: None,
            data_dir: PathBuf::from(format!("/tmp/n{id}")),
            keystore: Some(PathBuf::from("/pki/server-keystore.pem")),
            truststore: Some(PathBuf::from("/pki/ca.pem")),
        }
    }

    fn value<'a>(props: &'a str, key: &str) -> Option<&'a str> {
        props
            .lines()
            .rev()
            .filter_map(|l| l.split_once('='))
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v)
    }

    #[test]
    fn a_single_node_names_every_listener_and_replicates_internal_topics_once() {
        let options = KafkaOptions::single();
        let node = layout(1, 20000, &options.listeners());
        let props = node_properties(&options, &node, std::slice::from_ref(&node));
        assert_eq!(
            value(&props, "listeners"),
            Some(
                "PLAINTEXT://127.0.0.1:20000,SSL://127.0.0.1:20001,\
                 SASL_PLAINTEXT://127.0.0.1:20002,SASL_SSL://127.0.0.1:20003,\
                 CONTROLLER://127.0.0.1:20009"
            )
        );
        assert_eq!(
            value(&props, "controller.quorum.voters"),
            Some("1@127.0.0.1:20009")
        );
        assert_eq!(value(&props, "offsets.topic.replication.factor"), Some("1"));
        assert_eq!(value(&props, "transaction.state.log.min.isr"), Some("1"));
        assert_eq!(value(&props, "ssl.keystore.type"), Some("PEM"));
        assert_eq!(value(&props, "ssl.client.auth"), Some("none"));
        assert_eq!(
            value(&props, "sasl.enabled.mechanisms"),
            Some("PLAIN,SCRAM-SHA-256,SCRAM-SHA-512")
        );
        // Every SASL listener has a JAAS entry for every mechanism.
        for listener in ["sasl_plaintext", "sasl_ssl"] {
            for mech in ["plain", "scram-sha-256", "scram-sha-512"] {
                let key = format!("listener.name.{listener}.{mech}.sasl.jaas.config");
                assert!(value(&props, &key).is_some(), "{key} missing");
            }
        }
    }

    #[test]
    fn a_three_node_cluster_has_three_voters_and_replicates_internal_topics_three_times() {
        let options = KafkaOptions::cluster(3);
        let nodes: Vec<NodeLayout> = (1..=3)
            .map(|id| layout(id, 20000 + 100 * id as u16, &options.listeners()))
            .collect();
        let props = node_properties(&options, &nodes[1], &nodes);
        assert_eq!(value(&props, "node.id"), Some("2"));
        assert_eq!(
            value(&props, "controller.quorum.voters"),
            Some("1@127.0.0.1:20109,2@127.0.0.1:20209,3@127.0.0.1:20309")
        );
        assert_eq!(
            value(&props, "listeners"),
            Some("PLAINTEXT://127.0.0.1:20200,CONTROLLER://127.0.0.1:20209")
        );
        assert_eq!(value(&props, "offsets.topic.replication.factor"), Some("3"));
        assert_eq!(value(&props, "transaction.state.log.min.isr"), Some("2"));
        assert_eq!(value(&props, "ssl.keystore.type"), None);
        assert_eq!(value(&props, "sasl.enabled.mechanisms"), None);
    }

    #[test]
    fn a_proxied_listener_listens_on_its_port_and_advertises_the_proxy() {
        let options = KafkaOptions::single()
            .with_security(false)
            .with_proxied_listener(30000);
        let mut node = layout(1, 20000, &options.listeners());
        node.proxied_port = Some(20005);
        let props = node_properties(&options, &node, std::slice::from_ref(&node));
        assert_eq!(
            value(&props, "listeners"),
            Some(
                "PLAINTEXT://127.0.0.1:20000,PROXIED://127.0.0.1:20005,\
                 CONTROLLER://127.0.0.1:20009"
            )
        );
        assert_eq!(
            value(&props, "advertised.listeners"),
            Some("PLAINTEXT://127.0.0.1:20000,PROXIED://127.0.0.1:30000")
        );
        assert_eq!(
            value(&props, "listener.security.protocol.map"),
            Some("CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,PROXIED:PLAINTEXT")
        );
    }

    #[test]
    fn overrides_come_last_and_win() {
        let options = KafkaOptions::single()
            .with_security(false)
            .set("group.initial.rebalance.delay.ms", 3000)
            .require_client_cert(true);
        let node = layout(1, 20000, &options.listeners());
        let props = node_properties(&options, &node, std::slice::from_ref(&node));
        assert_eq!(
            value(&props, "group.initial.rebalance.delay.ms"),
            Some("3000")
        );
    }

    #[test]
    fn scram_users_are_created_for_both_hashes() {
        assert_eq!(
            scram_format_args(),
            [
                "--add-scram",
                "SCRAM-SHA-256=[name=gregor,password=gregor-secret]",
                "--add-scram",
                "SCRAM-SHA-512=[name=gregor,password=gregor-secret]",
            ]
        );
    }
}

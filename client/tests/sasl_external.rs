//! SASL against a real cluster: runs when `KAFKA_BOOTSTRAP_SERVERS` names a cluster with a SASL
//! listener and `GREGOR_SASL_PROPERTIES` gives the client properties to reach it, e.g.
//! `security.protocol=SASL_PLAINTEXT,sasl.mechanism=SCRAM-SHA-512,sasl.username=u,sasl.password=p`.
//! Without them there is nothing to authenticate against here (tansu serves SCRAM only with its
//! sqlite storage, and the mock cluster has no SASL listener yet), so the test says so and stops;
//! the mechanisms themselves are proven on the RFC vectors and a scripted broker
//! (`sasl.rs`, `connection_handshake.rs`).

use gregor_client::Client;
use gregor_client::config::ClientConfig;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authenticates_and_reads_metadata_on_a_sasl_cluster() {
    let (Ok(servers), Ok(props)) = (
        std::env::var("KAFKA_BOOTSTRAP_SERVERS"),
        std::env::var("GREGOR_SASL_PROPERTIES"),
    ) else {
        eprintln!("skipped: set KAFKA_BOOTSTRAP_SERVERS and GREGOR_SASL_PROPERTIES to run");
        return;
    };
    let mut pairs: Vec<(String, String)> = vec![("bootstrap.servers".into(), servers)];
    for kv in props.split(',').filter(|s| !s.trim().is_empty()) {
        let (k, v) = kv
            .split_once('=')
            .expect("GREGOR_SASL_PROPERTIES holds key=value pairs");
        pairs.push((k.trim().into(), v.trim().into()));
    }
    let config = ClientConfig::from_properties(pairs).expect("valid SASL properties");
    assert!(config.sasl().is_some(), "the properties configure SASL");
    let client = Client::connect(config)
        .await
        .expect("SASL handshake and authentication succeed");
    assert!(
        !client.metadata().brokers().is_empty(),
        "an authenticated client reads metadata"
    );
}

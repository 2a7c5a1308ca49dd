//! librdkafka authenticates to MockCluster's SASL listeners: with the `rdkafka` crate over
//! PLAIN (the crate's librdkafka is built without OpenSSL, which SCRAM needs), and with the
//! `confluent-kafka` Python package's librdkafka (installed by `.ci/run`, built with OpenSSL)
//! over SCRAM-SHA-256 and SCRAM-SHA-512. Records produced after authentication land in the
//! mock's log; a wrong password is refused.

use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gregor_testkit::mock::{MockCluster, MockSasl, SaslMechanism};
use rdkafka::client::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};

const USER: &str = "librdkafka";
const PASSWORD: &str = "pencil";

async fn sasl_cluster(mechanisms: &[SaslMechanism]) -> MockCluster {
    MockCluster::builder()
        .topic("authed", 1)
        .sasl(MockSasl::new(mechanisms.iter().copied()).user(USER, PASSWORD))
        .start()
        .await
        .expect("mock starts")
}

fn config(bootstrap: &str, mechanism: &str, password: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap)
        .set("security.protocol", "SASL_PLAINTEXT")
        .set("sasl.mechanism", mechanism)
        .set("sasl.username", USER)
        .set("sasl.password", password)
        .set("message.timeout.ms", "15000");
    config
}

fn producer(bootstrap: &str, mechanism: &str, password: &str) -> FutureProducer {
    config(bootstrap, mechanism, password)
        .create()
        .expect("producer config")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rdkafka_produces_over_sasl_plain() {
    let cluster = sasl_cluster(&[SaslMechanism::Plain]).await;
    let producer = producer(&cluster.bootstrap(), "PLAIN", PASSWORD);
    let delivered = producer
        .send(
            FutureRecord::to("authed")
                .partition(0)
                .key("k")
                .payload("v"),
            Duration::from_secs(15),
        )
        .await
        .expect("delivered over SASL PLAIN");
    assert_eq!((delivered.partition, delivered.offset), (0, 0));
    let info = cluster.partition_info("authed", 0).await.unwrap();
    assert_eq!(info.high_watermark, 1);
}

/// Records the errors librdkafka reports.
#[derive(Clone, Default)]
struct Errors(Arc<Mutex<Vec<(KafkaError, String)>>>);

impl ClientContext for Errors {
    fn error(&self, error: KafkaError, reason: &str) {
        self.0.lock().unwrap().push((error, reason.to_owned()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rdkafka_with_a_wrong_password_is_refused() {
    let cluster = sasl_cluster(&[SaslMechanism::Plain]).await;
    let bootstrap = cluster.bootstrap();
    let errors = Errors::default();
    let seen = errors.clone();
    let result = tokio::task::spawn_blocking(move || {
        let producer: FutureProducer<Errors> = config(&bootstrap, "PLAIN", "wrong")
            .create_with_context(errors)
            .expect("producer config");
        producer
            .client()
            .fetch_metadata(Some("authed"), Duration::from_secs(5))
            .map(|_| ())
    })
    .await
    .unwrap();
    assert!(result.is_err(), "metadata without authentication");
    let reported = seen.0.lock().unwrap().clone();
    assert!(
        reported.iter().any(|(e, reason)| {
            e.rdkafka_error_code() == Some(RDKafkaErrorCode::Authentication)
                && reason.contains("Invalid username or password")
        }),
        "{reported:?}"
    );
    assert_eq!(
        cluster
            .partition_info("authed", 0)
            .await
            .unwrap()
            .high_watermark,
        0
    );
}

/// Runs `interop/sasl_produce.py` (librdkafka through confluent-kafka) and parses its line.
async fn python_produce(bootstrap: String, mechanism: &str, password: &str) -> String {
    let script = format!(
        "{}/tests/interop/sasl_produce.py",
        env!("CARGO_MANIFEST_DIR")
    );
    let args = [
        bootstrap,
        mechanism.to_owned(),
        USER.to_owned(),
        password.to_owned(),
    ];
    let output = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .arg(&script)
            .args(&args)
            .arg("authed")
            .output()
            .expect("python3 runs")
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "sasl_produce.py failed (confluent-kafka is installed by .ci/run): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn librdkafka_produces_over_scram() {
    let cluster = sasl_cluster(&[SaslMechanism::ScramSha256, SaslMechanism::ScramSha512]).await;
    for (i, mechanism) in ["SCRAM-SHA-256", "SCRAM-SHA-512"].into_iter().enumerate() {
        let line = python_produce(cluster.bootstrap(), mechanism, PASSWORD).await;
        assert_eq!(
            line,
            format!(r#"{{"partition": 0, "offset": {i}}}"#),
            "{mechanism}"
        );
    }
    let wrong = python_produce(cluster.bootstrap(), "SCRAM-SHA-256", "wrong").await;
    assert_eq!(wrong, r#"{"error": "_AUTHENTICATION"}"#);
    assert_eq!(
        cluster
            .partition_info("authed", 0)
            .await
            .unwrap()
            .high_watermark,
        2
    );
}

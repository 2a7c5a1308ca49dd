//! SASL re-authentication (KIP-368) against Apache Kafka: a broker of its own with
//! `connections.max.reauth.ms=3000` (and OAUTHBEARER enabled with Kafka's unsecured JWT
//! validator) states a 3 s session lifetime, and closes a connection whose session expired
//! when any request other than a re-authentication arrives on it. A client per mechanism
//! (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER) sends Metadata, Produce and Fetch
//! continuously on one pooled connection for 10 s, several at a time: no request fails, the
//! connection re-authenticated at least three times and is the one the pool still hands out,
//! and OAUTHBEARER asked its token provider for a token at each round.
//!
//! Runs when Kafka is among the broker kinds (`GREGOR_TEST_BROKERS`, else every kind that can
//! start here); needs `.ci/install-kafka.sh` and Java 17+.

mod cluster_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cluster_support::config;
use gregor_client::config::SecurityProtocol;
use gregor_client::sasl::{
    OAuthBearerConfig, OAuthToken, PlainConfig, SaslConfig, ScramConfig, ScramHash, TokenError,
    TokenProvider,
};
use gregor_client::{Client, ClientError, Connection, Purpose};
use gregor_protocol::messages::{FetchRequest, MetadataRequest};
use gregor_protocol::primitives::Uuid;
use gregor_testkit::BrokerKind;
use gregor_testkit::data::{
    BatchShape, create_topic, encode_values, partition_fetch, produce_request, unique_name, within,
};
use gregor_testkit::kafka::{KafkaCluster, KafkaOptions, Listener, SASL_PASSWORD, SASL_USER};
use tokio::time::Instant;

/// The broker's `connections.max.reauth.ms`.
const MAX_REAUTH_MS: u64 = 3000;
/// How long each client keeps its connection busy.
const RUN_FOR: Duration = Duration::from_secs(10);

/// A single node with every listener, session lifetimes of [`MAX_REAUTH_MS`], and
/// OAUTHBEARER enabled on the SASL listeners next to the testkit's mechanisms, validated by
/// Kafka's unsecured JWT validator (its default) and logging the broker in as [`SASL_USER`].
fn reauth_options() -> KafkaOptions {
    let mut options = KafkaOptions::single()
        .set("connections.max.reauth.ms", MAX_REAUTH_MS)
        .set(
            "sasl.enabled.mechanisms",
            "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER",
        );
    for listener in ["sasl_plaintext", "sasl_ssl"] {
        options = options.set(
            format!("listener.name.{listener}.oauthbearer.sasl.jaas.config"),
            format!(
                "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required \
                 unsecuredLoginStringClaim_sub=\"{SASL_USER}\";"
            ),
        );
    }
    options
}

/// Unsecured JWTs (`alg` `none`) for [`SASL_USER`], valid ten minutes, a new one (its own
/// `jti`) at each call, which it counts.
#[derive(Default)]
struct UnsecuredJwts {
    calls: AtomicUsize,
}

impl TokenProvider for UnsecuredJwts {
    fn token(&self) -> Result<OAuthToken, TokenError> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        let now = SystemTime::now().duration_since(UNIX_EPOCH)?;
        let expiry = now + Duration::from_secs(600);
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#);
        let claims = URL_SAFE_NO_PAD.encode(format!(
            r#"{{"sub":"{SASL_USER}","iat":{},"exp":{},"jti":"gregor-{n}"}}"#,
            now.as_secs(),
            expiry.as_secs()
        ));
        Ok(OAuthToken::new(format!("{header}.{claims}.")).with_expiry(UNIX_EPOCH + expiry))
    }
}

/// What one kind of request did on the connection.
#[derive(Debug, Default)]
struct Tally {
    answered: usize,
    failed: Vec<String>,
}

/// Sends requests built by `send` one after another until `until` (or until `conn` closes),
/// counting the answers and failures (an error, or an error code in the answer).
async fn keep_sending<F, Fut>(conn: &Connection, until: Instant, mut send: F) -> Tally
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let mut tally = Tally::default();
    while Instant::now() < until && !conn.is_closed() {
        match send().await {
            Ok(()) => tally.answered += 1,
            Err(e) => tally.failed.push(e),
        }
    }
    tally
}

async fn metadata(conn: &Connection, topic: &str) -> Result<(), String> {
    let answer = conn
        .send(MetadataRequest::for_topics([topic]))
        .await
        .map_err(|e| format!("Metadata: {e}"))?;
    match answer.topic(topic) {
        Some(t) if t.error_code == 0 => Ok(()),
        other => Err(format!("Metadata answered {other:?}")),
    }
}

async fn produce(client: &Client, conn: &Connection, topic: &str, n: usize) -> Result<(), String> {
    let batch = encode_values(&[format!("record-{n}")], &BatchShape::default());
    let answer = conn
        .send_with(|version| produce_request(client, topic, 0, version, -1, batch))
        .await
        .map_err(|e| format!("Produce: {e}"))?;
    let codes: Vec<i16> = answer
        .responses
        .iter()
        .flat_map(|t| &t.partition_responses)
        .map(|p| p.error_code)
        .collect();
    if codes == [0] {
        Ok(())
    } else {
        Err(format!("Produce answered {codes:?}"))
    }
}

async fn fetch(conn: &Connection, topic: &str, id: Uuid) -> Result<(), String> {
    // A long poll (up to 200 ms), so a fetch is often in flight when a round falls due.
    let answer = conn
        .send_with(|version| -> FetchRequest {
            partition_fetch(topic, id, 0, 0, 1 << 20, 200, version)
        })
        .await
        .map_err(|e| format!("Fetch: {e}"))?;
    let codes: Vec<i16> = std::iter::once(answer.error_code)
        .chain(
            answer
                .responses
                .iter()
                .flat_map(|t| &t.partitions)
                .map(|p| p.error_code),
        )
        .collect();
    if codes == [0, 0] {
        Ok(())
    } else {
        Err(format!("Fetch answered {codes:?}"))
    }
}

/// One client authenticating with `sasl`: a topic of its own, then Metadata, Produce and
/// Fetch on its pooled fetch connection (and metadata refreshes through the client) for
/// [`RUN_FOR`]. Returns how many re-authentications the busy connection made.
async fn busy_client(kafka: &KafkaCluster, sasl: SaslConfig) -> u64 {
    let mechanism = sasl.mechanism();
    let addr = kafka
        .addr(1, Listener::SaslPlaintext)
        .expect("SASL_PLAINTEXT");
    let builder = config(&addr.to_string())
        .security_protocol(SecurityProtocol::SaslPlaintext)
        .sasl(sasl);
    let client = within(
        "the client connects",
        Client::connect(builder.build().unwrap()),
    )
    .await
    .unwrap_or_else(|e| panic!("{mechanism}: the client connects: {e}"));
    let topic = unique_name("reauth");
    create_topic(&client, &topic, 1).await;
    let id = client.metadata().topic(&topic).expect("the topic").id;
    let (leader, _) = client.leader(&topic, 0).await.expect("a leader");
    let conn = client
        .connection(leader, Purpose::Fetch)
        .await
        .expect("a connection");
    assert_eq!(
        conn.sasl_session_lifetime(),
        Some(Duration::from_millis(MAX_REAUTH_MS)),
        "{mechanism}: the broker's session lifetime"
    );
    let before = conn.reauthentications();

    let until = Instant::now() + RUN_FOR;
    let produced = AtomicUsize::new(0);
    let (metadata, metadata_2, produce, fetch, refresh) = tokio::join!(
        keep_sending(&conn, until, || metadata(&conn, &topic)),
        keep_sending(&conn, until, || metadata(&conn, &topic)),
        keep_sending(&conn, until, || {
            let n = produced.fetch_add(1, Ordering::Relaxed);
            produce(&client, &conn, &topic, n)
        }),
        keep_sending(&conn, until, || fetch(&conn, &topic, id)),
        keep_sending(&conn, until, || async {
            tokio::time::sleep(Duration::from_millis(250)).await;
            client
                .refresh_metadata(None)
                .await
                .map(drop)
                .map_err(|e: ClientError| format!("metadata refresh: {e}"))
        }),
    );
    let reauthentications = conn.reauthentications() - before;
    let tallies = [
        ("Metadata", metadata),
        ("Metadata", metadata_2),
        ("Produce", produce),
        ("Fetch", fetch),
        ("refresh", refresh),
    ];
    let answered: usize = tallies.iter().map(|(_, t)| t.answered).sum();
    let failed: Vec<String> = tallies
        .iter()
        .flat_map(|(what, t)| t.failed.iter().map(move |e| format!("{what}: {e}")))
        .collect();
    println!(
        "{mechanism}: {answered} requests answered, {} failed, {reauthentications} \
         re-authentications in {RUN_FOR:?}, session lifetime {:?}, connection closed: {}",
        failed.len(),
        conn.sasl_session_lifetime(),
        conn.is_closed(),
    );
    assert!(
        failed.is_empty(),
        "{mechanism}: {} failed requests, the first: {:?}",
        failed.len(),
        &failed[..failed.len().min(5)]
    );
    for (what, tally) in &tallies {
        assert!(tally.answered > 0, "{mechanism}: no {what} answered");
    }
    assert!(!conn.is_closed(), "{mechanism}: the connection closed");
    // 10 s of 3 s sessions renewed at 85 to 95 %: at least three rounds.
    assert!(
        reauthentications >= 3,
        "{mechanism}: {reauthentications} re-authentications"
    );
    // The pool still hands out the same connection (a new one would not have re-authenticated).
    let pooled = client
        .connection(leader, Purpose::Fetch)
        .await
        .expect("the pooled connection");
    assert!(
        pooled.reauthentications() >= before + reauthentications,
        "{mechanism}: the pool replaced the connection"
    );
    reauthentications
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_reauthenticate_across_session_lifetimes() {
    if !BrokerKind::from_env().contains(&BrokerKind::Kafka) {
        eprintln!("skipped: Kafka is not among the broker kinds here");
        return;
    }
    let kafka = tokio::task::spawn_blocking(|| KafkaCluster::start(reauth_options()))
        .await
        .unwrap()
        .expect("a Kafka with session lifetimes starts");
    let kafka = Arc::new(kafka);
    let tokens = Arc::new(UnsecuredJwts::default());
    let mechanisms: [SaslConfig; 4] = [
        PlainConfig::new(SASL_USER, SASL_PASSWORD).into(),
        ScramConfig::new(ScramHash::Sha256, SASL_USER, SASL_PASSWORD).into(),
        ScramConfig::new(ScramHash::Sha512, SASL_USER, SASL_PASSWORD).into(),
        OAuthBearerConfig::new(tokens.clone()).into(),
    ];
    let runs: Vec<_> = mechanisms
        .into_iter()
        .map(|sasl| {
            let kafka = Arc::clone(&kafka);
            tokio::spawn(async move { busy_client(&kafka, sasl).await })
        })
        .collect();
    let mut oauth_rounds = 0;
    for run in runs {
        oauth_rounds = run.await.expect("the client ran");
    }
    // The last run is OAUTHBEARER's: each round asked the provider for a token (besides
    // the first authentication of each of the client's connections).
    let calls = tokens.calls.load(Ordering::SeqCst);
    println!("OAUTHBEARER: the token provider was called {calls} times");
    assert!(
        calls as u64 > oauth_rounds,
        "{calls} tokens for {oauth_rounds} rounds"
    );
}

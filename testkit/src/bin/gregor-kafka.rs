//! Runs an Apache Kafka 4.1 test cluster (the testkit's `BrokerKind::Kafka`) until Ctrl-C, so
//! that any suite (or any Kafka client) can use it through `KAFKA_BOOTSTRAP_SERVERS`.
//!
//! ```text
//! bash .ci/install-kafka.sh
//! cargo run -p gregor-testkit --bin gregor-kafka -- --nodes 1
//! ```
//!
//! Options: `--nodes N` (default 1; combined broker+controller nodes), `--security` (also open
//! SSL, SASL_PLAINTEXT and SASL_SSL listeners: the CA file and the SASL user are printed),
//! `--set KEY=VALUE` (a broker property, repeatable). The first line printed is the PLAINTEXT
//! bootstrap list; the cluster's directory (configuration, data, logs) is printed on stderr.

use std::process::ExitCode;

use gregor_testkit::kafka::{KafkaCluster, KafkaOptions, Listener, SASL_PASSWORD, SASL_USER};

const USAGE: &str = "usage: gregor-kafka [--nodes N] [--security] [--set KEY=VALUE]...";

fn parse() -> Result<KafkaOptions, String> {
    let mut nodes = 1usize;
    let mut security = false;
    let mut sets = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--nodes" => {
                let v = value("--nodes")?;
                nodes = v.parse().map_err(|_| format!("bad node count {v}"))?;
            }
            "--security" => security = true,
            "--set" => {
                let v = value("--set")?;
                let (k, val) = v
                    .split_once('=')
                    .ok_or(format!("--set takes KEY=VALUE, not {v}"))?;
                sets.push((k.to_owned(), val.to_owned()));
            }
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    let mut options = if nodes == 1 {
        KafkaOptions::single()
    } else {
        KafkaOptions::cluster(nodes)
    }
    .with_security(security);
    for (k, v) in sets {
        options = options.set(k, v);
    }
    Ok(options)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let options = match parse() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let cluster = match tokio::task::spawn_blocking(move || KafkaCluster::start(options)).await {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => {
            eprintln!("gregor-kafka: {e}");
            return ExitCode::FAILURE;
        }
        Err(e) => {
            eprintln!("gregor-kafka: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("{}", cluster.bootstrap());
    for listener in [Listener::Ssl, Listener::SaslPlaintext, Listener::SaslSsl] {
        if let Some(servers) = cluster.bootstrap_for(listener) {
            eprintln!("{}: {servers}", listener.name());
        }
    }
    if cluster.pki().is_some() {
        let ca = cluster.dir().join("pki/ca.pem");
        eprintln!("CA certificate: {}", ca.display());
        eprintln!("SASL user (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512): {SASL_USER} / {SASL_PASSWORD}");
    }
    eprintln!(
        "gregor-kafka: Apache Kafka {} serving from {} (started in {:?}); Ctrl-C stops",
        gregor_testkit::kafka::KAFKA_VERSION,
        cluster.dir().display(),
        cluster.started_in()
    );
    if let Err(e) = tokio::signal::ctrl_c().await {
        eprintln!("gregor-kafka: waiting for Ctrl-C: {e}");
    }
    drop(cluster);
    ExitCode::SUCCESS
}

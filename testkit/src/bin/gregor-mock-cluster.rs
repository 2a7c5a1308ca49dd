//! Runs a gregor mock cluster until Ctrl-C.
//!
//! ```text
//! cargo run -p gregor-testkit --bin gregor-mock-cluster -- --brokers 3 --port 9092 --topic t:4
//! ```
//!
//! Options: `--brokers N` (default 1), `--port P` (brokers listen on P, P+1, ...; default: ports
//! the OS picks), `--topic NAME:PARTITIONS` (repeatable), `--auto-create` (Metadata creates
//! unknown topics). The first line printed is the bootstrap list.

use std::process::ExitCode;

use gregor_testkit::mock::MockCluster;

const USAGE: &str = "usage: gregor-mock-cluster [--brokers N] [--port P] [--topic NAME:PARTITIONS]... [--auto-create]";

fn parse() -> Result<gregor_testkit::mock::MockClusterBuilder, String> {
    let mut builder = MockCluster::builder();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--brokers" => {
                let v = value("--brokers")?;
                builder = builder.brokers(v.parse().map_err(|_| format!("bad broker count {v}"))?);
            }
            "--port" => {
                let v = value("--port")?;
                builder = builder.base_port(v.parse().map_err(|_| format!("bad port {v}"))?);
            }
            "--topic" => {
                let v = value("--topic")?;
                let (name, partitions) = v.rsplit_once(':').unwrap_or((v.as_str(), "1"));
                let partitions = partitions
                    .parse()
                    .map_err(|_| format!("bad partition count in {v}"))?;
                builder = builder.topic(name, partitions);
            }
            "--auto-create" => builder = builder.auto_create_topics(true),
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    Ok(builder)
}

#[tokio::main]
async fn main() -> ExitCode {
    let builder = match parse() {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let cluster = match builder.start().await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("gregor-mock-cluster: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("{}", cluster.bootstrap());
    eprintln!("gregor-mock-cluster: serving; Ctrl-C stops");
    if let Err(e) = tokio::signal::ctrl_c().await {
        eprintln!("gregor-mock-cluster: waiting for Ctrl-C: {e}");
    }
    cluster.shutdown().await;
    ExitCode::SUCCESS
}

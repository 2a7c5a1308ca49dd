//! How long a consumer group stops when a member joins or leaves: groups of gregor's,
//! librdkafka's and Java's consumers on Apache Kafka, side by side, with classic eager
//! (`range`) and cooperative (`cooperative-sticky`) rebalancing and KIP-848's consumer protocol
//! (`consumer`, the broker's `uniform` assignor); prints Markdown tables. See BENCHMARKS.md and
//! `rebalance --help`.
//!
//! Internal mode: `--member ...` (one gregor group member; see
//! `gregor_benches::rebalance::member::gregor_member`).

use std::process::ExitCode;

use gregor_benches::rebalance::{self, Options, member};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("--member") => member::gregor_member(&args[1..]),
        _ => Options::parse(&args).and_then(|options| {
            let outcome = rebalance::run(&options)?;
            print!("{}", rebalance::render(&options, &outcome));
            if outcome.failures.is_empty() {
                Ok(())
            } else {
                Err(gregor_benches::BenchError::Other(format!(
                    "{} group(s) failed",
                    outcome.failures.len()
                )))
            }
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rebalance: {e}");
            ExitCode::FAILURE
        }
    }
}

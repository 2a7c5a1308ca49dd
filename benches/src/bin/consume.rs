//! Drains prepared topics with gregor, librdkafka (rust-rdkafka) and rskafka side by side and
//! prints Markdown tables; see BENCHMARKS.md and `consume --help`.
//!
//! `consume --quick` is the few-seconds smoke run CI does. Internal modes: `--serve-mock` (the
//! MockCluster broker process) and `--child CLIENT ...` (one measurement).

use std::process::ExitCode;

use gregor_benches::options::Options;
use gregor_benches::{broker, child, loopback, orchestrate};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("--serve-mock") => broker::serve_mock(),
        Some("--child") => child::main(&args[1..]),
        _ => Options::parse(&args).and_then(|options| {
            let bytes = if options.runs > 1 { 4 << 30 } else { 256 << 20 };
            let lo = loopback::loopback_bytes_per_sec(bytes).ok();
            let outcome = orchestrate::run(&options)?;
            print!("{}", orchestrate::render(&options, &outcome, lo));
            if outcome.failures.is_empty() {
                Ok(())
            } else {
                Err(gregor_benches::BenchError::Other(format!(
                    "{} measurement(s) failed",
                    outcome.failures.len()
                )))
            }
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("consume: {e}");
            ExitCode::FAILURE
        }
    }
}

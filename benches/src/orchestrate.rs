//! The runs: for each broker, prefill a topic per workload, then run every client on it in
//! interleaved rounds (A B C ..., A B C ...), each measurement in a fresh child process; then
//! the stalled-application run. Progress goes to stderr, the tables to stdout.

use std::time::{Duration, Instant};

use gregor_protocol::compression::Compression;

use crate::broker::{Broker, BrokerKind};
use crate::child;
use crate::clients::{ClientKind, DrainSpec};
use crate::options::Options;
use crate::payload::{Workload, batch_pool, codec_name, size_label};
use crate::prefill::{self, Filled};
use crate::report::{ClientRuns, StallResult, WorkloadResult, stall_table, throughput_table};
use crate::{BenchError, Result};

/// Everything a run produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    /// Throughput results.
    pub workloads: Vec<WorkloadResult>,
    /// Stalled-run results.
    pub stalls: Vec<StallResult>,
    /// Stalled-run backlog (MiB of values).
    pub stall_backlog_mib: f64,
    /// Failures that did not stop the run (a client failing on a broker).
    pub failures: Vec<String>,
    /// Clients left out, and why.
    pub notes: Vec<String>,
}

fn topic_name(w: &Workload) -> String {
    format!(
        "bench-{}-p{}-{}",
        size_label(w.value_size),
        w.partitions,
        codec_name(w.codec)
    )
}

fn fill(
    rt: &tokio::runtime::Runtime,
    bootstrap: &str,
    topic: &str,
    w: &Workload,
    batch_bytes: usize,
    values_per_partition: usize,
) -> Result<Filled> {
    let pool = batch_pool(w, batch_bytes)?;
    let per_batch = pool.first().map_or(1, |b| b.value_bytes.max(1));
    let batches = values_per_partition.div_ceil(per_batch).max(1);
    rt.block_on(prefill::fill(
        bootstrap,
        topic,
        w.partitions,
        &pool,
        batches,
    ))
}

/// Runs everything `options` asks for.
pub fn run(options: &Options) -> Result<Outcome> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let mut outcome = Outcome::default();
    for &kind in &options.brokers {
        let broker = Broker::start(kind)?;
        let bootstrap = broker.bootstrap();
        eprintln!("== broker {} at {bootstrap}", kind.name());
        if options.throughput {
            let mib = match kind {
                BrokerKind::Mock => options.mib,
                BrokerKind::Tansu => options.tansu_mib,
            };
            for &c in &options.clients {
                if let Some(why) = c.skipped_on(kind) {
                    outcome
                        .notes
                        .push(format!("{} left out on {}: {why}", c.name(), kind.name()));
                }
            }
            for w in options.workloads() {
                let started = Instant::now();
                let topic = topic_name(&w);
                let per_partition = (mib << 20) / w.partitions.max(1) as usize;
                let filled = fill(
                    &rt,
                    &bootstrap,
                    &topic,
                    &w,
                    options.batch_kib << 10,
                    per_partition,
                )?;
                let spec = DrainSpec {
                    bootstrap: bootstrap.clone(),
                    topic: topic.clone(),
                    end_offsets: filled.end_offsets.clone(),
                    stall: None,
                    memory_limit: 0,
                };
                let mut runs: Vec<ClientRuns> = options
                    .clients
                    .iter()
                    .filter(|c| c.skipped_on(kind).is_none())
                    .map(|&client| ClientRuns {
                        client,
                        samples: Vec::new(),
                    })
                    .collect();
                let mut failed: Vec<ClientKind> = Vec::new();
                for _ in 0..options.runs {
                    for r in runs.iter_mut() {
                        if failed.contains(&r.client) {
                            continue;
                        }
                        match child::spawn(r.client, &spec) {
                            Ok(s) => r.samples.push(s),
                            Err(e) => {
                                let msg = format!("{} {}: {e}", kind.name(), w.label());
                                eprintln!("!! {msg}");
                                outcome.failures.push(msg);
                                failed.push(r.client);
                            }
                        }
                    }
                }
                runs.retain(|r| !failed.contains(&r.client));
                eprintln!(
                    "   {} ({} records, ratio {:.2}) in {:.1?}",
                    w.label(),
                    filled.records,
                    filled.compression_ratio,
                    started.elapsed()
                );
                outcome.workloads.push(WorkloadResult {
                    broker: kind.name(),
                    workload: w.label(),
                    compression_ratio: filled.compression_ratio,
                    clients: runs,
                });
                if let Err(e) = rt.block_on(prefill::delete(&bootstrap, &topic)) {
                    eprintln!("!! deleting {topic}: {e}");
                }
            }
        }
        if let Some(stall) = options.stall {
            stalled(&rt, options, kind, &bootstrap, stall, &mut outcome)?;
        }
    }
    Ok(outcome)
}

fn stalled(
    rt: &tokio::runtime::Runtime,
    options: &Options,
    kind: BrokerKind,
    bootstrap: &str,
    stall: Duration,
    outcome: &mut Outcome,
) -> Result<()> {
    let w = Workload {
        value_size: 1024,
        partitions: 16,
        codec: Compression::None,
    };
    let topic = "bench-stalled".to_owned();
    let per_partition = options.stall_mib_per_partition << 20;
    let filled = fill(
        rt,
        bootstrap,
        &topic,
        &w,
        options.batch_kib << 10,
        per_partition,
    )?;
    outcome.stall_backlog_mib = filled.value_bytes as f64 / (1024.0 * 1024.0);
    let limit = options.stall_limit_mib << 20;
    let spec = DrainSpec {
        bootstrap: bootstrap.to_owned(),
        topic: topic.clone(),
        end_offsets: filled.end_offsets.clone(),
        stall: Some(stall),
        memory_limit: limit,
    };
    let clients = options
        .clients
        .iter()
        .filter(|c| c.prefetches() && c.skipped_on(kind).is_none());
    for &client in clients {
        let limit_text = match client {
            ClientKind::GregorStream | ClientKind::GregorGroup => {
                format!("memory_budget {} MiB", options.stall_limit_mib)
            }
            _ => format!(
                "queued.max.messages.kbytes {} (fetch.max.bytes 50 MiB)",
                limit / 1024
            ),
        };
        match child::spawn(client, &spec) {
            Ok(sample) => outcome.stalls.push(StallResult {
                broker: kind.name(),
                client,
                limit: limit_text,
                sample,
            }),
            Err(e) => {
                let msg = format!("{} stalled: {e}", kind.name());
                eprintln!("!! {msg}");
                outcome.failures.push(msg);
            }
        }
    }
    eprintln!("   stalled run done");
    rt.block_on(prefill::delete(bootstrap, &topic))
        .map_err(|e| BenchError::Other(format!("deleting {topic}: {e}")))
}

/// The Markdown the run prints.
pub fn render(options: &Options, outcome: &Outcome, loopback: Option<f64>) -> String {
    let mut out = String::new();
    if let Some(bps) = loopback {
        out.push_str(&format!(
            "Loopback TCP limit (one connection, 1 MiB writes): {:.0} MB/s\n\n",
            bps / 1e6
        ));
    }
    if !outcome.workloads.is_empty() {
        out.push_str(&format!(
            "Throughput: median of {} interleaved run(s) per client; ratios are medians of per-round ratios. \
             records/s and MB/s count from the first record the application receives to the last (startup: \
             from creating the client to the first record); CPU counts from creating the client.\n\n",
            options.runs
        ));
        out.push_str(&throughput_table(&outcome.workloads));
        out.push('\n');
    }
    if let Some(stall) = options.stall {
        out.push_str(&format!(
            "Stalled application: 16 partitions, 1 KiB values, reads one record then stops reading for {stall:?}.\n\n"
        ));
        out.push_str(&stall_table(&outcome.stalls, outcome.stall_backlog_mib));
        out.push('\n');
    }
    for n in &outcome.notes {
        out.push_str(&format!("- note: {n}\n"));
    }
    for f in &outcome.failures {
        out.push_str(&format!("- failed: {f}\n"));
    }
    out
}

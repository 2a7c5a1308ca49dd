//! Medians, ratios to librdkafka from interleaved runs, and the Markdown tables.

use std::fmt::Write as _;

use crate::clients::ClientKind;
use crate::measure::Sample;

/// The median (the mean of the middle two for an even count); NaN for none.
pub fn median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// All runs of one client on one workload, in run order.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientRuns {
    /// The client.
    pub client: ClientKind,
    /// One sample per run (the i-th ran in the same round as the baseline's i-th).
    pub samples: Vec<Sample>,
}

/// One workload's results on one broker.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkloadResult {
    /// The broker's name.
    pub broker: &'static str,
    /// The workload label.
    pub workload: String,
    /// Uncompressed / stored size of the batches.
    pub compression_ratio: f64,
    /// Per client.
    pub clients: Vec<ClientRuns>,
}

/// The median over paired runs of `f(client_i) / f(base_i)`.
pub fn paired_ratio(runs: &ClientRuns, base: &ClientRuns, f: impl Fn(&Sample) -> f64) -> f64 {
    let ratios: Vec<f64> = runs
        .samples
        .iter()
        .zip(&base.samples)
        .map(|(c, b)| f(c) / f(b))
        .collect();
    median(&ratios)
}

fn per_cpu_second(s: &Sample) -> f64 {
    s.records as f64 / s.cpu.as_secs_f64().max(1e-9)
}

const MIB: f64 = 1024.0 * 1024.0;

/// The throughput table.
pub fn throughput_table(results: &[WorkloadResult]) -> String {
    let mut out = String::new();
    out.push_str(
        "| broker | workload | compr. ratio | client | records/s | MB/s | CPU s/GB | CPU ns/record | startup ms | peak RSS MiB | records/CPU-s vs rdkafka-base | records/s vs rdkafka-base |\n",
    );
    out.push_str("|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for w in results {
        let base = w
            .clients
            .iter()
            .find(|c| c.client == ClientKind::RdkafkaBase);
        for c in &w.clients {
            let m =
                |f: &dyn Fn(&Sample) -> f64| median(&c.samples.iter().map(f).collect::<Vec<_>>());
            let (cpu_ratio, wall_ratio) = match base {
                Some(b) => (
                    format!("{:.2}x", paired_ratio(c, b, per_cpu_second)),
                    format!("{:.2}x", paired_ratio(c, b, Sample::records_per_sec)),
                ),
                None => ("-".into(), "-".into()),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {:.2} | {} | {:.0} | {:.1} | {:.2} | {:.0} | {:.0} | {:.0} | {} | {} |",
                w.broker,
                w.workload,
                w.compression_ratio,
                c.client.name(),
                m(&Sample::records_per_sec),
                m(&Sample::mb_per_sec),
                m(&Sample::cpu_s_per_gb),
                m(&Sample::cpu_ns_per_record),
                m(&|s| s.startup.as_secs_f64() * 1e3),
                m(&|s| s.peak_rss as f64 / MIB),
                cpu_ratio,
                wall_ratio,
            );
        }
    }
    out
}

/// One client's stalled run.
#[derive(Debug, Clone, PartialEq)]
pub struct StallResult {
    /// The broker's name.
    pub broker: &'static str,
    /// The client.
    pub client: ClientKind,
    /// What its limit is, in words.
    pub limit: String,
    /// The sample (peak RSS at the end of the stall).
    pub sample: Sample,
}

/// The stalled-application table.
pub fn stall_table(results: &[StallResult], backlog_mib: f64) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| broker | client | configured limit | RSS before MiB | peak RSS MiB | peak - before MiB | backlog MiB |"
    );
    out.push_str("|---|---|---|---:|---:|---:|---:|\n");
    for r in results {
        let before = r.sample.start_rss as f64 / MIB;
        let peak = r.sample.peak_rss as f64 / MIB;
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.0} | {:.0} | {:.0} | {:.0} |",
            r.broker,
            r.client.name(),
            r.limit,
            before,
            peak,
            peak - before,
            backlog_mib
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn sample(records: u64, cpu_ms: u64, wall_ms: u64) -> Sample {
        Sample {
            records,
            value_bytes: records * 100,
            wall: Duration::from_millis(wall_ms),
            cpu: Duration::from_millis(cpu_ms),
            startup: Duration::ZERO,
            peak_rss: 10 << 20,
            start_rss: 5 << 20,
        }
    }

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn ratios_pair_runs_in_order() {
        let base = ClientRuns {
            client: ClientKind::RdkafkaBase,
            samples: vec![
                sample(1000, 100, 100),
                sample(1000, 200, 200),
                sample(1000, 100, 100),
            ],
        };
        let fast = ClientRuns {
            client: ClientKind::GregorRaw,
            samples: vec![
                sample(1000, 50, 50),
                sample(1000, 100, 100),
                sample(1000, 25, 25),
            ],
        };
        // Per-run CPU ratios 2, 2, 4: median 2.
        assert_eq!(paired_ratio(&fast, &base, per_cpu_second), 2.0);
        let table = throughput_table(&[WorkloadResult {
            broker: "mock",
            workload: "100B x1 none".into(),
            compression_ratio: 1.0,
            clients: vec![base, fast],
        }]);
        assert!(table.contains("| mock | 100B x1 none | 1.00 | gregor-raw |"));
        assert!(table.contains("| 2.00x |"));
    }
}

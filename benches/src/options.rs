//! The `consume` command line.

use std::time::Duration;

use gregor_protocol::compression::Compression;

use crate::broker::BrokerKind;
use crate::clients::ClientKind;
use crate::payload::{Workload, parse_codec};
use crate::{BenchError, Result};

/// The usage text.
pub const USAGE: &str = "\
usage: consume [--quick] [--runs N] [--brokers mock,tansu] [--clients a,b,..]
               [--sizes 100,1024,65536] [--partitions 1,16] [--codecs none,gzip,snappy,lz4,zstd]
               [--mib N] [--tansu-mib N] [--batch-kib N] [--stall-secs N] [--stall-mib N]
               [--stall-limit-mib N] [--no-stall] [--stall-only] [--no-throughput]
clients: rdkafka-base rdkafka-stream rdkafka-group gregor-raw gregor-stream gregor-group rskafka
(the default run leaves out the group consumers, rdkafka-group and gregor-group; --quick runs all)";

/// What to run.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Interleaved runs per client and workload.
    pub runs: usize,
    /// Brokers, in order.
    pub brokers: Vec<BrokerKind>,
    /// Clients, in the order each round runs them.
    pub clients: Vec<ClientKind>,
    /// Value sizes.
    pub sizes: Vec<usize>,
    /// Partition counts.
    pub partitions: Vec<i32>,
    /// Codecs.
    pub codecs: Vec<Compression>,
    /// MiB of values per workload on the mock.
    pub mib: usize,
    /// MiB of values per workload on tansu.
    pub tansu_mib: usize,
    /// KiB of values per batch.
    pub batch_kib: usize,
    /// The stalled run: how long the application stops reading (None: no stalled run).
    pub stall: Option<Duration>,
    /// The stalled run's backlog per partition (16 partitions), MiB of 1 KiB values.
    pub stall_mib_per_partition: usize,
    /// The memory limit configured in the stalled run, MiB.
    pub stall_limit_mib: usize,
    /// Whether to run the throughput matrix.
    pub throughput: bool,
}

impl Options {
    /// The full run's defaults.
    pub fn full() -> Options {
        Options {
            runs: 5,
            brokers: vec![BrokerKind::Mock, BrokerKind::Tansu],
            clients: ClientKind::DEFAULT.to_vec(),
            sizes: vec![100, 1024, 65536],
            partitions: vec![1, 16],
            codecs: vec![
                Compression::None,
                Compression::Gzip,
                Compression::Snappy,
                Compression::Lz4,
                Compression::Zstd,
            ],
            mib: 64,
            tansu_mib: 16,
            batch_kib: 64,
            stall: Some(Duration::from_secs(10)),
            stall_mib_per_partition: 16,
            stall_limit_mib: 32,
            throughput: true,
        }
    }

    /// The quick mode (CI): one run, tiny data, every client.
    pub fn quick() -> Options {
        Options {
            runs: 1,
            clients: ClientKind::ALL.to_vec(),
            sizes: vec![1024],
            partitions: vec![1, 16],
            codecs: vec![Compression::None, Compression::Lz4],
            mib: 2,
            tansu_mib: 1,
            stall: Some(Duration::from_secs(1)),
            stall_mib_per_partition: 1,
            stall_limit_mib: 4,
            ..Options::full()
        }
    }

    /// Parses the arguments (without the program name).
    pub fn parse(args: &[String]) -> Result<Options> {
        let mut o = if args.iter().any(|a| a == "--quick") {
            Options::quick()
        } else {
            Options::full()
        };
        let mut it = args.iter();
        while let Some(a) = it.next() {
            if a == "--quick" {
                continue;
            }
            match a.as_str() {
                "--no-stall" => {
                    o.stall = None;
                    continue;
                }
                "--stall-only" | "--no-throughput" => {
                    o.throughput = false;
                    continue;
                }
                "-h" | "--help" => return Err(BenchError::Other(USAGE.into())),
                _ => {}
            }
            let v = it
                .next()
                .ok_or_else(|| BenchError::Other(format!("{a} needs a value\n{USAGE}")))?;
            let num = |v: &str| {
                v.parse::<usize>()
                    .map_err(|_| BenchError::Other(format!("bad number {v}")))
            };
            let list = |v: &str| v.split(',').map(str::to_owned).collect::<Vec<_>>();
            match a.as_str() {
                "--runs" => o.runs = num(v)?.max(1),
                "--mib" => o.mib = num(v)?.max(1),
                "--tansu-mib" => o.tansu_mib = num(v)?.max(1),
                "--batch-kib" => o.batch_kib = num(v)?.max(1),
                "--stall-secs" => o.stall = Some(Duration::from_secs(num(v)? as u64)),
                "--stall-mib" => o.stall_mib_per_partition = num(v)?.max(1),
                "--stall-limit-mib" => o.stall_limit_mib = num(v)?.max(1),
                "--sizes" => o.sizes = list(v).iter().map(|s| num(s)).collect::<Result<_>>()?,
                "--partitions" => {
                    o.partitions = list(v)
                        .iter()
                        .map(|s| num(s).map(|n| n as i32))
                        .collect::<Result<_>>()?
                }
                "--codecs" => {
                    o.codecs = list(v)
                        .iter()
                        .map(|s| {
                            parse_codec(s).ok_or_else(|| BenchError::Other(format!("codec {s}?")))
                        })
                        .collect::<Result<_>>()?
                }
                "--clients" => {
                    o.clients = list(v)
                        .iter()
                        .map(|s| {
                            ClientKind::parse(s)
                                .ok_or_else(|| BenchError::Other(format!("client {s}?")))
                        })
                        .collect::<Result<_>>()?
                }
                "--brokers" => {
                    o.brokers = list(v)
                        .iter()
                        .map(|s| match s.as_str() {
                            "mock" => Ok(BrokerKind::Mock),
                            "tansu" => Ok(BrokerKind::Tansu),
                            other => Err(BenchError::Other(format!("broker {other}?"))),
                        })
                        .collect::<Result<_>>()?
                }
                other => {
                    return Err(BenchError::Other(format!(
                        "unknown option {other}\n{USAGE}"
                    )));
                }
            }
        }
        Ok(o)
    }

    /// The workloads of the matrix, in order.
    pub fn workloads(&self) -> Vec<Workload> {
        let mut out = Vec::new();
        for &value_size in &self.sizes {
            for &partitions in &self.partitions {
                for &codec in &self.codecs {
                    out.push(Workload {
                        value_size,
                        partitions,
                        codec,
                    });
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn quick_and_overrides() {
        let o =
            Options::parse(&args("--quick --runs 3 --codecs gzip,zstd --brokers mock")).unwrap();
        assert_eq!(o.runs, 3);
        assert_eq!(o.codecs, vec![Compression::Gzip, Compression::Zstd]);
        assert_eq!(o.brokers, vec![BrokerKind::Mock]);
        assert_eq!(o.mib, 2);
        assert_eq!(o.workloads().len(), 4);
        assert_eq!(Options::parse(&[]).unwrap().workloads().len(), 30);
        assert!(Options::parse(&args("--codecs brotli")).is_err());
        assert!(Options::parse(&args("--runs")).is_err());
        assert!(Options::parse(&args("--no-stall")).unwrap().stall.is_none());
    }
}

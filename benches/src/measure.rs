//! What a child measures: wall time from the first record the application sees to the last
//! (plus the startup before the first record), and from creating the client on: CPU time of the whole process (`getrusage(RUSAGE_SELF)`, user +
//! system, all threads: the client's own threads and tokio's workers), wall time, peak RSS
//! (`VmHWM`) and current RSS (`VmRSS`) from `/proc/self/status`, and the line it prints.

use std::time::{Duration, Instant};

use nix::sys::resource::{UsageWho, getrusage};

use crate::{BenchError, Result};

/// CPU time used by this process so far (user + system).
pub fn process_cpu() -> Result<Duration> {
    let usage = getrusage(UsageWho::RUSAGE_SELF)
        .map_err(|e| BenchError::Other(format!("getrusage: {e}")))?;
    let tv = |t: nix::sys::time::TimeVal| {
        Duration::from_secs(t.tv_sec().max(0) as u64)
            + Duration::from_micros(t.tv_usec().max(0) as u64)
    };
    Ok(tv(usage.user_time()) + tv(usage.system_time()))
}

/// A `kB` field of `/proc/self/status` (`VmHWM`, `VmRSS`), in bytes.
pub fn status_kb(field: &str) -> Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|l| {
            let rest = l.strip_prefix(field)?.strip_prefix(':')?;
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map(|kb| kb * 1024)
        .ok_or_else(|| BenchError::Other(format!("no {field} in /proc/self/status")))
}

/// Start of a measured interval.
#[derive(Debug, Clone, Copy)]
pub struct Mark {
    wall: Instant,
    cpu: Duration,
}

impl Mark {
    /// Now.
    pub fn now() -> Result<Mark> {
        Ok(Mark {
            wall: Instant::now(),
            cpu: process_cpu()?,
        })
    }

    /// Wall time from `earlier` to this mark.
    pub fn since(&self, earlier: &Mark) -> Duration {
        self.wall.saturating_duration_since(earlier.wall)
    }

    /// Wall and CPU time since the mark.
    pub fn elapsed(&self) -> Result<(Duration, Duration)> {
        Ok((self.wall.elapsed(), process_cpu()?.saturating_sub(self.cpu)))
    }
}

/// What one child measured.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Sample {
    /// Records read.
    pub records: u64,
    /// Bytes of values read.
    pub value_bytes: u64,
    /// Wall time from the first record to the last.
    pub wall: Duration,
    /// Process CPU time from creating the client to the last record.
    pub cpu: Duration,
    /// From creating the client to the first record (not part of `wall`).
    pub startup: Duration,
    /// Peak RSS of the child (bytes).
    pub peak_rss: u64,
    /// RSS when the interval started (bytes), the baseline of the process.
    pub start_rss: u64,
}

const PREFIX: &str = "SAMPLE";

impl Sample {
    /// The line a child prints.
    pub fn to_line(&self) -> String {
        format!(
            "{PREFIX} records={} value_bytes={} wall_ns={} cpu_ns={} startup_ns={} peak_rss={} start_rss={}",
            self.records,
            self.value_bytes,
            self.wall.as_nanos(),
            self.cpu.as_nanos(),
            self.startup.as_nanos(),
            self.peak_rss,
            self.start_rss
        )
    }

    /// Finds and parses the line in a child's output.
    pub fn from_output(output: &str) -> Option<Sample> {
        let line = output.lines().find(|l| l.starts_with(PREFIX))?;
        let mut s = Sample::default();
        for kv in line.split_whitespace().skip(1) {
            let (k, v) = kv.split_once('=')?;
            let v: u64 = v.parse().ok()?;
            match k {
                "records" => s.records = v,
                "value_bytes" => s.value_bytes = v,
                "wall_ns" => s.wall = Duration::from_nanos(v),
                "cpu_ns" => s.cpu = Duration::from_nanos(v),
                "startup_ns" => s.startup = Duration::from_nanos(v),
                "peak_rss" => s.peak_rss = v,
                "start_rss" => s.start_rss = v,
                _ => return None,
            }
        }
        Some(s)
    }

    /// Records per wall-clock second.
    pub fn records_per_sec(&self) -> f64 {
        self.records as f64 / self.wall.as_secs_f64().max(1e-9)
    }

    /// Value megabytes (10^6) per wall-clock second.
    pub fn mb_per_sec(&self) -> f64 {
        self.value_bytes as f64 / 1e6 / self.wall.as_secs_f64().max(1e-9)
    }

    /// CPU seconds per gigabyte (10^9) of values.
    pub fn cpu_s_per_gb(&self) -> f64 {
        self.cpu.as_secs_f64() / (self.value_bytes as f64 / 1e9).max(1e-12)
    }

    /// CPU nanoseconds per record.
    pub fn cpu_ns_per_record(&self) -> f64 {
        self.cpu.as_nanos() as f64 / (self.records as f64).max(1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_lines_round_trip() {
        let s = Sample {
            records: 12,
            value_bytes: 3400,
            wall: Duration::from_nanos(5_000_001),
            cpu: Duration::from_nanos(4_000_000),
            startup: Duration::from_millis(3),
            peak_rss: 1 << 30,
            start_rss: 1 << 20,
        };
        let out = format!("noise\n{}\nmore\n", s.to_line());
        assert_eq!(Sample::from_output(&out), Some(s));
        assert_eq!(Sample::from_output("nothing"), None);
    }

    #[test]
    fn proc_status_and_cpu_are_readable() {
        assert!(status_kb("VmHWM").unwrap() >= status_kb("VmRSS").unwrap() / 2);
        let before = process_cpu().unwrap();
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = x.wrapping_add(std::hint::black_box(i));
        }
        std::hint::black_box(x);
        assert!(process_cpu().unwrap() >= before);
    }
}

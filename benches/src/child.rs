//! The child side: `consume --child CLIENT --bootstrap B --topic T --ends E0,E1,..
//! [--stall-ms N] [--memory-limit BYTES]` drains with one client and prints one
//! [`Sample`] line. The parent runs each measurement in a fresh child, so
//! peak RSS and CPU time belong to that client alone.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::clients::{self, ClientKind, DrainSpec};
use crate::measure::Sample;
use crate::{BenchError, Result};

/// Runs as a child with the arguments after `--child`.
pub fn main(args: &[String]) -> Result<()> {
    let mut it = args.iter();
    let kind = it
        .next()
        .and_then(|n| ClientKind::parse(n))
        .ok_or_else(|| BenchError::Other("--child needs a client name".into()))?;
    let mut spec = DrainSpec {
        bootstrap: String::new(),
        topic: String::new(),
        end_offsets: Vec::new(),
        stall: None,
        memory_limit: 0,
    };
    while let Some(a) = it.next() {
        let v = it
            .next()
            .ok_or_else(|| BenchError::Other(format!("{a} needs a value")))?;
        let num = |v: &str| {
            v.parse::<u64>()
                .map_err(|_| BenchError::Other(format!("bad number {v}")))
        };
        match a.as_str() {
            "--bootstrap" => spec.bootstrap = v.clone(),
            "--topic" => spec.topic = v.clone(),
            "--ends" => {
                spec.end_offsets = v
                    .split(',')
                    .map(|e| num(e).map(|n| n as i64))
                    .collect::<Result<_>>()?
            }
            "--stall-ms" => spec.stall = Some(Duration::from_millis(num(v)?)),
            "--memory-limit" => spec.memory_limit = num(v)? as usize,
            other => return Err(BenchError::Other(format!("unknown child argument {other}"))),
        }
    }
    let sample = clients::run(kind, &spec)?;
    if spec.stall.is_none() && sample.records != spec.total_records() {
        return Err(BenchError::Other(format!(
            "{} read {} records, the topic holds {}",
            kind.name(),
            sample.records,
            spec.total_records()
        )));
    }
    println!("{}", sample.to_line());
    Ok(())
}

/// The longest one child may run before it is killed (a hung client fails its measurement
/// instead of the whole run).
pub const CHILD_DEADLINE: Duration = Duration::from_secs(180);

fn output_within(mut cmd: Command, deadline: Duration) -> Result<std::process::Output> {
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
    let started = std::time::Instant::now();
    while child.try_wait()?.is_none() {
        if started.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(BenchError::Other(format!(
                "child killed after {deadline:?}"
            )));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(child.wait_with_output()?)
}

/// Runs one measurement in a child process of this binary and parses its sample.
pub fn spawn(kind: ClientKind, spec: &DrainSpec) -> Result<Sample> {
    let exe = std::env::current_exe()?;
    let ends: Vec<String> = spec.end_offsets.iter().map(|e| e.to_string()).collect();
    let mut cmd = Command::new(exe);
    cmd.arg("--child")
        .arg(kind.name())
        .args(["--bootstrap", &spec.bootstrap])
        .args(["--topic", &spec.topic])
        .args(["--ends", &ends.join(",")])
        .args(["--memory-limit", &spec.memory_limit.to_string()]);
    if let Some(stall) = spec.stall {
        cmd.args(["--stall-ms", &stall.as_millis().to_string()]);
    }
    let out = output_within(cmd, CHILD_DEADLINE)?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    match Sample::from_output(&stdout) {
        Some(s) if out.status.success() => Ok(s),
        _ => Err(BenchError::Other(format!(
            "{} failed ({}): {}",
            kind.name(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))),
    }
}

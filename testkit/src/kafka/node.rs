//! One Kafka node's JVM: formatting its storage, starting it under a watchdog, waiting until it
//! answers, killing and restarting it, and reading its log.

use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::KafkaError;
use super::config::{Listener, NodeLayout};
use super::install::KafkaInstall;
use crate::tansu::probe_api_versions;

/// How long a node may take from `java` to answering ApiVersions (a few seconds here; CI
/// machines are slower when several builds run).
pub(crate) const READY_TIMEOUT: Duration = Duration::from_secs(120);

/// JVM flags of the broker: Kafka's own G1 settings, a small heap, temporary files (the
/// compression libraries' native code) inside the node's directory.
fn broker_jvm_args(heap_mb: u32, node_dir: &Path, log4j: &Path) -> Vec<String> {
    vec![
        format!("-Xms{}m", heap_mb / 2),
        format!("-Xmx{heap_mb}m"),
        "-XX:+UseG1GC".into(),
        "-XX:MaxGCPauseMillis=20".into(),
        "-XX:+ExitOnOutOfMemoryError".into(),
        "-Djava.awt.headless=true".into(),
        format!("-Djava.io.tmpdir={}", node_dir.join("tmp").display()),
        format!("-Dlog4j2.configurationFile={}", log4j.display()),
    ]
}

/// JVM flags of short-lived tools (the storage formatter, the Java peer): start fast.
pub(crate) fn tool_jvm_args(log4j: &Path) -> Vec<String> {
    vec![
        "-Xmx256m".into(),
        "-XX:TieredStopAtLevel=1".into(),
        "-XX:+UseSerialGC".into(),
        "-Djava.awt.headless=true".into(),
        format!("-Dlog4j2.configurationFile={}", log4j.display()),
    ]
}

/// Runs the JVM under `sh`; the shell kills it with SIGKILL when the test process exits (even
/// without destructors running), on SIGTERM (a crash: [`NodeProcess::kill`]), and stops it
/// with SIGTERM on SIGINT (a clean shutdown: [`NodeProcess::stop`]).
const WATCHDOG: &str = r#"java=$1; shift; parent=$1; shift; log=$1; shift
"$java" "$@" >>"$log" 2>&1 </dev/null & child=$!
trap 'kill -KILL $child 2>/dev/null; wait $child 2>/dev/null; exit 0' TERM
trap 'kill -TERM $child 2>/dev/null; wait $child 2>/dev/null; exit 0' INT
while kill -0 "$parent" 2>/dev/null && kill -0 "$child" 2>/dev/null; do sleep 0.2; done
kill -KILL "$child" 2>/dev/null; wait "$child" 2>/dev/null"#;

/// A node of a test cluster: its layout and, while it runs, its watchdog process.
#[derive(Debug)]
pub(crate) struct NodeProcess {
    pub layout: NodeLayout,
    /// The node's directory: `server.properties`, `data/`, `tmp/`, `server.log`.
    pub dir: PathBuf,
    child: Option<Child>,
}

impl NodeProcess {
    pub fn new(layout: NodeLayout, dir: PathBuf) -> NodeProcess {
        NodeProcess {
            layout,
            dir,
            child: None,
        }
    }

    pub fn properties_path(&self) -> PathBuf {
        self.dir.join("server.properties")
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.join("server.log")
    }

    /// The address of `listener`, if the node opens it.
    pub fn addr(&self, listener: Listener) -> Option<SocketAddr> {
        self.layout
            .ports
            .iter()
            .find(|(l, _)| *l == listener)
            .map(|(_, port)| SocketAddr::from(([127, 0, 0, 1], *port)))
    }

    fn plaintext(&self) -> SocketAddr {
        // Every node opens PLAINTEXT (the inter-broker listener).
        self.addr(Listener::Plaintext)
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// Formats the node's storage with `cluster_id` (and `extra` arguments such as SCRAM
    /// users). Returns the formatter's output on failure.
    pub fn format(
        &self,
        install: &KafkaInstall,
        log4j: &Path,
        cluster_id: &str,
        extra: &[String],
    ) -> Result<(), KafkaError> {
        std::fs::create_dir_all(self.dir.join("tmp"))?;
        let out = Command::new(install.java_bin())
            .args(tool_jvm_args(log4j))
            .arg("-cp")
            .arg(install.classpath())
            .args(["kafka.tools.StorageTool", "format", "-t", cluster_id, "-c"])
            .arg(self.properties_path())
            .args(extra)
            .stdin(Stdio::null())
            .output()?;
        if out.status.success() {
            return Ok(());
        }
        Err(KafkaError::Format {
            node: self.layout.id,
            output: format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        })
    }

    /// Starts the JVM (formatted storage needed); does not wait.
    pub fn spawn(
        &mut self,
        install: &KafkaInstall,
        heap_mb: u32,
        log4j: &Path,
    ) -> Result<(), KafkaError> {
        if self.child.is_some() {
            return Ok(());
        }
        std::fs::create_dir_all(self.dir.join("tmp"))?;
        let child = Command::new("sh")
            .arg("-c")
            .arg(WATCHDOG)
            .arg("gregor-kafka-watchdog")
            .arg(install.java_bin())
            .arg(std::process::id().to_string())
            .arg(self.log_path())
            .args(broker_jvm_args(heap_mb, &self.dir, log4j))
            .arg("-cp")
            .arg(install.classpath())
            .arg("kafka.Kafka")
            .arg(self.properties_path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        self.child = Some(child);
        Ok(())
    }

    /// Waits until the node answers ApiVersions on its PLAINTEXT listener (which Kafka opens
    /// only once the broker is registered and unfenced) and its other listeners accept
    /// connections, or fails with its log's tail.
    pub fn wait_ready(&mut self, deadline: Instant) -> Result<(), KafkaError> {
        let addr = self.plaintext();
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Some(status) = child.try_wait()? {
                    self.child = None;
                    return Err(KafkaError::Exited {
                        node: self.layout.id,
                        status: status.to_string(),
                        log_tail: self.log_tail(60),
                    });
                }
            } else {
                return Err(KafkaError::Exited {
                    node: self.layout.id,
                    status: "not started".into(),
                    log_tail: self.log_tail(60),
                });
            }
            // Kafka opens each listener's socket when that listener's acceptor starts, the
            // PLAINTEXT one not necessarily last: ready means every listener accepts.
            if probe_api_versions(addr).is_ok() && self.every_listener_accepts() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(KafkaError::NotReady {
                    node: self.layout.id,
                    log_tail: self.log_tail(60),
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Whether a TCP connection to each listener is accepted.
    fn every_listener_accepts(&self) -> bool {
        self.layout.ports.iter().all(|(_, port)| {
            let addr = SocketAddr::from(([127, 0, 0, 1], *port));
            std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok()
        })
    }

    /// Whether the JVM runs.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut().map(|c| c.try_wait()) {
            Some(Ok(None)) => true,
            Some(_) => {
                self.child = None;
                false
            }
            None => false,
        }
    }

    /// Kills the JVM with SIGKILL (through its watchdog) and reaps it.
    pub fn kill(&mut self) {
        self.signal("-TERM");
    }

    /// Stops the JVM with SIGTERM (Kafka's controlled shutdown) and waits for it to exit.
    pub fn stop(&mut self) {
        self.signal("-INT");
    }

    fn signal(&mut self, signal: &str) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .arg(signal)
                .arg(child.id().to_string())
                .status();
            let _ = child.wait();
        }
    }

    /// The last `lines` lines of the node's log (at most 64 KiB of it).
    pub fn log_tail(&self, lines: usize) -> String {
        read_tail(&self.log_path(), lines).unwrap_or_else(|e| format!("(no log: {e})"))
    }

    /// The RSS of the JVM in KiB (from `/proc`), if it runs.
    pub fn rss_kib(&self) -> Option<u64> {
        let watchdog = self.child.as_ref()?.id();
        // The JVM is the watchdog's only child.
        let children =
            std::fs::read_to_string(format!("/proc/{watchdog}/task/{watchdog}/children")).ok()?;
        let jvm = children.split_whitespace().next()?;
        let status = std::fs::read_to_string(format!("/proc/{jvm}/status")).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

fn read_tail(path: &Path, lines: usize) -> std::io::Result<String> {
    const MAX: u64 = 64 * 1024;
    let mut file = OpenOptions::new().read(true).open(path)?;
    let len = file.metadata()?.len();
    file.seek(SeekFrom::Start(len.saturating_sub(MAX)))?;
    let mut buf = Vec::new();
    file.read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf);
    let all: Vec<&str> = text.lines().collect();
    Ok(all[all.len().saturating_sub(lines)..].join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_is_the_last_lines() {
        let dir = crate::certs::TempDir::new("tail").unwrap();
        let path = dir.path().join("log");
        let text: String = (0..100).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&path, text).unwrap();
        assert_eq!(read_tail(&path, 2).unwrap(), "line 98\nline 99");
        assert_eq!(read_tail(&path, 1000).unwrap().lines().count(), 100);
    }
}

//! Java's own Kafka client as the reference peer: `testkit/kafka/GregorPeer.java`, compiled once
//! per installation into the cache directory, run with `kafka-clients` of the broker's version.
//!
//! A test writes a [`PeerScript`] (producer settings, sends, transactions, a consumer's read,
//! the built-in partitioner's choice, offset commits and lookups), [`JavaPeer::run`] feeds it to
//! one `java` process and returns what Java answered as a [`PeerOutput`]. The script is run
//! whole, in order; the program exits on the first failing command, and `run` returns its
//! error with what it printed. Several producers may be open at once
//! ([`PeerScript::use_producer`]), so that transactions and plain sends interleave, and
//! [`PeerScript::halt`] ends the program leaving a transaction open on the broker.
//! [`JavaPeer::start`] instead keeps the process and takes the script in parts
//! ([`PeerSession::run`] returns once a part is done), so that a test can act between them,
//! for example while a transaction is open.
//!
//! ```no_run
//! use gregor_testkit::kafka::KafkaCluster;
//! use gregor_testkit::kafka::peer::{JavaPeer, PeerScript};
//!
//! let kafka = KafkaCluster::shared().unwrap();
//! let peer = JavaPeer::new(kafka.install()).unwrap();
//! let mut script = PeerScript::new();
//! script
//!     .producer(&[("acks", "all"), ("compression.type", "zstd")])
//!     .send("events", Some(0), Some(b"k"), Some(b"v"), &[("h", Some(b"1"))])
//!     .flush()
//!     .consume("events", &[("isolation.level", "read_committed")]);
//! let out = peer.run(&kafka.bootstrap(), &script).unwrap();
//! assert_eq!(out.acks.len(), 1);
//! ```

use std::fmt::Write as _;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::install::{KAFKA_VERSION, KafkaInstall};
use super::node::tool_jvm_args;
use super::{KafkaError, LOG4J2_PROPERTIES};
use crate::process::cache_dir;

mod output;
mod script;

pub use self::output::{PeerAck, PeerCommitted, PeerOutput, PeerRecord};
pub use self::script::PeerScript;

/// The Java sources compiled together: the scripted peer and the long-running group member of
/// [`super::group_peer`].
const SOURCES: [(&str, &str); 2] = [
    ("GregorPeer", include_str!("../../../kafka/GregorPeer.java")),
    (
        "GroupMemberPeer",
        include_str!("../../../kafka/GroupMemberPeer.java"),
    ),
];

/// How long one script may run before the Java program exits by itself.
pub const PEER_TIMEOUT: Duration = Duration::from_secs(120);

/// Why the Java peer could not run a script.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PeerError {
    /// Kafka's jars or Java are missing.
    #[error(transparent)]
    Install(#[from] KafkaError),
    /// No `javac` next to `java` nor on the `PATH`.
    #[error("no javac found to compile the Java peer")]
    NoJavac,
    /// A file or process operation failed.
    #[error("java peer: {0}")]
    Io(#[from] std::io::Error),
    /// `javac` refused the peer's source.
    #[error("compiling the Java peer failed:\n{0}")]
    Compile(String),
    /// A command of the script failed (or the program timed out).
    #[error("the Java peer failed ({status}): {message}\n--- its stderr ---\n{stderr}")]
    Failed {
        /// The exit status.
        status: String,
        /// The `error ...` line it printed, if any.
        message: String,
        /// The end of its standard error (the stack trace).
        stderr: String,
    },
    /// It printed a line this module does not understand.
    #[error("the Java peer printed {0:?}")]
    Unexpected(String),
}

/// The compiled peer and what it runs with.
#[derive(Debug, Clone)]
pub struct JavaPeer {
    install: KafkaInstall,
    classes: PathBuf,
    log4j: PathBuf,
}

impl JavaPeer {
    /// Compiles the peer (and the group member of [`super::group_peer`]) with `javac` unless
    /// these sources were compiled before (into
    /// `$GREGOR_CACHE_DIR/kafka-4.1.2/peer-<sha256 prefix>/`).
    pub fn new(install: &KafkaInstall) -> Result<JavaPeer, PeerError> {
        let (classes, log4j) = compiled(install, &SOURCES, "peer")?;
        Ok(JavaPeer {
            install: install.clone(),
            classes,
            log4j,
        })
    }

    /// The `java` command running the peer against `bootstrap`, its three streams piped.
    fn command(&self, bootstrap: &str) -> Command {
        let classpath = format!("{}:{}", self.classes.display(), self.install.classpath());
        let mut command = Command::new(self.install.java_bin());
        command
            .args(tool_jvm_args(&self.log4j))
            .arg("-cp")
            .arg(classpath)
            .arg("GregorPeer")
            .arg(bootstrap)
            .arg(PEER_TIMEOUT.as_secs().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    /// The `java` command running the group member `GroupMemberPeer` against `bootstrap` with
    /// `args` after its timeout, its three streams piped.
    pub(crate) fn group_member_command(
        &self,
        bootstrap: &str,
        timeout: Duration,
        args: &[String],
    ) -> Command {
        let classpath = format!("{}:{}", self.classes.display(), self.install.classpath());
        let mut command = Command::new(self.install.java_bin());
        command
            .args(tool_jvm_args(&self.log4j))
            .arg("-cp")
            .arg(classpath)
            .arg("GroupMemberPeer")
            .arg(bootstrap)
            .arg(timeout.as_secs().max(1).to_string())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    /// Runs `script` against `bootstrap` (blocking: call it from `spawn_blocking` in async tests).
    pub fn run(&self, bootstrap: &str, script: &PeerScript) -> Result<PeerOutput, PeerError> {
        let mut child = self.command(bootstrap).spawn()?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(script.text.as_bytes())?;
        }
        let out = child.wait_with_output()?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            return Err(failed(
                out.status,
                &stdout,
                &String::from_utf8_lossy(&out.stderr),
            ));
        }
        PeerOutput::parse(&stdout)
    }

    /// [`run`](Self::run) from an async test: the Java process is waited for on a blocking
    /// thread, not on the runtime's workers.
    pub async fn run_async(
        &self,
        bootstrap: &str,
        script: &PeerScript,
    ) -> Result<PeerOutput, PeerError> {
        let (peer, bootstrap, script) = (self.clone(), bootstrap.to_owned(), script.clone());
        tokio::task::spawn_blocking(move || peer.run(&bootstrap, &script))
            .await
            .map_err(|e| PeerError::Io(std::io::Error::other(e.to_string())))?
    }

    /// Starts a peer against `bootstrap` that takes its script in parts
    /// ([`PeerSession::run`]), so that a test can act between them: with a transaction left
    /// open, say.
    pub fn start(&self, bootstrap: &str) -> Result<PeerSession, PeerError> {
        let mut child = self.command(bootstrap).spawn()?;
        let (Some(stdin), Some(stdout), Some(mut stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(PeerError::Io(std::io::Error::other(
                "the peer's standard streams were not piped",
            )));
        };
        // Drained all along, so that a chatty JVM never blocks on a full pipe.
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        Ok(PeerSession {
            child,
            stdin: Some(stdin),
            stdout: BufReader::new(stdout),
            stderr: Some(stderr),
            answered: String::new(),
        })
    }
}

/// [`PeerError::Failed`] for a peer that exited with `status`, having printed `stdout` and
/// `stderr` (of which the error keeps the last 40 lines).
pub(super) fn failed(status: ExitStatus, stdout: &str, stderr: &str) -> PeerError {
    let tail: Vec<&str> = stderr.lines().collect();
    PeerError::Failed {
        status: status.to_string(),
        message: stdout
            .lines()
            .find(|l| l.starts_with("error "))
            .unwrap_or("(no error line)")
            .to_owned(),
        stderr: tail[tail.len().saturating_sub(40)..].join("\n"),
    }
}

/// A running peer fed its script in parts ([`JavaPeer::start`]). Its calls block: use them
/// from `spawn_blocking` in async tests. Dropping the session kills the process (a producer's
/// open transaction then stays open until the broker's transaction timeout).
#[derive(Debug)]
pub struct PeerSession {
    child: Child,
    /// `None` once [`finish`](Self::finish) closed it.
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    /// The thread draining the peer's standard error, which returns it.
    stderr: Option<JoinHandle<String>>,
    /// Everything the peer printed so far.
    answered: String,
}

impl PeerSession {
    /// Runs the commands of `script` and returns once the peer finished the last of them (it
    /// answers `ok` to each). A failing command ends the peer: its error, as
    /// [`JavaPeer::run`] gives it.
    pub fn run(&mut self, script: &PeerScript) -> Result<(), PeerError> {
        let commands = script
            .text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .count();
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| PeerError::Io(std::io::Error::other("the session's input is closed")))?;
        stdin.write_all(script.text.as_bytes())?;
        stdin.flush()?;
        let mut done = 0;
        while done < commands {
            let mut line = String::new();
            let read = self.stdout.read_line(&mut line)?;
            self.answered.push_str(&line);
            if read == 0 || line.starts_with("error ") {
                return Err(self.failure());
            }
            if line.trim_end() == "ok" {
                done += 1;
            }
        }
        Ok(())
    }

    /// Ends the script (the peer closes its producer, which aborts a transaction left open)
    /// and returns everything the peer answered during the session.
    pub fn finish(mut self) -> Result<PeerOutput, PeerError> {
        drop(self.stdin.take());
        let mut rest = String::new();
        self.stdout.read_to_string(&mut rest)?;
        self.answered.push_str(&rest);
        let status = self.child.wait()?;
        if !status.success() {
            return Err(self.failure());
        }
        PeerOutput::parse(&self.answered)
    }

    /// The error of a peer that stopped answering: waits for it to exit.
    fn failure(&mut self) -> PeerError {
        drop(self.stdin.take());
        let mut rest = String::new();
        let _ = self.stdout.read_to_string(&mut rest);
        self.answered.push_str(&rest);
        let status = match self.child.wait() {
            Ok(status) => status,
            Err(e) => return PeerError::Io(e),
        };
        let stderr = self
            .stderr
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default();
        failed(status, &self.answered, &stderr)
    }
}

impl Drop for PeerSession {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The directory of the Java classes compiled from `sources` (class name, source text) into
/// `$GREGOR_CACHE_DIR/kafka-<version>/<prefix>-<sha256 prefix of the sources>/`, unless they
/// are there already, and the log4j2 configuration file the programs run with.
pub(super) fn compiled(
    install: &KafkaInstall,
    sources: &[(&str, &str)],
    prefix: &str,
) -> Result<(PathBuf, PathBuf), PeerError> {
    let mut hasher = Sha256::new();
    for (class, text) in sources {
        hasher.update(class.as_bytes());
        hasher.update(text.as_bytes());
    }
    let digest = hasher.finalize();
    let tag: String = digest[..8].iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    });
    let base = cache_dir().join(format!("kafka-{KAFKA_VERSION}"));
    let classes = base.join(format!("{prefix}-{tag}"));
    let log4j = base.join("peer-log4j2.properties");
    std::fs::create_dir_all(&base)?;
    if !all_compiled(&classes, sources) {
        compile(install, &base, &classes, sources, prefix)?;
    }
    write_if_changed(&log4j, LOG4J2_PROPERTIES)?;
    Ok((classes, log4j))
}

fn all_compiled(classes: &Path, sources: &[(&str, &str)]) -> bool {
    sources
        .iter()
        .all(|(class, _)| classes.join(format!("{class}.class")).is_file())
}

fn compile(
    install: &KafkaInstall,
    base: &Path,
    classes: &Path,
    sources: &[(&str, &str)],
    prefix: &str,
) -> Result<(), PeerError> {
    let javac = install.javac_bin().ok_or(PeerError::NoJavac)?;
    // Compiled into a directory of its own, then renamed: concurrent test processes each
    // compile, one rename wins, the others find the classes there.
    let staging = base.join(format!("{prefix}-staging-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging)?;
    let mut files = Vec::with_capacity(sources.len());
    for (class, text) in sources {
        let file = staging.join(format!("{class}.java"));
        std::fs::write(&file, text)?;
        files.push(file);
    }
    let out = Command::new(javac)
        .arg("-nowarn")
        .arg("-cp")
        .arg(install.classpath())
        .arg("-d")
        .arg(&staging)
        .args(&files)
        .stdin(Stdio::null())
        .output()?;
    if !out.status.success() {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(PeerError::Compile(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    if std::fs::rename(&staging, classes).is_err() {
        // Another process got there first.
        let _ = std::fs::remove_dir_all(&staging);
    }
    if all_compiled(classes, sources) {
        Ok(())
    } else {
        Err(PeerError::Compile(
            "the compiled classes did not appear".into(),
        ))
    }
}

pub(super) fn write_if_changed(path: &Path, text: &str) -> std::io::Result<()> {
    if std::fs::read_to_string(path).ok().as_deref() == Some(text) {
        return Ok(());
    }
    let staging = path.with_extension(format!("{}.tmp", std::process::id()));
    std::fs::write(&staging, text)?;
    std::fs::rename(staging, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_write_bytes_as_hex_and_null_as_a_dash() {
        let mut s = PeerScript::new();
        s.producer(&[("acks", "all")])
            .send(
                "t",
                None,
                None,
                Some(b""),
                &[("h", Some(b"\x01\xff")), ("n", None)],
            )
            .send("t", Some(2), Some(b"k"), None, &[])
            .commit_offset("g", "t", 0, 42, None, "meta")
            .use_producer("tx")
            .halt();
        assert_eq!(
            s.text(),
            "producer acks=all\n\
             send t -1 - x x68=x01ff x6e=-\n\
             send t 2 x6b -\n\
             commit-offset g t 0 42 -1 x6d657461\n\
             use tx\n\
             halt\n"
        );
    }

    #[test]
    fn answers_parse_into_their_kinds() {
        let out = PeerOutput::parse(
            "ok\nack t 1 7\nok\nrecord 1 7 1700 x6b - x68=x01 x68=-\nconsumed 1\nok\n\
             consumed 0\nok\nrecord 0 3 1701 - x\nconsumed 1\npartition 3\n\
             committed 5 2 x6d\ncommitted none\nok\n",
        )
        .unwrap();
        assert_eq!(
            out.acks,
            [PeerAck {
                topic: "t".into(),
                partition: 1,
                offset: 7
            }]
        );
        assert_eq!(
            out.records[..1],
            [PeerRecord {
                partition: 1,
                offset: 7,
                timestamp: 1700,
                key: Some(b"k".to_vec()),
                value: None,
                headers: vec![("h".into(), Some(vec![1])), ("h".into(), None)],
            }]
        );
        assert_eq!(out.records.len(), 2);
        assert_eq!(out.records[1].offset, 3);
        assert_eq!(out.records[1].value.as_deref(), Some(&b""[..]));
        assert_eq!(
            out.reads,
            [
                vec![out.records[0].clone()],
                vec![],
                vec![out.records[1].clone()]
            ]
        );
        assert_eq!(out.partitions, [3]);
        assert_eq!(
            out.committed,
            [
                Some(PeerCommitted {
                    offset: 5,
                    leader_epoch: Some(2),
                    metadata: "m".into()
                }),
                None
            ]
        );
        assert!(PeerOutput::parse("record 1 x").is_err());
        assert!(PeerOutput::parse("ack t 1 xyz").is_err());
        assert!(PeerOutput::parse("surprise").is_err());
        // A count that does not match the records printed.
        assert!(PeerOutput::parse("record 1 7 1700 - -\nconsumed 2\n").is_err());
    }
}

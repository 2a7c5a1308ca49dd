//! Where the Kafka jars and the Java runtime are.
//!
//! `.ci/install-kafka.sh` resolves `testkit/kafka/pom.xml` with Maven into
//! `$GREGOR_CACHE_DIR/kafka-4.1.2/libs` (default `~/.cache/gregor`), checks every jar against
//! `testkit/kafka/jars.sha256` and marks the directory complete. `GREGOR_KAFKA_LIBS` points at
//! another directory of the same jars; `GREGOR_JAVA` (else `$JAVA_HOME/bin/java`, else `java` on
//! the `PATH`) names the Java runtime, 17 or newer.

use std::path::{Path, PathBuf};

use super::KafkaError;
use crate::process::{cache_dir, find_in_path};

/// The Apache Kafka version the testkit runs (broker and Java client).
pub const KAFKA_VERSION: &str = "4.1.2";

/// The file `.ci/install-kafka.sh` writes last, once every jar is verified.
const COMPLETE_MARKER: &str = ".complete";

/// An installed Kafka: the jar directory and the `java` binary that runs it.
#[derive(Debug, Clone)]
pub struct KafkaInstall {
    libs: PathBuf,
    java: PathBuf,
}

impl KafkaInstall {
    /// The directory the jars are expected in.
    pub fn libs_dir() -> PathBuf {
        match std::env::var_os("GREGOR_KAFKA_LIBS") {
            Some(p) => PathBuf::from(p),
            None => cache_dir()
                .join(format!("kafka-{KAFKA_VERSION}"))
                .join("libs"),
        }
    }

    /// The Java runtime to use, if one is found.
    pub fn java() -> Option<PathBuf> {
        if let Some(p) = std::env::var_os("GREGOR_JAVA") {
            return Some(PathBuf::from(p));
        }
        if let Some(home) = std::env::var_os("JAVA_HOME") {
            let bin = Path::new(&home).join("bin/java");
            if bin.is_file() {
                return Some(bin);
            }
        }
        find_in_path(&["java"])
    }

    /// Whether the jars were installed completely (or `GREGOR_KAFKA_LIBS` names a directory)
    /// and a Java runtime is there.
    pub fn is_available() -> bool {
        Self::find().is_ok()
    }

    /// The installation, or why there is none.
    pub fn find() -> Result<KafkaInstall, KafkaError> {
        let libs = Self::libs_dir();
        let complete = if std::env::var_os("GREGOR_KAFKA_LIBS").is_some() {
            libs.join(format!("kafka_2.13-{KAFKA_VERSION}.jar"))
                .is_file()
        } else {
            libs.join(COMPLETE_MARKER).is_file()
        };
        if !complete {
            return Err(KafkaError::NotInstalled(libs));
        }
        let java = Self::java().ok_or(KafkaError::NoJava)?;
        Ok(KafkaInstall { libs, java })
    }

    /// The jar directory.
    pub fn libs(&self) -> &Path {
        &self.libs
    }

    /// The `java` binary.
    pub fn java_bin(&self) -> &Path {
        &self.java
    }

    /// The class path of every jar (`libs/*`).
    pub fn classpath(&self) -> String {
        format!("{}/*", self.libs.display())
    }

    /// The `javac` next to [`java_bin`](Self::java_bin), else the one on the `PATH`.
    pub fn javac_bin(&self) -> Option<PathBuf> {
        let sibling = self.java.with_file_name("javac");
        if sibling.is_file() {
            return Some(sibling);
        }
        find_in_path(&["javac"])
    }
}

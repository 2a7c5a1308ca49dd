//! The broker a run drains: our MockCluster in a separate process (this benchmark binary run
//! again with `--serve-mock`, so the broker's CPU and memory are not the client's), or tansu
//! (testkit's [`Tansu`], also its own process).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use gregor_testkit::Tansu;
use gregor_testkit::mock::MockCluster;

use crate::{BenchError, Result};

/// Which broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrokerKind {
    /// testkit's MockCluster (serves stored batches from memory).
    Mock,
    /// tansu with in-memory storage.
    Tansu,
}

impl BrokerKind {
    /// Its name in the tables and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            BrokerKind::Mock => "mock",
            BrokerKind::Tansu => "tansu",
        }
    }
}

/// A running broker, stopped on drop.
#[derive(Debug)]
pub enum Broker {
    /// The MockCluster child process and its bootstrap address.
    Mock {
        /// The child process.
        child: Child,
        /// Its bootstrap address.
        bootstrap: String,
    },
    /// tansu.
    Tansu(Tansu),
}

impl Broker {
    /// Starts one.
    pub fn start(kind: BrokerKind) -> Result<Broker> {
        match kind {
            BrokerKind::Tansu => Tansu::start()
                .map(Broker::Tansu)
                .map_err(|e| BenchError::Other(e.to_string())),
            BrokerKind::Mock => {
                let exe = std::env::current_exe()?;
                let mut child = Command::new(exe)
                    .arg("--serve-mock")
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .spawn()?;
                let stdout = child
                    .stdout
                    .take()
                    .ok_or_else(|| BenchError::Other("mock broker has no stdout".into()))?;
                let mut line = String::new();
                BufReader::new(stdout).read_line(&mut line)?;
                let bootstrap = line.trim().to_owned();
                if bootstrap.is_empty() {
                    let _ = child.kill();
                    return Err(BenchError::Other("mock broker did not start".into()));
                }
                Ok(Broker::Mock { child, bootstrap })
            }
        }
    }

    /// The bootstrap address.
    pub fn bootstrap(&self) -> String {
        match self {
            Broker::Mock { bootstrap, .. } => bootstrap.clone(),
            Broker::Tansu(t) => t.bootstrap(),
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Broker::Mock { child, .. } = self {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The `--serve-mock` mode: runs a one-broker MockCluster (topics created by the benchmark
/// through CreateTopics), prints its bootstrap address, and serves until stdin closes (the
/// parent exited or dropped its handle) or the process is killed.
pub fn serve_mock() -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let cluster = MockCluster::builder()
            .brokers(1)
            .max_message_bytes(8 << 20)
            .start()
            .await
            .map_err(|e| BenchError::Other(e.to_string()))?;
        println!("{}", cluster.bootstrap());
        // Stdin closing means the parent is gone.
        tokio::task::spawn_blocking(|| {
            let mut sink = String::new();
            while std::io::stdin()
                .read_line(&mut sink)
                .map(|n| n > 0)
                .unwrap_or(false)
            {
                sink.clear();
            }
        })
        .await
        .map_err(|e| BenchError::Other(e.to_string()))?;
        cluster.shutdown().await;
        Ok(())
    })
}

//! librdkafka's mock cluster as a broker for gregor's tests (cargo feature `rdkafka-mock`).
//!
//! [`RdkafkaMock`] starts `rdkafka::mocking::MockCluster` — librdkafka's in-process cluster,
//! written in C, with its own broker threads and listeners on loopback — and hands out its
//! bootstrap servers. It is a second, independent implementation of the broker side to run
//! gregor's clients against, next to our [`MockCluster`](crate::mock::MockCluster), tansu and
//! a real Kafka. Only this test crate links librdkafka, and only with the feature on: gregor's
//! library crates never depend on it.
//!
//! The rdkafka handle is not `Send`, so it lives on a thread of its own that serves commands
//! (topic creation) until the [`RdkafkaMock`] is dropped; the wrapper itself is `Send + Sync`
//! and needs no async runtime.
//!
//! librdkafka's mock does not implement CreateTopics; topics come from
//! [`RdkafkaMock::create_topic`] or from auto-creation on Metadata requests.

use std::sync::mpsc;
use std::thread::JoinHandle;

use rdkafka::mocking::MockCluster;

/// Why the rdkafka mock cluster did not start or a command failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RdkafkaMockError {
    /// librdkafka refused to create the cluster.
    #[error("starting librdkafka's mock cluster: {0}")]
    Start(String),
    /// The cluster's thread could not be started.
    #[error("spawning the rdkafka mock thread: {0}")]
    Thread(std::io::Error),
    /// librdkafka refused to create a topic.
    #[error("creating topic {name}: {reason}")]
    Topic {
        /// The topic.
        name: String,
        /// librdkafka's error.
        reason: String,
    },
    /// The cluster's thread is gone.
    #[error("the rdkafka mock cluster is gone")]
    Gone,
}

/// A command for the thread owning the cluster.
enum Command {
    CreateTopic {
        name: String,
        partitions: i32,
        replication_factor: i32,
        reply: mpsc::Sender<Result<(), RdkafkaMockError>>,
    },
}

/// librdkafka's mock cluster, running until dropped. See the [module docs](self).
#[derive(Debug)]
pub struct RdkafkaMock {
    bootstrap: String,
    brokers: i32,
    /// `None` once dropping (closing the channel stops the thread).
    commands: Option<mpsc::Sender<Command>>,
    thread: Option<JoinHandle<()>>,
}

impl RdkafkaMock {
    /// Starts a cluster of `brokers` brokers (librdkafka numbers them 1..=n).
    pub fn start(brokers: i32) -> Result<RdkafkaMock, RdkafkaMockError> {
        let (ready_tx, ready_rx) = mpsc::channel();
        let (commands, command_rx) = mpsc::channel::<Command>();
        let thread = std::thread::Builder::new()
            .name("rdkafka-mock".into())
            .spawn(move || {
                let cluster = match MockCluster::new(brokers) {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = ready_tx.send(Err(RdkafkaMockError::Start(e.to_string())));
                        return;
                    }
                };
                if ready_tx.send(Ok(cluster.bootstrap_servers())).is_err() {
                    return;
                }
                // Serves until every sender is dropped, then drops the cluster here.
                for command in command_rx {
                    match command {
                        Command::CreateTopic {
                            name,
                            partitions,
                            replication_factor,
                            reply,
                        } => {
                            let result = cluster
                                .create_topic(&name, partitions, replication_factor)
                                .map_err(|e| RdkafkaMockError::Topic {
                                    name,
                                    reason: e.to_string(),
                                });
                            let _ = reply.send(result);
                        }
                    }
                }
            })
            .map_err(RdkafkaMockError::Thread)?;
        let bootstrap = match ready_rx.recv() {
            Ok(Ok(b)) => b,
            Ok(Err(e)) => {
                let _ = thread.join();
                return Err(e);
            }
            Err(_) => {
                let _ = thread.join();
                return Err(RdkafkaMockError::Gone);
            }
        };
        Ok(RdkafkaMock {
            bootstrap,
            brokers,
            commands: Some(commands),
            thread: Some(thread),
        })
    }

    /// The bootstrap servers, comma separated.
    pub fn bootstrap(&self) -> String {
        self.bootstrap.clone()
    }

    /// The number of brokers.
    pub fn brokers(&self) -> i32 {
        self.brokers
    }

    /// Creates a topic (replication factor capped by the broker count).
    pub fn create_topic(
        &self,
        name: &str,
        partitions: i32,
        replication_factor: i32,
    ) -> Result<(), RdkafkaMockError> {
        let (reply, result) = mpsc::channel();
        let command = Command::CreateTopic {
            name: name.to_owned(),
            partitions,
            replication_factor: replication_factor.min(self.brokers),
            reply,
        };
        let sender = self.commands.as_ref().ok_or(RdkafkaMockError::Gone)?;
        sender.send(command).map_err(|_| RdkafkaMockError::Gone)?;
        result.recv().map_err(|_| RdkafkaMockError::Gone)?
    }
}

impl Drop for RdkafkaMock {
    fn drop(&mut self) {
        // Closing the channel ends the thread's loop; it drops the cluster and exits.
        self.commands.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

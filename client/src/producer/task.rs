//! The sender task: the tokio shell around [`SenderCore`].
//!
//! Concurrency rule: this one task owns the core — and with it the accumulator, the
//! idempotence state, the topic view and the in-flight table. [`Producer`](super::Producer)
//! handles reach it only through the command channel; the I/O it starts (metadata loads,
//! connects, Produce and InitProducerId requests) runs as futures polled by this task, whose
//! results come back as events. Nothing else touches the core, so it needs no lock.
//!
//! The I/O futures are polled in the order they were started. That is what keeps the Produce
//! requests for one broker in the order the core made them: each request is queued on the
//! connection the first time its future is polled (a full queue keeps waiters in order too).

use std::collections::HashMap;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Instant;

use gregor_protocol::messages::{
    InitProducerIdRequest, InitProducerIdResponse, ProduceRequest, ProduceResponse,
};
use tokio::sync::{mpsc, oneshot};

use super::error::ProducerError;
use super::record::DeliveryResult;
use super::sender::{Action, Append, SenderCore, TopicMetadata};
use super::transport::ProducerTransport;
use crate::cluster::BrokerId;
use crate::connection::Connection;
use crate::error::ClientError;

/// Resolves a record.
pub(super) type Completion = oneshot::Sender<DeliveryResult>;
/// Answers `send`: the record is in a batch, or refused.
pub(super) type Reply = oneshot::Sender<Result<(), ProducerError>>;

/// What a [`Producer`](super::Producer) handle asks of the task.
#[derive(Debug)]
pub(super) enum Command {
    /// Append a record.
    Append(Append<Completion, Reply>),
    /// Answer once nothing is buffered or in flight.
    Flush(oneshot::Sender<()>),
    /// Send what is buffered, then stop; answer when stopped.
    Close(oneshot::Sender<()>),
}

/// What an I/O future reports.
enum Event {
    Metadata(Vec<(Arc<str>, Result<TopicMetadata, ClientError>)>),
    Connected {
        broker: BrokerId,
        link: u64,
        result: Result<Connection, ClientError>,
    },
    Produced {
        request: u64,
        result: Result<Option<ProduceResponse>, ClientError>,
    },
    ProducerId(Result<InitProducerIdResponse, ClientError>),
}

type Job = Pin<Box<dyn Future<Output = Event> + Send>>;

/// Most commands taken in one go before the core is polled.
const COMMAND_BATCH: usize = 256;

/// The sender task's state.
pub(super) struct SenderTask {
    core: SenderCore<Completion, Reply>,
    transport: Arc<dyn ProducerTransport>,
    commands: mpsc::Receiver<Command>,
    commands_open: bool,
    closing: bool,
    /// Running I/O, in start order.
    jobs: Vec<Job>,
    /// The connection of each broker, with the link it was opened for.
    connections: HashMap<BrokerId, (u64, Connection)>,
    flush_waiters: Vec<oneshot::Sender<()>>,
    close_waiters: Vec<oneshot::Sender<()>>,
}

impl SenderTask {
    pub(super) fn new(
        core: SenderCore<Completion, Reply>,
        transport: Arc<dyn ProducerTransport>,
        commands: mpsc::Receiver<Command>,
    ) -> Self {
        Self {
            core,
            transport,
            commands,
            commands_open: true,
            closing: false,
            jobs: Vec::new(),
            connections: HashMap::new(),
            flush_waiters: Vec::new(),
            close_waiters: Vec::new(),
        }
    }

    /// Runs until closed (by [`Command::Close`] or every handle dropped) and idle.
    pub(super) async fn run(mut self) {
        tracing::debug!("producer sender started");
        loop {
            let now = Instant::now();
            self.core.poll(now);
            self.execute(now);
            if self.core.is_idle() {
                if !self.flush_waiters.is_empty() {
                    self.core.set_flushing(false);
                    for waiter in self.flush_waiters.drain(..) {
                        let _ = waiter.send(());
                    }
                }
                if self.closing {
                    break;
                }
            }
            let wake = self.core.next_wakeup(now);
            let sleep = async move {
                match wake {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            let jobs = &mut self.jobs;
            tokio::select! {
                biased;
                event = next_event(jobs), if !jobs.is_empty() => self.on_event(event),
                command = self.commands.recv(), if self.commands_open => self.on_command(command),
                () = sleep => {}
            }
        }
        for waiter in self
            .close_waiters
            .drain(..)
            .chain(self.flush_waiters.drain(..))
        {
            let _ = waiter.send(());
        }
        tracing::debug!("producer sender stopped");
    }

    fn on_command(&mut self, first: Option<Command>) {
        let now = Instant::now();
        let Some(first) = first else {
            tracing::debug!("every producer handle dropped; closing");
            self.commands_open = false;
            self.closing = true;
            self.core.close();
            return;
        };
        self.apply(first, now);
        for _ in 1..COMMAND_BATCH {
            match self.commands.try_recv() {
                Ok(command) => self.apply(command, now),
                Err(_) => break,
            }
        }
    }

    fn apply(&mut self, command: Command, now: Instant) {
        match command {
            Command::Append(append) => self.core.append(append, now),
            Command::Flush(waiter) => {
                self.core.set_flushing(true);
                self.flush_waiters.push(waiter);
            }
            Command::Close(waiter) => {
                self.closing = true;
                self.core.close();
                self.core.set_flushing(true);
                self.close_waiters.push(waiter);
            }
        }
    }

    fn on_event(&mut self, event: Event) {
        let now = Instant::now();
        match event {
            Event::Metadata(results) => self.core.on_metadata(results, now),
            Event::Connected {
                broker,
                link,
                result,
            } => {
                let version = result.and_then(|conn| {
                    let version = conn.version_for::<ProduceRequest>()?;
                    self.connections.insert(broker, (link, conn));
                    Ok(version)
                });
                self.core.on_connected(broker, link, version, now);
            }
            Event::Produced { request, result } => self.core.on_produced(request, result, now),
            Event::ProducerId(result) => self.core.on_producer_id(result, now),
        }
    }

    /// Carries out the core's actions.
    fn execute(&mut self, now: Instant) {
        while let Some(action) = self.core.next_action() {
            match action {
                Action::Appended { reply, result } => {
                    let _ = reply.send(result);
                }
                Action::Delivered { completion, result } => {
                    let _ = completion.send(result);
                }
                Action::LoadMetadata { topics, refresh } => {
                    self.jobs.push(Box::pin(load_metadata(
                        self.transport.clone(),
                        topics,
                        refresh,
                    )));
                }
                Action::Connect { broker, link } => {
                    let transport = self.transport.clone();
                    self.jobs.push(Box::pin(async move {
                        let result = transport.connection(broker).await;
                        Event::Connected {
                            broker,
                            link,
                            result,
                        }
                    }));
                }
                Action::InitProducerId(request) => {
                    self.jobs
                        .push(Box::pin(init_producer_id(self.transport.clone(), request)));
                }
                Action::Produce {
                    request,
                    broker,
                    link,
                    version,
                    body,
                    expect_response,
                } => {
                    let conn = self
                        .connections
                        .get(&broker)
                        .filter(|(l, c)| *l == link && !c.is_closed())
                        .map(|(_, c)| c.clone());
                    let Some(conn) = conn else {
                        self.core
                            .on_produced(request, Err(ClientError::Disconnected), now);
                        continue;
                    };
                    self.jobs.push(Box::pin(async move {
                        let result = if expect_response {
                            conn.send_versioned(&body, version).await.map(Some)
                        } else {
                            conn.send_no_response(body).await.map(|()| None)
                        };
                        Event::Produced { request, result }
                    }));
                }
            }
        }
    }
}

/// The first finished job's event; jobs are polled in start order.
async fn next_event(jobs: &mut Vec<Job>) -> Event {
    poll_fn(|cx| {
        for i in 0..jobs.len() {
            if let Poll::Ready(event) = jobs[i].as_mut().poll(cx) {
                drop(jobs.remove(i));
                return Poll::Ready(event);
            }
        }
        Poll::Pending
    })
    .await
}

async fn load_metadata(
    transport: Arc<dyn ProducerTransport>,
    topics: Vec<Arc<str>>,
    refresh: bool,
) -> Event {
    if refresh {
        let names: Vec<String> = topics.iter().map(|t| t.to_string()).collect();
        if let Err(error) = transport.refresh(&names).await {
            tracing::debug!(error = %error, "metadata refresh failed; using what is known");
        }
    }
    let mut results = Vec::with_capacity(topics.len());
    for topic in topics {
        let result = transport
            .partitions(&topic)
            .await
            .map(|partitions| TopicMetadata {
                partitions,
                topic_id: transport.topic_id(&topic),
            });
        results.push((topic, result));
    }
    Event::Metadata(results)
}

async fn init_producer_id(
    transport: Arc<dyn ProducerTransport>,
    request: InitProducerIdRequest,
) -> Event {
    let result = match transport.any_connection().await {
        Ok(conn) => conn.send(request).await,
        Err(error) => Err(error),
    };
    Event::ProducerId(result)
}

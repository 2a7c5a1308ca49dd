//! The producer a rebalance run measures against: every interval, one record to every
//! partition (one Produce request per leader, acks=1), its value and timestamp the time it was
//! produced; it remembers when each offset was produced ([`Produced`]).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::BytesMut;
use gregor_client::{Client, Purpose};
use gregor_protocol::ErrorCode;
use gregor_protocol::messages::produce::PartitionProduceData;
use gregor_protocol::records::{BatchSpec, NewRecord, encode_batch};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::analysis::Produced;
use super::member::now_ms;
use crate::prefill::produce_request;
use crate::{BenchError, Result};

/// A running producer; [`stop`](Self::stop) ends it.
#[derive(Debug)]
pub struct Producer {
    produced: Arc<Mutex<Produced>>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<u64>>,
}

impl Producer {
    /// Starts producing to `partitions` partitions of `topic` every `interval`.
    pub fn start(client: Client, topic: String, partitions: i32, interval: Duration) -> Producer {
        let produced = Arc::new(Mutex::new(Produced::default()));
        let (stop_tx, mut stop_rx) = oneshot::channel();
        let shared = Arc::clone(&produced);
        let task = tokio::spawn(async move {
            let mut by_leader: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
            for p in 0..partitions {
                let (leader, _) = client.leader(&topic, p).await?;
                by_leader.entry(leader).or_default().push(p);
            }
            let topic_id = client
                .metadata()
                .topic(&topic)
                .map(|t| t.id)
                .unwrap_or_default();
            let mut ticks = tokio::time::interval(interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut sent = 0u64;
            let mut failed_in_a_row = 0u32;
            loop {
                tokio::select! {
                    _ = &mut stop_rx => break,
                    _ = ticks.tick() => {}
                }
                for (&leader, parts) in &by_leader {
                    match produce_tick(&client, &topic, topic_id, leader, parts, &shared).await {
                        Ok(n) => {
                            sent += n;
                            failed_in_a_row = 0;
                        }
                        // A loaded machine can time a Produce out (900 partitions while ten
                        // JVMs start): the tick is lost, the run goes on.
                        Err(e) if failed_in_a_row + 1 < MAX_FAILED_IN_A_ROW => {
                            failed_in_a_row += 1;
                            eprintln!("   producer: {e} (tick skipped)");
                        }
                        Err(e) => return Err(e),
                    }
                }
            }
            Ok(sent)
        });
        Producer {
            produced,
            stop: Some(stop_tx),
            task,
        }
    }

    /// When each offset was produced, so far.
    pub fn produced(&self) -> Produced {
        self.produced
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Whether it failed or ended.
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Stops it; returns the records it produced.
    pub async fn stop(mut self) -> Result<u64> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task)
            .await
            .map_err(|e| BenchError::Other(format!("producer task: {e}")))?
    }
}

/// How many Produce requests may fail one after another before the producer gives up.
const MAX_FAILED_IN_A_ROW: u32 = 20;

/// Produces one record, stamped now, to each of `parts` (led by `leader`); notes when in
/// `book`; returns how many were written.
async fn produce_tick(
    client: &Client,
    topic: &str,
    topic_id: gregor_protocol::primitives::Uuid,
    leader: i32,
    parts: &[i32],
    book: &Mutex<Produced>,
) -> Result<u64> {
    let at = now_ms();
    let value = format!("{at}");
    let mut batch = BytesMut::new();
    encode_batch(
        &BatchSpec::default(),
        &[NewRecord::new(None, Some(value.as_bytes())).with_timestamp(at)],
        &mut batch,
    )?;
    let batch = batch.freeze();
    let data: Vec<PartitionProduceData> = parts
        .iter()
        .map(|&p| PartitionProduceData {
            index: p,
            records: Some(batch.clone()),
            ..PartitionProduceData::default()
        })
        .collect();
    let conn = client.connection(leader, Purpose::Produce).await?;
    let name = topic.to_owned();
    let resp = conn
        .send_with(|version| {
            produce_request(version, name, topic_id, data, Duration::from_secs(10))
        })
        .await?;
    let mut book = book.lock().unwrap_or_else(|p| p.into_inner());
    let mut sent = 0;
    for t in &resp.responses {
        for p in &t.partition_responses {
            let code = ErrorCode::from_code(p.error_code);
            if code.is_err() {
                return Err(BenchError::Other(format!(
                    "produce to partition {}: {code}",
                    p.index
                )));
            }
            book.record(p.index, p.base_offset, at);
            sent += 1;
        }
    }
    Ok(sent)
}

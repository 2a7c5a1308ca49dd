//! Reading into the testkit's delivery ledger: what the fault tests (catalogue, corruption,
//! chaos) share.
#![allow(dead_code)]

use gregor_consumer::direct::Batch;
use gregor_consumer::fetch::{FetchError, PartitionReader};
use gregor_testkit::ledger::DeliveryLedger;

/// Reads `reader` to its end, noting every record in `ledger`; stops at the first error.
pub async fn deliver_reader(
    reader: &mut PartitionReader,
    ledger: &mut DeliveryLedger,
) -> Result<(), FetchError> {
    let tp = reader.topic_partition().clone();
    while let Some(chunk) = reader.next_chunk().await {
        for r in chunk?.as_slice() {
            ledger.delivered(
                &tp.topic,
                tp.partition,
                r.offset,
                r.value.as_deref().unwrap_or_default(),
            );
        }
    }
    Ok(())
}

/// Reads every partition of `batch` into `ledger`; the first error names its partition.
pub async fn deliver_batch(
    batch: Batch,
    ledger: &mut DeliveryLedger,
) -> Result<(), (i32, FetchError)> {
    for mut part in batch.into_partitions() {
        let p = part.topic_partition().partition;
        deliver_reader(&mut part, ledger)
            .await
            .map_err(|e| (p, e))?;
    }
    Ok(())
}

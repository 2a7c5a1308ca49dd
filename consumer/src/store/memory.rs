//! In-memory offset store: the reference semantics of [`OffsetStore`].

use std::sync::Mutex;

use super::{BatchStarts, OffsetStore, PartitionOffsets, StoreError, StoredOffsets, apply_batch};

/// An [`OffsetStore`] held in memory behind a mutex. Loses everything when
/// dropped; meant for tests and as the reference the durable stores must match.
#[derive(Debug, Default)]
pub struct MemoryOffsetStore {
    inner: Mutex<Option<PartitionOffsets>>,
}

impl MemoryOffsetStore {
    /// An empty store: [`OffsetStore::load`] returns `None`.
    pub fn new() -> Self {
        Self::default()
    }
}

impl OffsetStore for MemoryOffsetStore {
    fn load(&self) -> Result<Option<StoredOffsets>, StoreError> {
        let guard = self.inner.lock().map_err(|_| StoreError::Poisoned)?;
        Ok(guard.as_ref().map(|offsets| StoredOffsets {
            offsets: offsets.clone(),
            written_at_ms: None,
        }))
    }

    fn save(
        &self,
        expected_start: &BatchStarts,
        new_end: &PartitionOffsets,
    ) -> Result<(), StoreError> {
        let mut guard = self.inner.lock().map_err(|_| StoreError::Poisoned)?;
        let merged = apply_batch(guard.as_ref(), expected_start, new_end)?;
        if expected_start.is_empty() {
            return Ok(());
        }
        *guard = Some(merged);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::BatchStart;
    use super::*;

    #[test]
    fn empty_batch_is_noop() {
        let s = MemoryOffsetStore::new();
        s.save(&BatchStarts::new(), &PartitionOffsets::new())
            .unwrap();
        assert!(s.load().unwrap().is_none());
        let k = gregor_protocol::TopicPartition::new("t", 0);
        s.save(
            &BatchStarts::from([(k.clone(), BatchStart::First(0))]),
            &PartitionOffsets::from([(k.clone(), 3)]),
        )
        .unwrap();
        assert_eq!(s.load().unwrap().unwrap().offsets[&k], 3);
    }
}

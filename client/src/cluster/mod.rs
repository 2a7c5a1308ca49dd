//! The cluster view: metadata cache and retry policy (sans-io), used by the client's tasks.

pub mod backoff;
pub mod metadata_cache;

pub use backoff::{Backoff, RetryBudget};
pub use metadata_cache::{BrokerAddr, BrokerId, MetadataCache, PartitionMeta, TopicMeta};

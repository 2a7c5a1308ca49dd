//! The cluster view: metadata cache and retry policy (sans-io), used by the client's tasks.

pub mod backoff;
pub mod metadata;

pub use backoff::{Backoff, RetryBudget};
pub use metadata::{BrokerAddr, BrokerId, MetadataCache, PartitionMeta, TopicMeta};

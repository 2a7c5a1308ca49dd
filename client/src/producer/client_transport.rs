//! [`ProducerTransport`] for the cluster client.
//!
//! Partitions and topic ids come from the client's metadata snapshot, refreshed on a miss;
//! produce requests go over the client's per-broker `Purpose::Produce` connections; the
//! producer's timeouts and backoffs are the client's configuration.

use crate::cluster::BrokerId;
use crate::cluster_client::{Client, Purpose};
use crate::config::ClientConfig;
use crate::connection::Connection;
use crate::error::ClientError;

use gregor_protocol::ApiKey;
use gregor_protocol::ErrorCode;
use gregor_protocol::primitives::Uuid;

use super::transport::{
    PartitionInfo, ProducerTransport, TransportFuture, partitions_from_cache, topic_id_from_cache,
};

impl ProducerTransport for Client {
    fn partitions<'a>(&'a self, topic: &'a str) -> TransportFuture<'a, Vec<PartitionInfo>> {
        Box::pin(async move {
            if let Some(known) = partitions_from_cache(&self.metadata(), topic) {
                if known.is_ok() {
                    return known;
                }
            }
            let topics = [topic.to_owned()];
            let fresh = self.refresh_metadata(Some(&topics[..])).await?;
            partitions_from_cache(&fresh, topic).unwrap_or(Err(ClientError::Broker {
                api: ApiKey::Metadata,
                code: ErrorCode::UnknownTopicOrPartition,
            }))
        })
    }

    fn refresh<'a>(&'a self, topics: &'a [String]) -> TransportFuture<'a, ()> {
        Box::pin(async move {
            self.refresh_metadata(Some(topics)).await?;
            Ok(())
        })
    }

    fn connection(&self, broker: BrokerId) -> TransportFuture<'_, Connection> {
        Box::pin(Client::connection(self, broker, Purpose::Produce))
    }

    fn any_connection(&self) -> TransportFuture<'_, Connection> {
        Box::pin(Client::any_broker(self))
    }

    fn topic_id(&self, topic: &str) -> Option<Uuid> {
        topic_id_from_cache(&self.metadata(), topic)
    }

    fn client_config(&self) -> &ClientConfig {
        self.config()
    }
}

//! Routing: which broker a request goes to.
//!
//! - partition requests go to the partition's leader, read from the metadata snapshot
//!   ([`leader_of`]);
//! - group and transaction requests go to the coordinator that FindCoordinator names, cached
//!   per `(kind, key)` in a [`CoordinatorCache`] until a caller forgets it (after
//!   `NOT_COORDINATOR` and the like);
//! - everything else goes to any broker: [`order_candidates`] prefers brokers with a live
//!   control connection, then brokers not backing off (from a random starting point, so
//!   clients spread out), then the rest; [`connect_any`] takes the first that connects.
//!
//! The request building and answer reading here are sans-io functions.

use std::collections::HashMap;
use std::sync::Mutex;

use gregor_protocol::messages::{FindCoordinatorRequest, FindCoordinatorResponse};
use gregor_protocol::{ApiKey, ErrorCode, Request};

use super::pool::{Pool, jitter};
use super::{CoordinatorKind, Purpose};
use crate::cluster::{BrokerAddr, BrokerId, MetadataCache};
use crate::connection::Connection;
use crate::error::ClientError;

/// The broker ids of `brokers` in the order to try them: those with a live connection, then
/// those not backing off rotated to start at `start % len`, then those backing off.
pub(crate) fn order_candidates(
    brokers: &[BrokerId],
    live: impl Fn(BrokerId) -> bool,
    backing_off: impl Fn(BrokerId) -> bool,
    start: usize,
) -> Vec<BrokerId> {
    let mut rotated: Vec<BrokerId> = brokers.to_vec();
    if !rotated.is_empty() {
        let len = rotated.len();
        rotated.rotate_left(start % len);
    }
    let (live_ids, rest): (Vec<BrokerId>, Vec<BrokerId>) =
        rotated.into_iter().partition(|&id| live(id));
    let (waiting, ready): (Vec<BrokerId>, Vec<BrokerId>) =
        rest.into_iter().partition(|&id| backing_off(id));
    live_ids.into_iter().chain(ready).chain(waiting).collect()
}

/// A control connection to the first reachable broker of `cache`, in
/// [`order_candidates`] order. Fails with the last connection error, or
/// [`ClientError::NoBrokerAvailable`] when the cache lists no broker.
pub(crate) async fn connect_any(
    pool: &Pool,
    cache: &MetadataCache,
) -> Result<(BrokerId, Connection), ClientError> {
    let brokers = cache.brokers();
    let ids: Vec<BrokerId> = brokers.iter().map(|b| b.id).collect();
    let start = (jitter() * ids.len() as f64) as usize;
    let order = order_candidates(
        &ids,
        |id| pool.has_live(id, Purpose::Control),
        |id| pool.backing_off(id, Purpose::Control),
        start,
    );
    let mut last = ClientError::NoBrokerAvailable;
    for id in order {
        let Some(addr) = cache.broker(id) else {
            continue;
        };
        match pool.get(id, &addr.host_port(), Purpose::Control).await {
            Ok(conn) => return Ok((id, conn)),
            Err(error) => last = error,
        }
    }
    Err(last)
}

/// Why a partition has no usable leader in a metadata snapshot.
pub(crate) fn leader_of(
    cache: &MetadataCache,
    topic: &str,
    partition: i32,
) -> Result<(BrokerId, i32), ErrorCode> {
    let Some(meta) = cache.topic(topic) else {
        return Err(ErrorCode::UnknownTopicOrPartition);
    };
    if meta.error.is_err() {
        return Err(meta.error);
    }
    let Some(p) = cache.partition(topic, partition) else {
        return Err(ErrorCode::UnknownTopicOrPartition);
    };
    match p.leader {
        Some(leader) if cache.broker(leader).is_some() => Ok((leader, p.leader_epoch)),
        _ if p.error.is_err() => Err(p.error),
        _ => Err(ErrorCode::LeaderNotAvailable),
    }
}

/// The FindCoordinator request for `key` in `version`.
pub(crate) fn find_coordinator_request(
    kind: CoordinatorKind,
    key: &str,
    version: i16,
) -> Result<FindCoordinatorRequest, ClientError> {
    if version < 1 && kind != CoordinatorKind::Group {
        return Err(ClientError::FeatureNotSupported {
            api: ApiKey::FindCoordinator,
            feature: "transaction coordinator lookup",
            needs: 1,
            negotiated: version,
        });
    }
    let mut request = FindCoordinatorRequest::default();
    if version >= 1 {
        request.key_type = kind.key_type();
    }
    if version >= 4 {
        request.coordinator_keys = vec![key.to_owned()];
    } else {
        request.key = key.to_owned();
    }
    Ok(request)
}

/// The coordinator of `key` from a FindCoordinator response in `version`.
pub(crate) fn coordinator_from_response(
    response: &FindCoordinatorResponse,
    key: &str,
    version: i16,
) -> Result<BrokerAddr, ClientError> {
    let (code, node_id, host, port) = if version >= 4 {
        let c = response.coordinator(key).ok_or(ClientError::Broker {
            api: FindCoordinatorRequest::API_KEY,
            code: ErrorCode::CoordinatorNotAvailable,
        })?;
        (c.error_code, c.node_id, &c.host, c.port)
    } else {
        (
            response.error_code,
            response.node_id,
            &response.host,
            response.port,
        )
    };
    let code = ErrorCode::from_code(code);
    if code.is_err() {
        return Err(ClientError::Broker {
            api: FindCoordinatorRequest::API_KEY,
            code,
        });
    }
    let port = u16::try_from(port)
        .ok()
        .filter(|&p| p != 0 && node_id >= 0)
        .ok_or(ClientError::Broker {
            api: FindCoordinatorRequest::API_KEY,
            code: ErrorCode::CoordinatorNotAvailable,
        })?;
    Ok(BrokerAddr {
        id: node_id,
        host: host.clone(),
        port,
        rack: None,
    })
}

/// Coordinators found with FindCoordinator, by kind and key.
#[derive(Debug, Default)]
pub(crate) struct CoordinatorCache {
    map: Mutex<HashMap<(CoordinatorKind, String), BrokerAddr>>,
}

impl CoordinatorCache {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<(CoordinatorKind, String), BrokerAddr>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The cached coordinator of `key`.
    pub(crate) fn get(&self, kind: CoordinatorKind, key: &str) -> Option<BrokerId> {
        self.map().get(&(kind, key.to_owned())).map(|b| b.id)
    }

    /// Caches `addr` as the coordinator of `key`.
    pub(crate) fn insert(&self, kind: CoordinatorKind, key: &str, addr: BrokerAddr) {
        self.map().insert((kind, key.to_owned()), addr);
    }

    /// Forgets the coordinator of `key`.
    pub(crate) fn forget(&self, kind: CoordinatorKind, key: &str) {
        self.map().remove(&(kind, key.to_owned()));
    }

    /// The address FindCoordinator gave for broker `id`, if any (for coordinators the
    /// metadata snapshot does not list yet).
    pub(crate) fn address(&self, id: BrokerId) -> Option<BrokerAddr> {
        self.map().values().find(|b| b.id == id).cloned()
    }
}

#[cfg(test)]
mod tests {
    use gregor_protocol::messages::MetadataResponse;
    use gregor_protocol::messages::find_coordinator::Coordinator;
    use gregor_protocol::messages::metadata::{
        MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
    };

    use super::*;

    #[test]
    fn live_first_then_ready_then_backing_off() {
        let ids = [1, 2, 3, 4, 5];
        let order = order_candidates(&ids, |id| id == 4, |id| id == 2, 0);
        assert_eq!(order, [4, 1, 3, 5, 2]);
        let order = order_candidates(&ids, |_| false, |id| id == 2, 2);
        assert_eq!(order, [3, 4, 5, 1, 2], "rotated start");
        assert_eq!(
            order_candidates(&[], |_| true, |_| true, 7),
            Vec::<i32>::new()
        );
        let order = order_candidates(&ids, |_| false, |_| false, 12);
        assert_eq!(order, [3, 4, 5, 1, 2], "start wraps around");
    }

    fn cache() -> MetadataCache {
        let partition = |index, leader, error_code| MetadataResponsePartition {
            partition_index: index,
            leader_id: leader,
            leader_epoch: 7,
            error_code,
            ..Default::default()
        };
        let response = MetadataResponse {
            brokers: vec![MetadataResponseBroker {
                node_id: 1,
                host: "h".into(),
                port: 9092,
                rack: None,
                ..Default::default()
            }],
            topics: vec![
                MetadataResponseTopic {
                    name: Some("t".into()),
                    partitions: vec![
                        partition(0, 1, 0),
                        partition(1, -1, 5),
                        partition(2, 9, 0),
                        partition(3, -1, 0),
                    ],
                    ..Default::default()
                },
                MetadataResponseTopic {
                    name: Some("gone".into()),
                    error_code: 3,
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let mut cache = MetadataCache::new();
        cache.apply(&response, true, std::time::Instant::now());
        cache
    }

    #[test]
    fn leader_lookup_reports_why_there_is_none() {
        let cache = cache();
        assert_eq!(leader_of(&cache, "t", 0), Ok((1, 7)));
        assert_eq!(
            leader_of(&cache, "t", 1),
            Err(ErrorCode::LeaderNotAvailable)
        );
        assert_eq!(
            leader_of(&cache, "t", 2),
            Err(ErrorCode::LeaderNotAvailable),
            "a leader the snapshot has no address for"
        );
        assert_eq!(
            leader_of(&cache, "t", 3),
            Err(ErrorCode::LeaderNotAvailable)
        );
        assert_eq!(
            leader_of(&cache, "t", 4),
            Err(ErrorCode::UnknownTopicOrPartition)
        );
        assert_eq!(
            leader_of(&cache, "gone", 0),
            Err(ErrorCode::UnknownTopicOrPartition)
        );
        assert_eq!(
            leader_of(&cache, "never", 0),
            Err(ErrorCode::UnknownTopicOrPartition)
        );
    }

    #[test]
    fn find_coordinator_fields_follow_the_version() {
        let v0 = find_coordinator_request(CoordinatorKind::Group, "g", 0).unwrap();
        assert_eq!((v0.key.as_str(), v0.key_type), ("g", 0));
        assert!(v0.coordinator_keys.is_empty());
        let v3 = find_coordinator_request(CoordinatorKind::Transaction, "tx", 3).unwrap();
        assert_eq!((v3.key.as_str(), v3.key_type), ("tx", 1));
        let v4 = find_coordinator_request(CoordinatorKind::Group, "g", 4).unwrap();
        assert_eq!(v4.coordinator_keys, ["g"]);
        assert!(v4.key.is_empty());
        for v in 0..=6 {
            let r = find_coordinator_request(CoordinatorKind::Group, "g", v).unwrap();
            let mut buf = bytes::BytesMut::new();
            gregor_protocol::Message::encode(&r, &mut buf, v).unwrap();
        }
        assert!(matches!(
            find_coordinator_request(CoordinatorKind::Transaction, "tx", 0),
            Err(ClientError::FeatureNotSupported {
                needs: 1,
                negotiated: 0,
                ..
            })
        ));
    }

    #[test]
    fn coordinator_answers_are_read_per_version() {
        let old = FindCoordinatorResponse {
            node_id: 3,
            host: "c".into(),
            port: 9093,
            ..Default::default()
        };
        let addr = coordinator_from_response(&old, "g", 3).unwrap();
        assert_eq!((addr.id, addr.host_port()), (3, "c:9093".to_owned()));
        let failed = FindCoordinatorResponse {
            error_code: 15,
            ..Default::default()
        };
        assert!(matches!(
            coordinator_from_response(&failed, "g", 2),
            Err(ClientError::Broker {
                code: ErrorCode::CoordinatorNotAvailable,
                ..
            })
        ));
        let batched = FindCoordinatorResponse {
            coordinators: vec![
                Coordinator {
                    key: "other".into(),
                    node_id: 9,
                    host: "x".into(),
                    port: 1,
                    ..Default::default()
                },
                Coordinator {
                    key: "g".into(),
                    node_id: 4,
                    host: "d".into(),
                    port: 9094,
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        assert_eq!(coordinator_from_response(&batched, "g", 4).unwrap().id, 4);
        assert!(coordinator_from_response(&batched, "missing", 4).is_err());
        let bad_port = FindCoordinatorResponse {
            node_id: 1,
            host: "c".into(),
            port: 70000,
            ..Default::default()
        };
        assert!(coordinator_from_response(&bad_port, "g", 0).is_err());
    }

    #[test]
    fn coordinator_cache_forgets_per_key() {
        let cache = CoordinatorCache::default();
        let addr = BrokerAddr {
            id: 2,
            host: "h".into(),
            port: 1,
            rack: None,
        };
        cache.insert(CoordinatorKind::Group, "g", addr.clone());
        cache.insert(CoordinatorKind::Transaction, "g", addr);
        assert_eq!(cache.get(CoordinatorKind::Group, "g"), Some(2));
        assert_eq!(cache.address(2).map(|a| a.port), Some(1));
        cache.forget(CoordinatorKind::Group, "g");
        assert_eq!(cache.get(CoordinatorKind::Group, "g"), None);
        assert_eq!(cache.get(CoordinatorKind::Transaction, "g"), Some(2));
    }
}

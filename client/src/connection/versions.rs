//! Version negotiation: which version of each API to speak with a broker.
//!
//! A broker lists the version range of every API it serves in its ApiVersions response. For a
//! request type `R`, the version to send is the highest one in both `R::VERSIONS` (what this
//! client's codec speaks) and the broker's range.

use gregor_protocol::messages::ApiVersionsResponse;
use gregor_protocol::{ApiKey, Request, VersionRange};

use crate::error::ClientError;

/// The API version ranges a broker advertised.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ApiVersionTable {
    /// Sorted by API key, one entry per key.
    ranges: Vec<(i16, VersionRange)>,
}

impl ApiVersionTable {
    /// The table of an ApiVersions response. Entries with a negative key or an empty range
    /// (min above max) are ignored; if a key is listed twice, the last entry wins.
    pub fn from_response(response: &ApiVersionsResponse) -> ApiVersionTable {
        Self::from_ranges(response.api_keys.iter().map(|entry| {
            (
                entry.api_key,
                VersionRange::new(entry.min_version, entry.max_version),
            )
        }))
    }

    /// A table from `(api key, range)` pairs, with the same rules as
    /// [`from_response`](Self::from_response).
    pub fn from_ranges(ranges: impl IntoIterator<Item = (i16, VersionRange)>) -> ApiVersionTable {
        let mut table: Vec<(i16, VersionRange)> = Vec::new();
        for (key, range) in ranges {
            if key < 0 || range.min < 0 || range.min > range.max {
                continue;
            }
            match table.binary_search_by_key(&key, |&(k, _)| k) {
                Ok(at) => table[at].1 = range,
                Err(at) => table.insert(at, (key, range)),
            }
        }
        ApiVersionTable { ranges: table }
    }

    /// The broker's range for the API with wire key `api_key`.
    pub fn broker_range(&self, api_key: i16) -> Option<VersionRange> {
        self.ranges
            .binary_search_by_key(&api_key, |&(k, _)| k)
            .ok()
            .map(|at| self.ranges[at].1)
    }

    /// The highest version of `R` both sides speak.
    pub fn choose<R: Request>(&self) -> Result<i16, ClientError> {
        self.choose_within(R::API_KEY, R::VERSIONS)
    }

    /// The highest version of `api` in both `ours` and the broker's range.
    pub fn choose_within(&self, api: ApiKey, ours: VersionRange) -> Result<i16, ClientError> {
        let broker = self.broker_range(api.code());
        broker
            .and_then(|b| b.intersect(&ours))
            .map(|common| common.max)
            .ok_or(ClientError::UnsupportedApi { api, ours, broker })
    }

    /// Every `(api key, range)` the broker listed, by key.
    pub fn iter(&self) -> impl Iterator<Item = (i16, VersionRange)> + '_ {
        self.ranges.iter().copied()
    }

    /// How many APIs the broker listed.
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    /// Whether the broker listed no API.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use gregor_protocol::Message;
    use gregor_protocol::messages::api_versions::ApiVersion;
    use gregor_protocol::messages::{FetchRequest, MetadataRequest, ProduceRequest};

    use super::*;

    fn entry(api_key: i16, min_version: i16, max_version: i16) -> ApiVersion {
        ApiVersion {
            api_key,
            min_version,
            max_version,
            unknown_tagged_fields: Default::default(),
        }
    }

    fn response(api_keys: Vec<ApiVersion>) -> ApiVersionsResponse {
        ApiVersionsResponse {
            error_code: 0,
            api_keys,
            throttle_time_ms: 0,
            supported_features: Vec::new(),
            finalized_features_epoch: -1,
            finalized_features: Vec::new(),
            zk_migration_ready: false,
            unknown_tagged_fields: Default::default(),
        }
    }

    #[test]
    fn chooses_the_highest_common_version() {
        let ours = MetadataRequest::VERSIONS;
        let table = ApiVersionTable::from_response(&response(vec![
            entry(3, 0, ours.max + 5),
            entry(1, 4, 4),
        ]));
        assert_eq!(table.choose::<MetadataRequest>().unwrap(), ours.max);
        assert_eq!(table.choose::<FetchRequest>().unwrap(), 4);
        let older = ApiVersionTable::from_ranges([(3, VersionRange::new(0, ours.min))]);
        assert_eq!(older.choose::<MetadataRequest>().unwrap(), ours.min);
    }

    #[test]
    fn missing_api_or_no_overlap_is_unsupported() {
        let table = ApiVersionTable::from_ranges([(1, VersionRange::new(0, 0))]);
        match table.choose::<ProduceRequest>() {
            Err(ClientError::UnsupportedApi { api, ours, broker }) => {
                assert_eq!(api, ApiKey::Produce);
                assert_eq!(ours, ProduceRequest::VERSIONS);
                assert_eq!(broker, None);
            }
            other => panic!("expected UnsupportedApi, got {other:?}"),
        }
        let fetch_min = FetchRequest::VERSIONS.min;
        if fetch_min > 0 {
            let too_old = VersionRange::new(0, fetch_min - 1);
            let table = ApiVersionTable::from_ranges([(1, too_old)]);
            assert!(matches!(
                table.choose::<FetchRequest>(),
                Err(ClientError::UnsupportedApi { broker: Some(b), .. }) if b == too_old
            ));
        }
        let too_new = VersionRange::new(FetchRequest::VERSIONS.max + 1, i16::MAX);
        let table = ApiVersionTable::from_ranges([(1, too_new)]);
        assert!(matches!(
            table.choose::<FetchRequest>(),
            Err(ClientError::UnsupportedApi { broker: Some(b), .. }) if b == too_new
        ));
    }

    #[test]
    fn ignores_invalid_entries_and_keeps_the_last_duplicate() {
        let table = ApiVersionTable::from_response(&response(vec![
            entry(-1, 0, 3),
            entry(3, 5, 2),
            entry(1, 0, 3),
            entry(1, 2, 7),
            entry(0, -1, 3),
        ]));
        assert_eq!(table.len(), 1);
        assert_eq!(table.broker_range(1), Some(VersionRange::new(2, 7)));
        assert_eq!(table.broker_range(3), None);
        assert_eq!(table.broker_range(-1), None);
        assert_eq!(
            table.iter().collect::<Vec<_>>(),
            vec![(1, VersionRange::new(2, 7))]
        );
    }
}

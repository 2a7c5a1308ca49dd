//! ApiVersions (key 18): which APIs and versions a broker serves.

use gregor_protocol_derive::Message;

use crate::api_key::ApiKey;
use crate::message::Request;
use crate::primitives::UnknownTaggedFields;

/// Asks a broker which API versions it supports.
#[derive(Debug, Clone, PartialEq, Message)]
#[kafka(versions = "0-4", flexible = "3+")]
pub struct ApiVersionsRequest {
    /// The client software's name (v3+).
    #[kafka(versions = "3+")]
    pub client_software_name: String,
    /// The client software's version (v3+).
    #[kafka(versions = "3+")]
    pub client_software_version: String,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

impl Request for ApiVersionsRequest {
    const API_KEY: ApiKey = ApiKey::ApiVersions;
    type Response = ApiVersionsResponse;
}

/// The APIs a broker supports, with their version ranges.
#[derive(Debug, Clone, PartialEq, Message)]
#[kafka(versions = "0-4", flexible = "3+")]
pub struct ApiVersionsResponse {
    /// The top-level error code.
    pub error_code: i16,
    /// The APIs supported by the broker.
    pub api_keys: Vec<ApiVersion>,
    /// Throttle time in milliseconds (v1+).
    #[kafka(versions = "1+")]
    pub throttle_time_ms: i32,
    /// Features supported by the broker (tag 0).
    #[kafka(versions = "3+", tag = 0)]
    pub supported_features: Vec<SupportedFeatureKey>,
    /// Epoch of the finalized features, -1 if unknown (tag 1).
    #[kafka(versions = "3+", tag = 1, default = "-1")]
    pub finalized_features_epoch: i64,
    /// Cluster-wide finalized features (tag 2).
    #[kafka(versions = "3+", tag = 2)]
    pub finalized_features: Vec<FinalizedFeatureKey>,
    /// Set by a KRaft controller ready for ZK migration (tag 3).
    #[kafka(versions = "3+", tag = 3)]
    pub zk_migration_ready: bool,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

/// One API's supported version range.
#[derive(Debug, Clone, PartialEq, Message)]
pub struct ApiVersion {
    /// The API key.
    pub api_key: i16,
    /// Oldest supported version.
    pub min_version: i16,
    /// Newest supported version.
    pub max_version: i16,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

/// A feature the broker supports.
#[derive(Debug, Clone, PartialEq, Message)]
pub struct SupportedFeatureKey {
    /// The feature's name.
    pub name: String,
    /// Oldest supported version.
    pub min_version: i16,
    /// Newest supported version.
    pub max_version: i16,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

/// A cluster-wide finalized feature level.
#[derive(Debug, Clone, PartialEq, Message)]
pub struct FinalizedFeatureKey {
    /// The feature's name.
    pub name: String,
    /// The finalized max version level.
    pub max_version_level: i16,
    /// The finalized min version level.
    pub min_version_level: i16,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

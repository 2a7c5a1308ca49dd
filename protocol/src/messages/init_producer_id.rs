//! InitProducerId (key 22): obtain a producer id and epoch for idempotent or transactional
//! producing.

use gregor_protocol_derive::Message;

use crate::api_key::ApiKey;
use crate::message::Request;
use crate::primitives::UnknownTaggedFields;

/// Asks for a producer id (and, for a transactional producer, fences older instances).
#[derive(Debug, Clone, PartialEq, Message)]
#[kafka(versions = "0-5", flexible = "2+")]
pub struct InitProducerIdRequest {
    /// The transactional id, or null for a non-transactional producer.
    pub transactional_id: Option<String>,
    /// How long an idle transaction may stay open before the coordinator aborts it, in ms.
    pub transaction_timeout_ms: i32,
    /// The producer id held so far, or -1 (v3+).
    #[kafka(versions = "3+", default = "-1")]
    pub producer_id: i64,
    /// The epoch held so far, or -1 (v3+).
    #[kafka(versions = "3+", default = "-1")]
    pub producer_epoch: i16,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

impl Request for InitProducerIdRequest {
    const API_KEY: ApiKey = ApiKey::InitProducerId;
    type Response = InitProducerIdResponse;
}

/// The producer id and epoch granted.
///
/// Kafka 4.1 defines v6 of the response (KIP-939 two-phase commit) while the request stops at
/// v5 among stable versions; the codec speaks v6 so a peer using it can still be read.
#[derive(Debug, Clone, PartialEq, Message)]
#[kafka(versions = "0-6", flexible = "2+")]
pub struct InitProducerIdResponse {
    /// Time the request was throttled for a quota, in milliseconds (0 if not throttled).
    pub throttle_time_ms: i32,
    /// The error code, 0 on success.
    pub error_code: i16,
    /// The producer id granted.
    #[kafka(default = "-1")]
    pub producer_id: i64,
    /// The epoch granted with it.
    pub producer_epoch: i16,
    /// The producer id of a transaction kept prepared, or -1 (v6+).
    #[kafka(versions = "6+", default = "-1")]
    pub ongoing_txn_producer_id: i64,
    /// The epoch of a transaction kept prepared, or -1 (v6+).
    #[kafka(versions = "6+", default = "-1")]
    pub ongoing_txn_producer_epoch: i16,
    /// Tagged fields this codec does not know.
    #[kafka(unknown_tags)]
    pub unknown_tagged_fields: UnknownTaggedFields,
}

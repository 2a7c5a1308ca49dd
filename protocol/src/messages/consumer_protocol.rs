//! The consumer protocol's embedded schemas: what a classic-group consumer puts in JoinGroup
//! `metadata` ([`ConsumerProtocolSubscription`]) and what the leader puts in SyncGroup
//! `assignment` ([`ConsumerProtocolAssignment`]).
//!
//! On the wire each is an int16 version followed by the body in that version (never flexible).
//! Kafka reads a version newer than it knows with its own newest version and ignores what
//! follows, so later versions may only append fields; `from_bytes` does the same.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use gregor_protocol_derive::Message;

use crate::error::{DecodeError, EncodeError};
use crate::message::Message;
use crate::primitives::ensure_consumed;

/// A consumer's subscription, sent as its JoinGroup protocol metadata.
#[derive(Debug, Clone, PartialEq, Message)]
#[kafka(versions = "0-3", flexible = "none")]
pub struct ConsumerProtocolSubscription {
    /// The subscribed topics.
    pub topics: Vec<String>,
    /// Assignor-specific user data.
    pub user_data: Option<Bytes>,
    /// The partitions the member owns now, for cooperative rebalancing (v1+).
    #[kafka(versions = "1+")]
    pub owned_partitions: Vec<TopicPartitionList>,
    /// The generation of the owned partitions, -1 if unknown (v2+).
    #[kafka(versions = "2+", default = "-1")]
    pub generation_id: i32,
    /// The consumer's rack, for rack-aware assignment (v3+).
    #[kafka(versions = "3+", nullable = "3+")]
    pub rack_id: Option<String>,
}

/// The partitions the leader assigned to one consumer, sent in SyncGroup.
#[derive(Debug, Clone, PartialEq, Message)]
#[kafka(versions = "0-3", flexible = "none")]
pub struct ConsumerProtocolAssignment {
    /// The assigned partitions.
    pub assigned_partitions: Vec<TopicPartitionList>,
    /// Assignor-specific user data.
    pub user_data: Option<Bytes>,
}

/// Some partitions of one topic, named by topic name (used by both schemas).
#[derive(Debug, Clone, PartialEq, Message)]
pub struct TopicPartitionList {
    /// The topic name.
    pub topic: String,
    /// The partition indexes.
    pub partitions: Vec<i32>,
}

impl ConsumerProtocolSubscription {
    /// The int16 `version` followed by the subscription in that version.
    pub fn to_bytes(&self, version: i16) -> Result<Bytes, EncodeError> {
        to_versioned_bytes(self, version)
    }

    /// Reads a versioned subscription. A version newer than ours is read as our newest and its
    /// extra trailing bytes are ignored; otherwise the body must fill `bytes` exactly. Returns
    /// the version the body was read with (`min(wire version, 3)`) and the subscription.
    pub fn from_bytes(bytes: Bytes) -> Result<(i16, Self), DecodeError> {
        from_versioned_bytes(bytes)
    }
}

impl ConsumerProtocolAssignment {
    /// The int16 `version` followed by the assignment in that version.
    pub fn to_bytes(&self, version: i16) -> Result<Bytes, EncodeError> {
        to_versioned_bytes(self, version)
    }

    /// Reads a versioned assignment, with the same forward-compatibility rule as
    /// [`ConsumerProtocolSubscription::from_bytes`]. Zero bytes (what a broker sends a member
    /// with nothing assigned) is an empty assignment, returned as version 0.
    pub fn from_bytes(bytes: Bytes) -> Result<(i16, Self), DecodeError> {
        if bytes.is_empty() {
            return Ok((0, Self::default()));
        }
        from_versioned_bytes(bytes)
    }
}

fn to_versioned_bytes<M: Message>(msg: &M, version: i16) -> Result<Bytes, EncodeError> {
    let mut buf = BytesMut::new();
    buf.put_i16(version);
    msg.encode(&mut buf, version)?;
    Ok(buf.freeze())
}

fn from_versioned_bytes<M: Message>(mut bytes: Bytes) -> Result<(i16, M), DecodeError> {
    if bytes.remaining() < 2 {
        return Err(DecodeError::Truncated { context: M::NAME });
    }
    let wire_version = bytes.get_i16();
    if wire_version < M::VERSIONS.min {
        return Err(DecodeError::UnsupportedVersion {
            api: M::NAME,
            version: wire_version,
        });
    }
    let version = wire_version.min(M::VERSIONS.max);
    let msg = M::decode(&mut bytes, version)?;
    if wire_version == version {
        ensure_consumed(&bytes, M::NAME)?;
    }
    Ok((version, msg))
}

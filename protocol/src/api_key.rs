//! Kafka API keys.

/// The numeric key identifying a Kafka API on the wire. Lists the APIs gregor speaks; other keys
/// are kept as raw numbers where they appear (an ApiVersions answer, for example).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
#[repr(i16)]
pub enum ApiKey {
    /// Produce (0).
    Produce = 0,
    /// Fetch (1).
    Fetch = 1,
    /// ListOffsets (2).
    ListOffsets = 2,
    /// Metadata (3).
    Metadata = 3,
    /// OffsetCommit (8).
    OffsetCommit = 8,
    /// OffsetFetch (9).
    OffsetFetch = 9,
    /// FindCoordinator (10).
    FindCoordinator = 10,
    /// JoinGroup (11).
    JoinGroup = 11,
    /// Heartbeat (12).
    Heartbeat = 12,
    /// LeaveGroup (13).
    LeaveGroup = 13,
    /// SyncGroup (14).
    SyncGroup = 14,
    /// DescribeGroups (15).
    DescribeGroups = 15,
    /// ListGroups (16).
    ListGroups = 16,
    /// SaslHandshake (17).
    SaslHandshake = 17,
    /// ApiVersions (18).
    ApiVersions = 18,
    /// CreateTopics (19).
    CreateTopics = 19,
    /// DeleteTopics (20).
    DeleteTopics = 20,
    /// DeleteRecords (21).
    DeleteRecords = 21,
    /// InitProducerId (22).
    InitProducerId = 22,
    /// OffsetForLeaderEpoch (23).
    OffsetForLeaderEpoch = 23,
    /// SaslAuthenticate (36).
    SaslAuthenticate = 36,
    /// CreatePartitions (37).
    CreatePartitions = 37,
    /// ConsumerGroupHeartbeat (68, KIP-848).
    ConsumerGroupHeartbeat = 68,
    /// ConsumerGroupDescribe (69, KIP-848).
    ConsumerGroupDescribe = 69,
}

impl ApiKey {
    /// Every key gregor speaks.
    pub const ALL: [ApiKey; 24] = [
        ApiKey::Produce,
        ApiKey::Fetch,
        ApiKey::ListOffsets,
        ApiKey::Metadata,
        ApiKey::OffsetCommit,
        ApiKey::OffsetFetch,
        ApiKey::FindCoordinator,
        ApiKey::JoinGroup,
        ApiKey::Heartbeat,
        ApiKey::LeaveGroup,
        ApiKey::SyncGroup,
        ApiKey::DescribeGroups,
        ApiKey::ListGroups,
        ApiKey::SaslHandshake,
        ApiKey::ApiVersions,
        ApiKey::CreateTopics,
        ApiKey::DeleteTopics,
        ApiKey::DeleteRecords,
        ApiKey::InitProducerId,
        ApiKey::OffsetForLeaderEpoch,
        ApiKey::SaslAuthenticate,
        ApiKey::CreatePartitions,
        ApiKey::ConsumerGroupHeartbeat,
        ApiKey::ConsumerGroupDescribe,
    ];

    /// The key's number on the wire.
    pub const fn code(self) -> i16 {
        self as i16
    }

    /// The key for a number, if gregor speaks that API.
    pub fn from_code(code: i16) -> Option<ApiKey> {
        ApiKey::ALL.into_iter().find(|k| k.code() == code)
    }
}

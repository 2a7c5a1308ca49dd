//! Kafka's error-code table.
//!
//! Every response carries `int16` error codes. [`ErrorCode`] names each code Kafka 4.1 defines
//! (-1 to 133) and keeps any other value as [`ErrorCode::Unknown`], so decoding never fails
//! on a code from a newer broker.
//!
//! The table is written once, in the `error_codes!` invocation below: code, variant, Kafka's
//! name, whether Kafka classes the error as retriable (its exception extends
//! `RetriableException`), and a short description. Everything else is generated from it.
//! A code listed twice is an unreachable match arm (a warning, so an error under `-D warnings`).
//!
//! [`ErrorCode::class`] is the one classifier of codes: it says what a client does about one
//! ([`ErrorClass`]: refresh metadata, find the coordinator again, wait for it, retry, give up).
//! Every retry decision in gregor starts from it; no caller keeps its own list of codes.

use std::fmt;

/// The facts the table holds for one known code.
struct Entry {
    code: i16,
    name: &'static str,
    retriable: bool,
    description: &'static str,
}

macro_rules! error_codes {
    ($( ($code:literal, $variant:ident, $name:literal, $retriable:literal, $desc:literal), )*) => {
        /// A Kafka protocol error code.
        ///
        /// Convert from the wire with [`ErrorCode::from_code`] (or `From<i16>`), back with
        /// [`ErrorCode::code`]. [`ErrorCode::None`] (0) means success.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $(
                #[doc = $desc]
                #[doc = ""]
                #[doc = concat!("Kafka: `", $name, "` (", stringify!($code), ").")]
                $variant,
            )*
            /// A code not in the table (for example one added after Kafka 4.1).
            ///
            /// [`ErrorCode::from_code`] only produces it for codes outside the table; an
            /// `Unknown` built by hand around a known code is not equal to the named variant.
            Unknown(i16),
        }

        impl ErrorCode {
            /// Every code in the table, in ascending code order (`Unknown` excluded).
            pub const KNOWN: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// Maps a wire code to its variant; codes outside the table become `Unknown`.
            pub const fn from_code(code: i16) -> Self {
                match code {
                    $($code => ErrorCode::$variant,)*
                    other => ErrorCode::Unknown(other),
                }
            }

            /// The table row of a code (a synthetic row for `Unknown`).
            const fn entry(self) -> Entry {
                match self {
                    $(
                        ErrorCode::$variant => Entry {
                            code: $code,
                            name: $name,
                            retriable: $retriable,
                            description: $desc,
                        },
                    )*
                    ErrorCode::Unknown(code) => Entry {
                        code,
                        name: "UNKNOWN_ERROR_CODE",
                        // Kafka's client treats codes it does not know as non-retriable.
                        retriable: false,
                        description: "An error code this client does not know.",
                    },
                }
            }
        }
    };
}

error_codes! {
    (-1, UnknownServerError, "UNKNOWN_SERVER_ERROR", false,
        "The broker hit an unexpected error while handling the request."),
    (0, None, "NONE", false, "No error."),
    (1, OffsetOutOfRange, "OFFSET_OUT_OF_RANGE", false,
        "The requested offset is outside the range the broker holds for the partition."),
    (2, CorruptMessage, "CORRUPT_MESSAGE", true,
        "A record batch failed its CRC check, has an invalid size, or is otherwise malformed."),
    (3, UnknownTopicOrPartition, "UNKNOWN_TOPIC_OR_PARTITION", true,
        "The broker does not host this topic or partition."),
    (4, InvalidFetchSize, "INVALID_FETCH_SIZE", false, "The requested fetch size is invalid."),
    (5, LeaderNotAvailable, "LEADER_NOT_AVAILABLE", true,
        "The partition has no leader at the moment, typically during a leader election."),
    (6, NotLeaderOrFollower, "NOT_LEADER_OR_FOLLOWER", true,
        "The broker is not the leader, or not a replica, of this partition."),
    (7, RequestTimedOut, "REQUEST_TIMED_OUT", true, "The request timed out on the broker."),
    (8, BrokerNotAvailable, "BROKER_NOT_AVAILABLE", false, "The broker is not available."),
    (9, ReplicaNotAvailable, "REPLICA_NOT_AVAILABLE", true,
        "The replica is not available for this partition."),
    (10, MessageTooLarge, "MESSAGE_TOO_LARGE", false,
        "A message is larger than the broker accepts."),
    (11, StaleControllerEpoch, "STALE_CONTROLLER_EPOCH", false,
        "The controller has moved to another broker."),
    (12, OffsetMetadataTooLarge, "OFFSET_METADATA_TOO_LARGE", false,
        "The metadata attached to a committed offset is too large."),
    (13, NetworkException, "NETWORK_EXCEPTION", true,
        "The connection closed before a response arrived."),
    (14, CoordinatorLoadInProgress, "COORDINATOR_LOAD_IN_PROGRESS", true,
        "The coordinator is still loading its state and cannot serve requests yet."),
    (15, CoordinatorNotAvailable, "COORDINATOR_NOT_AVAILABLE", true,
        "The coordinator is not available."),
    (16, NotCoordinator, "NOT_COORDINATOR", true,
        "This broker is not the coordinator for the group or transaction."),
    (17, InvalidTopicException, "INVALID_TOPIC_EXCEPTION", false,
        "The topic is invalid for the requested operation."),
    (18, RecordListTooLarge, "RECORD_LIST_TOO_LARGE", false,
        "A record batch is larger than the configured segment size."),
    (19, NotEnoughReplicas, "NOT_ENOUGH_REPLICAS", true,
        "Rejected because fewer replicas are in sync than required."),
    (20, NotEnoughReplicasAfterAppend, "NOT_ENOUGH_REPLICAS_AFTER_APPEND", true,
        "Written to the log, but fewer replicas are in sync than required."),
    (21, InvalidRequiredAcks, "INVALID_REQUIRED_ACKS", false,
        "The produce request has an invalid acks value."),
    (22, IllegalGeneration, "ILLEGAL_GENERATION", false, "The group generation id is not valid."),
    (23, InconsistentGroupProtocol, "INCONSISTENT_GROUP_PROTOCOL", false,
        "The member's protocols are empty or incompatible with the group's."),
    (24, InvalidGroupId, "INVALID_GROUP_ID", false, "The group id is invalid."),
    (25, UnknownMemberId, "UNKNOWN_MEMBER_ID", false, "The coordinator does not know this member."),
    (26, InvalidSessionTimeout, "INVALID_SESSION_TIMEOUT", false,
        "The session timeout is outside the range the broker allows."),
    (27, RebalanceInProgress, "REBALANCE_IN_PROGRESS", false,
        "The group is rebalancing; the member has to rejoin."),
    (28, InvalidCommitOffsetSize, "INVALID_COMMIT_OFFSET_SIZE", false,
        "The size of the committed offset data is invalid."),
    (29, TopicAuthorizationFailed, "TOPIC_AUTHORIZATION_FAILED", false,
        "Not authorized to access the topic."),
    (30, GroupAuthorizationFailed, "GROUP_AUTHORIZATION_FAILED", false,
        "Not authorized to access the group."),
    (31, ClusterAuthorizationFailed, "CLUSTER_AUTHORIZATION_FAILED", false,
        "Not authorized for the cluster operation."),
    (32, InvalidTimestamp, "INVALID_TIMESTAMP", false,
        "A message timestamp is outside the accepted range."),
    (33, UnsupportedSaslMechanism, "UNSUPPORTED_SASL_MECHANISM", false,
        "The broker does not support the requested SASL mechanism."),
    (34, IllegalSaslState, "ILLEGAL_SASL_STATE", false,
        "The request is not valid in the current SASL state."),
    (35, UnsupportedVersion, "UNSUPPORTED_VERSION", false,
        "The broker does not support this API version."),
    (36, TopicAlreadyExists, "TOPIC_ALREADY_EXISTS", false,
        "A topic with this name already exists."),
    (37, InvalidPartitions, "INVALID_PARTITIONS", false, "The number of partitions is invalid."),
    (38, InvalidReplicationFactor, "INVALID_REPLICATION_FACTOR", false,
        "The replication factor is invalid."),
    (39, InvalidReplicaAssignment, "INVALID_REPLICA_ASSIGNMENT", false,
        "The replica assignment is invalid."),
    (40, InvalidConfig, "INVALID_CONFIG", false, "The configuration is invalid."),
    (41, NotController, "NOT_CONTROLLER", true, "This broker is not the active controller."),
    (42, InvalidRequest, "INVALID_REQUEST", false,
        "The request is malformed or was sent to an incompatible broker."),
    (43, UnsupportedForMessageFormat, "UNSUPPORTED_FOR_MESSAGE_FORMAT", false,
        "The broker's message format does not support this request."),
    (44, PolicyViolation, "POLICY_VIOLATION", false, "The request violates a configured policy."),
    (45, OutOfOrderSequenceNumber, "OUT_OF_ORDER_SEQUENCE_NUMBER", false,
        "The broker received a producer sequence number out of order."),
    (46, DuplicateSequenceNumber, "DUPLICATE_SEQUENCE_NUMBER", false,
        "The broker received a producer sequence number twice."),
    (47, InvalidProducerEpoch, "INVALID_PRODUCER_EPOCH", false,
        "The producer used an outdated epoch."),
    (48, InvalidTxnState, "INVALID_TXN_STATE", false,
        "The transactional operation is not valid in the producer's current state."),
    (49, InvalidProducerIdMapping, "INVALID_PRODUCER_ID_MAPPING", false,
        "The producer id is not the one assigned to this transactional id."),
    (50, InvalidTransactionTimeout, "INVALID_TRANSACTION_TIMEOUT", false,
        "The transaction timeout exceeds the broker's maximum."),
    (51, ConcurrentTransactions, "CONCURRENT_TRANSACTIONS", true,
        "Another operation on the same transaction is still in progress."),
    (52, TransactionCoordinatorFenced, "TRANSACTION_COORDINATOR_FENCED", false,
        "The transaction coordinator sending markers is no longer the current one."),
    (53, TransactionalIdAuthorizationFailed, "TRANSACTIONAL_ID_AUTHORIZATION_FAILED", false,
        "Not authorized to use the transactional id."),
    (54, SecurityDisabled, "SECURITY_DISABLED", false,
        "Security features are disabled on the broker."),
    (55, OperationNotAttempted, "OPERATION_NOT_ATTEMPTED", false,
        "The broker skipped this operation because another one in the batch failed."),
    (56, KafkaStorageError, "KAFKA_STORAGE_ERROR", true,
        "The broker hit a disk error while accessing the log."),
    (57, LogDirNotFound, "LOG_DIR_NOT_FOUND", false,
        "The log directory is not configured on the broker."),
    (58, SaslAuthenticationFailed, "SASL_AUTHENTICATION_FAILED", false,
        "SASL authentication failed."),
    (59, UnknownProducerId, "UNKNOWN_PRODUCER_ID", false,
        "The broker has no state for this producer id, for example because its records expired."),
    (60, ReassignmentInProgress, "REASSIGNMENT_IN_PROGRESS", false,
        "A partition reassignment is in progress."),
    (61, DelegationTokenAuthDisabled, "DELEGATION_TOKEN_AUTH_DISABLED", false,
        "Delegation tokens are not enabled."),
    (62, DelegationTokenNotFound, "DELEGATION_TOKEN_NOT_FOUND", false,
        "The delegation token does not exist."),
    (63, DelegationTokenOwnerMismatch, "DELEGATION_TOKEN_OWNER_MISMATCH", false,
        "The principal is not the token's owner or renewer."),
    (64, DelegationTokenRequestNotAllowed, "DELEGATION_TOKEN_REQUEST_NOT_ALLOWED", false,
        "Delegation token requests are not allowed on this kind of connection."),
    (65, DelegationTokenAuthorizationFailed, "DELEGATION_TOKEN_AUTHORIZATION_FAILED", false,
        "Not authorized for the delegation token operation."),
    (66, DelegationTokenExpired, "DELEGATION_TOKEN_EXPIRED", false,
        "The delegation token has expired."),
    (67, InvalidPrincipalType, "INVALID_PRINCIPAL_TYPE", false,
        "The principal type is not supported."),
    (68, NonEmptyGroup, "NON_EMPTY_GROUP", false, "The group still has members."),
    (69, GroupIdNotFound, "GROUP_ID_NOT_FOUND", false, "The group does not exist."),
    (70, FetchSessionIdNotFound, "FETCH_SESSION_ID_NOT_FOUND", true,
        "The broker does not know the fetch session id."),
    (71, InvalidFetchSessionEpoch, "INVALID_FETCH_SESSION_EPOCH", true,
        "The fetch session epoch is invalid."),
    (72, ListenerNotFound, "LISTENER_NOT_FOUND", true,
        "The leader has no listener matching the one the metadata request used."),
    (73, TopicDeletionDisabled, "TOPIC_DELETION_DISABLED", false, "Topic deletion is disabled."),
    (74, FencedLeaderEpoch, "FENCED_LEADER_EPOCH", true,
        "The leader epoch in the request is older than the broker's."),
    (75, UnknownLeaderEpoch, "UNKNOWN_LEADER_EPOCH", true,
        "The leader epoch in the request is newer than the broker's."),
    (76, UnsupportedCompressionType, "UNSUPPORTED_COMPRESSION_TYPE", false,
        "The client cannot read the partition's compression type."),
    (77, StaleBrokerEpoch, "STALE_BROKER_EPOCH", false, "The broker epoch has changed."),
    (78, OffsetNotAvailable, "OFFSET_NOT_AVAILABLE", true,
        "A new leader's high watermark has not caught up, so offsets could go backwards."),
    (79, MemberIdRequired, "MEMBER_ID_REQUIRED", false,
        "The member needs a member id before it can join the group."),
    (80, PreferredLeaderNotAvailable, "PREFERRED_LEADER_NOT_AVAILABLE", true,
        "The preferred leader is not available."),
    (81, GroupMaxSizeReached, "GROUP_MAX_SIZE_REACHED", false,
        "The group is at its maximum size."),
    (82, FencedInstanceId, "FENCED_INSTANCE_ID", false,
        "Another member has registered with the same static instance id."),
    (83, EligibleLeadersNotAvailable, "ELIGIBLE_LEADERS_NOT_AVAILABLE", true,
        "No eligible leader is available for the partition."),
    (84, ElectionNotNeeded, "ELECTION_NOT_NEEDED", true,
        "The partition does not need a leader election."),
    (85, NoReassignmentInProgress, "NO_REASSIGNMENT_IN_PROGRESS", false,
        "No partition reassignment is in progress."),
    (86, GroupSubscribedToTopic, "GROUP_SUBSCRIBED_TO_TOPIC", false,
        "Offsets of a topic cannot be deleted while the group is subscribed to it."),
    (87, InvalidRecord, "INVALID_RECORD", false, "The broker rejected a record as invalid."),
    (88, UnstableOffsetCommit, "UNSTABLE_OFFSET_COMMIT", true,
        "Pending transactional offsets have to be resolved first."),
    (89, ThrottlingQuotaExceeded, "THROTTLING_QUOTA_EXCEEDED", true,
        "The throttling quota was exceeded."),
    (90, ProducerFenced, "PRODUCER_FENCED", false,
        "A newer producer with the same transactional id has fenced this one."),
    (91, ResourceNotFound, "RESOURCE_NOT_FOUND", false,
        "The request refers to a resource that does not exist."),
    (92, DuplicateResource, "DUPLICATE_RESOURCE", false,
        "The request refers to the same resource twice."),
    (93, UnacceptableCredential, "UNACCEPTABLE_CREDENTIAL", false,
        "The credential does not meet the acceptance criteria."),
    (94, InconsistentVoterSet, "INCONSISTENT_VOTER_SET", false,
        "The sender or receiver of a voter request is not an expected voter."),
    (95, InvalidUpdateVersion, "INVALID_UPDATE_VERSION", false, "The update version is invalid."),
    (96, FeatureUpdateFailed, "FEATURE_UPDATE_FAILED", false,
        "Finalized features could not be updated because of a server error."),
    (97, PrincipalDeserializationFailure, "PRINCIPAL_DESERIALIZATION_FAILURE", false,
        "The principal of a forwarded request could not be deserialized."),
    (98, SnapshotNotFound, "SNAPSHOT_NOT_FOUND", false, "The requested snapshot does not exist."),
    (99, PositionOutOfRange, "POSITION_OUT_OF_RANGE", false,
        "The requested position is outside the snapshot."),
    (100, UnknownTopicId, "UNKNOWN_TOPIC_ID", true,
        "The broker does not host a topic with this id."),
    (101, DuplicateBrokerRegistration, "DUPLICATE_BROKER_REGISTRATION", false,
        "This broker id is already registered."),
    (102, BrokerIdNotRegistered, "BROKER_ID_NOT_REGISTERED", false,
        "The broker id is not registered."),
    (103, InconsistentTopicId, "INCONSISTENT_TOPIC_ID", true,
        "The topic id in the request does not match the log's."),
    (104, InconsistentClusterId, "INCONSISTENT_CLUSTER_ID", false,
        "The cluster id in the request does not match the server's."),
    (105, TransactionalIdNotFound, "TRANSACTIONAL_ID_NOT_FOUND", false,
        "The transactional id does not exist."),
    (106, FetchSessionTopicIdError, "FETCH_SESSION_TOPIC_ID_ERROR", true,
        "The fetch session used topic ids inconsistently."),
    (107, IneligibleReplica, "INELIGIBLE_REPLICA", false,
        "The proposed ISR contains an ineligible replica."),
    (108, NewLeaderElected, "NEW_LEADER_ELECTED", false,
        "The partition state was updated, but the leader changed."),
    (109, OffsetMovedToTieredStorage, "OFFSET_MOVED_TO_TIERED_STORAGE", false,
        "The requested offset has moved to tiered storage."),
    (110, FencedMemberEpoch, "FENCED_MEMBER_EPOCH", false,
        "The member epoch is fenced; the member must give up its partitions and rejoin."),
    (111, UnreleasedInstanceId, "UNRELEASED_INSTANCE_ID", false,
        "Another member still holds this instance id and has to leave first."),
    (112, UnsupportedAssignor, "UNSUPPORTED_ASSIGNOR", false,
        "The group does not support this assignor or its versions."),
    (113, StaleMemberEpoch, "STALE_MEMBER_EPOCH", false,
        "The member epoch is stale; retry once a heartbeat returns the current epoch."),
    (114, MismatchedEndpointType, "MISMATCHED_ENDPOINT_TYPE", false,
        "The request went to an endpoint of the wrong type."),
    (115, UnsupportedEndpointType, "UNSUPPORTED_ENDPOINT_TYPE", false,
        "This endpoint type is not supported yet."),
    (116, UnknownControllerId, "UNKNOWN_CONTROLLER_ID", false, "The controller id is unknown."),
    (117, UnknownSubscriptionId, "UNKNOWN_SUBSCRIPTION_ID", false,
        "The telemetry subscription id is invalid or outdated."),
    (118, TelemetryTooLarge, "TELEMETRY_TOO_LARGE", false,
        "The telemetry push is larger than the broker accepts."),
    (119, InvalidRegistration, "INVALID_REGISTRATION", false,
        "The controller considers the broker registration invalid."),
    (120, TransactionAbortable, "TRANSACTION_ABORTABLE", false,
        "The transaction failed; aborting it lets the transactional id be used again."),
    (121, InvalidRecordState, "INVALID_RECORD_STATE", false,
        "The record is in a state that does not allow this acknowledgement."),
    (122, ShareSessionNotFound, "SHARE_SESSION_NOT_FOUND", true,
        "The share session does not exist."),
    (123, InvalidShareSessionEpoch, "INVALID_SHARE_SESSION_EPOCH", true,
        "The share session epoch is invalid."),
    (124, FencedStateEpoch, "FENCED_STATE_EPOCH", false,
        "The share-group state epoch does not match the share coordinator's."),
    (125, InvalidVoterKey, "INVALID_VOTER_KEY", false,
        "The voter key does not match the receiving replica's."),
    (126, DuplicateVoter, "DUPLICATE_VOTER", false, "The voter is already in the voter set."),
    (127, VoterNotFound, "VOTER_NOT_FOUND", false, "The voter is not in the voter set."),
    (128, InvalidRegularExpression, "INVALID_REGULAR_EXPRESSION", false,
        "The regular expression is invalid."),
    (129, RebootstrapRequired, "REBOOTSTRAP_REQUIRED", false,
        "The client's metadata is stale; it has to bootstrap again."),
    (130, StreamsInvalidTopology, "STREAMS_INVALID_TOPOLOGY", false,
        "The Streams topology is invalid."),
    (131, StreamsInvalidTopologyEpoch, "STREAMS_INVALID_TOPOLOGY_EPOCH", false,
        "The Streams topology epoch is invalid."),
    (132, StreamsTopologyFenced, "STREAMS_TOPOLOGY_FENCED", false,
        "The Streams topology epoch is outdated."),
    (133, ShareSessionLimitReached, "SHARE_SESSION_LIMIT_REACHED", true,
        "The broker has reached its limit of share sessions."),
}

/// What a client does about an error code: the classes of [`ErrorCode::class`].
///
/// The stale classes are finer cuts of "retriable": every code in them is also
/// [`ErrorCode::is_retriable`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorClass {
    /// [`ErrorCode::None`]: success.
    None,
    /// The client's metadata is stale: the partition's leader or leader epoch moved, the
    /// broker no longer hosts the partition (or the topic id), or the controller moved.
    /// Refresh the metadata, then retry (against the leader the new metadata names).
    ///
    /// These are the codes whose Java exception extends `InvalidMetadataException`
    /// (`NOT_LEADER_OR_FOLLOWER`, `UNKNOWN_TOPIC_OR_PARTITION`, `LEADER_NOT_AVAILABLE`,
    /// `REPLICA_NOT_AVAILABLE`, `NETWORK_EXCEPTION`, `KAFKA_STORAGE_ERROR`,
    /// `LISTENER_NOT_FOUND`, `FENCED_LEADER_EPOCH`, `UNKNOWN_TOPIC_ID`,
    /// `INCONSISTENT_TOPIC_ID`), plus `OFFSET_NOT_AVAILABLE` (Java's fetcher and offset
    /// lookups refresh metadata on it: the partition just got a new leader) and
    /// `NOT_CONTROLLER` (Java's admin client refreshes metadata to find the new controller).
    /// `UNKNOWN_LEADER_EPOCH` is not here: the broker is behind the client's metadata, and
    /// Java retries it without a refresh.
    StaleMetadata,
    /// The request went to a broker that is not (any more) the coordinator of its group or
    /// transactional id, or the coordinator is unavailable: look the coordinator up again,
    /// then retry (`NOT_COORDINATOR`, `COORDINATOR_NOT_AVAILABLE`; Java marks the coordinator
    /// unknown on both).
    StaleCoordinator,
    /// The coordinator is the right one but still loading its state
    /// (`COORDINATOR_LOAD_IN_PROGRESS`): retry it after a backoff, keep the coordinator.
    CoordinatorLoading,
    /// Transient: the same request may succeed later (Kafka classes it retriable).
    Retriable,
    /// Retrying the same request cannot help; unknown codes are fatal too.
    Fatal,
}

impl ErrorCode {
    /// What a client does about this code (see [`ErrorClass`]).
    pub const fn class(self) -> ErrorClass {
        match self {
            ErrorCode::None => ErrorClass::None,
            ErrorCode::NotLeaderOrFollower
            | ErrorCode::UnknownTopicOrPartition
            | ErrorCode::LeaderNotAvailable
            | ErrorCode::ReplicaNotAvailable
            | ErrorCode::NetworkException
            | ErrorCode::KafkaStorageError
            | ErrorCode::ListenerNotFound
            | ErrorCode::FencedLeaderEpoch
            | ErrorCode::UnknownTopicId
            | ErrorCode::InconsistentTopicId
            | ErrorCode::OffsetNotAvailable
            | ErrorCode::NotController => ErrorClass::StaleMetadata,
            ErrorCode::NotCoordinator | ErrorCode::CoordinatorNotAvailable => {
                ErrorClass::StaleCoordinator
            }
            ErrorCode::CoordinatorLoadInProgress => ErrorClass::CoordinatorLoading,
            code if code.is_retriable() => ErrorClass::Retriable,
            _ => ErrorClass::Fatal,
        }
    }

    /// Whether the code means the metadata is stale: refresh it, then retry
    /// ([`ErrorClass::StaleMetadata`]).
    pub const fn is_stale_metadata(self) -> bool {
        matches!(self.class(), ErrorClass::StaleMetadata)
    }

    /// Whether the code means the coordinator moved or is unavailable: look it up again,
    /// then retry ([`ErrorClass::StaleCoordinator`]).
    pub const fn is_stale_coordinator(self) -> bool {
        matches!(self.class(), ErrorClass::StaleCoordinator)
    }

    /// Whether the coordinator cannot serve the request now, whether it moved or is still
    /// loading ([`ErrorClass::StaleCoordinator`] or [`ErrorClass::CoordinatorLoading`]): a
    /// group-level failure, retried as a whole.
    pub const fn is_coordinator_error(self) -> bool {
        matches!(
            self.class(),
            ErrorClass::StaleCoordinator | ErrorClass::CoordinatorLoading
        )
    }
}

impl ErrorCode {
    /// The wire value.
    pub const fn code(self) -> i16 {
        self.entry().code
    }

    /// Kafka's name for the code (`"NOT_COORDINATOR"`); `"UNKNOWN_ERROR_CODE"` for codes
    /// outside the table (not a Kafka name).
    pub const fn name(self) -> &'static str {
        self.entry().name
    }

    /// Whether Kafka classes the error as transient, so the same request may succeed later.
    ///
    /// Unknown codes are not retriable, as in Kafka's own client.
    pub const fn is_retriable(self) -> bool {
        self.entry().retriable
    }

    /// A one-sentence description.
    pub const fn description(self) -> &'static str {
        self.entry().description
    }

    /// True for [`ErrorCode::None`], the success code.
    pub const fn is_ok(self) -> bool {
        matches!(self, ErrorCode::None)
    }

    /// True for any code other than [`ErrorCode::None`].
    pub const fn is_err(self) -> bool {
        !self.is_ok()
    }

    /// False for [`ErrorCode::Unknown`].
    pub const fn is_known(self) -> bool {
        !matches!(self, ErrorCode::Unknown(_))
    }

    /// `Ok(())` for [`ErrorCode::None`], `Err(self)` otherwise, for use with `?`.
    pub const fn into_result(self) -> Result<(), ErrorCode> {
        if self.is_ok() { Ok(()) } else { Err(self) }
    }
}

impl Default for ErrorCode {
    /// [`ErrorCode::None`], as in a response field left at its default.
    fn default() -> Self {
        ErrorCode::None
    }
}

impl From<i16> for ErrorCode {
    fn from(code: i16) -> Self {
        ErrorCode::from_code(code)
    }
}

impl From<ErrorCode> for i16 {
    fn from(code: ErrorCode) -> Self {
        code.code()
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorCode::Unknown(code) => write!(f, "unknown error code {code}"),
            known => write!(
                f,
                "{} ({}): {}",
                known.name(),
                known.code(),
                known.description()
            ),
        }
    }
}

impl std::error::Error for ErrorCode {}

#[cfg(feature = "arbitrary")]
impl<'a> arbitrary::Arbitrary<'a> for ErrorCode {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(ErrorCode::from_code(i16::arbitrary(u)?))
    }

    fn size_hint(depth: usize) -> (usize, Option<usize>) {
        i16::size_hint(depth)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The codes that mean "refresh the metadata", as Kafka's Java client handles them.
    #[test]
    fn stale_metadata_codes_are_the_ones_java_refreshes_on() {
        let stale: Vec<ErrorCode> = ErrorCode::KNOWN
            .iter()
            .copied()
            .filter(|c| c.is_stale_metadata())
            .collect();
        assert_eq!(
            stale,
            [
                ErrorCode::UnknownTopicOrPartition, // InvalidMetadataException
                ErrorCode::LeaderNotAvailable,      // InvalidMetadataException
                ErrorCode::NotLeaderOrFollower,     // InvalidMetadataException
                ErrorCode::ReplicaNotAvailable,     // InvalidMetadataException
                ErrorCode::NetworkException,        // InvalidMetadataException
                ErrorCode::NotController,           // admin client: refresh to find it
                ErrorCode::KafkaStorageError,       // InvalidMetadataException
                ErrorCode::ListenerNotFound,        // InvalidMetadataException
                ErrorCode::FencedLeaderEpoch,       // InvalidMetadataException
                ErrorCode::OffsetNotAvailable,      // fetcher and ListOffsets refresh
                ErrorCode::UnknownTopicId,          // InvalidMetadataException
                ErrorCode::InconsistentTopicId,     // InvalidMetadataException
            ]
        );
        // The broker lags the client's epoch: retried as is, no refresh.
        assert_eq!(ErrorCode::UnknownLeaderEpoch.class(), ErrorClass::Retriable);
        // The leader is right; its ISR is short.
        assert_eq!(ErrorCode::NotEnoughReplicas.class(), ErrorClass::Retriable);
    }

    #[test]
    fn coordinator_codes() {
        let coordinator: Vec<(ErrorCode, ErrorClass)> = ErrorCode::KNOWN
            .iter()
            .filter(|c| c.is_coordinator_error())
            .map(|c| (*c, c.class()))
            .collect();
        assert_eq!(
            coordinator,
            [
                (
                    ErrorCode::CoordinatorLoadInProgress,
                    ErrorClass::CoordinatorLoading
                ),
                (
                    ErrorCode::CoordinatorNotAvailable,
                    ErrorClass::StaleCoordinator
                ),
                (ErrorCode::NotCoordinator, ErrorClass::StaleCoordinator),
            ]
        );
        assert!(!ErrorCode::CoordinatorLoadInProgress.is_stale_coordinator());
        assert!(!ErrorCode::NotLeaderOrFollower.is_coordinator_error());
    }

    #[test]
    fn classes_agree_with_the_retriable_flag() {
        assert_eq!(ErrorCode::None.class(), ErrorClass::None);
        assert_eq!(ErrorCode::Unknown(-77).class(), ErrorClass::Fatal);
        for code in ErrorCode::KNOWN.iter().filter(|c| c.is_err()) {
            let retried = !matches!(code.class(), ErrorClass::Fatal);
            assert_eq!(retried, code.is_retriable(), "{code}");
        }
    }
}

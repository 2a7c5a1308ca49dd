//! The error table checked against Java's consumer, transcribed as data.
//!
//! Sources (apache/kafka, `clients/src/main/java/org/apache/kafka/`):
//! - `AC` = `clients/consumer/internals/AbstractCoordinator.java`: the handlers
//!   `FindCoordinatorResponseHandler.onSuccess` (with `ensureCoordinatorReady`),
//!   `JoinGroupResponseHandler.handle` and `SyncGroupResponseHandler.handle` (with
//!   `joinGroupIfNeeded`, which continues at once after `UnknownMemberIdException`,
//!   `IllegalGenerationException`, `RebalanceInProgressException` and
//!   `MemberIdRequiredException`, sleeps `retryBackoffMs` after other retriable failures and
//!   throws the rest), `HeartbeatResponseHandler.handle` (with `HeartbeatThread.run`'s
//!   listener: `RebalanceInProgressException` counts as a heartbeat, `FencedInstanceIdException`
//!   fails the thread, anything else is `failHeartbeat`, retried after the backoff),
//!   `LeaveGroupResponseHandler.handle` (with `maybeLeaveGroup`: "a minimal effort attempt",
//!   never resent, the generation reset before the answer);
//! - `CC` = `clients/consumer/internals/ConsumerCoordinator.java`:
//!   `OffsetCommitResponseHandler.handle` (with `commitOffsetsSync`: retriable failures are
//!   retried after the backoff until the timer ends, others thrown) and
//!   `OffsetFetchResponseHandler.handle`;
//! - `common/requests/<Api>Response.java`: the "Possible error codes" each response class
//!   documents ([`DOCUMENTED`]).
//!
//! Java's `generationUnchanged()` is [`ReactionContext::generation_changed`] negated; its
//! `state == PREPARING_REBALANCE` (or not `STABLE`) is [`ReactionContext::rebalancing`].

use std::collections::BTreeSet;

use super::*;
use gregor_protocol::ErrorCode as E;

use FatalKind as K;
use GroupApi::{
    FindCoordinator as Find, Heartbeat as Hb, JoinGroup as Join, LeaveGroup as Leave,
    OffsetCommit as Commit, OffsetFetch as Fetch, SyncGroup as Sync,
};
use Reaction::*;

/// Which contexts a row covers: `None` in a dimension means both values. Every row covers
/// static and dynamic members alike (no Java handler tells them apart).
#[derive(Debug, Clone, Copy)]
struct When {
    rebalancing: Option<bool>,
    generation_changed: Option<bool>,
}

/// Every context.
const ANY: When = When {
    rebalancing: None,
    generation_changed: None,
};
/// Answered for the member's current generation (Java: `generationUnchanged()`).
const CURRENT: When = When {
    rebalancing: None,
    generation_changed: Some(false),
};
/// Answered for a generation the member has left.
const STALE: When = When {
    rebalancing: None,
    generation_changed: Some(true),
};
/// Not rebalancing (Java: `state == STABLE`), any generation.
const IDLE: When = When {
    rebalancing: Some(false),
    generation_changed: None,
};
/// Rebalancing (Java: `state != STABLE`), any generation.
const REBALANCING: When = When {
    rebalancing: Some(true),
    generation_changed: None,
};
/// Current generation, not rebalancing.
const CURRENT_IDLE: When = When {
    rebalancing: Some(false),
    generation_changed: Some(false),
};
/// Current generation, rebalancing.
const CURRENT_REBALANCING: When = When {
    rebalancing: Some(true),
    generation_changed: Some(false),
};
/// A left generation, not rebalancing.
const STALE_IDLE: When = When {
    rebalancing: Some(false),
    generation_changed: Some(true),
};
/// A left generation, rebalancing (Java: `PREPARING_REBALANCE`).
const STALE_REBALANCING: When = When {
    rebalancing: Some(true),
    generation_changed: Some(true),
};

impl When {
    fn contexts(self) -> Vec<ReactionContext> {
        let values = |d: Option<bool>| d.map_or(vec![false, true], |v| vec![v]);
        let mut out = Vec::new();
        for rebalancing in values(self.rebalancing) {
            for generation_changed in values(self.generation_changed) {
                for static_member in [false, true] {
                    out.push(ReactionContext {
                        rebalancing,
                        static_member,
                        generation_changed,
                    });
                }
            }
        }
        out
    }
}

/// Every context there is.
fn all_contexts() -> Vec<ReactionContext> {
    ANY.contexts()
}

/// One case Java's handler distinguishes, and what gregor does about it.
#[derive(Debug, Clone)]
struct Row {
    api: GroupApi,
    code: ErrorCode,
    when: When,
    /// gregor's reaction.
    expect: Reaction,
    /// What Java does, and where.
    java: &'static str,
    /// Why gregor's reaction differs from Java's, if it does.
    differs: Option<&'static str>,
}

fn row(api: GroupApi, code: ErrorCode, when: When, expect: Reaction, java: &'static str) -> Row {
    Row {
        api,
        code,
        when,
        expect,
        java,
        differs: None,
    }
}

impl Row {
    fn differs(mut self, why: &'static str) -> Row {
        self.differs = Some(why);
        self
    }
}

/// The rediscovery difference, shared by several rows.
const LOOKUP_AT_ONCE: &str = "gregor looks the coordinator up at once instead of first \
     sleeping retry.backoff.ms; the lookup itself backs off when it fails";

/// Java's handling, case by case.
fn java_table() -> Vec<Row> {
    vec![
        // ---- FindCoordinator: AC FindCoordinatorResponseHandler.onSuccess ----
        row(
            Find,
            E::None,
            ANY,
            Done,
            "AC FindCoordinator: NONE -> coordinator set, complete",
        ),
        row(
            Find,
            E::GroupAuthorizationFailed,
            ANY,
            Fatal(K::GroupAuthorization),
            "AC FindCoordinator: raise GroupAuthorizationException; ensureCoordinatorReady \
             throws it (not retriable)",
        ),
        row(
            Find,
            E::CoordinatorNotAvailable,
            ANY,
            Backoff,
            "AC FindCoordinator: else raise(error); retriable -> ensureCoordinatorReady sleeps \
             the backoff, awaits metadata, looks up again",
        ),
        row(
            Find,
            E::NotCoordinator,
            ANY,
            Backoff,
            "AC FindCoordinator: else raise(error); retriable -> backoff, look up again",
        ),
        row(
            Find,
            E::CoordinatorLoadInProgress,
            ANY,
            Backoff,
            "AC FindCoordinator: else raise(error); retriable -> backoff, look up again",
        ),
        row(
            Find,
            E::InvalidRequest,
            ANY,
            Fatal(K::InvalidRequest),
            "AC FindCoordinator: else raise(error); not retriable -> ensureCoordinatorReady \
             throws it",
        ),
        row(
            Find,
            E::UnknownServerError,
            ANY,
            Fatal(K::Other),
            "AC FindCoordinator: else raise(error); not retriable -> thrown",
        ),
        row(
            Find,
            E::RequestTimedOut,
            ANY,
            Backoff,
            "AC FindCoordinator: else raise(error); retriable -> backoff, look up again",
        ),
        // ---- JoinGroup: AC JoinGroupResponseHandler.handle, joinGroupIfNeeded ----
        row(
            Join,
            E::None,
            ANY,
            Done,
            "AC JoinGroup: NONE -> COMPLETING_REBALANCE, sync",
        ),
        row(
            Join,
            E::CoordinatorLoadInProgress,
            ANY,
            Backoff,
            "AC JoinGroup: 'backoff and retry': raise(error); joinGroupIfNeeded sleeps \
             retryBackoffMs",
        ),
        row(
            Join,
            E::UnknownMemberId,
            CURRENT,
            ResetMember,
            "AC JoinGroup: generationUnchanged -> resetStateOnResponseError(JOIN_GROUP, true): \
             member id reset; joinGroupIfNeeded continues at once",
        ),
        row(
            Join,
            E::UnknownMemberId,
            STALE,
            Rejoin,
            "AC JoinGroup: generation changed -> no reset; joinGroupIfNeeded continues at once",
        ),
        row(
            Join,
            E::CoordinatorNotAvailable,
            ANY,
            Rediscover,
            "AC JoinGroup: markCoordinatorUnknown, raise; joinGroupIfNeeded sleeps \
             retryBackoffMs, then ensureCoordinatorReady",
        )
        .differs(LOOKUP_AT_ONCE),
        row(
            Join,
            E::NotCoordinator,
            ANY,
            Rediscover,
            "AC JoinGroup: markCoordinatorUnknown, raise; sleep, then look up",
        )
        .differs(LOOKUP_AT_ONCE),
        row(
            Join,
            E::FencedInstanceId,
            ANY,
            Fatal(K::FencedInstanceId),
            "AC JoinGroup: 'always treat this as a fatal error'",
        ),
        row(
            Join,
            E::InconsistentGroupProtocol,
            ANY,
            Fatal(K::InconsistentProtocol),
            "AC JoinGroup: fatal error, re-thrown",
        ),
        row(
            Join,
            E::InvalidSessionTimeout,
            ANY,
            Fatal(K::InvalidSessionTimeout),
            "AC JoinGroup: fatal error, re-thrown",
        ),
        row(
            Join,
            E::InvalidGroupId,
            ANY,
            Fatal(K::InvalidGroupId),
            "AC JoinGroup: fatal error, re-thrown",
        ),
        row(
            Join,
            E::GroupAuthorizationFailed,
            ANY,
            Fatal(K::GroupAuthorization),
            "AC JoinGroup: fatal, GroupAuthorizationException.forGroupId",
        ),
        row(
            Join,
            E::GroupMaxSizeReached,
            ANY,
            Fatal(K::GroupMaxSizeReached),
            "AC JoinGroup: fatal, GroupMaxSizeReachedException",
        ),
        row(
            Join,
            E::UnsupportedVersion,
            ANY,
            Fatal(K::UnsupportedVersion),
            "AC JoinGroup: raise ('Please unset field group.instance.id'); not retriable",
        ),
        row(
            Join,
            E::MemberIdRequired,
            ANY,
            RetryJoinWithMemberId,
            "AC JoinGroup: generation = (DEFAULT_GENERATION_ID, memberId of the answer); \
             requestRejoin; joinGroupIfNeeded continues at once",
        ),
        row(
            Join,
            E::RebalanceInProgress,
            ANY,
            Rejoin,
            "AC JoinGroup: 'could indicate a replication timeout on the broker. Will retry.'; \
             joinGroupIfNeeded continues at once",
        ),
        row(
            Join,
            E::IllegalGeneration,
            ANY,
            Fatal(K::Other),
            "AC JoinGroup: else -> KafkaException('Unexpected error in join group response'), \
             not retriable: thrown",
        ),
        row(
            Join,
            E::RequestTimedOut,
            ANY,
            Backoff,
            "AC JoinGroup: else -> KafkaException (unexpected), thrown from poll",
        )
        .differs("a code Kafka classes retriable is retried after the backoff"),
        // ---- SyncGroup: AC SyncGroupResponseHandler.handle, joinGroupIfNeeded ----
        row(
            Sync,
            E::None,
            ANY,
            Done,
            "AC SyncGroup: NONE -> STABLE, assignment",
        ),
        row(
            Sync,
            E::GroupAuthorizationFailed,
            ANY,
            Fatal(K::GroupAuthorization),
            "AC SyncGroup: raise GroupAuthorizationException",
        ),
        row(
            Sync,
            E::RebalanceInProgress,
            ANY,
            Rejoin,
            "AC SyncGroup: 'The group began another rebalance. Need to re-join'; \
             joinGroupIfNeeded continues at once",
        ),
        row(
            Sync,
            E::FencedInstanceId,
            ANY,
            Fatal(K::FencedInstanceId),
            "AC SyncGroup: 'always treat this as a fatal error'",
        ),
        row(
            Sync,
            E::UnknownMemberId,
            CURRENT,
            ResetMember,
            "AC SyncGroup: generationUnchanged -> resetStateOnResponseError(SYNC_GROUP, true)",
        ),
        row(
            Sync,
            E::IllegalGeneration,
            CURRENT,
            ResetGeneration,
            "AC SyncGroup: generationUnchanged -> resetStateOnResponseError(SYNC_GROUP, false): \
             'don't reset generation member ID when ILLEGAL_GENERATION'",
        ),
        row(
            Sync,
            E::UnknownMemberId,
            STALE,
            Rejoin,
            "AC SyncGroup: generation changed -> no reset; continue at once",
        ),
        row(
            Sync,
            E::IllegalGeneration,
            STALE,
            Rejoin,
            "AC SyncGroup: generation changed -> no reset; continue at once",
        ),
        row(
            Sync,
            E::CoordinatorNotAvailable,
            ANY,
            Rediscover,
            "AC SyncGroup: markCoordinatorUnknown, raise; sleep, then rejoin",
        )
        .differs(LOOKUP_AT_ONCE),
        row(
            Sync,
            E::NotCoordinator,
            ANY,
            Rediscover,
            "AC SyncGroup: markCoordinatorUnknown, raise; sleep, then rejoin",
        )
        .differs(LOOKUP_AT_ONCE),
        row(
            Sync,
            E::InconsistentGroupProtocol,
            ANY,
            Fatal(K::InconsistentProtocol),
            "AC SyncGroup: raise(INCONSISTENT_GROUP_PROTOCOL) on a NONE answer with another \
             protocol type or name; not retriable: thrown",
        ),
        row(
            Sync,
            E::CoordinatorLoadInProgress,
            ANY,
            Backoff,
            "AC SyncGroup: else -> KafkaException('Unexpected error from SyncGroup'), thrown \
             from poll",
        )
        .differs("the coordinator is loading: retried (as a new JoinGroup) after the backoff"),
        row(
            Sync,
            E::UnknownServerError,
            ANY,
            Fatal(K::Other),
            "AC SyncGroup: else -> KafkaException('Unexpected error from SyncGroup')",
        ),
        // ---- Heartbeat: AC HeartbeatResponseHandler.handle, HeartbeatThread ----
        row(Hb, E::None, ANY, Done, "AC Heartbeat: NONE -> complete"),
        row(
            Hb,
            E::CoordinatorNotAvailable,
            ANY,
            Rediscover,
            "AC Heartbeat: markCoordinatorUnknown; the heartbeat thread looks it up next loop",
        ),
        row(
            Hb,
            E::NotCoordinator,
            ANY,
            Rediscover,
            "AC Heartbeat: markCoordinatorUnknown",
        ),
        row(
            Hb,
            E::RebalanceInProgress,
            IDLE,
            Rejoin,
            "AC Heartbeat: state == STABLE -> requestRejoin('group is already rebalancing')",
        ),
        row(
            Hb,
            E::RebalanceInProgress,
            REBALANCING,
            Done,
            "AC Heartbeat: not STABLE -> 'Ignoring heartbeat response', complete(null)",
        ),
        row(
            Hb,
            E::IllegalGeneration,
            CURRENT,
            ResetGeneration,
            "AC Heartbeat: generationUnchanged -> resetStateOnResponseError(HEARTBEAT, false): \
             'the member ID is still valid'",
        ),
        row(
            Hb,
            E::UnknownMemberId,
            CURRENT,
            ResetMember,
            "AC Heartbeat: generationUnchanged -> resetStateOnResponseError(HEARTBEAT, true)",
        ),
        row(
            Hb,
            E::FencedInstanceId,
            CURRENT,
            Fatal(K::FencedInstanceId),
            "AC Heartbeat: reset and raise; HeartbeatThread: FencedInstanceIdException fails \
             the thread, thrown from poll",
        ),
        row(
            Hb,
            E::IllegalGeneration,
            STALE,
            Done,
            "AC Heartbeat: generation changed -> 'ignoring the error', complete(null)",
        ),
        row(
            Hb,
            E::UnknownMemberId,
            STALE,
            Done,
            "AC Heartbeat: generation changed -> ignored",
        ),
        row(
            Hb,
            E::FencedInstanceId,
            STALE,
            Done,
            "AC Heartbeat: generation changed -> ignored",
        ),
        row(
            Hb,
            E::GroupAuthorizationFailed,
            ANY,
            Fatal(K::GroupAuthorization),
            "AC Heartbeat: raise GroupAuthorizationException",
        ),
        row(
            Hb,
            E::CoordinatorLoadInProgress,
            ANY,
            Backoff,
            "AC Heartbeat: else -> KafkaException; HeartbeatThread: failHeartbeat, retried \
             after the backoff",
        ),
        row(
            Hb,
            E::UnknownServerError,
            ANY,
            Backoff,
            "AC Heartbeat: else -> KafkaException; failHeartbeat",
        ),
        row(
            Hb,
            E::InvalidRequest,
            ANY,
            Backoff,
            "AC Heartbeat: else -> KafkaException; failHeartbeat",
        ),
        // ---- LeaveGroup: AC LeaveGroupResponseHandler.handle, maybeLeaveGroup ----
        row(Leave, E::None, ANY, Done, "AC LeaveGroup: NONE -> complete"),
        row(
            Leave,
            E::CoordinatorLoadInProgress,
            ANY,
            Done,
            "AC LeaveGroup: error logged and raised; maybeLeaveGroup never resends",
        ),
        row(
            Leave,
            E::CoordinatorNotAvailable,
            ANY,
            Done,
            "AC LeaveGroup: logged; not resent",
        ),
        row(
            Leave,
            E::NotCoordinator,
            ANY,
            Done,
            "AC LeaveGroup: logged; not resent",
        ),
        row(
            Leave,
            E::GroupAuthorizationFailed,
            ANY,
            Done,
            "AC LeaveGroup: logged; the member has left locally already",
        ),
        row(
            Leave,
            E::UnknownMemberId,
            ANY,
            Done,
            "AC LeaveGroup: logged (the coordinator no longer has the member)",
        ),
        row(
            Leave,
            E::FencedInstanceId,
            ANY,
            Done,
            "AC LeaveGroup: logged",
        ),
        row(
            Leave,
            E::UnknownServerError,
            ANY,
            Done,
            "AC LeaveGroup: logged",
        ),
        // ---- OffsetCommit: CC OffsetCommitResponseHandler.handle, commitOffsetsSync ----
        row(
            Commit,
            E::None,
            ANY,
            Done,
            "CC OffsetCommit: NONE -> committed",
        ),
        row(
            Commit,
            E::GroupAuthorizationFailed,
            ANY,
            Fatal(K::GroupAuthorization),
            "CC OffsetCommit: raise GroupAuthorizationException",
        ),
        row(
            Commit,
            E::TopicAuthorizationFailed,
            ANY,
            PartitionError,
            "CC OffsetCommit: topic collected in unauthorizedTopics, other partitions go on; \
             TopicAuthorizationException at the end",
        ),
        row(
            Commit,
            E::OffsetMetadataTooLarge,
            ANY,
            PartitionError,
            "CC OffsetCommit: 'raise the error to the user'",
        )
        .differs("reported for its partition; Java fails the call on the first one"),
        row(
            Commit,
            E::InvalidCommitOffsetSize,
            ANY,
            PartitionError,
            "CC OffsetCommit: 'raise the error to the user'",
        )
        .differs("reported for its partition; Java fails the call on the first one"),
        row(
            Commit,
            E::CoordinatorLoadInProgress,
            ANY,
            Backoff,
            "CC OffsetCommit: 'just retry'",
        ),
        row(
            Commit,
            E::UnknownTopicOrPartition,
            ANY,
            Backoff,
            "CC OffsetCommit: 'just retry' (until the commit's timer ends)",
        ),
        row(
            Commit,
            E::CoordinatorNotAvailable,
            ANY,
            Rediscover,
            "CC OffsetCommit: markCoordinatorUnknown; commitOffsetsSync sleeps, looks up",
        )
        .differs(LOOKUP_AT_ONCE),
        row(
            Commit,
            E::NotCoordinator,
            ANY,
            Rediscover,
            "CC OffsetCommit: markCoordinatorUnknown",
        )
        .differs(LOOKUP_AT_ONCE),
        row(
            Commit,
            E::RequestTimedOut,
            ANY,
            Rediscover,
            "CC OffsetCommit: markCoordinatorUnknown",
        )
        .differs(LOOKUP_AT_ONCE),
        row(
            Commit,
            E::FencedInstanceId,
            CURRENT,
            Fatal(K::FencedInstanceId),
            "CC OffsetCommit: generationUnchanged -> raise(FENCED_INSTANCE_ID)",
        ),
        row(
            Commit,
            E::FencedInstanceId,
            STALE_REBALANCING,
            CommitRebalancing,
            "CC OffsetCommit: generation changed, PREPARING_REBALANCE -> \
             RebalanceInProgressException",
        ),
        row(
            Commit,
            E::FencedInstanceId,
            STALE_IDLE,
            CommitFailed,
            "CC OffsetCommit: generation changed, not rebalancing -> CommitFailedException",
        ),
        row(
            Commit,
            E::RebalanceInProgress,
            ANY,
            CommitRebalancing,
            "CC OffsetCommit: requestRejoin, RebalanceInProgressException, 'do not reset \
             generations'",
        ),
        row(
            Commit,
            E::UnknownMemberId,
            CURRENT,
            ResetMember,
            "CC OffsetCommit: resetStateOnResponseError(OFFSET_COMMIT, true); \
             CommitFailedException",
        ),
        row(
            Commit,
            E::UnknownMemberId,
            STALE_REBALANCING,
            CommitRebalancing,
            "CC OffsetCommit: generation changed and PREPARING_REBALANCE -> \
             RebalanceInProgressException, no reset",
        ),
        row(
            Commit,
            E::UnknownMemberId,
            STALE_IDLE,
            CommitFailed,
            "CC OffsetCommit: resetStateOnResponseError(OFFSET_COMMIT, true); \
             CommitFailedException",
        )
        .differs(
            "the answer is about a generation the member has left: the commit fails, the \
             current generation is kept",
        ),
        row(
            Commit,
            E::IllegalGeneration,
            CURRENT_IDLE,
            ResetGeneration,
            "CC OffsetCommit: resetStateOnResponseError(OFFSET_COMMIT, false): 'don't reset \
             generation member ID'; CommitFailedException",
        ),
        row(
            Commit,
            E::IllegalGeneration,
            CURRENT_REBALANCING,
            CommitRebalancing,
            "CC OffsetCommit: generation unchanged -> resetStateOnResponseError(false), \
             CommitFailedException: the assignment is lost",
        )
        .differs(
            "librdkafka#4059 / PR #4908: a commit racing a (cooperative) rebalance must not \
             drop the assignment; the round in progress decides what moves",
        ),
        row(
            Commit,
            E::IllegalGeneration,
            STALE_REBALANCING,
            CommitRebalancing,
            "CC OffsetCommit: generation changed and PREPARING_REBALANCE -> \
             RebalanceInProgressException, no reset",
        ),
        row(
            Commit,
            E::IllegalGeneration,
            STALE_IDLE,
            CommitFailed,
            "CC OffsetCommit: resetStateOnResponseError(OFFSET_COMMIT, false); \
             CommitFailedException",
        )
        .differs(
            "the answer is about a generation the member has left: the commit fails, the \
             current generation is kept",
        ),
        row(
            Commit,
            E::UnknownServerError,
            ANY,
            PartitionError,
            "CC OffsetCommit: else -> KafkaException('Unexpected error in commit'): the call \
             fails",
        ),
        row(
            Commit,
            E::NotEnoughReplicas,
            ANY,
            Backoff,
            "CC OffsetCommit: else -> KafkaException (unexpected, not retriable): the call fails",
        )
        .differs("a code Kafka classes retriable is retried after the backoff"),
        // ---- OffsetFetch: CC OffsetFetchResponseHandler.handle ----
        row(Fetch, E::None, ANY, Done, "CC OffsetFetch: NONE -> offsets"),
        row(
            Fetch,
            E::CoordinatorNotAvailable,
            ANY,
            Rediscover,
            "CC OffsetFetch: 're-discover the coordinator and retry': markCoordinatorUnknown",
        ),
        row(
            Fetch,
            E::NotCoordinator,
            ANY,
            Rediscover,
            "CC OffsetFetch: markCoordinatorUnknown",
        ),
        row(
            Fetch,
            E::CoordinatorLoadInProgress,
            ANY,
            Backoff,
            "CC OffsetFetch: 'just retry' (retriable group error)",
        ),
        row(
            Fetch,
            E::GroupAuthorizationFailed,
            ANY,
            Fatal(K::GroupAuthorization),
            "CC OffsetFetch: raise GroupAuthorizationException",
        ),
        row(
            Fetch,
            E::UnknownTopicOrPartition,
            ANY,
            PartitionError,
            "CC OffsetFetch: KafkaException('Topic or Partition ... does not exist')",
        ),
        row(
            Fetch,
            E::TopicAuthorizationFailed,
            ANY,
            PartitionError,
            "CC OffsetFetch: collected in unauthorizedTopics; TopicAuthorizationException",
        ),
        row(
            Fetch,
            E::UnstableOffsetCommit,
            ANY,
            Backoff,
            "CC OffsetFetch: 'just retry': UnstableOffsetCommitException (retriable)",
        ),
        row(
            Fetch,
            E::UnknownServerError,
            ANY,
            PartitionError,
            "CC OffsetFetch: else -> KafkaException('Unexpected error in fetch offset \
             response'): the call fails",
        ),
    ]
}

/// The codes each Java handler names (an `if (error == Errors.X)` of its own, or an error it
/// raises itself), `NONE` included.
const JAVA_NAMED: &[(GroupApi, &[ErrorCode])] = &[
    // AC FindCoordinatorResponseHandler.onSuccess.
    (Find, &[E::None, E::GroupAuthorizationFailed]),
    // AC JoinGroupResponseHandler.handle.
    (
        Join,
        &[
            E::None,
            E::CoordinatorLoadInProgress,
            E::UnknownMemberId,
            E::CoordinatorNotAvailable,
            E::NotCoordinator,
            E::FencedInstanceId,
            E::InconsistentGroupProtocol,
            E::InvalidSessionTimeout,
            E::InvalidGroupId,
            E::GroupAuthorizationFailed,
            E::GroupMaxSizeReached,
            E::UnsupportedVersion,
            E::MemberIdRequired,
            E::RebalanceInProgress,
        ],
    ),
    // AC SyncGroupResponseHandler.handle (INCONSISTENT_GROUP_PROTOCOL: raised by it).
    (
        Sync,
        &[
            E::None,
            E::InconsistentGroupProtocol,
            E::GroupAuthorizationFailed,
            E::RebalanceInProgress,
            E::FencedInstanceId,
            E::UnknownMemberId,
            E::IllegalGeneration,
            E::CoordinatorNotAvailable,
            E::NotCoordinator,
        ],
    ),
    // AC HeartbeatResponseHandler.handle.
    (
        Hb,
        &[
            E::None,
            E::CoordinatorNotAvailable,
            E::NotCoordinator,
            E::RebalanceInProgress,
            E::IllegalGeneration,
            E::UnknownMemberId,
            E::FencedInstanceId,
            E::GroupAuthorizationFailed,
        ],
    ),
    // AC LeaveGroupResponseHandler.handle: NONE, or any error (logged).
    (Leave, &[E::None]),
    // CC OffsetCommitResponseHandler.handle.
    (
        Commit,
        &[
            E::None,
            E::GroupAuthorizationFailed,
            E::TopicAuthorizationFailed,
            E::OffsetMetadataTooLarge,
            E::InvalidCommitOffsetSize,
            E::CoordinatorLoadInProgress,
            E::UnknownTopicOrPartition,
            E::CoordinatorNotAvailable,
            E::NotCoordinator,
            E::RequestTimedOut,
            E::FencedInstanceId,
            E::RebalanceInProgress,
            E::UnknownMemberId,
            E::IllegalGeneration,
        ],
    ),
    // CC OffsetFetchResponseHandler.handle (COORDINATOR_LOAD_IN_PROGRESS named until 3.x,
    // since then through "RetriableException: retry").
    (
        Fetch,
        &[
            E::None,
            E::CoordinatorLoadInProgress,
            E::CoordinatorNotAvailable,
            E::NotCoordinator,
            E::GroupAuthorizationFailed,
            E::UnknownTopicOrPartition,
            E::TopicAuthorizationFailed,
            E::UnstableOffsetCommit,
        ],
    ),
];

/// The "Possible error codes" of Java's response classes (`common/requests/<Api>Response.java`
/// javadoc). FindCoordinator's `TRANSACTIONAL_ID_AUTHORIZATION_FAILED` is left out: it
/// answers transactional-id lookups only.
const DOCUMENTED: &[(GroupApi, &[ErrorCode])] = &[
    (
        Find,
        &[
            E::CoordinatorLoadInProgress,
            E::CoordinatorNotAvailable,
            E::NotCoordinator,
            E::GroupAuthorizationFailed,
            E::InvalidRequest,
        ],
    ),
    (
        Join,
        &[
            E::CoordinatorLoadInProgress,
            E::CoordinatorNotAvailable,
            E::NotCoordinator,
            E::InconsistentGroupProtocol,
            E::UnknownMemberId,
            E::InvalidSessionTimeout,
            E::GroupAuthorizationFailed,
        ],
    ),
    (
        Sync,
        &[
            E::CoordinatorNotAvailable,
            E::NotCoordinator,
            E::IllegalGeneration,
            E::UnknownMemberId,
            E::RebalanceInProgress,
            E::GroupAuthorizationFailed,
        ],
    ),
    (
        Hb,
        &[
            E::CoordinatorNotAvailable,
            E::NotCoordinator,
            E::IllegalGeneration,
            E::UnknownMemberId,
            E::RebalanceInProgress,
            E::GroupAuthorizationFailed,
        ],
    ),
    // Top level, then member level.
    (
        Leave,
        &[
            E::CoordinatorLoadInProgress,
            E::CoordinatorNotAvailable,
            E::NotCoordinator,
            E::GroupAuthorizationFailed,
            E::UnknownMemberId,
            E::FencedInstanceId,
        ],
    ),
    (
        Commit,
        &[
            E::UnknownTopicOrPartition,
            E::OffsetMetadataTooLarge,
            E::CoordinatorLoadInProgress,
            E::CoordinatorNotAvailable,
            E::NotCoordinator,
            E::IllegalGeneration,
            E::UnknownMemberId,
            E::RebalanceInProgress,
            E::InvalidCommitOffsetSize,
            E::TopicAuthorizationFailed,
            E::GroupAuthorizationFailed,
        ],
    ),
    // Partition errors, then group or coordinator errors.
    (
        Fetch,
        &[
            E::UnknownTopicOrPartition,
            E::TopicAuthorizationFailed,
            E::UnstableOffsetCommit,
            E::CoordinatorLoadInProgress,
            E::CoordinatorNotAvailable,
            E::NotCoordinator,
            E::GroupAuthorizationFailed,
        ],
    ),
];

/// Codes gregor's table names for an API that neither Java's handler nor the response class
/// names, each with its reason.
const GREGOR_NAMED: &[(GroupApi, ErrorCode, &str)] = &[
    (
        Sync,
        E::CoordinatorLoadInProgress,
        "a loading coordinator is waited for, not thrown to the application",
    ),
    (
        Hb,
        E::CoordinatorLoadInProgress,
        "spelled out: the backoff Java's heartbeat thread applies to every unnamed code",
    ),
];

fn listed(list: &[(GroupApi, &[ErrorCode])], api: GroupApi) -> Vec<ErrorCode> {
    list.iter()
        .filter(|(a, _)| *a == api)
        .flat_map(|(_, codes)| codes.iter().copied())
        .collect()
}

/// Every code to try: the known ones and two a newer broker could send.
fn every_code() -> Vec<ErrorCode> {
    let mut codes = ErrorCode::KNOWN.to_vec();
    codes.push(ErrorCode::Unknown(-2));
    codes.push(ErrorCode::Unknown(1000));
    codes
}

#[test]
fn gregor_matches_the_java_transcription() {
    let mut mismatches = Vec::new();
    for r in java_table() {
        for cx in r.when.contexts() {
            let got = reaction(r.api, r.code, cx);
            if got != r.expect {
                mismatches.push(format!(
                    "{} {} {cx:?}: expected {:?}, got {got:?} (Java: {}{})",
                    r.api,
                    r.code.name(),
                    r.expect,
                    r.java,
                    r.differs
                        .map(|d| format!("; gregor differs: {d}"))
                        .unwrap_or_default()
                ));
            }
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn the_transcription_covers_every_context_of_each_code_once() {
    let rows = java_table();
    let keys: BTreeSet<(GroupApi, i16)> = rows.iter().map(|r| (r.api, r.code.code())).collect();
    for (api, code) in keys {
        let mut seen = Vec::new();
        for r in rows
            .iter()
            .filter(|r| r.api == api && r.code.code() == code)
        {
            for cx in r.when.contexts() {
                assert!(
                    !seen.contains(&cx),
                    "{api} {code}: two rows cover {cx:?}; each case is transcribed once"
                );
                seen.push(cx);
            }
        }
        assert_eq!(
            seen.len(),
            all_contexts().len(),
            "{api} {code}: the rows leave contexts out"
        );
    }
}

#[test]
fn every_code_java_names_is_transcribed_and_named_by_gregor() {
    let rows = java_table();
    for api in GroupApi::ALL {
        for code in listed(JAVA_NAMED, api) {
            assert!(
                rows.iter().any(|r| r.api == api && r.code == code),
                "{api} {}: Java's handler names it; transcribe it",
                code.name()
            );
            for cx in all_contexts() {
                assert!(
                    named(api, code, cx).is_some(),
                    "{api} {} {cx:?}: Java's handler names it; gregor's row must too",
                    code.name()
                );
            }
        }
    }
}

#[test]
fn every_documented_code_is_transcribed_and_named_by_gregor() {
    let rows = java_table();
    for api in GroupApi::ALL {
        for code in listed(DOCUMENTED, api) {
            assert!(
                rows.iter().any(|r| r.api == api && r.code == code),
                "{api} {}: documented by Java's response class; transcribe it",
                code.name()
            );
            for cx in all_contexts() {
                assert!(
                    named(api, code, cx).is_some(),
                    "{api} {} {cx:?}: documented; gregor's row must name it",
                    code.name()
                );
            }
        }
    }
}

#[test]
fn gregor_names_no_code_without_a_reason() {
    for api in GroupApi::ALL {
        let java = listed(JAVA_NAMED, api);
        let documented = listed(DOCUMENTED, api);
        for code in every_code() {
            let is_named = all_contexts()
                .into_iter()
                .any(|cx| named(api, code, cx).is_some());
            let explained = java.contains(&code)
                || documented.contains(&code)
                || GREGOR_NAMED.iter().any(|(a, c, _)| *a == api && *c == code);
            assert!(
                !is_named || explained,
                "{api} {code}: named by gregor's table, but neither Java nor GREGOR_NAMED says why"
            );
            // A code is named in every context or in none: the defaults never depend on
            // the context.
            let everywhere = all_contexts()
                .into_iter()
                .all(|cx| named(api, code, cx).is_some());
            assert_eq!(is_named, everywhere, "{api} {code}");
        }
    }
    for (api, code, why) in GREGOR_NAMED {
        assert!(!why.is_empty());
        assert!(
            named(*api, *code, ReactionContext::default()).is_some(),
            "{api} {code}: listed as named by gregor but not in the table"
        );
    }
}

/// The defaults of the module docs, restated.
fn documented_default(api: GroupApi, code: ErrorCode) -> Reaction {
    match api {
        Hb => Backoff,
        Leave => Done,
        _ if code.is_retriable() => Backoff,
        Commit | Fetch => PartitionError,
        Find | Join | Sync => Fatal(K::Other),
    }
}

#[test]
fn unnamed_codes_get_the_documented_default() {
    for api in GroupApi::ALL {
        for code in every_code() {
            for cx in all_contexts() {
                if named(api, code, cx).is_none() {
                    assert_eq!(
                        reaction(api, code, cx),
                        documented_default(api, code),
                        "{api} {code} {cx:?}"
                    );
                }
            }
        }
    }
}

#[test]
fn success_is_done_everywhere() {
    for api in GroupApi::ALL {
        for cx in all_contexts() {
            assert_eq!(reaction(api, ErrorCode::None, cx), Done, "{api} {cx:?}");
        }
    }
}

#[test]
fn static_and_dynamic_members_react_alike() {
    for api in GroupApi::ALL {
        for code in every_code() {
            for cx in all_contexts().into_iter().filter(|cx| !cx.static_member) {
                let as_static = ReactionContext {
                    static_member: true,
                    ..cx
                };
                assert_eq!(
                    reaction(api, code, cx),
                    reaction(api, code, as_static),
                    "{api} {code} {cx:?}"
                );
            }
        }
    }
}

#[test]
fn membership_reactions_stay_within_their_apis() {
    // Commit outcomes come only from OffsetCommit, KIP-394's retry only from JoinGroup, and
    // FindCoordinator never rediscovers (it is the lookup) nor touches the membership.
    for api in GroupApi::ALL {
        for code in every_code() {
            for cx in all_contexts() {
                let r = reaction(api, code, cx);
                match r {
                    CommitRebalancing | CommitFailed => assert_eq!(api, Commit, "{code} {cx:?}"),
                    RetryJoinWithMemberId => assert_eq!(api, Join, "{code} {cx:?}"),
                    PartitionError => {
                        assert!(matches!(api, Commit | Fetch), "{api} {code} {cx:?}");
                    }
                    _ => {}
                }
                if api == Find {
                    assert!(
                        matches!(r, Done | Backoff | Fatal(_)),
                        "{code} {cx:?}: {r:?}"
                    );
                }
                if api == Leave {
                    assert_eq!(r, Done, "{code} {cx:?}");
                }
            }
        }
    }
}

#[test]
fn a_commit_racing_a_rebalance_keeps_the_assignment() {
    // librdkafka#4059: ILLEGAL_GENERATION on a commit during a rebalance, for the current
    // generation or an old one, is a typed RebalanceInProgress, never a reset.
    for generation_changed in [false, true] {
        let cx = ReactionContext {
            rebalancing: true,
            static_member: false,
            generation_changed,
        };
        assert_eq!(
            reaction(Commit, E::IllegalGeneration, cx),
            CommitRebalancing
        );
        assert_eq!(
            reaction(Commit, E::RebalanceInProgress, cx),
            CommitRebalancing
        );
    }
    // Outside a rebalance the generation is over: partitions lost, member id kept.
    assert_eq!(
        reaction(Commit, E::IllegalGeneration, ReactionContext::default()),
        ResetGeneration
    );
}

#[test]
fn fatal_kinds_become_typed_errors() {
    let fenced = K::FencedInstanceId.error(Join, E::FencedInstanceId, "g", Some("pod-7"));
    assert!(
        matches!(&fenced, GroupError::FencedInstanceId { instance_id } if instance_id == "pod-7")
    );
    assert!(fenced.to_string().contains("pod-7"), "{fenced}");

    let auth = K::GroupAuthorization.error(Fetch, E::GroupAuthorizationFailed, "orders", None);
    assert!(matches!(&auth, GroupError::GroupAuthorization { group } if group == "orders"));

    let other = K::Other.error(Join, E::IllegalGeneration, "g", None);
    assert!(matches!(
        other,
        GroupError::Broker {
            api: Join,
            code: E::IllegalGeneration
        }
    ));
    let invalid = K::InvalidRequest.error(Find, E::InvalidRequest, "g", None);
    assert!(matches!(invalid, GroupError::Broker { api: Find, .. }));

    let version = K::UnsupportedVersion.error(Join, E::UnsupportedVersion, "g", Some("i"));
    assert!(
        version.to_string().contains("static membership"),
        "{version}"
    );
    let version = K::UnsupportedVersion.error(Join, E::UnsupportedVersion, "g", None);
    assert!(!version.to_string().contains("static"), "{version}");

    // Every fatal reaction of the table has a message naming something useful.
    for api in GroupApi::ALL {
        for code in every_code() {
            if let Fatal(kind) = reaction(api, code, ReactionContext::default()) {
                let e = kind.error(api, code, "grp", Some("inst"));
                assert!(!e.to_string().is_empty(), "{api} {code}");
            }
        }
    }
}

#[test]
fn partition_errors_list_each_partition() {
    let e = GroupError::PartitionsRejected {
        api: Commit,
        partitions: vec![
            (TopicPartition::new("a", 0), E::OffsetMetadataTooLarge),
            (TopicPartition::new("b", 3), E::TopicAuthorizationFailed),
        ],
    };
    let text = e.to_string();
    assert!(text.starts_with("OffsetCommit: "), "{text}");
    assert!(text.contains("OFFSET_METADATA_TOO_LARGE"), "{text}");
    assert!(text.contains("TOPIC_AUTHORIZATION_FAILED"), "{text}");
}

#[test]
fn api_keys_and_names() {
    for api in GroupApi::ALL {
        assert_eq!(format!("{:?}", api.api_key()), api.name());
        assert_eq!(api.to_string(), api.name());
    }
}

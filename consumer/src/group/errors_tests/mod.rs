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
//!
//! One file per API holds Java's handling of it: its rows, the codes its handler names and
//! the codes its response class documents; [`table`] holds what rows are made of. The checks
//! are here.

mod consumer_group_heartbeat;
mod find_coordinator;
mod heartbeat;
mod join_group;
mod leave_group;
mod offset_commit;
mod offset_fetch;
mod sync_group;
mod table;

use std::collections::BTreeSet;

use super::*;
use gregor_protocol::ErrorCode as E;

use FatalKind as K;
use GroupApi::{
    ConsumerGroupHeartbeat as Cghb, FindCoordinator as Find, Heartbeat as Hb, JoinGroup as Join,
    LeaveGroup as Leave, OffsetCommit as Commit, OffsetFetch as Fetch, SyncGroup as Sync,
};
use Reaction::*;
use table::{Row, all_contexts};

/// Java's handling, case by case, API by API.
fn java_table() -> Vec<Row> {
    [
        find_coordinator::rows(),
        join_group::rows(),
        sync_group::rows(),
        heartbeat::rows(),
        leave_group::rows(),
        offset_commit::rows(),
        offset_fetch::rows(),
        consumer_group_heartbeat::rows(),
    ]
    .concat()
}

/// The codes each Java handler names (an `if (error == Errors.X)` of its own, or an error it
/// raises itself), `NONE` included.
const JAVA_NAMED: &[(GroupApi, &[ErrorCode])] = &[
    (Find, find_coordinator::JAVA_NAMED),
    (Join, join_group::JAVA_NAMED),
    (Sync, sync_group::JAVA_NAMED),
    (Hb, heartbeat::JAVA_NAMED),
    (Leave, leave_group::JAVA_NAMED),
    (Commit, offset_commit::JAVA_NAMED),
    (Fetch, offset_fetch::JAVA_NAMED),
    (Cghb, consumer_group_heartbeat::JAVA_NAMED),
];

/// The "Possible error codes" of Java's response classes (`common/requests/<Api>Response.java`
/// javadoc).
const DOCUMENTED: &[(GroupApi, &[ErrorCode])] = &[
    (Find, find_coordinator::DOCUMENTED),
    (Join, join_group::DOCUMENTED),
    (Sync, sync_group::DOCUMENTED),
    (Hb, heartbeat::DOCUMENTED),
    (Leave, leave_group::DOCUMENTED),
    (Commit, offset_commit::DOCUMENTED),
    (Fetch, offset_fetch::DOCUMENTED),
    (Cghb, consumer_group_heartbeat::DOCUMENTED),
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
    (
        Commit,
        E::StaleMemberEpoch,
        "consumer protocol: Java's CommitRequestManager (not the classic handler) retries it \
         with the member's latest epoch; gregor does too, never failing the commit on it",
    ),
    (
        Cghb,
        E::UnsupportedVersion,
        "fatal as in Java, but typed (GroupError::UnsupportedVersion), or a fallback to the \
         classic protocol when the member is configured so",
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
        Find | Join | Sync | Cghb => Fatal(K::Other),
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

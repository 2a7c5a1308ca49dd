//! The error-code table: round trips, uniqueness, and spot checks against Kafka 4.1's
//! `Errors.java` and its `RetriableException` hierarchy.

use std::collections::HashSet;

use gregor_protocol::ErrorCode;

#[test]
fn table_covers_minus_one_to_133_in_order() {
    let codes: Vec<i16> = ErrorCode::KNOWN.iter().map(|c| c.code()).collect();
    let expected: Vec<i16> = (-1..=133).collect();
    assert_eq!(codes, expected);
    assert_eq!(ErrorCode::KNOWN.len(), 135);
}

#[test]
fn every_known_code_round_trips() {
    for &known in ErrorCode::KNOWN {
        let code = known.code();
        assert_eq!(ErrorCode::from_code(code), known, "{code}");
        assert_eq!(ErrorCode::from(code), known, "{code}");
        assert_eq!(i16::from(known), code);
        assert!(known.is_known());
    }
}

#[test]
fn every_i16_round_trips() {
    for code in i16::MIN..=i16::MAX {
        assert_eq!(ErrorCode::from_code(code).code(), code);
    }
}

#[test]
fn codes_names_and_variants_are_unique() {
    let codes: HashSet<i16> = ErrorCode::KNOWN.iter().map(|c| c.code()).collect();
    let names: HashSet<&str> = ErrorCode::KNOWN.iter().map(|c| c.name()).collect();
    let variants: HashSet<ErrorCode> = ErrorCode::KNOWN.iter().copied().collect();
    assert_eq!(codes.len(), ErrorCode::KNOWN.len());
    assert_eq!(names.len(), ErrorCode::KNOWN.len());
    assert_eq!(variants.len(), ErrorCode::KNOWN.len());
}

#[test]
fn names_are_upper_snake_and_descriptions_present() {
    for &known in ErrorCode::KNOWN {
        let name = known.name();
        assert!(!name.is_empty());
        assert!(
            name.chars().all(|c| c.is_ascii_uppercase() || c == '_'),
            "{name}"
        );
        assert!(!known.description().is_empty(), "{name}");
    }
}

#[test]
fn unknown_codes_are_kept() {
    for code in [-2, 134, 500, i16::MAX, i16::MIN] {
        let e = ErrorCode::from_code(code);
        assert_eq!(e, ErrorCode::Unknown(code));
        assert_eq!(e.code(), code);
        assert!(!e.is_known());
        assert!(!e.is_retriable());
        assert!(!e.is_ok());
        assert_eq!(e.name(), "UNKNOWN_ERROR_CODE");
        assert_eq!(e.to_string(), format!("unknown error code {code}"));
    }
}

#[test]
fn well_known_codes() {
    let cases = [
        (-1, ErrorCode::UnknownServerError, "UNKNOWN_SERVER_ERROR"),
        (0, ErrorCode::None, "NONE"),
        (1, ErrorCode::OffsetOutOfRange, "OFFSET_OUT_OF_RANGE"),
        (2, ErrorCode::CorruptMessage, "CORRUPT_MESSAGE"),
        (
            3,
            ErrorCode::UnknownTopicOrPartition,
            "UNKNOWN_TOPIC_OR_PARTITION",
        ),
        (6, ErrorCode::NotLeaderOrFollower, "NOT_LEADER_OR_FOLLOWER"),
        (
            15,
            ErrorCode::CoordinatorNotAvailable,
            "COORDINATOR_NOT_AVAILABLE",
        ),
        (16, ErrorCode::NotCoordinator, "NOT_COORDINATOR"),
        (
            17,
            ErrorCode::InvalidTopicException,
            "INVALID_TOPIC_EXCEPTION",
        ),
        (25, ErrorCode::UnknownMemberId, "UNKNOWN_MEMBER_ID"),
        (27, ErrorCode::RebalanceInProgress, "REBALANCE_IN_PROGRESS"),
        (35, ErrorCode::UnsupportedVersion, "UNSUPPORTED_VERSION"),
        (74, ErrorCode::FencedLeaderEpoch, "FENCED_LEADER_EPOCH"),
        (75, ErrorCode::UnknownLeaderEpoch, "UNKNOWN_LEADER_EPOCH"),
        (
            88,
            ErrorCode::UnstableOffsetCommit,
            "UNSTABLE_OFFSET_COMMIT",
        ),
        (110, ErrorCode::FencedMemberEpoch, "FENCED_MEMBER_EPOCH"),
        (
            111,
            ErrorCode::UnreleasedInstanceId,
            "UNRELEASED_INSTANCE_ID",
        ),
        (112, ErrorCode::UnsupportedAssignor, "UNSUPPORTED_ASSIGNOR"),
        (113, ErrorCode::StaleMemberEpoch, "STALE_MEMBER_EPOCH"),
        (129, ErrorCode::RebootstrapRequired, "REBOOTSTRAP_REQUIRED"),
        (
            133,
            ErrorCode::ShareSessionLimitReached,
            "SHARE_SESSION_LIMIT_REACHED",
        ),
    ];
    for (code, variant, name) in cases {
        assert_eq!(ErrorCode::from_code(code), variant);
        assert_eq!(variant.code(), code);
        assert_eq!(variant.name(), name);
    }
}

/// Kafka 4.1: the exception behind each of these extends `RetriableException` (directly, or
/// through `RefreshRetriableException` / `InvalidMetadataException`).
#[test]
fn retriable_codes_match_kafka() {
    let retriable: HashSet<i16> = [
        2, 3, 5, 6, 7, 9, 13, 14, 15, 16, 19, 20, 41, 51, 56, 70, 71, 72, 74, 75, 78, 80, 83, 84,
        88, 89, 100, 103, 106, 122, 123, 133,
    ]
    .into_iter()
    .collect();
    for &known in ErrorCode::KNOWN {
        assert_eq!(
            known.is_retriable(),
            retriable.contains(&known.code()),
            "{}",
            known.name()
        );
    }
}

#[test]
fn retriable_spot_checks() {
    assert!(ErrorCode::NotLeaderOrFollower.is_retriable());
    assert!(!ErrorCode::OffsetOutOfRange.is_retriable());
    assert!(ErrorCode::CoordinatorNotAvailable.is_retriable());
    assert!(ErrorCode::NotCoordinator.is_retriable());
    assert!(ErrorCode::CoordinatorLoadInProgress.is_retriable());
    assert!(!ErrorCode::RebalanceInProgress.is_retriable());
    assert!(!ErrorCode::UnknownMemberId.is_retriable());
    assert!(!ErrorCode::IllegalGeneration.is_retriable());
    assert!(ErrorCode::FencedLeaderEpoch.is_retriable());
    assert!(ErrorCode::UnknownLeaderEpoch.is_retriable());
    assert!(ErrorCode::UnknownTopicOrPartition.is_retriable());
    assert!(ErrorCode::UnknownTopicId.is_retriable());
    assert!(ErrorCode::RequestTimedOut.is_retriable());
    assert!(ErrorCode::ConcurrentTransactions.is_retriable());
    assert!(!ErrorCode::UnknownServerError.is_retriable());
    assert!(!ErrorCode::TopicAuthorizationFailed.is_retriable());
    assert!(!ErrorCode::FencedMemberEpoch.is_retriable());
    assert!(!ErrorCode::StaleMemberEpoch.is_retriable());
    assert!(!ErrorCode::ProducerFenced.is_retriable());
    assert!(!ErrorCode::None.is_retriable());
}

#[test]
fn ok_and_result() {
    assert!(ErrorCode::None.is_ok());
    assert!(!ErrorCode::None.is_err());
    assert_eq!(ErrorCode::default(), ErrorCode::None);
    assert_eq!(ErrorCode::None.into_result(), Ok(()));
    for &known in ErrorCode::KNOWN.iter().filter(|c| **c != ErrorCode::None) {
        assert!(!known.is_ok());
        assert!(known.is_err());
        assert_eq!(known.into_result(), Err(known));
    }
}

#[test]
fn display_and_error_trait() {
    let e = ErrorCode::NotCoordinator;
    let shown = e.to_string();
    assert!(shown.starts_with("NOT_COORDINATOR (16): "), "{shown}");
    assert!(shown.ends_with(e.description()));
    let boxed: Box<dyn std::error::Error> = Box::new(e);
    assert_eq!(boxed.to_string(), shown);
}

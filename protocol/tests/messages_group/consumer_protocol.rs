//! The embedded consumer protocol: version-prefixed subscription and assignment bytes as a
//! Java consumer writes them, and Kafka's rule for versions newer than ours.

use super::*;

fn java_v1_subscription() -> Vec<u8> {
    W::new()
        .i16(1)
        .arr(2)
        .s("t1")
        .s("t2")
        .b(&[0xca, 0xfe, 0x01])
        .arr(1)
        .s("t1")
        .arr(2)
        .i32(0)
        .i32(1)
        .done()
}

fn v1_subscription() -> ConsumerProtocolSubscription {
    ConsumerProtocolSubscription {
        topics: vec![s("t1"), s("t2")],
        user_data: Some(Bytes::from_static(&[0xca, 0xfe, 0x01])),
        owned_partitions: vec![TopicPartitionList {
            topic: s("t1"),
            partitions: vec![0, 1],
        }],
        ..Default::default()
    }
}

/// A v3 body: one topic, null user data, nothing owned, generation 5, rack `rack-a`.
fn v3_body() -> W {
    W::new().arr(1).s("t").i32(-1).arr(0).i32(5).s("rack-a")
}

fn v3_subscription() -> ConsumerProtocolSubscription {
    ConsumerProtocolSubscription {
        topics: vec![s("t")],
        generation_id: 5,
        rack_id: Some(s("rack-a")),
        ..Default::default()
    }
}

#[test]
fn subscription_v1_with_user_data() {
    let bytes = java_v1_subscription();
    let (version, sub) =
        ConsumerProtocolSubscription::from_bytes(Bytes::from(bytes.clone())).expect("decodes");
    assert_eq!(version, 1);
    assert_eq!(sub, v1_subscription());
    assert_eq!(sub.generation_id, -1, "absent in v1: the schema default");
    assert_eq!(&sub.to_bytes(1).expect("encodes")[..], &bytes[..]);
    // The body alone, through the Message impl.
    known_answer(&v1_subscription(), 1, &bytes[2..]);
}

#[test]
fn subscription_v0_and_v3_with_rack() {
    let v0 = ConsumerProtocolSubscription {
        topics: vec![s("t")],
        ..Default::default()
    };
    let bytes = W::new().i16(0).arr(1).s("t").i32(-1).done();
    assert_eq!(&v0.to_bytes(0).expect("encodes")[..], &bytes[..]);
    assert_eq!(
        ConsumerProtocolSubscription::from_bytes(Bytes::from(bytes)),
        Ok((0, v0))
    );

    let bytes = W::new().i16(3).raw(&v3_body().done()).done();
    assert_eq!(
        &v3_subscription().to_bytes(3).expect("encodes")[..],
        &bytes[..]
    );
    assert_eq!(
        ConsumerProtocolSubscription::from_bytes(Bytes::from(bytes)),
        Ok((3, v3_subscription()))
    );
}

#[test]
fn subscription_from_a_newer_version_reads_as_ours_and_ignores_the_rest() {
    let bytes = W::new()
        .i16(4)
        .raw(&v3_body().done())
        .raw(&[0xde, 0xad, 0xbe, 0xef])
        .done();
    assert_eq!(
        ConsumerProtocolSubscription::from_bytes(Bytes::from(bytes)),
        Ok((3, v3_subscription()))
    );
    // A future version must still carry at least our newest body.
    let short = W::new().i16(9).arr(1).s("t").done();
    assert!(matches!(
        ConsumerProtocolSubscription::from_bytes(Bytes::from(short)),
        Err(DecodeError::Truncated { .. })
    ));
}

#[test]
fn subscription_trailing_bytes_only_tolerated_for_newer_versions() {
    let bytes = W::new().i16(3).raw(&v3_body().done()).raw(&[0, 0]).done();
    assert_eq!(
        ConsumerProtocolSubscription::from_bytes(Bytes::from(bytes)),
        Err(DecodeError::TrailingBytes {
            context: "ConsumerProtocolSubscription",
            remaining: 2
        })
    );
    let mut v1 = java_v1_subscription();
    v1.push(0);
    assert!(matches!(
        ConsumerProtocolSubscription::from_bytes(Bytes::from(v1)),
        Err(DecodeError::TrailingBytes { remaining: 1, .. })
    ));
}

#[test]
fn subscription_bad_prefix_and_versions() {
    assert!(matches!(
        ConsumerProtocolSubscription::from_bytes(Bytes::from_static(&[0])),
        Err(DecodeError::Truncated { .. })
    ));
    assert!(matches!(
        ConsumerProtocolSubscription::from_bytes(Bytes::new()),
        Err(DecodeError::Truncated { .. })
    ));
    let negative = W::new().i16(-1).arr(0).i32(-1).done();
    assert_eq!(
        ConsumerProtocolSubscription::from_bytes(Bytes::from(negative)),
        Err(DecodeError::UnsupportedVersion {
            api: "ConsumerProtocolSubscription",
            version: -1
        })
    );
    assert_eq!(
        v3_subscription().to_bytes(4),
        Err(EncodeError::UnsupportedVersion {
            api: "ConsumerProtocolSubscription",
            version: 4
        })
    );
    assert_eq!(v3_subscription().to_bytes(2), Err(not_in("rack_id", 2)));
    let with_generation = ConsumerProtocolSubscription {
        generation_id: 1,
        ..Default::default()
    };
    assert_eq!(with_generation.to_bytes(1), Err(not_in("generation_id", 1)));
    let owning = v1_subscription();
    assert_eq!(owning.to_bytes(0), Err(not_in("owned_partitions", 0)));
}

#[test]
fn assignment_as_java_sends_it() {
    let v0 = ConsumerProtocolAssignment {
        assigned_partitions: vec![TopicPartitionList {
            topic: s("t"),
            partitions: vec![0, 2],
        }],
        ..Default::default()
    };
    let bytes = W::new()
        .i16(0)
        .arr(1)
        .s("t")
        .arr(2)
        .i32(0)
        .i32(2)
        .i32(-1)
        .done();
    assert_eq!(&v0.to_bytes(0).expect("encodes")[..], &bytes[..]);
    assert_eq!(
        ConsumerProtocolAssignment::from_bytes(Bytes::from(bytes.clone())),
        Ok((0, v0.clone()))
    );
    known_answer(&v0, 0, &bytes[2..]);

    let v3 = ConsumerProtocolAssignment {
        user_data: Some(Bytes::from_static(&[1])),
        ..Default::default()
    };
    let bytes = W::new().i16(3).arr(0).b(&[1]).done();
    assert_eq!(&v3.to_bytes(3).expect("encodes")[..], &bytes[..]);
    assert_eq!(
        ConsumerProtocolAssignment::from_bytes(Bytes::from(bytes)),
        Ok((3, v3.clone()))
    );

    let future = W::new().i16(5).arr(0).b(&[1]).raw(&[7, 7, 7]).done();
    assert_eq!(
        ConsumerProtocolAssignment::from_bytes(Bytes::from(future)),
        Ok((3, v3))
    );
    let trailing = W::new().i16(2).arr(0).i32(-1).raw(&[7]).done();
    assert!(matches!(
        ConsumerProtocolAssignment::from_bytes(Bytes::from(trailing)),
        Err(DecodeError::TrailingBytes { .. })
    ));
}

#[test]
fn empty_assignment_bytes_are_an_empty_assignment() {
    let (version, assignment) =
        ConsumerProtocolAssignment::from_bytes(Bytes::new()).expect("decodes");
    assert_eq!(version, 0);
    assert_eq!(assignment, ConsumerProtocolAssignment::default());
    assert!(assignment.assigned_partitions.is_empty());
    assert_eq!(assignment.user_data, None);
}

//! Consumer-protocol metadata (the group member's subscription and assignment, carried in
//! JoinGroup/SyncGroup): encode and decode of a subscription to 20 topics owning 64
//! partitions, and of an assignment of 20 topics x 16 partitions.
//!
//! `cargo bench -p gregor-benches --bench consumer_protocol`.

use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, criterion_main};
use gregor_protocol::messages::consumer_protocol::TopicPartitionList;
use gregor_protocol::messages::{ConsumerProtocolAssignment, ConsumerProtocolSubscription};

fn topics() -> Vec<String> {
    (0..20)
        .map(|i| format!("events.service-{i:02}.v1"))
        .collect()
}

fn subscription() -> ConsumerProtocolSubscription {
    ConsumerProtocolSubscription {
        topics: topics(),
        user_data: Some(Bytes::from_static(b"user-data")),
        owned_partitions: topics()
            .into_iter()
            .take(4)
            .map(|topic| TopicPartitionList {
                topic,
                partitions: (0..16).collect(),
            })
            .collect(),
        generation_id: 7,
        rack_id: Some("rack-a".into()),
    }
}

fn assignment() -> ConsumerProtocolAssignment {
    ConsumerProtocolAssignment {
        assigned_partitions: topics()
            .into_iter()
            .map(|topic| TopicPartitionList {
                topic,
                partitions: (0..16).collect(),
            })
            .collect(),
        user_data: None,
    }
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("consumer_protocol");
    let sub = subscription();
    let sub_bytes = sub.to_bytes(3).unwrap();
    assert_eq!(
        ConsumerProtocolSubscription::from_bytes(sub_bytes.clone()).unwrap(),
        (3, sub.clone())
    );
    group.bench_function("subscription_v3_encode", |b| {
        b.iter(|| black_box(black_box(&sub).to_bytes(3).unwrap()))
    });
    group.bench_function("subscription_v3_decode", |b| {
        b.iter(|| {
            black_box(
                ConsumerProtocolSubscription::from_bytes(black_box(sub_bytes.clone())).unwrap(),
            )
        })
    });
    let asg = assignment();
    let asg_bytes = asg.to_bytes(3).unwrap();
    assert_eq!(
        ConsumerProtocolAssignment::from_bytes(asg_bytes.clone()).unwrap(),
        (3, asg.clone())
    );
    group.bench_function("assignment_v3_encode", |b| {
        b.iter(|| black_box(black_box(&asg).to_bytes(3).unwrap()))
    });
    group.bench_function("assignment_v3_decode", |b| {
        b.iter(|| {
            black_box(ConsumerProtocolAssignment::from_bytes(black_box(asg_bytes.clone())).unwrap())
        })
    });
    group.finish();
}

/// The criterion group (a module, so the macro's undocumented function needs no doc).
mod group {
    #![allow(missing_docs)]
    criterion::criterion_group!(benches, super::bench);
}
criterion_main!(group::benches);

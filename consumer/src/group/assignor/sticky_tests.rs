//! Tests of the sticky assignors: scenarios checked by hand against Java's algorithm (several
//! from Java's `AbstractStickyAssignorTest` and the `StickyAssignor` documentation), then
//! properties over random groups (see the `props` module).

use std::collections::BTreeMap;

use bytes::Bytes;
use gregor_protocol::TopicPartition;

use super::cooperative_sticky::CooperativeStickyAssignor;
use super::sticky::StickyAssignor;
use super::sticky_user_data::{
    decode_cooperative, decode_sticky, encode_cooperative, encode_sticky,
};
use super::{
    AssignmentInput, Assignor, GroupAssignment, MemberSubscription, PartitionRacks,
    RebalanceProtocol, SubscriptionContext,
};

mod props;

/// `topic-partition` pairs.
fn tps(list: &[(&str, i32)]) -> Vec<TopicPartition> {
    list.iter()
        .map(|&(t, p)| TopicPartition::new(t, p))
        .collect()
}

/// The input: `members` and topics with partition counts (no racks).
fn input(members: Vec<MemberSubscription>, topics: &[(&str, usize)]) -> AssignmentInput {
    AssignmentInput {
        members,
        topics: topics
            .iter()
            .map(|&(t, n)| (t.to_owned(), vec![PartitionRacks::default(); n]))
            .collect(),
    }
}

/// A member that owned `owned` in `generation`, as a cooperative member says it.
fn coop(id: &str, topics: &[&str], owned: &[(&str, i32)], generation: i32) -> MemberSubscription {
    MemberSubscription {
        owned_partitions: tps(owned),
        generation,
        ..MemberSubscription::new(id, topics.iter().copied())
    }
}

/// A member that owned `owned` in `generation`, as an eager sticky member says it (user data).
fn sticky(id: &str, topics: &[&str], owned: &[(&str, i32)], generation: i32) -> MemberSubscription {
    MemberSubscription {
        user_data: Some(encode_sticky(&tps(owned), generation).unwrap()),
        ..MemberSubscription::new(id, topics.iter().copied())
    }
}

/// Member `id`'s partitions.
fn of(a: &GroupAssignment, id: &str) -> Vec<TopicPartition> {
    a[id].partitions.clone()
}

#[test]
fn names_protocols_and_user_data() {
    assert_eq!(StickyAssignor.name(), "sticky");
    assert_eq!(
        StickyAssignor.supported_protocols(),
        [RebalanceProtocol::Eager]
    );
    assert_eq!(CooperativeStickyAssignor.name(), "cooperative-sticky");
    assert_eq!(
        CooperativeStickyAssignor.supported_protocols(),
        [RebalanceProtocol::Eager, RebalanceProtocol::Cooperative]
    );
    let topics = ["t".to_owned()];
    let owned = tps(&[("t", 1), ("t", 0)]);
    let context = SubscriptionContext {
        topics: &topics,
        owned_partitions: &owned,
        generation: 4,
    };
    let data = StickyAssignor.user_data(&context).unwrap();
    let decoded = decode_sticky(&data).unwrap();
    assert_eq!(decoded.partitions, owned);
    assert_eq!(decoded.generation, Some(4));
    let data = CooperativeStickyAssignor.user_data(&context).unwrap();
    assert_eq!(decode_cooperative(&data), Ok(4));
    // Never assigned: a sticky member sends nothing.
    let fresh = SubscriptionContext {
        topics: &topics,
        owned_partitions: &[],
        generation: -1,
    };
    assert_eq!(StickyAssignor.user_data(&fresh), None);
    assert_eq!(
        CooperativeStickyAssignor.user_data(&fresh),
        Some(Bytes::from_static(&[0xff; 4]))
    );
}

#[test]
fn empty_groups_and_topics() {
    for assignor in [&StickyAssignor as &dyn Assignor, &CooperativeStickyAssignor] {
        assert!(
            assignor
                .assign(&AssignmentInput::default())
                .unwrap()
                .is_empty()
        );
        let a = assignor
            .assign(&input(
                vec![MemberSubscription::new("c", Vec::<String>::new())],
                &[],
            ))
            .unwrap();
        assert_eq!(of(&a, "c"), []);
        // A subscribed topic missing from the metadata is not assigned.
        let a = assignor
            .assign(&input(
                vec![MemberSubscription::new("c", ["gone"])],
                &[("t", 2)],
            ))
            .unwrap();
        assert_eq!(of(&a, "c"), []);
    }
}

#[test]
fn one_consumer_gets_all_partitions_of_its_topics() {
    let a = StickyAssignor
        .assign(&input(
            vec![MemberSubscription::new("c", ["t1", "t2"])],
            &[("t1", 1), ("t2", 2), ("other", 3)],
        ))
        .unwrap();
    assert_eq!(of(&a, "c"), tps(&[("t1", 0), ("t2", 0), ("t2", 1)]));
}

#[test]
fn one_partition_two_consumers() {
    let a = StickyAssignor
        .assign(&input(
            vec![
                MemberSubscription::new("c1", ["t"]),
                MemberSubscription::new("c2", ["t"]),
            ],
            &[("t", 1)],
        ))
        .unwrap();
    assert_eq!(of(&a, "c1"), tps(&[("t", 0)]));
    assert_eq!(of(&a, "c2"), []);
}

#[test]
fn two_consumers_two_topics_six_partitions_round_robin() {
    let a = StickyAssignor
        .assign(&input(
            vec![
                MemberSubscription::new("consumer1", ["topic1", "topic2"]),
                MemberSubscription::new("consumer2", ["topic1", "topic2"]),
            ],
            &[("topic1", 3), ("topic2", 3)],
        ))
        .unwrap();
    assert_eq!(
        of(&a, "consumer1"),
        tps(&[("topic1", 0), ("topic1", 2), ("topic2", 1)])
    );
    assert_eq!(
        of(&a, "consumer2"),
        tps(&[("topic1", 1), ("topic2", 0), ("topic2", 2)])
    );
}

#[test]
fn mixed_subscriptions_fill_the_least_loaded_subscriber() {
    let a = StickyAssignor
        .assign(&input(
            vec![
                MemberSubscription::new("consumer1", ["topic1"]),
                MemberSubscription::new("consumer2", ["topic1", "topic2"]),
                MemberSubscription::new("consumer3", ["topic1"]),
            ],
            &[("topic1", 3), ("topic2", 2)],
        ))
        .unwrap();
    assert_eq!(of(&a, "consumer1"), tps(&[("topic1", 0), ("topic1", 2)]));
    assert_eq!(of(&a, "consumer2"), tps(&[("topic2", 0), ("topic2", 1)]));
    assert_eq!(of(&a, "consumer3"), tps(&[("topic1", 1)]));
}

/// The `StickyAssignor` documentation's first example: four topics of two partitions, three
/// members; then C1 leaves and the others keep everything.
#[test]
fn documentation_example_one_member_leaves() {
    let all = ["t0", "t1", "t2", "t3"];
    let topics = [("t0", 2), ("t1", 2), ("t2", 2), ("t3", 2)];
    let a = StickyAssignor
        .assign(&input(
            ["C0", "C1", "C2"]
                .iter()
                .map(|c| MemberSubscription::new(*c, all))
                .collect(),
            &topics,
        ))
        .unwrap();
    assert_eq!(of(&a, "C0"), tps(&[("t0", 0), ("t1", 1), ("t3", 0)]));
    assert_eq!(of(&a, "C1"), tps(&[("t0", 1), ("t2", 0), ("t3", 1)]));
    assert_eq!(of(&a, "C2"), tps(&[("t1", 0), ("t2", 1)]));

    let a = StickyAssignor
        .assign(&input(
            vec![
                sticky("C0", &all, &[("t0", 0), ("t1", 1), ("t3", 0)], 1),
                sticky("C2", &all, &[("t1", 0), ("t2", 1)], 1),
            ],
            &topics,
        ))
        .unwrap();
    // Owned partitions come back ordered by (partition, topic), then the new ones.
    assert_eq!(
        of(&a, "C0"),
        tps(&[("t0", 0), ("t3", 0), ("t1", 1), ("t0", 1)])
    );
    assert_eq!(
        of(&a, "C2"),
        tps(&[("t1", 0), ("t2", 1), ("t2", 0), ("t3", 1)])
    );
}

/// The documentation's second example: nested subscriptions, then C0 leaves.
#[test]
fn documentation_example_two_nested_subscriptions() {
    let topics = [("t0", 1), ("t1", 2), ("t2", 3)];
    let a = StickyAssignor
        .assign(&input(
            vec![
                MemberSubscription::new("C0", ["t0"]),
                MemberSubscription::new("C1", ["t0", "t1"]),
                MemberSubscription::new("C2", ["t0", "t1", "t2"]),
            ],
            &topics,
        ))
        .unwrap();
    assert_eq!(of(&a, "C0"), tps(&[("t0", 0)]));
    assert_eq!(of(&a, "C1"), tps(&[("t1", 0), ("t1", 1)]));
    assert_eq!(of(&a, "C2"), tps(&[("t2", 0), ("t2", 1), ("t2", 2)]));

    let a = StickyAssignor
        .assign(&input(
            vec![
                sticky("C1", &["t0", "t1"], &[("t1", 0), ("t1", 1)], 1),
                sticky(
                    "C2",
                    &["t0", "t1", "t2"],
                    &[("t2", 0), ("t2", 1), ("t2", 2)],
                    1,
                ),
            ],
            &topics,
        ))
        .unwrap();
    assert_eq!(of(&a, "C1"), tps(&[("t1", 0), ("t1", 1), ("t0", 0)]));
    assert_eq!(of(&a, "C2"), tps(&[("t2", 0), ("t2", 1), ("t2", 2)]));
}

/// A member leaves a group with different subscriptions: the general algorithm moves a
/// partition for balance.
#[test]
fn member_leaves_with_different_subscriptions() {
    let topics = [("t1", 2), ("t2", 2)];
    let a = StickyAssignor
        .assign(&input(
            vec![
                MemberSubscription::new("c1", ["t1"]),
                MemberSubscription::new("c2", ["t1", "t2"]),
                MemberSubscription::new("c3", ["t2"]),
            ],
            &topics,
        ))
        .unwrap();
    assert_eq!(of(&a, "c1"), tps(&[("t1", 0)]));
    assert_eq!(of(&a, "c2"), tps(&[("t1", 1), ("t2", 1)]));
    assert_eq!(of(&a, "c3"), tps(&[("t2", 0)]));

    let a = StickyAssignor
        .assign(&input(
            vec![
                sticky("c2", &["t1", "t2"], &[("t1", 1), ("t2", 1)], 1),
                sticky("c3", &["t2"], &[("t2", 0)], 1),
            ],
            &topics,
        ))
        .unwrap();
    assert_eq!(of(&a, "c2"), tps(&[("t1", 1), ("t1", 0)]));
    assert_eq!(of(&a, "c3"), tps(&[("t2", 0), ("t2", 1)]));
}

/// A member joins a cooperative group: the partitions it is to get are first revoked (left
/// out), then assigned in the next round.
#[test]
fn cooperative_member_joins_in_two_rounds() {
    let topics = [("t", 4)];
    let all = [("t", 0), ("t", 1), ("t", 2), ("t", 3)];
    let round1 = CooperativeStickyAssignor
        .assign(&input(
            vec![coop("c1", &["t"], &all, 3), coop("c2", &["t"], &[], -1)],
            &topics,
        ))
        .unwrap();
    assert_eq!(of(&round1, "c1"), tps(&[("t", 0), ("t", 1)]));
    assert_eq!(of(&round1, "c2"), []);
    // The eager assignor hands them over at once.
    let eager = StickyAssignor
        .assign(&input(
            vec![
                sticky("c1", &["t"], &all, 3),
                MemberSubscription::new("c2", ["t"]),
            ],
            &topics,
        ))
        .unwrap();
    assert_eq!(of(&eager, "c2"), tps(&[("t", 2), ("t", 3)]));

    let round2 = CooperativeStickyAssignor
        .assign(&input(
            vec![
                coop("c1", &["t"], &[("t", 0), ("t", 1)], 4),
                coop("c2", &["t"], &[], 4),
            ],
            &topics,
        ))
        .unwrap();
    assert_eq!(of(&round2, "c1"), tps(&[("t", 0), ("t", 1)]));
    assert_eq!(of(&round2, "c2"), tps(&[("t", 2), ("t", 3)]));
}

/// Two members claim one partition in the same generation: neither keeps it; the cooperative
/// assignor withholds it for a round.
#[test]
fn same_generation_claims_cancel() {
    let topics = [("t", 3)];
    let with_generation = |mut m: MemberSubscription| {
        m.generation = 1;
        m
    };
    let a = StickyAssignor
        .assign(&input(
            vec![
                with_generation(sticky("c1", &["t"], &[("t", 0), ("t", 1)], 1)),
                with_generation(sticky("c2", &["t"], &[("t", 0), ("t", 2)], 1)),
            ],
            &topics,
        ))
        .unwrap();
    assert_eq!(of(&a, "c1"), tps(&[("t", 1), ("t", 0)]));
    assert_eq!(of(&a, "c2"), tps(&[("t", 2)]));
    let a = CooperativeStickyAssignor
        .assign(&input(
            vec![
                coop("c1", &["t"], &[("t", 0), ("t", 1)], 1),
                coop("c2", &["t"], &[("t", 0), ("t", 2)], 1),
            ],
            &topics,
        ))
        .unwrap();
    assert_eq!(of(&a, "c1"), tps(&[("t", 1)]));
    assert_eq!(of(&a, "c2"), tps(&[("t", 2)]));
}

/// A sticky member's generation comes from its user data, but a later claim is compared with
/// the earlier claimant's subscription generation (here none, so -1): the later claim wins.
#[test]
fn sticky_claims_compare_with_the_subscription_generation() {
    let a = StickyAssignor
        .assign(&input(
            vec![
                sticky("c1", &["t"], &[("t", 0), ("t", 1)], 1),
                sticky("c2", &["t"], &[("t", 0), ("t", 2)], 1),
            ],
            &[("t", 3)],
        ))
        .unwrap();
    assert_eq!(of(&a, "c1"), tps(&[("t", 1)]));
    assert_eq!(of(&a, "c2"), tps(&[("t", 0), ("t", 2)]));
}

/// Claims in different generations: the higher one wins.
#[test]
fn higher_generation_claim_wins() {
    let topics = [("t", 3)];
    for (g1, g2, keeps) in [(2, 1, "c1"), (1, 2, "c2")] {
        let a = CooperativeStickyAssignor
            .assign(&input(
                vec![
                    coop("c1", &["t"], &[("t", 0), ("t", 1)], g1),
                    coop("c2", &["t"], &[("t", 0), ("t", 2)], g2),
                ],
                &topics,
            ))
            .unwrap();
        assert!(
            of(&a, keeps).contains(&TopicPartition::new("t", 0)),
            "{a:?}"
        );
    }
}

/// The cooperative assignor takes a member's generation from its user data when the
/// subscription has none, but compares a later claim with the earlier claimant's subscription
/// generation: which member Java looks at first decides. "c1" comes before "c2" in Java's
/// HashMap, so c2's generation 2 beats c1's subscription generation (-1), though c1 said 3.
#[test]
fn user_data_generation_and_java_map_order() {
    let mut c1 = coop("c1", &["t"], &[("t", 0)], -1);
    c1.user_data = Some(encode_cooperative(3));
    let c2 = coop("c2", &["t"], &[("t", 0)], 2);
    let a = CooperativeStickyAssignor
        .assign(&input(vec![c1, c2], &[("t", 2)]))
        .unwrap();
    assert_eq!(of(&a, "c2"), tps(&[("t", 0)]));
    assert_eq!(of(&a, "c1"), tps(&[("t", 1)]));
}

/// Unreadable sticky user data counts as owning nothing, in generation -1 (as Java reads it).
#[test]
fn garbage_user_data_owns_nothing() {
    let mut c1 = MemberSubscription::new("c1", ["t"]);
    c1.user_data = Some(Bytes::from_static(&[0xff, 0xff, 0xff, 0xff, 1]));
    let c2 = sticky("c2", &["t"], &[("t", 0), ("t", 1)], 1);
    let a = StickyAssignor
        .assign(&input(vec![c1, c2], &[("t", 2)]))
        .unwrap();
    assert_eq!(of(&a, "c1"), tps(&[("t", 1)]));
    assert_eq!(of(&a, "c2"), tps(&[("t", 0)]));
}

/// Rack-aware (KIP-881): each member gets the partitions with a replica on its rack, where
/// balance allows. Without racks the same group is assigned round robin.
#[test]
fn rack_aware_round_robin() {
    let mut c1 = MemberSubscription::new("c1", ["t"]);
    c1.rack = Some("r1".into());
    let mut c2 = MemberSubscription::new("c2", ["t"]);
    c2.rack = Some("r2".into());
    let racks = |r: &str| PartitionRacks {
        racks: vec![r.to_owned()],
    };
    let group = AssignmentInput {
        members: vec![c1, c2],
        topics: BTreeMap::from([(
            "t".to_owned(),
            vec![racks("r1"), racks("r1"), racks("r2"), racks("r2")],
        )]),
    };
    let a = StickyAssignor.assign(&group).unwrap();
    assert_eq!(of(&a, "c1"), tps(&[("t", 0), ("t", 1)]));
    assert_eq!(of(&a, "c2"), tps(&[("t", 2), ("t", 3)]));

    // Every partition on every rack: not rack-aware.
    let mut everywhere = group.clone();
    for parts in everywhere.topics.values_mut() {
        for p in parts {
            p.racks = vec!["r1".into(), "r2".into()];
        }
    }
    let a = StickyAssignor.assign(&everywhere).unwrap();
    assert_eq!(of(&a, "c1"), tps(&[("t", 0), ("t", 2)]));

    // A previous owner off the partition's rack gives it up, and the cooperative assignor
    // withholds it.
    let mut moved = group.clone();
    moved.members[0].owned_partitions = tps(&[("t", 0), ("t", 2)]);
    moved.members[0].generation = 1;
    moved.members[1].generation = 1;
    let a = CooperativeStickyAssignor.assign(&moved).unwrap();
    assert_eq!(of(&a, "c1"), tps(&[("t", 0), ("t", 1)]));
    assert_eq!(of(&a, "c2"), tps(&[("t", 3)]));
}

/// Java decides "all members subscribe to the same topics" by comparing each member with the
/// first one that has topics: members with none, seen before that one, pass. Then every member
/// gets partitions, subscribed or not. "a" and "b" come before "c" in Java's HashMap.
#[test]
fn members_without_topics_seen_first_count_as_equal() {
    let a = StickyAssignor
        .assign(&input(
            vec![
                MemberSubscription::new("a", Vec::<String>::new()),
                MemberSubscription::new("b", Vec::<String>::new()),
                MemberSubscription::new("c", ["t"]),
            ],
            &[("t", 3)],
        ))
        .unwrap();
    assert_eq!(of(&a, "a"), tps(&[("t", 0)]));
    assert_eq!(of(&a, "b"), tps(&[("t", 1)]));
    assert_eq!(of(&a, "c"), tps(&[("t", 2)]));
    // Seen after it, they make the subscriptions different: only "a" subscribes.
    let a = StickyAssignor
        .assign(&input(
            vec![
                MemberSubscription::new("a", ["t"]),
                MemberSubscription::new("b", Vec::<String>::new()),
            ],
            &[("t", 3)],
        ))
        .unwrap();
    assert_eq!(of(&a, "a"), tps(&[("t", 0), ("t", 1), ("t", 2)]));
    assert_eq!(of(&a, "b"), []);
}

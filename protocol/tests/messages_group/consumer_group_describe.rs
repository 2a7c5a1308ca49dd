//! ConsumerGroupDescribe (KIP-848). Every version is flexible; v1 adds `Member::member_type`.

use gregor_protocol::messages::consumer_group_describe as cgd;

use super::*;

fn described(member_type: i8) -> ConsumerGroupDescribeResponse {
    let tps = |partitions: Vec<i32>| cgd::Assignment {
        topic_partitions: vec![cgd::TopicPartitions {
            topic_id: TOPIC_ID,
            topic_name: s("t"),
            partitions,
            ..Default::default()
        }],
        ..Default::default()
    };
    ConsumerGroupDescribeResponse {
        groups: vec![cgd::DescribedGroup {
            group_id: s("g"),
            group_state: s("Stable"),
            group_epoch: 3,
            assignment_epoch: 3,
            assignor_name: s("uniform"),
            members: vec![cgd::Member {
                member_id: s("m"),
                member_epoch: 3,
                client_id: s("c"),
                client_host: s("/h"),
                subscribed_topic_names: vec![s("t")],
                assignment: tps(vec![0]),
                target_assignment: tps(vec![0, 1]),
                member_type,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// The wire bytes of `described`, up to the member's type.
fn described_bytes() -> W {
    let group = W::new()
        .i32(0)
        .carr(1)
        .i16(0)
        .null_cs()
        .cs("g")
        .cs("Stable");
    let group = group.i32(3).i32(3).cs("uniform").carr(1);
    let member = group.cs("m").null_cs().null_cs().i32(3).cs("c").cs("/h");
    let member = member.carr(1).cs("t").null_cs();
    let assignment = |w: W, partitions: &[i32]| {
        let w = w
            .carr(1)
            .raw(&TOPIC_ID.0)
            .cs("t")
            .carr(partitions.len() as u32);
        partitions.iter().fold(w, |w, p| w.i32(*p)).tags0().tags0()
    };
    let member = assignment(member, &[0]);
    assignment(member, &[0, 1])
}

#[test]
fn consumer_group_describe_known_answers() {
    let req = ConsumerGroupDescribeRequest {
        group_ids: vec![s("a"), s("b")],
        include_authorized_operations: true,
        ..Default::default()
    };
    let bytes = W::new().carr(2).cs("a").cs("b").i8(1).tags0().done();
    known_answer(&req, 0, &bytes);
    known_answer(&req, 1, &bytes);

    // v0: no member type; the group ends with authorized operations (i32::MIN by default).
    let v0 = described_bytes().tags0().i32(i32::MIN).tags0().tags0();
    known_answer(&described(-1), 0, &v0.done());
    let v1 = described_bytes()
        .i8(1)
        .tags0()
        .i32(i32::MIN)
        .tags0()
        .tags0();
    known_answer(&described(1), 1, &v1.done());
}

#[test]
fn consumer_group_describe_member_type_only_in_v1() {
    assert_eq!(encode_err(&described(1), 0), not_in("member_type", 0));
    // An empty answer decodes in both versions.
    let empty = W::new().i32(0).carr(0).tags0().done();
    for v in 0..=1 {
        let resp = ConsumerGroupDescribeResponse::decode_exact(Bytes::from(empty.clone()), v)
            .expect("decodes");
        assert!(resp.groups.is_empty());
    }
}

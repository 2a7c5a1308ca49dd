use gregor_protocol::messages::fetch::FetchResponse;

use super::*;

const LIMITS: RequestLimits = RequestLimits {
    max_wait_ms: 100,
    min_bytes: 1,
    max_bytes: 1000,
    isolation_level: 0,
};

fn want(p: i32, offset: i64) -> WantedPartition {
    WantedPartition {
        tp: TopicPartition::new("t", p),
        topic_id: Uuid([1; 16]),
        fetch_offset: offset,
        current_leader_epoch: 0,
        max_bytes: 100,
        last_fetched_epoch: -1,
    }
}

fn answer(session_id: i32, code: ErrorCode) -> FetchResponse {
    FetchResponse {
        session_id,
        error_code: code.code(),
        ..FetchResponse::default()
    }
}

fn partitions(r: &FetchRequest) -> Vec<(i32, i64)> {
    r.topics
        .iter()
        .flat_map(|t| t.partitions.iter().map(|p| (p.partition, p.fetch_offset)))
        .collect()
}

#[test]
fn full_then_incremental_then_forget() {
    let mut s = FetchSession::new(true);
    let r = s.build(&[want(0, 5), want(1, 7)], 12, LIMITS);
    assert_eq!((r.session_id, r.session_epoch), (0, 0));
    assert_eq!(partitions(&r), vec![(0, 5), (1, 7)]);
    assert_eq!(
        s.handle_response(&answer(42, ErrorCode::None)),
        SessionOutcome::Ok
    );

    // Partition 0 advanced, 1 unchanged: only 0 is sent.
    let r = s.build(&[want(0, 9), want(1, 7)], 12, LIMITS);
    assert_eq!((r.session_id, r.session_epoch), (42, 1));
    assert_eq!(partitions(&r), vec![(0, 9)]);
    assert!(r.forgotten_topics_data.is_empty());
    s.handle_response(&answer(42, ErrorCode::None));

    // Partition 1 no longer wanted: forgotten.
    let r = s.build(&[want(0, 9)], 12, LIMITS);
    assert_eq!((r.session_id, r.session_epoch), (42, 2));
    assert!(partitions(&r).is_empty());
    assert_eq!(r.forgotten_topics_data.len(), 1);
    assert_eq!(r.forgotten_topics_data[0].topic, "t");
    assert_eq!(r.forgotten_topics_data[0].partitions, vec![1]);
}

#[test]
fn an_evicted_session_falls_back_to_a_full_fetch() {
    let mut s = FetchSession::new(true);
    s.build(&[want(0, 5)], 13, LIMITS);
    s.handle_response(&answer(9, ErrorCode::None));
    s.build(&[want(0, 6)], 13, LIMITS);
    assert_eq!(
        s.handle_response(&answer(0, ErrorCode::FetchSessionIdNotFound)),
        SessionOutcome::Reset(ErrorCode::FetchSessionIdNotFound)
    );
    let r = s.build(&[want(0, 6), want(1, 0)], 13, LIMITS);
    assert_eq!((r.session_id, r.session_epoch), (0, 0));
    assert_eq!(partitions(&r), vec![(0, 6), (1, 0)]);
    assert_eq!(r.topics[0].topic_id, Uuid([1; 16]));
}

#[test]
fn without_sessions_every_request_is_full_and_sessionless() {
    let mut s = FetchSession::new(false);
    for _ in 0..2 {
        let r = s.build(&[want(0, 5)], 12, LIMITS);
        assert_eq!((r.session_id, r.session_epoch), (0, -1));
        assert_eq!(partitions(&r), vec![(0, 5)]);
        s.handle_response(&answer(0, ErrorCode::None));
    }
}

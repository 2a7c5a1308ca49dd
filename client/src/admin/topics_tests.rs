use bytes::BytesMut;
use gregor_protocol::Message;
use gregor_protocol::messages::create_partitions::CreatePartitionsTopicResult;
use gregor_protocol::messages::create_topics::CreatableTopicResult;
use gregor_protocol::messages::delete_topics::DeletableTopicResult;

use super::*;

fn encodes<M: Message>(m: &M, version: i16) {
    let mut buf = BytesMut::new();
    m.encode(&mut buf, version)
        .unwrap_or_else(|e| panic!("{} v{version}: {e}", M::NAME));
}

#[test]
fn create_topics_request_carries_counts_and_configs_in_every_version() {
    let topics = [NewTopic::new("t", 3, 1).config("cleanup.policy", "compact")];
    for version in CreateTopicsRequest::VERSIONS.iter() {
        let request = create_topics_request(&topics, true, version, 500).unwrap();
        assert_eq!(request.timeout_ms, 500);
        assert!(request.validate_only);
        let t = &request.topics[0];
        assert_eq!(
            (t.name.as_str(), t.num_partitions, t.replication_factor),
            ("t", 3, 1)
        );
        assert_eq!(t.configs[0].name, "cleanup.policy");
        assert_eq!(t.configs[0].value.as_deref(), Some("compact"));
        encodes(&request, version);
    }
}

#[test]
fn broker_defaults_need_version_four() {
    let topics = [NewTopic::with_broker_defaults("t")];
    let request = create_topics_request(&topics, false, 4, 1).unwrap();
    assert_eq!(request.topics[0].num_partitions, -1);
    assert_eq!(request.topics[0].replication_factor, -1);
    assert!(matches!(
        create_topics_request(&topics, false, 3, 1),
        Err(ClientError::FeatureNotSupported {
            api: ApiKey::CreateTopics,
            needs: 4,
            negotiated: 3,
            ..
        })
    ));
}

fn created(name: &str, code: i16) -> CreatableTopicResult {
    CreatableTopicResult {
        name: name.into(),
        error_code: code,
        error_message: (code != 0).then(|| format!("{name} failed")),
        topic_id: Uuid([7; 16]),
        num_partitions: 3,
        replication_factor: 1,
        ..Default::default()
    }
}

#[test]
fn create_topics_outcomes_are_typed_per_topic() {
    let response = CreateTopicsResponse {
        topics: vec![
            created("ok", 0),
            created("exists", ErrorCode::TopicAlreadyExists.code()),
            created("moved", ErrorCode::NotController.code()),
            created("slow", ErrorCode::RequestTimedOut.code()),
        ],
        ..Default::default()
    };
    let outcomes = create_topics_outcomes(&response, 7);
    match &outcomes[0] {
        (name, Outcome::Done(Ok(t))) => {
            assert_eq!(name, "ok");
            assert_eq!(t.topic_id, Some(Uuid([7; 16])));
            assert_eq!((t.num_partitions, t.replication_factor), (Some(3), Some(1)));
        }
        other => panic!("{other:?}"),
    }
    match &outcomes[1].1 {
        Outcome::Done(Err(e)) => {
            assert_eq!(e.code, ErrorCode::TopicAlreadyExists);
            assert_eq!(e.message.as_deref(), Some("exists failed"));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        outcomes[2].1,
        Outcome::Retry(ClientError::Broker {
            code: ErrorCode::NotController,
            ..
        })
    ));
    assert!(
        matches!(&outcomes[3].1, Outcome::Done(Err(e)) if e.code == ErrorCode::RequestTimedOut),
        "a timed-out creation is not retried"
    );
    let old = create_topics_outcomes(&response, 4);
    match &old[0].1 {
        Outcome::Done(Ok(t)) => {
            assert_eq!(t.topic_id, None, "no topic id before v7");
            assert_eq!(t.num_partitions, None, "no counts before v5");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn unknown_topic_is_final_for_deletes_and_partition_changes() {
    let response = DeleteTopicsResponse {
        responses: vec![
            DeletableTopicResult {
                name: Some("gone".into()),
                error_code: ErrorCode::UnknownTopicOrPartition.code(),
                ..Default::default()
            },
            DeletableTopicResult {
                name: Some("ok".into()),
                ..Default::default()
            },
            DeletableTopicResult {
                name: None,
                ..Default::default()
            },
        ],
        ..Default::default()
    };
    let outcomes = delete_topics_outcomes(&response);
    assert_eq!(outcomes.len(), 2, "a nameless answer cannot be matched");
    assert!(matches!(&outcomes[0].1,
        Outcome::Done(Err(e)) if e.code == ErrorCode::UnknownTopicOrPartition));
    assert!(matches!(outcomes[1].1, Outcome::Done(Ok(()))));

    let response = CreatePartitionsResponse {
        results: vec![CreatePartitionsTopicResult {
            name: "t".into(),
            error_code: ErrorCode::InvalidPartitions.code(),
            error_message: Some("must grow".into()),
            ..Default::default()
        }],
        ..Default::default()
    };
    assert!(matches!(&create_partitions_outcomes(&response)[0].1,
        Outcome::Done(Err(e)) if e.code == ErrorCode::InvalidPartitions
            && e.message.as_deref() == Some("must grow")));
}

#[test]
fn unanswered_topics_are_retried() {
    let mut outcomes: Vec<(String, Outcome<(), TopicError>)> =
        vec![("a".into(), Outcome::Done(Ok(())))];
    add_unanswered(
        ApiKey::DeleteTopics,
        &["a".into(), "b".into()],
        &mut outcomes,
    );
    assert_eq!(outcomes.len(), 2);
    assert_eq!(outcomes[1].0, "b");
    assert!(matches!(outcomes[1].1, Outcome::Retry(_)));
}

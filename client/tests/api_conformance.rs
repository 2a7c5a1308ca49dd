//! What each available broker kind (`GREGOR_TEST_BROKERS`, else all that can start here)
//! serves beyond the basics, as started by testkit (default configurations): SASL on its
//! plaintext listener (Kafka: SaslHandshake answered ILLEGAL_SASL_STATE), and KIP-848's
//! ConsumerGroupHeartbeat. These fill testkit's conformance table.

mod cluster_support;

use cluster_support::{at_coordinator, broker_and_client, deviates};
use gregor_client::sasl::PlainConfig;
use gregor_client::{ClientError, ConnectOptions, Connection};
use gregor_protocol::messages::ConsumerGroupHeartbeatRequest;
use gregor_protocol::{ApiKey, ErrorCode};
use gregor_testkit::data::{create_topic_by_protocol_on, unique_name, within};
use gregor_testkit::{BrokerKind, TestBroker};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sasl_on_the_default_listener() {
    for kind in BrokerKind::from_env() {
        let broker = TestBroker::start_kind_async(kind)
            .await
            .unwrap_or_else(|e| panic!("a {kind} broker: {e}"));
        let first = broker.bootstrap();
        let first = first.split(',').next().unwrap().to_owned();
        let plain = within(
            "plaintext handshake",
            Connection::connect(&first, &ConnectOptions::default()),
        )
        .await
        .expect("ApiVersions answered");
        let listed = plain
            .versions()
            .broker_range(ApiKey::SaslHandshake.code())
            .is_some();
        let opts = ConnectOptions {
            sasl: Some(PlainConfig::new("alice", "secret").into()),
            ..ConnectOptions::default()
        };
        let result = within("SASL handshake", Connection::connect(&first, &opts)).await;
        match result {
            Ok(_) => panic!("{kind}: SASL PLAIN with unknown credentials succeeded"),
            Err(ClientError::UnsupportedApi { api, .. }) => {
                assert!(!listed, "{kind}");
                assert_eq!(api, ApiKey::SaslHandshake, "{kind}");
                eprintln!("{kind}: SASL not supported (SaslHandshake not listed)");
            }
            Err(ClientError::SaslMechanismRejected { code, enabled, .. })
                if code == ErrorCode::UnsupportedSaslMechanism
                    && deviates(
                        &broker,
                        BrokerKind::Tansu,
                        "tansu 0.6.0 deviates: on its default listener it answers SaslHandshake PLAIN with UNSUPPORTED_SASL_MECHANISM while naming PLAIN enabled (Kafka: ILLEGAL_SASL_STATE, no mechanisms, on a listener without SASL)",
                    ) =>
            {
                assert!(listed, "{kind}");
                eprintln!("{kind}: SaslHandshake listed; PLAIN refused, enabled {enabled:?}");
            }
            Err(ClientError::SaslMechanismRejected { code, enabled, .. }) => {
                assert!(listed, "{kind}");
                // Kafka serves SaslHandshake on every listener, and on one without SASL
                // answers it ILLEGAL_SASL_STATE with no mechanisms.
                assert_eq!(code, ErrorCode::IllegalSaslState, "{kind}");
                assert!(enabled.is_empty(), "{kind}: {enabled:?}");
                eprintln!("{kind}: SaslHandshake listed; ILLEGAL_SASL_STATE on a plain listener");
            }
            Err(e) => panic!("{kind}: SASL on the default listener: {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kip_848_consumer_group_heartbeat() {
    for kind in BrokerKind::from_env() {
        let (broker, client) = broker_and_client(kind).await;
        let any = client.any_broker().await.expect("a broker");
        if any.version_for::<ConsumerGroupHeartbeatRequest>().is_err() {
            eprintln!("{kind}: ConsumerGroupHeartbeat not supported (not listed)");
            continue;
        }
        let topic = unique_name("kip848");
        create_topic_by_protocol_on(&broker, &client, &topic, 2).await;
        let group = unique_name("kip848-group");
        let member_id = format!("{:032x}", std::process::id() as u128 * 7_919 + 1);
        let request = ConsumerGroupHeartbeatRequest {
            group_id: group.clone(),
            member_id,
            member_epoch: 0,
            rebalance_timeout_ms: 10_000,
            subscribed_topic_names: Some(vec![topic.clone()]),
            // An empty regex ("none"): librdkafka's mock cluster (2.12.1) aborts the whole
            // process on an assertion when topic names come with a null regex.
            subscribed_topic_regex: Some(String::new()),
            topic_partitions: Some(Vec::new()),
            ..Default::default()
        };
        let (_, joined) = at_coordinator(&client, &group, "ConsumerGroupHeartbeat", |conn| {
            let request = request.clone();
            async move {
                let joined = conn
                    .send(request)
                    .await
                    .expect("ConsumerGroupHeartbeat answered");
                (ErrorCode::from_code(joined.error_code), joined)
            }
        })
        .await;
        assert_eq!(
            ErrorCode::from_code(joined.error_code),
            ErrorCode::None,
            "{kind}: {:?}",
            joined.error_message
        );
        // Kafka: joining bumps the new group's epoch from 0 to 1, and the member takes it.
        if joined.member_epoch != 1
            && deviates(
                &broker,
                BrokerKind::RdkafkaMock,
                "librdkafka's mock cluster (2.12.1) deviates: the first member of a new group gets member epoch 2 (Kafka: 1)",
            )
        {
            assert!(joined.member_epoch >= 1, "{kind}: {joined:?}");
        } else {
            assert_eq!(joined.member_epoch, 1, "{kind}: {joined:?}");
        }
        assert!(joined.heartbeat_interval_ms > 0, "{kind}: {joined:?}");
        eprintln!(
            "{kind}: ConsumerGroupHeartbeat joins (epoch {})",
            joined.member_epoch
        );
    }
}

//! Group consumer properties: defaults, parsing, validation, assignor names.

use std::time::Duration;

use gregor_client::config::{CLIENT_KEYS, ConfigError};

use super::*;
use crate::fetch::config::{FETCH_KEYS, MEMORY_BUDGET_KEY};

fn group(props: &[(&str, &str)]) -> Result<GroupConfig, ConfigError> {
    let mut all = vec![("group.id", "g")];
    all.extend_from_slice(props);
    GroupConfig::from_properties(all)
}

#[track_caller]
fn assert_invalid<T: std::fmt::Debug>(r: Result<T, ConfigError>, key: &str) {
    match r {
        Err(ConfigError::InvalidValue { key: k, .. }) if k == key => {}
        other => panic!("expected InvalidValue for {key}, got {other:?}"),
    }
}

#[test]
fn defaults_are_javas() {
    let c = GroupConfig::new("g");
    assert_eq!(c.group_id, "g");
    assert_eq!(c.instance_id, None);
    assert_eq!(c.assignors, ["range", "cooperative-sticky"]);
    assert_eq!(c.session_timeout, Duration::from_millis(45_000));
    assert_eq!(c.heartbeat_interval, Duration::from_millis(3_000));
    assert_eq!(c.max_poll_interval, Duration::from_millis(300_000));
    assert_eq!(c.rebalance_timeout, None);
    assert_eq!(c.effective_rebalance_timeout(), c.max_poll_interval);
    assert!(c.auto_commit);
    assert_eq!(c.auto_commit_interval, Duration::from_millis(5_000));
    assert_eq!(c.auto_offset_reset, OffsetReset::Latest);
    assert_eq!(c.client_rack, None);
    assert_eq!(c.retry_backoff, Duration::from_millis(100));
    assert_eq!(c.retry_backoff_max, Duration::from_millis(1_000));
    assert_eq!(c.on_close, MembershipOnClose::Default);
    assert!(c.leaves_group_on_close());
    assert!(
        !c.allow_auto_create_topics,
        "gregor's one departure from Java's defaults"
    );
    assert!(c.exclude_internal_topics);
    assert_eq!(c.fetch.isolation, IsolationLevel::ReadUncommitted);
    c.validate().unwrap();

    // Properties with only a group id give the same.
    let p = group(&[]).unwrap();
    assert_eq!(p.assignors, c.assignors);
    assert_eq!(p.session_timeout, c.session_timeout);
    assert_eq!(p.heartbeat_interval, c.heartbeat_interval);
    assert_eq!(p.max_poll_interval, c.max_poll_interval);
    assert_eq!(p.auto_offset_reset, c.auto_offset_reset);
    assert_eq!(p.on_close, c.on_close);
}

#[test]
fn builder_sets_every_field() {
    let c = GroupConfig::new("g")
        .with_instance_id("i-1")
        .with_assignors(["roundrobin"])
        .with_session_timeout(Duration::from_secs(10))
        .with_heartbeat_interval(Duration::from_secs(1))
        .with_max_poll_interval(Duration::from_secs(60))
        .with_rebalance_timeout(Duration::from_secs(20))
        .with_auto_commit(false)
        .with_auto_commit_interval(Duration::from_secs(2))
        .with_auto_offset_reset(OffsetReset::Fail)
        .with_client_rack("use1-az1")
        .with_retry_backoff(Duration::from_millis(50))
        .with_retry_backoff_max(Duration::from_millis(500))
        .with_on_close(MembershipOnClose::LeaveGroup)
        .with_allow_auto_create_topics(true)
        .with_exclude_internal_topics(false)
        .with_isolation(IsolationLevel::ReadCommitted);
    c.validate().unwrap();
    assert_eq!(c.instance_id.as_deref(), Some("i-1"));
    assert!(c.is_static());
    assert_eq!(c.assignors, ["roundrobin"]);
    assert_eq!(c.effective_rebalance_timeout(), Duration::from_secs(20));
    assert!(!c.auto_commit);
    assert_eq!(c.auto_offset_reset, OffsetReset::Fail);
    assert_eq!(c.client_rack.as_deref(), Some("use1-az1"));
    assert!(
        c.leaves_group_on_close(),
        "LeaveGroup: static members leave too"
    );
    assert!(c.allow_auto_create_topics);
    assert!(!c.exclude_internal_topics);
    assert_eq!(c.fetch.isolation, IsolationLevel::ReadCommitted);

    let fetch = FetchConfig::default().with_min_bytes(7);
    assert_eq!(GroupConfig::new("g").with_fetch(fetch).fetch.min_bytes, 7);
}

#[test]
fn leaving_on_close_follows_javas_close_options() {
    let dynamic = GroupConfig::new("g");
    let fixed = GroupConfig::new("g").with_instance_id("i");
    // (on_close, dynamic member leaves, static member leaves)
    for (on_close, dynamic_leaves, static_leaves) in [
        (MembershipOnClose::Default, true, false),
        (MembershipOnClose::LeaveGroup, true, true),
        (MembershipOnClose::RemainInGroup, false, false),
    ] {
        assert_eq!(
            dynamic
                .clone()
                .with_on_close(on_close)
                .leaves_group_on_close(),
            dynamic_leaves,
            "{on_close:?}"
        );
        assert_eq!(
            fixed
                .clone()
                .with_on_close(on_close)
                .leaves_group_on_close(),
            static_leaves,
            "{on_close:?}"
        );
    }
    let key = "internal.leave.group.on.close";
    assert_eq!(
        group(&[(key, "false")]).unwrap().on_close,
        MembershipOnClose::RemainInGroup
    );
    assert_eq!(
        group(&[(key, "false"), (key, "TRUE")]).unwrap().on_close,
        MembershipOnClose::Default
    );
    assert_invalid(group(&[(key, "yes")]), key);
}

#[test]
fn java_class_and_librdkafka_names_map_to_protocol_names() {
    let cases = [
        ("org.apache.kafka.clients.consumer.RangeAssignor", "range"),
        (
            "org.apache.kafka.clients.consumer.RoundRobinAssignor",
            "roundrobin",
        ),
        ("org.apache.kafka.clients.consumer.StickyAssignor", "sticky"),
        (
            "org.apache.kafka.clients.consumer.CooperativeStickyAssignor",
            "cooperative-sticky",
        ),
        ("RangeAssignor", "range"),
        ("CooperativeStickyAssignor", "cooperative-sticky"),
        ("range", "range"),
        ("roundrobin", "roundrobin"),
        ("sticky", "sticky"),
        ("cooperative-sticky", "cooperative-sticky"),
        ("Cooperative-Sticky", "cooperative-sticky"),
        (" range ", "range"),
    ];
    for (given, canonical) in cases {
        assert_eq!(builtin_assignor(given), Some(canonical), "{given}");
    }
    for other in [
        "com.example.RangeAssignor",
        "org.apache.kafka.clients.consumer.range",
        "org.apache.kafka.clients.consumer.internals.RangeAssignor",
        "round-robin",
        "uniform",
        "",
    ] {
        assert_eq!(builtin_assignor(other), None, "{other}");
    }
}

#[test]
fn assignment_strategy_property() {
    let key = "partition.assignment.strategy";
    let c = group(&[(
        key,
        "org.apache.kafka.clients.consumer.CooperativeStickyAssignor, range",
    )])
    .unwrap();
    assert_eq!(c.assignors, ["cooperative-sticky", "range"]);
    // librdkafka's spelling, empty entries skipped.
    let c = group(&[(key, "roundrobin,,sticky,")]).unwrap();
    assert_eq!(c.assignors, ["roundrobin", "sticky"]);
    // Custom classes cannot be loaded; custom assignors are set in code.
    assert_invalid(group(&[(key, "com.example.MyAssignor")]), key);
    assert_invalid(group(&[(key, "range,rnage")]), key);
    // Empty, or the same assignor twice under two names.
    assert_invalid(group(&[(key, "")]), key);
    assert_invalid(group(&[(key, " , ")]), key);
    assert_invalid(group(&[(key, "range,RangeAssignor")]), key);
}

#[test]
fn custom_assignors_in_code() {
    let c = GroupConfig::new("g").with_assignors(["my-assignor", "RangeAssignor"]);
    assert_eq!(c.assignors, ["my-assignor", "range"]);
    c.validate().unwrap();
    let key = "partition.assignment.strategy";
    assert_invalid(
        GroupConfig::new("g")
            .with_assignors(Vec::<String>::new())
            .validate(),
        key,
    );
    assert_invalid(GroupConfig::new("g").with_assignors([""]).validate(), key);
    assert_invalid(
        GroupConfig::new("g")
            .with_assignors(["sticky", "StickyAssignor"])
            .validate(),
        key,
    );
}

#[test]
fn timeouts() {
    let c = group(&[
        ("session.timeout.ms", "10000"),
        ("heartbeat.interval.ms", "2500"),
        ("max.poll.interval.ms", "600000"),
        ("auto.commit.interval.ms", "0"),
    ])
    .unwrap();
    assert_eq!(c.session_timeout, Duration::from_secs(10));
    assert_eq!(c.heartbeat_interval, Duration::from_millis(2500));
    assert_eq!(c.max_poll_interval, Duration::from_secs(600));
    assert_eq!(c.effective_rebalance_timeout(), Duration::from_secs(600));
    assert_eq!(c.auto_commit_interval, Duration::ZERO);

    let c = group(&[(REBALANCE_TIMEOUT_KEY, "60000")]).unwrap();
    assert_eq!(c.effective_rebalance_timeout(), Duration::from_secs(60));

    for key in [
        "session.timeout.ms",
        "heartbeat.interval.ms",
        "max.poll.interval.ms",
        REBALANCE_TIMEOUT_KEY,
        "auto.commit.interval.ms",
    ] {
        // Kafka INTs of milliseconds.
        for bad in ["-1", "1.5", "", "2147483648", "10s"] {
            assert_invalid(group(&[(key, bad)]), key);
        }
    }
    // Zero where a positive time is needed.
    for key in [
        "session.timeout.ms",
        "heartbeat.interval.ms",
        "max.poll.interval.ms",
        REBALANCE_TIMEOUT_KEY,
    ] {
        assert_invalid(group(&[(key, "0")]), key);
    }
}

#[test]
fn heartbeat_must_be_below_the_session_timeout() {
    let key = "heartbeat.interval.ms";
    for (session, heartbeat) in [("10000", "10000"), ("10000", "20000"), ("3000", "3000")] {
        assert_invalid(
            group(&[("session.timeout.ms", session), (key, heartbeat)]),
            key,
        );
    }
    group(&[("session.timeout.ms", "10000"), (key, "9999")]).unwrap();
    // The default heartbeat (3 s) against a short session timeout.
    assert_invalid(group(&[("session.timeout.ms", "2000")]), key);
    // In code too; durations beyond an INT are refused.
    assert_invalid(
        GroupConfig::new("g")
            .with_session_timeout(Duration::from_secs(5))
            .with_heartbeat_interval(Duration::from_secs(5))
            .validate(),
        key,
    );
    assert_invalid(
        GroupConfig::new("g")
            .with_max_poll_interval(Duration::from_secs(3_000_000))
            .validate(),
        "max.poll.interval.ms",
    );
    assert_invalid(
        GroupConfig::new("g")
            .with_heartbeat_interval(Duration::from_micros(500))
            .validate(),
        key,
    );
}

#[test]
fn auto_offset_reset_values() {
    let key = "auto.offset.reset";
    for (value, reset) in [
        ("earliest", OffsetReset::Earliest),
        ("smallest", OffsetReset::Earliest),
        ("beginning", OffsetReset::Earliest),
        ("LATEST", OffsetReset::Latest),
        ("largest", OffsetReset::Latest),
        ("end", OffsetReset::Latest),
        ("none", OffsetReset::Fail),
        ("error", OffsetReset::Fail),
    ] {
        assert_eq!(
            group(&[(key, value)]).unwrap().auto_offset_reset,
            reset,
            "{value}"
        );
    }
    for bad in ["by_duration:PT1H", "first", "", "0"] {
        assert_invalid(group(&[(key, bad)]), key);
    }
}

#[test]
fn group_id_is_required_and_not_empty() {
    assert_eq!(
        GroupConfig::from_properties([("session.timeout.ms", "10000")]).unwrap_err(),
        ConfigError::Missing {
            key: "group.id",
            reason: "a group consumer needs a group id",
        }
    );
    assert_invalid(
        GroupConfig::from_properties([("group.id", " ")]),
        "group.id",
    );
    assert_invalid(GroupConfig::new("").validate(), "group.id");
    let c = GroupConfig::from_properties([("group.id", " orders ")]).unwrap();
    assert_eq!(c.group_id, "orders");
}

#[test]
fn instance_ids_follow_kafkas_rules() {
    let key = "group.instance.id";
    let c = group(&[(key, "pod-7.zone_a")]).unwrap();
    assert_eq!(c.instance_id.as_deref(), Some("pod-7.zone_a"));
    assert!(!c.leaves_group_on_close());
    // Empty unsets it (librdkafka's reading).
    assert_eq!(group(&[(key, "pod"), (key, "")]).unwrap().instance_id, None);
    let long = "x".repeat(250);
    for bad in [".", "..", "pod 7", "pod/7", "pöd", long.as_str()] {
        assert_invalid(group(&[(key, bad)]), key);
    }
    group(&[(key, &"x".repeat(249))]).unwrap();
    assert_invalid(GroupConfig::new("g").with_instance_id("").validate(), key);
}

#[test]
fn other_group_keys() {
    let c = group(&[
        ("enable.auto.commit", "false"),
        ("client.rack", "rack-2"),
        ("retry.backoff.ms", "250"),
        ("retry.backoff.max.ms", "5000"),
        ("allow.auto.create.topics", "true"),
        ("exclude.internal.topics", "false"),
        ("group.protocol", "CLASSIC"),
        ("group.remote.assignor", ""),
    ])
    .unwrap();
    assert!(!c.auto_commit);
    assert_eq!(c.client_rack.as_deref(), Some("rack-2"));
    assert_eq!(c.retry_backoff, Duration::from_millis(250));
    assert_eq!(c.retry_backoff_max, Duration::from_secs(5));
    assert!(c.allow_auto_create_topics);
    assert!(!c.exclude_internal_topics);
    assert_eq!(group(&[("client.rack", "")]).unwrap().client_rack, None);

    assert_eq!(c.group_protocol, GroupProtocol::Classic);
    assert_eq!(c.remote_assignor, None);
    let consumer = group(&[
        ("group.protocol", "Consumer"),
        ("group.remote.assignor", "range"),
        (PROTOCOL_FALLBACK_KEY, "true"),
    ])
    .unwrap();
    assert_eq!(consumer.group_protocol, GroupProtocol::Consumer);
    assert_eq!(consumer.remote_assignor.as_deref(), Some("range"));
    assert!(consumer.protocol_fallback);
    assert!(!group(&[]).unwrap().protocol_fallback);
    assert_invalid(group(&[("group.protocol", "eager")]), "group.protocol");
    assert_invalid(
        group(&[(PROTOCOL_FALLBACK_KEY, "yes")]),
        PROTOCOL_FALLBACK_KEY,
    );
    for key in [
        "enable.auto.commit",
        "allow.auto.create.topics",
        "exclude.internal.topics",
    ] {
        assert_invalid(group(&[(key, "1")]), key);
    }
}

#[test]
fn fetch_keys_go_to_the_fetch_config() {
    let c = group(&[
        ("isolation.level", "read_committed"),
        ("fetch.max.wait.ms", "100"),
        ("max.partition.fetch.bytes", "4096"),
        (MEMORY_BUDGET_KEY, "1048576"),
    ])
    .unwrap();
    assert_eq!(c.fetch.isolation, IsolationLevel::ReadCommitted);
    assert_eq!(c.fetch.max_wait, Duration::from_millis(100));
    assert_eq!(c.fetch.partition_max_bytes, 4096);
    assert_eq!(c.fetch.memory_budget, 1 << 20);
    assert_invalid(
        group(&[("isolation.level", "committed")]),
        "isolation.level",
    );
}

#[test]
fn every_listed_key_is_accepted() {
    for key in GROUP_KEYS.iter().chain(FETCH_KEYS) {
        let sample = match *key {
            "group.id" | "group.instance.id" | "client.rack" => "x",
            "group.protocol" => "classic",
            "group.remote.assignor" => "",
            "partition.assignment.strategy" => "range",
            "session.timeout.ms" => "45000",
            "auto.offset.reset" => "earliest",
            "isolation.level" => "read_committed",
            "enable.auto.commit"
            | "internal.leave.group.on.close"
            | "allow.auto.create.topics"
            | "exclude.internal.topics"
            | "check.crcs"
            | PROTOCOL_FALLBACK_KEY => "false",
            _ => "1",
        };
        group(&[(key, sample)]).unwrap_or_else(|e| panic!("{key}: {e}"));
    }
}

#[test]
fn client_and_ignored_keys_are_skipped_others_unknown() {
    // Client keys and the consumer keys a group consumer has no use for: skipped.
    for key in CLIENT_KEYS {
        let value = match *key {
            "retry.backoff.ms" => "100",
            _ => "anything",
        };
        group(&[(key, value)]).unwrap_or_else(|e| panic!("{key}: {e}"));
    }
    for key in [
        "max.poll.records",
        "key.deserializer",
        "default.api.timeout.ms",
    ] {
        assert!(is_ignored_group_key(key), "{key}");
        group(&[(key, "x")]).unwrap();
    }
    // Keys the group consumer reads are never among the ignored ones.
    for key in GROUP_KEYS {
        assert!(!is_ignored_group_key(key), "{key}");
    }
    for key in ["group.idd", "Group.Id", "session.timeout", "stream.batch"] {
        assert_eq!(
            group(&[(key, "1")]).unwrap_err(),
            ConfigError::UnknownKey(key.to_owned())
        );
    }
}

#[test]
fn the_group_keys_are_not_fetch_keys_and_client_keys_only_share_the_retry_backoff() {
    for key in GROUP_KEYS {
        assert!(!FETCH_KEYS.contains(key), "{key}");
        assert!(
            !CLIENT_KEYS.contains(key) || *key == "retry.backoff.ms",
            "{key} is a client key too"
        );
    }
}

#[test]
fn properties_split_between_client_and_group() {
    let props = GroupProperties::parse([
        ("bootstrap.servers", "b1:9092,b2:9092"),
        ("group.id", "orders"),
        ("retry.backoff.ms", "300"),
        ("session.timeout.ms", "20000"),
        ("isolation.level", "read_committed"),
        (
            "key.deserializer",
            "org.apache.kafka.common.serialization.StringDeserializer",
        ),
        ("max.poll.records", "100"),
        ("key.deserializer", "again"),
    ])
    .unwrap();
    let client = props.client.build().unwrap();
    assert_eq!(client.bootstrap_servers().len(), 2);
    assert_eq!(client.retry_backoff(), Duration::from_millis(300));
    assert_eq!(props.group.group_id, "orders");
    assert_eq!(props.group.retry_backoff, Duration::from_millis(300));
    assert_eq!(props.group.session_timeout, Duration::from_secs(20));
    assert_eq!(props.group.fetch.isolation, IsolationLevel::ReadCommitted);
    assert_eq!(props.ignored, ["key.deserializer", "max.poll.records"]);

    // The client's values are checked as they are set; unknown keys are refused.
    assert_invalid(
        GroupProperties::parse([("group.id", "g"), ("request.timeout.ms", "soon")]),
        "request.timeout.ms",
    );
    assert_eq!(
        GroupProperties::parse([("group.id", "g"), ("linger.ms", "5")]).unwrap_err(),
        ConfigError::UnknownKey("linger.ms".to_owned())
    );
    assert!(matches!(
        GroupProperties::parse([("bootstrap.servers", "b:9092")]),
        Err(ConfigError::Missing {
            key: "group.id",
            ..
        })
    ));
}

#[test]
fn a_later_value_wins() {
    let c = group(&[
        ("session.timeout.ms", "10000"),
        ("session.timeout.ms", "20000"),
    ])
    .unwrap();
    assert_eq!(c.session_timeout, Duration::from_secs(20));
}

#[test]
fn errors_name_the_key_never_the_value() {
    let e = group(&[("session.timeout.ms", "hunter2")]).unwrap_err();
    assert_eq!(e.key(), "session.timeout.ms");
    assert!(!e.to_string().contains("hunter2"), "{e}");
    let e = group(&[("partition.assignment.strategy", "com.secret.Thing")]).unwrap_err();
    assert!(!e.to_string().contains("secret"), "{e}");
}

//! How a member is set up ([`MemberConfig`]): its consumer properties, what it subscribes to
//! ([`Subscription`]), its per-record delay and lifetime, written as the member programs'
//! arguments.

use std::time::Duration;

use super::{GroupPeerError, MEMBER_TIMEOUT, invalid};

/// What a member subscribes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subscription {
    /// These topics.
    Topics(Vec<String>),
    /// The topics whose names match this regular expression (Java's `Pattern`; librdkafka's
    /// regex subscription, `^` prepended when missing).
    Pattern(String),
}

/// How a member is set up: its consumer properties, subscription, per-record processing delay
/// and lifetime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberConfig {
    /// The consumer's properties (`group.id`, `partition.assignment.strategy`,
    /// `group.instance.id`, `enable.auto.commit`, `auto.offset.reset`, `session.timeout.ms`,
    /// ...), passed as they are; the bootstrap servers are set by the program.
    pub properties: Vec<(String, String)>,
    /// What it subscribes to.
    pub subscription: Subscription,
    /// How long it sleeps per record before counting it processed (a slow member).
    pub record_delay: Duration,
    /// How long the program runs before exiting by itself ([`MEMBER_TIMEOUT`] by default).
    pub timeout: Duration,
}

impl MemberConfig {
    /// A member with `properties` subscribed to `topics`.
    pub fn new(properties: &[(&str, &str)], topics: &[&str]) -> MemberConfig {
        MemberConfig {
            properties: owned_properties(properties),
            subscription: Subscription::Topics(topics.iter().map(|t| (*t).to_owned()).collect()),
            record_delay: Duration::ZERO,
            timeout: MEMBER_TIMEOUT,
        }
    }

    /// A member with `properties` subscribed to the topics matching `regex`.
    pub fn pattern(properties: &[(&str, &str)], regex: &str) -> MemberConfig {
        MemberConfig {
            properties: owned_properties(properties),
            subscription: Subscription::Pattern(regex.to_owned()),
            record_delay: Duration::ZERO,
            timeout: MEMBER_TIMEOUT,
        }
    }

    /// Sleeps `delay` per record before counting it processed.
    pub fn with_record_delay(mut self, delay: Duration) -> MemberConfig {
        self.record_delay = delay;
        self
    }

    /// Exits by itself after `timeout` (whole seconds, at least one).
    pub fn with_timeout(mut self, timeout: Duration) -> MemberConfig {
        self.timeout = timeout;
        self
    }

    /// The value of property `key`, if set.
    pub fn property(&self, key: &str) -> Option<&str> {
        self.properties
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The program's arguments after the bootstrap servers and the timeout.
    pub(super) fn args(&self) -> Result<Vec<String>, GroupPeerError> {
        let mut args = Vec::new();
        match &self.subscription {
            Subscription::Topics(topics) => {
                if topics.is_empty() || topics.iter().any(|t| t.is_empty() || t.contains(',')) {
                    return Err(invalid(format!("not a topic list: {topics:?}")));
                }
                args.push("--topics".to_owned());
                args.push(topics.join(","));
            }
            Subscription::Pattern(regex) => {
                args.push("--pattern".to_owned());
                args.push(regex.clone());
            }
        }
        if !self.record_delay.is_zero() {
            args.push("--delay-ms".to_owned());
            args.push(self.record_delay.as_millis().to_string());
        }
        for (k, v) in &self.properties {
            if k.is_empty() || k.contains('=') || k.starts_with('-') {
                return Err(invalid(format!("not a property name: {k:?}")));
            }
            args.push(format!("{k}={v}"));
        }
        Ok(args)
    }

    /// A name for messages: the client kind and the `client.id`, `group.instance.id` or
    /// nothing.
    pub(super) fn label(&self, kind: &str) -> String {
        match self
            .property("client.id")
            .or_else(|| self.property("group.instance.id"))
        {
            Some(id) => format!("{kind} member {id}"),
            None => format!("{kind} member"),
        }
    }
}

fn owned_properties(properties: &[(&str, &str)]) -> Vec<(String, String)> {
    properties
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

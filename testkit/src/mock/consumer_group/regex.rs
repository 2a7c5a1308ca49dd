//! Resolving subscribed regular expressions against the cluster's topics.
//!
//! Kafka resolves them in a background task started by a heartbeat, at most once per
//! `REGEX_BATCH_REFRESH_INTERVAL_MS` (10 s) per group, when a member brought a new expression,
//! some expression is unresolved, or topics were created since the last resolution. When the
//! resolution changes what the group subscribes to, the group epoch moves, and the members get
//! the new topics at their next heartbeat. Here the resolution runs right after the heartbeat
//! that starts it (its response does not see it, as with Kafka), and the interval is
//! [`ConsumerGroupConfig::regex_refresh_interval`](super::ConsumerGroupConfig).
//!
//! Patterns must match a whole topic name, as Kafka's `Pattern.matcher(name).matches()`.

use std::collections::{BTreeMap, BTreeSet};

use super::Env;
use super::group::ConsumerGroup;

/// A pattern compiled to match whole names.
pub(crate) fn compile_regex(pattern: &str) -> Result<regex::Regex, regex::Error> {
    regex::Regex::new(&format!("^(?:{pattern})$"))
}

/// Resolves the group's regular expressions if Kafka would now: `new_regex` when the
/// heartbeat brought an expression no other member had.
pub(crate) fn maybe_refresh(g: &mut ConsumerGroup, env: &Env<'_>, new_regex: bool) {
    let regexes: BTreeSet<String> = g
        .members
        .values()
        .filter(|m| !m.regex.is_empty())
        .map(|m| m.regex.clone())
        .collect();
    if regexes.is_empty() {
        return;
    }
    if let Some((at, _)) = &g.regex_refreshed {
        if env.now <= *at + env.cfg.regex_refresh_interval {
            return;
        }
    }
    let names: BTreeSet<String> = env.topics.keys().cloned().collect();
    let unresolved = regexes.iter().any(|r| !g.resolved.contains_key(r));
    let new_topics = g
        .regex_refreshed
        .as_ref()
        .is_none_or(|(_, seen)| !names.is_subset(seen));
    if !(new_regex || unresolved || new_topics) {
        return;
    }
    let mut resolved: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in &regexes {
        // Patterns were checked when members brought them; one that fails matches nothing.
        let matched = match compile_regex(r) {
            Ok(re) => names.iter().filter(|n| re.is_match(n)).cloned().collect(),
            Err(_) => BTreeSet::new(),
        };
        resolved.insert(r.clone(), matched);
    }
    let mut bump = resolved
        .iter()
        .any(|(r, topics)| g.resolved.get(r).is_none_or(|old| old != topics));
    g.resolved = resolved;
    g.regex_refreshed = Some((env.now, names));
    let meta = g.compute_subscribed_meta(env.topics);
    if meta != g.subscribed_meta {
        g.subscribed_meta = meta;
        bump = true;
    }
    if bump {
        g.epoch += 1;
    }
}

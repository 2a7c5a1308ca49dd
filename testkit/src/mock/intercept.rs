//! Interception rules: what a test makes the cluster do with requests of an API key.
//!
//! Rules are evaluated, for every request whose header decoded, in the order they were added.
//! A rule matches its API key (and its broker, if it names one) while it has uses left. Every
//! matching rule counts the request and sends it to its observer, if it has one. A
//! [`Action::PassThrough`] rule lets evaluation continue; the first rule with another action
//! ends it, and that action is what the broker does. A rule added with [`Intercept::once`] or
//! [`Intercept::times`] is removed when its uses run out; others stay until
//! [`MockCluster::remove_intercept`](super::MockCluster::remove_intercept).

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use gregor_protocol::{ApiKey, ErrorCode};
use tokio::sync::mpsc;

/// What the broker does with an intercepted request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
    /// Handle it normally.
    PassThrough,
    /// Answer with this error code wherever the response has one (every partition, topic, or
    /// the top level), without touching the cluster state.
    Error(ErrorCode),
    /// Wait this long (tokio time), then handle it normally.
    Delay(Duration),
    /// Close the connection without answering.
    DropConnection,
    /// Handle it normally (its effects on the cluster stay), then close the connection
    /// without answering: a response lost on the way back.
    DropResponse,
}

/// A request as a rule saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenRequest {
    /// The broker it was sent to.
    pub broker: i32,
    /// Its API key.
    pub api_key: ApiKey,
    /// Its version.
    pub api_version: i16,
    /// Its correlation id.
    pub correlation_id: i32,
    /// The client id of its header.
    pub client_id: Option<String>,
    /// The request body (after the header), undecoded.
    pub body: Bytes,
}

/// Receives the requests an observing rule matched.
#[derive(Debug)]
pub struct Observer {
    rx: mpsc::UnboundedReceiver<SeenRequest>,
}

impl Observer {
    /// The next request seen, waiting for it; `None` once the rule is gone and all were read.
    pub async fn next(&mut self) -> Option<SeenRequest> {
        self.rx.recv().await
    }

    /// The next request already seen, if any.
    pub fn try_next(&mut self) -> Option<SeenRequest> {
        self.rx.try_recv().ok()
    }
}

/// A rule to install with [`MockCluster::intercept`](super::MockCluster::intercept).
#[derive(Debug, Clone)]
pub struct Intercept {
    action: Action,
    uses: Option<u32>,
    broker: Option<i32>,
    client_id: Option<String>,
    observer: Option<mpsc::UnboundedSender<SeenRequest>>,
}

impl Intercept {
    /// Applies `action` to the next matching request only.
    pub fn once(action: Action) -> Self {
        Self::times(1, action)
    }

    /// Applies `action` to the next `n` matching requests.
    pub fn times(n: u32, action: Action) -> Self {
        Intercept {
            action,
            uses: Some(n),
            broker: None,
            client_id: None,
            observer: None,
        }
    }

    /// Applies `action` to every matching request until the rule is removed.
    pub fn always(action: Action) -> Self {
        Intercept {
            action,
            uses: None,
            broker: None,
            client_id: None,
            observer: None,
        }
    }

    /// A pass-through rule that reports every matching request to the returned observer.
    pub fn observe() -> (Self, Observer) {
        Self::always(Action::PassThrough).observed()
    }

    /// Also reports the requests this rule matches to the returned observer.
    pub fn observed(mut self) -> (Self, Observer) {
        let (tx, rx) = mpsc::unbounded_channel();
        self.observer = Some(tx);
        (self, Observer { rx })
    }

    /// Matches only requests sent to broker `id`.
    pub fn on_broker(mut self, id: i32) -> Self {
        self.broker = Some(id);
        self
    }

    /// Matches only requests whose header carries client id `id`: with
    /// [`Action::DropConnection`] on every API a client uses, that client is cut off from the
    /// cluster while others go on (a network partition of one process).
    pub fn from_client(mut self, id: &str) -> Self {
        self.client_id = Some(id.to_owned());
        self
    }
}

/// Identifies an installed rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InterceptId(u64);

/// The installed rules and the per-API request counters.
#[derive(Debug, Default)]
pub struct InterceptTable {
    rules: Vec<(InterceptId, ApiKey, Intercept)>,
    next_id: u64,
    hits: HashMap<InterceptId, u64>,
    counts: HashMap<ApiKey, u64>,
}

impl InterceptTable {
    /// Installs a rule for `key`.
    pub fn add(&mut self, key: ApiKey, rule: Intercept) -> InterceptId {
        self.next_id += 1;
        let id = InterceptId(self.next_id);
        self.rules.push((id, key, rule));
        self.hits.insert(id, 0);
        id
    }

    /// Removes a rule; false if it was not installed (or already used up).
    pub fn remove(&mut self, id: InterceptId) -> bool {
        let before = self.rules.len();
        self.rules.retain(|(rid, _, _)| *rid != id);
        before != self.rules.len()
    }

    /// How many requests rule `id` matched.
    pub fn hits(&self, id: InterceptId) -> u64 {
        self.hits.get(&id).copied().unwrap_or(0)
    }

    /// How many requests of `key` the cluster received.
    pub fn count(&self, key: ApiKey) -> u64 {
        self.counts.get(&key).copied().unwrap_or(0)
    }

    /// Counts a request and evaluates the rules for it: the action to take.
    pub fn on_request(&mut self, seen: &SeenRequest) -> Action {
        *self.counts.entry(seen.api_key).or_insert(0) += 1;
        let mut action = Action::PassThrough;
        let mut i = 0;
        while i < self.rules.len() {
            let (id, key, rule) = &mut self.rules[i];
            let matches = *key == seen.api_key
                && rule.broker.is_none_or(|b| b == seen.broker)
                && rule
                    .client_id
                    .as_deref()
                    .is_none_or(|c| seen.client_id.as_deref() == Some(c))
                && rule.uses != Some(0);
            if !matches {
                i += 1;
                continue;
            }
            *self.hits.entry(*id).or_insert(0) += 1;
            if let Some(tx) = &rule.observer {
                // A dropped observer just stops receiving.
                let _ = tx.send(seen.clone());
            }
            action = rule.action;
            if let Some(n) = rule.uses.as_mut() {
                *n -= 1;
            }
            if rule.uses == Some(0) {
                self.rules.remove(i);
            } else {
                i += 1;
            }
            if action != Action::PassThrough {
                break;
            }
        }
        action
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(key: ApiKey, broker: i32) -> SeenRequest {
        SeenRequest {
            broker,
            api_key: key,
            api_version: 0,
            correlation_id: 1,
            client_id: None,
            body: Bytes::new(),
        }
    }

    #[test]
    fn rules_apply_in_order_and_run_out() {
        let mut t = InterceptTable::default();
        let (obs, mut rx) = Intercept::observe();
        let o = t.add(ApiKey::Fetch, obs);
        let e = t.add(
            ApiKey::Fetch,
            Intercept::once(Action::Error(ErrorCode::NotLeaderOrFollower)),
        );
        t.add(
            ApiKey::Fetch,
            Intercept::always(Action::DropConnection).on_broker(2),
        );
        assert_eq!(
            t.on_request(&seen(ApiKey::Fetch, 1)),
            Action::Error(ErrorCode::NotLeaderOrFollower)
        );
        assert_eq!(t.on_request(&seen(ApiKey::Fetch, 1)), Action::PassThrough);
        assert_eq!(
            t.on_request(&seen(ApiKey::Fetch, 2)),
            Action::DropConnection
        );
        assert_eq!(t.on_request(&seen(ApiKey::Produce, 2)), Action::PassThrough);
        assert_eq!((t.hits(o), t.hits(e)), (3, 1));
        assert_eq!((t.count(ApiKey::Fetch), t.count(ApiKey::Produce)), (3, 1));
        assert!(!t.remove(e), "used up");
        assert!(t.remove(o));
        assert_eq!(rx.try_next().map(|s| s.broker), Some(1));
        assert_eq!(rx.try_next().map(|s| s.broker), Some(1));
        assert_eq!(rx.try_next().map(|s| s.broker), Some(2));
        assert!(rx.try_next().is_none());
    }

    #[test]
    fn a_rule_for_one_client_leaves_the_others_alone() {
        let mut t = InterceptTable::default();
        t.add(
            ApiKey::Heartbeat,
            Intercept::always(Action::DropConnection).from_client("cut"),
        );
        let mut from = |client: Option<&str>| {
            let mut s = seen(ApiKey::Heartbeat, 1);
            s.client_id = client.map(str::to_owned);
            t.on_request(&s)
        };
        assert_eq!(from(Some("cut")), Action::DropConnection);
        assert_eq!(from(Some("other")), Action::PassThrough);
        assert_eq!(from(None), Action::PassThrough);
    }
}

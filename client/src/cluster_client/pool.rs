//! The connection pool: at most one connection per broker and [`Purpose`].
//!
//! Each `(broker, purpose)` pair has a slot. A slot holds the live connection (if any), the
//! address it was opened to, and its [`SlotHealth`]: when it was last handed out and how its
//! connection attempts went. Getting a connection:
//!
//! 1. under the slot's state lock (a `std::sync::Mutex`, never held across an `.await`): a live
//!    connection to the current address that has not been idle for `connections.max.idle.ms`
//!    is cloned and returned; a closed, idle or re-addressed one is dropped;
//! 2. otherwise the caller takes the slot's connect lock (a `tokio::sync::Mutex`), so one
//!    attempt runs at a time per slot. A caller that waited while another attempt failed gets
//!    that failure instead of starting its own; a caller that finds a connection made while it
//!    waited takes it;
//! 3. the attempt waits out the reconnect backoff left from earlier failures (exponential from
//!    `reconnect.backoff.ms` to `reconnect.backoff.max.ms`, ±20% jitter), then connects.
//!
//! Dropping the pool's handle of a connection does not cut requests that other clones still
//! have in flight: the connection task ends when its last handle is gone. Callers should ask
//! the pool for a connection per request (a lock and a clone) instead of keeping one, so that
//! idle tracking and reconnection see their use.
//!
//! A reaper task sweeps the pool periodically and drops closed and idle connections; it holds
//! only a weak reference and ends with the pool.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use tracing::{debug, info, warn};

use super::Purpose;
use crate::cluster::{Backoff, BrokerId};
use crate::connection::{ConnectOptions, Connection};
use crate::error::ClientError;

/// The sans-io bookkeeping of one pool slot: use and connection-attempt history.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SlotHealth {
    /// Consecutive failed connection attempts (reset by a success).
    consecutive_failures: u32,
    /// Failed connection attempts over the slot's life; lets a waiting caller see that the
    /// attempt it waited for failed.
    failures_total: u64,
    /// No new attempt before this instant.
    retry_at: Option<Instant>,
    /// When the slot's connection was made or last handed out.
    last_used: Option<Instant>,
}

impl SlotHealth {
    /// Records a connection made at `now`.
    pub(crate) fn on_connected(&mut self, now: Instant) {
        self.consecutive_failures = 0;
        self.retry_at = None;
        self.last_used = Some(now);
    }

    /// Records a failed attempt at `now`; the next one waits `backoff` (with `jitter` in
    /// `[0, 1)` choosing the point in its ±20% band).
    pub(crate) fn on_connect_failed(&mut self, now: Instant, backoff: &Backoff, jitter: f64) {
        let delay = backoff.delay(self.consecutive_failures, jitter);
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        self.failures_total = self.failures_total.saturating_add(1);
        self.retry_at = Some(now + delay);
    }

    /// Records that the connection was handed out at `now`.
    pub(crate) fn on_used(&mut self, now: Instant) {
        self.last_used = Some(now);
    }

    /// How long a new attempt must still wait at `now` (zero when it may start).
    pub(crate) fn wait_before_attempt(&self, now: Instant) -> Duration {
        self.retry_at
            .map_or(Duration::ZERO, |at| at.saturating_duration_since(now))
    }

    /// Whether the last attempt failed and its backoff has not passed at `now`.
    pub(crate) fn backing_off(&self, now: Instant) -> bool {
        self.retry_at.is_some_and(|at| at > now)
    }

    /// Whether a connection unused since its last hand-out has been idle longer than
    /// `max_idle` at `now` (`None`: never idle).
    pub(crate) fn is_idle(&self, now: Instant, max_idle: Option<Duration>) -> bool {
        match (max_idle, self.last_used) {
            (Some(max), Some(used)) => now.saturating_duration_since(used) >= max,
            _ => false,
        }
    }

    /// Failed attempts over the slot's life.
    pub(crate) fn failures_total(&self) -> u64 {
        self.failures_total
    }
}

#[derive(Debug, Default)]
struct SlotState {
    /// The connection and the `host:port` it was opened to.
    conn: Option<(Connection, String)>,
    health: SlotHealth,
    /// The error of the last failed attempt.
    last_error: Option<ClientError>,
}

impl SlotState {
    /// The live connection to `addr`, if usable at `now`; drops it when it is closed, idle
    /// or opened to another address.
    fn take_live(
        &mut self,
        addr: &str,
        now: Instant,
        max_idle: Option<Duration>,
    ) -> Option<Connection> {
        let (conn, conn_addr) = self.conn.as_ref()?;
        let reason = if conn.is_closed() {
            "closed"
        } else if conn_addr != addr {
            "broker address changed"
        } else if self.health.is_idle(now, max_idle) {
            "idle"
        } else {
            let conn = conn.clone();
            self.health.on_used(now);
            return Some(conn);
        };
        debug!(
            addr = conn_addr.as_str(),
            reason, "dropping pooled connection"
        );
        self.conn = None;
        None
    }
}

#[derive(Debug, Default)]
struct Slot {
    state: Mutex<SlotState>,
    connecting: tokio::sync::Mutex<()>,
}

impl Slot {
    fn state(&self) -> MutexGuard<'_, SlotState> {
        // The lock is never held across a panic point that could leave the state torn.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Connections per broker and purpose.
#[derive(Debug)]
pub(crate) struct Pool {
    options: ConnectOptions,
    reconnect: Backoff,
    max_idle: Option<Duration>,
    slots: Mutex<HashMap<(BrokerId, Purpose), Arc<Slot>>>,
}

impl Pool {
    /// An empty pool opening connections with `options`.
    pub(crate) fn new(
        options: ConnectOptions,
        reconnect: Backoff,
        max_idle: Option<Duration>,
    ) -> Pool {
        Pool {
            options,
            reconnect,
            max_idle,
            slots: Mutex::new(HashMap::new()),
        }
    }

    /// The options connections are opened with.
    pub(crate) fn options(&self) -> &ConnectOptions {
        &self.options
    }

    fn slots(&self) -> MutexGuard<'_, HashMap<(BrokerId, Purpose), Arc<Slot>>> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn slot(&self, broker: BrokerId, purpose: Purpose) -> Arc<Slot> {
        Arc::clone(self.slots().entry((broker, purpose)).or_default())
    }

    /// The connection of `purpose` to `broker` at `addr` (`host:port`): the pooled one if
    /// usable, else a new one after any reconnect backoff.
    pub(crate) async fn get(
        &self,
        broker: BrokerId,
        addr: &str,
        purpose: Purpose,
    ) -> Result<Connection, ClientError> {
        let slot = self.slot(broker, purpose);
        let failures_seen = {
            let mut state = slot.state();
            if let Some(conn) = state.take_live(addr, Instant::now(), self.max_idle) {
                return Ok(conn);
            }
            state.health.failures_total()
        };
        let _connecting = slot.connecting.lock().await;
        let wait = {
            let mut state = slot.state();
            if let Some(conn) = state.take_live(addr, Instant::now(), self.max_idle) {
                return Ok(conn);
            }
            if state.health.failures_total() > failures_seen
                && let Some(error) = state.last_error.clone()
            {
                // The attempt this caller waited for failed; report it rather than retry.
                return Err(error);
            }
            state.health.wait_before_attempt(Instant::now())
        };
        if !wait.is_zero() {
            debug!(broker, ?purpose, ?wait, "waiting out reconnect backoff");
            tokio::time::sleep(wait).await;
        }
        let result = Connection::connect(addr, &self.options).await;
        let mut state = slot.state();
        let now = Instant::now();
        match result {
            Ok(conn) => {
                info!(broker, ?purpose, addr, "connected");
                state.health.on_connected(now);
                state.last_error = None;
                state.conn = Some((conn.clone(), addr.to_owned()));
                Ok(conn)
            }
            Err(error) => {
                state
                    .health
                    .on_connect_failed(now, &self.reconnect, jitter());
                warn!(broker, ?purpose, addr, %error, "connection attempt failed");
                state.last_error = Some(error.clone());
                Err(error)
            }
        }
    }

    /// Whether a live connection of `purpose` to `broker` is pooled.
    pub(crate) fn has_live(&self, broker: BrokerId, purpose: Purpose) -> bool {
        let slot = self.slots().get(&(broker, purpose)).cloned();
        slot.is_some_and(|s| s.state().conn.as_ref().is_some_and(|(c, _)| !c.is_closed()))
    }

    /// Whether the last attempt to connect to `broker` for `purpose` failed and its backoff
    /// has not passed.
    pub(crate) fn backing_off(&self, broker: BrokerId, purpose: Purpose) -> bool {
        let slot = self.slots().get(&(broker, purpose)).cloned();
        slot.is_some_and(|s| s.state().health.backing_off(Instant::now()))
    }

    /// Drops every closed connection, and every connection idle at `now`.
    pub(crate) fn sweep(&self, now: Instant) {
        let slots: Vec<((BrokerId, Purpose), Arc<Slot>)> = self
            .slots()
            .iter()
            .map(|(k, s)| (*k, Arc::clone(s)))
            .collect();
        for ((broker, purpose), slot) in slots {
            let mut state = slot.state();
            let Some((conn, _)) = &state.conn else {
                continue;
            };
            if conn.is_closed() || state.health.is_idle(now, self.max_idle) {
                debug!(broker, ?purpose, "reaping closed or idle connection");
                state.conn = None;
            }
        }
    }

    /// Starts the reaper: a task that sweeps the pool while it exists.
    pub(crate) fn spawn_reaper(pool: &Arc<Pool>) {
        let period = reap_period(pool.max_idle);
        let weak: Weak<Pool> = Arc::downgrade(pool);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(pool) = weak.upgrade() else { break };
                pool.sweep(Instant::now());
            }
        });
    }
}

/// How often the reaper sweeps: a quarter of the idle limit, within 100 ms and 60 s.
fn reap_period(max_idle: Option<Duration>) -> Duration {
    max_idle.map_or(Duration::from_secs(60), |idle| {
        (idle / 4).clamp(Duration::from_millis(100), Duration::from_secs(60))
    })
}

/// A number in `[0, 1)` for backoff jitter (0.5, the band's middle, if entropy fails).
pub(crate) fn jitter() -> f64 {
    let mut raw = [0u8; 8];
    if getrandom::fill(&mut raw).is_err() {
        return 0.5;
    }
    (u64::from_le_bytes(raw) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backoff() -> Backoff {
        Backoff::new(Duration::from_millis(100), Duration::from_secs(1))
    }

    #[test]
    fn failures_back_off_exponentially_and_success_resets() {
        let t0 = Instant::now();
        let mut h = SlotHealth::default();
        assert_eq!(h.wait_before_attempt(t0), Duration::ZERO);
        assert!(!h.backing_off(t0));
        h.on_connect_failed(t0, &backoff(), 0.5);
        assert_eq!(h.wait_before_attempt(t0), Duration::from_millis(100));
        assert!(h.backing_off(t0));
        h.on_connect_failed(t0, &backoff(), 0.5);
        assert_eq!(h.wait_before_attempt(t0), Duration::from_millis(200));
        for _ in 0..10 {
            h.on_connect_failed(t0, &backoff(), 0.5);
        }
        assert_eq!(h.wait_before_attempt(t0), Duration::from_secs(1));
        assert_eq!(h.failures_total(), 12);
        let later = t0 + Duration::from_secs(2);
        assert_eq!(h.wait_before_attempt(later), Duration::ZERO);
        assert!(!h.backing_off(later));
        h.on_connected(later);
        h.on_connect_failed(later, &backoff(), 0.5);
        assert_eq!(h.wait_before_attempt(later), Duration::from_millis(100));
        assert_eq!(h.failures_total(), 13, "the lifetime count keeps growing");
    }

    #[test]
    fn jitter_spreads_the_backoff_within_twenty_percent() {
        let t0 = Instant::now();
        let mut low = SlotHealth::default();
        low.on_connect_failed(t0, &backoff(), 0.0);
        let mut high = SlotHealth::default();
        high.on_connect_failed(t0, &backoff(), 0.999_999);
        assert_eq!(low.wait_before_attempt(t0), Duration::from_millis(80));
        assert!(high.wait_before_attempt(t0) > Duration::from_millis(119));
        assert!(high.wait_before_attempt(t0) <= Duration::from_millis(120));
        for _ in 0..100 {
            let j = jitter();
            assert!((0.0..1.0).contains(&j));
        }
    }

    #[test]
    fn idle_after_max_idle_since_last_use() {
        let t0 = Instant::now();
        let max = Some(Duration::from_secs(10));
        let mut h = SlotHealth::default();
        assert!(!h.is_idle(t0, max), "never used: nothing to reap");
        h.on_connected(t0);
        assert!(!h.is_idle(t0 + Duration::from_secs(9), max));
        h.on_used(t0 + Duration::from_secs(9));
        assert!(!h.is_idle(t0 + Duration::from_secs(18), max));
        assert!(h.is_idle(t0 + Duration::from_secs(19), max));
        assert!(!h.is_idle(t0 + Duration::from_secs(1000), None));
    }

    #[test]
    fn reaper_period_follows_the_idle_limit() {
        assert_eq!(reap_period(None), Duration::from_secs(60));
        assert_eq!(
            reap_period(Some(Duration::from_secs(8))),
            Duration::from_secs(2)
        );
        assert_eq!(
            reap_period(Some(Duration::from_millis(10))),
            Duration::from_millis(100)
        );
        assert_eq!(
            reap_period(Some(Duration::from_secs(3600))),
            Duration::from_secs(60)
        );
    }
}

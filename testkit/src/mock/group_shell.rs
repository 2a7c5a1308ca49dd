//! The async side of the group coordinator: delivering parked JoinGroup and SyncGroup
//! responses to their connections, and waking the coordinator's timers.
//!
//! The coordinator is sans-io (see [`super::group`]): a parked request is a [`Ticket`], and
//! completions come out of [`GroupCoordinator::poll`](super::group::GroupCoordinator::poll).
//! Here:
//! - a connection whose request was parked registers a oneshot channel for its ticket in the
//!   same state-lock critical section that created the ticket, so no completion can be missed;
//! - after every handled request, control call and timer wake-up, [`GroupShell::pump`] (called
//!   with the state lock held) polls the coordinator, sends each completion to its connection,
//!   and publishes [`next_deadline`](super::group::GroupCoordinator::next_deadline);
//! - one timer task per cluster ([`group_timer`]) sleeps until that deadline (tokio time, so
//!   `tokio::time::pause` drives session and rebalance timeouts) and pumps then; a new
//!   deadline re-arms it.
//!
//! A completion whose connection is gone (closed by the client or a broker going down) is
//! dropped, as Kafka drops a response for a closed channel.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use tokio::sync::{oneshot, watch};

use super::conn::{Inner, now};
use super::group::{Completed, Ticket};
use super::state::ClusterState;

/// Parked group requests' channels and the coordinator's next deadline.
#[derive(Debug)]
pub(crate) struct GroupShell {
    /// Only locked while the state lock is held (lock order: state, then this).
    waiters: Mutex<HashMap<Ticket, oneshot::Sender<Completed>>>,
    deadline: watch::Sender<Option<tokio::time::Instant>>,
}

impl Default for GroupShell {
    fn default() -> Self {
        GroupShell {
            waiters: Mutex::new(HashMap::new()),
            deadline: watch::channel(None).0,
        }
    }
}

impl GroupShell {
    /// Registers the connection waiting for `ticket`. Call with the state lock held, in the
    /// critical section that parked the request.
    pub(crate) fn register(&self, ticket: Ticket) -> oneshot::Receiver<Completed> {
        let (tx, rx) = oneshot::channel();
        self.waiters
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(ticket, tx);
        rx
    }

    /// Forgets a ticket whose connection stopped waiting.
    pub(crate) fn forget(&self, ticket: Ticket) {
        self.waiters
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&ticket);
    }

    /// Runs the coordinator's due timers, delivers every completion, and re-arms the timer
    /// task. Call with the state lock held, after anything that may have changed a group.
    pub(crate) fn pump(&self, st: &mut ClusterState, now: Instant) {
        let done = st.groups.poll(now);
        if !done.is_empty() {
            let mut waiters = self.waiters.lock().unwrap_or_else(PoisonError::into_inner);
            for (ticket, completed) in done {
                match waiters.remove(&ticket) {
                    // The receiver may be gone with its connection: nothing to answer then.
                    Some(tx) => drop(tx.send(completed)),
                    None => tracing::debug!(ticket = ticket.id(), "group response: no waiter"),
                }
            }
        }
        let next = st
            .groups
            .next_deadline()
            .map(tokio::time::Instant::from_std);
        self.deadline.send_if_modified(|d| {
            let changed = *d != next;
            *d = next;
            changed
        });
    }
}

/// Sleeps until the group coordinator's next deadline and pumps it, for the cluster's life.
pub(crate) async fn group_timer(inner: std::sync::Arc<Inner>) {
    let mut deadline = inner.groups.deadline.subscribe();
    loop {
        let next = *deadline.borrow_and_update();
        match next {
            Some(at) => {
                tokio::select! {
                    () = tokio::time::sleep_until(at) => {
                        let mut st = inner.state.lock().await;
                        let before = st.change_seq;
                        inner.groups.pump(&mut st, now());
                        inner.publish(&st, before);
                        // `poll` fired every timer due by now and drained the completions,
                        // so the deadline published now is later (or none): no spinning.
                    }
                    changed = deadline.changed() => if changed.is_err() { return },
                }
            }
            None => {
                if deadline.changed().await.is_err() {
                    return;
                }
            }
        }
    }
}

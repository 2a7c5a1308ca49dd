//! The memory budget shared by every partition of a [`FetchEngine`](super::FetchEngine):
//! bytes of fetched-but-undelivered record data.
//!
//! A broker loop [`reserve`](MemoryBudget::reserve)s what it asks a broker for before it
//! sends the request (so two loops never both spend the same remainder), then turns the
//! reservation into one [`BudgetPermit`] per delivered chunk, holding the bytes the chunk
//! really took, and gives the rest back. Each [`RecordChunk`](super::RecordChunk) owns its
//! permit; dropping the chunk releases the bytes and wakes loops waiting for room.
//!
//! A broker may return more than was asked for (KIP-74: the first batch of a response is
//! returned whole even when it is larger than `max_bytes`); that excess is accounted for
//! honestly, so [`MemoryBudget::used`] can exceed the limit by at most one batch per
//! broker loop.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Notify;

/// The shared byte budget. Cheap to clone; clones share the count.
#[derive(Debug, Clone)]
pub struct MemoryBudget {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    limit: usize,
    used: AtomicUsize,
    released: Notify,
}

impl MemoryBudget {
    /// A budget of `limit` bytes (at least 1).
    pub fn new(limit: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                limit: limit.max(1),
                used: AtomicUsize::new(0),
                released: Notify::new(),
            }),
        }
    }

    /// The limit in bytes.
    pub fn limit(&self) -> usize {
        self.inner.limit
    }

    /// Bytes held now: reserved for requests in flight plus held by undelivered chunks.
    pub fn used(&self) -> usize {
        self.inner.used.load(Ordering::Acquire)
    }

    /// Bytes left under the limit (0 when spent or overdrawn).
    pub fn available(&self) -> usize {
        self.inner.limit.saturating_sub(self.used())
    }

    /// Reserves up to `want` bytes, at most what is left; `None` when less than `min` is
    /// left and something is held (when nothing is held, a reservation of what is left, at
    /// least 1 byte, always succeeds, so a tiny budget still makes progress).
    pub fn reserve(&self, want: usize, min: usize) -> Option<BudgetPermit> {
        let mut used = self.used();
        loop {
            let left = self.inner.limit.saturating_sub(used);
            let take = want.min(left);
            if take == 0 || (take < min.min(want) && used > 0) {
                return None;
            }
            match self.inner.used.compare_exchange_weak(
                used,
                used + take,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    return Some(BudgetPermit {
                        budget: self.clone(),
                        bytes: take,
                    });
                }
                Err(now) => used = now,
            }
        }
    }

    /// Takes `bytes` whatever is left (for data a broker returned beyond a reservation).
    pub fn force(&self, bytes: usize) -> BudgetPermit {
        self.inner.used.fetch_add(bytes, Ordering::AcqRel);
        BudgetPermit {
            budget: self.clone(),
            bytes,
        }
    }

    /// Waits until some bytes are released (returns at once if a release happened since the
    /// last wait ended without a waiter).
    pub async fn released(&self) {
        self.inner.released.notified().await;
    }

    /// Wakes the waiters of [`released`](Self::released) (also when readers consumed data and
    /// want more).
    pub fn wake(&self) {
        self.inner.released.notify_waiters();
        self.inner.released.notify_one();
    }

    fn release(&self, bytes: usize) {
        if bytes > 0 {
            self.inner.used.fetch_sub(bytes, Ordering::AcqRel);
            self.wake();
        }
    }
}

/// Bytes held against a [`MemoryBudget`]; released on drop.
#[derive(Debug)]
pub struct BudgetPermit {
    budget: MemoryBudget,
    bytes: usize,
}

impl BudgetPermit {
    /// The bytes this permit holds.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Splits `bytes` off into a permit of their own; if this permit holds fewer, the
    /// difference is taken from the budget (the broker returned more than was reserved).
    pub fn split(&mut self, bytes: usize) -> BudgetPermit {
        if bytes <= self.bytes {
            self.bytes -= bytes;
            BudgetPermit {
                budget: self.budget.clone(),
                bytes,
            }
        } else {
            let extra = bytes - self.bytes;
            self.bytes = 0;
            let mut permit = self.budget.force(extra);
            permit.bytes = bytes;
            permit
        }
    }
}

impl Drop for BudgetPermit {
    fn drop(&mut self) {
        self.budget.release(self.bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_never_exceed_the_limit() {
        let budget = MemoryBudget::new(100);
        let a = budget.reserve(60, 10).unwrap();
        let b = budget.reserve(60, 10).unwrap();
        assert_eq!((a.bytes(), b.bytes()), (60, 40));
        assert!(budget.reserve(60, 10).is_none());
        assert_eq!(budget.used(), 100);
        drop(a);
        assert_eq!(budget.used(), 40);
        drop(b);
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn an_empty_budget_always_grants_something() {
        let budget = MemoryBudget::new(10);
        let p = budget.reserve(1000, 500).unwrap();
        assert_eq!(p.bytes(), 10);
        assert!(budget.reserve(1, 1).is_none());
    }

    #[test]
    fn splitting_accounts_for_overshoot() {
        let budget = MemoryBudget::new(100);
        let mut reserved = budget.reserve(50, 1).unwrap();
        let chunk = reserved.split(30);
        assert_eq!(budget.used(), 50);
        let big = reserved.split(70); // 20 left in the reservation, 50 more forced
        assert_eq!(big.bytes(), 70);
        assert_eq!(budget.used(), 100);
        drop(reserved);
        drop(chunk);
        assert_eq!(budget.used(), 70);
        drop(big);
        assert_eq!(budget.used(), 0);
    }
}

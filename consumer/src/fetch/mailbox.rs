//! [`Mailbox`]: where a reader's deliveries wait for it.
//!
//! The fetch core's deliveries are pushed while the engine's state lock is held, so a mailbox
//! holds them in the order the core made them. Each carries the cursor generation it belongs
//! to; the reader drops those of a generation older than its own (made before a seek). A
//! closed mailbox (the cursor was revoked) takes nothing, and closing it drops what it held,
//! releasing the data's memory budget at once.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use super::delivery::Delivery;

/// One reader's queue of deliveries.
#[derive(Debug, Default)]
pub(crate) struct Mailbox {
    inner: Mutex<Inner>,
    /// Set by the reader while it waits with nothing buffered (the cursor's demand flag).
    pub(crate) demand: Arc<AtomicBool>,
    /// While set, the reader hands out nothing (its partition is paused).
    paused: AtomicBool,
}

#[derive(Debug, Default)]
struct Inner {
    queue: VecDeque<(u64, Delivery)>,
    waker: Option<Waker>,
    closed: bool,
}

impl Mailbox {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Queues a delivery of `generation` and wakes the reader (nothing if closed).
    pub(crate) fn push(&self, generation: u64, delivery: Delivery) {
        let waker = {
            let mut inner = self.lock();
            if inner.closed {
                return;
            }
            inner.queue.push_back((generation, delivery));
            inner.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// The next delivery, or `Pending` (the reader is woken by the next push or close);
    /// `Ready(None)` once closed and empty.
    pub(crate) fn poll_pop(&self, cx: &mut Context<'_>) -> Poll<Option<(u64, Delivery)>> {
        let mut inner = self.lock();
        if let Some(next) = inner.queue.pop_front() {
            return Poll::Ready(Some(next));
        }
        if inner.closed {
            return Poll::Ready(None);
        }
        match &inner.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => inner.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// The next delivery if one is queued.
    pub(crate) fn try_pop(&self) -> Option<(u64, Delivery)> {
        self.lock().queue.pop_front()
    }

    /// Drops what is queued (a seek moved the reader).
    pub(crate) fn clear(&self) {
        let dropped = std::mem::take(&mut self.lock().queue);
        drop(dropped);
    }

    /// Closes the mailbox: drops what is queued, takes nothing more, wakes the reader.
    pub(crate) fn close(&self) {
        let (dropped, waker) = {
            let mut inner = self.lock();
            inner.closed = true;
            (std::mem::take(&mut inner.queue), inner.waker.take())
        };
        drop(dropped);
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Pauses or resumes the reader; a resumed reader is woken.
    pub(crate) fn set_paused(&self, paused: bool) {
        self.paused.store(paused, Ordering::Release);
        if !paused {
            let waker = self.lock().waker.take();
            if let Some(waker) = waker {
                waker.wake();
            }
        }
    }

    /// `Pending` while paused (the reader is woken on resume or close), else `Ready`.
    pub(crate) fn poll_unpaused(&self, cx: &mut Context<'_>) -> Poll<()> {
        if !self.paused.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        let mut inner = self.lock();
        if inner.closed {
            return Poll::Ready(());
        }
        match &inner.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => inner.waker = Some(cx.waker().clone()),
        }
        drop(inner);
        // A resume between the check and the registration woke nobody: check again.
        if self.paused.load(Ordering::Acquire) {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    }

    /// Whether the mailbox was closed.
    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use futures::task::{ArcWake, waker};

    use super::*;
    use crate::fetch::error::FetchError;

    #[derive(Default)]
    struct Wakes(AtomicUsize);

    impl ArcWake for Wakes {
        fn wake_by_ref(arc_self: &Arc<Self>) {
            arc_self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn failed() -> Delivery {
        Delivery::Failed(FetchError::EngineStopped)
    }

    #[test]
    fn deliveries_come_in_order_and_a_push_wakes_the_waiting_reader() {
        let wakes = Arc::new(Wakes::default());
        let waker = waker(Arc::clone(&wakes));
        let mut cx = Context::from_waker(&waker);
        let mailbox = Mailbox::new();
        assert!(mailbox.poll_pop(&mut cx).is_pending());
        mailbox.push(0, failed());
        mailbox.push(1, Delivery::Placed(7));
        assert_eq!(wakes.0.load(Ordering::SeqCst), 1);
        assert!(matches!(
            mailbox.poll_pop(&mut cx),
            Poll::Ready(Some((0, _)))
        ));
        assert!(matches!(mailbox.try_pop(), Some((1, Delivery::Placed(7)))));
    }

    #[test]
    fn a_paused_mailbox_holds_the_reader_until_resumed_or_closed() {
        let wakes = Arc::new(Wakes::default());
        let waker = waker(Arc::clone(&wakes));
        let mut cx = Context::from_waker(&waker);
        let mailbox = Mailbox::new();
        mailbox.push(0, failed());
        mailbox.set_paused(true);
        assert!(mailbox.poll_unpaused(&mut cx).is_pending());
        mailbox.set_paused(false);
        assert_eq!(
            wakes.0.load(Ordering::SeqCst),
            1,
            "resuming wakes the reader"
        );
        assert!(mailbox.poll_unpaused(&mut cx).is_ready());
        mailbox.set_paused(true);
        assert!(mailbox.poll_unpaused(&mut cx).is_pending());
        mailbox.close();
        assert!(
            mailbox.poll_unpaused(&mut cx).is_ready(),
            "a closed mailbox ends the wait"
        );
        assert!(
            matches!(mailbox.poll_pop(&mut cx), Poll::Ready(None)),
            "closing dropped it"
        );
        mailbox.push(1, failed());
        assert!(
            mailbox.try_pop().is_none(),
            "a closed mailbox takes nothing"
        );
    }
}

//! Creates first: the CronJob controller's syncs hold a [`Creating`] guard from the moment
//! their plan says a Job is due until its create has been answered, and the writes that
//! follow (the CronJob's `SuccessfulCreate` Event and status, and the Job controller's
//! syncs, which give each new Job its first status and Events) wait for [`Gate::idle`],
//! until no create is in flight (at most [`MAX_DEFER`]). When thousands of CronJobs are due
//! in the same minute, every Job is created before the minute's other writes take their
//! turn, and the store's group commit takes many creates per fsync. Each sync still writes
//! the same objects in the same order; only other CronJobs' creates go before. The shared
//! Job cache takes its watch events after the creates too ([`crate::informers`]). One gate
//! is shared by both controllers and the caches (the composition makes it).

use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::Notify;

/// The longest a write waits for creates, so that a steady stream of creates cannot hold
/// it back for ever.
pub const MAX_DEFER: Duration = Duration::from_secs(60);

/// The count of creates in flight, and their waiters.
#[derive(Default)]
pub struct Gate {
    creating: AtomicUsize,
    idle: Notify,
    /// Creates not started yet (the CronJob controller's ready keys), counted as in flight.
    backlog: OnceLock<Box<dyn Fn() -> usize + Send + Sync>>,
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gate")
            .field("in_flight", &self.in_flight())
            .finish()
    }
}

/// A create in flight; dropping it ends the create.
#[derive(Debug)]
pub struct Creating(Arc<Gate>);

impl Gate {
    /// Marks a create in flight until the guard is dropped.
    pub fn creating(self: &Arc<Self>) -> Creating {
        self.creating.fetch_add(1, Ordering::SeqCst);
        Creating(Arc::clone(self))
    }

    /// Counts `backlog()` creates as in flight too (the first call only): work that will
    /// take a [`Creating`] guard before the guard of the create that ends before it is
    /// dropped, so that waiters are not released between two creates.
    pub fn count_backlog(&self, backlog: impl Fn() -> usize + Send + Sync + 'static) {
        let _ = self.backlog.set(Box::new(backlog));
    }

    /// The creates in flight (and in the backlog).
    pub fn in_flight(&self) -> usize {
        let backlog = self.backlog.get().map_or(0, |b| b());
        self.creating.load(Ordering::SeqCst) + backlog
    }

    /// Resolves once no create is in flight, or after [`MAX_DEFER`].
    pub async fn deferred(&self) {
        if self.in_flight() > 0 {
            let _ = tokio::time::timeout(MAX_DEFER, self.idle()).await;
        }
    }

    /// Resolves once no create is in flight.
    pub async fn idle(&self) {
        loop {
            let mut notified = pin!(self.idle.notified());
            // Registered before the check, so a create ending in between still wakes us.
            notified.as_mut().enable();
            if self.in_flight() == 0 {
                return;
            }
            notified.await;
        }
    }
}

impl Gate {
    /// Lets waiters check again (once the work queue that counts the backlog is shut
    /// down, so that a stopping controller's syncs do not wait out [`MAX_DEFER`]).
    pub fn wake(&self) {
        self.idle.notify_waiters();
    }
}

impl Drop for Creating {
    fn drop(&mut self) {
        // Waiters are woken only when nothing is left, backlog included: every key leaving
        // the backlog is synced under a guard whose drop checks again. Waking them between
        // two creates would re-poll every waiting sync (thousands in a crowded minute).
        if self.0.creating.fetch_sub(1, Ordering::SeqCst) == 1 && self.0.in_flight() == 0 {
            self.0.idle.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt;

    #[test]
    fn idle_at_once_without_creates() {
        let g = Arc::new(Gate::default());
        assert_eq!(g.idle().now_or_never(), Some(()));
    }

    #[test]
    fn a_backlog_holds_waiters_until_a_wake() {
        use std::sync::atomic::AtomicUsize;
        let g = Arc::new(Gate::default());
        let backlog = Arc::new(AtomicUsize::new(1));
        g.count_backlog({
            let backlog = Arc::clone(&backlog);
            move || backlog.load(Ordering::SeqCst)
        });
        let c = g.creating();
        let mut waiter = pin!(g.idle());
        assert_eq!(waiter.as_mut().now_or_never(), None);
        drop(c);
        assert_eq!(
            waiter.as_mut().now_or_never(),
            None,
            "a key is still queued"
        );
        backlog.store(0, Ordering::SeqCst); // the queue shut down
        assert_eq!(waiter.as_mut().now_or_never(), None, "nothing woke it yet");
        g.wake();
        assert_eq!(waiter.as_mut().now_or_never(), Some(()));
    }

    #[test]
    fn waiters_are_released_when_the_last_create_ends() {
        let g = Arc::new(Gate::default());
        let (a, b) = (g.creating(), g.creating());
        let mut waiter = pin!(g.idle());
        assert_eq!(waiter.as_mut().now_or_never(), None);
        drop(a);
        assert_eq!(g.in_flight(), 1);
        assert_eq!(waiter.as_mut().now_or_never(), None);
        drop(b);
        assert_eq!(g.in_flight(), 0);
        assert_eq!(waiter.as_mut().now_or_never(), Some(()));
    }

    #[tokio::test(start_paused = true)]
    async fn deferred_waits_for_the_creates_and_at_most_max_defer() {
        let g = Arc::new(Gate::default());
        let start = tokio::time::Instant::now();
        g.deferred().await;
        assert_eq!(
            start.elapsed(),
            std::time::Duration::ZERO,
            "no create: at once"
        );
        let c = g.creating();
        let mut waiter = pin!(g.deferred());
        assert_eq!(waiter.as_mut().now_or_never(), None);
        drop(c);
        assert_eq!(
            waiter.now_or_never(),
            Some(()),
            "released by the last create"
        );
        let _stuck = g.creating();
        g.deferred().await;
        assert!(
            start.elapsed() >= MAX_DEFER,
            "a create that never ends holds it back"
        );
    }

    #[test]
    fn the_backlog_counts_until_its_creates_have_started_and_ended() {
        use std::sync::atomic::AtomicUsize;
        let g = Arc::new(Gate::default());
        let queued = Arc::new(AtomicUsize::new(2));
        g.count_backlog({
            let q = Arc::clone(&queued);
            move || q.load(Ordering::SeqCst)
        });
        let mut waiter = pin!(g.idle());
        assert_eq!(waiter.as_mut().now_or_never(), None, "two queued");
        // Each queued create leaves the backlog as it takes its guard.
        let take = || {
            queued.fetch_sub(1, Ordering::SeqCst);
            g.creating()
        };
        let a = take();
        drop(a);
        assert_eq!(waiter.as_mut().now_or_never(), None, "one still queued");
        let b = take();
        assert_eq!(waiter.as_mut().now_or_never(), None, "the last in flight");
        drop(b);
        assert_eq!(waiter.now_or_never(), Some(()));
    }

    #[test]
    fn a_create_starting_again_keeps_new_waiters_waiting() {
        let g = Arc::new(Gate::default());
        drop(g.creating());
        let _c = g.creating();
        assert_eq!(pin!(g.idle()).now_or_never(), None);
    }
}

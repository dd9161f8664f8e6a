//! Creates first: a sync holds a [`Creating`] guard while it creates its Job, and the writes
//! that follow a create (the `SuccessfulCreate` Event and the status) wait for
//! [`Gate::idle`], until no create is in flight. When thousands of CronJobs are due in the
//! same minute, every Job is created before the minute's Events and status updates take
//! their turn, and the store's group commit takes many creates per fsync. Each sync still
//! writes the same objects in the same order; only other CronJobs' creates go before.

use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::Notify;

/// The count of creates in flight, and their waiters.
#[derive(Debug, Default)]
pub struct Gate {
    creating: AtomicUsize,
    idle: Notify,
}

/// A create in flight; dropping it ends the create.
#[derive(Debug)]
pub struct Creating<'a>(&'a Gate);

impl Gate {
    /// Marks a create in flight until the guard is dropped.
    pub fn creating(&self) -> Creating<'_> {
        self.creating.fetch_add(1, Ordering::SeqCst);
        Creating(self)
    }

    /// The creates in flight.
    pub fn in_flight(&self) -> usize {
        self.creating.load(Ordering::SeqCst)
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

impl Drop for Creating<'_> {
    fn drop(&mut self) {
        if self.0.creating.fetch_sub(1, Ordering::SeqCst) == 1 {
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
        let g = Gate::default();
        assert_eq!(g.idle().now_or_never(), Some(()));
    }

    #[test]
    fn waiters_are_released_when_the_last_create_ends() {
        let g = Gate::default();
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

    #[test]
    fn a_create_starting_again_keeps_new_waiters_waiting() {
        let g = Gate::default();
        drop(g.creating());
        let _c = g.creating();
        assert_eq!(pin!(g.idle()).now_or_never(), None);
    }
}

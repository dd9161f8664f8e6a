//! Watch: the in-memory ring of recent events, the state shared between the writer
//! thread and readers, and [`Watcher`].
//!
//! Every revision is exactly one event, so the ring holds the contiguous revisions
//! `base+1 ..= base+len`. A watcher behind the ring catches up from SQLite history in
//! batches, then follows the ring. Wake-ups go through a `tokio::sync::watch` channel
//! whose sender the writer thread owns: when the writer stops, watchers see `Closed`
//! (after the events still available to them).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use crate::read::Pool;
use crate::{Error, Event, Options, Result, Revision, lock};

/// Events a watcher fetches at once (from the ring or SQLite).
const BATCH: usize = 512;

struct Ring {
    events: VecDeque<Arc<Event>>,
    /// Revision just before `events[0]`.
    base: Revision,
    cap: usize,
}

/// State shared by the writer thread, the store handles and watchers.
pub(crate) struct Shared {
    ring: Mutex<Ring>,
    current: AtomicU64,
    oldest: AtomicU64,
    pub(crate) commits: AtomicU64,
    pub(crate) writes: AtomicU64,
    rx: watch::Receiver<Revision>,
}

/// The writer's side of the wake-up channel; dropping it closes watchers.
pub(crate) struct Notifier(watch::Sender<Revision>);

impl Shared {
    pub(crate) fn new(
        opts: &Options,
        revision: Revision,
        compacted: Revision,
        tail: Vec<Arc<Event>>,
    ) -> (Shared, Notifier) {
        let (tx, rx) = watch::channel(revision);
        let cap = opts.watch_buffer.max(1);
        let mut events: VecDeque<Arc<Event>> = tail.into();
        while events.len() > cap {
            events.pop_front();
        }
        let ring = Ring {
            base: revision.saturating_sub(events.len() as u64),
            events,
            cap,
        };
        let shared = Shared {
            ring: Mutex::new(ring),
            current: AtomicU64::new(revision),
            oldest: AtomicU64::new(compacted),
            commits: AtomicU64::new(0),
            writes: AtomicU64::new(0),
            rx,
        };
        (shared, Notifier(tx))
    }

    pub(crate) fn current(&self) -> Revision {
        self.current.load(Ordering::Acquire)
    }

    pub(crate) fn oldest(&self) -> Revision {
        self.oldest.load(Ordering::Acquire)
    }

    pub(crate) fn set_oldest(&self, rev: Revision) {
        self.oldest.store(rev, Ordering::Release);
    }

    /// Makes committed events visible to watchers; `events` continue the ring.
    pub(crate) fn publish(&self, notifier: &Notifier, events: Vec<Arc<Event>>) {
        let Some(last) = events.last().map(|e| e.revision) else {
            return;
        };
        {
            let mut ring = lock(&self.ring);
            for ev in events {
                if ring.events.len() >= ring.cap {
                    ring.events.pop_front();
                    ring.base += 1;
                }
                ring.events.push_back(ev);
            }
        }
        self.current.store(last, Ordering::Release);
        notifier.0.send_replace(last);
    }

    /// Waits until the writer thread has stopped.
    pub(crate) async fn wait_closed(&self) {
        let mut rx = self.rx.clone();
        while rx.changed().await.is_ok() {}
    }
}

/// A stream of events for one key prefix. Cancel-safe: [`Watcher::next`] can be used in
/// `tokio::select!` without losing events.
pub struct Watcher {
    shared: Arc<Shared>,
    pool: Arc<Pool>,
    prefix: String,
    /// The next revision to look at.
    next_rev: Revision,
    /// Matching events already fetched, in order.
    pending: VecDeque<Arc<Event>>,
    rx: watch::Receiver<Revision>,
}

impl Watcher {
    pub(crate) fn new(
        shared: Arc<Shared>,
        pool: Arc<Pool>,
        prefix: &str,
        after: Revision,
    ) -> Result<Watcher> {
        let oldest = shared.oldest();
        if after < oldest {
            return Err(Error::Expired {
                requested: after,
                oldest,
            });
        }
        let rx = shared.rx.clone();
        if rx.has_changed().is_err() {
            return Err(Error::Closed);
        }
        Ok(Watcher {
            shared,
            pool,
            prefix: prefix.to_owned(),
            next_rev: after.saturating_add(1),
            pending: VecDeque::new(),
            rx,
        })
    }

    /// Waits for the next matching event. [`Error::Expired`] if the events this watcher
    /// needs have been compacted; [`Error::Closed`] once the store is shut down and no
    /// more events are available.
    pub async fn next(&mut self) -> Result<Arc<Event>> {
        loop {
            // Mark the current notification as seen *before* looking, so a publish
            // racing with the look wakes `changed()` below.
            self.rx.borrow_and_update();
            if let Some(ev) = self.try_next()? {
                return Ok(ev);
            }
            if self.rx.changed().await.is_err() {
                return self.try_next()?.ok_or(Error::Closed);
            }
        }
    }

    fn try_next(&mut self) -> Result<Option<Arc<Event>>> {
        loop {
            if let Some(ev) = self.pending.pop_front() {
                return Ok(Some(ev));
            }
            let before = self.next_rev;
            self.fill()?;
            if self.pending.is_empty() && self.next_rev == before {
                return Ok(None);
            }
        }
    }

    /// Fetches matching events from `next_rev` on, advancing `next_rev` past what was
    /// scanned. Does nothing when no new event exists yet.
    fn fill(&mut self) -> Result<()> {
        let ring_start = {
            let ring = lock(&self.shared.ring);
            let last = ring.base + ring.events.len() as u64;
            if self.next_rev > last {
                return Ok(());
            }
            if self.next_rev > ring.base {
                let start = (self.next_rev - ring.base - 1) as usize;
                for ev in ring.events.range(start..) {
                    self.next_rev = ev.revision + 1;
                    if ev.key.starts_with(&self.prefix) {
                        self.pending.push_back(ev.clone());
                        if self.pending.len() >= BATCH {
                            break;
                        }
                    }
                }
                return Ok(());
            }
            ring.base + 1
        };
        let (events, scanned_to) =
            self.pool
                .history(&self.prefix, self.next_rev, ring_start, BATCH)?;
        self.pending.extend(events);
        self.next_rev = scanned_to;
        Ok(())
    }
}

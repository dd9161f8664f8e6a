//! [`WorkQueue`]: client-go's rate-limited work queue, for workers fed straight from an
//! informer's changes (the kubelet's pod workers, a controller's sync loop) with no timer
//! between a change and its processing.
//!
//! The rules are client-go's `workqueue` (`queue.go`, `delaying_queue.go`,
//! `rate_limiting_queue.go`):
//! - a key added several times before a worker takes it is processed once (dedup);
//! - a key is processed by at most one worker at a time: [`get`](WorkQueue::get) hands it
//!   out, [`done`](WorkQueue::done) ends its processing;
//! - a key added while it is being processed is processed again after `done`;
//! - [`add_after`](WorkQueue::add_after) adds a key once a delay has passed (timers such as
//!   a deadline or a crash backoff); of several pending delays for a key the earliest wins;
//! - [`add_rate_limited`](WorkQueue::add_rate_limited) retries a failed key after an
//!   exponential per-key delay ([`RateLimit`]) until [`forget`](WorkQueue::forget);
//! - after [`shut_down`](WorkQueue::shut_down) nothing is added and `get` returns `None`
//!   (keys being processed finish; their owner waits for them).
//!
//! An added key is handed to a waiting worker at once (a `Notify`, no timer): only delayed
//! keys go through the clock. [`run_workers`](WorkQueue::run_workers) is the owner loop:
//! one task per key handed out, whose sync says what [`Next`];
//! [`run_workers_when_ready`](WorkQueue::run_workers_when_ready) starts it once the caches
//! the syncs read hold their first list (or shuts the queue down if they never do).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// What a key's sync asks for next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Nothing until the key is added again (its failures are forgotten).
    AwaitChange,
    /// The key again after this delay (a timer), or sooner if it is added (its failures
    /// are forgotten).
    After(Duration),
    /// The sync failed: the key again after its next rate-limited delay.
    Retry,
}

/// Per-key exponential retry delays: `base * 2^failures`, at most `max` (client-go's
/// `ItemExponentialFailureRateLimiter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// The delay after the first failure.
    pub base: Duration,
    /// The longest delay.
    pub max: Duration,
}

impl RateLimit {
    /// client-go's default controller rate limiter's per-item part: 5 ms doubling to 1000 s.
    pub const CLIENT_GO: RateLimit = RateLimit {
        base: Duration::from_millis(5),
        max: Duration::from_secs(1000),
    };

    /// The delay before the retry that follows `failures` earlier failures.
    pub fn delay(&self, failures: u32) -> Duration {
        let factor = 1u32.checked_shl(failures).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.max)
    }
}

/// Most delayed keys moved to the ready queue by one [`WorkQueue::get`]. One: when
/// thousands are due at once, each `get` queues about as many as it hands out, so the cost
/// of queueing them is spread over their syncs. With 64 per `get`, a worker loop with 64
/// free slots queued 4,096 of 10,000 CronJobs due in one minute (hashing and cloning each
/// key) before the first sync ran: the first Job came 30-60 ms after the minute
/// (BENCHMARKS.md finding 39).
const PROMOTE_PER_GET: usize = 1;

/// How early a delayed key's wait hands over from tokio's timer to the OS's: tokio's timer
/// wheel fires on the first millisecond tick at or after a deadline, and its driver parks
/// for whole milliseconds, so its wake-ups come 1-2 ms late (2 ms for the minute's first
/// CronJob: BENCHMARKS.md finding 42).
const TIMER_SLACK: Duration = Duration::from_millis(2);

/// Waits until `at` within the OS timer's precision (tens of microseconds): tokio's timer
/// until [`TIMER_SLACK`] before it, then a thread of the blocking pool sleeps the rest.
/// One such wait runs per distinct deadline a worker waits for (a crowd of keys due at
/// the same instant shares it). With a paused test clock (which the blocking sleep does
/// not advance) the last step is tokio's timer again, so tests see exact delays.
async fn sleep_until_precisely(at: Instant) {
    if let Some(early) = at.checked_sub(TIMER_SLACK) {
        tokio::time::sleep_until(early).await;
    }
    let rest = at.saturating_duration_since(Instant::now());
    if !rest.is_zero() && rest <= TIMER_SLACK {
        let _ = tokio::task::spawn_blocking(move || std::thread::sleep(rest)).await;
    }
    if Instant::now() < at {
        tokio::time::sleep_until(at).await;
    }
}

/// A queue of keys for workers. Cheap to clone; clones share the queue.
#[derive(Debug)]
pub struct WorkQueue<K> {
    inner: Arc<Inner<K>>,
}

impl<K> Clone for WorkQueue<K> {
    fn clone(&self) -> Self {
        WorkQueue {
            inner: Arc::clone(&self.inner),
        }
    }
}

#[derive(Debug)]
struct Inner<K> {
    state: Mutex<State<K>>,
    /// Wakes the workers waiting in `get` (new keys, an earlier delay, shutdown).
    wake: Notify,
    limit: RateLimit,
}

#[derive(Debug)]
struct State<K> {
    /// Keys ready for a worker, in order.
    queue: VecDeque<K>,
    /// Keys to be processed: in `queue`, or waiting for their processing to end.
    dirty: HashSet<K>,
    /// Keys a worker holds.
    processing: HashSet<K>,
    /// Delayed keys: their ready time (and its sequence number in `timers`).
    waiting: HashMap<K, (Instant, u64)>,
    /// Delayed keys by ready time.
    timers: BTreeMap<(Instant, u64), K>,
    seq: u64,
    /// Failures per key since its last `forget`.
    failures: HashMap<K, u32>,
    shutting_down: bool,
}

impl<K: Eq + Hash + Clone> State<K> {
    /// Marks `key` to be processed; true when it became ready for a worker.
    fn add(&mut self, key: K) -> bool {
        if self.shutting_down || self.dirty.contains(&key) {
            return false;
        }
        self.dirty.insert(key.clone());
        if self.processing.contains(&key) {
            return false;
        }
        self.queue.push_back(key);
        true
    }

    /// Adds the delayed keys whose time has come, at most `limit` of them (the rest on the
    /// next call: when thousands are due at once, the first is handed out without waiting
    /// for all of them to be queued).
    fn promote(&mut self, now: Instant, limit: usize) {
        for _ in 0..limit {
            let Some(entry) = self.timers.first_entry() else {
                break;
            };
            if entry.key().0 > now {
                break;
            }
            let key = entry.remove();
            self.waiting.remove(&key);
            self.add(key);
        }
    }
}

impl<K: Eq + Hash + Clone> WorkQueue<K> {
    /// An empty queue whose failed keys are retried after `limit`'s delays.
    pub fn new(limit: RateLimit) -> Self {
        WorkQueue {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    queue: VecDeque::new(),
                    dirty: HashSet::new(),
                    processing: HashSet::new(),
                    waiting: HashMap::new(),
                    timers: BTreeMap::new(),
                    seq: 0,
                    failures: HashMap::new(),
                    shutting_down: false,
                }),
                wake: Notify::new(),
                limit,
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State<K>> {
        // No code panics while holding the lock; a poisoned queue is still consistent.
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds `key` for processing (once, however often it is added before a worker takes it).
    pub fn add(&self, key: K) {
        if self.state().add(key) {
            self.inner.wake.notify_waiters();
        }
    }

    /// Adds `key` once `delay` has passed (at once if it is zero). A key already waiting
    /// keeps the earlier of its two times.
    pub fn add_after(&self, key: K, delay: Duration) {
        if delay.is_zero() {
            return self.add(key);
        }
        let at = Instant::now() + delay;
        {
            let mut st = self.state();
            if st.shutting_down {
                return;
            }
            if let Some(&(old, seq)) = st.waiting.get(&key) {
                if old <= at {
                    return;
                }
                st.timers.remove(&(old, seq));
            }
            st.seq += 1;
            let seq = st.seq;
            st.waiting.insert(key.clone(), (at, seq));
            st.timers.insert((at, seq), key);
        }
        // A worker sleeping until a later time must wake for this one.
        self.inner.wake.notify_waiters();
    }

    /// Adds `key` after its next retry delay (one more failure).
    pub fn add_rate_limited(&self, key: K) {
        let delay = {
            let mut st = self.state();
            let n = st.failures.entry(key.clone()).or_insert(0);
            let d = self.inner.limit.delay(*n);
            *n = n.saturating_add(1);
            d
        };
        self.add_after(key, delay);
    }

    /// Forgets `key`'s failures: its next retry starts from the base delay.
    pub fn forget(&self, key: &K) {
        self.state().failures.remove(key);
    }

    /// How many times `key` was retried since it was last forgotten.
    pub fn retries(&self, key: &K) -> u32 {
        self.state().failures.get(key).copied().unwrap_or(0)
    }

    /// The next key to process, which the caller holds until [`done`](Self::done); waits
    /// for one. `None` once the queue is shut down.
    pub async fn get(&self) -> Option<K> {
        loop {
            let woken = self.inner.wake.notified();
            tokio::pin!(woken);
            // Registered before looking, so no wake-up between the look and the wait is lost.
            woken.as_mut().enable();
            let next = {
                let mut st = self.state();
                if st.shutting_down {
                    return None;
                }
                st.promote(Instant::now(), PROMOTE_PER_GET);
                if let Some(key) = st.queue.pop_front() {
                    st.dirty.remove(&key);
                    st.processing.insert(key.clone());
                    return Some(key);
                }
                st.timers.first_key_value().map(|((at, _), _)| *at)
            };
            match next {
                Some(at) => {
                    tokio::select! {
                        () = &mut woken => {}
                        () = sleep_until_precisely(at) => {}
                    }
                }
                None => woken.await,
            }
        }
    }

    /// Ends the processing of `key`; if it was added meanwhile, it is ready again.
    pub fn done(&self, key: &K) {
        let again = {
            let mut st = self.state();
            st.processing.remove(key);
            if st.dirty.contains(key) && !st.shutting_down {
                st.queue.push_back(key.clone());
                true
            } else {
                false
            }
        };
        if again {
            self.inner.wake.notify_waiters();
        }
    }

    /// Stops the queue: nothing more is added or handed out, waiting workers get `None`.
    pub fn shut_down(&self) {
        self.state().shutting_down = true;
        self.inner.wake.notify_waiters();
    }

    /// Ends the processing of `key` as its sync's `next` says.
    pub fn finish(&self, key: &K, next: Next) {
        match next {
            Next::AwaitChange => self.forget(key),
            Next::After(delay) => {
                self.forget(key);
                self.add_after(key.clone(), delay);
            }
            Next::Retry => self.add_rate_limited(key.clone()),
        }
        self.done(key);
    }

    /// Whether [`shut_down`](Self::shut_down) was called.
    pub fn is_shutting_down(&self) -> bool {
        self.state().shutting_down
    }

    /// Keys ready for a worker now (not the delayed or processing ones).
    pub fn len(&self) -> usize {
        self.state().queue.len()
    }

    /// Whether no key is ready for a worker now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Keys ready for a worker now, counting the delayed keys whose time has come as one
    /// more (they are moved to the ready queue a few at a time): zero only when a worker
    /// would wait, and once the queue is shut down (no worker takes another key).
    pub fn backlog(&self) -> usize {
        let st = self.state();
        if st.shutting_down {
            return 0;
        }
        let due = st
            .timers
            .first_key_value()
            .is_some_and(|((at, _), _)| *at <= Instant::now());
        st.queue.len() + usize::from(due)
    }
}

impl<K: Eq + Hash + Clone + Send + 'static> WorkQueue<K> {
    /// Hands each key to a task of its own running `sync` (so each key is synced by one
    /// task at a time, different keys at once), then [`finish`](Self::finish)es it as the
    /// sync says, until `shutdown` is cancelled; then shuts the queue down and waits for
    /// the syncs that are running.
    pub async fn run_workers<F, Fut>(&self, shutdown: &CancellationToken, sync: F)
    where
        F: Fn(K) -> Fut,
        Fut: Future<Output = Next> + Send + 'static,
    {
        // Slots without a bound, each given back as soon as its sync is made.
        let unbounded = Semaphore::MAX_PERMITS;
        self.run_slotted_workers(shutdown, unbounded, |key, _slot| sync(key))
            .await;
    }

    /// [`run_workers`](Self::run_workers) with at most `slots` syncs in their busy part: a
    /// key is handed out only with a free slot, which its sync holds until it drops the
    /// permit — when it is done, or earlier (e.g. once its create is answered, before it
    /// waits for others). Few tasks are runnable at once, however many keys are ready.
    pub async fn run_slotted_workers<F, Fut>(
        &self,
        shutdown: &CancellationToken,
        slots: usize,
        sync: F,
    ) where
        F: Fn(K, OwnedSemaphorePermit) -> Fut,
        Fut: Future<Output = Next> + Send + 'static,
    {
        let slots = Arc::new(Semaphore::new(slots));
        let workers = TaskTracker::new();
        loop {
            let slot = tokio::select! {
                () = shutdown.cancelled() => break,
                slot = Arc::clone(&slots).acquire_owned() => match slot {
                    Ok(slot) => slot,
                    Err(_) => break, // never closed
                },
            };
            let key = tokio::select! {
                () = shutdown.cancelled() => None,
                key = self.get() => key,
            };
            let Some(key) = key else { break };
            let synced = sync(key.clone(), slot);
            let queue = self.clone();
            workers.spawn(async move {
                let next = synced.await;
                queue.finish(&key, next);
            });
        }
        self.shut_down();
        workers.close();
        workers.wait().await;
    }

    /// [`run_workers`](Self::run_workers) once `ready` resolves `Ok` (the caches the syncs
    /// read hold their first list: [`Readiness::wait`](crate::Readiness::wait)); keys added
    /// meanwhile wait in the queue. If `shutdown` is cancelled or `ready` fails first, the
    /// queue is shut down and no key is synced.
    pub async fn run_workers_when_ready<R, E, F, Fut>(
        &self,
        ready: R,
        shutdown: &CancellationToken,
        sync: F,
    ) where
        R: Future<Output = Result<(), E>>,
        F: Fn(K) -> Fut,
        Fut: Future<Output = Next> + Send + 'static,
    {
        if self.wait_ready(ready, shutdown).await {
            self.run_workers(shutdown, sync).await;
        }
    }

    /// Waits for `ready` (see [`run_workers_when_ready`](Self::run_workers_when_ready)):
    /// true once it resolved `Ok`; false, with the queue shut down, if `shutdown` is
    /// cancelled or `ready` fails first.
    pub async fn wait_ready<R, E>(&self, ready: R, shutdown: &CancellationToken) -> bool
    where
        R: Future<Output = Result<(), E>>,
    {
        let ready = tokio::select! {
            () = shutdown.cancelled() => false,
            r = ready => r.is_ok(),
        };
        if !ready {
            self.shut_down();
        }
        ready
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt;

    const LIMIT: RateLimit = RateLimit {
        base: Duration::from_millis(5),
        max: Duration::from_millis(100),
    };

    /// The key `get` returns at once, if any (without waiting).
    fn now(q: &WorkQueue<&'static str>) -> Option<&'static str> {
        q.get().now_or_never().flatten()
    }

    /// Every key ready now, in order.
    fn drain(q: &WorkQueue<&'static str>) -> Vec<&'static str> {
        std::iter::from_fn(|| now(q)).collect()
    }

    #[test]
    fn rate_limit_table() {
        // (failures before, delay)
        let cases = [
            (0, 5),
            (1, 10),
            (2, 20),
            (4, 80),
            (5, 100),
            (6, 100),
            (40, 100),
        ];
        for (failures, ms) in cases {
            assert_eq!(
                LIMIT.delay(failures),
                Duration::from_millis(ms),
                "{failures}"
            );
        }
        assert_eq!(
            RateLimit::CLIENT_GO.delay(u32::MAX),
            Duration::from_secs(1000)
        );
    }

    /// One step of a scenario.
    enum Step {
        /// Adds the key this many times.
        Add(&'static str, usize),
        /// Ends the processing of the key.
        Done(&'static str),
    }
    use Step::{Add, Done};

    #[test]
    fn queue_table() {
        // (case, steps; after each step every ready key is taken, and held until `Done`)
        type Case = (&'static str, Vec<(Step, Vec<&'static str>)>);
        let cases: Vec<Case> = vec![
            (
                "keys come out in order",
                vec![(Add("a", 1), vec!["a"]), (Add("b", 1), vec!["b"])],
            ),
            (
                "a key added twice before a worker takes it comes out once",
                vec![(Add("a", 2), vec!["a"]), (Done("a"), vec![])],
            ),
            (
                "a key added while processed comes out again after done, once",
                vec![
                    (Add("a", 1), vec!["a"]),
                    (Add("a", 1), vec![]),
                    (Add("a", 1), vec![]),
                    (Add("b", 1), vec!["b"]),
                    (Done("a"), vec!["a"]),
                    (Done("a"), vec![]),
                ],
            ),
            (
                "done without a new add: nothing",
                vec![
                    (Add("a", 1), vec!["a"]),
                    (Done("a"), vec![]),
                    (Add("a", 1), vec!["a"]),
                ],
            ),
        ];
        for (name, steps) in cases {
            let q = WorkQueue::new(LIMIT);
            for (i, (step, want)) in steps.into_iter().enumerate() {
                match step {
                    Add(k, n) => (0..n).for_each(|_| q.add(k)),
                    Done(k) => q.done(&k),
                }
                assert_eq!(drain(&q), want, "{name}, step {i}");
            }
        }
    }

    #[tokio::test]
    async fn a_waiting_worker_gets_a_key_added_later() {
        let q = WorkQueue::new(LIMIT);
        let worker = tokio::spawn({
            let q = q.clone();
            async move { q.get().await }
        });
        tokio::task::yield_now().await;
        q.add("a");
        assert_eq!(worker.await.ok().flatten(), Some("a"));
    }

    #[tokio::test(start_paused = true)]
    async fn delayed_keys_come_out_when_due_earliest_wins() {
        let q = WorkQueue::new(LIMIT);
        q.add_after("late", Duration::from_secs(10));
        q.add_after("a", Duration::from_secs(5));
        q.add_after("a", Duration::from_secs(8)); // later: ignored
        q.add_after("b", Duration::from_secs(9));
        q.add_after("b", Duration::from_secs(3)); // earlier: wins
        q.add_after("now", Duration::ZERO);
        assert_eq!(drain(&q), vec!["now"]);
        let start = Instant::now();
        let mut order = Vec::new();
        for _ in 0..3 {
            let k = q.get().await;
            order.push((k, (Instant::now() - start).as_secs()));
            if let Some(k) = k {
                q.done(&k);
            }
        }
        assert_eq!(
            order,
            vec![(Some("b"), 3), (Some("a"), 5), (Some("late"), 10)]
        );
        // The superseded timers fired nothing.
        tokio::time::advance(Duration::from_secs(60)).await;
        assert_eq!(drain(&q), Vec::<&str>::new());
    }

    #[tokio::test]
    async fn a_delayed_key_on_the_real_clock_is_never_handed_out_early() {
        // Its last part is waited on the blocking pool's thread, not tokio's timer.
        let q = WorkQueue::new(RateLimit::CLIENT_GO);
        for delay_ms in [1, 2, 3, 7] {
            let due = Instant::now() + Duration::from_millis(delay_ms);
            q.add_after("k", Duration::from_millis(delay_ms));
            assert_eq!(q.get().await, Some("k"));
            assert!(
                Instant::now() >= due,
                "handed out before its delay of {delay_ms} ms"
            );
            q.done(&"k");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_earlier_delay_wakes_a_worker_sleeping_until_a_later_one() {
        let q = WorkQueue::new(LIMIT);
        q.add_after("late", Duration::from_secs(100));
        let start = Instant::now();
        let worker = tokio::spawn({
            let q = q.clone();
            async move { (q.get().await, Instant::now()) }
        });
        tokio::task::yield_now().await;
        q.add_after("soon", Duration::from_secs(1));
        let (k, at) = worker.await.unwrap_or((None, start));
        assert_eq!((k, (at - start).as_secs()), (Some("soon"), 1));
    }

    #[tokio::test(start_paused = true)]
    async fn a_delayed_key_being_processed_comes_out_after_done() {
        let q = WorkQueue::new(LIMIT);
        q.add("a");
        assert_eq!(now(&q), Some("a"));
        q.add_after("a", Duration::from_secs(1));
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(drain(&q), Vec::<&str>::new(), "held by its worker");
        q.done(&"a");
        assert_eq!(drain(&q), vec!["a"]);
    }

    #[tokio::test(start_paused = true)]
    async fn failures_back_off_until_forgotten() {
        let q = WorkQueue::new(LIMIT);
        let mut delays = Vec::new();
        for _ in 0..4 {
            q.add_rate_limited("a");
            let before = Instant::now();
            let k = q.get().await;
            assert_eq!(k, Some("a"));
            delays.push((Instant::now() - before).as_millis());
            q.done(&"a");
        }
        assert_eq!(delays, vec![5, 10, 20, 40]);
        assert_eq!(q.retries(&"a"), 4);
        q.forget(&"a");
        assert_eq!(q.retries(&"a"), 0);
        q.add_rate_limited("a");
        let before = Instant::now();
        assert_eq!(q.get().await, Some("a"));
        assert_eq!((Instant::now() - before).as_millis(), 5);
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_wakes_workers_and_stops_adds() {
        let q: WorkQueue<&'static str> = WorkQueue::new(LIMIT);
        q.add_after("a", Duration::from_secs(1));
        assert_eq!(q.get().await, Some("a"));
        let worker = tokio::spawn({
            let q = q.clone();
            async move { q.get().await }
        });
        tokio::task::yield_now().await;
        q.add("b");
        q.shut_down();
        q.add("c");
        q.add_after("d", Duration::from_secs(1));
        assert_eq!(worker.await.ok(), Some(None), "no key after shutdown");
        assert!(q.is_shutting_down());
        q.done(&"a");
        assert_eq!(q.get().await, None);
    }

    /// Many keys due at once are handed out in their order, queued as they are handed out
    /// (not all at the first `get`), and count in the backlog until the last is handed out.
    #[tokio::test(start_paused = true)]
    async fn many_due_keys_are_promoted_as_they_are_handed_out_and_counted() {
        let q = WorkQueue::new(LIMIT);
        let n = 200;
        for i in 0..n {
            q.add_after(i, Duration::from_secs(60) + Duration::from_micros(i as u64));
        }
        assert_eq!(q.backlog(), 0, "nothing due yet");
        tokio::time::advance(Duration::from_secs(61)).await;
        assert_eq!(q.backlog(), 1, "due, not yet queued");
        let mut got = Vec::new();
        // The first is handed out without queueing the others.
        while got.len() < n {
            got.push(q.get().await.unwrap_or(usize::MAX));
            assert!(
                q.len() < PROMOTE_PER_GET * got.len(),
                "promoted {PROMOTE_PER_GET} per get"
            );
            assert!(q.backlog() > 0 || got.len() == n);
        }
        assert_eq!(got, (0..n).collect::<Vec<_>>());
        assert_eq!(q.backlog(), 0);
    }

    /// A shut-down queue has no backlog: no worker will take what is left in it.
    #[tokio::test(start_paused = true)]
    async fn a_shut_down_queue_has_no_backlog() {
        let q = WorkQueue::new(LIMIT);
        q.add("a");
        q.add_after("b", Duration::from_secs(1));
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(q.backlog(), 2);
        q.shut_down();
        assert_eq!(q.backlog(), 0);
    }

    /// Slotted workers: at most `slots` syncs hold a slot; a sync that gives its slot back
    /// early lets the next key start while it goes on.
    #[tokio::test(start_paused = true)]
    async fn slotted_workers_hand_out_keys_only_with_a_free_slot() {
        let q = WorkQueue::new(LIMIT);
        let probe = Arc::new(Probe::default());
        let stop = CancellationToken::new();
        let owner = tokio::spawn({
            let (q, probe, stop) = (q.clone(), Arc::clone(&probe), stop.clone());
            async move {
                q.run_slotted_workers(&stop, 2, |k, slot| {
                    let probe = Arc::clone(&probe);
                    async move {
                        // "early" gives its slot back at once; the others hold theirs.
                        let held = (k != "early").then_some(slot);
                        let next = probe.sync(k).await;
                        drop(held);
                        next
                    }
                })
                .await
            }
        });
        for k in ["a", "b", "c"] {
            q.add(k);
        }
        settle().await;
        let keys = |p: &Probe| p.started().iter().map(|s| s.0).collect::<Vec<_>>();
        assert_eq!(keys(&probe), ["a", "b"], "two slots");
        assert_eq!(q.len(), 1);
        probe.release.add_permits(1);
        settle().await;
        assert_eq!(keys(&probe), ["a", "b", "c"], "a slot freed");
        q.add("early");
        q.add("d");
        probe.release.add_permits(1);
        settle().await;
        assert_eq!(
            keys(&probe),
            ["a", "b", "c", "early", "d"],
            "early's slot went on to d while early still runs"
        );
        stop.cancel();
        probe.release.add_permits(3);
        settle().await;
        assert!(owner.is_finished());
    }

    /// Keys added before the caches are ready wait for them; a shutdown or a failed
    /// readiness first shuts the queue down with nothing synced.
    #[tokio::test(start_paused = true)]
    async fn workers_start_once_ready_or_never() {
        let q = WorkQueue::new(LIMIT);
        let probe = Arc::new(Probe::default());
        probe.release.add_permits(10);
        let stop = CancellationToken::new();
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<Result<(), ()>>();
        let owner = tokio::spawn({
            let (q, probe, stop) = (q.clone(), Arc::clone(&probe), stop.clone());
            async move {
                let ready = async { ready_rx.await.unwrap_or(Err(())) };
                q.run_workers_when_ready(ready, &stop, |k| Arc::clone(&probe).sync(k))
                    .await
            }
        });
        q.add("a");
        settle().await;
        assert!(
            probe.started().is_empty(),
            "synced before the caches were ready"
        );
        ready_tx.send(Ok(())).ok();
        settle().await;
        assert_eq!(probe.started(), vec![("a", 1, 1)]);
        stop.cancel();
        settle().await;
        assert!(owner.is_finished() && q.is_shutting_down());

        for outcome in ["shutdown", "ready fails"] {
            let q = WorkQueue::new(LIMIT);
            let probe = Arc::new(Probe::default());
            let stop = CancellationToken::new();
            let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<Result<(), ()>>();
            let owner = tokio::spawn({
                let (q, probe, stop) = (q.clone(), Arc::clone(&probe), stop.clone());
                async move {
                    let ready = async { ready_rx.await.unwrap_or(Err(())) };
                    q.run_workers_when_ready(ready, &stop, |k| Arc::clone(&probe).sync(k))
                        .await
                }
            });
            q.add("a");
            settle().await;
            if outcome == "shutdown" {
                stop.cancel();
            } else {
                ready_tx.send(Err(())).ok();
            }
            settle().await;
            assert!(owner.is_finished(), "{outcome}: the owner still runs");
            assert!(
                q.is_shutting_down(),
                "{outcome}: the queue is not shut down"
            );
            assert!(probe.started().is_empty(), "{outcome}: a key was synced");
        }
    }

    /// A sync that records what it saw and waits for the test's permission to end.
    struct Probe {
        /// (key, running syncs of the key when it started, of any key; when)
        started: Mutex<Vec<(&'static str, usize, usize, Instant)>>,
        running: Mutex<HashMap<&'static str, usize>>,
        release: tokio::sync::Semaphore,
        nexts: Mutex<VecDeque<Next>>,
    }

    impl Default for Probe {
        fn default() -> Self {
            Probe {
                started: Mutex::default(),
                running: Mutex::default(),
                release: tokio::sync::Semaphore::new(0),
                nexts: Mutex::default(),
            }
        }
    }

    impl Probe {
        async fn sync(self: Arc<Self>, key: &'static str) -> Next {
            {
                let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
                *running.entry(key).or_default() += 1;
                let all = running.values().sum();
                self.started
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push((key, running[key], all, Instant::now()));
            }
            if let Ok(p) = self.release.acquire().await {
                p.forget();
            }
            *self
                .running
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(key)
                .or_default() -= 1;
            self.nexts
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop_front()
                .unwrap_or(Next::AwaitChange)
        }

        /// (key, running syncs of the key when it started, of any key)
        fn started(&self) -> Vec<(&'static str, usize, usize)> {
            self.started
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .iter()
                .map(|&(k, one, all, _)| (k, one, all))
                .collect()
        }

        /// When each sync started, in ms after `t0`.
        fn times(&self, t0: Instant) -> Vec<u128> {
            self.started
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .iter()
                .map(|&(.., at)| at.saturating_duration_since(t0).as_millis())
                .collect()
        }
    }

    /// Lets the spawned tasks run until nothing changes (paused time: no timer fires).
    async fn settle() {
        for _ in 0..50 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn workers_sync_keys_at_once_each_key_one_at_a_time() {
        let q = WorkQueue::new(LIMIT);
        let probe = Arc::new(Probe::default());
        let stop = CancellationToken::new();
        let owner = tokio::spawn({
            let (q, probe, stop) = (q.clone(), Arc::clone(&probe), stop.clone());
            async move { q.run_workers(&stop, |k| Arc::clone(&probe).sync(k)).await }
        });
        q.add("a");
        settle().await;
        q.add("a"); // while a is being synced
        q.add("b");
        settle().await;
        assert_eq!(probe.started(), vec![("a", 1, 1), ("b", 1, 2)]);
        probe.release.add_permits(2);
        settle().await;
        // a again, after its first sync ended: never two syncs of a at once.
        assert_eq!(probe.started()[2].0, "a");
        assert_eq!(probe.started()[2].1, 1);
        // That sync asks for a timer, the next fails, and the next fails again.
        probe
            .nexts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend([
                Next::After(Duration::from_secs(30)),
                Next::Retry,
                Next::Retry,
            ]);
        let t0 = Instant::now();
        probe.release.add_permits(3);
        while probe.started().len() < 6 {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        // The 30 s timer, then the 5 ms and 10 ms retries.
        assert_eq!(probe.times(t0)[3..], [30_000, 30_005, 30_015]);
        // Shutdown waits for the running sync of a.
        stop.cancel();
        settle().await;
        assert!(!owner.is_finished(), "the owner waits for running syncs");
        probe.release.add_permits(1);
        settle().await;
        assert!(owner.is_finished());
        assert!(q.is_shutting_down());
        assert_eq!(probe.started().len(), 6);
    }
}

//! One shared watch cache per kind, as client-go's shared informers: a single kube-runtime
//! `watcher` and reflector [`Store`] per kind, whose changes fan out to every subscriber.
//!
//! The server runs one [`Informer`] per watched kind and hands it to every controller and
//! to the node agent, so each object is cached once (not once per controller), and cached
//! without `metadata.managedFields` (see [`Strip`]).
//!
//! Why not kube-runtime's own shared streams (`reflector::store_shared`, `Writer::subscribe`)?
//! Their `ReflectHandle` does not dispatch `Delete` events (kube-rs issue #1590, still open
//! in kube 5), and the controllers need deletions: the Job controller's expectations and
//! pod index, the garbage collector's owner deletions. So the cache here is kube-runtime's
//! `Writer`/`Store` fed by its `watcher` (with `WatchStreamExt::modify` for the stripping),
//! and only the fan-out is ours: each subscriber gets every [`Change`] in order, through an
//! unbounded channel (a slow subscriber never stalls the others; what it holds back are
//! `Arc`s the cache shares).
//!
//! Level-triggered across relists: when the watch restarts (`Init` … `InitDone`), objects
//! that vanished meanwhile get a [`Change::Deleted`] and every listed object a
//! [`Change::Applied`] ([`relist`]), so indexes kept by subscribers stay exact. A subscriber
//! [`Index`]es (objects by controlling owner, client-go's indexers) are kept by the
//! informer itself, under the same lock as the cache and the fan-out: a lookup never sees
//! the cache ahead of its index (no missing object after the first list), and a subscriber
//! woken by a change finds it indexed. A subscriber
//! that joins late first gets an `Applied` for each cached object, atomically with its
//! registration: it misses nothing and sees nothing twice.
//!
//! Readiness (the first list is cached) is ours too: [`Informer::readiness`]. kube-runtime's
//! `Store::wait_until_ready` keeps a single waker (a futures oneshot behind its
//! `DelayedInit`), so of several tasks waiting at once only the last to poll is woken; the
//! others wait forever. A Job's sync stuck that way before its first step never ended, and
//! kube-runtime runs no other sync of that Job while one is in flight: the Job was never
//! synced again (a Job restarted with the server under load, twice in CI).

use futures::channel::mpsc;
use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use kube::Resource;
use kube::api::Api;
use kube::runtime::reflector::store::Writer;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use serde::de::DeserializeOwned;
mod index;
pub mod workqueue;

pub use index::{Index, OwnerIndex};
pub use workqueue::{Next, RateLimit, WorkQueue};

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// The annotation `kubectl apply` keeps the last applied configuration in.
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// What a cache leaves out of the objects it keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strip {
    /// `metadata.managedFields` only. For kinds some controller writes back with PUT: the
    /// apiserver keeps the stored managedFields when a PUT carries none, but takes the
    /// other metadata (annotations included) from the request.
    ManagedFields,
    /// `metadata.managedFields` and the last-applied annotation. Only for kinds that every
    /// controller writes with PATCH (or not at all).
    ManagedFieldsAndLastApplied,
}

impl Strip {
    /// Removes from `obj` what this leaves out.
    pub fn apply<K: Resource>(self, obj: &mut K) {
        let meta = obj.meta_mut();
        meta.managed_fields = None;
        if self == Strip::ManagedFieldsAndLastApplied
            && let Some(a) = meta.annotations.as_mut()
        {
            a.remove(LAST_APPLIED);
            if a.is_empty() {
                meta.annotations = None;
            }
        }
    }
}

/// One change a subscriber sees.
#[derive(Debug)]
pub enum Change<K> {
    /// The object was added or modified (or listed): the cached object.
    Applied(Arc<K>),
    /// The object was deleted: its last state.
    Deleted(Arc<K>),
}

impl<K> Clone for Change<K> {
    fn clone(&self) -> Self {
        match self {
            Change::Applied(o) => Change::Applied(Arc::clone(o)),
            Change::Deleted(o) => Change::Deleted(Arc::clone(o)),
        }
    }
}

impl<K> Change<K> {
    /// The object, applied or deleted.
    pub fn object(&self) -> &Arc<K> {
        match self {
            Change::Applied(o) | Change::Deleted(o) => o,
        }
    }

    /// The object, applied or deleted.
    pub fn into_object(self) -> Arc<K> {
        match self {
            Change::Applied(o) | Change::Deleted(o) => o,
        }
    }

    /// Whether this is a deletion.
    pub fn is_deleted(&self) -> bool {
        matches!(self, Change::Deleted(_))
    }
}

/// The key of `obj` in a cache or a work queue: its name and namespace only. Unlike
/// [`ObjectRef::from_obj`] it leaves out `extra` (the `resourceVersion` and uid), which
/// takes no part in a key's equality or hash: each copy a work queue makes of a key (ready,
/// dirty, processing, its sync's) then allocates two strings, not four.
pub fn key<K>(obj: &K) -> ObjectRef<K>
where
    K: Resource<DynamicType = ()>,
{
    let meta = obj.meta();
    let name = ObjectRef::new(meta.name.as_deref().unwrap_or_default());
    match meta.namespace.as_deref() {
        Some(ns) => name.within(ns),
        None => name,
    }
}

/// The changes a relist makes to a cache that held `before` and now holds `after`
/// (client-go's `Replace`): a deletion for each object no longer listed (or listed with
/// another uid, i.e. deleted and created again), then an application of every listed one.
pub fn relist<K>(before: &[Arc<K>], after: &[Arc<K>]) -> Vec<Change<K>>
where
    K: Resource<DynamicType = ()>,
{
    let now: HashMap<ObjectRef<K>, Option<&str>> = after
        .iter()
        .map(|o| (key(o.as_ref()), o.meta().uid.as_deref()))
        .collect();
    let mut out = Vec::new();
    for o in before {
        let kept = now.get(&key(o.as_ref()));
        if kept.is_none_or(|uid| *uid != o.meta().uid.as_deref()) {
            out.push(Change::Deleted(Arc::clone(o)));
        }
    }
    out.extend(after.iter().map(|o| Change::Applied(Arc::clone(o))));
    out
}

type Events<K> = BoxStream<'static, watcher::Result<watcher::Event<K>>>;

/// An index's key of an object: the uid of its owner, if indexed.
pub type IndexKey<K> = fn(&K) -> Option<&str>;

/// What changes with the cache, under one lock.
struct Gate<K> {
    subscribers: Vec<mpsc::UnboundedSender<Change<K>>>,
    indexes: Vec<(IndexKey<K>, OwnerIndex<K>)>,
}

struct Shared<K: Resource<DynamicType = ()> + Clone + 'static> {
    reader: Store<K>,
    /// Subscribers and indexes. Its lock also orders cache updates against subscriptions
    /// and index lookups.
    gate: Mutex<Gate<K>>,
    /// The watch and the cache's writer, until [`Informer::run`] takes them.
    source: Mutex<Option<(Writer<K>, Events<K>)>>,
    /// Whether the first list is cached.
    ready: watch::Sender<State>,
}

/// An informer's progress towards its first list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Listing,
    Ready,
    /// Stopped before its first list.
    Stopped,
}

/// The informer stopped (shutdown) before its cache held its first list.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the {kind} cache stopped before its first list")]
pub struct Stopped {
    kind: String,
}

/// Waits for an informer's first list; cheap to clone, any number may wait at once.
#[derive(Debug, Clone)]
pub struct Readiness {
    rx: watch::Receiver<State>,
    kind: String,
}

impl Readiness {
    /// Returns once the cache holds its first list (at once after that), or
    /// [`Stopped`] if the informer stops first.
    pub async fn wait(&self) -> Result<(), Stopped> {
        let mut rx = self.rx.clone();
        let state = rx.wait_for(|s| *s != State::Listing).await.map(|s| *s);
        match state {
            Ok(State::Ready) => Ok(()),
            _ => Err(Stopped {
                kind: self.kind.clone(),
            }),
        }
    }

    /// Whether the cache holds its first list now.
    pub fn is_ready(&self) -> bool {
        *self.rx.borrow() == State::Ready
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One watch and one cache of `K`, shared by every subscriber. Cheap to clone.
pub struct Informer<K: Resource<DynamicType = ()> + Clone + 'static> {
    shared: Arc<Shared<K>>,
}

impl<K: Resource<DynamicType = ()> + Clone + 'static> Clone for Informer<K> {
    fn clone(&self) -> Self {
        Informer {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<K> Debug for Informer<K>
where
    K: Resource<DynamicType = ()> + Clone + 'static,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Informer")
            .field("kind", &K::kind(&()))
            .field("cached", &self.shared.reader.len())
            .finish_non_exhaustive()
    }
}

/// A subscriber's changes, in the order the cache saw them.
pub type Subscription<K> = mpsc::UnboundedReceiver<Change<K>>;

impl<K> Informer<K>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    /// An informer over `api` with `wc` (field and label selectors), caching objects
    /// without what `strip` names. Nothing is watched before [`run`](Self::run).
    pub fn new(api: Api<K>, wc: watcher::Config, strip: Strip) -> Self {
        Self::with_trim(api, wc, move |o: &mut K| strip.apply(o))
    }

    /// An informer over `api` with `wc`, caching objects as `trim` leaves them: for caches
    /// whose readers need less of a kind than [`Strip`] keeps (what `trim` drops, a reader
    /// reads with a GET). Nothing is watched before [`run`](Self::run).
    pub fn with_trim(
        api: Api<K>,
        wc: watcher::Config,
        trim: impl Fn(&mut K) + Send + 'static,
    ) -> Self {
        let events = watcher(api, wc).default_backoff().modify(trim).boxed();
        Self::from_events(events)
    }

    /// An informer over a stream of watch events (a test's, or an already built watcher).
    pub fn from_events(
        events: impl Stream<Item = watcher::Result<watcher::Event<K>>> + Send + 'static,
    ) -> Self {
        let writer = Writer::<K>::default();
        Informer {
            shared: Arc::new(Shared {
                reader: writer.as_reader(),
                gate: Mutex::new(Gate {
                    subscribers: Vec::new(),
                    indexes: Vec::new(),
                }),
                source: Mutex::new(Some((writer, events.boxed()))),
                ready: watch::Sender::new(State::Listing),
            }),
        }
    }

    /// A read handle on the cache (ready after the first list).
    pub fn store(&self) -> Store<K> {
        self.shared.reader.clone()
    }

    /// A handle that waits for the first list (use it, not `Store::wait_until_ready`: see
    /// the module docs).
    pub fn readiness(&self) -> Readiness {
        Readiness {
            rx: self.shared.ready.subscribe(),
            kind: K::kind(&()).into_owned(),
        }
    }

    /// A new subscriber: an `Applied` for each object cached now, then every change.
    pub fn subscribe(&self) -> Subscription<K> {
        let (tx, rx) = mpsc::unbounded();
        let mut gate = lock(&self.shared.gate);
        for o in self.shared.reader.state() {
            let _ = tx.unbounded_send(Change::Applied(o));
        }
        gate.subscribers.push(tx);
        rx
    }

    /// A new index of the cache by `key` (built from what is cached now, then kept).
    pub fn index(&self, key: IndexKey<K>) -> Index<K> {
        let mut gate = lock(&self.shared.gate);
        let mut ix = OwnerIndex::default();
        for o in self.shared.reader.state() {
            ix.apply(&Change::Applied(o), key);
        }
        gate.indexes.push((key, ix));
        Index {
            id: gate.indexes.len() - 1,
            informer: self.clone(),
        }
    }

    /// Runs `f` on index `id` under the cache's lock.
    fn with_index<T>(&self, id: usize, f: impl FnOnce(&OwnerIndex<K>) -> T) -> T {
        let gate = lock(&self.shared.gate);
        f(&gate.indexes[id].1)
    }

    /// The objects applied (added, modified, listed): a trigger for
    /// `Controller::for_shared_stream`.
    pub fn applied(&self) -> impl Stream<Item = Arc<K>> + Send + 'static {
        self.subscribe().filter_map(|c| {
            std::future::ready(match c {
                Change::Applied(o) => Some(o),
                Change::Deleted(_) => None,
            })
        })
    }

    /// The objects applied or deleted: a trigger for `Controller::owns_shared_stream` and
    /// `watches_shared_stream` (a deleted child wakes its owner).
    pub fn touched(&self) -> impl Stream<Item = Arc<K>> + Send + 'static {
        self.subscribe().map(Change::into_object)
    }

    /// Watches and fills the cache until `shutdown` is cancelled or the watch ends; then
    /// the subscriptions end. Only the first call watches; later ones return at once.
    pub async fn run(&self, shutdown: CancellationToken) {
        let Some((mut writer, mut events)) = lock(&self.shared.source).take() else {
            tracing::warn!(kind = %K::kind(&()), "informer already running");
            return;
        };
        loop {
            let ev = tokio::select! {
                () = shutdown.cancelled() => break,
                ev = events.next() => ev,
            };
            match ev {
                None => break,
                Some(Ok(ev)) => self.apply(&mut writer, ev),
                Some(Err(e)) => {
                    tracing::warn!(kind = %K::kind(&()), error = %e, "watch failed; retrying");
                }
            }
        }
        lock(&self.shared.gate).subscribers.clear();
        self.shared.ready.send_if_modified(|s| {
            let listing = *s == State::Listing;
            if listing {
                *s = State::Stopped;
            }
            listing
        });
    }

    /// Applies one watch event to the cache and hands its changes to the subscribers.
    fn apply(&self, writer: &mut Writer<K>, ev: watcher::Event<K>) {
        let reader = &self.shared.reader;
        let mut gate = lock(&self.shared.gate);
        // A relist swaps the whole cache at `InitDone`: what it held before is compared.
        let before = matches!(ev, watcher::Event::InitDone).then(|| reader.state());
        writer.apply_watcher_event(&ev);
        if matches!(ev, watcher::Event::InitDone) {
            self.shared.ready.send_if_modified(|s| {
                let first = *s != State::Ready;
                *s = State::Ready;
                first
            });
        }
        let changes = match ev {
            watcher::Event::Apply(o) => reader
                .get(&key(&o))
                .map(Change::Applied)
                .into_iter()
                .collect(),
            watcher::Event::Delete(o) => vec![Change::Deleted(Arc::new(o))],
            watcher::Event::Init | watcher::Event::InitApply(_) => Vec::new(),
            watcher::Event::InitDone => relist(&before.unwrap_or_default(), &reader.state()),
        };
        if changes.is_empty() {
            return;
        }
        for (key, ix) in &mut gate.indexes {
            for c in &changes {
                ix.apply(c, *key);
            }
        }
        gate.subscribers
            .retain(|tx| changes.iter().all(|c| tx.unbounded_send(c.clone()).is_ok()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Pod;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ManagedFieldsEntry, ObjectMeta};
    use watcher::Event;

    fn pod(name: &str, uid: &str, rv: &str) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("default".into()),
                uid: Some(uid.into()),
                resource_version: Some(rv.into()),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    /// A change as `(deleted, name, resourceVersion)`.
    fn seen(c: &Change<Pod>) -> (bool, String, String) {
        let m = &c.object().metadata;
        (
            c.is_deleted(),
            m.name.clone().unwrap_or_default(),
            m.resource_version.clone().unwrap_or_default(),
        )
    }

    fn expect(v: &[(bool, &str, &str)]) -> Vec<(bool, String, String)> {
        v.iter()
            .map(|(d, n, rv)| (*d, (*n).to_owned(), (*rv).to_owned()))
            .collect()
    }

    /// A key finds what the full reference finds, and carries no resourceVersion or uid.
    #[test]
    fn keys_are_name_and_namespace() {
        let p = pod("a", "ua", "7");
        let full = ObjectRef::from_obj(&p);
        let k = key(&p);
        assert_eq!(
            (k.name.as_str(), k.namespace.as_deref()),
            ("a", Some("default"))
        );
        assert_eq!((k.extra.resource_version, k.extra.uid), (None, None));
        let cache: HashMap<ObjectRef<Pod>, u8> = HashMap::from([(full, 1)]);
        assert_eq!(cache.get(&key(&p)), Some(&1));
        let node = k8s_openapi::api::core::v1::Node {
            metadata: ObjectMeta {
                name: Some("n".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        assert_eq!(key(&node), ObjectRef::from_obj(&node));
        assert_eq!(key(&node).namespace, None);
    }

    #[test]
    fn relist_table() {
        let a1 = Arc::new(pod("a", "ua", "1"));
        let a2 = Arc::new(pod("a", "ua", "2"));
        let a_new = Arc::new(pod("a", "ua2", "3"));
        let b = Arc::new(pod("b", "ub", "1"));
        let c = Arc::new(pod("c", "uc", "4"));
        // (case, cached before, listed, the changes)
        type Case = (
            &'static str,
            Vec<Arc<Pod>>,
            Vec<Arc<Pod>>,
            Vec<(bool, &'static str, &'static str)>,
        );
        let cases: Vec<Case> = vec![
            (
                "first list",
                vec![],
                vec![a1.clone()],
                vec![(false, "a", "1")],
            ),
            (
                "unchanged and updated objects are applied",
                vec![a1.clone(), b.clone()],
                vec![a2.clone(), b.clone()],
                vec![(false, "a", "2"), (false, "b", "1")],
            ),
            (
                "an object gone while the watch was down is deleted",
                vec![a1.clone(), b.clone()],
                vec![a1.clone(), c.clone()],
                vec![(true, "b", "1"), (false, "a", "1"), (false, "c", "4")],
            ),
            (
                "deleted and created again: the old uid is deleted",
                vec![a1.clone()],
                vec![a_new.clone()],
                vec![(true, "a", "1"), (false, "a", "3")],
            ),
            (
                "everything gone",
                vec![a1.clone(), b.clone()],
                vec![],
                vec![(true, "a", "1"), (true, "b", "1")],
            ),
        ];
        for (name, before, after, want) in cases {
            let mut got: Vec<_> = relist(&before, &after).iter().map(seen).collect();
            // Deletions come first; within each group the order is the caches'.
            let split = got.iter().filter(|c| c.0).count();
            got[..split].sort();
            got[split..].sort();
            assert_eq!(got, expect(&want), "{name}");
        }
    }

    #[test]
    fn strip_table() {
        let mut p = pod("a", "ua", "1");
        p.metadata.managed_fields = Some(vec![ManagedFieldsEntry::default()]);
        p.metadata.annotations = Some(
            [(LAST_APPLIED.to_owned(), "{}".to_owned())]
                .into_iter()
                .collect(),
        );
        let mut only = p.clone();
        Strip::ManagedFields.apply(&mut only);
        assert_eq!(only.metadata.managed_fields, None);
        assert!(only.metadata.annotations.is_some());
        let mut both = p.clone();
        Strip::ManagedFieldsAndLastApplied.apply(&mut both);
        assert_eq!(both.metadata.managed_fields, None);
        assert_eq!(both.metadata.annotations, None);
        p.metadata
            .annotations
            .get_or_insert_default()
            .insert("keep".into(), "me".into());
        Strip::ManagedFieldsAndLastApplied.apply(&mut p);
        assert_eq!(
            p.metadata
                .annotations
                .map(|a| a.into_keys().collect::<Vec<_>>()),
            Some(vec!["keep".to_owned()])
        );
    }

    #[tokio::test]
    async fn subscribers_see_every_change_in_order_across_a_relist() {
        let events: Vec<watcher::Result<Event<Pod>>> = vec![
            Ok(Event::Init),
            Ok(Event::InitApply(pod("a", "ua", "1"))),
            Ok(Event::InitApply(pod("b", "ub", "1"))),
            Ok(Event::InitDone),
            Ok(Event::Apply(pod("a", "ua", "2"))),
            Ok(Event::Delete(pod("a", "ua", "3"))),
            // The watch restarts; meanwhile b was deleted and c created.
            Ok(Event::Init),
            Ok(Event::InitApply(pod("c", "uc", "5"))),
            Ok(Event::InitDone),
        ];
        let inf = Informer::from_events(futures::stream::iter(events));
        let early = inf.subscribe();
        inf.run(CancellationToken::new()).await;
        let got: Vec<_> = early.collect::<Vec<_>>().await.iter().map(seen).collect();
        let mut first_list = got[..2].to_vec();
        first_list.sort();
        assert_eq!(first_list, expect(&[(false, "a", "1"), (false, "b", "1")]));
        assert_eq!(
            got[2..],
            expect(&[
                (false, "a", "2"),
                (true, "a", "3"),
                (true, "b", "1"),
                (false, "c", "5")
            ])[..]
        );
        let names: Vec<_> = inf
            .store()
            .state()
            .iter()
            .filter_map(|p| p.metadata.name.clone())
            .collect();
        assert_eq!(names, vec!["c".to_owned()]);
    }

    /// Every waiter is woken by the first list, however many wait at once (kube-runtime's
    /// `Store::wait_until_ready` wakes only the last to poll: with it this test hangs), and
    /// an informer stopped before its first list fails its waiters.
    #[tokio::test]
    async fn every_concurrent_waiter_sees_the_first_list() {
        let (tx, rx) = futures::channel::mpsc::unbounded::<watcher::Result<Event<Pod>>>();
        let inf = Informer::from_events(rx);
        let waiters: Vec<_> = (0..8)
            .map(|_| {
                let r = inf.readiness();
                tokio::spawn(async move { r.wait().await })
            })
            .collect();
        // Let every waiter poll (and park) before the list arrives.
        for _ in 0..8 {
            tokio::task::yield_now().await;
        }
        assert!(!inf.readiness().is_ready());
        let stop = CancellationToken::new();
        let run = tokio::spawn({
            let inf = inf.clone();
            let stop = stop.clone();
            async move { inf.run(stop).await }
        });
        for ev in [
            Event::Init,
            Event::InitApply(pod("a", "ua", "1")),
            Event::InitDone,
        ] {
            tx.unbounded_send(Ok(ev)).expect("send");
        }
        for w in waiters {
            let done = tokio::time::timeout(std::time::Duration::from_secs(30), w).await;
            assert!(
                matches!(done, Ok(Ok(Ok(())))),
                "a waiter was not woken: {done:?}"
            );
        }
        assert!(inf.readiness().is_ready());
        inf.readiness().wait().await.expect("ready at once");
        stop.cancel();
        run.await.expect("run");

        let (_tx, rx) = futures::channel::mpsc::unbounded::<watcher::Result<Event<Pod>>>();
        let never = Informer::from_events(rx);
        let waiter = tokio::spawn({
            let r = never.readiness();
            async move { r.wait().await }
        });
        let stop = CancellationToken::new();
        stop.cancel();
        never.run(stop).await;
        let err = waiter
            .await
            .expect("join")
            .expect_err("stopped before its first list");
        assert_eq!(
            err.to_string(),
            "the Pod cache stopped before its first list"
        );
    }

    #[tokio::test]
    async fn a_late_subscriber_gets_the_cache_first() {
        let (tx, rx) = mpsc::unbounded();
        let inf = Informer::from_events(rx);
        let run = tokio::spawn({
            let inf = inf.clone();
            async move { inf.run(CancellationToken::new()).await }
        });
        for e in [
            Event::Init,
            Event::InitApply(pod("a", "ua", "1")),
            Event::InitDone,
        ] {
            tx.unbounded_send(Ok(e)).ok();
        }
        inf.readiness().wait().await.ok();
        let late = inf.subscribe();
        tx.unbounded_send(Ok(Event::Apply(pod("b", "ub", "2"))))
            .ok();
        drop(tx);
        run.await.ok();
        let got: Vec<_> = late.collect::<Vec<_>>().await.iter().map(seen).collect();
        assert_eq!(got, expect(&[(false, "a", "1"), (false, "b", "2")]));
    }

    fn owned_by(name: &str, uid: &str, job: &str) -> Pod {
        let mut p = pod(name, uid, "1");
        p.metadata.owner_references = Some(vec![
            k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
                api_version: "batch/v1".into(),
                kind: "Job".into(),
                name: job.into(),
                uid: job.into(),
                controller: Some(true),
                ..Default::default()
            },
        ]);
        p
    }

    fn job_of(p: &Pod) -> Option<&str> {
        p.metadata
            .owner_references
            .as_deref()?
            .first()
            .map(|r| r.uid.as_str())
    }

    #[tokio::test]
    async fn indexes_follow_the_cache_across_a_relist_and_late_registration() {
        let events: Vec<watcher::Result<Event<Pod>>> = vec![
            Ok(Event::Init),
            Ok(Event::InitApply(owned_by("a", "ua", "j1"))),
            Ok(Event::InitApply(owned_by("b", "ub", "j1"))),
            Ok(Event::InitDone),
            Ok(Event::Apply(owned_by("c", "uc", "j2"))),
            // Relist: b vanished, a moved to j2.
            Ok(Event::Init),
            Ok(Event::InitApply(owned_by("a", "ua", "j2"))),
            Ok(Event::InitApply(owned_by("c", "uc", "j2"))),
            Ok(Event::InitDone),
        ];
        let inf = Informer::from_events(futures::stream::iter(events));
        let early = inf.index(job_of);
        inf.run(CancellationToken::new()).await;
        let late = inf.index(job_of);
        for ix in [early, late] {
            let names = |j: &str| {
                let mut v: Vec<_> = ix
                    .get(j)
                    .iter()
                    .filter_map(|p| p.metadata.name.clone())
                    .collect();
                v.sort();
                v
            };
            assert!(names("j1").is_empty());
            assert_eq!(names("j2"), vec!["a".to_owned(), "c".to_owned()]);
        }
    }
}

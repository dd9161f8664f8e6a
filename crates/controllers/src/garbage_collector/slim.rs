//! The collector's own caches of the kinds without a shared cache (Nodes, Leases, Events,
//! PersistentVolumeClaims, Namespaces): fed by a metadata-only watch each (as
//! kube-controller-manager's collector watches), they keep per object only its [`Meta`]
//! (uid, owner references, deletion state, the collector's finalizers), and of a
//! [`sparse`](super::kinds::Kind::sparse) kind only the objects that have owners or are
//! being deleted.

use super::kinds::Kind;
use super::plan::Meta;
use kube::api::{DynamicObject, PartialObjectMeta};
use kube::runtime::watcher::Event;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use tokio::sync::watch;

/// An object's namespace (`""` when cluster-scoped) and name.
pub type Key = (String, String);

/// A change of a cached kind, as the collector's feed sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Seen {
    /// Its kind.
    pub kind: Kind,
    /// Namespace and name.
    pub key: Key,
    /// What it looks like now (its last state if deleted).
    pub meta: Meta,
    /// It is gone.
    pub deleted: bool,
}

/// One kind's objects, as [`Meta`]s.
#[derive(Debug)]
pub struct SlimCache {
    kind: Kind,
    state: Mutex<State>,
    ready: watch::Sender<bool>,
}

#[derive(Debug, Default)]
struct State {
    objects: HashMap<Key, Meta>,
    /// A relist in progress (`Init` … `InitDone`): what it has listed so far.
    relist: Option<HashMap<Key, Meta>>,
}

fn key_of(o: &PartialObjectMeta<DynamicObject>) -> Key {
    (
        o.metadata.namespace.clone().unwrap_or_default(),
        o.metadata.name.clone().unwrap_or_default(),
    )
}

impl SlimCache {
    /// An empty cache of `kind`.
    pub fn new(kind: Kind) -> Self {
        SlimCache {
            kind,
            state: Mutex::new(State::default()),
            ready: watch::Sender::new(false),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn keeps(&self, meta: &Meta) -> bool {
        !self.kind.sparse() || !meta.owners.is_empty() || meta.deleting
    }

    fn seen(&self, key: Key, meta: Meta, deleted: bool) -> Seen {
        Seen {
            kind: self.kind,
            key,
            meta,
            deleted,
        }
    }

    /// Applies one event of the kind's metadata watch; returns the changes it makes (a
    /// relist: a deletion for each object gone meanwhile, then every listed object).
    pub fn apply(&self, ev: Event<PartialObjectMeta<DynamicObject>>) -> Vec<Seen> {
        let mut st = self.lock();
        match ev {
            Event::Apply(o) => {
                let (key, meta) = (key_of(&o), Meta::of(&o.metadata));
                if self.keeps(&meta) {
                    st.objects.insert(key.clone(), meta.clone());
                } else {
                    st.objects.remove(&key);
                }
                vec![self.seen(key, meta, false)]
            }
            Event::Delete(o) => {
                let key = key_of(&o);
                st.objects.remove(&key);
                vec![self.seen(key, Meta::of(&o.metadata), true)]
            }
            Event::Init => {
                st.relist = Some(HashMap::new());
                Vec::new()
            }
            Event::InitApply(o) => {
                let (key, meta) = (key_of(&o), Meta::of(&o.metadata));
                let keep = self.keeps(&meta);
                if keep {
                    st.relist.get_or_insert_default().insert(key, meta);
                }
                Vec::new()
            }
            Event::InitDone => {
                let listed = st.relist.take().unwrap_or_default();
                let before = std::mem::replace(&mut st.objects, listed);
                drop(st);
                self.ready.send_if_modified(|r| !std::mem::replace(r, true));
                let st = self.lock();
                let mut out: Vec<Seen> = before
                    .into_iter()
                    .filter(|(k, m)| st.objects.get(k).is_none_or(|now| now.uid != m.uid))
                    .map(|(k, m)| self.seen(k, m, true))
                    .collect();
                out.extend(
                    st.objects
                        .iter()
                        .map(|(k, m)| self.seen(k.clone(), m.clone(), false)),
                );
                out
            }
        }
    }

    /// The object `key`, if kept.
    pub fn get(&self, key: &Key) -> Option<Meta> {
        self.lock().objects.get(key).cloned()
    }

    /// The kept objects that reference `uid` as an owner, with whether each blocks it.
    pub fn dependents(&self, uid: &str) -> Vec<(Key, String, bool)> {
        self.lock()
            .objects
            .iter()
            .filter_map(|(k, m)| m.blocks(uid).map(|b| (k.clone(), m.uid.clone(), b)))
            .collect()
    }

    /// Objects kept.
    pub fn len(&self) -> usize {
        self.lock().objects.len()
    }

    /// Whether nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Waits for the first list; `false` if the cache is dropped first.
    pub async fn ready(&self) -> bool {
        let mut rx = self.ready.subscribe();
        rx.wait_for(|r| *r).await.is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

    fn obj(name: &str, uid: &str, owner: Option<&str>) -> PartialObjectMeta<DynamicObject> {
        PartialObjectMeta {
            types: None,
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("ns".into()),
                uid: Some(uid.into()),
                owner_references: owner.map(|o| {
                    vec![OwnerReference {
                        uid: o.into(),
                        block_owner_deletion: Some(true),
                        ..Default::default()
                    }]
                }),
                ..Default::default()
            },
            _phantom: std::marker::PhantomData,
        }
    }

    fn kind(name: &str) -> Kind {
        Kind::all().find(|k| k.0.kind == name).expect("kind")
    }

    /// A change as `(deleted, name, uid)`, sorted within deletions and applications.
    fn seen(v: Vec<Seen>) -> Vec<(bool, String, String)> {
        let mut out: Vec<_> = v
            .into_iter()
            .map(|s| (s.deleted, s.key.1, s.meta.uid))
            .collect();
        let split = out.iter().filter(|s| s.0).count();
        out[..split].sort();
        out[split..].sort();
        out
    }

    fn names(c: &SlimCache) -> Vec<String> {
        let mut v: Vec<_> = c.lock().objects.keys().map(|k| k.1.clone()).collect();
        v.sort();
        v
    }

    #[tokio::test]
    async fn relists_turn_into_deletions_and_applications() {
        let c = SlimCache::new(kind("Lease"));
        assert!(c.apply(Event::Init).is_empty());
        assert!(
            c.apply(Event::InitApply(obj("a", "ua", Some("n"))))
                .is_empty()
        );
        assert!(c.apply(Event::InitApply(obj("b", "ub", None))).is_empty());
        assert!(!*c.ready.borrow());
        let s = |d: bool, n: &str, u: &str| (d, n.to_owned(), u.to_owned());
        assert_eq!(
            seen(c.apply(Event::InitDone)),
            [s(false, "a", "ua"), s(false, "b", "ub")]
        );
        assert!(c.ready().await);
        assert_eq!(
            c.dependents("n"),
            [(("ns".into(), "a".into()), "ua".into(), true)]
        );
        // The watch restarts: b was deleted, a created again with a new uid, c created.
        c.apply(Event::Init);
        c.apply(Event::InitApply(obj("a", "ua2", None)));
        c.apply(Event::InitApply(obj("c", "uc", None)));
        assert_eq!(names(&c), ["a", "b"], "the old list stays until InitDone");
        assert_eq!(
            seen(c.apply(Event::InitDone)),
            [
                s(true, "a", "ua"),
                s(true, "b", "ub"),
                s(false, "a", "ua2"),
                s(false, "c", "uc")
            ]
        );
        assert!(c.dependents("n").is_empty());
        assert_eq!(
            seen(c.apply(Event::Delete(obj("c", "uc", None)))),
            [s(true, "c", "uc")]
        );
        assert_eq!(names(&c), ["a"]);
    }

    #[test]
    fn a_sparse_kind_keeps_only_owned_or_deleting_objects() {
        let c = SlimCache::new(kind("Event"));
        c.apply(Event::Init);
        c.apply(Event::InitApply(obj("plain", "u1", None)));
        c.apply(Event::InitApply(obj("owned", "u2", Some("job"))));
        let listed = c.apply(Event::InitDone);
        assert_eq!(listed.len(), 1, "only the owned event is seen");
        assert_eq!(names(&c), ["owned"]);
        // Losing its owner drops it, but the change is still seen.
        let out = c.apply(Event::Apply(obj("owned", "u2", None)));
        assert_eq!(out.len(), 1);
        assert!(c.is_empty());
        let mut deleting = obj("plain", "u1", None);
        deleting.metadata.deletion_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
            ));
        c.apply(Event::Apply(deleting));
        assert_eq!(names(&c), ["plain"]);
        assert!(
            c.get(&("ns".into(), "plain".into()))
                .is_some_and(|m| m.deleting)
        );
    }
}

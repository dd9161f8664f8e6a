//! [`OwnerIndex`]: a cache's objects by the uid of their controlling owner, and [`Index`],
//! the handle of one kept by an [`Informer`].

use crate::{Change, Informer};
use kube::Resource;
use serde::de::DeserializeOwned;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;
use std::sync::Arc;

/// A cached object's key: namespace and name.
pub type Key = (String, String);

/// The objects of one kind by the uid of their controlling owner (client-go's indexer by
/// controller). Fed every [`Change`] of the cache in order, it stays exact across relists
/// (the informer turns a relist into deletions and applications). It holds the cache's own
/// objects (`Arc`s) and the informer updates it under the same lock as the cache, so a
/// reader finds exactly what the cache holds, without a lookup per object.
#[derive(Debug)]
pub struct OwnerIndex<K> {
    by_owner: HashMap<String, BTreeMap<Key, Arc<K>>>,
    owner_of: HashMap<Key, String>,
}

impl<K> Default for OwnerIndex<K> {
    fn default() -> Self {
        OwnerIndex {
            by_owner: HashMap::new(),
            owner_of: HashMap::new(),
        }
    }
}

impl<K: Resource> OwnerIndex<K> {
    /// Records that the object `key` is now `obj`, controlled by `owner` (None: by nothing
    /// indexed, or deleted).
    fn set(&mut self, key: Key, owner: Option<&str>, obj: &Arc<K>) {
        if let Some(o) = owner
            && self.owner_of.get(&key).map(String::as_str) == Some(o)
        {
            if let Some(slot) = self.by_owner.get_mut(o).and_then(|set| set.get_mut(&key)) {
                *slot = Arc::clone(obj);
            }
            return;
        }
        if let Some(old) = self.owner_of.remove(&key)
            && let Some(set) = self.by_owner.get_mut(&old)
        {
            set.remove(&key);
            if set.is_empty() {
                self.by_owner.remove(&old);
            }
        }
        if let Some(o) = owner {
            self.by_owner
                .entry(o.to_owned())
                .or_default()
                .insert(key.clone(), Arc::clone(obj));
            self.owner_of.insert(key, o.to_owned());
        }
    }

    /// Applies one change of the cache; `owner` names an object's indexed owner.
    pub fn apply(&mut self, change: &Change<K>, owner: impl Fn(&K) -> Option<&str>) {
        let obj = change.object();
        let meta = obj.meta();
        let key = (
            meta.namespace.clone().unwrap_or_default(),
            meta.name.clone().unwrap_or_default(),
        );
        match change {
            Change::Applied(o) => self.set(key, owner(o), o),
            Change::Deleted(o) => self.set(key, None, o),
        }
    }

    /// The objects `owner` controls, in key order.
    pub fn owned(&self, owner: &str) -> Vec<Arc<K>> {
        self.by_owner
            .get(owner)
            .map(|s| s.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Objects indexed in all.
    pub fn len(&self) -> usize {
        self.owner_of.len()
    }

    /// No object is indexed.
    pub fn is_empty(&self) -> bool {
        self.owner_of.is_empty()
    }
}

/// An index of an [`Informer`]'s cache, kept by the informer (see the crate docs).
pub struct Index<K: Resource<DynamicType = ()> + Clone + 'static> {
    pub(crate) id: usize,
    pub(crate) informer: Informer<K>,
}

impl<K> Index<K>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    /// The cache this indexes.
    pub fn store(&self) -> kube::runtime::reflector::Store<K> {
        self.informer.store()
    }

    /// The cached objects whose key is `owner`.
    pub fn get(&self, owner: &str) -> Vec<Arc<K>> {
        self.informer.with_index(self.id, |ix| ix.owned(owner))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Pod;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

    fn pod(name: &str, owner: Option<(&str, &str)>) -> Arc<Pod> {
        Arc::new(Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("ns".into()),
                uid: Some(format!("u-{name}")),
                owner_references: owner.map(|(kind, uid)| {
                    vec![OwnerReference {
                        api_version: "batch/v1".into(),
                        kind: kind.into(),
                        name: "owner".into(),
                        uid: uid.into(),
                        controller: Some(true),
                        block_owner_deletion: Some(true),
                    }]
                }),
                ..Default::default()
            },
            ..Default::default()
        })
    }

    fn of_job(p: &Pod) -> Option<&str> {
        p.metadata
            .owner_references
            .as_deref()?
            .iter()
            .find(|r| r.controller == Some(true) && r.kind == "Job")
            .map(|r| r.uid.as_str())
    }

    fn names(ix: &OwnerIndex<Pod>, owner: &str) -> Vec<String> {
        ix.owned(owner)
            .iter()
            .map(|p| p.metadata.name.clone().unwrap_or_default())
            .collect()
    }

    #[test]
    fn owner_index_table() {
        use Change::{Applied, Deleted};
        // (case, changes, job uid → expected pod names, objects indexed)
        type Case = (
            &'static str,
            Vec<Change<Pod>>,
            Vec<(&'static str, Vec<&'static str>)>,
            usize,
        );
        let cases: Vec<Case> = vec![
            (
                "pods of two jobs",
                vec![
                    Applied(pod("a", Some(("Job", "j1")))),
                    Applied(pod("b", Some(("Job", "j1")))),
                    Applied(pod("c", Some(("Job", "j2")))),
                ],
                vec![("j1", vec!["a", "b"]), ("j2", vec!["c"])],
                3,
            ),
            (
                "an update keeps one entry",
                vec![
                    Applied(pod("a", Some(("Job", "j1")))),
                    Applied(pod("a", Some(("Job", "j1")))),
                ],
                vec![("j1", vec!["a"])],
                1,
            ),
            (
                "orphaned (reference removed) leaves the index",
                vec![
                    Applied(pod("a", Some(("Job", "j1")))),
                    Applied(pod("a", None)),
                ],
                vec![("j1", vec![])],
                0,
            ),
            (
                "adopted by another job moves",
                vec![
                    Applied(pod("a", Some(("Job", "j1")))),
                    Applied(pod("a", Some(("Job", "j2")))),
                ],
                vec![("j1", vec![]), ("j2", vec!["a"])],
                1,
            ),
            (
                "deleted",
                vec![
                    Applied(pod("a", Some(("Job", "j1")))),
                    Applied(pod("b", Some(("Job", "j1")))),
                    Deleted(pod("a", Some(("Job", "j1")))),
                ],
                vec![("j1", vec!["b"])],
                1,
            ),
            (
                "a relist: deletions of vanished pods, then every listed one",
                vec![
                    Applied(pod("a", Some(("Job", "j1")))),
                    Applied(pod("b", Some(("Job", "j1")))),
                    Deleted(pod("b", Some(("Job", "j1")))),
                    Applied(pod("a", Some(("Job", "j1")))),
                    Applied(pod("d", Some(("Job", "j1")))),
                ],
                vec![("j1", vec!["a", "d"])],
                2,
            ),
            (
                "other controller kinds are not indexed",
                vec![Applied(pod("a", Some(("ReplicaSet", "r1"))))],
                vec![("r1", vec![])],
                0,
            ),
            (
                "a deletion of an unknown object is nothing",
                vec![Deleted(pod("z", Some(("Job", "j1"))))],
                vec![("j1", vec![])],
                0,
            ),
        ];
        for (name, changes, want, len) in cases {
            let mut ix = OwnerIndex::default();
            for c in &changes {
                ix.apply(c, of_job);
            }
            for (owner, pods) in want {
                assert_eq!(names(&ix, owner), pods, "{name}: {owner}");
            }
            assert_eq!(ix.len(), len, "{name}");
        }
    }

    #[test]
    fn an_update_replaces_the_indexed_object() {
        let mut ix = OwnerIndex::default();
        ix.apply(&Change::Applied(pod("a", Some(("Job", "j1")))), of_job);
        let mut newer = (*pod("a", Some(("Job", "j1")))).clone();
        newer.metadata.resource_version = Some("2".into());
        ix.apply(&Change::Applied(Arc::new(newer)), of_job);
        let owned = ix.owned("j1");
        assert_eq!(owned.len(), 1);
        assert_eq!(owned[0].metadata.resource_version.as_deref(), Some("2"));
    }
}

//! The garbage collector: ownerReference cascades for every served kind that can be deleted
//! (kube-controller-manager's `garbagecollector`).
//!
//! Background deletion removes the owner at once; its dependents are then collected here
//! because their owners are gone. Foreground deletion leaves the owner with the
//! `foregroundDeletion` finalizer: its dependents are deleted here, and the finalizer is
//! removed once no dependent with `blockOwnerDeletion` is left. Orphan deletion leaves the
//! owner with the `orphan` finalizer: the references to it are stripped from its dependents,
//! then the finalizer is removed. The decisions are in [`plan`]; this module only watches
//! and acts.
//!
//! What it knows of each object is a [`plan::Meta`] (uid, owner references, deletion
//! state, the collector's finalizers), read from the server's shared caches for Pods, Jobs
//! and CronJobs (no copy) and from [`slim`] caches fed by a metadata-only watch for every
//! other kind ([`kinds`]). It keeps no index of dependents (an index of 100,000 pods would
//! cost more memory than the pods' cache itself); the dependents of an owner being deleted
//! are found by a scan of the caches, and only for owners something was seen referencing.
//!
//! The shell is an [`informer::WorkQueue`] of objects ([`Item`]: kind, namespace, name and
//! uid) fed straight from the caches' changes ([`plan::wake`]): an object with owners, to
//! judge it as a dependent; an owner waiting with a collector finalizer, to finish it; an
//! owner being deleted or gone, to wake its dependents; a dependent changed or gone, to
//! wake its owners waiting for it.

pub mod kinds;
pub mod plan;
pub mod slim;

use crate::informers::Informers;
use crate::{Error, Result};
use futures::{Stream, StreamExt};
use informer::{Next, RateLimit, WorkQueue};
use k8s_openapi::api::{batch::v1::CronJob, batch::v1::Job, core::v1::Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kinds::Kind;
use kube::api::{Api, DynamicObject, PartialObjectMeta};
use kube::api::{DeleteParams, Patch, PatchParams, Preconditions, PropagationPolicy};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Resource};
use plan::{DependentAction, Meta, OwnerAction, OwnerPlace, OwnerState, Propagation};
use serde_json::json;
use slim::{Key, Seen, SlimCache};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use tokio_util::sync::CancellationToken;

/// The field manager of the collector's writes.
const MANAGER: &str = "generic-garbage-collector";

/// Retries of a failed sync: client-go's default per-item delays (5 ms doubling), capped
/// at 10 s so a collector write that failed under load is not put off for long.
const RETRY: RateLimit = RateLimit {
    base: std::time::Duration::from_millis(5),
    max: std::time::Duration::from_secs(10),
};

/// An object in the collector's queue.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Item {
    /// Its kind.
    pub kind: Kind,
    /// Namespace (`""` when cluster-scoped) and name.
    pub key: Key,
    /// Its uid: a new object of the same name is another item.
    pub uid: String,
}

/// A dependent found in the caches.
struct Dependent {
    item: Item,
    blocks: bool,
}

struct Collector {
    client: Client,
    pods: Store<Pod>,
    jobs: Store<Job>,
    cronjobs: Store<CronJob>,
    slim: HashMap<Kind, Arc<SlimCache>>,
    /// Uids of owners something was seen referencing: only their deletion scans for
    /// dependents. Entries go when the owner is gone.
    referenced: Mutex<HashSet<String>>,
    queue: WorkQueue<Item>,
}

fn ignore_not_found(res: kube::Result<()>) -> Result<()> {
    match res {
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        other => other.map_err(Error::from),
    }
}

fn key_of(meta: &ObjectMeta) -> Key {
    (
        meta.namespace.clone().unwrap_or_default(),
        meta.name.clone().unwrap_or_default(),
    )
}

fn namespace(key: &Key) -> Option<&str> {
    Some(key.0.as_str()).filter(|ns| !ns.is_empty())
}

impl Collector {
    fn referenced(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.referenced
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn shared_store_get<K>(store: &Store<K>, key: &Key) -> Option<Meta>
    where
        K: Resource<DynamicType = ()> + Clone,
    {
        let r = ObjectRef::new(&key.1);
        let r = if key.0.is_empty() {
            r
        } else {
            r.within(&key.0)
        };
        store.get(&r).map(|o| Meta::of(o.meta()))
    }

    /// The object `key` of `kind` as cached (a sparse kind's unkept objects: `None`).
    fn cached(&self, kind: Kind, key: &Key) -> Option<Meta> {
        match (kind.0.group, kind.0.kind) {
            ("", "Pod") => Self::shared_store_get(&self.pods, key),
            ("batch", "Job") => Self::shared_store_get(&self.jobs, key),
            ("batch", "CronJob") => Self::shared_store_get(&self.cronjobs, key),
            _ => self.slim.get(&kind)?.get(key),
        }
    }

    /// Everything cached that references `uid` as an owner.
    fn dependents(&self, uid: &str) -> Vec<Dependent> {
        let mut out = Vec::new();
        fn scan<K: Resource<DynamicType = ()> + Clone>(
            store: &Store<K>,
            kind: Option<Kind>,
            uid: &str,
            out: &mut Vec<Dependent>,
        ) {
            let Some(kind) = kind else { return };
            for o in store.state() {
                let m = o.meta();
                let blocks = m
                    .owner_references
                    .iter()
                    .flatten()
                    .find(|r| r.uid == uid)
                    .map(|r| r.block_owner_deletion == Some(true));
                if let Some(blocks) = blocks {
                    out.push(Dependent {
                        item: Item {
                            kind,
                            key: key_of(m),
                            uid: m.uid.clone().unwrap_or_default(),
                        },
                        blocks,
                    });
                }
            }
        }
        scan(&self.pods, Kind::of_reference("v1", "Pod"), uid, &mut out);
        scan(
            &self.jobs,
            Kind::of_reference("batch/v1", "Job"),
            uid,
            &mut out,
        );
        let cj = Kind::of_reference("batch/v1", "CronJob");
        scan(&self.cronjobs, cj, uid, &mut out);
        for (kind, cache) in &self.slim {
            for (key, dep_uid, blocks) in cache.dependents(uid) {
                out.push(Dependent {
                    item: Item {
                        kind: *kind,
                        key,
                        uid: dep_uid,
                    },
                    blocks,
                });
            }
        }
        out
    }

    /// The state of the owner `r` of a dependent in `dependent_ns`: from the caches,
    /// confirmed with a live read before anything is called absent (a cache may not have
    /// seen a new owner yet; a sparse kind's owner may not be kept).
    async fn owner(&self, dependent_ns: Option<&str>, r: &OwnerReference) -> Result<OwnerState> {
        // Owners of kinds batchlet does not serve are never called absent.
        let Some(kind) = Kind::of_reference(&r.api_version, &r.kind) else {
            return Ok(OwnerState::Solid);
        };
        let ns = match plan::owner_place(dependent_ns, kind.0.namespaced) {
            OwnerPlace::Namespace(ns) => Some(ns),
            OwnerPlace::Cluster => None,
            OwnerPlace::Nowhere => return Ok(OwnerState::Absent),
        };
        let key = (ns.unwrap_or_default().to_owned(), r.name.clone());
        if let Some(m) = self.cached(kind, &key) {
            let state = m.as_owner(&r.uid);
            if state != OwnerState::Absent {
                return Ok(state);
            }
        }
        let live = kind.api(&self.client, ns).get_opt(&r.name).await?;
        let state = live.map_or(OwnerState::Absent, |o| {
            Meta::of(&o.metadata).as_owner(&r.uid)
        });
        if state == OwnerState::Absent {
            self.referenced().remove(&r.uid);
        }
        Ok(state)
    }

    /// Whether each of `owners` is cached, with its uid, and not waiting for its
    /// dependents ([`OwnerState::Solid`] without a live read; an owner of a kind batchlet
    /// does not serve counts as standing, as in [`owner`](Self::owner)).
    fn owners_stand(&self, dependent_ns: Option<&str>, owners: &[OwnerReference]) -> bool {
        owners.iter().all(|r| {
            let Some(kind) = Kind::of_reference(&r.api_version, &r.kind) else {
                return true;
            };
            let ns = match plan::owner_place(dependent_ns, kind.0.namespaced) {
                OwnerPlace::Namespace(ns) => ns,
                OwnerPlace::Cluster => "",
                OwnerPlace::Nowhere => return false,
            };
            let key = (ns.to_owned(), r.name.clone());
            self.cached(kind, &key)
                .is_some_and(|m| m.as_owner(&r.uid) == OwnerState::Solid)
        })
    }

    fn patch_params() -> PatchParams {
        PatchParams {
            field_manager: Some(MANAGER.into()),
            ..Default::default()
        }
    }

    /// Removes the ownerReferences with `uids` from `item`.
    async fn strip_references(&self, item: &Item, uids: &[String]) -> Result<()> {
        let refs: Vec<_> = uids
            .iter()
            .map(|u| json!({"$patch": "delete", "uid": u}))
            .collect();
        let patch = Patch::Strategic(json!({"metadata": {"ownerReferences": refs}}));
        let api = item.kind.api(&self.client, namespace(&item.key));
        ignore_not_found(
            api.patch(&item.key.1, &Self::patch_params(), &patch)
                .await
                .map(drop),
        )
    }

    /// Removes `finalizer` from `item`, read afresh (its other finalizers are kept; the
    /// write is conditional on what was read).
    async fn remove_finalizer(&self, item: &Item, finalizer: &str) -> Result<()> {
        let api = item.kind.api(&self.client, namespace(&item.key));
        let Some(live) = api.get_opt(&item.key.1).await? else {
            return Ok(());
        };
        let meta = &live.metadata;
        if meta.uid.as_deref() != Some(item.uid.as_str()) {
            return Ok(());
        }
        let all = meta.finalizers.clone().unwrap_or_default();
        if !all.iter().any(|f| f == finalizer) {
            return Ok(());
        }
        let left: Vec<&String> = all.iter().filter(|f| *f != finalizer).collect();
        let patch = Patch::Merge(
            json!({"metadata": {"finalizers": left, "resourceVersion": meta.resource_version}}),
        );
        ignore_not_found(
            api.patch(&item.key.1, &Self::patch_params(), &patch)
                .await
                .map(drop),
        )
    }

    async fn delete(&self, item: &Item, p: Propagation) -> Result<()> {
        tracing::info!(kind = %item.kind.name(), namespace = %item.key.0, name = %item.key.1, propagation = p.as_str(), "collecting dependent of a deleted owner");
        let dp = DeleteParams {
            propagation_policy: Some(match p {
                Propagation::Background => PropagationPolicy::Background,
                Propagation::Foreground => PropagationPolicy::Foreground,
                Propagation::Orphan => PropagationPolicy::Orphan,
            }),
            preconditions: Some(Preconditions {
                uid: Some(item.uid.clone()),
                resource_version: None,
            }),
            ..Default::default()
        };
        let api = item.kind.api(&self.client, namespace(&item.key));
        match api.delete(&item.key.1, &dp).await {
            // 409: the uid precondition failed (the name is another object's now).
            Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => Ok(()),
            other => other.map(drop).map_err(Error::from),
        }
    }

    /// What a change wakes ([`plan::wake`]).
    fn on_change(&self, seen: Seen) {
        let uid = &seen.meta.uid;
        let referenced = self.referenced().contains(uid);
        let wake = plan::wake(&seen.meta, seen.deleted, referenced, || {
            self.owners_stand(namespace(&seen.key), &seen.meta.owners)
        });
        if !seen.deleted && !seen.meta.owners.is_empty() {
            let mut set = self.referenced();
            for r in &seen.meta.owners {
                if !set.contains(&r.uid) {
                    set.insert(r.uid.clone());
                }
            }
        }
        if wake.owners {
            let ns = namespace(&seen.key);
            for r in &seen.meta.owners {
                let Some(kind) = Kind::of_reference(&r.api_version, &r.kind) else {
                    continue;
                };
                let owner_ns = match plan::owner_place(ns, kind.0.namespaced) {
                    OwnerPlace::Namespace(ns) => ns,
                    OwnerPlace::Cluster => "",
                    OwnerPlace::Nowhere => continue,
                };
                let key = (owner_ns.to_owned(), r.name.clone());
                if self
                    .cached(kind, &key)
                    .is_some_and(|m| m.uid == r.uid && m.finalizing())
                {
                    self.queue.add(Item {
                        kind,
                        key,
                        uid: r.uid.clone(),
                    });
                }
            }
        }
        if wake.itself {
            self.queue.add(Item {
                kind: seen.kind,
                key: seen.key,
                uid: seen.meta.uid,
            });
        }
    }

    /// One object's turn: as an owner gone or being deleted, then as a dependent.
    async fn sync(&self, item: &Item) -> Result<()> {
        let Some(meta) = self
            .cached(item.kind, &item.key)
            .filter(|m| m.uid == item.uid)
        else {
            // Gone (or not kept): its dependents find out.
            if self.referenced().remove(&item.uid) {
                for d in self.dependents(&item.uid) {
                    self.queue.add(d.item);
                }
            }
            return Ok(());
        };
        if meta.deleting {
            if !meta.finalizing() {
                // Deleted in the background, or gracefully: its dependents are judged
                // once it is gone (they see it solid until then).
                return Ok(());
            }
            let dependents = self.dependents(&item.uid);
            if meta.foreground && !meta.orphan {
                // Its dependents are deleted first (they see it waiting for them).
                for d in &dependents {
                    self.queue.add(d.item.clone());
                }
            }
            let as_plan: Vec<plan::Dependent> = dependents
                .iter()
                .map(|d| plan::Dependent { blocks: d.blocks })
                .collect();
            match plan::plan_owner(true, &meta.finalizers(), &as_plan) {
                OwnerAction::Nothing => {}
                OwnerAction::Orphan(which) => {
                    for i in which {
                        let d = &dependents[i].item;
                        self.strip_references(d, std::slice::from_ref(&item.uid))
                            .await?;
                    }
                    tracing::info!(kind = %item.kind.name(), namespace = %item.key.0, name = %item.key.1, orphaned = dependents.len(), "orphaned dependents");
                    self.remove_finalizer(item, plan::ORPHAN).await?;
                }
                OwnerAction::RemoveFinalizer(f) => self.remove_finalizer(item, f).await?,
            }
            return Ok(());
        }
        if meta.owners.is_empty() {
            return Ok(());
        }
        let mut owners = Vec::new();
        for r in &meta.owners {
            owners.push(plan::OwnerRef {
                uid: r.uid.clone(),
                state: self.owner(namespace(&item.key), r).await?,
            });
        }
        // Only what something was seen referencing can have dependents (no scan otherwise:
        // a foreground deletion of a Job asks this of each of its pods).
        let has_dependents = || {
            let referenced = self.referenced().contains(&item.uid);
            referenced && !self.dependents(&item.uid).is_empty()
        };
        match plan::plan_dependent(&owners, false, has_dependents, &meta.finalizers()) {
            DependentAction::Nothing => {}
            DependentAction::RemoveOwnerRefs(uids) => self.strip_references(item, &uids).await?,
            DependentAction::Delete(p) => self.delete(item, p).await?,
        }
        Ok(())
    }
}

/// A shared cache's changes as the collector sees them; objects that can wake nothing
/// (no owners, not being deleted, not gone) are skipped before anything is copied.
fn shared_changes<K>(
    kind: Option<Kind>,
    changes: informer::Subscription<K>,
) -> impl Stream<Item = Seen> + Send + 'static
where
    K: Resource<DynamicType = ()> + Send + Sync + 'static,
{
    changes.filter_map(move |c| {
        let seen = kind.and_then(|kind| {
            let deleted = c.is_deleted();
            let m = c.object().meta();
            let quiet = m.owner_references.as_ref().is_none_or(Vec::is_empty)
                && m.deletion_timestamp.is_none()
                && !deleted;
            (!quiet).then(|| Seen {
                kind,
                key: key_of(m),
                meta: Meta::of(m),
                deleted,
            })
        });
        std::future::ready(seen)
    })
}

/// A slim cache's metadata watch, applied to the cache as it is polled.
fn slim_changes(
    client: &Client,
    cache: Arc<SlimCache>,
    kind: Kind,
) -> impl Stream<Item = Seen> + Send + 'static {
    // `PartialObjectMeta` makes the list and watch metadata-only.
    let api =
        Api::<PartialObjectMeta<DynamicObject>>::all_with(client.clone(), &kind.api_resource());
    watcher(api, watcher::Config::default())
        .default_backoff()
        .map(move |ev| {
            futures::stream::iter(match ev {
                Ok(ev) => cache.apply(ev),
                Err(e) => {
                    tracing::warn!(kind = %kind.name(), error = %e, "watch failed; retrying");
                    Vec::new()
                }
            })
        })
        .flatten()
}

/// Runs the garbage collector until `shutdown` is cancelled: the shared caches'
/// changes and its own metadata watches feed a work queue; once every cache holds its first
/// list, each object is judged by one worker task at a time.
pub async fn run(client: Client, informers: Informers, shutdown: CancellationToken) {
    let slim: HashMap<Kind, Arc<SlimCache>> = Kind::all()
        .filter(|k| !k.shared())
        .map(|k| (k, Arc::new(SlimCache::new(k))))
        .collect();
    let collector = Arc::new(Collector {
        client: client.clone(),
        pods: informers.pods.store(),
        jobs: informers.jobs.store(),
        cronjobs: informers.cronjobs.store(),
        slim: slim.clone(),
        referenced: Mutex::default(),
        queue: WorkQueue::new(RETRY),
    });
    let kind = |api_version: &str, kind: &str| Kind::of_reference(api_version, kind);
    let mut sources = vec![
        shared_changes(kind("v1", "Pod"), informers.pods.subscribe()).boxed(),
        shared_changes(kind("batch/v1", "Job"), informers.jobs.subscribe()).boxed(),
        shared_changes(kind("batch/v1", "CronJob"), informers.cronjobs.subscribe()).boxed(),
    ];
    for (k, cache) in &slim {
        sources.push(slim_changes(&client, Arc::clone(cache), *k).boxed());
    }
    let mut changes = futures::stream::select_all(sources);
    let feed = async {
        loop {
            let seen = tokio::select! {
                () = shutdown.cancelled() => return,
                s = changes.next() => s,
            };
            match seen {
                Some(seen) => collector.on_change(seen),
                None => return,
            }
        }
    };
    let ready = async {
        let shared = [
            informers.pods.readiness(),
            informers.jobs.readiness(),
            informers.cronjobs.readiness(),
        ];
        for r in shared {
            r.wait().await.map_err(drop)?;
        }
        for cache in slim.values() {
            if !cache.ready().await {
                return Err(());
            }
        }
        Ok(())
    };
    let work = collector
        .queue
        .run_workers_when_ready(ready, &shutdown, |item: Item| {
            let collector = Arc::clone(&collector);
            async move {
                match collector.sync(&item).await {
                    Ok(()) => Next::AwaitChange,
                    Err(e) => {
                        tracing::warn!(kind = %item.kind.name(), namespace = %item.key.0, name = %item.key.1, error = %e, "garbage collection failed; retrying");
                        Next::Retry
                    }
                }
            }
        });
    tokio::join!(feed, work);
}

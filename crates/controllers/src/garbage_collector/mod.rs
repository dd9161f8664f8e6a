//! The garbage collector: ownerReference cascades for Pods, Jobs and CronJobs.
//!
//! Background deletion removes the owner at once; its dependents are then collected here
//! because their owners are gone. Foreground deletion leaves the owner with the
//! `foregroundDeletion` finalizer: its dependents are deleted here, and the finalizer is
//! removed once no dependent with `blockOwnerDeletion` is left. Orphan deletion leaves the
//! owner with the `orphan` finalizer: the references to it are stripped from its dependents,
//! then the finalizer is removed. The decisions are in [`plan`]; this module only watches
//! and acts.

pub mod plan;

use crate::informers::Informers;
use crate::{Error, Result};
use futures::StreamExt;
use informer::Change;
use k8s_openapi::api::{batch::v1::CronJob, batch::v1::Job, core::v1::Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::{DeleteParams, Patch, PatchParams, Preconditions, PropagationPolicy};
use kube::runtime::Controller;
use kube::runtime::controller::Action;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Client, Resource};
use plan::{DependentAction, OwnerAction, OwnerState, Propagation};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The field manager of the collector's writes.
const MANAGER: &str = "generic-garbage-collector";

struct Context {
    client: Client,
    pods: Store<Pod>,
    jobs: Store<Job>,
    cronjobs: Store<CronJob>,
}

/// A dependent found in the caches.
struct DependentRef {
    kind: &'static str,
    namespace: String,
    name: String,
    blocks: bool,
}

fn references(meta: &ObjectMeta, uid: &str) -> Option<bool> {
    meta.owner_references
        .as_deref()
        .unwrap_or_default()
        .iter()
        .find(|r| r.uid == uid)
        .map(|r| r.block_owner_deletion == Some(true))
}

fn owner_state(meta: &ObjectMeta, uid: &str) -> OwnerState {
    if meta.uid.as_deref() != Some(uid) {
        return OwnerState::Absent;
    }
    let waiting = meta.deletion_timestamp.is_some()
        && meta
            .finalizers
            .as_deref()
            .unwrap_or_default()
            .iter()
            .any(|f| f == plan::FOREGROUND);
    if waiting {
        OwnerState::WaitingForDependents
    } else {
        OwnerState::Solid
    }
}

impl Context {
    /// Everything in the caches that references `uid` as an owner.
    fn dependents(&self, uid: &str) -> Vec<DependentRef> {
        let mut out = Vec::new();
        fn scan<K: Resource<DynamicType = ()> + Clone>(
            store: &Store<K>,
            uid: &str,
            kind: &'static str,
            out: &mut Vec<DependentRef>,
        ) {
            for o in store.state() {
                if let Some(blocks) = references(o.meta(), uid) {
                    out.push(DependentRef {
                        kind,
                        namespace: o.meta().namespace.clone().unwrap_or_default(),
                        name: o.meta().name.clone().unwrap_or_default(),
                        blocks,
                    });
                }
            }
        }
        scan(&self.pods, uid, "Pod", &mut out);
        scan(&self.jobs, uid, "Job", &mut out);
        scan(&self.cronjobs, uid, "CronJob", &mut out);
        out
    }

    /// The state of the owner `r` names, from the cache, confirmed with a live read before
    /// anything is called absent (the cache may not have seen a new owner yet).
    async fn owner(&self, ns: &str, r: &OwnerReference) -> Result<OwnerState> {
        async fn check<K>(
            store: &Store<K>,
            client: &Client,
            ns: &str,
            r: &OwnerReference,
        ) -> Result<OwnerState>
        where
            K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
                + Clone
                + DeserializeOwned
                + Debug,
        {
            if let Some(o) = store.get(&ObjectRef::new(&r.name).within(ns)) {
                let state = owner_state(o.meta(), &r.uid);
                if state != OwnerState::Absent {
                    return Ok(state);
                }
            }
            let live = Api::<K>::namespaced(client.clone(), ns)
                .get_opt(&r.name)
                .await?;
            Ok(live.map_or(OwnerState::Absent, |o| owner_state(o.meta(), &r.uid)))
        }
        match r.kind.as_str() {
            "Pod" => check(&self.pods, &self.client, ns, r).await,
            "Job" => check(&self.jobs, &self.client, ns, r).await,
            "CronJob" => check(&self.cronjobs, &self.client, ns, r).await,
            // Owners of kinds batchlet does not serve are never called absent.
            _ => Ok(OwnerState::Solid),
        }
    }

    async fn strip_reference(&self, d: &DependentRef, uid: &str) -> Result<()> {
        let patch = Patch::Strategic(
            json!({"metadata": {"ownerReferences": [{"$patch": "delete", "uid": uid}]}}),
        );
        let pp = PatchParams::apply(MANAGER);
        let pp = PatchParams {
            force: false,
            field_manager: pp.field_manager,
            ..Default::default()
        };
        let res = match d.kind {
            "Pod" => Api::<Pod>::namespaced(self.client.clone(), &d.namespace)
                .patch(&d.name, &pp, &patch)
                .await
                .map(drop),
            "Job" => Api::<Job>::namespaced(self.client.clone(), &d.namespace)
                .patch(&d.name, &pp, &patch)
                .await
                .map(drop),
            _ => Api::<CronJob>::namespaced(self.client.clone(), &d.namespace)
                .patch(&d.name, &pp, &patch)
                .await
                .map(drop),
        };
        ignore_not_found(res)
    }
}

fn ignore_not_found(res: kube::Result<()>) -> Result<()> {
    match res {
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        other => other.map_err(Error::from),
    }
}

async fn remove_finalizer<K>(api: &Api<K>, meta: &ObjectMeta, finalizer: &str) -> Result<()>
where
    K: Resource + Clone + DeserializeOwned + Debug,
{
    let name = meta
        .name
        .as_deref()
        .ok_or(Error::MissingField("metadata.name"))?;
    let left: Vec<&String> = meta
        .finalizers
        .as_deref()
        .unwrap_or_default()
        .iter()
        .filter(|f| *f != finalizer)
        .collect();
    let patch = Patch::Merge(
        json!({"metadata": {"finalizers": left, "resourceVersion": meta.resource_version}}),
    );
    let pp = PatchParams {
        field_manager: Some(MANAGER.into()),
        ..Default::default()
    };
    ignore_not_found(api.patch(name, &pp, &patch).await.map(drop))
}

async fn reconcile<K>(obj: Arc<K>, ctx: Arc<Context>) -> Result<Action>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + Serialize
        + Debug,
{
    let meta = obj.meta();
    let ns = meta.namespace.clone().unwrap_or_default();
    let name = meta
        .name
        .clone()
        .ok_or(Error::MissingField("metadata.name"))?;
    let uid = meta
        .uid
        .clone()
        .ok_or(Error::MissingField("metadata.uid"))?;
    let api = Api::<K>::namespaced(ctx.client.clone(), &ns);
    let finalizers = meta.finalizers.clone().unwrap_or_default();
    let being_deleted = meta.deletion_timestamp.is_some();
    // As an owner: only an owner being deleted with a collector finalizer needs its
    // dependents looked up (a scan of the caches).
    let has = |f: &str| finalizers.iter().any(|x| x == f);
    if being_deleted && (has(plan::ORPHAN) || has(plan::FOREGROUND)) {
        let dependents = ctx.dependents(&uid);
        let as_plan: Vec<plan::Dependent> = dependents
            .iter()
            .map(|d| plan::Dependent { blocks: d.blocks })
            .collect();
        match plan::plan_owner(being_deleted, &finalizers, &as_plan) {
            OwnerAction::Nothing => {}
            OwnerAction::Orphan(which) => {
                for i in which {
                    ctx.strip_reference(&dependents[i], &uid).await?;
                }
                tracing::info!(kind = K::kind(&()).as_ref(), %ns, %name, orphaned = dependents.len(), "orphaned dependents");
                remove_finalizer(&api, meta, plan::ORPHAN).await?;
                return Ok(Action::await_change());
            }
            OwnerAction::RemoveFinalizer(f) => {
                remove_finalizer(&api, meta, f).await?;
                return Ok(Action::await_change());
            }
        }
    }

    let mut owners = Vec::new();
    for r in meta.owner_references.as_deref().unwrap_or_default() {
        owners.push(plan::OwnerRef {
            uid: r.uid.clone(),
            state: ctx.owner(&ns, r).await?,
        });
    }
    let has_dependents = || !ctx.dependents(&uid).is_empty();
    match plan::plan_dependent(&owners, being_deleted, has_dependents, &finalizers) {
        DependentAction::Nothing => {}
        DependentAction::RemoveOwnerRefs(uids) => {
            let refs: Vec<_> = uids
                .iter()
                .map(|u| json!({"$patch": "delete", "uid": u}))
                .collect();
            let patch = Patch::Strategic(json!({"metadata": {"ownerReferences": refs}}));
            let pp = PatchParams {
                field_manager: Some(MANAGER.into()),
                ..Default::default()
            };
            ignore_not_found(api.patch(&name, &pp, &patch).await.map(drop))?;
        }
        DependentAction::Delete(p) => {
            tracing::info!(kind = K::kind(&()).as_ref(), %ns, %name, propagation = p.as_str(), "collecting dependent of a deleted owner");
            let dp = DeleteParams {
                propagation_policy: Some(match p {
                    Propagation::Background => PropagationPolicy::Background,
                    Propagation::Foreground => PropagationPolicy::Foreground,
                    Propagation::Orphan => PropagationPolicy::Orphan,
                }),
                preconditions: Some(Preconditions {
                    uid: Some(uid),
                    resource_version: None,
                }),
                ..Default::default()
            };
            ignore_not_found(api.delete(&name, &dp).await.map(drop))?;
        }
    }
    Ok(Action::await_change())
}

fn error_policy<K>(obj: Arc<K>, err: &Error, _ctx: Arc<Context>) -> Action
where
    K: Resource<DynamicType = ()>,
{
    tracing::warn!(kind = K::kind(&()).as_ref(), name = obj.meta().name.as_deref().unwrap_or(""), error = %err, "garbage collection failed; retrying");
    Action::requeue(Duration::from_secs(2))
}

/// Objects that are deleted, or start being deleted, among a cache's changes.
fn deletions<K>(changes: informer::Subscription<K>) -> impl futures::Stream<Item = Arc<K>> + Send
where
    K: Resource<DynamicType = ()> + Clone + Send + Sync + 'static,
{
    changes.filter_map(|c| {
        std::future::ready(match c {
            Change::Deleted(o) => Some(o),
            Change::Applied(o) if o.meta().deletion_timestamp.is_some() => Some(o),
            Change::Applied(_) => None,
        })
    })
}

fn dependents_in<K: Resource<DynamicType = ()> + Clone>(
    store: &Store<K>,
    owner: &ObjectMeta,
) -> Vec<ObjectRef<K>> {
    let Some(uid) = owner.uid.as_deref() else {
        return Vec::new();
    };
    store
        .state()
        .iter()
        .filter(|o| references(o.meta(), uid).is_some())
        .map(|o| ObjectRef::from_obj(o.as_ref()))
        .collect()
}

fn owners_of<K: Resource<DynamicType = ()>>(dependent: &ObjectMeta) -> Vec<ObjectRef<K>> {
    let kind = K::kind(&());
    dependent
        .owner_references
        .as_deref()
        .unwrap_or_default()
        .iter()
        .filter(|r| r.kind == kind)
        .map(|r| {
            let o = ObjectRef::new(&r.name);
            match &dependent.namespace {
                Some(ns) => o.within(ns),
                None => o,
            }
        })
        .collect()
}

/// Runs the garbage collector over the shared caches until `shutdown` is cancelled.
pub async fn run(client: Client, informers: Informers, shutdown: CancellationToken) {
    let (pod_cache, job_cache, cronjob_cache) = (
        informers.pods.store(),
        informers.jobs.store(),
        informers.cronjobs.store(),
    );
    let pods = Controller::for_shared_stream(informers.pods.applied(), pod_cache.clone());
    let jobs = Controller::for_shared_stream(informers.jobs.applied(), job_cache.clone());
    let cronjobs =
        Controller::for_shared_stream(informers.cronjobs.applied(), cronjob_cache.clone());
    let ctx = Arc::new(Context {
        client,
        pods: pod_cache,
        jobs: job_cache,
        cronjobs: cronjob_cache,
    });
    // A dependent is looked at again when one of its owners is deleted or starts being
    // deleted (nothing else changes its decision), and an owner when one of its dependents
    // changes. Mapping an owner to its dependents scans a cache, so only deletions do it.
    let (ps, js) = (ctx.pods.clone(), ctx.jobs.clone());
    let pods = pods
        .watches_shared_stream(deletions(informers.jobs.subscribe()), move |j: Arc<Job>| {
            dependents_in(&ps, &j.metadata)
        });
    let jobs = jobs
        .watches_shared_stream(
            deletions(informers.cronjobs.subscribe()),
            move |c: Arc<CronJob>| dependents_in(&js, &c.metadata),
        )
        .watches_shared_stream(informers.pods.touched(), |p: Arc<Pod>| {
            owners_of::<Job>(&p.metadata)
        });
    let cronjobs = cronjobs.watches_shared_stream(informers.jobs.touched(), |j: Arc<Job>| {
        owners_of::<CronJob>(&j.metadata)
    });

    let stop = || {
        let t = shutdown.clone();
        async move { t.cancelled().await }
    };
    let drain = |s: futures::stream::BoxStream<'static, ()>| s.for_each(|_| async {});
    tokio::join!(
        drain(
            pods.graceful_shutdown_on(stop())
                .run(reconcile::<Pod>, error_policy::<Pod>, ctx.clone())
                .map(|_| ())
                .boxed()
        ),
        drain(
            jobs.graceful_shutdown_on(stop())
                .run(reconcile::<Job>, error_policy::<Job>, ctx.clone())
                .map(|_| ())
                .boxed()
        ),
        drain(
            cronjobs
                .graceful_shutdown_on(stop())
                .run(reconcile::<CronJob>, error_policy::<CronJob>, ctx)
                .map(|_| ())
                .boxed()
        ),
    );
}

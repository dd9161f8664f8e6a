//! The Job controller: runs a Job's pods to completion as kube-controller-manager's
//! `job-controller` does (k8s-semantics §2). The decisions are in [`plan`]; this module
//! watches, and carries a plan out in the order the accounting protocol needs: delete and
//! create pods, write the status that lists newly finished pods as uncounted, remove their
//! finalizers, then write the status that counts them (and the terminal condition).
//!
//! The shared Pod cache ([`crate::informers`]) is what `plan` reads, through an index of
//! pods by controlling Job ([`OwnerIndex`]: a sync looks up its own pods, it does not scan
//! every pod; the informer keeps the index with the cache). Two [`WorkQueue`]s, as
//! kube-controller-manager's `queue` and `orphanQueue`, take their keys straight from the
//! caches' changes (no timer between a change and its sync): Job keys from the Job's own
//! changes and from its pods' (the controller reference), pod keys of pods that carry the
//! tracking finalizer for the orphan sync, which releases it when their Job is gone,
//! finished or not their controller. One subscription to the Pod cache feeds, in this
//! order, the expectations, the orphan queue and the Job queue. Timers (the pod-failure
//! backoff, `activeDeadlineSeconds`, stale expectations) are the queue's delayed adds;
//! failed syncs are retried after the queue's per-key delays (1 s doubling to 60 s, the
//! code's `DefaultJobApiBackOff` and `MaxJobApiBackOff`).
//!
//! Where the Kubernetes code and docs disagree, or where batchlet differs, this follows:
//! - the code's pod-failure backoff cap of 10 minutes (`MaxJobPodFailureBackOff`), not the
//!   docs' 6 minutes;
//! - the code's delayed terminal conditions (1.31+): `FailureTarget` / `SuccessCriteriaMet`
//!   first, `Failed` / `Complete` only once no pod is uncounted or terminating;
//! - the code's `CompletionsReached` reason and message on `SuccessCriteriaMet` and
//!   `Complete` (the docs show empty ones);
//! - the code's asymmetry of `backoffLimit`: `restartPolicy: Never` fails on more failed pods
//!   than the limit, `OnFailure` on at least that many container restarts;
//! - the code's Indexed pods: the controller sets `hostname` but not `subdomain` (the user
//!   sets that, with a headless Service); `JOB_COMPLETION_INDEX` reads the index label;
//! - the code's `activeDeadlineSeconds` of a started Job restarts on resume. To make that
//!   write pass the status validation of 1.33 (`startTime` may not change while not
//!   suspended), `startTime` is cleared when the `Suspended` condition is set, as external
//!   queue controllers do; the built-in controller keeps it.
//! - pods are named by the controller (`generateName` plus five characters, recorded
//!   before the create) rather than by the apiserver, so expectations know their names;
//! - the TTL controller (`ttl_after_finished`) deletes in the foreground, as the code does;
//! - a sync reads the Job's pods that are not terminal or still carry the tracking
//!   finalizer ([`pods::matters`]), not every pod it ran as the code's `getPodsForJob`
//!   does: the plan is the same (tested), and a sync costs the live pods, where the code
//!   bounds its cost by syncing a Job at most once a second (`syncJobBatchPeriod`).

pub mod expectations;
pub mod indexes;
mod manage;
pub mod plan;
pub mod pods;
pub mod policy;
#[cfg(test)]
mod tests;
mod tracking;

use crate::events::{Event, Recorder};
use crate::gate::Gate;
use crate::informers::{Informers, controller_ref, controller_uid};
use crate::{Error, Result};
use expectations::Expectations;
use futures::StreamExt;
use informer::{Index, Next, RateLimit, WorkQueue};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ObjectReference, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use kube::core::{Selector, SelectorExt};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Client};
use plan::{Env, JobPlan, PodRef};
use policy::BackoffRecord;
use serde_json::json;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The component name of events and the field manager of writes.
pub const COMPONENT: &str = "job-controller";
/// Concurrent API calls for one Job's finalizer removals.
const PARALLEL_CALLS: usize = 32;
/// Retries of a failed sync (`DefaultJobApiBackOff`, doubling to `MaxJobApiBackOff`).
const RETRY: RateLimit = RateLimit {
    base: Duration::from_secs(1),
    max: Duration::from_secs(60),
};

struct Context {
    client: Client,
    pod_index: Index<Pod>,
    pods: Store<Pod>,
    jobs: Store<Job>,
    expectations: Arc<Expectations>,
    backoff: Mutex<HashMap<String, BackoffRecord>>,
    recorder: Recorder,
    /// CronJobs' creates in flight: a sync waits for them (`gate`).
    gate: Arc<Gate>,
}

fn job_key(job: &Job) -> String {
    format!(
        "{}/{}",
        job.metadata.namespace.as_deref().unwrap_or(""),
        job.metadata.name.as_deref().unwrap_or("")
    )
}

fn object_ref(job: &Job) -> ObjectReference {
    ObjectReference {
        api_version: Some("batch/v1".into()),
        kind: Some("Job".into()),
        name: job.metadata.name.clone(),
        namespace: job.metadata.namespace.clone(),
        uid: job.metadata.uid.clone(),
        resource_version: job.metadata.resource_version.clone(),
        ..Default::default()
    }
}

/// The controller reference of a pod, if it is a batch/v1 Job.
fn controller_of(
    p: &Pod,
) -> Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference> {
    p.metadata
        .owner_references
        .as_deref()?
        .iter()
        .find(|r| r.controller == Some(true))
}

/// The uid of the batch/v1 Job controlling `p` (the pod index's key).
fn job_uid(p: &Pod) -> Option<&str> {
    controller_uid(&p.metadata, "batch/v1", "Job")
}

/// The pod index's key: the uid of the Job controlling `p`, for the pods a sync reads
/// ([`pods::matters`]); counted, finished pods leave the index.
fn indexed_job_uid(p: &Pod) -> Option<&str> {
    if pods::matters(p) { job_uid(p) } else { None }
}

/// The pods of `job` a sync reads: its controller reference (through the index, which
/// holds the pods that matter) and its selector.
fn owned_pods(index: &Index<Pod>, job: &Job) -> Vec<Arc<Pod>> {
    let Some(uid) = job.metadata.uid.as_deref() else {
        return Vec::new();
    };
    let selector: Option<Selector> = job
        .spec
        .as_ref()
        .and_then(|s| s.selector.clone())
        .and_then(|s| Selector::try_from(s).ok());
    let ns = job.metadata.namespace.as_deref();
    let mut owned = index.get(uid);
    owned.retain(|p| p.metadata.namespace.as_deref() == ns);
    owned.retain(|p| {
        let empty = Default::default();
        selector
            .as_ref()
            .is_some_and(|s| s.matches(p.metadata.labels.as_ref().unwrap_or(&empty)))
    });
    owned
}

fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Timestamp::now().as_nanosecond().unsigned_abs());
    h.finish()
}

fn ignore_not_found<T>(res: kube::Result<T>) -> kube::Result<Option<T>> {
    match res {
        Ok(v) => Ok(Some(v)),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(None),
        Err(e) => Err(e),
    }
}

/// Removes the tracking finalizer from a pod with the strategic-merge directive the Go
/// controller sends (`$deleteFromPrimitiveList/finalizers`); a pod already gone is released.
async fn remove_finalizer(api: &Api<Pod>, pod: &Pod) -> kube::Result<()> {
    if !pods::has_finalizer(pod) {
        return Ok(());
    }
    let patch =
        json!({"metadata": {"$deleteFromPrimitiveList/finalizers": [pods::TRACKING_FINALIZER]}});
    let pp = PatchParams {
        field_manager: Some(COMPONENT.into()),
        ..Default::default()
    };
    ignore_not_found(
        api.patch(pods::name(pod), &pp, &Patch::Strategic(patch))
            .await,
    )
    .map(drop)
}

impl Context {
    fn backoff(&self, key: &str) -> BackoffRecord {
        self.backoff
            .lock()
            .ok()
            .and_then(|m| m.get(key).copied())
            .unwrap_or_default()
    }

    fn set_backoff(&self, key: &str, rec: BackoffRecord) {
        if let Ok(mut m) = self.backoff.lock() {
            if rec == BackoffRecord::default() {
                m.remove(key);
            } else {
                m.insert(key.into(), rec);
            }
        }
    }

    async fn emit(&self, job: &Job, events: &[Event]) {
        let r = object_ref(job);
        for ev in events {
            self.recorder.record(&r, ev, Timestamp::now()).await;
        }
    }

    async fn write_status(
        &self,
        api: &Api<Job>,
        job: &Job,
        status: k8s_openapi::api::batch::v1::JobStatus,
    ) -> Result<Job> {
        let name = job
            .metadata
            .name
            .as_deref()
            .ok_or(Error::MissingField("metadata.name"))?;
        let mut next = job.clone();
        next.status = Some(status);
        let pp = PostParams {
            field_manager: Some(COMPONENT.into()),
            ..Default::default()
        };
        Ok(api.replace_status(name, &pp, &next).await?)
    }
}

/// Deletes one pod (with the uid precondition), first releasing `strip`'s finalizer.
async fn delete_one(api: Api<Pod>, pod: PodRef, strip: Option<Arc<Pod>>) -> kube::Result<()> {
    if let Some(p) = strip {
        remove_finalizer(&api, &p).await?;
    }
    let dp = DeleteParams {
        preconditions: Some(Preconditions {
            uid: Some(pod.uid),
            resource_version: None,
        }),
        ..Default::default()
    };
    ignore_not_found(api.delete(&pod.name, &dp).await).map(drop)
}

/// Deletes the plan's pods; emits their events. Errors after every attempt.
async fn delete_pods(
    ctx: &Context,
    job: &Job,
    key: &str,
    owned: &[Arc<Pod>],
    plan: &JobPlan,
) -> Result<()> {
    let ns = job.metadata.namespace.as_deref().unwrap_or("default");
    let api = Api::<Pod>::namespaced(ctx.client.clone(), ns);
    for d in &plan.deletes {
        ctx.expectations.expect_delete(key, &d.pod.uid);
    }
    let mut calls = Vec::new();
    for d in &plan.deletes {
        let stripped = d
            .strip_finalizer
            .then(|| owned.iter().find(|p| pods::uid(p) == d.pod.uid).cloned())
            .flatten();
        calls.push(delete_one(api.clone(), d.pod.clone(), stripped));
    }
    let results: Vec<kube::Result<()>> = futures::stream::iter(calls)
        .buffered(PARALLEL_CALLS)
        .collect()
        .await;
    let mut first_error = None;
    for (d, r) in plan.deletes.iter().zip(results) {
        match r {
            Ok(()) => {
                ctx.emit(
                    job,
                    &[Event::normal(
                        "SuccessfulDelete",
                        format!("Deleted pod: {}", d.pod.name),
                    )],
                )
                .await
            }
            Err(e) => {
                ctx.expectations.deletion_failed(&d.pod.uid);
                ctx.emit(
                    job,
                    &[Event::warning(
                        "FailedDelete",
                        format!("Error deleting: {e}"),
                    )],
                )
                .await;
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

/// Creates the plan's pods in slow-start batches of 1, 2, 4, …; stops at a failing batch.
async fn create_pods(ctx: &Context, job: &Job, key: &str, plan: &JobPlan) -> Result<()> {
    let ns = job.metadata.namespace.as_deref().unwrap_or("default");
    let api = Api::<Pod>::namespaced(ctx.client.clone(), ns);
    let names: Vec<String> = plan
        .creates
        .iter()
        .map(|p| pods::name(p).to_owned())
        .collect();
    ctx.expectations.expect_creates(key, ns, &names);
    let pp = PostParams {
        field_manager: Some(COMPONENT.into()),
        ..Default::default()
    };
    let mut rest: &[Pod] = &plan.creates;
    let mut batch = 1usize;
    while !rest.is_empty() {
        let (now, later) = rest.split_at(batch.min(rest.len()));
        let results = futures::future::join_all(now.iter().map(|p| api.create(&pp, p))).await;
        let mut failed = None;
        for (p, r) in now.iter().zip(results) {
            match r {
                Ok(_) => {
                    ctx.emit(
                        job,
                        &[Event::normal(
                            "SuccessfulCreate",
                            format!("Created pod: {}", pods::name(p)),
                        )],
                    )
                    .await
                }
                Err(e) => {
                    ctx.expectations.creation_failed(ns, pods::name(p));
                    ctx.emit(
                        job,
                        &[Event::warning(
                            "FailedCreate",
                            format!("Error creating: {e}"),
                        )],
                    )
                    .await;
                    failed.get_or_insert(e);
                }
            }
        }
        if let Some(e) = failed {
            for p in later {
                ctx.expectations.creation_failed(ns, pods::name(p));
            }
            return Err(e.into());
        }
        rest = later;
        batch *= 2;
    }
    Ok(())
}

/// Removes the finalizers the plan releases; returns the uids now released and the first
/// error.
async fn release(
    ctx: &Context,
    job: &Job,
    owned: &[Arc<Pod>],
    which: &[PodRef],
) -> (BTreeSet<String>, Option<kube::Error>) {
    let ns = job.metadata.namespace.as_deref().unwrap_or("default");
    let api = Api::<Pod>::namespaced(ctx.client.clone(), ns);
    for r in which {
        ctx.expectations.expect_finalizer_removal(&r.uid);
    }
    let mut calls = Vec::new();
    for r in which {
        let pod = owned.iter().find(|p| pods::uid(p) == r.uid).cloned();
        let api = api.clone();
        calls.push(async move {
            match pod {
                Some(p) => remove_finalizer(&api, &p).await,
                None => Ok(()),
            }
        });
    }
    let results: Vec<kube::Result<()>> = futures::stream::iter(calls)
        .buffered(PARALLEL_CALLS)
        .collect()
        .await;
    let mut done = BTreeSet::new();
    let mut error = None;
    for (r, res) in which.iter().zip(results) {
        match res {
            Ok(()) => {
                done.insert(r.uid.clone());
            }
            Err(e) => {
                ctx.expectations.finalizer_removal_failed(&r.uid);
                error.get_or_insert(e);
            }
        }
    }
    (done, error)
}

async fn reconcile(job: Arc<Job>, ctx: Arc<Context>) -> Result<Next> {
    let key = job_key(&job);
    let ns = job
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| "default".into());
    let api = Api::<Job>::namespaced(ctx.client.clone(), &ns);
    let owned = owned_pods(&ctx.pod_index, &job);
    let env = Env {
        expectations_satisfied: ctx.expectations.satisfied(&key, &owned),
        pending_finalizer_removals: ctx.expectations.pending_finalizer_removals(&owned),
        backoff: ctx.backoff(&key),
        seed: random_seed(),
    };
    let plan = plan::plan(&job, &owned, Timestamp::now(), &env);

    delete_pods(&ctx, &job, &key, &owned, &plan).await?;
    create_pods(&ctx, &job, &key, &plan).await?;
    let mut current = (*job).clone();
    if plan.flush {
        current = match ctx.write_status(&api, &job, plan.status.clone()).await {
            Ok(j) => j,
            Err(Error::Kube(kube::Error::Api(s))) if s.code == 409 => {
                // A stale cache: the watch brings the newer Job and another sync.
                return Ok(Next::After(Duration::from_secs(1)));
            }
            Err(e) => return Err(e),
        };
    }
    ctx.set_backoff(&key, plan.backoff);
    ctx.emit(&job, &plan.events).await;
    let (released, release_error) = release(&ctx, &job, &owned, &plan.remove_finalizers).await;
    let settled = plan.settle.apply(&plan.status, &released, Timestamp::now());
    if settled.changed {
        current = ctx.write_status(&api, &current, settled.status).await?;
        ctx.emit(&current, &settled.events).await;
    }
    if let Some(e) = release_error {
        return Err(e.into());
    }
    if current.status.as_ref().is_some_and(plan::is_finished) {
        ctx.expectations.forget(&key);
        ctx.set_backoff(&key, BackoffRecord::default());
        return Ok(Next::AwaitChange);
    }
    if !env.expectations_satisfied {
        return Ok(Next::After(Duration::from_secs(5)));
    }
    Ok(plan.requeue_after.map_or(Next::AwaitChange, Next::After))
}

/// `syncJob` for one key: the cached Job's sync; a Job no longer cached has its
/// expectations and backoff forgotten, as the code's sync of a deleted Job does.
async fn sync_job(key: ObjectRef<Job>, ctx: Arc<Context>) -> Next {
    // The minute's CronJob creates first; then this sync, on what is cached by then.
    ctx.gate.deferred().await;
    let Some(job) = ctx.jobs.get(&key) else {
        let k = format!("{}/{}", key.namespace.as_deref().unwrap_or(""), key.name);
        ctx.expectations.forget(&k);
        ctx.set_backoff(&k, BackoffRecord::default());
        return Next::AwaitChange;
    };
    // Boxed: the sync waits above, small, while a crowded minute's creates go first (one
    // waiting sync per new Job; the reconcile's future is ≈ 11 KB: BENCHMARKS.md finding 31).
    Box::pin(reconcile(job, ctx)).await.unwrap_or_else(|e| {
        tracing::warn!(job = %key, error = %e, "job sync failed; retrying");
        Next::Retry
    })
}

/// `syncOrphanPod`: whether a pod's tracking finalizer is released because no live,
/// unfinished batch/v1 Job controls it. `job` is its controller as found (None: absent).
pub fn orphan_releasable(pod: &Pod, job: Option<&Job>) -> bool {
    if !pods::has_finalizer(pod) {
        return false;
    }
    let Some(r) = controller_of(pod) else {
        return true;
    };
    if r.kind != "Job" || r.api_version != "batch/v1" {
        return false;
    }
    let Some(job) = job.filter(|j| j.metadata.uid.as_deref() == Some(r.uid.as_str())) else {
        return true;
    };
    let spec = job.spec.as_ref();
    if spec
        .and_then(|s| s.managed_by.as_deref())
        .is_some_and(|m| m != "kubernetes.io/job-controller")
    {
        return false;
    }
    job.status.as_ref().is_some_and(plan::is_finished)
}

async fn reconcile_orphan(pod: Arc<Pod>, ctx: Arc<Context>) -> Result<Next> {
    if !pods::has_finalizer(&pod) {
        return Ok(Next::AwaitChange);
    }
    let ns = pod
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| "default".into());
    let Some(r) = controller_of(&pod).cloned() else {
        remove_finalizer(&Api::namespaced(ctx.client.clone(), &ns), &pod).await?;
        return Ok(Next::AwaitChange);
    };
    let mut job = ctx
        .jobs
        .get(&ObjectRef::new(&r.name).within(&ns))
        .map(|j| (*j).clone());
    let terminating = pod.metadata.deletion_timestamp.is_some();
    let cached_stale = job
        .as_ref()
        .is_none_or(|j| j.metadata.uid.as_deref() != Some(r.uid.as_str()));
    // The cache may not have seen the Job yet (ask before releasing), or may not have seen
    // its deletion yet: the collector deletes the pods of a Job just deleted, and their
    // deletion may reach us first. Go's `deleteJob` enqueues those pods again; we ask.
    if cached_stale || (terminating && !orphan_releasable(&pod, job.as_ref())) {
        job = ignore_not_found(
            Api::<Job>::namespaced(ctx.client.clone(), &ns)
                .get(&r.name)
                .await,
        )?;
    }
    if orphan_releasable(&pod, job.as_ref()) {
        tracing::debug!(
            pod = pods::name(&pod),
            "releasing the tracking finalizer of an orphan pod"
        );
        remove_finalizer(&Api::namespaced(ctx.client.clone(), &ns), &pod).await?;
        return Ok(Next::AwaitChange);
    }
    // A terminating pod that a live Job still holds is released by that Job's sync; look
    // again later in case the Job goes away without another event for this pod.
    Ok(if terminating {
        Next::After(Duration::from_secs(5))
    } else {
        Next::AwaitChange
    })
}

/// `syncOrphanPod` for one key: the cached pod's.
async fn sync_orphan(key: ObjectRef<Pod>, ctx: Arc<Context>) -> Next {
    let Some(pod) = ctx.pods.get(&key) else {
        return Next::AwaitChange;
    };
    reconcile_orphan(pod, ctx).await.unwrap_or_else(|e| {
        tracing::warn!(pod = %key.name, error = %e, "orphan pod cleanup failed; retrying");
        Next::Retry
    })
}

/// The key of the batch/v1 Job controlling `pod`, if any.
fn controller_key(pod: &Pod) -> Option<ObjectRef<Job>> {
    let r = controller_ref(&pod.metadata, "batch/v1", "Job")?;
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    Some(ObjectRef::new(&r.name).within(ns))
}

/// Feeds the caches' changes to the expectations and both queues, until shutdown: a Job's
/// change adds its key (a deletion too, whose sync forgets it); a pod's change is observed
/// by the expectations first, then adds the pod's key to the orphan queue if it carries the
/// tracking finalizer, and its controlling Job's key.
async fn feed(
    pod_changes: informer::Subscription<Pod>,
    job_changes: informer::Subscription<Job>,
    expectations: &Expectations,
    jobs: &WorkQueue<ObjectRef<Job>>,
    orphans: &WorkQueue<ObjectRef<Pod>>,
    shutdown: &CancellationToken,
) {
    let mut changes = futures::stream::select(
        pod_changes.map(futures::future::Either::Left),
        job_changes.map(futures::future::Either::Right),
    );
    loop {
        let change = tokio::select! {
            () = shutdown.cancelled() => break,
            c = changes.next() => c,
        };
        match change {
            None => break,
            Some(futures::future::Either::Right(change)) => {
                jobs.add(informer::key(change.object().as_ref()))
            }
            Some(futures::future::Either::Left(change)) => {
                let deleted = change.is_deleted();
                let pod = change.object();
                expectations.observe(pod, deleted);
                if pods::has_finalizer(pod) && !deleted {
                    orphans.add(informer::key(pod.as_ref()));
                }
                if let Some(job) = controller_key(pod) {
                    jobs.add(job);
                }
            }
        }
    }
}

/// Runs the Job controller over the shared caches until `shutdown` is cancelled: the feed
/// of both queues, and once the Pod and Job caches hold their first lists, the workers of
/// each queue (each key synced by one task at a time, against the object as cached when
/// its sync starts). Shutdown stops the feed and waits for the running syncs.
pub async fn run(
    client: Client,
    informers: Informers,
    gate: Arc<Gate>,
    shutdown: CancellationToken,
) {
    let pod_changes = informers.pods.subscribe();
    let job_changes = informers.jobs.subscribe();
    let expectations = Arc::new(Expectations::default());
    let ctx = Arc::new(Context {
        recorder: Recorder::new(client.clone(), COMPONENT),
        client,
        pod_index: informers.pods.index(indexed_job_uid),
        pods: informers.pods.store(),
        jobs: informers.jobs.store(),
        expectations: expectations.clone(),
        backoff: Mutex::new(HashMap::new()),
        gate,
    });
    let jobs = WorkQueue::new(RETRY);
    let orphans = WorkQueue::new(RETRY);
    let (pods_ready, jobs_ready) = (informers.pods.readiness(), informers.jobs.readiness());
    let work = async {
        let ready = || async { pods_ready.wait().await.and(jobs_ready.wait().await) };
        tokio::join!(
            jobs.run_workers_when_ready(ready(), &shutdown, |key| sync_job(key, Arc::clone(&ctx))),
            orphans.run_workers_when_ready(ready(), &shutdown, |key| {
                sync_orphan(key, Arc::clone(&ctx))
            }),
        );
    };
    tokio::join!(
        feed(
            pod_changes,
            job_changes,
            &expectations,
            &jobs,
            &orphans,
            &shutdown
        ),
        work
    );
}

//! The CronJob controller (kube-controller-manager's `cronjob-controller` v2,
//! k8s-semantics §3): creates a Job for each scheduled time, applies `concurrencyPolicy`,
//! `suspend`, `startingDeadlineSeconds` and the history limits, and keeps `status.active`,
//! `lastScheduleTime` and `lastSuccessfulTime`. The decisions are in [`plan`]; this module
//! watches CronJobs and the Jobs they control, carries a plan out and writes the status
//! through the `status` subresource.
//!
//! Children are found through an index of the shared Job cache by controlling CronJob
//! ([`OwnerIndex`]), fed by the same subscription that wakes a CronJob when one of its Jobs
//! changes; a sync does not scan every Job.
//!
//! The shared cache keeps CronJobs without their Job template
//! ([`crate::informers::slim_cronjob`]), and the template aside as JSON
//! ([`JobTemplates`]): a sync that creates a Job writes the Job's body around the template
//! kept for the cached version ([`job::job_body`]: the template's spec is copied as JSON,
//! not decoded), as the Go controller reads the CronJob from its lister. If none is kept
//! for that version (or the sync sees an unexpected Job), it reads the CronJob with a GET
//! and plans again on what it read.
//!
//! The syncs are the workers of a [`WorkQueue`] of CronJob keys, fed straight from the
//! caches' changes: a CronJob's own, and its Jobs' (the controller reference). Each CronJob
//! is woken at its next scheduled time by a delayed add (one timer per CronJob in the
//! queue, no polling), or at once when it or one of its Jobs changes, exactly at the
//! scheduled time (no 100 ms padding: [`times::requeue_after`]). A failed sync is retried
//! after client-go's default per-key delays (5 ms doubling to 1,000 s), as the Go
//! controller's queue does.
//!
//! When many CronJobs are due at once, their Jobs are created first: at most
//! [`CONCURRENT_SYNCS`] syncs run their busy part (a `Turn`: a queue slot and a create
//! counted by the shared [`Gate`], from the sync's start to its create's answer; the keys
//! still queued count in the gate too), and each sync's `SuccessfulCreate` Event and status
//! update wait, outside its slot, until no create is in flight or queued (as do the Job
//! controller's syncs), so the Jobs reach the store together (one fsync for many) and the
//! minute's last Job is not queued behind the others' Events and status writes.
//!
//! Where batchlet follows the Kubernetes code rather than its docs, or differs:
//! - more than 100 missed times warn (`TooManyMissedTimes`) and still start the most recent;
//! - Jobs made by `kubectl create job --from=cronjob/X` (annotation
//!   `cronjob.kubernetes.io/instantiate: manual`) are not children: not active, no
//!   `UnexpectedJob`, not counted for `lastSuccessfulTime`, never pruned by the history
//!   limits (issue 6's acceptance; k8s-semantics §7 items 7 and 8). **This differs from
//!   Kubernetes' code with kubectl 1.33**: that kubectl sets `controller: true` on the
//!   ownerReference (observed here; k8s-semantics §6 says otherwise), so the Go controller
//!   counts the Job as a child, warns `UnexpectedJob` while it runs and prunes it once it
//!   has finished. Only the annotation decides; the cascade on CronJob deletion is unchanged;
//! - children are matched on the controller reference's name *and* uid (Kubernetes' list
//!   step checks the name only);
//! - every run that is not started gets a `MissSchedule` Warning naming it ([`missed`]);
//! - an `@every` schedule under a minute names Jobs by seconds ([`job::child_job_name`]);
//! - a failed history deletion is reported (`FailedDelete`) and the sync goes on, as in
//!   Kubernetes; a failed `Replace` deletion ends the sync before the create.

pub mod job;
pub mod missed;
pub mod plan;
#[cfg(test)]
mod tests;
pub mod times;

use crate::events::{Event, Recorder};
use crate::gate::{Creating, Gate};
use crate::informers::{Informers, JobTemplates, KeptTemplate, controller_ref, controller_uid};
use crate::{Error, Result};
use futures::StreamExt;
use informer::{Index, Next, RateLimit, Strip, WorkQueue};
use k8s_openapi::api::batch::v1::{CronJob, Job, JobTemplateSpec};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, PostParams, Preconditions, PropagationPolicy};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Client};
use plan::{CronJobPlan, JobRef};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::OwnedSemaphorePermit;
use tokio_util::sync::CancellationToken;

/// The component name of events and the field manager of writes.
pub const COMPONENT: &str = "cronjob-controller";

/// Syncs between their start and their create's answer at one time: enough for the store
/// to commit many creates per fsync, few enough that the first Job of a minute is not
/// queued behind thousands of creates (nor the watch that reports it behind thousands of
/// runnable tasks). 64 kept two cores busier than 32 while creates waited for their commit
/// (BENCHMARKS.md finding 31); once a due sync no longer reads its CronJob, 128 made the
/// commits bigger and fewer (the pages every commit writes again: finding 41), 256 no
/// better.
pub const CONCURRENT_SYNCS: usize = 128;

/// A sync's turn: one of the queue's [`CONCURRENT_SYNCS`] slots, and a create counted by the
/// [`Gate`], held from the sync's start until its create is answered (or it has nothing to
/// create). Keys still queued count in the gate too ([`Gate::count_backlog`]).
struct Turn {
    _creating: Creating,
    _slot: OwnedSemaphorePermit,
}

struct Context {
    client: Client,
    cronjobs: Store<CronJob>,
    templates: JobTemplates,
    job_index: Index<Job>,
    recorder: Recorder,
    gate: Arc<Gate>,
}

/// The uid of the batch/v1 CronJob controlling `j` (the Job index's key).
fn cronjob_uid(j: &Job) -> Option<&str> {
    controller_uid(&j.metadata, "batch/v1", "CronJob")
}

fn key(cj: &CronJob) -> String {
    format!(
        "{}/{}",
        cj.metadata.namespace.as_deref().unwrap_or(""),
        cj.metadata.name.as_deref().unwrap_or("")
    )
}

fn object_ref(cj: &CronJob) -> ObjectReference {
    ObjectReference {
        api_version: Some("batch/v1".into()),
        kind: Some("CronJob".into()),
        name: cj.metadata.name.clone(),
        namespace: cj.metadata.namespace.clone(),
        uid: cj.metadata.uid.clone(),
        resource_version: cj.metadata.resource_version.clone(),
        ..Default::default()
    }
}

fn job_ref(j: &Job) -> ObjectReference {
    ObjectReference {
        api_version: Some("batch/v1".into()),
        kind: Some("Job".into()),
        name: j.metadata.name.clone(),
        namespace: j.metadata.namespace.clone(),
        uid: j.metadata.uid.clone(),
        resource_version: j.metadata.resource_version.clone(),
        ..Default::default()
    }
}

/// An API error's message as the apiserver wrote it.
fn message(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => s.message.clone(),
        other => other.to_string(),
    }
}

fn is_code(e: &kube::Error, code: u16) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == code)
}

impl Context {
    async fn emit(&self, cj: &CronJob, events: &[Event]) {
        let r = object_ref(cj);
        for ev in events {
            // Boxed: the sync futures that wait on this stay small.
            Box::pin(self.recorder.record(&r, ev, Timestamp::now())).await;
        }
    }

    /// The children in the cache (shared with it, not cloned: a crowded minute syncs every
    /// due CronJob with its history of Jobs), plus active Jobs the cache has not seen yet
    /// (read from the apiserver, so that a slow watch does not look like a missing Job).
    async fn children(&self, api: &Api<Job>, cj: &CronJob) -> Result<Vec<Arc<Job>>> {
        let uid = cj.metadata.uid.as_deref().unwrap_or_default();
        let mut jobs: Vec<Arc<Job>> = self
            .job_index
            .get(uid)
            .into_iter()
            .filter(|j| plan::is_child(j, cj))
            .collect();
        let active = cj.status.as_ref().and_then(|s| s.active.clone());
        for r in active.unwrap_or_default() {
            if jobs.iter().any(|j| j.metadata.uid == r.uid) {
                continue;
            }
            let name = r.name.as_deref().unwrap_or("");
            match Box::pin(api.get(name)).await {
                Ok(j) if j.metadata.uid == r.uid => jobs.push(Arc::new(j)),
                Ok(_) => {}
                Err(e) if is_code(&e, 404) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(jobs)
    }

    /// Deletes one Job (Background, uid precondition); a Job already gone counts as deleted.
    async fn delete(&self, api: &Api<Job>, cj: &CronJob, d: &JobRef) -> bool {
        let dp = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Background),
            preconditions: Some(Preconditions {
                uid: Some(d.uid.clone()),
                resource_version: None,
            }),
            ..Default::default()
        };
        // Only the outcome is kept: the deleted Job would sit in the sync's future.
        let deleted = Box::pin(api.delete(&d.name, &dp)).await.map(|_| ());
        match deleted {
            Ok(_) => {}
            Err(e) if is_code(&e, 404) => {}
            Err(e) => {
                let ev = Event::warning("FailedDelete", format!("Deleted job: {}", message(&e)));
                self.emit(cj, &[ev]).await;
                return false;
            }
        }
        let ev = Event::normal("SuccessfulDelete", format!("Deleted job {}", d.name));
        self.emit(cj, &[ev]).await;
        true
    }
}

/// Creates the plan's Job (its body written around `template` when one is kept for `cj`'s
/// version); adds it to the status. `Err` after `FailedCreate`.
/// The sync's `turn` ends once the create is answered.
async fn create(
    ctx: &Context,
    api: &Api<Job>,
    cj: &CronJob,
    p: &mut CronJobPlan,
    template: Option<&KeptTemplate>,
    turn: Option<Turn>,
) -> std::result::Result<(), kube::Error> {
    // Big values live in boxes: the sync's future waits, small, for the minute's other
    // creates (one per due CronJob alive at once: BENCHMARKS.md finding 31).
    let Some(c) = p.create.take().map(Box::new) else {
        return Ok(());
    };
    let pp = PostParams {
        field_manager: Some(COMPONENT.into()),
        ..Default::default()
    };
    let name = c.job.metadata.name.clone().unwrap_or_default();
    let ns = cj.metadata.namespace.as_deref().unwrap_or("default");
    let body = match template {
        Some(t) => job::job_body(&c.job, t),
        None => serde_json::to_vec(&c.job),
    };
    let made = match body {
        Ok(body) => Box::pin(create_job(&ctx.client, ns, &pp, body)).await,
        Err(e) => Err(kube::Error::SerdeError(e)),
    };
    drop(turn);
    // The Job is sent: neither it nor its body is kept while this sync waits for the
    // minute's other creates (one sync per due CronJob in a crowded minute).
    let scheduled = c.scheduled;
    drop(c);
    let made = match made {
        Ok(r) => {
            // Other CronJobs' Jobs of this minute first; this one's Event and status next.
            ctx.gate.deferred().await;
            let ev = Event::normal("SuccessfulCreate", format!("Created job {name}"));
            ctx.emit(cj, &[ev]).await;
            r
        }
        Err(e) if is_code(&e, 409) => {
            // Created before, by this controller (the status write was lost) or by
            // someone else: adopt it only if it is ours and not yet active.
            let j = Box::new(Box::pin(api.get(&name)).await?);
            let active = p.status.active.iter().flatten();
            if !plan::is_child(&j, cj) || active.clone().any(|r| r.uid == j.metadata.uid) {
                return Ok(());
            }
            tracing::info!(cronjob = %key(cj), job = %name, "Job already exists");
            job_ref(&j)
        }
        Err(e) => {
            let ev = Event::warning(
                "FailedCreate",
                format!("Error creating job: {}", message(&e)),
            );
            ctx.emit(cj, &[ev]).await;
            return Err(e);
        }
    };
    p.status.active.get_or_insert_with(Vec::new).push(made);
    p.status.last_schedule_time = Some(Time(scheduled));
    p.status_changed = true;
    Ok(())
}

/// The fields of a created Job that its reference in the CronJob's status needs.
#[derive(serde::Deserialize)]
struct Created {
    metadata: CreatedMeta,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreatedMeta {
    name: Option<String>,
    namespace: Option<String>,
    uid: Option<String>,
    resource_version: Option<String>,
}

/// Creates the Job `body` in `namespace` (`Api::create`'s request) and reads back only its
/// reference: the answer's spec, status and managedFields are skipped, not decoded into a
/// typed Job that would be dropped at once (one per due CronJob in a crowded minute).
async fn create_job(
    client: &Client,
    namespace: &str,
    pp: &PostParams,
    body: Vec<u8>,
) -> std::result::Result<ObjectReference, kube::Error> {
    use kube::Resource;
    let url = Job::url_path(&(), Some(namespace));
    let mut req = kube::core::Request::new(url)
        .create(pp, body)
        .map_err(kube::Error::BuildRequest)?;
    req.extensions_mut().insert("create");
    let made: Created = client.request(req).await?;
    let m = made.metadata;
    Ok(ObjectReference {
        api_version: Some("batch/v1".into()),
        kind: Some("Job".into()),
        name: m.name,
        namespace: m.namespace,
        uid: m.uid,
        resource_version: m.resource_version,
        ..Default::default()
    })
}

async fn reconcile(obj: Arc<CronJob>, ctx: &Context, turn: Turn) -> Result<Next> {
    let ns = obj.metadata.namespace.as_deref().unwrap_or("default");
    let name = obj
        .metadata
        .name
        .clone()
        .ok_or(Error::MissingField("metadata.name"))?;
    let jobs_api = Api::<Job>::namespaced(ctx.client.clone(), ns);
    let cj_api = Api::<CronJob>::namespaced(ctx.client.clone(), ns);
    let mut cj = Arc::clone(&obj);
    let mut jobs = Box::pin(ctx.children(&jobs_api, &cj)).await?;
    let (now, started) = (Timestamp::now(), Instant::now());
    let mut p = Box::new(plan::plan(&cj, &jobs, now));
    // Nothing to create: others' creates go on without this sync.
    let mut turn = p.create.is_some().then_some(turn);
    // The cached CronJob has no Job template (`informers::slim_cronjob`): a sync that
    // creates a Job writes its body around the template kept for this version.
    let kept = p.unexpected.is_empty() && p.create.is_some();
    let template = kept.then(|| ctx.templates.get(&cj)).flatten();
    if template.is_none() && (!p.unexpected.is_empty() || p.create.is_some()) {
        // None kept for this version, or an unexpected Job: read the CronJob (the cache
        // may not have seen our own last status write yet: `GetCronJob`).
        let mut fresh = match Box::pin(cj_api.get(&name)).await {
            Ok(c) => Box::new(c),
            Err(e) if is_code(&e, 404) => return Ok(Next::AwaitChange),
            Err(e) => return Err(e.into()),
        };
        Strip::ManagedFields.apply(&mut *fresh);
        if fresh.metadata.resource_version != cj.metadata.resource_version {
            jobs = Box::pin(ctx.children(&jobs_api, &fresh)).await?;
        }
        *p = plan::plan(&fresh, &jobs, now);
        if p.create.is_none() {
            turn = None;
        }
        // The plan's Job holds the template: the CronJob this sync keeps while it waits
        // for the minute's other creates does not. The status write that follows carries
        // the CronJob without its template: the status subresource keeps the stored spec,
        // whatever the body says.
        cj = without_template(fresh);
    }
    for d in &p.prune {
        ctx.delete(&jobs_api, &cj, d).await;
    }
    ctx.emit(&cj, &p.events).await;
    for d in &p.replace {
        if !ctx.delete(&jobs_api, &cj, d).await {
            return Err(Error::Kube(kube::Error::Service(
                format!("could not replace job {ns}/{}", d.name).into(),
            )));
        }
    }
    let created = create(ctx, &jobs_api, &cj, &mut p, template.as_deref(), turn).await;
    if p.status_changed {
        let mut next = Box::new((*cj).clone());
        next.status = Some(p.status.clone());
        let pp = PostParams {
            field_manager: Some(COMPONENT.into()),
            ..Default::default()
        };
        match Box::pin(cj_api.replace_status(&name, &pp, &next)).await {
            Ok(_) => {}
            // A stale cache: the watch brings the newer CronJob and another sync.
            Err(e) if is_code(&e, 409) => return Ok(Next::After(Duration::from_secs(1))),
            Err(e) if is_code(&e, 404) => return Ok(Next::AwaitChange),
            Err(e) => return Err(e.into()),
        }
    }
    created?;
    // The delay counts from the plan's `now`, not from the end of this sync: a sync slowed
    // down by a crowd must not wake the next run late.
    Ok(p.requeue_after.map_or(Next::AwaitChange, |d| {
        Next::After(d.saturating_sub(started.elapsed()))
    }))
}

/// `cj` without its Job template (a plain function: the template's default value is not
/// a temporary of the sync's future).
fn without_template(mut cj: Box<CronJob>) -> Arc<CronJob> {
    if let Some(spec) = cj.spec.as_mut() {
        spec.job_template = JobTemplateSpec::default();
    }
    Arc::from(cj)
}

/// One key's sync, in its `turn`: the cached CronJob's (a CronJob no longer cached needs
/// nothing).
async fn sync(key: ObjectRef<CronJob>, ctx: Arc<Context>, turn: Turn) -> Next {
    let Some(cj) = ctx.cronjobs.get(&key) else {
        return Next::AwaitChange;
    };
    reconcile(cj, &ctx, turn).await.unwrap_or_else(|e| {
        tracing::warn!(cronjob = %key, error = %e, "cronjob sync failed; retrying");
        Next::Retry
    })
}

/// The key of the CronJob controlling `j`, if any.
fn controller_key(j: &Job) -> Option<ObjectRef<CronJob>> {
    let r = controller_ref(&j.metadata, "batch/v1", "CronJob")?;
    Some(ObjectRef::new(&r.name).within(j.metadata.namespace.as_deref().unwrap_or("default")))
}

/// Feeds the caches' changes to the queue until shutdown: a CronJob's change adds its key
/// (a deletion too, whose sync finds nothing, and whose kept template is dropped), a Job's
/// change its controlling CronJob's.
async fn feed(
    templates: &JobTemplates,
    cronjob_changes: informer::Subscription<CronJob>,
    job_changes: informer::Subscription<Job>,
    queue: &WorkQueue<ObjectRef<CronJob>>,
    shutdown: &CancellationToken,
) {
    let mut changes = futures::stream::select(
        cronjob_changes.map(|c| {
            if let (true, Some(uid)) = (c.is_deleted(), c.object().metadata.uid.as_deref()) {
                templates.forget(uid);
            }
            Some(informer::key(c.object().as_ref()))
        }),
        job_changes.map(|c| controller_key(c.object())),
    );
    loop {
        let change = tokio::select! {
            () = shutdown.cancelled() => break,
            c = changes.next() => c,
        };
        match change {
            None => break,
            Some(Some(key)) => queue.add(key),
            Some(None) => {}
        }
    }
}

/// Runs the CronJob controller over the shared caches until `shutdown` is cancelled: the
/// feed of the queue and, once the CronJob and Job caches hold their first lists, its
/// workers. Shutdown stops the feed and waits for the running syncs.
pub async fn run(
    client: Client,
    informers: Informers,
    gate: Arc<Gate>,
    shutdown: CancellationToken,
) {
    let cronjob_changes = informers.cronjobs.subscribe();
    let job_changes = informers.jobs.subscribe();
    let ctx = Arc::new(Context {
        recorder: Recorder::new(client.clone(), COMPONENT),
        client,
        cronjobs: informers.cronjobs.store(),
        templates: informers.cronjob_templates.clone(),
        job_index: informers.jobs.index(cronjob_uid),
        gate,
    });
    let queue = WorkQueue::new(RateLimit::CLIENT_GO);
    ctx.gate.count_backlog({
        let queue = queue.clone();
        move || queue.backlog()
    });
    let (cronjobs_ready, jobs_ready) = (informers.cronjobs.readiness(), informers.jobs.readiness());
    let ready = async { cronjobs_ready.wait().await.and(jobs_ready.wait().await) };
    let work = async {
        if queue.wait_ready(ready, &shutdown).await {
            // The turn's gate guard is taken as the key leaves the queue (the backlog).
            let syncs = |key, slot| {
                let turn = Turn {
                    _creating: ctx.gate.creating(),
                    _slot: slot,
                };
                sync(key, Arc::clone(&ctx), turn)
            };
            queue
                .run_slotted_workers(&shutdown, CONCURRENT_SYNCS, syncs)
                .await;
        }
    };
    // On shutdown the queue's backlog counts no more, and syncs waiting for the minute's
    // creates (`Gate::deferred`) go on at once.
    let release = async {
        shutdown.cancelled().await;
        queue.shut_down();
        ctx.gate.wake();
    };
    tokio::join!(
        feed(
            &ctx.templates,
            cronjob_changes,
            job_changes,
            &queue,
            &shutdown
        ),
        work,
        release
    );
}

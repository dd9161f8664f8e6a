//! The TTL-after-finished controller (k8s-semantics §4.1): a finished Job (Complete=True or
//! Failed=True) with `ttlSecondsAfterFinished` is deleted that many seconds after the
//! condition's `lastTransitionTime`. The deletion is Foreground, as in the Kubernetes code
//! (the Job stays, Terminating, until the garbage collector has deleted its pods), with a
//! UID precondition so a new Job of the same name is never deleted. Before deleting, the
//! Job is read afresh and judged again: its TTL may have been extended. The shell is a
//! [`WorkQueue`] of Job keys fed straight from the Job cache's changes; the time left is a
//! delayed add, a failed deletion is retried after client-go's default per-key delays.

use crate::informers::Informers;
use crate::{Error, Result};
use futures::StreamExt;
use informer::{Change, Next, RateLimit, WorkQueue};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, Preconditions, PropagationPolicy};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Client};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// What to do with a Job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TtlAction {
    /// Nothing: no TTL, not finished, or already being deleted.
    Nothing,
    /// Look again after this long: the TTL has not expired yet.
    Requeue(Duration),
    /// The TTL has expired: delete it.
    Delete,
}

/// When the Job finished: the `lastTransitionTime` of its Complete or Failed condition.
pub fn finished_at(job: &Job) -> Option<Timestamp> {
    job.status
        .as_ref()?
        .conditions
        .as_deref()?
        .iter()
        .find(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True")?
        .last_transition_time
        .as_ref()
        .map(|t| t.0)
}

/// Whether `job` is queued at all (Go's `needsCleanup`, checked by its event handlers): not
/// being deleted, finished, with a TTL. A Job of a crowded minute (10,000 CronJobs due at
/// once) is none of these, and costs the controller no sync.
pub fn needs_cleanup(job: &Job) -> bool {
    job.metadata.deletion_timestamp.is_none()
        && job
            .spec
            .as_ref()
            .is_some_and(|s| s.ttl_seconds_after_finished.is_some())
        && finished_at(job).is_some()
}

/// Decides what to do with `job` at `now` (`processJob` / `timeLeft`).
pub fn plan(job: &Job, now: Timestamp) -> TtlAction {
    if job.metadata.deletion_timestamp.is_some() {
        return TtlAction::Nothing;
    }
    let Some(ttl) = job.spec.as_ref().and_then(|s| s.ttl_seconds_after_finished) else {
        return TtlAction::Nothing;
    };
    let Some(finished) = finished_at(job) else {
        return TtlAction::Nothing;
    };
    let expires = finished.as_second().saturating_add(i64::from(ttl.max(0)));
    let left_ms = expires
        .saturating_mul(1000)
        .saturating_sub(now.as_millisecond());
    if left_ms > 0 {
        TtlAction::Requeue(Duration::from_millis(left_ms.unsigned_abs()))
    } else {
        TtlAction::Delete
    }
}

struct Context {
    client: Client,
}

async fn reconcile(job: Arc<Job>, ctx: Arc<Context>) -> Result<Next> {
    match plan(&job, Timestamp::now()) {
        TtlAction::Nothing => return Ok(Next::AwaitChange),
        TtlAction::Requeue(d) => return Ok(Next::After(d)),
        TtlAction::Delete => {}
    }
    let ns = job
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| "default".into());
    let name = job
        .metadata
        .name
        .clone()
        .ok_or(Error::MissingField("metadata.name"))?;
    let api = Api::<Job>::namespaced(ctx.client.clone(), &ns);
    // The cache may be stale: the TTL may have been changed since.
    let Some(fresh) = api.get_opt(&name).await? else {
        return Ok(Next::AwaitChange);
    };
    match plan(&fresh, Timestamp::now()) {
        TtlAction::Nothing => return Ok(Next::AwaitChange),
        TtlAction::Requeue(d) => return Ok(Next::After(d)),
        TtlAction::Delete => {}
    }
    let dp = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Foreground),
        preconditions: Some(Preconditions {
            uid: fresh.metadata.uid.clone(),
            resource_version: None,
        }),
        ..Default::default()
    };
    tracing::info!(job = %name, namespace = %ns, "deleting a finished job whose TTL expired");
    match api.delete(&name, &dp).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 404 => {}
        Err(e) => return Err(e.into()),
    }
    Ok(Next::AwaitChange)
}

/// Runs the TTL-after-finished controller over the shared Job cache until `shutdown` is
/// cancelled: every Job applied adds its key; once the cache holds its first list, each key
/// is judged by one worker task at a time, against the Job as cached when it starts.
pub async fn run(client: Client, informers: Informers, shutdown: CancellationToken) {
    let ctx = Arc::new(Context { client });
    let jobs = informers.jobs.store();
    let queue = WorkQueue::new(RateLimit::CLIENT_GO);
    let feed = async {
        let mut changes = informers.jobs.subscribe();
        loop {
            let change = tokio::select! {
                () = shutdown.cancelled() => return,
                c = changes.next() => c,
            };
            match change {
                None => return,
                // As Go's `addJob` / `updateJob`: only a Job this controller may delete.
                Some(Change::Applied(job)) if needs_cleanup(&job) => {
                    queue.add(informer::key(job.as_ref()));
                }
                Some(Change::Applied(_)) => {}
                Some(Change::Deleted(_)) => {}
            }
        }
    };
    let ready = informers.jobs.readiness();
    let work = async {
        queue
            .run_workers_when_ready(ready.wait(), &shutdown, |key: ObjectRef<Job>| {
                let (ctx, jobs) = (Arc::clone(&ctx), jobs.clone());
                async move {
                    let Some(job) = jobs.get(&key) else {
                        return Next::AwaitChange;
                    };
                    reconcile(job, ctx).await.unwrap_or_else(|e| {
                        tracing::warn!(job = %key, error = %e, "ttl-after-finished failed; retrying");
                        Next::Retry
                    })
                }
            })
            .await;
    };
    tokio::join!(feed, work);
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::batch::v1::{JobCondition, JobSpec, JobStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + s).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    fn job(ttl: Option<i32>, cond: Option<(&str, &str, i64)>, deleting: bool) -> Job {
        let mut j = Job {
            spec: Some(JobSpec {
                ttl_seconds_after_finished: ttl,
                ..Default::default()
            }),
            status: Some(JobStatus {
                conditions: cond.map(|(t, s, when)| {
                    vec![JobCondition {
                        type_: t.into(),
                        status: s.into(),
                        last_transition_time: Some(Time(at(when))),
                        ..Default::default()
                    }]
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        if deleting {
            j.metadata.deletion_timestamp = Some(Time(at(0)));
        }
        j
    }

    #[test]
    fn table() {
        let secs = |s: u64| TtlAction::Requeue(Duration::from_secs(s));
        let cases: &[(&str, Job, i64, TtlAction)] = &[
            (
                "no ttl",
                job(None, Some(("Complete", "True", 0)), false),
                500,
                TtlAction::Nothing,
            ),
            (
                "not finished",
                job(Some(0), None, false),
                500,
                TtlAction::Nothing,
            ),
            (
                "interim condition",
                job(Some(0), Some(("SuccessCriteriaMet", "True", 0)), false),
                500,
                TtlAction::Nothing,
            ),
            (
                "failure target",
                job(Some(0), Some(("FailureTarget", "True", 0)), false),
                500,
                TtlAction::Nothing,
            ),
            (
                "complete false",
                job(Some(0), Some(("Complete", "False", 0)), false),
                500,
                TtlAction::Nothing,
            ),
            (
                "being deleted",
                job(Some(0), Some(("Complete", "True", 0)), true),
                500,
                TtlAction::Nothing,
            ),
            (
                "ttl 0 deletes at once",
                job(Some(0), Some(("Complete", "True", 0)), false),
                0,
                TtlAction::Delete,
            ),
            (
                "before expiry",
                job(Some(100), Some(("Complete", "True", 10)), false),
                40,
                secs(70),
            ),
            (
                "at expiry",
                job(Some(100), Some(("Complete", "True", 10)), false),
                110,
                TtlAction::Delete,
            ),
            (
                "after expiry",
                job(Some(100), Some(("Failed", "True", 10)), false),
                500,
                TtlAction::Delete,
            ),
            (
                "failed before expiry",
                job(Some(5), Some(("Failed", "True", 10)), false),
                12,
                secs(3),
            ),
            (
                "clock skew: finished in the future",
                job(Some(5), Some(("Complete", "True", 100)), false),
                0,
                secs(105),
            ),
        ];
        for (name, j, now, want) in cases {
            assert_eq!(plan(j, at(*now)), *want, "{name}");
            // Queued exactly when some time may delete it.
            let queued = *want != TtlAction::Nothing;
            assert_eq!(needs_cleanup(j), queued, "{name}: queued");
        }
    }
}

//! The CronJob controller's decisions: kube-controller-manager's `cleanupFinishedJobs` and
//! `syncCronJob` (k8s-semantics §3.4) as one pure function of the CronJob, its child Jobs
//! and the time. The shell carries the plan out: deletes, creates, writes the status.

use super::job::{child_job_name, job_from_template};
use super::times::{self, Clock};
use crate::events::Event;
use api::schedule::{self, Schedule};
use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec, CronJobStatus, Job};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::jiff::Timestamp;
use std::borrow::Borrow;
use std::time::Duration;

/// A Job to delete (Background, with a uid precondition).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRef {
    /// Its name.
    pub name: String,
    /// Its uid.
    pub uid: String,
}

/// The Job to create for a scheduled time.
#[derive(Debug, Clone, PartialEq)]
pub struct Create {
    /// The Job, from the template.
    pub job: Job,
    /// The nominal time it runs for (becomes `status.lastScheduleTime`).
    pub scheduled: Timestamp,
}

/// What one sync does.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CronJobPlan {
    /// Finished Jobs over the history limits, oldest first.
    pub prune: Vec<JobRef>,
    /// Active Jobs to delete before the new one starts (`Replace`).
    pub replace: Vec<JobRef>,
    /// The Job to create, if a schedule time is due.
    pub create: Option<Create>,
    /// The status after the sync, without the Job to create (the shell adds it once the
    /// apiserver has given it a uid).
    pub status: CronJobStatus,
    /// Whether `status` differs from the stored one (or a Job is created).
    pub status_changed: bool,
    /// Events to record, in order.
    pub events: Vec<Event>,
    /// Unfinished child Jobs missing from `status.active` (`UnexpectedJob`): the shell reads
    /// the CronJob afresh once before believing it.
    pub unexpected: Vec<String>,
    /// When to sync again (the next schedule time); `None`: only on a change.
    pub requeue_after: Option<Duration>,
}

/// `batch.kubernetes.io/cronjob-scheduled-timestamp`.
pub const SCHEDULED_TIMESTAMP: &str = "batch.kubernetes.io/cronjob-scheduled-timestamp";

fn uid(j: &Job) -> &str {
    j.metadata.uid.as_deref().unwrap_or("")
}

fn name(j: &Job) -> &str {
    j.metadata.name.as_deref().unwrap_or("")
}

/// `FinishedCondition`: `Complete` or `Failed`, whichever is True first.
pub fn finished(j: &Job) -> Option<&str> {
    j.status
        .as_ref()?
        .conditions
        .as_deref()?
        .iter()
        .find(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True")
        .map(|c| c.type_.as_str())
}

/// `cronjob.kubernetes.io/instantiate`, set to `manual` by `kubectl create job --from`.
pub const INSTANTIATE: &str = "cronjob.kubernetes.io/instantiate";

/// Whether `j`'s controller reference names `cj` (kind CronJob, and its uid: Kubernetes'
/// list step checks the name only, its event handlers the uid too), and `j` is not a
/// manual run (see the module docs of [`super`]).
pub fn is_child(j: &Job, cj: &CronJob) -> bool {
    let manual = j
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(INSTANTIATE))
        .is_some_and(|v| v == "manual");
    !manual
        && j.metadata.namespace == cj.metadata.namespace
        && j.metadata.owner_references.iter().flatten().any(|r| {
            r.controller == Some(true)
                && r.kind == "CronJob"
                && Some(&r.name) == cj.metadata.name.as_ref()
                && Some(&r.uid) == cj.metadata.uid.as_ref()
        })
}

fn in_active(st: &CronJobStatus, uid: &str) -> bool {
    st.active
        .iter()
        .flatten()
        .any(|r| r.uid.as_deref() == Some(uid))
}

fn remove_active(st: &mut CronJobStatus, uid: &str) {
    if let Some(a) = st.active.as_mut() {
        a.retain(|r| r.uid.as_deref() != Some(uid));
    }
}

/// `cleanupFinishedJobs` / `removeOldestJobs`: the oldest finished Jobs (by start time,
/// unset last, then name) over each limit.
fn prune(spec: &CronJobSpec, jobs: &[&Job]) -> Vec<JobRef> {
    let mut out = Vec::new();
    for (kind, limit) in [
        ("Complete", spec.successful_jobs_history_limit),
        ("Failed", spec.failed_jobs_history_limit),
    ] {
        let Some(limit) = limit else { continue };
        let mut group: Vec<&Job> = jobs
            .iter()
            .copied()
            .filter(|j| finished(j) == Some(kind))
            .collect();
        let excess = group
            .len()
            .saturating_sub(usize::try_from(limit).unwrap_or(0));
        group.sort_by(|a, b| {
            let start = |j: &Job| {
                j.status
                    .as_ref()
                    .and_then(|s| s.start_time.as_ref())
                    .map(|t| t.0)
            };
            match (start(a), start(b)) {
                (Some(x), Some(y)) => x.cmp(&y).then_with(|| name(a).cmp(name(b))),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => name(a).cmp(name(b)),
            }
        });
        out.extend(group.into_iter().take(excess).map(|j| JobRef {
            name: name(j).to_owned(),
            uid: uid(j).to_owned(),
        }));
    }
    out
}

/// The first half of `syncCronJob`: the active list against the child Jobs, and
/// `lastSuccessfulTime`. `jobs` must hold every Job in `status.active` that still exists.
fn reconcile_active(st: &mut CronJobStatus, jobs: &[&Job], p: &mut CronJobPlan) {
    for &j in jobs {
        let found = in_active(st, uid(j));
        match finished(j) {
            None if !found => {
                p.unexpected.push(name(j).to_owned());
                p.events.push(Event::warning(
                    "UnexpectedJob",
                    format!(
                        "Saw a job that the controller did not create or forgot: {}",
                        name(j)
                    ),
                ));
            }
            None => {}
            Some(cond) => {
                if found {
                    remove_active(st, uid(j));
                    p.events.push(Event::normal(
                        "SawCompletedJob",
                        format!("Saw completed job: {}, condition: {cond}", name(j)),
                    ));
                }
                let done = j.status.as_ref().and_then(|s| s.completion_time.clone());
                if cond == "Complete" {
                    let later = match (&st.last_successful_time, &done) {
                        (None, _) => true,
                        (Some(a), Some(b)) => b.0 > a.0,
                        (Some(_), None) => false,
                    };
                    if later {
                        st.last_successful_time = done;
                    }
                }
            }
        }
    }
    let missing: Vec<ObjectReference> = st
        .active
        .iter()
        .flatten()
        .filter(|r| !jobs.iter().any(|j| Some(uid(j)) == r.uid.as_deref()))
        .cloned()
        .collect();
    for r in missing {
        p.events.push(Event::normal(
            "MissingJob",
            format!(
                "Active job went missing: {}",
                r.name.as_deref().unwrap_or("")
            ),
        ));
        remove_active(st, r.uid.as_deref().unwrap_or(""));
    }
}

/// Decides one sync of `cj` at `now`; `jobs` are its children (see [`is_child`]), owned or
/// shared with the cache (read, never cloned).
pub fn plan<J: Borrow<Job>>(cj: &CronJob, jobs: &[J], now: Timestamp) -> CronJobPlan {
    let unset;
    let spec = match &cj.spec {
        Some(s) => s,
        None => {
            unset = CronJobSpec::default();
            &unset
        }
    };
    let jobs: Vec<&Job> = jobs.iter().map(Borrow::borrow).collect();
    let stored = cj.status.clone().unwrap_or_default();
    let mut st = stored.clone();
    let mut p = CronJobPlan {
        prune: prune(spec, &jobs),
        ..Default::default()
    };
    for d in &p.prune {
        remove_active(&mut st, &d.uid);
    }
    reconcile_active(&mut st, &jobs, &mut p);
    schedule(cj, spec, &mut st, now, &mut p);
    p.status_changed |= st != stored;
    p.status = st;
    p
}

/// The second half of `syncCronJob`: whether a scheduled time is due and what to do.
fn schedule(
    cj: &CronJob,
    spec: &CronJobSpec,
    st: &mut CronJobStatus,
    now: Timestamp,
    p: &mut CronJobPlan,
) {
    if cj.metadata.deletion_timestamp.is_some() {
        return;
    }
    let zone = spec.time_zone.as_deref();
    let tz = match schedule::time_zone(zone) {
        Ok(tz) => tz,
        Err(e) => {
            let z = zone.unwrap_or("");
            p.events.push(Event::warning(
                "UnknownTimeZone",
                format!("invalid timeZone: {}: {e}", api::validation::go_quote(z)),
            ));
            return;
        }
    };
    if spec.suspend == Some(true) {
        return;
    }
    let sched = match Schedule::parse(&spec.schedule) {
        Ok(s) => s,
        Err(e) => {
            p.events.push(Event::warning(
                "UnparseableSchedule",
                format!(
                    "unparseable schedule: {} : {e}",
                    api::validation::go_quote(&spec.schedule)
                ),
            ));
            return;
        }
    };
    // A legacy `TZ=` prefix wins over `timeZone` (`formatSchedule`).
    let tz = if spec.schedule.contains("TZ") {
        p.events.push(Event::warning(
            "UnsupportedSchedule",
            format!(
                "CRON_TZ or TZ used in schedule {} is not officially supported, see https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ for more details",
                api::validation::go_quote(&spec.schedule)
            ),
        ));
        schedule::time_zone(sched.zone()).unwrap_or(tz)
    } else {
        tz
    };
    let clock = Clock {
        schedule: &sched,
        tz: &tz,
    };
    let created = cj.metadata.creation_timestamp.as_ref().map_or(now, |t| t.0);
    let last = st.last_schedule_time.as_ref().map_or(created, |t| t.0);
    let deadline = spec.starting_deadline_seconds;
    let scheduled = match times::due(&clock, last, deadline, now) {
        Err(e) => {
            p.events.push(Event::warning(
                "InvalidSchedule",
                format!("invalid schedule: {} : {e}", spec.schedule),
            ));
            return;
        }
        Ok((None, _)) => {
            super::missed::report(&clock, last, None, deadline, now, p);
            p.requeue_after = times::requeue_after(&clock, last, now);
            return;
        }
        Ok((Some(t), too_many)) => {
            if too_many {
                p.events.push(Event::warning(
                    "TooManyMissedTimes",
                    "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew",
                ));
            }
            t
        }
    };
    let job_name = child_job_name(cj, &sched, scheduled);
    let processed = st
        .active
        .iter()
        .flatten()
        .any(|r| r.name.as_deref() == Some(job_name.as_str()))
        || st
            .last_schedule_time
            .as_ref()
            .is_some_and(|t| t.0 == scheduled);
    let policy = spec.concurrency_policy.as_deref().unwrap_or("Allow");
    let active = st.active.as_ref().is_some_and(|a| !a.is_empty());
    if processed {
        p.requeue_after = times::requeue_after(&clock, last, now);
        return;
    }
    if policy == "Forbid" && active {
        p.events.push(Event::normal(
            "JobAlreadyActive",
            "Not starting job because prior execution is running and concurrency policy is Forbid",
        ));
        p.requeue_after = times::requeue_after(&clock, last, now);
        return;
    }
    super::missed::report(&clock, last, Some(scheduled), deadline, now, p);
    if policy == "Replace" {
        for r in st.active.take().unwrap_or_default() {
            p.replace.push(JobRef {
                name: r.name.unwrap_or_default(),
                uid: r.uid.unwrap_or_default(),
            });
        }
        st.active = Some(Vec::new());
    }
    p.create = Some(Create {
        job: job_from_template(cj, &job_name, scheduled, zone),
        scheduled,
    });
    p.status_changed = true;
    p.requeue_after = times::requeue_after(&clock, scheduled, now);
}

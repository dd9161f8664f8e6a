//! The Job controller's decisions: `plan(job, pods, now, env)` is `syncJob` of
//! kube-controller-manager as a pure function. It returns the pods to create and delete, the
//! finalizers to remove, the status to write before removing them, and how to settle the
//! status afterwards ([`Settle::apply`]): the two-phase protocol of finalizer tracking
//! (k8s-semantics §2.16), so that a pod is counted exactly once whatever restarts between
//! the steps.

use super::indexes::IndexSet;
use super::manage::manage;
use super::pods;
use super::policy::{self, Action, BackoffRecord};
use super::tracking::track;
pub use super::tracking::{Settle, Settled};
use crate::events::Event;
use k8s_openapi::api::batch::v1::{Job, JobCondition, JobStatus};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use std::borrow::Borrow;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// Most pods created or deleted in one sync (`MaxPodCreateDeletePerSync`).
pub const MAX_CREATE_DELETE: usize = 500;
/// Most pods added to `uncountedTerminatedPods` in one sync (`MaxUncountedPods`).
pub const MAX_UNCOUNTED: usize = 500;
/// Shortest delayed requeue (`syncJobBatchPeriod`).
const MIN_REQUEUE: Duration = Duration::from_secs(1);

/// What the shell knows besides the Job and its pods.
#[derive(Debug, Clone, Default)]
pub struct Env {
    /// Every pod creation and deletion issued earlier has been observed in the cache.
    pub expectations_satisfied: bool,
    /// Pods whose finalizer removal was issued but not yet observed (uids).
    pub pending_finalizer_removals: BTreeSet<String>,
    /// The in-memory pod-failure backoff record of the Job.
    pub backoff: BackoffRecord,
    /// Seed of the generated name suffixes.
    pub seed: u64,
}

/// A pod named by the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodRef {
    /// Its name.
    pub name: String,
    /// Its uid.
    pub uid: String,
}

/// A pod to delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delete {
    /// The pod.
    pub pod: PodRef,
    /// Remove the tracking finalizer first, so the pod is never counted (suspend and
    /// scale-down); otherwise the finalizer stays and the pod is counted as failed.
    pub strip_finalizer: bool,
}

/// Everything one sync of a Job decides.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobPlan {
    /// Pods to create, in order (slow-start batches are the shell's).
    pub creates: Vec<Pod>,
    /// Pods to delete.
    pub deletes: Vec<Delete>,
    /// Pods whose tracking finalizer is to be removed, after `status` is written.
    pub remove_finalizers: Vec<PodRef>,
    /// The status to write before removing finalizers.
    pub status: JobStatus,
    /// `status` differs from the Job's: write it.
    pub flush: bool,
    /// How to finish the status once the finalizers are removed.
    pub settle: Settle,
    /// Events to emit (after the status write).
    pub events: Vec<Event>,
    /// Sync again after this long (backoff, active deadline).
    pub requeue_after: Option<Duration>,
    /// The backoff record to keep once the status is written.
    pub backoff: BackoffRecord,
}

impl JobPlan {
    pub(super) fn requeue(&mut self, d: Duration) {
        let d = d.max(MIN_REQUEUE);
        self.requeue_after = Some(self.requeue_after.map_or(d, |r| r.min(d)));
    }
}

/// A condition with both timestamps at `now` (`newCondition`).
pub fn condition(
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
    now: Timestamp,
) -> JobCondition {
    JobCondition {
        type_: type_.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message.into()),
        last_probe_time: Some(Time(now)),
        last_transition_time: Some(Time(now)),
    }
}

/// The condition of `type_` if its status is True.
pub fn true_condition<'a>(st: &'a JobStatus, type_: &str) -> Option<&'a JobCondition> {
    st.conditions
        .as_deref()
        .unwrap_or_default()
        .iter()
        .find(|c| c.type_ == type_ && c.status == "True")
}

/// `IsJobFinished`: Complete=True or Failed=True.
pub fn is_finished(st: &JobStatus) -> bool {
    true_condition(st, "Complete").is_some() || true_condition(st, "Failed").is_some()
}

/// `ensureJobConditionStatus`: update a condition whose status, reason or message changed;
/// add a missing one unless its status is False. Returns whether anything changed.
pub(super) fn ensure_condition(st: &mut JobStatus, want: &JobCondition, now: Timestamp) -> bool {
    let list = st.conditions.get_or_insert_with(Vec::new);
    if let Some(c) = list.iter_mut().find(|c| c.type_ == want.type_) {
        if c.status != want.status || c.reason != want.reason || c.message != want.message {
            *c = JobCondition {
                last_probe_time: Some(Time(now)),
                last_transition_time: Some(Time(now)),
                ..want.clone()
            };
            return true;
        }
        return false;
    }
    if want.status == "False" {
        if list.is_empty() {
            st.conditions = None;
        }
        return false;
    }
    list.push(want.clone());
    true
}

/// Go's `omitempty` on the counters and lists, so statuses compare as the server stores them.
pub(super) fn normalize(st: &mut JobStatus) {
    for v in [&mut st.active, &mut st.succeeded, &mut st.failed] {
        if *v == Some(0) {
            *v = None;
        }
    }
    let u = st
        .uncounted_terminated_pods
        .get_or_insert_with(Default::default);
    for l in [&mut u.succeeded, &mut u.failed] {
        if l.as_ref().is_some_and(Vec::is_empty) {
            *l = None;
        }
    }
    if st.completed_indexes.as_deref() == Some("") {
        st.completed_indexes = None;
    }
    if st.conditions.as_ref().is_some_and(Vec::is_empty) {
        st.conditions = None;
    }
}

pub(super) fn to_i32(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

pub(super) fn whole_seconds(t: Timestamp) -> Timestamp {
    Timestamp::from_second(t.as_second()).unwrap_or(t)
}

/// Everything `plan` derives from the Job and its pods before deciding.
pub(super) struct Ctx<'a> {
    pub(super) job: &'a Job,
    pub(super) pods: &'a [&'a Pod],
    pub(super) env: &'a Env,
    pub(super) now: Timestamp,
    pub(super) indexed: bool,
    pub(super) completions: Option<i32>,
    pub(super) per_index: Option<i32>,
    pub(super) active_pods: Vec<&'a Pod>,
    pub(super) succeeded: i32,
    pub(super) succeeded_idx: IndexSet,
    pub(super) prev_succeeded_idx: IndexSet,
    pub(super) failed_idx: Option<IndexSet>,
    pub(super) delayed: BTreeMap<i32, &'a Pod>,
    pub(super) terminating: i32,
    pub(super) ready: i32,
}

impl<'a> Ctx<'a> {
    pub(super) fn valid_index(&self, p: &Pod) -> bool {
        !self.indexed
            || pods::completion_index(p).is_some_and(|i| i < self.completions.unwrap_or(0))
    }

    /// Still carries the finalizer, and no removal of it is pending.
    pub(super) fn tracked(&self, p: &Pod) -> bool {
        pods::has_finalizer(p) && !self.env.pending_finalizer_removals.contains(pods::uid(p))
    }
}

/// Decides one sync of `job`, given the pods it controls (from the cache, owned or shared),
/// the time and the shell's in-memory state.
pub fn plan<P: Borrow<Pod>>(job: &Job, pods: &[P], now: Timestamp, env: &Env) -> JobPlan {
    let all: Vec<&Pod> = pods.iter().map(Borrow::borrow).collect();
    plan_refs(job, &all, now, env)
}

fn plan_refs(job: &Job, all_pods: &[&Pod], now: Timestamp, env: &Env) -> JobPlan {
    let now = whole_seconds(now);
    let spec = job.spec.clone().unwrap_or_default();
    let old = {
        let mut s = job.status.clone().unwrap_or_default();
        normalize(&mut s);
        s
    };
    let mut out = JobPlan {
        backoff: env.backoff,
        status: old.clone(),
        ..Default::default()
    };
    if spec
        .managed_by
        .as_deref()
        .is_some_and(|m| m != "kubernetes.io/job-controller")
    {
        return out;
    }
    if is_finished(&old) {
        // A finished Job is never synced again; pods left with the finalizer are released
        // (the backup path of the orphan cleanup).
        out.remove_finalizers = all_pods
            .iter()
            .filter(|p| pods::has_finalizer(p))
            .map(pod_ref)
            .collect();
        out.backoff = BackoffRecord::default();
        return out;
    }
    let mode = spec.completion_mode.as_deref().unwrap_or("NonIndexed");
    if mode != "NonIndexed" && mode != "Indexed" {
        out.events.push(Event::warning(
            "UnknownCompletionMode",
            format!("Skipped Job sync because completion mode \"{mode}\" is unknown"),
        ));
        return out;
    }
    let indexed = mode == "Indexed";
    let suspended = spec.suspend == Some(true);
    let mut st = old.clone();
    let uncounted = st.uncounted_terminated_pods.clone().unwrap_or_default();
    let unc_s: BTreeSet<String> = uncounted.succeeded.iter().flatten().cloned().collect();
    let unc_f: BTreeSet<String> = uncounted.failed.iter().flatten().cloned().collect();

    let mut cx = Ctx {
        job,
        pods: all_pods,
        env,
        now,
        indexed,
        completions: spec.completions,
        per_index: spec.backoff_limit_per_index.filter(|_| indexed),
        active_pods: all_pods
            .iter()
            .copied()
            .filter(|p| pods::is_active(p))
            .collect(),
        succeeded: 0,
        succeeded_idx: IndexSet::default(),
        prev_succeeded_idx: IndexSet::default(),
        failed_idx: None,
        delayed: BTreeMap::new(),
        terminating: to_i32(all_pods.iter().filter(|p| pods::is_terminating(p)).count()),
        ready: 0,
    };
    cx.ready = to_i32(cx.active_pods.iter().filter(|p| pods::is_ready(p)).count());
    let mut active = to_i32(cx.active_pods.len());

    let new_succeeded: Vec<&Pod> = all_pods
        .iter()
        .copied()
        .filter(|p| cx.tracked(p) && !unc_s.contains(pods::uid(p)) && cx.valid_index(p))
        .filter(|p| pods::phase(p) == "Succeeded")
        .collect();
    let new_failed: Vec<&Pod> = all_pods
        .iter()
        .copied()
        .filter(|p| cx.tracked(p) && !unc_f.contains(pods::uid(p)) && cx.valid_index(p))
        .filter(|p| policy::is_pod_failed(p, job))
        .collect();
    cx.succeeded = st
        .succeeded
        .unwrap_or(0)
        .saturating_add(to_i32(new_succeeded.len() + unc_s.len()));
    let counted_failures = new_failed
        .iter()
        .filter(|p| policy::failure_counts(job, p))
        .count();
    let failed = st
        .failed
        .unwrap_or(0)
        .saturating_add(to_i32(counted_failures + unc_f.len()));

    if st.start_time.is_none() && !suspended {
        st.start_time = Some(Time(now));
    }
    out.backoff = env.backoff.update(&new_succeeded, &new_failed);

    // The finish condition, in Kubernetes' order of evaluation.
    let mut finish: Option<JobCondition> = true_condition(&st, "SuccessCriteriaMet").cloned();
    if finish.is_none() {
        if let Some(t) = true_condition(&st, "FailureTarget") {
            finish = Some(condition(
                "Failed",
                "True",
                t.reason.as_deref().unwrap_or(""),
                t.message.as_deref().unwrap_or(""),
                now,
            ));
        } else if let Some(msg) = fail_job_message(job, all_pods) {
            finish = Some(condition(
                "FailureTarget",
                "True",
                "PodFailurePolicy",
                &msg,
                now,
            ));
        }
    }
    if finish.is_none() {
        let limit = spec.backoff_limit.unwrap_or(6);
        if failed > limit || past_backoff_limit_on_failure(job, all_pods, limit) {
            finish = Some(condition(
                "FailureTarget",
                "True",
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit",
                now,
            ));
        } else if let (Some(ads), Some(start), false) = (
            spec.active_deadline_seconds,
            st.start_time.as_ref(),
            suspended,
        ) {
            let elapsed = now.as_second().saturating_sub(start.0.as_second());
            if elapsed >= ads {
                finish = Some(condition(
                    "FailureTarget",
                    "True",
                    "DeadlineExceeded",
                    "Job was active longer than specified deadline",
                    now,
                ));
            } else {
                out.requeue(Duration::from_secs(
                    u64::try_from(ads - elapsed).unwrap_or(0),
                ));
            }
        }
    }
    if indexed {
        let completions = spec.completions.unwrap_or(0);
        cx.prev_succeeded_idx =
            IndexSet::parse(st.completed_indexes.as_deref().unwrap_or(""), completions);
        cx.succeeded_idx = cx.prev_succeeded_idx.clone();
        for p in all_pods {
            if pods::phase(p) == "Succeeded" && pods::has_finalizer(p) && cx.valid_index(p) {
                cx.succeeded_idx
                    .insert(pods::completion_index(p).unwrap_or(0));
            }
        }
        cx.succeeded = to_i32(cx.succeeded_idx.len());
        if let Some(limit) = cx.per_index {
            let failed_idx = failed_indexes(&cx, &st, limit);
            if finish.is_none() {
                if spec
                    .max_failed_indexes
                    .is_some_and(|m| to_i32(failed_idx.len()) > m)
                {
                    finish = Some(condition(
                        "FailureTarget",
                        "True",
                        "MaxFailedIndexesExceeded",
                        "Job has exceeded the specified maximal number of failed indexes",
                        now,
                    ));
                } else if !failed_idx.is_empty()
                    && to_i32(failed_idx.len() + cx.succeeded_idx.len()) >= completions
                {
                    finish = Some(condition(
                        "FailureTarget",
                        "True",
                        "FailedIndexes",
                        "Job has failed indexes",
                        now,
                    ));
                }
            }
            cx.failed_idx = Some(failed_idx);
            cx.delayed = delayed_deletions(&cx);
        }
        if finish.is_none()
            && let Some(msg) = policy::match_success_policy(
                spec.success_policy.as_ref(),
                completions,
                &cx.succeeded_idx,
            )
        {
            finish = Some(condition(
                "SuccessCriteriaMet",
                "True",
                "SuccessPolicy",
                &msg,
                now,
            ));
        }
    }

    if finish.is_some() {
        // Terminate every active pod; its finalizer stays so it is counted below.
        for p in &cx.active_pods {
            out.deletes.push(Delete {
                pod: pod_ref(p),
                strip_finalizer: false,
            });
        }
        let n = to_i32(cx.active_pods.len());
        active -= n;
        cx.terminating += n;
        cx.ready = 0;
        if !env.expectations_satisfied {
            // Pods not in the cache yet could escape; decide again once they are.
            finish = None;
        }
    } else {
        let mut manage_called = false;
        if job.metadata.deletion_timestamp.is_none() && env.expectations_satisfied {
            active = manage(&mut cx, &spec, &mut out, active, suspended);
            manage_called = true;
        }
        let complete = match spec.completions {
            None => cx.succeeded > 0 && active == 0,
            Some(c) => cx.succeeded >= c && active == 0,
        };
        if complete {
            finish = Some(condition(
                "SuccessCriteriaMet",
                "True",
                "CompletionsReached",
                "Reached expected number of succeeded pods",
                now,
            ));
        } else if manage_called {
            if suspended {
                if ensure_condition(
                    &mut st,
                    &condition("Suspended", "True", "JobSuspended", "Job suspended", now),
                    now,
                ) {
                    out.events.push(Event::normal("Suspended", "Job suspended"));
                    // See the module docs: startTime is cleared so that resuming may set it.
                    st.start_time = None;
                }
            } else if ensure_condition(
                &mut st,
                &condition("Suspended", "False", "JobResumed", "Job resumed", now),
                now,
            ) {
                out.events.push(Event::normal("Resumed", "Job resumed"));
                st.start_time = Some(Time(now));
            }
        }
    }
    st.active = Some(active);
    st.ready = Some(cx.ready);
    st.terminating = Some(cx.terminating);
    track(&cx, job, &mut st, &mut out, finish);
    out
}

pub(super) fn pod_ref(p: &&Pod) -> PodRef {
    PodRef {
        name: pods::name(p).into(),
        uid: pods::uid(p).into(),
    }
}

/// `getFailJobMessage`: the message of the first failed pod matching a FailJob rule.
fn fail_job_message(job: &Job, all: &[&Pod]) -> Option<String> {
    let pfp = job.spec.as_ref()?.pod_failure_policy.as_ref()?;
    all.iter()
        .filter(|p| policy::is_pod_failed(p, job))
        .find_map(|p| match policy::match_failure_policy(Some(pfp), p) {
            Some(Action::FailJob(m)) => Some(m),
            _ => None,
        })
}

/// `pastBackoffLimitOnFailure`: with OnFailure, container restarts of pending and running
/// pods count instead of failed pods, and trip at ≥ the limit (> 0 when the limit is 0).
fn past_backoff_limit_on_failure(job: &Job, all: &[&Pod], limit: i32) -> bool {
    let policy = job
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .and_then(|s| s.restart_policy.as_deref());
    if policy != Some("OnFailure") {
        return false;
    }
    let restarts: i32 = all
        .iter()
        .copied()
        .filter(|p| matches!(pods::phase(p), "Running" | "Pending"))
        .map(pods::restarts)
        .fold(0, i32::saturating_add);
    if limit == 0 {
        restarts > 0
    } else {
        restarts >= limit
    }
}

/// `calculateFailedIndexes`.
fn failed_indexes(cx: &Ctx, st: &JobStatus, limit: i32) -> IndexSet {
    let completions = cx.completions.unwrap_or(0);
    let mut set = IndexSet::parse(st.failed_indexes.as_deref().unwrap_or(""), completions);
    let pfp = cx
        .job
        .spec
        .as_ref()
        .and_then(|s| s.pod_failure_policy.as_ref());
    for p in cx.pods {
        let Some(ix) = pods::completion_index(p) else {
            continue;
        };
        if !policy::is_pod_failed(p, cx.job) {
            continue;
        }
        let action = policy::match_failure_policy(pfp, p);
        let failed_index = action == Some(Action::FailIndex)
            || (action.as_ref().is_none_or(Action::counts)
                && pods::count_annotation(p, pods::INDEX_FAILURE_COUNT) >= limit);
        if failed_index && ix < completions {
            set.insert(ix);
        }
    }
    set
}

pub(super) fn absolute_failures(p: &Pod) -> i32 {
    pods::count_annotation(p, pods::INDEX_FAILURE_COUNT)
        .saturating_add(pods::count_annotation(p, pods::INDEX_IGNORED_FAILURE_COUNT))
}

/// `getPodsWithDelayedDeletionPerIndex`: the newest failed pod of each index still to be
/// retried keeps its finalizer until its replacement exists.
fn delayed_deletions<'a>(cx: &Ctx<'a>) -> BTreeMap<i32, &'a Pod> {
    let active: BTreeSet<i32> = cx
        .active_pods
        .iter()
        .filter_map(|p| pods::completion_index(p))
        .collect();
    let mut out: BTreeMap<i32, &'a Pod> = BTreeMap::new();
    for p in cx.pods {
        if !cx.tracked(p) || !cx.valid_index(p) || !policy::is_pod_failed(p, cx.job) {
            continue;
        }
        let Some(ix) = pods::completion_index(p) else {
            continue;
        };
        if cx.succeeded_idx.contains(ix)
            || cx.failed_idx.as_ref().is_some_and(|f| f.contains(ix))
            || active.contains(&ix)
        {
            continue;
        }
        match out.get(&ix) {
            Some(last)
                if !(absolute_failures(last) <= absolute_failures(p)
                    && pods::finished_time(p) >= pods::finished_time(last)) => {}
            _ => {
                out.insert(ix, p);
            }
        }
    }
    out
}

//! `trackJobStatusAndRemoveFinalizers`: the accounting protocol of finalizer tracking
//! (k8s-semantics §2.16). The first phase lists newly finished pods in
//! `status.uncountedTerminatedPods` and names the finalizers to remove; once they are removed,
//! [`Settle::apply`] moves those pods into `status.succeeded` / `status.failed` and writes
//! the terminal condition when nothing is left to count or terminate. Between the phases the
//! durable state (the uncounted uids, the finalizers) always says which pods are counted, so
//! a restart anywhere counts each pod exactly once.

use super::indexes::IndexSet;
use super::plan::{
    Ctx, JobPlan, MAX_UNCOUNTED, condition, ensure_condition, normalize, pod_ref, to_i32,
    true_condition, whole_seconds,
};
use super::pods;
use super::policy;
use crate::events::Event;
use k8s_openapi::api::batch::v1::{Job, JobCondition, JobStatus, UncountedTerminatedPods};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use std::collections::BTreeSet;

/// The second phase: after the finalizers are removed, move the uncounted pods whose
/// finalizer is gone into the counters, and write the terminal condition when nothing is
/// left to count or to terminate.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Settle {
    /// Uids of the pods that still had the finalizer when planning.
    pub uids_with_finalizer: BTreeSet<String>,
    /// The terminal condition (`Complete` or `Failed`) the Job is heading for.
    pub terminal: Option<JobCondition>,
    /// Pods still terminating after this sync's deletions.
    pub terminating: i32,
    /// The uncounted cap was hit: more to count in the next sync.
    pub capped: bool,
    /// `spec.completions`, for the TooManySucceededPods warning.
    pub completions: Option<i32>,
}

/// `cleanUncountedPodsWithoutFinalizers`: uncounted pods whose finalizer is gone are counted.
pub(super) fn clean_uncounted(st: &mut JobStatus, with_finalizer: &BTreeSet<String>) -> bool {
    let u = st
        .uncounted_terminated_pods
        .get_or_insert_with(Default::default);
    let mut changed = false;
    let mut counted = [0usize; 2];
    for (i, list) in [&mut u.succeeded, &mut u.failed].into_iter().enumerate() {
        let Some(l) = list.as_mut() else { continue };
        let before = l.len();
        l.retain(|uid| with_finalizer.contains(uid));
        counted[i] = before - l.len();
        changed |= counted[i] > 0;
    }
    st.succeeded = Some(st.succeeded.unwrap_or(0).saturating_add(to_i32(counted[0])));
    st.failed = Some(st.failed.unwrap_or(0).saturating_add(to_i32(counted[1])));
    changed
}

/// The result of [`Settle::apply`].
#[derive(Debug, Clone, PartialEq)]
pub struct Settled {
    /// The status to write.
    pub status: JobStatus,
    /// It differs from the one given: write it.
    pub changed: bool,
    /// Events of the Job finishing, to emit once it is written.
    pub events: Vec<Event>,
}

impl Settle {
    /// The status after the finalizers of `removed` (uids) are gone, from the status
    /// written in the first phase.
    pub fn apply(
        &self,
        written: &JobStatus,
        removed: &BTreeSet<String>,
        now: Timestamp,
    ) -> Settled {
        let now = whole_seconds(now);
        let mut st = written.clone();
        let left: BTreeSet<String> = self
            .uids_with_finalizer
            .difference(removed)
            .cloned()
            .collect();
        let mut changed = clean_uncounted(&mut st, &left);
        let mut events = Vec::new();
        let uncounted = st.uncounted_terminated_pods.as_ref().map_or(0, |u| {
            u.succeeded.as_ref().map_or(0, Vec::len) + u.failed.as_ref().map_or(0, Vec::len)
        });
        if let Some(t) = &self.terminal
            && !self.capped
            && uncounted == 0
            && self.terminating == 0
            && ensure_condition(
                &mut st,
                &condition(
                    &t.type_,
                    "True",
                    t.reason.as_deref().unwrap_or(""),
                    t.message.as_deref().unwrap_or(""),
                    now,
                ),
                now,
            )
        {
            changed = true;
            if t.type_ == "Complete" {
                st.completion_time = Some(Time(now));
                if let Some(c) = self.completions
                    && st.succeeded.unwrap_or(0) > c
                {
                    events.push(Event::warning(
                        "TooManySucceededPods",
                        "Too many succeeded pods running after completion count reached",
                    ));
                }
                events.push(Event::normal("Completed", "Job completed"));
            } else {
                events.push(Event::warning(
                    t.reason.as_deref().unwrap_or(""),
                    t.message.as_deref().unwrap_or(""),
                ));
            }
        }
        normalize(&mut st);
        Settled {
            status: st,
            changed,
            events,
        }
    }
}

/// `trackJobStatusAndRemoveFinalizers`, first phase: which pods to count and release, the
/// status to write before releasing them, and how to settle afterwards.
pub(super) fn track(
    cx: &Ctx,
    job: &Job,
    st: &mut JobStatus,
    out: &mut JobPlan,
    finish: Option<JobCondition>,
) {
    let mut order: Vec<&Pod> = cx.pods.to_vec();
    if cx.indexed {
        order.sort_by_key(|p| pods::completion_index(p).unwrap_or(-1));
    }
    let with_finalizer: BTreeSet<String> = cx
        .pods
        .iter()
        .filter(|p| cx.tracked(p))
        .map(|p| pods::uid(p).to_owned())
        .collect();
    clean_uncounted(st, &with_finalizer);
    let u = st.uncounted_terminated_pods.clone().unwrap_or_default();
    let mut unc_s = u.succeeded.unwrap_or_default();
    let mut unc_f = u.failed.unwrap_or_default();
    let was_f: BTreeSet<String> = unc_f.iter().cloned().collect();
    let was_s: BTreeSet<String> = unc_s.iter().cloned().collect();
    let failing = finish
        .as_ref()
        .is_some_and(|f| f.type_ != "SuccessCriteriaMet");
    let mut capped = false;
    let mut new_idx = 0usize;
    for p in order {
        if !cx.tracked(p) {
            continue;
        }
        let uid = pods::uid(p).to_owned();
        let considered_failed = policy::is_pod_failed(p, job);
        let removable = job.metadata.deletion_timestamp.is_some()
            || finish.is_some()
            || pods::phase(p) == "Succeeded"
            || (considered_failed
                && pods::completion_index(p)
                    .and_then(|ix| cx.delayed.get(&ix))
                    .is_none_or(|d| pods::uid(d) != uid));
        if !removable {
            continue;
        }
        out.remove_finalizers.push(pod_ref(&p));
        if pods::phase(p) == "Succeeded" && !was_f.contains(&uid) {
            if cx.indexed {
                if let Some(ix) = pods::completion_index(p).filter(|_| cx.valid_index(p))
                    && !cx.prev_succeeded_idx.contains(ix)
                {
                    new_idx += 1;
                }
            } else if !was_s.contains(&uid) {
                unc_s.push(uid);
            }
        } else if (considered_failed || failing)
            && !was_f.contains(&uid)
            && cx.valid_index(p)
            && policy::failure_counts(job, p)
        {
            unc_f.push(uid);
        }
        if new_idx + unc_s.len() + unc_f.len() >= MAX_UNCOUNTED {
            capped = true;
            break;
        }
    }
    if cx.indexed {
        st.succeeded = Some(to_i32(cx.succeeded_idx.len()));
        st.completed_indexes = Some(cx.succeeded_idx.render());
        st.failed_indexes = cx.failed_idx.as_ref().map(IndexSet::render);
    }
    st.uncounted_terminated_pods = Some(UncountedTerminatedPods {
        succeeded: Some(unc_s),
        failed: Some(unc_f),
    });
    let mut terminal = None;
    if let Some(f) = finish {
        let reason = f.reason.clone().unwrap_or_default();
        let message = f.message.clone().unwrap_or_default();
        match f.type_.as_str() {
            "FailureTarget" => {
                st.conditions.get_or_insert_with(Vec::new).push(f);
                terminal = Some(condition("Failed", "True", &reason, &message, cx.now));
            }
            "SuccessCriteriaMet" => {
                if true_condition(st, "SuccessCriteriaMet").is_none() {
                    st.conditions.get_or_insert_with(Vec::new).push(f);
                }
                terminal = Some(condition("Complete", "True", &reason, &message, cx.now));
            }
            _ => terminal = Some(f),
        }
    }
    normalize(st);
    let mut old = job.status.clone().unwrap_or_default();
    normalize(&mut old);
    out.flush = *st != old;
    out.status = st.clone();
    out.settle = Settle {
        uids_with_finalizer: with_finalizer,
        terminal,
        terminating: cx.terminating,
        capped,
        completions: cx.completions,
    };
}

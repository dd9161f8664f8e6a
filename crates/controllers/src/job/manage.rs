//! `manageJob`: how many pods a Job wants, which to delete first (`activePodsForRemoval`),
//! which indexes to start (`firstPendingIndexes`), and the pod-failure backoff that gates
//! creation.

use super::plan::{Ctx, Delete, JobPlan, MAX_CREATE_DELETE, absolute_failures, pod_ref, to_i32};
use super::pods::{self, IndexFailures, NewPod, Suffixes};
use super::policy;
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::Pod;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// `manageJob`: creates or deletes pods towards the wanted number; returns the new active
/// count.
pub(super) fn manage(
    cx: &mut Ctx,
    spec: &JobSpec,
    out: &mut JobPlan,
    mut active: i32,
    suspended: bool,
) -> i32 {
    let parallelism = spec.parallelism.unwrap_or(1).max(0);
    if suspended {
        let rm = removal_candidates(cx, cx.active_pods.len());
        return delete_stripped(cx, out, active, rm);
    }
    let want = match spec.completions {
        None if cx.succeeded > 0 => active,
        None => parallelism,
        Some(c) => c.saturating_sub(cx.succeeded).min(parallelism).max(0),
    };
    let rm_at_least = usize::try_from(active - want).unwrap_or(0);
    let mut rm = removal_candidates(cx, rm_at_least);
    rm.truncate(MAX_CREATE_DELETE);
    if !rm.is_empty() {
        return delete_stripped(cx, out, active, rm);
    }
    let terminating = if policy::only_replace_failed(cx.job) {
        cx.terminating
    } else {
        0
    };
    let diff = want - terminating - active;
    if diff <= 0 {
        return active;
    }
    if cx.per_index.is_none() {
        let wait = out.backoff.remaining(cx.now);
        if !wait.is_zero() {
            out.requeue(wait);
            return active;
        }
    }
    let diff = usize::try_from(diff).unwrap_or(0).min(MAX_CREATE_DELETE);
    let mut suffixes = Suffixes::new(cx.env.seed);
    let job_name = cx.job.metadata.name.clone().unwrap_or_default();
    let new_pods: Vec<NewPod> = if cx.indexed {
        let mut indexes = first_pending_indexes(cx, diff);
        let mut failures = BTreeMap::new();
        if cx.per_index.is_some() {
            let mut ready_now = Vec::new();
            let mut min_wait: Option<Duration> = None;
            for ix in indexes {
                let last = cx.delayed.get(&ix).copied();
                let wait = last.map_or(Duration::ZERO, |p| {
                    policy::remaining_for(
                        absolute_failures(p).saturating_add(1),
                        Some(pods::finished_time(p)),
                        cx.now,
                    )
                });
                if wait.is_zero() {
                    ready_now.push(ix);
                    failures.insert(ix, new_index_failures(cx.job, last));
                } else {
                    min_wait = Some(min_wait.map_or(wait, |m| m.min(wait)));
                }
            }
            if ready_now.is_empty() {
                if let Some(w) = min_wait {
                    out.requeue(w);
                }
                return active;
            }
            indexes = ready_now;
        }
        indexes
            .into_iter()
            .map(|ix| NewPod {
                name: format!(
                    "{}{}",
                    pods::generate_name(&job_name, Some(ix)),
                    suffixes.next_suffix()
                ),
                index: Some(ix),
                failures: failures.get(&ix).copied(),
            })
            .collect()
    } else {
        (0..diff)
            .map(|_| NewPod {
                name: format!(
                    "{}{}",
                    pods::generate_name(&job_name, None),
                    suffixes.next_suffix()
                ),
                index: None,
                failures: None,
            })
            .collect()
    };
    active += to_i32(new_pods.len());
    out.creates = new_pods.iter().map(|n| pods::build(cx.job, n)).collect();
    active
}

/// `getNewIndexFailureCounts`: the counts a replacement inherits from the pod it replaces.
fn new_index_failures(job: &Job, replaced: Option<&Pod>) -> IndexFailures {
    let Some(p) = replaced else {
        return IndexFailures::default();
    };
    let mut f = IndexFailures {
        counted: pods::count_annotation(p, pods::INDEX_FAILURE_COUNT),
        ignored: pods::count_annotation(p, pods::INDEX_IGNORED_FAILURE_COUNT),
    };
    if policy::failure_counts(job, p) {
        f.counted = f.counted.saturating_add(1);
    } else {
        f.ignored = f.ignored.saturating_add(1);
    }
    f
}

fn delete_stripped(cx: &mut Ctx, out: &mut JobPlan, active: i32, rm: Vec<&Pod>) -> i32 {
    let n = to_i32(rm.len());
    let ready = to_i32(rm.iter().filter(|p| pods::is_ready(p)).count());
    for p in rm {
        out.deletes.push(Delete {
            pod: pod_ref(&p),
            strip_finalizer: true,
        });
    }
    cx.terminating += n;
    cx.ready -= ready;
    active - n
}

/// `activePodsForRemoval`: for Indexed Jobs, pods without a valid index and duplicates of an
/// index first; then the most deletable pods until `at_least` are chosen.
fn removal_candidates<'a>(cx: &Ctx<'a>, at_least: usize) -> Vec<&'a Pod> {
    let mut rm: Vec<&'a Pod> = Vec::new();
    let mut left: Vec<&'a Pod> = Vec::new();
    if cx.indexed {
        let mut by_index: BTreeMap<i32, Vec<&'a Pod>> = BTreeMap::new();
        for p in &cx.active_pods {
            match pods::completion_index(p).filter(|_| cx.valid_index(p)) {
                Some(ix) => by_index.entry(ix).or_default().push(p),
                None => rm.push(p),
            }
        }
        for (_, mut group) in by_index {
            group.sort_by(|a, b| pods::deletion_order(a, b));
            if let Some(keep) = group.pop() {
                left.push(keep);
            }
            rm.extend(group);
        }
    } else {
        left = cx.active_pods.clone();
    }
    if rm.len() < at_least {
        left.sort_by(|a, b| pods::deletion_order(a, b));
        rm.extend(left.into_iter().take(at_least - rm.len()));
    }
    rm
}

/// `firstPendingIndexes`: the lowest indexes neither succeeded, failed, active nor (when
/// only failed pods are replaced) held by a terminating pod.
fn first_pending_indexes(cx: &Ctx, count: usize) -> Vec<i32> {
    let completions = cx.completions.unwrap_or(0);
    let mut taken: BTreeSet<i32> = cx.succeeded_idx.iter().collect();
    taken.extend(
        cx.active_pods
            .iter()
            .filter_map(|p| pods::completion_index(p)),
    );
    if policy::only_replace_failed(cx.job) {
        taken.extend(
            cx.pods
                .iter()
                .copied()
                .filter(|p| pods::is_terminating(p))
                .filter_map(pods::completion_index),
        );
    }
    if let Some(f) = &cx.failed_idx {
        taken.extend(f.iter());
    }
    (0..completions)
        .filter(|i| !taken.contains(i))
        .take(count)
        .collect()
}

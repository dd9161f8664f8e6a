//! Table tests of the Job controller's `plan` and `Settle::apply`, with a fake clock: one
//! test (or table) per rule of k8s-semantics §2.

use super::plan::{Delete, Env, JobPlan, PodRef, plan};
use super::pods::{self, INDEX_ANNOTATION, INDEX_FAILURE_COUNT, TRACKING_FINALIZER};
use super::policy::{self, BackoffRecord};
use super::{controller_key, orphan_releasable};
use crate::events::Event;
use k8s_openapi::api::batch::v1::{
    Job, JobCondition, JobSpec, JobStatus, PodFailurePolicy,
    PodFailurePolicyOnExitCodesRequirement, PodFailurePolicyOnPodConditionsPattern,
    PodFailurePolicyRule, SuccessPolicy, SuccessPolicyRule, UncountedTerminatedPods,
};
use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateTerminated, ContainerStatus, Pod, PodCondition,
    PodSpec, PodStatus, PodTemplateSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    LabelSelector, ObjectMeta, OwnerReference, Time,
};
use k8s_openapi::jiff::Timestamp;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

const T0: i64 = 1_700_000_000;

fn at(s: i64) -> Timestamp {
    Timestamp::from_second(T0 + s).unwrap_or(Timestamp::UNIX_EPOCH)
}

fn t(s: i64) -> Option<Time> {
    Some(Time(at(s)))
}

fn job(completions: Option<i32>, parallelism: i32) -> Job {
    let labels: BTreeMap<String, String> = [
        (
            "batch.kubernetes.io/controller-uid".to_owned(),
            "job-uid".to_owned(),
        ),
        ("batch.kubernetes.io/job-name".to_owned(), "pi".to_owned()),
    ]
    .into();
    Job {
        metadata: ObjectMeta {
            name: Some("pi".into()),
            namespace: Some("default".into()),
            uid: Some("job-uid".into()),
            ..Default::default()
        },
        spec: Some(JobSpec {
            completions,
            parallelism: Some(parallelism),
            backoff_limit: Some(6),
            completion_mode: Some("NonIndexed".into()),
            suspend: Some(false),
            selector: Some(LabelSelector {
                match_labels: Some(
                    [(
                        "batch.kubernetes.io/controller-uid".to_owned(),
                        "job-uid".to_owned(),
                    )]
                    .into(),
                ),
                ..Default::default()
            }),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    restart_policy: Some("Never".into()),
                    containers: vec![Container {
                        name: "c".into(),
                        image: Some("busybox".into()),
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        status: None,
    }
}

fn with_status(mut j: Job, f: impl FnOnce(&mut JobStatus)) -> Job {
    let mut st = j.status.take().unwrap_or_default();
    if st.start_time.is_none() {
        st.start_time = t(-100);
    }
    f(&mut st);
    j.status = Some(st);
    j
}

fn spec(mut j: Job, f: impl FnOnce(&mut JobSpec)) -> Job {
    if let Some(s) = j.spec.as_mut() {
        f(s);
    }
    j
}

fn pod(name: &str, phase: &str) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some("default".into()),
            uid: Some(format!("uid-{name}")),
            creation_timestamp: t(-50),
            finalizers: Some(vec![TRACKING_FINALIZER.into()]),
            owner_references: Some(vec![OwnerReference {
                api_version: "batch/v1".into(),
                kind: "Job".into(),
                name: "pi".into(),
                uid: "job-uid".into(),
                controller: Some(true),
                block_owner_deletion: Some(true),
            }]),
            ..Default::default()
        },
        spec: Some(PodSpec::default()),
        status: Some(PodStatus {
            phase: Some(phase.into()),
            ..Default::default()
        }),
    }
}

fn indexed(mut p: Pod, ix: i32) -> Pod {
    p.metadata
        .annotations
        .get_or_insert_with(Default::default)
        .insert(INDEX_ANNOTATION.into(), ix.to_string());
    p
}

fn annotate(mut p: Pod, k: &str, v: &str) -> Pod {
    p.metadata
        .annotations
        .get_or_insert_with(Default::default)
        .insert(k.into(), v.into());
    p
}

fn released(mut p: Pod) -> Pod {
    p.metadata.finalizers = None;
    p
}

fn deleting(mut p: Pod) -> Pod {
    p.metadata.deletion_timestamp = t(-1);
    p
}

fn exited(mut p: Pod, code: i32, finished: i64) -> Pod {
    let st = p.status.get_or_insert_with(Default::default);
    st.container_statuses = Some(vec![ContainerStatus {
        name: "c".into(),
        state: Some(ContainerState {
            terminated: Some(ContainerStateTerminated {
                exit_code: code,
                finished_at: t(finished),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }]);
    p
}

fn cond(mut p: Pod, type_: &str, status: &str) -> Pod {
    p.status
        .get_or_insert_with(Default::default)
        .conditions
        .get_or_insert_with(Vec::new)
        .push(PodCondition {
            type_: type_.into(),
            status: status.into(),
            last_transition_time: t(-10),
            ..Default::default()
        });
    p
}

fn restarts(mut p: Pod, n: i32) -> Pod {
    p.status
        .get_or_insert_with(Default::default)
        .container_statuses = Some(vec![ContainerStatus {
        name: "c".into(),
        restart_count: n,
        ..Default::default()
    }]);
    p
}

fn env() -> Env {
    Env {
        expectations_satisfied: true,
        seed: 7,
        ..Default::default()
    }
}

/// The plan for `p`, checked to be the same without the pods that do not matter to a sync
/// (the controller's pod index leaves them out: `pods::matters`).
fn run(j: &Job, p: &[Pod]) -> JobPlan {
    let all = plan(j, p, at(0), &env());
    let live: Vec<&Pod> = p.iter().filter(|p| pods::matters(p)).collect();
    assert_eq!(
        plan(j, &live, at(0), &env()),
        all,
        "counted, finished pods changed the plan"
    );
    all
}

/// The status after the second phase, every finalizer removal having succeeded.
fn settled(p: &JobPlan) -> (JobStatus, Vec<Event>) {
    let all: BTreeSet<String> = p.remove_finalizers.iter().map(|r| r.uid.clone()).collect();
    let s = p.settle.apply(&p.status, &all, at(0));
    (s.status, s.events)
}

fn conds(st: &JobStatus) -> Vec<(String, String, String)> {
    st.conditions
        .iter()
        .flatten()
        .map(|c| {
            (
                c.type_.clone(),
                c.status.clone(),
                c.reason.clone().unwrap_or_default(),
            )
        })
        .collect()
}

fn c3(a: &str, b: &str, c: &str) -> (String, String, String) {
    (a.into(), b.into(), c.into())
}

fn names(p: &JobPlan) -> Vec<String> {
    p.creates.iter().map(|p| pods::name(p).to_owned()).collect()
}

fn deleted(p: &JobPlan) -> Vec<(String, bool)> {
    p.deletes
        .iter()
        .map(|d: &Delete| (d.pod.name.clone(), d.strip_finalizer))
        .collect()
}

fn released_uids(p: &JobPlan) -> Vec<String> {
    p.remove_finalizers
        .iter()
        .map(|r: &PodRef| r.uid.clone())
        .collect()
}

fn uncounted(s: &[&str], f: &[&str]) -> Option<UncountedTerminatedPods> {
    let l = |x: &[&str]| (!x.is_empty()).then(|| x.iter().map(|s| (*s).to_owned()).collect());
    Some(UncountedTerminatedPods {
        succeeded: l(s),
        failed: l(f),
    })
}

#[test]
fn a_new_job_starts_parallelism_pods_with_owner_labels_and_finalizer() {
    let p = run(&job(Some(4), 3), &[]);
    assert_eq!(p.creates.len(), 3);
    for (n, c) in names(&p).iter().zip(&p.creates) {
        assert!(n.starts_with("pi-") && n.len() == 8, "{n}");
        assert!(
            n[3..]
                .chars()
                .all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c)),
            "{n}"
        );
        assert_eq!(c.metadata.generate_name.as_deref(), Some("pi-"));
        assert_eq!(
            c.metadata.finalizers,
            Some(vec![TRACKING_FINALIZER.to_owned()])
        );
        let owner = &c.metadata.owner_references.as_ref().expect("owner")[0];
        assert_eq!(
            (
                owner.kind.as_str(),
                owner.uid.as_str(),
                owner.controller,
                owner.block_owner_deletion
            ),
            ("Job", "job-uid", Some(true), Some(true))
        );
        assert_eq!(
            c.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("batch.kubernetes.io/job-name"))
                .map(String::as_str),
            Some("pi")
        );
    }
    let unique: BTreeSet<_> = names(&p).into_iter().collect();
    assert_eq!(unique.len(), 3);
    assert_eq!(
        p.status,
        JobStatus {
            active: Some(3),
            ready: Some(0),
            terminating: Some(0),
            start_time: t(0),
            uncounted_terminated_pods: Some(UncountedTerminatedPods::default()),
            ..Default::default()
        }
    );
    assert!(p.flush);
    assert_eq!(p.requeue_after, None);
}

#[test]
fn names_are_deterministic_in_the_seed() {
    let a = run(&job(Some(2), 2), &[]);
    let b = run(&job(Some(2), 2), &[]);
    assert_eq!(names(&a), names(&b));
    let c = plan(
        &job(Some(2), 2),
        &[] as &[Pod],
        at(0),
        &Env { seed: 8, ..env() },
    );
    assert_ne!(names(&a), names(&c));
}

#[test]
fn only_the_remaining_completions_are_started() {
    let j = with_status(job(Some(4), 3), |s| s.succeeded = Some(3));
    let p = run(&j, &[]);
    assert_eq!(p.creates.len(), 1);
    let j = with_status(job(Some(4), 3), |s| s.succeeded = Some(1));
    let p = run(&j, &[pod("a", "Running"), pod("b", "Pending")]);
    assert_eq!(p.creates.len(), 1, "3 wanted, 2 active");
}

#[test]
fn nothing_is_created_or_deleted_while_expectations_are_unmet() {
    let p = plan(
        &job(Some(4), 3),
        &[] as &[Pod],
        at(0),
        &Env {
            expectations_satisfied: false,
            ..env()
        },
    );
    assert!(p.creates.is_empty() && p.deletes.is_empty());
    // Bookkeeping still happens.
    let p = plan(
        &job(Some(4), 3),
        &[pod("a", "Succeeded")],
        at(0),
        &Env {
            expectations_satisfied: false,
            ..env()
        },
    );
    assert_eq!(
        p.status.uncounted_terminated_pods,
        uncounted(&["uid-a"], &[])
    );
}

#[test]
fn a_succeeded_pod_is_counted_in_two_phases() {
    let j = with_status(job(Some(4), 3), |_| {});
    let pods = [
        pod("a", "Succeeded"),
        pod("b", "Running"),
        pod("c", "Running"),
    ];
    let p = run(&j, &pods);
    assert_eq!(
        p.status.uncounted_terminated_pods,
        uncounted(&["uid-a"], &[])
    );
    assert_eq!(p.status.succeeded, None);
    assert_eq!(released_uids(&p), vec!["uid-a"]);
    assert_eq!(p.creates.len(), 1, "3 active wanted, one left to complete");
    let (st, ev) = settled(&p);
    assert_eq!(st.succeeded, Some(1));
    assert_eq!(
        st.uncounted_terminated_pods,
        Some(UncountedTerminatedPods::default())
    );
    assert!(ev.is_empty());
}

#[test]
fn a_partial_finalizer_removal_counts_only_the_released() {
    let j = with_status(job(Some(4), 3), |_| {});
    let p = run(&j, &[pod("a", "Succeeded"), pod("b", "Failed")]);
    let only_a: BTreeSet<String> = ["uid-a".to_owned()].into();
    let s = p.settle.apply(&p.status, &only_a, at(0));
    assert!(s.changed);
    assert_eq!((s.status.succeeded, s.status.failed), (Some(1), None));
    assert_eq!(
        s.status.uncounted_terminated_pods,
        uncounted(&[], &["uid-b"])
    );
}

#[test]
fn restarts_between_the_phases_count_each_pod_once() {
    // Crash after the first write, before the finalizer was removed: not added again.
    let j = with_status(job(Some(4), 3), |s| {
        s.uncounted_terminated_pods = uncounted(&["uid-a"], &[])
    });
    let p = run(&j, &[pod("a", "Succeeded")]);
    assert_eq!(
        p.status.uncounted_terminated_pods,
        uncounted(&["uid-a"], &[])
    );
    assert_eq!(released_uids(&p), vec!["uid-a"]);
    assert_eq!(settled(&p).0.succeeded, Some(1));
    // Crash after the finalizer was removed, before the second write: counted now.
    let p = run(&j, &[released(pod("a", "Succeeded"))]);
    assert_eq!(p.status.succeeded, Some(1));
    assert_eq!(
        p.status.uncounted_terminated_pods,
        Some(UncountedTerminatedPods::default())
    );
    assert!(p.remove_finalizers.is_empty());
    // The pod is gone altogether: counted too.
    assert_eq!(run(&j, &[]).status.succeeded, Some(1));
    // Counted already, finalizer gone: never again.
    let j = with_status(job(Some(4), 3), |s| s.succeeded = Some(1));
    let p = run(&j, &[released(pod("a", "Succeeded"))]);
    assert_eq!(p.status.succeeded, Some(1));
    assert_eq!(
        p.status.uncounted_terminated_pods,
        Some(UncountedTerminatedPods::default())
    );
}

#[test]
fn a_pending_finalizer_removal_is_not_counted_again() {
    // The status counted the pod; the cache still shows its finalizer.
    let j = with_status(job(Some(4), 3), |s| s.succeeded = Some(1));
    let e = Env {
        pending_finalizer_removals: ["uid-a".to_owned()].into(),
        ..env()
    };
    let p = plan(&j, &[pod("a", "Succeeded")], at(0), &e);
    assert_eq!(p.status.succeeded, Some(1));
    assert_eq!(
        p.status.uncounted_terminated_pods,
        Some(UncountedTerminatedPods::default())
    );
    assert!(p.remove_finalizers.is_empty());
    assert_eq!(settled(&p).0.succeeded, Some(1));
}

#[test]
fn completion_goes_through_success_criteria_met_then_complete() {
    let j = with_status(job(Some(2), 2), |s| s.succeeded = Some(1));
    let p = run(&j, &[pod("b", "Succeeded")]);
    assert_eq!(
        conds(&p.status),
        vec![c3("SuccessCriteriaMet", "True", "CompletionsReached")]
    );
    let scm = &p.status.conditions.as_ref().expect("conditions")[0];
    assert_eq!(
        scm.message.as_deref(),
        Some("Reached expected number of succeeded pods")
    );
    assert_eq!(p.status.completion_time, None);
    let (st, ev) = settled(&p);
    assert_eq!(
        conds(&st),
        vec![
            c3("SuccessCriteriaMet", "True", "CompletionsReached"),
            c3("Complete", "True", "CompletionsReached")
        ]
    );
    assert_eq!(st.completion_time, t(0));
    assert_eq!(st.succeeded, Some(2));
    assert_eq!(st.active, None);
    assert_eq!(ev, vec![Event::normal("Completed", "Job completed")]);
}

#[test]
fn a_finished_job_is_not_synced_but_releases_leftover_finalizers() {
    let j = with_status(job(Some(1), 1), |s| {
        s.succeeded = Some(1);
        s.conditions = Some(vec![JobCondition {
            type_: "Complete".into(),
            status: "True".into(),
            ..Default::default()
        }]);
    });
    let p = run(&j, &[pod("a", "Running")]);
    assert!(!p.flush && p.creates.is_empty() && p.deletes.is_empty());
    assert_eq!(released_uids(&p), vec!["uid-a"]);
    assert!(!settled(&p).1.iter().any(|e| e.reason == "Completed"));
}

#[test]
fn a_second_sync_without_news_writes_nothing() {
    let j = job(Some(4), 3);
    let pods = [
        pod("a", "Running"),
        pod("b", "Running"),
        pod("c", "Pending"),
    ];
    let first = run(&j, &pods);
    let j = Job {
        status: Some(settled(&first).0),
        ..j
    };
    let second = plan(&j, &pods, at(5), &env());
    assert!(!second.flush, "{:?}", second.status);
    assert!(second.creates.is_empty() && second.remove_finalizers.is_empty());
    assert!(
        !second
            .settle
            .apply(&second.status, &BTreeSet::new(), at(5))
            .changed
    );
}

#[test]
fn ready_and_terminating_are_counted() {
    let pods = [
        cond(pod("a", "Running"), "Ready", "True"),
        pod("b", "Running"),
        deleting(pod("c", "Running")),
    ];
    let j = spec(job(Some(5), 3), |s| {
        s.pod_replacement_policy = Some("Failed".into())
    });
    let p = run(&j, &pods);
    assert_eq!(
        (p.status.active, p.status.ready, p.status.terminating),
        (Some(2), Some(1), Some(1))
    );
    assert!(
        p.creates.is_empty(),
        "the terminating pod holds its place under Failed"
    );
}

#[test]
fn backoff_limit_with_never_counts_failed_pods() {
    // backoffLimit 2: the third failure fails the Job; a running pod is deleted.
    let j = with_status(spec(job(Some(4), 3), |s| s.backoff_limit = Some(2)), |s| {
        s.failed = Some(2)
    });
    let pods = [exited(pod("f3", "Failed"), 1, -1), pod("r", "Running")];
    let p = run(&j, &pods);
    assert_eq!(
        conds(&p.status),
        vec![c3("FailureTarget", "True", "BackoffLimitExceeded")]
    );
    assert_eq!(deleted(&p), vec![("r".to_owned(), false)]);
    assert_eq!(
        p.status.uncounted_terminated_pods,
        uncounted(&[], &["uid-f3", "uid-r"])
    );
    assert!(p.creates.is_empty());
    let (st, ev) = settled(&p);
    assert_eq!(conds(&st).len(), 1, "Failed waits for the terminating pod");
    assert!(ev.is_empty());
    assert_eq!(st.failed, Some(4));
    // Next sync: the pod is gone; Failed is written with the same reason.
    let j = Job {
        status: Some(st),
        ..j
    };
    let p = run(&j, &[released(exited(pod("f3", "Failed"), 1, -1))]);
    let (st, ev) = settled(&p);
    assert_eq!(
        conds(&st),
        vec![
            c3("FailureTarget", "True", "BackoffLimitExceeded"),
            c3("Failed", "True", "BackoffLimitExceeded")
        ]
    );
    assert_eq!(st.completion_time, None);
    assert_eq!(
        ev,
        vec![Event::warning(
            "BackoffLimitExceeded",
            "Job has reached the specified backoff limit"
        )]
    );
    // Two failures are within the limit.
    let j = with_status(spec(job(Some(4), 3), |s| s.backoff_limit = Some(2)), |s| {
        s.failed = Some(1)
    });
    assert!(conds(&run(&j, &[exited(pod("f2", "Failed"), 1, -1)]).status).is_empty());
}

#[test]
fn backoff_limit_with_on_failure_counts_restarts() {
    let on_failure = |limit: i32| {
        spec(job(Some(1), 1), |s| {
            s.backoff_limit = Some(limit);
            if let Some(ps) = s.template.spec.as_mut() {
                ps.restart_policy = Some("OnFailure".into());
            }
        })
    };
    let cases = [(2, 1, false), (2, 2, true), (0, 1, true), (0, 0, false)];
    for (limit, n, fails) in cases {
        let p = run(
            &with_status(on_failure(limit), |_| {}),
            &[restarts(pod("a", "Running"), n)],
        );
        assert_eq!(
            !conds(&p.status).is_empty(),
            fails,
            "limit {limit} restarts {n}"
        );
    }
}

#[test]
fn replacements_wait_for_the_exponential_backoff() {
    let j = with_status(job(Some(2), 1), |_| {});
    // One new failure, 3 s ago: 7 s left of 10 s.
    let p = run(&j, &[exited(pod("f", "Failed"), 1, -3)]);
    assert!(p.creates.is_empty());
    assert_eq!(p.requeue_after, Some(Duration::from_secs(7)));
    assert_eq!(
        p.backoff,
        BackoffRecord {
            failures_after_last_success: 1,
            last_failure_time: Some(at(-3))
        }
    );
    // Second failure: 20 s.
    let e = Env {
        backoff: p.backoff,
        ..env()
    };
    let j2 = with_status(job(Some(2), 1), |s| s.failed = Some(1));
    let p = plan(&j2, &[exited(pod("g", "Failed"), 1, 0)], at(0), &e);
    assert_eq!(p.requeue_after, Some(Duration::from_secs(20)));
    // After the delay, the replacement is created.
    let e = Env {
        backoff: BackoffRecord {
            failures_after_last_success: 1,
            last_failure_time: Some(at(-11)),
        },
        ..env()
    };
    assert_eq!(plan(&j2, &[] as &[Pod], at(0), &e).creates.len(), 1);
    // A success resets the count.
    let rec = BackoffRecord {
        failures_after_last_success: 3,
        last_failure_time: Some(at(-1)),
    };
    let s = exited(pod("s", "Succeeded"), 0, -1);
    assert_eq!(rec.update(&[&s], &[]), BackoffRecord::default());
    // The delays: 10 s doubling, capped at 10 minutes.
    let delays: Vec<u64> = (1..=9)
        .map(|n| policy::remaining_for(n, Some(at(0)), at(0)).as_secs())
        .collect();
    assert_eq!(delays, vec![10, 20, 40, 80, 160, 320, 600, 600, 600]);
}

#[test]
fn active_deadline_fails_the_job_and_deletes_its_pods() {
    let j = with_status(
        spec(job(Some(1), 1), |s| s.active_deadline_seconds = Some(60)),
        |s| s.start_time = t(-100),
    );
    let p = run(&j, &[pod("a", "Running")]);
    assert_eq!(
        conds(&p.status),
        vec![c3("FailureTarget", "True", "DeadlineExceeded")]
    );
    let msg = p
        .status
        .conditions
        .as_ref()
        .and_then(|c| c[0].message.clone());
    assert_eq!(
        msg.as_deref(),
        Some("Job was active longer than specified deadline")
    );
    assert_eq!(deleted(&p), vec![("a".to_owned(), false)]);
    assert_eq!((p.status.active, p.status.terminating), (None, Some(1)));
    // Before the deadline: a requeue at the deadline.
    let j = with_status(
        spec(job(Some(1), 1), |s| s.active_deadline_seconds = Some(200)),
        |s| s.start_time = t(-100),
    );
    assert_eq!(
        run(&j, &[pod("a", "Running")]).requeue_after,
        Some(Duration::from_secs(100))
    );
    // Not while suspended.
    let j = with_status(
        spec(job(Some(1), 1), |s| {
            s.active_deadline_seconds = Some(60);
            s.suspend = Some(true);
        }),
        |s| s.start_time = t(-100),
    );
    assert!(
        conds(&run(&j, &[]).status)
            .iter()
            .all(|c| c.0 == "Suspended")
    );
}

#[test]
fn indexed_pods_carry_their_index() {
    let j = spec(job(Some(3), 2), |s| {
        s.completion_mode = Some("Indexed".into())
    });
    let p = run(&j, &[]);
    assert_eq!(p.creates.len(), 2);
    for (i, c) in p.creates.iter().enumerate() {
        let ix = i.to_string();
        assert!(pods::name(c).starts_with(&format!("pi-{i}-")) && pods::name(c).len() == 10);
        assert_eq!(
            c.metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(INDEX_ANNOTATION)),
            Some(&ix)
        );
        assert_eq!(
            c.metadata
                .labels
                .as_ref()
                .and_then(|a| a.get(INDEX_ANNOTATION)),
            Some(&ix)
        );
        let spec = c.spec.as_ref().expect("spec");
        assert_eq!(spec.hostname.as_deref(), Some(format!("pi-{i}").as_str()));
        let env = &spec.containers[0].env.as_ref().expect("env")[0];
        assert_eq!(env.name, "JOB_COMPLETION_INDEX");
        let path = env
            .value_from
            .as_ref()
            .and_then(|v| v.field_ref.as_ref())
            .map(|f| f.field_path.as_str());
        assert_eq!(
            path,
            Some("metadata.labels['batch.kubernetes.io/job-completion-index']")
        );
    }
    // Index 0 succeeded, 1 running: the next pending index is 2.
    let j = with_status(j, |_| {});
    let pods = [
        indexed(pod("a", "Succeeded"), 0),
        indexed(pod("b", "Running"), 1),
    ];
    let p = run(&j, &pods);
    assert_eq!(
        p.creates
            .iter()
            .map(pods::completion_index)
            .collect::<Vec<_>>(),
        vec![Some(2)]
    );
    assert_eq!(p.status.completed_indexes.as_deref(), Some("0"));
    assert_eq!(p.status.succeeded, Some(1));
    assert_eq!(
        p.status.uncounted_terminated_pods,
        Some(UncountedTerminatedPods::default())
    );
    // All indexes done.
    let j = with_status(j, |s| s.completed_indexes = Some("0,1".into()));
    let p = run(&j, &[indexed(pod("c", "Succeeded"), 2)]);
    assert_eq!(p.status.completed_indexes.as_deref(), Some("0-2"));
    assert_eq!(
        conds(&settled(&p).0).last().map(|c| c.0.as_str()),
        Some("Complete")
    );
}

#[test]
fn indexed_duplicates_and_invalid_indexes_are_deleted() {
    let j = with_status(
        spec(job(Some(2), 2), |s| {
            s.completion_mode = Some("Indexed".into())
        }),
        |_| {},
    );
    let older = indexed(pod("old", "Running"), 0);
    let mut newer = indexed(pod("new", "Running"), 0);
    newer.metadata.creation_timestamp = t(-5);
    let bad = indexed(pod("bad", "Running"), 7);
    let p = run(&j, &[older, newer, bad]);
    let mut d = deleted(&p);
    d.sort();
    assert_eq!(d, vec![("bad".to_owned(), true), ("new".to_owned(), true)]);
    assert!(
        p.creates.is_empty(),
        "deletions and creations never share a sync"
    );
}

#[test]
fn work_queue_jobs_complete_when_one_pod_succeeds_and_none_is_active() {
    let j = job(None, 2);
    assert_eq!(run(&j, &[]).creates.len(), 2);
    let j = with_status(j, |_| {});
    let p = run(&j, &[pod("a", "Succeeded"), pod("b", "Running")]);
    assert!(p.creates.is_empty());
    assert!(conds(&p.status).is_empty());
    let j = with_status(job(None, 2), |s| s.succeeded = Some(1));
    let p = run(&j, &[pod("b", "Failed")]);
    assert!(p.creates.is_empty(), "no replacement after a success");
    let (st, _) = settled(&p);
    assert_eq!(conds(&st).last().map(|c| c.0.as_str()), Some("Complete"));
    assert_eq!((st.succeeded, st.failed), (Some(1), Some(1)));
}

#[test]
fn parallelism_zero_pauses_without_a_condition() {
    let p = run(&job(Some(3), 0), &[]);
    assert!(p.creates.is_empty() && conds(&p.status).is_empty());
}

#[test]
fn suspending_deletes_active_pods_uncounted_and_resuming_restarts() {
    let j = with_status(spec(job(Some(2), 2), |s| s.suspend = Some(true)), |_| {});
    let pods = [pod("a", "Running"), pod("b", "Pending")];
    let p = run(&j, &pods);
    let mut d = deleted(&p);
    d.sort();
    assert_eq!(d, vec![("a".to_owned(), true), ("b".to_owned(), true)]);
    assert_eq!(
        conds(&p.status),
        vec![c3("Suspended", "True", "JobSuspended")]
    );
    assert_eq!(p.status.start_time, None);
    assert_eq!((p.status.active, p.status.terminating), (None, Some(2)));
    assert_eq!(p.events, vec![Event::normal("Suspended", "Job suspended")]);
    assert!(p.remove_finalizers.is_empty() && p.status.failed.is_none());
    // Resume.
    let st = settled(&p).0;
    let j = Job {
        status: Some(st),
        ..spec(j, |s| s.suspend = Some(false))
    };
    let p = plan(&j, &[] as &[Pod], at(30), &env());
    assert_eq!(
        conds(&p.status),
        vec![c3("Suspended", "False", "JobResumed")]
    );
    assert_eq!(p.status.start_time, t(30));
    assert_eq!(p.creates.len(), 2);
    assert_eq!(p.events, vec![Event::normal("Resumed", "Job resumed")]);
}

#[test]
fn a_job_created_suspended_never_starts() {
    let p = run(&spec(job(Some(2), 2), |s| s.suspend = Some(true)), &[]);
    assert!(p.creates.is_empty());
    assert_eq!(p.status.start_time, None);
    assert_eq!(
        conds(&p.status),
        vec![c3("Suspended", "True", "JobSuspended")]
    );
}

#[test]
fn scaling_down_deletes_the_most_deletable_pods_first() {
    let j = with_status(job(Some(10), 1), |_| {});
    let running_ready = cond(pod("ready", "Running"), "Ready", "True");
    let running = pod("running", "Running");
    let pending = pod("pending", "Pending");
    let p = run(&j, &[running_ready, running, pending]);
    assert_eq!(
        deleted(&p),
        vec![("pending".to_owned(), true), ("running".to_owned(), true)]
    );
    assert_eq!(p.status.active, Some(1));
}

#[test]
fn creations_are_capped_per_sync() {
    assert_eq!(run(&job(Some(1000), 1000), &[]).creates.len(), 500);
}

#[test]
fn uncounted_pods_are_capped_per_sync() {
    let j = with_status(job(Some(600), 600), |_| {});
    let pods: Vec<Pod> = (0..600)
        .map(|i| pod(&format!("p{i}"), "Succeeded"))
        .collect();
    let p = run(&j, &pods);
    assert_eq!(
        p.status
            .uncounted_terminated_pods
            .as_ref()
            .and_then(|u| u.succeeded.as_ref())
            .map(Vec::len),
        Some(500)
    );
    assert_eq!(p.remove_finalizers.len(), 500);
    assert!(p.settle.capped);
    let (st, _) = settled(&p);
    assert_eq!(st.succeeded, Some(500));
    assert!(conds(&st).iter().all(|c| c.0 != "Complete"));
}

fn exit_rule(action: &str, op: &str, values: Vec<i32>) -> PodFailurePolicyRule {
    PodFailurePolicyRule {
        action: action.into(),
        on_exit_codes: Some(PodFailurePolicyOnExitCodesRequirement {
            container_name: None,
            operator: op.into(),
            values,
        }),
        on_pod_conditions: None,
    }
}

fn with_policy(rules: Vec<PodFailurePolicyRule>) -> Job {
    with_status(
        spec(job(Some(2), 1), |s| {
            s.pod_failure_policy = Some(PodFailurePolicy { rules });
            s.pod_replacement_policy = Some("Failed".into());
        }),
        |_| {},
    )
}

#[test]
fn pod_failure_policy_fail_job() {
    let j = with_policy(vec![
        exit_rule("Ignore", "In", vec![42]),
        exit_rule("FailJob", "In", vec![3]),
    ]);
    let p = run(&j, &[exited(pod("a", "Failed"), 3, -1)]);
    assert_eq!(
        conds(&p.status),
        vec![c3("FailureTarget", "True", "PodFailurePolicy")]
    );
    let msg = p
        .status
        .conditions
        .as_ref()
        .and_then(|c| c[0].message.clone());
    assert_eq!(
        msg.as_deref(),
        Some(
            "Container c for pod default/a failed with exit code 3 matching FailJob rule at index 1"
        )
    );
    let (st, ev) = settled(&p);
    assert_eq!(st.failed, Some(1));
    assert_eq!(conds(&st).last().map(|c| c.0.as_str()), Some("Failed"));
    assert_eq!(ev[0].reason, "PodFailurePolicy");
}

#[test]
fn pod_failure_policy_ignore_and_count() {
    let j = with_policy(vec![
        exit_rule("Ignore", "In", vec![42]),
        exit_rule("Count", "NotIn", vec![0, 5]),
    ]);
    let p = run(&j, &[exited(pod("a", "Failed"), 42, -1)]);
    assert!(conds(&p.status).is_empty());
    assert_eq!(released_uids(&p), vec!["uid-a"]);
    assert_eq!(
        p.status.uncounted_terminated_pods,
        Some(UncountedTerminatedPods::default())
    );
    // Not counted, but its replacement waits for the backoff like any other (the code
    // builds the backoff record from every new failure).
    assert!(p.creates.is_empty());
    assert_eq!(p.requeue_after, Some(Duration::from_secs(9)));
    assert_eq!(settled(&p).0.failed, None);
    let p = run(&j, &[exited(pod("a", "Failed"), 7, -1)]);
    assert_eq!(
        p.status.uncounted_terminated_pods,
        uncounted(&[], &["uid-a"])
    );
    // Exit code 0 never matches onExitCodes.
    assert_eq!(
        policy::match_failure_policy(
            j.spec.as_ref().and_then(|s| s.pod_failure_policy.as_ref()),
            &exited(pod("z", "Failed"), 0, 0)
        ),
        None
    );
}

#[test]
fn pod_failure_policy_on_disruption_target() {
    let j = with_policy(vec![PodFailurePolicyRule {
        action: "Ignore".into(),
        on_exit_codes: None,
        on_pod_conditions: Some(vec![PodFailurePolicyOnPodConditionsPattern {
            type_: "DisruptionTarget".into(),
            status: "True".into(),
        }]),
    }]);
    let p = run(
        &j,
        &[cond(
            exited(pod("a", "Failed"), 137, -1),
            "DisruptionTarget",
            "True",
        )],
    );
    assert_eq!(
        p.status.uncounted_terminated_pods,
        Some(UncountedTerminatedPods::default())
    );
    let p = run(&j, &[exited(pod("a", "Failed"), 137, -1)]);
    assert_eq!(
        p.status.uncounted_terminated_pods,
        uncounted(&[], &["uid-a"])
    );
}

#[test]
fn pod_replacement_policy_decides_when_a_terminating_pod_is_a_failure() {
    let j = with_status(job(Some(1), 1), |_| {});
    // TerminatingOrFailed (default): failed now, and replaced now.
    let p = run(&j, &[deleting(pod("a", "Running"))]);
    assert_eq!(
        p.status.uncounted_terminated_pods,
        uncounted(&[], &["uid-a"])
    );
    assert_eq!(p.backoff.failures_after_last_success, 1);
    // Failed: not a failure until the kubelet says so; not replaced meanwhile.
    let j = spec(j, |s| s.pod_replacement_policy = Some("Failed".into()));
    let p = run(&j, &[deleting(pod("a", "Running"))]);
    assert_eq!(
        p.status.uncounted_terminated_pods,
        Some(UncountedTerminatedPods::default())
    );
    assert!(p.creates.is_empty() && p.remove_finalizers.is_empty());
}

fn per_index(limit: i32, max_failed: Option<i32>, completions: i32) -> Job {
    with_status(
        spec(job(Some(completions), completions), |s| {
            s.completion_mode = Some("Indexed".into());
            s.backoff_limit_per_index = Some(limit);
            s.max_failed_indexes = max_failed;
            s.backoff_limit = Some(i32::MAX);
        }),
        |_| {},
    )
}

#[test]
fn backoff_limit_per_index_retries_an_index_with_the_failure_count() {
    let j = per_index(1, None, 2);
    let failed = indexed(
        annotate(exited(pod("a", "Failed"), 1, -20), INDEX_FAILURE_COUNT, "0"),
        0,
    );
    let p = run(&j, &[failed.clone(), indexed(pod("b", "Running"), 1)]);
    assert_eq!(p.status.failed_indexes.as_deref(), Some(""));
    assert!(
        p.remove_finalizers.is_empty(),
        "the newest failed pod of the index waits for its replacement"
    );
    assert_eq!(p.creates.len(), 1);
    let ann = p.creates[0]
        .metadata
        .annotations
        .clone()
        .unwrap_or_default();
    assert_eq!(ann.get(INDEX_FAILURE_COUNT).map(String::as_str), Some("1"));
    assert_eq!(ann.get(INDEX_ANNOTATION).map(String::as_str), Some("0"));
    // Once the replacement exists, the failed pod is released and counted.
    let p = run(
        &j,
        &[
            failed,
            indexed(pod("b", "Running"), 1),
            indexed(pod("a2", "Pending"), 0),
        ],
    );
    assert_eq!(released_uids(&p), vec!["uid-a"]);
    assert_eq!(
        p.status.uncounted_terminated_pods,
        uncounted(&[], &["uid-a"])
    );
}

#[test]
fn backoff_limit_per_index_fails_indexes_and_then_the_job() {
    let exhausted = indexed(
        annotate(exited(pod("a", "Failed"), 1, -1), INDEX_FAILURE_COUNT, "1"),
        0,
    );
    // Index 0 failed, index 1 succeeded: FailedIndexes.
    let p = run(
        &per_index(1, None, 2),
        &[exhausted.clone(), indexed(pod("b", "Succeeded"), 1)],
    );
    assert_eq!(p.status.failed_indexes.as_deref(), Some("0"));
    assert_eq!(p.status.completed_indexes.as_deref(), Some("1"));
    assert_eq!(
        conds(&p.status),
        vec![c3("FailureTarget", "True", "FailedIndexes")]
    );
    assert_eq!(
        conds(&settled(&p).0).last().map(|c| c.1.as_str()),
        Some("True")
    );
    // More failed indexes than maxFailedIndexes: at once.
    let p = run(
        &per_index(1, Some(0), 3),
        &[exhausted, indexed(pod("b", "Running"), 1)],
    );
    assert_eq!(
        conds(&p.status),
        vec![c3("FailureTarget", "True", "MaxFailedIndexesExceeded")]
    );
    assert_eq!(deleted(&p), vec![("b".to_owned(), false)]);
}

#[test]
fn fail_index_rule_fails_the_index_at_once() {
    let j = spec(per_index(5, None, 2), |s| {
        s.pod_failure_policy = Some(PodFailurePolicy {
            rules: vec![exit_rule("FailIndex", "In", vec![9])],
        });
        s.pod_replacement_policy = Some("Failed".into());
    });
    let p = run(
        &j,
        &[
            indexed(exited(pod("a", "Failed"), 9, -1), 0),
            indexed(pod("b", "Running"), 1),
        ],
    );
    assert_eq!(p.status.failed_indexes.as_deref(), Some("0"));
    assert!(p.creates.is_empty(), "a failed index is not retried");
}

#[test]
fn success_policy_ends_the_job_and_lingering_pods_are_not_failures() {
    let j = with_status(
        spec(job(Some(3), 3), |s| {
            s.completion_mode = Some("Indexed".into());
            s.success_policy = Some(SuccessPolicy {
                rules: vec![SuccessPolicyRule {
                    succeeded_indexes: Some("0".into()),
                    succeeded_count: None,
                }],
            });
        }),
        |_| {},
    );
    let pods = [
        indexed(pod("a", "Succeeded"), 0),
        indexed(pod("b", "Running"), 1),
        indexed(pod("c", "Running"), 2),
    ];
    let p = run(&j, &pods);
    assert_eq!(
        conds(&p.status),
        vec![c3("SuccessCriteriaMet", "True", "SuccessPolicy")]
    );
    assert_eq!(
        p.status
            .conditions
            .as_ref()
            .and_then(|c| c[0].message.clone())
            .as_deref(),
        Some("Matched rules at index 0")
    );
    assert_eq!(p.deletes.len(), 2);
    assert_eq!(
        p.status.uncounted_terminated_pods,
        Some(UncountedTerminatedPods::default())
    );
    let (st, ev) = settled(&p);
    assert_eq!(st.failed, None);
    assert!(
        conds(&st).iter().all(|c| c.0 != "Complete"),
        "Complete waits for the terminating pods"
    );
    assert!(ev.is_empty());
    let j = Job {
        status: Some(st),
        ..j
    };
    let (st, ev) = settled(&run(&j, &[released(indexed(pod("a", "Succeeded"), 0))]));
    assert_eq!(
        conds(&st),
        vec![
            c3("SuccessCriteriaMet", "True", "SuccessPolicy"),
            c3("Complete", "True", "SuccessPolicy")
        ]
    );
    assert_eq!(ev, vec![Event::normal("Completed", "Job completed")]);
}

#[test]
fn success_policy_rules() {
    let set = |s: &str| super::indexes::IndexSet::parse(s, 10);
    let rule = |ix: Option<&str>, n: Option<i32>| SuccessPolicy {
        rules: vec![SuccessPolicyRule {
            succeeded_indexes: ix.map(Into::into),
            succeeded_count: n,
        }],
    };
    let cases = [
        (rule(Some("0-2"), None), "0,1", false),
        (rule(Some("0-2"), None), "0-3", true),
        (rule(None, Some(2)), "5,7", true),
        (rule(None, Some(3)), "5,7", false),
        (rule(Some("0-4"), Some(2)), "3,4,8", true),
        (rule(Some("0-4"), Some(2)), "4,8", false),
        (rule(Some("0"), None), "", false),
    ];
    for (r, done, want) in cases {
        assert_eq!(
            policy::match_success_policy(Some(&r), 10, &set(done)).is_some(),
            want,
            "{r:?} {done}"
        );
    }
}

#[test]
fn a_job_being_deleted_releases_every_pod_and_creates_none() {
    let mut j = with_status(job(Some(3), 3), |_| {});
    j.metadata.deletion_timestamp = t(-1);
    let p = run(&j, &[pod("a", "Running"), pod("b", "Succeeded")]);
    assert!(p.creates.is_empty());
    assert_eq!(released_uids(&p), vec!["uid-a", "uid-b"]);
    assert_eq!(
        p.status.uncounted_terminated_pods,
        uncounted(&["uid-b"], &[])
    );
}

#[test]
fn an_externally_managed_job_is_left_alone() {
    let j = spec(job(Some(3), 3), |s| {
        s.managed_by = Some("example.com/other".into())
    });
    assert_eq!(
        run(&j, &[]),
        JobPlan {
            status: JobStatus {
                uncounted_terminated_pods: Some(Default::default()),
                ..Default::default()
            },
            ..Default::default()
        }
    );
}

#[test]
fn orphan_pods_are_released_unless_a_live_job_controls_them() {
    let j = job(Some(1), 1);
    let finished = with_status(job(Some(1), 1), |s| {
        s.conditions = Some(vec![JobCondition {
            type_: "Failed".into(),
            status: "True".into(),
            ..Default::default()
        }]);
    });
    let mut other = j.clone();
    other.metadata.uid = Some("other".into());
    let mut no_owner = pod("a", "Running");
    no_owner.metadata.owner_references = None;
    let mut not_job = pod("a", "Running");
    if let Some(r) = not_job.metadata.owner_references.as_mut() {
        r[0].kind = "ReplicaSet".into();
        r[0].api_version = "apps/v1".into();
    }
    let cases: Vec<(&str, Pod, Option<&Job>, bool)> = vec![
        ("live job", pod("a", "Running"), Some(&j), false),
        ("job gone", pod("a", "Running"), None, true),
        (
            "another job of the same name",
            pod("a", "Running"),
            Some(&other),
            true,
        ),
        ("finished job", pod("a", "Running"), Some(&finished), true),
        ("no controller", no_owner, Some(&j), true),
        ("not a job", not_job, None, false),
        ("no finalizer", released(pod("a", "Running")), None, false),
    ];
    for (name, p, owner, want) in cases {
        assert_eq!(orphan_releasable(&p, owner), want, "{name}");
    }
}

#[test]
fn a_pod_change_wakes_its_controlling_job_only() {
    let owner = |kind: &str, api: &str, controller: Option<bool>| {
        let mut p = pod("a", "Running");
        if let Some(r) = p.metadata.owner_references.as_mut() {
            r[0].kind = kind.into();
            r[0].api_version = api.into();
            r[0].controller = controller;
        }
        p
    };
    let mut no_owner = pod("a", "Running");
    no_owner.metadata.owner_references = None;
    let mut elsewhere = pod("a", "Running");
    elsewhere.metadata.namespace = Some("ns2".into());
    type Case<'a> = (&'a str, Pod, Option<(&'a str, &'a str)>);
    let cases: Vec<Case> = vec![
        (
            "controlled by a job",
            pod("a", "Running"),
            Some(("default", "pi")),
        ),
        ("in its own namespace", elsewhere, Some(("ns2", "pi"))),
        (
            "owned, not controlled",
            owner("Job", "batch/v1", None),
            None,
        ),
        (
            "controlled by a ReplicaSet",
            owner("ReplicaSet", "apps/v1", Some(true)),
            None,
        ),
        (
            "another group's Job",
            owner("Job", "example.com/v1", Some(true)),
            None,
        ),
        ("no owner", no_owner, None),
    ];
    for (name, p, want) in cases {
        let got = controller_key(&p);
        let got = got
            .as_ref()
            .map(|k| (k.namespace.as_deref().unwrap_or(""), k.name.as_str()));
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn generated_names_keep_the_index_when_truncated() {
    let long = "a".repeat(70);
    assert_eq!(pods::generate_name(&long, None).len(), 58);
    let g = pods::generate_name(&long, Some(12));
    assert_eq!(g.len(), 58);
    assert!(g.ends_with("-12-"));
    assert_eq!(pods::generate_name("pi", Some(3)), "pi-3-");
}

#[test]
fn an_unknown_completion_mode_is_reported() {
    let p = run(
        &spec(job(Some(1), 1), |s| {
            s.completion_mode = Some("Weird".into())
        }),
        &[],
    );
    assert!(p.creates.is_empty());
    assert_eq!(p.events[0].reason, "UnknownCompletionMode");
}

/// One sync as the shell carries it out with every call succeeding: the plan's status,
/// its finalizers removed, the settled status. Returns the Job and pods after it.
fn sync_once(j: &Job, pods: &[Pod]) -> (Job, Vec<Pod>) {
    let p = run(j, pods);
    let (st, _) = settled(&p);
    let released: BTreeSet<&str> = p.remove_finalizers.iter().map(|r| r.uid.as_str()).collect();
    let deleted: BTreeSet<&str> = p.deletes.iter().map(|d| d.pod.uid.as_str()).collect();
    let mut next: Vec<Pod> = pods
        .iter()
        .filter(|q| !deleted.contains(pods::uid(q)))
        .map(|q| {
            if released.contains(pods::uid(q)) {
                self::released(q.clone())
            } else {
                q.clone()
            }
        })
        .collect();
    next.extend(p.creates.into_iter().map(|mut c| {
        c.metadata.uid = Some(format!("uid-{}", pods::name(&c)));
        c
    }));
    let mut j = j.clone();
    j.status = Some(st);
    (j, next)
}

#[test]
fn counted_finished_pods_never_change_a_later_plan() {
    let fail_job = with_policy(vec![exit_rule("FailJob", "In", vec![3])]);
    let on_failure = spec(job(Some(3), 2), |s| {
        if let Some(ps) = s.template.spec.as_mut() {
            ps.restart_policy = Some("OnFailure".into());
        }
        s.backoff_limit = Some(2);
    });
    // (case, job, pods before the first sync)
    let cases: Vec<(&str, Job, Vec<Pod>)> = vec![
        (
            "non-indexed: succeeded and failed pods counted over several syncs",
            job(Some(4), 2),
            vec![
                pod("a", "Succeeded"),
                exited(pod("b", "Failed"), 1, -5),
                pod("c", "Running"),
            ],
        ),
        (
            "a FailJob verdict on a pod counted in an earlier sync",
            fail_job,
            vec![exited(pod("a", "Failed"), 3, -1), pod("b", "Running")],
        ),
        (
            "per-index backoff: an exhausted index, a succeeded one, a running one",
            per_index(1, Some(2), 3),
            vec![
                indexed(
                    annotate(exited(pod("a", "Failed"), 1, -1), INDEX_FAILURE_COUNT, "1"),
                    0,
                ),
                indexed(pod("b", "Succeeded"), 1),
                indexed(pod("c", "Running"), 2),
            ],
        ),
        (
            "OnFailure restarts of running pods beside counted ones",
            on_failure,
            vec![pod("a", "Succeeded"), restarts(pod("b", "Running"), 1)],
        ),
    ];
    for (case, mut j, mut pods) in cases {
        for step in 0..4 {
            (j, pods) = sync_once(&j, &pods);
            // Finish what the sync started, so that the next one counts them.
            for q in &mut pods {
                if pods::phase(q).is_empty() {
                    let phase = if step % 2 == 0 {
                        "Succeeded"
                    } else {
                        "Running"
                    };
                    q.status.get_or_insert_with(Default::default).phase = Some(phase.into());
                }
            }
        }
        assert!(
            pods.iter().any(|q| !pods::matters(q)),
            "{case}: no counted, finished pod was left to check"
        );
    }
}

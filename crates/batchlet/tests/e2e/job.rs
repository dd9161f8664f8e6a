//! The Job controller and the TTL-after-finished controller, driven by kubectl. To control
//! exactly when each pod ends, these tests play the kubelet: the pods name a scheduler nobody
//! runs (`e2e-kubelet`), so they stay unbound and the node agent leaves them alone, and the
//! tests set pod status through the `status` subresource as a kubelet would. The real agent
//! runs Job pods in `pods.rs` and `seed.rs`.

use crate::harness::{
    PATIENCE, Server, active, apply, condition, eventually, examples, job_field, kubectl_available,
    pods,
};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// Plays the kubelet: the pod's one container `container` terminated with `code`; the pod is
/// Succeeded for 0 and Failed otherwise.
fn kubelet_exit(s: &Server, pod: &str, container: &str, code: i32) {
    let now = jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let phase = if code == 0 { "Succeeded" } else { "Failed" };
    let reason = if code == 0 { "Completed" } else { "Error" };
    let patch = serde_json::json!({"status": {
        "phase": phase,
        "conditions": [{"type": "Ready", "status": "False", "lastTransitionTime": now}],
        "containerStatuses": [{
            "name": container, "image": "busybox", "imageID": "", "ready": false, "restartCount": 0,
            "state": {"terminated": {"exitCode": code, "reason": reason, "startedAt": now, "finishedAt": now}}
        }]
    }});
    s.ok(&[
        "patch",
        "pod",
        pod,
        "--subresource=status",
        "--type=merge",
        "-p",
        &patch.to_string(),
    ]);
}

fn job_yaml(name: &str, spec: &str) -> String {
    format!(
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {name}\nspec:\n{spec}\n  template:\n    spec:\n      schedulerName: e2e-kubelet\n      restartPolicy: Never\n      containers:\n      - name: c\n        image: busybox\n        command: ['true']\n"
    )
}

#[test]
fn the_seed_job_completes_with_at_most_three_pods_at_once() {
    if !kubectl_available() {
        return;
    }
    let s = Server::start();
    let manifest = std::fs::read_to_string(examples().join("job.yaml")).expect("job.yaml");
    let manifest = manifest.replace(
        "      restartPolicy: Never",
        "      schedulerName: e2e-kubelet\n      restartPolicy: Never",
    );
    assert!(manifest.contains("schedulerName"));
    apply(&s, &manifest);
    let job = "my-busybox-job";
    let mut done = BTreeSet::new();
    let deadline = Instant::now() + PATIENCE;
    while done.len() < 4 {
        assert!(
            Instant::now() < deadline,
            "only {} pods succeeded",
            done.len()
        );
        let now_active = active(&s, job);
        assert!(
            now_active.len() <= 3,
            "more than 3 active pods: {now_active:?}"
        );
        if let Some(p) = now_active.first() {
            kubelet_exit(&s, p, "my-container-job", 0);
            done.insert(p.clone());
        } else {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    s.ok(&[
        "wait",
        "--for=condition=complete",
        &format!("job/{job}"),
        "--timeout=60s",
    ]);
    let table = s.ok(&["get", "job", job]);
    assert!(
        table.contains("Complete") && table.contains("4/4"),
        "{table}"
    );
    assert_eq!(job_field(&s, job, "{.status.succeeded}"), "4");
    assert_eq!(
        condition(&s, job, "SuccessCriteriaMet"),
        "True/CompletionsReached"
    );
    assert_eq!(pods(&s, job).len(), 4, "exactly four pods were created");
    assert!(!job_field(&s, job, "{.status.completionTime}").is_empty());
    let describe = s.ok(&["describe", "job", job]);
    assert!(
        describe.contains("SuccessfulCreate") && describe.contains("Created pod: my-busybox-job-"),
        "{describe}"
    );
    assert!(
        describe.contains("Completed") && describe.contains("Job completed"),
        "{describe}"
    );
    // The pods carry the finalizer only until they are counted.
    let finalizers = s.ok(&[
        "get",
        "pods",
        "-o",
        "jsonpath={.items[*].metadata.finalizers}",
    ]);
    assert!(finalizers.trim().is_empty(), "{finalizers}");
}

#[test]
fn failed_pods_beyond_the_backoff_limit_fail_the_job() {
    if !kubectl_available() {
        return;
    }
    let s = Server::start();
    apply(
        &s,
        &job_yaml(
            "fails",
            "  completions: 3\n  parallelism: 3\n  backoffLimit: 2",
        ),
    );
    eventually("three pods", || active(&s, "fails").len() == 3);
    let three = active(&s, "fails");
    kubelet_exit(&s, &three[0], "c", 1);
    kubelet_exit(&s, &three[1], "c", 1);
    eventually("two failures counted", || {
        job_field(&s, "fails", "{.status.failed}") == "2"
    });
    assert_eq!(condition(&s, "fails", "Failed"), "/");
    kubelet_exit(&s, &three[2], "c", 1);
    s.ok(&[
        "wait",
        "--for=condition=failed",
        "job/fails",
        "--timeout=60s",
    ]);
    assert_eq!(
        condition(&s, "fails", "Failed"),
        "True/BackoffLimitExceeded"
    );
    assert_eq!(
        condition(&s, "fails", "FailureTarget"),
        "True/BackoffLimitExceeded"
    );
    assert_eq!(job_field(&s, "fails", "{.status.failed}"), "3");
    let describe = s.ok(&["describe", "job", "fails"]);
    assert!(
        describe.contains("Job has reached the specified backoff limit"),
        "{describe}"
    );
}

#[test]
fn the_active_deadline_fails_the_job_and_deletes_its_pods() {
    if !kubectl_available() {
        return;
    }
    let s = Server::start();
    apply(
        &s,
        &job_yaml(
            "slow",
            "  parallelism: 2\n  completions: 2\n  activeDeadlineSeconds: 2",
        ),
    );
    eventually("pods", || !pods(&s, "slow").is_empty());
    s.ok(&[
        "wait",
        "--for=condition=failed",
        "job/slow",
        "--timeout=60s",
    ]);
    assert_eq!(condition(&s, "slow", "Failed"), "True/DeadlineExceeded");
    eventually("the pods to be deleted", || pods(&s, "slow").is_empty());
    assert_eq!(job_field(&s, "slow", "{.status.active}"), "");
    let describe = s.ok(&["describe", "job", "slow"]);
    assert!(
        describe.contains("DeadlineExceeded") && describe.contains("SuccessfulDelete"),
        "{describe}"
    );
}

#[test]
fn indexed_pods_carry_their_completion_index() {
    if !kubectl_available() {
        return;
    }
    let s = Server::start();
    apply(
        &s,
        &job_yaml(
            "idx",
            "  completions: 3\n  parallelism: 3\n  completionMode: Indexed",
        ),
    );
    eventually("three pods", || active(&s, "idx").len() == 3);
    let mut seen = BTreeSet::new();
    for p in active(&s, "idx") {
        let get = |path: &str| s.ok(&["get", "pod", &p, "-o", &format!("jsonpath={path}")]);
        let ix = get("{.metadata.annotations.batch\\.kubernetes\\.io/job-completion-index}");
        assert_eq!(
            get("{.metadata.labels.batch\\.kubernetes\\.io/job-completion-index}"),
            ix
        );
        assert_eq!(get("{.spec.hostname}"), format!("idx-{ix}"));
        assert!(p.starts_with(&format!("idx-{ix}-")), "{p}");
        let env = get(
            "{.spec.containers[0].env[?(@.name==\"JOB_COMPLETION_INDEX\")].valueFrom.fieldRef.fieldPath}",
        );
        assert_eq!(
            env,
            "metadata.labels['batch.kubernetes.io/job-completion-index']"
        );
        seen.insert(ix);
        kubelet_exit(&s, &p, "c", 0);
    }
    assert_eq!(seen, ["0", "1", "2"].map(String::from).into());
    s.ok(&[
        "wait",
        "--for=condition=complete",
        "job/idx",
        "--timeout=60s",
    ]);
    assert_eq!(job_field(&s, "idx", "{.status.completedIndexes}"), "0-2");
    assert_eq!(job_field(&s, "idx", "{.status.succeeded}"), "3");
}

#[test]
fn suspending_removes_the_pods_and_resuming_finishes() {
    if !kubectl_available() {
        return;
    }
    let s = Server::start();
    apply(
        &s,
        &job_yaml("pausable", "  completions: 2\n  parallelism: 2"),
    );
    eventually("two pods", || active(&s, "pausable").len() == 2);
    let first: BTreeSet<String> = active(&s, "pausable").into_iter().collect();
    s.ok(&[
        "patch",
        "job",
        "pausable",
        "-p",
        r#"{"spec":{"suspend":true}}"#,
    ]);
    eventually("the pods to go", || pods(&s, "pausable").is_empty());
    eventually("the Suspended condition", || {
        condition(&s, "pausable", "Suspended") == "True/JobSuspended"
    });
    s.ok(&[
        "patch",
        "job",
        "pausable",
        "-p",
        r#"{"spec":{"suspend":false}}"#,
    ]);
    eventually("two new pods", || active(&s, "pausable").len() == 2);
    assert_eq!(condition(&s, "pausable", "Suspended"), "False/JobResumed");
    for p in active(&s, "pausable") {
        assert!(!first.contains(&p), "{p} survived the suspension");
        kubelet_exit(&s, &p, "c", 0);
    }
    s.ok(&[
        "wait",
        "--for=condition=complete",
        "job/pausable",
        "--timeout=60s",
    ]);
    assert_eq!(job_field(&s, "pausable", "{.status.succeeded}"), "2");
    assert_eq!(job_field(&s, "pausable", "{.status.failed}"), "");
}

#[test]
fn a_work_queue_job_completes_when_a_pod_succeeds_and_none_runs() {
    if !kubectl_available() {
        return;
    }
    let s = Server::start();
    apply(&s, &job_yaml("queue", "  parallelism: 3"));
    eventually("three pods", || active(&s, "queue").len() == 3);
    let three = active(&s, "queue");
    kubelet_exit(&s, &three[0], "c", 0);
    eventually("the success counted", || {
        job_field(&s, "queue", "{.status.succeeded}") == "1"
    });
    assert_eq!(active(&s, "queue").len(), 2, "no new pods after a success");
    assert_eq!(condition(&s, "queue", "Complete"), "/");
    kubelet_exit(&s, &three[1], "c", 0);
    kubelet_exit(&s, &three[2], "c", 0);
    s.ok(&[
        "wait",
        "--for=condition=complete",
        "job/queue",
        "--timeout=60s",
    ]);
    assert_eq!(pods(&s, "queue").len(), 3);
}

#[test]
fn pod_failure_policy_ignores_one_exit_code_and_fails_on_another() {
    if !kubectl_available() {
        return;
    }
    let s = Server::start();
    let spec = "  completions: 1\n  parallelism: 1\n  podFailurePolicy:\n    rules:\n    - action: Ignore\n      onExitCodes:\n        operator: In\n        values: [42]\n    - action: FailJob\n      onExitCodes:\n        operator: In\n        values: [3]";
    apply(&s, &job_yaml("policy", spec));
    eventually("a pod", || active(&s, "policy").len() == 1);
    let first = active(&s, "policy").remove(0);
    kubelet_exit(&s, &first, "c", 42);
    // Ignored: not counted, and replaced (after the 10 s pod-failure backoff).
    eventually("a replacement", || active(&s, "policy").len() == 1);
    assert_eq!(job_field(&s, "policy", "{.status.failed}"), "");
    let second = active(&s, "policy").remove(0);
    kubelet_exit(&s, &second, "c", 3);
    s.ok(&[
        "wait",
        "--for=condition=failed",
        "job/policy",
        "--timeout=60s",
    ]);
    assert_eq!(condition(&s, "policy", "Failed"), "True/PodFailurePolicy");
    assert_eq!(job_field(&s, "policy", "{.status.failed}"), "1");
}

#[test]
fn ttl_after_finished_deletes_the_job_and_its_pods() {
    if !kubectl_available() {
        return;
    }
    let s = Server::start();
    apply(
        &s,
        &job_yaml("short", "  completions: 1\n  ttlSecondsAfterFinished: 2"),
    );
    eventually("a pod", || active(&s, "short").len() == 1);
    kubelet_exit(&s, &active(&s, "short")[0], "c", 0);
    s.ok(&[
        "wait",
        "--for=condition=complete",
        "job/short",
        "--timeout=60s",
    ]);
    eventually("the job to be deleted", || {
        !s.kubectl(&["get", "job", "short"]).success
    });
    eventually("its pods to be deleted", || pods(&s, "short").is_empty());
}

#[test]
fn a_job_survives_sigkill_with_exact_counts() {
    if !kubectl_available() {
        return;
    }
    let mut s = Server::start();
    let job = "durable";
    apply(&s, &job_yaml(job, "  completions: 30\n  parallelism: 10"));
    let mut succeeded = BTreeSet::new();
    let mut killed = 0;
    let deadline = Instant::now() + 3 * PATIENCE;
    while succeeded.len() < 30 {
        assert!(
            Instant::now() < deadline,
            "only {} succeeded",
            succeeded.len()
        );
        let now_active = active(&s, job);
        assert!(now_active.len() <= 10, "{now_active:?}");
        if now_active.is_empty() {
            std::thread::sleep(Duration::from_millis(100));
            continue;
        }
        for p in &now_active {
            kubelet_exit(&s, p, "c", 0);
            succeeded.insert(p.clone());
        }
        // SIGKILL right after a burst of successes, while the controller is counting them.
        if killed < 2 && succeeded.len() >= 10 * (killed + 1) {
            s.restart();
            killed += 1;
        }
    }
    s.ok(&[
        "wait",
        "--for=condition=complete",
        &format!("job/{job}"),
        "--timeout=120s",
    ]);
    assert_eq!(killed, 2);
    assert_eq!(job_field(&s, job, "{.status.succeeded}"), "30");
    assert_eq!(job_field(&s, job, "{.status.failed}"), "");
    assert_eq!(pods(&s, job).len(), 30, "no more pods than completions");
    assert_eq!(
        job_field(&s, job, "{.status.uncountedTerminatedPods}"),
        "{}"
    );
}

#[test]
fn deleting_a_running_job_releases_and_collects_its_pods() {
    if !kubectl_available() {
        return;
    }
    let s = Server::start();
    apply(&s, &job_yaml("gone", "  completions: 3\n  parallelism: 3"));
    eventually("three pods", || active(&s, "gone").len() == 3);
    s.ok(&["delete", "job", "gone"]);
    // The garbage collector deletes the pods; the tracking finalizer of a pod whose Job is
    // gone is released by the orphan cleanup, so none is left Terminating.
    eventually("the pods to be deleted", || pods(&s, "gone").is_empty());
}

//! Issue 5's acceptance with real processes: the Job controller, the node agent and the
//! pods' own exits, end to end. `job.rs` proves the controller's decisions with a simulated
//! kubelet; here each pod is a host process that exits (or is killed) for real. The pods
//! share a host directory (`/m`, a `hostPath`) where a script can leave marks, and carry
//! [`marked_env`] so that the test finds their processes.

use crate::harness::{
    PodView, Server, active, apply, condition, events_of, eventually, eventually_within, job_field,
    kubectl_available, lines_of, list, marked_env, marked_processes, pods,
};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

/// A Job whose one container runs `command` with the marked environment and the host
/// directory `marks` at `/m`; `spec` is merged into the Job's spec.
fn job(
    s: &Server,
    name: &str,
    spec: Value,
    policy: &str,
    command: &[&str],
    marks: &Path,
) -> String {
    let mut body = json!({
        "template": {"spec": {
            "restartPolicy": policy,
            "containers": [{
                "name": "c", "image": "busybox", "command": command,
                "env": marked_env(s),
                "volumeMounts": [{"name": "marks", "mountPath": "/m"}],
            }],
            "volumes": [{"name": "marks", "hostPath": {"path": marks, "type": "Directory"}}],
        }}
    });
    if let (Some(b), Value::Object(extra)) = (body.as_object_mut(), spec) {
        b.extend(extra);
    }
    json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name}, "spec": body})
        .to_string()
}

fn wait_condition(s: &Server, job: &str, condition: &str, timeout: &str) {
    s.ok(&[
        "wait",
        &format!("--for=condition={condition}"),
        &format!("job/{job}"),
        &format!("--timeout={timeout}"),
    ]);
}

/// The Job's pods as JSON, oldest first.
fn pod_objects(s: &Server, job: &str) -> Vec<Value> {
    let mut v: Vec<Value> = list(s, "pods")
        .into_iter()
        .filter(|p| p["metadata"]["labels"]["batch.kubernetes.io/job-name"] == job)
        .collect();
    v.sort_by_key(|p| time(&p["metadata"]["creationTimestamp"]));
    v
}

fn time(v: &Value) -> jiff::Timestamp {
    v.as_str()
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("not a timestamp: {v}"))
}

fn terminated(pod: &Value) -> &Value {
    &pod["status"]["containerStatuses"][0]["state"]["terminated"]
}

/// The processes of the test's pods whose command line contains `needle`.
fn running(s: &Server, needle: &str) -> Vec<String> {
    marked_processes(s)
        .into_iter()
        .filter(|p| p.cmdline.contains(needle))
        .map(|p| p.env.get("E2E_POD").cloned().unwrap_or_default())
        .collect()
}

#[test]
fn failing_pods_are_replaced_after_the_backoff_until_the_limit() {
    if !kubectl_available() {
        return;
    }
    let s = Server::start();
    let marks = tempfile::tempdir().expect("tempdir");
    let spec = json!({"backoffLimit": 2});
    apply(
        &s,
        &job(
            &s,
            "fails",
            spec,
            "Never",
            &["sh", "-c", "exit 1"],
            marks.path(),
        ),
    );
    // Two delays, 10 s then 20 s, before the third pod.
    wait_condition(&s, "fails", "failed", "300s");
    assert_eq!(
        condition(&s, "fails", "Failed"),
        "True/BackoffLimitExceeded"
    );
    assert_eq!(job_field(&s, "fails", "{.status.failed}"), "3");
    let pods = pod_objects(&s, "fails");
    assert_eq!(pods.len(), 3, "{pods:#?}");
    for p in &pods {
        assert_eq!(p["status"]["phase"], "Failed", "{p}");
        assert_eq!(terminated(p)["exitCode"], 1, "{p}");
    }
    // Each replacement waits the backoff after the previous failure: 10 s, then 20 s (the
    // timestamps have whole seconds, hence one second less). A lower bound only: a loaded
    // machine makes the gaps longer, never shorter.
    for (i, min) in [(1, 9), (2, 19)] {
        let failed = time(&terminated(&pods[i - 1])["finishedAt"]);
        let created = time(&pods[i]["metadata"]["creationTimestamp"]);
        let gap = created.as_second() - failed.as_second();
        assert!(
            gap >= min,
            "pod {i} created {gap}s after the failure of pod {}",
            i - 1
        );
    }
    let events = events_of(&s, "fails");
    assert!(
        events.iter().any(|(r, m)| r == "BackoffLimitExceeded"
            && m == "Job has reached the specified backoff limit"),
        "{events:?}"
    );
}

#[test]
fn with_on_failure_container_restarts_count_against_the_backoff_limit() {
    if !kubectl_available() {
        return;
    }
    let s = Server::start();
    let marks = tempfile::tempdir().expect("tempdir");
    let spec = json!({"backoffLimit": 2});
    let script = "echo run >> /m/runs; exit 1";
    apply(
        &s,
        &job(
            &s,
            "restarts",
            spec,
            "OnFailure",
            &["sh", "-c", script],
            marks.path(),
        ),
    );
    // The first restart is immediate, the second after the agent's 10 s crash backoff.
    wait_condition(&s, "restarts", "failed", "300s");
    assert_eq!(
        condition(&s, "restarts", "Failed"),
        "True/BackoffLimitExceeded"
    );
    // One pod, restarted in place: two restarts reach the limit of 2.
    let created: Vec<String> = events_of(&s, "restarts")
        .into_iter()
        .filter(|(r, _)| r == "SuccessfulCreate")
        .map(|(_, m)| m)
        .collect();
    assert_eq!(created.len(), 1, "{created:?}");
    let runs = std::fs::read_to_string(marks.path().join("runs")).expect("runs");
    assert!(runs.lines().count() >= 3, "the container ran {runs:?}");
    // The failed Job's pod is deleted, its process gone.
    eventually("the pod to be deleted", || pods(&s, "restarts").is_empty());
    assert_eq!(job_field(&s, "restarts", "{.status.failed}"), "1");
    eventually("no process left", || marked_processes(&s).is_empty());
}

#[test]
fn the_active_deadline_kills_the_running_process() {
    if !kubectl_available() {
        return;
    }
    let s = Server::start();
    let marks = tempfile::tempdir().expect("tempdir");
    let spec = json!({"activeDeadlineSeconds": 5, "backoffLimit": 0});
    apply(
        &s,
        &job(
            &s,
            "deadline",
            spec,
            "Never",
            &["sleep", "60"],
            marks.path(),
        ),
    );
    eventually("the sleep 60 process", || {
        running(&s, "sleep 60").len() == 1
    });
    let pod = running(&s, "sleep 60").remove(0);
    wait_condition(&s, "deadline", "failed", "120s");
    assert_eq!(condition(&s, "deadline", "Failed"), "True/DeadlineExceeded");
    eventually("the process to be killed", || {
        running(&s, "sleep 60").is_empty()
    });
    eventually("the pod to be deleted", || pods(&s, "deadline").is_empty());
    let events = events_of(&s, "deadline");
    assert!(
        events
            .iter()
            .any(|(r, m)| r == "SuccessfulDelete" && m == &format!("Deleted pod: {pod}")),
        "{events:?}"
    );
    assert!(
        events.iter().any(|(r, m)| r == "DeadlineExceeded"
            && m == "Job was active longer than specified deadline"),
        "{events:?}"
    );
}

#[test]
fn each_indexed_pod_prints_its_own_completion_index() {
    if !kubectl_available() {
        return;
    }
    let s = Server::start();
    let marks = tempfile::tempdir().expect("tempdir");
    let spec = json!({"completions": 5, "parallelism": 5, "completionMode": "Indexed"});
    let script = "echo index=$JOB_COMPLETION_INDEX";
    apply(
        &s,
        &job(
            &s,
            "indexed",
            spec,
            "Never",
            &["sh", "-c", script],
            marks.path(),
        ),
    );
    wait_condition(&s, "indexed", "complete", "180s");
    assert_eq!(
        job_field(&s, "indexed", "{.status.completedIndexes}"),
        "0-4"
    );
    let mut seen = BTreeSet::new();
    for p in pod_objects(&s, "indexed") {
        let name = p["metadata"]["name"].as_str().expect("name");
        let index = p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]
            .as_str()
            .expect("index annotation")
            .to_owned();
        assert_eq!(s.ok(&["logs", name]), format!("index={index}\n"), "{name}");
        assert!(seen.insert(index), "two pods for one index");
    }
    assert_eq!(seen, ["0", "1", "2", "3", "4"].map(String::from).into());
}

#[test]
fn pod_failure_policy_ignores_exit_42_and_fails_the_job_on_exit_3() {
    if !kubectl_available() {
        return;
    }
    let s = Server::start();
    let marks = tempfile::tempdir().expect("tempdir");
    let spec = json!({"backoffLimit": 6, "podFailurePolicy": {"rules": [
        {"action": "Ignore", "onExitCodes": {"operator": "In", "values": [42]}},
        {"action": "FailJob", "onExitCodes": {"operator": "In", "values": [3]}},
    ]}});
    // The first pod exits 42, the next one 3.
    let script = "if [ -e /m/first ]; then exit 3; fi; touch /m/first; exit 42";
    apply(
        &s,
        &job(
            &s,
            "policy",
            spec,
            "Never",
            &["sh", "-c", script],
            marks.path(),
        ),
    );
    wait_condition(&s, "policy", "failed", "180s");
    assert_eq!(condition(&s, "policy", "Failed"), "True/PodFailurePolicy");
    // The ignored failure is not counted.
    assert_eq!(job_field(&s, "policy", "{.status.failed}"), "1");
    let codes: Vec<i64> = pod_objects(&s, "policy")
        .iter()
        .map(|p| terminated(p)["exitCode"].as_i64().unwrap_or(-1))
        .collect();
    assert_eq!(codes, [42, 3]);
    let message = job_field(
        &s,
        "policy",
        "{.status.conditions[?(@.type==\"Failed\")].message}",
    );
    assert!(
        message.contains("failed with exit code 3 matching FailJob rule at index 1"),
        "{message}"
    );
}

#[test]
fn suspending_kills_the_processes_and_resuming_finishes() {
    if !kubectl_available() {
        return;
    }
    let s = Server::start();
    let marks = tempfile::tempdir().expect("tempdir");
    let spec = json!({"completions": 2, "parallelism": 2});
    // Sleeps until the test leaves /m/go.
    let script = "test -e /m/go || exec sleep 300";
    apply(
        &s,
        &job(
            &s,
            "pausable",
            spec,
            "Never",
            &["sh", "-c", script],
            marks.path(),
        ),
    );
    eventually("two sleep processes", || {
        running(&s, "sleep 300").len() == 2
    });
    s.ok(&[
        "patch",
        "job",
        "pausable",
        "--type=merge",
        "-p",
        r#"{"spec":{"suspend":true}}"#,
    ]);
    eventually("the processes to be killed", || {
        running(&s, "sleep 300").is_empty()
    });
    eventually("the pods to be deleted", || pods(&s, "pausable").is_empty());
    assert_eq!(condition(&s, "pausable", "Suspended"), "True/JobSuspended");
    std::fs::write(marks.path().join("go"), "").expect("go");
    s.ok(&[
        "patch",
        "job",
        "pausable",
        "--type=merge",
        "-p",
        r#"{"spec":{"suspend":false}}"#,
    ]);
    wait_condition(&s, "pausable", "complete", "180s");
    assert_eq!(job_field(&s, "pausable", "{.status.succeeded}"), "2");
    assert_eq!(condition(&s, "pausable", "Suspended"), "False/JobResumed");
}

#[test]
fn a_work_queue_job_drains_the_queue_and_completes() {
    if !kubectl_available() {
        return;
    }
    let s = Server::start();
    let marks = tempfile::tempdir().expect("tempdir");
    for dir in ["queue", "done"] {
        std::fs::create_dir(marks.path().join(dir)).expect("dir");
    }
    for i in 0..30 {
        std::fs::write(marks.path().join(format!("queue/item{i}")), "").expect("item");
    }
    // Each worker takes items (a rename succeeds for one worker only) until none is left,
    // then exits 0: the Job is done when one succeeds and none is active.
    let script = "for f in /m/queue/*; do mv \"$f\" /m/done/ 2>/dev/null && echo took ${f##*/}; sleep 0.05; done; true";
    apply(
        &s,
        &job(
            &s,
            "queue",
            json!({"parallelism": 3}),
            "Never",
            &["sh", "-c", script],
            marks.path(),
        ),
    );
    wait_condition(&s, "queue", "complete", "180s");
    assert_eq!(job_field(&s, "queue", "{.status.succeeded}"), "3");
    assert_eq!(pod_objects(&s, "queue").len(), 3, "no pod after a success");
    let mut took = Vec::new();
    for p in pods(&s, "queue") {
        took.extend(
            s.ok(&["logs", &p.name])
                .lines()
                .map(|l| l.strip_prefix("took ").expect("a took line").to_owned()),
        );
    }
    let unique: BTreeSet<&String> = took.iter().collect();
    assert_eq!((took.len(), unique.len()), (30, 30), "{took:?}");
    assert_eq!(
        std::fs::read_dir(marks.path().join("queue"))
            .expect("queue")
            .count(),
        0
    );
    assert_eq!(
        std::fs::read_dir(marks.path().join("done"))
            .expect("done")
            .count(),
        30
    );
}

/// Watches the Job's pods with `kubectl get --watch` (a list, then every change), recording
/// each pod name it shows.
fn watch_pod_names(
    s: &Server,
    job: &str,
) -> (std::process::Child, std::sync::mpsc::Receiver<String>) {
    let mut child = s
        .kubectl_cmd(&[
            "get",
            "pods",
            "-l",
            &format!("batch.kubernetes.io/job-name={job}"),
            "--watch",
            "-o",
            "name",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kubectl get --watch");
    let rx = lines_of(&mut child);
    (child, rx)
}

/// `kill -9` in the middle of a real Job of 200 completions: exactly 200 succeed and no
/// more pods are created than needed.
#[test]
fn sigkill_in_the_middle_of_200_completions_creates_exactly_200_pods() {
    if !kubectl_available() {
        return;
    }
    let mut s = Server::start();
    let marks = tempfile::tempdir().expect("tempdir");
    let name = "many";
    let spec = json!({"completions": 200, "parallelism": 10});
    apply(&s, &job(&s, name, spec, "Never", &["true"], marks.path()));
    let mut seen = BTreeSet::new();
    let (mut watch, rx) = watch_pod_names(&s, name);
    let succeeded = |s: &Server| {
        job_field(s, name, "{.status.succeeded}")
            .parse::<u32>()
            .unwrap_or(0)
    };
    let mut at_kill = 0;
    eventually_within(Duration::from_secs(300), "50 pods to succeed", || {
        at_kill = succeeded(&s);
        at_kill >= 50
    });
    assert!(at_kill < 200, "the Job finished before the kill");
    s.restart();
    let _ = watch.kill();
    let _ = watch.wait();
    seen.extend(rx.try_iter());
    let (mut watch, rx) = watch_pod_names(&s, name);
    wait_condition(&s, name, "complete", "600s");
    // The watch may lag the completion: wait for it to show every pod that exists.
    let all: Vec<PodView> = pods(&s, name);
    let names: BTreeSet<String> = all.iter().map(|p| format!("pod/{}", p.name)).collect();
    eventually("the watch to catch up", || {
        seen.extend(rx.try_iter());
        names.is_subset(&seen)
    });
    let _ = watch.kill();
    let _ = watch.wait();
    assert_eq!(job_field(&s, name, "{.status.succeeded}"), "200");
    assert_eq!(
        job_field(&s, name, "{.status.uncountedTerminatedPods}"),
        "{}"
    );
    assert!(active(&s, name).is_empty());
    // A container the kill caught before its supervisor recorded a state is reported lost
    // (ContainerStatusUnknown): its pod failed and was replaced. Nothing else failed.
    let failed: Vec<Value> = pod_objects(&s, name)
        .into_iter()
        .filter(|p| p["status"]["phase"] != "Succeeded")
        .collect();
    for p in &failed {
        assert_eq!(p["status"]["phase"], "Failed", "{p}");
        assert_eq!(terminated(p)["reason"], "ContainerStatusUnknown", "{p}");
    }
    if !failed.is_empty() {
        eprintln!(
            "{} container(s) lost in the SIGKILL, their pods replaced",
            failed.len()
        );
    }
    let counted = job_field(&s, name, "{.status.failed}");
    assert_eq!(
        counted.parse::<usize>().unwrap_or(0),
        failed.len(),
        "status.failed"
    );
    assert_eq!(
        all.len(),
        200 + failed.len(),
        "200 pods and one per lost container"
    );
    // No pod was created (and deleted) beyond those: not in the watch before and after the
    // kill, nor in the controller's Events.
    let extra: Vec<&String> = seen.difference(&names).collect();
    assert!(extra.is_empty(), "pods created beyond the 200: {extra:?}");
    let created: BTreeSet<String> = events_of(&s, name)
        .into_iter()
        .filter(|(r, _)| r == "SuccessfulCreate")
        .filter_map(|(_, m)| Some(format!("pod/{}", m.strip_prefix("Created pod: ")?)))
        .collect();
    let unknown: Vec<&String> = created.difference(&names).collect();
    assert!(
        unknown.is_empty(),
        "Events name pods that do not exist: {unknown:?}"
    );
}

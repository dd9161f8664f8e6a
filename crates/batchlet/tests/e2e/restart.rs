//! Durability and shutdown: an acknowledged write survives SIGKILL; SIGTERM stops cleanly.

use crate::harness::{Server, apply, eventually, kubectl_available};

#[test]
fn acknowledged_create_survives_sigkill() {
    if !kubectl_available() {
        return;
    }
    let mut s = Server::start();
    let out = s.ok(&["create", "-f", "job.yaml"]);
    assert_eq!(out.trim(), "job.batch/my-busybox-job created");
    s.kill();
    s.restart();
    let name = s.ok(&[
        "get",
        "job",
        "my-busybox-job",
        "-o",
        "jsonpath={.metadata.name}",
    ]);
    assert_eq!(name, "my-busybox-job");
    let ns = s.ok(&["get", "ns", "default", "-o", "name"]);
    assert_eq!(ns.trim(), "namespace/default");
}

#[test]
fn sigterm_stops_cleanly() {
    if !kubectl_available() {
        return;
    }
    let mut s = Server::start();
    s.ok(&["get", "jobs", "-A"]);
    let status = s.terminate();
    assert!(status.success(), "exit status {status:?}");
}

/// A pod that finished before a restart keeps its terminated status and its log: the
/// runtime forgets a finished container, and the agent must not turn what it reported into
/// ContainerStatusUnknown after it starts again (the kubelet keeps the old status).
#[test]
fn a_finished_pod_keeps_its_status_and_log_across_a_restart() {
    if !kubectl_available() {
        return;
    }
    let mut s = Server::start();
    let pod = r#"apiVersion: v1
kind: Pod
metadata:
  name: done
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: busybox
    command: ["sh", "-c", "echo finished-before-restart"]
"#;
    assert!(apply(&s, pod).success);
    let reason = |s: &Server| {
        s.ok(&[
            "get",
            "pod",
            "done",
            "-o",
            "jsonpath={.status.phase}/{.status.containerStatuses[0].state.terminated.reason}",
        ])
    };
    eventually("the pod to succeed", || reason(&s) == "Succeeded/Completed");
    s.kill();
    s.restart();
    // Give the agent time to resync the pod after its restart; its status must not change.
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert_eq!(reason(&s), "Succeeded/Completed");
    assert_eq!(s.ok(&["logs", "done"]).trim(), "finished-before-restart");
}

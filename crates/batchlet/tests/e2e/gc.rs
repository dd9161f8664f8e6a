//! Deletion propagation and the garbage collector, as kubectl drives them: Background
//! (dependents collected after the owner), Orphan (dependents keep running, without the
//! reference), Foreground (the owner goes last), and namespace deletion.

use crate::harness::{Server, eventually, kubectl_available};

fn job_uid(s: &Server, ns: &str, name: &str) -> String {
    s.ok(&[
        "get",
        "job",
        name,
        "-n",
        ns,
        "-o",
        "jsonpath={.metadata.uid}",
    ])
}

/// Creates a Job and a Pod it owns (as the job controller would), in `ns`.
fn job_with_pod(s: &Server, ns: &str, name: &str) -> String {
    let manifest =
        std::fs::read_to_string(crate::harness::examples().join("job.yaml")).expect("job.yaml");
    let r = s.kubectl_stdin(
        &["apply", "-n", ns, "-f", "-"],
        manifest.replace("my-busybox-job", name).as_bytes(),
    );
    assert!(r.success, "{r:?}");
    let uid = job_uid(s, ns, name);
    let pod = serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": format!("{name}-pod"), "labels": {"job-name": name}, "ownerReferences": [{
            "apiVersion": "batch/v1", "kind": "Job", "name": name, "uid": uid,
            "controller": true, "blockOwnerDeletion": true
        }]},
        "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox", "command": ["true"]}]}
    });
    let r = s.kubectl_stdin(&["create", "-n", ns, "-f", "-"], pod.to_string().as_bytes());
    assert!(r.success, "{r:?}");
    format!("{name}-pod")
}

fn pod_exists(s: &Server, ns: &str, pod: &str) -> bool {
    s.kubectl(&["get", "pod", pod, "-n", ns, "-o", "name"])
        .success
}

#[test]
fn background_deletion_collects_the_jobs_pods() {
    if !kubectl_available() {
        return;
    }
    let s = Server::start();
    let pod = job_with_pod(&s, "default", "bg");
    let out = s.ok(&["delete", "job", "bg"]);
    assert_eq!(out.trim(), "job.batch \"bg\" deleted");
    eventually("the pod to be collected", || {
        !pod_exists(&s, "default", &pod)
    });
}

#[test]
fn orphan_deletion_keeps_the_pods_without_the_reference() {
    if !kubectl_available() {
        return;
    }
    let s = Server::start();
    let pod = job_with_pod(&s, "default", "orph");
    let out = s.ok(&["delete", "job", "orph", "--cascade=orphan"]);
    assert_eq!(out.trim(), "job.batch \"orph\" deleted");
    assert!(!s.kubectl(&["get", "job", "orph"]).success);
    let refs = s.ok(&[
        "get",
        "pod",
        &pod,
        "-o",
        "jsonpath={.metadata.ownerReferences}",
    ]);
    assert_eq!(refs, "", "the orphaned pod still references its job");
}

#[test]
fn foreground_deletion_returns_after_the_pods_are_gone() {
    if !kubectl_available() {
        return;
    }
    let s = Server::start();
    let pod = job_with_pod(&s, "default", "fg");
    let out = s.ok(&["delete", "job", "fg", "--cascade=foreground"]);
    assert_eq!(out.trim(), "job.batch \"fg\" deleted");
    assert!(
        !pod_exists(&s, "default", &pod),
        "kubectl returned before the pod was gone"
    );
}

/// A Foreground or Orphan delete of a kind other than Pods, Jobs and CronJobs (here the
/// agent's own Node) finishes: the collector removes the finalizer the registry added.
#[test]
fn foreground_and_orphan_deletions_of_other_kinds_finish() {
    if !kubectl_available() {
        return;
    }
    let s = Server::start();
    let node = s.ok(&["get", "nodes", "-o", "jsonpath={.items[0].metadata.name}"]);
    let out = s.ok(&[
        "delete",
        "node",
        node.trim(),
        "--cascade=foreground",
        "--timeout=60s",
    ]);
    assert_eq!(out.trim(), format!("node \"{}\" deleted", node.trim()));
    let r = s.kubectl(&["get", "node", node.trim()]);
    assert!(!r.success, "the node is still there: {}", r.stdout);
    assert!(r.stderr.contains("NotFound"), "{}", r.stderr);
}

/// The uid of `what` (`kind/name`) in `ns` (`""`: cluster-scoped).
fn uid_of(s: &Server, ns: &str, what: &str) -> String {
    let mut args = vec!["get", what, "-o", "jsonpath={.metadata.uid}"];
    if !ns.is_empty() {
        args.extend(["-n", ns]);
    }
    s.ok(&args)
}

/// Whether `what` (`kind/name`) exists in `ns`.
fn exists(s: &Server, ns: &str, what: &str) -> bool {
    s.kubectl(&["get", what, "-n", ns, "-o", "name"]).success
}

fn create_json(s: &Server, obj: &serde_json::Value) {
    crate::harness::create(s, obj);
}

/// A Node's Lease in `kube-node-lease` goes with its Node (Background and Foreground), or
/// stays without the reference (Orphan), as the kubelet's Lease does on a cluster.
#[test]
fn deleting_a_node_deletes_its_lease() {
    if !kubectl_available() {
        return;
    }
    let s = Server::start();
    for (node, cascade) in [
        ("gc-node-bg", "background"),
        ("gc-node-fg", "foreground"),
        ("gc-node-orphan", "orphan"),
    ] {
        create_json(
            &s,
            &serde_json::json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": node}}),
        );
        let uid = uid_of(&s, "", &format!("node/{node}"));
        create_json(
            &s,
            &serde_json::json!({
                "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": node, "namespace": "kube-node-lease", "ownerReferences": [{
                    "apiVersion": "v1", "kind": "Node", "name": node, "uid": uid,
                    "blockOwnerDeletion": true
                }]},
                "spec": {"holderIdentity": node, "leaseDurationSeconds": 40}
            }),
        );
        let lease = format!("lease/{node}");
        let out = s.ok(&[
            "delete",
            "node",
            node,
            &format!("--cascade={cascade}"),
            "--timeout=120s",
        ]);
        assert_eq!(out.trim(), format!("node \"{node}\" deleted"));
        match cascade {
            // kubectl waited for the Node, which waited for its blocking Lease.
            "foreground" => assert!(
                !exists(&s, "kube-node-lease", &lease),
                "the node went before its lease"
            ),
            "background" => eventually("the node's lease to be collected", || {
                !exists(&s, "kube-node-lease", &lease)
            }),
            _ => {
                let refs = s.ok(&[
                    "get",
                    &lease,
                    "-n",
                    "kube-node-lease",
                    "-o",
                    "jsonpath={.metadata.ownerReferences}",
                ]);
                assert_eq!(refs, "", "the orphaned lease still references its node");
            }
        }
        assert!(
            !s.kubectl(&["get", "node", node]).success,
            "{node} is still there"
        );
    }
}

/// Creates a suspended Job `job` (no pods) with a PersistentVolumeClaim and an Event it
/// owns, in `default`.
fn job_with_claim_and_event(s: &Server, job: &str) {
    create_json(
        s,
        &serde_json::json!({
            "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": job},
            "spec": {"suspend": true, "template": {"spec": {"restartPolicy": "Never",
                "containers": [{"name": "c", "image": "busybox", "command": ["true"]}]}}}
        }),
    );
    let uid = uid_of(s, "default", &format!("job/{job}"));
    let owner = serde_json::json!([{
        "apiVersion": "batch/v1", "kind": "Job", "name": job, "uid": uid,
        "controller": true, "blockOwnerDeletion": true
    }]);
    create_json(
        s,
        &serde_json::json!({
            "apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": format!("{job}-data"), "ownerReferences": owner},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Mi"}}}
        }),
    );
    create_json(
        s,
        &serde_json::json!({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": format!("{job}-event"), "ownerReferences": owner},
            "involvedObject": {"apiVersion": "batch/v1", "kind": "Job", "name": job, "namespace": "default"},
            "reason": "Test", "message": "owned by the job", "type": "Normal"
        }),
    );
}

/// A claim and an Event owned by a Job go with it (`--cascade=background`), or stay
/// without the reference (`--cascade=orphan`).
#[test]
fn a_jobs_claim_and_event_follow_its_deletion() {
    if !kubectl_available() {
        return;
    }
    let s = Server::start();
    job_with_claim_and_event(&s, "gc-bg");
    let out = s.ok(&["delete", "job", "gc-bg", "--cascade=background"]);
    assert_eq!(out.trim(), "job.batch \"gc-bg\" deleted");
    eventually("the job's claim and event to be collected", || {
        !exists(&s, "default", "pvc/gc-bg-data") && !exists(&s, "default", "event/gc-bg-event")
    });

    job_with_claim_and_event(&s, "gc-orphan");
    let out = s.ok(&["delete", "job", "gc-orphan", "--cascade=orphan"]);
    assert_eq!(out.trim(), "job.batch \"gc-orphan\" deleted");
    assert!(!s.kubectl(&["get", "job", "gc-orphan"]).success);
    for what in ["pvc/gc-orphan-data", "event/gc-orphan-event"] {
        let refs = s.ok(&["get", what, "-o", "jsonpath={.metadata.ownerReferences}"]);
        assert_eq!(refs, "", "the orphaned {what} still references its job");
    }
}

#[test]
fn a_raw_delete_of_a_batch_v1_job_orphans() {
    if !kubectl_available() {
        return;
    }
    let s = Server::start();
    let pod = job_with_pod(&s, "default", "raw");
    // No body, no policy: batch/v1 Jobs orphan by default.
    s.ok(&[
        "delete",
        "--raw",
        "/apis/batch/v1/namespaces/default/jobs/raw",
    ]);
    eventually("the job to be gone", || {
        !s.kubectl(&["get", "job", "raw"]).success
    });
    assert!(pod_exists(&s, "default", &pod));
    assert_eq!(
        s.ok(&[
            "get",
            "pod",
            &pod,
            "-o",
            "jsonpath={.metadata.ownerReferences}"
        ]),
        ""
    );
}

#[test]
fn deleting_a_namespace_removes_everything_in_it() {
    if !kubectl_available() {
        return;
    }
    let s = Server::start();
    s.ok(&["create", "namespace", "team"]);
    let pod = job_with_pod(&s, "team", "nsjob");
    let out = s.ok(&["delete", "namespace", "team"]);
    assert_eq!(out.trim(), "namespace \"team\" deleted");
    assert!(!pod_exists(&s, "team", &pod));
    assert!(!s.kubectl(&["get", "job", "nsjob", "-n", "team"]).success);
    assert!(!s.kubectl(&["get", "namespace", "team"]).success);
}

/// The phase of `pod` in `default`, or "" when it is gone.
fn phase(s: &Server, pod: &str) -> String {
    let r = s.kubectl(&["get", "pod", pod, "-o", "jsonpath={.status.phase}"]);
    if r.success { r.stdout } else { String::new() }
}

/// The pod garbage collector (kube-controller-manager's PodGC): beyond
/// `--terminated-pod-gc-threshold` terminated pods, the oldest go; running pods stay,
/// however old.
#[test]
fn pod_gc_deletes_the_oldest_terminated_pods_beyond_the_threshold() {
    if !kubectl_available() {
        return;
    }
    let s = Server::start_with(&["--terminated-pod-gc-threshold", "2"]);
    let pod = |name: &str, command: &[&str]| {
        serde_json::json!({
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"restartPolicy": "Never", "terminationGracePeriodSeconds": 0,
                "containers": [{"name": "c", "image": "busybox", "command": command}]}
        })
    };
    // Oldest of all, but running: never collected.
    crate::harness::create(&s, &pod("p-0-running", &["sleep", "3600"]));
    eventually("p-0-running to run", || {
        phase(&s, "p-0-running") == "Running"
    });
    // Four that finish, created in this order (ties in creationTimestamp go by name).
    for name in ["p-1", "p-2", "p-3", "p-4"] {
        crate::harness::create(&s, &pod(name, &["true"]));
    }
    eventually("the two oldest finished pods to be collected", || {
        ["p-1", "p-2"].iter().all(|p| phase(&s, p).is_empty())
    });
    // Collected only beyond the threshold: the two newest stay, once finished.
    eventually("p-3 and p-4 to succeed", || {
        ["p-3", "p-4"].iter().all(|p| phase(&s, p) == "Succeeded")
    });
    assert_eq!(phase(&s, "p-0-running"), "Running");
    let names = s.ok(&["get", "pods", "-o", "name"]);
    let mut names: Vec<&str> = names.lines().collect();
    names.sort();
    assert_eq!(names, ["pod/p-0-running", "pod/p-3", "pod/p-4"]);
}

/// A dependent whose owner does not exist (never did, or another object has its name now)
/// is collected; one whose owner stands is kept, as on a cluster.
#[test]
fn a_dependent_of_a_missing_owner_is_collected() {
    if !kubectl_available() {
        return;
    }
    let s = Server::start();
    create_json(
        &s,
        &serde_json::json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "gc-standing"}}),
    );
    let standing = uid_of(&s, "", "node/gc-standing");
    let lease = |name: &str, owner: &str, uid: &str| {
        serde_json::json!({
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": name, "namespace": "kube-node-lease", "ownerReferences": [{
                "apiVersion": "v1", "kind": "Node", "name": owner, "uid": uid
            }]},
            "spec": {"holderIdentity": name}
        })
    };
    let other_uid = "6b0f2a3e-0000-4000-8000-000000000001";
    create_json(&s, &lease("kept", "gc-standing", &standing));
    create_json(&s, &lease("never-owned", "gc-never-was", other_uid));
    create_json(&s, &lease("renamed-owner", "gc-standing", other_uid));
    eventually("the leases of missing owners are collected", || {
        !exists(&s, "kube-node-lease", "lease/never-owned")
            && !exists(&s, "kube-node-lease", "lease/renamed-owner")
    });
    assert!(exists(&s, "kube-node-lease", "lease/kept"));
}

//! Pods run by the node agent, as kubectl sees them: exit codes and reasons, logs (plain,
//! `--previous`, `-f`), crash-loop restarts, memory limits, start errors, claims, survival of
//! a server SIGKILL, and graceful deletion.

use crate::harness::{
    PATIENCE, Server, create, eventually, kubectl_available, lines_of, rows, wait_for_line,
};
use serde_json::{Value, json};
use std::process::Stdio;
use std::time::{Duration, Instant};

fn pod(name: &str, policy: &str, command: &[&str]) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"restartPolicy": policy, "containers": [
            {"name": "main", "image": "busybox:1.36", "command": command}
        ]}
    })
}

fn get(s: &Server, name: &str) -> Value {
    let out = s.ok(&["get", "pod", name, "-o", "json"]);
    serde_json::from_str(&out).unwrap_or_default()
}

fn phase(s: &Server, name: &str) -> String {
    get(s, name)["status"]["phase"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn wait_phase(s: &Server, name: &str, want: &str) -> Value {
    let mut last = Value::Null;
    eventually(&format!("pod {name} {want}"), || {
        last = get(s, name);
        last["status"]["phase"] == want
    });
    last
}

fn main_status(p: &Value) -> &Value {
    &p["status"]["containerStatuses"][0]
}

#[test]
fn failed_pod_reports_exit_code_reason_and_logs() {
    if !kubectl_available() {
        return;
    }
    let s = Server::start();
    create(&s, &pod("fail", "Never", &["sh", "-c", "echo hi; exit 3"]));
    let p = wait_phase(&s, "fail", "Failed");
    let term = &main_status(&p)["state"]["terminated"];
    assert_eq!(
        (term["exitCode"].as_i64(), term["reason"].as_str()),
        (Some(3), Some("Error")),
        "{p}"
    );
    assert_eq!(s.ok(&["logs", "fail"]), "hi\n");
    let table = rows(&s.ok(&["get", "pods"]));
    assert_eq!(table[0][..4], ["NAME", "READY", "STATUS", "RESTARTS"]);
    assert_eq!(table[1][..4], ["fail", "0/1", "Error", "0"]);
    let node = s.ok(&["get", "pod", "fail", "-o", "jsonpath={.spec.nodeName}"]);
    assert!(!node.is_empty());
    let events = s.ok(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=fail",
    ]);
    for reason in ["Scheduled", "Pulled", "Created", "Started"] {
        assert!(events.contains(reason), "{reason} missing from:\n{events}");
    }
}

#[test]
fn on_failure_restarts_with_crash_loop_backoff() {
    if !kubectl_available() {
        return;
    }
    let s = Server::start();
    create(
        &s,
        &pod(
            "crash",
            "OnFailure",
            &["sh", "-c", "echo run $(date +%s%N); exit 1"],
        ),
    );
    // The first restart is immediate; the second failure waits in CrashLoopBackOff.
    let mut p = Value::Null;
    eventually("CrashLoopBackOff", || {
        p = get(&s, "crash");
        main_status(&p)["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    });
    assert_eq!(p["status"]["phase"], "Running");
    let restarts = main_status(&p)["restartCount"].as_i64().unwrap_or(0);
    assert!(restarts >= 1, "{p}");
    let msg = main_status(&p)["state"]["waiting"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        msg.starts_with("back-off 10s restarting failed container=main pod=crash_default("),
        "{msg}"
    );
    let table = s.ok(&["get", "pod", "crash"]);
    assert!(table.contains("CrashLoopBackOff"), "{table}");
    let previous = s.ok(&["logs", "crash", "--previous"]);
    assert!(previous.starts_with("run "), "{previous:?}");
    // After the backoff the count grows.
    eventually("a second restart", || {
        main_status(&get(&s, "crash"))["restartCount"]
            .as_i64()
            .unwrap_or(0)
            > restarts
    });
}

#[test]
fn logs_follow_streams_until_the_container_exits() {
    if !kubectl_available() {
        return;
    }
    let s = Server::start();
    let script = "for i in 1 2 3; do echo line$i; sleep 1; done";
    create(&s, &pod("follow", "Never", &["sh", "-c", script]));
    eventually("running", || phase(&s, "follow") != "Pending");
    let mut child = s
        .kubectl_cmd(&["logs", "-f", "follow"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("kubectl logs -f");
    let rx = lines_of(&mut child);
    assert!(
        wait_for_line(&rx, PATIENCE, |l| l == "line3").is_some(),
        "line3 never came"
    );
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            assert!(status.success());
            break;
        }
        assert!(Instant::now() < deadline, "kubectl logs -f did not end");
        std::thread::sleep(Duration::from_millis(100));
    }
    wait_phase(&s, "follow", "Succeeded");
    assert_eq!(s.ok(&["logs", "follow", "--tail", "1"]), "line3\n");
}

#[test]
fn memory_limit_ooms_and_missing_command_is_a_start_error() {
    if !kubectl_available() {
        return;
    }
    let s = Server::start();
    let mut oom = pod(
        "oom",
        "Never",
        &["sh", "-c", "head -c 200m /dev/zero | tail"],
    );
    oom["spec"]["containers"][0]["resources"] = json!({"limits": {"memory": "64Mi"}});
    create(&s, &oom);
    create(&s, &pod("missing", "Never", &["/no/such/command"]));

    let p = wait_phase(&s, "missing", "Failed");
    let term = &main_status(&p)["state"]["terminated"];
    assert_eq!(term["reason"], "StartError", "{p}");
    assert!(
        term["message"]
            .as_str()
            .is_some_and(|m| m.contains("/no/such/command")),
        "{p}"
    );

    let p = wait_phase(&s, "oom", "Failed");
    let events = s.ok(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=oom",
    ]);
    if events.contains("LimitsNotEnforced") {
        eprintln!(
            "SKIPPED: OOMKilled check: memory limits are not enforced here (no writable cgroups):\n{events}"
        );
        return;
    }
    let term = &main_status(&p)["state"]["terminated"];
    assert_eq!(
        (term["reason"].as_str(), term["exitCode"].as_i64()),
        (Some("OOMKilled"), Some(137)),
        "{p}"
    );
}

#[test]
fn a_claim_keeps_what_the_pod_wrote() {
    if !kubectl_available() {
        return;
    }
    let s = Server::start();
    let claim = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": "mysql-backup"},
        "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "standard",
                 "resources": {"requests": {"storage": "1Gi"}}}});
    create(&s, &claim);
    eventually("claim bound", || {
        s.ok(&[
            "get",
            "pvc",
            "mysql-backup",
            "-o",
            "jsonpath={.status.phase}",
        ]) == "Bound"
    });
    let table = rows(&s.ok(&["get", "pvc"]));
    assert_eq!(
        table[1][..5],
        ["mysql-backup", "Bound", &table[1][2], "1Gi", "RWO"]
    );
    let mut p = pod(
        "backup",
        "OnFailure",
        &["sh", "-c", "echo dump > /backup/dump.sql && ls /backup"],
    );
    p["spec"]["containers"][0]["volumeMounts"] = json!([{"name": "data", "mountPath": "/backup"}]);
    p["spec"]["volumes"] =
        json!([{"name": "data", "persistentVolumeClaim": {"claimName": "mysql-backup"}}]);
    create(&s, &p);
    let done = wait_phase(&s, "backup", "Succeeded");
    let file = s.dir.path().join("volumes/default/mysql-backup/dump.sql");
    assert_eq!(
        std::fs::read_to_string(&file).ok().as_deref(),
        Some("dump\n"),
        "{done}"
    );
    assert_eq!(s.ok(&["logs", "backup"]), "dump.sql\n");
    assert!(
        !std::path::Path::new("/backup/dump.sql").exists(),
        "the mount leaked to the host"
    );
}

#[test]
fn a_pod_outlives_a_server_sigkill() {
    if !kubectl_available() {
        return;
    }
    let mut s = Server::start();
    create(
        &s,
        &pod("survivor", "Never", &["sh", "-c", "sleep 5; echo done"]),
    );
    eventually("running", || phase(&s, "survivor") == "Running");
    s.restart();
    wait_phase(&s, "survivor", "Succeeded");
    assert_eq!(s.ok(&["logs", "survivor"]), "done\n");
}

#[test]
fn deletion_is_graceful_then_forceful() {
    if !kubectl_available() {
        return;
    }
    let s = Server::start();
    let marks = tempfile::tempdir().expect("tempdir");
    let mark_volume = json!([{"name": "marks", "hostPath": {"path": marks.path().to_string_lossy(), "type": "Directory"}}]);
    let mount = json!([{"name": "marks", "mountPath": "/marks"}]);

    let mut polite = pod(
        "polite",
        "Never",
        &[
            "sh",
            "-c",
            "trap 'echo bye > /marks/polite; exit 0' TERM; while true; do sleep 0.1; done",
        ],
    );
    polite["spec"]["volumes"] = mark_volume.clone();
    polite["spec"]["containers"][0]["volumeMounts"] = mount.clone();
    let mut stubborn = pod(
        "stubborn",
        "Never",
        &[
            "sh",
            "-c",
            "trap '' TERM; echo up > /marks/stubborn; while true; do sleep 0.1; done",
        ],
    );
    stubborn["spec"]["terminationGracePeriodSeconds"] = json!(3);
    stubborn["spec"]["volumes"] = mark_volume;
    stubborn["spec"]["containers"][0]["volumeMounts"] = mount;
    create(&s, &polite);
    create(&s, &stubborn);
    eventually("both running", || {
        phase(&s, "polite") == "Running" && marks.path().join("stubborn").exists()
    });

    // The trapping pod exits on SIGTERM (its default 30 s grace is not needed).
    let out = s.ok(&["delete", "pod", "polite"]);
    assert_eq!(out.trim(), "pod \"polite\" deleted");
    assert_eq!(
        std::fs::read_to_string(marks.path().join("polite"))
            .ok()
            .as_deref(),
        Some("bye\n")
    );
    assert!(!s.kubectl(&["get", "pod", "polite"]).success);

    // The one ignoring SIGTERM is still there while its grace period runs, then killed.
    s.ok(&["delete", "pod", "stubborn", "--wait=false"]);
    let p = get(&s, "stubborn");
    assert_eq!(p["metadata"]["deletionGracePeriodSeconds"], 3, "{p}");
    eventually("stubborn pod gone", || {
        !s.kubectl(&["get", "pod", "stubborn"]).success
    });
}

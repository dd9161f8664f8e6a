//! The imperative `create` commands, which kubectl 1.32+ sends as protobuf bodies
//! (`create cronjob`, `create job --from=cronjob/...`, `create job --image`), and the same
//! with kubectl 1.31, which sends JSON.

use crate::harness::{Server, kubectl_available};
use serde_json::Value;
use std::process::Command;

/// kubectl 1.31 itself, bypassing the dispatcher (which would pick 1.33 for this server).
const KUBECTL_1_31: &str = "/usr/lib/google-cloud-sdk/bin/kubectl.1.31";

/// Runs the three create commands with `kubectl` and checks what they stored.
fn create_commands(s: &Server, kubectl: &dyn Fn(&[&str]) -> String) {
    let out = kubectl(&[
        "create",
        "cronjob",
        "every5",
        "--image=busybox",
        "--schedule=*/5 * * * *",
        "--",
        "date",
    ]);
    assert_eq!(out.trim(), "cronjob.batch/every5 created");
    let out = kubectl(&["create", "job", "manual-1", "--from=cronjob/every5"]);
    assert_eq!(out.trim(), "job.batch/manual-1 created");
    let out = kubectl(&["create", "job", "j2", "--image=busybox", "--", "echo", "hi"]);
    assert_eq!(out.trim(), "job.batch/j2 created");

    let cronjob: Value = serde_json::from_str(&s.ok(&["get", "cronjob", "every5", "-o", "json"]))
        .expect("cronjob json");
    assert_eq!(cronjob["spec"]["schedule"], "*/5 * * * *");
    let job: Value =
        serde_json::from_str(&s.ok(&["get", "job", "manual-1", "-o", "json"])).expect("job json");
    let annotations = &job["metadata"]["annotations"];
    assert_eq!(annotations["cronjob.kubernetes.io/instantiate"], "manual");
    let owner = &job["metadata"]["ownerReferences"][0];
    assert_eq!(owner["kind"], "CronJob", "{job}");
    assert_eq!(owner["apiVersion"], "batch/v1");
    assert_eq!(owner["name"], "every5");
    assert_eq!(owner["uid"], cronjob["metadata"]["uid"]);
    assert_eq!(owner["controller"], true);
    let container = &job["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], "busybox", "{job}");
    assert_eq!(container["command"], serde_json::json!(["date"]));
    assert_eq!(
        job["spec"]["template"]["spec"]["restartPolicy"],
        "OnFailure"
    );

    let yaml = s.ok(&["get", "job", "manual-1", "-o", "yaml"]);
    assert!(
        yaml.contains("cronjob.kubernetes.io/instantiate: manual"),
        "{yaml}"
    );
    assert!(yaml.contains("image: busybox"), "{yaml}");
    assert!(yaml.contains("- date"), "{yaml}");

    let j2: Value =
        serde_json::from_str(&s.ok(&["get", "job", "j2", "-o", "json"])).expect("job json");
    let container = &j2["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["name"], "j2");
    assert_eq!(container["command"], serde_json::json!(["echo", "hi"]));
    assert_eq!(j2["spec"]["template"]["spec"]["restartPolicy"], "Never");
}

#[test]
fn create_commands_with_protobuf_bodies() {
    if !kubectl_available() {
        return;
    }
    let s = Server::start();
    create_commands(&s, &|args| s.ok(args));
}

#[test]
fn create_commands_with_kubectl_1_31_json_bodies() {
    if !kubectl_available() || !std::path::Path::new(KUBECTL_1_31).exists() {
        eprintln!("SKIPPED: {KUBECTL_1_31} not found");
        return;
    }
    let s = Server::start();
    let cache = tempfile::tempdir().expect("cache dir");
    let run = |args: &[&str]| {
        let out = Command::new(KUBECTL_1_31)
            .arg("--kubeconfig")
            .arg(&s.kubeconfig)
            .arg("--cache-dir")
            .arg(cache.path())
            .args(args)
            .env_remove("KUBECONFIG")
            .output()
            .expect("run kubectl 1.31");
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        );
        assert!(
            out.status.success(),
            "kubectl 1.31 {args:?} failed:\nstdout: {stdout}\nstderr: {stderr}"
        );
        stdout
    };
    create_commands(&s, &run);
}

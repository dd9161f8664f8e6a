//! Discovery and OpenAPI as kubectl uses them: version, api-resources, explain, namespaces.

use crate::harness::{Server, kubectl_available, rows};

#[test]
fn version_reports_1_33() {
    if !kubectl_available() {
        return;
    }
    let s = Server::start();
    let out = s.ok(&["version"]);
    assert!(out.contains("Server Version: v1.33."), "{out}");
}

#[test]
fn api_resources_lists_the_served_kinds_with_short_names() {
    if !kubectl_available() {
        return;
    }
    let s = Server::start();
    let out = s.ok(&["api-resources"]);
    let table = rows(&out);
    assert_eq!(
        table[0],
        ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    );
    let expect: &[&[&str]] = &[
        &["jobs", "batch/v1", "true", "Job"],
        &["cronjobs", "cj", "batch/v1", "true", "CronJob"],
        &["pods", "po", "v1", "true", "Pod"],
        &["namespaces", "ns", "v1", "false", "Namespace"],
        &["events", "ev", "v1", "true", "Event"],
        &["nodes", "no", "v1", "false", "Node"],
    ];
    for want in expect {
        assert!(
            table.iter().any(|r| r == want),
            "missing {want:?} in\n{out}"
        );
    }
    // Short names resolve.
    s.ok(&["get", "cj"]);
    s.ok(&["get", "po"]);
    s.ok(&["get", "ev"]);
    s.ok(&["get", "no"]);
}

#[test]
fn explain_prints_field_descriptions() {
    if !kubectl_available() {
        return;
    }
    let s = Server::start();
    let out = s.ok(&["explain", "cronjob.spec.concurrencyPolicy"]);
    assert!(
        out.contains("KIND:       CronJob")
            || out.contains("KIND:\tCronJob")
            || out.contains("CronJob"),
        "{out}"
    );
    assert!(
        out.contains("Specifies how to treat concurrent executions of a Job."),
        "{out}"
    );
    let out = s.ok(&["explain", "job.spec.backoffLimit"]);
    assert!(
        out.contains("Specifies the number of retries before marking this job failed."),
        "{out}"
    );
    // `metadata` is optional on a Job, as in Kubernetes' schema: kubectl marks required
    // fields `-required-`.
    let out = s.ok(&["explain", "job"]);
    let metadata = out
        .lines()
        .find(|l| l.trim_start().starts_with("metadata"))
        .unwrap_or_else(|| panic!("no metadata field in: {out}"));
    assert!(!metadata.contains("-required-"), "{out}");
    let out = s.ok(&["explain", "event"]);
    let involved = out
        .lines()
        .find(|l| l.trim_start().starts_with("involvedObject"))
        .unwrap_or_else(|| panic!("no involvedObject field in: {out}"));
    assert!(involved.contains("-required-"), "{out}");
}

#[test]
fn system_namespaces_exist_and_missing_ones_are_not_found() {
    if !kubectl_available() {
        return;
    }
    let s = Server::start();
    let out = s.ok(&["get", "namespaces"]);
    for ns in ["default", "kube-node-lease", "kube-public", "kube-system"] {
        assert!(
            out.lines()
                .any(|l| l.starts_with(ns) && l.contains("Active")),
            "{ns} in\n{out}"
        );
    }
    let r = s.kubectl(&["get", "jobs", "-n", "nope"]);
    assert!(r.success, "{r:?}");
    let r = s.kubectl_stdin(
        &["create", "-n", "nope", "-f", "-"],
        include_bytes!("../../../../examples/job.yaml"),
    );
    assert!(!r.success);
    assert!(
        r.stderr.contains("namespaces \"nope\" not found"),
        "{}",
        r.stderr
    );
}

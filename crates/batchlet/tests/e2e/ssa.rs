//! Server-side apply with the real kubectl: `apply --server-side` creates, updates and drops
//! fields, reports conflicts in kubectl's words, `--force-conflicts` takes ownership, an
//! object created by client-side apply migrates (kubectl-compat §8), and
//! `--show-managed-fields` shows the managers.

use crate::harness::{Server, kubectl_available};
use serde_json::Value;

/// A suspended Job (no pods), with optional backoffLimit and activeDeadlineSeconds.
fn manifest(backoff: Option<i64>, deadline: Option<i64>) -> String {
    let mut s = String::from(
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: ssa\n  labels:\n    app: ssa\nspec:\n  suspend: true\n",
    );
    if let Some(b) = backoff {
        s.push_str(&format!("  backoffLimit: {b}\n"));
    }
    if let Some(d) = deadline {
        s.push_str(&format!("  activeDeadlineSeconds: {d}\n"));
    }
    s.push_str("  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: c\n        image: busybox:1.36\n        command: [\"true\"]\n");
    s
}

fn field(s: &Server, path: &str) -> String {
    s.ok(&["get", "job", "ssa", "-o", &format!("jsonpath={{{path}}}")])
}

fn managers(s: &Server) -> Vec<(String, String)> {
    let out = s.ok(&["get", "job", "ssa", "-o", "json", "--show-managed-fields"]);
    let v: Value = serde_json::from_str(&out).expect("json");
    v["metadata"]["managedFields"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| {
                    (
                        e["manager"].as_str().unwrap_or_default().to_owned(),
                        e["operation"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn server_side_apply_creates_updates_removes_and_conflicts() {
    if !kubectl_available() {
        return;
    }
    let s = Server::start();
    let ssa = ["apply", "--server-side", "-f", "-"];
    let r = s.kubectl_stdin(&ssa, manifest(Some(3), Some(100)).as_bytes());
    assert!(r.success, "{r:?}");
    assert_eq!(r.stdout.trim(), "job.batch/ssa serverside-applied");
    let r = s.kubectl_stdin(&ssa, manifest(Some(4), Some(100)).as_bytes());
    assert!(r.success, "{r:?}");
    assert_eq!(field(&s, ".spec.backoffLimit"), "4");
    // A field dropped from the manifest goes.
    let r = s.kubectl_stdin(&ssa, manifest(Some(4), None).as_bytes());
    assert!(r.success, "{r:?}");
    assert_eq!(field(&s, ".spec.activeDeadlineSeconds"), "");

    // Another manager changes backoffLimit: the next apply conflicts.
    let out = s.ok(&[
        "patch",
        "job",
        "ssa",
        "-p",
        r#"{"spec":{"backoffLimit":7}}"#,
    ]);
    assert_eq!(out.trim(), "job.batch/ssa patched");
    let r = s.kubectl_stdin(&ssa, manifest(Some(4), None).as_bytes());
    assert!(!r.success, "{r:?}");
    assert!(
        r.stderr.contains(
            "Apply failed with 1 conflict: conflict with \"kubectl-patch\" using batch/v1: .spec.backoffLimit"
        ),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("Please review the fields above"),
        "{}",
        r.stderr
    );
    assert_eq!(field(&s, ".spec.backoffLimit"), "7");

    // --force-conflicts takes it back.
    let r = s.kubectl_stdin(
        &["apply", "--server-side", "--force-conflicts", "-f", "-"],
        manifest(Some(4), None).as_bytes(),
    );
    assert!(r.success, "{r:?}");
    assert_eq!(field(&s, ".spec.backoffLimit"), "4");
    let m = managers(&s);
    assert!(
        m.contains(&("kubectl".to_owned(), "Apply".to_owned())),
        "{m:?}"
    );
    assert!(
        !m.iter().any(|(name, _)| name == "kubectl-patch"),
        "kubectl-patch owned only backoffLimit: {m:?}"
    );
    let yaml = s.ok(&["get", "job", "ssa", "-o", "yaml", "--show-managed-fields"]);
    for want in [
        "manager: kubectl",
        "operation: Apply",
        "f:backoffLimit: {}",
        "fieldsType: FieldsV1",
    ] {
        assert!(yaml.contains(want), "{want} in\n{yaml}");
    }
}

#[test]
fn server_side_apply_takes_over_from_client_side_apply() {
    if !kubectl_available() {
        return;
    }
    let s = Server::start();
    let r = s.kubectl_stdin(
        &["apply", "-f", "-"],
        manifest(Some(3), Some(100)).as_bytes(),
    );
    assert!(r.success, "{r:?}");
    assert_eq!(r.stdout.trim(), "job.batch/ssa created");
    let m = managers(&s);
    assert!(
        m.contains(&("kubectl-client-side-apply".to_owned(), "Update".to_owned())),
        "{m:?}"
    );

    // Another field manager changing a value client-side apply set conflicts with it.
    let r = s.kubectl_stdin(
        &["apply", "--server-side", "--field-manager=ci", "-f", "-"],
        manifest(Some(5), Some(100)).as_bytes(),
    );
    assert!(!r.success, "{r:?}");
    assert!(
        r.stderr.contains(
            "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using batch/v1: .spec.backoffLimit"
        ),
        "{}",
        r.stderr
    );

    // The same manifest server-side: no conflict, and kubectl migrates the ownership.
    let ssa = ["apply", "--server-side", "-f", "-"];
    let r = s.kubectl_stdin(&ssa, manifest(Some(3), Some(100)).as_bytes());
    assert!(r.success, "{r:?}");
    assert_eq!(r.stdout.trim(), "job.batch/ssa serverside-applied");
    assert!(!r.stderr.contains("arning"), "{}", r.stderr);
    let m = managers(&s);
    assert!(
        m.contains(&("kubectl".to_owned(), "Apply".to_owned())),
        "{m:?}"
    );
    assert!(
        !m.iter()
            .any(|(name, _)| name == "kubectl-client-side-apply"),
        "migrated: {m:?}"
    );
    let ann = field(
        &s,
        ".metadata.annotations.kubectl\\.kubernetes\\.io/last-applied-configuration",
    );
    assert!(ann.contains("\"backoffLimit\":3"), "{ann}");

    // From now on a field dropped from the manifest goes, as with client-side apply.
    let r = s.kubectl_stdin(&ssa, manifest(Some(3), None).as_bytes());
    assert!(r.success, "{r:?}");
    assert_eq!(field(&s, ".spec.activeDeadlineSeconds"), "");
}

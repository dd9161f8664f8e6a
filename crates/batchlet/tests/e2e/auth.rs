//! `kubectl auth whoami` and `kubectl auth can-i` (a question, `--list`), and the reviews
//! behind them created from manifests: kubectl 1.33 sends them as protobuf.

use crate::harness::{Server, kubectl_available, rows};
use serde_json::{Value, json};

#[test]
fn whoami_names_the_admin_and_its_groups() {
    if !kubectl_available() {
        return;
    }
    let s = Server::start();
    let out = s.ok(&["auth", "whoami"]);
    let table = rows(&out);
    assert_eq!(table[0], ["ATTRIBUTE", "VALUE"], "{out}");
    assert_eq!(table[1], ["Username", "batchlet-admin"], "{out}");
    assert_eq!(
        table[2],
        ["Groups", "[system:masters", "system:authenticated]"],
        "{out}"
    );
    let v: Value = serde_json::from_str(&s.ok(&["auth", "whoami", "-o", "json"])).expect("json");
    assert_eq!(v["kind"], "SelfSubjectReview");
    assert_eq!(v["apiVersion"], "authentication.k8s.io/v1");
    assert_eq!(
        v["status"],
        json!({"userInfo": {"username": "batchlet-admin",
                            "groups": ["system:masters", "system:authenticated"]}})
    );
    assert!(v["metadata"]["creationTimestamp"].is_string(), "{v}");
}

#[test]
fn can_i_answers_yes_to_everything() {
    if !kubectl_available() {
        return;
    }
    let s = Server::start();
    for args in [
        &["auth", "can-i", "create", "jobs"][..],
        &[
            "auth",
            "can-i",
            "delete",
            "cronjobs.batch",
            "-n",
            "kube-system",
        ],
        &["auth", "can-i", "*", "*"],
        &["auth", "can-i", "get", "/healthz"],
        &["auth", "can-i", "get", "pods/log", "--all-namespaces"],
    ] {
        assert_eq!(s.ok(args).trim(), "yes", "{args:?}");
    }
}

#[test]
fn can_i_list_prints_cluster_admin_rules() {
    if !kubectl_available() {
        return;
    }
    let s = Server::start();
    let out = s.ok(&["auth", "can-i", "--list"]);
    let table = rows(&out);
    assert_eq!(
        table[0],
        [
            "Resources",
            "Non-Resource",
            "URLs",
            "Resource",
            "Names",
            "Verbs"
        ],
        "{out}"
    );
    for want in [
        &["*.*", "[]", "[]", "[*]"][..],
        &["[*]", "[]", "[*]"],
        &[
            "selfsubjectaccessreviews.authorization.k8s.io",
            "[]",
            "[]",
            "[create]",
        ],
        &[
            "selfsubjectreviews.authentication.k8s.io",
            "[]",
            "[]",
            "[create]",
        ],
        &["[/healthz]", "[]", "[get]"],
    ] {
        assert!(table.iter().any(|r| r == want), "no {want:?} in\n{out}");
    }
}

const INVALID: &str = r#"apiVersion: authorization.k8s.io/v1
kind: SelfSubjectAccessReview
spec: {}
"#;

const VALID: &str = r#"apiVersion: authorization.k8s.io/v1
kind: SelfSubjectAccessReview
spec:
  resourceAttributes:
    namespace: default
    verb: list
    group: batch
    resource: jobs
"#;

#[test]
fn reviews_created_from_manifests_are_validated_and_answered() {
    if !kubectl_available() {
        return;
    }
    let s = Server::start();
    let r = s.kubectl_stdin(&["create", "-f", "-"], INVALID.as_bytes());
    assert!(!r.success, "{}", r.stdout);
    assert_eq!(
        r.stderr.trim(),
        "The request is invalid: spec.resourceAttributes: Invalid value: \"null\": exactly one of nonResourceAttributes or resourceAttributes must be specified"
    );
    let r = s.kubectl_stdin(&["create", "-f", "-", "-o", "json"], VALID.as_bytes());
    assert!(r.success, "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).expect("json");
    assert_eq!(v["status"], json!({"allowed": true}));
    assert_eq!(
        v["spec"],
        json!({"resourceAttributes": {"namespace": "default", "verb": "list",
                                      "group": "batch", "resource": "jobs"}})
    );
    // Nothing is stored: there is no list, and no object to read.
    let r = s.kubectl(&["get", "selfsubjectaccessreviews"]);
    assert!(!r.success);
    assert!(
        r.stderr
            .contains("the server does not allow this method on the requested resource"),
        "{}",
        r.stderr
    );
    let out = s.ok(&[
        "explain",
        "selfsubjectaccessreview.spec.resourceAttributes.verb",
    ]);
    assert!(
        out.contains("Verb is a kubernetes resource API verb"),
        "{out}"
    );
}

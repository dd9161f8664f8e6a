//! Server-side apply and managedFields over HTTP: create (201), update, removal of dropped
//! fields, conflicts as 409 `FieldManagerConflict`, `force`, the patch options' 422s, the
//! Update entries of other writes, and kubectl's client-side-apply upgrade.

use super::*;

const APPLY: &str = "application/apply-patch+yaml";

fn apply_path(name: &str, query: &str) -> String {
    format!("{}?{query}", job_path("default", name))
}

impl Harness {
    async fn apply(&self, name: &str, query: &str, body: &str) -> Resp {
        self.req(
            "PATCH",
            &apply_path(name, query),
            &[("content-type", APPLY)],
            body.to_owned(),
        )
        .await
    }
}

fn manifest(backoff: Option<i64>, deadline: Option<i64>) -> String {
    let mut s = String::from(
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: pi\n  labels:\n    app: pi\nspec:\n",
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

fn entry<'a>(obj: &'a Value, manager: &str) -> Option<&'a Value> {
    obj["metadata"]["managedFields"]
        .as_array()?
        .iter()
        .find(|e| e["manager"] == manager)
}

#[tokio::test]
async fn apply_creates_updates_and_removes() {
    let h = app().await;
    let r = h
        .apply(
            "pi",
            "fieldManager=kubectl&force=false",
            &manifest(Some(3), Some(60)),
        )
        .await;
    let created = r.expect(201);
    assert_eq!(created["spec"]["backoffLimit"], 3);
    assert_eq!(created["metadata"]["generation"], 1);
    let e = entry(&created, "kubectl").expect("apply entry");
    assert_eq!(e["operation"], "Apply");
    assert_eq!(e["fieldsType"], "FieldsV1");
    assert_eq!(
        e["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"c\"}"],
        json!({".": {}, "f:command": {}, "f:image": {}, "f:name": {}})
    );
    assert!(
        e["fieldsV1"]["f:spec"].get("f:completions").is_none(),
        "defaults are not applied"
    );
    assert_eq!(
        created["metadata"]["managedFields"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );

    // The same configuration again: nothing written, byte for byte.
    let before = h.get(&job_path("default", "pi")).await;
    let rev = h.revision();
    h.advance(10);
    let again = h
        .apply(
            "pi",
            "fieldManager=kubectl&force=false",
            &manifest(Some(3), Some(60)),
        )
        .await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body, before.body);
    assert_eq!(h.revision(), rev);

    // A changed value, then a dropped field.
    let updated = h
        .apply("pi", "fieldManager=kubectl", &manifest(Some(4), Some(60)))
        .await
        .expect(200);
    assert_eq!(updated["spec"]["backoffLimit"], 4);
    let dropped = h
        .apply("pi", "fieldManager=kubectl", &manifest(Some(4), None))
        .await
        .expect(200);
    assert!(
        dropped["spec"].get("activeDeadlineSeconds").is_none(),
        "{dropped}"
    );
    assert_eq!(dropped["metadata"]["labels"]["app"], "pi");
}

#[tokio::test]
async fn json_bodies_are_accepted() {
    let h = app().await;
    let body = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "pi"},
        "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}});
    h.apply("pi", "fieldManager=m", &body.to_string())
        .await
        .expect(201);
}

#[tokio::test]
async fn conflicts_with_another_manager_and_force() {
    let h = app().await;
    let r = h
        .req(
            "POST",
            "/apis/batch/v1/namespaces/default/jobs?fieldManager=kubectl-create",
            &[("content-type", "application/json")],
            job("pi").to_string(),
        )
        .await;
    r.expect(201);
    h.req(
        "PATCH",
        &format!("{}?fieldManager=kubectl-patch", job_path("default", "pi")),
        &[("content-type", MERGE)],
        json!({"spec": {"backoffLimit": 5}}).to_string(),
    )
    .await
    .expect(200);
    let body = manifest(Some(3), None);
    let s = h
        .apply("pi", "fieldManager=kubectl&force=false", &body)
        .await
        .expect_status(409, "Conflict");
    assert_eq!(
        s["message"],
        "Apply failed with 1 conflict: conflict with \"kubectl-patch\" using batch/v1: .spec.backoffLimit"
    );
    assert_eq!(
        s["details"]["causes"],
        json!([{"reason": "FieldManagerConflict", "message": "conflict with \"kubectl-patch\" using batch/v1", "field": ".spec.backoffLimit"}])
    );
    let forced = h
        .apply("pi", "fieldManager=kubectl&force=true", &body)
        .await
        .expect(200);
    assert_eq!(forced["spec"]["backoffLimit"], 3);
    assert!(
        entry(&forced, "kubectl-patch").is_none(),
        "patcher lost its only field"
    );
    let create = entry(&forced, "kubectl-create").expect("create entry");
    assert!(create["fieldsV1"]["f:spec"].get("f:backoffLimit").is_none());
}

#[tokio::test]
async fn update_entries_look_like_a_real_servers() {
    let h = app().await;
    let created = h
        .req(
            "POST",
            "/apis/batch/v1/namespaces/default/jobs?fieldManager=kubectl-create",
            &[("content-type", "application/json")],
            job_labeled("pi", json!({"a": "1"})).to_string(),
        )
        .await
        .expect(201);
    let e = entry(&created, "kubectl-create").expect("entry");
    assert_eq!(e["operation"], "Update");
    assert_eq!(e["apiVersion"], "batch/v1");
    assert_eq!(e["time"], "2023-11-14T22:13:20Z");
    let f = &e["fieldsV1"];
    assert_eq!(f["f:metadata"]["f:labels"], json!({".": {}, "f:a": {}}));
    let spec = &f["f:spec"];
    assert!(spec.get(".").is_none());
    assert_eq!(
        spec["f:backoffLimit"],
        json!({}),
        "defaulted by the decoder"
    );
    assert!(
        spec.get("f:selector").is_none(),
        "generated by the strategy"
    );
    let c = &spec["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"c\"}"];
    assert_eq!(c["."], json!({}));
    assert_eq!(c["f:terminationMessagePath"], json!({}));
    // A patch through another manager takes its field; a no-op patch changes nothing.
    h.advance(60);
    let patched = h
        .req(
            "PATCH",
            &format!("{}?fieldManager=kubectl-patch", job_path("default", "pi")),
            &[("content-type", MERGE)],
            json!({"metadata": {"labels": {"a": "2"}}}).to_string(),
        )
        .await
        .expect(200);
    let p = entry(&patched, "kubectl-patch").expect("patch entry");
    assert_eq!(
        p["fieldsV1"],
        json!({"f:metadata": {"f:labels": {"f:a": {}}}})
    );
    assert_eq!(p["time"], "2023-11-14T22:14:20Z");
    let c = entry(&patched, "kubectl-create").expect("create entry");
    assert_eq!(
        c["fieldsV1"]["f:metadata"]["f:labels"],
        json!({}),
        "still owns the map"
    );
}

#[tokio::test]
async fn patch_options_are_validated() {
    let h = app().await;
    let s = h
        .apply("pi", "", &manifest(Some(3), None))
        .await
        .expect_status(422, "Invalid");
    assert_eq!(
        s["message"],
        "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch"
    );
    assert_eq!(s["details"]["kind"], "PatchOptions");
    h.create_job("default", job("pi")).await;
    let s = h
        .req(
            "PATCH",
            &format!("{}?force=true", job_path("default", "pi")),
            &[("content-type", MERGE)],
            "{}".to_owned(),
        )
        .await
        .expect_status(422, "Invalid");
    assert_eq!(
        s["message"],
        "PatchOptions.meta.k8s.io \"\" is invalid: force: Forbidden: may not be specified for non-apply patch"
    );
}

#[tokio::test]
async fn bad_configurations_are_400() {
    let h = app().await;
    for (body, msg) in [
        (
            "apiVersion: v1\nkind: Job\n",
            "Incorrect version specified in apply patch. Specified patch version: v1, expected: batch/v1",
        ),
        (
            "apiVersion: batch/v1\nkind: Job\nmetadata:\n  managedFields: []\n",
            "metadata.managedFields must be nil",
        ),
        (
            "apiVersion: batch/v1\nkind: Job\nspec:\n  template:\n    spec:\n      containers:\n      - image: x\n",
            "failed to create typed patch object (default/pi; batch/v1, Kind=Job): .spec.template.spec.containers: element 0: associative list with keys has an element that omits key field \"name\" (and doesn't have default value)",
        ),
        (
            "apiVersion: batch/v1\nkind: Job\nspec:\n  bogus: 1\n",
            "failed to create typed patch object (default/pi; batch/v1, Kind=Job): .spec.bogus: field not declared in schema",
        ),
        ("[1, 2", ""),
        ("- 1\n- 2\n", ""),
    ] {
        let s = h
            .apply("pi", "fieldManager=m", body)
            .await
            .expect_status(400, "BadRequest");
        if !msg.is_empty() {
            assert_eq!(s["message"], msg, "{body}");
        }
    }
    assert_eq!(
        h.get(&job_path("default", "pi")).await.status,
        StatusCode::NOT_FOUND
    );
}

/// kubectl-compat §8: create with client-side apply, then `apply --server-side`, the
/// `kubectl-last-applied` save and kubectl's JSON-patch upgrade of managedFields.
#[tokio::test]
async fn client_side_apply_then_server_side_apply() {
    let h = app().await;
    let mut obj = job_labeled("pi", json!({"app": "pi"}));
    let mut last = obj.clone();
    last["metadata"]["annotations"] = json!({});
    last["metadata"]["namespace"] = json!("default");
    obj["metadata"]["annotations"] =
        json!({"kubectl.kubernetes.io/last-applied-configuration": format!("{last}\n")});
    h.req(
        "POST",
        "/apis/batch/v1/namespaces/default/jobs?fieldManager=kubectl-client-side-apply",
        &[("content-type", "application/json")],
        obj.to_string(),
    )
    .await
    .expect(201);
    let mut cfg = job_labeled("pi", json!({"app": "pi"}));
    cfg["metadata"]["namespace"] = json!("default");
    let out = h
        .apply("pi", "fieldManager=kubectl&force=false", &cfg.to_string())
        .await
        .expect(200);
    let ann = out["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
        .as_str()
        .expect("annotation kept");
    assert!(ann.ends_with('\n'));
    assert!(entry(&out, "kubectl").is_some());
    // kubectl-last-applied saves the annotation under an Apply manager.
    let just = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "pi", "namespace": "default",
        "annotations": {"kubectl.kubernetes.io/last-applied-configuration": ann}}});
    let out = h
        .apply("pi", "fieldManager=kubectl-last-applied", &just.to_string())
        .await
        .expect(200);
    assert!(entry(&out, "kubectl-last-applied").is_some());
    // The upgrade: kubectl's JSON patch replaces managedFields (and pins the revision).
    let mut fields = out["metadata"]["managedFields"].clone();
    let csa = entry(&out, "kubectl-client-side-apply").expect("csa")["fieldsV1"].clone();
    if let Some(a) = fields.as_array_mut() {
        a.retain(|e| e["manager"] != "kubectl-client-side-apply");
        for e in a.iter_mut() {
            if e["manager"] == "kubectl" {
                e["fieldsV1"] = csa.clone();
            }
        }
    }
    let rv = out["metadata"]["resourceVersion"].clone();
    let patch = json!([{"op": "replace", "path": "/metadata/managedFields", "value": fields},
                       {"op": "replace", "path": "/metadata/resourceVersion", "value": rv}]);
    let upgraded = h
        .req(
            "PATCH",
            &format!("{}?fieldManager=kubectl", job_path("default", "pi")),
            &[("content-type", JSON_PATCH)],
            patch.to_string(),
        )
        .await
        .expect(200);
    assert!(entry(&upgraded, "kubectl-client-side-apply").is_none());
    assert_eq!(
        entry(&upgraded, "kubectl").expect("kubectl")["fieldsV1"],
        csa
    );
    // The same patch again is stale now: 409.
    h.req(
        "PATCH",
        &format!("{}?fieldManager=kubectl", job_path("default", "pi")),
        &[("content-type", JSON_PATCH)],
        patch.to_string(),
    )
    .await
    .expect_status(409, "Conflict");
    // Re-applying without the label removes it (kubectl now owns what CSA owned).
    let cfg2 = job("pi");
    let out = h
        .apply("pi", "fieldManager=kubectl", &cfg2.to_string())
        .await
        .expect(200);
    assert!(
        out["metadata"]
            .get("labels")
            .is_none_or(|l| l.get("app").is_none()),
        "{out}"
    );
}

#[tokio::test]
async fn cronjobs_and_pods_apply_too() {
    let h = app().await;
    let cj = "apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: nightly\nspec:\n  schedule: '0 3 * * *'\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: OnFailure\n          containers:\n          - name: c\n            image: busybox\n";
    let path = "/apis/batch/v1/namespaces/default/cronjobs/nightly?fieldManager=kubectl";
    let out = h
        .req("PATCH", path, &[("content-type", APPLY)], cj.to_owned())
        .await
        .expect(201);
    assert_eq!(out["spec"]["schedule"], "0 3 * * *");
    let again = h
        .req("PATCH", path, &[("content-type", APPLY)], cj.to_owned())
        .await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.json(), out);
    let pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n  - name: c\n    image: nginx\n    ports:\n    - containerPort: 80\n";
    let out = h
        .req(
            "PATCH",
            "/api/v1/namespaces/default/pods/web?fieldManager=kubectl",
            &[("content-type", APPLY)],
            pod.to_owned(),
        )
        .await
        .expect(201);
    let f = &entry(&out, "kubectl").expect("entry")["fieldsV1"];
    assert_eq!(
        f["f:spec"]["f:containers"]["k:{\"name\":\"c\"}"]["f:ports"],
        json!({"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}})
    );
}

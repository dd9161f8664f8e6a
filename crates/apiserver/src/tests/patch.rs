//! PATCH: merge, JSON and strategic merge patches.

use super::*;

#[tokio::test]
async fn merge_patch() {
    let h = app().await;
    h.create_job("default", job_labeled("pi", json!({"a": "1", "b": "2"})))
        .await;
    let path = job_path("default", "pi");
    let out = h
        .patch(
            &path,
            MERGE,
            &json!({"metadata": {"labels": {"a": null, "c": "3"}}, "spec": {"parallelism": 2}}),
        )
        .await
        .expect(200);
    let labels = &out["metadata"]["labels"];
    assert!(labels.get("a").is_none());
    assert_eq!(labels["b"], "2");
    assert_eq!(labels["c"], "3");
    assert_eq!(out["spec"]["parallelism"], 2);
    assert_eq!(out["metadata"]["generation"], 2);
    assert_eq!(h.get(&path).await.expect(200), out);
}

#[tokio::test]
async fn noop_patch_is_byte_identical() {
    let h = app().await;
    h.create_job("default", job_labeled("pi", json!({"a": "1"})))
        .await;
    let path = job_path("default", "pi");
    let before = h.get(&path).await;
    let rev = h.revision();
    for (ct, body) in [
        (MERGE, json!({"metadata": {"labels": {"a": "1"}}})),
        (STRATEGIC, json!({"spec": {"parallelism": 1}})),
        (
            JSON_PATCH,
            json!([{"op": "replace", "path": "/metadata/labels/a", "value": "1"}]),
        ),
    ] {
        let r = h.patch(&path, ct, &body).await;
        assert_eq!(r.status, StatusCode::OK, "{ct}");
        assert_eq!(r.body, before.body, "{ct}: must be byte-identical");
    }
    assert_eq!(h.revision(), rev);
}

#[tokio::test]
async fn json_patch() {
    let h = app().await;
    h.create_job("default", job("pi")).await;
    let path = job_path("default", "pi");
    let out = h
        .patch(
            &path,
            JSON_PATCH,
            &json!([
                {"op": "add", "path": "/metadata/annotations", "value": {"x": "1"}},
                {"op": "replace", "path": "/spec/backoffLimit", "value": 2}
            ]),
        )
        .await
        .expect(200);
    assert_eq!(out["metadata"]["annotations"]["x"], "1");
    assert_eq!(out["spec"]["backoffLimit"], 2);
    let rv = out["metadata"]["resourceVersion"].as_str().expect("rv");
    // A failed test op: 422 with the generic message, as the real server.
    let s = h
        .patch(
            &path,
            JSON_PATCH,
            &json!([
                {"op": "test", "path": "/metadata/resourceVersion", "value": "1"},
                {"op": "replace", "path": "/spec/backoffLimit", "value": 3}
            ]),
        )
        .await
        .expect_status(422, "Invalid");
    assert_eq!(
        s["message"],
        "the server rejected our request due to an error in our request"
    );
    assert_eq!(h.get(&path).await.expect(200)["spec"]["backoffLimit"], 2);
    // A passing test op on the current resourceVersion.
    h.patch(
        &path,
        JSON_PATCH,
        &json!([
            {"op": "test", "path": "/metadata/resourceVersion", "value": rv},
            {"op": "replace", "path": "/spec/backoffLimit", "value": 3}
        ]),
    )
    .await
    .expect(200);
    // A malformed JSON patch (not an array) is 400.
    h.patch(&path, JSON_PATCH, &json!({"op": "add"}))
        .await
        .expect_status(400, "BadRequest");
}

#[tokio::test]
async fn strategic_merge_patch() {
    let h = app().await;
    let mut j = job("pi");
    j["spec"]["template"]["spec"]["containers"][0]["env"] =
        json!([{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]);
    j["spec"]["suspend"] = json!(true);
    h.create_job("default", j).await;
    let path = job_path("default", "pi");
    // What kubectl apply sends: a merge by key with $setElementOrder. A Job's template is
    // immutable, so the lists are a CronJob's (its job template may change).
    let cj = json!({
        "apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": {"name": "nightly"},
        "spec": {"schedule": "0 0 * * *", "jobTemplate": {"spec": {"template": {"spec": {
            "containers": [
                {"name": "a", "image": "busybox:1.36", "env": [{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}]},
                {"name": "b", "image": "busybox:1.36"}
            ],
            "restartPolicy": "OnFailure"
        }}}}}
    });
    let cjs = "/apis/batch/v1/namespaces/default/cronjobs";
    h.post(cjs, &cj).await.expect(201);
    let out = h
        .patch(
            &format!("{cjs}/nightly"),
            STRATEGIC,
            &json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {
                "$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
                "containers": [{
                    "name": "a",
                    "image": "busybox:1.37",
                    "$setElementOrder/env": [{"name": "Y"}, {"name": "X"}],
                    "env": [{"name": "X", "value": "9"}]
                }]
            }}}}}}),
        )
        .await
        .expect(200);
    let containers = &out["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"];
    assert_eq!(containers[0]["name"], "b");
    assert_eq!(containers[1]["name"], "a");
    assert_eq!(containers[1]["image"], "busybox:1.37");
    assert_eq!(
        containers[1]["env"],
        json!([{"name": "Y", "value": "2"}, {"name": "X", "value": "9"}])
    );
    // $patch: delete on a keyed element.
    let out = h
        .patch(
            &format!("{cjs}/nightly"),
            STRATEGIC,
            &json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {
                "containers": [{"name": "b", "$patch": "delete"}]
            }}}}}}),
        )
        .await
        .expect(200);
    let containers = &out["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"];
    assert_eq!(containers.as_array().expect("containers").len(), 1);
    // On the Job: the suspended flag is mutable.
    let out = h
        .patch(&path, STRATEGIC, &json!({"spec": {"suspend": false}}))
        .await
        .expect(200);
    assert_eq!(out["spec"]["suspend"], false);
}

#[tokio::test]
async fn immutable_template() {
    let h = app().await;
    h.create_job("default", job("pi")).await;
    let path = job_path("default", "pi");
    let s = h
        .patch(
            &path,
            STRATEGIC,
            &json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox:1.37"}]}}}}),
        )
        .await
        .expect_status(422, "Invalid");
    assert!(
        s["message"].as_str().is_some_and(|m| m
            .starts_with("Job.batch \"pi\" is invalid: spec.template: Invalid value: ")
            && m.ends_with("field is immutable")),
        "{s}"
    );
    assert_eq!(s["details"]["causes"][0]["field"], "spec.template");
}

#[tokio::test]
async fn patch_errors() {
    let h = app().await;
    h.create_job("default", job("pi")).await;
    let path = job_path("default", "pi");
    let s = h
        .patch(&path, "application/json", &json!({}))
        .await
        .expect_status(415, "UnsupportedMediaType");
    assert_eq!(
        s["message"],
        "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml"
    );
    h.patch(&job_path("default", "nope"), MERGE, &json!({}))
        .await
        .expect_status(404, "NotFound");
    let r = h
        .req("PATCH", &path, &[("content-type", MERGE)], "{not json")
        .await;
    r.expect_status(400, "BadRequest");
    // A stale resourceVersion in the patch is a conflict.
    let s = h
        .patch(
            &path,
            MERGE,
            &json!({"metadata": {"resourceVersion": "1", "labels": {"x": "y"}}}),
        )
        .await
        .expect_status(409, "Conflict");
    assert!(
        s["message"]
            .as_str()
            .is_some_and(|m| m.ends_with("the object has been modified; please apply your changes to the latest version and try again")),
        "{s}"
    );
    // Unknown fields: warnings by default.
    let r = h.patch(&path, MERGE, &json!({"spec": {"bogus": 1}})).await;
    r.expect(200);
    assert_eq!(
        r.warnings(),
        vec![r#"299 - "unknown field \"spec.bogus\"""#]
    );
}

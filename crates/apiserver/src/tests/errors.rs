//! Errors: every failure is a `Status` with the real server's code, reason and message.

use super::*;

const JOBS: &str = "/apis/batch/v1/namespaces/default/jobs";

#[tokio::test]
async fn unknown_paths_are_404() {
    let h = app().await;
    for path in [
        "/nope",
        "/apis/batch/v1/namespaces/default/widgets",
        "/apis/nogroup/v1/things",
        "/apis/batch/v9/jobs",
        "/api/v1/pods/x",
        "/apis/batch/v1/namespaces/default/jobs/x/log",
    ] {
        let s = h.get(path).await.expect_status(404, "NotFound");
        assert_eq!(
            s["message"], "the server could not find the requested resource",
            "{path}"
        );
        assert!(
            s.get("details").is_none() || s["details"].is_object(),
            "{path}"
        );
    }
}

#[tokio::test]
async fn wrong_method_is_405() {
    let h = app().await;
    for (method, path) in [
        ("PUT", JOBS),
        ("PATCH", JOBS),
        ("POST", "/apis/batch/v1/namespaces/default/jobs/x"),
        ("POST", "/apis"),
        ("DELETE", "/api/v1"),
    ] {
        let s = h
            .req(method, path, &[("content-type", "application/json")], "{}")
            .await
            .expect_status(405, "MethodNotAllowed");
        assert_eq!(
            s["message"], "the server does not allow this method on the requested resource",
            "{method} {path}"
        );
    }
}

#[tokio::test]
async fn body_too_large_is_413() {
    let h = app().await;
    let mut j = job("big");
    j["metadata"]["annotations"] = json!({"x": "a".repeat(3 * 1024 * 1024)});
    let s = h
        .post(JOBS, &j)
        .await
        .expect_status(413, "RequestEntityTooLarge");
    assert_eq!(s["message"], "Request entity too large: limit is 3145728");
    // Also without a Content-Length (a streamed body).
    let body = Body::from_stream(futures::stream::iter(
        (0..4).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![b' '; 1024 * 1024]))),
    ));
    h.req("POST", JOBS, &[("content-type", "application/json")], body)
        .await
        .expect_status(413, "RequestEntityTooLarge");
    // A declared length far over the limit is refused without reading.
    h.req(
        "POST",
        JOBS,
        &[
            ("content-type", "application/json"),
            ("content-length", "100000000"),
        ],
        Body::empty(),
    )
    .await
    .expect_status(413, "RequestEntityTooLarge");
    assert_eq!(h.revision(), 4, "only the system namespaces were written");
}

#[tokio::test]
async fn malformed_bodies_are_400() {
    let h = app().await;
    let s = h
        .req(
            "POST",
            JOBS,
            &[("content-type", "application/json")],
            "{nope",
        )
        .await
        .expect_status(400, "BadRequest");
    assert!(
        s["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("couldn't get version/kind; json parse error: ")),
        "{s}"
    );
    let s = h
        .post(
            JOBS,
            &json!({"apiVersion": "v1", "kind": "Job", "metadata": {"name": "x"}}),
        )
        .await
        .expect_status(400, "BadRequest");
    assert_eq!(
        s["message"],
        "the API version in the data (v1) does not match the expected API version (batch/v1)"
    );
    let s = h
        .post(
            JOBS,
            &json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "x"}}),
        )
        .await
        .expect_status(400, "BadRequest");
    assert_eq!(
        s["message"],
        "the kind in the data (CronJob) does not match the expected kind (Job)"
    );
    h.post(JOBS, &json!([1, 2]))
        .await
        .expect_status(400, "BadRequest");
    h.req("POST", JOBS, &[("content-type", "text/plain")], "x")
        .await
        .expect_status(415, "UnsupportedMediaType");
    h.req(
        "DELETE",
        &job_path("default", "x"),
        &[("content-type", "application/json")],
        "{bad",
    )
    .await
    .expect_status(400, "BadRequest");
    // YAML bodies are accepted.
    h.req(
        "POST",
        JOBS,
        &[("content-type", "application/yaml")],
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: y\nspec:\n  template:\n    spec:\n      containers:\n      - name: c\n        image: busybox\n      restartPolicy: Never\n",
    )
    .await
    .expect(201);
}

#[tokio::test]
async fn bad_query_parameters() {
    let h = app().await;
    h.post(&format!("{JOBS}?fieldValidation=Loud"), &job("x"))
        .await
        .expect_status(400, "BadRequest");
    h.delete(
        &job_path("default", "x"),
        Some(&json!({"propagationPolicy": "Sideways"})),
    )
    .await
    .expect_status(422, "Invalid");
    h.get(&format!("{JOBS}?watch=true&timeoutSeconds=x"))
        .await
        .expect_status(400, "BadRequest");
    h.get(&format!("{JOBS}?resourceVersion=abc"))
        .await
        .expect_status(400, "BadRequest");
    let s = h
        .get(&format!("{JOBS}?resourceVersion=999999"))
        .await
        .expect_status(504, "Timeout");
    assert_eq!(s["details"]["retryAfterSeconds"], 1);
}

#[tokio::test]
async fn discovery_and_health() {
    let h = app().await;
    let v = h.get("/version").await.expect(200);
    assert_eq!(v["major"], "1");
    assert_eq!(v["minor"], "33");
    let r = h.get("/healthz").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(&r.body[..], b"ok");
    let l = h.get("/apis/batch/v1").await.expect(200);
    assert_eq!(l["kind"], "APIResourceList");
    assert_eq!(l["groupVersion"], "batch/v1");
}

//! Bearer-token authentication.

use super::*;

#[tokio::test]
async fn token_required_except_public_paths() {
    let h = app_with(store::Options::default(), Some("s3cret")).await;
    for path in [
        "/api",
        "/apis/batch/v1/namespaces/default/jobs",
        "/openapi/v3",
        "/nope",
    ] {
        let s = h.get(path).await.expect_status(401, "Unauthorized");
        assert_eq!(s["message"], "Unauthorized", "{path}");
    }
    for auth in ["Bearer wrong", "Bearer s3cre", "Basic s3cret", "s3cret"] {
        h.req(
            "GET",
            "/api/v1/namespaces",
            &[("authorization", auth)],
            Body::empty(),
        )
        .await
        .expect_status(401, "Unauthorized");
    }
    for path in ["/version", "/healthz", "/livez", "/readyz"] {
        let r = h.get(path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
    }
    let r = h
        .req(
            "GET",
            "/api/v1/namespaces",
            &[("authorization", "Bearer s3cret")],
            Body::empty(),
        )
        .await;
    assert_eq!(r.expect(200)["kind"], "NamespaceList");
    // Writes too.
    let r = h
        .req(
            "POST",
            "/apis/batch/v1/namespaces/default/jobs",
            &[("content-type", "application/json")],
            job("x").to_string(),
        )
        .await;
    r.expect_status(401, "Unauthorized");
    h.get(&job_path("default", "x"))
        .await
        .expect_status(401, "Unauthorized");
}

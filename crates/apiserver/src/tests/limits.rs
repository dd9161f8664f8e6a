//! Request limits: 429 with `Retry-After` past the in-flight and watch counts, a watch's slot
//! held while it streams and freed when it ends (the 413 body limit: `errors.rs`).

use super::*;
use crate::limits::Limits;

const PODS: &str = "/api/v1/namespaces/default/pods";

fn expect_429(r: &Resp) {
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{r:?}");
    assert_eq!(
        r.headers.get("retry-after").map(|v| v.as_bytes()),
        Some(&b"1"[..])
    );
    assert_eq!(
        String::from_utf8_lossy(&r.body),
        "Too many requests, please try again later.\n"
    );
}

#[tokio::test]
async fn watches_past_the_limit_get_429_until_one_ends() {
    let mut h = app().await;
    h.set_limits(Limits {
        max_watches: 2,
        ..Limits::default()
    });
    let w1 = h
        .send("GET", &format!("{PODS}?watch=true"), &[], Body::empty())
        .await;
    let w2 = h
        .send("GET", "/api/v1/pods?watch=true", &[], Body::empty())
        .await;
    assert_eq!((w1.status(), w2.status()), (StatusCode::OK, StatusCode::OK));
    expect_429(
        &h.req("GET", &format!("{PODS}?watch=1"), &[], Body::empty())
            .await,
    );
    // Reads, writes and probes are counted apart.
    h.get(PODS).await.expect(200);
    h.get("/readyz").await;
    drop(w1);
    let w3 = h
        .send("GET", &format!("{PODS}?watch=true"), &[], Body::empty())
        .await;
    assert_eq!(w3.status(), StatusCode::OK);
    drop(w2);
    drop(w3);
}

#[tokio::test]
async fn writes_and_reads_past_their_in_flight_limits_get_429() {
    let mut h = app().await;
    h.set_limits(Limits {
        max_requests_inflight: 0,
        max_mutating_requests_inflight: 0,
        max_watches: 1,
    });
    expect_429(&h.get(PODS).await);
    expect_429(
        &h.req(
            "DELETE",
            &format!("{PODS}/p"),
            &[("content-type", "application/json")],
            Body::empty(),
        )
        .await,
    );
    // Probes are exempt, as upstream's.
    let r = h.get("/readyz").await;
    assert_eq!(r.status, StatusCode::OK);
}

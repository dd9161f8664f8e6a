//! Admission of requests by count, as kube-apiserver's `WithMaxInFlightLimit` does: at most
//! `max_requests_inflight` read requests and `max_mutating_requests_inflight` writes at a
//! time, and (batchlet's own bound, since every watch holds a stream and a store watcher)
//! at most `max_watches` long-running requests (watches and followed logs). Past a limit the
//! answer is upstream's: 429 "Too many requests, please try again later." with
//! `Retry-After: 1`, so client-go and kube-rs back off and retry. Request bodies are bounded
//! separately (3 MiB, 413, in `handlers`).

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use http::{Method, StatusCode, header};
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The limits (kube-apiserver's defaults for the two in-flight counts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `--max-requests-inflight`: reads at a time (400).
    pub max_requests_inflight: usize,
    /// `--max-mutating-requests-inflight`: writes at a time (200).
    pub max_mutating_requests_inflight: usize,
    /// Open watches and followed log streams at a time.
    pub max_watches: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_requests_inflight: 400,
            max_mutating_requests_inflight: 200,
            max_watches: 1000,
        }
    }
}

/// Which limit a request counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Not counted: health and version probes, as upstream exempts them.
    Exempt,
    /// A read that ends with its response.
    Read,
    /// A write.
    Mutating,
    /// A watch or a followed log: holds its slot for as long as its body streams.
    LongRunning,
}

fn query_true(query: Option<&str>, key: &str) -> bool {
    query.is_some_and(|q| {
        form_urlencoded::parse(q.as_bytes())
            .any(|(k, v)| k == key && matches!(v.as_ref(), "true" | "1"))
    })
}

/// Classifies a request by method, path and query (upstream's long-running check: `watch`
/// verbs and `pods/log` with `follow`).
pub fn classify(method: &Method, path: &str, query: Option<&str>) -> Class {
    if matches!(path, "/version" | "/healthz" | "/livez" | "/readyz") {
        return Class::Exempt;
    }
    let watch = path.contains("/watch/") || query_true(query, "watch");
    let follow = path.ends_with("/log") && query_true(query, "follow");
    if watch || follow {
        return Class::LongRunning;
    }
    match *method {
        Method::GET | Method::HEAD | Method::OPTIONS => Class::Read,
        _ => Class::Mutating,
    }
}

#[derive(Clone)]
struct Gates {
    read: Arc<Semaphore>,
    mutating: Arc<Semaphore>,
    long_running: Arc<Semaphore>,
}

/// kube-apiserver's `tooManyRequests`: plain text, `Retry-After: 1`.
pub fn too_many_requests() -> Response {
    (
        StatusCode::TOO_MANY_REQUESTS,
        [
            (header::RETRY_AFTER, "1"),
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
        ],
        "Too many requests, please try again later.\n",
    )
        .into_response()
}

fn hold_while_streaming(resp: Response, permit: OwnedSemaphorePermit) -> Response {
    let (parts, body) = resp.into_parts();
    let stream = body.into_data_stream().map(move |chunk| {
        let _held = &permit;
        chunk
    });
    Response::from_parts(parts, Body::from_stream(stream))
}

async fn admit(State(gates): State<Gates>, req: Request, next: Next) -> Response {
    let class = classify(req.method(), req.uri().path(), req.uri().query());
    let gate = match class {
        Class::Exempt => return next.run(req).await,
        Class::Read => &gates.read,
        Class::Mutating => &gates.mutating,
        Class::LongRunning => &gates.long_running,
    };
    let Ok(permit) = gate.clone().try_acquire_owned() else {
        tracing::debug!(?class, path = req.uri().path(), "too many requests");
        return too_many_requests();
    };
    let resp = next.run(req).await;
    match class {
        Class::LongRunning => hold_while_streaming(resp, permit),
        _ => resp,
    }
}

/// Wraps `app` (the router the listener serves) with the limits. The in-process router of
/// the controllers is not wrapped: its callers are bounded by their own work queues.
pub fn layer(app: Router, limits: Limits) -> Router {
    let gates = Gates {
        read: Arc::new(Semaphore::new(limits.max_requests_inflight)),
        mutating: Arc::new(Semaphore::new(limits.max_mutating_requests_inflight)),
        long_running: Arc::new(Semaphore::new(limits.max_watches)),
    };
    app.layer(middleware::from_fn_with_state(gates, admit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_table() {
        let cases: &[(Method, &str, Option<&str>, Class)] = &[
            (Method::GET, "/readyz", None, Class::Exempt),
            (Method::GET, "/version", None, Class::Exempt),
            (Method::GET, "/api/v1/pods", None, Class::Read),
            (
                Method::GET,
                "/api/v1/pods",
                Some("watch=true"),
                Class::LongRunning,
            ),
            (
                Method::GET,
                "/api/v1/pods",
                Some("watch=1&resourceVersion=5"),
                Class::LongRunning,
            ),
            (
                Method::GET,
                "/api/v1/pods",
                Some("watch=false"),
                Class::Read,
            ),
            (Method::GET, "/api/v1/watch/pods", None, Class::LongRunning),
            (
                Method::GET,
                "/api/v1/namespaces/d/pods/p/log",
                None,
                Class::Read,
            ),
            (
                Method::GET,
                "/api/v1/namespaces/d/pods/p/log",
                Some("follow=true"),
                Class::LongRunning,
            ),
            (
                Method::POST,
                "/apis/batch/v1/namespaces/d/jobs",
                None,
                Class::Mutating,
            ),
            (
                Method::PATCH,
                "/apis/batch/v1/namespaces/d/jobs/j",
                None,
                Class::Mutating,
            ),
            (
                Method::DELETE,
                "/api/v1/namespaces/d/pods/p",
                None,
                Class::Mutating,
            ),
            (
                Method::PUT,
                "/api/v1/namespaces/d/pods/p/status",
                None,
                Class::Mutating,
            ),
        ];
        for (method, path, query, want) in cases {
            assert_eq!(
                classify(method, path, *query),
                *want,
                "{method} {path} {query:?}"
            );
        }
    }
}

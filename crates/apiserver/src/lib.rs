//! The Kubernetes REST API over HTTP(S): discovery, OpenAPI, CRUD with admission, list and
//! watch, server-side Tables, Status errors, bearer-token authentication and TLS.
//!
//! This is the only crate that knows HTTP. It writes objects only through [`registry`], and
//! runs no controllers.

pub mod discovery;
pub mod error;
pub mod handlers;
pub mod kubeconfig;
pub mod limits;
pub mod logs;
pub mod object;
pub mod omit;
pub mod openapi;
pub mod registry;
pub mod request;
pub mod review;
pub mod serve;
pub mod table;
pub mod tls;
pub mod watch;

#[cfg(test)]
mod tests;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use error::ApiError;
use http::header;
use registry::Registry;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Shared state of the handlers.
#[derive(Clone)]
pub struct AppState {
    /// The one write path.
    pub registry: Registry,
    /// Cancelled at shutdown; ends watch streams.
    pub shutdown: CancellationToken,
    /// `host:port` clients reach the server at (legacy discovery).
    pub server_address: String,
    /// The bearer token every request must carry; `None` disables authentication.
    pub token: Option<Arc<str>>,
    /// Where pod logs come from (the node agent); `None`: logs are not available.
    pub pod_logs: Option<Arc<dyn logs::PodLogs>>,
    /// Watch events and JSON lists leave out `metadata.managedFields` ([`omit`]). Only for
    /// the in-process router the controllers' caches read, which drop the field anyway;
    /// every client over the network sees whole objects.
    pub omit_managed_fields: bool,
}

/// Paths anyone may read, as the real server's `system:public-info-viewer` role allows.
fn is_public(path: &str) -> bool {
    matches!(path, "/version" | "/healthz" | "/livez" | "/readyz")
}

fn token_matches(expected: &str, got: &str) -> bool {
    // Constant time in the token's length.
    expected.len() == got.len()
        && expected
            .bytes()
            .zip(got.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

async fn authenticate(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if let Some(expected) = &state.token
        && !is_public(req.uri().path())
    {
        let ok = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|t| token_matches(expected, t.trim()));
        if !ok {
            return ApiError::Unauthorized.into_response();
        }
    }
    next.run(req).await
}

async fn ok() -> &'static str {
    "ok"
}

async fn version() -> Response {
    axum::Json(discovery::version()).into_response()
}

async fn fallback(State(state): State<AppState>, req: Request) -> Response {
    let path = req.uri().path();
    if path == "/api" || path.starts_with("/api/") || path == "/apis" || path.starts_with("/apis/")
    {
        let (parts, body) = req.into_parts();
        return handlers::dispatch(state, parts.method, parts.uri, parts.headers, body).await;
    }
    ApiError::NoRoute.into_response()
}

/// The HTTP application.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/version", get(version))
        .route("/healthz", get(ok))
        .route("/livez", get(ok))
        .route("/readyz", get(ok))
        .route("/openapi/v2", get(openapi::v2))
        .route("/openapi/v3", get(openapi::root))
        .route("/openapi/v3/{*path}", get(openapi::group_version))
        .fallback(fallback)
        .layer(middleware::from_fn_with_state(state.clone(), authenticate))
        .with_state(state)
}

/// Unused body type guard: requests carry axum's [`Body`].
pub type RequestBody = Body;

//! `/openapi/v3` and its per-group-version documents (`/openapi/v2` is not served: kubectl
//! 1.27+ uses v3).

use crate::error::ApiError;
use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use http::header;

/// `GET /openapi/v3`.
pub async fn root() -> Response {
    axum::Json(api::schema::root()).into_response()
}

/// `GET /openapi/v3/{api/v1 | apis/batch/v1}`.
pub async fn group_version(Path(path): Path<String>) -> Response {
    match api::schema::document(path.trim_end_matches('/')) {
        Some(doc) => (
            [
                (header::CONTENT_TYPE, "application/json"),
                (header::CACHE_CONTROL, "public, immutable"),
                (header::ETAG, doc.hash.as_str()),
            ],
            doc.json.clone(),
        )
            .into_response(),
        None => ApiError::NoRoute.into_response(),
    }
}

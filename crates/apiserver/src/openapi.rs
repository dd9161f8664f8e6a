//! `/openapi/v3` and its per-group-version documents, and `/openapi/v2` (JSON, or gnostic's
//! protobuf when asked for it, as kubectl does to validate a `kind: List` client-side).

use crate::error::ApiError;
use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use http::header;

/// `GET /openapi/v2`: protobuf when the Accept header names it (kubectl's
/// `application/com.github.proto-openapi.spec.v2@v1.0+protobuf`), else JSON.
pub async fn v2(headers: http::HeaderMap) -> Response {
    let doc = api::swagger::document();
    let protobuf = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("protobuf"));
    let (content_type, body) = if protobuf {
        (api::swagger::PROTOBUF_CONTENT_TYPE, doc.protobuf.clone())
    } else {
        ("application/json", doc.json.clone())
    };
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::ETAG, doc.etag.as_str()),
        ],
        body,
    )
        .into_response()
}

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

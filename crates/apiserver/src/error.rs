//! The one place where errors become Kubernetes `Status` objects and HTTP status codes.

use api::resource::ResourceInfo;
use api::validation::FieldError;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::{Value, json};

/// The largest request body the server reads, as kube-apiserver's limit (3 MiB... 3,145,728 bytes).
pub const MAX_REQUEST_BODY_BYTES: usize = 3 * 1024 * 1024;

/// An error answered as a `Status`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The named object does not exist.
    #[error("{} \"{name}\" not found", resource.qualified())]
    NotFound {
        /// Resource.
        resource: &'static ResourceInfo,
        /// Object name.
        name: String,
    },
    /// No such path or resource.
    #[error("the server could not find the requested resource")]
    NoRoute,
    /// Create of an existing object.
    #[error("{} \"{name}\" already exists", resource.qualified())]
    AlreadyExists {
        /// Resource.
        resource: &'static ResourceInfo,
        /// Object name.
        name: String,
    },
    /// A stale resourceVersion or failed precondition.
    #[error("Operation cannot be fulfilled on {} \"{name}\": {detail}", resource.qualified())]
    Conflict {
        /// Resource.
        resource: &'static ResourceInfo,
        /// Object name.
        name: String,
        /// Why.
        detail: String,
    },
    /// Validation failed.
    #[error("{}", invalid_message(resource, name, errors))]
    Invalid {
        /// Resource.
        resource: &'static ResourceInfo,
        /// Object name.
        name: String,
        /// Field errors in order.
        errors: Vec<FieldError>,
    },
    /// Invalid request options, e.g. `PatchOptions` (group `meta.k8s.io`).
    #[error("{}", options_message(kind, errors))]
    InvalidOptions {
        /// `PatchOptions`.
        kind: &'static str,
        /// Field errors in order.
        errors: Vec<FieldError>,
    },
    /// A server-side apply would change fields other managers own.
    #[error("{}", api::apply::ApplyError::Conflicts(.0.clone()))]
    ApplyConflict(Vec<api::apply::Conflict>),
    /// Malformed request.
    #[error("{0}")]
    BadRequest(String),
    /// An error whose code, reason and message were decided elsewhere (e.g. by the patch
    /// engine, which mirrors the real server's choices).
    #[error("{message}")]
    Raw {
        /// HTTP code.
        code: u16,
        /// Status reason (may be empty, as the real server leaves it for some 500s).
        reason: &'static str,
        /// Status message.
        message: String,
    },
    /// Forbidden, e.g. creating in a terminating namespace.
    #[error("{0}")]
    Forbidden(String),
    /// Verb not supported on this path.
    #[error("the server does not allow this method on the requested resource")]
    MethodNotAllowed,
    /// Body media type not supported.
    #[error("the body of the request was in an unknown format - accepted media types include: {0}")]
    UnsupportedMediaType(String),
    /// Watch or list from a revision no longer kept.
    #[error("{0}")]
    Expired(String),
    /// A resourceVersion newer than the store's.
    #[error("Too large resource version: {requested}, current: {current}")]
    TooLargeResourceVersion {
        /// Asked.
        requested: u64,
        /// Current.
        current: u64,
    },
    /// Missing or wrong bearer token.
    #[error("Unauthorized")]
    Unauthorized,
    /// Body larger than [`MAX_REQUEST_BODY_BYTES`].
    #[error("Request entity too large: limit is {MAX_REQUEST_BODY_BYTES}")]
    TooLarge,
    /// Anything else.
    #[error("Internal error occurred: {0}")]
    Internal(String),
}

fn invalid_message(r: &ResourceInfo, name: &str, errors: &[FieldError]) -> String {
    let mut msgs: Vec<String> = Vec::new();
    for e in errors {
        let m = e.to_string();
        if !msgs.contains(&m) {
            msgs.push(m);
        }
    }
    let kind = r.qualified_kind();
    match msgs.len() {
        0 => format!("{kind} \"{name}\" is invalid"),
        1 => format!("{kind} \"{name}\" is invalid: {}", msgs[0]),
        _ => format!("{kind} \"{name}\" is invalid: [{}]", msgs.join(", ")),
    }
}

fn options_message(kind: &str, errors: &[FieldError]) -> String {
    let msgs: Vec<String> = errors.iter().map(ToString::to_string).collect();
    match msgs.as_slice() {
        [] => format!("{kind}.meta.k8s.io \"\" is invalid"),
        [one] => format!("{kind}.meta.k8s.io \"\" is invalid: {one}"),
        _ => format!("{kind}.meta.k8s.io \"\" is invalid: [{}]", msgs.join(", ")),
    }
}

impl From<store::Error> for ApiError {
    fn from(e: store::Error) -> Self {
        match e {
            store::Error::Expired { requested, oldest } => {
                ApiError::Expired(format!("too old resource version: {requested} ({oldest})"))
            }
            store::Error::FutureRevision { requested, current } => {
                ApiError::TooLargeResourceVersion { requested, current }
            }
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl ApiError {
    /// HTTP status code.
    pub fn code(&self) -> StatusCode {
        match self {
            ApiError::NotFound { .. } | ApiError::NoRoute => StatusCode::NOT_FOUND,
            ApiError::AlreadyExists { .. }
            | ApiError::Conflict { .. }
            | ApiError::ApplyConflict(_) => StatusCode::CONFLICT,
            ApiError::Invalid { .. } | ApiError::InvalidOptions { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::Raw { code, .. } => {
                StatusCode::from_u16(*code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Expired(_) => StatusCode::GONE,
            ApiError::TooLargeResourceVersion { .. } => StatusCode::GATEWAY_TIMEOUT,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn reason(&self) -> &'static str {
        match self {
            ApiError::NotFound { .. } | ApiError::NoRoute => "NotFound",
            ApiError::AlreadyExists { .. } => "AlreadyExists",
            ApiError::Conflict { .. } | ApiError::ApplyConflict(_) => "Conflict",
            ApiError::Invalid { .. } | ApiError::InvalidOptions { .. } => "Invalid",
            ApiError::Raw { reason, .. } => reason,
            ApiError::BadRequest(_) => "BadRequest",
            ApiError::Forbidden(_) => "Forbidden",
            ApiError::MethodNotAllowed => "MethodNotAllowed",
            ApiError::UnsupportedMediaType(_) => "UnsupportedMediaType",
            ApiError::Expired(_) => "Expired",
            ApiError::TooLargeResourceVersion { .. } => "Timeout",
            ApiError::Unauthorized => "Unauthorized",
            ApiError::TooLarge => "RequestEntityTooLarge",
            ApiError::Internal(_) => "InternalError",
        }
    }

    fn details(&self) -> Option<Value> {
        match self {
            ApiError::NotFound { resource, name }
            | ApiError::AlreadyExists { resource, name }
            | ApiError::Conflict { resource, name, .. } => Some(json!({
                "name": name, "group": resource.group, "kind": resource.plural
            })),
            ApiError::Invalid {
                resource,
                name,
                errors,
            } => {
                let causes: Vec<Value> = errors
                    .iter()
                    .map(|e| json!({"reason": e.kind.reason(), "message": e.body(), "field": e.field}))
                    .collect();
                Some(
                    json!({"name": name, "group": resource.group, "kind": resource.kind, "causes": causes}),
                )
            }
            ApiError::InvalidOptions { kind, errors } => {
                let causes: Vec<Value> = errors
                    .iter()
                    .map(|e| json!({"reason": e.kind.reason(), "message": e.body(), "field": e.field}))
                    .collect();
                Some(json!({"group": "meta.k8s.io", "kind": kind, "causes": causes}))
            }
            ApiError::ApplyConflict(conflicts) => {
                let causes: Vec<Value> = conflicts
                    .iter()
                    .map(|c| json!({"reason": "FieldManagerConflict", "message": c.message(), "field": c.field}))
                    .collect();
                Some(json!({ "causes": causes }))
            }
            ApiError::TooLargeResourceVersion { .. } => Some(json!({
                "causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
                "retryAfterSeconds": 1
            })),
            ApiError::Internal(m) => Some(json!({"causes": [{"message": m}]})),
            _ => None,
        }
    }

    /// The `Status` object for this error.
    pub fn status(&self) -> Value {
        let mut s = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.to_string(),
            "reason": self.reason(),
            "code": self.code().as_u16(),
        });
        if let Some(d) = self.details() {
            s["details"] = d;
        }
        if self.reason().is_empty()
            && let Some(m) = s.as_object_mut()
        {
            m.remove("reason");
        }
        s
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if matches!(self, ApiError::Internal(_)) {
            tracing::error!(error = %self, "internal error");
        }
        let body = serde_json::to_vec(&self.status()).unwrap_or_default();
        (
            self.code(),
            [(http::header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response()
    }
}

/// Result with [`ApiError`].
pub type ApiResult<T> = Result<T, ApiError>;
